/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Framed messages and $LIST items on a GiosDeviceStream: see LIST-FORMAT.md
 * §2 (one item from a stream) and §7 (the 14-byte message header).
 *
 * Every reader peeks until the bytes it needs are buffered, checks a size the
 * peer announced against max-message-size before it asks for more, and
 * consumes only once the whole item or message is there: a timeout or a
 * failure leaves the input as it was.
 */

#include "gios-private.h"
#include "gios-call.h"
#include "gios-device-stream-framing.h"
#include "gios-message-private.h"
#include "gios-list-private.h"

#include <string.h>

/**
 * GiosMessage:
 *
 * One request or reply of the InterSystems superserver protocol: a 14-byte
 * header (payload length, message id, context, 2-byte code, all
 * little-endian) and a payload, which is usually a run of `$LIST` items.
 *
 * The code is a function code in a request and a status in a reply;
 * [method@Gios.Message.get_kind] tells which of the three forms it has.
 * [method@Gios.DeviceStream.send_message] and
 * [method@Gios.DeviceStream.receive_message] put messages on a stream and take
 * them off, and [method@Gios.DeviceStream.execute] serves requests.
 *
 * A message is reference counted. Its setters are for building a message
 * before it is shared: a message in use by more than one thread must not be
 * changed.
 *
 * Since: 0.1
 */
struct _GiosMessage
{
  gatomicrefcount ref_count;
  guint32 message_id;
  guint32 context;
  guint16 code;
  char code_string[3];
  GBytes *payload;
};

G_DEFINE_BOXED_TYPE (GiosMessage, gios_message, gios_message_ref, gios_message_unref)

static GBytes *empty_bytes (void)
{
  return g_bytes_new_static ("", 0);
}

static gboolean
is_code_letter (guint8 c)
{
  return g_ascii_isupper (c) || g_ascii_islower (c);
}

static void
set_code (GiosMessage *self,
          guint16      code)
{
  guint8 first = code & 0xff;
  guint8 second = code >> 8;

  self->code = code;
  if (is_code_letter (first) && (is_code_letter (second) || g_ascii_isdigit (second)))
    {
      self->code_string[0] = (char) first;
      self->code_string[1] = (char) second;
    }
  else
    self->code_string[0] = self->code_string[1] = '\0';
  self->code_string[2] = '\0';
}

static gboolean
payload_size_ok (GBytes *payload)
{
  return payload == NULL || g_bytes_get_size (payload) <= G_MAXUINT32;
}

/**
 * gios_message_new:
 * @message_id: the message id
 * @context: the context (a statement id, or 0)
 * @code: the code: a function code or a status, as
 *   [method@Gios.Message.get_code] returns it
 * @payload: (nullable): the payload, or %NULL for none; at most `G_MAXUINT32`
 *   bytes
 *
 * Creates a message from its header fields and payload.
 *
 * Returns: (transfer full): a new [struct@Gios.Message]
 *
 * Since: 0.1
 */
