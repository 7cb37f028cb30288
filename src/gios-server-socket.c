/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosServerSocket: the object, its signals, opening and closing, and the
 * classic model's listen and accept, and the jobs; the main-loop API is in
 * gios-server-socket-async.c. The mechanisms are elsewhere: binding in
 * gios-bind.c, the listening sockets in gios-listeners.c, the job pool in
 * gios-job-pool.c, main-loop accepting in gios-acceptor.c.
 */
#include "gios-server-socket-impl.h"
#include "gios-device-stream-private.h"
#include "gios-device-stream-serving.h"
#include "gios-socket-common-private.h"
#include "gios-bind.h"
#include "gios-handover.h"
#include "gios-activation.h"

#include <unistd.h>
#include <sys/socket.h>

/**
 * GiosServerSocket:
 *
 * A socket that listens for connections, on TCP ports or a Unix path.
 *
 * In the classic model a server socket owns one connection at a time, and
 * the [class@Gios.DeviceStream] calls it inherits read and write that
 * connection:
 *
 * <!-- sample: server 7102: hello => hello -->
 * ```c
 * #include <gios/gios.h>
 *
 * int
 * main (void)
 * {
 *   g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
 *   g_autoptr(GError) error = NULL;
 *
 *   if (!gios_server_socket_open_address (server, "127.0.0.1", "7102", 1000, &error))
 *     {
 *       g_printerr ("%s\n", error->message);
 *       return 1;
 *     }
 *   while (gios_server_socket_listen (server, GIOS_TIMEOUT_FOREVER, NULL, &error))
 *     {
 *       g_autoptr(GError) client_error = NULL;    // each connection has its own
 *       g_autofree char *line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (server),
 *                                                             1024, NULL, 5000, NULL,
 *                                                             &client_error);
 *       if (line != NULL)
 *         gios_device_stream_write_line (GIOS_DEVICE_STREAM (server), line, NULL, &client_error);
 *       if (client_error != NULL)
 *         g_printerr ("%s\n", client_error->message);
 *       gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (server), NULL);
 *     }
 *   g_printerr ("%s\n", error->message);
 *   return 1;
 * }
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
 * Since: 0.1
 */

G_DEFINE_TYPE_WITH_PRIVATE (GiosServerSocket, gios_server_socket, GIOS_TYPE_SOCKET_COMMON)

