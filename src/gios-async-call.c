/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-private.h"
#include "gios-async-call.h"
#include "gios-reactor-private.h"

struct _GiosAsyncCall
{
  GObject parent_instance;

  GObject *source_object;
  GMainContext *context;
  GCancellable *cancellable;
  GAsyncReadyCallback callback;
  gpointer user_data;
  gpointer source_tag;
  int priority;
  gpointer data;
  GDestroyNotify data_notify;
  GiosAsyncCallThreadFunc thread_func;

  gpointer result;              /* a boolean with GPOINTER_TO_INT */
  GDestroyNotify result_notify; /* until propagated */
  GError *error;
  GiosDeferral deferral;        /* while the reactor holds it */
  guint returned : 1;
  guint propagated : 1;
};

static void async_result_iface_init (GAsyncResultIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (GiosAsyncCall, _gios_async_call, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_RESULT, async_result_iface_init))

static void
_gios_async_call_finalize (GObject *object)
{
  GiosAsyncCall *call = GIOS_ASYNC_CALL (object);

  if (call->result_notify != NULL)
    call->result_notify (call->result);
  g_clear_error (&call->error);
  if (call->data_notify != NULL)
    call->data_notify (call->data);
  g_clear_object (&call->cancellable);
  g_clear_object (&call->source_object);
  g_main_context_unref (call->context);

  G_OBJECT_CLASS (_gios_async_call_parent_class)->finalize (object);
}

static void
_gios_async_call_class_init (GiosAsyncCallClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = _gios_async_call_finalize;
}

static void
_gios_async_call_init (GiosAsyncCall *call)
{
  call->priority = G_PRIORITY_DEFAULT;
}

static gpointer
get_user_data (GAsyncResult *result)
{
  return GIOS_ASYNC_CALL (result)->user_data;
}

static GObject *
get_source_object (GAsyncResult *result)
{
  GiosAsyncCall *call = GIOS_ASYNC_CALL (result);

  return call->source_object != NULL ? g_object_ref (call->source_object) : NULL;
}

static gboolean
is_tagged (GAsyncResult *result,
           gpointer      source_tag)
{
  return GIOS_ASYNC_CALL (result)->source_tag == source_tag;
}

static void
async_result_iface_init (GAsyncResultIface *iface)
{
  iface->get_user_data = get_user_data;
  iface->get_source_object = get_source_object;
  iface->is_tagged = is_tagged;
}

GiosAsyncCall *
_gios_async_call_new (gpointer             source_object,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data,
                      gpointer             source_tag)
{
  GiosAsyncCall *call = g_object_new (GIOS_TYPE_ASYNC_CALL, NULL);

  call->source_object = source_object != NULL ? g_object_ref (source_object) : NULL;
  call->context = g_main_context_ref_thread_default ();
  call->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  call->callback = callback;
  call->user_data = user_data;
  call->source_tag = source_tag;
  return call;
}

void
_gios_async_call_set_priority (GiosAsyncCall *call,
                               int            priority)
{
  call->priority = priority;
}

void
_gios_async_call_set_data (GiosAsyncCall  *call,
                           gpointer        data,
                           GDestroyNotify  notify)
{
  if (call->data_notify != NULL)
    call->data_notify (call->data);
  call->data = data;
  call->data_notify = notify;
}

gpointer
_gios_async_call_get_data (GiosAsyncCall *call)
{
  return call->data;
}

gpointer
_gios_async_call_get_source_object (GiosAsyncCall *call)
{
  return call->source_object;
}

GMainContext *
_gios_async_call_get_context (GiosAsyncCall *call)
{
  return call->context;
}

/* ------------------------------------------------------------------------ */
/* Completion                                                                 */

/* On the call's context, as GTask does: the callback's own calls default
 * to it even where it is iterated without being thread-default. */
static void
call_back (GiosAsyncCall *call)
{
  g_main_context_push_thread_default (call->context);
  if (call->callback != NULL)
    call->callback (call->source_object, G_ASYNC_RESULT (call), call->user_data);
  g_main_context_pop_thread_default (call->context);
}

static void
on_deferred (GiosDeferral *deferral,
             gboolean      run)
{
  GiosAsyncCall *call = (GiosAsyncCall *) ((guint8 *) deferral - G_STRUCT_OFFSET (GiosAsyncCall, deferral));

  if (run)
    call_back (call);
  g_object_unref (call);
}

