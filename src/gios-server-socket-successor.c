/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Restarting without losing a connection: hand_over_to() starts a
 * successor with this server's listening sockets, by systemd's LISTEN_FDS
 * protocol, and waits until it says it is ready, by systemd's NOTIFY_SOCKET
 * protocol (READY=1); notify_ready() is what the successor says. The
 * listening sockets are never closed on the way: connections that arrive
 * meanwhile wait in their queues, whichever process accepts them. The
 * caller then drains.
 *
 * The child is made with fork() and execve(): between the two only
 * async-signal-safe calls (dup2, fcntl, write into memory prepared before
 * the fork), since the caller may have threads.
 */
#include "gios-server-socket-impl.h"
#include "gios-call.h"
#include "gios-activation.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#define FIRST_PASSED_FD 3
#define HAND_OVER_NAME "gios-hand-over"
/* How often the wait for READY=1 looks whether the successor has died. */
#define READY_SLICE_MS 50

/* The environment of the successor: ours without the variables of an
 * activation of our own, with the sockets' and the notification socket's.
 * LISTEN_PID is the last entry, its digits written in the child. */
static GStrv
successor_environment (guint        n_fds,
                       const char  *notify_path,
                       char       **listen_pid)
{
  g_auto(GStrv) environ_now = g_get_environ ();
  GPtrArray *envp = g_ptr_array_new ();
  GString *names = g_string_new ("LISTEN_FDNAMES=");

  for (guint i = 0; environ_now[i] != NULL; i++)
    if (!g_str_has_prefix (environ_now[i], "LISTEN_") &&
        !g_str_has_prefix (environ_now[i], "NOTIFY_SOCKET="))
      g_ptr_array_add (envp, g_strdup (environ_now[i]));
  g_ptr_array_add (envp, g_strdup_printf ("LISTEN_FDS=%u", n_fds));
  /* One name for all: the successor adopts them together. */
  for (guint i = 0; i < n_fds; i++)
    g_string_append (names, i == 0 ? HAND_OVER_NAME : ":" HAND_OVER_NAME);
  g_ptr_array_add (envp, g_string_free (names, FALSE));
  g_ptr_array_add (envp, g_strdup_printf ("NOTIFY_SOCKET=%s", notify_path));
  /* Room for any pid. */
  g_ptr_array_add (envp, g_strdup ("LISTEN_PID=0000000000000000000000"));
  *listen_pid = (char *) g_ptr_array_index (envp, envp->len - 1) + strlen ("LISTEN_PID=");
  g_ptr_array_add (envp, NULL);
  return (GStrv) g_ptr_array_free (envp, FALSE);
}

/* An abstract datagram socket the successor says READY=1 on, and its name
 * as NOTIFY_SOCKET spells it ("@…"). */
static int
notify_socket_new (char    **path,
                   GError  **error)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  g_autofree char *name = g_strdup_printf ("gios-ready-%d-%08x", (int) getpid (), g_random_int ());
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int on = 1;
  int errsv;

  if (fd >= 0 && setsockopt (fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0)
    {
      memcpy (sun.sun_path + 1, name, strlen (name));
      if (bind (fd, (struct sockaddr *) &sun, offsetof (struct sockaddr_un, sun_path) + 1 + strlen (name)) == 0)
        {
          *path = g_strconcat ("@", name, NULL);
          return fd;
        }
    }
  errsv = errno;
  if (fd >= 0)
    close (fd);
  _gios_set_error_from_errno (error, errsv, _("Could not make a socket for the successor to report on: %s"),
                              g_strerror (errsv));
  return -1;
}

/* In the child: the listening sockets at 3, 4, … (moved out of the way
 * first, since one of them may sit where another goes), then exec. */
static void G_GNUC_NORETURN
exec_successor (const int   *fds,
                guint        n_fds,
                const char  *path,
                char       **argv,
                char       **envp,
                char        *listen_pid)
{
  int moved[64];

  _gios_activation_format_pid (listen_pid, getpid ());
  for (guint i = 0; i < n_fds; i++)
    {
      moved[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, FIRST_PASSED_FD + (int) n_fds);
      if (moved[i] < 0)
        _exit (127);
    }
  for (guint i = 0; i < n_fds; i++)
    if (dup2 (moved[i], FIRST_PASSED_FD + (int) i) < 0)
      _exit (127);
  execve (path, argv, envp);
  _exit (127);
}

/* Whether process @pid is @ancestor or one of its descendants (a wrapper
 * that starts the server as its child). */
