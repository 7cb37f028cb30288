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

#include "gios-reactor-private.h"
#include "gios-test-utils.h"

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

/* Notes the kernel id of the calling thread in @tid, for the thread that
 * waits for it to sleep. */
static void
note_tid (gint *tid)
{
  g_atomic_int_set (tid, (gint) syscall (SYS_gettid));
}

/* Waits until a thread has noted its id in @tid, then until it sleeps. */
static void
wait_for_tid (gint *tid)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_atomic_int_get (tid) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_thread_yield ();
    }
  test_wait_until_sleeping (g_atomic_int_get (tid));
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

/* listen() takes a connection while another thread drops it over and over:
 * the hand-over of the descriptor and address is atomic with the drop, so
 * nothing is used after it was freed, and every client sees its
 * connection dropped. */
static void
test_race_listen_against_drop (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  GiosTestListenDropRace *race = gios_test_listen_drop_race_start (server, 20);
  gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  guint rounds = 0;
  guint listened;

  while (rounds < 3000 && g_get_monotonic_time () < end)
    {
      int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

      gios_test_raw_assert_dropped (fd);
      close (fd);
      rounds++;
    }
  listened = gios_test_listen_drop_race_stop (race);
  g_test_message ("%u rounds, %u connections listened to", rounds, listened);
  g_assert_cmpuint (rounds, >=, 100);
}

static gboolean
listen_forever (gpointer   server,
                GError   **error)
{
  return gios_server_socket_listen (server, GIOS_TIMEOUT_FOREVER, NULL, error);
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
      g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
      GiosTestBlocked *listener = gios_test_blocked_race (listen_forever, server);
      int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

      if (rounds % 2 == 1)
        g_thread_yield ();
      g_assert_true (gios_server_socket_close (server, NULL));
      gios_test_blocked_free (listener);

      g_assert_false (gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)));
      g_assert_false (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));
      g_assert_null (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (server)));
      close (fd);
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

  note_tid (&reader->tid);
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
  int fds[2];
  g_autoptr(GiosDeviceStream) stream = NULL;
  Reader first = { 0 };
  g_autoptr(GError) error = NULL;
  guint8 buffer[4];
  GThread *thread;

  gios_test_socketpair (fds);
  stream = gios_test_stream_over_socket (fds[0]);
  first.stream = stream;
  thread = g_thread_new ("reader", read_line_in_thread, &first);
  wait_for_tid (&first.tid);

  g_assert_cmpint (gios_device_stream_read (stream, buffer, sizeof buffer, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  g_assert_false (gios_device_stream_write_line (stream, "x", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  g_assert_false (gios_device_stream_flush (stream, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);

  gios_test_raw_send (fds[1], "hello\n");
  g_thread_join (thread);
  g_assert_no_error (first.error);
  g_assert_cmpstr (first.line, ==, "hello");
  g_free (first.line);
  /* Nothing the refused calls did is left behind. */
  g_assert_cmpuint (gios_device_stream_get_buffered_output (stream), ==, 0);
  close (fds[1]);
}


/* ------------------------------------------------------------------------ */
/* Peers that never read                                                      */

/* A client that sends but never reads, with a small receive buffer. */
static int
slow_reader_connect (guint port)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int size = 4096;

  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), ==, 0);
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  return fd;
}

/* Keeps the kernel's own buffering of @stream's connection small, so that
 * a peer that does not read stops taking output soon. */
static void
shrink_send_buffer (GiosSocketCommon *stream)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_socket_set_option (gios_socket_common_get_socket (stream),
                                      SOL_SOCKET, SO_SNDBUF, 4096, &error));
  g_assert_no_error (error);
}

/* A loopback server's connection from a slow reader, its send buffer
 * shrunk too: a peer that soon takes no more output. The reader's
 * descriptor is the pair's peer. */
static GiosTestPair *
slow_reader_pair_new (void)
{
  g_autoptr(GError) error = NULL;
  GiosTestPair *pair = g_new0 (GiosTestPair, 1);

  pair->server = gios_test_open_loopback_server ();
  pair->peer = slow_reader_connect (gios_test_server_port (pair->server));
  pair->stream = GIOS_DEVICE_STREAM (gios_server_socket_accept (pair->server, 2000, NULL, &error));
  g_assert_no_error (error);
  pair->stream_fd = gios_test_socket_fd (pair->stream);
  shrink_send_buffer (GIOS_SOCKET_COMMON (pair->stream));
  return pair;
}

/* write() into a full buffer waits at most close-timeout (the default
 * timeout being -1), keeps what it could not send, and close() gives up
 * after close-timeout too, saying how many bytes were lost. */