GiosMessage *
gios_message_new (guint32  message_id,
                  guint32  context,
                  guint16  code,
                  GBytes  *payload)
{
  GiosMessage *self;

  g_return_val_if_fail (payload_size_ok (payload), NULL);

  self = g_new0 (GiosMessage, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->message_id = message_id;
  self->context = context;
  set_code (self, code);
  self->payload = payload != NULL ? g_bytes_ref (payload) : empty_bytes ();
  return self;
}

/**
 * gios_message_new_request:
 * @message_id: the message id: the client's running count of the messages it
 *   sent, from 0
 * @context: the context (a statement id, or 0)
 * @code: a two-character code such as `"HS"`, `"DQ"` or `"DC"`
 * @payload: (nullable): the payload, or %NULL for none
 *
 * Creates a request with a two-character xDBC code: the first character goes
 * at offset 12 of the header, the second at offset 13.
 *
 * Returns: (transfer full): a new [struct@Gios.Message]
 *
 * Since: 0.1
 */
GiosMessage *
gios_message_new_request (guint32     message_id,
                          guint32     context,
                          const char *code,
                          GBytes     *payload)
{
  g_return_val_if_fail (code != NULL && code[0] != '\0' && code[1] != '\0' && code[2] == '\0', NULL);

  return gios_message_new (message_id, context, GIOS_MESSAGE_CODE (code[0], code[1]), payload);
}

/**
 * gios_message_new_native:
 * @message_id: the message id
 * @context: the context, or 0
 * @function: the Native API function: `0x4B` for a class-method call with a
 *   value, `0x41` for a global get…
 * @payload: (nullable): the payload, or %NULL for none
 *
 * Creates a Native API request, whose code is @function followed by `C2`.
 *
 * Returns: (transfer full): a new [struct@Gios.Message]
 *
 * Since: 0.1
 */
GiosMessage *
gios_message_new_native (guint32  message_id,
                         guint32  context,
                         guint8   function,
                         GBytes  *payload)
{
  return gios_message_new (message_id, context, GIOS_MESSAGE_CODE (function, 0xC2), payload);
}

/**
 * gios_message_new_reply: (constructor)
 * @request: the request to answer
 * @status: the status: 0 for OK, or an error number of the protocol
 * @payload: (nullable): the payload, or %NULL for none
 *
 * Creates the reply to @request: a message with the message id and context
 * of @request and @status as its code.
 *
 * Returns: (transfer full): a new [struct@Gios.Message]
 *
 * Since: 0.1
 */
GiosMessage *
gios_message_new_reply (GiosMessage *request,
                        guint16      status,
                        GBytes      *payload)
{
  g_return_val_if_fail (request != NULL, NULL);

  return gios_message_new (request->message_id, request->context, status, payload);
}

/**
 * gios_message_new_from_bytes:
 * @frame: the bytes of one whole message: its header and its payload
 * @error: return location for a [struct@GLib.Error]
 *
 * Parses the bytes of one message, as they go on the wire.
 *
 * Returns: (transfer full): a new [struct@Gios.Message], or %NULL with
 *   %GIOS_ERROR_MALFORMED when @frame is shorter than a header or its size
 *   is not the header's length plus 14
 *
 * Since: 0.1
 */
GiosMessage *
gios_message_new_from_bytes (GBytes  *frame,
                             GError **error)
{
  g_autoptr(GBytes) payload = NULL;
  const guint8 *data;
  gsize size;
  guint32 length;

  g_return_val_if_fail (frame != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  _gios_init_i18n ();
  data = g_bytes_get_data (frame, &size);
  if (size < GIOS_MESSAGE_HEADER_SIZE)
    {
      g_set_error (error, GIOS_ERROR, GIOS_ERROR_MALFORMED,
                   _("A message of %zu bytes is shorter than its %d-byte header"),
                   size, GIOS_MESSAGE_HEADER_SIZE);
      return NULL;
    }
  length = (guint32) get_le (data, 4);
  if ((guint64) length + GIOS_MESSAGE_HEADER_SIZE != size)
    {
      g_set_error (error, GIOS_ERROR, GIOS_ERROR_MALFORMED,
                   _("The header at byte 0 announces a payload of %u bytes, but %zu bytes follow it"),
                   (guint) length, size - GIOS_MESSAGE_HEADER_SIZE);
      return NULL;
    }
  payload = g_bytes_new_from_bytes (frame, GIOS_MESSAGE_HEADER_SIZE, length);
  return gios_message_new ((guint32) get_le (data + 4, 4), (guint32) get_le (data + 8, 4),
                           GIOS_MESSAGE_CODE (data[12], data[13]), payload);
}

/**
 * gios_message_ref:
 * @self: a [struct@Gios.Message]
 *
 * Takes a reference to @self.
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
 */
GiosMessage *
gios_message_ref (GiosMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * gios_message_unref:
 * @self: (transfer full): a [struct@Gios.Message]
 *
 * Drops a reference to @self, and frees it with the last one.
 *
 * Since: 0.1
 */
void
gios_message_unref (GiosMessage *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_bytes_unref (self->payload);
  g_free (self);
}

/**
 * gios_message_get_message_id:
 * @self: a [struct@Gios.Message]
 *
 * Gets the message id: the uint32 at offset 4 of the header.
 *
 * Returns: the message id
 *
 * Since: 0.1
 */
guint32
gios_message_get_message_id (GiosMessage *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->message_id;
}

/**
 * gios_message_set_message_id:
 * @self: a [struct@Gios.Message]
 * @message_id: the message id
 *
 * Sets the message id, for a client that numbers its requests as it sends
 * them.
 *
 * Since: 0.1
 */
void
gios_message_set_message_id (GiosMessage *self,
                             guint32      message_id)
{
  g_return_if_fail (self != NULL);

  self->message_id = message_id;
}

/**
 * gios_message_get_context:
 * @self: a [struct@Gios.Message]
 *
 * Gets the context: the uint32 at offset 8 of the header, a statement id for
 * SQL calls and 0 otherwise.
 *
 * Returns: the context
 *
 * Since: 0.1
 */
guint32
gios_message_get_context (GiosMessage *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->context;
}

/**
 * gios_message_get_code:
 * @self: a [struct@Gios.Message]
 *
 * Gets the 2-byte code at offset 12 of the header, read as a little-endian
 * uint16: a status in a reply (cast it to `gint16` for an SQLCODE), a
 * function code in a request (`"HS"` is 0x5348, `GIOS_MESSAGE_CODE ('H', 'S')` in C).
 *
 * Returns: the code
 *
 * Since: 0.1
 */
guint16
gios_message_get_code (GiosMessage *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->code;
}

/**
 * gios_message_get_code_string:
 * @self: a [struct@Gios.Message]
 *
 * Gets the code as two characters, when it is a two-character code (see
 * [method@Gios.Message.get_kind]).
 *
 * Returns: (nullable): the code, such as `"DC"`, or %NULL
 *
 * Since: 0.1
 */
const char *
gios_message_get_code_string (GiosMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->code_string[0] != '\0' ? self->code_string : NULL;
}

/**
 * gios_message_get_kind:
 * @self: a [struct@Gios.Message]
 *
 * Tells how the code reads, from its two bytes: a second byte of `C2` is a
 * Native API request code; a letter followed by a letter or a digit (`HS`,
 * `P2`) is a two-character code; anything else is a status number. A reply's
 * status is always small or negative, so it never reads as letters.
 *
 * Returns: the kind of the code
 *
 * Since: 0.1
 */
GiosMessageKind
gios_message_get_kind (GiosMessage *self)
{
  g_return_val_if_fail (self != NULL, GIOS_MESSAGE_KIND_STATUS);

  if ((self->code >> 8) == 0xC2)
    return GIOS_MESSAGE_KIND_NATIVE;
  if (self->code_string[0] != '\0')
    return GIOS_MESSAGE_KIND_TWO_LETTER;
  return GIOS_MESSAGE_KIND_STATUS;
}

/**
 * gios_message_get_payload:
 * @self: a [struct@Gios.Message]
 *
 * Gets the payload: the bytes after the header.
 *
 * Returns: (transfer none): the payload, empty when there is none
 *
 * Since: 0.1
 */
GBytes *
gios_message_get_payload (GiosMessage *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->payload;
}

/**
 * gios_message_set_payload:
 * @self: a [struct@Gios.Message]
 * @payload: (nullable): the payload, or %NULL for none; at most
 *   `G_MAXUINT32` bytes
 *
 * Replaces the payload.
 *
 * Since: 0.1
 */
void
gios_message_set_payload (GiosMessage *self,
                          GBytes      *payload)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (payload_size_ok (payload));

  g_bytes_unref (self->payload);
  self->payload = payload != NULL ? g_bytes_ref (payload) : empty_bytes ();
}

/**
 * gios_message_get_items:
 * @self: a [struct@Gios.Message]
 * @error: return location for a [struct@GLib.Error]
 *
 * Decodes the payload as `$LIST` items, as [func@Gios.list_decode] does.
 *
 * Returns: (transfer full): a `av` variant, or %NULL with @error set when
 *   the payload is not a valid `$LIST`
 *
 * Since: 0.1
 */
GVariant *
gios_message_get_items (GiosMessage  *self,
                        GError      **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return gios_list_decode (self->payload, error);
}

/**
 * gios_message_set_items:
 * @self: a [struct@Gios.Message]
 * @items: a `av` variant: the items
 * @error: return location for a [struct@GLib.Error]
 *
 * Replaces the payload with @items, encoded as [func@Gios.list_encode]
 * encodes them.
 *
 * Returns: %TRUE on success; on failure the payload is unchanged
 *
 * Since: 0.1
 */
gboolean
gios_message_set_items (GiosMessage  *self,
                        GVariant     *items,
                        GError      **error)
{
  g_autoptr(GBytes) payload = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (items != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_variant_ref_sink (items);
  payload = gios_list_encode (items, error);
  g_variant_unref (items);
  if (payload == NULL)
    return FALSE;
  if (g_bytes_get_size (payload) > G_MAXUINT32)
    {
      g_set_error (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE,
                   _("A payload of %zu bytes does not fit in a message"),
                   g_bytes_get_size (payload));
      return FALSE;
    }
  gios_message_set_payload (self, payload);
  return TRUE;
}

static void
write_header (GiosMessage *self,
              guint8      *header)
{
  put_le (header, (guint32) g_bytes_get_size (self->payload), 4);
  put_le (header + 4, self->message_id, 4);
  put_le (header + 8, self->context, 4);
  header[12] = self->code & 0xff;
  header[13] = self->code >> 8;
}

/**
 * gios_message_to_bytes:
 * @self: a [struct@Gios.Message]
 *
 * Gets the bytes of @self as they go on the wire: the header followed by the
 * payload.
 *
 * Returns: (transfer full): the bytes of the message
 *
 * Since: 0.1
 */
GBytes *
gios_message_to_bytes (GiosMessage *self)
{
  gsize size;
  const guint8 *payload;
  guint8 *frame;

  g_return_val_if_fail (self != NULL, NULL);

  payload = g_bytes_get_data (self->payload, &size);
  frame = g_malloc (GIOS_MESSAGE_HEADER_SIZE + size);
  write_header (self, frame);
  if (size > 0)
    memcpy (frame + GIOS_MESSAGE_HEADER_SIZE, payload, size);
  return g_bytes_new_take (frame, GIOS_MESSAGE_HEADER_SIZE + size);
}

/* ------------------------------------------------------------------------ */
/* The settings of a stream                                                   */

/* The settings are the properties below, each an unsigned number, kept in
 * one array indexed by property. */
enum {
  PROP_MAX_MESSAGE_SIZE,
  PROP_STOP_CODE,
  N_PROPS
};

typedef struct
{
  guint values[N_PROPS];
} Settings;

static GParamSpec *properties[N_PROPS];
static const Settings default_settings = { {
  [PROP_MAX_MESSAGE_SIZE] = GIOS_DEFAULT_MAX_MESSAGE_SIZE,
  [PROP_STOP_CODE] = GIOS_MESSAGE_CODE_DISCONNECT,
} };

static GQuark
settings_quark (void)
{
  return g_quark_from_static_string ("gios-message-settings");
}

/* A stream's settings, made on the first change: most streams keep the
 * defaults. */
static const Settings *
get_settings (GiosDeviceStream *stream)
{
  const Settings *settings = g_object_get_qdata (G_OBJECT (stream), settings_quark ());

  return settings != NULL ? settings : &default_settings;
}

static Settings *
ensure_settings (GiosDeviceStream *stream)
{
  Settings *settings = g_object_get_qdata (G_OBJECT (stream), settings_quark ());

  if (settings == NULL)
    {
      settings = g_memdup2 (&default_settings, sizeof default_settings);
      g_object_set_qdata_full (G_OBJECT (stream), settings_quark (), settings, g_free);
    }
  return settings;
}

/* Sets setting @id of @stream, and notifies its property when that changes
 * it. */
static void
set_setting (GiosDeviceStream *stream,
             guint             id,
             guint             value)
{
  if (get_settings (stream)->values[id] == value)
    return;
  ensure_settings (stream)->values[id] = value;
  g_object_notify_by_pspec (G_OBJECT (stream), properties[id]);
}

/* Installs setting @id as the property @name, numbered @first_id + @id: an
 * unsigned number up to @max, whose default is in default_settings. */
static void
install_setting (GObjectClass *klass,
                 guint         first_id,
                 guint         id,
                 const char   *name,
                 guint         max)
{
  properties[id] = g_param_spec_uint (name, NULL, NULL, 0, max, default_settings.values[id],
                                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (klass, first_id + id, properties[id]);
}

void
_gios_message_install_properties (GObjectClass *klass,
                                  guint         first_id)
{
  /**
   * GiosDeviceStream:max-message-size:
   *
   * The largest `$LIST` item (its whole element) that
   * [method@Gios.DeviceStream.receive_item] accepts, and the largest payload
   * that [method@Gios.DeviceStream.receive_message] accepts, in bytes. A
   * larger size announced by the peer fails with %GIOS_ERROR_TOO_LARGE
   * before anything is allocated for it.
   *
   * Default: `16777216` (16 MiB, [const@Gios.DEFAULT_MAX_MESSAGE_SIZE]).
   *
   * Since: 0.1
   */
  install_setting (klass, first_id, PROP_MAX_MESSAGE_SIZE, "max-message-size", G_MAXUINT);

  /**
   * GiosDeviceStream:stop-code:
   *
   * The code of the request that ends [method@Gios.DeviceStream.execute]
   * with %GIOS_EXECUTE_STOPPED, as [method@Gios.Message.get_code] reads it.
   *
   * Default: `17220`, the disconnect code `DC`
   * (%GIOS_MESSAGE_CODE_DISCONNECT).
   *
   * Since: 0.1
   */
  install_setting (klass, first_id, PROP_STOP_CODE, "stop-code", G_MAXUINT16);
}

gboolean
_gios_message_get_property (GObject *object,
                            guint    id,
                            GValue  *value)
{
  const Settings *settings = get_settings (GIOS_DEVICE_STREAM (object));

  if (id >= N_PROPS)
    return FALSE;
  g_value_set_uint (value, settings->values[id]);
  return TRUE;
}

gboolean
_gios_message_set_property (GObject      *object,
                            guint         id,
                            const GValue *value)
{
  if (id >= N_PROPS)
    return FALSE;
  set_setting (GIOS_DEVICE_STREAM (object), id, g_value_get_uint (value));
  return TRUE;
}

/**
 * gios_device_stream_get_max_message_size:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:max-message-size].
 *
 * Returns: the largest item or message payload accepted, in bytes
 *
 * Since: 0.1
 */
guint
gios_device_stream_get_max_message_size (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return get_settings (self)->values[PROP_MAX_MESSAGE_SIZE];
}

/**
 * gios_device_stream_set_max_message_size:
 * @self: a [class@Gios.DeviceStream]
 * @size: the largest item or message payload to accept, in bytes
 *
 * Sets [property@Gios.DeviceStream:max-message-size].
 *
 * Since: 0.1
 */
void
gios_device_stream_set_max_message_size (GiosDeviceStream *self,
                                         guint             size)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));

  set_setting (self, PROP_MAX_MESSAGE_SIZE, size);
}

/**
 * gios_device_stream_get_stop_code:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:stop-code].
 *
 * Returns: the stop code
 *
 * Since: 0.1
 */
guint16
gios_device_stream_get_stop_code (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), GIOS_MESSAGE_CODE_DISCONNECT);

  return (guint16) get_settings (self)->values[PROP_STOP_CODE];
}

