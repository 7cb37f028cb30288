/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosDeviceStream: the object, its properties, the default transport (a
 * GIOStream), call frames and the teardown of a device.
 *
 * The class owns both buffers and every framing rule. Bytes come from and
 * go to the device only through the three class methods receive, send and
 * close_device. The blocking calls are in gios-device-stream-io.c, the
 * asynchronous ones in -async.c, the watches in -watch.c; the gate that
 * calls and teardowns meet at is gios-gate.c.
 */

#include "gios-device-stream-impl.h"
#include "gios-message-private.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <gio/gfiledescriptorbased.h>

/**
 * GiosDeviceStream:
 *
 * A buffered stream of bytes over a device, with millisecond timeouts.
 *
 * `GiosDeviceStream` gives the timeout-driven device model of classic I/O
 * libraries: read what is there, read an exact count, read a line of bounded
 * length, write into a buffer and flush it, poll. Every blocking call takes a
 * `timeout_ms` ([const@Gios.TIMEOUT_FOREVER] waits without limit, 0 does not
 * wait, [const@Gios.TIMEOUT_DEFAULT] uses [property@Gios.DeviceStream:default-timeout])
 * and a [class@Gio.Cancellable]. One timeout covers the whole call, however
 * many partial arrivals it takes, and fails with %G_IO_ERROR_TIMED_OUT.
 *
 * A read that fails (timeout, cancellation, a line too long) consumes
 * nothing: the bytes that did arrive stay buffered for the next call. A write
 * never drops data silently: what could not be sent stays buffered for the
 * next flush, and what a close could not send is reported.
 *
 * Nothing waits forever unless asked to: the sends a call makes without a
 * timeout of its own (a write into a full buffer, the flush of
 * [method@Gios.DeviceStream.close]) wait at most
 * [property@Gios.DeviceStream:close-timeout], and on a stream served from a
 * main loop they do not wait at all.
 *
 * [ctor@Gios.DeviceStream.new] wraps any [class@Gio.IOStream] (a pipe, a
 * file, a serial line). The socket classes, [class@Gios.ServerSocket] and
 * [class@Gios.Socket], derive from it. A subclass for another kind of device
 * implements the `receive`, `send` and `close_device` class methods; see
 * [struct@Gios.DeviceStreamClass].
 *
 * A stream is used by one thread at a time: a call from a second thread
 * while another is in a call on the stream fails with %G_IO_ERROR_PENDING.
 * [method@Gios.DeviceStream.close] and cancellation may come from any
 * thread, and wake a thread blocked in a call on the same stream.
 *
 * A write to a device whose reader has gone fails with an error: like
 * [class@Gio.Socket], the class ignores `SIGPIPE` process-wide, unless the
 * program has installed a handler of its own.
 *
 * Since: 0.1
 */

/* A write on a descriptor-backed stream that poll() reported writable never
 * blocks below this size (a pipe guarantees PIPE_BUF bytes of room). */
#define FD_WRITE_CHUNK 4096

G_DEFINE_TYPE_WITH_PRIVATE (GiosDeviceStream, gios_device_stream, G_TYPE_OBJECT)

gint _gios_device_stream_private_offset;

enum {
  PROP_0,
  PROP_BASE_STREAM,
  PROP_IS_OPEN,
  PROP_AT_END,
  PROP_LINE_TERMINATOR,
  PROP_DEFAULT_TIMEOUT,
  PROP_CLOSE_TIMEOUT,
  PROP_INPUT_BUFFER_SIZE,
  PROP_OUTPUT_BUFFER_SIZE,
  N_PROPS,
  /* Then the message layer's: see gios-message.c. */
};

static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------------------------ */
/* Call frames                                                                */

int
_gios_call_resolve_timeout (GiosDeviceStream *stream,
                            int               timeout_ms)
{
  if (timeout_ms == GIOS_TIMEOUT_DEFAULT)
    return PRIV (stream)->default_timeout;
  return timeout_ms;
}

gboolean
_gios_call_begin (GiosCall          *call,
                  GiosDeviceStream  *stream,
                  GiosCallKind       kind,
                  const char        *what,
                  int                timeout_ms,
                  GError           **error)
{
  return _gios_call_begin_here (call, stream, kind, what, timeout_ms, error);
}

