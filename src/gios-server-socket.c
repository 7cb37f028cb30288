/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-private.h"
#include "gios-device-stream-private.h"
#include "gios-socket-common-private.h"
#include "gios-server-socket-private.h"
#include "gios-reactor-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

/**
 * GiosServerSocket:
 *
 * A socket that listens for connections, on TCP ports or a Unix path.
 *
 * In the classic model a server socket owns one connection at a time, and
 * the [class@Gios.DeviceStream] calls it inherits read and write that
 * connection:
 *
 * ```c
 * g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
 *
 * if (!gios_server_socket_open (server, "0", 1000, &error))
 *   return FALSE;
 * while (gios_server_socket_listen (server, GIOS_TIMEOUT_FOREVER, NULL, &error))
 *   {
 *     g_autofree char *line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (server),
 *                                                           1024, NULL, 5000, NULL, &error);
 *     if (line != NULL)
 *       gios_device_stream_write_line (GIOS_DEVICE_STREAM (server), line, NULL, &error);
 *     gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
 *   }
 * ```
 *
 * [method@Gios.ServerSocket.accept] hands each connection out as a new
 * [class@Gios.Socket] instead, of the type set in
 * [property@Gios.ServerSocket:socket-type].
 *
 * Listening sockets are made with the system calls themselves, so that the
 * backlog ([property@Gios.ServerSocket:connection-queue-size]) applies from
 * the start, Unix sockets get their exact permissions before anyone can reach
 * them, and an accept that runs out of file descriptors backs off instead of
 * spinning.
 *
 * Since: 1.0
 */

/* At most this many addresses are bound by one open (all interfaces is two:
 * IPv6 and IPv4). */
#define MAX_LISTENERS 8
/* How often a busy port or a full descriptor table is tried again. */
#define RETRY_MIN_US (10 * 1000)
#define RETRY_MAX_US (250 * 1000)

typedef struct
{
  GPtrArray *listeners;   /* of GSocket, listening */
  int backlog;
  guint loopback_only : 1;
  guint emfile_reported : 1;
  GType socket_type;

  char *unix_path;        /* the path we bound, removed on close */
  dev_t unix_dev;
  ino_t unix_ino;

  guint next_listener;    /* where accept starts looking, for fairness */

  /* listen_job: jobs running on the pool, and what close() cancels. */
  GMutex jobs_lock;
  GCond jobs_cond;
  guint n_jobs;
  guint slot_waiters;     /* listen_job() calls waiting for a job to end */
  GPtrArray *running;     /* of GiosSocket */
  GCancellable *jobs_cancellable;
  GThreadPool *pool;

  /* Main-loop accepting: start() and the pending accept_async() and
   * listen_async() calls share one reactor watch per listening socket. */
  GPtrArray *watches;     /* of GiosWatch, on the stream's accept context */
  GQueue pending;         /* of GTask */
  gboolean started;
  guint max_connections;
  gint live;              /* atomic: connections from start() still open */
  GSource *retry_source;  /* accepting paused after running out of descriptors */
  gint64 retry_pause;
} GiosServerSocketPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (GiosServerSocket, gios_server_socket, GIOS_TYPE_SOCKET_COMMON)

enum {
  PROP_0,
  PROP_CONNECTION_QUEUE_SIZE,
  PROP_LOOPBACK_ONLY,
  PROP_SOCKET_TYPE,
  PROP_MAX_CONNECTIONS,
  N_PROPS
};

enum {
  ACCEPTED,
  STOPPED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

#define PRIV(self) ((GiosServerSocketPrivate *) gios_server_socket_get_instance_private (self))

static int
effective_backlog (GiosServerSocketPrivate *priv)
{
  return priv->backlog < 0 ? SOMAXCONN : priv->backlog;
}

static gboolean
check_not_open (GiosServerSocket  *self,
                GError           **error)
{
  if (PRIV (self)->listeners->len > 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                           _("The server socket is already open; close it first"));
      return FALSE;
    }
  return TRUE;
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

static void
set_resolve_error (GError     **error,
                   int          gai_error,
                   const char  *host,
                   const char  *port)
{
  /* Translators: "Could not resolve “example.org” port “http”: Name or service not known" */
  g_set_error (error, G_RESOLVER_ERROR,
               gai_error == EAI_AGAIN ? G_RESOLVER_ERROR_TEMPORARY_FAILURE : G_RESOLVER_ERROR_NOT_FOUND,
               _("Could not resolve “%s” port “%s”: %s"),
               host ? host : "*", port, gai_strerror (gai_error));
}

/* Resolves @host (NULL: all interfaces) and @port (a number, a
 * service name, or NULL for 0) into at most MAX_LISTENERS addresses,
 * without duplicates. */
static gboolean
resolve_listen_addresses (const char  *host,
                          const char  *port,
                          Address     *out,
                          guint       *n_out,
                          GError     **error)
{
  struct addrinfo hints = { 0 };
  struct addrinfo *res = NULL;
  const char *service = (port != NULL && port[0] != '\0') ? port : "0";
  int r;

  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = host == NULL ? AI_PASSIVE : 0;
  r = getaddrinfo (host, service, &hints, &res);
  if (r != 0)
    {
      set_resolve_error (error, r, host, service);
      return FALSE;
    }

  *n_out = 0;
  /* IPv6 first, then IPv4, as getaddrinfo() orders them for us. */
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

/* Creates one listening socket with the system calls themselves (GIO's
 * g_socket_bind() resets SO_REUSEPORT, and GSocketListener applies the
 * backlog late). Returns the descriptor, or -1 with errno set. */
static int
listen_native (const Address *a,
               int            backlog)
{
  int fd = socket (a->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  int errsv;

  if (fd < 0)
    return -1;
  (void) setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (a->addr.ss_family == AF_INET6)
    (void) setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind (fd, (const struct sockaddr *) &a->addr, a->len) == 0 &&
      listen (fd, backlog) == 0)
    return fd;

  errsv = errno;
  close (fd);
  errno = errsv;
  return -1;
}

static void
close_listeners (GiosServerSocketPrivate *priv)
{
  for (guint i = 0; i < priv->listeners->len; i++)
    g_socket_close (g_ptr_array_index (priv->listeners, i), NULL);
  g_ptr_array_set_size (priv->listeners, 0);
}

static gboolean
add_listener_fd (GiosServerSocketPrivate  *priv,
                 int                       fd,
                 GError                  **error)
{
  GSocket *socket = g_socket_new_from_fd (fd, error);

  if (socket == NULL)
    {
      close (fd);
      return FALSE;
    }
  g_ptr_array_add (priv->listeners, socket);
  return TRUE;
}

/* Sleeps until @until (a monotonic time) unless the stream is closed from
 * another thread first. */
static gboolean
pause_until (GiosServerSocket  *self,
             gint64             until,
             GCancellable      *cancellable,
             GError           **error)
{
  g_autoptr(GError) local_error = NULL;

  if (_gios_device_stream_wait (GIOS_DEVICE_STREAM (self), NULL, 0, until, cancellable, &local_error))
    return TRUE;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/* Binds every address on one port. Port 0 takes the port the kernel gives
 * the first address for the others too. A port in use is tried again until
 * @deadline. */
static gboolean
bind_addresses (GiosServerSocket  *self,
                Address           *addrs,
                guint              n_addrs,
                gint64             deadline,
                GError           **error)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  gboolean any_port = address_get_port (&addrs[0]) == 0;
  gint64 pause = RETRY_MIN_US;
  int attempts = 0;

  for (;;)
    {
      int failed_errno = 0;
      guint failed_at = 0;
      guint port = 0;
      guint bound = 0;

      for (guint i = 0; i < n_addrs; i++)
        {
          int fd;

          if (any_port)
            address_set_port (&addrs[i], port);
          fd = listen_native (&addrs[i], effective_backlog (priv));
          if (fd < 0)
            {
              int errsv = errno;

              /* An address family the system lacks (no IPv6) is skipped
               * when another address can still be bound. */
              if ((errsv == EAFNOSUPPORT || errsv == EADDRNOTAVAIL) && n_addrs > 1 &&
                  (bound > 0 || i + 1 < n_addrs))
                continue;
              failed_errno = errsv;
              failed_at = i;
              break;
            }
          if (!add_listener_fd (priv, fd, error))
            {
              close_listeners (priv);
              return FALSE;
            }
          bound++;
          if (port == 0)
            {
              struct sockaddr_storage ss;
              socklen_t len = sizeof ss;

              if (getsockname (fd, (struct sockaddr *) &ss, &len) == 0)
                {
                  Address a = { .len = len };
                  memcpy (&a.addr, &ss, len);
                  port = address_get_port (&a);
                }
            }
        }

      if (failed_errno == 0 && bound > 0)
        return TRUE;

      close_listeners (priv);

      /* With port 0, the port the first address got may be taken on the
       * second: pick another. */
      if (failed_errno == EADDRINUSE && any_port && ++attempts < 32)
        continue;

      if (failed_errno == EADDRINUSE && !any_port &&
          deadline != 0 && (deadline < 0 || g_get_monotonic_time () < deadline))
        {
          gint64 until = g_get_monotonic_time () + pause;

          if (deadline >= 0)
            until = MIN (until, deadline);
          if (!pause_until (self, until, NULL, error))
            return FALSE;
          pause = MIN (pause * 2, RETRY_MAX_US);
          continue;
        }

      {
        g_autofree char *where = NULL;

        if (any_port)
          address_set_port (&addrs[failed_at], 0);
        where = describe_address (&addrs[failed_at]);
        if (failed_errno == EADDRINUSE && deadline != 0)
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                       _("Could not listen on %s: the address stayed in use until the timeout"),
                       where);
        else
          _gios_set_error_from_errno (error, failed_errno ? failed_errno : EADDRNOTAVAIL,
                                      _("Could not listen on %s"), where);
      }
      return FALSE;
    }
}

static void
opened (GiosServerSocket *self,
        const char       *host)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  GSocket *first = g_ptr_array_index (priv->listeners, 0);
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (first, NULL);
  guint port = 0;

