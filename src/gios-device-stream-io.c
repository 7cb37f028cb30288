/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The blocking calls of GiosDeviceStream: read, read an exact count, read a
 * line, write, flush, poll. Each runs in one call frame (gios-call.h): one
 * timeout for the whole call, and nothing consumed when it fails.
 */

#include "gios-device-stream-impl.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Receiving into the buffer, sending from it                                 */


/* TRUE in the reactor's dispatch of the device when it watches for input
 * and a receive came back short since it reported some: the device has
 * nothing now, and what arrives meanwhile is reported in the next
 * iteration, so a receive that may not wait need not ask the device. */
static gboolean
known_drained (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  return priv->input_drained && priv->in_dispatch && priv->watch != NULL &&
         (_gios_watch_get_events (priv->watch) & G_IO_IN) &&
         g_main_context_is_owner (priv->watch_context);
}

gssize
_gios_device_stream_receive (GiosDeviceStream  *self,
                             guint8            *buffer,
                             gsize              size,
                             gint64             deadline,
                             GCancellable      *cancellable,
                             GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gssize n;

  /* A read with a timeout of 0 after a short one, on the loop: what a
   * watch function that reads until nothing is left ends with. It would
   * cost a receive that fails with EAGAIN. */
  if (known_drained (self) && gios_gate_expired (&priv->gate, deadline, cancellable, error))
    return -1;
  /* Set again by a receive that leaves input held. */
  priv->input_held = FALSE;
  n = GIOS_DEVICE_STREAM_GET_CLASS (self)->receive (self, buffer, size, deadline, cancellable, error);
  if (n > 0)
    priv->input_drained = (gsize) n < size && !priv->input_held;
  return n;
}

gssize
_gios_device_stream_fill (GiosDeviceStream  *self,
                          gsize              total,
                          gint64             deadline,
                          GCancellable      *cancellable,
                          GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gsize room;
  guint8 *at = gios_in_buffer_reserve (&priv->in, total, &room);
  gssize n = _gios_device_stream_receive (self, at, room, deadline, cancellable, error);

  if (n > 0)
    {
      g_assert ((gsize) n <= room);
      gios_in_buffer_commit (&priv->in, n);
      _gios_device_stream_set_eof (self, FALSE);
    }
  else if (n == 0)
    _gios_device_stream_set_eof (self, TRUE);
  else
    gios_in_buffer_release (&priv->in, TRUE);
  return n;
}

static gboolean
send_all (GiosDeviceStream  *self,
          const guint8      *data,
          gsize              count,
          gsize             *sent,
          gint64             deadline,
          GCancellable      *cancellable,
          GError           **error)
{
  GiosDeviceStreamClass *klass = GIOS_DEVICE_STREAM_GET_CLASS (self);

  *sent = 0;
  while (*sent < count)
    {
      gssize n = klass->send (self, data + *sent, count - *sent, deadline, cancellable, error);

      if (n < 0)
        return FALSE;
      g_assert ((gsize) n <= count - *sent);
      *sent += n;
    }
  return TRUE;
}

gboolean
_gios_device_stream_flush_buffer (GiosDeviceStream  *self,
                                  gint64             deadline,
                                  GCancellable      *cancellable,
                                  GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gsize sent;
  gboolean ok;

  if (priv->out.len == 0)
    return TRUE;
  ok = send_all (self, priv->out.data, priv->out.len, &sent, deadline, cancellable, error);
  gios_out_buffer_remove (&priv->out, sent);
  if (!ok)
    _gios_reword_error (error, _("Could not send %zu buffered bytes: %s"), priv->out.len + sent,
                        _gios_error_message (error));
  return ok;
}

gboolean
_gios_device_stream_make_room_now (GiosDeviceStream  *self,
                                   gsize              count,
                                   GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  g_autoptr(GError) local_error = NULL;

  if (!_gios_device_stream_flush_buffer (self, 0, NULL, &local_error) &&
      !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (!gios_out_buffer_fits (&priv->out, count) && priv->out.len > 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                   _("The output buffer is full (%zu bytes wait for the peer to read); "
                     "write again once the stream is writable"),
                   priv->out.len);
      return FALSE;
    }
  return TRUE;
}

