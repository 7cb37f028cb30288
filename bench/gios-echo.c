/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gios-echo: the library's echo server for the serving benchmark.
 *
 *   gios-echo --model=jobs|async|async-calls|classic --port=N [--max-jobs=N] [--reuse-port]
 *             [--tls-certificate=FILE --tls-key=FILE]
 *
 * Listens on 127.0.0.1, prints "PORT <n>" once listening, echoes every byte
 * on every connection, and exits cleanly on SIGTERM or SIGINT.  With a
 * certificate and its key (PEM), the server's tls-certificate: every
 * connection is handed over with its TLS handshake done, and the echo is
 * the same code.
 *
 * Both main-loop models accept with start() and the accepted signal: async
 * serves each connection from a watch (add_watch, read and flush with a
 * timeout of 0), async-calls with read_bytes_async and flush_async.
 */
#include <gios/gios.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)

static GiosServerSocket *server;
static GMainLoop *loop;

/* The blocking models: echoes through @buf (CHUNK bytes) until the peer
 * closes or a call fails. */
static void
echo_blocking (GiosDeviceStream *stream,
               guint8           *buf,
               GCancellable     *cancellable)
{
  gssize n;

  while ((n = gios_device_stream_read (stream, buf, CHUNK, GIOS_TIMEOUT_FOREVER, cancellable, NULL)) > 0)
    if (!gios_device_stream_write (stream, buf, n, cancellable, NULL) ||
        !gios_device_stream_flush (stream, GIOS_TIMEOUT_FOREVER, cancellable, NULL))
      break;
}

/* jobs: one job per connection on the pool. */
static void
echo_job (GiosSocket   *connection,
          GCancellable *cancellable,
          gpointer      data)
{
  guint8 *buf = g_malloc (CHUNK);

  echo_blocking (GIOS_DEVICE_STREAM (connection), buf, cancellable);
  g_free (buf);
}

static gpointer
serve_jobs (gpointer data)
{
  guint max_jobs = GPOINTER_TO_UINT (data);

  /* Until close() from the signal handler wakes it. */
  gios_server_socket_listen_job (server, GIOS_TIMEOUT_FOREVER, max_jobs, echo_job, NULL, NULL, NULL, NULL);
  gios_server_socket_wait_jobs (server, 5000, NULL);
  g_main_loop_quit (loop);
  return NULL;
}

/* classic: one connection at a time, on a thread. */
static gpointer
serve_classic (gpointer data)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  guint8 *buf = g_malloc (CHUNK);

  while (gios_server_socket_listen (server, GIOS_TIMEOUT_FOREVER, NULL, NULL))
    {
      echo_blocking (stream, buf, NULL);
      gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
    }
  g_free (buf);
  g_main_loop_quit (loop);
  return NULL;
}

/* The peers read and write through 64 KiB buffers: so do the main-loop
 * models (the buffers are allocated only while they hold bytes, so an idle
 * connection still keeps none). */
static void
use_peer_buffers (GiosDeviceStream *stream)
{
  gios_device_stream_set_input_buffer_size (stream, CHUNK);
  gios_device_stream_set_output_buffer_size (stream, CHUNK);
}

/* async: a watch per connection. It reads what is there (never more than
 * the output buffer holds, so that writing it never has to flush) and
 * flushes without waiting; when the peer does not take it all, it waits
 * for output room instead of input until the rest is sent. */
static gboolean on_watch (GiosDeviceStream *stream, GIOCondition condition, gpointer data);

static gboolean
end_watch (GiosDeviceStream *stream)
{
  /* Removes the watch, and with it the last reference. */
  gios_device_stream_close (stream, NULL);
  return G_SOURCE_REMOVE;
}