/**
 * gios_device_stream_set_stop_code:
 * @self: a [class@Gios.DeviceStream]
 * @code: the code, as [method@Gios.Message.get_code] reads it
 *
 * Sets [property@Gios.DeviceStream:stop-code].
 *
 * Since: 0.1
 */
void
gios_device_stream_set_stop_code (GiosDeviceStream *self,
                                  guint16           code)
{
  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));

  set_setting (self, PROP_STOP_CODE, code);
}

/* ------------------------------------------------------------------------ */
/* On a stream                                                                */


/* Ends the call of a reader. A peek that failed because the input ended
 * before any byte of the next item or message is no error: the peer is
 * done. */
static void
end_read (GiosCall  *call,
          GError    *local_error,
          GError   **error)
{
  if (gios_device_stream_get_buffered_input (call->stream) == 0 &&
      g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    g_clear_error (&local_error);
  _gios_call_end (call, &local_error);
  if (local_error != NULL)
    g_propagate_error (error, local_error);
}

static gboolean
check_size (GiosDeviceStream  *self,
            guint64            size,
            const char        *what,
            GError           **error)
{
  guint max = gios_device_stream_get_max_message_size (self);

  if (size <= max)
    return TRUE;
  g_set_error (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE,
               /* Translators: %s is "a $LIST item" or "the payload of a message" */
               _("The peer announced %s of %llu bytes, above the limit of %u bytes (max-message-size)"),
               what, (unsigned long long) size, max);
  return FALSE;
}

/* Peeks the length prefix of the next element (LIST-FORMAT.md §2), 1, 3
 * then 7 bytes as it tells, and returns the size of the whole element, or 0
 * with @error set.  A long form of 0 has no type byte: the codec reports
 * it. */
static guint64
peek_element_size (GiosDeviceStream  *self,
                   gint64             deadline,
                   GCancellable      *cancellable,
                   GError           **error)
{
  const guint8 *p;
  gsize avail = 1, header;

  for (;;)
    {
      p = _gios_device_stream_peek (self, avail, deadline, cancellable, error);
      if (p == NULL)
        return 0;
      header = prefix_size (p, avail);
      if (header <= avail)
        return header + (guint64) prefix_body_size (p, header);
      avail = header;
    }
}

/* Takes the next @size bytes, a whole item or message, off the stream of
 * @call: checks @announced, the size the peer announced for @what, against
 * max-message-size before it asks for them, and consumes them only once
 * they are all buffered.  Returns NULL with @error set, having consumed
 * nothing. */
static GBytes *
take_frame (GiosCall      *call,
            guint64        size,
            guint64        announced,
            const char    *what,
            GCancellable  *cancellable,
            GError       **error)
{
  const guint8 *p;
  GBytes *frame;

  if (!check_size (call->stream, announced, what, error))
    return NULL;
  p = _gios_device_stream_peek (call->stream, (gsize) size, call->deadline, cancellable, error);
  if (p == NULL)
    return NULL;
  frame = g_bytes_new (p, (gsize) size);
  _gios_device_stream_consume (call->stream, (gsize) size);
  return frame;
}

/* Decodes @element, the bytes of one whole element, into its item. */
static GVariant *
decode_item (GBytes  *element,
             GError **error)
{
  g_autoptr(GVariant) items = gios_list_decode (element, error);
  g_autoptr(GVariant) boxed = NULL;

  if (items == NULL)
    {
      _gios_reword_error (error, _("In the $LIST item received: %s"), _gios_error_message (error));
      return NULL;
    }
  g_assert (g_variant_n_children (items) == 1);
  boxed = g_variant_get_child_value (items, 0);
  return g_variant_get_variant (boxed);
}

/**
 * gios_device_stream_receive_item:
 * @self: a [class@Gios.DeviceStream]
 * @timeout_ms: how long the whole item may take, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Reads one `$LIST` element, and exactly its bytes, as
 * <code>&#37;SYSTEM.IS.Receive()</code> does: its length prefix first, then the rest of the
 * element, however many arrivals they take, within one timeout.
 *
 * The size the prefix announces is checked against
 * [property@Gios.DeviceStream:max-message-size] before anything is allocated
 * for it; a larger one fails with %GIOS_ERROR_TOO_LARGE and leaves the
 * element unread ([method@Gios.DeviceStream.clear] drops what is buffered, and
 * dropping the connection is usually the way on). A timeout, cancellation or
 * an input that ends inside the element (%G_IO_ERROR_CONNECTION_CLOSED)
 * consumes nothing either. An element that arrived whole but does not decode
 * (%GIOS_ERROR_MALFORMED, %GIOS_ERROR_UNSUPPORTED) is consumed, so the next
 * call reads the next element.
 *
 * Returns: (transfer full) (nullable): the item, as an item of
 *   [func@Gios.list_decode] (`s`, `ay`, `x`, `d`, `mv` for the undefined
 *   element…), or %NULL: with @error set on failure, without it when the input
 *   ended before the element's first byte
 *
 * Since: 0.1
 */
GVariant *
gios_device_stream_receive_item (GiosDeviceStream  *self,
                                 int                timeout_ms,
                                 GCancellable      *cancellable,
                                 GError           **error)
{
  g_autoptr(GBytes) element = NULL;
  GError *local_error = NULL;
  GVariant *item = NULL;
  guint64 size;
  GiosCall call;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!_gios_call_begin (&call, self, GIOS_CALL_READ, N_("a $LIST item"), timeout_ms, error))
    return NULL;
  size = peek_element_size (self, call.deadline, cancellable, &local_error);
  if (size != 0)
    element = take_frame (&call, size, size, _("a $LIST item"), cancellable, &local_error);
  if (element != NULL)
    item = decode_item (element, &local_error);
  end_read (&call, local_error, error);
  return item;
}

