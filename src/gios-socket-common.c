/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-private.h"
#include "gios-device-stream-private.h"
#include "gios-device-stream-serving.h"
#include "gios-socket-common-impl.h"
#include "gios-proxy-header.h"

#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

/**
 * GiosSocketCommon:
 *
 * What every gio-socket socket has: a connection, its addresses and options,
 * [method@Gios.SocketCommon.drop_connection] and the
 * [signal@Gios.SocketCommon::disconnected] signal.
 *
 * `GiosSocketCommon` reads and writes its current connection through
 * non-blocking socket calls and one `poll()` per wait, honouring the
 * deadline of the [class@Gios.DeviceStream] call. A read that waits forever
 * with no cancellable (or, in a job of
 * [method@Gios.ServerSocket.listen_job], with the job's) waits in the
 * receive itself, one system call instead of two; closing the stream or
 * dropping the connection from another thread wakes it all the same. A
 * write to a peer that has gone away fails with an error; it never raises
 * `SIGPIPE`.
 *
 * A connection in TLS ([method@Gios.SocketCommon.start_tls], or a server's
 * [property@Gios.SocketCommon:tls-certificate]) keeps all of that: its
 * records go through GIO's TLS without ever blocking in it, and the waits
 * are the same.
 *
 * Since: 0.1
 */


G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (GiosSocketCommon, gios_socket_common, GIOS_TYPE_DEVICE_STREAM)

enum {
  PROP_0,
  PROP_SOCKET,
  PROP_LOCAL_ADDRESS,
  PROP_REMOTE_ADDRESS,
  PROP_PORT,
  PROP_HOST,
  PROP_IS_CONNECTED,
  PROP_NO_DELAY,
  PROP_KEEP_ALIVE,
  PROP_PROXY_ADDRESS,
  PROP_TLS_CERTIFICATE,
  PROP_TLS_DATABASE,
  N_PROPS
};

enum {
  DISCONNECTED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

#define PRIV(self) ((GiosSocketCommonPrivate *) gios_socket_common_get_instance_private (self))

GiosSocketCommonPrivate *
_gios_socket_common_get_private (GiosSocketCommon *self)
{
  return PRIV (self);
}

/* How many receives wait before they try, after one found nothing. */
#define WAIT_FIRST_RECEIVES 8

char *
_gios_socket_address_to_string (GSocketAddress *address)
{
  if (address == NULL)
    return g_strdup ("(none)");
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      if (g_inet_address_get_family (g_inet_socket_address_get_address (inet)) == G_SOCKET_FAMILY_IPV6)
        return g_strdup_printf ("[%s]:%u", ip, g_inet_socket_address_get_port (inet));
      return g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (inet));
    }
  if (G_IS_UNIX_SOCKET_ADDRESS (address))
    return g_strdup (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)));
  return g_strdup (G_OBJECT_TYPE_NAME (address));
}

static void
set_int_option (int fd,
                int level,
                int option,
                int value)
{
  /* Options are best effort: a Unix socket has no TCP_NODELAY. */
  (void) setsockopt (fd, level, option, &value, sizeof value);
}

static gboolean
is_tcp (GiosSocketCommonPrivate *priv)
{
  return priv->fd >= 0 && !priv->unix_family;
}

static void
notify_connection (GiosSocketCommon *self)
{
  GObject *object = G_OBJECT (self);

  g_object_freeze_notify (object);
  g_object_notify_by_pspec (object, properties[PROP_SOCKET]);
  g_object_notify_by_pspec (object, properties[PROP_REMOTE_ADDRESS]);
  g_object_notify_by_pspec (object, properties[PROP_IS_CONNECTED]);
  g_object_thaw_notify (object);
}

/* Forgets what a PROXY header said. */
static void
clear_proxied (GiosSocketCommonPrivate *priv)
{
  g_clear_object (&priv->proxy_address);
  g_clear_pointer (&priv->proxy_tlvs, g_bytes_unref);
}

static GSocketAddress *
address_of_fd (int  fd,
               int (*get) (int, struct sockaddr *, socklen_t *))
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;

  if (get (fd, (struct sockaddr *) &ss, &len) != 0)
    return NULL;
  return g_socket_address_new_from_native (&ss, len);
}