/* Replaces the watch that calls it with one for @condition. */
static gboolean
watch_for (GiosDeviceStream *stream,
           GIOCondition      condition)
{
  gios_device_stream_add_watch (stream, condition, on_watch, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_watch (GiosDeviceStream *stream,
          GIOCondition      condition,
          gpointer          data)
{
  static guint8 buf[CHUNK];
  g_autoptr(GError) error = NULL;
  gsize room = MIN (sizeof buf, gios_device_stream_get_output_buffer_size (stream));
  gssize n;

  if (gios_device_stream_get_buffered_output (stream) > 0)
    {
      /* Waiting for output room: send the rest, then read again. */
      if (!gios_device_stream_flush (stream, 0, NULL, &error))
        return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ? G_SOURCE_CONTINUE
                                                                         : end_watch (stream);
      return watch_for (stream, G_IO_IN);
    }

  n = gios_device_stream_read (stream, buf, room, 0, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return G_SOURCE_CONTINUE;
  if (n <= 0 || !gios_device_stream_write (stream, buf, n, NULL, NULL))
    return end_watch (stream);
  if (!gios_device_stream_flush (stream, 0, NULL, &error))
    return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ? watch_for (stream, G_IO_OUT)
                                                                     : end_watch (stream);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_accepted_watch (GiosServerSocket *srv,
                   GiosSocket       *connection,
                   gpointer          data)
{
  use_peer_buffers (GIOS_DEVICE_STREAM (connection));
  gios_device_stream_add_watch (GIOS_DEVICE_STREAM (connection), G_IO_IN, on_watch, NULL, NULL);
  return TRUE;
}

/* async-calls: accept on the main loop, read and write with the async calls. A
 * connection reads on while its previous reply is being flushed, never more
 * than the output buffer has room for (a peer that does not read holds the
 * reading back); one flush is pending at a time, and the bytes written
 * meanwhile go with the next. */
typedef struct
{
  GiosDeviceStream *stream;
  gboolean flushing;
  gboolean reading;
  gboolean closed;
} Conn;

static void on_read (GObject *source, GAsyncResult *result, gpointer data);

/* Reads what the output buffer has room for; once it has none, the flush
 * under way reads next. */
static void
read_next (Conn *conn)
{
  gsize room = gios_device_stream_get_output_buffer_size (conn->stream) -
               gios_device_stream_get_buffered_output (conn->stream);

  conn->reading = room > 0;
  if (conn->reading)
    gios_device_stream_read_bytes_async (conn->stream, MIN (room, CHUNK), GIOS_TIMEOUT_FOREVER,
                                         G_PRIORITY_DEFAULT, NULL, on_read, conn);
}

static void
conn_end (Conn *conn)
{
  if (!conn->closed)
    gios_device_stream_close (conn->stream, NULL);
  conn->closed = TRUE;
  if (!conn->flushing)
    {
      g_object_unref (conn->stream);
      g_free (conn);
    }
}

static void on_flushed (GObject *source, GAsyncResult *result, gpointer data);

static void
start_flush (Conn *conn)
{
  conn->flushing = TRUE;
  gios_device_stream_flush_async (conn->stream, GIOS_TIMEOUT_FOREVER, G_PRIORITY_DEFAULT, NULL,
                                  on_flushed, conn);
}

static void
on_flushed (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Conn *conn = data;
  gboolean ok = gios_device_stream_flush_finish (conn->stream, result, NULL);

  conn->flushing = FALSE;
  if (conn->closed)
    conn_end (conn);
  else if (!ok && conn->reading)
    gios_device_stream_close (conn->stream, NULL);   /* the pending read ends the connection */
  else if (!ok)
    conn_end (conn);
  else
    {
      if (gios_device_stream_get_buffered_output (conn->stream) > 0)
        start_flush (conn);
      if (!conn->reading)
        read_next (conn);
    }
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Conn *conn = data;
  g_autoptr(GBytes) bytes = gios_device_stream_read_bytes_finish (conn->stream, result, NULL);

  conn->reading = FALSE;
  if (bytes == NULL || g_bytes_get_size (bytes) == 0 ||
      !gios_device_stream_write_bytes (conn->stream, bytes, NULL, NULL))
    {
      conn_end (conn);
      return;
    }
  if (!conn->flushing)
    start_flush (conn);
  read_next (conn);
}

static gboolean
on_accepted (GiosServerSocket *srv,
             GiosSocket       *connection,
             gpointer          data)
{
  Conn *conn = g_new0 (Conn, 1);

  conn->stream = GIOS_DEVICE_STREAM (g_object_ref (connection));
  use_peer_buffers (conn->stream);
  read_next (conn);
  return TRUE;
}

static gboolean
on_signal (gpointer data)
{
  const char *model = data;

  if (g_str_has_prefix (model, "async"))
    {
      gios_server_socket_close (server, NULL);
      g_main_loop_quit (loop);
    }
  else
    /* Wakes the serving thread, which then quits the loop. */
    gios_server_socket_close (server, NULL);
  return G_SOURCE_REMOVE;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *model = NULL;
  g_autofree char *port = NULL;
  int max_jobs = 1000;
  gboolean reuse_port = FALSE;
  g_autofree char *tls_certificate = NULL;
  g_autofree char *tls_key = NULL;
  g_autoptr(GTlsCertificate) cert = NULL;
  GThread *thread = NULL;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_STRING, &model, "jobs, async, async-calls or classic", "MODEL" },
    { "port", 0, 0, G_OPTION_ARG_STRING, &port, "Port, 0 for any", "N" },
    { "max-jobs", 0, 0, G_OPTION_ARG_INT, &max_jobs, "Most jobs at once (jobs model)", "N" },
    { "reuse-port", 0, 0, G_OPTION_ARG_NONE, &reuse_port, "Share the port with other processes", NULL },
    { "tls-certificate", 0, 0, G_OPTION_ARG_FILENAME, &tls_certificate, "Serve TLS with this certificate (PEM)", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "The certificate's private key (PEM)", "FILE" },
    { NULL }
  };

  context = g_option_context_new ("- echo server for the benchmarks");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || model == NULL ||
      (strcmp (model, "jobs") != 0 && strcmp (model, "async") != 0 &&
       strcmp (model, "async-calls") != 0 && strcmp (model, "classic") != 0) ||
      max_jobs < 0 || (tls_certificate == NULL) != (tls_key == NULL))
    {
      fprintf (stderr, "usage: gios-echo --model=jobs|async|async-calls|classic --port=N [--max-jobs=N] [--reuse-port]\n"
                       "                 [--tls-certificate=FILE --tls-key=FILE]\n");
      return 2;
    }
  if (tls_certificate != NULL &&
      (cert = g_tls_certificate_new_from_files (tls_certificate, tls_key, &error)) == NULL)
    {
      fprintf (stderr, "gios-echo: %s, %s: %s\n", tls_certificate, tls_key, error->message);
      return 1;
    }

  server = gios_server_socket_new ();
  gios_server_socket_set_connection_queue_size (server, 1024);
  gios_server_socket_set_reuse_port (server, reuse_port);
  if (cert != NULL)
    g_object_set (server, "tls-certificate", cert, NULL);
  if (!gios_server_socket_open_address (server, "127.0.0.1", port ? port : "0", 1000, &error))
    {
      fprintf (stderr, "gios-echo: %s\n", error->message);
      return 1;
    }
  printf ("PORT %u\n", gios_socket_common_get_port (GIOS_SOCKET_COMMON (server)));
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGTERM, on_signal, model);
  g_unix_signal_add (SIGINT, on_signal, model);

  if (strcmp (model, "jobs") == 0)
    thread = g_thread_new ("serve", serve_jobs, GUINT_TO_POINTER ((guint) max_jobs));
  else if (strcmp (model, "classic") == 0)
    thread = g_thread_new ("serve", serve_classic, NULL);
  else
    {
      g_signal_connect (server, "accepted",
                        strcmp (model, "async") == 0 ? G_CALLBACK (on_accepted_watch)
                                                     : G_CALLBACK (on_accepted), NULL);
      if (!gios_server_socket_start (server, &error))
        {
          fprintf (stderr, "gios-echo: %s\n", error->message);
          return 1;
        }
    }

  g_main_loop_run (loop);
  if (thread != NULL)
    g_thread_join (thread);
  g_main_loop_unref (loop);
  g_object_unref (server);
  return 0;
}
