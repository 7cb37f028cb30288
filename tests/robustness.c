/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What no client can do to a server, and what no caller can do to a
 * stream: races between a call and a teardown on other threads, misuse
 * from several threads, peers that never read, idle peers. Each test is a
 * finding that once froze or crashed a server. */
#include <gios/gios.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <sys/syscall.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static GiosServerSocket *
test_open_loopback_server (void)
{
  g_autoptr(GError) error = NULL;
  GiosServerSocket *server = gios_server_socket_new ();

  g_assert_true (gios_server_socket_open_address (server, "127.0.0.1", "0", 1000, &error));
  g_assert_no_error (error);
  return server;
}

static guint
test_server_port (GiosServerSocket *server)
{
  return gios_socket_common_get_port (GIOS_SOCKET_COMMON (server));
}

static int
test_raw_connect (int   family,
                  guint port)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (family, ==, AF_INET);
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  return fd;
}

/* A device stream over one end of a socketpair, and the raw other end. */
typedef struct
{
  GiosDeviceStream *stream;
  int peer;
} TestPair;

static void
test_pair_init (TestPair *pair)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (socket);
  pair->stream = gios_device_stream_new (G_IO_STREAM (connection));
  pair->peer = fds[1];
}

static void
test_pair_send (TestPair   *pair,
                const char *text)
{
  g_assert_cmpint (send (pair->peer, text, strlen (text), MSG_NOSIGNAL), ==, (gssize) strlen (text));
}

static void
test_pair_clear (TestPair *pair)
{
  g_clear_object (&pair->stream);
  close (pair->peer);
}

/* Waits until the thread with kernel id @tid sleeps in the kernel: it has
 * reached the blocking system call of whatever it was started for. */
static void
test_wait_until_sleeping (pid_t tid)
{
  g_autofree char *path = g_strdup_printf ("/proc/self/task/%d/stat", (int) tid);
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *stat = NULL;
      const char *state;

      g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
      state = strrchr (stat, ')');
      if (state != NULL && state[1] == ' ' && state[2] == 'S')
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_usleep (1000);
    }
}

/* ------------------------------------------------------------------------ */
/* Races between a call and a teardown                                        */

static guint
count_open_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  guint n = 0;

  g_assert_nonnull (dir);
  while (readdir (dir) != NULL)
    n++;
  closedir (dir);
  return n;
}

typedef struct
{
  GiosServerSocket *server;
  gint stop;
  guint listened;
} Racer;

static gpointer
listen_until_stopped (gpointer data)
{
  Racer *r = data;

  while (!g_atomic_int_get (&r->stop))
    {
      if (gios_server_socket_listen (r->server, 20, NULL, NULL))
        r->listened++;
    }
  return NULL;
}

static gpointer
drop_until_stopped (gpointer data)
{
  Racer *r = data;

  while (!g_atomic_int_get (&r->stop))
    (void) gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (r->server), NULL);
  return NULL;
}

/* listen() takes a connection while another thread drops it over and over:
 * the hand-over of the descriptor and address is atomic with the drop, so
 * nothing is used after it was freed, and every client sees its
 * connection dropped. */
static void
test_race_listen_against_drop (void)
{
  g_autoptr(GiosServerSocket) server = test_open_loopback_server ();
  Racer r = { .server = server };
  GThread *listener = g_thread_new ("listen", listen_until_stopped, &r);
  GThread *dropper = g_thread_new ("drop", drop_until_stopped, &r);
  gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  guint rounds = 0;

  while (rounds < 3000 && g_get_monotonic_time () < end)
    {
      int fd = test_raw_connect (AF_INET, test_server_port (server));
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      char c;
      gssize n;

      g_assert_cmpint (poll (&pfd, 1, 5000), ==, 1);
      n = recv (fd, &c, 1, 0);
      g_assert_true (n == 0 || (n < 0 && errno == ECONNRESET));
      close (fd);
      rounds++;
    }
  g_atomic_int_set (&r.stop, 1);
  g_thread_join (listener);
  g_thread_join (dropper);
  g_test_message ("%u rounds, %u connections listened to", rounds, r.listened);
  g_assert_cmpuint (rounds, >=, 100);
}