enum {
  PROP_0,
  PROP_CONNECTION_QUEUE_SIZE,
  PROP_LOOPBACK_ONLY,
  PROP_SOCKET_TYPE,
  PROP_MAX_CONNECTIONS,
  PROP_IDLE_TIMEOUT,
  PROP_PROXY_PROTOCOL,
  PROP_HANDSHAKE_TIMEOUT,
  PROP_REUSE_PORT,
  PROP_REPLACE_STALE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GiosServerSocketPrivate *
_gios_server_socket_get_private (GiosServerSocket *self)
{
  return gios_server_socket_get_instance_private (self);
}

/* What the server's waits block on: a close from another thread wakes them. */
static GiosGate *
gate_of (GiosServerSocket *self)
{
  return _gios_device_stream_get_gate (GIOS_DEVICE_STREAM (self));
}

static int
effective_backlog (GiosServerSocketPrivate *priv)
{
  return priv->backlog < 0 ? SOMAXCONN : priv->backlog;
}

static gboolean
check_not_open (GiosServerSocket  *self,
                GError           **error)
{
  if (PRIV (self)->listeners.sockets->len > 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                           _("The server socket is already open; close it first"));
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                    */

/* The address @listening listens on: the path this object made for a Unix
 * socket, which was bound under a temporary name. NULL if the system
 * cannot say. */
static GSocketAddress *
listening_address (GiosServerSocket *self,
                   GSocket          *listening)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  if (priv->listeners.unix_path.path != NULL)
    return g_unix_socket_address_new (priv->listeners.unix_path.path);
  return g_socket_get_local_address (listening, NULL);
}

static void
opened (GiosServerSocket *self,
        const char       *host)
{
  GiosServerSocketPrivate *priv = PRIV (self);
  g_autoptr(GSocketAddress) local = listening_address (self, g_ptr_array_index (priv->listeners.sockets, 0));
  guint port = 0;

  if (G_IS_INET_SOCKET_ADDRESS (local))
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  _gios_socket_common_set_endpoint (GIOS_SOCKET_COMMON (self), host, port, local);
  _gios_device_stream_set_open (GIOS_DEVICE_STREAM (self), TRUE);

  if (g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN) == FALSE)
    {
      g_autofree char *where = _gios_socket_address_to_string (local);
      g_debug ("listening on %s (%u sockets)", where, priv->listeners.sockets->len);
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
  GiosCall call;
  gboolean ok;

  if (!check_not_open (self, error) ||
      !_gios_call_begin (&call, GIOS_DEVICE_STREAM (self), GIOS_CALL_OPEN, NULL, timeout_ms, error))
    return FALSE;
  ok = _gios_bind_tcp (gate_of (self), host, port, priv->loopback_only, priv->reuse_port,
                       effective_backlog (priv),
                       call.deadline, priv->listeners.sockets, error);
  _gios_call_end (&call, error);
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
 * passed (at once with 0). A port that is neither a number from 0 to 65535
 * nor a known service name fails with %G_IO_ERROR_INVALID_ARGUMENT.
 *
 * Returns: %TRUE when the socket listens
 *
 * Since: 0.1
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
 * Since: 0.1
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

  return open_tcp (self, host, port, timeout_ms, error);
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
 * fails with %G_IO_ERROR_ADDRESS_IN_USE. The one exception is a stale socket
 * that a dead server left, which is replaced when
 * [property@Gios.ServerSocket:replace-stale] is set. [method@Gios.DeviceStream.close]
 * removes the socket file, if it is still the one this call made.
 *
 * Other errors: %G_IO_ERROR_FILENAME_TOO_LONG when @path does not fit a
 * socket address, %G_IO_ERROR_NOT_FOUND or %G_IO_ERROR_NOT_DIRECTORY for a
 * missing or wrong parent, %G_IO_ERROR_PERMISSION_DENIED,
 * %G_IO_ERROR_NOT_SUPPORTED where Unix-domain sockets are not available.
 *
 * Returns: %TRUE when the socket listens
 *
 * Since: 0.1
 */

gboolean
gios_server_socket_open_unix (GiosServerSocket  *self,
                              const char        *path,
                              guint              permissions,
                              int                timeout_ms,
                              GError           **error)
{
  GiosServerSocketPrivate *priv;
  g_autoptr(GSocket) listener = NULL;
  GiosCall call;
  int fd;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (path != NULL && path[0] != '\0', FALSE);
  g_return_val_if_fail (permissions <= 0777, FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  if (!check_not_open (self, error) ||
      !_gios_call_begin (&call, GIOS_DEVICE_STREAM (self), GIOS_CALL_OPEN, NULL, timeout_ms, error))
    return FALSE;
  fd = _gios_bind_unix (gate_of (self), path, permissions, priv->replace_stale, effective_backlog (priv),
                        call.deadline, &priv->listeners.unix_path, error);
  _gios_call_end (&call, error);
  if (fd < 0)
    return FALSE;
  listener = g_socket_new_from_fd (fd, error);
  if (listener == NULL)
    {
      close (fd);
      _gios_unix_path_remove (&priv->listeners.unix_path);
      return FALSE;
    }
  g_ptr_array_add (priv->listeners.sockets, g_steal_pointer (&listener));
  opened (self, NULL);
  return TRUE;
}

/* Makes @listening, which listens, the socket @self accepts from. */
static void
adopt_listening (GiosServerSocket *self,
                 GSocket          *listening)
{
  g_socket_set_blocking (listening, FALSE);
  g_ptr_array_add (PRIV (self)->listeners.sockets, g_object_ref (listening));
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
 * [method@Gios.ServerSocket.open_activated] finds the sockets systemd passes
 * by itself.
 *
 * Returns: %TRUE when @listening was adopted
 *
 * Since: 0.1
 */
gboolean
gios_server_socket_open_socket (GiosServerSocket  *self,
                                GSocket           *listening,
                                GError           **error)
{
  int accepting = 0;
  socklen_t len = sizeof accepting;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (G_IS_SOCKET (listening), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_not_open (self, error))
    return FALSE;
  if (getsockopt (g_socket_get_fd (listening), SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 ||
      !accepting)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The socket to adopt is not listening"));
      return FALSE;
    }
  adopt_listening (self, listening);
  opened (self, NULL);
  return TRUE;
}

/**
 * gios_server_socket_open_activated:
 * @self: a [class@Gios.ServerSocket]
 * @name: (nullable): the name of the sockets to adopt, as the socket unit's
 *   `FileDescriptorName=` or `systemd-socket-activate --fdname` gives it,
 *   or %NULL for the first one not adopted yet
 * @error: return location for a [struct@GLib.Error]
 *
 * Adopts a listening socket passed to this process by the one that started
 * it, with systemd's socket activation protocol: the descriptors from 3 on,
 * `LISTEN_FDS` of them, meant for the process whose ID is `LISTEN_PID`,
 * named by `LISTEN_FDNAMES`. This is how a systemd socket unit (or
 * `systemd-socket-activate -l ADDRESS` on the command line) starts a
 * server on sockets it made: the server needs no privilege to bind, and
 * connections that arrive before it runs, or while it is replaced, wait in
 * the socket's queue.
 *
 * With @name, every socket passed with that name is adopted: a socket unit
 * names all its sockets alike (its `ListenStream=` lines for IPv4 and IPv6,
 * say), and [method@Gios.ServerSocket.hand_over_to] names the sockets it
 * passes `gios-hand-over`. @self then accepts from all of them, as it does
 * from the IPv4 and IPv6 sockets of [method@Gios.ServerSocket.open].
 *
 * The socket may be a TCP or a Unix-domain one and serves every model, as
 * a socket @self made would; [property@Gios.SocketCommon:local-address],
 * [property@Gios.SocketCommon:port] and
 * [method@Gios.ServerSocket.get_addresses] are the adopted socket's. The
 * descriptor gets `FD_CLOEXEC`, so that programs this process starts do not
 * inherit it, and [method@Gios.DeviceStream.close] closes it (a Unix socket
 * file, which systemd made, is left in place). Which sockets were adopted is
 * known to the whole process: each call with %NULL takes the next one, and
 * once every passed socket is taken the three variables are unset. As with
 * `sd_listen_fds()`, call it before other threads could read the
 * environment.
 *
 * Fails with %G_IO_ERROR_NOT_FOUND when no socket was passed to this
 * process (`LISTEN_FDS` is not set, or `LISTEN_PID` names another process),
 * when @name was not passed, or when every passed socket (or every one
 * named @name) is taken already; with %G_IO_ERROR_INVALID_DATA when the
 * variables are malformed; with %G_IO_ERROR_INVALID_ARGUMENT, naming the
 * descriptor, when it is not a listening stream socket, in which case it
 * is left alone and not taken. The message says which.
 *
 * Returns: %TRUE when a passed socket was adopted
 *
 * Since: 0.2
 */
gboolean
gios_server_socket_open_activated (GiosServerSocket  *self,
                                   const char        *name,
                                   GError           **error)
{
  int fd;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_not_open (self, error))
    return FALSE;
  fd = _gios_activation_take (name, error);
  if (fd < 0)
    return FALSE;
  /* With a name, the others of that name too. */
  for (; fd >= 0; fd = name != NULL ? _gios_activation_take (name, NULL) : -1)
    {
      g_autoptr(GSocket) listening = g_socket_new_from_fd (fd, error);

      if (listening == NULL)
        {
          close (fd);
          gios_listeners_close (&PRIV (self)->listeners);
          return FALSE;
        }
      adopt_listening (self, listening);
    }
  opened (self, NULL);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Accepting                                                                  */

static int
accept_once (gpointer         owner,
             GSocketAddress **remote)
{
  return gios_listeners_accept_once (&PRIV (GIOS_SERVER_SOCKET (owner))->listeners, remote);
}

static void
report_exhaustion (gpointer owner,
                   int      errsv)
{
  gios_listeners_report (&PRIV (GIOS_SERVER_SOCKET (owner))->listeners,
                         gios_socket_common_get_port (GIOS_SOCKET_COMMON (owner)), errsv);
}

/* Waits until @deadline for a connection, on @self's gate. */
static int
accept_fd (GiosServerSocket  *self,
           gint64             deadline,
           GCancellable      *cancellable,
           GSocketAddress   **remote,
           GError           **error)
{
  return gios_listeners_accept (&PRIV (self)->listeners, gate_of (self),
                                gios_socket_common_get_port (GIOS_SOCKET_COMMON (self)),
                                deadline, cancellable, remote, error);
}

static void adopt (gpointer owner, int fd, GSocketAddress *remote);
static GiosSocket *wrap (gpointer owner, int fd, GSocketAddress *remote, GError **error);

/* An accepted connection's host and port are its peer's (a Unix one's
 * local address is the server's): set again when a PROXY header has named
 * the original client. */
static void
set_peer_endpoint (GiosServerSocket *self,
                   GiosSocketCommon *connection)
{
  GSocketAddress *remote = gios_socket_common_get_remote_address (connection);

  if (G_IS_INET_SOCKET_ADDRESS (remote))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (remote);
      g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      /* The local address is looked up when asked for. */
      _gios_socket_common_set_endpoint (connection, ip, g_inet_socket_address_get_port (inet), NULL);
    }
  else
    _gios_socket_common_set_endpoint (connection, NULL, 0,
                                      gios_socket_common_get_local_address (GIOS_SOCKET_COMMON (self)));
}

/* After the hand-over of @connection: TRUE when it succeeded; otherwise
 * the connection was dropped, and @error is set only when the caller must
 * stop (cancelled, closed), not for the connection's own failure. */
static gboolean
handed_over (GiosServerSocket  *self,
             GiosSocketCommon  *connection,
             gboolean           ok,
             GError            *failure,
             GError           **error)
{
  if (!ok)
    {
      gios_handover_fail (self, connection, failure, error);
      return FALSE;
    }
  if (connection != GIOS_SOCKET_COMMON (self))
    set_peer_endpoint (self, connection);
  return TRUE;
}

/* Takes @connection (@self's current one, or an accepted socket) through
 * the hand-over stage, blocking, waiting on @gate; see handed_over(). */
static gboolean
hand_over (GiosServerSocket  *self,
           GiosSocketCommon  *connection,
           GiosGate          *gate,
           GCancellable      *cancellable,
           GError           **error)
{
  GError *failure = NULL;
  gboolean ok = gios_handover_run (self, connection, gate, cancellable, &failure);

  return handed_over (self, connection, ok, failure, error);
}

/* The same on the main loop, for the acceptor. */
static gboolean
wants_hand_over (gpointer owner)
{
  return gios_handover_needed (owner);
}

static void
hand_over_async (gpointer             owner,
                 GiosSocketCommon    *connection,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  gios_handover_run_async (owner, connection, cancellable, callback, user_data);
}

static gboolean
hand_over_finish (gpointer           owner,
                  GiosSocketCommon  *connection,
                  GAsyncResult      *result,
                  GError           **error)
{
  GError *failure = NULL;
  gboolean ok = gios_handover_run_finish (result, &failure);

  return handed_over (owner, connection, ok, failure, error);
}

/* Waits for a connection in one call frame of @self, and takes it through
 * the hand-over; connections that fail it are dropped and the wait goes on,
 * up to the deadline. With @accepted NULL, the connection becomes the
 * current one inside the frame: a teardown from another thread waits for
 * the frame to end, and then finds it whole. Otherwise *@accepted is the
 * new socket. */
static gboolean
accept_in_call (GiosServerSocket  *self,
                int                timeout_ms,
                GCancellable      *cancellable,
                GiosSocket       **accepted,
                GError           **error)
{
  GError *local_error = NULL;
  GiosCall call;
  gboolean ok = FALSE;

  if (!_gios_call_begin (&call, GIOS_DEVICE_STREAM (self), GIOS_CALL_OPEN, NULL, timeout_ms, error))
    return FALSE;
  /* A connection that fails its hand-over leaves no error: the next one. */
  while (!ok && local_error == NULL)
    {
      g_autoptr(GiosSocket) socket = NULL;
      GSocketAddress *remote = NULL;
      GiosSocketCommon *connection;
      int fd;

      fd = accept_fd (self, call.deadline, cancellable, &remote, &local_error);
      if (fd < 0)
        break;
      if (accepted == NULL)
        {
          adopt (self, fd, remote);
          connection = GIOS_SOCKET_COMMON (self);
        }
      else
        {
          socket = wrap (self, fd, remote, &local_error);
          if (socket == NULL)
            break;
          connection = GIOS_SOCKET_COMMON (socket);
        }
      ok = hand_over (self, connection, gate_of (self), cancellable, &local_error);
      if (ok && accepted != NULL)
        *accepted = g_steal_pointer (&socket);
    }
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_clear_error (&local_error);
      g_set_error (&local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   _("No connection arrived on port %u within %d ms"),
                   gios_socket_common_get_port (GIOS_SOCKET_COMMON (self)), call.timeout);
    }
  _gios_call_end (&call, &local_error);
  if (local_error != NULL)
    g_propagate_error (error, local_error);
  return ok;
}

/* The connection becomes the current one (the classic model). */
static void
adopt (gpointer        owner,
       int             fd,
       GSocketAddress *remote)
{
  _gios_socket_common_set_connection_fd (GIOS_SOCKET_COMMON (owner), fd, TRUE, remote);
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
 * With [property@Gios.ServerSocket:proxy-protocol] set, the connection's
 * PROXY header is read first; a connection whose header fails is dropped,
 * and the call waits for the next one.
 *
 * The connection is handed over whole or not at all: a
 * [method@Gios.SocketCommon.drop_connection] or
 * [method@Gios.DeviceStream.close] from another thread meanwhile either
 * finds it current, and drops it, or comes first, and the call fails with
 * %G_IO_ERROR_CLOSED or returns no connection.
 *
 * Returns: %TRUE once a connection is current
 *
 * Since: 0.1
 */

gboolean
gios_server_socket_listen (GiosServerSocket  *self,
                           int                timeout_ms,
                           GCancellable      *cancellable,
                           GError           **error)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (_gios_socket_common_has_connection (GIOS_SOCKET_COMMON (self)))
    return TRUE;
  return accept_in_call (self, timeout_ms, cancellable, NULL, error);
}

static GiosSocket *
wrap (gpointer         owner,
      int              fd,
      GSocketAddress  *remote,
      GError         **error)
{
  GiosServerSocket *self = owner;
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
  _gios_device_stream_set_read_cap (GIOS_DEVICE_STREAM (socket), priv->idle_timeout);
  _gios_socket_common_set_connection_fd (GIOS_SOCKET_COMMON (socket), fd, TRUE, remote);
  set_peer_endpoint (self, GIOS_SOCKET_COMMON (socket));
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
 * Since: 0.1
 */

GiosSocket *
gios_server_socket_accept (GiosServerSocket  *self,
                           int                timeout_ms,
                           GCancellable      *cancellable,
                           GError           **error)
{
  GiosSocket *accepted = NULL;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!accept_in_call (self, timeout_ms, cancellable, &accepted, error))
    return NULL;
  return accepted;
}

/* ------------------------------------------------------------------------ */
/* A job per connection                                                       */

/* On the job's thread, before the job: the hand-over, in a call frame of
 * the connection, so that the server's close (which cancels @cancellable
 * and aborts the connection) waits for it to leave. */
static gboolean
prepare_job (GObject      *owner,
             GiosSocket   *connection,
             GCancellable *cancellable)
{
  GiosServerSocket *self = GIOS_SERVER_SOCKET (owner);
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (connection);
  GiosCall call;
  gboolean ok;

  if (!gios_handover_needed (self))
    return TRUE;
  if (!_gios_call_begin (&call, stream, GIOS_CALL_OPEN, NULL, GIOS_TIMEOUT_FOREVER, NULL))
    return FALSE;
  ok = hand_over (self, GIOS_SOCKET_COMMON (connection), _gios_device_stream_get_gate (stream),
                  cancellable, NULL);
  _gios_call_end (&call, NULL);
  return ok;
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
 * With [property@Gios.ServerSocket:proxy-protocol] set, each job reads its
 * connection's PROXY header first, on its pool thread, so that a slow or
 * silent client holds its own job slot (for at most
 * [property@Gios.ServerSocket:handshake-timeout]) and never the accepting
 * thread; @func only ever gets connections whose header was good (the
 * others count among the jobs started all the same).
 *
 * The connection objects are created on the calling thread; only the jobs run
 * on the pool. GJS cannot run JavaScript on other threads: serve from GJS with
 * [method@Gios.ServerSocket.start] instead.
 *
 * Returns: the number of jobs started when the time ran out, or -1 with
 *   @error set when accepting failed, was cancelled or the server closed
 *
 * Since: 0.1
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
  GiosServerSocketPrivate *priv;
  GiosJobClosure *closure;
  g_autoptr(GError) local_error = NULL;
  GiosCall call;
  gint started = 0;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), -1);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, -1);
  g_return_val_if_fail (max_jobs <= G_MAXINT, -1);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  priv = PRIV (self);
  closure = gios_job_closure_new (func, user_data, notify);
  if (!_gios_call_begin (&call, GIOS_DEVICE_STREAM (self), GIOS_CALL_OPEN, NULL, timeout_ms, error))
    {
      gios_job_closure_unref (closure);
      return -1;
    }

  for (;;)
    {
      GSocketAddress *remote = NULL;
      GiosSocket *connection;
      int fd;

      if (!gios_job_pool_wait_for_slot (priv->jobs, max_jobs, gate_of (self),
                                        call.deadline, cancellable, &local_error))
        break;
      fd = accept_fd (self, call.deadline, cancellable, &remote, &local_error);
      if (fd < 0)
        break;
      connection = wrap (self, fd, remote, &local_error);
      if (connection == NULL)
        break;
      gios_job_pool_push (priv->jobs, connection, closure);
      started++;
    }

  _gios_call_end (&call, NULL);
  gios_job_closure_unref (closure);

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
 * Since: 0.1
 */

