/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosServerSocket: accepting connections and handing them over, blocking
 * (listen, accept, listen_job and its jobs) and, through the functions
 * gios-acceptor.c calls, on the main loop. Each accepted connection goes
 * through the hand-over stage (gios-handover.c: the PROXY header) before
 * the application sees it.
 */
#include "gios-server-socket-impl.h"
#include "gios-call.h"
#include "gios-device-stream-serving.h"
#include "gios-socket-common-private.h"

#include <unistd.h>

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
  return gios_listeners_accept (&PRIV (self)->listeners, _gios_server_socket_gate (self),
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

      /* Counted until the connection is the current one, for a drain (see
       * GiosServerSocketPrivate.accepting). */
      g_atomic_int_inc (&PRIV (self)->accepting);
      fd = accept_fd (self, call.deadline, cancellable, &remote, &local_error);
      if (fd >= 0 && accepted == NULL)
        adopt (self, fd, remote);
      g_atomic_int_add (&PRIV (self)->accepting, -1);
      if (fd < 0)
        break;
      if (accepted == NULL)
        connection = GIOS_SOCKET_COMMON (self);
      else
        {
          socket = wrap (self, fd, remote, &local_error);
          if (socket == NULL)
            break;
          connection = GIOS_SOCKET_COMMON (socket);
        }
      ok = hand_over (self, connection, _gios_server_socket_gate (self), cancellable, &local_error);
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
gboolean
_gios_server_socket_prepare_job (GObject      *owner,
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

      if (!gios_job_pool_wait_for_slot (priv->jobs, max_jobs, _gios_server_socket_gate (self),
                                        call.deadline, cancellable, &local_error))
        break;
      /* Counted until the job is, for a drain. */
      g_atomic_int_inc (&priv->accepting);
      fd = accept_fd (self, call.deadline, cancellable, &remote, &local_error);
      connection = fd >= 0 ? wrap (self, fd, remote, &local_error) : NULL;
      if (connection != NULL)
        {
          gios_job_pool_push (priv->jobs, connection, closure);
          started++;
        }
      g_atomic_int_add (&priv->accepting, -1);
      if (connection == NULL)
        break;
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
