/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gio-socket serve: a TCP or Unix-domain server that echoes bytes or answers
 * lines, in the classic model (one connection at a time), the job model (a
 * job per connection on a thread pool) or the main-loop model.
 *
 * The main thread always runs a main loop that watches SIGINT and SIGTERM;
 * the classic and job models accept on a worker thread. SIGTERM first
 * drains (gios_server_socket_drain(): accepting stops, the connections
 * being served have --drain-timeout to finish); SIGINT, a second SIGTERM or
 * the end of the drain stop. To stop, the main thread closes the server, which wakes every call blocked on it and cuts
 * the jobs' connections off without sending: the worker and the jobs end at
 * once. The main-loop model cancels its connections' calls, whose callbacks
 * close them without waiting. No client can hold a stop up: the tool sends
 * with flushes of its own, bounded and woken by the close, and what a
 * connection still holds when it ends is not waited for.
 */
#include "gio-socket-tool.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define READ_CHUNK (16 * 1024)
#define MAX_LINE (64 * 1024)
/* Room for any reply, an echoed chunk or a longest line with its newline:
 * a reply always fits in the output buffer that the last flush emptied, so
 * writing only buffers and every send is a flush of the tool's own. */
#define OUTPUT_BUFFER_SIZE (MAX_LINE + 1)
#define SEND_TIMEOUT_MS 30000
/* As %SYSTEM.IS's DefaultTimeout: five minutes. */
#define DEFAULT_IDLE_TIMEOUT_MS 300000
/* The library's default for GiosServerSocket:handshake-timeout. */
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 10000
/* --jobs 0: as many jobs as the descriptor limit leaves room for, and no
 * more than MAX_JOBS. A job holds a thread and two descriptors (its
 * connection and the connection's wake-up); the server keeps the first
 * RESERVED_DESCRIPTORS for itself. */
#define MAX_JOBS 1024
#define DESCRIPTORS_PER_JOB 2
#define RESERVED_DESCRIPTORS 32
/* The jobs and connections end as soon as the server is closed: this only
 * bounds how long a stop waits for them. */
#define STOP_TIMEOUT_MS 500
/* How long a successor may take to say it serves, after SIGHUP. */
#define HAND_OVER_TIMEOUT_MS 10000
/* SIGTERM's drain: a plain SIGTERM still stops within about a second. */
#define DEFAULT_DRAIN_TIMEOUT_MS 1000

typedef enum
{
  MODE_ECHO,
  MODE_LINES,
} ServeMode;

typedef struct
{
  GiosServerSocket *server;
  ServeMode mode;
  GMainLoop *loop;
  GCancellable *cancellable;  /* main-loop model: cancelled to stop */
  gint stopping;              /* atomic */
  GThread *worker;
  GError *error;              /* why the worker stopped, if not a signal */
  guint max_jobs;             /* the job model */
  guint n_async;              /* main-loop model: connections being served */
  gboolean acceptor_done;     /* main-loop model: ::stopped was emitted */
  int drain_timeout;          /* ms; 0: SIGTERM stops at once */
  gboolean draining;
  GStrv successor;            /* the command line SIGHUP hands over to */
} Serve;

static void
say_connection (GiosSocketCommon *connection)
{
  g_autofree char *peer = tool_address_to_string (gios_socket_common_get_remote_address (connection));

  /* Unix-domain peers have no name; say where they came in. */
  if (g_str_equal (peer, "unix:"))
    g_print (_("connection on a Unix-domain socket\n"));
  else
    g_print (_("connection from %s\n"), peer);
}

/* Says why a connection ended, when it was not the peer closing it or the
 * server stopping. */
static void
say_connection_end (Serve        *serve,
                    const GError *error)
{
  if (error != NULL && !g_atomic_int_get (&serve->stopping) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    g_printerr (_("gio-socket serve: connection dropped: %s\n"), error->message);
}

/* The reply to a request: the same bytes, or the same line with its
 * terminator. Lines are bytes: a NUL or a byte that is not UTF-8 comes back
 * as it came. */
static GBytes *
reply_to (GBytes    *request,
          ServeMode  mode)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (request, &size);
  guint8 *reply;

  if (mode == MODE_ECHO)
    return g_bytes_ref (request);
  reply = g_malloc (size + 1);
  if (size > 0)
    memcpy (reply, data, size);
  reply[size] = '\n';
  return g_bytes_new_take (reply, size + 1);
}

