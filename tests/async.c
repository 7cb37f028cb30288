/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Main-loop accepting (start/stop) and the asynchronous calls. */
#include <gios/gios.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "gios-reactor-private.h"
#include "gios-test-utils.h"

/* ------------------------------------------------------------------------ */
/* A line server on start(), and clients with open_async                       */

typedef struct
{
  GiosServerSocket *server;
  GPtrArray *connections;
  guint served;
  guint replies;
  guint live;
  guint peak;
  guint stopped;
  GError *stop_reason;
  gboolean done;
  guint expect;
} Serve;

static void
on_server_line (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (source);
  Serve *serve = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = gios_device_stream_read_line_finish (stream, result, NULL, &error);

  g_assert_no_error (error);
  if (line == NULL)
    {
      /* The client is done: closing the connection frees a slot. */
      gios_device_stream_close (stream, NULL);
      serve->live--;
      return;
    }
  {
    g_autofree char *upper = g_ascii_strup (line, -1);

    g_assert_true (gios_device_stream_write_line (stream, upper, NULL, &error));
  }
  gios_device_stream_flush_async (stream, 1000, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  serve->served++;
  gios_device_stream_read_line_async (stream, 100, 5000, G_PRIORITY_DEFAULT, NULL,
                                      on_server_line, serve);
}

static gboolean
on_accepted (GiosServerSocket *server,
             GiosSocket       *connection,
             Serve            *serve)
{
  g_assert_true (GIOS_IS_SOCKET (connection));
  g_ptr_array_add (serve->connections, g_object_ref (connection));
  serve->live++;
  serve->peak = MAX (serve->peak, serve->live);
  gios_device_stream_read_line_async (GIOS_DEVICE_STREAM (connection), 100, 5000,
                                      G_PRIORITY_DEFAULT, NULL, on_server_line, serve);
  return TRUE;
}

static void
on_stopped (GiosServerSocket *server,
            GError           *reason,
            Serve            *serve)
{
  serve->stopped++;
  g_clear_error (&serve->stop_reason);
  serve->stop_reason = g_error_copy (reason);
}

static void serve_clear (Serve *serve);

static void
serve_init (Serve            *serve,
            GiosServerSocket *server)
{
  memset (serve, 0, sizeof *serve);
  serve->server = server;
  serve->connections = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), serve);
  g_signal_connect (server, "stopped", G_CALLBACK (on_stopped), serve);
}

static void
serve_clear (Serve *serve)
{
  g_ptr_array_unref (serve->connections);
  g_clear_error (&serve->stop_reason);
}

typedef struct
{
  Serve *serve;
  GiosSocket *socket;
  char *text;
} Client;

static void
on_client_reply (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  Client *client = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = gios_device_stream_read_line_finish (GIOS_DEVICE_STREAM (source), result, NULL, &error);
  g_autofree char *expect = g_ascii_strup (client->text, -1);

  g_assert_no_error (error);
  g_assert_cmpstr (reply, ==, expect);
  client->serve->replies++;
  /* Done: drop the connection, which ends the server's side too. */
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (client->socket), NULL);
  if (client->serve->replies == client->serve->expect)
    client->serve->done = TRUE;
}

static void
on_client_open (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Client *client = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (source);
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_socket_open_finish (GIOS_SOCKET (source), result, &error));
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_write_line (stream, client->text, NULL, &error));
  gios_device_stream_flush_async (stream, 1000, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  gios_device_stream_read_line_async (stream, 100, 5000, G_PRIORITY_DEFAULT, NULL,
                                      on_client_reply, client);
}

static void
run_clients (Serve *serve,
             guint  n)
{
  g_autofree char *port = gios_test_server_port_string (serve->server);
  Client *clients = g_new0 (Client, n);

  serve->expect = n;
  for (guint i = 0; i < n; i++)
    {
      clients[i].serve = serve;
      clients[i].socket = gios_socket_new ();
      clients[i].text = g_strdup_printf ("client %u", i);
      gios_socket_open_async (clients[i].socket, "127.0.0.1", port, 2000, NULL,
                              on_client_open, &clients[i]);
    }
  GIOS_TEST_RUN_UNTIL (serve->done);
  /* And until the server has seen every client go, so that no read is
   * left pending on this test's data. */
  GIOS_TEST_RUN_UNTIL (serve->live == 0);
  for (guint i = 0; i < n; i++)
    {
      g_object_unref (clients[i].socket);
      g_free (clients[i].text);
    }
  g_free (clients);
}

static void
test_start_serves (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  Serve serve;

  serve_init (&serve, server);
  g_assert_true (gios_server_socket_start (server, &error));
  g_assert_no_error (error);
  /* Twice is fine. */
  g_assert_true (gios_server_socket_start (server, &error));

  run_clients (&serve, 5);
  g_assert_cmpuint (serve.served, ==, 5);
  g_assert_cmpuint (serve.connections->len, ==, 5);

  gios_server_socket_stop (server);
  g_assert_cmpuint (serve.stopped, ==, 1);
  g_assert_error (serve.stop_reason, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  gios_server_socket_stop (server);
  g_assert_cmpuint (serve.stopped, ==, 1);
  serve_clear (&serve);
}

/* max-connections: never more open at once, and every client served as
 * connections close. */
static void
test_start_max_connections (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  Serve serve;

  serve_init (&serve, server);
  gios_server_socket_set_max_connections (server, 2);
  g_assert_cmpuint (gios_server_socket_get_max_connections (server), ==, 2);
  g_assert_true (gios_server_socket_start (server, &error));
  run_clients (&serve, 6);
  g_assert_cmpuint (serve.served, ==, 6);
  g_assert_cmpuint (serve.peak, <=, 2);
  g_assert_cmpuint (serve.peak, >=, 1);
  serve_clear (&serve);
}

static gboolean
stop_in_handler (GiosServerSocket *server,
                 GiosSocket       *connection,
                 Serve            *serve)
{
  serve->served++;
  gios_server_socket_stop (server);
  serve->done = TRUE;
  return TRUE;
}

static gboolean
close_in_handler (GiosServerSocket *server,
                  GiosSocket       *connection,
                  Serve            *serve)
{
  serve->served++;
  g_assert_true (gios_server_socket_close (server, NULL));
  serve->done = TRUE;
  return TRUE;
}

static void
test_stop_and_close_in_handler (void)
{
  for (int round = 0; round < 2; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
      Serve serve = { 0 };
      int fds[3];

      g_signal_connect (server, "accepted",
                        round == 0 ? G_CALLBACK (stop_in_handler) : G_CALLBACK (close_in_handler), &serve);
      g_signal_connect (server, "stopped", G_CALLBACK (on_stopped), &serve);
      g_assert_true (gios_server_socket_start (server, &error));
      for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
        fds[i] = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
      GIOS_TEST_RUN_UNTIL (serve.done);
      /* Let the loop run a little more: nothing else is accepted. */
      for (int i = 0; i < 20; i++)
        g_main_context_iteration (NULL, FALSE);

      g_assert_cmpuint (serve.served, ==, 1);
      g_assert_cmpuint (serve.stopped, ==, 1);
      g_assert_error (serve.stop_reason, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_true (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)) == (round == 0));
      for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
        close (fds[i]);
      g_clear_error (&serve.stop_reason);
    }
}

