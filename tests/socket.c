/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gios/gios.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "gios-test-utils.h"

/* A plain listening socket on 127.0.0.1, so that the client is tested
 * alone. Returns the descriptor and sets @port. */
static int
raw_listen (guint *port,
            int    backlog)
{
  struct sockaddr_in sin = { .sin_family = AF_INET };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (listen (fd, backlog), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  *port = ntohs (sin.sin_port);
  return fd;
}

static void
test_open_tcp (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) client = gios_socket_new ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (client);
  g_autofree char *port_s = NULL;
  g_autofree char *line = NULL;
  GSocketAddress *remote;
  GiosTestDisconnects d = { 0 };
  char buf[16] = { 0 };
  guint port;
  int lfd = raw_listen (&port, 4);
  int sfd;

  port_s = g_strdup_printf ("%u", port);
  g_signal_connect (client, "disconnected", G_CALLBACK (gios_test_on_disconnected), &d);

  g_assert_false (gios_device_stream_get_is_open (stream));
  g_assert_false (gios_device_stream_write_line (stream, "too early", NULL, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED);
  g_clear_error (&error);

  g_assert_true (gios_socket_open (client, "127.0.0.1", port_s, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_get_is_open (stream));
  g_assert_true (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (client)));
  g_assert_cmpstr (gios_socket_common_get_host (GIOS_SOCKET_COMMON (client)), ==, "127.0.0.1");
  g_assert_cmpuint (gios_socket_common_get_port (GIOS_SOCKET_COMMON (client)), ==, port);
  remote = gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (client));
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote)), ==, port);
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (gios_socket_common_get_local_address (GIOS_SOCKET_COMMON (client))));

  /* Connecting twice. */
  g_assert_false (gios_socket_open (client, "127.0.0.1", port_s, 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  sfd = accept (lfd, NULL, NULL);
  g_assert_true (gios_device_stream_write_line (stream, "ping", NULL, &error));
  g_assert_true (gios_device_stream_flush (stream, 1000, NULL, &error));
  g_assert_cmpint (recv (sfd, buf, sizeof buf, 0), ==, 5);
  g_assert_cmpstr (buf, ==, "ping\n");
  g_assert_cmpint (send (sfd, "pong\r\n", 6, 0), ==, 6);
  line = gios_device_stream_read_line (stream, 64, NULL, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "pong");

  g_assert_true (gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (client), &error));
  g_assert_cmpuint (d.count, ==, 1);
  g_assert_true (d.intentional);
  g_assert_false (gios_device_stream_get_is_open (stream));
  g_assert_cmpint (recv (sfd, buf, sizeof buf, 0), ==, 0);
  close (sfd);

  /* The same object connects again. */
  g_assert_true (gios_socket_open (client, "127.0.0.1", port_s, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_get_is_open (stream));
  g_assert_true (gios_device_stream_close (stream, &error));
  g_assert_cmpuint (d.count, ==, 2);
  g_assert_false (gios_device_stream_get_is_open (stream));
  g_clear_error (&d.reason);
  close (lfd);
}

/* "localhost" may resolve to ::1 first; a server on 127.0.0.1 only is still
 * reached, since every address is tried in turn. */
static void
test_open_tries_every_address (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) client = gios_socket_new ();
  g_autofree char *port_s = NULL;
  guint port;
  int lfd = raw_listen (&port, 4);

  port_s = g_strdup_printf ("%u", port);
  g_assert_true (gios_socket_open (client, "localhost", port_s, 2000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (gios_socket_common_get_host (GIOS_SOCKET_COMMON (client)), ==, "localhost");
  close (lfd);
}

static void
test_open_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) client = gios_socket_new ();
  g_autofree char *port_s = g_strdup_printf ("%u", gios_test_free_port ());
  g_autofree char *where = g_strdup_printf ("127.0.0.1:%s", port_s);

  g_assert_false (gios_socket_open (client, "127.0.0.1", port_s, 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_nonnull (strstr (error->message, where));
  g_clear_error (&error);

  g_assert_false (gios_socket_open (client, "no-such-host.invalid", "80", 1000, NULL, &error));
  g_assert_true (error->domain == G_RESOLVER_ERROR);
  g_assert_nonnull (strstr (error->message, "no-such-host.invalid"));
  g_clear_error (&error);

  /* glibc would connect to 70000 % 65536 = 4464. */
  {
    const char *bad[] = { "no-such-service-gios", "65536", "70000", "-5", "abc", "0x50" };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_assert_false (gios_socket_open (client, "127.0.0.1", bad[i], 1000, NULL, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull (strstr (error->message, bad[i]));
        g_clear_error (&error);
      }
  }

  /* A service name is resolved to its port: "http" means port 80. */
  if (!gios_socket_open (client, "127.0.0.1", "http", 1000, NULL, &error))
    {
      g_assert_nonnull (strstr (error->message, "127.0.0.1:80"));
      g_clear_error (&error);
    }
  else
    {
      g_assert_cmpuint (gios_socket_common_get_port (GIOS_SOCKET_COMMON (client)), ==, 80);
      gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (client), NULL);
    }

  /* Cancelled before it starts. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();

    g_cancellable_cancel (cancellable);
    g_assert_false (gios_socket_open (client, "127.0.0.1", port_s, 1000, cancellable, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
  }
  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (client)));
}

/* A server whose queue is full drops new SYNs, so connect() hangs: the
 * timeout must end it. */
static void
test_open_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) client = gios_socket_new ();
  g_autofree char *port_s = NULL;
  GArray *fillers = g_array_new (FALSE, FALSE, sizeof (int));
  gboolean hung = FALSE;
  guint port;
  int lfd = raw_listen (&port, 0);

  port_s = g_strdup_printf ("%u", port);
  /* Fill the queue with connections that complete at once. */
  for (int i = 0; i < 64 && !hung; i++)
    {
      struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
      int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      GPollFD pfd = { fd, G_IO_OUT, 0 };

      sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      if (connect (fd, (struct sockaddr *) &sin, sizeof sin) != 0 && errno == EINPROGRESS &&
          g_poll (&pfd, 1, 100) == 0)
        hung = TRUE;
      g_array_append_val (fillers, fd);
    }

  if (!hung)
    {
      g_test_skip ("this kernel completes every connection to a full queue");
    }
  else
    {
      gint64 start = g_get_monotonic_time ();

      g_assert_false (gios_socket_open (client, "127.0.0.1", port_s, 200, NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_assert_nonnull (strstr (error->message, "200 ms"));
      gios_test_assert_elapsed (start, 190, 300);
    }

  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, int, i));
  g_array_unref (fillers);
  close (lfd);
}

static void
test_open_unix (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) client = gios_socket_new ();
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "s.sock", NULL);
  g_autofree char *stale = g_build_filename (dir, "stale.sock", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.sock", NULL);
  g_autofree char *long_name = g_strnfill (120, 'y');
  g_autofree char *too_long = g_build_filename (dir, long_name, NULL);
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  g_autofree char *line = NULL;
  int fd;

  g_assert_false (gios_socket_open_unix (client, missing, 500, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "missing.sock"));
  g_clear_error (&error);

  g_assert_false (gios_socket_open_unix (client, too_long, 500, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG);
  g_clear_error (&error);

  /* A socket file nobody listens on. */
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  strcpy (sun.sun_path, stale);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  g_assert_false (gios_socket_open_unix (client, stale, 500, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_clear_error (&error);
  close (fd);
  g_unlink (stale);

  g_assert_true (gios_server_socket_open_unix (server, path, 0600, 0, &error));
  g_assert_true (gios_socket_open_unix (client, path, 500, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (client)));
  g_assert_cmpuint (gios_socket_common_get_port (GIOS_SOCKET_COMMON (client)), ==, 0);
  g_assert_true (gios_server_socket_listen (server, 500, NULL, &error));
  g_assert_true (gios_device_stream_write_line (GIOS_DEVICE_STREAM (server), "hello unix", NULL, &error));
  g_assert_true (gios_device_stream_flush (GIOS_DEVICE_STREAM (server), 500, NULL, &error));
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (client), 64, NULL, 500, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "hello unix");

  g_assert_true (gios_server_socket_close (server, NULL));
  g_rmdir (dir);
}

/* A read for gios_test_blocked_start(); @result is what it returned. */
typedef struct
{
  GiosSocket *client;
  int timeout;
  gssize result;
} BlockedRead;

static gboolean
blocked_read (gpointer   data,
              GError   **error)
{
  BlockedRead *r = data;
  guint8 buf[8];

  r->result = gios_device_stream_read (GIOS_DEVICE_STREAM (r->client), buf, sizeof buf,
                                       r->timeout, NULL, error);
  return r->result >= 0;
}

typedef enum
{
  DROP_WHILE_WAITING,     /* a read with a timeout */
  DROP_WHILE_BLOCKED,     /* a read that waits forever, in recv() itself */
  CLOSE_WHILE_BLOCKED,
} WakeCase;

/* drop_connection or close from another thread wakes a read blocked on the
 * connection, whether it waits with a timeout or forever. */
static void
test_drop_from_thread (gconstpointer data)
{
  WakeCase wake = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) client = gios_socket_new ();
  g_autofree char *port_s = NULL;
  BlockedRead call = { .client = client,
                       .timeout = wake == DROP_WHILE_WAITING ? 20000 : GIOS_TIMEOUT_FOREVER };
  g_autoptr(GiosTestBlocked) b = NULL;
  GiosTestDisconnects d = { 0 };
  gint64 dropped_at;
  guint port;
  int lfd = raw_listen (&port, 4);

  port_s = g_strdup_printf ("%u", port);
  g_signal_connect (client, "disconnected", G_CALLBACK (gios_test_on_disconnected), &d);
  g_assert_true (gios_socket_open (client, "127.0.0.1", port_s, 1000, NULL, &error));

  b = gios_test_blocked_start (blocked_read, &call);
  dropped_at = g_get_monotonic_time ();
  if (wake == CLOSE_WHILE_BLOCKED)
    g_assert_true (gios_device_stream_close (GIOS_DEVICE_STREAM (client), &error));
  else
    g_assert_true (gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (client), &error));
  gios_test_blocked_join (b, dropped_at);
  g_assert_cmpint (call.result, ==, -1);
  g_assert_true (g_error_matches (b->error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
                 g_error_matches (b->error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED));
  g_assert_cmpuint (d.count, ==, 1);
  g_assert_false (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (client)));
  g_clear_error (&d.reason);
  close (lfd);
}

