/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosServerSocket: opening, on TCP ports, a Unix path, a listening socket
 * given or passed (socket activation), and the addresses it listens on.
 * Binding itself is gios-bind.c's, the passed sockets gios-activation.c's.
 */
#include "gios-server-socket-impl.h"
#include "gios-socket-common-private.h"
#include "gios-bind.h"
#include "gios-activation.h"

#include <unistd.h>

gboolean
_gios_server_socket_check_not_open (GiosServerSocket  *self,
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

  if (!_gios_server_socket_check_not_open (self, error) ||
      !_gios_call_begin (&call, GIOS_DEVICE_STREAM (self), GIOS_CALL_OPEN, NULL, timeout_ms, error))
    return FALSE;
  ok = _gios_bind_tcp (_gios_server_socket_gate (self), host, port, priv->loopback_only, priv->reuse_port,
                       _gios_server_socket_backlog (priv),
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
  if (!_gios_server_socket_check_not_open (self, error) ||
      !_gios_call_begin (&call, GIOS_DEVICE_STREAM (self), GIOS_CALL_OPEN, NULL, timeout_ms, error))
    return FALSE;
  fd = _gios_bind_unix (_gios_server_socket_gate (self), path, permissions, priv->replace_stale, _gios_server_socket_backlog (priv),
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

  if (!_gios_server_socket_check_not_open (self, error))
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

  if (!_gios_server_socket_check_not_open (self, error))
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