GError *
_gios_device_stream_timeout_error (GiosDeviceStream *self,
                                   GiosCallKind      kind,
                                   const char       *what,
                                   int               timeout,
                                   gboolean          capped)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (capped)
    return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                        /* Translators: the %s is what was awaited ("a line", …) */
                        _("No input for %d ms (the idle timeout) while waiting for %s (%zu bytes buffered)"),
                        priv->read_cap, _(what), gios_in_buffer_length (&priv->in));
  return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                      /* Translators: the %s is what was awaited ("a line", …) */
                      _("Timed out after %d ms waiting for %s (%zu bytes buffered)"),
                      timeout, _(what),
                      kind == GIOS_CALL_WRITE ? priv->out.len : gios_in_buffer_length (&priv->in));
}

void
_gios_call_end (GiosCall  *call,
                GError   **error)
{
  gios_gate_leave (&PRIV (call->stream)->gate, &call->frame);
  if (call->what == NULL || error == NULL || *error == NULL ||
      !g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return;
  g_clear_error (error);
  *error = _gios_device_stream_timeout_error (call->stream, call->kind, call->what,
                                              call->timeout, call->capped);
}

gboolean
_gios_device_stream_enter_step (GiosDeviceStream  *self,
                                GiosGateFrame     *frame,
                                GError           **error)
{
  return gios_gate_enter (&PRIV (self)->gate, frame, GIOS_GATE_DEVICE, 0, error);
}

void
_gios_device_stream_leave_step (GiosDeviceStream *self,
                                GiosGateFrame    *frame)
{
  gios_gate_leave (&PRIV (self)->gate, frame);
}

/* ------------------------------------------------------------------------ */
/* The device                                                                 */

void
_gios_device_stream_change_eof (GiosDeviceStream *self,
                                gboolean          eof)
{
  PRIV (self)->eof = !!eof;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AT_END]);
}

static void
set_device (GiosDeviceStream *self,
            gboolean          attached,
            int               fd)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  /* The watches go first: they were made for the old descriptor. */
  _gios_device_stream_drop_watches (self);
  gios_in_buffer_clear (&priv->in);
  gios_out_buffer_clear (&priv->out);
  /* Under the gate's lock: an interrupt shuts the old descriptor down only
   * while it is still open, and a teardown compares generations. */
  gios_gate_set_attached (&priv->gate, attached, fd);
  if (priv->gate.interrupting != NULL || priv->gate.wait_cancellable != NULL)
    gios_gate_set_interrupting (&priv->gate, NULL);
  priv->device_fd = attached ? fd : -1;
  priv->input_held = FALSE;
  g_atomic_int_inc (&priv->device_generation);
  g_clear_pointer (&priv->loop_context, g_main_context_unref);
  _gios_device_stream_set_eof (self, FALSE);
}

void
_gios_device_stream_attach (GiosDeviceStream *self,
                            int               fd)
{
  set_device (self, TRUE, fd);
}

void
_gios_device_stream_detach (GiosDeviceStream *self)
{
  set_device (self, FALSE, -1);
}

void
_gios_device_stream_set_open (GiosDeviceStream *self,
                              gboolean          is_open)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  is_open = !!is_open;
  if (is_open)
    gios_gate_set_closed (&priv->gate, FALSE);
  if (priv->is_open != (guint) is_open)
    {
      priv->is_open = is_open;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IS_OPEN]);
    }
}

void
_gios_device_stream_set_loop (GiosDeviceStream *self,
                              GMainContext     *context)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->loop_context == context)
    return;
  g_clear_pointer (&priv->loop_context, g_main_context_unref);
  priv->loop_context = context != NULL ? g_main_context_ref (context) : NULL;
}

gboolean
_gios_device_stream_on_loop (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  return priv->loop_context != NULL && g_main_context_is_owner (priv->loop_context);
}

void
_gios_device_stream_set_read_cap (GiosDeviceStream *self,
                                  int               cap_ms)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  priv->read_cap = cap_ms;
  if (priv->watch != NULL)
    _gios_watch_set_idle (priv->watch, cap_ms);
}

void
_gios_device_stream_set_idle_func (GiosDeviceStream *self,
                                   GiosIdleFunc      on_idle)
{
  PRIV (self)->on_idle = on_idle;
}

GiosGate *
_gios_device_stream_get_gate (GiosDeviceStream *self)
{
  return &PRIV (self)->gate;
}

/* ------------------------------------------------------------------------ */
/* The default transport: a GIOStream                                          */