guint
gios_server_socket_get_n_jobs (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), 0);

  return gios_job_pool_get_n_jobs (PRIV (self)->jobs);
}

/**
 * gios_server_socket_wait_jobs:
 * @self: a [class@Gios.ServerSocket]
 * @timeout_ms: how long to wait, in milliseconds
 * @error: return location for a [struct@GLib.Error]
 *
 * Waits until every job that [method@Gios.ServerSocket.listen_job] started
 * has ended. [method@Gios.ServerSocket.wait_jobs_full] also takes a
 * cancellable.
 *
 * Returns: %TRUE when no job runs; %FALSE with %G_IO_ERROR_TIMED_OUT
 *
 * Since: 0.1
 */

gboolean
gios_server_socket_wait_jobs (GiosServerSocket  *self,
                              int                timeout_ms,
                              GError           **error)
{
  return gios_server_socket_wait_jobs_full (self, timeout_ms, NULL, error);
}

/**
 * gios_server_socket_wait_jobs_full:
 * @self: a [class@Gios.ServerSocket]
 * @timeout_ms: how long to wait, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable] that ends the wait
 * @error: return location for a [struct@GLib.Error]
 *
 * Waits until every job that [method@Gios.ServerSocket.listen_job] started
 * has ended, as [method@Gios.ServerSocket.wait_jobs] does, or until
 * @cancellable is cancelled, from any thread. Cancelling stops only the
 * wait: the jobs go on, and [method@Gios.ServerSocket.get_n_jobs] still
 * counts them.
 *
 * The Python bindings wait with this call, so that Ctrl-C ends a wait for
 * jobs as it ends the other blocking calls.
 *
 * Returns: %TRUE when no job runs; %FALSE with %G_IO_ERROR_TIMED_OUT or
 *   %G_IO_ERROR_CANCELLED
 *
 * Since: 0.2
 */

