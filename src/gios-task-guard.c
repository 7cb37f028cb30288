/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-private.h"
#include "gios-task-guard.h"

/* As with g_task_attach_source(), each source holds a reference on the
 * task, so that the task and its data (which holds the guard) outlive the
 * callback; the guard itself is the sources' callback data, so that
 * guarding a call allocates nothing more than the sources. */
static void
unref_task (gpointer data)
{
  g_object_unref (((GiosTaskGuard *) data)->task);
}

static void
attach (GiosTaskGuard  *guard,
        GSource       **slot,
        GSource        *source,
        GSourceFunc     trampoline)
{
  g_object_ref (guard->task);
  g_source_set_callback (source, trampoline, guard, unref_task);
  g_source_set_priority (source, g_task_get_priority (guard->task));
  g_source_set_static_name (source, "[gios] call limit");
  g_source_attach (source, g_task_get_context (guard->task));
  *slot = source;
}

static gboolean
on_timeout (gpointer data)
{
  GiosTaskGuard *guard = data;

  /* Destroyed on return; unreferenced here, so that the guard forgets it. */
  g_clear_pointer (&guard->timeout, g_source_unref);
  guard->func (guard->task, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  GiosTaskGuard *guard = data;
  GError *error = NULL;

  g_clear_pointer (&guard->cancel, g_source_unref);
  g_cancellable_set_error_if_cancelled (cancellable, &error);
  guard->func (guard->task, error);
  return G_SOURCE_REMOVE;
}

void
gios_task_guard_start (GiosTaskGuard     *guard,
                       GTask             *task,
                       int                timeout_ms,
                       GCancellable      *cancellable,
                       GiosTaskGuardFunc  func)
{
  guard->task = task;
  guard->func = func;
  if (timeout_ms >= 0)
    attach (guard, &guard->timeout, g_timeout_source_new (timeout_ms), on_timeout);
  if (cancellable != NULL)
    attach (guard, &guard->cancel, g_cancellable_source_new (cancellable), G_SOURCE_FUNC (on_cancelled));
}

void
gios_task_guard_stop (GiosTaskGuard *guard)
{
  _gios_clear_source (&guard->timeout);
  _gios_clear_source (&guard->cancel);
}
