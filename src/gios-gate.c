/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cross-thread gate of a stream: see gios-gate.h. */

#include "gios-private.h"
#include "gios-gate.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#define MAX_WAIT_FDS 8
/* Without a wake-up descriptor, a wait looks at its flags this often. */
#define FALLBACK_SLICE_MS 50

/* The innermost frame of this thread; frames link outwards. */
static __thread GiosGateFrame *top_frame;

void
gios_gate_init (GiosGate *gate)
{
  memset (gate, 0, sizeof *gate);
  g_mutex_init (&gate->lock);
  g_cond_init (&gate->idle);
  gate->device_fd = -1;
  gios_wakeup_init (&gate->wakeup);
}

static void clear_cached_cancellable (GiosGate *gate);

void
gios_gate_clear (GiosGate *gate)
{
  clear_cached_cancellable (gate);
  gios_wakeup_clear (&gate->wakeup);
  g_mutex_clear (&gate->lock);
  g_cond_clear (&gate->idle);
}

/* How many calls this thread is inside on @gate: a handler that runs
 * inside a call (a signal emitted by a read) must not wait for itself. */
static guint
own_frames (GiosGate *gate)
{
  guint n = 0;

  for (GiosGateFrame *frame = top_frame; frame != NULL; frame = frame->outer)
    if (frame->gate == gate)
      n++;
  return n;
}

/* The ticket of this thread's innermost call on @gate. */
static guint
own_ticket (GiosGate *gate)
{
  for (GiosGateFrame *frame = top_frame; frame != NULL; frame = frame->outer)
    if (frame->gate == gate)
      return frame->ticket;
  return 0;
}

static gboolean
interrupted_past (GiosGate *gate,
                  guint     ticket)
{
  return (guint) g_atomic_int_get (&gate->interrupted) > ticket;
}

gboolean
gios_gate_enter (GiosGate       *gate,
                 GiosGateFrame  *frame,
                 GiosGateNeed    need,
                 guint           ticket,
                 GError        **error)
{
  gboolean ok = FALSE;

  g_mutex_lock (&gate->lock);
  /* Nobody inside (the common case): no frames to count. */
  if (gate->busy > 0 && gate->busy > own_frames (gate))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PENDING,
                         _("Another thread is in a call on this stream"));
  else if (interrupted_past (gate, ticket) || (gate->closed && need == GIOS_GATE_DEVICE))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                         _("The stream is closed"));
  else if (need == GIOS_GATE_DEVICE && !gate->attached)
    g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                         _("The stream is not connected"));
  else
    {
      gate->busy++;
      frame->gate = gate;
      frame->ticket = ticket;
      frame->outer = top_frame;
      top_frame = frame;
      ok = TRUE;
    }
  g_mutex_unlock (&gate->lock);

  return ok;
}

void
gios_gate_leave (GiosGate      *gate,
                 GiosGateFrame *frame)
{
  g_mutex_lock (&gate->lock);
  g_assert (gate->busy > 0 && top_frame == frame);
  gate->busy--;
  top_frame = frame->outer;
  /* GCond wakes with a system call even when nobody waits: only when an
   * interrupt does. */
  if (gate->waiters > 0)
    g_cond_broadcast (&gate->idle);
  g_mutex_unlock (&gate->lock);
}

gboolean
gios_gate_is_busy_elsewhere (GiosGate *gate)
{
  gboolean busy;

  g_mutex_lock (&gate->lock);
  busy = gate->busy > own_frames (gate);
  g_mutex_unlock (&gate->lock);
  return busy;
}

static void
wake (GiosGate *gate)
{
  gios_wakeup_signal (&gate->wakeup);
}