static void
test_start_not_open (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();

  g_assert_false (gios_server_socket_start (server, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED);
}

/* ------------------------------------------------------------------------ */
/* Async accept, listen, open                                                 */

typedef struct
{
  GPtrArray *results;
  GError *error;
  guint pending;
} Results;

static void
on_accept (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Results *r = data;
  GiosSocket *connection = gios_server_socket_accept_finish (GIOS_SERVER_SOCKET (source), result,
                                                             r->error ? NULL : &r->error);

  if (connection != NULL)
    g_ptr_array_add (r->results, connection);
  r->pending--;
}

static void
test_concurrent_accepts (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  Results r = { g_ptr_array_new_with_free_func (g_object_unref), NULL, 3 };
  int fds[3];

  for (guint i = 0; i < 3; i++)
    gios_server_socket_accept_async (server, NULL, on_accept, &r);
  for (guint i = 0; i < 3; i++)
    fds[i] = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  GIOS_TEST_RUN_UNTIL (r.pending == 0);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.results->len, ==, 3);
  g_assert_true (g_ptr_array_index (r.results, 0) != g_ptr_array_index (r.results, 1));
  g_assert_true (g_ptr_array_index (r.results, 1) != g_ptr_array_index (r.results, 2));
  g_assert_true (g_ptr_array_index (r.results, 0) != g_ptr_array_index (r.results, 2));
  for (guint i = 0; i < 3; i++)
    close (fds[i]);
  g_ptr_array_unref (r.results);
}

/* read_line_async() of a line of at most 100 bytes, waited for: what
 * read_line_finish() returns. */
static char *
read_line_waited (GiosDeviceStream  *stream,
                  int                timeout_ms,
                  int                priority,
                  gsize             *length,
                  GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  gios_device_stream_read_line_async (stream, 100, timeout_ms, priority, NULL, gios_test_on_async_done, &result);
  return gios_device_stream_read_line_finish (stream, gios_test_wait_result (&result), length, error);
}

static void
test_listen_async (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) again = NULL;
  g_autofree char *line = NULL;
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  gios_test_raw_send (fd, "classic\n");
  gios_server_socket_listen_async (server, NULL, gios_test_on_async_done, &result);
  g_assert_true (gios_server_socket_listen_finish (server, gios_test_wait_result (&result), &error));
  g_assert_no_error (error);
  g_assert_true (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (server), 100, NULL, 1000, NULL, &error);
  g_assert_cmpstr (line, ==, "classic");

  /* With a current connection, it completes at once. */
  gios_server_socket_listen_async (server, NULL, gios_test_on_async_done, &again);
  g_assert_true (gios_server_socket_listen_finish (server, gios_test_wait_result (&again), &error));
  close (fd);
}

