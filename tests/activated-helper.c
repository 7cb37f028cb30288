/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program started with sockets passed (LISTEN_FDS) by tests/deploy.c's
 * harness or by systemd-socket-activate. It runs its arguments as commands,
 * in order, and prints one line for each on standard output:
 *
 *   take NAME|-      gios_server_socket_open_activated (NAME, or NULL):
 *                    "ok ADDRESS cloexec=FLAGS" (a 1 or 0 for each passed
 *                    descriptor: close-on-exec or not), or
 *                    "error CODE MESSAGE" (CODE a GIOErrorEnum value)
 *   env              "env LISTEN_FDS=… LISTEN_PID=… LISTEN_FDNAMES=…"
 *                    ("-" for a variable that is not set)
 *   ready            gios_notify_ready(): "ready ok" or "ready error MESSAGE"
 *   serve MODEL N    on the first server taken, answers N connections, one
 *                    line each, in MODEL (classic, accept, jobs or start);
 *                    prints "served N"
 *
 * It exits with 0 when every command ran (a take may fail: that is its
 * output), 2 on bad usage, 1 when serving failed.
 */
#include <gios/gios.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IO_TIMEOUT_MS 10000

/* The servers taken, in order. */
static GPtrArray *servers;

/* How many sockets were passed, from LISTEN_FDS at the start. */
static int n_passed;

/* "1" or "0" for each passed descriptor: whether it is close-on-exec. */
static char *
cloexec_flags (void)
{
  GString *flags = g_string_new (NULL);

  for (int fd = 3; fd < 3 + n_passed; fd++)
    g_string_append_c (flags, (fcntl (fd, F_GETFD) & FD_CLOEXEC) ? '1' : '0');
  return g_string_free (flags, FALSE);
}

static void
take (const char *name)
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *flags = NULL;
  GSocketAddress *local;
  GList *addresses;

  if (!gios_server_socket_open_activated (server, g_str_equal (name, "-") ? NULL : name, &error))
    {
      g_assert_true (error->domain == G_IO_ERROR);
      printf ("error %d %s\n", error->code, error->message);
      return;
    }
  /* local-address is the only address. */
  local = gios_socket_common_get_local_address (GIOS_SOCKET_COMMON (server));
  addresses = gios_server_socket_get_addresses (server);
  g_assert_cmpuint (g_list_length (addresses), ==, 1);
  g_assert_true (g_socket_address_get_family (addresses->data) == g_socket_address_get_family (local));
  g_list_free_full (addresses, g_object_unref);

  if (G_IS_UNIX_SOCKET_ADDRESS (local))
    text = g_strconcat ("unix:", g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (local)), NULL);
  else
    text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (local));
  flags = cloexec_flags ();
  printf ("ok %s cloexec=%s\n", text, flags);
  g_ptr_array_add (servers, g_steal_pointer (&server));
}

static void
say_env (void)
{
  const char *fds = g_getenv ("LISTEN_FDS");
  const char *pid = g_getenv ("LISTEN_PID");
  const char *names = g_getenv ("LISTEN_FDNAMES");

  printf ("env LISTEN_FDS=%s LISTEN_PID=%s LISTEN_FDNAMES=%s\n",
          fds ? fds : "-", pid ? "set" : "-", names ? names : "-");
}

/* Reads a line from @stream and sends it back. */
static gboolean
answer (GiosDeviceStream *stream,
        GCancellable     *cancellable)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = gios_device_stream_read_line (stream, 1024, NULL, IO_TIMEOUT_MS, cancellable, &error);

  if (line == NULL ||
      !gios_device_stream_write_line (stream, line, cancellable, &error) ||
      !gios_device_stream_flush (stream, IO_TIMEOUT_MS, cancellable, &error))
    {
      g_printerr ("activated-helper: %s\n", error ? error->message : "end of input");
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  guint answered;      /* atomic */
  guint wanted;
  GCancellable *done;  /* cancelled once @wanted were answered */
} Jobs;

