/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS on the connection of a GiosSocketCommon: its settings, the transport
 * of a connection in TLS, gios_socket_common_start_tls(), and the
 * handshake that a server's hand-over stage runs (gios-handover.c). The
 * session itself is gios-tls.c.
 *
 * Once the session is there, the class's receive and send come here: the
 * records go through the session's non-blocking calls, and every wait is
 * the stream's gate's, as for a plain connection. The difference that
 * matters to the device stream: the session holds input that the
 * descriptor does not show (the rest of a record decrypted when a receive
 * filled the caller's buffer, records read ahead: gios_tls_holds_input()),
 * so the stream is told (_gios_device_stream_more_input()) instead of
 * waiting for the descriptor. A receive that found nothing left nothing
 * held: only then does it wait on the descriptor.
 */

#include "gios-socket-common-impl.h"
#include "gios-task-guard.h"

#define PRIV(self) _gios_socket_common_get_private (self)

/* ------------------------------------------------------------------------ */
/* Settings                                                                   */

/**
 * gios_socket_common_get_tls_certificate:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:tls-certificate].
 *
 * Returns: (transfer none) (nullable): the certificate, or %NULL
 *
 * Since: 0.2
 */
GTlsCertificate *
gios_socket_common_get_tls_certificate (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), NULL);

  return PRIV (self)->tls_certificate;
}

/**
 * gios_socket_common_set_tls_certificate:
 * @self: a [class@Gios.SocketCommon]
 * @certificate: (nullable): a certificate with its private key, or %NULL
 *
 * Sets [property@Gios.SocketCommon:tls-certificate]. A server socket
 * applies it to the connections it accepts from then on.
 *
 * Since: 0.2
 */
void
gios_socket_common_set_tls_certificate (GiosSocketCommon *self,
                                        GTlsCertificate  *certificate)
{
  g_return_if_fail (GIOS_IS_SOCKET_COMMON (self));
  g_return_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate));

  if (g_set_object (&PRIV (self)->tls_certificate, certificate))
    g_object_notify (G_OBJECT (self), "tls-certificate");
}

/**
 * gios_socket_common_get_tls_database:
 * @self: a [class@Gios.SocketCommon]
 *
 * Gets [property@Gios.SocketCommon:tls-database].
 *
 * Returns: (transfer none) (nullable): the database, or %NULL for the
 *   system's
 *
 * Since: 0.2
 */
GTlsDatabase *
gios_socket_common_get_tls_database (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), NULL);

  return PRIV (self)->tls_database;
}

/**
 * gios_socket_common_set_tls_database:
 * @self: a [class@Gios.SocketCommon]
 * @database: (nullable): the database to validate servers against, or
 *   %NULL for the system's
 *
 * Sets [property@Gios.SocketCommon:tls-database].
 *
 * Since: 0.2
 */
void
gios_socket_common_set_tls_database (GiosSocketCommon *self,
                                     GTlsDatabase     *database)
{
  g_return_if_fail (GIOS_IS_SOCKET_COMMON (self));
  g_return_if_fail (database == NULL || G_IS_TLS_DATABASE (database));

  if (g_set_object (&PRIV (self)->tls_database, database))
    g_object_notify (G_OBJECT (self), "tls-database");
}

/**
 * gios_socket_common_get_is_tls:
 * @self: a [class@Gios.SocketCommon]
 *
 * Whether the current connection speaks TLS: its handshake has begun
 * (on a server's connections, before they are handed over; otherwise in
 * [method@Gios.SocketCommon.start_tls]).
 *
 * Returns: %TRUE when the connection is in TLS
 *
 * Since: 0.2
 */
gboolean
gios_socket_common_get_is_tls (GiosSocketCommon *self)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), FALSE);

  return PRIV (self)->tls != NULL;
}

void
_gios_socket_common_set_tls_client (GiosSocketCommon *self)
{
  PRIV (self)->tls_client = TRUE;
}

/* ------------------------------------------------------------------------ */
/* The transport                                                              */

/* A receive or send failed for @reason (owned). */
static void
lose (GiosSocketCommon  *self,
      GError            *reason,
      gboolean           receiving,
      GError           **error)
{
  g_autofree char *peer = _gios_socket_address_to_string (PRIV (self)->remote_address);
  GError *lost;

  if (receiving)
    lost = g_error_new (reason->domain, reason->code,
                        _("Could not receive from %s: %s"), peer, reason->message);
  else
    lost = g_error_new (reason->domain, reason->code,
                        _("Could not send to %s: %s"), peer, reason->message);
  g_error_free (reason);
  _gios_socket_common_lose (self, lost, error);
}

