/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ports, addresses and listening sockets: see gios-bind.h. */

#include "gios-private.h"
#include "gios-bind.h"
#include "gios-backoff.h"
#include "gios-socket-common-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

/* At most this many addresses are bound by one open (all interfaces is two:
 * IPv6 and IPv4). */
#define MAX_LISTENERS 8
/* How often a busy port or path is tried again. */
#define RETRY_LEAST_US (10 * 1000)
#define RETRY_MOST_US (250 * 1000)

gboolean
_gios_parse_port (const char  *port,
                  guint16     *number,
                  GError     **error)
{
  struct servent entry;
  struct servent *found = NULL;
  char buffer[1024];
  guint64 value;

  if (port == NULL || port[0] == '\0')
    {
      *number = 0;
      return TRUE;
    }
  if (g_ascii_isdigit (port[0]))
    {
      if (g_ascii_string_to_unsigned (port, 10, 0, G_MAXUINT16, &value, NULL))
        {
          *number = value;
          return TRUE;
        }
    }
  else if (getservbyname_r (port, "tcp", &entry, buffer, sizeof buffer, &found) == 0 &&
           found != NULL)
    {
      *number = g_ntohs (found->s_port);
      return TRUE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("“%s” is not a port: give a number from 0 to 65535 or a service name such as “http”"),
               port);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* TCP                                                                        */

typedef struct
{
  struct sockaddr_storage addr;
  socklen_t len;
} Address;

static char *
describe_address (const Address *a)
{
  g_autoptr(GSocketAddress) address =
    g_socket_address_new_from_native ((gpointer) &a->addr, a->len);

  return _gios_socket_address_to_string (address);
}

static void
address_set_port (Address *a,
                  guint    port)
{
  if (a->addr.ss_family == AF_INET6)
    ((struct sockaddr_in6 *) &a->addr)->sin6_port = g_htons (port);
  else
    ((struct sockaddr_in *) &a->addr)->sin_port = g_htons (port);
}

static guint
address_get_port (const Address *a)
{
  if (a->addr.ss_family == AF_INET6)
    return g_ntohs (((const struct sockaddr_in6 *) &a->addr)->sin6_port);
  return g_ntohs (((const struct sockaddr_in *) &a->addr)->sin_port);
}

/* Resolves @host (NULL: all interfaces) on @port into at most MAX_LISTENERS
 * addresses, without duplicates, IPv6 first, as getaddrinfo() orders
 * them. */
static gboolean
resolve_listen_addresses (const char  *host,
                          guint16      port,
                          Address     *out,
                          guint       *n_out,
                          GError     **error)
{
  struct addrinfo hints = { 0 };
  struct addrinfo *res = NULL;
  char service[8];
  int r;

  g_snprintf (service, sizeof service, "%u", port);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = AI_NUMERICSERV | (host == NULL ? AI_PASSIVE : 0);
  r = getaddrinfo (host, service, &hints, &res);
  if (r != 0)
    {
      /* Translators: "Could not resolve “example.org” port “80”: Name or service not known" */
      g_set_error (error, G_RESOLVER_ERROR,
                   r == EAI_AGAIN ? G_RESOLVER_ERROR_TEMPORARY_FAILURE : G_RESOLVER_ERROR_NOT_FOUND,
                   _("Could not resolve “%s” port “%s”: %s"),
                   host ? host : "*", service, gai_strerror (r));
      return FALSE;
    }

  *n_out = 0;
  for (struct addrinfo *ai = res; ai != NULL && *n_out < MAX_LISTENERS; ai = ai->ai_next)
    {
      gboolean seen = FALSE;

      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
        continue;
      for (guint i = 0; i < *n_out; i++)
        if (out[i].len == ai->ai_addrlen && memcmp (&out[i].addr, ai->ai_addr, ai->ai_addrlen) == 0)
          seen = TRUE;
      if (seen)
        continue;
      memcpy (&out[*n_out].addr, ai->ai_addr, ai->ai_addrlen);
      out[*n_out].len = ai->ai_addrlen;
      (*n_out)++;
    }
  freeaddrinfo (res);

  if (*n_out == 0)
    {
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                   _("“%s” has no IPv4 or IPv6 address"), host ? host : "*");
      return FALSE;
    }
  return TRUE;
}

/* The wildcard addresses, made loopback ones: ::1 and 127.0.0.1. */
static void
make_loopback (Address *addrs,
               guint    n_addrs)
{
  for (guint i = 0; i < n_addrs; i++)
    {
      if (addrs[i].addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *) &addrs[i].addr)->sin6_addr = in6addr_loopback;
      else
        ((struct sockaddr_in *) &addrs[i].addr)->sin_addr.s_addr = g_htonl (INADDR_LOOPBACK);
    }
}

