/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The asynchronous calls of GiosDeviceStream: one read call (bytes or a
 * line) and one write call (a write or a flush) may be pending at a time.
 * They step on the device's watch (gios-device-stream-watch.c) without
 * blocking, and frame lines with the same framer as the blocking calls. A
 * device without a descriptor is read on a thread instead. Each is a
 * GiosAsyncCall (gios-async-call.h), which calls back in the iteration
 * that finished it.
 */

#include "gios-device-stream-impl.h"
#include "gios-async-call.h"
#include "gios-task-guard.h"

/* The most an async read_bytes receives through the stack. */
#define ASYNC_STACK_CHUNK (16 * 1024)

typedef enum {
  OP_READ_BYTES,
  OP_READ_LINE,
  OP_READ_LINE_BYTES,
  OP_FLUSH,
  OP_WRITE,
} OpKind;

typedef struct
{
  OpKind kind;
  gsize count;           /* read_bytes: the most bytes */
  GiosLineScan scan;     /* the lines */
  gsize length;          /* read_line: the length returned */
  GBytes *data;          /* write: what is still to buffer */
  int timeout;
  gboolean capped;       /* the read cap set the timeout */
  GiosTaskGuard guard;   /* the timeout and the cancellable */
} AsyncOp;

static gboolean
is_write (const AsyncOp *op)
{
  return op->kind == OP_FLUSH || op->kind == OP_WRITE;
}

static void
async_op_free (AsyncOp *op)
{
  gios_task_guard_stop (&op->guard);
  g_clear_pointer (&op->data, g_bytes_unref);
  g_free (op);
}

/* Takes the pending call of @slot off the stream, so that its callback can
 * start the next one, and stops its timeout and cancellation sources. */
static GiosAsyncCall *
take_call (GiosDeviceStream  *self,
           GiosAsyncCall    **slot)
{
  GiosAsyncCall *call = g_steal_pointer (slot);
  AsyncOp *op = _gios_async_call_get_data (call);

  gios_task_guard_stop (&op->guard);
  if (slot == &PRIV (self)->write_call)
    PRIV (self)->write_waits_out = FALSE;
  _gios_device_stream_update_watch (self);
  return call;
}

static void
fail_call (GiosDeviceStream  *self,
           GiosAsyncCall    **slot,
           GError            *error)
{
  g_autoptr(GiosAsyncCall) call = take_call (self, slot);

  _gios_async_call_return_error (call, error);
}

static void
return_pointer (GiosDeviceStream  *self,
                GiosAsyncCall    **slot,
                gpointer           result,
                GDestroyNotify     notify)
{
  g_autoptr(GiosAsyncCall) call = take_call (self, slot);

  _gios_device_stream_release_buffers (self);
  _gios_async_call_return_pointer (call, result, notify);
}

void
_gios_device_stream_fail_async (GiosDeviceStream *self,
                                const char       *message)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->read_call != NULL)
    fail_call (self, &priv->read_call, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, _(message)));
  if (priv->write_call != NULL)
    fail_call (self, &priv->write_call, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, _(message)));
}

/* Frames what is buffered: TRUE when the read call finished. */
static gboolean
read_from_buffer (GiosDeviceStream *self,
                  AsyncOp          *op)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GError *error = NULL;
  gpointer line;

  if (op->kind == OP_READ_BYTES)
    {
      gsize count = MIN (op->count, gios_in_buffer_length (&priv->in));
      GBytes *bytes;

      if (count == 0 && !op->scan.at_end && op->count > 0)
        return FALSE;
      bytes = g_bytes_new (count ? gios_in_buffer_peek (&priv->in) : NULL, count);
      gios_in_buffer_consume (&priv->in, count);
      return_pointer (self, &priv->read_call, bytes, (GDestroyNotify) g_bytes_unref);
      return TRUE;
    }

  switch (gios_line_scan (&op->scan, &priv->in, &error))
    {
    case GIOS_FRAME_NEED_MORE:
      return FALSE;
    case GIOS_FRAME_FAILED:
      fail_call (self, &priv->read_call, error);
      return TRUE;
    case GIOS_FRAME_DONE:
    default:
      break;
    }
  if (op->scan.consumed == 0)
    line = NULL;
  else if (op->kind == OP_READ_LINE_BYTES)
    line = _gios_device_stream_take_line_bytes (self, &op->scan);
  else if (_gios_device_stream_check_text (self, &op->scan, &error))
    line = _gios_device_stream_take_line (self, &op->scan);
  else
    {
      fail_call (self, &priv->read_call, error);
      return TRUE;
    }
  op->length = op->scan.line_len;
  return_pointer (self, &priv->read_call, line,
                  op->kind == OP_READ_LINE_BYTES ? (GDestroyNotify) g_bytes_unref : g_free);
  return TRUE;
}