/* A request read, or NULL at the end of input (an empty read) or on error. */
static GBytes *
request_or_end (GBytes *request)
{
  if (request != NULL && g_bytes_get_size (request) == 0)
    g_clear_pointer (&request, g_bytes_unref);
  return request;
}

/* Serves one connection with blocking calls until it ends, fails or the
 * server closes. */
static void
serve_stream (Serve            *serve,
              GiosDeviceStream *stream,
              GCancellable     *cancellable)
{
  ServeMode mode = serve->mode;
  g_autoptr(GError) error = NULL;

  for (;;)
    {
      g_autoptr(GBytes) request = NULL;
      g_autoptr(GBytes) reply = NULL;

      if (mode == MODE_ECHO)
        request = request_or_end (gios_device_stream_read_bytes (stream, READ_CHUNK, GIOS_TIMEOUT_FOREVER,
                                                                 cancellable, &error));
      else
        request = gios_device_stream_read_line_bytes (stream, MAX_LINE, GIOS_TIMEOUT_FOREVER,
                                                      cancellable, &error);
      if (request == NULL)
        break;
      reply = reply_to (request, mode);
      if (!gios_device_stream_write_bytes (stream, reply, cancellable, &error) ||
          !gios_device_stream_flush (stream, SEND_TIMEOUT_MS, cancellable, &error))
        break;
    }
  say_connection_end (serve, error);
}

static void
worker_done (Serve  *serve,
             GError *error)
{
  if (error != NULL && !g_atomic_int_get (&serve->stopping))
    serve->error = g_steal_pointer (&error);
  g_clear_error (&error);
  g_main_loop_quit (serve->loop);
}

/* The classic model: listen, serve the connection, drop it, listen again. */
static gpointer
classic_thread (gpointer data)
{
  Serve *serve = data;
  GError *error = NULL;

  while (gios_server_socket_listen (serve->server, GIOS_TIMEOUT_FOREVER, NULL, &error))
    {
      say_connection (GIOS_SOCKET_COMMON (serve->server));
      serve_stream (serve, GIOS_DEVICE_STREAM (serve->server), NULL);
      gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (serve->server), NULL);
    }
  worker_done (serve, error);
  return NULL;
}

static void
job (GiosSocket   *connection,
     GCancellable *cancellable,
     gpointer      data)
{
  Serve *serve = data;

  say_connection (GIOS_SOCKET_COMMON (connection));
  serve_stream (serve, GIOS_DEVICE_STREAM (connection), cancellable);
}

/* The job model: a job per connection, at most N at once. */
static gpointer
jobs_thread (gpointer data)
{
  Serve *serve = data;
  GError *error = NULL;

  gios_server_socket_listen_job (serve->server, GIOS_TIMEOUT_FOREVER, serve->max_jobs, job, serve, NULL,
                                 NULL, &error);
  worker_done (serve, error);
  return NULL;
}

/* The main-loop model. Each connection is served with the async calls on
 * the main context; nothing blocks there. A connection is read again only
 * once its last reply was sent (a flush with a timeout of 0, or
 * flush_async when the client's window is full): a client that does not read
 * is not read either, and costs the server one reply at most, while the
 * others are served. */

typedef struct
{
  Serve *serve;
  GiosSocket *connection;
} AsyncConnection;

static void async_read_next (AsyncConnection *ac);

static void
async_connection_end (AsyncConnection *ac,
                      GError          *error)
{
  Serve *serve = ac->serve;

  say_connection_end (serve, error);
  /* On the main loop this sends what the peer takes now, and waits for
   * nothing. */
  gios_device_stream_close (GIOS_DEVICE_STREAM (ac->connection), NULL);
  g_object_unref (ac->connection);
  g_free (ac);

  serve->n_async--;
}