/**
 * gios_device_stream_send_item:
 * @self: a [class@Gios.DeviceStream]
 * @item: the item: a value of a type that [func@Gios.list_encode] takes as
 *   an item (`s`, `ay`, `x`, `d`, `b`, `av` for a nested list, `mv` for the
 *   undefined element…)
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Encodes @item as one `$LIST` element and writes it, buffered as
 * [method@Gios.DeviceStream.write] does: the caller flushes. A floating
 * @item is consumed.
 *
 * Returns: %TRUE on success; %FALSE with @error set when @item cannot be
 *   encoded (nothing is written) or writing failed
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_send_item (GiosDeviceStream  *self,
                              GVariant          *item,
                              GCancellable      *cancellable,
                              GError           **error)
{
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GVariant *boxed;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (item != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  boxed = g_variant_new_variant (item);
  items = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARIANT, &boxed, 1));
  bytes = gios_list_encode (items, error);
  if (bytes == NULL)
    return FALSE;
  return gios_device_stream_write_bytes (self, bytes, cancellable, error);
}

/**
 * gios_device_stream_receive_message:
 * @self: a [class@Gios.DeviceStream]
 * @timeout_ms: how long the whole message may take, in milliseconds
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Reads one message: exactly 14 bytes of header, then exactly the payload
 * length it announces, however many arrivals they take, within one timeout.
 * The payload is not decoded; see [method@Gios.Message.get_items].
 *
 * A payload length above [property@Gios.DeviceStream:max-message-size] fails
 * with %GIOS_ERROR_TOO_LARGE before anything is allocated for it, and leaves
 * the message unread: the stream is then out of step with the peer, and the
 * caller drops the connection (or [method@Gios.DeviceStream.clear]s the
 * buffered input). A timeout, cancellation or an input that ends inside the
 * message (%G_IO_ERROR_CONNECTION_CLOSED) consumes nothing either.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL: with @error set
 *   on failure, without it when the input ended before the message's first
 *   byte
 *
 * Since: 0.1
 */