guint
gios_gate_interrupt (GiosGate *gate)
{
  guint ticket;

  g_mutex_lock (&gate->lock);
  ticket = (guint) g_atomic_int_add (&gate->interrupted, 1) + 1;
  /* A receive blocked in the device wakes when its input is shut down:
   * either it sees the interrupt before it blocks, or this sees it counted
   * in blocked. Only the input: what is buffered can still be sent. The
   * descriptor changes under the lock, so it is still open here. */
  if (g_atomic_int_get (&gate->blocked) > 0 && gate->device_fd >= 0)
    shutdown (gate->device_fd, SHUT_RD);
  if (gate->busy > own_frames (gate))
    wake (gate);
  g_mutex_unlock (&gate->lock);
  return ticket;
}

void
gios_gate_wait_idle (GiosGate *gate)
{
  guint own;

  g_mutex_lock (&gate->lock);
  own = own_frames (gate);
  gate->waiters++;
  while (gate->busy > own)
    g_cond_wait (&gate->idle, &gate->lock);
  gate->waiters--;
  g_mutex_unlock (&gate->lock);
}

void
gios_gate_shutdown_input (GiosGate *gate)
{
  g_mutex_lock (&gate->lock);
  if (gate->device_fd >= 0)
    shutdown (gate->device_fd, SHUT_RD);
  g_mutex_unlock (&gate->lock);
}

void
gios_gate_resume (GiosGate *gate)
{
  g_mutex_lock (&gate->lock);
  g_assert (g_atomic_int_get (&gate->interrupted) > 0);
  g_atomic_int_add (&gate->interrupted, -1);
  g_mutex_unlock (&gate->lock);
}

void
gios_gate_set_attached (GiosGate *gate,
                        gboolean  attached,
                        int       device_fd)
{
  g_mutex_lock (&gate->lock);
  gate->attached = !!attached;
  gate->device_fd = attached ? device_fd : -1;
  g_mutex_unlock (&gate->lock);
}

void
gios_gate_set_closed (GiosGate *gate,
                      gboolean  closed)
{
  g_mutex_lock (&gate->lock);
  gate->closed = !!closed;
  g_mutex_unlock (&gate->lock);
}

int
gios_gate_prepare_wakeup (GiosGate *gate)
{
  return gios_wakeup_prepare (&gate->wakeup, &gate->lock);
}

/* ------------------------------------------------------------------------ */
/* Cancellables                                                               */

static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  wake (data);
}

/* The handler of the cached cancellable: it stays connected between waits,
 * when a wake would only be a spurious one for the next wait. A wait counts
 * itself in wait_users before it looks at the cancellable, so either it sees
 * the cancellation or this sees the wait. */
static void
on_cached_cancelled (GCancellable *cancellable,
                     gpointer      data)
{
  GiosGate *gate = data;

  if (g_atomic_int_get (&gate->wait_users) > 0)
    wake (gate);
}

/* Makes @cancellable the cached one, unless another wait uses a different
 * one right now. Returns whether the wait uses the cache (and must drop its
 * use of it when it ends). */
static gboolean
use_cached_cancellable (GiosGate     *gate,
                        GCancellable *cancellable)
{
  GCancellable *old = NULL;
  gulong old_handler = 0;
  gboolean connect = FALSE;

  g_mutex_lock (&gate->lock);
  if (gate->wait_cancellable != cancellable)
    {
      if (g_atomic_int_get (&gate->wait_users) > 0)
        {
          g_mutex_unlock (&gate->lock);
          return FALSE;
        }
      old = g_steal_pointer (&gate->wait_cancellable);
      old_handler = gate->wait_handler;
      gate->wait_handler = 0;
      gate->wait_cancellable = g_object_ref (cancellable);
      connect = TRUE;
    }
  g_atomic_int_inc (&gate->wait_users);
  g_mutex_unlock (&gate->lock);

  if (old != NULL)
    {
      g_cancellable_disconnect (old, old_handler);
      g_object_unref (old);
    }
  if (connect)
    {
      /* Calls the handler at once if already cancelled: it wakes us. */
      gulong handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cached_cancelled),
                                              gate, NULL);

      g_mutex_lock (&gate->lock);
      gate->wait_handler = handler;
      g_mutex_unlock (&gate->lock);
    }
  return TRUE;
}