/* Creates one listening socket, sharing its port with other sockets that
 * set SO_REUSEPORT too when @reuse_port is set (before bind(), which is
 * why the socket is made here and not by g_socket_bind(), which clears
 * it). Returns the descriptor, or -1 with errno set. */
static int
listen_native (const Address *a,
               int            backlog,
               gboolean       reuse_port)
{
  int fd = socket (a->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  int errsv;

  if (fd < 0)
    return -1;
  (void) setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (a->addr.ss_family == AF_INET6)
    (void) setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (reuse_port && setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    goto fail;
  if (bind (fd, (const struct sockaddr *) &a->addr, a->len) == 0 &&
      listen (fd, backlog) == 0)
    return fd;

fail:
  errsv = errno;
  close (fd);
  errno = errsv;
  return -1;
}

static void
close_all (GPtrArray *listeners)
{
  for (guint i = 0; i < listeners->len; i++)
    g_socket_close (g_ptr_array_index (listeners, i), NULL);
  g_ptr_array_set_size (listeners, 0);
}

static gboolean
add_listener (GPtrArray  *listeners,
              int         fd,
              GError    **error)
{
  GSocket *socket = g_socket_new_from_fd (fd, error);

  if (socket == NULL)
    {
      close (fd);
      return FALSE;
    }
  g_ptr_array_add (listeners, socket);
  return TRUE;
}

/* Pauses until @until unless @gate is interrupted from another thread. */
static gboolean
pause_until (GiosGate          *gate,
             gint64             until,
             GError           **error)
{
  g_autoptr(GError) local_error = NULL;

  if (gios_gate_wait (gate, NULL, 0, until, NULL, &local_error) ||
      g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/* Binds every address once, on one port: port 0 takes the port the kernel
 * gives the first address for the others too. Returns 0, or the errno of
 * the address that failed (its index in @failed_at). */
static int
bind_once (Address   *addrs,
           guint      n_addrs,
           int        backlog,
           gboolean   reuse_port,
           GPtrArray *listeners,
           guint     *failed_at,
           GError   **error)
{
  gboolean any_port = address_get_port (&addrs[0]) == 0;
  guint port = 0;
  guint bound = 0;

  for (guint i = 0; i < n_addrs; i++)
    {
      int fd;

      if (any_port)
        address_set_port (&addrs[i], port);
      fd = listen_native (&addrs[i], backlog, reuse_port);
      if (fd < 0)
        {
          int errsv = errno;

          /* An address family the system lacks (no IPv6) is skipped when
           * another address can still be bound. */
          if ((errsv == EAFNOSUPPORT || errsv == EADDRNOTAVAIL) && n_addrs > 1 &&
              (bound > 0 || i + 1 < n_addrs))
            continue;
          *failed_at = i;
          return errsv;
        }
      if (!add_listener (listeners, fd, error))
        return -1;
      bound++;
      if (port == 0)
        {
          Address a = { .len = sizeof a.addr };

          if (getsockname (fd, (struct sockaddr *) &a.addr, &a.len) == 0)
            port = address_get_port (&a);
        }
    }
  return bound > 0 ? 0 : EADDRNOTAVAIL;
}

gboolean
_gios_bind_tcp (GiosGate          *gate,
                const char        *host,
                const char        *port,
                gboolean           loopback_only,
                gboolean           reuse_port,
                int                backlog,
                gint64             deadline,
                GPtrArray         *listeners,
                GError           **error)
{
  Address addrs[MAX_LISTENERS];
  guint n_addrs = 0;
  guint16 number;
  GiosBackoff backoff;
  int attempts = 0;

  if (!_gios_parse_port (port, &number, error) ||
      !resolve_listen_addresses (host, number, addrs, &n_addrs, error))
    return FALSE;
  if (host == NULL && loopback_only)
    make_loopback (addrs, n_addrs);

  gios_backoff_init (&backoff, RETRY_LEAST_US, RETRY_MOST_US);
  for (;;)
    {
      guint failed_at = 0;
      int failed = bind_once (addrs, n_addrs, backlog, reuse_port, listeners, &failed_at, error);
      g_autofree char *where = NULL;

      if (failed == 0)
        return TRUE;
      close_all (listeners);
      if (failed < 0)
        return FALSE;

      /* With port 0, the port the first address got may be taken on the
       * second: pick another. */
      if (failed == EADDRINUSE && number == 0 && ++attempts < 32)
        continue;
      if (failed == EADDRINUSE && number != 0 &&
          deadline != 0 && (deadline < 0 || g_get_monotonic_time () < deadline))
        {
          if (!pause_until (gate, gios_backoff_until (&backoff, deadline), error))
            return FALSE;
          continue;
        }

      if (number == 0)
        address_set_port (&addrs[failed_at], 0);
      where = describe_address (&addrs[failed_at]);
      if (failed == EADDRINUSE && deadline != 0)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                     _("Could not listen on %s: the address stayed in use until the timeout"),
                     where);
      else if (failed == EADDRNOTAVAIL)
        g_set_error (error, G_IO_ERROR, _gios_io_error_from_errno (failed),
                     _("Could not listen on %s: it is not an address of this machine"), where);
      else
        _gios_set_error_from_errno (error, failed, _("Could not listen on %s: %s"), where, g_strerror (failed));
      return FALSE;
    }
}

/* ------------------------------------------------------------------------ */
/* Unix-domain sockets                                                        */

/* The steps of binding a Unix-domain socket that can fail on its path. */
typedef enum
{
  UNIX_STEP_DIRECTORY,
  UNIX_STEP_PRIVATE_DIRECTORY,
  UNIX_STEP_BIND,
  UNIX_STEP_PERMISSIONS,
  UNIX_STEP_LISTEN,
  UNIX_STEP_LINK,
} UnixStep;

/* Sets @error from errno @errsv for @step on @path, each in a whole
 * sentence for translators. */
static gboolean
unix_path_error (GError     **error,
                 int          errsv,
                 const char  *path,
                 UnixStep     step)
{
  g_autofree char *display = g_filename_display_name (path);
  const char *reason = g_strerror (errsv);

  switch (step)
    {
    case UNIX_STEP_DIRECTORY:
      /* Translators: "Cannot use the directory “/run/x”: No such file or directory" */
      _gios_set_error_from_errno (error, errsv, _("Cannot use the directory “%s”: %s"), display, reason);
      break;
    case UNIX_STEP_PRIVATE_DIRECTORY:
      _gios_set_error_from_errno (error, errsv, _("Could not create a private directory for “%s”: %s"),
                                  display, reason);
      break;
    case UNIX_STEP_BIND:
      _gios_set_error_from_errno (error, errsv, _("Could not bind “%s”: %s"), display, reason);
      break;
    case UNIX_STEP_PERMISSIONS:
      _gios_set_error_from_errno (error, errsv, _("Could not set the permissions of “%s”: %s"), display, reason);
      break;
    case UNIX_STEP_LISTEN:
      _gios_set_error_from_errno (error, errsv, _("Could not listen on “%s”: %s"), display, reason);
      break;
    case UNIX_STEP_LINK:
      _gios_set_error_from_errno (error, errsv, _("Could not put the socket at “%s”: %s"), display, reason);
      break;
    default:
      g_assert_not_reached ();
    }
  return FALSE;
}

static gboolean
check_unix_path (const char  *path,
                 GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *display = g_filename_display_name (path);
  struct sockaddr_un sun;
  struct stat st;

  if (strlen (path) >= sizeof sun.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   _("The socket path “%s” is %zu bytes long; at most %zu fit"),
                   display, strlen (path), sizeof sun.sun_path - 1);
      return FALSE;
    }
  if (stat (dir, &st) != 0)
    return unix_path_error (error, errno, dir, UNIX_STEP_DIRECTORY);
  if (!S_ISDIR (st.st_mode))
    return unix_path_error (error, ENOTDIR, dir, UNIX_STEP_DIRECTORY);
  return TRUE;
}

static gboolean
unix_path_in_use (const char  *path,
                  GError     **error)
{
  struct stat st;
  g_autofree char *display = NULL;

  if (lstat (path, &st) != 0)
    return FALSE;
  display = g_filename_display_name (path);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
               _("“%s” already exists; remove it if no server uses it"), display);
  return TRUE;
}

/* Removes the entry at @path if it is a stale socket: a socket of this
 * user that refuses connections, which is what a server that died leaves
 * (one that lives accepts, or at worst has a full queue). Anything else
 * stays, and so does a socket that changed while it was checked. */
static void
remove_if_stale (const char *path)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  struct stat before, after;
  int fd;
  gboolean refused;

  if (lstat (path, &before) != 0 || !S_ISSOCK (before.st_mode) || before.st_uid != geteuid ())
    return;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return;
  strcpy (sun.sun_path, path);  /* check_unix_path() checked its length */
  refused = connect (fd, (struct sockaddr *) &sun, sizeof sun) != 0 && errno == ECONNREFUSED;
  close (fd);
  if (refused && lstat (path, &after) == 0 &&
      after.st_dev == before.st_dev && after.st_ino == before.st_ino)
    {
      g_debug ("removing the stale socket %s", path);
      unlink (path);
    }
}

