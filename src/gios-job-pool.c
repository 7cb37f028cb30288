/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The job pool of a server socket: see gios-job-pool.h. */

#include "gios-private.h"
#include "gios-job-pool.h"
#include "gios-device-stream-private.h"
#include "gios-socket-common-private.h"

#include <unistd.h>

/* Without a wake-up descriptor (none could be made), a wait for a slot
 * looks again this often. */
#define FALLBACK_SLICE_US (50 * 1000)

struct _GiosJobClosure
{
  gatomicrefcount ref;
  GiosJobFunc func;
  gpointer user_data;
  GDestroyNotify notify;
};

struct _GiosJobPool
{
  GObject *owner;          /* not owned; every job holds a reference */
  GMutex lock;
  GCond ended;             /* a job ended */
  guint n_jobs;
  guint slot_waiters;      /* accepting threads waiting for a job to end */
  GiosWakeup wakeup;       /* wakes them */
  gboolean stopped;        /* accepting stopped (a drain): they give up */
  GPtrArray *running;      /* of Job */
  /* The jobs' cancellable, shared by the jobs it was given to; once
   * cancelled, the next job gets a new one. */
  GCancellable *cancellable;
  gulong handler;
  GThreadPool *threads;
};

typedef struct
{
  GiosJobPool *pool;
  GiosSocket *connection;
  GiosJobClosure *closure;
  GCancellable *cancellable;
} Job;

/* The jobs' cancellable was cancelled, by the pool or by anyone holding it:
 * a read that waits in a job's connection itself (recv(), see gios-gate.h)
 * wakes, its input shut down. One handler for all jobs: none is connected
 * per job. */
static void
on_jobs_cancelled (GCancellable *cancellable,
                   GiosJobPool  *pool)
{
  g_mutex_lock (&pool->lock);
  for (guint i = 0; i < pool->running->len; i++)
    {
      Job *job = g_ptr_array_index (pool->running, i);
      GiosDeviceStream *connection = GIOS_DEVICE_STREAM (job->connection);

      if (job->cancellable == cancellable)
        gios_gate_cancel_blocked (_gios_device_stream_get_gate (connection));
    }
  g_mutex_unlock (&pool->lock);
}

typedef struct
{
  GCancellable *cancellable;
  gulong handler;
} OldCancellable;

/* Under the lock: a fresh cancellable for the jobs to come. The old one is
 * for the caller to disconnect once it has let the lock go (its handler may
 * be running, waiting for the lock). */
static OldCancellable
renew_cancellable (GiosJobPool *pool)
{
  OldCancellable old = { pool->cancellable, pool->handler };

  pool->cancellable = g_cancellable_new ();
  pool->handler = g_signal_connect (pool->cancellable, "cancelled", G_CALLBACK (on_jobs_cancelled), pool);
  return old;
}

static void
disconnect_old (OldCancellable *old)
{
  if (old->cancellable == NULL)
    return;
  g_cancellable_disconnect (old->cancellable, old->handler);
  g_object_unref (old->cancellable);
}

GiosJobClosure *
gios_job_closure_new (GiosJobFunc    func,
                      gpointer       user_data,
                      GDestroyNotify notify)
{
  GiosJobClosure *closure = g_new0 (GiosJobClosure, 1);

  g_atomic_ref_count_init (&closure->ref);
  closure->func = func;
  closure->user_data = user_data;
  closure->notify = notify;
  return closure;
}

void
gios_job_closure_unref (GiosJobClosure *closure)
{
  if (!g_atomic_ref_count_dec (&closure->ref))
    return;
  if (closure->notify != NULL)
    closure->notify (closure->user_data);
  g_free (closure);
}

static void
wake_slot_waiters (GiosJobPool *pool)
{
  gios_wakeup_signal (&pool->wakeup);
}

