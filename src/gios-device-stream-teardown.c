/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The teardown of a device stream's device, from any thread: close() and
 * drop_connection() wake the calls of other threads through the gate and
 * wait for them to leave, hold the main contexts whose dispatches touch the
 * stream (or hand the teardown over to the thread that runs one), send what
 * is buffered within close-timeout, and release the device.
 */

#include "gios-device-stream-impl.h"

#include <sys/socket.h>

typedef struct
{
  GiosDeviceStream *self;   /* owned */
  GiosTeardownFunc redo;
  guint generation;
} Handover;

static void
handover_free (Handover *handover)
{
  g_object_unref (handover->self);
  g_free (handover);
}

static gboolean
handover_run (gpointer data)
{
  Handover *handover = data;

  if ((guint) g_atomic_int_get (&PRIV (handover->self)->device_generation) == handover->generation)
    (void) handover->redo (handover->self, NULL);
  return G_SOURCE_REMOVE;
}

/* Watches and async calls are dispatched by the thread that runs their
 * context, without a lock: only that thread, or one that holds the context
 * while nobody runs it, may remove them. Acquires every registered context,
 * or returns one that another thread runs. */
static GMainContext *
hold_contexts (GiosDeviceStreamPrivate *priv)
{
  g_autoptr(GPtrArray) contexts = NULL;

  /* Most streams never have one: no allocation for them. */
  if (g_atomic_pointer_get (&priv->contexts) == NULL)
    return NULL;
  contexts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_main_context_unref);
  g_mutex_lock (&priv->gate.lock);
  for (guint i = 0; i < priv->contexts->len; i++)
    g_ptr_array_add (contexts, g_main_context_ref (g_ptr_array_index (priv->contexts, i)));
  g_mutex_unlock (&priv->gate.lock);

  for (guint i = 0; i < contexts->len; i++)
    {
      GMainContext *context = g_ptr_array_index (contexts, i);

      if (g_main_context_is_owner (context) ||
          (priv->held != NULL && g_ptr_array_find (priv->held, context, NULL)))
        continue;
      if (!g_main_context_acquire (context))
        return g_main_context_ref (context);
      if (priv->held == NULL)
        priv->held = g_ptr_array_new_with_free_func ((GDestroyNotify) g_main_context_unref);
      g_ptr_array_add (priv->held, g_main_context_ref (context));
    }
  return NULL;
}

static void
release_contexts (GiosDeviceStreamPrivate *priv)
{
  if (priv->held == NULL)
    return;
  for (guint i = 0; i < priv->held->len; i++)
    g_main_context_release (g_ptr_array_index (priv->held, i));
  g_ptr_array_set_size (priv->held, 0);
}

/* Sends what is buffered before a teardown, within close-timeout (not at
 * all on the loop's thread), surviving the teardown's own interrupt. What
 * is left unsent is reported. */
static gboolean
flush_before_teardown (GiosDeviceStream  *self,
                       guint              ticket,
                       GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  g_autoptr(GError) local_error = NULL;
  GiosGateFrame frame;
  int timeout;
  gboolean ok;

  if (priv->out.len == 0 ||
      !gios_gate_enter (&priv->gate, &frame, GIOS_GATE_DEVICE, ticket, NULL))
    return TRUE;
  timeout = _gios_device_stream_on_loop (self) ? 0 : priv->close_timeout;
  ok = _gios_device_stream_flush_buffer (self, _gios_deadline_from_timeout (timeout), NULL,
                                         &local_error);
  gios_gate_leave (&priv->gate, &frame);
  if (ok)
    return TRUE;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 g_dngettext (GETTEXT_PACKAGE,
                              "%zu buffered byte was not sent: the peer did not take it within %d ms (close-timeout)",
                              "%zu buffered bytes were not sent: the peer did not take them within %d ms (close-timeout)",
                              priv->out.len),
                 priv->out.len, timeout);
  else
    g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

gboolean
_gios_device_stream_teardown (GiosDeviceStream  *self,
                              GiosTeardownFunc   redo,
                              GiosReleaseFunc    release,
                              GiosReleaseFunc    done,
                              gboolean           flush,
                              GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  /* Tearing down removes the watches, which may hold the last references. */
  g_autoptr(GiosDeviceStream) keep G_GNUC_UNUSED = g_object_ref (self);
  g_autoptr(GError) local_error = NULL;
  guint ticket;
  gboolean ok;

  /* Before the lock: a teardown that holds it may be sending, and must
   * wake for this one. */
  ticket = gios_gate_interrupt (&priv->gate);
  g_rec_mutex_lock (&priv->teardown);
  if (priv->teardown_depth++ == 0)
    {
      GMainContext *busy = hold_contexts (priv);

      if (busy != NULL)
        {
          Handover *handover = g_new0 (Handover, 1);

          release_contexts (priv);
          priv->teardown_depth--;
          handover->self = g_object_ref (self);
          handover->redo = redo;
          handover->generation = g_atomic_int_get (&priv->device_generation);
          /* Readers everywhere see the end of the input now. */
          gios_gate_shutdown_input (&priv->gate);
          gios_gate_resume (&priv->gate);
          g_rec_mutex_unlock (&priv->teardown);
          g_main_context_invoke_full (busy, G_PRIORITY_DEFAULT, handover_run, handover,
                                      (GDestroyNotify) handover_free);
          g_main_context_unref (busy);
          return TRUE;
        }
    }

  gios_gate_wait_idle (&priv->gate);
  if (flush)
    (void) flush_before_teardown (self, ticket, &local_error);
  ok = release (self, local_error != NULL ? NULL : &local_error);
  gios_gate_resume (&priv->gate);
  if (done != NULL)
    ok = done (self, local_error != NULL ? NULL : &local_error) && ok;
  if (--priv->teardown_depth == 0)
    release_contexts (priv);
  g_rec_mutex_unlock (&priv->teardown);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return ok;
}

GRecMutex *
_gios_device_stream_get_device_lock (GiosDeviceStream *self)
{
  return &PRIV (self)->teardown;
}

void
_gios_device_stream_add_context (GiosDeviceStream *self,
                                 GMainContext     *context)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  g_mutex_lock (&priv->gate.lock);
  if (priv->contexts == NULL)
    priv->contexts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_main_context_unref);
  g_ptr_array_add (priv->contexts, g_main_context_ref (context));
  g_mutex_unlock (&priv->gate.lock);
}

void
_gios_device_stream_remove_context (GiosDeviceStream *self,
                                    GMainContext     *context)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gboolean found;

  g_mutex_lock (&priv->gate.lock);
  found = priv->contexts != NULL && g_ptr_array_remove (priv->contexts, context);
  g_mutex_unlock (&priv->gate.lock);
  g_return_if_fail (found);
}