/* Receives once, without waiting: the watch said the device is readable.
 * Returns FALSE when the read call finished (or failed) meanwhile. */
static gboolean
receive_once (GiosDeviceStream *self,
              AsyncOp          *op)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GError *error = NULL;
  GiosGateFrame frame;
  gssize n;

  if (!_gios_device_stream_enter_step (self, &frame, &error))
    {
      fail_call (self, &priv->read_call, error);
      return FALSE;
    }
  /* Bytes for a read_bytes call with nothing buffered go through the
   * stack: the GBytes copies them anyway, and the input buffer is not
   * allocated just to be freed again (see release_buffers). */
  if (op->kind == OP_READ_BYTES && op->count > 0 && gios_in_buffer_length (&priv->in) == 0 &&
      priv->in.size <= ASYNC_STACK_CHUNK)
    {
      guint8 chunk[ASYNC_STACK_CHUNK];

      n = _gios_device_stream_receive (self, chunk, MIN (op->count, priv->in.size), 0, NULL, &error);
      _gios_device_stream_leave_step (self, &frame);
      if (n > 0)
        {
          _gios_device_stream_set_eof (self, FALSE);
          return_pointer (self, &priv->read_call, g_bytes_new (chunk, n),
                          (GDestroyNotify) g_bytes_unref);
          return FALSE;
        }
      if (n == 0)
        _gios_device_stream_set_eof (self, TRUE);
    }
  else
    {
      gsize total = op->kind == OP_READ_BYTES ? 0 : gios_line_fill_total (&op->scan, &priv->in);

      n = _gios_device_stream_fill (self, total, 0, NULL, &error);
      _gios_device_stream_leave_step (self, &frame);
    }
  if (n == 0)
    op->scan.at_end = TRUE;
  else if (n < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          fail_call (self, &priv->read_call, error);
          return FALSE;
        }
      /* Nothing there after all: wait for the next event. */
      g_error_free (error);
      _gios_device_stream_update_watch (self);
      return FALSE;
    }
  return TRUE;
}

/* Frames what is buffered; receives once more only when the watch said the
 * device is readable (@readable), so that a read started with nothing
 * buffered costs no failed receive. */
static void
read_step (GiosDeviceStream *self,
           gboolean          readable)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  for (;;)
    {
      AsyncOp *op = _gios_async_call_get_data (priv->read_call);

      if (read_from_buffer (self, op))
        return;
      if (!readable && !priv->input_held)
        {
          _gios_device_stream_release_buffers (self);
          _gios_device_stream_update_watch (self);
          return;
        }
      readable = FALSE;
      if (!receive_once (self, op))
        return;
    }
}

static void
write_step (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  AsyncOp *op = _gios_async_call_get_data (priv->write_call);
  GError *error = NULL;
  GiosGateFrame frame;
  gboolean ok;

  if (!_gios_device_stream_enter_step (self, &frame, &error))
    {
      fail_call (self, &priv->write_call, error);
      return;
    }
  if (op->kind == OP_WRITE)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (op->data, &size);

      ok = _gios_device_stream_make_room_now (self, size, &error);
      if (ok)
        gios_out_buffer_append (&priv->out, data, size);
    }
  else
    ok = _gios_device_stream_flush_buffer (self, 0, NULL, &error);
  _gios_device_stream_leave_step (self, &frame);

  if (ok)
    {
      g_autoptr(GiosAsyncCall) call = take_call (self, &priv->write_call);

      if (op->kind == OP_FLUSH)
        _gios_device_stream_release_buffers (self);
      _gios_async_call_return_boolean (call, TRUE);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
           g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      g_error_free (error);
      priv->write_waits_out = TRUE;
      _gios_device_stream_update_watch (self);
    }
  else
    fail_call (self, &priv->write_call, error);
}