static void
on_flushed (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  AsyncConnection *ac = data;
  GError *error = NULL;

  if (!gios_device_stream_flush_finish (GIOS_DEVICE_STREAM (source), result, &error))
    async_connection_end (ac, error);
  else
    async_read_next (ac);
  g_clear_error (&error);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  AsyncConnection *ac = data;
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (source);
  g_autoptr(GBytes) request = NULL;
  g_autoptr(GBytes) reply = NULL;
  GError *error = NULL;
  gboolean more;

  if (ac->serve->mode == MODE_ECHO)
    request = request_or_end (gios_device_stream_read_bytes_finish (stream, result, &error));
  else
    request = gios_device_stream_read_line_bytes_finish (stream, result, &error);
  if (request != NULL)
    reply = reply_to (request, ac->serve->mode);
  /* The last reply was flushed, so the output buffer is empty and takes
   * this one whole: this never blocks. */
  more = reply != NULL && gios_device_stream_write_bytes (stream, reply, NULL, &error);

  /* Most replies go out at once, and the next read starts in this
   * iteration of the loop: a request costs one. Only a reply that the
   * client's window cannot take now waits, in flush_async. */
  if (more && gios_device_stream_flush (stream, 0, ac->serve->cancellable, &error))
    async_read_next (ac);
  else if (more && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    gios_device_stream_flush_async (stream, SEND_TIMEOUT_MS, G_PRIORITY_DEFAULT,
                                    ac->serve->cancellable, on_flushed, ac);
  else
    async_connection_end (ac, error);
  g_clear_error (&error);
}

static void
async_read_next (AsyncConnection *ac)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (ac->connection);

  if (ac->serve->mode == MODE_ECHO)
    gios_device_stream_read_bytes_async (stream, READ_CHUNK, GIOS_TIMEOUT_FOREVER, G_PRIORITY_DEFAULT,
                                         ac->serve->cancellable, on_read, ac);
  else
    gios_device_stream_read_line_bytes_async (stream, MAX_LINE, GIOS_TIMEOUT_FOREVER, G_PRIORITY_DEFAULT,
                                              ac->serve->cancellable, on_read, ac);
}

/* The main-loop model: the server accepts on the main context and emits
 * ::accepted for each connection; the handler takes it and serves it with
 * the async calls. */
static gboolean
on_accepted (GiosServerSocket *server,
             GiosSocket       *connection,
             gpointer          data)
{
  Serve *serve = data;
  AsyncConnection *ac = g_new0 (AsyncConnection, 1);

  ac->serve = serve;
  ac->connection = g_object_ref (connection);
  serve->n_async++;
  say_connection (GIOS_SOCKET_COMMON (connection));
  async_read_next (ac);
  return TRUE;  /* taken */
}