GiosMessage *
gios_device_stream_receive_message (GiosDeviceStream  *self,
                                    int                timeout_ms,
                                    GCancellable      *cancellable,
                                    GError           **error)
{
  g_autoptr(GBytes) frame = NULL;
  GError *local_error = NULL;
  GiosMessage *message = NULL;
  const guint8 *p;
  guint32 length;
  GiosCall call;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!_gios_call_begin (&call, self, GIOS_CALL_READ, N_("a message"), timeout_ms, error))
    return NULL;
  p = _gios_device_stream_peek (self, GIOS_MESSAGE_HEADER_SIZE, call.deadline, cancellable, &local_error);
  if (p != NULL)
    {
      length = (guint32) get_le (p, 4);
      frame = take_frame (&call, GIOS_MESSAGE_HEADER_SIZE + (guint64) length, length,
                          _("the payload of a message"), cancellable, &local_error);
    }
  if (frame != NULL)
    message = gios_message_new_from_bytes (frame, NULL);
  end_read (&call, local_error, error);
  return message;
}

/**
 * gios_device_stream_send_message:
 * @self: a [class@Gios.DeviceStream]
 * @message: the message
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Writes @message, its header and its payload, and flushes the output, as a
 * write into a full buffer does: within
 * [property@Gios.DeviceStream:close-timeout] (or
 * [property@Gios.DeviceStream:default-timeout] if that is shorter), and
 * without waiting on the thread of the main loop the stream is served from.
 * A message is what the peer waits for, so it goes out at once, together
 * with anything written before it (such as items from
 * [method@Gios.DeviceStream.send_item]). On failure the bytes not sent stay
 * buffered, whole, for the next flush.
 *
 * Returns: %TRUE when the message was sent
 *
 * Since: 0.1
 */