/**
 * GiosDeviceStreamClass::receive:
 * @self: a [class@Gios.DeviceStream]
 * @buffer: (array length=size) (element-type guint8) (out caller-allocates):
 *   where to put the bytes
 * @size: (in): the most bytes to receive, at least 1
 * @deadline: until when to wait for the first byte, a monotonic time
 *   (g_get_monotonic_time()), or -1 for no limit
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Receives bytes from the device: what is there, once at least one byte is,
 * up to @size. [class@Gios.DeviceStream] calls it with its buffers; every
 * framing rule (lines, exact reads, one timeout for a whole call) is the
 * base class's. An implementation waits with poll() or its device's own
 * means until @deadline, fails with %G_IO_ERROR_TIMED_OUT then, with
 * %G_IO_ERROR_CANCELLED when @cancellable is cancelled, and with
 * %G_IO_ERROR_CLOSED when the stream is closed from another thread
 * meanwhile; the default implementation, over the stream's
 * [property@Gios.DeviceStream:base-stream], does all three.
 *
 * Returns: the number of bytes received, 0 at the end of input, or -1 with
 *   @error set
 *
 * Since: 0.1
 */

/**
 * GiosDeviceStreamClass::send:
 * @self: a [class@Gios.DeviceStream]
 * @data: (array length=size) (element-type guint8): the bytes to send
 * @size: how many bytes of @data to send, at least 1
 * @deadline: until when to wait for the device to take a byte, a monotonic
 *   time, or -1 for no limit
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Sends some of @data to the device: at least one byte, once the device
 * takes one. The base class calls it again for the rest, and keeps what was
 * not sent buffered when it fails. Waits and failures as for `receive`; a
 * peer that has gone away is an error, never `SIGPIPE`.
 *
 * Returns: the number of bytes sent, at least 1, or -1 with @error set
 *
 * Since: 0.1
 */

/**
 * GiosDeviceStreamClass::close_device:
 * @self: a [class@Gios.DeviceStream]
 * @error: return location for a [struct@GLib.Error]
 *
 * Releases the device. [method@Gios.DeviceStream.close] calls it once,
 * after sending what was buffered and after every other thread's call has
 * left; the stream is closed whatever it returns. A subclass that overrides
 * it chains up.
 *
 * Returns: %TRUE when the device was released cleanly
 *
 * Since: 0.1
 */

static int
stream_fd (gpointer stream)
{
  if (G_IS_FILE_DESCRIPTOR_BASED (stream))
    return g_file_descriptor_based_get_fd (G_FILE_DESCRIPTOR_BASED (stream));
  return -1;
}

static gboolean
check_base (GiosDeviceStream  *self,
            const char        *method,
            GError           **error)
{
  if (PRIV (self)->base != NULL)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               /* Translators: "MyStream does not implement receive" */
               _("%s does not implement %s"), G_OBJECT_TYPE_NAME (self), method);
  return FALSE;
}

