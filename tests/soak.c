/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Soak: each serving model of GiosServerSocket runs for a few seconds under
 * connect/disconnect churn and fan-in, and must then give back what it took.
 *
 * Models: classic (listen + read/write + drop_connection on a thread), jobs
 * (listen_job with a limit and with none), accept (accept on a thread,
 * GiosSocket handed to a thread pool), and the main loop (start + ::accepted,
 * serving with watches, and with read_line_async/flush_async).
 *
 * Load, from client threads in this process, over loopback to a port-0
 * server: churn threads make one short connection after another (a request
 * and its reply; some close with SO_LINGER {1, 0} resets, some close before
 * the reply, some send nothing); from half-time on, a fan-in thread also
 * opens FAN_IN_CONNECTIONS connections at once and makes FAN_IN_REQUESTS
 * request/replies on each, round after round. Every request whose reply is
 * awaited must get exactly "ok " + the request; every connection a client
 * made must be accepted and finished by the server, once.
 *
 * Each model runs twice: a short warm-up, then the measured run. After each
 * (the server closed, its jobs waited for, its context freed):
 * - open descriptors (/proc/self/fd) are back to the count before, exactly:
 *   no margin. main() makes the two descriptors GLib keeps for the process
 *   once made (the global default main context's wake-up, and its worker
 *   context's, for GTask), and the main-loop models serve on a context of
 *   their own, freed at the end with the reactor's epoll descriptor. The
 *   count may take a few milliseconds to settle: a pool thread can still
 *   drop its last reference to a connection after wait_jobs() returned.
 * - threads are back to the count before: no job, worker or client is
 *   left. GLib's shared pool threads leave on their own time, and their
 *   malloc caches count as memory in use until they have: the counts below
 *   are taken once they have gone.
 * - resident memory (/proc/self/statm) after the measured run is at most
 *   RSS_MARGIN (8 MiB) above the count after the warm-up, which has grown
 *   glibc's arenas to the same concurrency. Both counts come after
 *   malloc_trim(0): what is held, not what the allocator caches. Under
 *   AddressSanitizer the RSS is reported but not compared (its quarantine
 *   keeps freed memory resident by design, 256 MiB by default; LeakSanitizer
 *   checks for leaks at exit instead), nor under valgrind.
 * - the bytes in malloc'd blocks (glibc's mallinfo2(), or ASan's own count)
 *   are at most HEAP_MARGIN (1 MiB) above the count after the warm-up: a
 *   leak of reachable memory, which no leak checker reports, shows here from
 *   about 10 bytes a connection. Compared with G_SLICE=always-malloc (meson
 *   sets it), since GLib 2.74's slice allocator keeps magazines for as many
 *   threads as ran (up to a few MiB after the fan-in on 200 jobs).
 *
 * GIOS_SOAK_SECONDS sets the seconds of load per model (default
 * DEFAULT_SECONDS); the program runs about 6 × (that + WARM_UP_SECONDS).
 */
#include <gios/gios.h>

#include <errno.h>
#include <dirent.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define DEFAULT_SECONDS 4.0
#define WARM_UP_SECONDS 0.5
#define CHURN_THREADS 3
#define FAN_IN_CONNECTIONS 200
#define FAN_IN_REQUESTS 4
#define JOBS_LIMIT 8
#define ACCEPT_WORKERS 16
#define RSS_MARGIN (8 * 1024 * 1024)
/* Measured: at most +64 KiB over a run of 60,000-130,000 connections. A
 * leak of 10 bytes a connection goes over. */
#define HEAP_MARGIN (1024 * 1024)
/* Loopback serves 10,000-30,000 connections a second here, under ASan too:
 * a model that serves fewer than this is stalling, not slow. */
#define MIN_CONNECTIONS_PER_SECOND 250
/* Every wait for a peer gives up after this: a stuck model fails, it does
 * not hang. */
#define IO_TIMEOUT_MS 10000
#define MAX_LINE 128
/* Count bounds, next to the time bounds. */
#define MAX_CHURN_PER_THREAD 500000
#define MAX_FAN_IN_ROUNDS 10000
#define MAX_REQUESTS_PER_CONNECTION 64

/* ------------------------------------------------------------------------ */
/* What the process holds                                                     */

static int
compare_fd_entries (gconstpointer a,
                    gconstpointer b)
{
  return atoi (*(const char * const *) a) - atoi (*(const char * const *) b);
}

/* The open descriptors, as "fd -> target", in order. */
static GPtrArray *
list_fds (void)
{
  GPtrArray *fds = g_ptr_array_new_with_free_func (g_free);
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  int own;

  g_assert_nonnull (dir);
  own = dirfd (dir);
  while ((entry = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      char target[256] = "";
      gssize n;

      if (entry->d_name[0] == '.' || atoi (entry->d_name) == own)
        continue;
      path = g_strdup_printf ("/proc/self/fd/%s", entry->d_name);
      n = readlink (path, target, sizeof target - 1);
      target[MAX (n, 0)] = '\0';
      g_ptr_array_add (fds, g_strdup_printf ("%s -> %s", entry->d_name, target));
    }
  closedir (dir);
  g_ptr_array_sort (fds, compare_fd_entries);
  return fds;
}

static guint
count_fds (void)
{
  g_autoptr(GPtrArray) fds = list_fds ();

  return fds->len;
}

static gsize
rss_bytes (void)
{
  g_autofree char *statm = NULL;
  g_auto(GStrv) fields = NULL;

#ifdef __GLIBC__
  malloc_trim (0);
#endif
  g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
  fields = g_strsplit (statm, " ", 0);
  g_assert_cmpuint (g_strv_length (fields), >=, 2);
  return (gsize) g_ascii_strtoull (fields[1], NULL, 10) * (gsize) sysconf (_SC_PAGESIZE);
}

#if UNDER_ASAN
/* From <sanitizer/allocator_interface.h>, which not every compiler ships. */
size_t __sanitizer_get_current_allocated_bytes (void);
#endif

/* Bytes the program holds in malloc'd blocks (not the pages the allocator
 * keeps, nor ASan's quarantine): what a leak of reachable memory would make
 * grow. */
static gsize
heap_in_use (void)
{
#if UNDER_ASAN
  return __sanitizer_get_current_allocated_bytes ();
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  struct mallinfo2 info = mallinfo2 ();

  return info.uordblks + info.hblkhd;
#else
  return 0;
#endif
}

/* The threads of this process, from /proc/self/status. */
static guint
count_threads (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nThreads:");
  g_assert_nonnull (line);
  return (guint) g_ascii_strtoull (line + strlen ("\nThreads:"), NULL, 10);
}

/* valgrind preloads its vgpreload_*.so into the program it runs. */
static gboolean
under_valgrind (void)
{
  const char *preload = g_getenv ("LD_PRELOAD");

  return preload != NULL && strstr (preload, "vgpreload") != NULL;
}

static double
mib (gsize bytes)
{
  return bytes / (1024.0 * 1024.0);
}

/* ------------------------------------------------------------------------ */
/* The run of one model                                                       */

typedef struct _Soak Soak;

typedef struct
{
  const char *name;
  void (*start) (Soak *soak);   /* serves until stop */
  void (*stop) (Soak *soak);    /* closes the server, waits for its work */
  gboolean main_loop;           /* serves on this thread's context */
  guint max_jobs;
} Model;

struct _Soak
{
  const Model *model;
  GiosServerSocket *server;
  guint port;
  gint64 deadline;              /* of the load */
  gint64 fan_in_from;           /* when the fan-in starts */
  gint64 hard_deadline;         /* of everything: a stuck model fails */
  GMainContext *context;        /* main-loop models */
  GThread *server_thread;
  GThreadPool *workers;         /* the accept model */
  guint expected;               /* connections the clients made */

  /* The server side, under lock. */
  GMutex lock;
  GCond cond;
  guint accepted;
  guint finished;               /* connections the server is done with */
  guint lines;
  guint replies;
  guint live;
  guint peak;
  guint read_errors;            /* resets and the like, from abrupt clients */
  char *server_failure;

  /* The clients: they write their own Client struct only. */
  gint clients_running;
};

typedef struct
{
  Soak *soak;
  guint id;
  GThread *thread;
  guint connects;
  guint expected;               /* requests whose reply was awaited */
  guint replied;                /* ...and came, exactly */
  guint sent_unanswered;        /* requests sent by clients that did not wait */
  guint resets;
  guint early;
  guint silent;
  guint rounds;
  char *failure;
} Client;

static void
server_fail (Soak       *soak,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
server_fail (Soak       *soak,
             const char *format,
             ...)
{
  va_list args;

  g_mutex_lock (&soak->lock);
  if (soak->server_failure == NULL)
    {
      va_start (args, format);
      soak->server_failure = g_strdup_vprintf (format, args);
      va_end (args);
    }
  g_cond_broadcast (&soak->cond);
  g_mutex_unlock (&soak->lock);
}

static void
client_fail (Client     *c,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
client_fail (Client     *c,
             const char *format,
             ...)
{
  va_list args;

  if (c->failure != NULL)
    return;
  va_start (args, format);
  c->failure = g_strdup_vprintf (format, args);
  va_end (args);
}

static void
note_accepted (Soak *soak)
{
  g_mutex_lock (&soak->lock);
  soak->accepted++;
  soak->live++;
  soak->peak = MAX (soak->peak, soak->live);
  g_mutex_unlock (&soak->lock);
}

static void
note_finished (Soak *soak)
{
  g_mutex_lock (&soak->lock);
  soak->finished++;
  soak->live--;
  g_cond_broadcast (&soak->cond);
  g_mutex_unlock (&soak->lock);
}

static void
note_line (Soak     *soak,
           gboolean  replied)
{
  g_mutex_lock (&soak->lock);
  soak->lines++;
  if (replied)
    soak->replies++;
  g_mutex_unlock (&soak->lock);
}

/* What an abrupt client causes on its connection: a reset, or a write to
 * a peer that has gone. */
static gboolean
is_peer_gone_error (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
}

/* A read that ended without a line: the end of input is the normal end;
 * a reset or a closed connection is what abrupt clients cause; anything
 * else (a timeout: a client neither sent nor closed) is a failure. */
static void
note_read_end (Soak   *soak,
               GError *error)
{
  if (error == NULL)
    return;
  if (is_peer_gone_error (error) || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    {
      g_mutex_lock (&soak->lock);
      soak->read_errors++;
      g_mutex_unlock (&soak->lock);
      return;
    }
  server_fail (soak, "%s: reading a request: %s (%s %d)", soak->model->name, error->message,
               g_quark_to_string (error->domain), error->code);
}

static char *
reply_for (const char *line)
{
  return g_strconcat ("ok ", line, NULL);
}

/* The blocking models' request loop: a line, its reply, until the end. */
static void
serve_stream (Soak             *soak,
              GiosDeviceStream *stream,
              GCancellable     *cancellable)
{
  for (guint n = 0; n < MAX_REQUESTS_PER_CONNECTION; n++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = gios_device_stream_read_line (stream, MAX_LINE, NULL, IO_TIMEOUT_MS,
                                                            cancellable, &error);
      g_autofree char *reply = NULL;
      gboolean ok;

      if (line == NULL)
        {
          note_read_end (soak, error);
          return;
        }
      reply = reply_for (line);
      /* A client that closed before its reply makes these fail: fine. */
      ok = gios_device_stream_write_line (stream, reply, cancellable, &error) &&
           gios_device_stream_flush (stream, IO_TIMEOUT_MS, cancellable, &error);
      note_line (soak, ok);
      if (!ok)
        return;
    }
  server_fail (soak, "%s: a connection made more than %d requests", soak->model->name,
               MAX_REQUESTS_PER_CONNECTION);
}

static int
remaining_ms (Soak *soak)
{
  gint64 left = soak->hard_deadline - g_get_monotonic_time ();

  return (int) CLAMP (left / 1000, 0, G_MAXINT);
}

/* close() from this thread while the serving thread waits in listen,
 * accept or listen_job: that wakes it with G_IO_ERROR_CLOSED. */
static gboolean
is_closing_error (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
         g_error_matches (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED);
}

/* ------------------------------------------------------------------------ */
/* Classic: listen, read and write, drop_connection                           */

static gpointer
classic_thread (gpointer data)
{
  Soak *soak = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (soak->server);

  for (guint n = 0; n < G_MAXUINT; n++)
    {
      g_autoptr(GError) error = NULL;

      if (!gios_server_socket_listen (soak->server, remaining_ms (soak), NULL, &error))
        {
          if (!is_closing_error (error))
            server_fail (soak, "classic: listen: %s", error->message);
          break;
        }
      note_accepted (soak);
      serve_stream (soak, stream, NULL);
      if (!gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (soak->server), &error) &&
          !is_peer_gone_error (error))
        server_fail (soak, "classic: drop_connection: %s", error->message);
      note_finished (soak);
    }
  return NULL;
}

static void
classic_start (Soak *soak)
{
  soak->server_thread = g_thread_new ("classic", classic_thread, soak);
}

static void
threaded_stop (Soak *soak)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_server_socket_close (soak->server, &error));
  g_assert_no_error (error);
  g_thread_join (g_steal_pointer (&soak->server_thread));
}

/* ------------------------------------------------------------------------ */
/* Jobs: listen_job with and without a limit                                  */

static void
echo_job (GiosSocket   *connection,
          GCancellable *cancellable,
          gpointer      data)
{
  Soak *soak = data;

  note_accepted (soak);
  serve_stream (soak, GIOS_DEVICE_STREAM (connection), cancellable);
  note_finished (soak);
}

static gpointer
jobs_thread (gpointer data)
{
  Soak *soak = data;

  /* In slices: listen_job returns at its timeout while its jobs go on, and
   * is called again. */
  for (guint n = 0; n < G_MAXUINT; n++)
    {
      g_autoptr(GError) error = NULL;
      int slice = MIN (remaining_ms (soak), 500);

      if (slice == 0)
        {
          server_fail (soak, "%s: still serving at the hard deadline", soak->model->name);
          break;
        }
      if (gios_server_socket_listen_job (soak->server, slice, soak->model->max_jobs, echo_job,
                                         soak, NULL, NULL, &error) < 0)
        {
          if (!is_closing_error (error))
            server_fail (soak, "%s: listen_job: %s", soak->model->name, error->message);
          break;
        }
    }
  return NULL;
}

static void
jobs_start (Soak *soak)
{
  soak->server_thread = g_thread_new ("jobs", jobs_thread, soak);
}

static void
jobs_stop (Soak *soak)
{
  g_autoptr(GError) error = NULL;

  threaded_stop (soak);
  g_assert_true (gios_server_socket_wait_jobs (soak->server, IO_TIMEOUT_MS, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gios_server_socket_get_n_jobs (soak->server), ==, 0);
  if (soak->model->max_jobs > 0)
    g_assert_cmpuint (soak->peak, <=, soak->model->max_jobs);
}

/* ------------------------------------------------------------------------ */
/* Accept: GiosSocket objects handed to a thread pool                         */

static void
accept_worker (gpointer data,
               gpointer pool_data)
{
  GiosSocket *connection = data;
  Soak *soak = pool_data;
  g_autoptr(GError) error = NULL;

  serve_stream (soak, GIOS_DEVICE_STREAM (connection), NULL);
  if (!gios_device_stream_close (GIOS_DEVICE_STREAM (connection), &error) && !is_peer_gone_error (error))
    server_fail (soak, "accept: close: %s", error->message);
  g_object_unref (connection);
  note_finished (soak);
}

static gpointer
accept_thread (gpointer data)
{
  Soak *soak = data;

  for (guint n = 0; n < G_MAXUINT; n++)
    {
      g_autoptr(GError) error = NULL;
      GiosSocket *connection = gios_server_socket_accept (soak->server, remaining_ms (soak),
                                                          NULL, &error);

      if (connection == NULL)
        {
          if (!is_closing_error (error))
            server_fail (soak, "accept: %s", error->message);
          break;
        }
      note_accepted (soak);
      g_thread_pool_push (soak->workers, connection, NULL);
    }
  return NULL;
}

static void
accept_start (Soak *soak)
{
  soak->workers = g_thread_pool_new (accept_worker, soak, ACCEPT_WORKERS, FALSE, NULL);
  soak->server_thread = g_thread_new ("accept", accept_thread, soak);
}

static void
accept_stop (Soak *soak)
{
  threaded_stop (soak);
  g_thread_pool_free (g_steal_pointer (&soak->workers), FALSE, TRUE);
}

/* ------------------------------------------------------------------------ */
/* Main loop: start and ::accepted, then watches or async calls               */

typedef struct
{
  Soak *soak;
  gboolean flushing;    /* an output watch finishes a reply */
} WatchConn;

static void
watch_conn_free (gpointer data)
{
  WatchConn *wc = data;

  note_finished (wc->soak);
  g_free (wc);
}

static gboolean
end_watched (GiosDeviceStream *stream)
{
  /* Removes the watch, and with it the last reference to @stream. */
  gios_device_stream_close (stream, NULL);
  return G_SOURCE_REMOVE;
}

/* The peer did not take a whole reply at once (it never happens with
 * these few bytes, but a watch server must not block). */
static gboolean
on_watch_output (GiosDeviceStream *stream,
                 GIOCondition      condition,
                 gpointer          data)
{
  WatchConn *wc = data;
  g_autoptr(GError) error = NULL;

  if (gios_device_stream_flush (stream, 0, NULL, &error))
    {
      note_line (wc->soak, TRUE);
      wc->flushing = FALSE;
      return G_SOURCE_REMOVE;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return G_SOURCE_CONTINUE;
  note_line (wc->soak, FALSE);
  wc->flushing = FALSE;
  return G_SOURCE_REMOVE;   /* the input watch sees the end */
}

static gboolean
on_watch_input (GiosDeviceStream *stream,
                GIOCondition      condition,
                gpointer          data)
{
  WatchConn *wc = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *reply = NULL;

  if (wc->flushing)
    return G_SOURCE_CONTINUE;   /* lock-step clients: only an end comes now */
  line = gios_device_stream_read_line (stream, MAX_LINE, NULL, 0, NULL, &error);
  if (line == NULL)
    {
      /* Half a line: the watch is called again when more arrives. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return G_SOURCE_CONTINUE;
      note_read_end (wc->soak, error);
      return end_watched (stream);
    }
  reply = reply_for (line);
  if (!gios_device_stream_write_line (stream, reply, NULL, NULL))
    {
      note_line (wc->soak, FALSE);
      return end_watched (stream);
    }
  if (gios_device_stream_flush (stream, 0, NULL, &error))
    {
      note_line (wc->soak, TRUE);
      return G_SOURCE_CONTINUE;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      note_line (wc->soak, FALSE);
      return end_watched (stream);
    }
  wc->flushing = TRUE;
  gios_device_stream_add_watch (stream, G_IO_OUT, on_watch_output, wc, NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_accepted_watch (GiosServerSocket *server,
                   GiosSocket       *connection,
                   Soak             *soak)
{
  WatchConn *wc = g_new0 (WatchConn, 1);

  wc->soak = soak;
  note_accepted (soak);
  gios_device_stream_add_watch (GIOS_DEVICE_STREAM (connection), G_IO_IN, on_watch_input, wc,
                                watch_conn_free);
  return TRUE;
}

typedef struct
{
  Soak *soak;
  GiosDeviceStream *stream;
} AsyncConn;

static void on_async_line (GObject *source, GAsyncResult *result, gpointer data);

static void
async_conn_end (AsyncConn *ac)
{
  gios_device_stream_close (ac->stream, NULL);
  g_object_unref (ac->stream);
  note_finished (ac->soak);
  g_free (ac);
}

static void
async_read_next (AsyncConn *ac)
{
  gios_device_stream_read_line_async (ac->stream, MAX_LINE, IO_TIMEOUT_MS, G_PRIORITY_DEFAULT,
                                      NULL, on_async_line, ac);
}

static void
on_async_flushed (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  AsyncConn *ac = data;
  gboolean ok = gios_device_stream_flush_finish (ac->stream, result, NULL);

  note_line (ac->soak, ok);
  if (ok)
    async_read_next (ac);
  else
    async_conn_end (ac);
}

static void
on_async_line (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  AsyncConn *ac = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = gios_device_stream_read_line_finish (ac->stream, result, NULL, &error);
  g_autofree char *reply = NULL;

  if (line == NULL)
    {
      note_read_end (ac->soak, error);
      async_conn_end (ac);
      return;
    }
  reply = reply_for (line);
  if (!gios_device_stream_write_line (ac->stream, reply, NULL, NULL))
    {
      note_line (ac->soak, FALSE);
      async_conn_end (ac);
      return;
    }
  gios_device_stream_flush_async (ac->stream, IO_TIMEOUT_MS, G_PRIORITY_DEFAULT, NULL,
                                  on_async_flushed, ac);
}

static gboolean
on_accepted_async (GiosServerSocket *server,
                   GiosSocket       *connection,
                   Soak             *soak)
{
  AsyncConn *ac = g_new0 (AsyncConn, 1);

  ac->soak = soak;
  ac->stream = GIOS_DEVICE_STREAM (g_object_ref (connection));
  note_accepted (soak);
  async_read_next (ac);
  return TRUE;
}

static void
main_loop_start (Soak      *soak,
                 GCallback  on_accepted)
{
  g_autoptr(GError) error = NULL;

  g_signal_connect (soak->server, "accepted", on_accepted, soak);
  g_assert_true (gios_server_socket_start (soak->server, &error));
  g_assert_no_error (error);
}

static void
watch_start (Soak *soak)
{
  main_loop_start (soak, G_CALLBACK (on_accepted_watch));
}

static void
async_start (Soak *soak)
{
  main_loop_start (soak, G_CALLBACK (on_accepted_async));
}

static void
main_loop_stop (Soak *soak)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_server_socket_close (soak->server, &error));
  g_assert_no_error (error);
  /* What closing left to dispatch. */
  for (int i = 0; i < 100 && g_main_context_iteration (soak->context, FALSE); i++)
    ;
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                    */

/* Source addresses rotate over 127.0.0.2-251: connections closed by the
 * client leave TIME_WAIT sockets, which would use up the ephemeral ports of
 * a single address pair within seconds. */
static gint source_counter;

static int
client_connect (Client *c)
{
  struct sockaddr_in src = { .sin_family = AF_INET };
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons (c->soak->port) };
  guint n = (guint) g_atomic_int_add (&source_counter, 1);
  int one = 1;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    {
      client_fail (c, "socket: %s", g_strerror (errno));
      return -1;
    }
  src.sin_addr.s_addr = htonl (INADDR_LOOPBACK + 1 + n % 250);
  dst.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  (void) setsockopt (fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  (void) setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind (fd, (struct sockaddr *) &src, sizeof src) != 0 ||
      connect (fd, (struct sockaddr *) &dst, sizeof dst) != 0)
    {
      client_fail (c, "connect to port %u: %s", c->soak->port, g_strerror (errno));
      close (fd);
      return -1;
    }
  c->connects++;
  return fd;
}

static void
close_reset (int fd)
{
  struct linger lg = { 1, 0 };

  (void) setsockopt (fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close (fd);
}

static gboolean
send_line (Client     *c,
           int         fd,
           const char *line)
{
  g_autofree char *text = g_strconcat (line, "\n", NULL);
  gsize len = strlen (text);
  gssize n = send (fd, text, len, MSG_NOSIGNAL);

  if (n != (gssize) len)
    {
      client_fail (c, "sending \"%s\": %s", line, n < 0 ? g_strerror (errno) : "short write");
      return FALSE;
    }
  return TRUE;
}

/* Reads one line within IO_TIMEOUT_MS and checks that it is the reply to
 * @request. */
static gboolean
read_reply (Client     *c,
            int         fd,
            const char *request)
{
  g_autofree char *expect = reply_for (request);
  gint64 deadline = g_get_monotonic_time () + IO_TIMEOUT_MS * 1000;
  char buf[MAX_LINE * 2];
  gsize len = 0;

  while (len < sizeof buf - 1)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      int left = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      gssize n;
      char *nl;

      if (left <= 0 || poll (&pfd, 1, left) == 0)
        {
          client_fail (c, "no reply to \"%s\" within %d ms", request, IO_TIMEOUT_MS);
          return FALSE;
        }
      n = recv (fd, buf + len, sizeof buf - 1 - len, 0);
      if (n <= 0)
        {
          client_fail (c, "reading the reply to \"%s\": %s", request,
                       n == 0 ? "end of input" : g_strerror (errno));
          return FALSE;
        }
      len += n;
      buf[len] = '\0';
      if ((nl = memchr (buf, '\n', len)) != NULL)
        {
          *nl = '\0';
          if (strcmp (buf, expect) != 0 || nl + 1 != buf + len)
            {
              client_fail (c, "reply to \"%s\" was \"%s\" (%zu bytes in all)", request, buf, len);
              return FALSE;
            }
          c->replied++;
          return TRUE;
        }
    }
  client_fail (c, "reply to \"%s\" too long", request);
  return FALSE;
}

/* One short connection after another, in six kinds. */
static gpointer
churn_thread (gpointer data)
{
  Client *c = data;
  Soak *soak = c->soak;

  for (guint i = 0; i < MAX_CHURN_PER_THREAD && g_get_monotonic_time () < soak->deadline; i++)
    {
      g_autofree char *request = g_strdup_printf ("c%u.%u", c->id, i);
      int fd = client_connect (c);

      if (fd < 0)
        break;
      switch ((i + c->id) % 10)
        {
        case 0:   /* connect and go */
          c->silent++;
          close (fd);
          break;
        case 1:   /* connect and reset */
          c->silent++;
          c->resets++;
          close_reset (fd);
          break;
        case 2:   /* close before the reply */
          if (send_line (c, fd, request))
            c->sent_unanswered++;
          c->early++;
          close (fd);
          break;
        case 3:   /* reset before the reply */
          if (send_line (c, fd, request))
            c->sent_unanswered++;
          c->early++;
          c->resets++;
          close_reset (fd);
          break;
        case 4:   /* reset after the reply */
          c->expected++;
          if (send_line (c, fd, request))
            read_reply (c, fd, request);
          c->resets++;
          close_reset (fd);
          break;
        default:  /* a request, its reply, a close */
          c->expected++;
          if (send_line (c, fd, request))
            read_reply (c, fd, request);
          close (fd);
          break;
        }
      if (c->failure != NULL)
        break;
    }
  if (g_atomic_int_dec_and_test (&soak->clients_running) && soak->context != NULL)
    g_main_context_wakeup (soak->context);
  return NULL;
}

typedef struct
{
  int fd;
  guint done;            /* replies received */
  char request[MAX_LINE];
  char buf[MAX_LINE * 2];
  gsize len;
} FanConn;

static gboolean
fan_send (Client  *c,
          FanConn *fc,
          guint    round,
          guint    index)
{
  g_snprintf (fc->request, sizeof fc->request, "f%u.%u.%u.%u", c->id, round, index, fc->done);
  c->expected++;
  return send_line (c, fc->fd, fc->request);
}

/* Takes what arrived on @fc; returns FALSE on failure. */
static gboolean
fan_receive (Client  *c,
             FanConn *fc,
             guint    round,
             guint    index)
{
  gssize n = recv (fc->fd, fc->buf + fc->len, sizeof fc->buf - 1 - fc->len, 0);
  g_autofree char *expect = reply_for (fc->request);
  char *nl;

  if (n <= 0)
    {
      client_fail (c, "fan-in: reading the reply to \"%s\": %s", fc->request,
                   n == 0 ? "end of input" : g_strerror (errno));
      return FALSE;
    }
  fc->len += n;
  fc->buf[fc->len] = '\0';
  if ((nl = memchr (fc->buf, '\n', fc->len)) == NULL)
    {
      if (fc->len == sizeof fc->buf - 1)
        {
          client_fail (c, "fan-in: reply to \"%s\" too long", fc->request);
          return FALSE;
        }
      return TRUE;
    }
  *nl = '\0';
  if (strcmp (fc->buf, expect) != 0 || nl + 1 != fc->buf + fc->len)
    {
      client_fail (c, "fan-in: reply to \"%s\" was \"%s\"", fc->request, fc->buf);
      return FALSE;
    }
  c->replied++;
  fc->done++;
  fc->len = 0;
  if (fc->done == FAN_IN_REQUESTS)
    {
      close (fc->fd);
      fc->fd = -1;
      return TRUE;
    }
  return fan_send (c, fc, round, index);
}

/* FAN_IN_CONNECTIONS connections at once, each with FAN_IN_REQUESTS
 * request/replies in lock-step, round after round. */
static gpointer
fan_in_thread (gpointer data)
{
  Client *c = data;
  Soak *soak = c->soak;
  FanConn *conns = g_new0 (FanConn, FAN_IN_CONNECTIONS);
  struct pollfd *pfds = g_new0 (struct pollfd, FAN_IN_CONNECTIONS);
  guint *index = g_new0 (guint, FAN_IN_CONNECTIONS);

  /* The first half of the run is churn alone (a classic server, which
   * serves one connection at a time, would otherwise spend it on the fan-in
   * queue); the second half mixes both. A load pattern, not
   * synchronisation. */
  {
    gint64 wait = soak->fan_in_from - g_get_monotonic_time ();

    if (wait > 0)
      g_usleep (wait);
  }

  /* At least one round, even in the warm-up. */
  for (guint round = 0;
       round < MAX_FAN_IN_ROUNDS && (round == 0 || g_get_monotonic_time () < soak->deadline);
       round++)
    {
      guint open = 0;

      for (guint i = 0; i < FAN_IN_CONNECTIONS; i++)
        conns[i] = (FanConn) { .fd = -1 };
      for (guint i = 0; i < FAN_IN_CONNECTIONS && c->failure == NULL; i++)
        if ((conns[i].fd = client_connect (c)) >= 0)
          open++;
      for (guint i = 0; i < FAN_IN_CONNECTIONS && c->failure == NULL; i++)
        fan_send (c, &conns[i], round, i);

      while (open > 0 && c->failure == NULL)
        {
          guint n = 0;
          int r;

          for (guint i = 0; i < FAN_IN_CONNECTIONS; i++)
            if (conns[i].fd >= 0)
              {
                pfds[n] = (struct pollfd) { .fd = conns[i].fd, .events = POLLIN };
                index[n++] = i;
              }
          r = poll (pfds, n, IO_TIMEOUT_MS);
          if (r == 0)
            client_fail (c, "fan-in: %u of %d connections without a reply for %d ms",
                         open, FAN_IN_CONNECTIONS, IO_TIMEOUT_MS);
          for (guint k = 0; k < n && r > 0 && c->failure == NULL; k++)
            {
              FanConn *fc = &conns[index[k]];

              if (pfds[k].revents == 0)
                continue;
              if (fan_receive (c, fc, round, index[k]) && fc->fd < 0)
                open--;
            }
        }
      for (guint i = 0; i < FAN_IN_CONNECTIONS; i++)
        if (conns[i].fd >= 0)
          close (conns[i].fd);
      if (c->failure != NULL)
        break;
      c->rounds++;
    }
  g_free (conns);
  g_free (pfds);
  g_free (index);
  if (g_atomic_int_dec_and_test (&soak->clients_running) && soak->context != NULL)
    g_main_context_wakeup (soak->context);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Running a model                                                            */

typedef struct
{
  guint connects;
  guint churn;
  guint fan_in;
  guint rounds;
  guint replied;
  guint resets;
  guint early;
  guint silent;
  guint server_lines;
  guint server_replies;
  guint server_read_errors;
  guint peak;
  double seconds;
} Figures;

static gboolean
watchdog (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the model's context until @done says so, failing after the
 * hard deadline. */
static void
run_context_until (Soak       *soak,
                   gboolean  (*done) (Soak *soak),
                   const char *what)
{
  gboolean late = FALSE;
  GSource *source = g_timeout_source_new (remaining_ms (soak));

  g_source_set_callback (source, watchdog, &late, NULL);
  g_source_attach (source, soak->context);
  while (!done (soak) && !late)
    g_main_context_iteration (soak->context, TRUE);
  g_source_destroy (source);
  g_source_unref (source);
  if (late)
    g_error ("%s: %s: not done by the hard deadline (%u accepted, %u finished)",
             soak->model->name, what, soak->accepted, soak->finished);
}

static gboolean
clients_done (Soak *soak)
{
  return g_atomic_int_get (&soak->clients_running) == 0;
}

static gboolean
server_caught_up (Soak *soak)
{
  return soak->finished >= soak->expected || soak->server_failure != NULL;
}

/* Waits until the server has finished every connection the clients made:
 * none is stuck, none lost in a queue. */
static void
wait_server_caught_up (Soak  *soak,
                       guint  connects)
{
  soak->expected = connects;
  if (soak->model->main_loop)
    {
      run_context_until (soak, server_caught_up, "finishing the connections");
      return;
    }
  g_mutex_lock (&soak->lock);
  while (!server_caught_up (soak))
    if (!g_cond_wait_until (&soak->cond, &soak->lock, soak->hard_deadline))
      break;
  g_mutex_unlock (&soak->lock);
}

static void
run_model (const Model *model,
           double       seconds,
           Figures     *figures)
{
  g_autoptr(GError) error = NULL;
  Soak soak = { .model = model };
  Client clients[CHURN_THREADS + 1] = { 0 };
  gint64 start = g_get_monotonic_time ();

  g_mutex_init (&soak.lock);
  g_cond_init (&soak.cond);
  soak.deadline = start + (gint64) (seconds * G_USEC_PER_SEC);
  soak.fan_in_from = start + (gint64) (seconds * G_USEC_PER_SEC / 2);
  /* Generous: the load, the last fan-in round, and closing. */
  soak.hard_deadline = soak.deadline + 60 * G_USEC_PER_SEC;
  if (model->main_loop)
    {
      soak.context = g_main_context_new ();
      g_main_context_push_thread_default (soak.context);
    }

  soak.server = gios_server_socket_new ();
  g_assert_true (gios_server_socket_open_address (soak.server, "127.0.0.1", "0", 1000, &error));
  g_assert_no_error (error);
  soak.port = gios_socket_common_get_port (GIOS_SOCKET_COMMON (soak.server));
  g_assert_cmpuint (soak.port, >, 0);
  model->start (&soak);

  soak.clients_running = G_N_ELEMENTS (clients);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      clients[i].soak = &soak;
      clients[i].id = i;
      clients[i].thread = g_thread_new (i < CHURN_THREADS ? "churn" : "fan-in",
                                        i < CHURN_THREADS ? churn_thread : fan_in_thread,
                                        &clients[i]);
    }
  if (model->main_loop)
    run_context_until (&soak, clients_done, "running the clients");
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    g_thread_join (clients[i].thread);

  memset (figures, 0, sizeof *figures);
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      Client *c = &clients[i];

      g_assert_cmpstr (c->failure, ==, NULL);
      /* Every request whose reply was awaited got its exact reply. */
      g_assert_cmpuint (c->replied, ==, c->expected);
      figures->connects += c->connects;
      if (i < CHURN_THREADS)
        figures->churn += c->connects;
      else
        figures->fan_in += c->connects;
      figures->rounds += c->rounds;
      figures->replied += c->replied;
      figures->resets += c->resets;
      figures->early += c->early;
      figures->silent += c->silent;
    }

  wait_server_caught_up (&soak, figures->connects);
  model->stop (&soak);

  g_assert_cmpstr (soak.server_failure, ==, NULL);
  /* Every connection was accepted and finished, once. */
  g_assert_cmpuint (soak.accepted, ==, figures->connects);
  g_assert_cmpuint (soak.finished, ==, figures->connects);
  g_assert_cmpuint (soak.live, ==, 0);
  /* The server answered at least what arrived, at most what was sent. */
  g_assert_cmpuint (soak.replies, >=, figures->replied);
  g_assert_cmpuint (soak.lines, >=, soak.replies);
  {
    guint sent = figures->replied;

    for (guint i = 0; i < CHURN_THREADS; i++)
      sent += clients[i].sent_unanswered;
    g_assert_cmpuint (soak.lines, <=, sent);
  }
  figures->server_lines = soak.lines;
  figures->server_replies = soak.replies;
  figures->server_read_errors = soak.read_errors;
  figures->peak = soak.peak;
  figures->seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;

  g_clear_object (&soak.server);
  if (model->main_loop)
    {
      while (g_main_context_iteration (soak.context, FALSE))
        ;
      g_main_context_pop_thread_default (soak.context);
      g_main_context_unref (soak.context);
    }
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    g_free (clients[i].failure);
  g_free (soak.server_failure);
  g_mutex_clear (&soak.lock);
  g_cond_clear (&soak.cond);
}

/* Waits until the process is back to @fds descriptors and @threads
 * threads, for at most 5 s; returns how long it took, in ms. Neither has an
 * event to wait for, so this looks again every 2 ms: a pool thread may
 * still drop its last reference to a connection after reporting it done,
 * and the threads of GLib's shared pool leave a pool that was freed on
 * their own time. GLib keeps up to two unused threads for 15 s: stopped
 * here, so that the count comes back to where it was. Until the threads
 * have gone, their malloc caches count as memory in use. */
static guint
settle (guint fds,
        guint threads)
{
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + 5 * G_USEC_PER_SEC;

  for (;;)
    {
      g_thread_pool_stop_unused_threads ();
      if ((count_fds () <= fds && count_threads () <= threads) ||
          g_get_monotonic_time () >= deadline)
        break;
      g_usleep (2 * 1000);
    }
  return (guint) ((g_get_monotonic_time () - start) / 1000);
}

static double
soak_seconds (void)
{
  const char *knob = g_getenv ("GIOS_SOAK_SECONDS");
  double seconds = knob != NULL ? g_ascii_strtod (knob, NULL) : DEFAULT_SECONDS;

  return CLAMP (seconds, 0.1, 600.0);
}

/* Asserts that @now lists as many descriptors as @then, naming them when
 * not. */
static void
assert_same_fds (const char *name,
                 const char *when,
                 GPtrArray  *then,
                 GPtrArray  *now)
{
  if (now->len != then->len)
    {
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;

      g_ptr_array_add (then, NULL);
      g_ptr_array_add (now, NULL);
      before = g_strjoinv (", ", (char **) then->pdata);
      after = g_strjoinv (", ", (char **) now->pdata);
      g_ptr_array_set_size (then, then->len - 1);
      g_ptr_array_set_size (now, now->len - 1);
      g_test_message ("%s: descriptors before %s: %s", name, when, before);
      g_test_message ("%s: descriptors after %s: %s", name, when, after);
    }
  g_assert_cmpuint (now->len, ==, then->len);
}

static void
test_soak (gconstpointer data)
{
  const Model *model = data;
  g_autoptr(GPtrArray) fds_initial = NULL;
  g_autoptr(GPtrArray) fds_before = NULL;
  g_autoptr(GPtrArray) fds_after = NULL;
  guint threads_initial, threads_before, threads_after;
  gsize rss_initial, rss_before, rss_after;
  gsize heap_before, heap_after;
  guint warm_ms, settled_ms;
  Figures warm, run;

  g_thread_pool_stop_unused_threads ();
  fds_initial = list_fds ();
  threads_initial = count_threads ();
  rss_initial = rss_bytes ();

  run_model (model, MIN (WARM_UP_SECONDS, soak_seconds ()), &warm);
  warm_ms = settle (fds_initial->len, threads_initial);
  fds_before = list_fds ();
  threads_before = count_threads ();
  rss_before = rss_bytes ();
  heap_before = heap_in_use ();

  run_model (model, soak_seconds (), &run);
  settled_ms = settle (fds_before->len, threads_before);
  fds_after = list_fds ();
  threads_after = count_threads ();
  rss_after = rss_bytes ();
  heap_after = heap_in_use ();

  g_test_message ("%s: %u connections in %.1f s (%.0f/s): %u churn (%u silent, %u resets, "
                  "%u closed before the reply), %u fan-in in %u rounds of %d x %d requests; "
                  "%u exact replies; server: %u lines, %u replies, %u reads ended by the peer, "
                  "peak %u at once",
                  model->name, run.connects, run.seconds, run.connects / run.seconds, run.churn,
                  run.silent, run.resets, run.early, run.fan_in, run.rounds, FAN_IN_CONNECTIONS,
                  FAN_IN_REQUESTS, run.replied, run.server_lines, run.server_replies,
                  run.server_read_errors, run.peak);
  g_test_message ("%s: at first, after the warm-up (%u connections, settled in %u ms) and after "
                  "the run (settled in %u ms): fds %u, %u, %u; threads %u, %u, %u; "
                  "RSS %.1f, %.1f, %.1f MiB (%+.2f MiB); heap in use after the warm-up and the "
                  "run %.2f, %.2f MiB (%+.3f MiB)",
                  model->name, warm.connects, warm_ms, settled_ms,
                  fds_initial->len, fds_before->len, fds_after->len,
                  threads_initial, threads_before, threads_after,
                  mib (rss_initial), mib (rss_before), mib (rss_after),
                  mib (rss_after) - mib (rss_before),
                  mib (heap_before), mib (heap_after), mib (heap_after) - mib (heap_before));

  g_assert_cmpuint (run.churn, >, 0);
  g_assert_cmpuint (run.rounds, >, 0);
  g_assert_cmpfloat (run.connects, >=, MIN_CONNECTIONS_PER_SECOND * soak_seconds ());
  assert_same_fds (model->name, "the warm-up", fds_initial, fds_before);
  assert_same_fds (model->name, "the run", fds_before, fds_after);
  /* No thread is left serving, or waiting for a client. */
  g_assert_cmpuint (threads_before, <=, threads_initial);
  g_assert_cmpuint (threads_after, <=, threads_before);
  if (UNDER_ASAN)
    g_test_message ("%s: RSS not compared under AddressSanitizer (its quarantine keeps freed "
                    "memory resident); LeakSanitizer checks at exit", model->name);
  else if (under_valgrind ())
    g_test_message ("%s: RSS not compared under valgrind (it counts valgrind's own memory); "
                    "its leak check runs at exit", model->name);
  else
    g_assert_cmpuint (rss_after, <=, rss_before + RSS_MARGIN);

  if (under_valgrind () || g_strcmp0 (g_getenv ("G_SLICE"), "always-malloc") != 0)
    g_test_message ("%s: heap in use not compared: %s", model->name,
                    under_valgrind () ? "valgrind replaces malloc"
                                      : "G_SLICE is not always-malloc, and GLib 2.74's slice "
                                        "allocator keeps magazines for as many threads as ran");
  else
    g_assert_cmpuint (heap_after, <=, heap_before + HEAP_MARGIN);
}

static const Model models[] = {
  { "classic", classic_start, threaded_stop, FALSE, 0 },
  { "jobs-limit", jobs_start, jobs_stop, FALSE, JOBS_LIMIT },
  { "jobs-unlimited", jobs_start, jobs_stop, FALSE, 0 },
  { "accept", accept_start, accept_stop, FALSE, 0 },
  { "main-loop-watch", watch_start, main_loop_stop, TRUE, 0 },
  { "main-loop-async", async_start, main_loop_stop, TRUE, 0 },
};

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* Descriptors that GLib makes on first use and keeps for the process:
   * the global default main context (made by the first
   * g_main_context_push_thread_default()) and GLib's worker context (made
   * for GTask's thread pool). Made here, so that every model must give back
   * every descriptor it opens, in the warm-up too. */
  (void) g_main_context_default ();
  g_type_ensure (G_TYPE_TASK);
  /* The fan-in holds about 650 descriptors at its peak (a client socket,
   * a server socket and its wake-up eventfd per connection): more room
   * than a soft limit of 1024 leaves, if the hard limit allows. */
  {
    struct rlimit rl;

    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096)
      {
        rl.rlim_cur = MIN (rl.rlim_max, 4096);
        (void) setrlimit (RLIMIT_NOFILE, &rl);
      }
  }

  for (guint i = 0; i < G_N_ELEMENTS (models); i++)
    {
      g_autofree char *path = g_strdup_printf ("/soak/%s", models[i].name);

      g_test_add_data_func (path, &models[i], test_soak);
    }
  return g_test_run ();
}