gboolean
gios_device_stream_send_message (GiosDeviceStream  *self,
                                 GiosMessage       *message,
                                 GCancellable      *cancellable,
                                 GError           **error)
{
  g_autoptr(GBytes) frame = NULL;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* One write, so that a failure leaves the whole frame buffered. */
  frame = gios_message_to_bytes (message);
  if (!gios_device_stream_write_bytes (self, frame, cancellable, error))
    return FALSE;
  return gios_device_stream_flush (self, _gios_device_stream_send_timeout (self), cancellable, error);
}

/**
 * GiosDeviceStreamClass::handle_request:
 * @self: a [class@Gios.DeviceStream]
 * @request: the request
 *
 * Handles one request for [method@Gios.DeviceStream.execute] when it is
 * given no function. A protocol helper overrides it; the default handles
 * none.
 *
 * Returns: (transfer full) (nullable): the reply to send, or %NULL when the
 *   request is not one the class handles
 *
 * Since: 0.1
 */

/**
 * gios_device_stream_execute:
 * @self: a [class@Gios.DeviceStream]
 * @timeout_ms: how long to wait for the request, in milliseconds
 * @func: (scope call) (nullable) (closure user_data): the handler, or %NULL
 *   for the `handle_request` class method (see
 *   [struct@Gios.DeviceStreamClass])
 * @user_data: the data for @func
 * @request: (out) (optional) (nullable) (transfer full): the request that
 *   ended the call with %GIOS_EXECUTE_STOPPED or %GIOS_EXECUTE_UNHANDLED
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @error: return location for a [struct@GLib.Error]
 *
 * Executes one request, as <code>&#37;SYSTEM.IS.Execute()</code> does: reads a message
 * (see [method@Gios.DeviceStream.receive_message]), hands it to the handler,
 * and sends the reply the handler returns
 * ([method@Gios.DeviceStream.send_message], which flushes within
 * [property@Gios.DeviceStream:close-timeout]).
 *
 * One call handles one request, so that the caller can look at each outcome;
 * a server loops:
 *
 * ```c
 * while ((result = gios_device_stream_execute (stream, GIOS_TIMEOUT_DEFAULT, NULL, NULL,
 *                                              &request, cancellable, &error))
 *        == GIOS_EXECUTE_REQUEST_DONE)
 *   ;
 * ```
 *
 * The outcomes:
 *
 * - %GIOS_EXECUTE_REQUEST_DONE: a request was handled and its reply sent;
 * - %GIOS_EXECUTE_STOPPED: a request with the stop code arrived
 *   ([method@Gios.DeviceStream.set_stop_code], `DC` by default); it gets no
 *   reply and is returned in @request. Also when the input ended between two
 *   messages, with @request set to %NULL;
 * - %GIOS_EXECUTE_UNHANDLED: the handler returned %NULL; the request has had
 *   no reply, and is returned in @request for the caller to deal with;
 * - %GIOS_EXECUTE_ERROR: receiving or sending failed, with @error set as
 *   those calls set it (a timeout waiting for the request consumes nothing).
 *
 * Returns: the outcome
 *
 * Since: 0.1
 */
