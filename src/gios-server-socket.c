/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosServerSocket: the object, its properties and closing. Opening is in
 * gios-server-socket-open.c, accepting (listen, accept, listen_job) in
 * -accept.c, the main-loop API in -async.c, the graceful stop in -drain.c,
 * the hand-over to a successor in -successor.c. The mechanisms are
 * elsewhere: binding in gios-bind.c, the listening sockets in
 * gios-listeners.c, the job pool in gios-job-pool.c, main-loop accepting in
 * gios-acceptor.c, the hand-over stage in gios-handover.c.
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
 * With [property@Gios.SocketCommon:tls-certificate] set, every connection
 * makes its TLS handshake before it is handed over, in every model (see
 * [property@Gios.ServerSocket:starttls] for protocols that upgrade later,
 * and the TLS guide).
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
  PROP_STARTTLS,
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
    case PROP_STARTTLS:
      g_value_set_boolean (value, priv->starttls);
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
    case PROP_STARTTLS:
      gios_server_socket_set_starttls (self, g_value_get_boolean (value));
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
   * [property@Gios.ServerSocket:proxy-protocol], then the TLS handshake of
   * [property@Gios.SocketCommon:tls-certificate]), counted from the accept.
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
   * GiosServerSocket:starttls:
   *
   * Whether the connections start in plaintext although
   * [property@Gios.SocketCommon:tls-certificate] is set: the application
   * upgrades each with [method@Gios.SocketCommon.start_tls] when its
   * protocol says so (STARTTLS), instead of the server making the TLS
   * handshake before it hands a connection over.
   *
   * Default: `FALSE`.
   *
   * Since: 0.2
   */
  properties[PROP_STARTTLS] =
    g_param_spec_boolean ("starttls", NULL, NULL, FALSE,
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
  priv->jobs = gios_job_pool_new (G_OBJECT (self), _gios_server_socket_prepare_job);
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
  gios_listeners_set_backlog (&priv->listeners, _gios_server_socket_backlog (priv));
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

/**
 * gios_server_socket_get_starttls:
 * @self: a [class@Gios.ServerSocket]
 *
 * Gets [property@Gios.ServerSocket:starttls].
 *
 * Returns: whether the application starts TLS on each connection itself
 *
 * Since: 0.2
 */
gboolean
gios_server_socket_get_starttls (GiosServerSocket *self)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);

  return PRIV (self)->starttls;
}

/**
 * gios_server_socket_set_starttls:
 * @self: a [class@Gios.ServerSocket]
 * @starttls: whether the application starts TLS on each connection itself
 *
 * Sets [property@Gios.ServerSocket:starttls].
 *
 * Since: 0.2
 */
void
gios_server_socket_set_starttls (GiosServerSocket *self,
                                 gboolean          starttls)
{
  GiosServerSocketPrivate *priv;

  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));

  priv = PRIV (self);
  if (priv->starttls == !!starttls)
    return;
  priv->starttls = !!starttls;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STARTTLS]);
}
