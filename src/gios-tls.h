/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TLS session of one connection: GIO's GTlsConnection over the
 * connection's GSocket, driven without ever blocking in GIO. See
 * gios-tls.c.
 */
#pragma once

#include <gio/gio.h>
#include "gios-gate.h"

G_BEGIN_DECLS

typedef struct _GiosTls GiosTls;

typedef enum
{
  GIOS_TLS_SERVER,
  GIOS_TLS_CLIENT,
} GiosTlsRole;

/* A session over @socket (a connected stream socket, which the session
 * keeps a reference on): in the server role with @certificate (required),
 * in the client role validating the peer against @database (NULL: the
 * system's) and @identity (NULL: no host name to check), presenting
 * @certificate when set. @peer names the peer in errors. */
GiosTls *gios_tls_new               (GSocket             *socket,
                                     GiosTlsRole          role,
                                     GTlsCertificate     *certificate,
                                     GTlsDatabase        *database,
                                     GSocketConnectable  *identity,
                                     const char          *peer,
                                     GError             **error);
GiosTls *gios_tls_ref               (GiosTls             *tls);
void     gios_tls_unref             (GiosTls             *tls);

/* Ends the session: a handshake under way is cancelled, close_notify is
 * sent when the socket takes it now (never waiting for a peer that does
 * not read) and the socket is closed, or shut down and left to close when
 * a handshake that still uses it has ended. */
void     gios_tls_close             (GiosTls             *tls);

/* The handshake, on the caller's thread, until @deadline (-1: none; its
 * error names @timeout_ms), @cancellable, or an interrupt of @gate (a close
 * from another thread). Errors name what failed. */
gboolean gios_tls_handshake         (GiosTls             *tls,
                                     GiosGate            *gate,
                                     gint64               deadline,
                                     int                  timeout_ms,
                                     GCancellable        *cancellable,
                                     GError             **error);
/* The handshake on the thread-default main context; never blocks it. The
 * caller bounds it in time: gios_tls_cancel_handshake() (or a close) ends
 * it with G_IO_ERROR_CANCELLED. */
void     gios_tls_handshake_async   (GiosTls             *tls,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
void     gios_tls_cancel_handshake  (GiosTls             *tls);
gboolean gios_tls_handshake_finish  (GAsyncResult        *result,
                                     GError             **error);
/* The error of a handshake that did not finish within @timeout_ms. */
GError  *gios_tls_timeout_error     (GiosTls             *tls,
                                     int                  timeout_ms);

/* Whether the peer's first bytes, peeked at on @fd, can be a TLS
 * ClientHello: 1 when they can, 0 when nothing has arrived yet, -1 with
 * @error set when the peer spoke plaintext or went away. Consumes nothing. */
int      gios_tls_peek_client_hello (int                  fd,
                                     GError             **error);

/* For a client, before its hello: FALSE, with G_TLS_ERROR_NOT_TLS naming
 * @peer, when the server has sent something already (a TLS server waits
 * for the client; one that spoke first is a plaintext server). Consumes
 * nothing. */
gboolean gios_tls_check_server_silent (int                fd,
                                       const char        *peer,
                                       GError           **error);

/* Never block: -1 with G_IO_ERROR_WOULD_BLOCK when the socket has nothing
 * now (or cannot take more). The session reads the socket ahead: after a
 * receive that fills @size (the rest of a record may be decrypted
 * already) or when gios_tls_holds_input() says so, input waits in the
 * session that the descriptor does not show: receive again before
 * waiting. A receive that returns -1 with G_IO_ERROR_WOULD_BLOCK left
 * nothing there. */
gssize   gios_tls_receive           (GiosTls             *tls,
                                     guint8              *buffer,
                                     gsize                size,
                                     GError             **error);
gboolean gios_tls_holds_input       (GiosTls             *tls);
gssize   gios_tls_send              (GiosTls             *tls,
                                     const guint8        *data,
                                     gsize                size,
                                     GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GiosTls, gios_tls_unref)

G_END_DECLS
