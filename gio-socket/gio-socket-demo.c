/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gio-socket demo: a short tour of the library on loopback, a server and its
 * clients in one process. Every client is a thread; what they see is
 * printed by the main thread once they are joined, so the output is the
 * same on every run.
 */
#include "gio-socket-tool.h"

#include <string.h>

#define STEP_TIMEOUT_MS 2000

static void
say (const char *who,
     const char *format,
     ...) G_GNUC_PRINTF (2, 3);

static void
say (const char *who,
     const char *format,
     ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_print ("  %-8s %s\n", who, text);
}

static const char *
message_of (const GError *error)
{
  return error != NULL ? error->message : _("end of input");
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                   */

typedef struct
{
  guint port;
  char *line;          /* NULL: connect and say nothing */
  char *reply;         /* what came back */
  GError *error;
} Client;

static void
client_clear (Client *client)
{
  g_clear_pointer (&client->reply, g_free);
  g_clear_error (&client->error);
}

/* Connects, sends a line (unless silent), reads the reply. */
static gpointer
client_thread (gpointer data)
{
  Client *client = data;
  g_autoptr(GiosSocket) socket = gios_socket_new ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (socket);
  g_autofree char *port = g_strdup_printf ("%u", client->port);

  if (!gios_socket_open (socket, "127.0.0.1", port, STEP_TIMEOUT_MS, NULL, &client->error))
    return NULL;
  if (client->line != NULL &&
      (!gios_device_stream_write_line (stream, client->line, NULL, &client->error) ||
       !gios_device_stream_flush (stream, STEP_TIMEOUT_MS, NULL, &client->error)))
    return NULL;
  /* A silent client waits for the server to give up on it. */
  client->reply = gios_device_stream_read_line (stream, 1024, NULL, 5 * STEP_TIMEOUT_MS, NULL, &client->error);
  return NULL;
}

static void
say_reply (const Client *client)
{
  if (client->line == NULL)
    say ("client", _("server closed the connection (%s)"), message_of (client->error));
  else if (client->reply != NULL)
    say ("client", _("sent “%s”, got “%s”"), client->line, client->reply);
  else
    say ("client", _("sent “%s”, got no reply: %s"), client->line, message_of (client->error));
}

/* The servers' side of the tour: reads a line of at most @max_length bytes
 * and answers it in upper case. Returns the line and sets @upper to the
 * answer, or returns NULL with @error set. */
static char *
answer_line (GiosDeviceStream  *stream,
             gsize              max_length,
             int                timeout_ms,
             GCancellable      *cancellable,
             char             **upper,
             GError           **error)
{
  char *line = gios_device_stream_read_line (stream, max_length, NULL, timeout_ms, cancellable, error);

  if (line != NULL)
    {
      *upper = g_utf8_strup (line, -1);
      gios_device_stream_write_line (stream, *upper, cancellable, NULL);
    }
  return line;
}

/* ------------------------------------------------------------------------ */
/* The classic model                                                         */

/* One round: listen, read a line, answer, drop the connection. */
static void
serve_one (GiosServerSocket *server,
           gsize             max_length,
           int               timeout_ms)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *upper = NULL;

  if (!gios_server_socket_listen (server, STEP_TIMEOUT_MS, NULL, &error))
    {
      say ("server", _("listen failed: %s"), error->message);
      return;
    }
  say ("server", _("a client connected"));

  line = answer_line (GIOS_DEVICE_STREAM (server), max_length, timeout_ms, NULL, &upper, &error);
  if (line == NULL)
    say ("server", _("read_line failed: %s"), message_of (error));
  else
    say ("server", _("read “%s”, answers “%s”"), line, upper);
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
  say ("server", _("dropped the connection, still listening"));
}

static void
classic_round (GiosServerSocket *server,
               const char       *line,
               gsize             max_length,
               int               timeout_ms)
{
  Client client = { gios_socket_common_get_port (GIOS_SOCKET_COMMON (server)), (char *) line, NULL, NULL };
  GThread *thread = g_thread_new ("demo-client", client_thread, &client);

  serve_one (server, max_length, timeout_ms);
  g_thread_join (thread);
  say_reply (&client);
  client_clear (&client);
}

