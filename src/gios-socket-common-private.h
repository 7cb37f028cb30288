/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gios/gios.h>
#include "gios-gate.h"

G_BEGIN_DECLS

/* Makes @fd (connected, in blocking mode or not as @blocking says; owned
 * from now on) the current connection: applies no-delay and keep-alive,
 * starts with empty buffers, records the peer's address (@remote, transfer
 * full, or looked up when NULL) and notifies. Every receive and send that
 * must not block says MSG_DONTWAIT; in blocking mode a receive that waits
 * forever blocks in recv() alone. */
void _gios_socket_common_set_connection_fd (GiosSocketCommon *self,
                                            int               fd,
                                            gboolean          blocking,
                                            GSocketAddress   *remote);
/* Drops the connection without sending what is buffered, from any thread:
 * the server it came from is closing. */
void _gios_socket_common_abort_connection (GiosSocketCommon *self);
/* Closes the current connection, if any, without flushing or signalling. */
void _gios_socket_common_release_connection (GiosSocketCommon *self);
gboolean _gios_socket_common_has_connection (GiosSocketCommon *self);
/* The descriptor of the current connection, or -1. */
int      _gios_socket_common_get_fd         (GiosSocketCommon *self);
/* After a PROXY header: @source (NULL: the header named no client) becomes
 * the remote address and the real peer the proxy address; @tlvs (nullable)
 * are kept for the accessors. */
void _gios_socket_common_set_proxied    (GiosSocketCommon *self,
                                         GSocketAddress   *source,
                                         GBytes           *tlvs);
/* What the socket is bound to or connected to, for the host, port and
 * local-address properties; a NULL @local_address is looked up from the
 * connection's descriptor when asked for. */
void _gios_socket_common_set_endpoint   (GiosSocketCommon *self,
                                         const char       *host,
                                         guint             port,
                                         GSocketAddress   *local_address);
/* Copies the settings a server passes on to the sockets it accepts. */
void _gios_socket_common_inherit        (GiosSocketCommon *self,
                                         GiosSocketCommon *from);
char *_gios_socket_address_to_string    (GSocketAddress   *address);
/* TLS (gios-socket-common-tls.c). A connection that open() made is a
 * client, whose server must carry the endpoint's host name (none for a
 * Unix socket: no name to check). */
void     _gios_socket_common_set_tls_client (GiosSocketCommon   *self);
/* The TLS handshake of the current connection, in the server role unless
 * open() made it: blocking, within @deadline (its error names
 * @timeout_ms), woken by @gate's interrupts and @cancellable. */
gboolean _gios_socket_common_handshake      (GiosSocketCommon   *self,
                                             GiosGate           *gate,
                                             gint64              deadline,
                                             int                 timeout_ms,
                                             GCancellable       *cancellable,
                                             GError            **error);
/* The same on the thread-default main context, never blocking it; the
 * caller bounds it with _gios_socket_common_cancel_handshake(). */
void     _gios_socket_common_handshake_async (GiosSocketCommon   *self,
                                              GAsyncReadyCallback callback,
                                              gpointer            user_data);
gboolean _gios_socket_common_handshake_finish (GAsyncResult      *result,
                                               GError           **error);
void     _gios_socket_common_cancel_handshake (GiosSocketCommon  *self);
/* The error of a handshake that did not finish within @timeout_ms. */
GError  *_gios_socket_common_handshake_timeout_error (GiosSocketCommon *self,
                                                      int               timeout_ms);
/* Whether the class of @self implements run(). */
gboolean _gios_socket_overrides_run     (GiosSocket       *self);

G_END_DECLS
