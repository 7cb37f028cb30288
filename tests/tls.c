/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS: every serving model against the real `openssl s_client`, the client
 * against `openssl s_server`, STARTTLS, the errors that name what failed,
 * and the device stream's guarantees over TLS (timeouts, close from another
 * thread, records read in part, the main loop). The certificates are made
 * by tests/make-test-certs.sh, with the openssl command, in a temporary
 * directory: the tests' own CA, a server certificate for localhost, one for
 * another host, an expired one and a self-signed one.
 *
 * openssl s_server is started by the test and stopped by its pid.
 */
#include "gios-handover.h"
#include "gios-socket-common-private.h"
#include "gios-device-stream-private.h"
#include "gios-test-utils.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

static char *certs;

static char *
cert_file (const char *name,
           const char *ext)
{
  g_autofree char *base = g_strconcat (name, ext, NULL);

  return g_build_filename (certs, base, NULL);
}

static GTlsCertificate *
load_certificate (const char *name)
{
  g_autofree char *pem = cert_file (name, ".pem");
  g_autofree char *key = cert_file (name, ".key");
  g_autoptr(GError) error = NULL;
  GTlsCertificate *certificate = g_tls_certificate_new_from_files (pem, key, &error);

  g_assert_no_error (error);
  return certificate;
}

/* A database that trusts the certificate authority @name (a CA, or a
 * self-signed certificate). */
static GTlsDatabase *
trusting (const char *name)
{
  g_autofree char *pem = cert_file (name, ".pem");
  g_autoptr(GError) error = NULL;
  GTlsDatabase *database = g_tls_file_database_new (pem, &error);

  g_assert_no_error (error);
  return database;
}

/* A loopback server presenting the certificate @name. */
static GiosServerSocket *
tls_server (const char *name)
{
  GiosServerSocket *server = gios_test_open_loopback_server ();
  g_autoptr(GTlsCertificate) certificate = load_certificate (name);

  gios_socket_common_set_tls_certificate (GIOS_SOCKET_COMMON (server), certificate);
  return server;
}

/* A client of @server, connected to "localhost", trusting @ca, not yet in
 * TLS. */
static GiosSocket *
client_of (GiosServerSocket *server,
           const char       *ca)
{
  g_autofree char *port = gios_test_server_port_string (server);
  g_autoptr(GTlsDatabase) database = trusting (ca);
  g_autoptr(GError) error = NULL;
  GiosSocket *client = gios_socket_new ();

  gios_socket_common_set_tls_database (GIOS_SOCKET_COMMON (client), database);
  g_assert_true (gios_socket_open (client, "localhost", port, 5000, NULL, &error));
  g_assert_no_error (error);
  return client;
}

static void
write_line (gpointer    stream,
            const char *line)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_device_stream_write_line (stream, line, NULL, &error));
  g_assert_true (gios_device_stream_flush (stream, 5000, NULL, &error));
  g_assert_no_error (error);
}

static void
assert_read_line (gpointer    stream,
                  const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = gios_device_stream_read_line (stream, 0, NULL, 5000, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, expected);
}

/* ------------------------------------------------------------------------ */
/* A server on its own thread                                                 */

typedef struct
{
  GiosServerSocket *server;
  GiosTestModel model;
  guint max_jobs;
  gint served;     /* atomic: connections answered */
  gint stop;       /* atomic */
  GMainContext *context;   /* the start() model's, on its thread */
  GThread *thread;
} Serving;

/* The answer to the client's @line (none if NULL), flushed within
 * @flush_timeout_ms; counted once sent. */
static void
answer_line (Serving          *serving,
             GiosDeviceStream *stream,
             const char       *line,
             int               flush_timeout_ms)
{
  g_autofree char *reply = NULL;

  if (line == NULL)
    return;
  reply = g_strdup_printf ("ECHO %s", line);
  if (gios_device_stream_write_line (stream, reply, NULL, NULL) &&
      gios_device_stream_flush (stream, flush_timeout_ms, NULL, NULL))
    g_atomic_int_inc (&serving->served);
}

/* The conversation of every model: a greeting, then the answer to the
 * client's line. */
static void
converse (GiosSocketCommon *connection,
          gpointer          data)
{
  Serving *serving = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (connection);
  g_autofree char *line = NULL;

  g_assert_true (gios_socket_common_get_is_tls (connection));
  if (!gios_device_stream_write_line (stream, "HELLO", NULL, NULL) ||
      !gios_device_stream_flush (stream, 5000, NULL, NULL))
    return;
  line = gios_device_stream_read_line (stream, 0, NULL, 5000, NULL, NULL);
  answer_line (serving, stream, line, 5000);
}

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  g_autoptr(GiosSocket) connection = GIOS_SOCKET (source);
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (connection);
  Serving *serving = data;
  g_autofree char *line = gios_device_stream_read_line_finish (stream, result, NULL, NULL);

  /* Short lines to a reading peer: written at once. */
  answer_line (serving, stream, line, 0);
}

static gboolean
on_accepted (GiosServerSocket *server,
             GiosSocket       *connection,
             Serving          *serving)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (connection);

  g_assert_true (gios_socket_common_get_is_tls (GIOS_SOCKET_COMMON (connection)));
  g_assert_true (gios_device_stream_write_line (stream, "HELLO", NULL, NULL));
  g_assert_true (gios_device_stream_flush (stream, 0, NULL, NULL));
  gios_device_stream_read_line_async (stream, 0, 5000, G_PRIORITY_DEFAULT, NULL, on_line, serving);
  g_object_ref (connection);
  return TRUE;
}

static gpointer
serve_thread (gpointer data)
{
  Serving *serving = data;
  GiosServerSocket *server = serving->server;

  if (serving->model == GIOS_TEST_MODEL_START)
    {
      GMainContext *context = serving->context;

      g_main_context_push_thread_default (context);
      g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), serving);
      g_assert_true (gios_server_socket_start (server, NULL));
      while (!g_atomic_int_get (&serving->stop))
        g_main_context_iteration (context, TRUE);
      gios_server_socket_stop (server);
      /* What the stop left to finish. */
      while (g_main_context_iteration (context, FALSE))
        ;
      g_main_context_pop_thread_default (context);
      return NULL;
    }
  while (!g_atomic_int_get (&serving->stop))
    {
      /* Fails only once the test closes the server. */
      if (gios_test_serve_round (server, serving->model, 50, serving->max_jobs, converse, serving) < 0)
        g_assert_true (g_atomic_int_get (&serving->stop));
    }
  g_assert_true (gios_server_socket_wait_jobs (server, 5000, NULL));
  return NULL;
}

/* Serves @server in @model on a thread, at most @max_jobs jobs at once in
 * the jobs model. */
static Serving *
serving_start (GiosServerSocket *server,
               GiosTestModel     model,
               guint             max_jobs)
{
  Serving *serving = g_new0 (Serving, 1);

  serving->server = g_object_ref (server);
  serving->model = model;
  serving->max_jobs = max_jobs;
  serving->context = g_main_context_new ();
  serving->thread = g_thread_new ("server", serve_thread, serving);
  return serving;
}

static void
serving_stop (Serving *serving)
{
  g_atomic_int_set (&serving->stop, 1);
  /* A start() server's loop sees the flag once woken: the close may make
   * no event there (the test may have closed the server already). */
  g_main_context_wakeup (serving->context);
  gios_device_stream_close (GIOS_DEVICE_STREAM (serving->server), NULL);
  g_thread_join (serving->thread);
  g_main_context_unref (serving->context);
  g_object_unref (serving->server);
  g_free (serving);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Serving, serving_stop)

/* ------------------------------------------------------------------------ */
/* openssl s_client against each model                                        */

/* Runs openssl s_client against @port, validating the server as localhost
 * against the tests' CA, with @input on its standard input; returns what it
 * printed. It ends when the server closes the connection. */
