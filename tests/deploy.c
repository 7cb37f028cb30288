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
#include "gios-activation.h"

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
/* Socket activation                                                          */

/* How the harness sets LISTEN_PID for the helper. */
typedef enum
{
  PID_HELPER,  /* the helper's own, as systemd sets it */
  PID_OTHER,   /* 1: the variables were meant for another process */
  PID_UNSET,
} PidMode;

/* The helper, started with sockets passed, and its standard output. */
typedef struct
{
  pid_t pid;
  int out;
} Helper;

/* Starts tests/activated-helper with @args as systemd starts a service:
 * @fds (which stay open here) at descriptors 3, 4…, LISTEN_FDS @fds_text
 * (NULL: no variable at all), LISTEN_FDNAMES @names (NULL: unset) and
 * LISTEN_PID as @pid_mode says. */
static Helper
start_activated (const int          *fds,
                 guint               n_fds,
                 const char         *fds_text,
                 const char         *names,
                 PidMode             pid_mode,
                 const char * const *args)
{
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, "activated-helper", NULL);
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  char pid_variable[64] = "LISTEN_PID=";
  int out[2];
  Helper helper;
  guint n_env;

  envp = g_environ_unsetenv (envp, "LISTEN_FDS");
  envp = g_environ_unsetenv (envp, "LISTEN_PID");
  envp = g_environ_unsetenv (envp, "LISTEN_FDNAMES");
  if (fds_text != NULL)
    envp = g_environ_setenv (envp, "LISTEN_FDS", fds_text, TRUE);
  if (names != NULL)
    envp = g_environ_setenv (envp, "LISTEN_FDNAMES", names, TRUE);
  if (pid_mode == PID_OTHER)
    envp = g_environ_setenv (envp, "LISTEN_PID", "1", TRUE);
  /* The helper's own goes in the last slot, written in the child. */
  n_env = g_strv_length (envp);
  envp = g_renew (char *, envp, n_env + 2);
  envp[n_env] = pid_mode == PID_HELPER ? pid_variable : NULL;
  envp[n_env + 1] = NULL;

  g_ptr_array_add (argv, path);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_assert_cmpint (pipe2 (out, O_CLOEXEC), ==, 0);
  helper.pid = fork ();
  g_assert_cmpint (helper.pid, >=, 0);
  if (helper.pid == 0)
    {
      int moved[8];

      /* Out of the way first, so that no descriptor is overwritten before
       * it is copied; dup2() clears close-on-exec on the copies at 3…. */
      for (guint i = 0; i < n_fds; i++)
        moved[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 100);
      if (dup2 (out[1], STDOUT_FILENO) < 0)
        _exit (126);
      for (guint i = 0; i < n_fds; i++)
        if (dup2 (moved[i], 3 + i) < 0)
          _exit (126);
      _gios_activation_format_pid (pid_variable + strlen ("LISTEN_PID="), getpid ());
      execve (path, (char **) argv->pdata, envp);
      _exit (127);
    }
  close (out[1]);
  envp[n_env] = NULL;  /* not g_free()d */
  helper.out = out[0];
  return helper;
}

/* The helper's next line of output, within 10 s; NULL at its end. */
static char *
helper_line (Helper *helper)
{
  GString *line = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  char c;

  for (;;)
    {
      struct pollfd readable = { .fd = helper->out, .events = POLLIN };
      gint64 left = deadline - g_get_monotonic_time ();

      g_assert_cmpint (left, >, 0);
      if (poll (&readable, 1, left / 1000 + 1) <= 0)
        continue;
      if (read (helper->out, &c, 1) != 1)
        break;
      if (c == '\n')
        return g_string_free (line, FALSE);
      g_string_append_c (line, c);
    }
  g_assert_cmpuint (line->len, ==, 0);
  g_string_free (line, TRUE);
  return NULL;
}

/* Asserts that the helper's next line is @expected. */
static void
assert_helper_says (Helper     *helper,
                    const char *expected)
{
  g_autofree char *line = helper_line (helper);

  g_assert_cmpstr (line, ==, expected);
}

/* Asserts that the helper's next line is a failed take with @code and a
 * message holding @part. */
static void
assert_helper_fails (Helper       *helper,
                     GIOErrorEnum  code,
                     const char   *part)
{
  g_autofree char *line = helper_line (helper);
  g_autofree char *prefix = g_strdup_printf ("error %d ", code);

  g_assert_nonnull (line);
  g_test_message ("%s", line);
  g_assert_true (g_str_has_prefix (line, prefix));
  g_assert_nonnull (strstr (line, part));
}

