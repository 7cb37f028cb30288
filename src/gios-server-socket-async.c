/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosServerSocket on the main loop: start() and stop(), and the
 * asynchronous accept and listen. The accepting itself is
 * gios-acceptor.c's.
 */
#include "gios-server-socket-impl.h"
#include "gios-socket-common-private.h"

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