/* Disconnects the cached cancellable, unless a wait still uses it. */
static void
clear_cached_cancellable (GiosGate *gate)
{
  GCancellable *old;
  gulong handler;

  g_mutex_lock (&gate->lock);
  if (g_atomic_int_get (&gate->wait_users) > 0)
    {
      g_mutex_unlock (&gate->lock);
      return;
    }
  old = g_steal_pointer (&gate->wait_cancellable);
  handler = gate->wait_handler;
  gate->wait_handler = 0;
  g_mutex_unlock (&gate->lock);

  if (old != NULL)
    {
      g_cancellable_disconnect (old, handler);
      g_object_unref (old);
    }
}

void
gios_gate_cancel_blocked (GiosGate *gate)
{
  g_mutex_lock (&gate->lock);
  if (g_atomic_int_get (&gate->blocked_cancellable) > 0 && gate->device_fd >= 0)
    shutdown (gate->device_fd, SHUT_RD);
  g_mutex_unlock (&gate->lock);
}

void
gios_gate_set_interrupting (GiosGate     *gate,
                            GCancellable *cancellable)
{
  g_mutex_lock (&gate->lock);
  gate->interrupting = cancellable;
  g_mutex_unlock (&gate->lock);
  /* No wait runs now on a stream that changes hands: let its last
   * cancellable go. */
  clear_cached_cancellable (gate);
}

/* ------------------------------------------------------------------------ */
/* Waiting                                                                    */

static int
poll_timeout (gint64 deadline)
{
  gint64 remaining;

  if (deadline < 0)
    return -1;
  remaining = deadline - g_get_monotonic_time ();
  if (remaining <= 0)
    return 0;
  /* Round up so that we never wake before the deadline. */
  return (int) MIN ((remaining + 999) / 1000, G_MAXINT);
}

static gboolean
closed_while_waiting (GiosGate  *gate,
                      guint      ticket,
                      GError   **error)
{
  if (!interrupted_past (gate, ticket))
    return FALSE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                       _("The stream was closed while waiting"));
  return TRUE;
}

gboolean
gios_gate_wait (GiosGate      *gate,
                GPollFD       *fds,
                guint          n_fds,
                gint64         deadline,
                GCancellable  *cancellable,
                GError       **error)
{
  GPollFD all[MAX_WAIT_FDS + 1];
  guint n_all = n_fds;
  guint ticket = own_ticket (gate);
  gulong handler = 0;
  gboolean cached = FALSE;
  int wakeup_fd;
  gboolean ret = FALSE;

  g_return_val_if_fail (n_fds <= MAX_WAIT_FDS, FALSE);

  if (n_fds > 0)
    memcpy (all, fds, n_fds * sizeof (GPollFD));

  wakeup_fd = gios_gate_prepare_wakeup (gate);
  if (wakeup_fd >= 0)
    {
      all[n_all].fd = wakeup_fd;
      all[n_all].events = G_IO_IN;
      n_all++;
    }
  if (cancellable != NULL && wakeup_fd >= 0)
    cached = use_cached_cancellable (gate, cancellable);
  if (cancellable != NULL && !cached)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), gate, NULL);

  for (;;)
    {
      int timeout;
      int r;
      gboolean ready = FALSE;

      if (g_cancellable_set_error_if_cancelled (cancellable, error) ||
          closed_while_waiting (gate, ticket, error))
        break;

      timeout = poll_timeout (deadline);
      if (wakeup_fd < 0 && (timeout < 0 || timeout > FALLBACK_SLICE_MS))
        timeout = FALLBACK_SLICE_MS;
      for (guint i = 0; i < n_all; i++)
        all[i].revents = 0;
      r = g_poll (all, n_all, timeout);
      if (r < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          _gios_set_error_from_errno (error, errsv, _("Could not wait for the device: %s"), g_strerror (errsv));
          break;
        }

      for (guint i = 0; i < n_fds; i++)
        {
          fds[i].revents = all[i].revents;
          if (all[i].revents != 0)
            ready = TRUE;
        }
      if (ready)
        {
          ret = TRUE;
          break;
        }
      if (wakeup_fd >= 0 && all[n_fds].revents != 0)
        {
          /* Drained here; the flags at the top say why we woke. */
          gios_wakeup_drain (wakeup_fd);
          continue;
        }
      if (deadline >= 0 && g_get_monotonic_time () >= deadline)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Timed out"));
          break;
        }
    }

  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  if (cached)
    g_atomic_int_dec_and_test (&gate->wait_users);

  return ret;
}