void
_gios_socket_common_set_connection_fd (GiosSocketCommon *self,
                                       int               fd,
                                       gboolean          blocking,
                                       GSocketAddress   *remote)
{
  GiosSocketCommonPrivate *priv = PRIV (self);

  g_return_if_fail (fd >= 0);

  _gios_socket_common_release_connection (self);
  g_atomic_int_set (&priv->fd, fd);
  priv->blocking = blocking;
  priv->lost = FALSE;
  g_clear_object (&priv->remote_address);
  clear_proxied (priv);
  priv->remote_address = remote != NULL ? remote : address_of_fd (fd, getpeername);
  priv->unix_family = priv->remote_address == NULL ||
                      g_socket_address_get_family (priv->remote_address) == G_SOCKET_FAMILY_UNIX;
  if (is_tcp (priv))
    {
      set_int_option (priv->fd, IPPROTO_TCP, TCP_NODELAY, priv->no_delay);
      if (priv->keep_alive)
        set_int_option (priv->fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    }
  _gios_device_stream_attach (GIOS_DEVICE_STREAM (self), priv->fd);
  notify_connection (self);
}

void
_gios_socket_common_set_proxied (GiosSocketCommon *self,
                                 GSocketAddress   *source,
                                 GBytes           *tlvs)
{
  GiosSocketCommonPrivate *priv = PRIV (self);
  GObject *object = G_OBJECT (self);

  g_object_freeze_notify (object);
  clear_proxied (priv);
  priv->proxy_tlvs = tlvs != NULL ? g_bytes_ref (tlvs) : NULL;
  if (source != NULL)
    {
      priv->proxy_address = g_steal_pointer (&priv->remote_address);
      priv->remote_address = g_object_ref (source);
      g_object_notify_by_pspec (object, properties[PROP_REMOTE_ADDRESS]);
      g_object_notify_by_pspec (object, properties[PROP_PROXY_ADDRESS]);
    }
  g_object_thaw_notify (object);
}

int
_gios_socket_common_get_fd (GiosSocketCommon *self)
{
  return PRIV (self)->fd;
}

void
_gios_socket_common_release_connection (GiosSocketCommon *self)
{
  GiosSocketCommonPrivate *priv = PRIV (self);

  if (priv->fd < 0)
    return;

  _gios_device_stream_detach (GIOS_DEVICE_STREAM (self));
  if (priv->tls != NULL)
    {
      /* The session closes the socket (see gios_tls_close()). */
      gios_tls_close (priv->tls);
      g_clear_pointer (&priv->tls, gios_tls_unref);
    }
  else if (priv->socket != NULL)
    g_socket_close (priv->socket, NULL);
  else
    close (priv->fd);
  g_clear_object (&priv->socket);
  g_clear_object (&priv->remote_address);
  clear_proxied (priv);
  g_atomic_int_set (&priv->fd, -1);
  notify_connection (self);
}

void
_gios_socket_common_set_endpoint (GiosSocketCommon *self,
                                  const char       *host,
                                  guint             port,
                                  GSocketAddress   *local_address)
{
  GiosSocketCommonPrivate *priv = PRIV (self);
  GObject *object = G_OBJECT (self);

  g_object_freeze_notify (object);
  if (g_strcmp0 (priv->host, host) != 0)
    {
      g_free (priv->host);
      priv->host = g_strdup (host);
      g_object_notify_by_pspec (object, properties[PROP_HOST]);
    }
  if (priv->port != port)
    {
      priv->port = port;
      g_object_notify_by_pspec (object, properties[PROP_PORT]);
    }
  priv->local_lazy = local_address == NULL;
  if (priv->local_address != local_address)
    {
      g_clear_object (&priv->local_address);
      priv->local_address = local_address ? g_object_ref (local_address) : NULL;
      g_object_notify_by_pspec (object, properties[PROP_LOCAL_ADDRESS]);
    }
  g_object_thaw_notify (object);
}

void
_gios_socket_common_inherit (GiosSocketCommon *self,
                             GiosSocketCommon *from)
{
  GiosDeviceStream *to = GIOS_DEVICE_STREAM (self);
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (from);

  PRIV (self)->no_delay = PRIV (from)->no_delay;
  PRIV (self)->keep_alive = PRIV (from)->keep_alive;
  g_set_object (&PRIV (self)->tls_certificate, PRIV (from)->tls_certificate);
  g_set_object (&PRIV (self)->tls_database, PRIV (from)->tls_database);
  gios_device_stream_set_default_timeout (to, gios_device_stream_get_default_timeout (stream));
  gios_device_stream_set_close_timeout (to, gios_device_stream_get_close_timeout (stream));
  gios_device_stream_set_line_terminator (to, gios_device_stream_get_line_terminator (stream));
  gios_device_stream_set_input_buffer_size (to, gios_device_stream_get_input_buffer_size (stream));
  gios_device_stream_set_output_buffer_size (to, gios_device_stream_get_output_buffer_size (stream));
}

/* The connection failed under a read or write: report it once. */
static void
connection_lost (GiosSocketCommon  *self,
                 int                errsv,
                 gboolean           receiving,
                 GError           **error)
{
  g_autofree char *peer = _gios_socket_address_to_string (PRIV (self)->remote_address);

  GError *reason;

  if (receiving)
    reason = g_error_new (G_IO_ERROR, _gios_io_error_from_errno (errsv),
                          /* Translators: "Could not receive from 127.0.0.1:4000: Connection reset by peer" */
                          _("Could not receive from %s: %s"), peer, g_strerror (errsv));
  else
    reason = g_error_new (G_IO_ERROR, _gios_io_error_from_errno (errsv),
                          _("Could not send to %s: %s"), peer, g_strerror (errsv));
  _gios_socket_common_lose (self, reason, error);
}

void
_gios_socket_common_lose (GiosSocketCommon  *self,
                          GError            *reason,
                          GError           **error)
{
  GiosSocketCommonPrivate *priv = PRIV (self);

  if (!priv->lost)
    {
      priv->lost = TRUE;
      g_debug ("connection lost: %s", reason->message);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IS_CONNECTED]);
      g_signal_emit (self, signals[DISCONNECTED], 0, FALSE, reason);
    }
  g_propagate_error (error, reason);
}

