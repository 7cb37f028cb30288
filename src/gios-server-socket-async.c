/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosServerSocket on the main loop: start() and stop(), the
 * asynchronous accept and listen, and the ::accepted and ::stopped signals
 * that hand start()'s connections over. The accepting itself is
 * gios-acceptor.c's.
 */
#include "gios-server-socket-impl.h"
#include "gios-socket-common-private.h"

enum {
  ACCEPTED,
  STOPPED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

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
 * With [property@Gios.ServerSocket:proxy-protocol] set, each connection's
 * PROXY header is read from the main loop, without blocking it, before the
 * connection is emitted; one whose header fails or does not come within
 * [property@Gios.ServerSocket:handshake-timeout] is dropped and never
 * emitted. While its header is awaited, it counts for max-connections.
 *
 * [signal@Gios.ServerSocket::stopped] is emitted once when accepting ends.
 * This is the way to serve from GJS.
 *
 * Returns: %TRUE when accepting started, or had started already
 *
 * Since: 0.1
 */

gboolean
gios_server_socket_start (GiosServerSocket  *self,
                          GError           **error)
{
  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return gios_acceptor_start (PRIV (self)->acceptor, error);
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
 * Since: 0.1
 */

void
gios_server_socket_stop (GiosServerSocket *self)
{
  g_return_if_fail (GIOS_IS_SERVER_SOCKET (self));

  gios_acceptor_stop (PRIV (self)->acceptor,
                      g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Accepting was stopped")));
}

static void
queue_accept (GiosServerSocket    *self,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data,
              gpointer             source_tag)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  gios_acceptor_queue (PRIV (self)->acceptor, task, source_tag == gios_server_socket_listen_async);
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
 * Since: 0.1
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
 * Since: 0.1
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
 * Since: 0.1
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
 * Since: 0.1
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

/* ------------------------------------------------------------------------ */
/* Accepting on the main loop: handing over to the signals                    */

/**
 * GiosServerSocketClass::accepted:
 * @self: a [class@Gios.ServerSocket]
 * @connection: the new connection, an instance of
 *   [property@Gios.ServerSocket:socket-type]
 *
 * The class handler of [signal@Gios.ServerSocket::accepted], run after the
 * handlers connected to the signal and only when none of them took the
 * connection. A subclass that serves the connections of
 * [method@Gios.ServerSocket.start] itself overrides it, keeps a reference to
 * @connection, starts serving it without blocking (watches or `_async`
 * calls) and returns %TRUE. When nothing takes a connection, it is run with
 * its `run` class method if it has one, and closed otherwise.
 *
 * Returns: %TRUE when the class took the connection
 *
 * Since: 0.2
 */

/**
 * GiosServerSocketClass::stopped:
 * @self: a [class@Gios.ServerSocket]
 * @reason: why accepting ended
 *
 * The class handler of [signal@Gios.ServerSocket::stopped], run after the
 * handlers connected to the signal.
 *
 * Since: 0.2
 */

void
_gios_server_socket_emit_accepted (gpointer    owner,
                                   GiosSocket *connection)
{
  GiosServerSocket *self = owner;
  gboolean handled = FALSE;

  g_signal_emit (self, signals[ACCEPTED], 0, connection, &handled);
  if (handled)
    return;
  if (_gios_socket_overrides_run (connection))
    gios_socket_run (connection, gios_job_pool_get_cancellable (PRIV (self)->jobs));
  else
    {
      g_debug ("no handler took the connection; closing it");
      gios_device_stream_close (GIOS_DEVICE_STREAM (connection), NULL);
    }
}

void
_gios_server_socket_emit_stopped (gpointer  owner,
                                  GError   *reason)
{
  g_signal_emit (owner, signals[STOPPED], 0, reason);
}

void
_gios_server_socket_install_signals (GiosServerSocketClass *klass)
{
  /**
   * GiosServerSocket::accepted:
   * @self: the server socket
   * @connection: the new connection
   *
   * Emitted on the main context of [method@Gios.ServerSocket.start] for
   * each connection it accepts. A handler that takes the connection (keeps a
   * reference and serves it, typically with asynchronous calls) returns
   * %TRUE; later handlers are then not called, as with
   * [signal@Gio.SocketService::incoming]. A subclass overrides the `accepted`
   * class member to the same end; it runs after the handlers.
   *
   * Returns: %TRUE when a handler took the connection
   *
   * Since: 0.1
   */
  signals[ACCEPTED] =
    g_signal_new ("accepted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  G_STRUCT_OFFSET (GiosServerSocketClass, accepted),
                  g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, GIOS_TYPE_SOCKET);

  /**
   * GiosServerSocket::stopped:
   * @self: the server socket
   * @reason: why accepting ended: %G_IO_ERROR_CANCELLED after
   *   [method@Gios.ServerSocket.stop], [method@Gios.ServerSocket.drain] or
   *   [method@Gios.DeviceStream.close], or the error that ended it
   *
   * Emitted once when accepting started by [method@Gios.ServerSocket.start]
   * ends.
   *
   * Since: 0.1
   */
  signals[STOPPED] =
    g_signal_new ("stopped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  G_STRUCT_OFFSET (GiosServerSocketClass, stopped), NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
}
