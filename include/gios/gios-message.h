/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (GIOS_INSIDE) && !defined (GIOS_COMPILATION)
# error "Only <gios/gios.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gios/gios-version.h>
#include <gios/gios-device-stream.h>

G_BEGIN_DECLS

/**
 * GIOS_MESSAGE_HEADER_SIZE:
 *
 * The size in bytes of the header that frames every message: a uint32
 * payload length, a uint32 message id, a uint32 context and a 2-byte code,
 * all little-endian.
 *
 * Since: 0.1
 */
#define GIOS_MESSAGE_HEADER_SIZE 14

/**
 * GIOS_DEFAULT_MAX_MESSAGE_SIZE:
 *
 * The default of [property@Gios.DeviceStream:max-message-size]: 16 MiB.
 *
 * Since: 0.1
 */
#define GIOS_DEFAULT_MAX_MESSAGE_SIZE (16u * 1024u * 1024u)

/**
 * GIOS_MESSAGE_CODE:
 * @first: the byte at offset 12 of the header
 * @second: the byte at offset 13 of the header
 *
 * The 2-byte code of a message as the number that
 * [method@Gios.Message.get_code] returns: `GIOS_MESSAGE_CODE ('D', 'C')` is
 * the disconnect code, `GIOS_MESSAGE_CODE (0x4B, 0xC2)` the Native API
 * class-method call.
 *
 * Since: 0.1
 */
#define GIOS_MESSAGE_CODE(first, second) \
  ((guint16) ((guint8) (first) | ((guint16) (guint8) (second) << 8)))

/**
 * GIOS_MESSAGE_CODE_DISCONNECT:
 *
 * The disconnect code `DC`: the default stop code of
 * [method@Gios.DeviceStream.execute].
 *
 * Since: 0.1
 */
#define GIOS_MESSAGE_CODE_DISCONNECT GIOS_MESSAGE_CODE ('D', 'C')

/**
 * GiosMessageKind:
 * @GIOS_MESSAGE_KIND_STATUS: the code is a status number, as in a reply
 *   (0 is OK; for SQL calls an int16 SQLCODE)
 * @GIOS_MESSAGE_KIND_NATIVE: the code is a Native API request code: its
 *   second byte is `C2`
 * @GIOS_MESSAGE_KIND_TWO_LETTER: the code is a two-character xDBC ("DBSRV")
 *   code such as `HS`, `DC` or `P2`
 *
 * How the 2-byte code of a [struct@Gios.Message] reads. The values are the
 * `type` that <code>&#37;SYSTEM.IS.ReceiveReply()</code> reports.
 *
 * Since: 0.1
 */
typedef enum {
  GIOS_MESSAGE_KIND_STATUS = 0,
  GIOS_MESSAGE_KIND_NATIVE = 1,
  GIOS_MESSAGE_KIND_TWO_LETTER = 2,
} GiosMessageKind;

/**
 * GiosExecuteResult:
 * @GIOS_EXECUTE_ERROR: the call failed, and its error is set
 * @GIOS_EXECUTE_REQUEST_DONE: one request was read, handled and its reply
 *   sent
 * @GIOS_EXECUTE_STOPPED: the peer is done: it sent the stop code (see
 *   [method@Gios.DeviceStream.set_stop_code]), or it ended its output between
 *   two messages
 * @GIOS_EXECUTE_UNHANDLED: the handler did not take the request, which is
 *   returned to the caller
 *
 * What one call of [method@Gios.DeviceStream.execute] did.
 *
 * Since: 0.1
 */
typedef enum {
  GIOS_EXECUTE_ERROR,
  GIOS_EXECUTE_REQUEST_DONE,
  GIOS_EXECUTE_STOPPED,
  GIOS_EXECUTE_UNHANDLED,
} GiosExecuteResult;

#define GIOS_TYPE_MESSAGE (gios_message_get_type ())

GIOS_AVAILABLE_IN_ALL
GType            gios_message_get_type        (void) G_GNUC_CONST;
GIOS_AVAILABLE_IN_ALL
GiosMessage     *gios_message_new             (guint32        message_id,
                                               guint32        context,
                                               guint16        code,
                                               GBytes        *payload);
GIOS_AVAILABLE_IN_ALL
GiosMessage     *gios_message_new_request     (guint32        message_id,
                                               guint32        context,
                                               const char    *code,
                                               GBytes        *payload);