gboolean
gios_server_socket_wait_jobs_full (GiosServerSocket  *self,
                                   int                timeout_ms,
                                   GCancellable      *cancellable,
                                   GError           **error)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return gios_job_pool_wait_all (PRIV (self)->jobs,
                                 _gios_call_resolve_timeout (GIOS_DEVICE_STREAM (self), timeout_ms),
                                 cancellable, error);
}

/* Accepting on the main loop shares the hand-over with listen and accept,
 * and ends in the signals of gios-server-socket-async.c. */
const GiosAcceptorFuncs _gios_server_socket_acceptor_funcs = {
  .accept_once = accept_once,
  .wrap = wrap,
  .adopt = adopt,
  .wants_hand_over = wants_hand_over,
  .hand_over = hand_over_async,
  .hand_over_finish = hand_over_finish,
  .accepted = _gios_server_socket_emit_accepted,
  .stopped = _gios_server_socket_emit_stopped,
  .exhausted = report_exhaustion,
};

/**
 * gios_server_socket_close:
 * @self: a [class@Gios.ServerSocket]
 * @error: return location for a [struct@GLib.Error]
 *
 * Stops listening: drops the current connection (after sending buffered
 * output within [property@Gios.DeviceStream:close-timeout], as
 * [method@Gios.DeviceStream.close] does), closes the listening
 * sockets, which resets the connections still waiting in the kernel's
 * queue, and removes the Unix socket file this object made. A call blocked
 * in another thread on @self wakes and fails with %G_IO_ERROR_CLOSED. The
 * cancellable of running jobs is cancelled and their connections are
 * dropped without sending what they buffered, which wakes their blocked
 * calls; the jobs themselves end when their functions return. A peer that
 * does not read holds nothing up.
 *
 * @self can be opened again afterwards.
 *
 * Returns: %TRUE when buffered output was sent
 *
 * Since: 0.1
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
  GiosServerSocketPrivate *priv = PRIV (GIOS_SERVER_SOCKET (stream));
  gboolean ok;

  ok = GIOS_DEVICE_STREAM_CLASS (gios_server_socket_parent_class)->close_device (stream, error);
  /* The watches go before the listening sockets they watch. */
  gios_acceptor_close (priv->acceptor);
  gios_listeners_close (&priv->listeners);
  gios_job_pool_cancel (priv->jobs);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                    */