/* Asserts that the helper printed nothing more and exited with 0. */
static void
helper_finish (Helper *helper)
{
  g_autofree char *rest = helper_line (helper);

  g_assert_null (rest);
  close (helper->out);
  assert_child_exits_cleanly (helper->pid);
}

/* A socket listening on 127.0.0.1 (@listening: else only bound), on the
 * port it puts in @port. */
static int
tcp_socket (gboolean  listening,
            guint    *port)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof sin;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  if (listening)
    g_assert_cmpint (listen (fd, 16), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  *port = ntohs (sin.sin_port);
  return fd;
}

/* A passed TCP socket serves twice in the model @data names. */
static void
test_activated_model (gconstpointer data)
{
  const char *model = data;
  const char *args[] = { "take", "-", "env", "serve", model, "2", NULL };
  guint port;
  int fd = tcp_socket (TRUE, &port);
  Helper helper = start_activated (&fd, 1, "1", NULL, PID_HELPER, args);
  g_autofree char *taken = g_strdup_printf ("ok 127.0.0.1:%u cloexec=1", port);

  assert_helper_says (&helper, taken);
  assert_helper_says (&helper, "env LISTEN_FDS=- LISTEN_PID=- LISTEN_FDNAMES=-");
  close (fd);  /* the helper's copy listens on */
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *reply = ask (port, "activated\n");

      g_assert_cmpstr (reply, ==, "activated\n");
    }
  assert_helper_says (&helper, "served 2");
  helper_finish (&helper);
}