/* ------------------------------------------------------------------------ */
/* The job model                                                             */

#define N_JOB_CLIENTS 4
#define MAX_JOBS 2

typedef struct
{
  GMutex lock;
  GCond cond;
  guint running;
  guint most_running;
  guint started;
  GCancellable *stop_accepting;
} Jobs;

/* A job: answers one line. It waits (at most a moment) until a second job
 * runs beside it, so the tour shows the limit at work on any machine. */
static void
demo_job (GiosSocket   *connection,
          GCancellable *cancellable,
          gpointer      data)
{
  Jobs *jobs = data;
  gint64 end = g_get_monotonic_time () + STEP_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  g_autofree char *line = NULL;
  g_autofree char *upper = NULL;

  g_mutex_lock (&jobs->lock);
  jobs->running++;
  jobs->most_running = MAX (jobs->most_running, jobs->running);
  if (++jobs->started == N_JOB_CLIENTS)
    g_cancellable_cancel (jobs->stop_accepting);
  g_cond_broadcast (&jobs->cond);
  while (jobs->running < MAX_JOBS && jobs->started < N_JOB_CLIENTS &&
         g_cond_wait_until (&jobs->cond, &jobs->lock, end))
    ;
  g_mutex_unlock (&jobs->lock);

  line = answer_line (GIOS_DEVICE_STREAM (connection), 1024, STEP_TIMEOUT_MS, cancellable, &upper, NULL);

  g_mutex_lock (&jobs->lock);
  jobs->running--;
  g_mutex_unlock (&jobs->lock);
}