static void
job_run (gpointer data,
         gpointer pool_data)
{
  Job *job = data;
  GiosJobPool *pool = job->pool;
  GObject *owner = pool->owner;
  gboolean wake;

  if (job->closure->func != NULL)
    job->closure->func (job->connection, job->cancellable, job->closure->user_data);
  else
    gios_socket_run (job->connection, job->cancellable);

  /* Send what the job left buffered, within the connection's
   * close-timeout, unless the job closed it itself. */
  gios_device_stream_close (GIOS_DEVICE_STREAM (job->connection), NULL);
  /* Before the job counts as ended: wait_all() returning means the data
   * was released too. */
  gios_job_closure_unref (job->closure);

  g_mutex_lock (&pool->lock);
  g_ptr_array_remove_fast (pool->running, job);
  pool->n_jobs--;
  g_cond_broadcast (&pool->ended);
  wake = pool->slot_waiters > 0;
  g_mutex_unlock (&pool->lock);
  /* Only for a waiting acceptor: a wake-up would otherwise cost it a
   * spurious return from poll() the next time it waits. */
  if (wake)
    wake_slot_waiters (pool);

  g_object_unref (job->cancellable);
  g_object_unref (job->connection);
  g_free (job);
  g_object_unref (owner);
}

GiosJobPool *
gios_job_pool_new (GObject *owner)
{
  GiosJobPool *pool = g_new0 (GiosJobPool, 1);

  pool->owner = owner;
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->ended);
  gios_wakeup_init (&pool->wakeup);
  pool->running = g_ptr_array_new ();
  (void) renew_cancellable (pool);
  return pool;
}

void
gios_job_pool_free (GiosJobPool *pool)
{
  /* Jobs hold the owner, which holds the pool: none runs here. */
  if (pool->threads != NULL)
    g_thread_pool_free (pool->threads, FALSE, FALSE);
  gios_wakeup_clear (&pool->wakeup);
  g_ptr_array_unref (pool->running);
  g_cancellable_disconnect (pool->cancellable, pool->handler);
  g_clear_object (&pool->cancellable);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->ended);
  g_free (pool);
}

void
gios_job_pool_push (GiosJobPool    *pool,
                    GiosSocket     *connection,
                    GiosJobClosure *closure)
{
  Job *job = g_new0 (Job, 1);
  OldCancellable old = { NULL, 0 };

  g_object_ref (pool->owner);
  job->pool = pool;
  job->connection = connection;
  job->closure = closure;
  g_atomic_ref_count_inc (&closure->ref);

  g_mutex_lock (&pool->lock);
  if (g_cancellable_is_cancelled (pool->cancellable))
    old = renew_cancellable (pool);
  job->cancellable = g_object_ref (pool->cancellable);
  /* Its cancellation wakes a read that waits in the connection itself. */
  gios_gate_set_interrupting (_gios_device_stream_get_gate (GIOS_DEVICE_STREAM (connection)),
                              job->cancellable);
  g_ptr_array_add (pool->running, job);
  pool->n_jobs++;
  if (pool->threads == NULL)
    /* Shared threads, no limit of its own: the accepting thread holds the
     * limit by not accepting. */
    pool->threads = g_thread_pool_new (job_run, NULL, -1, FALSE, NULL);
  g_mutex_unlock (&pool->lock);

  disconnect_old (&old);
  g_thread_pool_push (pool->threads, job, NULL);
}


