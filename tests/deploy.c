/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Deployment: several processes on one port (reuse-port), every address a
 * server listens on, sockets passed by systemd (LISTEN_FDS) and stale
 * Unix-domain sockets left by a crash.
 */
#include <gios/gios.h>
#include <gio/gunixsocketaddress.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include "gios-test-utils.h"

/* How many processes share one port in the reuse-port test. */
#define N_PROCESSES 4
/* The most connections the test makes before every process has answered:
 * with the kernel hashing each new source port, missing one of four in 400
 * tries has a chance of (3/4)^400. */
#define MAX_CONNECTIONS 400

/* Waits for @pid to exit, at most 20 s, and asserts it exited with 0. */
static void
assert_child_exits_cleanly (pid_t pid)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  int status = 0;
  pid_t r;

  while ((r = waitpid (pid, &status, WNOHANG)) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  if (r == 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      g_error ("child %d did not exit within 20 s", (int) pid);
    }
  g_assert_cmpint (r, ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* Sends @line to a loopback @port and returns the line that comes back. */
static char *
ask (guint       port,
     const char *line)
{
  int fd = gios_test_raw_connect (AF_INET, port);
  char *reply;

  gios_test_raw_send (fd, line);
  reply = gios_test_raw_recv (fd, 64);
  close (fd);
  return reply;
}

/* ------------------------------------------------------------------------ */
/* reuse-port                                                                 */

/* A forked process of the reuse-port test: closes its copy of @holder
 * (which would stay in the port's group, with nobody accepting), opens
 * 127.0.0.1:@port with reuse-port, says so on @ready, and answers every
 * connection with its @index until @stop reaches its end (at most 30 s). */
static void G_GNUC_NORETURN
reuse_port_child (GiosServerSocket *holder,
                  guint             index,
                  guint             port,
                  int               ready,
                  int               stop)
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *answer = g_strdup_printf ("%u", index);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  struct pollfd stopped = { .fd = stop, .events = POLLIN };

  gios_server_socket_close (holder, NULL);
  gios_server_socket_set_reuse_port (server, TRUE);
  if (!gios_server_socket_open_address (server, "127.0.0.1", port_text, 0, &error))
    {
      g_printerr ("process %u: %s\n", index, error->message);
      _exit (1);
    }
  g_assert_cmpint (write (ready, "r", 1), ==, 1);

  while (poll (&stopped, 1, 0) == 0 && g_get_monotonic_time () < deadline)
    {
      g_clear_error (&error);
      if (!gios_server_socket_listen (server, 100, NULL, &error))
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            _exit (2);
          continue;
        }
      g_free (gios_device_stream_read_line (GIOS_DEVICE_STREAM (server), 64, NULL, 5000, NULL, NULL));
      gios_device_stream_write_line (GIOS_DEVICE_STREAM (server), answer, NULL, NULL);
      gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
    }
  gios_server_socket_close (server, NULL);
  _exit (0);
}

/* Four processes, forked before any thread starts, listen on one port
 * with reuse-port; every one of them answers. */
static void
reuse_port_checks (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) holder = gios_server_socket_new ();
  pid_t pids[N_PROCESSES];
  int ready[2], stop[2];
  guint answered = 0;
  guint connections = 0;
  guint port;

  /* Holds the port until the processes listen on it too. */
  gios_server_socket_set_reuse_port (holder, TRUE);
  g_assert_true (gios_server_socket_open_address (holder, "127.0.0.1", "0", 0, &error));
  g_assert_no_error (error);
  port = gios_test_server_port (holder);

  g_assert_cmpint (pipe (ready), ==, 0);
  g_assert_cmpint (pipe (stop), ==, 0);
  for (guint i = 0; i < N_PROCESSES; i++)
    {
      pids[i] = fork ();
      g_assert_cmpint (pids[i], >=, 0);
      if (pids[i] == 0)
        {
          close (ready[0]);
          close (stop[1]);
          reuse_port_child (holder, i, port, ready[1], stop[0]);
        }
    }
  close (ready[1]);
  close (stop[0]);
  for (guint i = 0; i < N_PROCESSES; i++)
    {
      char c;

      g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
    }
  close (ready[0]);
  /* From now on only the forked processes listen. */
  g_assert_true (gios_server_socket_close (holder, NULL));

  while (answered != (1u << N_PROCESSES) - 1 && connections < MAX_CONNECTIONS)
    {
      g_autofree char *reply = ask (port, "who?\n");
      guint64 index;

      connections++;
      g_assert_true (g_ascii_string_to_unsigned (g_strchomp (reply), 10, 0, N_PROCESSES - 1, &index, NULL));
      answered |= 1u << index;
    }
  g_test_message ("%u connections until all %u processes answered", connections, N_PROCESSES);
  g_assert_cmphex (answered, ==, (1u << N_PROCESSES) - 1);

  close (stop[1]);
  for (guint i = 0; i < N_PROCESSES; i++)
    assert_child_exits_cleanly (pids[i]);
}

static void
test_reuse_port_processes (void)
{
  gios_test_run_in_subprocess (reuse_port_checks, NULL, 60);
}