static void
job_round (GiosServerSocket *server)
{
  Jobs jobs = { 0 };
  Client clients[N_JOB_CLIENTS] = { { 0 } };
  GThread *threads[N_JOB_CLIENTS];
  g_autoptr(GError) error = NULL;
  gint started;

  g_mutex_init (&jobs.lock);
  g_cond_init (&jobs.cond);
  jobs.stop_accepting = g_cancellable_new ();

  for (guint i = 0; i < N_JOB_CLIENTS; i++)
    {
      clients[i].port = gios_socket_common_get_port (GIOS_SOCKET_COMMON (server));
      clients[i].line = g_strdup_printf ("job %u", i + 1);
      threads[i] = g_thread_new ("demo-client", client_thread, &clients[i]);
    }
  say ("server", _("listen_job: a job per connection, at most %d at once"), MAX_JOBS);
  /* Accepts until the last job has started, which cancels stop_accepting. */
  started = gios_server_socket_listen_job (server, 5 * STEP_TIMEOUT_MS, MAX_JOBS, demo_job, &jobs, NULL,
                                           jobs.stop_accepting, &error);
  if (started < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    say ("server", _("listen_job failed: %s"), error->message);
  gios_server_socket_wait_jobs (server, 5 * STEP_TIMEOUT_MS, NULL);

  for (guint i = 0; i < N_JOB_CLIENTS; i++)
    {
      g_thread_join (threads[i]);
      say_reply (&clients[i]);
      client_clear (&clients[i]);
      g_free (clients[i].line);
    }
  say ("server", _("%u jobs ran, at most %u at once; the other clients waited in the kernel’s queue"),
       jobs.started, jobs.most_running);

  g_object_unref (jobs.stop_accepting);
  g_cond_clear (&jobs.cond);
  g_mutex_clear (&jobs.lock);
}

/* ------------------------------------------------------------------------ */
/* A $LIST exchange                                                          */

static char *
hex_of (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  GString *hex = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (hex, i == 0 ? "%02x" : " %02x", data[i]);
  return g_string_free (hex, FALSE);
}

static void
list_round (GiosServerSocket *server)
{
  g_autoptr(GiosSocket) client = gios_socket_new ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  g_autofree char *port = g_strdup_printf ("%u", gios_socket_common_get_port (GIOS_SOCKET_COMMON (server)));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GBytes) encoded = NULL;
  g_autofree char *hex = NULL;
  GVariantIter iter;
  GVariant *item;

  /* A list of four items, and its bytes. */
  items = g_variant_ref_sink (g_variant_new_parsed ("[<'temperature'>, <int64 21>, <0.5>, <@mv nothing>]"));
  encoded = gios_list_encode (items, NULL);
  hex = hex_of (encoded);

  /* The client sends it item by item: each one is a $LIST element. The
   * kernel queues the connection and the bytes until the server takes them,
   * so one thread is enough here. */
  if (!gios_socket_open (client, "127.0.0.1", port, STEP_TIMEOUT_MS, NULL, &error))
    goto client_failed;
  g_variant_iter_init (&iter, items);
  while ((item = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (item);

      g_variant_unref (item);
      if (!gios_device_stream_send_item (GIOS_DEVICE_STREAM (client), inner, NULL, &error))
        goto client_failed;
    }
  if (!gios_device_stream_flush (GIOS_DEVICE_STREAM (client), STEP_TIMEOUT_MS, NULL, &error))
    goto client_failed;
  say ("client", _("sends a $LIST of 4 items: %s"), hex);
  g_socket_shutdown (gios_socket_common_get_socket (GIOS_SOCKET_COMMON (client)), FALSE, TRUE, NULL);

  /* The server receives items until the end of input. */
  if (!gios_server_socket_listen (server, STEP_TIMEOUT_MS, NULL, &error))
    goto server_failed;
  for (;;)
    {
      g_autoptr(GVariant) received = gios_device_stream_receive_item (stream, STEP_TIMEOUT_MS, NULL, &error);
      g_autofree char *text = NULL;

      if (received == NULL)
        break;
      text = g_variant_print (received, TRUE);
      say ("server", _("receives the item %s"), text);
    }
  if (error != NULL)
    goto server_failed;
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
  return;

client_failed:
  say ("client", _("could not send the list: %s"), error->message);
  return;
server_failed:
  say ("server", _("could not receive the list: %s"), error->message);
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
}

/* ------------------------------------------------------------------------ */

int
tool_demo (int    argc,
           char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autofree char *address = NULL;

  context = tool_option_context_new ("demo", NULL,
      _("A tour of gio-socket on loopback: a server and its clients in one "
        "process. Shows the classic model, a job server at its limit and a "
        "$LIST exchange, printing what happens. Ends by itself in about a second."),
      NULL, NULL);
  if (!tool_parse_options (context, "demo", &argc, &argv))
    return TOOL_EXIT_USAGE;
  if (argc > 1)
    return tool_usage_error ("demo", _("unexpected argument “%s”"), argv[1]);

  g_print ("%s\n", _("gio-socket demo: a server and its clients, in one process, on loopback."));
  g_print ("\n%s\n", _("1. Open a port. Port 0 lets the system choose; read it back."));
  if (!gios_server_socket_open_address (server, "127.0.0.1", "0", 1000, &error))
    return tool_fail ("demo", error, _("check that the loopback interface is up"));
  address = tool_address_to_string (gios_socket_common_get_local_address (GIOS_SOCKET_COMMON (server)));
  say ("server", _("listening on %s"), address);

  g_print ("\n%s\n", _("2. The classic model: listen, read a line, write, drop the connection, keep listening."));
  classic_round (server, "hello, classic model", 1024, STEP_TIMEOUT_MS);

  g_print ("\n%s\n", _("3. Lines are bounded: a peer cannot make the server buffer without limit."));
  classic_round (server, "this line is longer than the server accepts", 16, STEP_TIMEOUT_MS);

  g_print ("\n%s\n", _("4. Timeouts are in milliseconds: a silent client costs 300 ms, not forever."));
  classic_round (server, NULL, 1024, 300);

  g_print ("\n%s\n", _("5. A job server: four clients at once, a job per connection, at most two jobs."));
  job_round (server);

  g_print ("\n%s\n", _("6. A $LIST exchange: build a list, send its items, receive them."));
  list_round (server);

  g_print ("\n%s\n", _("7. Close: stop listening."));
  gios_server_socket_close (server, NULL);
  say ("server", _("closed (is-open: %s)"),
       gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)) ? _("yes") : _("no"));
  return TOOL_EXIT_OK;
}
