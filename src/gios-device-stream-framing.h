/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the message layer (gios-message.c) frames with: bytes looked at in
 * the input buffer before they are taken, and the timeout of the flush
 * after a reply it sends on its own.
 */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

/* Inside a GIOS_CALL_READ call: makes @count bytes buffered until
 * @deadline without consuming them and returns them; NULL with
 * G_IO_ERROR_CONNECTION_CLOSED when the input ends first, or the transport's
 * error. Bytes stay buffered on failure. */
const guint8 *_gios_device_stream_peek       (GiosDeviceStream  *self,
                                              gsize              count,
                                              gint64             deadline,
                                              GCancellable      *cancellable,
                                              GError           **error);
void     _gios_device_stream_consume         (GiosDeviceStream  *self,
                                              gsize              count);
/* How long a send made without a timeout of its own may wait, in
 * milliseconds: the shorter of default-timeout and close-timeout, or 0 on
 * the thread of the main loop the stream is served from. */
int      _gios_device_stream_send_timeout    (GiosDeviceStream  *self);

G_END_DECLS
