/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-test-utils.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Timing                                                                     */

gint64
gios_test_elapsed_ms (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000;
}

void
gios_test_assert_elapsed (gint64 start,
                          gint64 min_ms,
                          gint64 max_ms)
{
  gint64 ms = gios_test_elapsed_ms (start);

  g_assert_cmpint (ms, >=, min_ms);
  g_assert_cmpint (ms, <, max_ms);
}

void
gios_test_assert_timed (gint64 start,
                        int    timeout_ms)
{
  gios_test_assert_elapsed (start, timeout_ms * 95 / 100, timeout_ms * 3 / 2 + 150);
}

void
gios_test_assert_timed_out (GError **error,
                            gint64   start,
                            int      timeout_ms)
{
  g_assert_error (*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  gios_test_assert_timed (start, timeout_ms);
  g_clear_error (error);
}

/* ------------------------------------------------------------------------ */
/* Main loops                                                                 */

static gboolean
watchdog_fired (gpointer data)
{
  g_error ("test did not finish in time");
  return G_SOURCE_REMOVE;
}

guint
gios_test_add_watchdog (guint seconds)
{
  return g_timeout_add_seconds (seconds, watchdog_fired, NULL);
}

void
gios_test_on_async_done (GObject      *source,
                         GAsyncResult *result,
                         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

GAsyncResult *
gios_test_wait_result (GAsyncResult **slot)
{
  GIOS_TEST_RUN_UNTIL (*slot != NULL);
  return *slot;
}

/* ------------------------------------------------------------------------ */
/* A call blocked in another thread                                           */

static gpointer
blocked_thread (gpointer user_data)
{
  GiosTestBlocked *blocked = user_data;

  g_mutex_lock (&blocked->lock);
  blocked->started = TRUE;
  g_cond_signal (&blocked->cond);
  g_mutex_unlock (&blocked->lock);

  blocked->ok = blocked->func (blocked->data, &blocked->error);
  blocked->returned_at = g_get_monotonic_time ();
  return NULL;
}

GiosTestBlocked *
gios_test_blocked_race (GiosTestBlockingFunc func,
                        gpointer             data)
{
  GiosTestBlocked *blocked = g_new0 (GiosTestBlocked, 1);

  blocked->func = func;
  blocked->data = data;
  g_mutex_init (&blocked->lock);
  g_cond_init (&blocked->cond);
  blocked->thread = g_thread_new ("blocked", blocked_thread, blocked);
  g_mutex_lock (&blocked->lock);
  while (!blocked->started)
    g_cond_wait (&blocked->cond, &blocked->lock);
  g_mutex_unlock (&blocked->lock);
  return blocked;
}

GiosTestBlocked *
gios_test_blocked_start (GiosTestBlockingFunc func,
                         gpointer             data)
{
  GiosTestBlocked *blocked = gios_test_blocked_race (func, data);

  /* Give the call time to block in poll() or recv(); nothing depends on
   * it having done so. */
  g_usleep (50 * 1000);
  return blocked;
}

void
gios_test_blocked_join (GiosTestBlocked *blocked,
                        gint64           woken_at)
{
  g_thread_join (g_steal_pointer (&blocked->thread));
  g_assert_cmpint (blocked->returned_at - woken_at, <, G_USEC_PER_SEC);
}

void
gios_test_blocked_join_error (GiosTestBlocked *blocked,
                              gint64           woken_at,
                              GQuark           domain,
                              gint             code)
{
  gios_test_blocked_join (blocked, woken_at);
  g_assert_false (blocked->ok);
  g_assert_error (blocked->error, domain, code);
}

void
gios_test_blocked_cancel (GiosTestBlocked *blocked,
                          GCancellable    *cancellable)
{
  gint64 cancelled_at = g_get_monotonic_time ();

  g_cancellable_cancel (cancellable);
  gios_test_blocked_join_error (blocked, cancelled_at, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

void
gios_test_blocked_free (GiosTestBlocked *blocked)
{
  if (blocked->thread != NULL)
    g_thread_join (blocked->thread);
  g_clear_error (&blocked->error);
  g_mutex_clear (&blocked->lock);
  g_cond_clear (&blocked->cond);
  g_free (blocked);
}

/* ------------------------------------------------------------------------ */
/* Children                                                                   */

/* A plain fork(), since g_test_trap_subprocess() starts GLib's worker thread,
 * whose TLS valgrind reports as possibly lost. */
void
gios_test_fork_with_address_limit (void    (*checks) (void),
                                   guint64   headroom)
{
  pid_t pid;
  int status = 0;

  fflush (stdout);
  fflush (stderr);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autofree char *statm = NULL;
      struct rlimit limit;
      guint64 pages;

      g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
      pages = g_ascii_strtoull (statm, NULL, 10);
      g_assert_no_errno (getrlimit (RLIMIT_AS, &limit));
      limit.rlim_cur = pages * sysconf (_SC_PAGESIZE) + headroom;
      if (limit.rlim_max != RLIM_INFINITY)
        limit.rlim_cur = MIN (limit.rlim_cur, limit.rlim_max);
      g_assert_no_errno (setrlimit (RLIMIT_AS, &limit));
      checks ();
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

void
gios_test_run_in_subprocess (GTestDataFunc checks,
                             gconstpointer data,
                             guint         timeout_s)
{
  if (g_test_subprocess ())
    {
      checks (data);
      return;
    }
  g_test_trap_subprocess (NULL, timeout_s * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* ------------------------------------------------------------------------ */
/* Running out of descriptors                                                 */

GArray *
gios_test_fill_descriptor_table (void)
{
  GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));
  struct rlimit rl;
  int fd;

  getrlimit (RLIMIT_NOFILE, &rl);
  rl.rlim_cur = 64;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  while ((fd = dup (0)) >= 0)
    g_array_append_val (fds, fd);
  return fds;
}

void
gios_test_free_descriptors (GArray *fds,
                            guint   n)
{
  g_assert_cmpuint (fds->len, >=, n);
  for (guint i = 0; i < n; i++)
    close (g_array_index (fds, int, fds->len - 1 - i));
  g_array_set_size (fds, fds->len - n);
}

/* Counted in whichever thread logs; the lock and condition are for
 * gios_test_wait_warnings(). */
static gint log_warnings;
static gint log_messages;
static GMutex log_lock;
static GCond log_cond;

static GLogWriterOutput
count_log (GLogLevelFlags   level,
           const GLogField *fields,
           gsize            n_fields,
           gpointer         user_data)
{
  if (level & G_LOG_LEVEL_WARNING)
    {
      g_mutex_lock (&log_lock);
      g_atomic_int_inc (&log_warnings);
      g_cond_broadcast (&log_cond);
      g_mutex_unlock (&log_lock);
      return G_LOG_WRITER_HANDLED;
    }
  if (level & G_LOG_LEVEL_MESSAGE)
    {
      g_mutex_lock (&log_lock);
      g_atomic_int_inc (&log_messages);
      g_cond_broadcast (&log_cond);
      g_mutex_unlock (&log_lock);
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

void
gios_test_count_log (void)
{
  static gsize installed = 0;

  /* GLib takes one writer per process. */
  if (g_once_init_enter (&installed))
    {
      g_log_set_writer_func (count_log, NULL, NULL);
      g_once_init_leave (&installed, 1);
    }
}

guint
gios_test_get_warnings (void)
{
  return g_atomic_int_get (&log_warnings);
}

guint
gios_test_get_messages (void)
{
  return g_atomic_int_get (&log_messages);
}

static gboolean
wait_count (guint (*count) (void),
            guint   n,
            int     timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean reached;

  g_mutex_lock (&log_lock);
  while (count () < n && g_cond_wait_until (&log_cond, &log_lock, end))
    ;
  reached = count () >= n;
  g_mutex_unlock (&log_lock);
  return reached;
}

gboolean
gios_test_wait_warnings (guint n,
                         int   timeout_ms)
{
  return wait_count (gios_test_get_warnings, n, timeout_ms);
}

gboolean
gios_test_wait_messages (guint n,
                         int   timeout_ms)
{
  return wait_count (gios_test_get_messages, n, timeout_ms);
}

/* ------------------------------------------------------------------------ */
/* Loopback servers and raw clients                                           */

GiosServerSocket *
gios_test_open_loopback_server (void)
{
  g_autoptr(GError) error = NULL;
  GiosServerSocket *server = gios_server_socket_new ();

  g_assert_true (gios_server_socket_open_address (server, "127.0.0.1", "0", 1000, &error));
  g_assert_no_error (error);
  return server;
}

guint
gios_test_server_port (GiosServerSocket *server)
{
  return gios_socket_common_get_port (GIOS_SOCKET_COMMON (server));
}

char *
gios_test_server_port_string (GiosServerSocket *server)
{
  return g_strdup_printf ("%u", gios_test_server_port (server));
}

void
gios_test_tcp_open (GiosServerSocket **server,
                    GiosSocket       **client)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *port = NULL;

  *server = gios_test_open_loopback_server ();
  g_assert_cmpuint (gios_test_server_port (*server), >, 0);
  port = gios_test_server_port_string (*server);

  *client = gios_socket_new ();
  g_assert_true (gios_socket_open (*client, "127.0.0.1", port, 1000, NULL, &error));
  g_assert_no_error (error);
}

void
gios_test_assert_inet (GSocketAddress *address,
                       const char     *ip,
                       guint           port)
{
  g_autofree char *text = NULL;

  g_assert_true (G_IS_INET_SOCKET_ADDRESS (address));
  text = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
  g_assert_cmpstr (text, ==, ip);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)), ==, port);
}

int
gios_test_socket_fd (gpointer socket)
{
  return g_socket_get_fd (gios_socket_common_get_socket (GIOS_SOCKET_COMMON (socket)));
}

guint
gios_test_free_port (void)
{
  struct sockaddr_in sin = { .sin_family = AF_INET };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint port;

  g_assert_cmpint (fd, >=, 0);
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  port = ntohs (sin.sin_port);
  close (fd);
  return port;
}

/* A connect() that a signal interrupted goes on in the kernel (a test
 * that sends signals to its own thread makes clients too): waits for it,
 * 5 s at most, and returns 0 or -1 with errno, as connect() does. */
static int
finish_interrupted_connect (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLOUT };
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  socklen_t len = sizeof (int);
  int err = 0;

  while (poll (&pfd, 1, 100) <= 0)
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len), ==, 0);
  errno = err;
  return err == 0 ? 0 : -1;
}