/* Without the property on both, the second socket on a port fails. */
static void
test_reuse_port_needed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) first = gios_server_socket_new ();
  g_autoptr(GiosServerSocket) second = gios_server_socket_new ();
  g_autoptr(GiosServerSocket) third = gios_server_socket_new ();
  g_autofree char *port = NULL;
  gboolean reuse_port = TRUE;

  g_assert_false (gios_server_socket_get_reuse_port (first));
  g_object_get (first, "reuse-port", &reuse_port, NULL);
  g_assert_false (reuse_port);

  /* Neither sets it. */
  g_assert_true (gios_server_socket_open_address (first, "127.0.0.1", "0", 0, &error));
  g_assert_no_error (error);
  port = gios_test_server_port_string (first);
  g_assert_false (gios_server_socket_open_address (second, "127.0.0.1", port, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);

  /* Only the second sets it. */
  g_object_set (second, "reuse-port", TRUE, NULL);
  g_assert_true (gios_server_socket_get_reuse_port (second));
  g_assert_false (gios_server_socket_open_address (second, "127.0.0.1", port, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);
  g_assert_true (gios_server_socket_close (first, NULL));

  /* Only the first sets it. */
  g_assert_true (gios_server_socket_open_address (second, "127.0.0.1", port, 0, &error));
  g_assert_no_error (error);
  g_assert_false (gios_server_socket_open_address (third, "127.0.0.1", port, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);

  /* Both: they share it. */
  gios_server_socket_set_reuse_port (third, TRUE);
  g_assert_true (gios_server_socket_open_address (third, "127.0.0.1", port, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gios_test_server_port (third), ==, gios_test_server_port (second));
}

/* ------------------------------------------------------------------------ */
/* Every listening address                                                    */

/* Whether @addresses hold an address of @family on @port. */
static gboolean
has_address (GList          *addresses,
             GSocketFamily   family,
             guint           port)
{
  for (GList *l = addresses; l != NULL; l = l->next)
    {
      GInetSocketAddress *address = l->data;

      if (g_socket_address_get_family (l->data) == family &&
          g_inet_socket_address_get_port (address) == port)
        return TRUE;
    }
  return FALSE;
}

/* Open on every interface with port 0: IPv4 and IPv6 on one port. */
static void
test_addresses_any (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  GList *addresses;
  GSocketAddress *local;
  guint port;

  g_assert_null (gios_server_socket_get_addresses (server));
  g_assert_true (gios_server_socket_open (server, "0", 0, &error));
  g_assert_no_error (error);
  port = gios_test_server_port (server);

  addresses = gios_server_socket_get_addresses (server);
  g_assert_true (has_address (addresses, G_SOCKET_FAMILY_IPV4, port));
  if (gios_test_have_ipv6_loopback ())
    {
      g_assert_true (has_address (addresses, G_SOCKET_FAMILY_IPV6, port));
      g_assert_cmpuint (g_list_length (addresses), ==, 2);
    }
  else
    g_test_message ("no IPv6 here; IPv4 checked only");
  for (GList *l = addresses; l != NULL; l = l->next)
    g_assert_true (g_inet_address_get_is_any (g_inet_socket_address_get_address (l->data)));

  /* local-address is the first. */
  local = gios_socket_common_get_local_address (GIOS_SOCKET_COMMON (server));
  g_assert_true (g_socket_address_get_family (local) == g_socket_address_get_family (addresses->data));
  g_list_free_full (addresses, g_object_unref);

  g_assert_true (gios_server_socket_close (server, NULL));
  g_assert_null (gios_server_socket_get_addresses (server));
}

/* One address each: a loopback one, a Unix path (the final one, not the
 * temporary name it was bound under). */
static void
test_addresses_one (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GiosServerSocket) unix_server = gios_server_socket_new ();
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "s", NULL);
  GList *addresses = gios_server_socket_get_addresses (server);
  g_autofree char *text = NULL;

  g_assert_cmpuint (g_list_length (addresses), ==, 1);
  text = g_inet_address_to_string (g_inet_socket_address_get_address (addresses->data));
  g_assert_cmpstr (text, ==, "127.0.0.1");
  g_assert_cmpuint (g_inet_socket_address_get_port (addresses->data), ==, gios_test_server_port (server));
  g_list_free_full (addresses, g_object_unref);

  g_assert_true (gios_server_socket_open_unix (unix_server, path, 0600, 0, &error));
  g_assert_no_error (error);
  addresses = gios_server_socket_get_addresses (unix_server);
  g_assert_cmpuint (g_list_length (addresses), ==, 1);
  g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (addresses->data));
  g_assert_cmpstr (g_unix_socket_address_get_path (addresses->data), ==, path);
  g_list_free_full (addresses, g_object_unref);
  g_assert_true (gios_server_socket_close (unix_server, NULL));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* ------------------------------------------------------------------------ */

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/deploy/reuse-port/processes", test_reuse_port_processes);
  g_test_add_func ("/deploy/reuse-port/needed", test_reuse_port_needed);
  g_test_add_func ("/deploy/addresses/any", test_addresses_any);
  g_test_add_func ("/deploy/addresses/one", test_addresses_one);

  return g_test_run ();
}
