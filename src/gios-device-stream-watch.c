/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device's watch and the user watches of a GiosDeviceStream.
 *
 * A stream with a descriptor is watched by the reactor (gios-reactor.c) of
 * the main context its asynchronous calls and watches were made on: one
 * reactor watch per stream, armed for what the pending calls and the user
 * watches wait for. Conditions nobody waits for any more are dropped
 * lazily, when an event finds nobody waiting for it and input that could
 * make the loop spin: a read loop costs no epoll_ctl() at all, whether it
 * starts the next read from its callback or once its reply is sent.
 */

#include "gios-device-stream-impl.h"

/* Made pending with this, the watch looks at the buffers and tries the
 * device once, whatever the device said. */
#define RECHECK G_IO_NVAL

struct _UserWatch
{
  guint id;
  GIOCondition condition;
  GiosDeviceStreamWatchFunc func;
  gpointer data;
  GDestroyNotify notify;
  GiosDeviceStream *stream;   /* owned */
  guint removed : 1;
  guint in_call : 1;          /* never called again from inside itself */
};

static GIOCondition
wanted_events (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  /* A write call tries the device first (when it starts):
   * G_IO_OUT is watched only once the device was full. */
  return (priv->read_call ? G_IO_IN : 0) | (priv->write_waits_out ? G_IO_OUT : 0) |
         _gios_device_stream_wanted_by_user_watches (self);
}

void
_gios_device_stream_update_watch (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->watch != NULL)
    _gios_watch_set_events (priv->watch, _gios_watch_get_events (priv->watch) | wanted_events (self));
}

void
_gios_device_stream_recheck (GiosDeviceStream *self)
{
  _gios_watch_set_pending (PRIV (self)->watch, RECHECK);
}

void
_gios_device_stream_more_input (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  priv->input_held = TRUE;
  if (priv->watch != NULL)
    _gios_watch_set_pending (priv->watch, G_IO_IN);
}

/* An async or watched connection spends most of its life waiting: it keeps
 * no empty buffers meanwhile, so that an idle connection costs a few
 * hundred bytes instead of two buffers (32 KiB with the defaults). */
void
_gios_device_stream_release_buffers (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  gios_in_buffer_release (&priv->in, FALSE);
  gios_out_buffer_release (&priv->out);
}

static void
on_device_ready (GiosWatch    *watch,
                 GIOCondition  revents,
                 gpointer      data)
{
  g_autoptr(GiosDeviceStream) self = g_object_ref (data);
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gboolean in_dispatch;

  if (revents == GIOS_WATCH_IDLE)
    {
      if (priv->on_idle != NULL)
        priv->on_idle (self, priv->read_cap);
      return;
    }
  if (revents & G_IO_IN)
    priv->input_drained = FALSE;
  in_dispatch = priv->in_dispatch;
  priv->in_dispatch = TRUE;
  _gios_device_stream_step_async (self, revents & ~RECHECK, (revents & RECHECK) != 0);
  if (priv->user_watches != NULL && priv->watch == watch)
    _gios_device_stream_dispatch_user_watches (self, revents & ~RECHECK);
  priv->in_dispatch = in_dispatch;

  /* What is waited for now, and what is watched already and cannot make the
   * loop spin: a condition that did not hold, and input read to the
   * bottom (a short receive; the descriptor is level-triggered, so it
   * reports input again only when more arrives). A condition that held and
   * that nobody waits for is dropped. A request-response loop thus keeps
   * its interest registered and costs no epoll_ctl() per request; the
   * call also restores what a callback that iterated the context left
   * unwatched while it ran. */
  if (priv->watch != NULL && priv->watch == watch)
    {
      GIOCondition keep = _gios_watch_get_events (watch) & ~revents;

      if ((revents & G_IO_IN) && !(revents & (G_IO_HUP | G_IO_ERR)) && priv->input_drained)
        keep |= G_IO_IN;
      _gios_watch_set_events (watch, wanted_events (self) | keep);
      /* Held input is reported as the descriptor reports its own: again
       * in each dispatch while it is there and wanted (a dispatch that
       * framed what was buffered did not receive it). */
      if (priv->input_held && (wanted_events (self) & G_IO_IN))
        _gios_watch_set_pending (watch, G_IO_IN);
    }
}