static void
test_slow_reader_write_and_close (void)
{
  g_autoptr(GiosTestPair) pair = slow_reader_pair_new ();
  GiosDeviceStream *stream = pair->stream;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *chunk = g_malloc0 (64 * 1024);
  gint64 start;
  gboolean ok = TRUE;

  g_assert_cmpint (gios_device_stream_get_default_timeout (stream), ==, -1);
  g_assert_cmpint (gios_device_stream_get_close_timeout (stream), ==, 5000);
  gios_device_stream_set_close_timeout (stream, 300);

  for (guint i = 0; ok && i < 200; i++)
    {
      start = g_get_monotonic_time ();
      ok = gios_device_stream_write (stream, chunk, 64 * 1024, NULL, &error);
      g_assert_cmpint (gios_test_elapsed_ms (start), <, 300 * 3 / 2 + 150);
    }
  g_assert_false (ok);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  /* What was not sent stays buffered. */
  g_assert_cmpuint (gios_device_stream_get_buffered_output (stream), >, 0);

  start = g_get_monotonic_time ();
  g_assert_false (gios_device_stream_close (stream, &error));
  gios_test_assert_timed (start, 300);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "not sent"));
  g_assert_false (gios_device_stream_get_is_open (stream));
}

/* send_message() flushes as a write into a full buffer does: a peer that
 * does not read holds it close-timeout at most (it waited without limit). */
static void
test_slow_reader_send_message (void)
{
  g_autoptr(GiosTestPair) pair = slow_reader_pair_new ();
  g_autoptr(GiosMessage) message = NULL;
  g_autoptr(GBytes) payload = g_bytes_new_take (g_malloc0 (4 * 1024 * 1024), 4 * 1024 * 1024);
  g_autoptr(GError) error = NULL;
  gint64 start;

  gios_device_stream_set_close_timeout (pair->stream, 300);
  message = gios_message_new (1, 0, GIOS_MESSAGE_CODE ('E', 'X'), payload);
  start = g_get_monotonic_time ();
  g_assert_false (gios_device_stream_send_message (pair->stream, message, NULL, &error));
  gios_test_assert_timed_out (&error, start, 300);
  /* Nothing lost: what was not sent is still buffered. */
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), >, 0);
  gios_device_stream_set_close_timeout (pair->stream, 0);
  gios_device_stream_close (pair->stream, NULL);
}

typedef struct
{
  GiosSocketCommon *socket;
  gint tid;
  gboolean ok;
  GError *error;
  gint64 end;
} Dropper;

static gpointer
drop_in_thread (gpointer data)
{
  Dropper *d = data;

  note_tid (&d->tid);
  d->ok = gios_socket_common_drop_connection (d->socket, &d->error);
  d->end = g_get_monotonic_time ();
  return NULL;
}

/* The classic model: a drop_connection() sending to a peer that does not
 * read is woken at once by a close() from another thread, and the close
 * does not wait either: the connection is gone. */
static void
test_slow_reader_drop_woken_by_close (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = g_malloc0 (1024 * 1024);
  int client = slow_reader_connect (gios_test_server_port (server));
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  Dropper d = { .socket = GIOS_SOCKET_COMMON (server) };
  GThread *thread;
  gint64 start;

  g_assert_true (gios_server_socket_listen (server, 2000, NULL, &error));
  shrink_send_buffer (GIOS_SOCKET_COMMON (server));
  gios_device_stream_set_output_buffer_size (stream, 4 * 1024 * 1024);
  gios_device_stream_set_close_timeout (stream, 5000);
  g_assert_true (gios_device_stream_write (stream, data, 1024 * 1024, NULL, &error));

  thread = g_thread_new ("drop", drop_in_thread, &d);
  wait_for_tid (&d.tid);
  start = g_get_monotonic_time ();
  gios_device_stream_close (stream, NULL);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 1000);
  g_thread_join (thread);
  g_assert_cmpint ((d.end - start) / 1000, <, 1000);
  g_assert_false (d.ok);
  g_assert_error (d.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_nonnull (strstr (d.error->message, "buffered bytes"));
  g_clear_error (&d.error);
  g_assert_false (gios_socket_common_get_is_connected (GIOS_SOCKET_COMMON (server)));
  close (client);
}

typedef struct
{
  gint tids[2];
  gint n;
} Writers;

static void
write_much_job (GiosSocket   *connection,
                GCancellable *cancellable,
                gpointer      data)
{
  Writers *w = data;
  g_autoptr(GBytes) bytes = g_bytes_new_take (g_malloc0 (8 * 1024 * 1024), 8 * 1024 * 1024);

  shrink_send_buffer (GIOS_SOCKET_COMMON (connection));
  note_tid (&w->tids[g_atomic_int_add (&w->n, 1)]);
  /* Blocks: the peer does not read. The job then returns with its output
   * unsent, and the close after the job would wait too. */
  (void) gios_device_stream_write_bytes (GIOS_DEVICE_STREAM (connection), bytes, cancellable, NULL);
}

/* listen_job() without a time limit, for gios_test_blocked_race(): it
 * serves until the server is closed or @cancellable cancelled. */
typedef struct
{
  GiosServerSocket *server;
  guint max_jobs;
  GiosJobFunc job;
  gpointer job_data;
  GCancellable *cancellable;
  gint result;        /* what listen_job() returned */
} JobsForever;

static gboolean
listen_jobs_forever (gpointer   data,
                     GError   **error)
{
  JobsForever *jobs = data;

  jobs->result = gios_server_socket_listen_job (jobs->server, GIOS_TIMEOUT_FOREVER, jobs->max_jobs,
                                                jobs->job, jobs->job_data, NULL, jobs->cancellable,
                                                error);
  return jobs->result >= 0;
}

/* Jobs stuck sending to peers that never read: the server's close() cuts
 * them off at once, and wait_jobs() sees them end. */