static void
job (GiosSocket   *connection,
     GCancellable *cancellable,
     gpointer      data)
{
  Jobs *jobs = data;

  if (answer (GIOS_DEVICE_STREAM (connection), cancellable) &&
      (guint) g_atomic_int_add (&jobs->answered, 1) + 1 == jobs->wanted)
    g_cancellable_cancel (jobs->done);
}

typedef struct
{
  guint answered;
  guint wanted;
  GMainLoop *loop;
} Started;

/* The main-loop model: answers with blocking calls, which are quick here. */
static gboolean
on_accepted (GiosServerSocket *server,
             GiosSocket       *connection,
             Started          *started)
{
  if (answer (GIOS_DEVICE_STREAM (connection), NULL))
    started->answered++;
  gios_device_stream_close (GIOS_DEVICE_STREAM (connection), NULL);
  if (started->answered == started->wanted)
    g_main_loop_quit (started->loop);
  return TRUE;
}

static gboolean
on_timeout (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static guint
serve (GiosServerSocket *server,
       const char       *model,
       guint             n)
{
  g_autoptr(GError) error = NULL;
  guint answered = 0;

  if (g_str_equal (model, "classic"))
    {
      for (guint i = 0; i < n && gios_server_socket_listen (server, IO_TIMEOUT_MS, NULL, &error); i++)
        {
          answered += answer (GIOS_DEVICE_STREAM (server), NULL);
          gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
        }
    }
  else if (g_str_equal (model, "accept"))
    {
      for (guint i = 0; i < n; i++)
        {
          g_autoptr(GiosSocket) connection = gios_server_socket_accept (server, IO_TIMEOUT_MS, NULL, &error);

          if (connection == NULL)
            break;
          answered += answer (GIOS_DEVICE_STREAM (connection), NULL);
        }
    }
  else if (g_str_equal (model, "jobs"))
    {
      g_autoptr(GCancellable) done = g_cancellable_new ();
      Jobs jobs = { 0, n, done };

      /* Accepts until the jobs have answered n. */
      gios_server_socket_listen_job (server, IO_TIMEOUT_MS, 1, job, &jobs, NULL, done, &error);
      gios_server_socket_wait_jobs (server, IO_TIMEOUT_MS, NULL);
      if (g_cancellable_is_cancelled (done))
        g_clear_error (&error);
      answered = g_atomic_int_get (&jobs.answered);
    }
  else if (g_str_equal (model, "start"))
    {
      g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
      Started started = { 0, n, loop };
      guint timeout = g_timeout_add (IO_TIMEOUT_MS, on_timeout, loop);

      g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), &started);
      if (gios_server_socket_start (server, &error))
        g_main_loop_run (loop);
      gios_server_socket_stop (server);
      if (started.answered == n)
        g_source_remove (timeout);
      answered = started.answered;
    }
  else
    g_error ("unknown model %s", model);
  if (error != NULL)
    g_printerr ("activated-helper: %s\n", error->message);
  return answered;
}

int
main (int    argc,
      char **argv)
{
  int status = 0;

  servers = g_ptr_array_new_with_free_func (g_object_unref);
  n_passed = g_getenv ("LISTEN_FDS") ? atoi (g_getenv ("LISTEN_FDS")) : 0;
  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "take") && i + 1 < argc)
        take (argv[++i]);
      else if (g_str_equal (argv[i], "env"))
        say_env ();
      else if (g_str_equal (argv[i], "ready"))
        {
          g_autoptr(GError) error = NULL;

          if (gios_notify_ready (&error))
            printf ("ready ok\n");
          else
            printf ("ready error %s\n", error->message);
        }
      else if (g_str_equal (argv[i], "serve") && i + 2 < argc && servers->len > 0)
        {
          guint n = atoi (argv[i + 2]);
          guint answered = serve (g_ptr_array_index (servers, 0), argv[i + 1], n);

          printf ("served %u\n", answered);
          if (answered != n)
            status = 1;
          i += 2;
        }
      else
        {
          g_printerr ("activated-helper: bad command “%s”\n", argv[i]);
          return 2;
        }
      fflush (stdout);
    }
  g_ptr_array_unref (servers);
  return status;
}