  if (priv->unix_path != NULL)
    {
      g_clear_object (&local);
      local = g_unix_socket_address_new (priv->unix_path);
    }
  else if (G_IS_INET_SOCKET_ADDRESS (local))
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  priv->emfile_reported = FALSE;
  _gios_socket_common_set_endpoint (GIOS_SOCKET_COMMON (self), host, port, local);
  _gios_device_stream_set_open (GIOS_DEVICE_STREAM (self), TRUE);

  if (g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN) == FALSE)
    {
      g_autofree char *where = _gios_socket_address_to_string (local);
      g_debug ("listening on %s (%u sockets)", where, priv->listeners->len);
    }
}

static gboolean
open_tcp (GiosServerSocket  *self,
          const char        *host,
          const char        *port,
          int                timeout_ms,
          GError           **error)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  Address addrs[MAX_LISTENERS];
  guint n_addrs = 0;
  gboolean ok;

  if (!check_not_open (self, error))
    return FALSE;

  if (!resolve_listen_addresses (host, port, addrs, &n_addrs, error))
    return FALSE;
  if (host == NULL && priv->loopback_only)
    {
      /* The wildcard addresses, made loopback ones: ::1 and 127.0.0.1
       * (a name like "localhost" may resolve to one of them only). */
      for (guint i = 0; i < n_addrs; i++)
        {
          if (addrs[i].addr.ss_family == AF_INET6)
            ((struct sockaddr_in6 *) &addrs[i].addr)->sin6_addr = in6addr_loopback;
          else
            ((struct sockaddr_in *) &addrs[i].addr)->sin_addr.s_addr = g_htonl (INADDR_LOOPBACK);
        }
    }

  if (!_gios_device_stream_enter (GIOS_DEVICE_STREAM (self), error))
    return FALSE;
  ok = bind_addresses (self, addrs, n_addrs, _gios_deadline_from_timeout (timeout_ms), error);
  _gios_device_stream_leave (GIOS_DEVICE_STREAM (self));

  if (ok)
    opened (self, host);
  return ok;
}

/**
 * gios_server_socket_open:
 * @self: a [class@Gios.ServerSocket]
 * @port: (nullable): a port number, a service name such as "http", or
 *   "0" or %NULL for any free port
 * @timeout_ms: how long to wait for a port in use to become free
 * @error: return location for a [struct@GLib.Error]
 *
 * Listens on @port on every interface, IPv6 and IPv4, or on the loopback
 * interfaces only when [property@Gios.ServerSocket:loopback-only] is set.
 * With port 0 the system picks a free port; read it back from
 * [property@Gios.SocketCommon:port].
 *
 * A port in use fails with %G_IO_ERROR_ADDRESS_IN_USE once @timeout_ms has
 * passed (at once with 0). An unknown service name fails with a
 * %G_RESOLVER_ERROR.
 *
 * Returns: %TRUE when the socket listens
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_open (GiosServerSocket  *self,
                         const char        *port,
                         int                timeout_ms,
                         GError           **error)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  timeout_ms = _gios_device_stream_resolve_timeout (GIOS_DEVICE_STREAM (self), timeout_ms);
  return open_tcp (self, NULL, port, timeout_ms, error);
}

/**
 * gios_server_socket_open_address:
 * @self: a [class@Gios.ServerSocket]
 * @host: an address or a name: "127.0.0.1", "::1", "localhost"
 * @port: (nullable): a port number, a service name, or "0" or %NULL for any
 *   free port
 * @timeout_ms: how long to wait for a port in use to become free
 * @error: return location for a [struct@GLib.Error]
 *
 * Listens on @port of one interface, given by its address or by a name;
 * a name with several addresses ("localhost") listens on each of them.
 * Otherwise as [method@Gios.ServerSocket.open].
 *
 * Returns: %TRUE when the socket listens
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_open_address (GiosServerSocket  *self,
                                 const char        *host,
                                 const char        *port,
                                 int                timeout_ms,
                                 GError           **error)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (host != NULL, FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  timeout_ms = _gios_device_stream_resolve_timeout (GIOS_DEVICE_STREAM (self), timeout_ms);
  return open_tcp (self, host, port, timeout_ms, error);
}

/* ------------------------------------------------------------------------ */
/* Unix-domain sockets                                                        */

