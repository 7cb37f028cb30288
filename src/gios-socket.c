/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-private.h"
#include "gios-device-stream-private.h"
#include "gios-socket-common-private.h"
#include "gios-backoff.h"
#include "gios-bind.h"
#include "gios-reactor-private.h"
#include "gios-task-guard.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

/**
 * GiosSocket:
 *
 * One connected stream: a client that [method@Gios.Socket.open] connected,
 * or a connection that a [class@Gios.ServerSocket] accepted.
 *
 * ```c
 * g_autoptr(GiosSocket) client = gios_socket_new ();
 * g_autofree char *reply = NULL;
 *
 * if (!gios_socket_open (client, "localhost", "7000", 2000, NULL, &error) ||
 *     !gios_device_stream_write_line (GIOS_DEVICE_STREAM (client), "hello", NULL, &error) ||
 *     !gios_device_stream_flush (GIOS_DEVICE_STREAM (client), 2000, NULL, &error))
 *   return FALSE;
 * reply = gios_device_stream_read_line (GIOS_DEVICE_STREAM (client), 1024, NULL, 2000, NULL, &error);
 * ```
 *
 * A protocol helper is a subclass that implements the `run` class method
 * (`do_run` in Python): the per-connection logic that servers run for each
 * accepted connection when they are given no callback.
 *
 * Since: 0.1
 */

/* How often a Unix-domain server whose queue is full is tried again. */
#define RETRY_LEAST_US (1000)
#define RETRY_MOST_US (50 * 1000)

G_DEFINE_TYPE (GiosSocket, gios_socket, GIOS_TYPE_SOCKET_COMMON)

static void
gios_socket_disconnected (GiosSocketCommon *common,
                          gboolean          intentional,
                          GError           *reason)
{
  /* A client's device is its connection. */
  _gios_device_stream_set_open (GIOS_DEVICE_STREAM (common), FALSE);
}

static void
gios_socket_real_run (GiosSocket   *self,
                      GCancellable *cancellable)
{
  g_warning ("%s does not implement GiosSocket.run(); dropping the connection",
             G_OBJECT_TYPE_NAME (self));
  gios_socket_common_drop_connection (GIOS_SOCKET_COMMON (self), NULL);
}

gboolean
_gios_socket_overrides_run (GiosSocket *self)
{
  return GIOS_SOCKET_GET_CLASS (self)->run != gios_socket_real_run;
}

static void
gios_socket_class_init (GiosSocketClass *klass)
{
  GiosSocketCommonClass *common_class = GIOS_SOCKET_COMMON_CLASS (klass);

  common_class->disconnected = gios_socket_disconnected;
  klass->run = gios_socket_real_run;
}

static void
gios_socket_init (GiosSocket *self)
{
}

/**
 * gios_socket_new:
 *
 * Creates a socket that is not connected yet.
 *
 * Returns: (transfer full): a new [class@Gios.Socket]
 *
 * Since: 0.1
 */
GiosSocket *
gios_socket_new (void)
{
  return g_object_new (GIOS_TYPE_SOCKET, NULL);
}

static gboolean
check_not_connected (GiosSocket  *self,
                     GError     **error)
{
  if (_gios_socket_common_has_connection (GIOS_SOCKET_COMMON (self)))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                           _("The socket is already connected; drop the connection first"));
      return FALSE;
    }
  return TRUE;
}

/* Makes @fd, connected to @remote (both owned from now on), the
 * connection. */
static void
adopt (GiosSocket     *self,
       int             fd,
       GSocketAddress *remote,
       const char     *host)
{
  guint port = 0;
  gboolean blocking;

  /* Connected: blocking mode from now on, as for accepted connections
   * (see set_connection_fd()). */
  blocking = g_unix_set_fd_nonblocking (fd, FALSE, NULL);
  _gios_socket_common_set_connection_fd (GIOS_SOCKET_COMMON (self), fd, blocking, remote);
  remote = gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (self));
  if (G_IS_INET_SOCKET_ADDRESS (remote))
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote));
  /* The local address is looked up when asked for. */
  _gios_socket_common_set_endpoint (GIOS_SOCKET_COMMON (self), host, port, NULL);
  /* In TLS, this side is the client, and the server's certificate must
   * name @host (the endpoint's). */
  _gios_socket_common_set_tls_client (GIOS_SOCKET_COMMON (self));
  _gios_device_stream_set_open (GIOS_DEVICE_STREAM (self), TRUE);
}