/* Binds @path with exactly @permissions and no moment at which it is
 * reachable with others: the socket is bound inside a private directory
 * next to @path, given its mode, set listening, and then linked into place,
 * which fails rather than replace anything already there. */
static int
listen_unix (const char  *path,
             guint        permissions,
             int          backlog,
             GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *private_dir = g_build_filename (dir, ".gios-XXXXXX", NULL);
  g_autofree char *temp = NULL;
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int fd = -1;
  int errsv;

  if (g_mkdtemp_full (private_dir, 0700) == NULL)
    {
      unix_path_error (error, errno, path, UNIX_STEP_PRIVATE_DIRECTORY);
      return -1;
    }
  temp = g_build_filename (private_dir, "s", NULL);
  if (strlen (temp) >= sizeof sun.sun_path)
    {
      g_autofree char *display = g_filename_display_name (path);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   _("The socket path “%s” leaves no room for the temporary name it is bound under; use a shorter path"),
                   display);
      goto fail;
    }
  strcpy (sun.sun_path, temp);

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    {
      errsv = errno;
      g_set_error (error, G_IO_ERROR,
                   errsv == EAFNOSUPPORT ? G_IO_ERROR_NOT_SUPPORTED : _gios_io_error_from_errno (errsv),
                   _("Unix-domain sockets are not available: %s"), g_strerror (errsv));
      goto fail;
    }
  if (bind (fd, (struct sockaddr *) &sun, sizeof sun) != 0)
    {
      unix_path_error (error, errno, path, UNIX_STEP_BIND);
      goto fail;
    }
  if (chmod (temp, permissions) != 0)
    {
      unix_path_error (error, errno, path, UNIX_STEP_PERMISSIONS);
      goto fail;
    }
  if (listen (fd, backlog) != 0)
    {
      unix_path_error (error, errno, path, UNIX_STEP_LISTEN);
      goto fail;
    }
  if (link (temp, path) != 0)
    {
      errsv = errno;
      if (errsv == EEXIST)
        unix_path_in_use (path, error);
      else
        unix_path_error (error, errsv, path, UNIX_STEP_LINK);
      goto fail;
    }
  unlink (temp);
  rmdir (private_dir);
  return fd;

