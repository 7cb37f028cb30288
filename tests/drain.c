/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gios_server_socket_drain() in every serving model: accepting stops at
 * once, what is being served finishes within the deadline, what is not is
 * cut and counted, and the server ends closed (and can be opened again).
 *
 * The drain runs on the test's main thread and runs the default main
 * context while it waits: the requests that let connections finish are
 * sent from a timeout on that context, 200 ms into the drain.
 */
#include "gios-test-utils.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define REQUEST "ping\n"
#define REPLY "pong\n"
#define REQUEST_AFTER_MS 200

static void
assert_refused (guint port)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = g_htons (port),
                             .sin_addr.s_addr = g_htonl (INADDR_LOOPBACK) };

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sin, sizeof sin), ==, -1);
  g_assert_cmpint (errno, ==, ECONNREFUSED);
  close (fd);
}

/* A client that connected while the server drained is never served: its
 * connection ends (reset, or closed) without a reply. */
static void
assert_not_served (int fd)
{
  char buffer[16];

  (void) !send (fd, REQUEST, strlen (REQUEST), MSG_NOSIGNAL);
  g_assert_cmpint (recv (fd, buffer, sizeof buffer, 0), <=, 0);
  close (fd);
}

static void
assert_reply (int fd)
{
  g_autofree char *reply = gios_test_raw_recv (fd, strlen (REPLY));

  g_assert_cmpstr (reply, ==, REPLY);
}

/* What a timeout on the default context does during the drain: sends the
 * request of @client, and connects a @late client that must not be served. */
typedef struct
{
  guint port;
  int client;              /* -1: no request to send */
  int late;                /* the late client, once connected */
} During;

static gboolean
during_drain (gpointer data)
{
  During *during = data;

  if (during->client >= 0)
    gios_test_raw_send (during->client, REQUEST);
  during->late = gios_test_raw_connect (AF_INET, during->port);
  return G_SOURCE_REMOVE;
}

/* Drains @server while @during's client sends its request, 200 ms in, and
 * asserts that the drain waited for the reply and no longer: the caller's
 * connection finished in time. Returns when the drain started. */
static gint64
drain_waits_for_the_request (GiosServerSocket *server,
                             During           *during)
{
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_timeout_add (REQUEST_AFTER_MS, during_drain, during);
  start = g_get_monotonic_time ();
  g_assert_true (gios_server_socket_drain (server, 5000, &error));
  g_assert_no_error (error);
  /* It ended when the connection did, not at the deadline. */
  gios_test_assert_elapsed (start, REQUEST_AFTER_MS, 2000);
  assert_reply (during->client);
  close (during->client);
  return start;
}

/* After a drain the server can be opened again, and accepts. */
static void
assert_reopens (GiosServerSocket *server)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) connection = NULL;
  int client;

  g_assert_true (gios_server_socket_open_address (server, "127.0.0.1", "0", 1000, &error));
  g_assert_no_error (error);
  connection = gios_test_accept_raw (server, &client);
  close (client);
  g_assert_true (gios_server_socket_close (server, NULL));
}

/* ------------------------------------------------------------------------ */
/* Jobs                                                                       */

typedef struct
{
  GiosServerSocket *server;
  guint max_jobs;
  gint started;            /* atomic: jobs that began */
  gint answered;           /* atomic: jobs that sent their reply */
} Jobs;

/* Reads one line, with no timeout of its own, and answers it. */
static void
answer_one_line (GiosSocket   *connection,
                 GCancellable *cancellable,
                 gpointer      data)
{
  Jobs *jobs = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (connection);
  g_autofree char *line = NULL;

  g_atomic_int_inc (&jobs->started);
  line = gios_device_stream_read_line (stream, 0, NULL, GIOS_TIMEOUT_FOREVER, cancellable, NULL);
  if (line != NULL && gios_device_stream_write (stream, (const guint8 *) REPLY, strlen (REPLY), NULL, NULL) &&
      gios_device_stream_flush (stream, 1000, NULL, NULL))
    g_atomic_int_inc (&jobs->answered);
}

static gboolean
run_listen_job (gpointer   data,
                GError   **error)
{
  Jobs *jobs = data;

  return gios_server_socket_listen_job (jobs->server, GIOS_TIMEOUT_FOREVER, jobs->max_jobs,
                                        answer_one_line, jobs, NULL, NULL, error) >= 0;
}

static void
wait_for_jobs (Jobs *jobs,
               gint  n)
{
  for (int i = 0; i < 2500 && g_atomic_int_get (&jobs->started) < n; i++)
    g_usleep (2000);
  g_assert_cmpint (g_atomic_int_get (&jobs->started), ==, n);
}

/* A running job finishes inside the deadline, @max_jobs limits the pool
 * (1: listen_job waits for a slot, and the drain wakes that wait). */
