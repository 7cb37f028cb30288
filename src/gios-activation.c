/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sockets passed with LISTEN_FDS: see gios-activation.h. */

#include "gios-private.h"
#include "gios-activation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* The first passed descriptor (SD_LISTEN_FDS_START). */
#define FIRST_PASSED_FD 3
/* The name of a passed socket that LISTEN_FDNAMES does not name, as
 * sd_listen_fds_with_names() has it. */
#define UNNAMED "unknown"

/* What this process was passed, as parsed from the variables: parsed
 * again when they change or in a forked child, whose passed sockets are
 * its own. */
typedef struct
{
  pid_t pid;           /* the process that parsed them; 0: none yet */
  char *fds_text;      /* LISTEN_FDS and LISTEN_FDNAMES as parsed */
  char *names_text;
  guint n;
  char **names;        /* n names */
  gboolean *taken;     /* n flags */
  guint n_taken;
} Passed;

static GMutex passed_lock;
static Passed passed;

static void
passed_clear (Passed *p)
{
  g_clear_pointer (&p->fds_text, g_free);
  g_clear_pointer (&p->names_text, g_free);
  g_clear_pointer (&p->names, g_strfreev);
  g_clear_pointer (&p->taken, g_free);
  p->n = p->n_taken = 0;
  p->pid = 0;
}

/* Whether LISTEN_PID says the sockets are for this process. */
static gboolean
check_pid (const char  *pid_text,
           GError     **error)
{
  guint64 pid;

  if (pid_text == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("LISTEN_FDS is set but LISTEN_PID is not: the passed sockets are not for this process"));
      return FALSE;
    }
  if (!g_ascii_string_to_unsigned (pid_text, 10, 1, G_MAXINT, &pid, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("LISTEN_PID is “%s”, not a process ID"), pid_text);
      return FALSE;
    }
  if ((pid_t) pid != getpid ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("The sockets in LISTEN_FDS were passed to process %s, not to this one (%d)"),
                   pid_text, (int) getpid ());
      return FALSE;
    }
  return TRUE;
}

/* Parses LISTEN_FDS (@fds_text) and LISTEN_FDNAMES (@names_text) into
 * @p, unless @p holds them already for this process. */
static gboolean
passed_parse (Passed      *p,
              const char  *fds_text,
              const char  *names_text,
              GError     **error)
{
  /* More than the descriptor table holds cannot have been passed. */
  long open_max = sysconf (_SC_OPEN_MAX);
  guint64 n;
  g_auto(GStrv) names = NULL;

  if (p->pid == getpid () && g_strcmp0 (p->fds_text, fds_text) == 0 &&
      g_strcmp0 (p->names_text, names_text) == 0)
    return TRUE;

  if (open_max < 0 || open_max > G_MAXINT)
    open_max = G_MAXINT;
  if (!g_ascii_string_to_unsigned (fds_text, 10, 0, MAX (open_max - FIRST_PASSED_FD, 0), &n, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("LISTEN_FDS is “%s”, not a number of descriptors"), fds_text);
      return FALSE;
    }
  if (names_text != NULL)
    {
      names = g_strsplit (names_text, ":", -1);
      if (g_strv_length (names) != n)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("LISTEN_FDNAMES names %u sockets but LISTEN_FDS passes %u"),
                       g_strv_length (names), (guint) n);
          return FALSE;
        }
    }
  else
    {
      names = g_new0 (char *, n + 1);
      for (guint i = 0; i < n; i++)
        names[i] = g_strdup (UNNAMED);
    }

  passed_clear (p);
  p->pid = getpid ();
  p->fds_text = g_strdup (fds_text);
  p->names_text = g_strdup (names_text);
  p->n = n;
  p->names = g_steal_pointer (&names);
  p->taken = g_new0 (gboolean, n);
  return TRUE;
}

/* The index of the socket to take: @name's first untaken one, or the
 * first untaken one. -1 with @error set when there is none. */
static int
passed_find (Passed      *p,
             const char  *name,
             GError     **error)
{
  gboolean known = FALSE;

  for (guint i = 0; i < p->n; i++)
    {
      if (name != NULL && g_strcmp0 (p->names[i], name) != 0)
        continue;
      known = TRUE;
      if (!p->taken[i])
        return i;
    }

  if (name == NULL && p->n == 0)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                         _("No listening socket was passed to this process: LISTEN_FDS is 0"));
  else if (name == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 _("Every socket passed to this process (%u) is taken already"), p->n);
  else if (known)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 _("The socket named “%s” that was passed to this process is taken already"), name);
  else
    {
      g_autofree char *names = g_strjoinv (", ", p->names);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("No socket named “%s” was passed to this process (its sockets: %s)"),
                   name, p->n > 0 ? names : "-");
    }
  return -1;
}

/* Whether @fd is a listening stream socket; if not, @error says so, naming
 * the descriptor as @what. */
static gboolean
check_listening_stream (int          fd,
                        const char  *what,
                        GError     **error)
{
  struct stat st;
  int type = 0, accepting = 0;
  socklen_t len = sizeof type;

  if (fstat (fd, &st) != 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Cannot adopt %s: %s"), what, g_strerror (errsv));
      return FALSE;
    }
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Cannot adopt %s: it is not a socket"), what);
      return FALSE;
    }
  if (getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Cannot adopt %s: it is not a stream socket"), what);
      return FALSE;
    }
  len = sizeof accepting;
  if (getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Cannot adopt %s: the socket is not listening"), what);
      return FALSE;
    }
  return TRUE;
}

int
_gios_activation_take (const char  *name,
                       GError     **error)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&passed_lock);
  const char *fds_text = g_getenv ("LISTEN_FDS");
  g_autofree char *what = NULL;
  int index, fd;

  if (fds_text == NULL)
    {
      if (passed.pid == getpid () && passed.n > 0 && passed.n_taken == passed.n)
        {
          /* All taken, and the variables unset since: says which. */
          index = passed_find (&passed, name, error);
          g_assert (index < 0);
          return -1;
        }
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _("No listening socket was passed to this process: LISTEN_FDS is not set"));
      return -1;
    }
  if (!check_pid (g_getenv ("LISTEN_PID"), error) ||
      !passed_parse (&passed, fds_text, g_getenv ("LISTEN_FDNAMES"), error))
    return -1;

  index = passed_find (&passed, name, error);
  if (index < 0)
    return -1;
  fd = FIRST_PASSED_FD + index;
  /* Translators: what cannot be adopted, as in "Cannot adopt descriptor 3
   * (“web”) from LISTEN_FDS: it is not a socket" */
  what = g_strdup_printf (_("descriptor %d (“%s”) from LISTEN_FDS"), fd, passed.names[index]);
  if (!check_listening_stream (fd, what, error))
    return -1;

  (void) fcntl (fd, F_SETFD, fcntl (fd, F_GETFD) | FD_CLOEXEC);
  passed.taken[index] = TRUE;
  if (++passed.n_taken == passed.n)
    {
      /* Not for the processes this one starts. */
      g_unsetenv ("LISTEN_FDS");
      g_unsetenv ("LISTEN_PID");
      g_unsetenv ("LISTEN_FDNAMES");
    }
  return fd;
}

void
_gios_activation_format_pid (char  *out,
                             pid_t  value)
{
  char digits[24];
  int n = 0;

  do
    digits[n++] = '0' + value % 10;
  while ((value /= 10) > 0);
  while (n > 0)
    *out++ = digits[--n];
  *out = '\0';
}