static void
test_slow_reader_jobs_close (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  Writers writers = { 0 };
  JobsForever jobs = { server, 2, write_much_job, &writers };
  g_autoptr(GiosTestBlocked) listener = NULL;
  int clients[2];
  gint64 start;

  for (guint i = 0; i < 2; i++)
    clients[i] = slow_reader_connect (gios_test_server_port (server));
  listener = gios_test_blocked_race (listen_jobs_forever, &jobs);
  for (guint i = 0; i < 2; i++)
    wait_for_tid (&writers.tids[i]);

  start = g_get_monotonic_time ();
  gios_server_socket_close (server, NULL);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 1000);
  gios_test_blocked_join_error (listener, start, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpint (jobs.result, ==, -1);
  g_assert_true (gios_server_socket_wait_jobs (server, 2000, NULL));
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 2000);
  for (guint i = 0; i < 2; i++)
    close (clients[i]);
}

/* ------------------------------------------------------------------------ */
/* The main loop never blocks                                                 */


typedef struct
{
  gboolean done;
  gint64 close_ms;
  GError *flush_error;
  GError *close_error;
} AsyncClose;

static void
on_flush_timed_out (GObject      *source,
                    GAsyncResult *result,
                    gpointer      data)
{
  AsyncClose *ac = data;
  gint64 start;

  g_assert_false (gios_device_stream_flush_finish (GIOS_DEVICE_STREAM (source), result, &ac->flush_error));
  start = g_get_monotonic_time ();
  g_assert_false (gios_device_stream_close (GIOS_DEVICE_STREAM (source), &ac->close_error));
  ac->close_ms = gios_test_elapsed_ms (start);
  ac->done = TRUE;
}

/* On the main loop, close() after a flush_async() that timed out does not
 * wait for the peer: it reports what it could not send. */
