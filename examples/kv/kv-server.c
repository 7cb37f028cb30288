/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kv-server: serves the key-value protocol of kv-protocol.h on 127.0.0.1 (and
 * ::1), on a free port. Prints "PORT <n>" once listening, and serves until
 * its standard input ends or it is killed.
 */

#include "kv-protocol.h"

#include <stdio.h>
#include <unistd.h>

static gpointer
watch_stdin (gpointer data)
{
  GCancellable *cancellable = data;
  char buf[256];

  /* Anything read is ignored; the end of input (or an error) stops the
   * server. */
  while (read (STDIN_FILENO, buf, sizeof buf) > 0)
    ;
  g_cancellable_cancel (cancellable);
  return NULL;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GThread *watcher;

  gios_server_socket_set_loopback_only (server, TRUE);
  gios_server_socket_set_socket_type (server, KV_TYPE_PROTOCOL);
  if (!gios_server_socket_open (server, "0", 1000, &error))
    {
      g_printerr ("kv-server: %s\n", error->message);
      return 1;
    }
  printf ("PORT %u\n", gios_socket_common_get_port (GIOS_SOCKET_COMMON (server)));
  fflush (stdout);

  watcher = g_thread_new ("stdin", watch_stdin, cancellable);
  while (!g_cancellable_is_cancelled (cancellable))
    {
      /* A job per connection, running the run() method of KvProtocol. */
      if (gios_server_socket_listen_job (server, 1000, 64, NULL, NULL, NULL,
                                         cancellable, &error) < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            break;
          g_printerr ("kv-server: %s\n", error->message);
          return 1;
        }
    }

  /* Let the jobs whose clients have gone end by themselves, then close,
   * which cancels the rest, and wait for those. (Waiting first also keeps
   * close() from dropping a connection at the moment its job closes it,
   * which GiosSocketCommon does not yet guard against.) */
  gios_server_socket_wait_jobs (server, 2000, NULL);
  gios_server_socket_close (server, NULL);
  gios_server_socket_wait_jobs (server, 5000, NULL);
  g_thread_join (watcher);
  return 0;
}