gboolean
gios_job_pool_wait_for_slot (GiosJobPool       *pool,
                             guint              max_jobs,
                             GiosGate          *gate,
                             gint64             deadline,
                             GCancellable      *cancellable,
                             GError           **error)
{
  int wakeup_fd = max_jobs > 0 ? gios_wakeup_prepare (&pool->wakeup, &pool->lock) : -1;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      gboolean free_slot;
      gboolean stopped;
      gboolean ok;

      /* Counted as waiting in the same locked section as the check, so a
       * job that ends before the wait starts still wakes it. */
      g_mutex_lock (&pool->lock);
      stopped = pool->stopped;
      free_slot = max_jobs == 0 || pool->n_jobs < max_jobs;
      if (!free_slot && !stopped)
        pool->slot_waiters++;
      g_mutex_unlock (&pool->lock);
      if (stopped)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               _("The server socket no longer accepts connections"));
          return FALSE;
        }
      if (free_slot)
        return TRUE;

      if (wakeup_fd >= 0)
        {
          ok = gios_gate_wait_fd (gate, wakeup_fd, G_IO_IN, deadline, cancellable, &local_error);
          if (ok)
            gios_wakeup_drain (wakeup_fd);
        }
      else
        {
          gint64 slice = g_get_monotonic_time () + FALLBACK_SLICE_US;

          ok = gios_gate_wait (gate, NULL, 0, deadline >= 0 ? MIN (slice, deadline) : slice,
                               cancellable, &local_error);
          /* The end of a slice is a time to look again. */
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) &&
              (deadline < 0 || g_get_monotonic_time () < deadline))
            {
              g_clear_error (&local_error);
              ok = TRUE;
            }
        }

      g_mutex_lock (&pool->lock);
      pool->slot_waiters--;
      g_mutex_unlock (&pool->lock);
      if (!ok)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
}

guint
gios_job_pool_get_n_jobs (GiosJobPool *pool)
{
  guint n;

  g_mutex_lock (&pool->lock);
  n = pool->n_jobs;
  g_mutex_unlock (&pool->lock);
  return n;
}

/* @cancellable was cancelled: wakes wait_all(), which looks at it under
 * the lock (taken here so the wake-up cannot fall between its look and its
 * wait). */
static void
on_wait_cancelled (GCancellable *cancellable,
                   GiosJobPool  *pool)
{
  g_mutex_lock (&pool->lock);
  g_cond_broadcast (&pool->ended);
  g_mutex_unlock (&pool->lock);
}

gboolean
gios_job_pool_wait_all (GiosJobPool   *pool,
                        int            timeout_ms,
                        GCancellable  *cancellable,
                        GError       **error)
{
  gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gulong handler = 0;
  gboolean ok = TRUE;

  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_wait_cancelled), pool, NULL);

  g_mutex_lock (&pool->lock);
  while (pool->n_jobs > 0 && ok)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        ok = FALSE;
      else if (deadline < 0)
        g_cond_wait (&pool->ended, &pool->lock);
      else if (!g_cond_wait_until (&pool->ended, &pool->lock, deadline) && pool->n_jobs > 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       g_dngettext (GETTEXT_PACKAGE, "%u job still running after %d ms",
                                    "%u jobs still running after %d ms", pool->n_jobs),
                       pool->n_jobs, timeout_ms);
          ok = FALSE;
        }
    }
  g_mutex_unlock (&pool->lock);

  /* Outside the lock: it waits for a handler that may be taking it. */
  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  return ok;
}

void
gios_job_pool_stop_accepting (GiosJobPool *pool)
{
  g_mutex_lock (&pool->lock);
  pool->stopped = TRUE;
  g_mutex_unlock (&pool->lock);
  wake_slot_waiters (pool);
}

guint
gios_job_pool_cancel (GiosJobPool *pool)
{
  g_autoptr(GPtrArray) connections = g_ptr_array_new_with_free_func (g_object_unref);
  OldCancellable old;

  g_mutex_lock (&pool->lock);
  pool->stopped = FALSE;
  for (guint i = 0; i < pool->running->len; i++)
    g_ptr_array_add (connections, g_object_ref (((Job *) g_ptr_array_index (pool->running, i))->connection));
  old = renew_cancellable (pool);
  g_mutex_unlock (&pool->lock);

  /* Wakes the jobs' reads, even those that wait in the device. */
  g_cancellable_cancel (old.cancellable);
  disconnect_old (&old);
  /* The server is closing: a peer that does not read holds nobody up. */
  for (guint i = 0; i < connections->len; i++)
    _gios_socket_common_abort_connection (g_ptr_array_index (connections, i));
  return connections->len;
}

GCancellable *
gios_job_pool_get_cancellable (GiosJobPool *pool)
{
  return pool->cancellable;
}
