/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-private.h"
#include "gios-task-guard.h"

/* As with g_task_attach_source(), each source holds a reference on the
 * task, so that the task and its data outlive the callback. */
typedef struct
{
  GTask *task;
  GiosTaskGuard *guard;
  GiosTaskGuardFunc func;
} Closure;

static void
closure_free (gpointer data)
{
  Closure *closure = data;

  g_object_unref (closure->task);
  g_free (closure);
}

static void
attach (GiosTaskGuard      *guard,
        GSource           **slot,
        GSource            *source,
        GTask              *task,
        GSourceFunc         trampoline,
        GiosTaskGuardFunc   func)
{
  Closure *closure = g_new (Closure, 1);

  closure->task = g_object_ref (task);
  closure->guard = guard;
  closure->func = func;
  g_source_set_callback (source, trampoline, closure, closure_free);
  g_source_set_priority (source, g_task_get_priority (task));
  g_source_set_static_name (source, "[gios] call limit");
  g_source_attach (source, g_task_get_context (task));
  *slot = source;
}

static gboolean
on_timeout (gpointer data)
{
  Closure *closure = data;

  /* Destroyed on return; unreferenced here, so that the guard forgets it. */
  g_clear_pointer (&closure->guard->timeout, g_source_unref);
  closure->func (closure->task, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  Closure *closure = data;
  GError *error = NULL;

  g_clear_pointer (&closure->guard->cancel, g_source_unref);
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  closure->func (closure->task, error);
  return G_SOURCE_REMOVE;
}

void
gios_task_guard_start (GiosTaskGuard     *guard,
                       GTask             *task,
                       int                timeout_ms,
                       GCancellable      *cancellable,
                       GiosTaskGuardFunc  func)
{
  if (timeout_ms >= 0)
    attach (guard, &guard->timeout, g_timeout_source_new (timeout_ms), task, on_timeout, func);
  if (cancellable != NULL)
    attach (guard, &guard->cancel, g_cancellable_source_new (cancellable), task,
            G_SOURCE_FUNC (on_cancelled), func);
}

void
gios_task_guard_stop (GiosTaskGuard *guard)
{
  _gios_clear_source (&guard->timeout);
  _gios_clear_source (&guard->cancel);
}
