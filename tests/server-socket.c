/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gios/gios.h>

#include <errno.h>
#include <stdlib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "gios-test-utils.h"

/* ------------------------------------------------------------------------ */
/* Opening                                                                    */

static void
test_open_port_zero (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  GSocketAddress *local;
  guint port;

  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));
  gios_server_socket_set_loopback_only (server, TRUE);
  g_assert_true (gios_server_socket_open (server, NULL, 1000, &error));
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));

  port = gios_test_server_port (server);
  g_assert_cmpuint (port, >, 0);
  local = gios_socket_common_get_local_address (GIOS_SOCKET_COMMON (server));
  g_assert_true (G_IS_INET_SOCKET_ADDRESS (local));
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)), ==, port);
  g_assert_true (g_inet_address_get_is_loopback (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local))));
  g_assert_false (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));
}

/* open() listens on IPv4 and IPv6, on the same port. */
static void
test_open_both_families (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  int fd;

  gios_server_socket_set_loopback_only (server, TRUE);
  g_assert_true (gios_server_socket_open (server, "0", 1000, &error));
  g_assert_no_error (error);

  fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  g_assert_no_error (error);
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
  close (fd);

  if (!gios_test_have_ipv6_loopback ())
    {
      g_test_message ("no IPv6 loopback here; IPv4 checked only");
      return;
    }
  fd = gios_test_raw_connect (AF_INET6, gios_test_server_port (server));
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  g_assert_no_error (error);
  close (fd);
}

static void
test_open_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GiosServerSocket) other = gios_server_socket_new ();
  g_autofree char *port = gios_test_server_port_string (server);
  gint64 start;

  /* Opening twice. */
  g_assert_false (gios_server_socket_open_address (server, "127.0.0.1", "0", 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  /* A port in use, without waiting. */
  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_open_address (other, "127.0.0.1", port, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, port));
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 500);
  g_clear_error (&error);

  /* A port in use, waiting 300 ms. */
  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_open_address (other, "127.0.0.1", port, 300, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  gios_test_assert_elapsed (start, 285, 450);
  g_clear_error (&error);

  /* A port that is no number from 0 to 65535 nor a service name: glibc
   * would listen on 65536 % 65536, a random port. */
  {
    const char *bad[] = { "no-such-service-gios", "65536", "70000", "99999", "-5", "+80",
                          "0x10", " 80", "80 ", "abc" };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_assert_false (gios_server_socket_open_address (other, "127.0.0.1", bad[i], 0, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull (strstr (error->message, bad[i]));
        g_clear_error (&error);
        g_assert_false (gios_server_socket_open (other, bad[i], 0, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        g_clear_error (&error);
      }
  }

  /* An address that is not this machine's. */
  g_assert_false (gios_server_socket_open_address (other, "192.0.2.1", "0", 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "192.0.2.1"));
  g_clear_error (&error);

  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (other)));
}

/* An open of what another server holds, which waits up to 10 s for it:
 * a port on 127.0.0.1 or a Unix socket path. For gios_test_blocked_race(). */
typedef struct
{
  GiosServerSocket *server;
  const char *where;
} BusyOpen;

static gboolean
open_busy_port (gpointer   data,
                GError   **error)
{
  BusyOpen *call = data;

  return gios_server_socket_open_address (call->server, "127.0.0.1", call->where, 10000, error);
}

static gboolean
open_busy_path (gpointer   data,
                GError   **error)
{
  BusyOpen *call = data;

  return gios_server_socket_open_unix (call->server, call->where, 0600, 10000, error);
}

/* Runs @open_busy (@call) in another thread while @first holds what it
 * opens, then closes @first: the open succeeds, within a second of that
 * and 5 s of its start. */
static void
assert_opens_once_closed (GiosServerSocket     *first,
                          GiosTestBlockingFunc  open_busy,
                          BusyOpen             *call)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GiosTestBlocked) b = gios_test_blocked_race (open_busy, call);
  gint64 closed_at;

  /* A load pattern, not synchronisation: the result holds either way. */
  g_usleep (100 * 1000);
  closed_at = g_get_monotonic_time ();
  g_assert_true (gios_server_socket_close (first, NULL));
  gios_test_blocked_join (b, closed_at);
  g_assert_no_error (b->error);
  g_assert_true (b->ok);
  g_assert_cmpint (b->returned_at - start, <, 5 * G_USEC_PER_SEC);
}

/* A busy port that becomes free while open() waits. */
static void
test_open_waits_for_busy_port (void)
{
  g_autoptr(GiosServerSocket) first = gios_test_open_loopback_server ();
  g_autoptr(GiosServerSocket) second = gios_server_socket_new ();
  g_autofree char *port = gios_test_server_port_string (first);
  BusyOpen call = { second, port };

  assert_opens_once_closed (first, open_busy_port, &call);
  g_assert_cmpuint (gios_test_server_port (second), ==, strtoul (port, NULL, 10));
}