static void
gios_server_socket_dispose (GObject *object)
{
  GiosServerSocketPrivate *priv = PRIV (GIOS_SERVER_SOCKET (object));

  /* Pending calls hold a reference: none is left here. */
  gios_acceptor_forget (priv->acceptor);
  gios_listeners_close (&priv->listeners);

  G_OBJECT_CLASS (gios_server_socket_parent_class)->dispose (object);
}

static void
gios_server_socket_finalize (GObject *object)
{
  GiosServerSocketPrivate *priv = PRIV (GIOS_SERVER_SOCKET (object));

  gios_acceptor_free (priv->acceptor);
  gios_job_pool_free (priv->jobs);
  gios_listeners_clear (&priv->listeners);
  gios_handover_log_clear (&priv->handover_log);

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
      g_value_set_uint (value, gios_server_socket_get_max_connections (self));
      break;
    case PROP_IDLE_TIMEOUT:
      g_value_set_int (value, priv->idle_timeout);
      break;
    case PROP_PROXY_PROTOCOL:
      g_value_set_enum (value, priv->proxy_protocol);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      g_value_set_int (value, priv->handshake_timeout);
      break;
    case PROP_REUSE_PORT:
      g_value_set_boolean (value, priv->reuse_port);
      break;
    case PROP_REPLACE_STALE:
      g_value_set_boolean (value, priv->replace_stale);
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
    case PROP_IDLE_TIMEOUT:
      gios_server_socket_set_idle_timeout (self, g_value_get_int (value));
      break;
    case PROP_PROXY_PROTOCOL:
      gios_server_socket_set_proxy_protocol (self, g_value_get_enum (value));
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      gios_server_socket_set_handshake_timeout (self, g_value_get_int (value));
      break;
    case PROP_REUSE_PORT:
      gios_server_socket_set_reuse_port (self, g_value_get_boolean (value));
      break;
    case PROP_REPLACE_STALE:
      gios_server_socket_set_replace_stale (self, g_value_get_boolean (value));
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
   * `listen()` backlog); -1 for the system's maximum. A change
   * applies to a socket that already listens, too.
   *
   * Default: `-1`.
   *
   * Since: 0.1
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
   * Default: `FALSE`.
   *
   * Since: 0.1
   */
  properties[PROP_LOOPBACK_ONLY] =
    g_param_spec_boolean ("loopback-only", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:socket-type:
   *
   * The type of the objects that [method@Gios.ServerSocket.accept] returns:
   * [class@Gios.Socket] or a subclass of it, such as a
   * protocol helper.
   *
   * Default: `GiosSocket`.
   *
   * Since: 0.1
   */
  properties[PROP_SOCKET_TYPE] =
    g_param_spec_gtype ("socket-type", NULL, NULL, GIOS_TYPE_SOCKET,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:max-connections:
   *
   * The most connections accepted by [method@Gios.ServerSocket.start] that
   * may be open at once; 0 for no limit. At the limit,
   * accepting pauses and waiting clients stay in the kernel's queue.
   *
   * Default: `0`.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_CONNECTIONS] =
    g_param_spec_uint ("max-connections", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:idle-timeout:
   *
   * How long, in milliseconds, a connection this server accepted may stay
   * silent: every read on it waits at most that long, whatever timeout it
   * was given, and fails with %G_IO_ERROR_TIMED_OUT saying so; a connection
   * served from a main loop (with watches or asynchronous calls) that
   * receives nothing for that long is dropped, and emits
   * [signal@Gios.SocketCommon::disconnected] with that error. This is the
   * defence against clients that connect and hold a job or a connection
   * without sending. It applies to the connections accepted after it is set,
   * and to the classic model's current connection. -1 sets no limit.
   *
   * Default: `-1`.
   *
   * Since: 0.2
   */
  properties[PROP_IDLE_TIMEOUT] =
    g_param_spec_int ("idle-timeout", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:proxy-protocol:
   *
   * Whether the connections this server accepts come through a load
   * balancer that speaks HAProxy's PROXY protocol, and which version. When
   * set, every accepted connection must start with a header of that version
   * (%GIOS_PROXY_PROTOCOL_ANY: either), which is read and checked before the
   * connection is handed over, in every serving model, within
   * [property@Gios.ServerSocket:handshake-timeout]. The connection's
   * [property@Gios.SocketCommon:remote-address] is then the original client
   * and [property@Gios.SocketCommon:proxy-address] the balancer; the
   * header's TLVs are there for [method@Gios.SocketCommon.get_proxy_tlv].
   * Exactly the header is read: what the client sent after it is the
   * application's first input.
   *
   * A connection with a bad, truncated or over-long header (over 107 bytes
   * for version 1, 4112 for version 2), or none within the timeout, is
   * dropped and never handed over; nothing else is affected, and one log
   * line reports such drops (at most one a minute, with their count).
   * Set it only on ports that nobody but the balancer can reach: the header
   * says who the client is, and it is believed. It is never looked for
   * otherwise. It applies to the connections accepted after it is set.
   *
   * Default: `GIOS_PROXY_PROTOCOL_NONE`.
   *
   * Since: 0.2
   */
  properties[PROP_PROXY_PROTOCOL] =
    g_param_spec_enum ("proxy-protocol", NULL, NULL, GIOS_TYPE_PROXY_PROTOCOL, GIOS_PROXY_PROTOCOL_NONE,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:handshake-timeout:
   *
   * How long, in milliseconds, an accepted connection may take over what
   * comes before it is handed over to the application (the PROXY header of
   * [property@Gios.ServerSocket:proxy-protocol]), counted from the accept.
   * A client that connects and sends nothing holds a job slot of
   * [method@Gios.ServerSocket.listen_job] or a connection of
   * [method@Gios.ServerSocket.start] no longer than that; it is then dropped.
   * With [method@Gios.ServerSocket.listen] and
   * [method@Gios.ServerSocket.accept], the wait for the header runs past
   * their own timeout, by at most this much, when the connection arrived
   * just before it ran out. -1 sets no limit.
   *
   * Default: `10000`.
   *
   * Since: 0.2
   */
  properties[PROP_HANDSHAKE_TIMEOUT] =
    g_param_spec_int ("handshake-timeout", NULL, NULL, -1, G_MAXINT, 10000,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:reuse-port:
   *
   * Whether [method@Gios.ServerSocket.open] and
   * [method@Gios.ServerSocket.open_address] set `SO_REUSEPORT` on their
   * sockets before binding them, so that several processes (or several
   * server sockets) of the same user, each with the property set, listen on
   * one TCP port at once and the kernel spreads the connections over them:
   * one process per core. Without it, a port another socket listens on
   * fails with %G_IO_ERROR_ADDRESS_IN_USE. It applies from the next open,
   * and not to Unix-domain sockets.
   *
   * Default: `FALSE`.
   *
   * Since: 0.2
   */
  properties[PROP_REUSE_PORT] =
    g_param_spec_boolean ("reuse-port", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosServerSocket:replace-stale:
   *
   * Whether [method@Gios.ServerSocket.open_unix] replaces a stale socket at
   * its path: a socket file of this user that refuses connections, as a
   * server that crashed, or was killed, leaves it behind. Nothing else is
   * ever removed: a socket a server listens on, a socket of another user, a
   * regular file, a directory or a symbolic link stay, and the call waits
   * for them to go away and fails with %G_IO_ERROR_ADDRESS_IN_USE as
   * without the property. It applies from the next open.
   *
   * Default: `FALSE`.
   *
   * Since: 0.2
   */
  properties[PROP_REPLACE_STALE] =
    g_param_spec_boolean ("replace-stale", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  _gios_server_socket_install_signals (klass);
}

static void
gios_server_socket_init (GiosServerSocket *self)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  gios_listeners_init (&priv->listeners);
  priv->backlog = -1;
  priv->socket_type = GIOS_TYPE_SOCKET;
  priv->idle_timeout = -1;
  priv->proxy_protocol = GIOS_PROXY_PROTOCOL_NONE;
  priv->handshake_timeout = 10000;
  gios_handover_log_init (&priv->handover_log);
  priv->jobs = gios_job_pool_new (G_OBJECT (self), prepare_job);
  priv->acceptor = gios_acceptor_new (GIOS_DEVICE_STREAM (self), priv->listeners.sockets, &_gios_server_socket_acceptor_funcs);
}

/**
 * gios_server_socket_new:
 *
 * Creates a server socket that is not open yet.
 *
 * Returns: (transfer full): a new [class@Gios.ServerSocket]
 *
 * Since: 0.1
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
 * Since: 0.1
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
 * Since: 0.1
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
  gios_listeners_set_backlog (&priv->listeners, effective_backlog (priv));
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
 * Since: 0.1
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
 * Since: 0.1
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
 * Since: 0.1
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
 * Since: 0.1
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
 * gios_server_socket_get_max_connections:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:max-connections].
 *
 * Returns: the most open connections from [method@Gios.ServerSocket.start],
 *   or 0 for no limit
 *
 * Since: 0.1
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
 * Since: 0.1
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
  gios_acceptor_set_max_connections (priv->acceptor, max_connections);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_CONNECTIONS]);
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
 * Since: 0.1
 */
const char *
gios_server_socket_get_unix_path (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), NULL);

  return PRIV (self)->listeners.unix_path.path;
}

/**
 * gios_server_socket_get_addresses:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets every address @self listens on: one per listening socket, such as
 * `0.0.0.0:7600` and `[::]:7600` after [method@Gios.ServerSocket.open] on
 * every interface, each with the port the system gave; the path of a
 * Unix-domain socket; the address of an adopted socket.
 * [property@Gios.SocketCommon:local-address] is the first of them.
 *
 * Returns: (transfer full) (element-type GSocketAddress): the addresses, or
 *   %NULL (the empty list) when @self is not open; free with
 *   `g_list_free_full (list, g_object_unref)`
 *
 * Since: 0.2
 */
GList *
gios_server_socket_get_addresses (GiosServerSocket *self)
{
  GiosServerSocketPrivate *priv;
  GList *addresses = NULL;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), NULL);

  priv = PRIV (self);
  for (guint i = priv->listeners.sockets->len; i > 0; i--)
    {
      GSocketAddress *address = listening_address (self, g_ptr_array_index (priv->listeners.sockets, i - 1));

      if (address != NULL)
        addresses = g_list_prepend (addresses, address);
    }
  return addresses;
}

/**
 * gios_server_socket_get_idle_timeout:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:idle-timeout].
 *
 * Returns: the idle timeout in milliseconds, or -1 for none
 *
 * Since: 0.2
 */
int
gios_server_socket_get_idle_timeout (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), -1);

  return PRIV (self)->idle_timeout;
}