static gboolean
unix_path_error (GError     **error,
                 int          errsv,
                 const char  *path,
                 const char  *what)
{
  g_autofree char *display = g_filename_display_name (path);

  /* Translators: "Could not create the socket directory for “/run/x.sock”: Permission denied" */
  g_set_error (error, G_IO_ERROR, _gios_io_error_from_errno (errsv),
               "%s “%s”: %s", what, display, g_strerror (errsv));
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
    return unix_path_error (error, errno, dir, _("Cannot use the directory"));
  if (!S_ISDIR (st.st_mode))
    return unix_path_error (error, ENOTDIR, dir, _("Cannot use the directory"));
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
      unix_path_error (error, errno, path, _("Could not create a private directory for"));
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
      unix_path_error (error, errno, path, _("Could not bind"));
      goto fail;
    }
  if (chmod (temp, permissions) != 0)
    {
      unix_path_error (error, errno, path, _("Could not set the permissions of"));
      goto fail;
    }
  if (listen (fd, backlog) != 0)
    {
      unix_path_error (error, errno, path, _("Could not listen on"));
      goto fail;
    }
  if (link (temp, path) != 0)
    {
      errsv = errno;
      if (errsv == EEXIST)
        unix_path_in_use (path, error);
      else
        unix_path_error (error, errsv, path, _("Could not put the socket at"));
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

/**
 * gios_server_socket_open_unix:
 * @self: a [class@Gios.ServerSocket]
 * @path: where to put the socket
 * @permissions: the exact mode of the socket file, such as 0600; the umask
 *   does not apply
 * @timeout_ms: how long to wait for an existing entry at @path to go away
 * @error: return location for a [struct@GLib.Error]
 *
 * Listens on a Unix-domain socket at @path. The socket is reachable only
 * once it has @permissions: it is bound in a private directory beside @path,
 * given its mode, and then linked into place. An existing entry at @path is
 * never removed: the call waits up to @timeout_ms for it to go away, then
 * fails with %G_IO_ERROR_ADDRESS_IN_USE. [method@Gios.DeviceStream.close]
 * removes the socket file, if it is still the one this call made.
 *
 * Other errors: %G_IO_ERROR_FILENAME_TOO_LONG when @path does not fit a
 * socket address, %G_IO_ERROR_NOT_FOUND or %G_IO_ERROR_NOT_DIRECTORY for a
 * missing or wrong parent, %G_IO_ERROR_PERMISSION_DENIED,
 * %G_IO_ERROR_NOT_SUPPORTED where Unix-domain sockets are not available.
 *
 * Returns: %TRUE when the socket listens
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_open_unix (GiosServerSocket  *self,
                              const char        *path,
                              guint              permissions,
                              int                timeout_ms,
                              GError           **error)
{
  GiosServerSocketPrivate *priv;
  GiosDeviceStream *stream;
  gint64 deadline;
  gint64 pause = RETRY_MIN_US;
  struct stat st;
  int fd;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (path != NULL && path[0] != '\0', FALSE);
  g_return_val_if_fail (permissions <= 0777, FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  stream = GIOS_DEVICE_STREAM (self);
  if (!check_not_open (self, error) || !check_unix_path (path, error))
    return FALSE;

  deadline = _gios_deadline_from_timeout (_gios_device_stream_resolve_timeout (stream, timeout_ms));
  if (!_gios_device_stream_enter (stream, error))
    return FALSE;
  for (;;)
    {
      g_autoptr(GError) in_use = NULL;
      gint64 until;

      if (!unix_path_in_use (path, &in_use))
        {
          fd = listen_unix (path, permissions, effective_backlog (priv), &in_use);
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
          fd = -1;
          break;
        }
      until = g_get_monotonic_time () + pause;
      if (deadline > 0)
        until = MIN (until, deadline);
      if (!pause_until (self, until, NULL, error))
        {
          fd = -1;
          break;
        }
      pause = MIN (pause * 2, RETRY_MAX_US);
    }
  _gios_device_stream_leave (stream);

  if (fd < 0 || !add_listener_fd (priv, fd, error))
    return FALSE;

  if (lstat (path, &st) == 0)
    {
      priv->unix_dev = st.st_dev;
      priv->unix_ino = st.st_ino;
    }
  priv->unix_path = g_strdup (path);
  opened (self, NULL);
  return TRUE;
}

/* Removes the socket file this object made, unless someone replaced it. */
static void
remove_unix_path (GiosServerSocketPrivate *priv)
{
  struct stat st;

  if (priv->unix_path == NULL)
    return;
  if (lstat (priv->unix_path, &st) == 0 && S_ISSOCK (st.st_mode) &&
      st.st_dev == priv->unix_dev && st.st_ino == priv->unix_ino)
    unlink (priv->unix_path);
  g_clear_pointer (&priv->unix_path, g_free);
}

/**
 * gios_server_socket_open_socket:
 * @self: a [class@Gios.ServerSocket]
 * @listening: a socket that is already listening, such as one passed by
 *   systemd socket activation
 * @error: return location for a [struct@GLib.Error]
 *
 * Adopts @listening as the socket to accept connections from. @self keeps a
 * reference to it and closes it on [method@Gios.DeviceStream.close].
 *
 * Returns: %TRUE when @listening was adopted
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_open_socket (GiosServerSocket  *self,
                                GSocket           *listening,
                                GError           **error)
{
  GiosServerSocketPrivate *priv;
  int accepting = 0;
  socklen_t len = sizeof accepting;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (listening), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  if (!check_not_open (self, error))
    return FALSE;
  if (getsockopt (g_socket_get_fd (listening), SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 ||
      !accepting)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The socket to adopt is not listening"));
      return FALSE;
    }
  g_socket_set_blocking (listening, FALSE);
  g_ptr_array_add (priv->listeners, g_object_ref (listening));
  opened (self, NULL);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Accepting                                                                  */

static gboolean
accept_errno_is_transient (int errsv)
{
  switch (errsv)
    {
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
accept_errno_is_resource (int errsv)
{
  return errsv == EMFILE || errsv == ENFILE || errsv == ENOBUFS || errsv == ENOMEM;
}

/* Tries each listener once. Returns a connected descriptor, -1 when none is
 * waiting (errno EAGAIN), or -1 with another errno. */
static int
accept_once (GiosServerSocketPrivate  *priv,
             GSocketAddress          **remote)
{
  guint n = priv->listeners->len;
  int last_errno = EAGAIN;

  for (guint k = 0; k < n; k++)
    {
      guint i = (priv->next_listener + k) % n;
      GSocket *listener = g_ptr_array_index (priv->listeners, i);
      struct sockaddr_storage peer;
      socklen_t len;
      int fd;

      do
        {
          len = sizeof peer;
          /* Connections are in blocking mode: see set_connection_fd(). */
          fd = accept4 (g_socket_get_fd (listener), (struct sockaddr *) &peer, &len,
                        SOCK_CLOEXEC);
        }
      while (fd < 0 && errno == EINTR);

      if (fd >= 0)
        {
          priv->next_listener = (i + 1) % n;
          /* The peer's address comes with the connection: no getpeername(). */
          *remote = g_socket_address_new_from_native (&peer, len);
          return fd;
        }
      if (errno != EAGAIN && errno != EWOULDBLOCK && !accept_errno_is_transient (errno))
        last_errno = errno;
    }
  errno = last_errno;
  return -1;
}

/* Running out of descriptors is reported once per episode, and its end
 * once. */
static void
report_exhaustion (GiosServerSocket *self,
                   int               errsv)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  if (priv->emfile_reported)
    return;
  g_warning ("Could not accept a connection on port %u: %s; "
             "trying again as descriptors free up",
             gios_socket_common_get_port (GIOS_SOCKET_COMMON (self)), g_strerror (errsv));
  priv->emfile_reported = TRUE;
}

static void
report_accepting (GiosServerSocket *self)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  if (priv->emfile_reported)
    {
      g_message ("Accepting connections again on port %u",
                 gios_socket_common_get_port (GIOS_SOCKET_COMMON (self)));
      priv->emfile_reported = FALSE;
    }
}

/* Waits until @deadline for a connection and returns its descriptor, with
 * the peer's address in @remote; -1 with @error set otherwise. Running out
 * of descriptors is reported once per episode and retried with a growing
 * pause instead of spinning. */
int
_gios_server_socket_accept_fd (GiosServerSocket  *self,
                               gint64             deadline,
                               GCancellable      *cancellable,
                               GSocketAddress   **remote,
                               GError           **error)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (self);
  gint64 pause = RETRY_MIN_US;

  if (priv->listeners->len == 0)
    {
      g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                           _("The server socket is not open"));
      return -1;
    }

  for (;;)
    {
      GPollFD fds[MAX_LISTENERS];
      int fd;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return -1;

      fd = accept_once (priv, remote);
      if (fd >= 0)
        {
          report_accepting (self);
          return fd;
        }

      if (accept_errno_is_resource (errno))
        {
          gint64 until;

          report_exhaustion (self, errno);
          if (deadline >= 0 && g_get_monotonic_time () >= deadline)
            {
              _gios_set_error_from_errno (error, EMFILE, _("Could not accept a connection"));
              return -1;
            }
          until = g_get_monotonic_time () + pause;
          if (deadline >= 0)
            until = MIN (until, deadline);
          pause = MIN (pause * 2, RETRY_MAX_US);
          if (!pause_until (self, until, cancellable, error))
            return -1;
          continue;
        }
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        {
          _gios_set_error_from_errno (error, errno, _("Could not accept a connection"));
          return -1;
        }

      for (guint i = 0; i < priv->listeners->len; i++)
        {
          fds[i].fd = g_socket_get_fd (g_ptr_array_index (priv->listeners, i));
          fds[i].events = G_IO_IN;
          fds[i].revents = 0;
        }
      if (!_gios_device_stream_wait (stream, fds, priv->listeners->len, deadline, cancellable, error))
        return -1;
    }
}