static char *
s_client (guint       port,
          const char *input,
          int        *status)
{
  g_autofree char *connect = g_strdup_printf ("127.0.0.1:%u", port);
  g_autofree char *ca = cert_file ("ca", ".pem");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  char *out = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                              "openssl", "s_client", "-connect", connect, "-quiet", "-CAfile", ca,
                              "-verify_return_error", "-verify_hostname", "localhost",
                              "-servername", "localhost", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (process, input, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  *status = g_subprocess_get_exit_status (process);
  return out;
}

static void
test_s_client (gconstpointer data)
{
  GiosTestModel model = GPOINTER_TO_INT (data);
  g_autoptr(GiosServerSocket) server = tls_server ("server");
  guint port = gios_test_server_port (server);
  g_autoptr(Serving) serving = serving_start (server, model, 4);

  for (int round = 0; round < 2; round++)
    {
      int status = -1;
      g_autofree char *out = s_client (port, "hello from openssl\n", &status);

      g_assert_cmpstr (out, ==, "HELLO\nECHO hello from openssl\n");
      g_assert_cmpint (status, ==, 0);
    }
  g_assert_cmpint (g_atomic_int_get (&serving->served), ==, 2);
}

/* ------------------------------------------------------------------------ */
/* The client against openssl s_server                                        */

static void
test_client_against_s_server (void)
{
  g_autofree char *pem = cert_file ("server", ".pem");
  g_autofree char *key = cert_file ("server", ".key");
  g_autoptr(GTlsDatabase) database = trusting ("ca");
  g_autoptr(GiosSocket) client = gios_socket_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *port = NULL;
  gint64 until;
  gboolean connected = FALSE;

  for (int attempt = 0; attempt < 5 && process == NULL; attempt++)
    {
      g_autofree char *accept = NULL;

      g_free (port);
      port = g_strdup_printf ("%u", gios_test_free_port ());
      accept = g_strdup_printf ("127.0.0.1:%s", port);
      /* -rev: every line comes back reversed. */
      process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                  G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                                  "openssl", "s_server", "-accept", accept, "-cert", pem, "-key", key,
                                  "-rev", "-naccept", "1", NULL);
      g_assert_no_error (error);
      /* It is listening once a connection succeeds. */
      until = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
      while (!connected && g_get_monotonic_time () < until)
        {
          g_autoptr(GError) refused = NULL;

          gios_socket_common_set_tls_database (GIOS_SOCKET_COMMON (client), database);
          connected = gios_socket_open (client, "localhost", port, 1000, NULL, &refused);
          if (!connected)
            g_usleep (20000);
        }
      if (!connected)
        {
          g_subprocess_send_signal (process, SIGTERM);
          g_subprocess_wait (process, NULL, NULL);
          g_clear_object (&process);
        }
    }
  g_assert_true (connected);

  g_assert_true (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (client), 5000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gios_socket_common_get_is_tls (GIOS_SOCKET_COMMON (client)));
  write_line (client, "hello");
  assert_read_line (client, "olleh");
  write_line (client, "gio-socket over TLS");
  assert_read_line (client, "SLT revo tekcos-oig");
  g_assert_true (gios_device_stream_close (GIOS_DEVICE_STREAM (client), NULL));

  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait (process, NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* Errors that name what failed; the server serves on                         */

/* A client of @server that trusts @ca: its handshake's error. */
static GError *
handshake_error (GiosServerSocket *server,
                 const char       *ca)
{
  g_autoptr(GiosSocket) client = client_of (server, ca);
  GError *error = NULL;

  g_assert_false (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (client), 5000, NULL, &error));
  g_assert_nonnull (error);
  return error;
}

/* A client of @server that trusts @ca and gets its answer. */
static void
assert_served (GiosServerSocket *server,
               const char       *ca)
{
  g_autoptr(GiosSocket) client = client_of (server, ca);
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (client), 5000, NULL, &error));
  g_assert_no_error (error);
  assert_read_line (client, "HELLO");
  write_line (client, "again");
  assert_read_line (client, "ECHO again");
}

static void
test_bad_certificates (void)
{
  static const struct { const char *cert; const char *reason; } cases[] = {
    { "self", "it is not signed by a known certificate authority" },
    { "wronghost", "it is not valid for localhost" },
    { "expired", "it has expired" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GiosServerSocket) server = tls_server (cases[i].cert);
      g_autoptr(Serving) serving = serving_start (server, GIOS_TEST_MODEL_JOBS, 4);
      g_autoptr(GError) error = handshake_error (server, "ca");

      g_test_message ("%s: %s", cases[i].cert, error->message);
      g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
      g_assert_nonnull (strstr (error->message, "The certificate of localhost:"));
      g_assert_nonnull (strstr (error->message, cases[i].reason));
      /* The server dropped that one and serves on. */
      if (g_str_equal (cases[i].cert, "self"))
        assert_served (server, "self");
    }
}

static void
test_plaintext_client_on_tls_port (void)
{
  g_autoptr(GiosServerSocket) server = tls_server ("server");
  g_autoptr(Serving) serving = serving_start (server, GIOS_TEST_MODEL_JOBS, 4);
  guint messages = gios_test_get_messages ();
  int fd;

  fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  gios_test_raw_send (fd, "hello in plaintext\n");
  gios_test_raw_assert_dropped (fd);
  close (fd);
  /* Reported, as a message (one a minute at most). */
  g_assert_cmpuint (gios_test_get_messages (), >=, messages + 1);
  assert_served (server, "ca");
}

static void
test_tls_client_on_plaintext_port (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GiosSocket) client = client_of (server, "ca");
  g_autoptr(GiosSocket) accepted = gios_server_socket_accept (server, 5000, NULL, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (accepted);
  /* A plaintext protocol greets first. */
  write_line (accepted, "220 plaintext here");
  g_assert_false (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (client), 5000, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS);
  g_assert_nonnull (strstr (error->message, "plaintext port"));
  /* Refused before any byte of TLS was sent: the connection is as it was,
   * and the greeting is still there to read. */
  g_assert_false (gios_socket_common_get_is_tls (GIOS_SOCKET_COMMON (client)));
  assert_read_line (client, "220 plaintext here");
}

/* ------------------------------------------------------------------------ */
/* A connection in TLS, both ends in this process                             */

typedef struct
{
  GiosServerSocket *server;
  GiosSocket *accepted;     /* the server's side, in TLS */
  GiosSocket *client;       /* in TLS */
} Pair;

static gpointer
accept_thread (gpointer data)
{
  g_autoptr(GError) error = NULL;
  GiosSocket *accepted = gios_server_socket_accept (data, 5000, NULL, &error);

  g_assert_no_error (error);
  return accepted;
}

static Pair *
pair_new (void)
{
  Pair *pair = g_new0 (Pair, 1);
  g_autoptr(GError) error = NULL;
  GThread *thread;

  pair->server = tls_server ("server");
  thread = g_thread_new ("accept", accept_thread, pair->server);
  pair->client = client_of (pair->server, "ca");
  g_assert_true (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (pair->client), 5000, NULL, &error));
  g_assert_no_error (error);
  pair->accepted = g_thread_join (thread);
  g_assert_nonnull (pair->accepted);
  g_assert_true (gios_socket_common_get_is_tls (GIOS_SOCKET_COMMON (pair->accepted)));
  return pair;
}

static void
pair_free (Pair *pair)
{
  g_object_unref (pair->client);
  g_object_unref (pair->accepted);
  g_object_unref (pair->server);
  g_free (pair);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pair, pair_free)

static void
test_read_line_times_out (void)
{
  g_autoptr(Pair) pair = pair_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gint64 start = g_get_monotonic_time ();

  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (pair->client), 0, NULL, 300, NULL, &error);
  g_assert_null (line);
  gios_test_assert_timed_out (&error, start, 300);

  /* The connection is whole: the next line arrives. */
  write_line (pair->accepted, "late");
  assert_read_line (pair->client, "late");
  /* And the other way, with a write that waits for a peer that reads. */
  write_line (pair->client, "back");
  assert_read_line (pair->accepted, "back");
}

static gboolean
read_line_forever (gpointer   data,
                   GError   **error)
{
  g_autofree char *line = gios_device_stream_read_line (data, 0, NULL, GIOS_TIMEOUT_FOREVER, NULL, error);

  return line != NULL;
}