/**
 * gios_server_socket_set_idle_timeout:
 * @self: a [class@Gios.ServerSocket]
 * @timeout_ms: the idle timeout in milliseconds, or -1 for none
 *
 * Sets [property@Gios.ServerSocket:idle-timeout].
 *
 * Since: 0.2
 */
void
gios_server_socket_set_idle_timeout (GiosServerSocket *self,
                                     int               timeout_ms)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));
  g_return_if_fail (timeout_ms >= -1);

  priv = PRIV (self);
  if (priv->idle_timeout == timeout_ms)
    return;
  priv->idle_timeout = timeout_ms;
  /* The classic model reads its current connection through itself. */
  _gios_device_stream_set_read_cap (GIOS_DEVICE_STREAM (self), timeout_ms);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDLE_TIMEOUT]);
}

/**
 * gios_server_socket_get_reuse_port:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:reuse-port].
 *
 * Returns: whether opening a TCP port sets `SO_REUSEPORT`
 *
 * Since: 0.2
 */
gboolean
gios_server_socket_get_reuse_port (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);

  return PRIV (self)->reuse_port;
}

/**
 * gios_server_socket_set_reuse_port:
 * @self: a [class@Gios.ServerSocket]
 * @reuse_port: whether to share the port with other sockets that set it
 *
 * Sets [property@Gios.ServerSocket:reuse-port]. It applies from the next
 * [method@Gios.ServerSocket.open] or [method@Gios.ServerSocket.open_address].
 *
 * Since: 0.2
 */