void
_gios_device_stream_step_async (GiosDeviceStream *self,
                                GIOCondition      revents,
                                gboolean          recheck)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->read_call != NULL && (recheck || (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR))))
    read_step (self, (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) != 0);
  if (priv->write_call != NULL && (recheck || (revents & (G_IO_OUT | G_IO_HUP | G_IO_ERR))))
    write_step (self);
}

static const char *
op_awaits (const AsyncOp *op)
{
  switch (op->kind)
    {
    case OP_READ_LINE:
    case OP_READ_LINE_BYTES:
      return N_("a line");
    case OP_FLUSH:
    case OP_WRITE:
      return N_("the peer to take output");
    case OP_READ_BYTES:
    default:
      return N_("input");
    }
}

/* The call's time is up, or its cancellable was cancelled. */
static void
on_async_limit (gpointer  data,
                GError   *cancelled)
{
  GiosAsyncCall *call = data;
  GiosDeviceStream *self = _gios_async_call_get_source_object (call);
  GiosDeviceStreamPrivate *priv = PRIV (self);
  AsyncOp *op = _gios_async_call_get_data (call);
  GiosAsyncCall **slot = priv->read_call == call ? &priv->read_call : &priv->write_call;

  if (cancelled != NULL)
    {
      fail_call (self, slot, cancelled);
      return;
    }

  /* One last try before failing, without waiting: the step start_async made
   * pending has not run yet when the timeout outranks the reactor, and a
   * timeout of 0 still means "what can be done now". The guard holds a
   * reference on @call, so @op outlives the step. */
  if (is_write (op))
    write_step (self);
  else
    read_step (self, TRUE);
  if (*slot != call)
    return;   /* finished */

  fail_call (self, slot,
             _gios_device_stream_timeout_error (self, is_write (op) ? GIOS_CALL_WRITE : GIOS_CALL_READ,
                                                op_awaits (op), op->timeout, op->capped));
}

/* A device without a descriptor: the blocking call, on a thread. */
static void
run_in_thread (GiosAsyncCall *call,
               gpointer       source_object,
               gpointer       data,
               GCancellable  *cancellable)
{
  GiosDeviceStream *self = source_object;
  AsyncOp *op = data;
  GError *error = NULL;
  gpointer result = NULL;
  GDestroyNotify notify = NULL;

  switch (op->kind)
    {
    case OP_READ_BYTES:
      result = gios_device_stream_read_bytes (self, op->count, op->timeout, cancellable, &error);
      notify = (GDestroyNotify) g_bytes_unref;
      break;
    case OP_READ_LINE:
      result = gios_device_stream_read_line (self, op->scan.limit, &op->length, op->timeout,
                                             cancellable, &error);
      notify = g_free;
      break;
    case OP_READ_LINE_BYTES:
      result = gios_device_stream_read_line_bytes (self, op->scan.limit, op->timeout,
                                                   cancellable, &error);
      notify = (GDestroyNotify) g_bytes_unref;
      break;
    case OP_WRITE:
      result = GINT_TO_POINTER (gios_device_stream_write_bytes (self, op->data, cancellable, &error));
      break;
    case OP_FLUSH:
    default:
      result = GINT_TO_POINTER (gios_device_stream_flush (self, op->timeout, cancellable, &error));
      break;
    }
  if (error != NULL)
    _gios_async_call_return_error (call, error);
  else
    _gios_async_call_return_pointer (call, result, notify);
}