static gboolean
on_pollable_ready (GObject  *stream,
                   gpointer  data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Waits until @source (owned), a pollable stream's, is ready: on the
 * stream's own context, iterated in the gate, so that the deadline, the
 * cancellable and a close from another thread end the wait. */
static gboolean
wait_pollable (GiosDeviceStream  *self,
               GSource           *source,
               gint64             deadline,
               GCancellable      *cancellable,
               GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gboolean ready = FALSE;
  gboolean ok = TRUE;

  if (priv->wait_context == NULL)
    priv->wait_context = g_main_context_new ();
  g_source_set_callback (source, G_SOURCE_FUNC (on_pollable_ready), &ready, NULL);
  g_source_attach (source, priv->wait_context);
  g_main_context_acquire (priv->wait_context);
  while (ok && !ready)
    ok = gios_gate_iterate (&priv->gate, priv->wait_context, deadline, cancellable, error);
  g_main_context_release (priv->wait_context);
  g_source_destroy (source);
  g_source_unref (source);
  return ok;
}

static gboolean
is_pollable (gpointer stream)
{
  if (G_IS_POLLABLE_INPUT_STREAM (stream))
    return g_pollable_input_stream_can_poll (stream);
  if (G_IS_POLLABLE_OUTPUT_STREAM (stream))
    return g_pollable_output_stream_can_poll (stream);
  return FALSE;
}

/* A base stream that is pollable but no descriptor: the transfer never
 * blocks in GIO, and the waits are the gate's. */
static gssize
transfer_pollable (GiosDeviceStream  *self,
                   gpointer           stream,
                   guint8            *buffer,
                   gsize              size,
                   gint64             deadline,
                   GCancellable      *cancellable,
                   GError           **error)
{
  gboolean input = G_IS_INPUT_STREAM (stream);

  for (;;)
    {
      GError *local_error = NULL;
      GSource *source;
      gssize n;

      if (input)
        n = g_pollable_input_stream_read_nonblocking (stream, buffer, size, cancellable, &local_error);
      else
        n = g_pollable_output_stream_write_nonblocking (stream, buffer, size, cancellable, &local_error);
      if (n >= 0 || !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          if (n < 0)
            g_propagate_error (error, local_error);
          return n;
        }
      g_error_free (local_error);
      if (gios_gate_expired (&PRIV (self)->gate, deadline, cancellable, error))
        return -1;
      if (input)
        source = g_pollable_input_stream_create_source (stream, NULL);
      else
        source = g_pollable_output_stream_create_source (stream, NULL);
      if (!wait_pollable (self, source, deadline, cancellable, error))
        return -1;
    }
}

static gssize
gios_device_stream_real_receive (GiosDeviceStream  *self,
                                 guint8            *buffer,
                                 gsize              size,
                                 gint64             deadline,
                                 GCancellable      *cancellable,
                                 GError           **error)
{
  GInputStream *input;
  int fd;

  if (!check_base (self, "receive", error))
    return -1;
  input = g_io_stream_get_input_stream (PRIV (self)->base);
  fd = stream_fd (input);
  if (fd < 0 && is_pollable (input))
    return transfer_pollable (self, input, buffer, size, deadline, cancellable, error);
  if (fd >= 0 && !gios_gate_wait_fd (&PRIV (self)->gate, fd, G_IO_IN, deadline, cancellable, error))
    return -1;
  return g_input_stream_read (input, buffer, size, cancellable, error);
}

static gssize
gios_device_stream_real_send (GiosDeviceStream  *self,
                              const guint8      *data,
                              gsize              size,
                              gint64             deadline,
                              GCancellable      *cancellable,
                              GError           **error)
{
  GOutputStream *output;
  int fd;

  if (!check_base (self, "send", error))
    return -1;
  output = g_io_stream_get_output_stream (PRIV (self)->base);
  fd = stream_fd (output);
  if (fd < 0 && is_pollable (output))
    return transfer_pollable (self, output, (guint8 *) data, size, deadline, cancellable, error);
  if (fd >= 0)
    {
      if (!gios_gate_wait_fd (&PRIV (self)->gate, fd, G_IO_OUT, deadline, cancellable, error))
        return -1;
      size = MIN (size, FD_WRITE_CHUNK);
    }
  return g_output_stream_write (output, data, size, cancellable, error);
}

static gboolean
gios_device_stream_real_close_device (GiosDeviceStream  *self,
                                      GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->base == NULL)
    return TRUE;
  return g_io_stream_close (priv->base, NULL, error);
}