/* Connects @fd to @addr within @deadline. Returns 0, or an errno value with
 * @error set for the waits that end the whole attempt (timeout, cancel). */
static int
connect_fd (GiosSocket       *self,
            int               fd,
            struct sockaddr  *addr,
            socklen_t         len,
            gint64            deadline,
            GCancellable     *cancellable,
            GError          **error)
{
  int errsv = 0;
  socklen_t errlen = sizeof errsv;

  if (connect (fd, addr, len) == 0)
    return 0;
  errsv = errno;
  if (errsv != EINPROGRESS && errsv != EINTR)
    return errsv;

  if (!gios_gate_wait_fd (_gios_device_stream_get_gate (GIOS_DEVICE_STREAM (self)), fd, G_IO_OUT, deadline,
                                    cancellable, error))
    return -1;
  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &errsv, &errlen) != 0)
    return errno;
  return errsv;
}

/**
 * gios_socket_open:
 * @self: a [class@Gios.Socket]
 * @host: a host name or address
 * @port: a port number or a service name
 * @timeout_ms: how long connecting may take in all, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Connects to @port on @host, trying every address of @host in turn within
 * one timeout. The error of the last address tried is reported, naming it:
 * %G_IO_ERROR_CONNECTION_REFUSED, %G_IO_ERROR_TIMED_OUT, a
 * %G_RESOLVER_ERROR for an unknown name. Name resolution itself is not
 * bounded by @timeout_ms.
 *
 * Returns: %TRUE once connected
 *
 * Since: 0.1
 */