void
gios_server_socket_set_reuse_port (GiosServerSocket *self,
                                   gboolean          reuse_port)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));

  priv = PRIV (self);
  reuse_port = !!reuse_port;
  if (priv->reuse_port == (guint) reuse_port)
    return;
  priv->reuse_port = reuse_port;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REUSE_PORT]);
}

/**
 * gios_server_socket_get_replace_stale:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:replace-stale].
 *
 * Returns: whether [method@Gios.ServerSocket.open_unix] replaces a stale
 *   socket
 *
 * Since: 0.2
 */
gboolean
gios_server_socket_get_replace_stale (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);

  return PRIV (self)->replace_stale;
}

/**
 * gios_server_socket_set_replace_stale:
 * @self: a [class@Gios.ServerSocket]
 * @replace_stale: whether to replace a stale socket
 *
 * Sets [property@Gios.ServerSocket:replace-stale]. It applies from the
 * next [method@Gios.ServerSocket.open_unix].
 *
 * Since: 0.2
 */
void
gios_server_socket_set_replace_stale (GiosServerSocket *self,
                                      gboolean          replace_stale)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));

  priv = PRIV (self);
  replace_stale = !!replace_stale;
  if (priv->replace_stale == (guint) replace_stale)
    return;
  priv->replace_stale = replace_stale;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REPLACE_STALE]);
}