int
gios_test_raw_connect (int   family,
                       guint port)
{
  int fd = socket (family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int r;

  g_assert_cmpint (fd, >=, 0);
  if (family == AF_INET6)
    {
      struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons (port),
                                   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
      r = connect (fd, (struct sockaddr *) &sin6, sizeof sin6);
    }
  else
    {
      struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
      sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      r = connect (fd, (struct sockaddr *) &sin, sizeof sin);
    }
  if (r != 0 && errno == EINTR)
    r = finish_interrupted_connect (fd);
  if (r != 0)
    g_test_message ("connect to port %u: %s", port, g_strerror (errno));
  g_assert_cmpint (r, ==, 0);
  return fd;
}

GiosSocket *
gios_test_accept_raw (GiosServerSocket *server,
                      int              *client)
{
  g_autoptr(GError) error = NULL;
  GiosSocket *conn;

  *client = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  conn = gios_server_socket_accept (server, 1000, NULL, &error);
  g_assert_no_error (error);
  return conn;
}

void
gios_test_raw_send (int         fd,
                    const char *text)
{
  gsize len = strlen (text);

  g_assert_cmpint (send (fd, text, len, MSG_NOSIGNAL), ==, (gssize) len);
}

char *
gios_test_raw_recv (int   fd,
                    gsize len)
{
  char *buf = g_malloc0 (len + 1);
  gsize got = 0;

  while (got < len)
    {
      gssize n = recv (fd, buf + got, len - got, 0);
      if (n <= 0)
        break;
      got += n;
    }
  return buf;
}

gboolean
gios_test_have_ipv6_loopback (void)
{
  int fd = socket (AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = bind (fd, (struct sockaddr *) &sin6, sizeof sin6) == 0;
  close (fd);
  return ok;
}

/* SO_LINGER 0: close() then sends a reset, not an orderly end. */
static void
set_reset_on_close (int fd)
{
  struct linger lg = { 1, 0 };

  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), ==, 0);
}