static void
forget_watch (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GMainContext *context;

  _gios_watch_destroy (g_steal_pointer (&priv->watch));
  context = g_steal_pointer (&priv->watch_context);
  if (context != NULL)
    {
      _gios_device_stream_remove_context (self, context);
      g_main_context_unref (context);
    }
}

gboolean
_gios_device_stream_ensure_watch (GiosDeviceStream  *self,
                                  GMainContext      *context,
                                  GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GiosReactor *reactor;

  if (priv->watch != NULL && priv->watch_context == context)
    return TRUE;
  forget_watch (self);
  reactor = _gios_reactor_ref (context, error);
  if (reactor == NULL)
    return FALSE;
  priv->watch = _gios_reactor_watch (reactor, priv->device_fd, 0, on_device_ready, self);
  _gios_watch_set_idle (priv->watch, priv->read_cap);
  priv->watch_context = g_main_context_ref (context);
  _gios_device_stream_add_context (self, context);
  _gios_device_stream_set_loop (self, context);
  g_source_unref ((GSource *) reactor);
  return TRUE;
}

static void remove_all_user_watches (GiosDeviceStream *self);

void
_gios_device_stream_drop_watches (GiosDeviceStream *self)
{
  forget_watch (self);
  /* Untranslated: translated only when a call is pending (this runs for
   * every connection). */
  _gios_device_stream_fail_async (self, N_("The stream was closed"));
  /* Last: the watches may hold the last references. */
  remove_all_user_watches (self);
}

/* ------------------------------------------------------------------------ */
/* User watches                                                               */

GIOCondition
_gios_device_stream_wanted_by_user_watches (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GIOCondition wanted = 0;

  if (priv->user_watches == NULL)
    return 0;
  for (guint i = 0; i < priv->user_watches->len; i++)
    {
      UserWatch *watch = g_ptr_array_index (priv->user_watches, i);

      /* One that is running waits for nothing: a callback that iterates
       * the context does not make it spin on its own event. */
      if (!watch->removed && !watch->in_call)
        wanted |= watch->condition;
    }
  return wanted & (G_IO_IN | G_IO_OUT);
}

/* Once no dispatch is walking the array, takes the removed watches out,
 * then calls their destroy notify and drops their reference on the stream
 * (the caller holds one of its own). A watch removed from its own callback
 * thus keeps its data until the callback has returned, as a GSource does. */
static void
sweep_user_watches (GiosDeviceStreamPrivate *priv)
{
  g_autoptr(GPtrArray) removed = NULL;

  if (priv->user_dispatching > 0 || priv->user_watches == NULL)
    return;
  for (guint i = priv->user_watches->len; i-- > 0;)
    {
      UserWatch *watch = g_ptr_array_index (priv->user_watches, i);

      if (!watch->removed)
        continue;
      if (removed == NULL)
        removed = g_ptr_array_new ();
      g_ptr_array_add (removed, g_ptr_array_steal_index (priv->user_watches, i));
    }
  if (removed == NULL)
    return;
  for (guint i = removed->len; i-- > 0;)
    {
      UserWatch *watch = g_ptr_array_index (removed, i);

      if (watch->notify != NULL)
        watch->notify (watch->data);
      g_object_unref (watch->stream);
      g_free (watch);
    }
}

static void
remove_all_user_watches (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  g_autoptr(GiosDeviceStream) keep = NULL;

  if (priv->user_watches == NULL || priv->user_watches->len == 0)
    return;
  keep = g_object_ref (self);
  for (guint i = 0; i < priv->user_watches->len; i++)
    ((UserWatch *) g_ptr_array_index (priv->user_watches, i))->removed = TRUE;
  sweep_user_watches (priv);
}