static void
test_main_loop_close_after_flush_timeout (void)
{
  g_autoptr(GiosTestPair) pair = slow_reader_pair_new ();
  GiosDeviceStream *stream = pair->stream;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = g_malloc0 (2 * 1024 * 1024);
  AsyncClose ac = { 0 };

  gios_device_stream_set_output_buffer_size (stream, 4 * 1024 * 1024);
  g_assert_true (gios_device_stream_write (stream, data, 2 * 1024 * 1024, NULL, &error));
  gios_device_stream_flush_async (stream, 200, G_PRIORITY_DEFAULT, NULL, on_flush_timed_out, &ac);
  GIOS_TEST_RUN_UNTIL_WITHIN (20, ac.done);

  g_assert_error (ac.flush_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_error (ac.close_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (ac.close_error->message, "not sent"));
  g_assert_cmpint (ac.close_ms, <, 100);
  g_assert_false (gios_device_stream_get_is_open (stream));
  g_clear_error (&ac.flush_error);
  g_clear_error (&ac.close_error);
}

typedef struct
{
  GiosDeviceStream *stream;
  gboolean done;
  guint accepted_writes;
  GError *error;
  gint64 refused_us;
} Filler;

static gboolean
fill_on_loop (gpointer data)
{
  Filler *f = data;
  static guint8 chunk[32 * 1024];

  for (guint i = 0; i < 1000; i++)
    {
      gsize before = gios_device_stream_get_buffered_output (f->stream);
      gint64 start = g_get_monotonic_time ();

      if (!gios_device_stream_write (f->stream, chunk, sizeof chunk, NULL, &f->error))
        {
          f->refused_us = g_get_monotonic_time () - start;
          /* Nothing of the refused call was buffered. */
          g_assert_cmpuint (gios_device_stream_get_buffered_output (f->stream), <=, before);
          break;
        }
      f->accepted_writes++;
    }
  f->done = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
never_called (GiosDeviceStream *stream,
              GIOCondition      condition,
              gpointer          data)
{
  return G_SOURCE_CONTINUE;
}

/* A write on the loop's thread to a peer that does not read fails at once
 * with G_IO_ERROR_WOULD_BLOCK once the buffer is full, buffering nothing of
 * that call. */
static void
test_main_loop_write_would_block (void)
{
  g_autoptr(GiosTestPair) pair = slow_reader_pair_new ();
  Filler f = { .stream = pair->stream };

  /* The watch makes the stream one served from this loop. */
  gios_device_stream_add_watch (f.stream, G_IO_IN, never_called, NULL, NULL);
  g_idle_add (fill_on_loop, &f);
  GIOS_TEST_RUN_UNTIL_WITHIN (20, f.done);

  g_assert_error (f.error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&f.error);
  g_assert_cmpuint (f.accepted_writes, >, 0);
  g_assert_cmpint (f.refused_us, <, 50 * 1000);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (f.stream), <=,
                    gios_device_stream_get_output_buffer_size (f.stream) + 32 * 1024);
  gios_device_stream_close (f.stream, NULL);
}

/* The recipe of the threading guide: a line server on watches. It reads
 * with a timeout of 0, writes the reply and sends what the peer takes now;
 * a reply the output buffer has no room for waits, and so does the input,
 * until the peer has read. */
typedef struct
{
  guint n_open;         /* connections not finalized yet */
  gsize peak_output;    /* the most any held in its output buffer */
} LineServer;

/* Belongs to its connection, which its watches keep alive. */
typedef struct
{
  GiosDeviceStream *stream;
  char *pending;        /* a reply the buffer had no room for */
  LineServer *server;
} LineConn;

static gboolean serve_lines (GiosDeviceStream *stream, GIOCondition condition, gpointer data);

static void
line_conn_free (gpointer data)
{
  LineConn *lc = data;

  g_free (lc->pending);
  lc->server->n_open--;
  g_free (lc);
}

/* Closing removes the watches: the connection, and @lc with it, go. */
static void
line_conn_end (LineConn *lc)
{
  gios_device_stream_close (lc->stream, NULL);
}

static void
serve_lines_on (LineServer *ls,
                GiosSocket *connection)
{
  LineConn *lc = g_new0 (LineConn, 1);

  lc->stream = GIOS_DEVICE_STREAM (connection);
  lc->server = ls;
  ls->n_open++;
  g_object_set_data_full (G_OBJECT (connection), "line-conn", lc, line_conn_free);
  gios_device_stream_add_watch (lc->stream, G_IO_IN, serve_lines, lc, NULL);
}

static gboolean
serve_lines (GiosDeviceStream *stream,
             GIOCondition      condition,
             gpointer          data)
{
  LineConn *lc = data;
  gboolean waiting_output = lc->pending != NULL;

  for (;;)
    {
      g_autoptr(GError) error = NULL;

      if (lc->pending == NULL)
        {
          lc->pending = gios_device_stream_read_line (stream, 1024, NULL, 0, NULL, &error);
          if (lc->pending == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            break;   /* no whole line yet */
          if (lc->pending == NULL)
            {
              line_conn_end (lc);
              return G_SOURCE_REMOVE;
            }
        }
      if (!gios_device_stream_write_line (stream, lc->pending, NULL, &error))
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              line_conn_end (lc);
              return G_SOURCE_REMOVE;
            }
          /* No room: wait for the peer to read, and read nothing more. */
          if (!waiting_output)
            {
              gios_device_stream_add_watch (stream, G_IO_OUT, serve_lines, lc, NULL);
              return G_SOURCE_REMOVE;
            }
          return G_SOURCE_CONTINUE;
        }
      g_clear_pointer (&lc->pending, g_free);
      lc->server->peak_output = MAX (lc->server->peak_output,
                                     gios_device_stream_get_buffered_output (stream));
    }
  /* Sends what the peer takes now; the rest goes with the next flush. */
  (void) gios_device_stream_flush (stream, 0, NULL, NULL);
  if (waiting_output)
    {
      gios_device_stream_add_watch (stream, G_IO_IN, serve_lines, lc, NULL);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_line_accepted (GiosServerSocket *server,
                  GiosSocket       *connection,
                  LineServer       *ls)
{
  serve_lines_on (ls, connection);
  return TRUE;
}

typedef struct
{
  guint port;
  gint stop;
  guint64 sent;
} Flooder;

static gpointer
flood (gpointer data)
{
  Flooder *f = data;
  int fd = slow_reader_connect (f->port);
  char line[100];
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  memset (line, 'f', sizeof line - 1);
  line[sizeof line - 1] = '\n';
  while (!g_atomic_int_get (&f->stop) && g_get_monotonic_time () < end)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLOUT };
      gssize n;

      if (poll (&pfd, 1, 20) <= 0)
        continue;
      n = send (fd, line, sizeof line, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0)
        f->sent += n;
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        break;
    }
  close (fd);
  return NULL;
}

typedef struct
{
  guint port;
  guint answered;
  gboolean done;
} Pinger;

/* Sends @request on @fd, and returns what came back once @want bytes came
 * (63 at most), the peer closed, or nothing came for @timeout_ms. */
static char *
raw_exchange (int         fd,
              const char *request,
              gsize       want,
              int         timeout_ms)
{
  char *reply = g_malloc0 (64);
  gsize got = 0;

  g_assert_cmpint (send (fd, request, strlen (request), MSG_NOSIGNAL), ==, (gssize) strlen (request));
  while (got < want)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      gssize n;

      if (poll (&pfd, 1, timeout_ms) != 1)
        break;
      n = recv (fd, reply + got, 64 - 1 - got, 0);
      if (n <= 0)
        break;
      got += n;
    }
  return reply;
}

static gpointer
ping (gpointer data)
{
  Pinger *p = data;
  int fd = gios_test_raw_connect (AF_INET, p->port);

  for (guint i = 0; i < 50; i++)
    {
      g_autofree char *request = g_strdup_printf ("ping %u\n", i);
      g_autofree char *reply = raw_exchange (fd, request, strlen (request), 2000);

      if (g_strcmp0 (reply, request) != 0)
        break;
      p->answered++;
    }
  close (fd);
  g_atomic_int_set (&p->done, TRUE);
  return NULL;
}

typedef struct
{
  gint64 last;
  gint64 longest;
} Heartbeat;

static gboolean
beat (gpointer data)
{
  Heartbeat *h = data;
  gint64 now = g_get_monotonic_time ();

  h->longest = MAX (h->longest, now - h->last);
  h->last = now;
  return G_SOURCE_CONTINUE;
}