void
gios_test_raw_reset (int fd)
{
  set_reset_on_close (fd);
  close (fd);
}

void
gios_test_raw_assert_dropped (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  char c;
  gssize n;

  g_assert_cmpint (poll (&pfd, 1, 5000), ==, 1);
  n = recv (fd, &c, 1, 0);
  g_assert_true (n == 0 || (n < 0 && errno == ECONNRESET));
}

gboolean
gios_test_raw_has_ended (int fd)
{
  char buf[4096];

  /* Bounded: a peer that is still sending makes the caller ask again. */
  for (int i = 0; i < 64; i++)
    {
      gssize n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);

      if (n == 0 || (n < 0 && errno == ECONNRESET))
        return TRUE;
      if (n < 0)
        {
          g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
          return FALSE;
        }
    }
  return FALSE;
}

void
gios_test_raw_assert_ends (int fd)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (!gios_test_raw_has_ended (fd))
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      int left_ms = (deadline - g_get_monotonic_time ()) / 1000;

      g_assert_cmpint (left_ms, >, 0);
      poll (&pfd, 1, left_ms);
    }
}

/* The receive queue of the server's side of the IPv4 loopback connection
 * @fd, as /proc/net/tcp shows it; -1 if it is not listed. */
static long
server_receive_queue (int fd)
{
  struct sockaddr_in local, peer;
  socklen_t len = sizeof local;
  g_autofree char *table = NULL;
  g_autofree char *server = NULL;
  g_autofree char *client = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &local, &len), ==, 0);
  len = sizeof peer;
  g_assert_cmpint (getpeername (fd, (struct sockaddr *) &peer, &len), ==, 0);
  g_assert_cmpint (peer.sin_family, ==, AF_INET);
  g_assert_true (g_file_get_contents ("/proc/net/tcp", &table, NULL, NULL));
  /* The kernel prints the address as the number in memory, the port as a
   * host number. */
  server = g_strdup_printf ("%08X:%04X", peer.sin_addr.s_addr, ntohs (peer.sin_port));
  client = g_strdup_printf ("%08X:%04X", local.sin_addr.s_addr, ntohs (local.sin_port));
  lines = g_strsplit (table, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      char l[32], r[32], queues[40];
      unsigned st;

      if (sscanf (lines[i], "%*s %31s %31s %x %39s", l, r, &st, queues) == 4 &&
          g_str_equal (l, server) && g_str_equal (r, client))
        return strtol (strchr (queues, ':') + 1, NULL, 16);
    }
  return -1;
}