static gboolean
check_connection (GiosSocketCommon  *self,
                  GCancellable      *cancellable,
                  GError           **error)
{
  GiosSocketCommonPrivate *priv = PRIV (self);

  if (priv->fd < 0)
    {
      g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                           _("The socket has no connection"));
      return FALSE;
    }
  if (priv->lost)
    {
      g_autofree char *peer = _gios_socket_address_to_string (priv->remote_address);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   _("The connection to %s was lost"), peer);
      return FALSE;
    }
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

static gssize
gios_socket_common_receive (GiosDeviceStream  *stream,
                            guint8            *buffer,
                            gsize              size,
                            gint64             deadline,
                            GCancellable      *cancellable,
                            GError           **error)
{
  /* A vfunc of this class: no run-time type check on every receive. */
  GiosSocketCommon *self = (GiosSocketCommon *) stream;
  GiosSocketCommonPrivate *priv = PRIV (self);
  GiosGate *gate = _gios_device_stream_get_gate (stream);

  if (!check_connection (self, cancellable, error))
    return -1;
  if (G_UNLIKELY (priv->tls != NULL))
    return _gios_socket_common_tls_receive (self, buffer, size, deadline, cancellable, error);

  /* A receive that waits forever blocks in recv() itself, which costs one
   * system call where poll() and recv() cost two: whatever could end the
   * wait shuts the connection down (see begin_blocking). */
  if (priv->blocking && gios_gate_begin_blocking (gate, deadline, cancellable))
    {
      gssize n;
      int errsv;

      do
        n = recv (priv->fd, buffer, size, 0);
      while (n < 0 && errno == EINTR);
      errsv = errno;
      if (!gios_gate_end_blocking (gate, n > 0, cancellable, error))
        return -1;
      if (n >= 0)
        return n;
      if (errsv != EAGAIN && errsv != EWOULDBLOCK)
        {
          connection_lost (self, errsv, TRUE, error);
          return -1;
        }
      /* Made non-blocking behind our back: wait as below. */
      priv->blocking = FALSE;
    }

  /* A connection whose receives found nothing twice in a row (a
   * request-response loop waiting for its peer) most likely has nothing
   * now either: the next receives wait first and save the failed recv().
   * Then one tries first again, so a stream whose data is mostly there
   * already (a busy peer) goes back to one system call per receive. Only
   * for receives that may wait: the async reads come with the watch's word
   * that there is data. */
  if (priv->wait_first > 0 &&
      (deadline < 0 || deadline > g_get_monotonic_time ()))
    {
      priv->wait_first--;
      if (!gios_gate_wait_fd (gate, priv->fd, G_IO_IN, deadline, cancellable, error))
        return -1;
    }

  for (gboolean first = TRUE;; first = FALSE)
    {
      gssize n = recv (priv->fd, buffer, size, MSG_DONTWAIT);
      int errsv;

      if (n >= 0)
        {
          if (first)
            priv->misses = 0;
          return n;
        }
      errsv = errno;
      if (errsv == EINTR)
        continue;
      if (errsv == EAGAIN || errsv == EWOULDBLOCK)
        {
          if (first && ++priv->misses >= 2)
            priv->wait_first = WAIT_FIRST_RECEIVES;
          if (gios_gate_expired (gate, deadline, cancellable, error))
            return -1;
          if (!gios_gate_wait_fd (gate, priv->fd, G_IO_IN, deadline, cancellable, error))
            return -1;
          continue;
        }
      connection_lost (self, errsv, TRUE, error);
      return -1;
    }
}