static void
explain_accept_timeout (GiosServerSocket  *self,
                        GError           **error,
                        int                timeout_ms)
{
  if (error == NULL || !g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return;
  g_clear_error (error);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               _("No connection arrived on port %u within %d ms"),
               gios_socket_common_get_port (GIOS_SOCKET_COMMON (self)), timeout_ms);
}

/**
 * gios_server_socket_listen:
 * @self: a [class@Gios.ServerSocket]
 * @timeout_ms: how long to wait for a connection, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Waits for a connection and makes it the current one, which the
 * [class@Gios.DeviceStream] calls on @self then read and write. With a
 * current connection already, returns %TRUE at once; drop it with
 * [method@Gios.SocketCommon.drop_connection] to take the next one.
 *
 * Returns: %TRUE once a connection is current
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_listen (GiosServerSocket  *self,
                           int                timeout_ms,
                           GCancellable      *cancellable,
                           GError           **error)
{
  GiosDeviceStream *stream;
  GSocketAddress *remote = NULL;
  int timeout;
  int fd;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  stream = GIOS_DEVICE_STREAM (self);
  if (_gios_socket_common_has_connection (GIOS_SOCKET_COMMON (self)))
    return TRUE;

  if (!_gios_device_stream_enter (stream, error))
    return FALSE;
  timeout = _gios_device_stream_resolve_timeout (stream, timeout_ms);
  fd = _gios_server_socket_accept_fd (self, _gios_deadline_from_timeout (timeout),
                                      cancellable, &remote, error);
  if (fd < 0)
    explain_accept_timeout (self, error, timeout);
  _gios_device_stream_leave (stream);

  if (fd < 0)
    return FALSE;
  _gios_socket_common_set_connection_fd (GIOS_SOCKET_COMMON (self), fd, TRUE, remote);
  return TRUE;
}

GiosSocket *
_gios_server_socket_wrap (GiosServerSocket  *self,
                          int                fd,
                          GSocketAddress    *remote,
                          GError           **error)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  g_autoptr(GiosSocket) socket = g_object_new (priv->socket_type, NULL);

  if (socket == NULL)
    {
      g_set_error (error, GIOS_ERROR, GIOS_ERROR_FAILED,
                   _("Could not create a %s for the connection"), g_type_name (priv->socket_type));
      close (fd);
      g_clear_object (&remote);
      return NULL;
    }
  _gios_socket_common_inherit (GIOS_SOCKET_COMMON (socket), GIOS_SOCKET_COMMON (self));
  _gios_socket_common_set_connection_fd (GIOS_SOCKET_COMMON (socket), fd, TRUE, remote);

  remote = gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (socket));
  if (G_IS_INET_SOCKET_ADDRESS (remote))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (remote);
      g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      /* The local address is looked up when asked for. */
      _gios_socket_common_set_endpoint (GIOS_SOCKET_COMMON (socket), ip,
                                        g_inet_socket_address_get_port (inet), NULL);
    }
  else
    _gios_socket_common_set_endpoint (GIOS_SOCKET_COMMON (socket), NULL, 0,
                                      gios_socket_common_get_local_address (GIOS_SOCKET_COMMON (self)));
  _gios_device_stream_set_open (GIOS_DEVICE_STREAM (socket), TRUE);
  return g_steal_pointer (&socket);
}

/**
 * gios_server_socket_accept:
 * @self: a [class@Gios.ServerSocket]
 * @timeout_ms: how long to wait for a connection, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Waits for a connection and returns it as a new instance of
 * [property@Gios.ServerSocket:socket-type], which takes over @self's
 * [property@Gios.SocketCommon:no-delay],
 * [property@Gios.SocketCommon:keep-alive], timeout, line terminator and
 * buffer sizes. The current connection of @self, if any, is not touched.
 *
 * Returns: (transfer full): the connection, or %NULL with @error set
 *
 * Since: 1.0
 */
GiosSocket *
gios_server_socket_accept (GiosServerSocket  *self,
                           int                timeout_ms,
                           GCancellable      *cancellable,
                           GError           **error)
{
  GiosDeviceStream *stream;
  GSocketAddress *remote = NULL;
  int timeout;
  int fd;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  stream = GIOS_DEVICE_STREAM (self);
  if (!_gios_device_stream_enter (stream, error))
    return NULL;
  timeout = _gios_device_stream_resolve_timeout (stream, timeout_ms);
  fd = _gios_server_socket_accept_fd (self, _gios_deadline_from_timeout (timeout),
                                      cancellable, &remote, error);
  if (fd < 0)
    explain_accept_timeout (self, error, timeout);
  _gios_device_stream_leave (stream);

  if (fd < 0)
    return NULL;
  return _gios_server_socket_wrap (self, fd, remote, error);
}

/* ------------------------------------------------------------------------ */
/* A job per connection                                                       */

/* The caller's function and data, shared by every job one listen_job()
 * started: the data is released when the last of them ends. */
typedef struct
{
  gatomicrefcount ref;
  GiosJobFunc func;
  gpointer user_data;
  GDestroyNotify notify;
} JobClosure;

typedef struct
{
  GiosServerSocket *server;
  GiosSocket *connection;
  JobClosure *closure;
  GCancellable *cancellable;
} Job;

static JobClosure *
job_closure_new (GiosJobFunc    func,
                 gpointer       user_data,
                 GDestroyNotify notify)
{
  JobClosure *closure = g_new0 (JobClosure, 1);

  g_atomic_ref_count_init (&closure->ref);
  closure->func = func;
  closure->user_data = user_data;
  closure->notify = notify;
  return closure;
}

static void
job_closure_unref (JobClosure *closure)
{
  if (!g_atomic_ref_count_dec (&closure->ref))
    return;
  if (closure->notify != NULL)
    closure->notify (closure->user_data);
  g_free (closure);
}

static void
job_run (gpointer data,
         gpointer pool_data)
{
  Job *job = data;
  GiosServerSocketPrivate *priv = PRIV (job->server);
  gboolean wake;

  if (job->closure->func != NULL)
    job->closure->func (job->connection, job->cancellable, job->closure->user_data);
  else
    gios_socket_run (job->connection, job->cancellable);

  /* Send what the job left buffered, within the connection's default
   * timeout, unless the job closed it itself. */
  gios_device_stream_close (GIOS_DEVICE_STREAM (job->connection), NULL);
  g_object_unref (job->cancellable);
  /* Before the job counts as ended: wait_jobs() returning means the data
   * was released too. */
  job_closure_unref (job->closure);

  g_mutex_lock (&priv->jobs_lock);
  g_ptr_array_remove_fast (priv->running, job->connection);
  priv->n_jobs--;
  g_cond_broadcast (&priv->jobs_cond);
  wake = priv->slot_waiters > 0;
  g_mutex_unlock (&priv->jobs_lock);
  /* A listen_job() waiting for a free slot; only then, since the wake-up
   * would also cost the accepting thread a spurious return from poll(). */
  if (wake)
    _gios_device_stream_wake (GIOS_DEVICE_STREAM (job->server));

  g_object_unref (job->connection);
  g_object_unref (job->server);
  g_free (job);
}

/* Waits until fewer than @max_jobs jobs run (0: no limit). */
static gboolean
wait_for_slot (GiosServerSocket  *self,
               guint              max_jobs,
               gint64             deadline,
               GCancellable      *cancellable,
               GError           **error)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  for (;;)
    {
      gboolean free_slot;
      gboolean ok;

      /* Counted as waiting in the same locked section as the check, so a
       * job that ends before the wait starts still wakes it. */
      g_mutex_lock (&priv->jobs_lock);
      free_slot = max_jobs == 0 || priv->n_jobs < max_jobs;
      if (!free_slot)
        priv->slot_waiters++;
      g_mutex_unlock (&priv->jobs_lock);
      if (free_slot)
        return TRUE;
      ok = _gios_device_stream_wait (GIOS_DEVICE_STREAM (self), NULL, 0, deadline, cancellable, error);
      g_mutex_lock (&priv->jobs_lock);
      priv->slot_waiters--;
      g_mutex_unlock (&priv->jobs_lock);
      if (!ok)
        return FALSE;
    }
}