static void
test_close_from_another_thread (void)
{
  g_autoptr(Pair) pair = pair_new ();
  g_autoptr(GiosTestBlocked) blocked = gios_test_blocked_start (read_line_forever, pair->client);
  gint64 woken_at = g_get_monotonic_time ();

  gios_device_stream_close (GIOS_DEVICE_STREAM (pair->client), NULL);
  gios_test_blocked_join_error (blocked, woken_at, G_IO_ERROR, G_IO_ERROR_CLOSED);
  /* The peer sees the end. */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (pair->accepted), 0, NULL,
                                                          5000, NULL, &error);

    g_assert_no_error (error);
    g_assert_null (line);
  }
}

static void
test_cancel_over_tls (void)
{
  g_autoptr(Pair) pair = pair_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  g_cancellable_cancel (cancellable);
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (pair->client), 0, NULL, 5000, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static gboolean
read_line_cancellable (gpointer   data,
                       GError   **error)
{
  GCancellable *cancellable = g_object_get_data (data, "cancellable");
  g_autofree char *line = gios_device_stream_read_line (data, 0, NULL, GIOS_TIMEOUT_FOREVER, cancellable,
                                                        error);

  return line != NULL;
}

static void
test_cancel_from_another_thread (void)
{
  g_autoptr(Pair) pair = pair_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GiosTestBlocked) blocked = NULL;

  g_object_set_data (G_OBJECT (pair->client), "cancellable", cancellable);
  blocked = gios_test_blocked_start (read_line_cancellable, pair->client);
  gios_test_blocked_cancel (blocked, cancellable);
  /* Nothing was lost: the connection goes on. */
  write_line (pair->accepted, "after the cancel");
  assert_read_line (pair->client, "after the cancel");
}

/* A peer that does not read: a flush over TLS gives up at its timeout,
 * saying how much is left, and the bytes stay buffered. */
static void
test_flush_times_out (void)
{
  g_autoptr(Pair) pair = pair_new ();
  GiosDeviceStream *writer = GIOS_DEVICE_STREAM (pair->client);
  g_autofree guint8 *block = g_malloc0 (1024 * 1024);
  g_autoptr(GError) error = NULL;
  gint64 start;

  /* Small socket buffers, so that the flush soon waits: encrypting the
   * megabytes that loopback's buffers take takes longer than the timeout
   * under valgrind. */
  for (int i = 0; i < 2; i++)
    {
      GSocket *socket = gios_socket_common_get_socket (GIOS_SOCKET_COMMON (i == 0 ? pair->client : pair->accepted));

      g_assert_true (g_socket_set_option (socket, SOL_SOCKET, i == 0 ? SO_SNDBUF : SO_RCVBUF, 64 * 1024, &error));
    }
  gios_device_stream_set_output_buffer_size (writer, 4 * 1024 * 1024);
  for (int i = 0; i < 4; i++)
    g_assert_true (gios_device_stream_write (writer, block, 1024 * 1024, NULL, &error));
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  g_assert_false (gios_device_stream_flush (writer, 300, NULL, &error));
  g_assert_nonnull (strstr (error->message, "bytes buffered"));
  gios_test_assert_timed_out (&error, start, 300);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (writer), >, 0);
}

/* Bulk both ways through buffers smaller than a TLS record, so that
 * records are read in parts: every byte arrives, in order. */
static gpointer
send_bulk (gpointer data)
{
  GiosDeviceStream *stream = data;
  g_autofree guint8 *block = g_malloc (100000);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < 100000; i++)
    block[i] = (guint8) (i * 7 + i / 251);
  for (int n = 0; n < 10; n++)
    g_assert_true (gios_device_stream_write (stream, block, 100000, NULL, &error));
  g_assert_true (gios_device_stream_flush (stream, 10000, NULL, &error));
  g_assert_no_error (error);
  return NULL;
}

static void
test_records_read_in_parts (void)
{
  g_autoptr(Pair) pair = pair_new ();
  GiosDeviceStream *reader = GIOS_DEVICE_STREAM (pair->client);
  g_autofree guint8 *block = g_malloc (100000);
  GThread *thread;

  gios_device_stream_set_input_buffer_size (reader, 1000);
  thread = g_thread_new ("send", send_bulk, pair->accepted);
  for (int n = 0; n < 10; n++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (gios_device_stream_read_exact (reader, block, 100000, 10000, NULL, &error));
      g_assert_no_error (error);
      for (gsize i = 0; i < 100000; i++)
        if (block[i] != (guint8) (i * 7 + i / 251))
          g_error ("byte %zu of block %d differs", i, n);
    }
  g_thread_join (thread);
}

/* Writes "line 0" to "line @count - 1", one record each. */
static void
write_line_records (gpointer stream,
                    guint    count)
{
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *line = g_strdup_printf ("line %u", i);

      /* A flush each: a record each. */
      write_line (stream, line);
    }
}

/* Many small records at once, which the session reads ahead in one
 * receive: each read_line() through a small buffer takes its line from
 * what the session holds, never waiting on the descriptor, which shows
 * nothing any more. */
static void
test_blocking_reads_every_record (void)
{
  g_autoptr(Pair) pair = pair_new ();
  GiosDeviceStream *reader = GIOS_DEVICE_STREAM (pair->accepted);
  gint64 start;

  gios_device_stream_set_input_buffer_size (reader, 64);
  write_line_records (pair->client, 300);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 300; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *expected = g_strdup_printf ("line %u", i);
      g_autofree char *line = gios_device_stream_read_line (reader, 0, NULL, 3000, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, expected);
    }
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 3000);
}

/* ------------------------------------------------------------------------ */
/* A device stream over GIO's own GTlsConnection                              */

/* A GTlsClientConnection made with GIO alone over @base, for localhost:
 * @port, trusting the tests' CA, not yet handshaken. */
static GIOStream *
gio_tls_client_over (GIOStream *base,
                     guint      port)
{
  g_autoptr(GSocketConnectable) identity = g_network_address_new ("localhost", port);
  g_autoptr(GTlsDatabase) database = trusting ("ca");
  g_autoptr(GError) error = NULL;
  GIOStream *tls = g_tls_client_connection_new (base, identity, &error);

  g_assert_no_error (error);
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), database);
  return tls;
}

/* A GTlsClientConnection made with GIO alone, to @server, handshaken. */
static GIOStream *
gio_tls_client (GiosServerSocket *server)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, gios_test_server_port (server));
  g_autoptr(GError) error = NULL;
  GIOStream *tls;

  /* Not GSocketClient: it asks the proxy resolver, libproxy, which throws
   * C++ exceptions that clang's ASan runtime cannot intercept here. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_connect (socket, address, NULL, &error));
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  tls = gio_tls_client_over (G_IO_STREAM (connection), gios_test_server_port (server));
  g_assert_true (g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error));
  g_assert_no_error (error);
  return tls;
}

/* The finding: over a GTlsConnection a read_line with a timeout
 * returned only when the peer spoke (4.18 s for 2,000 ms); the streams are
 * no descriptors, but they are pollable. */