static gssize
gios_socket_common_send (GiosDeviceStream  *stream,
                         const guint8      *data,
                         gsize              size,
                         gint64             deadline,
                         GCancellable      *cancellable,
                         GError           **error)
{
  GiosSocketCommon *self = (GiosSocketCommon *) stream;   /* as in receive */
  GiosSocketCommonPrivate *priv = PRIV (self);
  GiosGate *gate = _gios_device_stream_get_gate (stream);

  if (!check_connection (self, cancellable, error))
    return -1;
  if (G_UNLIKELY (priv->tls != NULL))
    return _gios_socket_common_tls_send (self, data, size, deadline, cancellable, error);

  for (;;)
    {
      /* MSG_NOSIGNAL: a peer that has gone away is an error, not SIGPIPE.
       * MSG_DONTWAIT: the descriptor may be in blocking mode. */
      gssize n = send (priv->fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      int errsv;

      if (n >= 0)
        return n;
      errsv = errno;
      if (errsv == EINTR)
        continue;
      if (errsv == EAGAIN || errsv == EWOULDBLOCK)
        {
          if (gios_gate_expired (gate, deadline, cancellable, error))
            return -1;
          if (!gios_gate_wait_fd (gate, priv->fd, G_IO_OUT, deadline, cancellable, error))
            return -1;
          continue;
        }
      connection_lost (self, errsv, FALSE, error);
      return -1;
    }
}

static gboolean
gios_socket_common_close_device (GiosDeviceStream  *stream,
                                 GError           **error)
{
  GiosSocketCommon *self = GIOS_SOCKET_COMMON (stream);
  gboolean had_connection = PRIV (self)->fd >= 0;
  gboolean was_lost = PRIV (self)->lost;

  _gios_socket_common_release_connection (self);
  if (had_connection && !was_lost)
    g_signal_emit (self, signals[DISCONNECTED], 0, TRUE, NULL);
  return TRUE;
}

/**
 * gios_socket_common_drop_connection:
 * @self: a [class@Gios.SocketCommon]
 * @error: return location for a [struct@GLib.Error]
 *
 * Drops the current connection: sends buffered output (waiting at most
 * [property@Gios.DeviceStream:close-timeout], and not at all on the thread
 * of the main loop the connection is served from), closes the connection
 * and emits [signal@Gios.SocketCommon::disconnected] with `intentional`
 * %TRUE. The connection is dropped even when sending fails; the error then
 * says how many bytes were not sent.
 * A [class@Gios.ServerSocket] keeps listening, so
 * [method@Gios.ServerSocket.listen] can take the next connection; a
 * [class@Gios.Socket] can be opened again.
 *
 * This is the classic Disconnect. It is not named `disconnect` so that it
 * does not hide `GObject.disconnect()` in Python and JavaScript.
 *
 * Called from another thread while a call is blocked on the connection, it
 * wakes that call (which fails with %G_IO_ERROR_CLOSED), then sends and
 * drops; a [method@Gios.DeviceStream.close] from another thread wakes a drop
 * that is still sending, at once. With no connection, it does nothing and
 * returns %TRUE. Called
 * from another thread while the main context of the connection's watches or
 * asynchronous calls (or of a server socket's accepting) is running, it
 * finishes on that context's thread, as [method@Gios.DeviceStream.close]
 * does.
 *
 * Returns: %TRUE when buffered output was sent; the connection is dropped
 *   either way
 *
 * Since: 0.1
 */
/* Under the teardown: the connection goes. */
static gboolean
release_for_drop (GiosDeviceStream  *stream,
                  GError           **error)
{
  GiosSocketCommon *self = GIOS_SOCKET_COMMON (stream);
  GiosSocketCommonPrivate *priv = PRIV (self);

  /* Whether to tell: a lost connection was told about already. */
  priv->dropping = priv->fd >= 0 && !priv->lost;
  _gios_socket_common_release_connection (self);
  return TRUE;
}

/* Once calls may enter again: handlers can use the object. */
static gboolean
tell_dropped (GiosDeviceStream  *stream,
              GError           **error)
{
  GiosSocketCommonPrivate *priv = PRIV (GIOS_SOCKET_COMMON (stream));

  if (priv->dropping)
    {
      g_autoptr(GError) reason = g_steal_pointer (&priv->drop_reason);

      priv->dropping = FALSE;
      g_signal_emit (stream, signals[DISCONNECTED], 0, reason == NULL, reason);
    }
  g_clear_error (&priv->drop_reason);
  return TRUE;
}

gboolean
gios_socket_common_drop_connection (GiosSocketCommon  *self,
                                    GError           **error)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Nothing to drop: a listen() on another thread goes on undisturbed. A
   * connection it hands over meanwhile is there once the drop has
   * looked, which is as if the drop had come first. */
  if (!_gios_socket_common_has_connection (self))
    return TRUE;
  return _gios_device_stream_teardown (GIOS_DEVICE_STREAM (self),
                                       (GiosTeardownFunc) gios_socket_common_drop_connection,
                                       release_for_drop, tell_dropped, TRUE, error);
}

/* A connection served from a main loop received nothing for its read cap
 * (a server's idle-timeout): it is dropped, and says why. */
static void
drop_idle (GiosDeviceStream *stream,
           int               idle_ms)
{
  GiosSocketCommonPrivate *priv = PRIV (GIOS_SOCKET_COMMON (stream));

  g_clear_error (&priv->drop_reason);
  priv->drop_reason = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                   _("No input for %d ms (the idle timeout); the connection was dropped"),
                                   idle_ms);
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (stream), NULL);
}