static void
start_async (GiosDeviceStream    *self,
             AsyncOp             *op,
             int                  timeout_ms,
             int                  io_priority,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data,
             gpointer             source_tag)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GiosAsyncCall **slot = is_write (op) ? &priv->write_call : &priv->read_call;
  g_autoptr(GiosAsyncCall) call = _gios_async_call_new (self, cancellable, callback, user_data,
                                                        source_tag);
  GMainContext *context = _gios_async_call_get_context (call);
  GError *error = NULL;
  GiosGateFrame frame;
  int cap = priv->read_cap;

  _gios_async_call_set_priority (call, io_priority);
  op->timeout = _gios_call_resolve_timeout (self, timeout_ms);
  /* A read waits at most the read cap (a server's idle-timeout). */
  op->capped = !is_write (op) && cap >= 0 && (op->timeout < 0 || op->timeout > cap);
  if (op->capped)
    op->timeout = cap;
  _gios_async_call_set_data (call, op, (GDestroyNotify) async_op_free);

  if (*slot != NULL)
    {
      _gios_async_call_return_error (call, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_PENDING,
                                                                _("The stream has a call of this kind pending already")));
      return;
    }
  if (_gios_async_call_return_error_if_cancelled (call))
    return;
  if (!_gios_device_stream_enter_step (self, &frame, &error))
    {
      _gios_async_call_return_error (call, error);
      return;
    }
  _gios_device_stream_leave_step (self, &frame);

  if (priv->device_fd < 0)
    {
      _gios_async_call_run_in_thread (call, run_in_thread);
      return;
    }
  if (!_gios_device_stream_ensure_watch (self, context, &error))
    {
      _gios_async_call_return_error (call, error);
      return;
    }

  gios_guard_start (&op->guard, call, context, io_priority, op->timeout, cancellable,
                    on_async_limit);

  *slot = g_steal_pointer (&call);
  /* The step at once: a call that finishes now (output sent, or room to
   * write into, or input buffered) calls back once its caller's callback
   * has returned, in this iteration when that runs in the reactor's
   * dispatch (gios-async-call.h). A read with nothing buffered just waits
   * for the device. */
  if (is_write (op))
    write_step (self);
  else
    read_step (self, FALSE);
}

static AsyncOp *
read_op_new (OpKind kind,
             GiosDeviceStream *self,
             gsize  limit)
{
  AsyncOp *op = g_new0 (AsyncOp, 1);
  GiosDeviceStreamPrivate *priv = PRIV (self);

  op->kind = kind;
  op->count = limit;
  gios_line_scan_init (&op->scan, priv->terminator, priv->terminator_len,
                       limit > 0 ? limit : GIOS_DEFAULT_MAX_LINE_LENGTH);
  return op;
}

/* A write (of @data, which it takes) or a flush. */
static AsyncOp *
write_op_new (OpKind  kind,
              GBytes *data)
{
  AsyncOp *op = g_new0 (AsyncOp, 1);

  op->kind = kind;
  op->data = data;
  return op;
}

static gpointer
propagate_pointer (GiosDeviceStream  *self,
                   GAsyncResult      *result,
                   gpointer           source_tag,
                   GError           **error)
{
  g_return_val_if_fail (_gios_async_call_is_valid (result, self, source_tag), NULL);

  return _gios_async_call_propagate_pointer (GIOS_ASYNC_CALL (result), error);
}

static gboolean
propagate_boolean (GiosDeviceStream  *self,
                   GAsyncResult      *result,
                   gpointer           source_tag,
                   GError           **error)
{
  g_return_val_if_fail (_gios_async_call_is_valid (result, self, source_tag), FALSE);

  return _gios_async_call_propagate_boolean (GIOS_ASYNC_CALL (result), error);
}

/**
 * gios_device_stream_read_bytes_async:
 * @self: a [class@Gios.DeviceStream]
 * @count: the most bytes to return
 * @timeout_ms: how long to wait for the first byte, in milliseconds
 * @io_priority: the priority of the request
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when the bytes are there
 * @user_data: data for @callback
 *
 * Reads what is there, up to @count bytes, as
 * [method@Gios.DeviceStream.read_bytes] does, without blocking: @callback is
 * called on the thread-default main context of the caller. One read call
 * (this one or a `read_line` one) may be pending on a stream at a time.
 *
 * Since: 0.1
 */
void
gios_device_stream_read_bytes_async (GiosDeviceStream    *self,
                                     gsize                count,
                                     int                  timeout_ms,
                                     int                  io_priority,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_async (self, read_op_new (OP_READ_BYTES, self, count), timeout_ms, io_priority,
               cancellable, callback, user_data, gios_device_stream_read_bytes_async);
}