static void
test_device_stream_over_gtlsconnection (void)
{
  g_autoptr(GiosServerSocket) server = tls_server ("server");
  g_autoptr(Serving) serving = serving_start (server, GIOS_TEST_MODEL_JOBS, 4);
  g_autoptr(GIOStream) tls = gio_tls_client (server);
  g_autoptr(GiosDeviceStream) stream = gios_device_stream_new (tls);
  g_autoptr(GIOStream) tls2 = NULL;
  g_autoptr(GiosDeviceStream) stream2 = NULL;
  g_autoptr(GiosTestBlocked) blocked = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gint64 start, woken_at;

  assert_read_line (stream, "HELLO");
  /* The server waits for our line: nothing comes. */
  start = g_get_monotonic_time ();
  line = gios_device_stream_read_line (stream, 0, NULL, 300, NULL, &error);
  g_assert_null (line);
  gios_test_assert_timed_out (&error, start, 300);
  write_line (stream, "through GIO");
  assert_read_line (stream, "ECHO through GIO");

  /* On a second connection (the server ended the first), a read without a
   * limit, woken by a close from another thread. */
  tls2 = gio_tls_client (server);
  stream2 = gios_device_stream_new (tls2);
  assert_read_line (stream2, "HELLO");
  blocked = gios_test_blocked_start (read_line_forever, stream2);
  woken_at = g_get_monotonic_time ();
  gios_device_stream_close (stream2, NULL);
  gios_test_blocked_join_error (blocked, woken_at, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

/* ------------------------------------------------------------------------ */
/* The main loop over TLS                                                     */

typedef struct
{
  guint lines;
  guint expected;
  gboolean done;
  GError *error;
} Count;

static void
on_counted_line (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  Count *count = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (source);
  g_autofree char *line = gios_device_stream_read_line_finish (stream, result, NULL, &count->error);
  g_autofree char *expected = g_strdup_printf ("line %u", count->lines);

  if (line == NULL)
    {
      count->done = TRUE;
      return;
    }
  g_assert_cmpstr (line, ==, expected);
  if (++count->lines == count->expected)
    {
      count->done = TRUE;
      return;
    }
  gios_device_stream_read_line_async (stream, 0, 5000, G_PRIORITY_DEFAULT, NULL, on_counted_line, count);
}

typedef struct
{
  guint lines;
  guint expected;
  gboolean failed;
} Watched;

/* A user watch that reads what is there, a line at a time, without
 * waiting. */
static gboolean
on_watch_readable (GiosDeviceStream *stream,
                   GIOCondition      condition,
                   gpointer          data)
{
  Watched *watched = data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = gios_device_stream_read_line (stream, 0, NULL, 0, NULL, &error);
      g_autofree char *expected = NULL;

      if (line == NULL)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            watched->failed = TRUE;
          return !watched->failed;
        }
      expected = g_strdup_printf ("line %u", watched->lines);
      g_assert_cmpstr (line, ==, expected);
      if (++watched->lines == watched->expected)
        return G_SOURCE_REMOVE;
    }
}

/* Takes one line per call: the watch is called again while the session
 * holds input that the descriptor does not show. */
static gboolean
on_line_watch (GiosDeviceStream *stream,
               GIOCondition      condition,
               gpointer          data)
{
  Count *count = data;
  g_autofree char *expected = g_strdup_printf ("line %u", count->lines);
  g_autofree char *line = gios_device_stream_read_line (stream, 0, NULL, 0, NULL, &count->error);

  if (line == NULL && g_error_matches (count->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_clear_error (&count->error);
      return G_SOURCE_CONTINUE;
    }
  if (line == NULL)
    {
      count->done = TRUE;
      return G_SOURCE_REMOVE;
    }
  g_assert_cmpstr (line, ==, expected);
  count->done = ++count->lines == count->expected;
  return count->done ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* How the main loop reads in test_loop_reads_every_record(). */
typedef enum
{
  READ_BY_ASYNC,   /* read_line_async(), again from its callback */
  READ_BY_WATCH,   /* a watch that reads one line per call */
} ReadBy;

/* Many small records at once, read one line per call on the main loop
 * (as @data, a ReadBy, says) through a small buffer: none waits for input
 * that is already inside the TLS session. */
static void
test_loop_reads_every_record (gconstpointer data)
{
  g_autoptr(Pair) pair = pair_new ();
  GiosDeviceStream *reader = GIOS_DEVICE_STREAM (pair->accepted);
  Count count = { 0, 300, FALSE, NULL };

  gios_device_stream_set_input_buffer_size (reader, 64);
  write_line_records (pair->client, count.expected);
  if (GPOINTER_TO_INT (data) == READ_BY_ASYNC)
    gios_device_stream_read_line_async (reader, 0, 5000, G_PRIORITY_DEFAULT, NULL, on_counted_line, &count);
  else
    gios_device_stream_add_watch (reader, G_IO_IN, on_line_watch, &count, NULL);
  GIOS_TEST_RUN_UNTIL (count.done);
  g_assert_no_error (count.error);
  g_assert_cmpuint (count.lines, ==, count.expected);
}

/* A watch that reads all there is per call, through a buffer smaller than
 * the records (one write of 16 KiB records): the part of a record left
 * inside the TLS session is reported too. */
static void
test_watch_reads_big_records (void)
{
  g_autoptr(Pair) pair = pair_new ();
  GiosDeviceStream *reader = GIOS_DEVICE_STREAM (pair->accepted);
  g_autoptr(GString) burst = g_string_new (NULL);
  Watched watched = { 0, 2000, FALSE };

  gios_device_stream_set_input_buffer_size (reader, 100);
  for (guint i = 0; i < watched.expected; i++)
    g_string_append_printf (burst, "line %u\n", i);
  /* One write: records of 16 KiB, each larger than the buffer. */
  g_assert_true (gios_device_stream_write (GIOS_DEVICE_STREAM (pair->client), (const guint8 *) burst->str,
                                           burst->len, NULL, NULL));
  g_assert_true (gios_device_stream_flush (GIOS_DEVICE_STREAM (pair->client), 5000, NULL, NULL));
  gios_device_stream_add_watch (reader, G_IO_IN, on_watch_readable, &watched, NULL);
  GIOS_TEST_RUN_UNTIL (watched.lines == watched.expected || watched.failed);
  g_assert_false (watched.failed);
  g_assert_cmpuint (watched.lines, ==, watched.expected);
}

static void
on_started_tls (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GError **error = data;

  if (!gios_socket_common_start_tls_finish (GIOS_SOCKET_COMMON (source), result, error))
    g_assert_nonnull (*error);
  else
    *error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NONE, "done");
}

/* ------------------------------------------------------------------------ */
/* STARTTLS                                                                   */

/* The server's side of a STARTTLS exchange on @connection: the answer goes
 * out in plaintext, ahead of the handshake. */
static void
starttls_serve (GiosSocketCommon *connection)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (connection);
  g_autoptr(GError) error = NULL;

  g_assert_false (gios_socket_common_get_is_tls (connection));
  assert_read_line (stream, "STARTTLS");
  g_assert_true (gios_device_stream_write_line (stream, "OK go ahead", NULL, &error));
  g_assert_true (gios_socket_common_start_tls (connection, 5000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gios_socket_common_get_is_tls (connection));
  assert_read_line (stream, "secret");
  write_line (stream, "SECRET");
}

/* A connection the server accepted upgrades. */
static gpointer
starttls_server (gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) accepted = gios_server_socket_accept (data, 5000, NULL, &error);

  g_assert_no_error (error);
  starttls_serve (GIOS_SOCKET_COMMON (accepted));
  return NULL;
}

/* The classic model: the server's own current connection upgrades. */
static gpointer
starttls_classic_server (gpointer data)
{
  GiosSocketCommon *server = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_server_socket_listen (data, 5000, NULL, &error));
  g_assert_no_error (error);
  starttls_serve (server);
  /* The next connection starts in plaintext again. */
  g_assert_true (gios_socket_common_drop_connection (server, &error));
  g_assert_no_error (error);
  g_assert_false (gios_socket_common_get_is_tls (server));
  return NULL;
}

/* A STARTTLS server whose one connection @serve takes on its own thread,
 * and a client of it, in plaintext. */
static GiosSocket *
starttls_client (GThreadFunc        serve,
                 GiosServerSocket **server,
                 GThread          **thread)
{
  *server = tls_server ("server");
  gios_server_socket_set_starttls (*server, TRUE);
  *thread = g_thread_new ("starttls", serve, *server);
  return client_of (*server, "ca");
}

/* The client's side, against the server thread @data. */
static void
test_starttls (gconstpointer data)
{
  g_autoptr(GiosServerSocket) server = NULL;
  g_autoptr(GError) error = NULL;
  GThread *thread;
  g_autoptr(GiosSocket) client = starttls_client ((GThreadFunc) data, &server, &thread);

  write_line (client, "STARTTLS");
  assert_read_line (client, "OK go ahead");
  g_assert_true (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (client), 5000, NULL, &error));
  g_assert_no_error (error);
  write_line (client, "secret");
  assert_read_line (client, "SECRET");
  g_thread_join (thread);
}