typedef struct
{
  GiosServerSocket *server;
  GMutex lock;
  GCond cond;
  gboolean waiting;
} CloseRace;

static gpointer
listen_forever (gpointer data)
{
  CloseRace *cr = data;

  g_mutex_lock (&cr->lock);
  cr->waiting = TRUE;
  g_cond_signal (&cr->cond);
  g_mutex_unlock (&cr->lock);
  (void) gios_server_socket_listen (cr->server, GIOS_TIMEOUT_FOREVER, NULL, NULL);
  return NULL;
}

/* close() while listen() waits on another thread and a client arrives at
 * that moment: afterwards the server is closed, has no connection, and no
 * descriptor is left behind. */
static void
test_race_listen_against_close (void)
{
  gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  guint start_fds = count_open_fds ();
  guint rounds = 0;

  while (rounds < 2000 && g_get_monotonic_time () < end)
    {
      CloseRace cr = { .server = test_open_loopback_server () };
      GThread *listener;
      int fd;

      g_mutex_init (&cr.lock);
      g_cond_init (&cr.cond);
      listener = g_thread_new ("listen", listen_forever, &cr);
      g_mutex_lock (&cr.lock);
      while (!cr.waiting)
        g_cond_wait (&cr.cond, &cr.lock);
      g_mutex_unlock (&cr.lock);

      fd = test_raw_connect (AF_INET, test_server_port (cr.server));
      if (rounds % 2 == 1)
        g_thread_yield ();
      g_assert_true (gios_server_socket_close (cr.server, NULL));
      g_thread_join (listener);

      g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (cr.server)));
      g_assert_false (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (cr.server)));
      g_assert_null (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (cr.server)));
      close (fd);
      g_object_unref (cr.server);
      g_mutex_clear (&cr.lock);
      g_cond_clear (&cr.cond);
      rounds++;
    }
  g_test_message ("%u rounds", rounds);
  g_assert_cmpuint (count_open_fds (), ==, start_fds);
}

/* ------------------------------------------------------------------------ */
/* Misuse: several threads on one stream                                      */

typedef struct
{
  GiosDeviceStream *stream;
  GError *error;
  char *line;
  gint tid;
} Reader;

static gpointer
read_line_in_thread (gpointer data)
{
  Reader *reader = data;

  g_atomic_int_set (&reader->tid, (gint) syscall (SYS_gettid));
  reader->line = gios_device_stream_read_line (reader->stream, 100, NULL, 3000, NULL,
                                               &reader->error);
  return NULL;
}

/* A second thread calling a stream that another thread is in fails with
 * G_IO_ERROR_PENDING, as GIO's streams do, instead of corrupting its
 * buffers; the first call goes on undisturbed. */
static void
test_misuse_concurrent_calls (void)
{
  TestPair pair;
  Reader first = { 0 };
  g_autoptr(GError) error = NULL;
  guint8 buffer[4];
  GThread *thread;

  test_pair_init (&pair);
  first.stream = pair.stream;
  thread = g_thread_new ("reader", read_line_in_thread, &first);
  while (g_atomic_int_get (&first.tid) == 0)
    g_thread_yield ();
  test_wait_until_sleeping (g_atomic_int_get (&first.tid));

  g_assert_cmpint (gios_device_stream_read (pair.stream, buffer, sizeof buffer, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  g_assert_false (gios_device_stream_write_line (pair.stream, "x", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  g_assert_false (gios_device_stream_flush (pair.stream, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);

  test_pair_send (&pair, "hello\n");
  g_thread_join (thread);
  g_assert_no_error (first.error);
  g_assert_cmpstr (first.line, ==, "hello");
  g_free (first.line);
  /* Nothing the refused calls did is left behind. */
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair.stream), ==, 0);
  test_pair_clear (&pair);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/robustness/race/listen-against-drop", test_race_listen_against_drop);
  g_test_add_func ("/robustness/race/listen-against-close", test_race_listen_against_close);
  g_test_add_func ("/robustness/misuse/concurrent-calls", test_misuse_concurrent_calls);

  return g_test_run ();
}