static void
start_job (GiosServerSocket *self,
           GiosSocket       *connection,
           JobClosure       *closure)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  Job *job = g_new0 (Job, 1);

  job->server = g_object_ref (self);
  job->connection = connection;
  job->closure = closure;
  g_atomic_ref_count_inc (&closure->ref);

  g_mutex_lock (&priv->jobs_lock);
  job->cancellable = g_object_ref (priv->jobs_cancellable);
  /* cancel_jobs() drops the connection with it: reads may block. */
  _gios_device_stream_set_job_cancellable (GIOS_DEVICE_STREAM (connection), job->cancellable);
  g_ptr_array_add (priv->running, connection);
  priv->n_jobs++;
  if (priv->pool == NULL)
    /* Shared threads, no limit of its own: listen_job() holds the limit by
     * not accepting, so waiting clients stay in the kernel's queue. */
    priv->pool = g_thread_pool_new (job_run, NULL, -1, FALSE, NULL);
  g_mutex_unlock (&priv->jobs_lock);

  g_thread_pool_push (priv->pool, job, NULL);
}

/**
 * gios_server_socket_listen_job:
 * @self: a [class@Gios.ServerSocket]
 * @timeout_ms: how long to accept connections, in milliseconds
 * @max_jobs: the most jobs running at once, or 0 for no limit
 * @func: (nullable) (scope notified) (closure user_data) (destroy notify):
 *   the job, or %NULL to call [method@Gios.Socket.run] on each connection
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once the last job has ended
 * @cancellable: (nullable): stops accepting when cancelled
 * @error: return location for a [struct@GLib.Error]
 *
 * Accepts connections until @timeout_ms has passed, and runs a job for each
 * on a thread pool: @func, or the `run` class method of the accepted
 * [class@Gios.Socket] (a protocol helper subclass set in
 * [property@Gios.ServerSocket:socket-type]).
 *
 * At most @max_jobs jobs run at once. At the limit, nothing more is accepted
 * until a job ends, so waiting clients stay in the kernel's queue
 * ([property@Gios.ServerSocket:connection-queue-size]) and none is lost. Jobs
 * go on after the call returns; [method@Gios.ServerSocket.get_n_jobs] and
 * [method@Gios.ServerSocket.wait_jobs] follow them, and
 * [method@Gios.DeviceStream.close] cancels their cancellable and wakes their
 * blocked calls.
 *
 * The connection objects are created on the calling thread; only the jobs run
 * on the pool. GJS cannot run JavaScript on other threads: serve from GJS with
 * [method@Gios.ServerSocket.start] instead.
 *
 * Returns: the number of jobs started when the time ran out, or -1 with
 *   @error set when accepting failed, was cancelled or the server closed
 *
 * Since: 1.0
 */
gint
gios_server_socket_listen_job (GiosServerSocket  *self,
                               int                timeout_ms,
                               guint              max_jobs,
                               GiosJobFunc        func,
                               gpointer           user_data,
                               GDestroyNotify     notify,
                               GCancellable      *cancellable,
                               GError           **error)
{
  GiosDeviceStream *stream;
  JobClosure *closure;
  g_autoptr(GError) local_error = NULL;
  gint64 deadline;
  gint started = 0;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), -1);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, -1);
  g_return_val_if_fail (max_jobs <= G_MAXINT, -1);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  stream = GIOS_DEVICE_STREAM (self);
  closure = job_closure_new (func, user_data, notify);
  if (!_gios_device_stream_enter (stream, error))
    {
      job_closure_unref (closure);
      return -1;
    }
  _gios_device_stream_prepare_wakeup (stream);
  deadline = _gios_deadline_from_timeout (_gios_device_stream_resolve_timeout (stream, timeout_ms));

  for (;;)
    {
      GSocketAddress *remote = NULL;
      GiosSocket *connection;
      int fd;

      if (!wait_for_slot (self, max_jobs, deadline, cancellable, &local_error))
        break;
      fd = _gios_server_socket_accept_fd (self, deadline, cancellable, &remote, &local_error);
      if (fd < 0)
        break;
      connection = _gios_server_socket_wrap (self, fd, remote, &local_error);
      if (connection == NULL)
        break;
      start_job (self, connection, closure);
      started++;
    }

  _gios_device_stream_leave (stream);
  job_closure_unref (closure);

  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return started;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return -1;
}

/**
 * gios_server_socket_get_n_jobs:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets how many jobs that [method@Gios.ServerSocket.listen_job] started are
 * running.
 *
 * Returns: the number of running jobs
 *
 * Since: 1.0
 */
guint
gios_server_socket_get_n_jobs (GiosServerSocket *self)
{
  GiosServerSocketPrivate *priv;
  guint n;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), 0);

  priv = PRIV (self);
  g_mutex_lock (&priv->jobs_lock);
  n = priv->n_jobs;
  g_mutex_unlock (&priv->jobs_lock);
  return n;
}

/**
 * gios_server_socket_wait_jobs:
 * @self: a [class@Gios.ServerSocket]
 * @timeout_ms: how long to wait, in milliseconds
 * @error: return location for a [struct@GLib.Error]
 *
 * Waits until every job that [method@Gios.ServerSocket.listen_job] started
 * has ended.
 *
 * Returns: %TRUE when no job runs; %FALSE with %G_IO_ERROR_TIMED_OUT
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_wait_jobs (GiosServerSocket  *self,
                              int                timeout_ms,
                              GError           **error)
{
  GiosServerSocketPrivate *priv;
  gint64 deadline;
  gboolean ok = TRUE;
  int timeout;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  timeout = _gios_device_stream_resolve_timeout (GIOS_DEVICE_STREAM (self), timeout_ms);
  deadline = _gios_deadline_from_timeout (timeout);
  g_mutex_lock (&priv->jobs_lock);
  while (priv->n_jobs > 0 && ok)
    {
      if (deadline < 0)
        g_cond_wait (&priv->jobs_cond, &priv->jobs_lock);
      else if (!g_cond_wait_until (&priv->jobs_cond, &priv->jobs_lock, deadline) &&
               priv->n_jobs > 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       g_dngettext (GETTEXT_PACKAGE, "%u job still running after %d ms",
                                    "%u jobs still running after %d ms", priv->n_jobs),
                       priv->n_jobs, timeout);
          ok = FALSE;
        }
    }
  g_mutex_unlock (&priv->jobs_lock);
  return ok;
}

/* close(): cancel the jobs' cancellable and wake their blocked calls; later
 * jobs get a fresh cancellable. */
static void
cancel_jobs (GiosServerSocketPrivate *priv)
{
  g_autoptr(GPtrArray) running = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GCancellable) cancellable = NULL;

  g_mutex_lock (&priv->jobs_lock);
  for (guint i = 0; i < priv->running->len; i++)
    g_ptr_array_add (running, g_object_ref (g_ptr_array_index (priv->running, i)));
  cancellable = g_steal_pointer (&priv->jobs_cancellable);
  priv->jobs_cancellable = g_cancellable_new ();
  g_mutex_unlock (&priv->jobs_lock);

  g_cancellable_cancel (cancellable);
  for (guint i = 0; i < running->len; i++)
    gios_socket_common_drop_connection (g_ptr_array_index (running, i), NULL);
}

/* ------------------------------------------------------------------------ */
/* Accepting on the main loop                                                 */

static void on_listener_ready (GiosWatch *watch, GIOCondition revents, gpointer data);

static gboolean
want_connections (GiosServerSocketPrivate *priv)
{
  if (priv->retry_source != NULL)
    return FALSE;
  if (priv->pending.length > 0)
    return TRUE;
  return priv->started &&
         (priv->max_connections == 0 ||
          (guint) g_atomic_int_get (&priv->live) < priv->max_connections);
}