static void
test_open_socket (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GSocket) listening = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                               G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_autoptr(GSocket) idle = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *line = NULL;
  guint port;
  int fd;

  g_assert_no_error (error);
  g_assert_false (gios_server_socket_open_socket (server, idle, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_true (g_socket_bind (listening, any, TRUE, &error));
  g_assert_true (g_socket_listen (listening, &error));
  bound = g_socket_get_local_address (listening, &error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  g_assert_true (gios_server_socket_open_socket (server, listening, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gios_test_server_port (server), ==, port);

  fd = gios_test_raw_connect (AF_INET, port);
  gios_test_raw_send (fd, "adopted\n");
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (server), 100, NULL, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "adopted");
  close (fd);
}

/* ------------------------------------------------------------------------ */
/* The classic model                                                          */

static void
test_classic_cycle (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  GiosTestDisconnects d = { 0 };

  g_signal_connect (server, "disconnected", G_CALLBACK (gios_test_on_disconnected), &d);

  for (int round = 0; round < 3; round++)
    {
      g_autofree char *greeting = g_strdup_printf ("hello %d\r\n", round);
      g_autofree char *expect = g_strdup_printf ("hello %d", round);
      g_autofree char *line = NULL;
      g_autofree char *reply = NULL;
      GSocketAddress *remote;
      gsize length = 0;
      int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

      gios_test_raw_send (fd, greeting);
      g_assert_true (gios_server_socket_listen (server, 2000, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));
      remote = gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (server));
      g_assert_true (G_IS_INET_SOCKET_ADDRESS (remote));
      g_assert_true (G_IS_SOCKET (gios_socket_common_get_socket (GIOS_SOCKET_COMMON (server))));

      /* listen() with a current connection returns at once. */
      g_assert_true (gios_server_socket_listen (server, 0, NULL, &error));

      line = gios_device_stream_read_line (stream, 100, &length, 2000, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, expect);
      g_assert_cmpuint (length, ==, strlen (expect));

      g_assert_true (gios_device_stream_write_line (stream, "bye", NULL, &error));
      /* drop_connection() sends what is buffered. */
      g_assert_true (gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), &error));
      g_assert_no_error (error);
      g_assert_cmpuint (d.count, ==, (guint) round + 1);
      g_assert_true (d.intentional);
      g_assert_null (d.reason);
      g_assert_false (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));
      g_assert_true (gios_device_stream_get_is_open (stream));

      reply = gios_test_raw_recv (fd, 16);
      g_assert_cmpstr (reply, ==, "bye\n");
      close (fd);

      /* No connection: reading is an error, not a crash. */
      g_assert_cmpint (gios_device_stream_read (stream, (guint8 *) "x", 0, 0, NULL, &error), ==, -1);
      g_assert_error (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED);
      g_clear_error (&error);
      g_assert_false (gios_device_stream_write_line (stream, "nobody", NULL, &error));
      g_assert_error (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED);
      g_clear_error (&error);
    }

  /* Dropping with no connection does nothing. */
  g_assert_true (gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), &error));
  g_assert_cmpuint (d.count, ==, 3);
  g_clear_error (&d.reason);
}

static void
test_listen_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  gint64 start = g_get_monotonic_time ();

  g_assert_false (gios_server_socket_listen (server, 200, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "200 ms"));
  gios_test_assert_elapsed (start, 190, 300);
  g_clear_error (&error);

  /* 0 does not wait. */
  start = g_get_monotonic_time ();
  g_assert_null (gios_server_socket_accept (server, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 50);
  g_clear_error (&error);

  /* GIOS_TIMEOUT_DEFAULT is the default-timeout property. */
  gios_device_stream_set_default_timeout (GIOS_DEVICE_STREAM (server), 100);
  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_listen (server, GIOS_TIMEOUT_DEFAULT, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  gios_test_assert_elapsed (start, 95, 150);
}

/* A listen() for gios_test_blocked_start(), which waits up to 20 s. */
typedef struct
{
  GiosServerSocket *server;
  GCancellable *cancellable;
} BlockedListen;

static gboolean
blocked_listen (gpointer   data,
                GError   **error)
{
  BlockedListen *l = data;

  return gios_server_socket_listen (l->server, 20000, l->cancellable, error);
}

static void
test_listen_cancel_from_thread (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  BlockedListen call = { server, cancellable };
  g_autoptr(GiosTestBlocked) b = gios_test_blocked_start (blocked_listen, &call);

  gios_test_blocked_cancel (b, cancellable);
  /* The server still listens. */
  g_assert_true (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));
}

static void
test_listen_close_from_thread (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  BlockedListen call = { server, NULL };
  g_autoptr(GiosTestBlocked) b = gios_test_blocked_start (blocked_listen, &call);
  gint64 closed_at = g_get_monotonic_time ();

  g_assert_true (gios_server_socket_close (server, &error));
  g_assert_no_error (error);
  gios_test_blocked_join_error (b, closed_at, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));

  /* Listening after close fails cleanly. */
  g_assert_false (gios_server_socket_listen (server, 0, NULL, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED);
  g_clear_error (&error);

  /* And the object can be opened again. */
  g_assert_true (gios_server_socket_open_address (server, "127.0.0.1", "0", 0, &error));
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));
}

static void
on_sigusr1 (int sig)
{
}

/* EINTR: a signal during a blocking wait neither ends it nor stretches its
 * timeout. */