gboolean
_gios_device_stream_write_buffered (GiosDeviceStream  *self,
                                    const guint8      *data,
                                    gsize              count,
                                    GCancellable      *cancellable,
                                    GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gint64 deadline;
  gsize sent;

  if (gios_out_buffer_fits (&priv->out, count))
    {
      gios_out_buffer_append (&priv->out, data, count);
      return TRUE;
    }
  if (_gios_device_stream_on_loop (self))
    {
      if (!_gios_device_stream_make_room_now (self, count, error))
        return FALSE;
      gios_out_buffer_append (&priv->out, data, count);
      return TRUE;
    }

  deadline = _gios_deadline_from_timeout (_gios_device_stream_implicit_timeout (self));
  if (!_gios_device_stream_flush_buffer (self, deadline, cancellable, error))
    {
      gios_out_buffer_append (&priv->out, data, count);
      return FALSE;
    }
  if (count < priv->out.size)
    {
      gios_out_buffer_append (&priv->out, data, count);
      return TRUE;
    }
  /* Large writes go straight to the device; what it does not take in time
   * stays buffered, so nothing is lost. */
  if (!send_all (self, data, count, &sent, deadline, cancellable, error))
    {
      gios_out_buffer_append (&priv->out, data + sent, count - sent);
      _gios_reword_error (error, _("Sent %zu of %zu bytes: %s"), sent, count, _gios_error_message (error));
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                      */

static gssize
read_some (GiosDeviceStream  *self,
           guint8            *buffer,
           gsize              count,
           gint64             deadline,
           GCancellable      *cancellable,
           GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gsize n;

  if (count == 0)
    return 0;

  if (gios_in_buffer_length (&priv->in) == 0)
    {
      gssize r;

      /* Large reads skip the buffer. */
      if (count >= priv->in.size)
        {
          r = _gios_device_stream_receive (self, buffer, count, deadline, cancellable, error);
          if (r >= 0)
            _gios_device_stream_set_eof (self, r == 0);
          return r;
        }
      r = _gios_device_stream_fill (self, 0, deadline, cancellable, error);
      if (r <= 0)
        return r;
    }

  n = MIN (count, gios_in_buffer_length (&priv->in));
  memcpy (buffer, gios_in_buffer_peek (&priv->in), n);
  gios_in_buffer_consume (&priv->in, n);
  return n;
}

/**
 * gios_device_stream_read: (skip)
 * @self: a [class@Gios.DeviceStream]
 * @buffer: (array length=count) (element-type guint8) (out caller-allocates):
 *   where to store the bytes
 * @count: (in): the size of @buffer
 * @timeout_ms: how long to wait for the first byte, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Waits until at least one byte is there, then returns what is there, up to
 * @count bytes: buffered bytes first, without waiting.
 *
 * Language bindings use [method@Gios.DeviceStream.read_bytes] instead: no
 * binding can hand over a buffer for the call to fill.
 *
 * Returns: the number of bytes read, 0 at end of input, or -1 with @error set
 *
 * Since: 0.1
 */
gssize
gios_device_stream_read (GiosDeviceStream  *self,
                         guint8            *buffer,
                         gsize              count,
                         int                timeout_ms,
                         GCancellable      *cancellable,
                         GError           **error)
{
  GiosCall call;
  gssize ret;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), -1);
  g_return_val_if_fail (buffer != NULL || count == 0, -1);
  g_return_val_if_fail (count <= G_MAXSSIZE, -1);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, -1);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!_gios_call_begin_here (&call, self, GIOS_CALL_READ, N_("input"), timeout_ms, error))
    return -1;
  ret = read_some (self, buffer, count, call.deadline, cancellable, error);
  _gios_call_end_here (&call, error);
  return ret;
}