static void
update_accepting (GiosServerSocket *self)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  GIOCondition events = want_connections (priv) ? G_IO_IN : 0;

  if (priv->watches == NULL)
    return;
  for (guint i = 0; i < priv->watches->len; i++)
    _gios_watch_set_events (g_ptr_array_index (priv->watches, i), events);
}

static void
destroy_watches (GiosServerSocket *self)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  g_clear_pointer (&priv->watches, g_ptr_array_unref);
  _gios_device_stream_set_accept_context (GIOS_DEVICE_STREAM (self), NULL);
  if (priv->retry_source != NULL)
    {
      g_source_destroy (priv->retry_source);
      g_clear_pointer (&priv->retry_source, g_source_unref);
    }
}

/* Watches the listening sockets from the thread-default main context. */
static gboolean
ensure_watches (GiosServerSocket  *self,
                GError           **error)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  GiosReactor *reactor;

  if (priv->listeners->len == 0)
    {
      g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                           _("The server socket is not open"));
      return FALSE;
    }
  if (priv->watches != NULL)
    {
      if (_gios_device_stream_get_accept_context (GIOS_DEVICE_STREAM (self)) == context)
        return TRUE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                           _("The server socket accepts on another main context already"));
      return FALSE;
    }

  reactor = _gios_reactor_ref (context, error);
  if (reactor == NULL)
    return FALSE;
  priv->watches = g_ptr_array_new_with_free_func ((GDestroyNotify) _gios_watch_destroy);
  for (guint i = 0; i < priv->listeners->len; i++)
    g_ptr_array_add (priv->watches,
                     _gios_reactor_watch (reactor, g_socket_get_fd (g_ptr_array_index (priv->listeners, i)),
                                          0, on_listener_ready, self));
  _gios_device_stream_set_accept_context (GIOS_DEVICE_STREAM (self), context);
  g_source_unref ((GSource *) reactor);
  return TRUE;
}

static gboolean
on_retry (gpointer data)
{
  GiosServerSocket *self = data;
  GiosServerSocketPrivate *priv = PRIV (self);

  g_clear_pointer (&priv->retry_source, g_source_unref);
  update_accepting (self);
  return G_SOURCE_REMOVE;
}

/* Out of descriptors: stop watching for a growing pause, then try again. */
static void
pause_accepting (GiosServerSocket *self,
                 int               errsv)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  report_exhaustion (self, errsv);
  priv->retry_pause = priv->retry_pause == 0 ? RETRY_MIN_US : MIN (priv->retry_pause * 2, RETRY_MAX_US);
  priv->retry_source = g_timeout_source_new (priv->retry_pause / 1000);
  g_source_set_static_name (priv->retry_source, "[gios] accept retry");
  g_source_set_callback (priv->retry_source, on_retry, self, NULL);
  g_source_attach (priv->retry_source,
                   _gios_device_stream_get_accept_context (GIOS_DEVICE_STREAM (self)));
  update_accepting (self);
}

typedef struct
{
  GiosServerSocket *server;   /* weak */
  gboolean gone;
} LiveToken;

static void
connection_gone (LiveToken *token)
{
  if (token->gone)
    return;
  token->gone = TRUE;
  if (token->server != NULL)
    {
      g_atomic_int_add (&PRIV (token->server)->live, -1);
      update_accepting (token->server);
    }
}

static void
live_token_free (gpointer data)
{
  LiveToken *token = data;

  connection_gone (token);
  if (token->server != NULL)
    g_object_remove_weak_pointer (G_OBJECT (token->server), (gpointer *) &token->server);
  g_free (token);
}

static void
on_connection_disconnected (GiosSocketCommon *connection,
                            gboolean          intentional,
                            GError           *reason,
                            LiveToken        *token)
{
  connection_gone (token);
}

/* Counts @connection among the live ones until it disconnects or is freed,
 * for max-connections. */
static void
track_live (GiosServerSocket *self,
            GiosSocket       *connection)
{
  LiveToken *token = g_new0 (LiveToken, 1);

  token->server = self;
  g_object_add_weak_pointer (G_OBJECT (self), (gpointer *) &token->server);
  g_atomic_int_inc (&PRIV (self)->live);
  g_signal_connect (connection, "disconnected", G_CALLBACK (on_connection_disconnected), token);
  g_object_set_data_full (G_OBJECT (connection), "gios-live-token", token, live_token_free);
}

static void
stop_accepting (GiosServerSocket *self,
                GError           *reason)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  if (!priv->started)
    {
      g_error_free (reason);
      return;
    }
  priv->started = FALSE;
  update_accepting (self);
  g_signal_emit (self, signals[STOPPED], 0, reason);
  g_error_free (reason);
}

/* Hands a new connection to a pending accept_async() or listen_async(), or
 * to start()'s handlers. */
static void
dispatch_connection (GiosServerSocket *self,
                     int               fd,
                     GSocketAddress   *remote)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  g_autoptr(GTask) task = g_queue_pop_head (&priv->pending);
  g_autoptr(GiosSocket) connection = NULL;
  GError *error = NULL;
  gboolean handled = FALSE;

  if (task != NULL && g_task_get_source_tag (task) == gios_server_socket_listen_async)
    {
      _gios_socket_common_set_connection_fd (GIOS_SOCKET_COMMON (self), fd, TRUE, remote);
      g_task_return_boolean (task, TRUE);
      return;
    }

  connection = _gios_server_socket_wrap (self, fd, remote, &error);
  if (task != NULL)
    {
      if (connection != NULL)
        g_task_return_pointer (task, g_steal_pointer (&connection), g_object_unref);
      else
        g_task_return_error (task, error);
      return;
    }
  if (connection == NULL)
    {
      g_warning ("%s", error->message);
      g_error_free (error);
      return;
    }

  track_live (self, connection);
  g_signal_emit (self, signals[ACCEPTED], 0, connection, &handled);
  if (!handled)
    {
      if (_gios_socket_overrides_run (connection))
        gios_socket_run (connection, priv->jobs_cancellable);
      else
        {
          g_debug ("no handler took the connection; closing it");
          gios_device_stream_close (GIOS_DEVICE_STREAM (connection), NULL);
        }
    }
}

static void
on_listener_ready (GiosWatch    *watch,
                   GIOCondition  revents,
                   gpointer      data)
{
  g_autoptr(GiosServerSocket) self = g_object_ref (data);
  GiosServerSocketPrivate *priv = PRIV (self);

  /* A bounded batch per event, so that other sources get their turn. */
  for (int i = 0; i < 64 && want_connections (priv); i++)
    {
      GSocketAddress *remote = NULL;
      GError *error = NULL;
      int fd = accept_once (priv, &remote);

      if (fd < 0)
        {
          int errsv = errno;

          if (errsv == EAGAIN || errsv == EWOULDBLOCK)
            break;
          if (accept_errno_is_resource (errsv))
            {
              pause_accepting (self, errsv);
              break;
            }
          _gios_set_error_from_errno (&error, errsv, _("Could not accept a connection"));
          while (priv->pending.length > 0)
            {
              g_autoptr(GTask) task = g_queue_pop_head (&priv->pending);
              g_task_return_error (task, g_error_copy (error));
            }
          stop_accepting (self, error);
          break;
        }
      priv->retry_pause = 0;
      report_accepting (self);
      dispatch_connection (self, fd, remote);
    }
  update_accepting (self);
}