/* Drops the connection without sending what is buffered: the server it
 * came from is closing (see gios-job-pool.c). */
void
_gios_socket_common_abort_connection (GiosSocketCommon *self)
{
  _gios_device_stream_teardown (GIOS_DEVICE_STREAM (self),
                                (GiosTeardownFunc) gios_socket_common_drop_connection,
                                release_for_drop, tell_dropped, FALSE, NULL);
}

/**
 * GiosSocketCommonClass::disconnected:
 * @self: a [class@Gios.SocketCommon]
 * @intentional: %TRUE when this side dropped or closed the connection
 * @reason: (nullable): why the connection ended otherwise
 *
 * The class handler of [signal@Gios.SocketCommon::disconnected], run before
 * the handlers connected to the signal. [class@Gios.Socket] uses it to say
 * that it is no longer open; a subclass that overrides it chains up.
 *
 * Since: 0.1
 */

static void
gios_socket_common_finalize (GObject *object)
{
  GiosSocketCommonPrivate *priv = PRIV (GIOS_SOCKET_COMMON (object));

  if (priv->tls != NULL)
    {
      gios_tls_close (priv->tls);
      g_clear_pointer (&priv->tls, gios_tls_unref);
    }
  else if (priv->socket != NULL)
    g_socket_close (priv->socket, NULL);
  else if (priv->fd >= 0)
    close (priv->fd);
  g_clear_object (&priv->socket);
  g_clear_object (&priv->tls_certificate);
  g_clear_object (&priv->tls_database);
  g_clear_object (&priv->local_address);
  g_clear_object (&priv->remote_address);
  clear_proxied (priv);
  g_clear_error (&priv->drop_reason);
  g_free (priv->host);

  G_OBJECT_CLASS (gios_socket_common_parent_class)->finalize (object);
}