void
gios_test_raw_wait_sent_read (int fd)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (server_receive_queue (fd) != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (500);
    }
}

static gpointer
listen_until_stopped (gpointer data)
{
  GiosTestListenDropRace *race = data;

  while (!g_atomic_int_get (&race->stop))
    {
      /* TRUE at once while the connection is current: until the drop.
       * Timed out, or woken by a drop: either way, listen again. */
      if (gios_server_socket_listen (race->server, race->listen_timeout_ms, NULL, NULL))
        race->listened++;
      g_thread_yield ();
    }
  return NULL;
}

static gpointer
drop_until_stopped (gpointer data)
{
  GiosTestListenDropRace *race = data;

  while (!g_atomic_int_get (&race->stop))
    {
      (void) gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (race->server), NULL);
      /* valgrind runs one thread at a time: let the others have theirs. */
      g_thread_yield ();
    }
  return NULL;
}

GiosTestListenDropRace *
gios_test_listen_drop_race_start (GiosServerSocket *server,
                                  int               listen_timeout_ms)
{
  GiosTestListenDropRace *race = g_new0 (GiosTestListenDropRace, 1);

  race->server = server;
  race->listen_timeout_ms = listen_timeout_ms;
  race->listener = g_thread_new ("listen", listen_until_stopped, race);
  race->dropper = g_thread_new ("drop", drop_until_stopped, race);
  return race;
}

guint
gios_test_listen_drop_race_stop (GiosTestListenDropRace *race)
{
  guint listened;

  g_atomic_int_set (&race->stop, 1);
  g_thread_join (race->listener);
  g_thread_join (race->dropper);
  listened = race->listened;
  g_free (race);
  return listened;
}