/**
 * gios_device_stream_read_bytes:
 * @self: a [class@Gios.DeviceStream]
 * @count: the most bytes to return
 * @timeout_ms: how long to wait for the first byte, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Like [method@Gios.DeviceStream.read], but returns the bytes as a
 * [struct@GLib.Bytes], which suits language bindings. It allocates no more
 * than what arrived, whatever @count is.
 *
 * Returns: (transfer full): the bytes read, empty at end of input, or
 *   %NULL with @error set
 *
 * Since: 0.1
 */
GBytes *
gios_device_stream_read_bytes (GiosDeviceStream  *self,
                               gsize              count,
                               int                timeout_ms,
                               GCancellable      *cancellable,
                               GError           **error)
{
  GiosDeviceStreamPrivate *priv;
  GBytes *ret = NULL;
  GiosCall call;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  priv = PRIV (self);
  if (!_gios_call_begin_here (&call, self, GIOS_CALL_READ, N_("input"), timeout_ms, error))
    return NULL;
  if (count == 0)
    ret = g_bytes_new (NULL, 0);
  else if (gios_in_buffer_length (&priv->in) > 0 ||
           _gios_device_stream_fill (self, 0, call.deadline, cancellable, error) >= 0)
    {
      gsize n = MIN (count, gios_in_buffer_length (&priv->in));

      ret = g_bytes_new (gios_in_buffer_peek (&priv->in), n);
      gios_in_buffer_consume (&priv->in, n);
    }
  _gios_call_end_here (&call, error);
  return ret;
}

/* Reads exactly @count bytes in one call frame, into @buffer or, when it is
 * NULL, into a new GBytes returned in @bytes. */
static gboolean
read_exact_in_call (GiosDeviceStream  *self,
                    gsize              count,
                    int                timeout_ms,
                    GCancellable      *cancellable,
                    guint8            *buffer,
                    GBytes           **bytes,
                    GError           **error)
{
  const guint8 *p;
  GiosCall call;

  if (!_gios_call_begin_here (&call, self, GIOS_CALL_READ, N_("an exact read"), timeout_ms, error))
    return FALSE;
  /* The buffer grows with what arrives, not to @count at once. */
  p = _gios_device_stream_peek (self, count, call.deadline, cancellable, error);
  if (p != NULL)
    {
      if (buffer != NULL)
        memcpy (buffer, p, count);
      else
        *bytes = g_bytes_new (p, count);
      gios_in_buffer_consume (&PRIV (self)->in, count);
    }
  _gios_call_end_here (&call, error);
  return p != NULL;
}

/**
 * gios_device_stream_read_exact: (skip)
 * @self: a [class@Gios.DeviceStream]
 * @buffer: (array length=count) (element-type guint8) (out caller-allocates):
 *   where to store the bytes
 * @count: (in): how many bytes to read
 * @timeout_ms: how long the whole read may take, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Reads exactly @count bytes, however many arrivals they take, within one
 * timeout. If the time runs out, the call is cancelled or the input ends
 * (%G_IO_ERROR_CONNECTION_CLOSED) first, nothing is consumed: the bytes that
 * arrived stay buffered.
 *
 * Language bindings call [method@Gios.DeviceStream.read_exact_bytes] by this
 * name.
 *
 * Returns: %TRUE when @count bytes were read
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_read_exact (GiosDeviceStream  *self,
                               guint8            *buffer,
                               gsize              count,
                               int                timeout_ms,
                               GCancellable      *cancellable,
                               GError           **error)
{
  guint8 nothing;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (buffer != NULL || count == 0, FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return read_exact_in_call (self, count, timeout_ms, cancellable,
                             buffer != NULL ? buffer : &nothing, NULL, error);
}

/**
 * gios_device_stream_read_exact_bytes: (rename-to gios_device_stream_read_exact)
 * @self: a [class@Gios.DeviceStream]
 * @count: how many bytes to read
 * @timeout_ms: how long the whole read may take, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Like [method@Gios.DeviceStream.read_exact], but returns the bytes as a
 * [struct@GLib.Bytes], which suits language bindings, where it is
 * `read_exact`. Memory grows with what arrives, not to @count at once, so a
 * count that a peer sent costs nothing until the bytes are there. If the
 * time runs out, the call is cancelled or the input ends
 * (%G_IO_ERROR_CONNECTION_CLOSED) first, nothing is consumed: the bytes that
 * arrived stay buffered.
 *
 * Returns: (transfer full): exactly @count bytes, or %NULL with @error set
 *
 * Since: 0.2
 */