fail:
  if (fd >= 0)
    close (fd);
  if (temp != NULL)
    unlink (temp);
  rmdir (private_dir);
  return -1;
}

int
_gios_bind_unix (GiosGate          *gate,
                 const char        *path,
                 guint              permissions,
                 gboolean           replace_stale,
                 int                backlog,
                 gint64             deadline,
                 GiosUnixPath      *made,
                 GError           **error)
{
  GiosBackoff backoff;
  struct stat st;
  int fd;

  if (!check_unix_path (path, error))
    return -1;

  gios_backoff_init (&backoff, RETRY_LEAST_US, RETRY_MOST_US);
  for (;;)
    {
      g_autoptr(GError) in_use = NULL;

      if (replace_stale)
        remove_if_stale (path);
      if (!unix_path_in_use (path, &in_use))
        {
          fd = listen_unix (path, permissions, backlog, &in_use);
          if (fd >= 0 || !g_error_matches (in_use, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
            {
              if (fd < 0)
                g_propagate_error (error, g_steal_pointer (&in_use));
              break;
            }
        }
      if (deadline == 0 || (deadline > 0 && g_get_monotonic_time () >= deadline))
        {
          g_propagate_error (error, g_steal_pointer (&in_use));
          return -1;
        }
      if (!pause_until (gate, gios_backoff_until (&backoff, deadline), error))
        return -1;
    }
  if (fd < 0)
    return -1;

  made->path = g_strdup (path);
  if (lstat (path, &st) == 0)
    {
      made->dev = st.st_dev;
      made->ino = st.st_ino;
    }
  return fd;
}

void
_gios_unix_path_remove (GiosUnixPath *made)
{
  struct stat st;

  if (made->path == NULL)
    return;
  if (lstat (made->path, &st) == 0 && S_ISSOCK (st.st_mode) &&
      st.st_dev == made->dev && st.st_ino == made->ino)
    unlink (made->path);
  g_clear_pointer (&made->path, g_free);
}