char *
gios_test_make_temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("gios-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

void
gios_test_on_disconnected (GiosSocketCommon    *socket,
                           gboolean             intentional,
                           GError              *reason,
                           GiosTestDisconnects *d)
{
  d->count++;
  d->intentional = intentional;
  g_clear_error (&d->reason);
  if (reason != NULL)
    d->reason = g_error_copy (reason);
}

/* ------------------------------------------------------------------------ */
/* The stream under test, and its raw other end                              */

void
gios_test_socketpair (int fds[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
}

GIOStream *
gios_test_socket_stream_new (int fd)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

GiosDeviceStream *
gios_test_stream_over_socket (int fd)
{
  g_autoptr(GIOStream) io = gios_test_socket_stream_new (fd);

  return gios_device_stream_new (io);
}

GIOStream *
gios_test_memory_stream_new (const void *data,
                             gsize       len)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (data, len, NULL);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();

  return g_simple_io_stream_new (in, out);
}

GiosTestPair *
gios_test_pair_new_socketpair (GiosTestStreamFunc new_stream)
{
  GiosTestPair *pair = g_new0 (GiosTestPair, 1);
  int fds[2];

  gios_test_socketpair (fds);
  pair->stream = new_stream (fds[0]);
  pair->stream_fd = fds[0];
  pair->peer = fds[1];
  return pair;
}

GiosTestPair *
gios_test_pair_new_tcp (void)
{
  g_autoptr(GError) error = NULL;
  GiosTestPair *pair = g_new0 (GiosTestPair, 1);

  gios_test_tcp_open (&pair->server, &pair->client);
  pair->stream = GIOS_DEVICE_STREAM (gios_server_socket_accept (pair->server, 1000, NULL, &error));
  g_assert_no_error (error);
  pair->stream_fd = gios_test_socket_fd (pair->stream);
  pair->peer = gios_test_socket_fd (pair->client);
  return pair;
}

GiosTestPair *
gios_test_pair_new_accepted (void)
{
  GiosTestPair *pair = g_new0 (GiosTestPair, 1);

  pair->server = gios_test_open_loopback_server ();
  pair->stream = GIOS_DEVICE_STREAM (gios_test_accept_raw (pair->server, &pair->peer));
  pair->stream_fd = gios_test_socket_fd (pair->stream);
  return pair;
}

void
gios_test_pair_close_peer (GiosTestPair *pair)
{
  if (pair->client != NULL)
    g_assert_true (gios_device_stream_close (GIOS_DEVICE_STREAM (pair->client), NULL));
  else
    close (pair->peer);
  pair->peer = -1;
}

void
gios_test_pair_reset_peer (GiosTestPair *pair)
{
  set_reset_on_close (pair->peer);
  gios_test_pair_close_peer (pair);
}

void
gios_test_pair_free (GiosTestPair *pair)
{
  g_clear_object (&pair->stream);
  if (pair->client != NULL)
    g_clear_object (&pair->client);
  else if (pair->peer >= 0)
    close (pair->peer);
  g_clear_object (&pair->server);
  g_free (pair);
}

guint8
gios_test_pattern_byte (guint64 offset)
{
  return (guint8) ((offset * 7) ^ (offset >> 9));
}

void
gios_test_peer_write_all (int         fd,
                          const void *data,
                          gsize       len)
{
  const guint8 *p = data;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);

      if (n < 0 && errno == ENOTSOCK)
        n = write (fd, p, len);
      if (n < 0)
        {
          struct pollfd pfd = { fd, POLLOUT, 0 };

          g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          (void) poll (&pfd, 1, 100);
          continue;
        }
      p += n;
      len -= n;
    }
}

void
gios_test_peer_write_str (int         fd,
                          const char *text)
{
  gios_test_peer_write_all (fd, text, strlen (text));
}

void
gios_test_peer_read_exact (int    fd,
                           void  *buffer,
                           gsize  len)
{
  guint8 *p = buffer;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (len > 0)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      ssize_t n;

      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (poll (&pfd, 1, 100) <= 0)
        continue;
      n = read (fd, p, len);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      g_assert_cmpint (n, >, 0);
      p += n;
      len -= n;
    }
}