static void
jobs_finish (guint max_jobs)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  Jobs jobs = { .server = server, .max_jobs = max_jobs };
  During during = { .port = gios_test_server_port (server) };
  g_autoptr(GiosTestBlocked) accepting = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  accepting = gios_test_blocked_start (run_listen_job, &jobs);
  during.client = gios_test_raw_connect (AF_INET, during.port);
  wait_for_jobs (&jobs, 1);
  start = drain_waits_for_the_request (server, &during);
  g_assert_cmpint (g_atomic_int_get (&jobs.answered), ==, 1);
  /* Accepting stopped at once, in the wait for a connection or a slot. */
  gios_test_blocked_join (accepting, start);
  g_assert_false (accepting->ok);
  g_assert_error (accepting->error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpint (g_atomic_int_get (&jobs.started), ==, 1);
  assert_not_served (during.late);

  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));
  assert_refused (during.port);
  assert_reopens (server);
}

static void
test_jobs_finish (void)
{
  jobs_finish (0);
}

static void
test_jobs_waiting_for_a_slot (void)
{
  jobs_finish (1);
}

/* A job that does not finish is cut at the deadline, and counted. */
static void
test_jobs_cut (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  Jobs jobs = { .server = server };
  g_autoptr(GiosTestBlocked) accepting = NULL;
  g_autoptr(GError) error = NULL;
  char buffer[16];
  gint64 start;
  int client;

  accepting = gios_test_blocked_start (run_listen_job, &jobs);
  client = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  wait_for_jobs (&jobs, 1);

  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_drain (server, 300, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "1 connection was still open"));
  gios_test_assert_timed_out (&error, start, 300);

  /* The job's read was woken, and the job ended without answering. */
  g_assert_true (gios_server_socket_wait_jobs (server, 1000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&jobs.answered), ==, 0);
  g_assert_cmpint (recv (client, buffer, sizeof buffer, 0), <=, 0);
  close (client);
  gios_test_blocked_join (accepting, start);
  g_assert_error (accepting->error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

/* ------------------------------------------------------------------------ */
/* The main loop                                                              */

typedef struct
{
  GiosSocket *connection;  /* taken by the handler */
  gboolean answered;
  GError *read_error;
  gboolean stopped;
  GError *stop_reason;
} Loop;

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Loop *loop = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (source);
  g_autofree char *line = gios_device_stream_read_line_finish (stream, result, NULL, &loop->read_error);

  if (line != NULL)
    {
      g_assert_true (gios_device_stream_write (stream, (const guint8 *) REPLY, strlen (REPLY), NULL, NULL));
      /* On the loop's thread this sends what the peer takes now. */
      gios_device_stream_close (stream, NULL);
      loop->answered = TRUE;
    }
  g_clear_object (&loop->connection);
}

static gboolean
on_accepted (GiosServerSocket *server,
             GiosSocket       *connection,
             Loop             *loop)
{
  g_assert_null (loop->connection);
  loop->connection = g_object_ref (connection);
  gios_device_stream_read_line_async (GIOS_DEVICE_STREAM (connection), 0, GIOS_TIMEOUT_FOREVER,
                                      G_PRIORITY_DEFAULT, NULL, on_line, loop);
  return TRUE;
}

static void
on_stopped (GiosServerSocket *server,
            GError           *reason,
            Loop             *loop)
{
  loop->stopped = TRUE;
  loop->stop_reason = g_error_copy (reason);
}

static GiosServerSocket *
start_main_loop_server (Loop *loop,
                        int  *client)
{
  g_autoptr(GError) error = NULL;
  GiosServerSocket *server = gios_test_open_loopback_server ();

  g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), loop);
  g_signal_connect (server, "stopped", G_CALLBACK (on_stopped), loop);
  g_assert_true (gios_server_socket_start (server, &error));
  g_assert_no_error (error);
  *client = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  GIOS_TEST_RUN_UNTIL (loop->connection != NULL);
  return server;
}

/* A connection taken by an ::accepted handler finishes inside the
 * deadline: the drain runs the loop meanwhile; start() ends with
 * ::stopped. */
static void
test_main_loop_finish (void)
{
  Loop loop = { 0 };
  During during = { 0 };
  g_autoptr(GiosServerSocket) server = start_main_loop_server (&loop, &during.client);

  during.port = gios_test_server_port (server);
  drain_waits_for_the_request (server, &during);
  g_assert_true (loop.answered);
  g_assert_no_error (loop.read_error);
  g_assert_true (loop.stopped);
  g_assert_error (loop.stop_reason, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&loop.stop_reason);
  assert_not_served (during.late);
  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));
  assert_refused (during.port);
}

/* A main-loop connection that does not finish is closed at the deadline:
 * its handler's read fails with CLOSED. */