static GiosMessage *
gios_device_stream_real_handle_request (GiosDeviceStream *self,
                                        GiosMessage      *request)
{
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                    */

static void
gios_device_stream_finalize (GObject *object)
{
  GiosDeviceStream *self = GIOS_DEVICE_STREAM (object);
  GiosDeviceStreamPrivate *priv = PRIV (self);

  /* Pending tasks and watches hold a reference: none is left here. */
  _gios_device_stream_drop_watches (self);
  g_clear_pointer (&priv->user_watches, g_ptr_array_unref);
  g_clear_pointer (&priv->loop_context, g_main_context_unref);
  g_clear_pointer (&priv->contexts, g_ptr_array_unref);
  g_clear_pointer (&priv->held, g_ptr_array_unref);
  g_clear_object (&priv->base);
  g_clear_pointer (&priv->wait_context, g_main_context_unref);
  gios_in_buffer_clear (&priv->in);
  gios_out_buffer_clear (&priv->out);
  g_free (priv->terminator);
  gios_gate_clear (&priv->gate);
  g_rec_mutex_clear (&priv->teardown);

  G_OBJECT_CLASS (gios_device_stream_parent_class)->finalize (object);
}

static void
gios_device_stream_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  GiosDeviceStream *self = GIOS_DEVICE_STREAM (object);
  GiosDeviceStreamPrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_BASE_STREAM:
      g_value_set_object (value, priv->base);
      break;
    case PROP_IS_OPEN:
      g_value_set_boolean (value, priv->is_open);
      break;
    case PROP_AT_END:
      g_value_set_boolean (value, priv->eof);
      break;
    case PROP_LINE_TERMINATOR:
      g_value_set_string (value, priv->terminator);
      break;
    case PROP_DEFAULT_TIMEOUT:
      g_value_set_int (value, priv->default_timeout);
      break;
    case PROP_CLOSE_TIMEOUT:
      g_value_set_int (value, priv->close_timeout);
      break;
    case PROP_INPUT_BUFFER_SIZE:
      g_value_set_uint (value, priv->in.size);
      break;
    case PROP_OUTPUT_BUFFER_SIZE:
      g_value_set_uint (value, priv->out.size);
      break;
    default:
      if (!_gios_message_get_property (object, prop_id - N_PROPS, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gios_device_stream_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  GiosDeviceStream *self = GIOS_DEVICE_STREAM (object);
  GiosDeviceStreamPrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_BASE_STREAM:
      priv->base = g_value_dup_object (value);
      if (priv->base != NULL)
        {
          int in_fd = stream_fd (g_io_stream_get_input_stream (priv->base));

          /* The async calls watch one descriptor: only for a stream that
           * reads and writes the same one (a socket, a terminal). */
          if (in_fd >= 0 && in_fd == stream_fd (g_io_stream_get_output_stream (priv->base)))
            _gios_device_stream_attach (self, in_fd);
        }
      break;
    case PROP_LINE_TERMINATOR:
      gios_device_stream_set_line_terminator (self, g_value_get_string (value));
      break;
    case PROP_DEFAULT_TIMEOUT:
      gios_device_stream_set_default_timeout (self, g_value_get_int (value));
      break;
    case PROP_CLOSE_TIMEOUT:
      gios_device_stream_set_close_timeout (self, g_value_get_int (value));
      break;
    case PROP_INPUT_BUFFER_SIZE:
      gios_device_stream_set_input_buffer_size (self, g_value_get_uint (value));
      break;
    case PROP_OUTPUT_BUFFER_SIZE:
      gios_device_stream_set_output_buffer_size (self, g_value_get_uint (value));
      break;
    default:
      if (!_gios_message_set_property (object, prop_id - N_PROPS, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gios_device_stream_class_init (GiosDeviceStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  _gios_init_i18n ();
  _gios_device_stream_private_offset = GiosDeviceStream_private_offset;

  /* A write to a pipe or socket whose reader has gone must fail with an
   * error, not kill the process: ignore SIGPIPE as GSocket's class_init
   * does, unless the program installed a handler of its own. */
  {
    struct sigaction action;

    if (sigaction (SIGPIPE, NULL, &action) == 0 && action.sa_handler == SIG_DFL)
      signal (SIGPIPE, SIG_IGN);
  }

  object_class->finalize = gios_device_stream_finalize;
  object_class->get_property = gios_device_stream_get_property;
  object_class->set_property = gios_device_stream_set_property;

  klass->receive = gios_device_stream_real_receive;
  klass->send = gios_device_stream_real_send;
  klass->close_device = gios_device_stream_real_close_device;
  klass->handle_request = gios_device_stream_real_handle_request;

  /**
   * GiosDeviceStream:base-stream:
   *
   * The [class@Gio.IOStream] that the default transport reads and writes, or
   * %NULL for a subclass with its own device.
   *
   * Default: `NULL`.
   *
   * Since: 0.1
   */
  properties[PROP_BASE_STREAM] =
    g_param_spec_object ("base-stream", NULL, NULL, G_TYPE_IO_STREAM,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:is-open:
   *
   * Whether the device is open: a wrapped stream or a subclass's own device
   * until it is closed, a server socket while it listens, a client socket
   * while it is connected. A new stream over a [class@Gio.IOStream] is open at once; a new socket
   * is not.
   *
   * Default: `FALSE`.
   *
   * Since: 0.1
   */
  properties[PROP_IS_OPEN] =
    g_param_spec_boolean ("is-open", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:at-end:
   *
   * Whether the last receive from the device found the end of its input.
   * Input buffered before the end can still be read.
   *
   * Default: `FALSE`.
   *
   * Since: 0.1
   */
  properties[PROP_AT_END] =
    g_param_spec_boolean ("at-end", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:line-terminator:
   *
   * What ends a line, for [method@Gios.DeviceStream.read_line] and
   * [method@Gios.DeviceStream.write_line]. With "\n", a line ending in
   * "\r\n" also reads as one line, without the "\r".
   *
   * Default: `"\n"`.
   *
   * Since: 0.1
   */
  properties[PROP_LINE_TERMINATOR] =
    g_param_spec_string ("line-terminator", NULL, NULL, "\n",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:default-timeout:
   *
   * The timeout in milliseconds of calls given [const@Gios.TIMEOUT_DEFAULT].
   * It also bounds the send that [method@Gios.DeviceStream.write] makes when
   * its buffer is full, together with
   * [property@Gios.DeviceStream:close-timeout]. -1 waits without limit.
   *
   * Default: `-1`.
   *
   * Since: 0.1
   */
  properties[PROP_DEFAULT_TIMEOUT] =
    g_param_spec_int ("default-timeout", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:close-timeout:
   *
   * The longest, in milliseconds, that a send made without a timeout of its
   * own waits for the peer to take output: the flush of
   * [method@Gios.DeviceStream.close], of
   * [method@Gios.SocketCommon.drop_connection] and of the close after a job
   * of [method@Gios.ServerSocket.listen_job], and the send that
   * [method@Gios.DeviceStream.write] makes when its buffer is full (which
   * waits at most [property@Gios.DeviceStream:default-timeout] too).
   *
   * After it, a close or drop releases the connection all the same and
   * reports %G_IO_ERROR_TIMED_OUT with the number of bytes not sent. On a
   * stream served from a main loop, on that loop's thread, these sends do
   * not wait at all. -1 waits without limit.
   *
   * Default: `5000`.
   *
   * Since: 0.2
   */
  properties[PROP_CLOSE_TIMEOUT] =
    g_param_spec_int ("close-timeout", NULL, NULL, -1, G_MAXINT, GIOS_DEFAULT_CLOSE_TIMEOUT,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:input-buffer-size:
   *
   * The size of the input buffer in bytes, allocated on first use. A long line or exact read grows the buffer for as long as it
   * needs to.
   *
   * Default: `16384`.
   *
   * Since: 0.1
   */
  properties[PROP_INPUT_BUFFER_SIZE] =
    g_param_spec_uint ("input-buffer-size", NULL, NULL, 1, G_MAXINT, GIOS_DEFAULT_BUFFER_SIZE,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:output-buffer-size:
   *
   * How many bytes [method@Gios.DeviceStream.write] buffers before it sends
   * them. Writes of this size or more go to the device
   * directly.
   *
   * Default: `16384`.
   *
   * Since: 0.1
   */
  properties[PROP_OUTPUT_BUFFER_SIZE] =
    g_param_spec_uint ("output-buffer-size", NULL, NULL, 1, G_MAXINT, GIOS_DEFAULT_BUFFER_SIZE,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
  _gios_message_install_properties (object_class, N_PROPS);
}

static void
gios_device_stream_init (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  gios_gate_init (&priv->gate);
  gios_in_buffer_init (&priv->in, GIOS_DEFAULT_BUFFER_SIZE);
  gios_out_buffer_init (&priv->out, GIOS_DEFAULT_BUFFER_SIZE);
  priv->terminator = g_strdup ("\n");
  priv->terminator_len = 1;
  priv->default_timeout = GIOS_TIMEOUT_FOREVER;
  priv->close_timeout = GIOS_DEFAULT_CLOSE_TIMEOUT;
  priv->read_cap = -1;
  priv->device_fd = -1;
  g_rec_mutex_init (&priv->teardown);
  /* A stream has its device until it is closed: a wrapped stream, or a
   * subclass's own. The socket classes attach theirs as they connect. */
  priv->is_open = TRUE;
  gios_gate_set_attached (&priv->gate, TRUE, -1);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                 */

/**
 * gios_device_stream_new:
 * @base: the stream to read and write
 *
 * Creates a device stream over @base: a pipe, a file, a terminal, a socket
 * connection, a [class@Gio.TlsConnection]. Timeouts, cancellation and a
 * close from another thread apply where the streams of @base are backed by
 * file descriptors or are pollable ([iface@Gio.PollableInputStream] and
 * [iface@Gio.PollableOutputStream] that can poll, as a TLS connection's
 * are); other streams are read and written blocking, with cancellation.
 *
 * Returns: (transfer full): a new [class@Gios.DeviceStream]
 *
 * Since: 0.1
 */
GiosDeviceStream *
gios_device_stream_new (GIOStream *base)
{
  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);

  return g_object_new (GIOS_TYPE_DEVICE_STREAM, "base-stream", base, NULL);
}

/**
 * gios_device_stream_get_base_stream:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets the stream that @self wraps.
 *
 * Returns: (transfer none) (nullable): the wrapped stream, or %NULL
 *
 * Since: 0.1
 */
GIOStream *
gios_device_stream_get_base_stream (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);

  return PRIV (self)->base;
}

static gboolean
close_device (GiosDeviceStream  *self,
              GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gboolean ok;

  if (priv->gate.closed)
    return TRUE;
  ok = GIOS_DEVICE_STREAM_GET_CLASS (self)->close_device (self, error);
  _gios_device_stream_detach (self);
  gios_gate_set_closed (&priv->gate, TRUE);
  if (priv->is_open)
    {
      priv->is_open = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IS_OPEN]);
    }
  return ok;
}

/**
 * gios_device_stream_close:
 * @self: a [class@Gios.DeviceStream]
 * @error: return location for a [struct@GLib.Error]
 *
 * Sends buffered output, waiting at most
 * [property@Gios.DeviceStream:close-timeout] (not at all on the thread of
 * the main loop a stream is served from), and closes the device. The device
 * is closed even when sending fails; the error then says how many bytes
 * were not sent (%G_IO_ERROR_TIMED_OUT when the peer took nothing in time).
 * Closing a closed stream does nothing.
 *
 * Called from another thread while a call is blocked on @self, close()
 * wakes that call, which fails with %G_IO_ERROR_CLOSED, then sends and
 * closes. A second close() or
 * [method@Gios.SocketCommon.drop_connection] from another thread wakes a
 * close that is still sending, at once.
 *
 * Watches and asynchronous calls run on the thread of their main context.
 * Called from another thread while that context is running, close() shuts
 * the device's input down at once, so that readers everywhere see its end,
 * and returns %TRUE; the rest of the closing (failing the pending calls with
 * %G_IO_ERROR_CLOSED, removing the watches) happens in that context's next
 * iteration.
 *
 * Returns: %TRUE when everything buffered was sent and the device closed
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_close (GiosDeviceStream  *self,
                          GError           **error)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return _gios_device_stream_teardown (self, (GiosTeardownFunc) gios_device_stream_close,
                                       close_device, NULL, TRUE, error);
}

/**
 * gios_device_stream_get_is_open:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:is-open].
 *
 * Returns: whether the device is open
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_get_is_open (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);

  return PRIV (self)->is_open;
}

/**
 * gios_device_stream_get_at_end:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:at-end].
 *
 * Returns: whether the device reported the end of its input
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_get_at_end (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);

  return PRIV (self)->eof;
}

/**
 * gios_device_stream_get_buffered_input:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets how many received bytes wait in the input buffer.
 *
 * Returns: the number of buffered input bytes
 *
 * Since: 0.1
 */
gsize
gios_device_stream_get_buffered_input (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return gios_in_buffer_length (&PRIV (self)->in);
}

/**
 * gios_device_stream_get_buffered_output:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets how many written bytes wait in the output buffer to be sent.
 *
 * Returns: the number of buffered output bytes
 *
 * Since: 0.1
 */
gsize
gios_device_stream_get_buffered_output (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return PRIV (self)->out.len;
}

/**
 * gios_device_stream_get_line_terminator:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:line-terminator].
 *
 * Returns: (transfer none): the line terminator
 *
 * Since: 0.1
 */
const char *
gios_device_stream_get_line_terminator (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);

  return PRIV (self)->terminator;
}

/**
 * gios_device_stream_set_line_terminator:
 * @self: a [class@Gios.DeviceStream]
 * @terminator: what ends a line; not empty
 *
 * Sets [property@Gios.DeviceStream:line-terminator].
 *
 * Since: 0.1
 */
void
gios_device_stream_set_line_terminator (GiosDeviceStream *self,
                                        const char       *terminator)
{
  GiosDeviceStreamPrivate *priv;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (terminator != NULL && terminator[0] != '\0');

  priv = PRIV (self);
  if (g_strcmp0 (priv->terminator, terminator) == 0)
    return;
  g_free (priv->terminator);
  priv->terminator = g_strdup (terminator);
  priv->terminator_len = strlen (terminator);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LINE_TERMINATOR]);
}

static void
set_int_property (GiosDeviceStream *self,
                  int              *field,
                  int               value,
                  GParamSpec       *pspec)
{
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), pspec);
}

/**
 * gios_device_stream_get_default_timeout:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:default-timeout].
 *
 * Returns: the default timeout in milliseconds, -1 for none
 *
 * Since: 0.1
 */
int
gios_device_stream_get_default_timeout (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), -1);

  return PRIV (self)->default_timeout;
}

/**
 * gios_device_stream_set_default_timeout:
 * @self: a [class@Gios.DeviceStream]
 * @timeout_ms: the timeout in milliseconds, or -1 for none
 *
 * Sets [property@Gios.DeviceStream:default-timeout].
 *
 * Since: 0.1
 */
void
gios_device_stream_set_default_timeout (GiosDeviceStream *self,
                                        int               timeout_ms)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= -1);

  set_int_property (self, &PRIV (self)->default_timeout, timeout_ms,
                    properties[PROP_DEFAULT_TIMEOUT]);
}

/**
 * gios_device_stream_get_close_timeout:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:close-timeout].
 *
 * Returns: the close timeout in milliseconds, -1 for none
 *
 * Since: 0.2
 */
int
gios_device_stream_get_close_timeout (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), -1);

  return PRIV (self)->close_timeout;
}