gboolean
gios_gate_iterate (GiosGate      *gate,
                   GMainContext  *context,
                   gint64         deadline,
                   GCancellable  *cancellable,
                   GError       **error)
{
  GPollFD fds[MAX_WAIT_FDS];
  gint max_priority;
  gint timeout;
  gint n;
  gboolean ok = TRUE;

  g_main_context_prepare (context, &max_priority);
  n = g_main_context_query (context, max_priority, &timeout, fds, G_N_ELEMENTS (fds));
  /* A private context holds its own wake-up and a source or two. */
  g_assert (n <= (gint) G_N_ELEMENTS (fds));
  if (timeout != 0)
    {
      gint64 until = deadline;
      GError *local_error = NULL;

      if (timeout > 0)
        {
          gint64 wake = g_get_monotonic_time () + (gint64) timeout * 1000;

          if (until < 0 || wake < until)
            until = wake;
        }
      if (!gios_gate_wait (gate, fds, n, until, cancellable, &local_error))
        {
          /* The context's own timeout only ends this iteration. */
          if (until == deadline || !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            {
              g_propagate_error (error, local_error);
              ok = FALSE;
            }
          else
            g_error_free (local_error);
        }
    }
  else if (gios_gate_expired (gate, deadline, cancellable, error))
    ok = FALSE;
  if (g_main_context_check (context, max_priority, fds, n))
    g_main_context_dispatch (context);
  return ok;
}

gboolean
gios_gate_expired (GiosGate      *gate,
                   gint64         deadline,
                   GCancellable  *cancellable,
                   GError       **error)
{
  if (deadline < 0 || deadline > g_get_monotonic_time ())
    return FALSE;
  if (!g_cancellable_set_error_if_cancelled (cancellable, error) &&
      !closed_while_waiting (gate, own_ticket (gate), error))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, _("Timed out"));
  return TRUE;
}

gboolean
gios_gate_begin_blocking (GiosGate     *gate,
                          gint64        deadline,
                          GCancellable *cancellable)
{
  if (deadline >= 0 || gate->device_fd < 0 ||
      (cancellable != NULL && cancellable != gate->interrupting))
    return FALSE;
  g_atomic_int_inc (&gate->blocked);
  if (cancellable != NULL)
    g_atomic_int_inc (&gate->blocked_cancellable);
  if ((g_atomic_int_get (&gate->interrupted) > 0 && interrupted_past (gate, own_ticket (gate))) ||
      g_cancellable_is_cancelled (cancellable))
    {
      gios_gate_end_blocking (gate, TRUE, cancellable, NULL);
      return FALSE;
    }
  return TRUE;
}

gboolean
gios_gate_end_blocking (GiosGate      *gate,
                        gboolean       got_data,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_atomic_int_dec_and_test (&gate->blocked);
  if (cancellable != NULL)
    g_atomic_int_dec_and_test (&gate->blocked_cancellable);
  if (got_data)
    return TRUE;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  return g_atomic_int_get (&gate->interrupted) == 0 ||
         !closed_while_waiting (gate, own_ticket (gate), error);
}