/**
 * gios_device_stream_read_bytes_finish:
 * @self: a [class@Gios.DeviceStream]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.DeviceStream.read_bytes_async].
 *
 * Returns: (transfer full): the bytes read, empty at end of input, or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
GBytes *
gios_device_stream_read_bytes_finish (GiosDeviceStream  *self,
                                      GAsyncResult      *result,
                                      GError           **error)
{
  return propagate_pointer (self, result, gios_device_stream_read_bytes_async, error);
}

/**
 * gios_device_stream_read_line_async:
 * @self: a [class@Gios.DeviceStream]
 * @max_length: the longest line accepted, in bytes without the terminator;
 *   0 for [const@Gios.DEFAULT_MAX_LINE_LENGTH]
 * @timeout_ms: how long the whole line may take, in milliseconds
 * @io_priority: the priority of the request
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when the line is there
 * @user_data: data for @callback
 *
 * Reads one line, as [method@Gios.DeviceStream.read_line] does, without
 * blocking: @callback is called on the thread-default main context of the
 * caller. Its rules hold here too: one timeout for the whole line, nothing
 * consumed on failure, %GIOS_ERROR_LINE_TOO_LONG past @max_length,
 * %G_IO_ERROR_INVALID_DATA for a line that is not text.
 *
 * Since: 0.1
 */
void
gios_device_stream_read_line_async (GiosDeviceStream    *self,
                                    gsize                max_length,
                                    int                  timeout_ms,
                                    int                  io_priority,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_async (self, read_op_new (OP_READ_LINE, self, max_length), timeout_ms, io_priority,
               cancellable, callback, user_data, gios_device_stream_read_line_async);
}

/**
 * gios_device_stream_read_line_finish:
 * @self: a [class@Gios.DeviceStream]
 * @result: the result passed to the callback
 * @length: (out) (optional): where to store the length of the line
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.DeviceStream.read_line_async].
 *
 * Returns: (transfer full) (nullable): the line without its terminator;
 *   %NULL at end of input or on error
 *
 * Since: 0.1
 */
char *
gios_device_stream_read_line_finish (GiosDeviceStream  *self,
                                     GAsyncResult      *result,
                                     gsize             *length,
                                     GError           **error)
{
  char *line = propagate_pointer (self, result, gios_device_stream_read_line_async, error);

  if (length != NULL)
    *length = line != NULL ? ((AsyncOp *) _gios_async_call_get_data (GIOS_ASYNC_CALL (result)))->length : 0;
  return line;
}

/**
 * gios_device_stream_read_line_bytes_async:
 * @self: a [class@Gios.DeviceStream]
 * @max_length: the longest line accepted, in bytes without the terminator;
 *   0 for [const@Gios.DEFAULT_MAX_LINE_LENGTH]
 * @timeout_ms: how long the whole line may take, in milliseconds
 * @io_priority: the priority of the request
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when the line is there
 * @user_data: data for @callback
 *
 * Reads one line of any bytes, as
 * [method@Gios.DeviceStream.read_line_bytes] does, without blocking, as
 * [method@Gios.DeviceStream.read_line_async] does.
 *
 * Since: 0.2
 */
void
gios_device_stream_read_line_bytes_async (GiosDeviceStream    *self,
                                          gsize                max_length,
                                          int                  timeout_ms,
                                          int                  io_priority,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_async (self, read_op_new (OP_READ_LINE_BYTES, self, max_length), timeout_ms,
               io_priority, cancellable, callback, user_data,
               gios_device_stream_read_line_bytes_async);
}

/**
 * gios_device_stream_read_line_bytes_finish:
 * @self: a [class@Gios.DeviceStream]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.DeviceStream.read_line_bytes_async].
 *
 * Returns: (transfer full) (nullable): the line without its terminator;
 *   %NULL at end of input or on error
 *
 * Since: 0.2
 */
GBytes *
gios_device_stream_read_line_bytes_finish (GiosDeviceStream  *self,
                                           GAsyncResult      *result,
                                           GError           **error)
{
  return propagate_pointer (self, result, gios_device_stream_read_line_bytes_async, error);
}

/**
 * gios_device_stream_flush_async:
 * @self: a [class@Gios.DeviceStream]
 * @timeout_ms: how long sending may take, in milliseconds
 * @io_priority: the priority of the request
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when everything was sent
 * @user_data: data for @callback
 *
 * Sends every buffered byte, as [method@Gios.DeviceStream.flush] does,
 * without blocking: @callback is called on the thread-default main context
 * of the caller. One write call (this one or a `write` one) may be pending
 * on a stream at a time.
 *
 * Since: 0.1
 */
