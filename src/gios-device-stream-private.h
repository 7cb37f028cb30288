/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the device stream offers its subclasses inside the library (the
 * socket classes): a device to attach and detach, the gate whose waits a
 * teardown wakes, and the one teardown protocol. Blocking calls are framed
 * with gios-call.h. What a server sets on the streams it serves is in
 * gios-device-stream-serving.h; what the message layer frames with, in
 * gios-device-stream-framing.h.
 */
#pragma once

#include <gios/gios.h>
#include "gios-call.h"
#include "gios-gate.h"

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

/* The stream's gate (gios-gate.h): a subclass's transport and the
 * server's waits block in gios_gate_wait() so that a teardown from another
 * thread wakes them; a job's cancellable is made the gate's interrupting
 * one. */
GiosGate *_gios_device_stream_get_gate       (GiosDeviceStream  *self);

/* Whether an asynchronous read or write call is pending on the stream. */
gboolean _gios_device_stream_has_pending_calls (GiosDeviceStream *self);

/* The device holds input that its descriptor does not show (a TLS record
 * read in part, records read ahead): until the next receive, the stream's
 * watch reports the device readable in each dispatch where input is
 * wanted, and an async read receives instead of waiting for the
 * descriptor. Called from the class's receive. */
void     _gios_device_stream_more_input      (GiosDeviceStream  *self);

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
/* Holds off teardowns while held, for code that wraps the device
 * (get_socket): a GRecMutex to take with g_rec_mutex_locker_new(). */
GRecMutex *_gios_device_stream_get_device_lock (GiosDeviceStream *self);

G_END_DECLS
