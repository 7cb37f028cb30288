/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (GIOS_INSIDE) && !defined (GIOS_COMPILATION)
# error "Only <gios/gios.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gios/gios-version.h>
#include <gios/gios-types.h>

G_BEGIN_DECLS

#define GIOS_TYPE_DEVICE_STREAM (gios_device_stream_get_type ())

GIOS_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (GiosDeviceStream, gios_device_stream, GIOS, DEVICE_STREAM, GObject)

/**
 * GiosDeviceStreamClass:
 * @parent_class: the parent class
 * @receive: reads up to @size bytes from the device into @buffer, waiting
 *   until @deadline (a monotonic time, or -1 for none) for at least one; returns
 *   the number of bytes read, 0 at end of input, or -1 with @error set
 * @send: writes up to @size bytes of @data to the device, waiting until
 *   @deadline for room for at least one; returns the number of bytes written
 *   (at least 1) or -1 with @error set
 * @close_device: releases the device
 * @handle_request: handles one request for [method@Gios.DeviceStream.execute]
 *   when it is given no function: returns the reply, or %NULL when the
 *   request is not one the class handles. The default handles none.
 *
 * The class structure of [class@Gios.DeviceStream]. A subclass that reads
 * from its own kind of device implements the three transport methods; every
 * framing rule (lines, exact reads, buffering, timeouts) stays in
 * [class@Gios.DeviceStream].
 *
 * Since: 0.1
 */
struct _GiosDeviceStreamClass
{
  GObjectClass parent_class;

  gssize   (*receive)      (GiosDeviceStream  *self,
                            guint8            *buffer,
                            gsize              size,
                            gint64             deadline,
                            GCancellable      *cancellable,
                            GError           **error);
  gssize   (*send)         (GiosDeviceStream  *self,
                            const guint8      *data,
                            gsize              size,
                            gint64             deadline,
                            GCancellable      *cancellable,
                            GError           **error);
  gboolean (*close_device) (GiosDeviceStream  *self,
                            GError           **error);

  GiosMessage *(*handle_request) (GiosDeviceStream *self,
                                  GiosMessage      *request);

  /*< private >*/
  gpointer _reserved[7];
};

GIOS_AVAILABLE_IN_ALL
GiosDeviceStream *gios_device_stream_new                    (GIOStream         *base);
GIOS_AVAILABLE_IN_ALL
GIOStream        *gios_device_stream_get_base_stream        (GiosDeviceStream  *self);

