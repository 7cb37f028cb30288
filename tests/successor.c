/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gios_server_socket_hand_over_to() and gios_notify_ready(): a successor
 * gets the listening sockets by LISTEN_FDS and says READY=1, while clients
 * keep connecting; and each way it can go wrong.
 */
#include "gios-test-utils.h"

#include <glib/gstdio.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static void
assert_hand_over_fails (const char * const *argv,
                        int                 timeout_ms,
                        GQuark              domain,
                        int                 code,
                        const char         *says)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosSocket) connection = NULL;
  GPid pid = 0;
  int client;

  g_assert_false (gios_server_socket_hand_over_to (server, argv, timeout_ms, &pid, &error));
  g_assert_error (error, domain, code);
  g_assert_nonnull (strstr (error->message, says));
  g_assert_cmpint (pid, ==, 0);
  /* The server is unharmed: it still accepts. */
  connection = gios_test_accept_raw (server, &client);
  close (client);
}

static void
test_not_found (void)
{
  const char *argv[] = { "gios-no-such-program", NULL };

  assert_hand_over_fails (argv, 1000, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "gios-no-such-program");
}

static void
test_exits_first (void)
{
  const char *argv[] = { "/bin/sh", "-c", "exit 3", NULL };

  assert_hand_over_fails (argv, 5000, G_IO_ERROR, G_IO_ERROR_FAILED, "status 3");
}

static void
test_never_ready (void)
{
  const char *argv[] = { "/bin/sleep", "30", NULL };
  gint64 start = g_get_monotonic_time ();

  assert_hand_over_fails (argv, 300, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "ready");
  /* It gave up at the timeout, and killed the successor (waited for: not
   * 30 s). */
  gios_test_assert_elapsed (start, 280, 2000);
}

/* Another process on the machine can find the socket the successor says
 * READY=1 on (its name is in /proc/net/unix) and say it first: only the
 * successor is believed. The impostor here is this process (not the
 * successor), saying READY=1 once a millisecond. */
typedef struct
{
  gint stop;
  gint sent;
} Impostor;

/* The name of this process's socket for the successor ("@gios-ready-…"),
 * or NULL while there is none. */
static char *
find_notify_socket (void)
{
  g_autofree char *table = NULL;
  g_autofree char *prefix = g_strdup_printf (" @gios-ready-%d-", (int) getpid ());
  const char *at;
  gsize len;

  if (!g_file_get_contents ("/proc/net/unix", &table, NULL, NULL) ||
      (at = strstr (table, prefix)) == NULL)
    return NULL;
  at++;
  len = strcspn (at, "\n");
  return g_strndup (at, len);
}

static gpointer
impersonate_successor (gpointer data)
{
  Impostor *impostor = data;
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  while (!g_atomic_int_get (&impostor->stop))
    {
      g_autofree char *name = find_notify_socket ();
      struct sockaddr_un sun = { .sun_family = AF_UNIX };

      if (name != NULL && strlen (name) < sizeof sun.sun_path)
        {
          memcpy (sun.sun_path + 1, name + 1, strlen (name) - 1);
          if (sendto (fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *) &sun,
                      offsetof (struct sockaddr_un, sun_path) + strlen (name)) == 7)
            g_atomic_int_inc (&impostor->sent);
        }
      g_usleep (1000);
    }
  close (fd);
  return NULL;
}

static void
test_impostor (void)
{
  const char *argv[] = { "/bin/sleep", "30", NULL };
  Impostor impostor = { 0 };
  GThread *thread = g_thread_new ("impostor", impersonate_successor, &impostor);
  gint64 start = g_get_monotonic_time ();

  assert_hand_over_fails (argv, 500, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "ready");
  gios_test_assert_elapsed (start, 480, 2500);
  g_atomic_int_set (&impostor.stop, 1);
  g_thread_join (thread);
  g_assert_cmpint (g_atomic_int_get (&impostor.sent), >, 0);
}

static void
test_not_open (void)
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "/bin/true", NULL };

  g_assert_false (gios_server_socket_hand_over_to (server, argv, 1000, NULL, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED);
}

/* What the successor sees, checked by a shell: LISTEN_FDS, its own pid in
 * LISTEN_PID, a listening socket at descriptor 3 (the successor proves it
 * by accepting there: see test_success), and NOTIFY_SOCKET to report on. */
