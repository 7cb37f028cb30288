/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the device stream offers its subclasses inside the library: a device
 * to attach and detach, waits that a teardown wakes, and the one teardown
 * protocol. Blocking calls are framed with gios-call.h.
 */
#pragma once

#include <gios/gios.h>
#include "gios-call.h"

G_BEGIN_DECLS

/* Makes @fd (-1: a device without a descriptor) the device: buffers start
 * empty and the I/O calls may use it. Calls pending on an earlier device
 * fail with G_IO_ERROR_CLOSED and its watches are removed. */
void     _gios_device_stream_attach          (GiosDeviceStream  *self,
                                              int                fd);
void     _gios_device_stream_detach          (GiosDeviceStream  *self);
/* The is-open property; opening also ends the closed state. */
void     _gios_device_stream_set_open        (GiosDeviceStream  *self,
                                              gboolean           is_open);

/* Waits for @fds, @deadline, @cancellable, or a teardown from another
 * thread (see gios-gate.h). */
gboolean _gios_device_stream_wait            (GiosDeviceStream  *self,
                                              GPollFD           *fds,
                                              guint              n_fds,
                                              gint64             deadline,
                                              GCancellable      *cancellable,
                                              GError           **error);
static inline gboolean
_gios_device_stream_wait_fd (GiosDeviceStream  *self,
                             int                fd,
                             GIOCondition       condition,
                             gint64             deadline,
                             GCancellable      *cancellable,
                             GError           **error)
{
  GPollFD pfd = { fd, condition, 0 };

  return _gios_device_stream_wait (self, &pfd, 1, deadline, cancellable, error);
}

/* TRUE when @deadline has passed: a receive or send that the device
 * refused then fails as the wait would (see gios_gate_time_out()), without
 * polling the device it just tried. */
gboolean _gios_device_stream_expired         (GiosDeviceStream  *self,
                                              gint64             deadline,
                                              GCancellable      *cancellable,
                                              GError           **error);

/* A receive that waits forever may block in the device itself (one system
 * call instead of two) when a teardown can wake it: see gios-gate.h. */
gboolean _gios_device_stream_begin_blocking  (GiosDeviceStream  *self,
                                              gint64             deadline,
                                              GCancellable      *cancellable);
gboolean _gios_device_stream_end_blocking    (GiosDeviceStream  *self,
                                              gboolean           got_data,
                                              GCancellable      *cancellable,
                                              GError           **error);
/* A cancellable a read may wait in the device with (the jobs', see
 * gios-job-pool.c): whoever sees it cancelled calls cancel_blocked(), which
 * shuts the input down under such a read. */
void     _gios_device_stream_set_interrupting (GiosDeviceStream *self,
                                               GCancellable     *cancellable);
void     _gios_device_stream_cancel_blocked   (GiosDeviceStream *self);

/* Tears the device down, from any thread: wakes the calls of other threads
 * and waits until they have left, sends what is buffered within
 * close-timeout when @flush is set (not at all on a main-loop stream's
 * thread: the loop never blocks), then calls @release, which detaches the
 * device, and, once calls may enter again, @done (nullable). A later
 * teardown from another thread wakes this one's sending at once. When the
 * main context of the stream's watches runs on another thread, the input is
 * shut down at once and @redo runs on that thread instead, unless the
 * device has changed by then. */
typedef gboolean (*GiosTeardownFunc) (gpointer self, GError **error);
typedef gboolean (*GiosReleaseFunc)  (GiosDeviceStream *self, GError **error);
gboolean _gios_device_stream_teardown        (GiosDeviceStream  *self,
                                              GiosTeardownFunc   redo,
                                              GiosReleaseFunc    release,
                                              GiosReleaseFunc    done,
                                              gboolean           flush,
                                              GError           **error);
/* Holds off teardowns, for code that wraps the device (get_socket). */
void     _gios_device_stream_lock_device     (GiosDeviceStream  *self);
void     _gios_device_stream_unlock_device   (GiosDeviceStream  *self);

/* A main context whose dispatches touch the stream (a server's accepting):
 * teardowns hold it, or run there when it runs on another thread. */
void     _gios_device_stream_add_context     (GiosDeviceStream  *self,
                                              GMainContext      *context);
void     _gios_device_stream_remove_context  (GiosDeviceStream  *self,
                                              GMainContext      *context);
/* The connection is served from @context's main loop (accepted by start()):
 * implicit sends do not wait on that loop's thread. */
void     _gios_device_stream_set_loop        (GiosDeviceStream  *self,
                                              GMainContext      *context);
/* How long a send made without a timeout of its own may wait, in
 * milliseconds: the shorter of default-timeout and close-timeout, or 0 on
 * the thread of the main loop the stream is served from. */
int      _gios_device_stream_send_timeout    (GiosDeviceStream  *self);
/* The longest any read may wait, in milliseconds (-1: no cap): a server's
 * idle-timeout on the connections it accepts. A stream served from a main
 * loop that receives nothing for that long calls @on_idle there, which a
 * subclass sets once. */
typedef void (*GiosIdleFunc) (GiosDeviceStream *self,
                              int               idle_ms);
void     _gios_device_stream_set_read_cap    (GiosDeviceStream  *self,
                                              int                cap_ms);
void     _gios_device_stream_set_idle_func   (GiosDeviceStream  *self,
                                              GiosIdleFunc       on_idle);

/* Framing (inside a GIOS_CALL_READ call): makes @count bytes buffered until
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

G_END_DECLS
