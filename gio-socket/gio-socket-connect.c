/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gio-socket connect: like netcat. Standard input goes to the peer, the
 * peer's bytes go to standard output; at the end of standard input the
 * sending side is shut down (the peer reads its end of input), and the
 * command ends when the peer closes the connection.
 *
 * Both directions run on one main loop with the async calls, and a chunk is
 * read from one side only once the previous one was sent: neither side can
 * make the other buffer without limit, and nothing blocks.
 */
#include "gio-socket-tool.h"

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (16 * 1024)
#define CONNECT_TIMEOUT_MS 10000
#define SEND_TIMEOUT_MS 30000

typedef struct
{
  GiosSocket *peer;
  GInputStream *in;
  GOutputStream *out;
  GMainLoop *loop;
  GError *error;
} Connect;

static void stdin_read_next (Connect *self);
static void peer_read_next (Connect *self);

static void
finish (Connect *self,
        GError  *error)
{
  if (error != NULL && self->error == NULL)
    self->error = g_error_copy (error);
  g_main_loop_quit (self->loop);
}

static void
on_peer_flushed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  Connect *self = data;
  g_autoptr(GError) error = NULL;

  if (!gios_device_stream_flush_finish (GIOS_DEVICE_STREAM (source), result, &error))
    finish (self, error);
  else
    stdin_read_next (self);
}

static void
on_stdin_read (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  Connect *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (self->peer);

  if (bytes == NULL)
    {
      finish (self, error);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      /* End of input: half-close, and go on reading the peer. */
      GSocket *socket = gios_socket_common_get_socket (GIOS_SOCKET_COMMON (self->peer));

      if (socket != NULL && !g_socket_shutdown (socket, FALSE, TRUE, &error))
        finish (self, error);
      return;
    }
  if (!gios_device_stream_write_bytes (stream, bytes, NULL, &error))
    {
      finish (self, error);
      return;
    }
  gios_device_stream_flush_async (stream, SEND_TIMEOUT_MS, G_PRIORITY_DEFAULT, NULL,
                                  on_peer_flushed, self);
}

static void
stdin_read_next (Connect *self)
{
  g_input_stream_read_bytes_async (self->in, CHUNK, G_PRIORITY_DEFAULT, NULL, on_stdin_read, self);
}

static void
on_peer_read (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Connect *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = gios_device_stream_read_bytes_finish (GIOS_DEVICE_STREAM (source), result, &error);
  gsize size;
  gconstpointer bytes_data;

  if (bytes == NULL)
    {
      /* A reset after we half-closed is how some peers say goodbye. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
        finish (self, NULL);
      else
        finish (self, error);
      return;
    }
  bytes_data = g_bytes_get_data (bytes, &size);
  if (size == 0)
    {
      finish (self, NULL);  /* the peer closed */
      return;
    }
  if (!g_output_stream_write_all (self->out, bytes_data, size, NULL, NULL, &error) ||
      !g_output_stream_flush (self->out, NULL, &error))
    {
      finish (self, error);
      return;
    }
  peer_read_next (self);
}

static void
peer_read_next (Connect *self)
{
  gios_device_stream_read_bytes_async (GIOS_DEVICE_STREAM (self->peer), CHUNK, GIOS_TIMEOUT_FOREVER,
                                       G_PRIORITY_DEFAULT, NULL, on_peer_read, self);
}

/* Copies standard input to @peer and what @peer sends to standard output,
 * until @peer closes the connection. Returns why it ended otherwise, or
 * NULL. */
static GError *
copy_both_ways (GiosSocket *peer)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  g_autoptr(GOutputStream) out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
  Connect self = { .peer = peer, .in = in, .out = out, .loop = loop };

  stdin_read_next (&self);
  peer_read_next (&self);
  g_main_loop_run (loop);

  /* Outstanding reads end with the stream; their callbacks are not run. */
  gios_device_stream_close (GIOS_DEVICE_STREAM (peer), NULL);
  return self.error;
}

int
tool_connect (int    argc,
              char **argv)
{
  g_autofree char *unix_path = NULL;
  g_autofree char *ca_file = NULL;
  gboolean tls = FALSE;
  GOptionEntry entries[] = {
    { "unix", 'u', 0, G_OPTION_ARG_FILENAME, &unix_path, N_("Connect to the Unix-domain socket at PATH"), N_("PATH") },
    { "tls", 't', 0, G_OPTION_ARG_NONE, &tls, N_("Speak TLS, validating the server's certificate for HOST"), NULL },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &ca_file, N_("With --tls: trust the certificate authorities in FILE (PEM) instead of the system's"), N_("FILE") },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GiosSocket) peer = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  context = tool_option_context_new ("connect", _("HOST PORT"),
      _("Connects to a server and copies standard input to it and what it sends to "
        "standard output, like netcat. At the end of standard input the sending "
        "side is shut down; the command ends when the server closes the connection."),
      _("Examples:\n"
        "  echo hello | gio-socket connect 127.0.0.1 7000\n"
        "  echo hello | gio-socket connect --tls --ca-file ca.pem localhost 7443\n"
        "  gio-socket connect --unix /tmp/echo.sock < request.bin > reply.bin"),
      entries);
  /* A PORT such as -5 is left for the port check, which says what a port
   * is; an unknown option is still a usage error. */
  g_option_context_set_ignore_unknown_options (context, TRUE);
  if (!tool_parse_options (context, "connect", &argc, &argv))
    return TOOL_EXIT_USAGE;
  for (int i = 1, n = argc; i < n; i++)
    {
      if (g_str_equal (argv[i], "--"))
        {
          memmove (&argv[i], &argv[i + 1], (n - i) * sizeof *argv);  /* the NULL too */
          argc--;
          break;
        }
      if (argv[i][0] == '-' && !g_ascii_isdigit (argv[i][1]))
        return tool_usage_error ("connect", _("unknown option “%s”"), argv[i]);
    }

  if (unix_path != NULL && argc != 1)
    return tool_usage_error ("connect", _("give either --unix PATH or HOST PORT, not both"));
  if (unix_path == NULL && argc != 3)
    return tool_usage_error ("connect", _("give a HOST and a PORT, or --unix PATH"));
  if (ca_file != NULL && !tls)
    return tool_usage_error ("connect", _("--ca-file needs --tls"));

  peer = gios_socket_new ();
  if (ca_file != NULL)
    {
      g_autoptr(GTlsDatabase) database = g_tls_file_database_new (ca_file, &error);

      if (database == NULL)
        return tool_fail ("connect", error, NULL);
      gios_socket_common_set_tls_database (GIOS_SOCKET_COMMON (peer), database);
    }
  if (unix_path != NULL)
    ok = gios_socket_open_unix (peer, unix_path, CONNECT_TIMEOUT_MS, NULL, &error);
  else
    ok = gios_socket_open (peer, argv[1], argv[2], CONNECT_TIMEOUT_MS, NULL, &error);
  if (ok && tls)
    ok = gios_socket_common_start_tls (GIOS_SOCKET_COMMON (peer), CONNECT_TIMEOUT_MS, NULL, &error);
  if (!ok)
    return tool_fail ("connect", error, NULL);
  /* Room for one chunk, so a write only fills the buffer. */
  gios_device_stream_set_output_buffer_size (GIOS_DEVICE_STREAM (peer), 4 * CHUNK);

  return tool_finish ("connect", copy_both_ways (peer));
}