/**
 * gios_server_socket_start:
 * @self: a [class@Gios.ServerSocket]
 * @error: return location for a [struct@GLib.Error]
 *
 * Starts accepting connections on the thread-default main context of the
 * caller. For each connection, an instance of
 * [property@Gios.ServerSocket:socket-type] is emitted with
 * [signal@Gios.ServerSocket::accepted]; when no handler takes it, its `run`
 * class method is called if the type has one (it must not block: it starts
 * asynchronous work and returns), and it is closed otherwise.
 *
 * With [property@Gios.ServerSocket:max-connections] set, accepting pauses
 * while that many accepted connections are open, and resumes as they
 * disconnect or are freed. Running out of file descriptors pauses it too,
 * reported once, and it resumes as they free up.
 *
 * [signal@Gios.ServerSocket::stopped] is emitted once when accepting ends.
 * This is the way to serve from GJS.
 *
 * Returns: %TRUE when accepting started, or had started already
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_start (GiosServerSocket  *self,
                          GError           **error)
{
  GiosServerSocketPrivate *priv;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  if (priv->started)
    return TRUE;
  if (!ensure_watches (self, error))
    return FALSE;
  priv->started = TRUE;
  update_accepting (self);
  return TRUE;
}

/**
 * gios_server_socket_stop:
 * @self: a [class@Gios.ServerSocket]
 *
 * Stops accepting connections started with
 * [method@Gios.ServerSocket.start] and emits
 * [signal@Gios.ServerSocket::stopped] with %G_IO_ERROR_CANCELLED. Connections
 * already accepted are not touched, and the socket keeps listening: waiting
 * clients stay in the kernel's queue. It is safe to call from a handler of
 * [signal@Gios.ServerSocket::accepted].
 *
 * Since: 1.0
 */
void
gios_server_socket_stop (GiosServerSocket *self)
{
  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));

  stop_accepting (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                             _("Accepting was stopped")));
}

/**
 * gios_server_socket_get_max_connections:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:max-connections].
 *
 * Returns: the most open connections from [method@Gios.ServerSocket.start],
 *   or 0 for no limit
 *
 * Since: 1.0
 */
guint
gios_server_socket_get_max_connections (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), 0);

  return PRIV (self)->max_connections;
}

/**
 * gios_server_socket_set_max_connections:
 * @self: a [class@Gios.ServerSocket]
 * @max_connections: the most open connections, or 0 for no limit
 *
 * Sets [property@Gios.ServerSocket:max-connections].
 *
 * Since: 1.0
 */
void
gios_server_socket_set_max_connections (GiosServerSocket *self,
                                        guint             max_connections)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));

  priv = PRIV (self);
  if (priv->max_connections == max_connections)
    return;
  priv->max_connections = max_connections;
  update_accepting (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONNECTIONS]);
}

static gboolean
on_pending_cancelled (GCancellable *cancellable,
                      gpointer      data)
{
  GTask *task = data;
  GiosServerSocket *self = g_task_get_source_object (task);
  GiosServerSocketPrivate *priv = PRIV (self);

  if (g_queue_remove (&priv->pending, task))
    {
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
      update_accepting (self);
    }
  return G_SOURCE_REMOVE;
}

static void
queue_accept (GiosServerSocket    *self,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data,
              gpointer             source_tag)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (!ensure_watches (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (cancellable != NULL)
    {
      g_autoptr(GSource) source = g_cancellable_source_new (cancellable);

      g_task_attach_source (task, source, G_SOURCE_FUNC (on_pending_cancelled));
    }
  /* In order: concurrent calls each get their own connection. */
  g_queue_push_tail (&priv->pending, g_steal_pointer (&task));
  update_accepting (self);
}

/**
 * gios_server_socket_accept_async:
 * @self: a [class@Gios.ServerSocket]
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when a connection arrives
 * @user_data: data for @callback
 *
 * Waits for a connection on the thread-default main context of the caller,
 * like [method@Gios.ServerSocket.accept] without blocking. Several calls may
 * be pending at once; each gets its own connection, in the order of the
 * calls, before [method@Gios.ServerSocket.start]'s handlers get any.
 *
 * Since: 1.0
 */
void
gios_server_socket_accept_async (GiosServerSocket    *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  queue_accept (self, cancellable, callback, user_data, gios_server_socket_accept_async);
}

/**
 * gios_server_socket_accept_finish:
 * @self: a [class@Gios.ServerSocket]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.ServerSocket.accept_async].
 *
 * Returns: (transfer full): the connection, or %NULL with @error set
 *
 * Since: 1.0
 */
GiosSocket *
gios_server_socket_accept_finish (GiosServerSocket  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gios_server_socket_accept_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * gios_server_socket_listen_async:
 * @self: a [class@Gios.ServerSocket]
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when a connection is current
 * @user_data: data for @callback
 *
 * Waits for a connection on the thread-default main context of the caller
 * and makes it the current one, like [method@Gios.ServerSocket.listen]
 * without blocking.
 *
 * Since: 1.0
 */
void
gios_server_socket_listen_async (GiosServerSocket    *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  if (_gios_socket_common_has_connection (GIOS_SOCKET_COMMON (self)))
    {
      g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, gios_server_socket_listen_async);
      g_task_return_boolean (task, TRUE);
      return;
    }
  queue_accept (self, cancellable, callback, user_data, gios_server_socket_listen_async);
}

/**
 * gios_server_socket_listen_finish:
 * @self: a [class@Gios.ServerSocket]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.ServerSocket.listen_async].
 *
 * Returns: %TRUE once a connection is current
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_listen_finish (GiosServerSocket  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gios_server_socket_listen_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* close(): pending calls fail, start() stops, the watches go before the
 * listening sockets they watch. */
static void
close_accepting (GiosServerSocket *self)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  while (priv->pending.length > 0)
    {
      g_autoptr(GTask) task = g_queue_pop_head (&priv->pending);

      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               _("The server socket was closed"));
    }
  stop_accepting (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                             _("The server socket was closed")));
  destroy_watches (self);
}

/**
 * gios_server_socket_close:
 * @self: a [class@Gios.ServerSocket]
 * @error: return location for a [struct@GLib.Error]
 *
 * Stops listening: drops the current connection (after sending buffered
 * output, as [method@Gios.DeviceStream.close] does), closes the listening
 * sockets, which resets the connections still waiting in the kernel's
 * queue, and removes the Unix socket file this object made. A call blocked
 * in another thread on @self wakes and fails with %G_IO_ERROR_CLOSED. The
 * cancellable of running jobs is cancelled and their connections are
 * dropped, which wakes their blocked calls; the jobs themselves end when
 * their functions return.
 *
 * @self can be opened again afterwards.
 *
 * Returns: %TRUE when buffered output was sent
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_close (GiosServerSocket  *self,
                          GError           **error)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);

  return gios_device_stream_close (GIOS_DEVICE_STREAM (self), error);
}

static gboolean
gios_server_socket_close_device (GiosDeviceStream  *stream,
                                 GError           **error)
{
  GiosServerSocket *self = GIOS_SERVER_SOCKET (stream);
  GiosServerSocketPrivate *priv = PRIV (self);
  gboolean ok;

  ok = GIOS_DEVICE_STREAM_CLASS (gios_server_socket_parent_class)->close_device (stream, error);
  close_accepting (self);
  close_listeners (priv);
  remove_unix_path (priv);
  cancel_jobs (priv);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                    */

static void
gios_server_socket_dispose (GObject *object)
{
  GiosServerSocket *self = GIOS_SERVER_SOCKET (object);
  GiosServerSocketPrivate *priv = PRIV (self);

  /* Pending calls hold a reference: none is left here. */
  priv->started = FALSE;
  destroy_watches (self);

  close_listeners (priv);
  remove_unix_path (priv);

  G_OBJECT_CLASS (gios_server_socket_parent_class)->dispose (object);
}

static void
gios_server_socket_finalize (GObject *object)
{
  GiosServerSocketPrivate *priv = PRIV (GIOS_SERVER_SOCKET (object));

  g_ptr_array_unref (priv->listeners);
  g_free (priv->unix_path);
  g_ptr_array_unref (priv->running);
  g_clear_object (&priv->jobs_cancellable);
  if (priv->pool != NULL)
    g_thread_pool_free (priv->pool, FALSE, FALSE);
  g_mutex_clear (&priv->jobs_lock);
  g_cond_clear (&priv->jobs_cond);

  G_OBJECT_CLASS (gios_server_socket_parent_class)->finalize (object);
}