/* A passed Unix-domain socket: its path is the address, and it stays. */
static void
test_activated_unix (void)
{
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "passed.sock", NULL);
  g_autofree char *taken = g_strdup_printf ("ok unix:%s cloexec=1", path);
  const char *args[] = { "take", "-", "serve", "start", "1", NULL };
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  g_autofree char *reply = NULL;
  Helper helper;
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int client;

  g_strlcpy (sun.sun_path, path, sizeof sun.sun_path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  g_assert_cmpint (listen (fd, 16), ==, 0);
  helper = start_activated (&fd, 1, "1", "control", PID_HELPER, args);
  close (fd);
  assert_helper_says (&helper, taken);

  client = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (connect (client, (struct sockaddr *) &sun, sizeof sun), ==, 0);
  gios_test_raw_send (client, "over unix\n");
  reply = gios_test_raw_recv (client, 64);
  g_assert_cmpstr (reply, ==, "over unix\n");
  close (client);
  assert_helper_says (&helper, "served 1");
  helper_finish (&helper);

  /* systemd made the file, and removes it. */
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Three sockets, two of one name: by name, the first not taken, and each
 * way of finding none. */
static void
test_activated_names (void)
{
  const char *args[] = { "take", "admin", "env", "take", "-", "take", "admin", "take", "nosuch",
                         "take", "-", "env", "take", "-", "take", "web", NULL };
  guint ports[3];
  int fds[3];
  Helper helper;
  g_autofree char *admin = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  for (guint i = 0; i < 3; i++)
    fds[i] = tcp_socket (TRUE, &ports[i]);
  helper = start_activated (fds, 3, "3", "web:admin:web", PID_HELPER, args);
  admin = g_strdup_printf ("ok 127.0.0.1:%u cloexec=010", ports[1]);
  first = g_strdup_printf ("ok 127.0.0.1:%u cloexec=110", ports[0]);
  second = g_strdup_printf ("ok 127.0.0.1:%u cloexec=111", ports[2]);

  assert_helper_says (&helper, admin);
  /* Not all taken: the variables stay. */
  assert_helper_says (&helper, "env LISTEN_FDS=3 LISTEN_PID=set LISTEN_FDNAMES=web:admin:web");
  assert_helper_says (&helper, first);
  assert_helper_fails (&helper, G_IO_ERROR_NOT_FOUND, "“admin” that was passed to this process is taken already");
  assert_helper_fails (&helper, G_IO_ERROR_NOT_FOUND, "No socket named “nosuch” was passed to this process (its sockets: web, admin, web)");
  assert_helper_says (&helper, second);
  /* All taken: the variables are gone. */
  assert_helper_says (&helper, "env LISTEN_FDS=- LISTEN_PID=- LISTEN_FDNAMES=-");
  assert_helper_fails (&helper, G_IO_ERROR_NOT_FOUND, "Every socket passed to this process (3) is taken already");
  assert_helper_fails (&helper, G_IO_ERROR_NOT_FOUND, "“web” that was passed to this process is taken already");
  helper_finish (&helper);
  for (guint i = 0; i < 3; i++)
    close (fds[i]);
}

/* What the failure cases pass. */
typedef enum
{
  PASS_LISTENING,
  PASS_BOUND,      /* a TCP socket that does not listen */
  PASS_DATAGRAM,
  PASS_FILE,       /* /dev/null */
} PassedKind;

typedef struct
{
  const char *name;
  PassedKind kind;
  const char *fds_text;
  const char *names;
  PidMode pid_mode;
  GIOErrorEnum code;
  const char *part;     /* of the message */
  const char *env;      /* the variables afterwards */
} Failure;

static const Failure failures[] = {
  { "none", PASS_LISTENING, NULL, NULL, PID_UNSET, G_IO_ERROR_NOT_FOUND,
    "No listening socket was passed to this process: LISTEN_FDS is not set",
    "env LISTEN_FDS=- LISTEN_PID=- LISTEN_FDNAMES=-" },
  { "other-pid", PASS_LISTENING, "1", NULL, PID_OTHER, G_IO_ERROR_NOT_FOUND,
    "The sockets in LISTEN_FDS were passed to process 1, not to this one",
    "env LISTEN_FDS=1 LISTEN_PID=set LISTEN_FDNAMES=-" },
  { "no-pid", PASS_LISTENING, "1", NULL, PID_UNSET, G_IO_ERROR_NOT_FOUND,
    "LISTEN_FDS is set but LISTEN_PID is not",
    "env LISTEN_FDS=1 LISTEN_PID=- LISTEN_FDNAMES=-" },
  { "zero", PASS_LISTENING, "0", NULL, PID_HELPER, G_IO_ERROR_NOT_FOUND,
    "LISTEN_FDS is 0",
    "env LISTEN_FDS=0 LISTEN_PID=set LISTEN_FDNAMES=-" },
  { "malformed", PASS_LISTENING, "three", NULL, PID_HELPER, G_IO_ERROR_INVALID_DATA,
    "LISTEN_FDS is “three”, not a number of descriptors",
    "env LISTEN_FDS=three LISTEN_PID=set LISTEN_FDNAMES=-" },
  { "too-many", PASS_LISTENING, "99999999", NULL, PID_HELPER, G_IO_ERROR_INVALID_DATA,
    "LISTEN_FDS is “99999999”, not a number of descriptors",
    "env LISTEN_FDS=99999999 LISTEN_PID=set LISTEN_FDNAMES=-" },
  { "names-count", PASS_LISTENING, "1", "a:b", PID_HELPER, G_IO_ERROR_INVALID_DATA,
    "LISTEN_FDNAMES names 2 sockets but LISTEN_FDS passes 1",
    "env LISTEN_FDS=1 LISTEN_PID=set LISTEN_FDNAMES=a:b" },
  { "not-listening", PASS_BOUND, "1", "web", PID_HELPER, G_IO_ERROR_INVALID_ARGUMENT,
    "Cannot adopt descriptor 3 (“web”) from LISTEN_FDS: the socket is not listening",
    "env LISTEN_FDS=1 LISTEN_PID=set LISTEN_FDNAMES=web" },
  { "datagram", PASS_DATAGRAM, "1", NULL, PID_HELPER, G_IO_ERROR_INVALID_ARGUMENT,
    "Cannot adopt descriptor 3 (“unknown”) from LISTEN_FDS: it is not a stream socket",
    "env LISTEN_FDS=1 LISTEN_PID=set LISTEN_FDNAMES=-" },
  { "not-a-socket", PASS_FILE, "1", NULL, PID_HELPER, G_IO_ERROR_INVALID_ARGUMENT,
    "Cannot adopt descriptor 3 (“unknown”) from LISTEN_FDS: it is not a socket",
    "env LISTEN_FDS=1 LISTEN_PID=set LISTEN_FDNAMES=-" },
  { "not-passed", PASS_LISTENING, "2", NULL, PID_HELPER, G_IO_ERROR_INVALID_ARGUMENT,
    /* Descriptor 4 is whatever the helper opened there, if anything. */
    "Cannot adopt descriptor 4 (“unknown”) from LISTEN_FDS: ",
    "env LISTEN_FDS=2 LISTEN_PID=set LISTEN_FDNAMES=-" },
};

/* Each way a take fails says so, and leaves the passed socket and the
 * variables alone: a second take fails the same way. */
static void
test_activated_failure (gconstpointer data)
{
  const Failure *f = data;
  /* "not-passed": the first is taken, the second is not there. */
  gboolean take_first = g_str_equal (f->name, "not-passed");
  const char *args[] = { "take", "-", "take", "-", "env", NULL };
  guint port = 0;
  int fd = -1;
  Helper helper;

  switch (f->kind)
    {
    case PASS_LISTENING:
    case PASS_BOUND:
      fd = tcp_socket (f->kind == PASS_LISTENING, &port);
      break;
    case PASS_DATAGRAM:
      fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      break;
    case PASS_FILE:
      fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_cmpint (fd, >=, 0);
  helper = start_activated (&fd, 1, f->fds_text, f->names, f->pid_mode, args);
  if (take_first)
    {
      g_autofree char *taken = g_strdup_printf ("ok 127.0.0.1:%u cloexec=1", port);
      g_autofree char *line = helper_line (&helper);

      g_assert_nonnull (line);
      g_assert_true (g_str_has_prefix (line, taken));
    }
  else
    assert_helper_fails (&helper, f->code, f->part);
  assert_helper_fails (&helper, f->code, f->part);
  assert_helper_says (&helper, f->env);
  helper_finish (&helper);
  close (fd);
}

/* The real thing: systemd-socket-activate listens, starts the helper at
 * the first connection, and the helper answers it. */
static void
test_activated_systemd (void)
{
  g_autofree char *activate = g_find_program_in_path ("systemd-socket-activate");
  g_autofree char *helper = g_test_build_filename (G_TEST_BUILT, "activated-helper", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *address = NULL;
  g_autofree char *taken = NULL;
  g_autofree char *reply = NULL;
  g_autofree char *line = NULL;
  gboolean saw_taken = FALSE, saw_served = FALSE;
  guint port;

  if (activate == NULL)
    {
      g_test_skip ("systemd-socket-activate is not installed (Debian: systemd)");
      return;
    }
  /* A free port, for systemd-socket-activate, which takes no port 0. */
  close (tcp_socket (FALSE, &port));
  address = g_strdup_printf ("127.0.0.1:%u", port);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                              activate, "-l", address, "--fdname=web", helper,
                              "take", "web", "env", "serve", "classic", "1", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));

  /* It says when it listens; nothing else runs yet. */
  while ((line = g_data_input_stream_read_line (out, NULL, NULL, &error)) != NULL &&
         !g_str_has_prefix (line, "Listening on "))
    g_clear_pointer (&line, g_free);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_clear_pointer (&line, g_free);

  reply = ask (port, "socket activated\n");
  g_assert_cmpstr (reply, ==, "socket activated\n");

  taken = g_strdup_printf ("ok %s cloexec=1", address);
  while ((line = g_data_input_stream_read_line (out, NULL, NULL, &error)) != NULL)
    {
      g_test_message ("%s", line);
      saw_taken |= g_str_equal (line, taken);
      saw_served |= g_str_equal (line, "served 1");
      g_clear_pointer (&line, g_free);
    }
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait_check (process, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (saw_taken);
  g_assert_true (saw_served);
}

/* ------------------------------------------------------------------------ */
/* Stale Unix-domain sockets                                                  */

/* Leaves a stale socket at @path, as a crash does: a forked process binds
 * and listens there, and is killed. */
static void
leave_stale_socket (const char *path)
{
  int ready[2];
  pid_t pid;
  char c;
  int status;

  g_assert_cmpint (pipe (ready), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      struct sockaddr_un sun = { .sun_family = AF_UNIX };
      int fd = socket (AF_UNIX, SOCK_STREAM, 0);

      strcpy (sun.sun_path, path);
      if (fd < 0 || bind (fd, (struct sockaddr *) &sun, sizeof sun) != 0 || listen (fd, 4) != 0 ||
          write (ready[1], "r", 1) != 1)
        _exit (1);
      pause ();
      _exit (0);
    }
  close (ready[1]);
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  close (ready[0]);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
}

/* The inode at @path (asserted to exist). */
static ino_t
inode_of (const char *path)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  return st.st_ino;
}

/* Connects to @path, sends a line and asserts it comes back, served by
 * @server in the classic model. */
static void
assert_serves_unix (GiosServerSocket *server,
                    const char       *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  g_autofree char *line = NULL;
  int fd;

  g_assert_no_error (error);
  fd = g_socket_get_fd (g_socket_connection_get_socket (connection));
  gios_test_raw_send (fd, "still here\n");
  g_assert_true (gios_server_socket_listen (server, 5000, NULL, &error));
  g_assert_no_error (error);
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (server), 64, NULL, 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "still here");
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
}