gboolean
gios_socket_open (GiosSocket    *self,
                  const char    *host,
                  const char    *port,
                  int            timeout_ms,
                  GCancellable  *cancellable,
                  GError       **error)
{
  struct addrinfo hints = { 0 };
  struct addrinfo *res = NULL;
  g_autoptr(GError) last_error = NULL;
  GSocketAddress *connected_to = NULL;
  int connected_fd = -1;
  char service[8];
  guint16 number;
  GiosCall call;
  int r;

  g_return_val_if_fail (GIOS_IS_SOCKET (self), FALSE);
  g_return_val_if_fail (host != NULL, FALSE);
  g_return_val_if_fail (port != NULL, FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_not_connected (self, error) || !_gios_parse_port (port, &number, error))
    return FALSE;

  g_snprintf (service, sizeof service, "%u", number);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = AI_NUMERICSERV;
  r = getaddrinfo (host, service, &hints, &res);
  if (r != 0)
    {
      g_set_error (error, G_RESOLVER_ERROR,
                   r == EAI_AGAIN ? G_RESOLVER_ERROR_TEMPORARY_FAILURE : G_RESOLVER_ERROR_NOT_FOUND,
                   _("Could not resolve “%s” port “%s”: %s"), host, port, gai_strerror (r));
      return FALSE;
    }

  if (!_gios_call_begin (&call, GIOS_DEVICE_STREAM (self), GIOS_CALL_OPEN, NULL, timeout_ms, error))
    {
      freeaddrinfo (res);
      return FALSE;
    }

  for (struct addrinfo *ai = res; ai != NULL && connected_fd < 0; ai = ai->ai_next)
    {
      g_autoptr(GSocketAddress) address = g_socket_address_new_from_native (ai->ai_addr, ai->ai_addrlen);
      g_autofree char *where = _gios_socket_address_to_string (address);
      int fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      int errsv;

      g_clear_error (&last_error);
      if (fd < 0)
        {
          errsv = errno;
          _gios_set_error_from_errno (&last_error, errsv, _("Could not connect to %s: %s"), where, g_strerror (errsv));
          continue;
        }

      errsv = connect_fd (self, fd, ai->ai_addr, ai->ai_addrlen, call.deadline, cancellable, &last_error);
      if (errsv == 0)
        {
          connected_fd = fd;
          connected_to = g_steal_pointer (&address);
          break;
        }
      close (fd);
      if (errsv < 0)
        {
          if (g_error_matches (last_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            {
              g_clear_error (&last_error);
              g_set_error (&last_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                           _("Could not connect to %s within %d ms"), where, call.timeout);
            }
          break;
        }
      _gios_set_error_from_errno (&last_error, errsv, _("Could not connect to %s: %s"), where, g_strerror (errsv));
    }
  freeaddrinfo (res);
  /* Inside the call, as a server's listen(): a teardown from another thread
   * finds the connection whole. */
  if (connected_fd >= 0)
    adopt (self, connected_fd, connected_to, host);
  _gios_call_end (&call, NULL);

  if (connected_fd < 0)
    {
      g_propagate_error (error, g_steal_pointer (&last_error));
      return FALSE;
    }
  return TRUE;
}

/**
 * gios_socket_open_unix:
 * @self: a [class@Gios.Socket]
 * @path: (type filename): the path of a listening Unix-domain socket
 * @timeout_ms: how long connecting may take, in milliseconds; a server whose
 *   queue is full is tried again until then
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Connects to the Unix-domain socket at @path. Errors name the path:
 * %G_IO_ERROR_NOT_FOUND, %G_IO_ERROR_CONNECTION_REFUSED (nobody listens),
 * %G_IO_ERROR_PERMISSION_DENIED, %G_IO_ERROR_FILENAME_TOO_LONG,
 * %G_IO_ERROR_TIMED_OUT.
 *
 * Returns: %TRUE once connected
 *
 * Since: 0.1
 */
gboolean
gios_socket_open_unix (GiosSocket    *self,
                       const char    *path,
                       int            timeout_ms,
                       GCancellable  *cancellable,
                       GError       **error)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  g_autofree char *display = NULL;
  GiosBackoff backoff;
  GiosCall call;
  int fd;

  g_return_val_if_fail (GIOS_IS_SOCKET (self), FALSE);
  g_return_val_if_fail (path != NULL && path[0] != '\0', FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  display = g_filename_display_name (path);
  if (!check_not_connected (self, error))
    return FALSE;
  if (strlen (path) >= sizeof sun.sun_path)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                   _("The socket path “%s” is %zu bytes long; at most %zu fit"),
                   display, strlen (path), sizeof sun.sun_path - 1);
      return FALSE;
    }
  strcpy (sun.sun_path, path);

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    {
      int errsv = errno;

      _gios_set_error_from_errno (error, errsv, _("Could not connect to “%s”: %s"), display, g_strerror (errsv));
      return FALSE;
    }

  if (!_gios_call_begin (&call, GIOS_DEVICE_STREAM (self), GIOS_CALL_OPEN, NULL, timeout_ms, error))
    {
      close (fd);
      return FALSE;
    }
  gios_backoff_init (&backoff, RETRY_LEAST_US, RETRY_MOST_US);
  for (;;)
    {
      g_autoptr(GError) wait_error = NULL;
      int errsv;

      if (connect (fd, (struct sockaddr *) &sun, sizeof sun) == 0)
        break;
      errsv = errno;
      if (errsv == EINTR)
        continue;
      if (errsv != EAGAIN)
        {
          _gios_set_error_from_errno (error, errsv, _("Could not connect to “%s”: %s"), display, g_strerror (errsv));
          goto fail;
        }
      /* The server's queue is full: try again shortly. */
      if (call.deadline >= 0 && g_get_monotonic_time () >= call.deadline)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       _("Could not connect to “%s” within %d ms: its queue stayed full"),
                       display, call.timeout);
          goto fail;
        }
      if (!gios_gate_wait (_gios_device_stream_get_gate (GIOS_DEVICE_STREAM (self)), NULL, 0,
                                     gios_backoff_until (&backoff, call.deadline),
                                     cancellable, &wait_error) &&
          !g_error_matches (wait_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          g_propagate_error (error, g_steal_pointer (&wait_error));
          goto fail;
        }
    }
  adopt (self, fd, NULL, NULL);
  _gios_call_end (&call, NULL);
  return TRUE;

fail:
  _gios_call_end (&call, NULL);
  close (fd);
  return FALSE;
}

/**
 * GiosSocketClass::run:
 * @self: a [class@Gios.Socket]
 * @cancellable: (nullable): cancelled when the server that accepted @self
 *   closes
 *
 * The per-connection logic of a protocol helper: serves the connection
 * until it ends or @cancellable is cancelled. [method@Gios.ServerSocket.listen_job]
 * calls it on a pool thread, where it may block; [method@Gios.ServerSocket.start]
 * calls it on the main loop, where it must not (it starts watches or
 * `_async` calls and returns). The connection is closed when a job's `run`
 * returns.
 *
 * Since: 0.1
 */