/**
 * gios_device_stream_set_close_timeout:
 * @self: a [class@Gios.DeviceStream]
 * @timeout_ms: the timeout in milliseconds, or -1 for none
 *
 * Sets [property@Gios.DeviceStream:close-timeout].
 *
 * Since: 0.2
 */
void
gios_device_stream_set_close_timeout (GiosDeviceStream *self,
                                      int               timeout_ms)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= -1);

  set_int_property (self, &PRIV (self)->close_timeout, timeout_ms,
                    properties[PROP_CLOSE_TIMEOUT]);
}

int
_gios_device_stream_send_timeout (GiosDeviceStream *self)
{
  return _gios_device_stream_on_loop (self) ? 0 : _gios_device_stream_implicit_timeout (self);
}

int
_gios_device_stream_implicit_timeout (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->default_timeout < 0)
    return priv->close_timeout;
  if (priv->close_timeout < 0)
    return priv->default_timeout;
  return MIN (priv->default_timeout, priv->close_timeout);
}

/**
 * gios_device_stream_get_input_buffer_size:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:input-buffer-size].
 *
 * Returns: the input buffer size in bytes
 *
 * Since: 0.1
 */
guint
gios_device_stream_get_input_buffer_size (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return PRIV (self)->in.size;
}

/**
 * gios_device_stream_set_input_buffer_size:
 * @self: a [class@Gios.DeviceStream]
 * @size: the size in bytes, at least 1
 *
 * Sets [property@Gios.DeviceStream:input-buffer-size]. Buffered input is
 * kept.
 *
 * Since: 0.1
 */
