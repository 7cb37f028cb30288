/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A line-protocol server as a GiosSocket subclass, served by a job server.
 *
 * The protocol: the client sends lines; the server answers each with
 * "OK <line>" until the client sends "QUIT", which it answers with "BYE".
 * The per-connection logic lives in the subclass's run() method, and
 * gios_server_socket_listen_job() runs it on a thread pool for each
 * connection, at most four at once.
 *
 * A client in the same program talks to it: the kernel queues the
 * connection and the lines until the server takes them.
 *
 *   cc line-server.c $(pkg-config --cflags --libs gios-1)
 */
#include <gios/gios.h>

/* The subclass: one connection of the line protocol. */
#define EXAMPLE_TYPE_LINE_SOCKET (example_line_socket_get_type ())
G_DECLARE_FINAL_TYPE (ExampleLineSocket, example_line_socket, EXAMPLE, LINE_SOCKET, GiosSocket)

struct _ExampleLineSocket
{
  GiosSocket parent_instance;
};

G_DEFINE_TYPE (ExampleLineSocket, example_line_socket, GIOS_TYPE_SOCKET)

static void
example_line_socket_run (GiosSocket   *socket,
                         GCancellable *cancellable)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (socket);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = NULL;
      g_autofree char *reply = NULL;

      /* At most 256 bytes a line, and 5 s of silence ends the connection. */
      line = gios_device_stream_read_line (stream, 256, NULL, 5000, cancellable, &error);
      if (line == NULL)
        return;  /* end of input, a timeout, a line too long or cancelled */

      reply = g_str_equal (line, "QUIT") ? g_strdup ("BYE") : g_strdup_printf ("OK %s", line);
      if (!gios_device_stream_write_line (stream, reply, cancellable, &error) ||
          !gios_device_stream_flush (stream, 1000, cancellable, &error) ||
          g_str_equal (line, "QUIT"))
        return;  /* the job closes the connection when run() returns */
    }
}

static void
example_line_socket_class_init (ExampleLineSocketClass *klass)
{
  GIOS_SOCKET_CLASS (klass)->run = example_line_socket_run;
}

static void
example_line_socket_init (ExampleLineSocket *self)
{
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GiosSocket) client = gios_socket_new ();
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (client);
  g_autofree char *port = NULL;
  const char *lines[] = { "hello", "line protocol", "QUIT" };

  /* Accepted connections are instances of the subclass. */
  g_object_set (server, "socket-type", EXAMPLE_TYPE_LINE_SOCKET, NULL);
  if (!gios_server_socket_open_address (server, "127.0.0.1", "0", 1000, &error))
    goto fail;
  port = g_strdup_printf ("%u", gios_socket_common_get_port (GIOS_SOCKET_COMMON (server)));

  /* The client connects and sends its lines before anyone accepts. */
  if (!gios_socket_open (client, "127.0.0.1", port, 1000, NULL, &error))
    goto fail;
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    if (!gios_device_stream_write_line (stream, lines[i], NULL, &error))
      goto fail;
  if (!gios_device_stream_flush (stream, 1000, NULL, &error))
    goto fail;

  /* Accept for 200 ms, a job per connection (func NULL: call run()), at most
   * four at once; then wait for the jobs to end. */
  if (gios_server_socket_listen_job (server, 200, 4, NULL, NULL, NULL, NULL, &error) < 0 ||
      !gios_server_socket_wait_jobs (server, 5000, &error))
    goto fail;

  for (;;)
    {
      g_autofree char *reply = gios_device_stream_read_line (stream, 256, NULL, 1000, NULL, &error);

      if (reply == NULL)
        break;
      g_print ("client read \"%s\"\n", reply);
    }
  if (error != NULL)
    goto fail;
  gios_server_socket_close (server, NULL);
  return 0;

fail:
  g_printerr ("line-server: %s\n", error->message);
  return 1;
}