void
gios_test_peer_assert_reads (int         fd,
                             const char *expected)
{
  gsize len = strlen (expected);
  g_autofree char *buf = g_malloc (len + 1);

  gios_test_peer_read_exact (fd, buf, len);
  g_assert_cmpmem (buf, len, expected, len);
}

GBytes *
gios_test_peer_read_bytes (int   fd,
                           gsize len)
{
  guint8 *buf = g_malloc (len + 1);

  gios_test_peer_read_exact (fd, buf, len);
  return g_bytes_new_take (buf, len);
}

gboolean
gios_test_peer_has_input (int fd)
{
  struct pollfd pfd = { fd, POLLIN, 0 };

  return poll (&pfd, 1, 0) > 0;
}

void
gios_test_wait_kernel_input (int fd,
                             int n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      int avail = 0;

      g_assert_cmpint (ioctl (fd, FIONREAD, &avail), ==, 0);
      if (avail >= n)
        return;
      g_usleep (500);
    }
  g_assert_not_reached ();
}

struct _GiosTestInterrupter
{
  pthread_t target;
  gulong interval_us;
  gint stop;
  guint sent;
  struct sigaction old_action;
  GThread *thread;
};

static void
on_sigusr1 (int signum)
{
}

static gpointer
interrupter_thread (gpointer data)
{
  GiosTestInterrupter *in = data;

  while (!g_atomic_int_get (&in->stop))
    {
      pthread_kill (in->target, SIGUSR1);
      in->sent++;
      g_usleep (in->interval_us);
    }
  return NULL;
}

GiosTestInterrupter *
gios_test_interrupter_start (gulong interval_us)
{
  GiosTestInterrupter *in = g_new0 (GiosTestInterrupter, 1);
  struct sigaction action = { 0 };

  action.sa_handler = on_sigusr1;
  sigemptyset (&action.sa_mask);
  action.sa_flags = 0;  /* no SA_RESTART: system calls fail with EINTR */
  g_assert_cmpint (sigaction (SIGUSR1, &action, &in->old_action), ==, 0);
  in->target = pthread_self ();
  in->interval_us = interval_us;
  in->thread = g_thread_new ("interrupter", interrupter_thread, in);
  return in;
}

guint
gios_test_interrupter_stop (GiosTestInterrupter *in)
{
  guint sent;

  g_atomic_int_set (&in->stop, 1);
  g_thread_join (in->thread);
  g_assert_cmpint (sigaction (SIGUSR1, &in->old_action, NULL), ==, 0);
  sent = in->sent;
  g_free (in);
  return sent;
}

struct _GiosTestSender
{
  int fd;
  guint8 *data;
  gsize len;
  gsize chunk;
  gulong delay_us;
  int reader_fd;        /* -1: no waiting for the reader */
  gboolean shutdown_after;
  GThread *thread;
};

/* Waits until nothing is left to read in the kernel of @fd, 10 s at most. */
static void
wait_kernel_taken (int fd)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  int avail = 1;

  while (avail > 0 && g_get_monotonic_time () < deadline)
    {
      g_assert_cmpint (ioctl (fd, FIONREAD, &avail), ==, 0);
      if (avail > 0)
        g_usleep (200);
    }
}

static gpointer
sender_thread (gpointer data)
{
  GiosTestSender *s = data;

  for (gsize off = 0; off < s->len; off += s->chunk)
    {
      if (off > 0 && s->delay_us > 0)
        g_usleep (s->delay_us);
      gios_test_peer_write_all (s->fd, s->data + off, MIN (s->chunk, s->len - off));
      if (s->reader_fd >= 0)
        wait_kernel_taken (s->reader_fd);
    }
  if (s->shutdown_after)
    shutdown (s->fd, SHUT_WR);
  return NULL;
}

static GiosTestSender *
sender_new (int         fd,
            const void *data,
            gsize       len,
            gsize       chunk)
{
  GiosTestSender *s = g_new0 (GiosTestSender, 1);

  s->fd = fd;
  s->data = g_memdup2 (data, len);
  s->len = len;
  s->chunk = chunk;
  s->reader_fd = -1;
  return s;
}

