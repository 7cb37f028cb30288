/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosServerSocket's graceful stop: drain() stops accepting in every
 * serving model at once, lets the connections being served finish until a
 * deadline, then cuts what is left and closes the server.
 *
 * Stopping accepting does not close the listening sockets (that would reset
 * the connections in their queues, and a process that inherited them would
 * lose them too): the listeners and the job pool fail their accept waits
 * with G_IO_ERROR_CLOSED, woken by descriptors of their own, and the
 * acceptor stops on its context. The close at the end closes them.
 */
#include "gios-server-socket-impl.h"
#include "gios-call.h"
#include "gios-socket-common-private.h"

/* How often the wait looks at what is still open. */
#define DRAIN_SLICE_MS 10

static gboolean
stop_on_context (gpointer data)
{
  gios_acceptor_stop_accepting (PRIV (GIOS_SERVER_SOCKET (data))->acceptor);
  return G_SOURCE_REMOVE;
}

/* start(), accept_async() and listen_async() end on the context they run
 * on: here if this thread may run it, there otherwise. */
static void
stop_main_loop_accepting (GiosServerSocket *self)
{
  GMainContext *context = gios_acceptor_get_context (PRIV (self)->acceptor);

  if (context == NULL)
    return;
  if (g_main_context_acquire (context))
    {
      stop_on_context (self);
      g_main_context_release (context);
    }
  else
    g_main_context_invoke_full (context, G_PRIORITY_HIGH, stop_on_context,
                                g_object_ref (self), g_object_unref);
}

/* The connections being served: jobs, start()'s and the current one. */
static guint
n_open (GiosServerSocket *self)
{
  GiosServerSocketPrivate *priv = PRIV (self);

  return gios_job_pool_get_n_jobs (priv->jobs) + gios_acceptor_get_n_live (priv->acceptor) +
         (_gios_socket_common_has_connection (GIOS_SOCKET_COMMON (self)) ? 1 : 0);
}

/* Lets time pass until @deadline at most: runs the thread-default main
 * context meanwhile when this thread may, so that connections served there
 * can finish and its other sources (a signal handler) run. */
static void
wait_a_little (gint64 deadline)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  int slice = DRAIN_SLICE_MS;

  if (deadline >= 0)
    slice = CLAMP ((deadline - g_get_monotonic_time () + 999) / 1000, 0, DRAIN_SLICE_MS);
  if (g_main_context_acquire (context))
    {
      g_autoptr(GSource) tick = g_timeout_source_new (slice);

      g_source_set_static_name (tick, "[gios] drain");
      g_source_set_dummy_callback (tick);
      g_source_attach (tick, context);
      g_main_context_iteration (context, TRUE);
      g_source_destroy (tick);
      g_main_context_release (context);
    }
  else
    g_usleep (slice * 1000);
}

/**
 * gios_server_socket_drain:
 * @self: a [class@Gios.ServerSocket]
 * @timeout_ms: how long the connections being served may take to finish, in
 *   milliseconds
 * @error: return location for a [struct@GLib.Error]
 *
 * Stops gracefully. Accepting stops at once in every serving model:
 * [method@Gios.ServerSocket.listen], [method@Gios.ServerSocket.accept] and
 * [method@Gios.ServerSocket.listen_job] blocked in other threads fail with
 * %G_IO_ERROR_CLOSED, [method@Gios.ServerSocket.start] ends with
 * [signal@Gios.ServerSocket::stopped], pending `accept_async` and
 * `listen_async` calls fail. The listening sockets stay open meanwhile, so
 * that connections waiting in their queues are not reset (they are when
 * @self closes at the end, unless another process holds the sockets too).
 *
 * The connections being served then have @timeout_ms to finish: the running
 * jobs, the connections that `start()` accepted and are still open, and the
 * current connection of the classic model. While it waits, the call runs
 * the thread-default main context of the caller when it can, so that
 * connections served there go on and its other sources (a signal handler)
 * run. A [method@Gios.DeviceStream.close] meanwhile, from a handler or
 * another thread, ends the wait at once.
 *
 * What is still open at the deadline is cut: the jobs' cancellable is
 * cancelled and their connections dropped, `start()`'s connections are
 * closed. Last, @self is closed as [method@Gios.DeviceStream.close] closes
 * it; it can be opened again afterwards.
 *
 * Returns: %TRUE when every connection finished in time; %FALSE with
 *   %G_IO_ERROR_TIMED_OUT saying how many were cut, or
 *   %GIOS_ERROR_NOT_CONNECTED when @self was not open
 *
 * Since: 0.2
 */
gboolean
gios_server_socket_drain (GiosServerSocket  *self,
                          int                timeout_ms,
                          GError           **error)
{
  GiosServerSocketPrivate *priv;
  gint64 deadline;
  guint cut = 0;
  int timeout;

  g_return_val_if_fail (GIOS_IS_SERVER_SOCKET (self), FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (self)))
    {
      g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                           _("The server socket is not open"));
      return FALSE;
    }
  g_object_ref (self);
  priv = PRIV (self);
  timeout = _gios_call_resolve_timeout (GIOS_DEVICE_STREAM (self), timeout_ms);
  deadline = _gios_deadline_from_timeout (timeout);

  gios_listeners_stop_accepting (&priv->listeners);
  gios_job_pool_stop_accepting (priv->jobs);
  stop_main_loop_accepting (self);

  /* A thread that took a connection just as accepting stopped: until it
   * makes it the current one or a job, nothing counts it. */
  while (g_atomic_int_get (&priv->accepting) > 0 &&
         (deadline < 0 || g_get_monotonic_time () < deadline))
    g_usleep (1000);
  while (n_open (self) > 0 && gios_device_stream_get_is_open (GIOS_DEVICE_STREAM (self)) &&
         (deadline < 0 || g_get_monotonic_time () < deadline))
    wait_a_little (deadline);

  /* What has not finished is cut, here or by the close that ended the
   * wait. */
  cut = n_open (self);
  if (cut > 0)
    {
      gios_job_pool_cancel (priv->jobs);
      gios_acceptor_close_live (priv->acceptor);
    }
  gios_device_stream_close (GIOS_DEVICE_STREAM (self), NULL);
  g_object_unref (self);

  if (cut == 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               g_dngettext (GETTEXT_PACKAGE,
                            "%u connection was still open after %d ms and was cut",
                            "%u connections were still open after %d ms and were cut", cut),
               cut, timeout);
  return FALSE;
}