static gpointer
injected_server (gpointer data)
{
  GiosServerSocket *server = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) accepted = gios_server_socket_accept (server, 5000, NULL, &error);
  GiosSocketCommon *connection = GIOS_SOCKET_COMMON (accepted);

  g_assert_no_error (error);
  /* Wait for both lines to be in the kernel, so that one read takes both. */
  gios_test_wait_kernel_input (gios_test_socket_fd (accepted), 19);
  assert_read_line (accepted, "STARTTLS");
  g_assert_false (gios_socket_common_start_tls (connection, 5000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (error->message, "10 bytes arrived before the TLS handshake"));
  g_assert_false (gios_socket_common_get_is_tls (connection));
  /* Nothing was consumed: the injected line is still there, as plaintext. */
  assert_read_line (accepted, "INJECTED!");
  return NULL;
}

static void
test_starttls_refuses_injected_plaintext (void)
{
  g_autoptr(GiosServerSocket) server = NULL;
  GThread *thread;
  g_autoptr(GiosSocket) client = starttls_client (injected_server, &server, &thread);

  /* A man in the middle appends a line to the client's STARTTLS. */
  write_line (client, "STARTTLS\nINJECTED!");
  g_thread_join (thread);
}

/* What start_tls() refuses, each with its error, the connection left as
 * it was. */
static void
test_start_tls_refusals (void)
{
  g_autoptr(GiosSocket) unconnected = gios_socket_new ();
  g_autoptr(GiosServerSocket) plain = gios_test_open_loopback_server ();
  g_autoptr(GiosSocket) client = NULL;
  g_autoptr(GiosSocket) accepted = NULL;
  g_autoptr(Pair) pair = pair_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (unconnected), 1000, NULL, &error));
  g_test_message ("no connection: %s", error->message);
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED);
  g_clear_error (&error);

  /* The server role needs a certificate. */
  client = client_of (plain, "ca");
  accepted = gios_server_socket_accept (plain, 5000, NULL, NULL);
  g_assert_nonnull (accepted);
  g_assert_false (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (accepted), 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "tls-certificate"));
  g_clear_error (&error);
  write_line (accepted, "still plaintext");
  assert_read_line (client, "still plaintext");

  /* Twice. */
  g_assert_false (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (pair->client), 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  write_line (pair->client, "still TLS");
  assert_read_line (pair->accepted, "still TLS");
}

/* A STARTTLS server, a client of it (returned) and the connection the
 * server accepted, all in plaintext: until the server side starts TLS, the
 * client's hello goes unanswered. */
static GiosSocket *
starttls_pair (GiosServerSocket **server,
               GiosSocket       **accepted)
{
  GiosSocket *client;

  *server = tls_server ("server");
  gios_server_socket_set_starttls (*server, TRUE);
  client = client_of (*server, "ca");
  *accepted = gios_server_socket_accept (*server, 5000, NULL, NULL);
  g_assert_nonnull (*accepted);
  return client;
}

/* Waits for the upgrades of both ends (start_tls_async() with
 * on_started_tls), and asserts that both succeeded. */
static void
wait_upgrades (GError **server_done,
               GError **client_done)
{
  GIOS_TEST_RUN_UNTIL (*server_done != NULL && *client_done != NULL);
  g_assert_error (*server_done, G_IO_ERROR, G_IO_ERROR_NONE);
  g_assert_error (*client_done, G_IO_ERROR, G_IO_ERROR_NONE);
}

static void
test_start_tls_async (void)
{
  g_autoptr(GiosServerSocket) server = NULL;
  g_autoptr(GiosSocket) accepted = NULL;
  g_autoptr(GiosSocket) client = starttls_pair (&server, &accepted);
  g_autoptr(GError) server_done = NULL;
  g_autoptr(GError) client_done = NULL;

  /* Both ends on this thread's loop. */
  gios_socket_common_start_tls_async (GIOS_SOCKET_COMMON (accepted), 5000, NULL, on_started_tls, &server_done);
  gios_socket_common_start_tls_async (GIOS_SOCKET_COMMON (client), 5000, NULL, on_started_tls, &client_done);
  wait_upgrades (&server_done, &client_done);
  g_assert_true (gios_socket_common_get_is_tls (GIOS_SOCKET_COMMON (client)));
  write_line (client, "over tls");
  assert_read_line (accepted, "over tls");
}


