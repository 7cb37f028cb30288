/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside GiosSocketCommon: the instance state that its files share
 * (gios-socket-common.c: the object, the connection and its transport;
 * gios-socket-common-tls.c: TLS on the connection). Nothing else includes
 * this.
 */
#pragma once

#include "gios-private.h"
#include "gios-socket-common-private.h"
#include "gios-device-stream-private.h"
#include "gios-tls.h"

G_BEGIN_DECLS

typedef struct
{
  /* The connection is its descriptor; the GSocket of the socket property is
   * made from it on first use (and then owns it), which saves six system
   * calls for every connection that nobody asks for it. */
  int fd;
  GSocket *socket;
  guint unix_family : 1;
  guint local_lazy : 1;     /* local_address comes from the descriptor */
  guint blocking : 1;       /* the descriptor is in blocking mode */
  GSocketAddress *local_address;
  GSocketAddress *remote_address;
  /* After a PROXY header: the balancer (the real peer), and the header's
   * TLVs. */
  GSocketAddress *proxy_address;
  GBytes *proxy_tlvs;
  char *host;
  guint port;
  guint no_delay : 1;
  guint keep_alive : 1;
  /* The peer reset the connection; disconnected was emitted. */
  guint lost : 1;
  guint dropping : 1;       /* a drop released the connection: tell */
  GError *drop_reason;      /* why, when it was not the application's doing */
  /* Receives left that wait before they try, and receives in a row that
   * tried and found nothing (see receive). */
  guint wait_first;
  guint misses;

  /* TLS: the session of the connection, once started (see
   * gios-socket-common-tls.c); what the settings give it; and, for a
   * connection that open() made, the client role (the server's certificate
   * must carry @host). */
  GiosTls *tls;
  GTlsCertificate *tls_certificate;
  GTlsDatabase *tls_database;
  guint tls_client : 1;
} GiosSocketCommonPrivate;

GiosSocketCommonPrivate *_gios_socket_common_get_private (GiosSocketCommon *self);

/* The connection failed under a read or write for @reason (owned): it is
 * reported once (disconnected) and @reason goes to @error. */
void     _gios_socket_common_lose        (GiosSocketCommon  *self,
                                          GError            *reason,
                                          GError           **error);

/* gios-socket-common-tls.c: the transport of a connection in TLS. */
gssize   _gios_socket_common_tls_receive (GiosSocketCommon  *self,
                                          guint8            *buffer,
                                          gsize              size,
                                          gint64             deadline,
                                          GCancellable      *cancellable,
                                          GError           **error);
gssize   _gios_socket_common_tls_send    (GiosSocketCommon  *self,
                                          const guint8      *data,
                                          gsize              size,
                                          gint64             deadline,
                                          GCancellable      *cancellable,
                                          GError           **error);

G_END_DECLS
