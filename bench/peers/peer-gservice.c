/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GSocketService echo server on the default main loop: one thread,
 * g_input_stream_read_async() into a 64 KiB buffer, then
 * g_output_stream_write_all_async() of what was read, then the next read.
 */
#include "peer-gio-common.h"

typedef struct
{
  GSocketConnection *connection;
  GInputStream      *in;
  GOutputStream     *out;
  guint8             buf[PEER_BUF_SIZE];
} Conn;

static void start_read (Conn *c);

static void
conn_free (Conn *c)
{
  g_io_stream_close (G_IO_STREAM (c->connection), NULL, NULL);
  g_object_unref (c->connection);
  g_free (c);
}

static void
on_written (GObject      *stream,
            GAsyncResult *result,
            gpointer      data)
{
  Conn *c = data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (stream), result, NULL, NULL))
    conn_free (c);
  else
    start_read (c);
}

static void
on_read (GObject      *stream,
         GAsyncResult *result,
         gpointer      data)
{
  Conn *c = data;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (stream), result, NULL);
  if (n <= 0)
    {
      conn_free (c);
      return;
    }
  g_output_stream_write_all_async (c->out, c->buf, (gsize) n, G_PRIORITY_DEFAULT,
                                   NULL, on_written, c);
}

static void
start_read (Conn *c)
{
  g_input_stream_read_async (c->in, c->buf, PEER_BUF_SIZE, G_PRIORITY_DEFAULT,
                             NULL, on_read, c);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             gpointer           user_data)
{
  Conn *c = g_new (Conn, 1);

  c->connection = g_object_ref (connection);
  c->in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  c->out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  peer_gio_set_nodelay (connection);
  start_read (c);
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  return peer_gio_main (argc, argv, 0, G_CALLBACK (on_incoming));
}