static void
on_stopped (GiosServerSocket *server,
            GError           *reason,
            gpointer          data)
{
  Serve *serve = data;

  serve->acceptor_done = TRUE;
  worker_done (serve, g_error_matches (reason, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? NULL : g_error_copy (reason));
}

/* SIGINT, or a second SIGTERM: stop now. A drain under way ends at once
 * (the close ends its wait) and cuts what it waited for. */
static gboolean
on_stop_signal (gpointer data)
{
  Serve *serve = data;

  g_atomic_int_set (&serve->stopping, 1);
  if (serve->draining)
    gios_server_socket_close (serve->server, NULL);
  g_main_loop_quit (serve->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
drain_now (gpointer data)
{
  Serve *serve = data;
  g_autoptr(GError) error = NULL;

  /* Runs the main context while it waits: the main-loop model's
   * connections go on, and a second signal is seen. */
  if (!gios_server_socket_drain (serve->server, serve->drain_timeout, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_printerr ("gio-socket serve: %s\n", error->message);
  g_main_loop_quit (serve->loop);
  return G_SOURCE_REMOVE;
}

static void
start_draining (Serve *serve)
{
  serve->draining = TRUE;
  g_atomic_int_set (&serve->stopping, 1);
  g_idle_add (drain_now, serve);
}

/* SIGTERM: drain, unless draining already or told not to. */
static gboolean
on_sigterm (gpointer data)
{
  Serve *serve = data;

  if (serve->draining || serve->drain_timeout == 0)
    return on_stop_signal (serve);
  start_draining (serve);
  return G_SOURCE_CONTINUE;
}

/* SIGHUP: a successor takes the listening sockets over, then this process
 * drains. If the successor does not start, this one goes on serving. */
static gboolean
on_sighup (gpointer data)
{
  Serve *serve = data;
  g_autoptr(GError) error = NULL;
  GPid pid = 0;

  if (serve->draining)
    return G_SOURCE_CONTINUE;
  if (!gios_server_socket_hand_over_to (serve->server, (const char * const *) serve->successor,
                                        HAND_OVER_TIMEOUT_MS, &pid, &error))
    {
      g_printerr (_("gio-socket serve: could not hand over, serving on: %s\n"), error->message);
      return G_SOURCE_CONTINUE;
    }
  /* A line scripts wait for: not translated. */
  g_print ("handed over to process %d\n", (int) pid);
  fflush (stdout);
  start_draining (serve);
  return G_SOURCE_CONTINUE;
}

/* Whether @arg says where to listen (and whether the next argument is its
 * value): a successor is given the sockets instead. */
static gboolean
is_address_option (const char *arg,
                   gboolean   *takes_value)
{
  static const char * const with_value[] = { "--host", "--port", "--unix", "--permissions", NULL };

  *takes_value = FALSE;
  if (g_str_equal (arg, "--reuse-port"))
    return TRUE;
  for (guint k = 0; with_value[k] != NULL; k++)
    {
      gsize len = strlen (with_value[k]);

      if (strncmp (arg, with_value[k], len) == 0 && (arg[len] == '\0' || arg[len] == '='))
        {
          *takes_value = arg[len] == '\0';
          return TRUE;
        }
    }
  /* -p PORT, -pPORT, -u PATH, -uPATH */
  if (arg[0] == '-' && (arg[1] == 'p' || arg[1] == 'u'))
    {
      *takes_value = arg[2] == '\0';
      return TRUE;
    }
  return FALSE;
}

/* The command line of a successor: this program, "serve" and the options
 * @argv gave, but those that say where to listen. */
static GStrv
successor_command_line (char **argv)
{
  GPtrArray *args = g_ptr_array_new ();
  char *self = g_file_read_link ("/proc/self/exe", NULL);

  g_ptr_array_add (args, self != NULL ? self : g_strdup (g_get_prgname ()));
  g_ptr_array_add (args, g_strdup ("serve"));
  for (guint i = 1; argv[i] != NULL; i++)
    {
      gboolean takes_value;

      if (is_address_option (argv[i], &takes_value))
        {
          if (takes_value && argv[i + 1] != NULL)
            i++;
          continue;
        }
      g_ptr_array_add (args, g_strdup (argv[i]));
    }
  g_ptr_array_add (args, NULL);
  return (GStrv) g_ptr_array_free (args, FALSE);
}

static gboolean
on_stop_timeout (gpointer data)
{
  gboolean *timed_out = data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Stops serving, within about STOP_TIMEOUT_MS whatever the clients do. */
static void
stop_serving (Serve *serve)
{
  gboolean timed_out = FALSE;
  guint timeout;

  g_atomic_int_set (&serve->stopping, 1);
  /* Wakes the worker's listen and the jobs' calls, cuts the jobs'
   * connections off, and ends accepting on the main loop. */
  gios_server_socket_close (serve->server, NULL);
  if (serve->worker != NULL)
    {
      g_thread_join (serve->worker);
      gios_server_socket_wait_jobs (serve->server, STOP_TIMEOUT_MS, NULL);
      return;
    }

  /* The main-loop model: the connections' callbacks close them. */
  g_cancellable_cancel (serve->cancellable);
  timeout = g_timeout_add (STOP_TIMEOUT_MS, on_stop_timeout, &timed_out);
  while (!timed_out && (!serve->acceptor_done || serve->n_async > 0))
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (timeout);
}

/* Whether sockets were passed to this process, as systemd does for a
 * socket unit: LISTEN_FDS, for the process LISTEN_PID. Variables left for
 * another process are not for us, as sd_listen_fds() has it. */
static gboolean
passed_sockets (void)
{
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());

  return g_getenv ("LISTEN_FDS") != NULL && g_strcmp0 (g_getenv ("LISTEN_PID"), pid) == 0;
}

/* Adopts the passed sockets named as the first one is (a socket unit's
 * sockets, a predecessor's hand-over, or all of them when they have no
 * names); says so when others are left unused. */
static gboolean
open_passed (GiosServerSocket  *server,
             GError           **error)
{
  g_autofree char *passed = g_strdup (g_getenv ("LISTEN_FDS"));
  g_auto(GStrv) names = g_strsplit (g_getenv ("LISTEN_FDNAMES") != NULL ? g_getenv ("LISTEN_FDNAMES") : "",
                                    ":", 2);

  if (!gios_server_socket_open_activated (server, names[0] != NULL && *names[0] != '\0' ? names[0] : "unknown",
                                          error))
    return FALSE;
  /* Set still: not every passed socket was taken. */
  if (g_getenv ("LISTEN_FDS") != NULL)
    g_printerr (_("gio-socket serve: %s sockets were passed (LISTEN_FDS); only those named as the first are served\n"),
                passed);
  return TRUE;
}

/* Prints a line "listening on ADDRESS" for every address @server listens
 * on, the local address first: the lines scripts wait for, not
 * translated. */
static void
say_addresses (GiosServerSocket *server)
{
  GList *addresses = gios_server_socket_get_addresses (server);

  for (GList *l = addresses; l != NULL; l = l->next)
    {
      g_autofree char *where = tool_address_to_string (l->data);

      g_print ("listening on %s\n", where);
    }
  fflush (stdout);
  g_list_free_full (addresses, g_object_unref);
}

/* What --jobs 0 means: as many jobs as RLIMIT_NOFILE leaves room for, up
 * to MAX_JOBS, and at least one. */
static guint
jobs_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY ||
      limit.rlim_cur >= RESERVED_DESCRIPTORS + MAX_JOBS * DESCRIPTORS_PER_JOB)
    return MAX_JOBS;
  if (limit.rlim_cur < RESERVED_DESCRIPTORS + DESCRIPTORS_PER_JOB)
    return 1;
  return (limit.rlim_cur - RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_JOB;
}

static gboolean
parse_permissions (const char *text,
                   guint      *permissions)
{
  guint64 value;
  char *end = NULL;

  if (text == NULL || *text == '\0')
    return FALSE;
  value = g_ascii_strtoull (text, &end, 8);
  if (*end != '\0' || value > 0777)
    return FALSE;
  *permissions = value;
  return TRUE;
}

/* The value of --proxy-protocol. */
static gboolean
parse_proxy_protocol (const char        *text,
                      GiosProxyProtocol *proxy)
{
  static const struct {
    const char *name;
    GiosProxyProtocol value;
  } names[] = {
    { "none", GIOS_PROXY_PROTOCOL_NONE },
    { "v1", GIOS_PROXY_PROTOCOL_V1 },
    { "v2", GIOS_PROXY_PROTOCOL_V2 },
    { "any", GIOS_PROXY_PROTOCOL_ANY },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (text, names[i].name) == 0)
      {
        *proxy = names[i].value;
        return TRUE;
      }
  return FALSE;
}

int
tool_serve (int    argc,
            char **argv)
{
  g_autofree char *host = NULL;
  g_autofree char *port = NULL;
  g_autofree char *unix_path = NULL;
  g_autofree char *permissions_text = NULL;
  g_autofree char *jobs_text = NULL;
  guint64 jobs = 0;
  int idle_timeout = DEFAULT_IDLE_TIMEOUT_MS;
  g_autofree char *proxy_text = NULL;
  GiosProxyProtocol proxy = GIOS_PROXY_PROTOCOL_NONE;
  int handshake_timeout = DEFAULT_HANDSHAKE_TIMEOUT_MS;
  int drain_timeout = DEFAULT_DRAIN_TIMEOUT_MS;
  gboolean async = FALSE;
  gboolean echo = FALSE;
  gboolean lines = FALSE;
  gboolean reuse_port = FALSE;
  g_autofree char *tls_certificate = NULL;
  g_autofree char *tls_key = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  gboolean activated;
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, N_("Listen on this address or name only (default: all)"), N_("HOST") },
    { "port", 'p', 0, G_OPTION_ARG_STRING, &port, N_("Port number or service name (default: 0, any free port)"), N_("PORT") },
    { "unix", 'u', 0, G_OPTION_ARG_FILENAME, &unix_path, N_("Listen on a Unix-domain socket at PATH instead"), N_("PATH") },
    { "permissions", 0, 0, G_OPTION_ARG_STRING, &permissions_text, N_("Octal mode of the Unix-domain socket (default: 0600)"), N_("MODE") },
    { "reuse-port", 0, 0, G_OPTION_ARG_NONE, &reuse_port, N_("Share the port with other servers started with --reuse-port (one process per core)"), NULL },
    { "jobs", 'j', 0, G_OPTION_ARG_STRING, &jobs_text, N_("Serve each connection in a job, at most N at once (0: as many as the open-file limit allows, up to 1024)"), N_("N") },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout, N_("Drop a client that sends nothing for MS milliseconds (default: 300000; 0: never)"), N_("MS") },
    { "proxy-protocol", 0, 0, G_OPTION_ARG_STRING, &proxy_text, N_("Every client comes through a load balancer that sends a PROXY protocol header of this version: v1, v2 or any (default: none)"), N_("VERSION") },
    { "tls-certificate", 0, 0, G_OPTION_ARG_FILENAME, &tls_certificate, N_("Speak TLS, presenting the certificate in FILE (PEM; with its key unless --tls-key is given)"), N_("FILE") },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, N_("The private key of the TLS certificate (PEM)"), N_("FILE") },
    { "handshake-timeout", 0, 0, G_OPTION_ARG_INT, &handshake_timeout, N_("Drop a client whose PROXY header or TLS handshake has not arrived within MS milliseconds (default: 10000; 0: never)"), N_("MS") },
    { "drain-timeout", 0, 0, G_OPTION_ARG_INT, &drain_timeout, N_("On SIGTERM, stop accepting and let the connections being served finish for MS milliseconds (default: 1000; 0: stop at once)"), N_("MS") },
    { "async", 'a', 0, G_OPTION_ARG_NONE, &async, N_("Serve every connection on the main loop"), NULL },
    { "echo", 'e', 0, G_OPTION_ARG_NONE, &echo, N_("Send every byte back (the default)"), NULL },
    { "lines", 'l', 0, G_OPTION_ARG_NONE, &lines, N_("Answer each line with the same line"), NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GiosServerSocket) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  guint permissions = 0600;
  guint sigint, sigterm, sighup;
  Serve serve = { 0 };
  g_auto(GStrv) successor = successor_command_line (argv);
  gboolean ok;

  context = tool_option_context_new ("serve", NULL,
      _("Listens on a TCP port or a Unix-domain socket, or on the socket systemd "
        "passes it (LISTEN_FDS), prints “listening on ADDRESS” for every address "
        "it listens on and serves connections until interrupted: SIGINT stops at "
        "once, SIGTERM stops accepting and lets the connections being served "
        "finish first (--drain-timeout). "
        "Without --jobs or --async, one connection is served at a time."),
      _("Examples:\n"
        "  gio-socket serve --host 127.0.0.1 --port 7000 --lines\n"
        "  gio-socket serve --host 127.0.0.1 --port 7001 --async --proxy-protocol v2\n"
        "  gio-socket serve --port 7443 --jobs 8 --tls-certificate cert.pem --tls-key key.pem\n"
        "  gio-socket serve --unix /tmp/echo.sock --permissions 0660 --jobs 8"),
      entries);
  if (!tool_parse_options (context, "serve", &argc, &argv))
    return TOOL_EXIT_USAGE;

  if (argc > 1)
    return tool_usage_error ("serve", _("unexpected argument “%s”"), argv[1]);
  activated = passed_sockets ();
  if (activated && (host != NULL || port != NULL || unix_path != NULL || permissions_text != NULL || reuse_port))
    return tool_usage_error ("serve", _("--host, --port, --unix, --permissions and --reuse-port do not apply to "
                                        "the sockets systemd passes (LISTEN_FDS)"));
  if (unix_path != NULL && (host != NULL || port != NULL))
    return tool_usage_error ("serve", _("--unix cannot be combined with --host or --port"));
  if (permissions_text != NULL && unix_path == NULL)
    return tool_usage_error ("serve", _("--permissions needs --unix"));
  if (permissions_text != NULL && !parse_permissions (permissions_text, &permissions))
    return tool_usage_error ("serve", _("“%s” is not an octal mode such as 0600"), permissions_text);
  if (reuse_port && unix_path != NULL)
    return tool_usage_error ("serve", _("--reuse-port is for TCP ports, not --unix"));
  if (jobs_text != NULL && async)
    return tool_usage_error ("serve", _("choose either --jobs or --async"));
  if (jobs_text != NULL && !g_ascii_string_to_unsigned (jobs_text, 10, 0, G_MAXINT, &jobs, NULL))
    return tool_usage_error ("serve", _("--jobs needs a number of 0 or more, not “%s”"), jobs_text);
  if (idle_timeout < 0)
    return tool_usage_error ("serve", _("--idle-timeout needs a number of milliseconds, or 0 for none"));
  if (drain_timeout < 0)
    return tool_usage_error ("serve", _("--drain-timeout needs a number of milliseconds, or 0 for none"));
  if (echo && lines)
    return tool_usage_error ("serve", _("choose either --echo or --lines"));
  if (proxy_text != NULL && !parse_proxy_protocol (proxy_text, &proxy))
    return tool_usage_error ("serve", _("--proxy-protocol needs v1, v2, any or none, not “%s”"), proxy_text);
  if (handshake_timeout < 0)
    return tool_usage_error ("serve", _("--handshake-timeout needs a number of milliseconds, or 0 for none"));
  if (tls_key != NULL && tls_certificate == NULL)
    return tool_usage_error ("serve", _("--tls-key needs --tls-certificate"));
  if (tls_certificate != NULL)
    {
      if (tls_key != NULL)
        certificate = g_tls_certificate_new_from_files (tls_certificate, tls_key, &error);
      else
        certificate = g_tls_certificate_new_from_file (tls_certificate, &error);
      if (certificate == NULL)
        return tool_fail ("serve", error, NULL);
    }

  server = gios_server_socket_new ();
  /* Accepted connections inherit both. Replies only buffer, and the tool's
   * flushes that send them are bounded; what a connection still holds when
   * it ends is for a peer that stopped reading, and nothing waits for it. */
  gios_device_stream_set_output_buffer_size (GIOS_DEVICE_STREAM (server), OUTPUT_BUFFER_SIZE);
  gios_device_stream_set_close_timeout (GIOS_DEVICE_STREAM (server), 0);
  /* Idle clients cannot hold a job, the classic model or a connection. */
  gios_server_socket_set_idle_timeout (server, idle_timeout > 0 ? idle_timeout : -1);
  gios_server_socket_set_proxy_protocol (server, proxy);
  gios_server_socket_set_handshake_timeout (server, handshake_timeout > 0 ? handshake_timeout : -1);
  gios_server_socket_set_reuse_port (server, reuse_port);
  gios_socket_common_set_tls_certificate (GIOS_SOCKET_COMMON (server), certificate);
  /* A socket a crashed serve left is no reason not to start again. */
  gios_server_socket_set_replace_stale (server, TRUE);
  if (activated)
    ok = open_passed (server, &error);
  else if (unix_path != NULL)
    ok = gios_server_socket_open_unix (server, unix_path, permissions, 1000, &error);
  else if (host != NULL)
    ok = gios_server_socket_open_address (server, host, port != NULL ? port : "0", 1000, &error);
  else
    ok = gios_server_socket_open (server, port != NULL ? port : "0", 1000, &error);
  if (!ok)
    return tool_fail ("serve", error, NULL);

  loop = g_main_loop_new (NULL, FALSE);
  cancellable = g_cancellable_new ();
  serve.server = server;
  serve.mode = lines ? MODE_LINES : MODE_ECHO;
  serve.loop = loop;
  serve.cancellable = cancellable;
  serve.drain_timeout = drain_timeout;
  serve.successor = successor;
  sigint = g_unix_signal_add (SIGINT, on_stop_signal, &serve);
  sigterm = g_unix_signal_add (SIGTERM, on_sigterm, &serve);
  sighup = g_unix_signal_add (SIGHUP, on_sighup, &serve);
  /* Only now: a script may signal as soon as it reads the addresses. */
  say_addresses (server);

  if (async)
    {
      g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), &serve);
      g_signal_connect (server, "stopped", G_CALLBACK (on_stopped), &serve);
      if (!gios_server_socket_start (server, &error))
        return tool_fail ("serve", error, NULL);
    }
  else if (jobs_text != NULL)
    {
      serve.max_jobs = jobs > 0 ? (guint) jobs : jobs_limit ();
      serve.worker = g_thread_new ("gio-socket-jobs", jobs_thread, &serve);
    }
  else
    serve.worker = g_thread_new ("gio-socket-classic", classic_thread, &serve);

  /* A predecessor handing over, or systemd (Type=notify), waits for this. */
  if (!gios_notify_ready (&error))
    {
      g_printerr ("gio-socket serve: %s\n", error->message);
      g_clear_error (&error);
    }

  g_main_loop_run (loop);

  /* Stop cleanly whatever ended the loop. */
  stop_serving (&serve);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_source_remove (sighup);

  return tool_finish ("serve", g_steal_pointer (&serve.error));
}