static gboolean
descends_from (pid_t pid,
               pid_t ancestor)
{
  for (guint depth = 0; depth < 16 && pid > 1; depth++)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
      g_autofree char *stat = NULL;
      const char *end;
      int ppid;

      if (pid == ancestor)
        return TRUE;
      /* "pid (comm) state ppid …", where comm may hold anything. */
      if (!g_file_get_contents (path, &stat, NULL, NULL) ||
          (end = strrchr (stat, ')')) == NULL ||
          sscanf (end + 1, " %*c %d", &ppid) != 1)
        return FALSE;
      pid = ppid;
    }
  return FALSE;
}

/* Receives one message on @notify_fd: TRUE when it is READY=1 from the
 * successor @pid (or a process it started). The socket's name can be read
 * by anyone on the machine: the kernel's word on the sender
 * (SCM_CREDENTIALS) tells the successor from another process. */
static gboolean
receive_ready (int   notify_fd,
               pid_t pid)
{
  char message[512];
  union {
    struct cmsghdr header;
    char space[CMSG_SPACE (sizeof (struct ucred))];
  } control;
  struct iovec iov = { message, sizeof message - 1 };
  struct msghdr msg = {
    .msg_iov = &iov,
    .msg_iovlen = 1,
    .msg_control = &control,
    .msg_controllen = sizeof control,
  };
  g_auto(GStrv) lines = NULL;
  struct cmsghdr *cmsg;
  struct ucred sender;
  gssize n;

  n = recvmsg (notify_fd, &msg, MSG_DONTWAIT);
  if (n <= 0)
    return FALSE;
  cmsg = CMSG_FIRSTHDR (&msg);
  if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_CREDENTIALS ||
      cmsg->cmsg_len != CMSG_LEN (sizeof sender))
    return FALSE;
  memcpy (&sender, CMSG_DATA (cmsg), sizeof sender);
  if (!descends_from (sender.pid, pid))
    return FALSE;
  message[n] = '\0';
  lines = g_strsplit (message, "\n", -1);
  return g_strv_contains ((const char * const *) lines, "READY=1");
}

/* Waits until the successor @pid says READY=1 on @notify_fd, dies, or
 * @deadline passes, whatever else arrives on the socket. */
static gboolean
wait_ready (int      notify_fd,
            pid_t    pid,
            gint64   deadline,
            GError **error)
{
  for (;;)
    {
      GPollFD pfd = { notify_fd, G_IO_IN, 0 };
      int status;
      pid_t ended;

      if (receive_ready (notify_fd, pid))
        return TRUE;

      ended = waitpid (pid, &status, WNOHANG);
      if (ended == pid)
        {
          if (WIFEXITED (status))
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         _("The successor exited with status %d before it was ready"),
                         WEXITSTATUS (status));
          else
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         _("The successor was killed by signal %d before it was ready"),
                         WTERMSIG (status));
          return FALSE;
        }
      if (deadline >= 0 && g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       _("The successor did not say it was ready in time"));
          return FALSE;
        }
      /* What is still queued is read at once. */
      (void) g_poll (&pfd, 1, READY_SLICE_MS);
    }
}

/**
 * gios_server_socket_hand_over_to:
 * @self: an open [class@Gios.ServerSocket]
 * @argv: (array zero-terminated=1) (element-type filename): the successor's
 *   command line; the program is looked up in `PATH`
 * @timeout_ms: how long the successor may take to say it is ready, in
 *   milliseconds
 * @pid: (out) (optional): where to store the successor's process id
 * @error: return location for a [struct@GLib.Error]
 *
 * Starts a successor of this process and hands it the listening sockets, to
 * restart a server without losing a connection: the sockets stay open all
 * along, so connections that arrive meanwhile wait in their queues until
 * one of the two processes accepts them.
 *
 * The successor gets them as systemd passes sockets (`LISTEN_FDS`,
 * `LISTEN_PID`, descriptors from 3, all named `gios-hand-over` in
 * `LISTEN_FDNAMES`), and adopts them with
 * [method@Gios.ServerSocket.open_activated] (with that name, all of them); once it serves, it says so with
 * [func@Gios.notify_ready] (systemd's `READY=1` on `NOTIFY_SOCKET`). This call
 * returns when it has; only the successor, or a process it started, is
 * believed. @self goes on accepting meanwhile; the caller then
 * stops it gracefully with [method@Gios.ServerSocket.drain], and exits.
 *
 * The successor is a child of this process, which should not wait for it:
 * when this process exits, it goes on. Under systemd, which follows the
 * main process of a service, restart through its socket unit instead.
 *
 * Returns: %TRUE once the successor is ready; %FALSE with
 *   %G_IO_ERROR_TIMED_OUT (the successor is then killed), %G_IO_ERROR_FAILED
 *   when it exited first, %G_IO_ERROR_NOT_FOUND when the program is not
 *   found, or %GIOS_ERROR_NOT_CONNECTED when @self is not open
 *
 * Since: 0.2
 */
