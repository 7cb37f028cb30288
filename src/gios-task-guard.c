/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-private.h"
#include "gios-task-guard.h"

/* As with g_task_attach_source(), each source holds a reference on the
 * call, so that the call and its data (which holds the guard) outlive the
 * callback; the guard itself is the sources' callback data, so that
 * guarding a call allocates nothing more than the sources. */
static void
unref_call (gpointer data)
{
  g_object_unref (((GiosTaskGuard *) data)->call);
}

static void
attach (GiosTaskGuard  *guard,
        GSource       **slot,
        GSource        *source,
        GSourceFunc     trampoline,
        GMainContext   *context,
        int             priority)
{
  g_object_ref (guard->call);
  g_source_set_callback (source, trampoline, guard, unref_call);
  g_source_set_priority (source, priority);
  g_source_set_static_name (source, "[gios] call limit");
  g_source_attach (source, context);
  *slot = source;
}

static void
call_func (GiosTaskGuard *guard,
           GError        *cancelled)
{
  if (guard->task_func != NULL)
    guard->task_func (G_TASK (guard->call), cancelled);
  else
    guard->func (guard->call, cancelled);
}

static gboolean
on_timeout (gpointer data)
{
  GiosTaskGuard *guard = data;

  /* Destroyed on return; unreferenced here, so that the guard forgets it. */
  g_clear_pointer (&guard->timeout, g_source_unref);
  call_func (guard, NULL);
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
  call_func (guard, error);
  return G_SOURCE_REMOVE;
}

static void
start (GiosTaskGuard *guard,
       GObject       *call,
       GMainContext  *context,
       int            priority,
       int            timeout_ms,
       GCancellable  *cancellable)
{
  guard->call = call;
  if (timeout_ms >= 0)
    attach (guard, &guard->timeout, g_timeout_source_new (timeout_ms), on_timeout, context, priority);
  if (cancellable != NULL)
    attach (guard, &guard->cancel, g_cancellable_source_new (cancellable),
            G_SOURCE_FUNC (on_cancelled), context, priority);
}

void
gios_task_guard_start (GiosTaskGuard     *guard,
                       GTask             *task,
                       int                timeout_ms,
                       GCancellable      *cancellable,
                       GiosTaskGuardFunc  func)
{
  guard->task_func = func;
  guard->func = NULL;
  start (guard, G_OBJECT (task), g_task_get_context (task), g_task_get_priority (task),
         timeout_ms, cancellable);
}

void
gios_guard_start (GiosTaskGuard *guard,
                  gpointer       call,
                  GMainContext  *context,
                  int            priority,
                  int            timeout_ms,
                  GCancellable  *cancellable,
                  GiosGuardFunc  func)
{
  guard->task_func = NULL;
  guard->func = func;
  start (guard, call, context, priority, timeout_ms, cancellable);
}

void
gios_task_guard_stop (GiosTaskGuard *guard)
{
  _gios_clear_source (&guard->timeout);
  _gios_clear_source (&guard->cancel);
}