static void
test_open_async_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) client = gios_socket_new ();
  g_autoptr(GAsyncResult) refused = NULL;
  g_autoptr(GAsyncResult) unknown = NULL;
  g_autoptr(GAsyncResult) cancelled = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *port = NULL;
  GiosServerSocket *gone = gios_test_open_loopback_server ();

  port = gios_test_server_port_string (gone);
  g_object_unref (gone);

  gios_socket_open_async (client, "127.0.0.1", port, 1000, NULL, gios_test_on_async_done, &refused);
  g_assert_false (gios_socket_open_finish (client, gios_test_wait_result (&refused), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_clear_error (&error);

  gios_socket_open_async (client, "no-such-host.invalid", "80", 1000, NULL, gios_test_on_async_done, &unknown);
  g_assert_false (gios_socket_open_finish (client, gios_test_wait_result (&unknown), &error));
  g_assert_true (error->domain == G_RESOLVER_ERROR);
  g_clear_error (&error);

  g_cancellable_cancel (cancellable);
  gios_socket_open_async (client, "127.0.0.1", port, 1000, cancellable, gios_test_on_async_done, &cancelled);
  g_assert_false (gios_socket_open_finish (client, gios_test_wait_result (&cancelled), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (client)));
}

/* ------------------------------------------------------------------------ */
/* Async reads and flush                                                      */

typedef struct
{
  int fd;
  const char *text;
} Later;

static gboolean
send_later (gpointer data)
{
  Later *later = data;

  gios_test_raw_send (later->fd, later->text);
  return G_SOURCE_REMOVE;
}

static void
test_read_line_async (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  GiosDeviceStream *stream = pair->stream;
  g_autoptr(GAsyncResult) timed_out = NULL;
  g_autoptr(GAsyncResult) pending = NULL;
  g_autoptr(GAsyncResult) cancelled = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *line = NULL;
  Later later1, later2;
  gsize length = 0;
  gint64 start;

  /* A line across three arrivals, one of them a lone "\r". */
  later1 = (Later) { pair->peer, "lo\r" };
  later2 = (Later) { pair->peer, "\nrest" };
  gios_test_raw_send (pair->peer, "hel");
  g_timeout_add (20, send_later, &later1);
  g_timeout_add (40, send_later, &later2);
  line = read_line_waited (stream, 2000, G_PRIORITY_DEFAULT, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "hello");
  g_assert_cmpuint (length, ==, 5);
  g_clear_pointer (&line, g_free);

  /* Timeout: "rest" has no end; it stays buffered. */
  start = g_get_monotonic_time ();
  gios_device_stream_read_line_async (stream, 100, 150, G_PRIORITY_DEFAULT, NULL, gios_test_on_async_done, &timed_out);
  /* One read at a time. */
  gios_device_stream_read_bytes_async (stream, 10, 1000, G_PRIORITY_DEFAULT, NULL, gios_test_on_async_done, &pending);
  g_assert_null (gios_device_stream_read_bytes_finish (stream, gios_test_wait_result (&pending), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  g_assert_null (gios_device_stream_read_line_finish (stream, gios_test_wait_result (&timed_out), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  gios_test_assert_elapsed (start, 140, 400);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (stream), ==, 4);
  g_clear_error (&error);

  /* Cancellation. */
  gios_device_stream_read_line_async (stream, 100, 5000, G_PRIORITY_DEFAULT, cancellable, gios_test_on_async_done,
                                      &cancelled);
  g_cancellable_cancel (cancellable);
  g_assert_null (gios_device_stream_read_line_finish (stream, gios_test_wait_result (&cancelled), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* The end of input gives the last line, then NULL without an error. */
  shutdown (pair->peer, SHUT_WR);
  line = read_line_waited (stream, 2000, G_PRIORITY_DEFAULT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "rest");
  g_assert_null (read_line_waited (stream, 2000, G_PRIORITY_DEFAULT, NULL, &error));
  g_assert_no_error (error);
}

static void
test_read_bytes_and_flush_async (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  GiosDeviceStream *stream = pair->stream;
  g_autoptr(GAsyncResult) got = NULL;
  g_autoptr(GAsyncResult) flushed = NULL;
  g_autoptr(GAsyncResult) stuck = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autofree guint8 *big = g_malloc0 (8 * 1024 * 1024);
  char buf[16] = { 0 };

  gios_test_raw_send (pair->peer, "abcdef");
  gios_device_stream_read_bytes_async (stream, 4, 1000, G_PRIORITY_DEFAULT, NULL, gios_test_on_async_done, &got);
  bytes = gios_device_stream_read_bytes_finish (stream, gios_test_wait_result (&got), &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "abcd", 4);

  g_assert_true (gios_device_stream_write (stream, (const guint8 *) "xyz", 3, NULL, &error));
  gios_device_stream_flush_async (stream, 1000, G_PRIORITY_DEFAULT, NULL, gios_test_on_async_done, &flushed);
  g_assert_true (gios_device_stream_flush_finish (stream, gios_test_wait_result (&flushed), &error));
  g_assert_cmpint (recv (pair->peer, buf, sizeof buf, 0), ==, 3);
  g_assert_cmpstr (buf, ==, "xyz");

  /* A peer that does not read: the flush times out, the rest stays
   * buffered. */
  gios_device_stream_set_output_buffer_size (stream, 16 * 1024 * 1024);
  g_assert_true (gios_device_stream_write (stream, big, 8 * 1024 * 1024, NULL, &error));
  gios_device_stream_flush_async (stream, 200, G_PRIORITY_DEFAULT, NULL, gios_test_on_async_done, &stuck);
  g_assert_false (gios_device_stream_flush_finish (stream, gios_test_wait_result (&stuck), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (stream), >, 0);
}

/* Dropping the connection fails a pending read with CLOSED. */
static void
test_drop_fails_pending (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  g_autoptr(GAsyncResult) result = NULL;

  gios_device_stream_read_line_async (pair->stream, 100, 5000, G_PRIORITY_DEFAULT,
                                      NULL, gios_test_on_async_done, &result);
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (pair->stream), NULL);
  g_assert_null (gios_device_stream_read_line_finish (pair->stream, gios_test_wait_result (&result), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

/* A stream without a descriptor runs the async calls on a thread. */
static void
test_async_on_memory_stream (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) io = gios_test_memory_stream_new ("one\ntwo", 7);
  g_autoptr(GiosDeviceStream) stream = gios_device_stream_new (io);
  g_autofree char *line = NULL;

  line = read_line_waited (stream, 1000, G_PRIORITY_DEFAULT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "one");
}

/* Every async call can be cancelled, pending or before it starts. */
static void
test_cancel_everything (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  GiosDeviceStream *stream = pair->stream;
  g_autoptr(GiosServerSocket) idle_server = gios_test_open_loopback_server ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) accept_result = NULL;
  g_autoptr(GAsyncResult) listen_result = NULL;
  g_autoptr(GAsyncResult) bytes_result = NULL;
  g_autoptr(GAsyncResult) flush_result = NULL;
  g_autofree guint8 *big = g_malloc0 (8 * 1024 * 1024);

  /* Pending, then cancelled: accept, listen, read_bytes, flush (to a peer
   * that does not read). */
  gios_server_socket_accept_async (idle_server, cancellable, gios_test_on_async_done, &accept_result);
  gios_server_socket_listen_async (idle_server, cancellable, gios_test_on_async_done, &listen_result);
  gios_device_stream_read_bytes_async (stream, 16, GIOS_TIMEOUT_FOREVER, G_PRIORITY_DEFAULT,
                                       cancellable, gios_test_on_async_done, &bytes_result);
  gios_device_stream_set_output_buffer_size (stream, 16 * 1024 * 1024);
  g_assert_true (gios_device_stream_write (stream, big, 8 * 1024 * 1024, NULL, &error));
  gios_device_stream_flush_async (stream, GIOS_TIMEOUT_FOREVER, G_PRIORITY_DEFAULT,
                                  cancellable, gios_test_on_async_done, &flush_result);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable);

  g_assert_null (gios_server_socket_accept_finish (idle_server, gios_test_wait_result (&accept_result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_false (gios_server_socket_listen_finish (idle_server, gios_test_wait_result (&listen_result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_null (gios_device_stream_read_bytes_finish (stream, gios_test_wait_result (&bytes_result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_false (gios_device_stream_flush_finish (stream, gios_test_wait_result (&flush_result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  /* What was not sent stays buffered. */
  g_assert_cmpuint (gios_device_stream_get_buffered_output (stream), >, 0);

  /* A cancelled accept takes no connection: a later one gets it. */
  {
    int fd2 = gios_test_raw_connect (AF_INET, gios_test_server_port (idle_server));
    g_autoptr(GAsyncResult) late_result = NULL;
    g_autoptr(GiosSocket) later = NULL;

    gios_server_socket_accept_async (idle_server, NULL, gios_test_on_async_done, &late_result);
    later = gios_server_socket_accept_finish (idle_server, gios_test_wait_result (&late_result), &error);
    g_assert_no_error (error);
    g_assert_nonnull (later);
    close (fd2);
  }
}

/* ------------------------------------------------------------------------ */
/* Watches                                                                    */

typedef struct
{
  guint calls;
  GIOCondition seen;
  GString *got;
  gsize per_call;      /* the most bytes a call reads; 0 reads nothing */
  gboolean at_end;
  guint notified;
} WatchLog;

static gboolean
on_input (GiosDeviceStream *stream,
          GIOCondition      condition,
          gpointer          data)
{
  WatchLog *log = data;
  g_autoptr(GError) error = NULL;
  guint8 buf[64];
  gssize n;

  log->calls++;
  log->seen |= condition;
  if (log->per_call == 0)
    return G_SOURCE_CONTINUE;
  n = gios_device_stream_read (stream, buf, MIN (log->per_call, sizeof buf), 0, NULL, &error);
  if (n > 0)
    {
      g_string_append_len (log->got, (const char *) buf, n);
      return G_SOURCE_CONTINUE;
    }
  if (n < 0)
    {
      /* Nothing after all is the only error a loopback peer causes here. */
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      return G_SOURCE_CONTINUE;
    }
  log->at_end = TRUE;
  return G_SOURCE_REMOVE;
}

static void
count_notify (gpointer data)
{
  ((WatchLog *) data)->notified++;
}

/* Iterations that find nothing to do leave @log as it was. */
static void
drain_context (void)
{
  for (int i = 0; i < 20 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

/* A watch for input is called as data arrives, sees the end of input, and
 * its destroy notify runs once when it removes itself. */
static void
test_watch_input (void)
{
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  WatchLog log = { .got = g_string_new (NULL), .per_call = 64 };
  guint id;

  id = gios_device_stream_add_watch (pair->stream, G_IO_IN, on_input, &log, count_notify);
  g_assert_cmpuint (id, >, 0);
  drain_context ();
  g_assert_cmpuint (log.calls, ==, 0);

  gios_test_raw_send (pair->peer, "hello ");
  GIOS_TEST_RUN_UNTIL (g_str_equal (log.got->str, "hello "));
  gios_test_raw_send (pair->peer, "world");
  GIOS_TEST_RUN_UNTIL (g_str_equal (log.got->str, "hello world"));
  g_assert_true (log.seen & G_IO_IN);
  g_assert_cmpuint (log.notified, ==, 0);

  gios_test_pair_close_peer (pair);
  GIOS_TEST_RUN_UNTIL (log.at_end);
  g_assert_cmpuint (log.notified, ==, 1);
  {
    guint calls = log.calls;

    drain_context ();
    g_assert_cmpuint (log.calls, ==, calls);
  }
  /* Removing a removed watch does nothing. */
  gios_device_stream_remove_watch (pair->stream, id);
  g_assert_cmpuint (log.notified, ==, 1);
  g_string_free (log.got, TRUE);
}

/* Many watches on one context, then few: the reactor moves them from GLib's
 * poll to its epoll set when there are more than a handful, and back when
 * most are gone. Each stream gets its own input, before, across and after
 * both moves. */
#define MANY_WATCHES 24
#define FEW_WATCHES 2

static void
send_to_each_and_check (GiosTestPair **pairs,
                        WatchLog      *logs,
                        guint          from,
                        guint          to,
                        const char    *word)
{
  for (guint i = from; i < to; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s%u ", word, i);

      g_string_truncate (logs[i].got, 0);
      gios_test_raw_send (pairs[i]->peer, text);
    }
  for (guint i = from; i < to; i++)
    {
      g_autofree char *text = g_strdup_printf ("%s%u ", word, i);

      GIOS_TEST_RUN_UNTIL (g_str_equal (logs[i].got->str, text));
    }
}

static void
test_watch_many_then_few (void)
{
  GiosTestPair *pairs[MANY_WATCHES];
  WatchLog logs[MANY_WATCHES] = { { 0 } };
  guint ids[MANY_WATCHES];

  for (guint i = 0; i < MANY_WATCHES; i++)
    {
      pairs[i] = gios_test_pair_new_socketpair (gios_test_stream_over_socket);
      logs[i].got = g_string_new (NULL);
      logs[i].per_call = 64;
      /* Input on the streams already watched as each one is added. */
      ids[i] = gios_device_stream_add_watch (pairs[i]->stream, G_IO_IN, on_input, &logs[i], count_notify);
      send_to_each_and_check (pairs, logs, 0, i + 1, "up");
    }
  send_to_each_and_check (pairs, logs, 0, MANY_WATCHES, "many");

  /* All but a few peers go: their watches see the end and remove
   * themselves, one after the other. */
  for (guint i = FEW_WATCHES; i < MANY_WATCHES; i++)
    {
      gios_test_pair_close_peer (pairs[i]);
      GIOS_TEST_RUN_UNTIL (logs[i].notified == 1);
      g_assert_true (logs[i].at_end);
      send_to_each_and_check (pairs, logs, 0, FEW_WATCHES, "down");
    }
  send_to_each_and_check (pairs, logs, 0, FEW_WATCHES, "few");
  for (guint i = 0; i < FEW_WATCHES; i++)
    {
      g_assert_cmpuint (logs[i].notified, ==, 0);
      gios_device_stream_remove_watch (pairs[i]->stream, ids[i]);
      g_assert_cmpuint (logs[i].notified, ==, 1);
    }

  for (guint i = 0; i < MANY_WATCHES; i++)
    {
      gios_test_pair_free (pairs[i]);
      g_string_free (logs[i].got, TRUE);
    }
}

/* A descriptor closed under its reactor watch (a misuse: the watch must go
 * first) is reported to the watch once, as an error, and then no longer
 * polled: the loop does not spin on it. */
typedef struct
{
  guint calls;
  GIOCondition revents;
} ReactorLog;

static void
on_reactor_event (GiosWatch    *watch,
                  GIOCondition  revents,
                  gpointer      data)
{
  ReactorLog *log = data;

  log->calls++;
  log->revents |= revents;
}

/* Watches one end of a new socketpair (@fds) for @events, into @log. */
static GiosWatch *
watch_new_socketpair (int           fds[2],
                      GIOCondition  events,
                      ReactorLog   *log)
{
  g_autoptr(GError) error = NULL;
  GiosReactor *reactor = _gios_reactor_ref (NULL, &error);
  GiosWatch *watch;

  g_assert_no_error (error);
  gios_test_socketpair (fds);
  /* The watch holds the reactor. */
  watch = _gios_reactor_watch (reactor, fds[0], events, on_reactor_event, log);
  g_source_unref ((GSource *) reactor);
  return watch;
}

/* The watch is called, once, with @revents, and then no more. */
static void
assert_reported_once (ReactorLog   *log,
                      GIOCondition  revents)
{
  GIOS_TEST_RUN_UNTIL (log->calls > 0);
  g_assert_cmpuint (log->calls, ==, 1);
  g_assert_cmpuint (log->revents, ==, revents);
  for (int i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (log->calls, ==, 1);
}

static void
test_watch_descriptor_closed_under_it (void)
{
  ReactorLog log = { 0 };
  int fds[2];
  GiosWatch *watch = watch_new_socketpair (fds, G_IO_IN, &log);

  drain_context ();
  g_assert_cmpuint (log.calls, ==, 0);

  close (fds[0]);
  assert_reported_once (&log, G_IO_ERR | G_IO_HUP);

  /* Changing and destroying it still work, without touching the
   * descriptor number (which may be another file's by now). */
  _gios_watch_set_events (watch, G_IO_IN | G_IO_OUT);
  _gios_watch_destroy (watch);
  close (fds[1]);
}

/* A descriptor that hung up while its watch asks for nothing (poll reports
 * POLLHUP unasked) is reported to the watch once, then no longer polled;
 * watched for input again, it reports the hang-up at once. */
static void
test_watch_hang_up_unwatched (void)
{
  ReactorLog log = { 0 };
  int fds[2];
  GiosWatch *watch = watch_new_socketpair (fds, 0, &log);

  close (fds[1]);
  assert_reported_once (&log, G_IO_HUP);

  log.revents = 0;
  _gios_watch_set_events (watch, G_IO_IN);
  GIOS_TEST_RUN_UNTIL (log.calls > 1);
  g_assert_cmpuint (log.revents, ==, G_IO_IN | G_IO_HUP);
  _gios_watch_destroy (watch);
  close (fds[0]);
}

/* Reads until a read with a timeout of 0 finds nothing, as a server that
 * answers whatever came in one go does. */
static gboolean
on_input_until_nothing (GiosDeviceStream *stream,
                        GIOCondition      condition,
                        gpointer          data)
{
  WatchLog *log = data;

  log->calls++;
  for (int i = 0; i < 1000; i++)
    {
      g_autoptr(GError) error = NULL;
      guint8 buf[64];
      gssize n = gios_device_stream_read (stream, buf, sizeof buf, 0, NULL, &error);

      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          return G_SOURCE_CONTINUE;
        }
      if (n == 0)
        {
          log->at_end = TRUE;
          return G_SOURCE_REMOVE;
        }
      g_string_append_len (log->got, (const char *) buf, n);
    }
  g_assert_not_reached ();
}

/* A watch that reads until nothing is left gets every message, one at a
 * time, and more than a read takes in one call; a read with a timeout of 0
 * outside the watch gets what arrived since, the main loop not having run
 * in between (the watch's last read found nothing). */
static void
test_watch_read_until_nothing (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  g_autoptr(GString) want = g_string_new (NULL);
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  WatchLog log = { .got = g_string_new (NULL) };
  guint8 buf[64];
  gssize n;

  gios_device_stream_add_watch (pair->stream, G_IO_IN, on_input_until_nothing, &log, NULL);
  for (int i = 0; i < 50; i++)
    {
      g_autofree char *message = g_strdup_printf ("message %d;", i);

      g_string_append (want, message);
      gios_test_raw_send (pair->peer, message);
      GIOS_TEST_RUN_UNTIL (g_str_equal (log.got->str, want->str));
    }
  /* 200 bytes: four reads in one call. */
  for (int i = 0; i < 20; i++)
    g_string_append (want, "0123456789");
  gios_test_raw_send (pair->peer, want->str + log.got->len);
  GIOS_TEST_RUN_UNTIL (g_str_equal (log.got->str, want->str));

  /* On the loop's thread, holding its context, as a timeout would: the
   * loop polls and finds the input, but dispatches nothing. */
  g_assert_true (g_main_context_acquire (context));
  gios_test_raw_send (pair->peer, "late");
  {
    GPollFD fds[16];
    int priority, timeout, n_fds;

    g_main_context_prepare (context, &priority);
    n_fds = g_main_context_query (context, G_MAXINT, &timeout, fds, G_N_ELEMENTS (fds));
    g_assert_cmpint (n_fds, <=, G_N_ELEMENTS (fds));
    g_assert_cmpint (g_poll (fds, n_fds, 10000), >, 0);
    g_main_context_check (context, G_MAXINT, fds, n_fds);
  }
  n = gios_device_stream_read (pair->stream, buf, sizeof buf, 0, NULL, &error);
  g_main_context_release (context);
  g_assert_no_error (error);
  g_assert_cmpmem (buf, n, "late", 4);

  gios_test_pair_close_peer (pair);
  GIOS_TEST_RUN_UNTIL (log.at_end);
  g_assert_cmpstr (log.got->str, ==, want->str);
  g_string_free (log.got, TRUE);
}

/* Buffered input counts as readable: a watch added after a line read is
 * called for the rest, and one that reads a little at a time is called
 * until the buffer is empty, with nothing new from the device. */
static void
test_watch_buffered_input (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  g_autofree char *line = NULL;
  WatchLog log = { .got = g_string_new (NULL), .per_call = 2 };

  gios_test_raw_send (pair->peer, "first\nsecond\n");
  line = gios_device_stream_read_line (pair->stream, 100, NULL, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "first");
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 7);

  gios_device_stream_add_watch (pair->stream, G_IO_IN, on_input, &log, NULL);
  GIOS_TEST_RUN_UNTIL (g_str_equal (log.got->str, "second\n"));
  /* Two bytes a call: four calls for seven bytes, then none. */
  g_assert_cmpuint (log.calls, ==, 4);
  drain_context ();
  g_assert_cmpuint (log.calls, ==, 4);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);
  /* Closing removes the watch, and its reference on the stream. */
  g_assert_true (gios_device_stream_close (pair->stream, &error));
  g_string_free (log.got, TRUE);
}

typedef struct
{
  int fd;
  gsize expect;
  gsize received;
  gboolean intact;
} Drain;

static gpointer
drain_peer (gpointer data)
{
  Drain *drain = data;
  g_autofree guint8 *buf = g_malloc (65536);

  drain->intact = TRUE;
  while (drain->received < drain->expect)
    {
      gssize n = recv (drain->fd, buf, 65536, 0);

      if (n <= 0)
        break;
      for (gssize i = 0; i < n; i++)
        if (buf[i] != (guint8) ((drain->received + i) % 251))
          drain->intact = FALSE;
      drain->received += n;
    }
  return NULL;
}

static gboolean
on_output (GiosDeviceStream *stream,
           GIOCondition      condition,
           gpointer          data)
{
  guint *calls = data;
  g_autoptr(GError) error = NULL;

  (*calls)++;
  g_assert_true (condition & G_IO_OUT);
  if (gios_device_stream_flush (stream, 0, NULL, &error))
    return G_SOURCE_REMOVE;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  return G_SOURCE_CONTINUE;
}

/* A flush with a timeout of 0 sends what the peer takes and keeps the
 * rest; a watch for output finishes the job, byte for byte. */
static void
test_watch_output (void)
{
  const gsize size = 8 * 1024 * 1024;
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  GiosDeviceStream *stream = pair->stream;
  g_autofree guint8 *big = g_malloc (size);
  Drain drain = { .fd = pair->peer, .expect = size };
  GThread *thread;
  guint calls = 0;

  for (gsize i = 0; i < size; i++)
    big[i] = i % 251;
  gios_device_stream_set_output_buffer_size (stream, 16 * 1024 * 1024);
  g_assert_true (gios_device_stream_write (stream, big, size, NULL, &error));
  g_assert_false (gios_device_stream_flush (stream, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (stream), >, 0);

  thread = g_thread_new ("drain", drain_peer, &drain);
  gios_device_stream_add_watch (stream, G_IO_OUT, on_output, &calls, NULL);
  GIOS_TEST_RUN_UNTIL (gios_device_stream_get_buffered_output (stream) == 0);
  g_thread_join (thread);
  g_assert_cmpuint (calls, >, 0);
  g_assert_cmpuint (drain.received, ==, size);
  g_assert_true (drain.intact);
}

/* remove_watch and closing the stream remove watches and call their
 * destroy notify once; a watch holds the stream until then. */
static void
test_watch_remove_and_close (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GiosSocket *conn;
  GiosDeviceStream *stream;
  WatchLog log = { .got = g_string_new (NULL), .per_call = 64 };
  WatchLog second = { .got = g_string_new (NULL), .per_call = 64 };
  int fd;
  guint id;

  conn = gios_test_accept_raw (server, &fd);
  stream = GIOS_DEVICE_STREAM (conn);
  g_object_add_weak_pointer (G_OBJECT (conn), (gpointer *) &conn);

  id = gios_device_stream_add_watch (stream, G_IO_IN, on_input, &log, count_notify);
  gios_device_stream_remove_watch (stream, id);
  g_assert_cmpuint (log.notified, ==, 1);
  gios_test_raw_send (fd, "x");
  drain_context ();
  g_assert_cmpuint (log.calls, ==, 0);

  /* The watch keeps the stream alive after its owner lets go... */
  gios_device_stream_add_watch (stream, G_IO_IN | G_IO_OUT, on_input, &second, count_notify);
  g_object_unref (stream);
  g_assert_nonnull (conn);
  GIOS_TEST_RUN_UNTIL (g_str_equal (second.got->str, "x"));
  g_assert_true (second.seen & G_IO_OUT);
  /* ...until the stream is closed, which removes it. */
  gios_device_stream_close (GIOS_DEVICE_STREAM (conn), NULL);
  g_assert_cmpuint (second.notified, ==, 1);
  g_assert_null (conn);

  close (fd);
  g_string_free (log.got, TRUE);
  g_string_free (second.got, TRUE);
}

typedef struct
{
  guint id;
  guint notified;
  guint notified_inside;
  gboolean called;
} SelfRemove;

static void
self_remove_notify (gpointer data)
{
  ((SelfRemove *) data)->notified++;
}

static gboolean
on_remove_self (GiosDeviceStream *stream,
                GIOCondition      condition,
                gpointer          data)
{
  SelfRemove *state = data;

  state->called = TRUE;
  gios_device_stream_remove_watch (stream, state->id);
  /* The data must outlive the call that is using it. */
  state->notified_inside = state->notified;
  return G_SOURCE_CONTINUE;
}

/* A watch removed from its own function keeps its data until the function
 * has returned, and is not called again. */
static void
test_watch_remove_from_callback (void)
{
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  SelfRemove state = { 0 };

  state.id = gios_device_stream_add_watch (pair->stream, G_IO_OUT, on_remove_self,
                                           &state, self_remove_notify);
  GIOS_TEST_RUN_UNTIL (state.called);
  g_assert_cmpuint (state.notified_inside, ==, 0);
  g_assert_cmpuint (state.notified, ==, 1);
  state.called = FALSE;
  drain_context ();
  g_assert_false (state.called);
}

/* A server socket's watch belongs to its connection: dropping the
 * connection removes it, and the next connection starts with none. */
static void
test_watch_drop_connection (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  WatchLog log = { .got = g_string_new (NULL), .per_call = 64 };
  guint port = gios_test_server_port (server);
  int fd = gios_test_raw_connect (AF_INET, port);
  int fd2;

  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  g_assert_no_error (error);
  gios_device_stream_add_watch (stream, G_IO_IN, on_input, &log, count_notify);
  gios_test_raw_send (fd, "one");
  GIOS_TEST_RUN_UNTIL (g_str_equal (log.got->str, "one"));

  g_assert_true (gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), &error));
  g_assert_cmpuint (log.notified, ==, 1);

  fd2 = gios_test_raw_connect (AF_INET, port);
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  gios_test_raw_send (fd2, "two");
  drain_context ();
  g_assert_cmpstr (log.got->str, ==, "one");
  close (fd);
  close (fd2);
  g_string_free (log.got, TRUE);
}

/* Watching what has no descriptor, or asking for nothing, is a programmer
 * error. */
static void
test_watch_misuse (void)
{
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  WatchLog log = { .got = g_string_new (NULL) };

  g_test_expect_message ("Gios", G_LOG_LEVEL_CRITICAL, "*condition*");
  g_assert_cmpuint (gios_device_stream_add_watch (pair->stream, G_IO_HUP, on_input, &log, NULL), ==, 0);
  g_test_assert_expected_messages ();

  gios_device_stream_close (pair->stream, NULL);
  g_test_expect_message ("Gios", G_LOG_LEVEL_CRITICAL, "*device_fd*");
  g_assert_cmpuint (gios_device_stream_add_watch (pair->stream, G_IO_IN, on_input, &log, NULL), ==, 0);
  g_test_assert_expected_messages ();
  g_string_free (log.got, TRUE);
}

/* ------------------------------------------------------------------------ */
/* Running out of descriptors under start()                                   */

static gboolean
count_accepted (GiosServerSocket *server,
                GiosSocket       *connection,
                guint            *accepted)
{
  (*accepted)++;
  return FALSE;   /* nobody takes it: it is closed */
}

static gboolean
set_true (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
start_emfile_checks (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GArray *spare;
  guint accepted = 0;
  gboolean waited = FALSE;
  int client;

  gios_test_count_log ();
  g_signal_connect (server, "accepted", G_CALLBACK (count_accepted), &accepted);
  g_assert_true (gios_server_socket_start (server, &error));
  /* The reactor's epoll descriptor exists now; fill the table. */
  client = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  spare = gios_test_fill_descriptor_table ();

  /* Half a second of a full table: one warning, no spin. */
  g_timeout_add (500, set_true, &waited);
  GIOS_TEST_RUN_UNTIL (waited);
  g_assert_cmpuint (gios_test_get_warnings (), ==, 1);
  g_assert_cmpuint (accepted, ==, 0);

  gios_test_free_descriptors (spare, spare->len);
  g_array_unref (spare);
  GIOS_TEST_RUN_UNTIL_WITHIN (5, accepted != 0);
  g_assert_cmpuint (gios_test_get_warnings (), ==, 1);
  close (client);
}

static void
test_start_emfile (void)
{
  gios_test_run_in_subprocess (start_emfile_checks, NULL, 20);
}

/* A watch that reads whole lines with a timeout of 0 is not called again
 * for half a line that it could not take: it waits for the rest, instead of
 * making the main loop spin. */
typedef struct
{
  guint calls;
  guint depth;
  guint max_depth;
  gboolean iterate;    /* the callback runs the context, as a modal dialog does */
  GString *lines;
} LineWatch;

static gboolean
on_line_input (GiosDeviceStream *stream,
               GIOCondition      condition,
               gpointer          data)
{
  LineWatch *lw = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  lw->calls++;
  lw->depth++;
  lw->max_depth = MAX (lw->max_depth, lw->depth);
  if (lw->iterate)
    for (int i = 0; i < 5; i++)
      g_main_context_iteration (NULL, FALSE);
  line = gios_device_stream_read_line (stream, 100, NULL, 0, NULL, &error);
  if (line != NULL)
    g_string_append_printf (lw->lines, "%s|", line);
  else if (error != NULL)
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  lw->depth--;
  return G_SOURCE_CONTINUE;
}

/* An accepted connection and its raw peer, with @lw watching it. */
static GiosTestPair *
line_watch_start (LineWatch *lw)
{
  GiosTestPair *pair = gios_test_pair_new_accepted ();

  lw->lines = g_string_new (NULL);
  gios_device_stream_add_watch (pair->stream, G_IO_IN, on_line_input, lw, NULL);
  return pair;
}

/* The callback never ran inside itself; closing removes the watch, and its
 * reference on the stream. */
static void
line_watch_finish (LineWatch    *lw,
                   GiosTestPair *pair)
{
  g_assert_cmpuint (lw->max_depth, ==, 1);
  g_assert_true (gios_device_stream_close (pair->stream, NULL));
  gios_test_pair_close_peer (pair);
  g_string_free (lw->lines, TRUE);
}

static void
test_watch_half_line (void)
{
  LineWatch lw = { 0 };
  g_autoptr(GiosTestPair) pair = line_watch_start (&lw);

  gios_test_raw_send (pair->peer, "abc");
  GIOS_TEST_RUN_UNTIL (lw.calls != 0);

  for (int i = 0; i < 200; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (lw.calls, ==, 1);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 3);

  /* The rest arrives: both lines, the second from the buffer alone. */
  gios_test_raw_send (pair->peer, "def\nghi\n");
  GIOS_TEST_RUN_UNTIL (g_str_equal (lw.lines->str, "abcdef|ghi|"));
  line_watch_finish (&lw, pair);
}

/* A callback that iterates the main context is not called again from
 * inside itself, and its watch works on afterwards. */
static void
test_watch_no_recursion (void)
{
  LineWatch lw = { .iterate = TRUE };
  g_autoptr(GiosTestPair) pair = line_watch_start (&lw);

  gios_test_raw_send (pair->peer, "x\n");
  GIOS_TEST_RUN_UNTIL (g_str_equal (lw.lines->str, "x|"));
  gios_test_raw_send (pair->peer, "y\n");
  GIOS_TEST_RUN_UNTIL (g_str_equal (lw.lines->str, "x|y|"));
  line_watch_finish (&lw, pair);
}

/* A timeout of 0 means "what can be done now", even when the call's
 * priority is higher than the reactor's: a buffered line, input waiting in
 * the device, and output the peer takes all succeed. */
static void
test_timeout_zero_high_priority (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  GiosDeviceStream *stream = pair->stream;
  g_autoptr(GAsyncResult) flushed = NULL;
  g_autofree char *line = NULL;
  char c = 0;

  gios_test_raw_send (pair->peer, "one\ntwo\n");
  line = gios_device_stream_read_line (stream, 100, NULL, 1000, NULL, &error);
  g_assert_cmpstr (line, ==, "one");
  g_clear_pointer (&line, g_free);

  line = read_line_waited (stream, 0, G_PRIORITY_HIGH, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "two");
  g_clear_pointer (&line, g_free);

  gios_test_raw_send (pair->peer, "three\n");
  g_assert_cmpint (gios_device_stream_poll (stream, G_IO_IN, 1000, NULL), ==, G_IO_IN);
  line = read_line_waited (stream, 0, G_PRIORITY_HIGH, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "three");

  g_assert_true (gios_device_stream_write (stream, (const guint8 *) "x", 1, NULL, &error));
  gios_device_stream_flush_async (stream, 0, G_PRIORITY_HIGH, NULL, gios_test_on_async_done, &flushed);
  g_assert_true (gios_device_stream_flush_finish (stream, gios_test_wait_result (&flushed), &error));
  g_assert_no_error (error);
  g_assert_cmpint (recv (pair->peer, &c, 1, 0), ==, 1);
  g_assert_cmpint (c, ==, 'x');
}

/* close() from another thread while the watches' context runs on this one
 * (here: from inside a watch callback, which waits for it): the input ends
 * at once, and the closing finishes on this thread. */
typedef struct
{
  GiosDeviceStream *stream;
  GThread *main_thread;
  GThread *notified_in;
  gboolean closed_ok;
  guint notified;
  guint calls;
} CrossClose;

static gpointer
close_in_thread (gpointer data)
{
  CrossClose *cc = data;

  cc->closed_ok = gios_device_stream_close (cc->stream, NULL);
  return NULL;
}

static gboolean
on_input_close_elsewhere (GiosDeviceStream *stream,
                          GIOCondition      condition,
                          gpointer          data)
{
  CrossClose *cc = data;

  if (cc->calls++ == 0)
    g_thread_join (g_thread_new ("closer", close_in_thread, cc));
  return G_SOURCE_CONTINUE;
}

static void
cross_close_notify (gpointer data)
{
  CrossClose *cc = data;

  cc->notified++;
  cc->notified_in = g_thread_self ();
}

static void
test_watch_close_from_thread (void)
{
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  CrossClose cc = { .main_thread = g_thread_self () };

  /* While this thread dispatches the watch. */
  cc.stream = pair->stream;
  gios_device_stream_add_watch (cc.stream, G_IO_IN, on_input_close_elsewhere, &cc, cross_close_notify);
  gios_test_raw_send (pair->peer, "hi");
  GIOS_TEST_RUN_UNTIL (cc.notified != 0);
  g_assert_true (cc.closed_ok);
  g_assert_true (cc.notified_in == cc.main_thread);
  g_assert_cmpuint (cc.notified, ==, 1);
  g_assert_false (gios_device_stream_get_is_open (cc.stream));
  /* The peer sees the end ("hi" was never read: a reset, as TCP does). */
  gios_test_raw_assert_dropped (pair->peer);
  g_clear_pointer (&pair, gios_test_pair_free);

  /* While nobody runs the context: closed at once, in the closing thread. */
  memset (&cc, 0, sizeof cc);
  pair = gios_test_pair_new_accepted ();
  cc.stream = pair->stream;
  gios_device_stream_add_watch (cc.stream, G_IO_IN, on_input_close_elsewhere, &cc, cross_close_notify);
  g_thread_join (g_thread_new ("closer", close_in_thread, &cc));
  g_assert_true (cc.closed_ok);
  g_assert_cmpuint (cc.notified, ==, 1);
  g_assert_false (gios_device_stream_get_is_open (cc.stream));
  drain_context ();
  g_assert_cmpuint (cc.calls, ==, 0);
}

/* A server socket closed from another thread while start() accepts on
 * this one: accepting stops on this thread, with "stopped" emitted once. */
typedef struct
{
  CrossClose close;    /* of the server socket */
  GThread *stopped_in;
  guint stopped;
} ServerClose;

static gboolean
on_accepted_close_elsewhere (GiosServerSocket *server,
                             GiosSocket       *connection,
                             ServerClose      *sc)
{
  g_thread_join (g_thread_new ("closer", close_in_thread, &sc->close));
  return FALSE;
}

static void
on_stopped_record (GiosServerSocket *server,
                   GError           *reason,
                   ServerClose      *sc)
{
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  sc->stopped++;
  sc->stopped_in = g_thread_self ();
}

static void
test_start_close_from_thread (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  ServerClose sc = { .close.stream = GIOS_DEVICE_STREAM (server) };
  int fd;

  g_signal_connect (server, "accepted", G_CALLBACK (on_accepted_close_elsewhere), &sc);
  g_signal_connect (server, "stopped", G_CALLBACK (on_stopped_record), &sc);
  g_assert_true (gios_server_socket_start (server, &error));
  g_assert_no_error (error);
  fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  GIOS_TEST_RUN_UNTIL (sc.stopped != 0);
  g_assert_true (sc.close.closed_ok);
  g_assert_true (sc.stopped_in == g_thread_self ());
  drain_context ();
  g_assert_cmpuint (sc.stopped, ==, 1);
  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));
  close (fd);
}

/* ------------------------------------------------------------------------ */
/* When the async calls call back                                             */

/* The calls of a test, in the order they called back: a letter each (R a
 * read, W a write, F a flush), and the iteration each called back in. */
typedef struct
{
  GiosDeviceStream *stream;
  GCancellable *cancellable;
  gboolean inside;        /* a *_async() function runs */
  guint iterations;       /* of the test's loop, so far */
  GString *order;
  GArray *called_in;      /* of guint: the iteration of each callback */
  GError *error;          /* the last call's */
  guint lines;            /* read so far */
  guint want_lines;       /* read on until there are this many */
  gboolean done;
} Calls;

static void
calls_init (Calls            *calls,
            GiosDeviceStream *stream)
{
  *calls = (Calls) { .stream = stream, .order = g_string_new (NULL),
                     .called_in = g_array_new (FALSE, FALSE, sizeof (guint)) };
}

static void
calls_clear (Calls *calls)
{
  g_string_free (calls->order, TRUE);
  g_array_unref (calls->called_in);
  g_clear_error (&calls->error);
}

/* Iterates the default context until the calls are done, counting. */
static void
calls_run (Calls *calls)
{
  guint watchdog = gios_test_add_watchdog (10);

  while (!calls->done)
    {
      g_main_context_iteration (NULL, TRUE);
      calls->iterations++;
    }
  g_source_remove (watchdog);
}

/* Notes a callback: never from inside an _async() function, always on the
 * thread that made the call, with the result GIO promises. */
static void
calls_note (Calls        *calls,
            char          letter,
            GObject      *source,
            GAsyncResult *result,
            gpointer      tag)
{
  g_autoptr(GObject) source_object = g_async_result_get_source_object (result);

  g_assert_false (calls->inside);
  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  g_assert_true (source == G_OBJECT (calls->stream));
  g_assert_true (source_object == G_OBJECT (calls->stream));
  g_assert_true (g_async_result_get_user_data (result) == calls);
  g_assert_true (g_async_result_is_tagged (result, tag));
  g_string_append_c (calls->order, letter);
  g_array_append_val (calls->called_in, calls->iterations);
}

static void
on_calls_flushed (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  Calls *calls = data;

  calls_note (calls, 'F', source, result, gios_device_stream_flush_async);
  g_clear_error (&calls->error);
  gios_device_stream_flush_finish (calls->stream, result, &calls->error);
  if (calls->want_lines == 0 || calls->lines == calls->want_lines)
    calls->done = TRUE;
}

static void
on_calls_written (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  Calls *calls = data;

  calls_note (calls, 'W', source, result, gios_device_stream_write_async);
  g_clear_error (&calls->error);
  g_assert_true (gios_device_stream_write_finish (calls->stream, result, &calls->error));
}

static void
calls_flush (Calls *calls)
{
  calls->inside = TRUE;
  gios_device_stream_flush_async (calls->stream, GIOS_TIMEOUT_FOREVER, G_PRIORITY_DEFAULT,
                                  calls->cancellable, on_calls_flushed, calls);
  calls->inside = FALSE;
}

static void on_calls_line (GObject *source, GAsyncResult *result, gpointer data);

static void
calls_read_line (Calls *calls,
                 int    timeout_ms)
{
  calls->inside = TRUE;
  gios_device_stream_read_line_async (calls->stream, 100, timeout_ms, G_PRIORITY_DEFAULT,
                                      calls->cancellable, on_calls_line, calls);
  calls->inside = FALSE;
}

/* Echoes each line in upper case until want_lines are read: write, flush
 * and read the next, which are all there at once. */
static void
on_calls_line (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Calls *calls = data;
  g_autofree char *line = NULL;
  g_autofree char *upper = NULL;

  calls_note (calls, 'R', source, result, gios_device_stream_read_line_async);
  g_clear_error (&calls->error);
  line = gios_device_stream_read_line_finish (calls->stream, result, NULL, &calls->error);
  if (line == NULL)
    {
      calls->done = TRUE;
      return;
    }
  calls->lines++;
  upper = g_ascii_strup (line, -1);
  g_assert_true (gios_device_stream_write_line (calls->stream, upper, NULL, NULL));
  calls_flush (calls);
  if (calls->lines < calls->want_lines)
    calls_read_line (calls, GIOS_TIMEOUT_FOREVER);
}

/* Requests already buffered and replies that go out at once complete in the
 * iteration that read them, with no idle source: a callback, once it has
 * returned, leads to the next in the same dispatch of the reactor. */
static void
test_completion_same_iteration (void)
{
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  Calls calls;

  calls_init (&calls, pair->stream);
  calls.want_lines = 3;
  calls_read_line (&calls, GIOS_TIMEOUT_FOREVER);
  gios_test_raw_send (pair->peer, "a\nb\nc\n");
  calls_run (&calls);
  g_assert_no_error (calls.error);
  g_assert_cmpstr (calls.order->str, ==, "RFRFRF");
  for (guint i = 1; i < calls.called_in->len; i++)
    g_assert_cmpuint (g_array_index (calls.called_in, guint, i), ==,
                      g_array_index (calls.called_in, guint, 0));
  gios_test_peer_assert_reads (pair->peer, "A\nB\nC\n");
  /* Nothing was left for a later iteration. */
  g_assert_false (g_main_context_pending (NULL));
  calls_clear (&calls);
}

/* A call that finished in its _async() function calls back later, made
 * outside any dispatch (it then calls back from an idle source) or from a
 * callback of the reactor, in the order the calls finished. */
static void
test_completion_never_inside (void)
{
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) pending = NULL;
  g_autoptr(GAsyncResult) refused = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  Calls calls;

  /* "one" read, "two" and "three" buffered behind it. */
  gios_test_raw_send (pair->peer, "one\ntwo\nthree\n");
  line = read_line_waited (pair->stream, 2000, G_PRIORITY_DEFAULT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "one");
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 10);

  /* Outside any dispatch: a line buffered, a write with room, a flush. */
  calls_init (&calls, pair->stream);
  calls_read_line (&calls, GIOS_TIMEOUT_FOREVER);
  calls.inside = TRUE;
  gios_device_stream_write_async (pair->stream, (const guint8 *) "w", 1, GIOS_TIMEOUT_FOREVER,
                                  G_PRIORITY_DEFAULT, NULL, on_calls_written, &calls);
  calls.inside = FALSE;
  g_assert_cmpstr (calls.order->str, ==, "");
  calls_run (&calls);
  /* The line's callback wrote "TWO" and flushed, and read "three". */
  g_assert_no_error (calls.error);
  g_assert_cmpstr (calls.order->str, ==, "RWF");
  gios_test_peer_assert_reads (pair->peer, "wTWO\n");

  g_clear_pointer (&line, g_free);
  line = read_line_waited (pair->stream, 2000, G_PRIORITY_DEFAULT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "three");

  /* Failures at the start call back later too: a read while one is
   * pending, and a flush whose cancellable was cancelled already. */
  gios_device_stream_read_line_async (pair->stream, 100, 2000, G_PRIORITY_DEFAULT, NULL,
                                      gios_test_on_async_done, &first);
  gios_device_stream_read_bytes_async (pair->stream, 10, 2000, G_PRIORITY_DEFAULT, NULL,
                                       gios_test_on_async_done, &pending);
  g_cancellable_cancel (cancelled);
  gios_device_stream_flush_async (pair->stream, 2000, G_PRIORITY_DEFAULT, cancelled,
                                  gios_test_on_async_done, &refused);
  g_assert_null (pending);
  g_assert_null (refused);
  g_assert_null (gios_device_stream_read_bytes_finish (pair->stream, gios_test_wait_result (&pending), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  g_assert_false (gios_device_stream_flush_finish (pair->stream, gios_test_wait_result (&refused), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  gios_test_raw_send (pair->peer, "four\n");
  g_clear_pointer (&line, g_free);
  line = gios_device_stream_read_line_finish (pair->stream, gios_test_wait_result (&first), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "four");
  calls_clear (&calls);
}

typedef struct
{
  Calls *calls;
  gboolean ran;
  guint lines_at;         /* the lines read when it ran */
} IdleCount;

static gboolean
on_idle_count (gpointer data)
{
  IdleCount *idle = data;

  /* The lines read before the loop's other sources had their turn. */
  idle->ran = TRUE;
  idle->lines_at = idle->calls->lines;
  return G_SOURCE_REMOVE;
}

/* A chain of calls that all finish at once does not keep the loop to
 * itself: the reactor makes a bounded number of rounds per dispatch. */
static void
test_completion_bounded (void)
{
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  g_autoptr(GString) input = g_string_new (NULL);
  Calls calls;
  IdleCount idle = { &calls, FALSE, 0 };
  guint idle_id;

  for (guint i = 0; i < 200; i++)
    g_string_append (input, "x\n");
  calls_init (&calls, pair->stream);
  calls.want_lines = 200;
  calls_read_line (&calls, GIOS_TIMEOUT_FOREVER);
  gios_test_raw_send (pair->peer, input->str);
  gios_test_wait_kernel_input (pair->stream_fd, input->len);
  /* At the reactor's priority, so that it gets its turn in the first
   * iteration whose dispatch the reactor does not keep to itself. */
  idle_id = g_idle_add_full (G_PRIORITY_DEFAULT, on_idle_count, &idle, NULL);
  /* Replies are flushed one at a time: the peer reads them on. */
  calls_run (&calls);
  if (!idle.ran)
    g_source_remove (idle_id);
  g_assert_no_error (calls.error);
  g_assert_cmpuint (calls.lines, ==, 200);
  g_assert_true (idle.ran);
  g_assert_cmpuint (idle.lines_at, <, 200);
  /* Many lines per iteration, all 200 in a few. */
  g_assert_cmpuint (calls.iterations, >, 1);
  g_assert_cmpuint (calls.iterations, <=, 200 / 4);
  calls_clear (&calls);
}

/* Cancelled after it finished but before it called back, a call fails with
 * G_IO_ERROR_CANCELLED, as a GTask does; a timeout still ends a read. */
static void
test_completion_cancel_and_timeout (void)
{
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Calls calls;
  gint64 start;

  calls_init (&calls, pair->stream);
  calls.cancellable = cancellable;
  g_assert_true (gios_device_stream_write_line (pair->stream, "x", NULL, NULL));
  calls_flush (&calls);
  g_cancellable_cancel (cancellable);
  calls_run (&calls);
  g_assert_error (calls.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (calls.order->str, ==, "F");
  /* Sent all the same: the flush had finished. */
  gios_test_peer_assert_reads (pair->peer, "x\n");

  /* A line that never comes. */
  calls.cancellable = NULL;
  calls.done = FALSE;
  start = g_get_monotonic_time ();
  calls_read_line (&calls, 100);
  calls_run (&calls);
  g_assert_error (calls.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  gios_test_assert_elapsed (start, 90, 2000);
  g_assert_cmpstr (calls.order->str, ==, "FR");
  calls_clear (&calls);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/async/start/serves", test_start_serves);
  g_test_add_func ("/async/start/max-connections", test_start_max_connections);
  g_test_add_func ("/async/start/stop-and-close-in-handler", test_stop_and_close_in_handler);
  g_test_add_func ("/async/start/not-open", test_start_not_open);
  g_test_add_func ("/async/start/emfile", test_start_emfile);
  g_test_add_func ("/async/accept/concurrent", test_concurrent_accepts);
  g_test_add_func ("/async/listen", test_listen_async);
  g_test_add_func ("/async/open/errors", test_open_async_errors);
  g_test_add_func ("/async/read-line", test_read_line_async);
  g_test_add_func ("/async/read-bytes-and-flush", test_read_bytes_and_flush_async);
  g_test_add_func ("/async/drop-fails-pending", test_drop_fails_pending);
  g_test_add_func ("/async/memory-stream", test_async_on_memory_stream);
  g_test_add_func ("/async/cancel-everything", test_cancel_everything);
  g_test_add_func ("/async/watch/input", test_watch_input);
  g_test_add_func ("/async/watch/buffered-input", test_watch_buffered_input);
  g_test_add_func ("/async/watch/many-then-few", test_watch_many_then_few);
  g_test_add_func ("/async/watch/descriptor-closed-under-it", test_watch_descriptor_closed_under_it);
  g_test_add_func ("/async/watch/hang-up-unwatched", test_watch_hang_up_unwatched);
  g_test_add_func ("/async/watch/read-until-nothing", test_watch_read_until_nothing);
  g_test_add_func ("/async/watch/output", test_watch_output);
  g_test_add_func ("/async/watch/remove-and-close", test_watch_remove_and_close);
  g_test_add_func ("/async/watch/remove-from-callback", test_watch_remove_from_callback);
  g_test_add_func ("/async/watch/drop-connection", test_watch_drop_connection);
  g_test_add_func ("/async/watch/misuse", test_watch_misuse);
  g_test_add_func ("/async/watch/half-line", test_watch_half_line);
  g_test_add_func ("/async/watch/no-recursion", test_watch_no_recursion);
  g_test_add_func ("/async/watch/close-from-thread", test_watch_close_from_thread);
  g_test_add_func ("/async/timeout-zero-high-priority", test_timeout_zero_high_priority);
  g_test_add_func ("/async/start/close-from-thread", test_start_close_from_thread);
  g_test_add_func ("/async/completion/same-iteration", test_completion_same_iteration);
  g_test_add_func ("/async/completion/never-inside", test_completion_never_inside);
  g_test_add_func ("/async/completion/bounded", test_completion_bounded);
  g_test_add_func ("/async/completion/cancel-and-timeout", test_completion_cancel_and_timeout);

  return g_test_run ();
}