static void
test_listen_eintr (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  struct sigaction sa = { 0 };
  struct sigaction old;
  struct itimerval timer = { { 0, 20 * 1000 }, { 0, 20 * 1000 } };
  struct itimerval off = { 0 };
  gint64 start;

  sa.sa_handler = on_sigusr1;   /* no SA_RESTART: poll() sees EINTR */
  sigaction (SIGALRM, &sa, &old);
  setitimer (ITIMER_REAL, &timer, NULL);

  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_listen (server, 300, NULL, &error));

  setitimer (ITIMER_REAL, &off, NULL);
  sigaction (SIGALRM, &old, NULL);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  gios_test_assert_elapsed (start, 285, 450);
}

/* ------------------------------------------------------------------------ */
/* Accepting                                                                  */

typedef struct { GiosSocket parent_instance; } TestProtocol;
typedef struct { GiosSocketClass parent_class; } TestProtocolClass;
static GType test_protocol_get_type (void);
G_DEFINE_TYPE (TestProtocol, test_protocol, GIOS_TYPE_SOCKET)
static void test_protocol_class_init (TestProtocolClass *klass) { }
static void test_protocol_init (TestProtocol *self) { }

static void
test_accept (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GiosSocket) conn = NULL;
  g_autoptr(GiosSocket) conn2 = NULL;
  g_autofree char *line = NULL;
  int fd, fd2;
  int value = 0;
  socklen_t len = sizeof value;

  gios_device_stream_set_default_timeout (GIOS_DEVICE_STREAM (server), 1500);
  gios_socket_common_set_keep_alive (GIOS_SOCKET_COMMON (server), TRUE);
  gios_device_stream_set_line_terminator (GIOS_DEVICE_STREAM (server), "\r\n");
  gios_server_socket_set_socket_type (server, test_protocol_get_type ());

  fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  gios_test_raw_send (fd, "one\r\n");
  conn = gios_server_socket_accept (server, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (G_TYPE_CHECK_INSTANCE_TYPE (conn, test_protocol_get_type ()));
  g_assert_true (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (conn)));
  g_assert_true (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (conn)));
  /* The server's own classic connection is not touched. */
  g_assert_false (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));

  /* Settings come from the server. */
  g_assert_cmpint (gios_device_stream_get_default_timeout (GIOS_DEVICE_STREAM (conn)), ==, 1500);
  g_assert_cmpstr (gios_device_stream_get_line_terminator (GIOS_DEVICE_STREAM (conn)), ==, "\r\n");
  g_assert_true (gios_socket_common_get_no_delay (GIOS_SOCKET_COMMON (conn)));
  g_assert_true (gios_socket_common_get_keep_alive (GIOS_SOCKET_COMMON (conn)));
  g_assert_cmpint (getsockopt (gios_test_socket_fd (conn),
                               IPPROTO_TCP, TCP_NODELAY, &value, &len), ==, 0);
  g_assert_cmpint (value, !=, 0);
  g_assert_cmpint (getsockopt (gios_test_socket_fd (conn),
                               SOL_SOCKET, SO_KEEPALIVE, &value, &len), ==, 0);
  g_assert_cmpint (value, !=, 0);

  /* Host and port are the peer's. */
  g_assert_cmpstr (gios_socket_common_get_host (GIOS_SOCKET_COMMON (conn)), ==, "127.0.0.1");
  g_assert_cmpuint (gios_socket_common_get_port (GIOS_SOCKET_COMMON (conn)), !=, gios_test_server_port (server));

  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (conn), 10, NULL, GIOS_TIMEOUT_DEFAULT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "one");

  /* Turning no-delay off reaches the live connection. */
  gios_socket_common_set_no_delay (GIOS_SOCKET_COMMON (conn), FALSE);
  g_assert_cmpint (getsockopt (gios_test_socket_fd (conn),
                               IPPROTO_TCP, TCP_NODELAY, &value, &len), ==, 0);
  g_assert_cmpint (value, ==, 0);

  /* A second connection is a second object. */
  conn2 = gios_test_accept_raw (server, &fd2);
  g_assert_true (conn2 != conn);
  close (fd);
  close (fd2);
}

/* ------------------------------------------------------------------------ */
/* Faults                                                                     */

static void
test_peer_reset (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  GiosTestDisconnects d = { 0 };
  g_autofree char *line = NULL;
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  g_signal_connect (server, "disconnected", G_CALLBACK (gios_test_on_disconnected), &d);
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  gios_test_raw_send (fd, "partial line");
  /* Wait until the bytes are buffered, so the reset comes after them. */
  g_assert_cmpint (gios_device_stream_poll (stream, G_IO_IN, 1000, NULL), ==, G_IO_IN);

  gios_test_raw_reset (fd);

  line = gios_device_stream_read_line (stream, 100, NULL, 2000, NULL, &error);
  g_assert_null (line);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_cmpuint (d.count, ==, 1);
  g_assert_false (d.intentional);
  g_assert_error (d.reason, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_false (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));
  g_clear_error (&error);

  /* What arrived before the reset is not lost... */
  {
    guint8 buf[64] = { 0 };

    g_assert_cmpint (gios_device_stream_read (stream, buf, sizeof buf, 100, NULL, &error), ==, 12);
    g_assert_no_error (error);
    g_assert_cmpmem (buf, 12, "partial line", 12);
  }
  /* ...and reading on reports the lost connection again, without a second
   * signal. */
  g_assert_cmpint (gios_device_stream_read (stream, (guint8[4]) { 0 }, 4, 100, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);

  /* drop_connection does not claim the drop was intentional. */
  g_assert_true (gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), &error));
  g_assert_cmpuint (d.count, ==, 1);

  /* And the server listens on. */
  fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  g_assert_no_error (error);
  close (fd);
  g_clear_error (&d.reason);
}

