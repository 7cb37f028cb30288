/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "peer-gio-common.h"

#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>

/* Creates the listening socket, adds it to @listener and prints the port. */
static void
peer_gio_listen (GSocketListener *listener,
                 int              port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  int bound_port;
  int fd;

  fd = peer_listen (port, &bound_port);
  socket = g_socket_new_from_fd (fd, &error);
  if (socket == NULL || !g_socket_listener_add_socket (listener, socket, NULL, &error))
    {
      g_printerr ("listening on 127.0.0.1:%d: %s\n", bound_port, error->message);
      exit (1);
    }
  peer_announce (bound_port);
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

/* The certificate of --tls-certificate and --tls-key; exits with status 77
 * where GIO has no TLS backend, 1 where the files do not load. */
static GTlsCertificate *
peer_gio_load_certificate (const PeerOptions *opts)
{
  g_autoptr(GError) error = NULL;
  GTlsCertificate *cert;

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_printerr ("no TLS backend (install glib-networking)\n");
      exit (77);
    }
  cert = g_tls_certificate_new_from_files (opts->tls_certificate, opts->tls_key, &error);
  if (cert == NULL)
    {
      g_printerr ("%s, %s: %s\n", opts->tls_certificate, opts->tls_key, error->message);
      exit (1);
    }
  return cert;
}

static void
release_certificate (gpointer  cert,
                     GClosure *closure)
{
  if (cert != NULL)
    g_object_unref (cert);
}

int
peer_gio_main (int           argc,
               char        **argv,
               PeerGioFlags  flags,
               GCallback     handler)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GSocketService) service = NULL;
  gboolean threaded = (flags & PEER_GIO_THREADED) != 0;
  GTlsCertificate *cert = NULL;
  PeerOptions opts;
  guint term_id, int_id;

  peer_parse_args (argc, argv,
                   (threaded ? PEER_ARG_MAX_JOBS : 0) | (flags & PEER_GIO_TLS ? PEER_ARG_TLS : 0),
                   &opts);
  peer_ignore_sigpipe ();
  if (flags & PEER_GIO_TLS)
    cert = peer_gio_load_certificate (&opts);

  if (threaded)
    service = g_threaded_socket_service_new (opts.max_jobs);
  else
    service = g_socket_service_new ();
  /* The handler's certificate lives as long as the handler: a worker may
   * still be starting when main() returns. */
  g_signal_connect_data (service, threaded ? "run" : "incoming", handler, cert,
                         release_certificate, 0);
  peer_gio_listen (G_SOCKET_LISTENER (service), opts.port);
  g_socket_service_start (service);

  term_id = g_unix_signal_add (SIGTERM, on_signal, loop);
  int_id = g_unix_signal_add (SIGINT, on_signal, loop);
  g_main_loop_run (loop);
  g_source_remove (term_id);
  g_source_remove (int_id);

  /* Open connections, and workers still blocked in a read, end with the
   * process. */
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  return 0;
}

void
peer_gio_set_nodelay (GSocketConnection *connection)
{
  GSocket *socket = g_socket_connection_get_socket (connection);

  /* Best effort, as in the plain C peers. */
  (void) g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

void
peer_gio_echo_blocking (GIOStream *stream)
{
  GInputStream *in = g_io_stream_get_input_stream (stream);
  GOutputStream *out = g_io_stream_get_output_stream (stream);
  g_autofree guint8 *buf = g_malloc (PEER_BUF_SIZE);

  for (;;)
    {
      gssize n = g_input_stream_read (in, buf, PEER_BUF_SIZE, NULL, NULL);
      if (n <= 0)
        break;
      if (!g_output_stream_write_all (out, buf, (gsize) n, NULL, NULL, NULL))
        break;
    }
  g_io_stream_close (stream, NULL, NULL);
}