/* Buffered input counts as readable: a watch for input is called again in
 * the next iteration while a callback consumed some and some is left (see
 * dispatch_user_watches). */
static void
recheck_buffered_input (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->watch != NULL && gios_in_buffer_length (&priv->in) > 0 &&
      (_gios_device_stream_wanted_by_user_watches (self) & G_IO_IN))
    _gios_device_stream_recheck (self);
}

void
_gios_device_stream_dispatch_user_watches (GiosDeviceStream *self,
                                           GIOCondition      revents)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  /* Watches added by a callback wait for the next event. */
  guint n = priv->user_watches->len;
  guint64 taken = priv->in.taken;

  priv->user_dispatching++;
  for (guint i = 0; i < n && priv->user_watches != NULL; i++)
    {
      UserWatch *watch = g_ptr_array_index (priv->user_watches, i);
      GIOCondition condition;
      gboolean keep;

      if (watch->removed || watch->in_call)
        continue;
      condition = revents & (watch->condition | G_IO_HUP | G_IO_ERR);
      if ((watch->condition & G_IO_IN) && gios_in_buffer_length (&priv->in) > 0)
        condition |= G_IO_IN;
      if (condition == 0)
        continue;
      watch->in_call = TRUE;
      keep = watch->func (self, condition, watch->data);
      watch->in_call = FALSE;
      if (!keep)
        watch->removed = TRUE;
    }
  priv->user_dispatching--;
  sweep_user_watches (priv);
  /* Input left after a callback consumed some may hold the next request;
   * input no callback took (half a line) waits for more to arrive, so that
   * a callback that reads whole lines does not spin. */
  if (priv->in.taken != taken)
    recheck_buffered_input (self);
  _gios_device_stream_release_buffers (self);
}

/**
 * GiosDeviceStreamWatchFunc:
 * @stream: the watched stream
 * @condition: what holds: %G_IO_IN when input is buffered or the device has
 *   some (or reached its end), %G_IO_OUT when the device takes output,
 *   %G_IO_HUP and %G_IO_ERR whether asked for or not
 * @user_data: the data given to [method@Gios.DeviceStream.add_watch]
 *
 * Called by a watch of [method@Gios.DeviceStream.add_watch].
 *
 * Returns: %G_SOURCE_CONTINUE to keep the watch, %G_SOURCE_REMOVE to
 *   remove it
 *
 * Since: 0.1
 */

/**
 * gios_device_stream_add_watch:
 * @self: a [class@Gios.DeviceStream] with a descriptor: a socket, or a
 *   stream made over one
 * @condition: %G_IO_IN, %G_IO_OUT or both
 * @func: (scope notified) (closure user_data) (destroy notify): called when
 *   @condition holds
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data when the watch is removed
 *
 * Calls @func on the thread-default main context of the caller whenever
 * @condition holds, until it returns %G_SOURCE_REMOVE, the watch is removed
 * with [method@Gios.DeviceStream.remove_watch], or the stream loses its
 * device (it is closed, or a server socket drops its connection).
 *
 * This is the main-loop counterpart of [method@Gios.DeviceStream.poll], and
 * the cheapest way to serve many connections from one thread: in @func,
 * read what is there with a timeout of 0, write the reply and flush it with a
 * timeout of 0; when that flush times out, the unsent bytes stay buffered and
 * a watch for %G_IO_OUT tells when to flush again. Unlike the `_async` calls
 * it makes no [iface@Gio.AsyncResult] per call, and, like them, it costs
 * nothing per idle connection on each main loop iteration.
 *
 * From the first watch on, the stream is served from this main loop: on its
 * thread, the writes and the close of the stream never wait (see
 * [method@Gios.DeviceStream.write]), so one peer that does not read cannot
 * stop the loop. A peer that sends without reading fills the output buffer:
 * when a write fails with %G_IO_ERROR_WOULD_BLOCK, stop reading from it
 * (remove the %G_IO_IN watch) until a %G_IO_OUT watch has flushed what is
 * buffered.
 *
 * Buffered input counts as readable: a watch for %G_IO_IN whose function
 * consumed some input and left some in the buffer is called again in the
 * next iteration. Input that no function consumed, such as half a line that
 * [method@Gios.DeviceStream.read_line] with a timeout of 0 could not return,
 * is reported again only when more arrives, so that a peer cannot make the
 * main loop spin. A watch function is never called again from inside itself,
 * even when it iterates the main context.
 *
 * The watch holds a reference on @self until it is removed. Add and remove
 * watches on the thread that runs the context, as for the `_async` calls;
 * [method@Gios.DeviceStream.close] and
 * [method@Gios.SocketCommon.drop_connection] may be called from any thread
 * (see [method@Gios.DeviceStream.close]).
 *
 * Returns: the watch's identifier, greater than 0
 *
 * Since: 0.1
 */