void
gios_device_stream_set_input_buffer_size (GiosDeviceStream *self,
                                          guint             size)
{
  GiosDeviceStreamPrivate *priv;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (size > 0 && size <= G_MAXINT);

  priv = PRIV (self);
  if (priv->in.size == size)
    return;
  gios_in_buffer_set_size (&priv->in, size);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_INPUT_BUFFER_SIZE]);
}

/**
 * gios_device_stream_get_output_buffer_size:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:output-buffer-size].
 *
 * Returns: the output buffer size in bytes
 *
 * Since: 0.1
 */
guint
gios_device_stream_get_output_buffer_size (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return PRIV (self)->out.size;
}

/**
 * gios_device_stream_set_output_buffer_size:
 * @self: a [class@Gios.DeviceStream]
 * @size: the size in bytes, at least 1
 *
 * Sets [property@Gios.DeviceStream:output-buffer-size]. Buffered output is
 * kept.
 *
 * Since: 0.1
 */
void
gios_device_stream_set_output_buffer_size (GiosDeviceStream *self,
                                           guint             size)
{
  GiosDeviceStreamPrivate *priv;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (size > 0 && size <= G_MAXINT);

  priv = PRIV (self);
  if (priv->out.size == size)
    return;
  priv->out.size = size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OUTPUT_BUFFER_SIZE]);
}