void
gios_device_stream_flush_async (GiosDeviceStream    *self,
                                int                  timeout_ms,
                                int                  io_priority,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_async (self, write_op_new (OP_FLUSH, NULL), timeout_ms, io_priority, cancellable,
               callback, user_data, gios_device_stream_flush_async);
}

/**
 * gios_device_stream_flush_finish:
 * @self: a [class@Gios.DeviceStream]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.DeviceStream.flush_async].
 *
 * Returns: %TRUE when everything was sent
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_flush_finish (GiosDeviceStream  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  return propagate_boolean (self, result, gios_device_stream_flush_async, error);
}

/**
 * gios_device_stream_write_bytes_async:
 * @self: a [class@Gios.DeviceStream]
 * @bytes: the bytes to write
 * @timeout_ms: how long to wait for room in the output buffer, in
 *   milliseconds
 * @io_priority: the priority of the request
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called once @bytes are buffered
 * @user_data: data for @callback
 *
 * Buffers @bytes as [method@Gios.DeviceStream.write] does, without
 * blocking: when the output buffer has no room for them, what is buffered
 * is sent as the peer reads, and @callback is called on the thread-default
 * main context of the caller once all of @bytes are buffered (a write
 * larger than the buffer waits for it to be empty). Nothing of @bytes is
 * buffered when the call fails. Flush to send them.
 *
 * This is how a main-loop server writes to a peer that may be slow to
 * read: wait for the callback before writing more, and the output buffer
 * never holds more than [property@Gios.DeviceStream:output-buffer-size]
 * bytes beyond one write.
 *
 * Since: 0.2
 */
void
gios_device_stream_write_bytes_async (GiosDeviceStream    *self,
                                      GBytes              *bytes,
                                      int                  timeout_ms,
                                      int                  io_priority,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (bytes != NULL);
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_async (self, write_op_new (OP_WRITE, g_bytes_ref (bytes)), timeout_ms, io_priority,
               cancellable, callback, user_data, gios_device_stream_write_bytes_async);
}

/**
 * gios_device_stream_write_bytes_finish:
 * @self: a [class@Gios.DeviceStream]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.DeviceStream.write_bytes_async].
 *
 * Returns: %TRUE when the bytes were buffered
 *
 * Since: 0.2
 */
gboolean
gios_device_stream_write_bytes_finish (GiosDeviceStream  *self,
                                       GAsyncResult      *result,
                                       GError           **error)
{
  return propagate_boolean (self, result, gios_device_stream_write_bytes_async, error);
}

/**
 * gios_device_stream_write_async:
 * @self: a [class@Gios.DeviceStream]
 * @data: (array length=count) (element-type guint8): the bytes to write;
 *   copied, so they need not outlive the call
 * @count: the number of bytes in @data
 * @timeout_ms: how long to wait for room in the output buffer, in
 *   milliseconds
 * @io_priority: the priority of the request
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called once @data is buffered
 * @user_data: data for @callback
 *
 * Like [method@Gios.DeviceStream.write_bytes_async], with the bytes in a
 * buffer.
 *
 * Since: 0.2
 */
void
gios_device_stream_write_async (GiosDeviceStream    *self,
                                const guint8        *data,
                                gsize                count,
                                int                  timeout_ms,
                                int                  io_priority,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (data != NULL || count == 0);
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  start_async (self, write_op_new (OP_WRITE, g_bytes_new (data, count)), timeout_ms,
               io_priority, cancellable, callback, user_data, gios_device_stream_write_async);
}

/**
 * gios_device_stream_write_finish:
 * @self: a [class@Gios.DeviceStream]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.DeviceStream.write_async].
 *
 * Returns: %TRUE when the bytes were buffered
 *
 * Since: 0.2
 */
gboolean
gios_device_stream_write_finish (GiosDeviceStream  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  return propagate_boolean (self, result, gios_device_stream_write_async, error);
}

gboolean
_gios_device_stream_has_pending_calls (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  return priv->read_call != NULL || priv->write_call != NULL;
}
