/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The job pool of a server socket: a job per accepted connection on a
 * thread pool, the count of running jobs, waiting for a free slot (with the
 * pool's own wake-up), waiting for all, and cancelling them when the server
 * closes. The limit is kept by the accepting thread, which takes no
 * connection while the pool is full: waiting clients stay in the kernel's
 * queue.
 */
#pragma once

#include <gios/gios.h>
#include "gios-gate.h"

G_BEGIN_DECLS

typedef struct _GiosJobPool GiosJobPool;
/* The caller's function and data, shared by the jobs of one listen_job():
 * the data is released when the last of them ends. */
typedef struct _GiosJobClosure GiosJobClosure;

GiosJobClosure *gios_job_closure_new   (GiosJobFunc      func,
                                        gpointer         user_data,
                                        GDestroyNotify   notify);
void            gios_job_closure_unref (GiosJobClosure  *closure);

/* @owner is kept alive by every running job. */
GiosJobPool    *gios_job_pool_new      (GObject         *owner);
void            gios_job_pool_free     (GiosJobPool     *pool);
/* Runs @closure for @connection (owned from now on) on a pool thread; the
 * connection is closed when the job returns. */
void            gios_job_pool_push     (GiosJobPool     *pool,
                                        GiosSocket      *connection,
                                        GiosJobClosure  *closure);
/* Waits until fewer than @max_jobs jobs run (0: no limit), @deadline,
 * @cancellable, or a teardown from another thread, which @gate's wait sees. */
gboolean        gios_job_pool_wait_for_slot (GiosJobPool      *pool,
                                             guint             max_jobs,
                                             GiosGate         *gate,
                                             gint64            deadline,
                                             GCancellable     *cancellable,
                                             GError          **error);
guint           gios_job_pool_get_n_jobs (GiosJobPool   *pool);
/* Waits until no job runs, @timeout_ms (-1: none) or @cancellable. */
gboolean        gios_job_pool_wait_all (GiosJobPool     *pool,
                                        int              timeout_ms,
                                        GCancellable    *cancellable,
                                        GError         **error);
/* Stops accepting (a drain), from any thread: wait_for_slot() fails with
 * G_IO_ERROR_CLOSED from now on, waits in it wake, and running jobs go on,
 * until cancel(). */
void            gios_job_pool_stop_accepting (GiosJobPool *pool);
/* Cancels the running jobs' cancellable and drops their connections
 * without sending what they buffered; later jobs get a fresh cancellable.
 * Returns how many jobs were running. */
guint           gios_job_pool_cancel   (GiosJobPool     *pool);
/* The cancellable that cancel() cancels (for connections served on a main
 * loop by their run method). */
GCancellable   *gios_job_pool_get_cancellable (GiosJobPool *pool);

G_END_DECLS