gssize
_gios_socket_common_tls_receive (GiosSocketCommon  *self,
                                 guint8            *buffer,
                                 gsize              size,
                                 gint64             deadline,
                                 GCancellable      *cancellable,
                                 GError           **error)
{
  GiosSocketCommonPrivate *priv = PRIV (self);
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (self);
  GiosGate *gate = _gios_device_stream_get_gate (stream);

  for (;;)
    {
      GError *local_error = NULL;
      gssize n = gios_tls_receive (priv->tls, buffer, size, &local_error);

      if (n >= 0)
        {
          if (n > 0 && ((gsize) n == size || gios_tls_holds_input (priv->tls)))
            _gios_device_stream_more_input (stream);
          return n;
        }
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          lose (self, local_error, TRUE, error);
          return -1;
        }
      g_error_free (local_error);
      if (gios_gate_expired (gate, deadline, cancellable, error) ||
          !gios_gate_wait_fd (gate, priv->fd, G_IO_IN, deadline, cancellable, error))
        return -1;
    }
}

gssize
_gios_socket_common_tls_send (GiosSocketCommon  *self,
                              const guint8      *data,
                              gsize              size,
                              gint64             deadline,
                              GCancellable      *cancellable,
                              GError           **error)
{
  GiosSocketCommonPrivate *priv = PRIV (self);
  GiosGate *gate = _gios_device_stream_get_gate (GIOS_DEVICE_STREAM (self));

  for (;;)
    {
      GError *local_error = NULL;
      gssize n = gios_tls_send (priv->tls, data, size, &local_error);

      if (n >= 0)
        return n;
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          lose (self, local_error, FALSE, error);
          return -1;
        }
      g_error_free (local_error);
      if (gios_gate_expired (gate, deadline, cancellable, error) ||
          !gios_gate_wait_fd (gate, priv->fd, G_IO_OUT, deadline, cancellable, error))
        return -1;
    }
}

/* ------------------------------------------------------------------------ */
/* The handshake                                                              */

/* Makes the session of the current connection, in the role the connection
 * has: the client's when open() made it, the server's otherwise. */
static gboolean
begin (GiosSocketCommon  *self,
       GError           **error)
{
  GiosSocketCommonPrivate *priv = PRIV (self);
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autofree char *peer = NULL;
  GSocket *socket;

  if (priv->fd < 0)
    {
      g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                           _("The socket has no connection"));
      return FALSE;
    }
  if (priv->tls != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                           _("The connection speaks TLS already"));
      return FALSE;
    }
  if (!priv->tls_client && priv->tls_certificate == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("TLS on a server's connection needs a certificate (tls-certificate)"));
      return FALSE;
    }

  if (priv->tls_client && priv->host != NULL)
    identity = g_network_address_new (priv->host, priv->port);
  if (identity != NULL)
    peer = g_socket_connectable_to_string (identity);
  else
    peer = _gios_socket_address_to_string (priv->remote_address);
  if (priv->tls_client && !gios_tls_check_server_silent (priv->fd, peer, error))
    return FALSE;

  socket = gios_socket_common_get_socket (self);
  priv->tls = gios_tls_new (socket, priv->tls_client ? GIOS_TLS_CLIENT : GIOS_TLS_SERVER,
                            priv->tls_certificate, priv->tls_database, identity,
                            peer, error);
  /* The session's receives never wait first, nor block in the socket. */
  priv->blocking = FALSE;
  priv->wait_first = 0;
  return priv->tls != NULL;
}

gboolean
_gios_socket_common_handshake (GiosSocketCommon  *self,
                               GiosGate          *gate,
                               gint64             deadline,
                               int                timeout_ms,
                               GCancellable      *cancellable,
                               GError           **error)
{
  return begin (self, error) &&
         gios_tls_handshake (PRIV (self)->tls, gate, deadline, timeout_ms, cancellable, error);
}

void
_gios_socket_common_handshake_async (GiosSocketCommon    *self,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  GError *error = NULL;

  if (!begin (self, &error))
    {
      g_task_report_error (NULL, callback, user_data, _gios_socket_common_handshake_async, error);
      return;
    }
  gios_tls_handshake_async (PRIV (self)->tls, callback, user_data);
}

