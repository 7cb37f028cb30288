/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The limits of an asynchronous call: its timeout and its cancellable, as
 * two sources attached to its GTask's main context that end the call when
 * either fires. The async reads and writes of a device stream and
 * gios_socket_open_async() use one each.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Called on the task's context when the call's time is up (@cancelled
 * NULL) or its cancellable was cancelled (@cancelled the G_IO_ERROR_CANCELLED
 * error, owned by the callee). The source that fired is already gone from
 * the guard; the other one is still there until gios_task_guard_stop(). */
typedef void (*GiosTaskGuardFunc) (GTask  *task,
                                   GError *cancelled);

/* Kept in the task's data, which the sources keep alive. */
typedef struct
{
  GSource *timeout;
  GSource *cancel;
  GTask *task;               /* not owned: each source holds a reference */
  GiosTaskGuardFunc func;
} GiosTaskGuard;

/* Starts the guard of @task: a timeout of @timeout_ms (-1: none) and, when
 * @cancellable is set, its cancellation. Each source holds a reference on
 * @task until it fires or the guard is stopped: stop it when the task
 * returns. */
void gios_task_guard_start (GiosTaskGuard     *guard,
                            GTask             *task,
                            int                timeout_ms,
                            GCancellable      *cancellable,
                            GiosTaskGuardFunc  func);
/* Destroys both sources: nothing fires after this. */
void gios_task_guard_stop  (GiosTaskGuard     *guard);

G_END_DECLS
