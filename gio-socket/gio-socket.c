/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gio-socket: the command-line tool. Subcommands follow the `gio` tool's
 * conventions: `gio-socket COMMAND [OPTIONS]`, `--help` on each, errors on
 * standard error, exit status 0, 1 (failure) or 2 (usage).
 */
#include "config.h"

#include <gios/gios.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef int (*CommandFunc) (int argc, char **argv);

typedef struct
{
  const char *name;
  CommandFunc func;
  const char *summary;
} Command;

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

/* ------------------------------------------------------------------------ */
/* demo                                                                       */

typedef struct
{
  guint port;
  const char *line;
  gboolean silent;
} ClientJob;

/* A client of the tour: connects, sends a line (unless silent), prints the
 * reply. It is a GiosSocket too. */
static gpointer
client_thread (gpointer data)
{
  ClientJob *job = data;
  g_autoptr(GiosSocket) client = gios_socket_new ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (client);
  g_autofree char *port = g_strdup_printf ("%u", job->port);
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;

  if (!gios_socket_open (client, "127.0.0.1", port, 2000, NULL, &error))
    {
      say ("client", "could not connect: %s", error->message);
      return NULL;
    }
  if (job->silent)
    {
      /* Wait for the server to give up on us: end of input. */
      reply = gios_device_stream_read_line (stream, 1024, NULL, 5000, NULL, &error);
      say ("client", "server closed the connection (%s)", error ? error->message : "end of input");
      return NULL;
    }
  say ("client", "sends \"%s\"", job->line);
  if (!gios_device_stream_write_line (stream, job->line, NULL, &error) ||
      !gios_device_stream_flush (stream, 2000, NULL, &error))
    {
      say ("client", "could not send: %s", error->message);
      return NULL;
    }
  reply = gios_device_stream_read_line (stream, 1024, NULL, 2000, NULL, &error);
  if (reply != NULL)
    say ("client", "got \"%s\"", reply);
  else
    say ("client", "got no reply: %s", error ? error->message : "end of input");
  return NULL;
}

static GThread *
start_client (ClientJob *job)
{
  return g_thread_new ("demo-client", client_thread, job);
}

/* One round of the classic model: listen, read a line, answer, drop. */
static gboolean
serve_one (GiosServerSocket *server,
           gsize             max_length,
           int               timeout_ms)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (server);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *upper = NULL;
  g_autofree char *peer = NULL;

  if (!gios_server_socket_listen (server, 2000, NULL, &error))
    {
      say ("server", "listen failed: %s", error->message);
      return FALSE;
    }
  peer = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (
      gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (server))));
  say ("server", "connection from %s", peer);

  line = gios_device_stream_read_line (stream, max_length, NULL, timeout_ms, NULL, &error);
  if (line == NULL)
    say ("server", "read_line failed: %s", error ? error->message : "end of input");
  else
    {
      upper = g_utf8_strup (line, -1);
      say ("server", "read \"%s\", answers \"%s\"", line, upper);
      gios_device_stream_write_line (stream, upper, NULL, NULL);
    }
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
  say ("server", "dropped the connection, still listening");
  return TRUE;
}

static int
command_demo (int    argc,
              char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GSocketAddress) where = NULL;
  g_autofree char *address = NULL;
  ClientJob hello = { 0, "hello, classic model", FALSE };
  ClientJob long_line = { 0, "this line is longer than the server accepts", FALSE };
  ClientJob silent = { 0, NULL, TRUE };
  GThread *thread;

  g_print ("%s\n", _("gio-socket demo: a server and its clients, in one process, on loopback."));
  g_print ("\n%s\n", _("1. Open a port. Port 0 lets the system choose; read it back."));
  if (!gios_server_socket_open_address (server, "127.0.0.1", "0", 1000, &error))
    {
      g_printerr ("gio-socket: %s\n", error->message);
      return 1;
    }
  hello.port = long_line.port = silent.port = gios_socket_common_get_port (GIOS_SOCKET_COMMON (server));
  address = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (
      gios_socket_common_get_local_address (GIOS_SOCKET_COMMON (server))));
  say ("server", "listening on %s", address);

  g_print ("\n%s\n", _("2. Listen, read a line, write, flush, drop the connection, keep listening."));
  thread = start_client (&hello);
  serve_one (server, 1024, 2000);
  g_thread_join (thread);

  g_print ("\n%s\n", _("3. Lines are bounded: a peer cannot make the server buffer without limit."));
  thread = start_client (&long_line);
  serve_one (server, 16, 2000);
  g_thread_join (thread);

  g_print ("\n%s\n", _("4. Timeouts are in milliseconds: a silent client costs 300 ms, not forever."));
  thread = start_client (&silent);
  serve_one (server, 1024, 300);
  g_thread_join (thread);

  g_print ("\n%s\n", _("5. Close: stop listening."));
  gios_server_socket_close (server, NULL);
  say ("server", "closed (is-open: %s)",
       gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (server)) ? "yes" : "no");
  return 0;
}

/* ------------------------------------------------------------------------ */

static const Command commands[] = {
  { "demo", command_demo, N_("Show the device model on loopback") },
};

static void
usage (FILE *out)
{
  fprintf (out, "%s\n", _("Usage:\n  gio-socket COMMAND [OPTION…]\n\nCommands:"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "\n%s\n", _("Use “gio-socket COMMAND --help” for help on a command."));
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      g_print ("gio-socket %s\n", PACKAGE_VERSION);
      return 0;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      {
        if (argc > 2 && strcmp (argv[2], "--help") == 0)
          {
            g_print ("Usage:\n  gio-socket %s\n\n%s\n", commands[i].name, _(commands[i].summary));
            return 0;
          }
        if (argc > 2)
          {
            g_printerr (_("gio-socket: “%s” takes no arguments; try “gio-socket %s --help”\n"),
                        commands[i].name, commands[i].name);
            return 2;
          }
        return commands[i].func (argc - 1, argv + 1);
      }

  g_printerr (_("gio-socket: unknown command “%s”; try “gio-socket --help”\n"), argv[1]);
  return 2;
}