/**
 * gios_socket_run:
 * @self: a [class@Gios.Socket]
 * @cancellable: (nullable): cancelled when the server that accepted @self
 *   closes
 *
 * Runs the per-connection logic of @self: the `run` class method that a
 * protocol helper implements.
 *
 * Since: 0.1
 */
void
gios_socket_run (GiosSocket   *self,
                 GCancellable *cancellable)
{
  g_return_if_fail (GIOS_IS_SOCKET (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  GIOS_SOCKET_GET_CLASS (self)->run (self, cancellable);
}

/* ------------------------------------------------------------------------ */
/* Connecting on the main loop                                                */

/* The operation holds one reference of its task from open_async() until it
 * returns (open_return); the resolver's callback holds another. */
typedef struct
{
  char *host;
  char *port;
  char service[8];        /* the port as a number */
  int timeout;
  gboolean returned;
  struct addrinfo *addresses;
  struct addrinfo *next;
  int fd;
  GiosWatch *watch;
  GiosTaskGuard guard;    /* the timeout and the cancellable */
  GError *last_error;
} OpenData;

/* Ends the attempt under way, so that nothing fires after the task
 * returns. */
static void
open_stop (OpenData *data)
{
  g_clear_pointer (&data->watch, _gios_watch_destroy);
  if (data->fd >= 0)
    {
      close (data->fd);
      data->fd = -1;
    }
  gios_task_guard_stop (&data->guard);
}

static void
open_data_free (OpenData *data)
{
  open_stop (data);
  if (data->addresses != NULL)
    freeaddrinfo (data->addresses);
  g_clear_error (&data->last_error);
  g_free (data->host);
  g_free (data->port);
  g_free (data);
}

static void
open_return (GTask  *task,
             GError *error)
{
  OpenData *data = g_task_get_task_data (task);

  data->returned = TRUE;
  open_stop (data);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void open_try_next (GTask *task);

static void
on_connect_ready (GiosWatch    *watch,
                  GIOCondition  revents,
                  gpointer      user_data)
{
  GTask *task = user_data;
  OpenData *data = g_task_get_task_data (task);
  int errsv = 0;
  socklen_t len = sizeof errsv;

  g_clear_pointer (&data->watch, _gios_watch_destroy);
  if (getsockopt (data->fd, SOL_SOCKET, SO_ERROR, &errsv, &len) != 0)
    errsv = errno;
  if (errsv == 0)
    {
      int fd = data->fd;

      data->fd = -1;
      adopt (g_task_get_source_object (task), fd,
             g_socket_address_new_from_native (data->next->ai_addr, data->next->ai_addrlen),
             data->host);
      open_return (task, NULL);
      return;
    }
  {
    g_autoptr(GSocketAddress) address =
      g_socket_address_new_from_native (data->next->ai_addr, data->next->ai_addrlen);
    g_autofree char *where = _gios_socket_address_to_string (address);

    g_clear_error (&data->last_error);
    _gios_set_error_from_errno (&data->last_error, errsv, _("Could not connect to %s: %s"), where, g_strerror (errsv));
  }
  close (data->fd);
  data->fd = -1;
  data->next = data->next->ai_next;
  open_try_next (task);
}

/* Starts a connection to the next address, or returns the last error. */
static void
open_try_next (GTask *task)
{
  OpenData *data = g_task_get_task_data (task);

  for (; data->next != NULL; data->next = data->next->ai_next)
    {
      struct addrinfo *ai = data->next;
      g_autoptr(GSocketAddress) address = g_socket_address_new_from_native (ai->ai_addr, ai->ai_addrlen);
      g_autofree char *where = _gios_socket_address_to_string (address);
      GiosReactor *reactor;
      int errsv;

      g_clear_error (&data->last_error);
      data->fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (data->fd < 0)
        {
          errsv = errno;
          _gios_set_error_from_errno (&data->last_error, errsv, _("Could not connect to %s: %s"), where, g_strerror (errsv));
          continue;
        }
      if (connect (data->fd, ai->ai_addr, ai->ai_addrlen) == 0)
        {
          on_connect_ready (NULL, G_IO_OUT, task);
          return;
        }
      errsv = errno;
      if (errsv != EINPROGRESS)
        {
          _gios_set_error_from_errno (&data->last_error, errsv, _("Could not connect to %s: %s"), where, g_strerror (errsv));
          close (data->fd);
          data->fd = -1;
          continue;
        }
      reactor = _gios_reactor_ref (g_task_get_context (task), &data->last_error);
      if (reactor == NULL)
        break;
      data->watch = _gios_reactor_watch (reactor, data->fd, G_IO_OUT, on_connect_ready, task);
      g_source_unref ((GSource *) reactor);
      return;
    }

  if (data->last_error == NULL)
    g_set_error (&data->last_error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                 _("“%s” has no address to connect to"), data->host);
  open_return (task, g_steal_pointer (&data->last_error));
}

/* The time given to open() is up, or its cancellable was cancelled. */
static void
on_open_limit (GTask  *task,
               GError *cancelled)
{
  OpenData *data = g_task_get_task_data (task);

  if (cancelled == NULL)
    cancelled = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                             _("Could not connect to %s port %s within %d ms"),
                             data->host, data->port, data->timeout);
  open_return (task, cancelled);
}

static void
resolve_in_thread (GTask        *resolve,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  const char **name = task_data;
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC,
                            .ai_flags = AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  int r = getaddrinfo (name[0], name[1], &hints, &res);

  if (r != 0)
    g_task_return_new_error (resolve, G_RESOLVER_ERROR,
                             r == EAI_AGAIN ? G_RESOLVER_ERROR_TEMPORARY_FAILURE : G_RESOLVER_ERROR_NOT_FOUND,
                             _("Could not resolve “%s” port “%s”: %s"), name[0], name[1],
                             gai_strerror (r));
  else
    g_task_return_pointer (resolve, res, (GDestroyNotify) freeaddrinfo);
}

static void
on_resolved (GObject      *source_object,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;   /* the resolver's reference */
  OpenData *data = g_task_get_task_data (task);
  GError *error = NULL;
  struct addrinfo *res = g_task_propagate_pointer (G_TASK (result), &error);

  if (data->returned)
    {
      /* Timed out or cancelled while resolving. */
      if (res != NULL)
        freeaddrinfo (res);
      g_clear_error (&error);
      return;
    }
  if (res == NULL)
    {
      open_return (task, error);
      return;
    }
  data->addresses = data->next = res;
  open_try_next (task);
}

/**
 * gios_socket_open_async:
 * @self: a [class@Gios.Socket]
 * @host: a host name or address
 * @port: a port number or a service name
 * @timeout_ms: how long connecting may take in all, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when connected or failed
 * @user_data: data for @callback
 *
 * Connects like [method@Gios.Socket.open] without blocking: the name is
 * resolved on a thread, each address is tried in turn on the thread-default
 * main context of the caller, and @callback is called there.
 *
 * Since: 0.1
 */
void
gios_socket_open_async (GiosSocket          *self,
                        const char          *host,
                        const char          *port,
                        int                  timeout_ms,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) resolve = NULL;
  GError *error = NULL;
  OpenData *data;
  guint16 number;

  g_return_if_fail (GIOS_IS_SOCKET (self));
  g_return_if_fail (host != NULL);
  g_return_if_fail (port != NULL);
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, gios_socket_open_async);
  data = g_new0 (OpenData, 1);
  data->fd = -1;
  data->host = g_strdup (host);
  data->port = g_strdup (port);
  data->timeout = _gios_call_resolve_timeout (GIOS_DEVICE_STREAM (self), timeout_ms);
  g_task_set_task_data (task, data, (GDestroyNotify) open_data_free);

  if (g_task_return_error_if_cancelled (task))
    return;
  if (!check_not_connected (self, &error) || !_gios_parse_port (port, &number, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_snprintf (data->service, sizeof data->service, "%u", number);

  gios_task_guard_start (&data->guard, task, data->timeout, cancellable, on_open_limit);

  {
    const char **name = g_new (const char *, 2);

    name[0] = data->host;
    name[1] = data->service;
    resolve = g_task_new (self, NULL, on_resolved, g_object_ref (task));
    g_task_set_task_data (resolve, name, g_free);
    g_task_run_in_thread (resolve, resolve_in_thread);
  }
  g_object_ref (task);   /* the operation's, released by open_return() */
}

/**
 * gios_socket_open_finish:
 * @self: a [class@Gios.Socket]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.Socket.open_async].
 *
 * Returns: %TRUE once connected
 *
 * Since: 0.1
 */
gboolean
gios_socket_open_finish (GiosSocket    *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gios_socket_open_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