GBytes *
gios_device_stream_read_exact_bytes (GiosDeviceStream  *self,
                                     gsize              count,
                                     int                timeout_ms,
                                     GCancellable      *cancellable,
                                     GError           **error)
{
  GBytes *bytes = NULL;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!read_exact_in_call (self, count, timeout_ms, cancellable, NULL, &bytes, error))
    return NULL;
  return bytes;
}

const guint8 *
_gios_device_stream_peek (GiosDeviceStream  *self,
                          gsize              count,
                          gint64             deadline,
                          GCancellable      *cancellable,
                          GError           **error)
{
  GiosInBuffer *in = &PRIV (self)->in;

  while (gios_in_buffer_length (in) < count)
    {
      /* Grow with what arrives, not to @count at once. */
      gssize n = _gios_device_stream_fill (self, MIN (count, MAX (2 * gios_in_buffer_length (in), in->size)),
                                           deadline, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       _("The input ended after %zu of %zu bytes"),
                       gios_in_buffer_length (in), count);
          return NULL;
        }
    }
  return gios_in_buffer_peek (in);
}

void
_gios_device_stream_consume (GiosDeviceStream *self,
                             gsize             count)
{
  GiosInBuffer *in = &PRIV (self)->in;

  g_return_if_fail (count <= gios_in_buffer_length (in));
  gios_in_buffer_consume (in, count);
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                      */

char *
_gios_device_stream_take_line (GiosDeviceStream   *self,
                               const GiosLineScan *scan)
{
  GiosInBuffer *in = &PRIV (self)->in;
  char *line = g_malloc (scan->line_len + 1);

  memcpy (line, gios_in_buffer_peek (in), scan->line_len);
  line[scan->line_len] = '\0';
  gios_in_buffer_consume (in, scan->consumed);
  return line;
}

GBytes *
_gios_device_stream_take_line_bytes (GiosDeviceStream   *self,
                                     const GiosLineScan *scan)
{
  GiosInBuffer *in = &PRIV (self)->in;
  GBytes *line = g_bytes_new (gios_in_buffer_peek (in), scan->line_len);

  gios_in_buffer_consume (in, scan->consumed);
  return line;
}

gboolean
_gios_device_stream_check_text (GiosDeviceStream    *self,
                                const GiosLineScan  *scan,
                                GError             **error)
{
  const char *line = (const char *) gios_in_buffer_peek (&PRIV (self)->in);
  const char *end;

  if (g_utf8_validate (line, scan->line_len, &end))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               *end == '\0' ?
               _("The line holds a NUL byte at offset %zu; read it with read_line_bytes()") :
               _("The line is not UTF-8 text from offset %zu on; read it with read_line_bytes()"),
               (gsize) (end - line));
  return FALSE;
}

/* Reads one line and hands it to @take, or fails consuming nothing. */
typedef gpointer (*TakeFunc) (GiosDeviceStream    *self,
                              const GiosLineScan  *scan,
                              GError             **error);

static gpointer
read_line_with (GiosDeviceStream  *self,
                gsize              max_length,
                int                timeout_ms,
                GCancellable      *cancellable,
                TakeFunc           take,
                gsize             *length,
                GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gpointer line = NULL;
  GiosLineScan scan;
  GiosFrame frame;
  GiosCall call;

  if (!_gios_call_begin_here (&call, self, GIOS_CALL_READ, N_("a line"), timeout_ms, error))
    return NULL;

  gios_line_scan_init (&scan, priv->terminator, priv->terminator_len,
                       max_length > 0 ? max_length : GIOS_DEFAULT_MAX_LINE_LENGTH);
  while ((frame = gios_line_scan (&scan, &priv->in, error)) == GIOS_FRAME_NEED_MORE)
    {
      gssize n = _gios_device_stream_fill (self, gios_line_fill_total (&scan, &priv->in),
                                           call.deadline, cancellable, error);

      if (n < 0)
        break;
      scan.at_end = n == 0;
    }
  if (frame == GIOS_FRAME_DONE && scan.consumed > 0)
    {
      line = take (self, &scan, error);
      if (line != NULL && length != NULL)
        *length = scan.line_len;
    }
  _gios_call_end_here (&call, error);
  return line;
}