static void
test_main_loop_cut (void)
{
  Loop loop = { 0 };
  int client;
  g_autoptr(GiosServerSocket) server = start_main_loop_server (&loop, &client);
  g_autoptr(GiosSocket) connection = g_object_ref (loop.connection);
  g_autoptr(GError) error = NULL;
  gint64 start;

  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_drain (server, 300, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "1 connection was still open"));
  gios_test_assert_timed_out (&error, start, 300);

  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (connection)));
  GIOS_TEST_RUN_UNTIL (loop.connection == NULL);
  g_assert_false (loop.answered);
  g_assert_error (loop.read_error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&loop.read_error);
  g_clear_error (&loop.stop_reason);
  close (client);
}

/* A pending accept_async() fails with CLOSED. */
static void
on_accept_done (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GError **error = data;
  g_autoptr(GiosSocket) connection = gios_server_socket_accept_finish (GIOS_SERVER_SOCKET (source),
                                                                        result, error);

  g_assert_null (connection);
}

static void
test_pending_accept_async (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GError) error = NULL;
  GError *accept_error = NULL;

  gios_server_socket_accept_async (server, NULL, on_accept_done, &accept_error);
  g_assert_true (gios_server_socket_drain (server, 1000, &error));
  g_assert_no_error (error);
  GIOS_TEST_RUN_UNTIL (accept_error != NULL);
  g_assert_error (accept_error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&accept_error);
}

/* ------------------------------------------------------------------------ */
/* The classic model                                                          */

typedef struct
{
  GiosServerSocket *server;
  gint served;             /* atomic: connections answered */
  gint current;            /* atomic: a connection is current */
} Classic;

/* Serves connections one at a time until listen() fails. */
static gboolean
run_classic (gpointer   data,
             GError   **error)
{
  Classic *classic = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (classic->server);

  while (gios_server_socket_listen (classic->server, GIOS_TIMEOUT_FOREVER, NULL, error))
    {
      g_autofree char *line = NULL;

      g_atomic_int_set (&classic->current, TRUE);
      line = gios_device_stream_read_line (stream, 0, NULL, GIOS_TIMEOUT_FOREVER, NULL, NULL);
      if (line != NULL && gios_device_stream_write (stream, (const guint8 *) REPLY, strlen (REPLY), NULL, NULL) &&
          gios_device_stream_flush (stream, 1000, NULL, NULL))
        g_atomic_int_inc (&classic->served);
      gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (classic->server), NULL);
    }
  return FALSE;
}

/* The current connection finishes inside the deadline; the next listen()
 * fails with CLOSED. */
static void
test_classic_finish (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  Classic classic = { .server = server };
  During during = { .port = gios_test_server_port (server) };
  g_autoptr(GiosTestBlocked) serving = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  serving = gios_test_blocked_start (run_classic, &classic);
  during.client = gios_test_raw_connect (AF_INET, during.port);
  for (int i = 0; i < 2500 && !g_atomic_int_get (&classic.current); i++)
    g_usleep (2000);
  g_assert_true (g_atomic_int_get (&classic.current));
  start = drain_waits_for_the_request (server, &during);
  gios_test_blocked_join (serving, start);
  g_assert_error (serving->error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpint (g_atomic_int_get (&classic.served), ==, 1);
  assert_not_served (during.late);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */

static void
test_not_open (void)
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (gios_server_socket_drain (server, 100, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED);
}

static gboolean
close_server (gpointer data)
{
  gios_server_socket_close (data, NULL);
  return G_SOURCE_REMOVE;
}

/* A close during the drain (here from a handler on the context the drain
 * runs) ends its wait at once. */
static void
test_close_ends_the_wait (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  Jobs jobs = { .server = server };
  g_autoptr(GiosTestBlocked) accepting = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;
  int client;

  accepting = gios_test_blocked_start (run_listen_job, &jobs);
  client = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  wait_for_jobs (&jobs, 1);
  g_timeout_add (REQUEST_AFTER_MS, close_server, server);

  start = g_get_monotonic_time ();
  (void) gios_server_socket_drain (server, 10000, &error);
  g_clear_error (&error);
  gios_test_assert_elapsed (start, REQUEST_AFTER_MS, 1500);
  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));
  g_assert_true (gios_server_socket_wait_jobs (server, 1000, NULL));
  close (client);
  gios_test_blocked_join (accepting, start);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/drain/jobs/finish", test_jobs_finish);
  g_test_add_func ("/drain/jobs/waiting-for-a-slot", test_jobs_waiting_for_a_slot);
  g_test_add_func ("/drain/jobs/cut", test_jobs_cut);
  g_test_add_func ("/drain/main-loop/finish", test_main_loop_finish);
  g_test_add_func ("/drain/main-loop/cut", test_main_loop_cut);
  g_test_add_func ("/drain/main-loop/pending-accept-async", test_pending_accept_async);
  g_test_add_func ("/drain/classic/finish", test_classic_finish);
  g_test_add_func ("/drain/errors/not-open", test_not_open);
  g_test_add_func ("/drain/errors/close-ends-the-wait", test_close_ends_the_wait);

  return g_test_run ();
}