/* Asserts that opening @path with replace-stale fails with
 * G_IO_ERROR_ADDRESS_IN_USE and leaves the entry there as it was. */
static void
assert_kept (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  ino_t ino = inode_of (path);

  gios_server_socket_set_replace_stale (server, TRUE);
  g_assert_false (gios_server_socket_open_unix (server, path, 0600, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_cmpuint (inode_of (path), ==, ino);
}

/* A dead server's socket: kept without the property, replaced with it. */
static void
test_stale_replaced (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "crashed.sock", NULL);
  gboolean replace_stale = TRUE;
  ino_t stale;

  leave_stale_socket (path);
  stale = inode_of (path);

  g_object_get (server, "replace-stale", &replace_stale, NULL);
  g_assert_false (replace_stale);
  g_assert_false (gios_server_socket_open_unix (server, path, 0600, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);
  g_assert_cmpuint (inode_of (path), ==, stale);

  g_object_set (server, "replace-stale", TRUE, NULL);
  g_assert_true (gios_server_socket_get_replace_stale (server));
  g_assert_true (gios_server_socket_open_unix (server, path, 0600, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (inode_of (path), !=, stale);
  assert_serves_unix (server, path);

  g_assert_true (gios_server_socket_close (server, NULL));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* A socket a server listens on stays, and that server goes on serving. */
static void
test_stale_live_kept (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosServerSocket) live = gios_server_socket_new ();
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "live.sock", NULL);

  g_assert_true (gios_server_socket_open_unix (live, path, 0600, 0, &error));
  g_assert_no_error (error);
  assert_kept (path);
  /* The check's own connection waits in the queue: taken and dropped. */
  g_assert_true (gios_server_socket_listen (live, 5000, NULL, &error));
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (live), NULL);
  assert_serves_unix (live, path);
  g_assert_true (gios_server_socket_close (live, NULL));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Nothing but a socket is removed: a file, a directory, a symbolic link to
 * a stale socket. */
static void
test_stale_others_kept (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *file = g_build_filename (dir, "file", NULL);
  g_autofree char *subdir = g_build_filename (dir, "dir", NULL);
  g_autofree char *stale = g_build_filename (dir, "stale.sock", NULL);
  g_autofree char *link = g_build_filename (dir, "link.sock", NULL);

  g_assert_true (g_file_set_contents (file, "data", -1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir (subdir, 0700), ==, 0);
  leave_stale_socket (stale);
  g_assert_cmpint (symlink (stale, link), ==, 0);

  assert_kept (file);
  assert_kept (subdir);
  assert_kept (link);

  g_assert_cmpint (g_unlink (file), ==, 0);
  g_assert_cmpint (g_rmdir (subdir), ==, 0);
  g_assert_cmpint (g_unlink (link), ==, 0);
  g_assert_cmpint (g_unlink (stale), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Another user's stale socket stays: testable as root, who can give it
 * away. */
static void
test_stale_other_user_kept (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("only root can make a socket of another user here");
      return;
    }
  dir = gios_test_make_temp_dir ();
  path = g_build_filename (dir, "theirs.sock", NULL);
  leave_stale_socket (path);
  g_assert_cmpint (lchown (path, 65534, 65534), ==, 0);
  assert_kept (path);
  g_assert_cmpint (g_unlink (path), ==, 0);
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
  for (guint i = 0; i < 4; i++)
    {
      static const char *models[] = { "classic", "accept", "jobs", "start" };
      g_autofree char *path = g_strdup_printf ("/deploy/activated/model/%s", models[i]);

      g_test_add_data_func (path, models[i], test_activated_model);
    }
  g_test_add_func ("/deploy/activated/unix", test_activated_unix);
  g_test_add_func ("/deploy/activated/names", test_activated_names);
  for (guint i = 0; i < G_N_ELEMENTS (failures); i++)
    {
      g_autofree char *path = g_strdup_printf ("/deploy/activated/failure/%s", failures[i].name);

      g_test_add_data_func (path, &failures[i], test_activated_failure);
    }
  g_test_add_func ("/deploy/activated/systemd-socket-activate", test_activated_systemd);
  g_test_add_func ("/deploy/stale/replaced", test_stale_replaced);
  g_test_add_func ("/deploy/stale/live-kept", test_stale_live_kept);
  g_test_add_func ("/deploy/stale/others-kept", test_stale_others_kept);
  g_test_add_func ("/deploy/stale/other-user-kept", test_stale_other_user_kept);

  return g_test_run ();
}