static void
gios_socket_common_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  GiosSocketCommon *self = GIOS_SOCKET_COMMON (object);
  GiosSocketCommonPrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_SOCKET:
      g_value_set_object (value, gios_socket_common_get_socket (self));
      break;
    case PROP_LOCAL_ADDRESS:
      g_value_set_object (value, gios_socket_common_get_local_address (self));
      break;
    case PROP_REMOTE_ADDRESS:
      g_value_set_object (value, priv->remote_address);
      break;
    case PROP_PROXY_ADDRESS:
      g_value_set_object (value, priv->proxy_address);
      break;
    case PROP_PORT:
      g_value_set_uint (value, priv->port);
      break;
    case PROP_HOST:
      g_value_set_string (value, priv->host);
      break;
    case PROP_IS_CONNECTED:
      g_value_set_boolean (value, gios_socket_common_get_is_connected (self));
      break;
    case PROP_NO_DELAY:
      g_value_set_boolean (value, priv->no_delay);
      break;
    case PROP_KEEP_ALIVE:
      g_value_set_boolean (value, priv->keep_alive);
      break;
    case PROP_TLS_CERTIFICATE:
      g_value_set_object (value, priv->tls_certificate);
      break;
    case PROP_TLS_DATABASE:
      g_value_set_object (value, priv->tls_database);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gios_socket_common_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  GiosSocketCommon *self = GIOS_SOCKET_COMMON (object);

  switch (prop_id)
    {
    case PROP_NO_DELAY:
      gios_socket_common_set_no_delay (self, g_value_get_boolean (value));
      break;
    case PROP_KEEP_ALIVE:
      gios_socket_common_set_keep_alive (self, g_value_get_boolean (value));
      break;
    case PROP_TLS_CERTIFICATE:
      gios_socket_common_set_tls_certificate (self, g_value_get_object (value));
      break;
    case PROP_TLS_DATABASE:
      gios_socket_common_set_tls_database (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gios_socket_common_class_init (GiosSocketCommonClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GiosDeviceStreamClass *stream_class = GIOS_DEVICE_STREAM_CLASS (klass);

  /* GSocket's class ignores SIGPIPE process-wide; MSG_NOSIGNAL covers the
   * rest. */
  g_type_ensure (G_TYPE_SOCKET);

  object_class->finalize = gios_socket_common_finalize;
  object_class->get_property = gios_socket_common_get_property;
  object_class->set_property = gios_socket_common_set_property;

  stream_class->receive = gios_socket_common_receive;
  stream_class->send = gios_socket_common_send;
  stream_class->close_device = gios_socket_common_close_device;

  /**
   * GiosSocketCommon:socket:
   *
   * The [class@Gio.Socket] of the current connection, or %NULL.
   *
   * Default: `NULL`.
   *
   * Since: 0.1
   */
  properties[PROP_SOCKET] =
    g_param_spec_object ("socket", NULL, NULL, G_TYPE_SOCKET,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:local-address:
   *
   * The local address: where a server listens (the first address when it
   * listens on several), or the local end of a client's connection.
   *
   * Default: `NULL`.
   *
   * Since: 0.1
   */
  properties[PROP_LOCAL_ADDRESS] =
    g_param_spec_object ("local-address", NULL, NULL, G_TYPE_SOCKET_ADDRESS,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:remote-address:
   *
   * The address of the peer of the current connection, or %NULL.
   *
   * Default: `NULL`.
   *
   * Since: 0.1
   */
  properties[PROP_REMOTE_ADDRESS] =
    g_param_spec_object ("remote-address", NULL, NULL, G_TYPE_SOCKET_ADDRESS,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:proxy-address:
   *
   * The load balancer's address, for a connection accepted by a
   * [class@Gios.ServerSocket] whose
   * [property@Gios.ServerSocket:proxy-protocol] is set and whose PROXY
   * header named the original client: [property@Gios.SocketCommon:remote-address]
   * is then that client, and this property the real peer, the balancer.
   *
   * %NULL when the header named no client (a version 2 `LOCAL` command,
   * which is the balancer's own connection, such as a health check; version
   * 1 `UNKNOWN`; an unspecified family): remote-address is then the real
   * peer. %NULL, too, for every connection of a server without
   * proxy-protocol.
   *
   * Default: `NULL`.
   *
   * Since: 0.2
   */
  properties[PROP_PROXY_ADDRESS] =
    g_param_spec_object ("proxy-address", NULL, NULL, G_TYPE_SOCKET_ADDRESS,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:tls-certificate:
   *
   * The certificate, with its private key, that this side presents in TLS.
   * A [class@Gios.ServerSocket] with one speaks TLS on every connection it
   * accepts (unless [property@Gios.ServerSocket:starttls] is set), and the
   * connections it hands out carry it, for
   * [method@Gios.SocketCommon.start_tls]; on a client it is the client
   * certificate, for servers that ask for one.
   *
   * Default: `NULL`.
   *
   * Since: 0.2
   */
  properties[PROP_TLS_CERTIFICATE] =
    g_param_spec_object ("tls-certificate", NULL, NULL, G_TYPE_TLS_CERTIFICATE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:tls-database:
   *
   * What a client validates the server's certificate against; %NULL (the
   * default) stands for the system's trusted certificate authorities. A
   * [iface@Gio.TlsFileDatabase] holds a private one.
   *
   * Default: `NULL`.
   *
   * Since: 0.2
   */
  properties[PROP_TLS_DATABASE] =
    g_param_spec_object ("tls-database", NULL, NULL, G_TYPE_TLS_DATABASE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:port:
   *
   * The port: the one a server is bound to (the real one when it was
   * opened on port 0), or the peer's port for a client or an accepted
   * connection. 0 for Unix sockets.
   *
   * Default: `0`.
   *
   * Since: 0.1
   */
  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL, 0, G_MAXUINT16, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:host:
   *
   * The host: the name or address a client connected to or a server was
   * opened on (%NULL for all interfaces), or the peer's address for an
   * accepted connection.
   *
   * Default: `NULL`.
   *
   * Since: 0.1
   */
  properties[PROP_HOST] =
    g_param_spec_string ("host", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:is-connected:
   *
   * Whether there is a current connection that has not failed.
   *
   * Default: `FALSE`.
   *
   * Since: 0.1
   */
  properties[PROP_IS_CONNECTED] =
    g_param_spec_boolean ("is-connected", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:no-delay:
   *
   * Whether TCP connections send small writes at once (`TCP_NODELAY`). On
   * unless turned off, since the stream buffers writes itself.
   *
   * Default: `TRUE`.
   *
   * Since: 0.1
   */
  properties[PROP_NO_DELAY] =
    g_param_spec_boolean ("no-delay", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosSocketCommon:keep-alive:
   *
   * Whether TCP keep-alive probes are sent on idle connections
   * (`SO_KEEPALIVE`).
   *
   * Default: `FALSE`.
   *
   * Since: 0.1
   */
  properties[PROP_KEEP_ALIVE] =
    g_param_spec_boolean ("keep-alive", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GiosSocketCommon::disconnected:
   * @self: the socket
   * @intentional: %TRUE when this side dropped or closed the connection,
   *   %FALSE when the connection failed (reset by the peer, broken)
   * @reason: (nullable): why the connection failed, or %NULL
   *
   * Emitted once when a connection ends:
   *
   * - on [method@Gios.SocketCommon.drop_connection] or
   *   [method@Gios.DeviceStream.close], with @intentional %TRUE and no
   *   @reason;
   * - when a read or write finds that the peer reset the connection (or that
   *   it is otherwise broken), with @intentional %FALSE and the error that
   *   call fails with, %G_IO_ERROR_CONNECTION_CLOSED for a reset;
   * - when a server's [property@Gios.ServerSocket:idle-timeout] drops a
   *   connection served from a main loop, with @intentional %FALSE and
   *   %G_IO_ERROR_TIMED_OUT.
   *
   * A peer that closes the connection in order (or shuts down its sending
   * side) ends this side's input, which is not a disconnection: reads return
   * what it sent, then end of input ([method@Gios.DeviceStream.read_line]
   * returns %NULL without an error, [property@Gios.DeviceStream:at-end]
   * becomes %TRUE), and the signal comes when this side drops or closes the
   * connection.
   *
   * The signal is emitted on the thread that made the call that found the
   * end.
   *
   * Since: 0.1
   */
  signals[DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_FIRST,
                  G_STRUCT_OFFSET (GiosSocketCommonClass, disconnected), NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_BOOLEAN, G_TYPE_ERROR);
}

static void
gios_socket_common_init (GiosSocketCommon *self)
{
  GiosSocketCommonPrivate *priv = PRIV (self);

  priv->fd = -1;
  priv->no_delay = TRUE;
  /* A socket has no device until it connects. */
  _gios_device_stream_detach (GIOS_DEVICE_STREAM (self));
  _gios_device_stream_set_idle_func (GIOS_DEVICE_STREAM (self), drop_idle);
  _gios_device_stream_set_open (GIOS_DEVICE_STREAM (self), FALSE);
}

/**
 * gios_socket_common_get_socket:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets the [class@Gio.Socket] of the current connection.
 *
 * Returns: (transfer none) (nullable): the socket, or %NULL
 *
 * Since: 0.1
 */
GSocket *
gios_socket_common_get_socket (GiosSocketCommon *self)
{
  GiosSocketCommonPrivate *priv;

  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), NULL);

  priv = PRIV (self);
  if (priv->socket == NULL && priv->fd >= 0)
    {
      /* Held off teardowns: drop_connection() from another thread must
       * not close the descriptor while it is being wrapped. */
      g_autoptr(GRecMutexLocker) locker =
        g_rec_mutex_locker_new (_gios_device_stream_get_device_lock (GIOS_DEVICE_STREAM (self)));

      if (priv->socket == NULL && priv->fd >= 0)
        {
          /* GSocket puts the descriptor in non-blocking mode. */
          priv->socket = g_socket_new_from_fd (priv->fd, NULL);
          priv->blocking = FALSE;
        }
    }
  return priv->socket;
}

/* Whether there is a connection now, without making its GSocket. */
gboolean
_gios_socket_common_has_connection (GiosSocketCommon *self)
{
  return g_atomic_int_get (&PRIV (self)->fd) >= 0;
}

/**
 * gios_socket_common_get_local_address:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:local-address].
 *
 * Returns: (transfer none) (nullable): the local address, or %NULL
 *
 * Since: 0.1
 */
GSocketAddress *
gios_socket_common_get_local_address (GiosSocketCommon *self)
{
  GiosSocketCommonPrivate *priv;

  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), NULL);

  priv = PRIV (self);
  if (priv->local_lazy && priv->local_address == NULL && priv->fd >= 0)
    priv->local_address = address_of_fd (priv->fd, getsockname);
  return priv->local_address;
}

/**
 * gios_socket_common_get_remote_address:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:remote-address].
 *
 * Returns: (transfer none) (nullable): the peer's address, or %NULL
 *
 * Since: 0.1
 */
GSocketAddress *
gios_socket_common_get_remote_address (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), NULL);

  return PRIV (self)->remote_address;
}

/**
 * gios_socket_common_get_proxy_address:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:proxy-address].
 *
 * Returns: (transfer none) (nullable): the load balancer's address, or
 *   %NULL
 *
 * Since: 0.2
 */
GSocketAddress *
gios_socket_common_get_proxy_address (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), NULL);

  return PRIV (self)->proxy_address;
}

/**
 * gios_socket_common_get_proxy_tlv:
 * @self: a [class@Gios.SocketCommon]
 * @type: a TLV type of the PROXY protocol version 2, such as `0x02`
 *   (`PP2_TYPE_AUTHORITY`) or `0x05` (`PP2_TYPE_UNIQUE_ID`)
 *
 * Gets the value of the first TLV of @type that the PROXY header (version
 * 2) of the current connection carried, as the load balancer sent it: see
 * HAProxy's `doc/proxy-protocol.txt` for the types. Version 1 headers carry
 * none.
 *
 * Returns: (transfer full) (nullable): the value, or %NULL when the header
 *   had no such TLV or there was no header
 *
 * Since: 0.2
 */
GBytes *
gios_socket_common_get_proxy_tlv (GiosSocketCommon *self,
                                  guint8            type)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), NULL);

  return gios_proxy_tlvs_lookup (PRIV (self)->proxy_tlvs, type);
}