static gpointer
take_text (GiosDeviceStream    *self,
           const GiosLineScan  *scan,
           GError             **error)
{
  if (!_gios_device_stream_check_text (self, scan, error))
    return NULL;
  return _gios_device_stream_take_line (self, scan);
}

static gpointer
take_bytes (GiosDeviceStream    *self,
            const GiosLineScan  *scan,
            GError             **error)
{
  return _gios_device_stream_take_line_bytes (self, scan);
}

/**
 * gios_device_stream_read_line:
 * @self: a [class@Gios.DeviceStream]
 * @max_length: the longest line accepted, in bytes without the terminator;
 *   0 for [const@Gios.DEFAULT_MAX_LINE_LENGTH]
 * @length: (out) (optional): where to store the length of the line
 * @timeout_ms: how long the whole line may take, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Reads one line of text and returns it without its terminator (see
 * [property@Gios.DeviceStream:line-terminator]). A last line that the input
 * ends without a terminator is returned as a line; after it, the call returns
 * %NULL without an error.
 *
 * A line longer than @max_length fails with %GIOS_ERROR_LINE_TOO_LONG as
 * soon as that is certain, so a peer cannot make the buffer grow without
 * limit; its bytes stay unread. On a timeout or cancellation, too, the bytes
 * that arrived stay buffered.
 *
 * The line must be UTF-8 text without NUL bytes: otherwise the call fails
 * with %G_IO_ERROR_INVALID_DATA before it consumes anything, and the line
 * stays buffered for [method@Gios.DeviceStream.read_line_bytes], which
 * reads any bytes.
 *
 * Returns: (transfer full) (nullable): the line, nul-terminated; %NULL at
 *   end of input or on error
 *
 * Since: 0.1
 */
char *
gios_device_stream_read_line (GiosDeviceStream  *self,
                              gsize              max_length,
                              gsize             *length,
                              int                timeout_ms,
                              GCancellable      *cancellable,
                              GError           **error)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length != NULL)
    *length = 0;
  return read_line_with (self, max_length, timeout_ms, cancellable, take_text, length, error);
}

/**
 * gios_device_stream_read_line_bytes:
 * @self: a [class@Gios.DeviceStream]
 * @max_length: the longest line accepted, in bytes without the terminator;
 *   0 for [const@Gios.DEFAULT_MAX_LINE_LENGTH]
 * @timeout_ms: how long the whole line may take, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Reads one line, as [method@Gios.DeviceStream.read_line] does, and returns
 * its bytes, whatever they are (NUL bytes and bytes that are not UTF-8
 * included), without the terminator: the binary-safe form for language
 * bindings, where a string must be text.
 *
 * Returns: (transfer full) (nullable): the line; %NULL at end of input or
 *   on error
 *
 * Since: 0.2
 */
GBytes *
gios_device_stream_read_line_bytes (GiosDeviceStream  *self,
                                    gsize              max_length,
                                    int                timeout_ms,
                                    GCancellable      *cancellable,
                                    GError           **error)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return read_line_with (self, max_length, timeout_ms, cancellable, take_bytes, NULL, error);
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                     */

