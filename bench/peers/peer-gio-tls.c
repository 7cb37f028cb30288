/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GIO's own TLS echo server: the GThreadedSocketService of peer-gthreaded
 * (one pool thread per connection, max-threads = --max-jobs), each
 * connection wrapped in a GTlsServerConnection with the certificate of
 * --tls-certificate and --tls-key (glib-networking's backend), a blocking
 * handshake, then blocking reads and writes through a 64 KiB buffer.
 *
 * The connection is made with no database: a server that asks for no
 * client certificate has nothing to check against one, and
 * g_tls_server_connection_new() takes the system's, which glib-networking
 * 2.74 reads into a new trust list for every connection (about 7 ms of CPU
 * per handshake, three quarters of it).
 */
#include "peer-gio-common.h"

static gboolean
on_run (GThreadedSocketService *service,
        GSocketConnection      *connection,
        GObject                *source_object,
        gpointer                user_data)
{
  GTlsCertificate *cert = user_data;
  GType tls_type = g_tls_backend_get_server_connection_type (g_tls_backend_get_default ());
  g_autoptr(GIOStream) tls = NULL;

  peer_gio_set_nodelay (connection);
  tls = g_initable_new (tls_type, NULL, NULL,
                        "base-io-stream", connection, "certificate", cert, "database", NULL, NULL);
  if (tls != NULL && g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, NULL))
    peer_gio_echo_blocking (tls);
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  return peer_gio_main (argc, argv, PEER_GIO_THREADED | PEER_GIO_TLS, G_CALLBACK (on_run));
}