GiosTestSender *
gios_test_sender_start (int         fd,
                        const void *data,
                        gsize       len,
                        gsize       chunk,
                        gulong      delay_us)
{
  GiosTestSender *s = sender_new (fd, data, len, chunk);

  s->delay_us = delay_us;
  s->thread = g_thread_new ("sender", sender_thread, s);
  return s;
}

GiosTestSender *
gios_test_sender_start_trickle (int         fd,
                                int         reader_fd,
                                const void *data,
                                gsize       len,
                                gboolean    shutdown_after)
{
  GiosTestSender *s = sender_new (fd, data, len, 1);

  s->reader_fd = reader_fd;
  s->shutdown_after = shutdown_after;
  s->thread = g_thread_new ("trickle", sender_thread, s);
  return s;
}

void
gios_test_sender_join (GiosTestSender *sender)
{
  g_thread_join (sender->thread);
  g_free (sender->data);
  g_free (sender);
}

/* ------------------------------------------------------------------------ */
/* Bytes spelt in hex                                                         */

GBytes *
gios_test_hex_bytes (const char *hex)
{
  GByteArray *array = g_byte_array_new ();

  while (*hex != '\0')
    {
      guint8 b;

      if (g_ascii_isspace (*hex))
        {
          hex++;
          continue;
        }
      g_assert_true (g_ascii_isxdigit (hex[0]) && g_ascii_isxdigit (hex[1]));
      b = (guint8) (g_ascii_xdigit_value (hex[0]) << 4 | g_ascii_xdigit_value (hex[1]));
      g_byte_array_append (array, &b, 1);
      hex += 2;
    }
  return g_byte_array_free_to_bytes (array);
}

char *
gios_test_bytes_hex (GBytes *bytes)
{
  GString *out = g_string_new (NULL);
  gsize len, i;
  const guint8 *p = g_bytes_get_data (bytes, &len);

  for (i = 0; i < len; i++)
    g_string_append_printf (out, i == 0 ? "%02X" : " %02X", p[i]);
  return g_string_free (out, FALSE);
}

void
gios_test_assert_bytes_hex (GBytes     *bytes,
                            const char *hex)
{
  g_autoptr(GBytes) expected = gios_test_hex_bytes (hex);
  g_autofree char *got = gios_test_bytes_hex (bytes);
  g_autofree char *want = gios_test_bytes_hex (expected);

  g_assert_cmpstr (got, ==, want);
}

/* ------------------------------------------------------------------------ */
/* The serving models                                                         */

const char *const gios_test_model_names[] = { "listen", "accept", "jobs", "start" };

typedef struct
{
  GiosTestServeFunc func;
  gpointer data;
} ServeJob;

static void
serve_job (GiosSocket   *connection,
           GCancellable *cancellable,
           gpointer      data)
{
  ServeJob *job = data;

  job->func (GIOS_SOCKET_COMMON (connection), job->data);
}

gint
gios_test_serve_round (GiosServerSocket  *server,
                       GiosTestModel      model,
                       int                wait_ms,
                       guint              max_jobs,
                       GiosTestServeFunc  func,
                       gpointer           data)
{
  g_autoptr(GiosSocket) socket = NULL;
  ServeJob *job;

  switch (model)
    {
    case GIOS_TEST_MODEL_LISTEN:
      if (!gios_server_socket_listen (server, wait_ms, NULL, NULL))
        return 0;
      func (GIOS_SOCKET_COMMON (server), data);
      gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
      return 1;
    case GIOS_TEST_MODEL_ACCEPT:
      socket = gios_server_socket_accept (server, wait_ms, NULL, NULL);
      if (socket == NULL)
        return 0;
      func (GIOS_SOCKET_COMMON (socket), data);
      return 1;
    case GIOS_TEST_MODEL_JOBS:
      job = g_new (ServeJob, 1);
      job->func = func;
      job->data = data;
      return gios_server_socket_listen_job (server, wait_ms, max_jobs, serve_job, job, g_free, NULL, NULL);
    case GIOS_TEST_MODEL_START:
    default:
      g_assert_not_reached ();
    }
}