/**
 * gios_server_socket_get_proxy_protocol:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:proxy-protocol].
 *
 * Returns: the PROXY protocol versions accepted connections start with
 *
 * Since: 0.2
 */
GiosProxyProtocol
gios_server_socket_get_proxy_protocol (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), GIOS_PROXY_PROTOCOL_NONE);

  return PRIV (self)->proxy_protocol;
}

/**
 * gios_server_socket_set_proxy_protocol:
 * @self: a [class@Gios.ServerSocket]
 * @proxy_protocol: the PROXY protocol versions accepted connections start
 *   with, or %GIOS_PROXY_PROTOCOL_NONE
 *
 * Sets [property@Gios.ServerSocket:proxy-protocol].
 *
 * Since: 0.2
 */
void
gios_server_socket_set_proxy_protocol (GiosServerSocket  *self,
                                       GiosProxyProtocol  proxy_protocol)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));
  g_return_if_fail (proxy_protocol <= GIOS_PROXY_PROTOCOL_ANY);

  priv = PRIV (self);
  if (priv->proxy_protocol == proxy_protocol)
    return;
  priv->proxy_protocol = proxy_protocol;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROXY_PROTOCOL]);
}

/**
 * gios_server_socket_get_handshake_timeout:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:handshake-timeout].
 *
 * Returns: the handshake timeout in milliseconds, or -1 for none
 *
 * Since: 0.2
 */
int
gios_server_socket_get_handshake_timeout (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), -1);

  return PRIV (self)->handshake_timeout;
}

/**
 * gios_server_socket_set_handshake_timeout:
 * @self: a [class@Gios.ServerSocket]
 * @timeout_ms: the handshake timeout in milliseconds, or -1 for none
 *
 * Sets [property@Gios.ServerSocket:handshake-timeout].
 *
 * Since: 0.2
 */
void
gios_server_socket_set_handshake_timeout (GiosServerSocket *self,
                                          int               timeout_ms)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));
  g_return_if_fail (timeout_ms >= -1);

  priv = PRIV (self);
  if (priv->handshake_timeout == timeout_ms)
    return;
  priv->handshake_timeout = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HANDSHAKE_TIMEOUT]);
}