static void
test_environment (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autofree char *dir = gios_test_make_temp_dir ();
  g_autofree char *out = g_build_filename (dir, "env", NULL);
  g_autofree char *script = g_strdup_printf (
      "test \"$LISTEN_PID\" = \"$$\" && test \"$LISTEN_FDS\" = 1 && "
      "test -S /proc/$$/fd/3 && echo \"$NOTIFY_SOCKET\" > '%s'; exit 4", out);
  const char *argv[] = { "/bin/sh", "-c", script, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *notify = NULL;

  g_assert_false (gios_server_socket_hand_over_to (server, argv, 5000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_true (g_file_get_contents (out, &notify, NULL, NULL));
  g_assert_true (g_str_has_prefix (notify, "@gios-ready-"));
  g_unlink (out);
  g_rmdir (dir);
}

/* A successor (tests/activated-helper) takes the sockets by their name,
 * says it is ready, and answers the connection a client makes meanwhile:
 * the sockets were never closed. (The tool's test hands over the IPv4 and
 * IPv6 sockets of one server.) */
static void
test_success (void)
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autofree char *helper = g_test_build_filename (G_TEST_BUILT, "activated-helper", NULL);
  const char *argv[] = { helper, "take", "gios-hand-over", "ready", "serve", "accept", "1", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *reply = NULL;
  int devnull = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  int saved_stdout = dup (STDOUT_FILENO);
  GPid pid = 0;
  int status, client;

  g_assert_true (gios_server_socket_open_address (server, "127.0.0.1", "0", 1000, &error));
  g_assert_no_error (error);
  /* A client that connects before the hand-over waits in the queue. */
  client = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  /* The successor's report lines would mix with the test's own output. */
  fflush (stdout);
  dup2 (devnull, STDOUT_FILENO);
  g_assert_true (gios_server_socket_hand_over_to (server, argv, 10000, &pid, &error));
  dup2 (saved_stdout, STDOUT_FILENO);
  close (saved_stdout);
  close (devnull);
  g_assert_no_error (error);
  g_assert_cmpint (pid, >, 0);

  /* This one stops; the successor answers. */
  g_assert_true (gios_server_socket_drain (server, 1000, &error));
  g_assert_no_error (error);
  gios_test_raw_send (client, "hello\n");
  reply = gios_test_raw_recv (client, strlen ("hello\n"));
  g_assert_cmpstr (reply, ==, "hello\n");
  close (client);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* gios_notify_ready() without NOTIFY_SOCKET does nothing; with one, the
 * socket gets READY=1 and MAINPID. */
static void
test_notify_ready (void)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  const char *name = "gios-test-notify";
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_strconcat ("@", name, NULL);
  g_autofree char *expected = g_strdup_printf ("READY=1\nMAINPID=%d", (int) getpid ());
  char message[128];
  gssize n;
  int fd;

  g_unsetenv ("NOTIFY_SOCKET");
  g_assert_true (gios_notify_ready (&error));
  g_assert_no_error (error);

  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  memcpy (sun.sun_path + 1, name, strlen (name));
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, offsetof (struct sockaddr_un, sun_path) + 1 + strlen (name)), ==, 0);
  g_setenv ("NOTIFY_SOCKET", path, TRUE);
  g_assert_true (gios_notify_ready (&error));
  g_assert_no_error (error);
  n = recv (fd, message, sizeof message - 1, MSG_DONTWAIT);
  g_assert_cmpint (n, >, 0);
  message[n] = '\0';
  g_assert_cmpstr (message, ==, expected);

  g_setenv ("NOTIFY_SOCKET", "not-a-path", TRUE);
  g_assert_false (gios_notify_ready (&error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_unsetenv ("NOTIFY_SOCKET");
  close (fd);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/successor/errors/not-found", test_not_found);
  g_test_add_func ("/successor/errors/exits-first", test_exits_first);
  g_test_add_func ("/successor/errors/never-ready", test_never_ready);
  g_test_add_func ("/successor/errors/not-open", test_not_open);
  g_test_add_func ("/successor/errors/impostor", test_impostor);
  g_test_add_func ("/successor/environment", test_environment);
  g_test_add_func ("/successor/success", test_success);
  g_test_add_func ("/successor/notify-ready", test_notify_ready);

  return g_test_run ();
}