static void
gios_server_socket_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  GiosServerSocket *self = GIOS_SERVER_SOCKET (object);
  GiosServerSocketPrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_CONNECTION_QUEUE_SIZE:
      g_value_set_int (value, priv->backlog);
      break;
    case PROP_LOOPBACK_ONLY:
      g_value_set_boolean (value, priv->loopback_only);
      break;
    case PROP_SOCKET_TYPE:
      g_value_set_gtype (value, priv->socket_type);
      break;
    case PROP_MAX_CONNECTIONS:
      g_value_set_uint (value, priv->max_connections);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gios_server_socket_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  GiosServerSocket *self = GIOS_SERVER_SOCKET (object);

  switch (prop_id)
    {
    case PROP_CONNECTION_QUEUE_SIZE:
      gios_server_socket_set_connection_queue_size (self, g_value_get_int (value));
      break;
    case PROP_LOOPBACK_ONLY:
      gios_server_socket_set_loopback_only (self, g_value_get_boolean (value));
      break;
    case PROP_SOCKET_TYPE:
      gios_server_socket_set_socket_type (self, g_value_get_gtype (value));
      break;
    case PROP_MAX_CONNECTIONS:
      gios_server_socket_set_max_connections (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gios_server_socket_class_init (GiosServerSocketClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GiosDeviceStreamClass *stream_class = GIOS_DEVICE_STREAM_CLASS (klass);

  object_class->dispose = gios_server_socket_dispose;
  object_class->finalize = gios_server_socket_finalize;
  object_class->get_property = gios_server_socket_get_property;
  object_class->set_property = gios_server_socket_set_property;

  stream_class->close_device = gios_server_socket_close_device;

  /**
   * GiosServerSocket:connection-queue-size:
   *
   * How many connections the kernel queues before they are accepted (the
   * `listen()` backlog); -1 for the system's maximum. A change applies to a
   * socket that already listens, too.
   *
   * Since: 1.0
   */
  properties[PROP_CONNECTION_QUEUE_SIZE] =
    g_param_spec_int ("connection-queue-size", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:loopback-only:
   *
   * Whether [method@Gios.ServerSocket.open] listens on the loopback
   * interfaces (127.0.0.1 and ::1) only, rather than on every interface.
   *
   * Since: 1.0
   */
  properties[PROP_LOOPBACK_ONLY] =
    g_param_spec_boolean ("loopback-only", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:socket-type:
   *
   * The type of the objects that [method@Gios.ServerSocket.accept] returns:
   * [class@Gios.Socket] or a subclass of it, such as a protocol helper.
   *
   * Since: 1.0
   */
  properties[PROP_SOCKET_TYPE] =
    g_param_spec_gtype ("socket-type", NULL, NULL, GIOS_TYPE_SOCKET,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:max-connections:
   *
   * The most connections accepted by [method@Gios.ServerSocket.start] that
   * may be open at once; 0 for no limit. At the limit, accepting pauses and
   * waiting clients stay in the kernel's queue.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_CONNECTIONS] =
    g_param_spec_uint ("max-connections", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GiosServerSocket::accepted:
   * @self: the server socket
   * @connection: the new connection
   *
   * Emitted on the main context of [method@Gios.ServerSocket.start] for
   * each connection it accepts. A handler that takes the connection (keeps a
   * reference and serves it, typically with asynchronous calls) returns
   * %TRUE; later handlers are then not called, as with
   * [signal@Gio.SocketService::incoming].
   *
   * Returns: %TRUE when a handler took the connection
   *
   * Since: 1.0
   */
  signals[ACCEPTED] =
    g_signal_new ("accepted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, GIOS_TYPE_SOCKET);

  /**
   * GiosServerSocket::stopped:
   * @self: the server socket
   * @reason: why accepting ended: %G_IO_ERROR_CANCELLED after
   *   [method@Gios.ServerSocket.stop] or [method@Gios.DeviceStream.close],
   *   or the error that ended it
   *
   * Emitted once when accepting started by [method@Gios.ServerSocket.start]
   * ends.
   *
   * Since: 1.0
   */
  signals[STOPPED] =
    g_signal_new ("stopped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
gios_server_socket_init (GiosServerSocket *self)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  priv->listeners = g_ptr_array_new_with_free_func (g_object_unref);
  priv->backlog = -1;
  priv->socket_type = GIOS_TYPE_SOCKET;
  g_mutex_init (&priv->jobs_lock);
  g_cond_init (&priv->jobs_cond);
  priv->running = g_ptr_array_new ();
  priv->jobs_cancellable = g_cancellable_new ();
}

/**
 * gios_server_socket_new:
 *
 * Creates a server socket that is not open yet.
 *
 * Returns: (transfer full): a new [class@Gios.ServerSocket]
 *
 * Since: 1.0
 */
GiosServerSocket *
gios_server_socket_new (void)
{
  return g_object_new (GIOS_TYPE_SERVER_SOCKET, NULL);
}

/**
 * gios_server_socket_get_connection_queue_size:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:connection-queue-size].
 *
 * Returns: the backlog, or -1 for the system's maximum
 *
 * Since: 1.0
 */
int
gios_server_socket_get_connection_queue_size (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), -1);

  return PRIV (self)->backlog;
}

/**
 * gios_server_socket_set_connection_queue_size:
 * @self: a [class@Gios.ServerSocket]
 * @size: the backlog, or -1 for the system's maximum
 *
 * Sets [property@Gios.ServerSocket:connection-queue-size].
 *
 * Since: 1.0
 */
void
gios_server_socket_set_connection_queue_size (GiosServerSocket *self,
                                              int               size)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));
  g_return_if_fail (size >= -1);

  priv = PRIV (self);
  if (priv->backlog == size)
    return;
  priv->backlog = size;
  /* listen() again on a listening socket changes its backlog. */
  for (guint i = 0; i < priv->listeners->len; i++)
    (void) listen (g_socket_get_fd (g_ptr_array_index (priv->listeners, i)),
                   effective_backlog (priv));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION_QUEUE_SIZE]);
}

/**
 * gios_server_socket_get_loopback_only:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:loopback-only].
 *
 * Returns: whether [method@Gios.ServerSocket.open] binds loopback only
 *
 * Since: 1.0
 */
gboolean
gios_server_socket_get_loopback_only (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);

  return PRIV (self)->loopback_only;
}

/**
 * gios_server_socket_set_loopback_only:
 * @self: a [class@Gios.ServerSocket]
 * @loopback_only: whether to listen on loopback only
 *
 * Sets [property@Gios.ServerSocket:loopback-only]. It applies from the
 * next [method@Gios.ServerSocket.open].
 *
 * Since: 1.0
 */
void
gios_server_socket_set_loopback_only (GiosServerSocket *self,
                                      gboolean          loopback_only)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));

  priv = PRIV (self);
  loopback_only = !!loopback_only;
  if (priv->loopback_only == (guint) loopback_only)
    return;
  priv->loopback_only = loopback_only;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOOPBACK_ONLY]);
}

/**
 * gios_server_socket_get_socket_type:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:socket-type].
 *
 * Returns: the type of accepted connections
 *
 * Since: 1.0
 */
GType
gios_server_socket_get_socket_type (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), G_TYPE_INVALID);

  return PRIV (self)->socket_type;
}

/**
 * gios_server_socket_set_socket_type:
 * @self: a [class@Gios.ServerSocket]
 * @socket_type: [class@Gios.Socket] or a subtype of it
 *
 * Sets [property@Gios.ServerSocket:socket-type].
 *
 * Since: 1.0
 */
void
gios_server_socket_set_socket_type (GiosServerSocket *self,
                                    GType             socket_type)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));
  g_return_if_fail (g_type_is_a (socket_type, GIOS_TYPE_SOCKET));

  priv = PRIV (self);
  if (priv->socket_type == socket_type)
    return;
  priv->socket_type = socket_type;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SOCKET_TYPE]);
}

/**
 * gios_server_socket_get_unix_path:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets the path of the Unix-domain socket that
 * [method@Gios.ServerSocket.open_unix] made.
 *
 * Returns: (transfer none) (nullable) (type filename): the path, or %NULL
 *
 * Since: 1.0
 */
const char *
gios_server_socket_get_unix_path (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), NULL);

  return PRIV (self)->unix_path;
}