static gboolean
write_in_call (GiosDeviceStream  *self,
               const guint8      *data,
               gsize              count,
               const guint8      *tail,
               gsize              tail_count,
               GCancellable      *cancellable,
               GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GiosCall call;
  gboolean ok;

  /* No deadline: a write that must send times its sends itself (see
   * write_buffered), and most only buffer. The timeout is the message's. */
  if (!_gios_call_begin_here (&call, self, GIOS_CALL_WRITE, N_("the peer to take output"),
                              GIOS_TIMEOUT_FOREVER, error))
    return FALSE;
  if (gios_out_buffer_fits (&priv->out, count + tail_count))
    {
      /* Room for all: the common case, which sends nothing. */
      gios_out_buffer_append (&priv->out, data, count);
      gios_out_buffer_append (&priv->out, tail, tail_count);
      ok = TRUE;
    }
  else if (tail_count > 0 && _gios_device_stream_on_loop (self))
    {
      /* Both pieces, or neither. */
      ok = _gios_device_stream_make_room_now (self, count + tail_count, error);
      if (ok)
        {
          gios_out_buffer_append (&priv->out, data, count);
          gios_out_buffer_append (&priv->out, tail, tail_count);
        }
    }
  else
    {
      ok = _gios_device_stream_write_buffered (self, data, count, cancellable, error);
      if (ok && tail_count > 0)
        ok = _gios_device_stream_write_buffered (self, tail, tail_count, cancellable, error);
      else
        /* What stayed buffered must be followed by its tail. */
        gios_out_buffer_append (&priv->out, tail, tail_count);
    }
  if (!ok)
    call.timeout = _gios_device_stream_implicit_timeout (self);
  _gios_call_end_here (&call, error);
  return ok;
}

/**
 * gios_device_stream_write:
 * @self: a [class@Gios.DeviceStream]
 * @data: (array length=count) (element-type guint8): the bytes to write
 * @count: the number of bytes in @data
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Buffers @data for sending. Once
 * [property@Gios.DeviceStream:output-buffer-size] bytes are buffered, sends
 * them, waiting at most [property@Gios.DeviceStream:default-timeout] and
 * [property@Gios.DeviceStream:close-timeout]. Call
 * [method@Gios.DeviceStream.flush] to send what is buffered.
 *
 * A write never drops data: when sending fails, the bytes not sent stay
 * buffered for the next flush, and the call returns %FALSE.
 *
 * On a stream served from a main loop, on that loop's thread, a write never
 * waits: it sends what the peer takes now, and when @data still does not
 * fit in the buffer it fails with %G_IO_ERROR_WOULD_BLOCK and buffers none
 * of it. Write again once the stream is writable (a watch for %G_IO_OUT), or
 * use [method@Gios.DeviceStream.write_async].
 *
 * Returns: %TRUE when nothing failed
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_write (GiosDeviceStream  *self,
                          const guint8      *data,
                          gsize              count,
                          GCancellable      *cancellable,
                          GError           **error)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (data != NULL || count == 0, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return write_in_call (self, data, count, NULL, 0, cancellable, error);
}

/**
 * gios_device_stream_write_bytes:
 * @self: a [class@Gios.DeviceStream]
 * @bytes: the bytes to write
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Like [method@Gios.DeviceStream.write], with the bytes in a
 * [struct@GLib.Bytes].
 *
 * Returns: %TRUE when nothing failed
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_write_bytes (GiosDeviceStream  *self,
                                GBytes            *bytes,
                                GCancellable      *cancellable,
                                GError           **error)
{
  gsize size;
  const guint8 *data;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (bytes != NULL, FALSE);

  data = g_bytes_get_data (bytes, &size);
  return gios_device_stream_write (self, data, size, cancellable, error);
}

/**
 * gios_device_stream_write_line:
 * @self: a [class@Gios.DeviceStream]
 * @line: the line, without a terminator
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Buffers @line followed by [property@Gios.DeviceStream:line-terminator],
 * as [method@Gios.DeviceStream.write] does. Where a write would fail with
 * %G_IO_ERROR_WOULD_BLOCK, neither the line nor its terminator is buffered.
 *
 * Returns: %TRUE when nothing failed
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_write_line (GiosDeviceStream  *self,
                               const char        *line,
                               GCancellable      *cancellable,
                               GError           **error)
{
  GiosDeviceStreamPrivate *priv;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (line != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  return write_in_call (self, (const guint8 *) line, strlen (line),
                        (const guint8 *) priv->terminator, priv->terminator_len,
                        cancellable, error);
}

/**
 * gios_device_stream_flush:
 * @self: a [class@Gios.DeviceStream]
 * @timeout_ms: how long sending may take, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Sends every buffered byte within one timeout. On failure the bytes not
 * sent stay buffered; [method@Gios.DeviceStream.get_buffered_output] tells
 * how many.
 *
 * Returns: %TRUE when everything was sent
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_flush (GiosDeviceStream  *self,
                          int                timeout_ms,
                          GCancellable      *cancellable,
                          GError           **error)
{
  GiosCall call;
  gboolean ok;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_gios_call_begin_here (&call, self, GIOS_CALL_WRITE, N_("the peer to take output"),
                              timeout_ms, error))
    return FALSE;
  ok = _gios_device_stream_flush_buffer (self, call.deadline, cancellable, error);
  _gios_call_end_here (&call, error);
  return ok;
}

static gboolean
is_timeout_or_cancel (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/**
 * gios_device_stream_poll:
 * @self: a [class@Gios.DeviceStream]
 * @condition: %G_IO_IN, %G_IO_OUT, or both
 * @timeout_ms: how long to wait, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 *
 * Waits until @self is readable or writable. Buffered input counts as
 * readable; waiting for input receives it into the buffer. Room in the output
 * buffer counts as writable; when the buffer is full, waiting for output
 * flushes it.
 *
 * Returns: the conditions that hold: %G_IO_IN, %G_IO_OUT, %G_IO_HUP at end of
 *   input (with %G_IO_IN), %G_IO_ERR when the device failed; 0 when the time
 *   ran out or @cancellable was cancelled
 *
 * Since: 0.1
 */