static void
test_run_default (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GiosSocket) socket = gios_socket_new ();

      gios_socket_run (socket, NULL);
      return;
    }
  g_test_trap_subprocess (NULL, 5 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*GiosSocket does not implement GiosSocket.run()*");
}

static void
test_programmer_errors (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GiosSocket) socket = gios_socket_new ();

      /* A NULL host is a programmer error: a critical, not a crash. */
      g_log_set_always_fatal (G_LOG_LEVEL_ERROR);
      g_assert_false (gios_socket_open (socket, NULL, "80", 0, NULL, NULL));
      g_assert_false (gios_socket_open (NULL, "localhost", "80", 0, NULL, NULL));
      return;
    }
  g_test_trap_subprocess (NULL, 5 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*CRITICAL*host != NULL*CRITICAL*GIOS_IS_SOCKET*");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/socket/open/tcp", test_open_tcp);
  g_test_add_func ("/socket/open/tries-every-address", test_open_tries_every_address);
  g_test_add_func ("/socket/open/errors", test_open_errors);
  g_test_add_func ("/socket/open/timeout", test_open_timeout);
  g_test_add_func ("/socket/open/unix", test_open_unix);
  g_test_add_data_func ("/socket/drop-from-thread", GINT_TO_POINTER (DROP_WHILE_WAITING),
                        test_drop_from_thread);
  g_test_add_data_func ("/socket/drop-from-thread/forever", GINT_TO_POINTER (DROP_WHILE_BLOCKED),
                        test_drop_from_thread);
  g_test_add_data_func ("/socket/close-from-thread/forever", GINT_TO_POINTER (CLOSE_WHILE_BLOCKED),
                        test_drop_from_thread);
  g_test_add_func ("/socket/run/default", test_run_default);
  g_test_add_func ("/socket/programmer-errors", test_programmer_errors);

  return g_test_run ();
}