/* One client floods the line server without reading: its replies fill the
 * output buffer, its requests wait in the kernel, and the loop goes on
 * serving another client at full speed. */
static void
test_main_loop_flooding_client (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GError) error = NULL;
  LineServer ls = { 0 };
  Flooder flooder = { .port = gios_test_server_port (server) };
  Pinger pinger = { .port = gios_test_server_port (server) };
  Heartbeat heartbeat = { .last = g_get_monotonic_time () };
  GThread *flood_thread;
  GThread *ping_thread;
  guint beat_id;

  g_signal_connect (server, "accepted", G_CALLBACK (on_line_accepted), &ls);
  g_assert_true (gios_server_socket_start (server, &error));
  beat_id = g_timeout_add (10, beat, &heartbeat);

  flood_thread = g_thread_new ("flood", flood, &flooder);
  /* The flood first fills every buffer on the way. */
  GIOS_TEST_RUN_UNTIL_WITHIN (20, flooder.sent >= 1024 * 1024);
  heartbeat.longest = 0;
  ping_thread = g_thread_new ("ping", ping, &pinger);
  GIOS_TEST_RUN_UNTIL_WITHIN (60, g_atomic_int_get (&pinger.done));
  g_thread_join (ping_thread);
  g_atomic_int_set (&flooder.stop, 1);
  g_thread_join (flood_thread);
  g_source_remove (beat_id);

  g_test_message ("flooder sent %" G_GUINT64_FORMAT " bytes; longest gap %" G_GINT64_FORMAT " us",
                  flooder.sent, heartbeat.longest);
  g_assert_cmpuint (pinger.answered, ==, 50);
  g_assert_cmpint (heartbeat.longest, <, 500 * 1000);
  /* The buffer never held more than its size and one reply. */
  g_assert_cmpuint (ls.peak_output, <=, 16 * 1024 + 100);

  /* Let the connections see their peers gone. */
  GIOS_TEST_RUN_UNTIL (ls.n_open == 0);
}

typedef struct
{
  GiosDeviceStream *stream;
  guint64 queued;
  guint64 total;
  gsize peak;
  gboolean done;
} AsyncWriter;

static void write_next (AsyncWriter *w);

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  AsyncWriter *w = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_device_stream_write_bytes_finish (GIOS_DEVICE_STREAM (source), result, &error));
  g_assert_no_error (error);
  w->peak = MAX (w->peak, gios_device_stream_get_buffered_output (w->stream));
  write_next (w);
}

static void
on_all_flushed (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  AsyncWriter *w = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_device_stream_flush_finish (GIOS_DEVICE_STREAM (source), result, &error));
  g_assert_no_error (error);
  w->done = TRUE;
}

static void
write_next (AsyncWriter *w)
{
  g_autoptr(GBytes) bytes = NULL;
  guint8 *chunk;
  gsize size = 24 * 1024;

  if (w->queued == w->total)
    {
      gios_device_stream_flush_async (w->stream, 10000, G_PRIORITY_DEFAULT, NULL, on_all_flushed, w);
      return;
    }
  size = MIN (size, w->total - w->queued);
  chunk = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    chunk[i] = gios_test_pattern_byte (w->queued + i);
  bytes = g_bytes_new_take (chunk, size);
  w->queued += size;
  gios_device_stream_write_bytes_async (w->stream, bytes, 10000, G_PRIORITY_DEFAULT, NULL,
                                        on_written, w);
}

typedef struct
{
  int fd;
  guint64 total;
  guint64 got;
  gboolean intact;
} SlowReader;

static gpointer
read_slowly (gpointer data)
{
  SlowReader *r = data;
  guint8 buffer[8192];

  r->intact = TRUE;
  while (r->got < r->total)
    {
      struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
      gssize n;

      if (poll (&pfd, 1, 10000) != 1)
        break;
      n = recv (r->fd, buffer, sizeof buffer, 0);
      if (n <= 0)
        break;
      for (gssize i = 0; i < n; i++)
        if (buffer[i] != gios_test_pattern_byte (r->got + i))
          r->intact = FALSE;
      r->got += n;
      /* A slow reader: the writer must wait for it. */
      g_usleep (500);
    }
  return NULL;
}

/* write_bytes_async() to a slow reader: each write completes once it is
 * buffered, so the buffer never grows past its size and one write, and
 * every byte arrives in order. */
static void
test_main_loop_write_async (void)
{
  g_autoptr(GiosTestPair) pair = slow_reader_pair_new ();
  SlowReader reader = { .fd = pair->peer, .total = 4 * 1024 * 1024 };
  AsyncWriter writer = { .stream = pair->stream, .total = 4 * 1024 * 1024 };
  GThread *thread;

  thread = g_thread_new ("reader", read_slowly, &reader);
  write_next (&writer);
  GIOS_TEST_RUN_UNTIL_WITHIN (30, writer.done);
  g_thread_join (thread);

  g_assert_cmpuint (reader.got, ==, reader.total);
  g_assert_true (reader.intact);
  g_assert_cmpuint (writer.peak, <=, 16 * 1024 + 24 * 1024);
}

/* ------------------------------------------------------------------------ */
/* Idle peers                                                                 */