GIOS_AVAILABLE_IN_ALL
GiosMessage     *gios_message_new_native      (guint32        message_id,
                                               guint32        context,
                                               guint8         function,
                                               GBytes        *payload);
GIOS_AVAILABLE_IN_ALL
GiosMessage     *gios_message_new_reply       (GiosMessage   *request,
                                               guint16        status,
                                               GBytes        *payload);
GIOS_AVAILABLE_IN_ALL
GiosMessage     *gios_message_new_from_bytes  (GBytes        *frame,
                                               GError       **error);
GIOS_AVAILABLE_IN_ALL
GiosMessage     *gios_message_ref             (GiosMessage   *self);
GIOS_AVAILABLE_IN_ALL
void             gios_message_unref           (GiosMessage   *self);

GIOS_AVAILABLE_IN_ALL
guint32          gios_message_get_message_id  (GiosMessage   *self);
GIOS_AVAILABLE_IN_ALL
void             gios_message_set_message_id  (GiosMessage   *self,
                                               guint32        message_id);
GIOS_AVAILABLE_IN_ALL
guint32          gios_message_get_context     (GiosMessage   *self);
GIOS_AVAILABLE_IN_ALL
guint16          gios_message_get_code        (GiosMessage   *self);
GIOS_AVAILABLE_IN_ALL
const char      *gios_message_get_code_string (GiosMessage   *self);
GIOS_AVAILABLE_IN_ALL
GiosMessageKind  gios_message_get_kind        (GiosMessage   *self);
GIOS_AVAILABLE_IN_ALL
GBytes          *gios_message_get_payload     (GiosMessage   *self);
GIOS_AVAILABLE_IN_ALL
void             gios_message_set_payload     (GiosMessage   *self,
                                               GBytes        *payload);
GIOS_AVAILABLE_IN_ALL
GVariant        *gios_message_get_items       (GiosMessage   *self,
                                               GError       **error);
GIOS_AVAILABLE_IN_ALL
gboolean         gios_message_set_items       (GiosMessage   *self,
                                               GVariant      *items,
                                               GError       **error);
GIOS_AVAILABLE_IN_ALL
GBytes          *gios_message_to_bytes        (GiosMessage   *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GiosMessage, gios_message_unref)

/**
 * GiosRequestFunc:
 * @stream: the [class@Gios.DeviceStream] the request came from
 * @request: the request
 * @user_data: the data given to [method@Gios.DeviceStream.execute]
 *
 * Handles one request for [method@Gios.DeviceStream.execute]. A failure the
 * peer should hear about is a reply with a status that says so; %NULL hands
 * the request back to the caller of execute instead.
 *
 * Returns: (transfer full) (nullable): the reply to send, or %NULL when the
 *   request is not one this function handles
 *
 * Since: 0.1
 */
typedef GiosMessage *(*GiosRequestFunc) (GiosDeviceStream *stream,
                                         GiosMessage      *request,
                                         gpointer          user_data);

/* Items and messages on a GiosDeviceStream */

GIOS_AVAILABLE_IN_ALL
GVariant          *gios_device_stream_receive_item    (GiosDeviceStream  *self,
                                                       int                timeout_ms,
                                                       GCancellable      *cancellable,
                                                       GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean           gios_device_stream_send_item       (GiosDeviceStream  *self,
                                                       GVariant          *item,
                                                       GCancellable      *cancellable,
                                                       GError           **error);
GIOS_AVAILABLE_IN_ALL
GiosMessage       *gios_device_stream_receive_message (GiosDeviceStream  *self,
                                                       int                timeout_ms,
                                                       GCancellable      *cancellable,
                                                       GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean           gios_device_stream_send_message    (GiosDeviceStream  *self,
                                                       GiosMessage       *message,
                                                       GCancellable      *cancellable,
                                                       GError           **error);
GIOS_AVAILABLE_IN_ALL
GiosExecuteResult  gios_device_stream_execute         (GiosDeviceStream  *self,
                                                       int                timeout_ms,
                                                       GiosRequestFunc    func,
                                                       gpointer           user_data,
                                                       GiosMessage      **request,
                                                       GCancellable      *cancellable,
                                                       GError           **error);
GIOS_AVAILABLE_IN_ALL
guint16            gios_device_stream_get_stop_code   (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
void               gios_device_stream_set_stop_code   (GiosDeviceStream  *self,
                                                       guint16            code);

G_END_DECLS
