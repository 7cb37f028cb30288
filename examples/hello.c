/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The classic model in one thread: a server and a client on loopback.
 * The kernel queues the connection and the line until the server takes them. */
#include <gios/gios.h>

int
main (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GiosSocket) client = gios_socket_new ();
  g_autofree char *port = NULL;
  g_autofree char *line = NULL;
  g_autofree char *reply = NULL;

  if (!gios_server_socket_open_address (server, "127.0.0.1", "0", 1000, &error))
    goto fail;
  port = g_strdup_printf ("%u", gios_socket_common_get_port (GIOS_SOCKET_COMMON (server)));

  if (!gios_socket_open (client, "127.0.0.1", port, 1000, NULL, &error) ||
      !gios_device_stream_write_line (GIOS_DEVICE_STREAM (client), "hello", NULL, &error) ||
      !gios_device_stream_flush (GIOS_DEVICE_STREAM (client), 1000, NULL, &error))
    goto fail;

  /* Wait at most 1 s for a connection, then for a line of at most 80 bytes. */
  if (!gios_server_socket_listen (server, 1000, NULL, &error) ||
      !(line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (server), 80, NULL, 1000, NULL, &error)) ||
      !gios_device_stream_write_line (GIOS_DEVICE_STREAM (server), "world", NULL, &error) ||
      !gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), &error))
    goto fail;

  reply = gios_device_stream_read_line (GIOS_DEVICE_STREAM (client), 80, NULL, 1000, NULL, &error);
  if (reply == NULL)
    goto fail;
  g_print ("server read \"%s\", client read \"%s\"\n", line, reply);
  return 0;

fail:
  g_printerr ("%s\n", error ? error->message : "end of input");
  return 1;
}