static void
upper_line_job (GiosSocket   *connection,
                GCancellable *cancellable,
                gpointer      data)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (connection);
  GAsyncQueue *errors = data;
  GError *error = NULL;
  g_autofree char *line = gios_device_stream_read_line (stream, 100, NULL, GIOS_TIMEOUT_FOREVER,
                                                        cancellable, &error);

  if (line == NULL)
    {
      g_async_queue_push (errors, error != NULL ? error :
                          g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "end of input"));
      return;
    }
  {
    g_autofree char *upper = g_ascii_strup (line, -1);

    gios_device_stream_write_line (stream, upper, NULL, NULL);
    gios_device_stream_flush (stream, 1000, NULL, NULL);
  }
}

/* Asks @port for a line, and says how long the answer took (-1: none). */
static gint64
ask (guint       port,
     const char *request,
     const char *expect)
{
  int fd = gios_test_raw_connect (AF_INET, port);
  gint64 start = g_get_monotonic_time ();
  g_autofree char *reply = raw_exchange (fd, request, strlen (expect), 5000);

  close (fd);
  return g_strcmp0 (reply, expect) == 0 ? gios_test_elapsed_ms (start) : -1;
}

/* Two idle clients hold both job slots; with idle-timeout set, their reads
 * give up after it, and the active client is served. */
static void
test_idle_jobs (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncQueue) errors = g_async_queue_new ();
  JobsForever jobs = { server, 2, upper_line_job, errors, cancellable };
  g_autoptr(GiosTestBlocked) listener = NULL;
  int idle[2];
  gint64 took;

  gios_server_socket_set_idle_timeout (server, 300);
  g_assert_cmpint (gios_server_socket_get_idle_timeout (server), ==, 300);
  listener = gios_test_blocked_race (listen_jobs_forever, &jobs);
  for (guint i = 0; i < 2; i++)
    idle[i] = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  took = ask (gios_test_server_port (server), "hello\n", "HELLO\n");
  g_assert_cmpint (took, >=, 0);
  g_assert_cmpint (took, <, 300 * 3 / 2 + 500);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GError) error = g_async_queue_timeout_pop (errors, 5 * G_USEC_PER_SEC);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_assert_nonnull (strstr (error->message, "idle"));
      close (idle[i]);
    }
  gios_test_blocked_cancel (listener, cancellable);
  g_assert_true (gios_server_socket_wait_jobs (server, 2000, NULL));
}

typedef struct
{
  GiosServerSocket *server;
  GCancellable *cancellable;
  guint served;
  guint idled;
} Classic;

static gpointer
classic_thread (gpointer data)
{
  Classic *c = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (c->server);

  while (gios_server_socket_listen (c->server, GIOS_TIMEOUT_FOREVER, c->cancellable, NULL))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = gios_device_stream_read_line (stream, 100, NULL, GIOS_TIMEOUT_FOREVER,
                                                            c->cancellable, &error);

      if (line != NULL)
        {
          g_autofree char *upper = g_ascii_strup (line, -1);

          gios_device_stream_write_line (stream, upper, NULL, NULL);
          c->served++;
        }
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        c->idled++;
      gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (c->server), NULL);
    }
  return NULL;
}

/* One idle client holds the classic model's only connection until the
 * idle timeout; then the next client is served. */
static void
test_idle_classic (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Classic c = { .server = server, .cancellable = cancellable };
  GThread *thread;
  gint64 took;
  int idle;

  g_object_set (server, "idle-timeout", 300, NULL);
  thread = g_thread_new ("classic", classic_thread, &c);
  idle = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  took = ask (gios_test_server_port (server), "next\n", "NEXT\n");
  g_assert_cmpint (took, >=, 0);
  g_assert_cmpint (took, <, 300 * 3 / 2 + 500);
  g_cancellable_cancel (cancellable);
  g_thread_join (thread);
  g_assert_cmpuint (c.idled, ==, 1);
  g_assert_cmpuint (c.served, ==, 1);
  close (idle);
}

typedef struct
{
  LineServer lines;
  guint dropped_idle;
  gint64 start;
  gint64 idle_after;
} IdleLoop;