guint
gios_device_stream_add_watch (GiosDeviceStream          *self,
                              GIOCondition               condition,
                              GiosDeviceStreamWatchFunc  func,
                              gpointer                   user_data,
                              GDestroyNotify             notify)
{
  GiosDeviceStreamPrivate *priv;
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(GError) error = NULL;
  UserWatch *watch;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);
  g_return_val_if_fail (condition != 0 && (condition & ~(G_IO_IN | G_IO_OUT)) == 0, 0);
  g_return_val_if_fail (func != NULL, 0);
  priv = PRIV (self);
  g_return_val_if_fail (priv->device_fd >= 0, 0);

  context = g_main_context_ref_thread_default ();
  if (priv->watch != NULL && priv->watch_context != context)
    {
      g_return_val_if_fail (priv->read_call == NULL && priv->write_call == NULL &&
                            _gios_device_stream_wanted_by_user_watches (self) == 0, 0);
    }
  if (!_gios_device_stream_ensure_watch (self, context, &error))
    {
      /* Only when the process has no descriptor left for epoll. */
      g_critical ("%s", error->message);
      return 0;
    }

  watch = g_new0 (UserWatch, 1);
  watch->id = ++priv->last_watch_id;
  if (watch->id == 0)
    watch->id = ++priv->last_watch_id;
  watch->condition = condition;
  watch->func = func;
  watch->data = user_data;
  watch->notify = notify;
  watch->stream = g_object_ref (self);
  if (priv->user_watches == NULL)
    priv->user_watches = g_ptr_array_new ();
  g_ptr_array_add (priv->user_watches, watch);

  _gios_device_stream_update_watch (self);
  recheck_buffered_input (self);
  return watch->id;
}

/**
 * gios_device_stream_remove_watch:
 * @self: a [class@Gios.DeviceStream]
 * @watch_id: what [method@Gios.DeviceStream.add_watch] returned
 *
 * Removes a watch: its function is not called again, and its destroy
 * notify is called now, or, when this is called from a watch function of
 * @self, once that function has returned. Removing a watch that was already
 * removed (by its function's return value, or because the stream lost its
 * device) does nothing.
 *
 * Since: 0.1
 */
void
gios_device_stream_remove_watch (GiosDeviceStream *self,
                                 guint             watch_id)
{
  GiosDeviceStreamPrivate *priv;
  g_autoptr(GiosDeviceStream) keep = NULL;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (watch_id > 0);
  priv = PRIV (self);

  if (priv->user_watches == NULL)
    return;
  for (guint i = 0; i < priv->user_watches->len; i++)
    {
      UserWatch *watch = g_ptr_array_index (priv->user_watches, i);

      if (watch->id == watch_id && !watch->removed)
        {
          keep = g_object_ref (self);
          watch->removed = TRUE;
          sweep_user_watches (priv);
          return;
        }
    }
}
