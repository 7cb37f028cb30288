/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The limits of an asynchronous call: its timeout and its cancellable, as
 * two sources attached to its main context that end the call when either
 * fires. The async reads and writes of a device stream (a GiosAsyncCall
 * each) and the GTasks of gios_socket_open_async() and others use one each.
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
/* The same for a call of any kind. */
typedef void (*GiosGuardFunc)     (gpointer  call,
                                   GError   *cancelled);

/* Kept in the call's data, which the sources keep alive. */
typedef struct
{
  GSource *timeout;
  GSource *cancel;
  GObject *call;             /* not owned: each source holds a reference */
  GiosTaskGuardFunc task_func;
  GiosGuardFunc func;
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
/* The same for @call, whose sources go on @context at @priority. */
void gios_guard_start      (GiosTaskGuard     *guard,
                            gpointer           call,
                            GMainContext      *context,
                            int                priority,
                            int                timeout_ms,
                            GCancellable      *cancellable,
                            GiosGuardFunc      func);
/* Destroys both sources: nothing fires after this. */
void gios_task_guard_stop  (GiosTaskGuard     *guard);

G_END_DECLS