GiosExecuteResult
gios_device_stream_execute (GiosDeviceStream  *self,
                            int                timeout_ms,
                            GiosRequestFunc    func,
                            gpointer           user_data,
                            GiosMessage      **request,
                            GCancellable      *cancellable,
                            GError           **error)
{
  g_autoptr(GiosMessage) message = NULL;
  g_autoptr(GiosMessage) reply = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), GIOS_EXECUTE_ERROR);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, GIOS_EXECUTE_ERROR);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), GIOS_EXECUTE_ERROR);
  g_return_val_if_fail (error == NULL || *error == NULL, GIOS_EXECUTE_ERROR);

  if (request != NULL)
    *request = NULL;

  message = gios_device_stream_receive_message (self, timeout_ms, cancellable, &local_error);
  if (message == NULL)
    {
      if (local_error == NULL)
        return GIOS_EXECUTE_STOPPED;
      g_propagate_error (error, local_error);
      return GIOS_EXECUTE_ERROR;
    }

  if (message->code == gios_device_stream_get_stop_code (self))
    {
      if (request != NULL)
        *request = g_steal_pointer (&message);
      return GIOS_EXECUTE_STOPPED;
    }

  if (func != NULL)
    reply = func (self, message, user_data);
  else
    reply = GIOS_DEVICE_STREAM_GET_CLASS (self)->handle_request (self, message);

  if (reply == NULL)
    {
      if (request != NULL)
        *request = g_steal_pointer (&message);
      return GIOS_EXECUTE_UNHANDLED;
    }

  if (!gios_device_stream_send_message (self, reply, cancellable, error))
    return GIOS_EXECUTE_ERROR;
  return GIOS_EXECUTE_REQUEST_DONE;
}