static void
on_idle_disconnected (GiosSocketCommon *socket,
                      gboolean          intentional,
                      GError           *reason,
                      IdleLoop         *il)
{
  if (!intentional && g_error_matches (reason, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      il->dropped_idle++;
      il->idle_after = gios_test_elapsed_ms (il->start);
    }
}

static gboolean
on_idle_loop_accepted (GiosServerSocket *server,
                       GiosSocket       *connection,
                       IdleLoop         *il)
{
  g_signal_connect (connection, "disconnected", G_CALLBACK (on_idle_disconnected), il);
  serve_lines_on (&il->lines, connection);
  return TRUE;
}

typedef struct
{
  guint port;
  guint answered;
  gint done;
} Chatter;

static gpointer
chat (gpointer data)
{
  Chatter *c = data;
  int fd = gios_test_raw_connect (AF_INET, c->port);

  /* A line every 100 ms for a second: never idle for 300 ms. */
  for (guint i = 0; i < 10; i++)
    {
      char reply[16] = { 0 };
      struct pollfd pfd = { .fd = fd, .events = POLLIN };

      g_assert_cmpint (send (fd, "hi\n", 3, MSG_NOSIGNAL), ==, 3);
      if (poll (&pfd, 1, 2000) != 1 || recv (fd, reply, 3, MSG_WAITALL) != 3)
        break;
      if (strcmp (reply, "hi\n") == 0)
        c->answered++;
      g_usleep (100 * 1000);
    }
  close (fd);
  g_atomic_int_set (&c->done, TRUE);
  return NULL;
}

/* On the main loop, a connection that sends nothing for idle-timeout is
 * dropped and says so; one that talks is not. */
static void
test_idle_main_loop (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GError) error = NULL;
  IdleLoop il = { { 0 } };
  Chatter chatter = { .port = gios_test_server_port (server) };
  Heartbeat heartbeat = { 0 };
  GThread *thread;
  guint beat_id;
  int idle;

  gios_server_socket_set_idle_timeout (server, 300);
  g_signal_connect (server, "accepted", G_CALLBACK (on_idle_loop_accepted), &il);
  g_assert_true (gios_server_socket_start (server, &error));
  il.start = g_get_monotonic_time ();
  idle = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  thread = g_thread_new ("chat", chat, &chatter);
  /* Iterations that end by themselves: the thread's flag has no event. */
  beat_id = g_timeout_add (10, beat, &heartbeat);
  GIOS_TEST_RUN_UNTIL_WITHIN (20, g_atomic_int_get (&chatter.done) && il.lines.n_open == 0);
  g_source_remove (beat_id);
  g_thread_join (thread);

  g_assert_cmpuint (chatter.answered, ==, 10);
  g_assert_cmpuint (il.dropped_idle, ==, 1);
  g_assert_cmpint (il.idle_after, >=, 300 * 95 / 100);
  g_assert_cmpint (il.idle_after, <, 300 * 3 / 2 + 200);
  close (idle);
}

static void
on_other_event (GiosWatch    *watch,
                GIOCondition  revents,
                gpointer      data)
{
}

static gboolean
count_iteration (gpointer data)
{
  (*(guint *) data)++;
  return G_SOURCE_CONTINUE;
}

/* A connection served from the loop that has no call pending (its last
 * request answered, the next read not started yet) and whose peer resets:
 * the descriptor reports an error and a hang-up on every poll, whatever it
 * is watched for. The loop does not spin on it meanwhile, and the next read
 * reports the reset. @data: other watches on the context, so that the
 * reactor polls through GLib (none) or through its epoll set (eight). */
static void
test_main_loop_reset_between_calls (gconstpointer data)
{
  guint n_others = GPOINTER_TO_UINT (data);
  g_autoptr(GiosTestPair) pair = gios_test_pair_new_accepted ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) failed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  GiosReactor *reactor = _gios_reactor_ref (NULL, &error);
  GiosWatch *others[8];
  int other_fds[8][2];
  guint iterations = 0;
  guint ticks = 0;
  guint tick_id;
  gint64 end;

  g_assert_no_error (error);
  g_assert_cmpuint (n_others, <=, G_N_ELEMENTS (others));
  for (guint i = 0; i < n_others; i++)
    {
      gios_test_socketpair (other_fds[i]);
      others[i] = _gios_reactor_watch (reactor, other_fds[i][0], G_IO_IN, on_other_event, NULL);
    }

  gios_test_peer_write_str (pair->peer, "hi\n");
  gios_device_stream_read_line_async (pair->stream, 0, 5000, G_PRIORITY_DEFAULT, NULL,
                                      gios_test_on_async_done, &result);
  line = gios_device_stream_read_line_finish (pair->stream, gios_test_wait_result (&result),
                                              NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "hi");

  gios_test_pair_reset_peer (pair);
  /* A tick every 10 ms for 200 ms: some 20 iterations, not thousands. */
  tick_id = g_timeout_add (10, count_iteration, &ticks);
  end = g_get_monotonic_time () + 200 * 1000;
  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, TRUE);
      iterations++;
    }
  g_source_remove (tick_id);
  g_assert_cmpuint (ticks, >, 0);
  g_assert_cmpuint (iterations, <, 3 * ticks + 20);

  gios_device_stream_read_line_async (pair->stream, 0, 5000, G_PRIORITY_DEFAULT, NULL,
                                      gios_test_on_async_done, &failed);
  g_clear_pointer (&line, g_free);
  line = gios_device_stream_read_line_finish (pair->stream, gios_test_wait_result (&failed),
                                              NULL, &error);
  g_assert_null (line);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);

  for (guint i = 0; i < n_others; i++)
    {
      _gios_watch_destroy (others[i]);
      close (other_fds[i][0]);
      close (other_fds[i][1]);
    }
  g_source_unref ((GSource *) reactor);
}

/* ------------------------------------------------------------------------ */
/* A job's cancellable                                                        */

typedef struct
{
  GMutex lock;
  GCond cond;
  GCancellable *cancellables[3];
  gint tids[3];
  guint n;
  GError *errors[3];
  gint64 returned[3];
  gint n_returned;
} CancelJobs;