gboolean
gios_server_socket_hand_over_to (GiosServerSocket    *self,
                                 const char * const  *argv,
                                 int                  timeout_ms,
                                 GPid                *pid,
                                 GError             **error)
{
  GiosServerSocketPrivate *priv;
  g_autofree char *path = NULL;
  g_autofree char *notify_path = NULL;
  g_auto(GStrv) envp = NULL;
  char *listen_pid = NULL;
  int fds[64];
  guint n_fds;
  int notify_fd;
  pid_t child;
  gboolean ok;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (argv != NULL && argv[0] != NULL, FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  n_fds = MIN (priv->listeners.sockets->len, G_N_ELEMENTS (fds));
  if (n_fds == 0)
    {
      g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                           _("The server socket is not open"));
      return FALSE;
    }
  for (guint i = 0; i < n_fds; i++)
    fds[i] = g_socket_get_fd (g_ptr_array_index (priv->listeners.sockets, i));

  path = g_find_program_in_path (argv[0]);
  if (path == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("No program “%s” to hand over to"), argv[0]);
      return FALSE;
    }
  notify_fd = notify_socket_new (&notify_path, error);
  if (notify_fd < 0)
    return FALSE;
  envp = successor_environment (n_fds, notify_path, &listen_pid);

  child = fork ();
  if (child == 0)
    exec_successor (fds, n_fds, path, (char **) argv, envp, listen_pid);
  if (child < 0)
    {
      int errsv = errno;

      close (notify_fd);
      _gios_set_error_from_errno (error, errsv, _("Could not start the successor: %s"), g_strerror (errsv));
      return FALSE;
    }

  ok = wait_ready (notify_fd, child,
                   _gios_deadline_from_timeout (_gios_call_resolve_timeout (GIOS_DEVICE_STREAM (self),
                                                                            timeout_ms)),
                   error);
  close (notify_fd);
  if (!ok && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      kill (child, SIGKILL);
      (void) waitpid (child, NULL, 0);
    }
  if (ok && pid != NULL)
    *pid = child;
  return ok;
}

/**
 * gios_notify_ready:
 * @error: return location for a [struct@GLib.Error]
 *
 * Says that this process is ready to serve, as systemd's `sd_notify
 * ("READY=1")` does: sends `READY=1` and `MAINPID=` this process's id to the
 * socket named by `NOTIFY_SOCKET`. Call it once the server
 * accepts, in a successor started by [method@Gios.ServerSocket.hand_over_to]
 * or a service of `Type=notify` under systemd. Without `NOTIFY_SOCKET`, it
 * does nothing.
 *
 * Returns: %TRUE when the message was sent or there was nobody to tell
 *
 * Since: 0.2
 */
gboolean
gios_notify_ready (GError **error)
{
  const char *where = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  g_autofree char *message = NULL;
  socklen_t len;
  gsize name_len;
  int fd;
  int errsv = 0;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (where == NULL || *where == '\0')
    return TRUE;
  name_len = strlen (where);
  if ((where[0] != '/' && where[0] != '@') || name_len >= sizeof sun.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("NOTIFY_SOCKET is not a socket path: “%s”"), where);
      return FALSE;
    }
  memcpy (sun.sun_path, where, name_len);
  if (where[0] == '@')
    sun.sun_path[0] = '\0';
  len = offsetof (struct sockaddr_un, sun_path) + name_len + (where[0] == '/' ? 1 : 0);

  message = g_strdup_printf ("READY=1\nMAINPID=%d", (int) getpid ());
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || sendto (fd, message, strlen (message), MSG_NOSIGNAL, (struct sockaddr *) &sun, len) < 0)
    errsv = errno;
  if (fd >= 0)
    close (fd);
  if (errsv != 0)
    {
      _gios_set_error_from_errno (error, errsv, _("Could not say ready on “%s”: %s"), where,
                                  g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}