static void
test_half_close (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  GiosTestDisconnects d = { 0 };
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  g_signal_connect (server, "disconnected", G_CALLBACK (gios_test_on_disconnected), &d);
  gios_test_raw_send (fd, "first\nlast");
  shutdown (fd, SHUT_WR);
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));

  for (int i = 0; i < 2; i++)
    {
      g_autofree char *line = gios_device_stream_read_line (stream, 100, NULL, 1000, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, i == 0 ? "first" : "last");
    }
  g_assert_null (gios_device_stream_read_line (stream, 100, NULL, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_get_at_end (stream));
  g_assert_cmpuint (d.count, ==, 0);

  /* The server can still write. */
  g_assert_true (gios_device_stream_write_line (stream, "still here", NULL, &error));
  g_assert_true (gios_device_stream_flush (stream, 1000, NULL, &error));
  g_assert_no_error (error);
  gios_test_peer_assert_reads (fd, "still here\n");
  close (fd);
}

/* The peer closes in order (no reset): its last line arrives, then the end
 * of input, which is not a disconnection: disconnected comes once, with
 * intentional TRUE and no reason, when this side drops the connection. What
 * the porting guide and the signal's page say. */
static void
test_peer_close (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  GiosTestDisconnects d = { 0 };
  g_autofree char *line = NULL;
  guint8 byte;
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  g_signal_connect (server, "disconnected", G_CALLBACK (gios_test_on_disconnected), &d);
  gios_test_raw_send (fd, "bye\n");
  close (fd);
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  g_assert_no_error (error);

  line = gios_device_stream_read_line (stream, 100, NULL, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "bye");
  g_assert_null (gios_device_stream_read_line (stream, 100, NULL, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (gios_device_stream_read (stream, &byte, 1, 1000, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_get_at_end (stream));
  g_assert_cmpuint (d.count, ==, 0);
  /* The connection has not failed: this side may still write. */
  g_assert_true (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));

  g_assert_true (gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (d.count, ==, 1);
  g_assert_true (d.intentional);
  g_assert_null (d.reason);
  g_assert_false (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));
}

/* A write to a peer that is gone fails; it never raises SIGPIPE. */
static void
test_write_to_gone_peer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  GiosTestDisconnects d = { 0 };
  guint8 chunk[4096] = { 0 };
  gboolean failed = FALSE;
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  g_signal_connect (server, "disconnected", G_CALLBACK (gios_test_on_disconnected), &d);
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  close (fd);

  /* The first send may still succeed; the peer's reset fails a later one. */
  for (int i = 0; i < 1000 && !failed; i++)
    {
      if (!gios_device_stream_write (stream, chunk, sizeof chunk, NULL, &error) ||
          !gios_device_stream_flush (stream, 1000, NULL, &error))
        failed = TRUE;
    }
  g_assert_true (failed);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_true (error->code == G_IO_ERROR_BROKEN_PIPE || error->code == G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_cmpuint (d.count, ==, 1);
  g_assert_false (d.intentional);
  g_clear_error (&d.reason);
}

static void
test_close_resets_queued (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  /* fd is connected (in the kernel's queue) but never accepted. */
  g_assert_true (gios_server_socket_close (server, &error));
  g_assert_no_error (error);
  gios_test_raw_assert_dropped (fd);
  close (fd);
}

static void
emfile_checks (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GiosSocket) conn = NULL;
  g_autoptr(GArray) spares = NULL;
  int client;
  gint64 start;

  client = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  spares = gios_test_fill_descriptor_table ();

  /* Full table: accept backs off until its deadline, warning once
   * (GSocketService logs about 194,000 warnings a second here). */
  gios_test_count_log ();
  start = g_get_monotonic_time ();
  conn = gios_server_socket_accept (server, 400, NULL, &error);
  g_assert_cmpuint (gios_test_get_warnings (), ==, 1);
  g_assert_null (conn);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
  g_assert_cmpint (gios_test_elapsed_ms (start), >=, 380);
  g_clear_error (&error);

  /* Descriptors free up: the waiting client is served. */
  gios_test_free_descriptors (spares, 2);
  conn = gios_server_socket_accept (server, 2000, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (conn);
  g_assert_cmpuint (gios_test_get_warnings (), ==, 1);
  g_assert_cmpuint (gios_test_get_messages (), ==, 1);   /* "accepting again" */
  close (client);
}

static void
test_emfile (void)
{
  gios_test_run_in_subprocess (emfile_checks, NULL, 20);
}


/* ------------------------------------------------------------------------ */
/* A job per connection                                                       */

typedef struct
{
  gint active;
  gint peak;
  gint served;
  gint errors;
  gint notified;
  GError *last_error;
  GMutex lock;
  /* Read forever, every other job without a cancellable: then only close()
   * can end the read. */
  gboolean forever;
  gint started;
} JobStats;

/* Reads a line, holds it a moment so jobs overlap, answers in upper case. */
static void
upper_job (GiosSocket   *connection,
           GCancellable *cancellable,
           gpointer      data)
{
  JobStats *stats = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (connection);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gint now = g_atomic_int_add (&stats->active, 1) + 1;
  gint peak;

  while ((peak = g_atomic_int_get (&stats->peak)) < now &&
         !g_atomic_int_compare_and_exchange (&stats->peak, peak, now))
    ;
  if (stats->forever && g_atomic_int_add (&stats->started, 1) % 2 == 1)
    cancellable = NULL;
  line = gios_device_stream_read_line (stream, 100, NULL, stats->forever ? GIOS_TIMEOUT_FOREVER : 5000,
                                       cancellable, &error);
  if (line != NULL)
    {
      g_autofree char *upper = g_ascii_strup (line, -1);

      g_usleep (20 * 1000);   /* hold the slot: a load pattern */
      gios_device_stream_write_line (stream, upper, NULL, &error);
      g_atomic_int_inc (&stats->served);
    }
  else
    {
      g_atomic_int_inc (&stats->errors);
      g_mutex_lock (&stats->lock);
      g_clear_error (&stats->last_error);
      stats->last_error = g_steal_pointer (&error);
      g_mutex_unlock (&stats->lock);
    }
  g_atomic_int_add (&stats->active, -1);
}

static void
count_notify (gpointer data)
{
  JobStats *stats = data;

  g_atomic_int_inc (&stats->notified);
}

typedef struct
{
  GiosServerSocket *server;
  int timeout_ms;
  guint max_jobs;
  GiosJobFunc func;
  JobStats *stats;
  gint started;
  GError *error;
} ListenJob;

static gpointer
listen_job_thread (gpointer data)
{
  ListenJob *lj = data;

  lj->started = gios_server_socket_listen_job (lj->server, lj->timeout_ms, lj->max_jobs,
                                               lj->func, lj->stats,
                                               lj->stats ? count_notify : NULL,
                                               NULL, &lj->error);
  return NULL;
}

typedef struct
{
  guint port;
  char *reply;
} Client;

static gpointer
client_thread (gpointer data)
{
  Client *c = data;
  int fd = gios_test_raw_connect (AF_INET, c->port);

  gios_test_raw_send (fd, "job\n");
  c->reply = gios_test_raw_recv (fd, 4);
  close (fd);
  return NULL;
}

/* Three times more clients than the limit: never more jobs than the limit at
 * once, and every client served. */
static void
test_jobs_saturation (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  JobStats stats = { 0 };
  ListenJob lj = { server, 2500, 2, upper_job, &stats };
  Client clients[6];
  GThread *threads[6];
  GThread *listener;

  g_mutex_init (&stats.lock);
  listener = g_thread_new ("listen-job", listen_job_thread, &lj);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      clients[i] = (Client) { gios_test_server_port (server), NULL };
      threads[i] = g_thread_new ("client", client_thread, &clients[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpstr (clients[i].reply, ==, "JOB\n");
      g_free (clients[i].reply);
    }
  g_thread_join (listener);

  g_assert_no_error (lj.error);
  g_assert_cmpint (lj.started, ==, 6);
  g_assert_true (gios_server_socket_wait_jobs (server, 2000, NULL));
  g_assert_cmpint (stats.served, ==, 6);
  g_assert_cmpint (stats.peak, <=, 2);
  g_assert_cmpint (stats.peak, >=, 1);
  g_assert_cmpuint (gios_server_socket_get_n_jobs (server), ==, 0);
  /* The data is released once, after the last job. */
  g_assert_cmpint (stats.notified, ==, 1);
  g_mutex_clear (&stats.lock);
}

/* listen_job returns at its timeout while its jobs go on. */
static void
test_jobs_outlive_listen (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  JobStats stats = { 0 };
  gint64 start;
  gint started;
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  g_mutex_init (&stats.lock);
  start = g_get_monotonic_time ();
  started = gios_server_socket_listen_job (server, 200, 0, upper_job, &stats, count_notify, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (started, ==, 1);
  g_assert_cmpint (gios_test_elapsed_ms (start), >=, 190);
  g_assert_cmpuint (gios_server_socket_get_n_jobs (server), ==, 1);

  g_assert_false (gios_server_socket_wait_jobs (server, 50, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  gios_test_raw_send (fd, "late\n");
  gios_test_peer_assert_reads (fd, "LATE\n");
  g_assert_true (gios_server_socket_wait_jobs (server, 2000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stats.notified, ==, 1);
  close (fd);
  g_mutex_clear (&stats.lock);
}

/* A wait_jobs_full() for gios_test_blocked_start(). */
typedef struct
{
  GiosServerSocket *server;
  int timeout_ms;
  GCancellable *cancellable;
} BlockedWaitJobs;

static gboolean
blocked_wait_jobs (gpointer   data,
                   GError   **error)
{
  BlockedWaitJobs *w = data;

  return gios_server_socket_wait_jobs_full (w->server, w->timeout_ms, w->cancellable, error);
}

/* wait_jobs_full() ends at its timeout, at once with a cancelled
 * cancellable, and within a second of a cancel from another thread, even
 * when it waits without limit; the jobs go on and end as they would. */
static void
test_jobs_wait_cancel (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  JobStats stats = { 0 };
  BlockedWaitJobs call = { server, GIOS_TIMEOUT_FOREVER, cancellable };
  GiosTestBlocked *b;
  gint64 start;
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  g_mutex_init (&stats.lock);
  /* The client stays silent: the job blocks in read_line (5 s). */
  g_assert_cmpint (gios_server_socket_listen_job (server, 100, 0, upper_job, &stats,
                                                  count_notify, NULL, &error), ==, 1);
  g_assert_no_error (error);

  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_wait_jobs_full (server, 100, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  gios_test_assert_elapsed (start, 95, 500);
  g_clear_error (&error);

  g_cancellable_cancel (cancelled);
  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_wait_jobs_full (server, 5000, cancelled, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 100);
  g_clear_error (&error);

  b = gios_test_blocked_start (blocked_wait_jobs, &call);
  gios_test_blocked_cancel (b, cancellable);
  gios_test_blocked_free (b);

  /* Only the wait stopped: the job still runs and serves its client. */
  g_assert_cmpuint (gios_server_socket_get_n_jobs (server), ==, 1);
  gios_test_raw_send (fd, "late\n");
  gios_test_peer_assert_reads (fd, "LATE\n");
  g_cancellable_reset (cancellable);
  g_assert_true (gios_server_socket_wait_jobs_full (server, 2000, cancellable, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stats.served, ==, 1);
  g_assert_cmpint (stats.notified, ==, 1);
  close (fd);
  g_mutex_clear (&stats.lock);
}

/* close() with jobs blocked in reads: they return promptly, also from
 * reads that wait forever, with the job's cancellable or none. */
static void
test_jobs_close_under_load (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  GiosServerSocket *server = gios_test_open_loopback_server ();
  JobStats stats = { .forever = GPOINTER_TO_INT (data) };
  int fds[3];
  gint64 closed_at;

  g_mutex_init (&stats.lock);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    fds[i] = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  /* The clients stay silent: the jobs block in read_line (5 s). */
  g_assert_cmpint (gios_server_socket_listen_job (server, 300, 0, upper_job, &stats,
                                                  count_notify, NULL, &error), ==, 3);
  g_assert_no_error (error);
  g_assert_cmpuint (gios_server_socket_get_n_jobs (server), ==, 3);

  closed_at = g_get_monotonic_time ();
  g_assert_true (gios_server_socket_close (server, &error));
  g_assert_true (gios_server_socket_wait_jobs (server, 2000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (gios_test_elapsed_ms (closed_at), <, 1000);
  g_assert_cmpint (stats.errors, ==, 3);
  g_test_message ("last error: %s", stats.last_error ? stats.last_error->message : "(none)");
  g_assert_true (g_error_matches (stats.last_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
                 g_error_matches (stats.last_error, G_IO_ERROR, G_IO_ERROR_CLOSED));
  /* Freed from this thread after its jobs ended; ASan and valgrind check. */
  g_object_unref (server);
  g_assert_cmpint (stats.notified, ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
  g_clear_error (&stats.last_error);
  g_mutex_clear (&stats.lock);
}

/* With no job function, the run() method of socket-type serves. */
typedef struct { GiosSocket parent_instance; } EchoProtocol;
typedef struct { GiosSocketClass parent_class; } EchoProtocolClass;
static GType echo_protocol_get_type (void);
G_DEFINE_TYPE (EchoProtocol, echo_protocol, GIOS_TYPE_SOCKET)

static void
echo_protocol_run (GiosSocket   *self,
                   GCancellable *cancellable)
{
  g_autofree char *line = NULL;

  while ((line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (self), 100, NULL, 2000,
                                               cancellable, NULL)) != NULL)
    {
      g_autofree char *reply = g_strconcat ("echo: ", line, NULL);

      gios_device_stream_write_line (GIOS_DEVICE_STREAM (self), reply, NULL, NULL);
      gios_device_stream_flush (GIOS_DEVICE_STREAM (self), 2000, NULL, NULL);
      g_clear_pointer (&line, g_free);
    }
}

static void echo_protocol_class_init (EchoProtocolClass *klass) { GIOS_SOCKET_CLASS (klass)->run = echo_protocol_run; }
static void echo_protocol_init (EchoProtocol *self) { }

static void
test_jobs_run_method (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autofree char *reply = NULL;
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  gios_server_socket_set_socket_type (server, echo_protocol_get_type ());
  gios_test_raw_send (fd, "one\ntwo\n");
  shutdown (fd, SHUT_WR);
  g_assert_cmpint (gios_server_socket_listen_job (server, 100, 4, NULL, NULL, NULL, NULL, &error), ==, 1);
  g_assert_no_error (error);
  reply = gios_test_raw_recv (fd, 22);
  g_assert_cmpstr (reply, ==, "echo: one\necho: two\n");
  g_assert_true (gios_server_socket_wait_jobs (server, 2000, NULL));
  close (fd);
}

/* A peer reset inside a job: the job's read fails, its socket signals an
 * unintentional disconnection, and the server serves on. */
static void
record_reset (GiosSocket   *connection,
              GCancellable *cancellable,
              gpointer      data)
{
  JobStats *stats = data;
  GiosTestDisconnects d = { 0 };
  guint8 buf[16];

  g_signal_connect (connection, "disconnected", G_CALLBACK (gios_test_on_disconnected), &d);
  if (gios_device_stream_read (GIOS_DEVICE_STREAM (connection), buf, sizeof buf, 5000,
                               cancellable, &stats->last_error) < 0 &&
      d.count == 1 && !d.intentional)
    g_atomic_int_inc (&stats->errors);
  g_clear_error (&d.reason);
}

static void
test_jobs_peer_reset (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  JobStats stats = { 0 };
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  g_assert_cmpint (gios_server_socket_listen_job (server, 100, 0, record_reset, &stats,
                                                  NULL, NULL, &error), ==, 1);
  gios_test_raw_reset (fd);
  g_assert_true (gios_server_socket_wait_jobs (server, 2000, NULL));
  g_assert_cmpint (stats.errors, ==, 1);
  g_assert_error (stats.last_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&stats.last_error);
}

static void
test_jobs_cancel (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  g_cancellable_cancel (cancellable);
  g_assert_cmpint (gios_server_socket_listen_job (server, 1000, 0, upper_job, NULL, NULL,
                                                  cancellable, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ------------------------------------------------------------------------ */
/* Unix-domain sockets                                                        */

static void
test_unix_mode (void)
{
  g_autofree char *dir = gios_test_make_temp_dir ();
  guint modes[] = { 0600, 0666, 0660, 0700 };
  mode_t old_umask = umask (022);

  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
      g_autoptr(GiosSocket) client = gios_socket_new ();
      g_autofree char *path = g_build_filename (dir, "s.sock", NULL);
      g_autofree char *line = NULL;
      GSocketAddress *local;
      struct stat st;
      GDir *listing;

      g_assert_true (gios_server_socket_open_unix (server, path, modes[i], 0, &error));
      g_assert_no_error (error);
      g_assert_cmpint (lstat (path, &st), ==, 0);
      g_assert_true (S_ISSOCK (st.st_mode));
      g_assert_cmpint (st.st_mode & 07777, ==, modes[i]);
      g_assert_cmpstr (gios_server_socket_get_unix_path (server), ==, path);
      local = gios_socket_common_get_local_address (GIOS_SOCKET_COMMON (server));
      g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (local));
      g_assert_cmpstr (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (local)), ==, path);
      g_assert_cmpuint (gios_test_server_port (server), ==, 0);

      /* No private directory is left behind. */
      listing = g_dir_open (dir, 0, NULL);
      g_assert_cmpstr (g_dir_read_name (listing), ==, "s.sock");
      g_assert_null (g_dir_read_name (listing));
      g_dir_close (listing);

      g_assert_true (gios_socket_open_unix (client, path, 1000, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (gios_device_stream_write_line (GIOS_DEVICE_STREAM (client), "over unix", NULL, &error));
      g_assert_true (gios_device_stream_flush (GIOS_DEVICE_STREAM (client), 1000, NULL, &error));
      g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
      line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (server), 100, NULL, 1000, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, "over unix");

      /* close removes the socket file it made. */
      g_assert_true (gios_server_socket_close (server, &error));
      g_assert_cmpint (lstat (path, &st), ==, -1);
      g_assert_cmpint (errno, ==, ENOENT);
    }
  umask (old_umask);
  g_rmdir (dir);
}

static void
test_unix_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *file = g_build_filename (dir, "plain-file", NULL);
  g_autofree char *under_file = g_build_filename (file, "s.sock", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", "s.sock", NULL);
  g_autofree char *long_name = g_strnfill (120, 'x');
  g_autofree char *too_long = g_build_filename (dir, long_name, NULL);
  g_autofree char *contents = NULL;
  gint64 start;

  g_assert_true (g_file_set_contents (file, "keep me", -1, NULL));

  g_assert_false (gios_server_socket_open_unix (server, too_long, 0600, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG);
  g_clear_error (&error);

  g_assert_false (gios_server_socket_open_unix (server, under_file, 0600, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY);
  g_clear_error (&error);

  g_assert_false (gios_server_socket_open_unix (server, missing, 0600, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "missing"));
  g_clear_error (&error);

  /* An existing entry is never removed: in use, after the timeout. */
  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_open_unix (server, file, 0600, 200, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, "plain-file"));
  g_assert_cmpint (gios_test_elapsed_ms (start), >=, 190);
  g_clear_error (&error);
  g_assert_true (g_file_get_contents (file, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "keep me");
  g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));

  g_unlink (file);
  g_rmdir (dir);
}

/* An entry that goes away while open_unix waits is then taken. */
static void
test_unix_waits_for_path (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) first = gios_server_socket_new ();
  g_autoptr(GiosServerSocket) second = gios_server_socket_new ();
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "s.sock", NULL);
  BusyOpen call = { second, path };

  g_assert_true (gios_server_socket_open_unix (first, path, 0600, 0, &error));
  g_assert_no_error (error);

  assert_opens_once_closed (first, open_busy_path, &call);
  g_assert_true (gios_server_socket_close (second, NULL));
  g_rmdir (dir);
}

static void
permission_denied_checks (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "s.sock", NULL);

  /* root passes every permission check: become nobody. */
  if (geteuid () == 0)
    {
      g_assert_cmpint (chmod (dir, 0755), ==, 0);
      g_assert_cmpint (setgid (65534), ==, 0);
      g_assert_cmpint (setuid (65534), ==, 0);
    }
  else
    g_assert_cmpint (chmod (dir, 0500), ==, 0);

  g_assert_false (gios_server_socket_open_unix (server, path, 0600, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "s.sock"));
}

static void
test_unix_permission_denied (void)
{
  gios_test_run_in_subprocess (permission_denied_checks, NULL, 10);
}

/* listen() on one thread against drop_connection() on another, round after
 * round: every client is accepted and sees its connection dropped. Asking
 * whether there is a connection must not make a GSocket for a descriptor
 * that the other thread is closing, which wedged the server (listen()
 * returning TRUE for a connection that was gone). */
static void
test_listen_against_drop (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GiosTestListenDropRace *race = gios_test_listen_drop_race_start (server, 50);

  for (int round = 0; round < 150; round++)
    {
      int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

      g_assert_cmpint (fd, >=, 0);
      /* Dropped within 5 s, or the server is wedged. */
      gios_test_raw_assert_dropped (fd);
      close (fd);
    }
  gios_test_listen_drop_race_stop (race);
}

/* With the descriptor table full when listen_job() starts, the server has
 * no wake-up descriptor: a job that ends must still let the acceptor take
 * the next client (it looks again every 50 ms) instead of leaving it
 * waiting until the timeout. The table is freed by a thread once accepting
 * has reported running out. */
#define N_SPARES 12

static gpointer
free_when_full (gpointer data)
{
  GArray *spares = data;

  if (!gios_test_wait_warnings (1, 10 * 1000))
    g_error ("accepting never ran out of descriptors");
  gios_test_free_descriptors (spares, N_SPARES);
  return NULL;
}

static void
without_wakeup_descriptor_checks (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GArray) spares = NULL;
  JobStats stats = { 0 };
  GThread *freer;
  int clients[3];
  gint started;

  g_mutex_init (&stats.lock);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      clients[i] = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
      gios_test_raw_send (clients[i], "job\n");
    }
  spares = gios_test_fill_descriptor_table ();
  freer = g_thread_new ("freer", free_when_full, spares);
  gios_test_count_log ();

  started = gios_server_socket_listen_job (server, 1500, 1, upper_job, &stats, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (started, ==, 3);
  g_thread_join (freer);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autofree char *reply = gios_test_raw_recv (clients[i], 4);

      g_assert_cmpstr (reply, ==, "JOB\n");
      close (clients[i]);
    }
  g_assert_true (gios_server_socket_wait_jobs (server, 5000, NULL));
  g_assert_cmpint (stats.served, ==, 3);
  g_mutex_clear (&stats.lock);
}

static void
test_jobs_without_wakeup_descriptor (void)
{
  gios_test_run_in_subprocess (without_wakeup_descriptor_checks, NULL, 20);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server-socket/open/port-zero", test_open_port_zero);
  g_test_add_func ("/server-socket/open/both-families", test_open_both_families);
  g_test_add_func ("/server-socket/open/errors", test_open_errors);
  g_test_add_func ("/server-socket/open/waits-for-busy-port", test_open_waits_for_busy_port);
  g_test_add_func ("/server-socket/open/socket", test_open_socket);
  g_test_add_func ("/server-socket/classic/cycle", test_classic_cycle);
  g_test_add_func ("/server-socket/classic/listen-against-drop", test_listen_against_drop);
  g_test_add_func ("/server-socket/listen/timeout", test_listen_timeout);
  g_test_add_func ("/server-socket/listen/cancel-from-thread", test_listen_cancel_from_thread);
  g_test_add_func ("/server-socket/listen/close-from-thread", test_listen_close_from_thread);
  g_test_add_func ("/server-socket/listen/eintr", test_listen_eintr);
  g_test_add_func ("/server-socket/accept", test_accept);
  g_test_add_func ("/server-socket/fault/peer-reset", test_peer_reset);
  g_test_add_func ("/server-socket/fault/half-close", test_half_close);
  g_test_add_func ("/server-socket/fault/peer-close", test_peer_close);
  g_test_add_func ("/server-socket/fault/write-to-gone-peer", test_write_to_gone_peer);
  g_test_add_func ("/server-socket/fault/close-resets-queued", test_close_resets_queued);
  g_test_add_func ("/server-socket/fault/emfile", test_emfile);
  g_test_add_func ("/server-socket/jobs/saturation", test_jobs_saturation);
  g_test_add_func ("/server-socket/jobs/without-wakeup-descriptor", test_jobs_without_wakeup_descriptor);
  g_test_add_func ("/server-socket/jobs/outlive-listen", test_jobs_outlive_listen);
  g_test_add_data_func ("/server-socket/jobs/close-under-load", GINT_TO_POINTER (FALSE),
                        test_jobs_close_under_load);
  g_test_add_data_func ("/server-socket/jobs/close-reads-forever", GINT_TO_POINTER (TRUE),
                        test_jobs_close_under_load);
  g_test_add_func ("/server-socket/jobs/run-method", test_jobs_run_method);
  g_test_add_func ("/server-socket/jobs/peer-reset", test_jobs_peer_reset);
  g_test_add_func ("/server-socket/jobs/cancel", test_jobs_cancel);
  g_test_add_func ("/server-socket/jobs/wait-cancel", test_jobs_wait_cancel);
  g_test_add_func ("/server-socket/unix/mode", test_unix_mode);
  g_test_add_func ("/server-socket/unix/errors", test_unix_errors);
  g_test_add_func ("/server-socket/unix/waits-for-path", test_unix_waits_for_path);
  g_test_add_func ("/server-socket/unix/permission-denied", test_unix_permission_denied);

  return g_test_run ();
}