gboolean
_gios_socket_common_handshake_finish (GAsyncResult  *result,
                                      GError       **error)
{
  if (g_async_result_is_tagged (result, _gios_socket_common_handshake_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return gios_tls_handshake_finish (result, error);
}

void
_gios_socket_common_cancel_handshake (GiosSocketCommon *self)
{
  if (PRIV (self)->tls != NULL)
    gios_tls_cancel_handshake (PRIV (self)->tls);
}

GError *
_gios_socket_common_handshake_timeout_error (GiosSocketCommon *self,
                                             int               timeout_ms)
{
  GiosSocketCommonPrivate *priv = PRIV (self);
  g_autofree char *peer = NULL;

  if (priv->tls != NULL)
    return gios_tls_timeout_error (priv->tls, timeout_ms);
  peer = _gios_socket_address_to_string (priv->remote_address);
  return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                      _("The TLS handshake with %s did not begin within %d ms"), peer, timeout_ms);
}

/* ------------------------------------------------------------------------ */
/* start_tls                                                                  */

/* Input that arrived before the upgrade would be taken for what came after
 * it: plaintext injected by someone on the path. A read pending would take
 * the handshake's bytes. */
static gboolean
check_no_input (GiosSocketCommon  *self,
                GError           **error)
{
  gsize buffered = gios_device_stream_get_buffered_input (GIOS_DEVICE_STREAM (self));

  if (_gios_device_stream_has_pending_calls (GIOS_DEVICE_STREAM (self)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PENDING,
                           _("An asynchronous read or write is pending on the stream; "
                             "TLS starts once it has finished"));
      return FALSE;
    }

  if (buffered == 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               g_dngettext (GETTEXT_PACKAGE,
                            "%zu byte arrived before the TLS handshake and was not read; "
                            "plaintext sent ahead of the upgrade is refused",
                            "%zu bytes arrived before the TLS handshake and were not read; "
                            "plaintext sent ahead of the upgrade is refused", buffered),
               buffered);
  return FALSE;
}

/* start_tls() failed with @error: when its handshake had begun (the
 * connection was not in TLS before, @was_tls, and is now), the connection
 * is half in TLS and no call can use it any more. */
static void
handshake_failed (GiosSocketCommon *self,
                  gboolean          was_tls,
                  const GError     *error)
{
  if (!was_tls && PRIV (self)->tls != NULL &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    _gios_socket_common_lose (self, g_error_copy (error), NULL);
}

static int
ms_until (gint64 deadline)
{
  if (deadline < 0)
    return -1;
  return (int) MAX (0, (deadline - g_get_monotonic_time ()) / 1000);
}

/**
 * gios_socket_common_start_tls:
 * @self: a [class@Gios.SocketCommon]
 * @timeout_ms: how long sending buffered output and the handshake may take
 *   in all, in milliseconds, or %GIOS_TIMEOUT_DEFAULT
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Upgrades the current connection to TLS (STARTTLS): sends what is
 * buffered, in plaintext, then makes the TLS handshake, after which every
 * read and write goes through TLS with its timeout, cancellation and
 * close from another thread, as before.
 *
 * A [class@Gios.Socket] that [method@Gios.Socket.open] connected is the
 * client: it validates the server's certificate against
 * [property@Gios.SocketCommon:tls-database] and the host name given to
 * open(). A connection that a server accepted, and a
 * [class@Gios.ServerSocket]'s own current connection, is the server: it
 * presents [property@Gios.SocketCommon:tls-certificate].
 *
 * Input that arrived before the call and was not read is refused with
 * %G_IO_ERROR_INVALID_DATA, never fed to TLS nor returned as if it had
 * come through it (a client waits for the server's answer before its
 * handshake; plaintext ahead of it was injected). The connection then
 * stays as it was, as it does when an asynchronous read or write is
 * pending on the stream (%G_IO_ERROR_PENDING). A handshake that fails or
 * times out
 * (%G_IO_ERROR_TIMED_OUT) leaves the connection unusable: drop it.
 * Errors name what failed: %G_TLS_ERROR_BAD_CERTIFICATE says why the
 * certificate was rejected (unknown authority, wrong host name, expired),
 * %G_TLS_ERROR_NOT_TLS a peer that does not speak TLS.
 *
 * Returns: %TRUE once the handshake is done
 *
 * Since: 0.2
 */
gboolean
gios_socket_common_start_tls (GiosSocketCommon  *self,
                              int                timeout_ms,
                              GCancellable      *cancellable,
                              GError           **error)
{
  GiosDeviceStream *stream = (GiosDeviceStream *) self;
  GError *local_error = NULL;
  gboolean was_tls;
  gint64 deadline;
  GiosCall call;
  int timeout;
  gboolean ok;

  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  timeout = _gios_call_resolve_timeout (stream, timeout_ms);
  deadline = _gios_deadline_from_timeout (timeout);
  if (!check_no_input (self, error))
    return FALSE;
  if (gios_device_stream_get_buffered_output (stream) > 0 &&
      !gios_device_stream_flush (stream, timeout, cancellable, error))
    return FALSE;

  if (!_gios_call_begin (&call, stream, GIOS_CALL_WRITE, NULL, ms_until (deadline), error))
    return FALSE;
  was_tls = PRIV (self)->tls != NULL;
  ok = check_no_input (self, &local_error) &&
       _gios_socket_common_handshake (self, _gios_device_stream_get_gate (stream),
                                      deadline, timeout, cancellable, &local_error);
  if (!ok)
    handshake_failed (self, was_tls, local_error);
  _gios_call_end (&call, NULL);
  if (!ok)
    g_propagate_error (error, local_error);
  return ok;
}

typedef struct
{
  GiosTaskGuard guard;
  int timeout_ms;
  gboolean was_tls;
  gboolean returned;
} StartTls;

/* Ends the call, once: with @error (owned), or with success when it is
 * NULL. */
static void
start_tls_return (GTask  *task,
                  GError *error)
{
  StartTls *start = g_task_get_task_data (task);
  GiosSocketCommon *self = g_task_get_source_object (task);

  if (start->returned)
    {
      g_clear_error (&error);
      return;
    }
  start->returned = TRUE;
  gios_task_guard_stop (&start->guard);
  if (error == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  handshake_failed (self, start->was_tls, error);
  g_task_return_error (task, error);
}

static void
on_start_tls_handshake (GObject      *source,
                        GAsyncResult *result,
                        gpointer      data)
{
  g_autoptr(GTask) task = data;
  GError *error = NULL;

  _gios_socket_common_handshake_finish (result, &error);
  start_tls_return (task, error);
}

/* The timeout passed, or the cancellable was cancelled. */
static void
on_start_tls_limit (GTask  *task,
                    GError *cancelled)
{
  StartTls *start = g_task_get_task_data (task);
  GiosSocketCommon *self = g_task_get_source_object (task);
  GError *error = cancelled;

  _gios_socket_common_cancel_handshake (self);
  if (error == NULL)
    error = _gios_socket_common_handshake_timeout_error (self, start->timeout_ms);
  start_tls_return (task, error);
}

static void
on_start_tls_flushed (GObject      *source,
                      GAsyncResult *result,
                      gpointer      data)
{
  g_autoptr(GTask) task = data;
  GiosSocketCommon *self = GIOS_SOCKET_COMMON (source);
  GError *error = NULL;

  if (((StartTls *) g_task_get_task_data (task))->returned)
    return;
  if (!gios_device_stream_flush_finish (GIOS_DEVICE_STREAM (self), result, &error) ||
      !check_no_input (self, &error))
    start_tls_return (task, error);
  else
    _gios_socket_common_handshake_async (self, on_start_tls_handshake, g_object_ref (task));
}

/**
 * gios_socket_common_start_tls_async:
 * @self: a [class@Gios.SocketCommon]
 * @timeout_ms: how long sending buffered output and the handshake may take
 *   in all, in milliseconds, or %GIOS_TIMEOUT_DEFAULT
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): what to call when the upgrade is done or failed
 * @user_data: data for @callback
 *
 * Upgrades the current connection to TLS as
 * [method@Gios.SocketCommon.start_tls] does, on the thread-default main
 * context and without blocking it. An asynchronous read or write pending
 * on the stream when it is called fails it with %G_IO_ERROR_PENDING.
 *
 * Since: 0.2
 */
void
gios_socket_common_start_tls_async (GiosSocketCommon    *self,
                                    int                  timeout_ms,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  GiosDeviceStream *stream = (GiosDeviceStream *) self;
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  StartTls *start;

  g_return_if_fail (GIOS_IS_SOCKET_COMMON (self));
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, gios_socket_common_start_tls_async);
  if (!check_no_input (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  start = g_new0 (StartTls, 1);
  start->timeout_ms = _gios_call_resolve_timeout (stream, timeout_ms);
  start->was_tls = PRIV (self)->tls != NULL;
  g_task_set_task_data (task, start, g_free);
  gios_task_guard_start (&start->guard, task, start->timeout_ms, cancellable, on_start_tls_limit);
  if (gios_device_stream_get_buffered_output (stream) > 0)
    gios_device_stream_flush_async (stream, start->timeout_ms, G_PRIORITY_DEFAULT, NULL,
                                    on_start_tls_flushed, g_object_ref (task));
  else
    _gios_socket_common_handshake_async (self, on_start_tls_handshake, g_object_ref (task));
}

/**
 * gios_socket_common_start_tls_finish:
 * @self: a [class@Gios.SocketCommon]
 * @result: the result given to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.SocketCommon.start_tls_async].
 *
 * Returns: %TRUE once the handshake is done
 *
 * Since: 0.2
 */
gboolean
gios_socket_common_start_tls_finish (GiosSocketCommon  *self,
                                     GAsyncResult      *result,
                                     GError           **error)
{
  g_return_val_if_fail (GIOS_IS_SOCKET_COMMON (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
