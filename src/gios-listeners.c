/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The listening sockets of a server socket: see gios-listeners.h. */

#include "gios-private.h"
#include "gios-listeners.h"

#include <errno.h>
#include <sys/socket.h>

#define MAX_LISTENERS 8
/* How often accepting is tried again with the descriptor table full. */
#define RETRY_LEAST_US (10 * 1000)
#define RETRY_MOST_US (250 * 1000)

void
gios_listeners_init (GiosListeners *listeners)
{
  listeners->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  listeners->next = 0;
  gios_backoff_init (&listeners->exhaustion, RETRY_LEAST_US, RETRY_MOST_US);
  listeners->unix_path.path = NULL;
  g_mutex_init (&listeners->lock);
  gios_wakeup_init (&listeners->stop);
  listeners->stopped = FALSE;
}

void
gios_listeners_close (GiosListeners *listeners)
{
  for (guint i = 0; i < listeners->sockets->len; i++)
    g_socket_close (g_ptr_array_index (listeners->sockets, i), NULL);
  g_ptr_array_set_size (listeners->sockets, 0);
  _gios_unix_path_remove (&listeners->unix_path);
  gios_backoff_init (&listeners->exhaustion, RETRY_LEAST_US, RETRY_MOST_US);
  /* Nobody waits any more (close interrupted them): a new start. */
  gios_wakeup_clear (&listeners->stop);
  g_atomic_int_set (&listeners->stopped, FALSE);
}

void
gios_listeners_clear (GiosListeners *listeners)
{
  gios_listeners_close (listeners);
  g_ptr_array_unref (listeners->sockets);
  g_mutex_clear (&listeners->lock);
}

void
gios_listeners_stop_accepting (GiosListeners *listeners)
{
  g_mutex_lock (&listeners->lock);
  g_atomic_int_set (&listeners->stopped, TRUE);
  g_mutex_unlock (&listeners->lock);
  gios_wakeup_signal (&listeners->stop);
}

gboolean
gios_listeners_is_stopped (GiosListeners *listeners)
{
  return g_atomic_int_get (&listeners->stopped);
}

static gboolean
check_accepting (GiosListeners  *listeners,
                 GError        **error)
{
  if (!gios_listeners_is_stopped (listeners))
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                       _("The server socket no longer accepts connections"));
  return FALSE;
}

/* Errors of one connection, which the next accept does not share. */
static gboolean
is_transient (int errsv)
{
  switch (errsv)
    {
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
gios_listeners_exhausted (int errsv)
{
  return errsv == EMFILE || errsv == ENFILE || errsv == ENOBUFS || errsv == ENOMEM;
}

int
gios_listeners_accept_once (GiosListeners   *listeners,
                            GSocketAddress **remote)
{
  guint n = listeners->sockets->len;
  int last_errno = EAGAIN;

  for (guint k = 0; k < n; k++)
    {
      guint i = (listeners->next + k) % n;
      GSocket *socket = g_ptr_array_index (listeners->sockets, i);
      struct sockaddr_storage peer;
      socklen_t len;
      int fd;

      do
        {
          len = sizeof peer;
          /* Connections are in blocking mode: see set_connection_fd(). */
          fd = accept4 (g_socket_get_fd (socket), (struct sockaddr *) &peer, &len, SOCK_CLOEXEC);
        }
      while (fd < 0 && errno == EINTR);

      if (fd >= 0)
        {
          listeners->next = (i + 1) % n;
          /* The peer's address comes with the connection: no getpeername(). */
          *remote = g_socket_address_new_from_native (&peer, len);
          return fd;
        }
      if (errno != EAGAIN && errno != EWOULDBLOCK && !is_transient (errno))
        last_errno = errno;
    }
  errno = last_errno;
  return -1;
}

void
gios_listeners_report (GiosListeners *listeners,
                       guint          port,
                       int            errsv)
{
  if (errsv != 0)
    gios_backoff_trouble (&listeners->exhaustion,
                          "Could not accept a connection on port %u: %s; trying again as descriptors free up",
                          port, g_strerror (errsv));
  else
    gios_backoff_recovered (&listeners->exhaustion, "Accepting connections again on port %u", port);
}

/* Pauses until the next try, unless @gate is interrupted or @cancellable
 * cancelled meanwhile. */
static gboolean
pause_for (GiosListeners     *listeners,
           GiosGate          *gate,
           gint64             deadline,
           GCancellable      *cancellable,
           GError           **error)
{
  g_autoptr(GError) local_error = NULL;

  if (gios_gate_wait (gate, NULL, 0, gios_backoff_until (&listeners->exhaustion, deadline),
                      cancellable, &local_error) ||
      g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

int
gios_listeners_accept (GiosListeners     *listeners,
                       GiosGate          *gate,
                       guint              port,
                       gint64             deadline,
                       GCancellable      *cancellable,
                       GSocketAddress   **remote,
                       GError           **error)
{
  int stop_fd;

  if (listeners->sockets->len == 0)
    {
      g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                           _("The server socket is not open"));
      return -1;
    }

  /* Made before the flag is looked at, so that a stop is never missed. */
  stop_fd = gios_wakeup_prepare (&listeners->stop, &listeners->lock);

  for (;;)
    {
      GPollFD fds[MAX_LISTENERS + 1];
      guint n = MIN (listeners->sockets->len, MAX_LISTENERS);
      int fd;
      int errsv;

      if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
          !check_accepting (listeners, error))
        return -1;

      fd = gios_listeners_accept_once (listeners, remote);
      errsv = errno;
      if (fd >= 0)
        {
          gios_listeners_report (listeners, port, 0);
          return fd;
        }
      if (gios_listeners_exhausted (errsv))
        {
          gios_listeners_report (listeners, port, errsv);
          if (deadline >= 0 && g_get_monotonic_time () >= deadline)
            {
              _gios_set_error_from_errno (error, errsv, _("Could not accept a connection: %s"), g_strerror (errsv));
              return -1;
            }
          if (!pause_for (listeners, gate, deadline, cancellable, error))
            return -1;
          continue;
        }
      if (errsv != EAGAIN && errsv != EWOULDBLOCK)
        {
          _gios_set_error_from_errno (error, errsv, _("Could not accept a connection: %s"), g_strerror (errsv));
          return -1;
        }

      for (guint i = 0; i < n; i++)
        {
          fds[i].fd = g_socket_get_fd (g_ptr_array_index (listeners->sockets, i));
          fds[i].events = G_IO_IN;
          fds[i].revents = 0;
        }
      if (stop_fd >= 0)
        fds[n++] = (GPollFD) { stop_fd, G_IO_IN, 0 };
      if (!gios_gate_wait (gate, fds, n, deadline, cancellable, error))
        return -1;
    }
}

void
gios_listeners_set_backlog (GiosListeners *listeners,
                            int            backlog)
{
  /* listen() again on a listening socket changes its backlog. */
  for (guint i = 0; i < listeners->sockets->len; i++)
    (void) listen (g_socket_get_fd (g_ptr_array_index (listeners->sockets, i)), backlog);
}