static gboolean
on_idle (gpointer data)
{
  call_back (data);
  return G_SOURCE_REMOVE;
}

/* Inside the dispatch of the context's reactor the callback is deferred to
 * the end of the callback running now; anywhere else it gets an idle
 * source. Both hold a reference on the call until it has called back. */
static void
deliver (GiosAsyncCall *call)
{
  GiosReactor *reactor = _gios_reactor_get_dispatching (call->context);
  GSource *source;

  if (reactor != NULL)
    {
      call->deferral.func = on_deferred;
      _gios_reactor_defer (reactor, &call->deferral);
      g_object_ref (call);
      return;
    }
  source = g_idle_source_new ();
  g_source_set_priority (source, call->priority);
  g_source_set_static_name (source, "[gios] async call");
  g_source_set_callback (source, on_idle, g_object_ref (call), g_object_unref);
  g_source_attach (source, call->context);
  g_source_unref (source);
}

void
_gios_async_call_return_pointer (GiosAsyncCall  *call,
                                 gpointer        result,
                                 GDestroyNotify  notify)
{
  g_return_if_fail (!call->returned);

  call->returned = TRUE;
  call->result = result;
  call->result_notify = notify;
  deliver (call);
}

void
_gios_async_call_return_boolean (GiosAsyncCall *call,
                                 gboolean       result)
{
  _gios_async_call_return_pointer (call, GINT_TO_POINTER (result), NULL);
}

void
_gios_async_call_return_error (GiosAsyncCall *call,
                               GError        *error)
{
  g_return_if_fail (!call->returned);
  g_return_if_fail (error != NULL);

  call->returned = TRUE;
  call->error = error;
  deliver (call);
}

gboolean
_gios_async_call_return_error_if_cancelled (GiosAsyncCall *call)
{
  GError *error = NULL;

  if (!g_cancellable_set_error_if_cancelled (call->cancellable, &error))
    return FALSE;
  _gios_async_call_return_error (call, error);
  return TRUE;
}

/* The worker holds a reference on the call in its task's data. */
static void
run_on_worker (GTask        *task,
               gpointer      source_object,
               gpointer      data,
               GCancellable *cancellable)
{
  GiosAsyncCall *call = data;

  call->thread_func (call, call->source_object, call->data, call->cancellable);
  g_task_return_boolean (task, TRUE);
}

void
_gios_async_call_run_in_thread (GiosAsyncCall           *call,
                                GiosAsyncCallThreadFunc  func)
{
  /* GTask's pool, whose threads grow as their calls block; the call
   * itself is returned from the worker, through an idle source. */
  g_autoptr(GTask) worker = g_task_new (NULL, NULL, NULL, NULL);

  call->thread_func = func;
  g_task_set_priority (worker, call->priority);
  g_task_set_task_data (worker, g_object_ref (call), g_object_unref);
  g_task_run_in_thread (worker, run_on_worker);
}

/* ------------------------------------------------------------------------ */
/* Finishing                                                                  */

gboolean
_gios_async_call_is_valid (GAsyncResult *result,
                           gpointer      source_object,
                           gpointer      source_tag)
{
  GiosAsyncCall *call;

  if (!GIOS_IS_ASYNC_CALL (result))
    return FALSE;
  call = GIOS_ASYNC_CALL (result);
  return call->source_object == source_object && call->source_tag == source_tag;
}

/* As GTask does, a cancelled call fails whatever it had found. */
static gboolean
propagate_error (GiosAsyncCall  *call,
                 GError        **error)
{
  if (g_cancellable_set_error_if_cancelled (call->cancellable, error))
    return TRUE;
  if (call->error == NULL)
    return FALSE;
  g_propagate_error (error, g_steal_pointer (&call->error));
  return TRUE;
}

gpointer
_gios_async_call_propagate_pointer (GiosAsyncCall  *call,
                                    GError        **error)
{
  g_return_val_if_fail (call->returned && !call->propagated, NULL);

  call->propagated = TRUE;
  if (propagate_error (call, error))
    return NULL;
  call->result_notify = NULL;
  return g_steal_pointer (&call->result);
}

gboolean
_gios_async_call_propagate_boolean (GiosAsyncCall  *call,
                                    GError        **error)
{
  return GPOINTER_TO_INT (_gios_async_call_propagate_pointer (call, error));
}