GIOCondition
gios_device_stream_poll (GiosDeviceStream *self,
                         GIOCondition      condition,
                         int               timeout_ms,
                         GCancellable     *cancellable)
{
  GiosDeviceStreamPrivate *priv;
  GIOCondition ret = 0;
  g_autoptr(GError) error = NULL;
  GiosCall call;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), G_IO_ERR);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, G_IO_ERR);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), G_IO_ERR);

  priv = PRIV (self);
  if (!_gios_call_begin_here (&call, self, GIOS_CALL_READ, NULL, timeout_ms, &error))
    return G_IO_ERR;

  if ((condition & G_IO_IN) && gios_in_buffer_length (&priv->in) > 0)
    ret |= G_IO_IN;
  if ((condition & G_IO_OUT) && priv->out.len < priv->out.size)
    ret |= G_IO_OUT;

  if (ret == 0 && (condition & G_IO_OUT))
    {
      if (_gios_device_stream_flush_buffer (self, call.deadline, cancellable, &error))
        ret |= G_IO_OUT;
      else if (!is_timeout_or_cancel (error))
        ret |= G_IO_ERR;
      g_clear_error (&error);
    }

  if (ret == 0 && (condition & G_IO_IN))
    {
      gssize n = _gios_device_stream_fill (self, 0, call.deadline, cancellable, &error);

      if (n > 0)
        ret |= G_IO_IN;
      else if (n == 0)
        ret |= G_IO_IN | G_IO_HUP;
      else if (!is_timeout_or_cancel (error))
        ret |= G_IO_ERR;
    }

  _gios_call_end_here (&call, NULL);
  return ret;
}

/**
 * gios_device_stream_clear:
 * @self: a [class@Gios.DeviceStream]
 *
 * Drops the buffered input.
 *
 * Returns: the number of bytes dropped
 *
 * Since: 0.1
 */
gsize
gios_device_stream_clear (GiosDeviceStream *self)
{
  GiosInBuffer *in;
  gsize n;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  in = &PRIV (self)->in;
  n = gios_in_buffer_length (in);
  gios_in_buffer_consume (in, n);
  return n;
}