static void
test_start_tls_times_out (void)
{
  g_autoptr(GiosServerSocket) server = NULL;
  g_autoptr(GiosSocket) accepted = NULL;
  g_autoptr(GiosSocket) client = starttls_pair (&server, &accepted);
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_false (gios_socket_common_start_tls (GIOS_SOCKET_COMMON (client), 300, NULL, &error));
  g_assert_nonnull (strstr (error->message, "did not finish within 300 ms"));
  gios_test_assert_timed_out (&error, start, 300);
  /* The connection is unusable now, and says so. */
  g_assert_false (gios_device_stream_write_line (GIOS_DEVICE_STREAM (client), "x", NULL, &error) &&
                  gios_device_stream_flush (GIOS_DEVICE_STREAM (client), 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

static gboolean
start_tls_forever (gpointer   data,
                   GError   **error)
{
  return gios_socket_common_start_tls (data, GIOS_TIMEOUT_FOREVER, NULL, error);
}

static void
test_close_during_the_handshake (void)
{
  g_autoptr(GiosServerSocket) server = NULL;
  g_autoptr(GiosSocket) accepted = NULL;
  g_autoptr(GiosSocket) client = starttls_pair (&server, &accepted);
  g_autoptr(GiosTestBlocked) blocked = gios_test_blocked_start (start_tls_forever, client);
  gint64 woken_at;

  /* Well into the handshake: the hello is out, waiting for the answer. */
  g_usleep (100 * 1000);
  woken_at = g_get_monotonic_time ();
  gios_device_stream_close (GIOS_DEVICE_STREAM (client), NULL);
  gios_test_blocked_join_error (blocked, woken_at, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

static void
on_line_pending (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  GError **error = data;
  g_autofree char *line = gios_device_stream_read_line_finish (GIOS_DEVICE_STREAM (source), result,
                                                               NULL, error);

  if (line != NULL)
    *error = g_error_new (G_IO_ERROR, G_IO_ERROR_NONE, "%s", line);
}

/* An async read pending would take the handshake's bytes: refused, the
 * read and the connection go on. A reply buffered before an async upgrade
 * goes out first, in plaintext. */
static void
test_start_tls_async_after_calls (void)
{
  g_autoptr(GiosServerSocket) server = NULL;
  g_autoptr(GiosSocket) accepted = NULL;
  g_autoptr(GiosSocket) client = starttls_pair (&server, &accepted);
  g_autoptr(GError) refused = NULL;
  g_autoptr(GError) read_done = NULL;
  g_autoptr(GError) server_done = NULL;
  g_autoptr(GError) client_done = NULL;

  gios_device_stream_read_line_async (GIOS_DEVICE_STREAM (accepted), 0, 5000, G_PRIORITY_DEFAULT, NULL,
                                      on_line_pending, &read_done);
  gios_socket_common_start_tls_async (GIOS_SOCKET_COMMON (accepted), 5000, NULL, on_started_tls, &refused);
  GIOS_TEST_RUN_UNTIL (refused != NULL);
  g_assert_error (refused, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_false (gios_socket_common_get_is_tls (GIOS_SOCKET_COMMON (accepted)));
  write_line (client, "STARTTLS");
  GIOS_TEST_RUN_UNTIL (read_done != NULL);
  g_assert_error (read_done, G_IO_ERROR, G_IO_ERROR_NONE);
  g_assert_cmpstr (read_done->message, ==, "STARTTLS");

  /* The go-ahead is buffered: the upgrade sends it first, in plaintext,
   * and the client reads it before it sends its hello. */
  g_assert_true (gios_device_stream_write_line (GIOS_DEVICE_STREAM (accepted), "OK", NULL, NULL));
  gios_socket_common_start_tls_async (GIOS_SOCKET_COMMON (accepted), 5000, NULL, on_started_tls, &server_done);
  assert_read_line (client, "OK");
  gios_socket_common_start_tls_async (GIOS_SOCKET_COMMON (client), 5000, NULL, on_started_tls, &client_done);
  wait_upgrades (&server_done, &client_done);
  write_line (accepted, "over tls");
  assert_read_line (client, "over tls");
}

static void
test_start_tls_async_times_out (void)
{
  g_autoptr(GiosServerSocket) server = tls_server ("server");
  g_autoptr(GiosSocket) client = client_of (server, "ca");
  g_autoptr(GiosSocket) accepted = NULL;
  g_autoptr(GError) done = NULL;
  gint64 start;

  gios_server_socket_set_starttls (server, TRUE);
  accepted = gios_server_socket_accept (server, 5000, NULL, NULL);
  g_assert_nonnull (accepted);
  /* The server never answers the client's hello. */
  start = g_get_monotonic_time ();
  gios_socket_common_start_tls_async (GIOS_SOCKET_COMMON (client), 300, NULL, on_started_tls, &done);
  GIOS_TEST_RUN_UNTIL (done != NULL);
  g_assert_nonnull (strstr (done->message, "did not finish within 300 ms"));
  gios_test_assert_timed_out (&done, start, 300);
}

/* ------------------------------------------------------------------------ */
/* The handshake-timeout                                                      */

/* A client that connects and sends nothing, or the first bytes of a
 * ClientHello only, is dropped after handshake-timeout, and its job slot
 * (the only one) serves the next client. The timeout leaves a real
 * handshake time enough under valgrind. */
#define HANDSHAKE_TIMEOUT_MS 1500

static void
test_handshake_timeout (gconstpointer data)
{
  GiosTestModel model = GPOINTER_TO_INT (data);
  static const struct { const char *bytes; gsize len; } stalls[] = {
    { "", 0 },                       /* silent */
    { "\x16\x03\x01\x00\xf0", 5 },   /* a record header, then nothing */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (stalls); i++)
    {
      g_autoptr(GiosServerSocket) server = tls_server ("server");
      g_autoptr(Serving) serving = NULL;
      int fd;
      gint64 start;

      gios_server_socket_set_handshake_timeout (server, HANDSHAKE_TIMEOUT_MS);
      serving = serving_start (server, model, 1);
      fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
      if (stalls[i].len > 0)
        g_assert_cmpint (send (fd, stalls[i].bytes, stalls[i].len, 0), ==, stalls[i].len);
      start = g_get_monotonic_time ();
      /* Served: at once on the main loop; in the threaded models, in the
       * one slot, once the stalled client is gone. */
      assert_served (server, "ca");
      if (model != GIOS_TEST_MODEL_START)
        g_assert_cmpint (gios_test_elapsed_ms (start), >=, HANDSHAKE_TIMEOUT_MS - 100);
      gios_test_raw_assert_dropped (fd);
      gios_test_assert_elapsed (start, HANDSHAKE_TIMEOUT_MS - 100, HANDSHAKE_TIMEOUT_MS + 3000);
      close (fd);
    }
}

/* A client that goes while its handshake runs on the main loop (GIO's
 * thread reads and writes the socket meanwhile): the stage fails with what
 * the handshake found, once the handshake has let go of the socket; the
 * hang-up the loop sees meanwhile is not taken for a new first byte. */
static void
test_handover_peer_gone_during_handshake (void)
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GTlsCertificate) certificate = load_certificate ("server");
  g_autoptr(GiosSocket) connection = gios_socket_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  int fds[2];

  gios_socket_common_set_tls_certificate (GIOS_SOCKET_COMMON (server), certificate);
  gios_socket_common_set_tls_certificate (GIOS_SOCKET_COMMON (connection), certificate);
  gios_test_socketpair (fds);
  _gios_socket_common_set_connection_fd (GIOS_SOCKET_COMMON (connection), fds[0], TRUE, NULL);
  _gios_device_stream_set_open (GIOS_DEVICE_STREAM (connection), TRUE);
  /* A record header: the handshake starts at once. */
  g_assert_cmpint (send (fds[1], "\x16\x03\x01\x00\xf0", 5, 0), ==, 5);
  gios_handover_run_async (server, GIOS_SOCKET_COMMON (connection), NULL,
                           gios_test_on_async_done, &result);
  close (fds[1]);
  g_assert_false (gios_handover_run_finish (gios_test_wait_result (&result), &error));
  /* A record cut short: GnuTLS's word, not the loop's. */
  g_assert_nonnull (error);
  g_assert_cmpuint (error->domain, ==, G_TLS_ERROR);
  g_assert_nonnull (strstr (error->message, "The TLS handshake with"));
}

/* ------------------------------------------------------------------------ */
/* Faults during the hand-over's handshake                                    */

static GBytes *the_client_hello;

static gpointer
handshake_until_refused (gpointer data)
{
  /* Fails once the test has its hello and hangs up. */
  g_tls_connection_handshake (data, NULL, NULL);
  return NULL;
}

/* One TLS record from @fd, whole: its 5-byte header, then as many bytes
 * as the header gives. */
static GBytes *
read_record (int fd)
{
  guint8 head[5];
  guint8 *record;
  gsize len;

  gios_test_peer_read_exact (fd, head, sizeof head);
  len = sizeof head + (head[3] << 8 | head[4]);
  record = g_malloc (len);
  memcpy (record, head, sizeof head);
  gios_test_peer_read_exact (fd, record + sizeof head, len - sizeof head);
  return g_bytes_new_take (record, len);
}

/* A real ClientHello: the first record of GIO's own TLS client to
 * localhost, taken over a socketpair once. */
static GBytes *
client_hello (void)
{
  g_autoptr(GIOStream) base = NULL;
  g_autoptr(GIOStream) tls = NULL;
  GThread *thread;
  int fds[2];

  if (the_client_hello != NULL)
    return the_client_hello;
  gios_test_socketpair (fds);
  base = gios_test_socket_stream_new (fds[0]);
  tls = gio_tls_client_over (base, 443);
  thread = g_thread_new ("hello", handshake_until_refused, tls);
  the_client_hello = read_record (fds[1]);
  /* A handshake record. */
  g_assert_cmpuint (*(const guint8 *) g_bytes_get_data (the_client_hello, NULL), ==, 0x16);
  close (fds[1]);
  g_thread_join (thread);
  return the_client_hello;
}

/* A raw client of @server that has sent a real ClientHello, and will send
 * nothing more. */
static int
client_saying_hello (GiosServerSocket *server)
{
  GBytes *hello = client_hello ();
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  gios_test_peer_write_all (fd, g_bytes_get_data (hello, NULL), g_bytes_get_size (hello));
  return fd;
}

/* Waits until the server has answered the hello of each of @fds (5 s at
 * most): their handshakes are under way, waiting for what never comes. */
static void
wait_answered (const int *fds,
               guint      n)
{
  for (guint i = 0; i < n; i++)
    {
      struct pollfd pfd = { fds[i], POLLIN, 0 };

      g_assert_cmpint (poll (&pfd, 1, 5000), ==, 1);
    }
}

/* Closes @server, which returns at once, with its jobs, and asserts that
 * each of @fds (closed then) sees its connection end soon after. */
static void
close_under_load (GiosServerSocket *server,
                  const int        *fds,
                  guint             n)
{
  gint64 ending = g_get_monotonic_time ();

  gios_server_socket_close (server, NULL);
  g_assert_cmpint (gios_test_elapsed_ms (ending), <, 1000);
  g_assert_true (gios_server_socket_wait_jobs (server, 5000, NULL));
  for (guint i = 0; i < n; i++)
    {
      gios_test_raw_assert_ends (fds[i]);
      close (fds[i]);
    }
  g_assert_cmpint (gios_test_elapsed_ms (ending), <, 2000);
}

/* A client that resets its connection in the middle of its handshake,
 * once the server has answered its ClientHello: that connection is dropped
 * and reported (one message), and the next client is served. */
static void
test_reset_mid_handshake (gconstpointer data)
{
  g_autoptr(GiosServerSocket) server = tls_server ("server");
  g_autoptr(Serving) serving = serving_start (server, GPOINTER_TO_INT (data), 4);
  guint messages = gios_test_get_messages ();
  guint warnings = gios_test_get_warnings ();
  int fd = client_saying_hello (server);

  wait_answered (&fd, 1);
  gios_test_raw_reset (fd);
  assert_served (server, "ca");
  g_assert_true (gios_test_wait_messages (messages + 1, 5000));
  g_assert_cmpuint (gios_test_get_messages (), ==, messages + 1);
  g_assert_cmpuint (gios_test_get_warnings (), ==, warnings);
}

/* Between GIO's client (on a socketpair) and the server: the client's
 * first record, its ClientHello, goes a byte every @hello_delay_us; then
 * everything as it comes, both ways, until one side ends (20 s at most). */
typedef struct
{
  int app;                /* the client's socketpair end */
  int net;                /* connected to the server */
  gulong hello_delay_us;
  GThread *thread;
} Relay;

static gpointer
relay_thread (gpointer data)
{
  Relay *relay = data;
  struct pollfd pfds[2] = { { relay->app, POLLIN, 0 }, { relay->net, POLLIN, 0 } };
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  g_autoptr(GBytes) hello = read_record (relay->app);

  gios_test_sender_join (gios_test_sender_start (relay->net, g_bytes_get_data (hello, NULL),
                                                 g_bytes_get_size (hello), 1, relay->hello_delay_us));
  while (g_get_monotonic_time () < deadline)
    {
      if (poll (pfds, G_N_ELEMENTS (pfds), 100) <= 0)
        continue;
      for (guint i = 0; i < G_N_ELEMENTS (pfds); i++)
        {
          guint8 buf[16384];
          gssize n;

          if (pfds[i].revents == 0)
            continue;
          n = recv (pfds[i].fd, buf, sizeof buf, 0);
          if (n <= 0 || send (pfds[1 - i].fd, buf, n, MSG_NOSIGNAL) != n)
            goto done;
        }
    }
done:
  shutdown (relay->app, SHUT_RDWR);
  close (relay->net);
  return NULL;
}

/* The handshake-timeout of test_slow_client_hello(): ample for its
 * hello's 0.8 s, under valgrind too. */
#define SLOW_HELLO_TIMEOUT_MS 5000

/* A ClientHello (GIO's client's, some 500 bytes) that arrives a byte every
 * 1.5 ms: the handshake goes on, and the client is served within one
 * handshake-timeout. */
static void
test_slow_client_hello (gconstpointer data)
{
  g_autoptr(GiosServerSocket) server = tls_server ("server");
  g_autoptr(Serving) serving = NULL;
  g_autoptr(GIOStream) base = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GiosDeviceStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  Relay relay = { 0 };
  gint64 start;
  int fds[2];

  gios_server_socket_set_handshake_timeout (server, SLOW_HELLO_TIMEOUT_MS);
  serving = serving_start (server, GPOINTER_TO_INT (data), 4);
  gios_test_socketpair (fds);
  relay.app = fds[1];
  relay.net = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  relay.hello_delay_us = 1500;
  start = g_get_monotonic_time ();
  relay.thread = g_thread_new ("relay", relay_thread, &relay);
  base = gios_test_socket_stream_new (fds[0]);
  tls = gio_tls_client_over (base, gios_test_server_port (server));
  g_assert_true (g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error));
  g_assert_no_error (error);
  g_test_message ("handshake with a slow hello: %" G_GINT64_FORMAT " ms", gios_test_elapsed_ms (start));
  g_assert_cmpint (gios_test_elapsed_ms (start), <, SLOW_HELLO_TIMEOUT_MS);
  stream = gios_device_stream_new (tls);
  assert_read_line (stream, "HELLO");
  write_line (stream, "slowly");
  assert_read_line (stream, "ECHO slowly");
  /* The client hangs up: the relay ends. */
  g_clear_object (&stream);
  g_clear_object (&tls);
  g_clear_object (&base);
  g_thread_join (relay.thread);
  close (relay.app);
}

static gboolean
count_accepted (GiosServerSocket *server,
                GiosSocket       *connection,
                guint            *accepted)
{
  (*accepted)++;
  return FALSE;
}

/* A stalled client, watched from the default main context. */
typedef struct
{
  int fd;
  gboolean answered;     /* the server's answer to its hello arrived */
  gboolean ended;        /* then its connection ended (the watch is gone) */
} Stalled;

static gboolean
on_stalled_input (int           fd,
                  GIOCondition  condition,
                  gpointer      data)
{
  Stalled *stalled = data;

  stalled->answered = TRUE;
  stalled->ended = gios_test_raw_has_ended (fd);
  return !stalled->ended;
}

static guint
count_stalled (const Stalled *stalled,
               guint          n,
               gsize          field)
{
  guint count = 0;

  for (guint i = 0; i < n; i++)
    count += G_STRUCT_MEMBER (gboolean, &stalled[i], field);
  return count;
}

/* How the server is ended in test_close_under_load(). */
typedef enum
{
  END_BY_CLOSE,        /* close(): the hand-overs end with it */
  END_BY_STOP,         /* stop() and the last reference: they go on to
                        * their handshake-timeout */
} EndBy;

/* Several main-loop hand-overs in their handshake (clients that sent a
 * ClientHello, were answered, and stall): the server's close() or stop()
 * returns at once, nothing is emitted, every stalled client sees its
 * connection end (at once after close(), at the handshake-timeout after
 * stop()), and the server is finalized once they have. */
#define N_STALLED 4

static void
test_close_under_load (gconstpointer data)
{
  EndBy end_by = GPOINTER_TO_INT (data);
  int timeout_ms = end_by == END_BY_CLOSE ? 20000 : 1000;
  GiosServerSocket *server = tls_server ("server");
  guint warnings = gios_test_get_warnings ();
  guint accepted = 0;
  Stalled stalled[N_STALLED];
  gint64 start;
  gint64 ending;

  gios_server_socket_set_handshake_timeout (server, timeout_ms);
  g_signal_connect (server, "accepted", G_CALLBACK (count_accepted), &accepted);
  g_assert_true (gios_server_socket_start (server, NULL));
  for (guint i = 0; i < N_STALLED; i++)
    {
      stalled[i] = (Stalled) { client_saying_hello (server), FALSE, FALSE };
      g_unix_fd_add (stalled[i].fd, G_IO_IN, on_stalled_input, &stalled[i]);
    }
  /* The loop accepts them from now on. */
  start = g_get_monotonic_time ();
  GIOS_TEST_RUN_UNTIL (count_stalled (stalled, N_STALLED, G_STRUCT_OFFSET (Stalled, answered)) == N_STALLED);
  g_assert_cmpuint (count_stalled (stalled, N_STALLED, G_STRUCT_OFFSET (Stalled, ended)), ==, 0);

  ending = g_get_monotonic_time ();
  g_object_add_weak_pointer (G_OBJECT (server), (gpointer *) &server);
  if (end_by == END_BY_CLOSE)
    gios_server_socket_close (server, NULL);
  else
    gios_server_socket_stop (server);
  g_assert_cmpint (gios_test_elapsed_ms (ending), <, 1000);
  g_object_unref (server);
  GIOS_TEST_RUN_UNTIL (count_stalled (stalled, N_STALLED, G_STRUCT_OFFSET (Stalled, ended)) == N_STALLED);
  if (end_by == END_BY_CLOSE)
    g_assert_cmpint (gios_test_elapsed_ms (ending), <, 2000);
  else
    gios_test_assert_timed (start, timeout_ms);
  GIOS_TEST_RUN_UNTIL (server == NULL);
  g_assert_cmpuint (accepted, ==, 0);
  g_assert_cmpuint (gios_test_get_warnings (), ==, warnings);
  for (guint i = 0; i < N_STALLED; i++)
    close (stalled[i].fd);
}

static void
never_served (GiosSocket   *connection,
              GCancellable *cancellable,
              gpointer      data)
{
  g_assert_not_reached ();
}

/* The same, close() from this thread, in the jobs model (@data) while
 * four jobs are in the blocking handshake of their stalled clients, or
 * with a start() loop on a thread of its own while its hand-overs are in
 * their handshake: close() returns at once, the jobs end with it, and
 * every client sees its connection end. */
static void
test_close_under_load_from_another_thread (gconstpointer data)
{
  GiosTestModel model = GPOINTER_TO_INT (data);
  g_autoptr(GiosServerSocket) server = tls_server ("server");
  g_autoptr(Serving) serving = NULL;
  g_autoptr(GError) error = NULL;
  guint warnings = gios_test_get_warnings ();
  int stalled[N_STALLED];

  gios_server_socket_set_handshake_timeout (server, 20000);
  if (model == GIOS_TEST_MODEL_START)
    serving = serving_start (server, model, 0);
  for (guint i = 0; i < N_STALLED; i++)
    stalled[i] = client_saying_hello (server);
  if (model == GIOS_TEST_MODEL_JOBS)
    g_assert_cmpint (gios_server_socket_listen_job (server, 300, N_STALLED, never_served, NULL, NULL, NULL,
                                                    &error), ==, N_STALLED);
  g_assert_no_error (error);
  wait_answered (stalled, N_STALLED);
  close_under_load (server, stalled, N_STALLED);
  if (serving != NULL)
    g_assert_cmpint (g_atomic_int_get (&serving->served), ==, 0);
  g_assert_cmpuint (gios_test_get_warnings (), ==, warnings);
}

static gpointer
gio_client_reads_hello (gpointer data)
{
  g_autoptr(GIOStream) tls = gio_tls_client (data);
  g_autoptr(GiosDeviceStream) stream = gios_device_stream_new (tls);

  assert_read_line (stream, "HELLO");
  return NULL;
}

/* EINTR: a signal every millisecond at the thread whose accept() makes the
 * TLS handshake: it goes on. */
static void
test_eintr_handshake (void)
{
  g_autoptr(GiosServerSocket) server = tls_server ("server");
  g_autoptr(GiosSocket) accepted = NULL;
  g_autoptr(GError) error = NULL;
  guint warnings = gios_test_get_warnings ();
  GiosTestInterrupter *in = gios_test_interrupter_start (1000);
  GThread *client = g_thread_new ("client", gio_client_reads_hello, server);

  accepted = gios_server_socket_accept (server, 5000, NULL, &error);
  g_assert_no_error (error);
  write_line (accepted, "HELLO");
  g_thread_join (client);
  g_assert_cmpuint (gios_test_interrupter_stop (in), >, 0);
  g_assert_cmpuint (gios_test_get_warnings (), ==, warnings);
}

/* ------------------------------------------------------------------------ */

static void
remove_certs (void)
{
  g_autoptr(GDir) dir = g_dir_open (certs, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (certs, name, NULL);

      g_unlink (path);
    }
  g_rmdir (certs);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = NULL;
  const char *make_argv[4];
  int status = 0;
  int ret;

  g_test_init (&argc, &argv, NULL);
  signal (SIGPIPE, SIG_IGN);
  gios_test_count_log ();

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_test_skip ("GIO has no TLS backend here (tools/install-deps installs glib-networking)");
      return g_test_run ();
    }
  certs = g_dir_make_tmp ("gios-tls-XXXXXX", &error);
  g_assert_no_error (error);
  script = g_test_build_filename (G_TEST_DIST, "make-test-certs.sh", NULL);
  make_argv[0] = "/bin/sh";
  make_argv[1] = script;
  make_argv[2] = certs;
  make_argv[3] = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) make_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);

  for (GiosTestModel m = GIOS_TEST_MODEL_LISTEN; m <= GIOS_TEST_MODEL_START; m++)
    {
      g_autofree char *s_client_path = g_strdup_printf ("/tls/s_client/%s", gios_test_model_names[m]);
      g_autofree char *timeout_path = g_strdup_printf ("/tls/handshake-timeout/%s", gios_test_model_names[m]);

      g_test_add_data_func (s_client_path, GINT_TO_POINTER (m), test_s_client);
      g_test_add_data_func (timeout_path, GINT_TO_POINTER (m), test_handshake_timeout);
    }
  for (GiosTestModel m = GIOS_TEST_MODEL_LISTEN; m <= GIOS_TEST_MODEL_START; m++)
    {
      g_autofree char *reset_path = g_strdup_printf ("/tls/faults/reset-mid-handshake/%s", gios_test_model_names[m]);
      g_autofree char *slow_path = g_strdup_printf ("/tls/faults/slow-client-hello/%s", gios_test_model_names[m]);

      g_test_add_data_func (reset_path, GINT_TO_POINTER (m), test_reset_mid_handshake);
      /* The two drivers: blocking on the accepting thread, and the loop. */
      if (m == GIOS_TEST_MODEL_ACCEPT || m == GIOS_TEST_MODEL_START)
        g_test_add_data_func (slow_path, GINT_TO_POINTER (m), test_slow_client_hello);
    }
  g_test_add_data_func ("/tls/faults/close-under-load/start", GINT_TO_POINTER (END_BY_CLOSE), test_close_under_load);
  g_test_add_data_func ("/tls/faults/stop-under-load/start", GINT_TO_POINTER (END_BY_STOP), test_close_under_load);
  g_test_add_data_func ("/tls/faults/close-under-load/jobs", GINT_TO_POINTER (GIOS_TEST_MODEL_JOBS),
                        test_close_under_load_from_another_thread);
  g_test_add_data_func ("/tls/faults/close-under-load/start-on-its-thread", GINT_TO_POINTER (GIOS_TEST_MODEL_START),
                        test_close_under_load_from_another_thread);
  g_test_add_func ("/tls/faults/eintr", test_eintr_handshake);
  g_test_add_func ("/tls/client/s_server", test_client_against_s_server);
  g_test_add_func ("/tls/errors/bad-certificates", test_bad_certificates);
  g_test_add_func ("/tls/errors/plaintext-client", test_plaintext_client_on_tls_port);
  g_test_add_func ("/tls/errors/plaintext-server", test_tls_client_on_plaintext_port);
  g_test_add_func ("/tls/errors/peer-gone-during-handshake", test_handover_peer_gone_during_handshake);
  g_test_add_func ("/tls/stream/read-line-times-out", test_read_line_times_out);
  g_test_add_func ("/tls/stream/close-from-another-thread", test_close_from_another_thread);
  g_test_add_func ("/tls/stream/cancel", test_cancel_over_tls);
  g_test_add_func ("/tls/stream/cancel-from-another-thread", test_cancel_from_another_thread);
  g_test_add_func ("/tls/stream/flush-times-out", test_flush_times_out);
  g_test_add_func ("/tls/stream/records-read-in-parts", test_records_read_in_parts);
  g_test_add_func ("/tls/stream/over-gtlsconnection", test_device_stream_over_gtlsconnection);
  g_test_add_func ("/tls/stream/every-record", test_blocking_reads_every_record);
  g_test_add_data_func ("/tls/async/every-record", GINT_TO_POINTER (READ_BY_ASYNC), test_loop_reads_every_record);
  g_test_add_data_func ("/tls/watch/every-record", GINT_TO_POINTER (READ_BY_WATCH), test_loop_reads_every_record);
  g_test_add_func ("/tls/watch/big-records", test_watch_reads_big_records);
  g_test_add_data_func ("/tls/starttls/upgrade", starttls_server, test_starttls);
  g_test_add_data_func ("/tls/starttls/classic", starttls_classic_server, test_starttls);
  g_test_add_func ("/tls/starttls/injected-plaintext", test_starttls_refuses_injected_plaintext);
  g_test_add_func ("/tls/starttls/refusals", test_start_tls_refusals);
  g_test_add_func ("/tls/starttls/async", test_start_tls_async);
  g_test_add_func ("/tls/starttls/async-times-out", test_start_tls_async_times_out);
  g_test_add_func ("/tls/starttls/async-after-calls", test_start_tls_async_after_calls);
  g_test_add_func ("/tls/starttls/times-out", test_start_tls_times_out);
  g_test_add_func ("/tls/starttls/close-during-the-handshake", test_close_during_the_handshake);

  ret = g_test_run ();
  g_clear_pointer (&the_client_hello, g_bytes_unref);
  remove_certs ();
  return ret;
}