/**
 * gios_socket_common_get_proxy_authority:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets the host name the client asked for (TLS SNI or HTTP `Host`), as the
 * `PP2_TYPE_AUTHORITY` TLV of the PROXY header (version 2) gave it.
 *
 * Returns: (transfer full) (nullable): the host name, or %NULL when the
 *   header gave none, or one that is not UTF-8
 *
 * Since: 0.2
 */
char *
gios_socket_common_get_proxy_authority (GiosSocketCommon *self)
{
  g_autoptr(GBytes) value = NULL;
  gsize size;
  const char *data;

  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), NULL);

  value = gios_proxy_tlvs_lookup (PRIV (self)->proxy_tlvs, GIOS_PROXY_TLV_AUTHORITY);
  if (value == NULL)
    return NULL;
  data = g_bytes_get_data (value, &size);
  if (!g_utf8_validate_len (data, size, NULL))
    return NULL;
  return g_strndup (data, size);
}

/**
 * gios_socket_common_get_proxy_ssl:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets whether the PROXY header (version 2) of the current connection
 * carried the `PP2_TYPE_SSL` TLV with its `PP2_CLIENT_SSL` flag: the client
 * spoke TLS to the load balancer, which ended it (HAProxy's
 * `send-proxy-v2-ssl`). [method@Gios.SocketCommon.get_proxy_tlv] gives the
 * TLV itself, with its sub-TLVs.
 *
 * Returns: %TRUE when the client connected to the balancer over TLS
 *
 * Since: 0.2
 */