static void
read_forever_job (GiosSocket   *connection,
                  GCancellable *cancellable,
                  gpointer      data)
{
  CancelJobs *cj = data;
  guint8 buffer[16];
  guint i;

  g_mutex_lock (&cj->lock);
  i = cj->n++;
  cj->cancellables[i] = g_object_ref (cancellable);
  note_tid (&cj->tids[i]);
  g_cond_broadcast (&cj->cond);
  g_mutex_unlock (&cj->lock);
  /* Waits in recv() itself: cancelling must wake it all the same. */
  (void) gios_device_stream_read (GIOS_DEVICE_STREAM (connection), buffer, sizeof buffer,
                                  GIOS_TIMEOUT_FOREVER, cancellable, &cj->errors[i]);
  g_mutex_lock (&cj->lock);
  cj->returned[i] = g_get_monotonic_time ();
  cj->n_returned++;
  g_cond_broadcast (&cj->cond);
  g_mutex_unlock (&cj->lock);
}

/* Cancelling the jobs' cancellable (here from outside, as a program that
 * stops its jobs on a signal does) wakes every job, even where its read
 * waits in the device itself; the server goes on, and the jobs that come
 * after get a cancellable that is not cancelled. */
static void
test_job_cancellable (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  CancelJobs cj = { 0 };
  JobsForever jobs = { server, 0, read_forever_job, &cj };
  g_autoptr(GiosTestBlocked) listener = NULL;
  int clients[3];
  gint64 start;

  g_mutex_init (&cj.lock);
  g_cond_init (&cj.cond);
  listener = gios_test_blocked_race (listen_jobs_forever, &jobs);
  for (guint i = 0; i < 2; i++)
    clients[i] = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  g_mutex_lock (&cj.lock);
  while (cj.n < 2)
    g_cond_wait (&cj.cond, &cj.lock);
  g_mutex_unlock (&cj.lock);
  for (guint i = 0; i < 2; i++)
    wait_for_tid (&cj.tids[i]);

  start = g_get_monotonic_time ();
  g_cancellable_cancel (cj.cancellables[0]);
  g_mutex_lock (&cj.lock);
  while (cj.n_returned < 2)
    g_assert_true (g_cond_wait_until (&cj.cond, &cj.lock, start + 2 * G_USEC_PER_SEC));
  g_mutex_unlock (&cj.lock);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpint ((cj.returned[i] - start) / 1000, <, 500);
      g_assert_error (cj.errors[i], G_IO_ERROR, G_IO_ERROR_CANCELLED);
    }

  /* The next job starts with a cancellable of its own, not cancelled. */
  clients[2] = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  g_mutex_lock (&cj.lock);
  while (cj.n < 3)
    g_cond_wait (&cj.cond, &cj.lock);
  g_mutex_unlock (&cj.lock);
  g_assert_true (cj.cancellables[2] != cj.cancellables[0]);
  wait_for_tid (&cj.tids[2]);
  g_assert_cmpint (cj.n_returned, ==, 2);

  /* close() cancels it too. */
  start = g_get_monotonic_time ();
  gios_server_socket_close (server, NULL);
  gios_test_blocked_join_error (listener, start, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_true (gios_server_socket_wait_jobs (server, 2000, NULL));
  g_assert_true (g_cancellable_is_cancelled (cj.cancellables[2]));
  for (guint i = 0; i < 3; i++)
    {
      g_clear_error (&cj.errors[i]);
      g_object_unref (cj.cancellables[i]);
      close (clients[i]);
    }
  g_mutex_clear (&cj.lock);
  g_cond_clear (&cj.cond);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/robustness/race/listen-against-drop", test_race_listen_against_drop);
  g_test_add_func ("/robustness/race/listen-against-close", test_race_listen_against_close);
  g_test_add_func ("/robustness/misuse/concurrent-calls", test_misuse_concurrent_calls);
  g_test_add_func ("/robustness/slow-reader/write-and-close", test_slow_reader_write_and_close);
  g_test_add_func ("/robustness/slow-reader/send-message", test_slow_reader_send_message);
  g_test_add_func ("/robustness/slow-reader/drop-woken-by-close", test_slow_reader_drop_woken_by_close);
  g_test_add_func ("/robustness/slow-reader/jobs-close", test_slow_reader_jobs_close);
  g_test_add_func ("/robustness/main-loop/close-after-flush-timeout", test_main_loop_close_after_flush_timeout);
  g_test_add_func ("/robustness/main-loop/write-would-block", test_main_loop_write_would_block);
  g_test_add_func ("/robustness/main-loop/flooding-client", test_main_loop_flooding_client);
  g_test_add_func ("/robustness/main-loop/write-async", test_main_loop_write_async);
  g_test_add_data_func ("/robustness/main-loop/reset-between-calls/glib-poll", GUINT_TO_POINTER (0),
                        test_main_loop_reset_between_calls);
  g_test_add_data_func ("/robustness/main-loop/reset-between-calls/epoll", GUINT_TO_POINTER (8),
                        test_main_loop_reset_between_calls);
  g_test_add_func ("/robustness/jobs/cancellable", test_job_cancellable);
  g_test_add_func ("/robustness/idle/jobs", test_idle_jobs);
  g_test_add_func ("/robustness/idle/classic", test_idle_classic);
  g_test_add_func ("/robustness/idle/main-loop", test_idle_main_loop);

  return g_test_run ();
}