GIOS_AVAILABLE_IN_ALL
gssize            gios_device_stream_read                   (GiosDeviceStream  *self,
                                                             guint8            *buffer,
                                                             gsize              count,
                                                             int                timeout_ms,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
GBytes           *gios_device_stream_read_bytes             (GiosDeviceStream  *self,
                                                             gsize              count,
                                                             int                timeout_ms,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_read_exact             (GiosDeviceStream  *self,
                                                             guint8            *buffer,
                                                             gsize              count,
                                                             int                timeout_ms,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
GBytes           *gios_device_stream_read_exact_bytes       (GiosDeviceStream  *self,
                                                             gsize              count,
                                                             int                timeout_ms,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
char             *gios_device_stream_read_line              (GiosDeviceStream  *self,
                                                             gsize              max_length,
                                                             gsize             *length,
                                                             int                timeout_ms,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
GBytes           *gios_device_stream_read_line_bytes        (GiosDeviceStream  *self,
                                                             gsize              max_length,
                                                             int                timeout_ms,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_write                  (GiosDeviceStream  *self,
                                                             const guint8      *data,
                                                             gsize              count,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_write_bytes            (GiosDeviceStream  *self,
                                                             GBytes            *bytes,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_write_line             (GiosDeviceStream  *self,
                                                             const char        *line,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_flush                  (GiosDeviceStream  *self,
                                                             int                timeout_ms,
                                                             GCancellable      *cancellable,
                                                             GError           **error);
GIOS_AVAILABLE_IN_ALL
GIOCondition      gios_device_stream_poll                   (GiosDeviceStream  *self,
                                                             GIOCondition       condition,
                                                             int                timeout_ms,
                                                             GCancellable      *cancellable);
GIOS_AVAILABLE_IN_ALL
gsize             gios_device_stream_clear                  (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_close                  (GiosDeviceStream  *self,
                                                             GError           **error);

GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_read_bytes_async       (GiosDeviceStream    *self,
                                                             gsize                count,
                                                             int                  timeout_ms,
                                                             int                  io_priority,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
GBytes           *gios_device_stream_read_bytes_finish      (GiosDeviceStream    *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_read_line_async        (GiosDeviceStream    *self,
                                                             gsize                max_length,
                                                             int                  timeout_ms,
                                                             int                  io_priority,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
char             *gios_device_stream_read_line_finish       (GiosDeviceStream    *self,
                                                             GAsyncResult        *result,
                                                             gsize               *length,
                                                             GError             **error);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_read_line_bytes_async  (GiosDeviceStream    *self,
                                                             gsize                max_length,
                                                             int                  timeout_ms,
                                                             int                  io_priority,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
GBytes           *gios_device_stream_read_line_bytes_finish (GiosDeviceStream    *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_write_async            (GiosDeviceStream    *self,
                                                             const guint8        *data,
                                                             gsize                count,
                                                             int                  timeout_ms,
                                                             int                  io_priority,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_write_finish           (GiosDeviceStream    *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_write_bytes_async      (GiosDeviceStream    *self,
                                                             GBytes              *bytes,
                                                             int                  timeout_ms,
                                                             int                  io_priority,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_write_bytes_finish     (GiosDeviceStream    *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_flush_async            (GiosDeviceStream    *self,
                                                             int                  timeout_ms,
                                                             int                  io_priority,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_flush_finish           (GiosDeviceStream    *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);

typedef gboolean (*GiosDeviceStreamWatchFunc) (GiosDeviceStream *stream,
                                               GIOCondition      condition,
                                               gpointer          user_data);

GIOS_AVAILABLE_IN_ALL
guint             gios_device_stream_add_watch              (GiosDeviceStream          *self,
                                                             GIOCondition               condition,
                                                             GiosDeviceStreamWatchFunc  func,
                                                             gpointer                   user_data,
                                                             GDestroyNotify             notify);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_remove_watch           (GiosDeviceStream          *self,
                                                             guint                      watch_id);

GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_get_is_open            (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_device_stream_get_at_end             (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
gsize             gios_device_stream_get_buffered_input     (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
gsize             gios_device_stream_get_buffered_output    (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
const char       *gios_device_stream_get_line_terminator    (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_set_line_terminator    (GiosDeviceStream  *self,
                                                             const char        *terminator);
GIOS_AVAILABLE_IN_ALL
int               gios_device_stream_get_default_timeout    (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_set_default_timeout    (GiosDeviceStream  *self,
                                                             int                timeout_ms);
GIOS_AVAILABLE_IN_ALL
int               gios_device_stream_get_close_timeout      (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_set_close_timeout      (GiosDeviceStream  *self,
                                                             int                timeout_ms);
GIOS_AVAILABLE_IN_ALL
guint             gios_device_stream_get_input_buffer_size  (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_set_input_buffer_size  (GiosDeviceStream  *self,
                                                             guint              size);
GIOS_AVAILABLE_IN_ALL
guint             gios_device_stream_get_output_buffer_size (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_set_output_buffer_size (GiosDeviceStream  *self,
                                                             guint              size);
GIOS_AVAILABLE_IN_ALL
guint             gios_device_stream_get_max_message_size   (GiosDeviceStream  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_device_stream_set_max_message_size   (GiosDeviceStream  *self,
                                                             guint              size);

G_END_DECLS