gboolean
gios_socket_common_get_proxy_ssl (GiosSocketCommon *self)
{
  g_autoptr(GBytes) value = NULL;
  gsize size;
  const guint8 *data;

  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), FALSE);

  value = gios_proxy_tlvs_lookup (PRIV (self)->proxy_tlvs, GIOS_PROXY_TLV_SSL);
  if (value == NULL)
    return FALSE;
  data = g_bytes_get_data (value, &size);
  return size >= 1 && (data[0] & GIOS_PROXY_SSL_CLIENT_SSL) != 0;
}

/**
 * gios_socket_common_get_port:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:port].
 *
 * Returns: the port, or 0
 *
 * Since: 0.1
 */
guint
gios_socket_common_get_port (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), 0);

  return PRIV (self)->port;
}

/**
 * gios_socket_common_get_host:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:host].
 *
 * Returns: (transfer none) (nullable): the host, or %NULL
 *
 * Since: 0.1
 */
const char *
gios_socket_common_get_host (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), NULL);

  return PRIV (self)->host;
}

/**
 * gios_socket_common_get_is_connected:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:is-connected].
 *
 * Returns: whether there is a working connection
 *
 * Since: 0.1
 */
gboolean
gios_socket_common_get_is_connected (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), FALSE);

  return PRIV (self)->fd >= 0 && !PRIV (self)->lost;
}

/**
 * gios_socket_common_get_no_delay:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:no-delay].
 *
 * Returns: whether `TCP_NODELAY` is set
 *
 * Since: 0.1
 */
gboolean
gios_socket_common_get_no_delay (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), FALSE);

  return PRIV (self)->no_delay;
}

/**
 * gios_socket_common_set_no_delay:
 * @self: a [class@Gios.SocketCommon]
 * @no_delay: whether to set `TCP_NODELAY`
 *
 * Sets [property@Gios.SocketCommon:no-delay], on the current connection too.
 *
 * Since: 0.1
 */
void
gios_socket_common_set_no_delay (GiosSocketCommon *self,
                                 gboolean          no_delay)
{
  GiosSocketCommonPrivate *priv;

  g_return_if_fail (GIOS_IS_SOCKET_COMMON (self));

  priv = PRIV (self);
  no_delay = !!no_delay;
  if (priv->no_delay == (guint) no_delay)
    return;
  priv->no_delay = no_delay;
  if (is_tcp (priv))
    set_int_option (priv->fd, IPPROTO_TCP, TCP_NODELAY, no_delay);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NO_DELAY]);
}

/**
 * gios_socket_common_get_keep_alive:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:keep-alive].
 *
 * Returns: whether `SO_KEEPALIVE` is set
 *
 * Since: 0.1
 */
gboolean
gios_socket_common_get_keep_alive (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), FALSE);

  return PRIV (self)->keep_alive;
}

/**
 * gios_socket_common_set_keep_alive:
 * @self: a [class@Gios.SocketCommon]
 * @keep_alive: whether to send keep-alive probes
 *
 * Sets [property@Gios.SocketCommon:keep-alive], on the current connection
 * too.
 *
 * Since: 0.1
 */
void
gios_socket_common_set_keep_alive (GiosSocketCommon *self,
                                   gboolean          keep_alive)
{
  GiosSocketCommonPrivate *priv;

  g_return_if_fail (GIOS_IS_SOCKET_COMMON (self));

  priv = PRIV (self);
  keep_alive = !!keep_alive;
  if (priv->keep_alive == (guint) keep_alive)
    return;
  priv->keep_alive = keep_alive;
  if (is_tcp (priv))
    set_int_option (priv->fd, SOL_SOCKET, SO_KEEPALIVE, keep_alive);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KEEP_ALIVE]);
}
