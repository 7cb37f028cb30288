/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

/* Replaces a bare "Timed out" from a transport with a message that says
 * what was awaited, within which time, and how much of it had arrived. */
void     _gios_explain_timeout              (GError           **error,
                                             const char        *what,
                                             int                timeout_ms,
                                             gsize              buffered);

/* A time limit, as the public calls receive it (timeout_ms) and as the
 * transport methods use it (a monotonic deadline). */
gint64   _gios_deadline_from_timeout        (int                timeout_ms);

int      _gios_device_stream_resolve_timeout (GiosDeviceStream *self,
                                              int               timeout_ms);

/* Every blocking public call runs between enter and leave.  close() and
 * drop_connection() from another thread interrupt the callers in between and
 * wait until they have left, so the device is never released under them. */
gboolean _gios_device_stream_enter          (GiosDeviceStream  *self,
                                             GError           **error);
void     _gios_device_stream_leave          (GiosDeviceStream  *self);
void     _gios_device_stream_interrupt      (GiosDeviceStream  *self);
void     _gios_device_stream_resume         (GiosDeviceStream  *self);
/* For a transport's receive that waits forever: whether it may block in
 * the device itself instead of polling first. Only when whatever could end
 * the wait also shuts the device down: interrupt() (close() and
 * drop_connection()) does, and so does the server that cancels a job's
 * cancellable (set with set_job_cancellable). A TRUE return is paired with
 * end_blocking(), which, when the receive got nothing (@got_data FALSE),
 * says whether it was woken: G_IO_ERROR_CANCELLED or G_IO_ERROR_CLOSED. */
gboolean _gios_device_stream_begin_blocking (GiosDeviceStream  *self,
                                             gint64             deadline,
                                             GCancellable      *cancellable);
gboolean _gios_device_stream_end_blocking   (GiosDeviceStream  *self,
                                             gboolean           got_data,
                                             GCancellable      *cancellable,
                                             GError           **error);
void     _gios_device_stream_set_job_cancellable (GiosDeviceStream *self,
                                                  GCancellable     *cancellable);
/* close() and drop_connection() hold this, so that two threads never tear
 * the same device down at once. Recursive. */
void     _gios_device_stream_teardown_lock   (GiosDeviceStream  *self);
void     _gios_device_stream_teardown_unlock (GiosDeviceStream  *self);

/* The watches and asynchronous calls of a stream belong to the thread that
 * runs their main context; close() and drop_connection() may be called from
 * any thread. teardown_enter() returns TRUE, holding the teardown lock, when
 * the caller may tear the device down itself; with FALSE, @redo is called
 * on the context's thread instead. Pair a TRUE with teardown_leave(). */
typedef gboolean (*GiosTeardownFunc) (gpointer self, GError **error);
gboolean _gios_device_stream_teardown_enter  (GiosDeviceStream  *self,
                                              GiosTeardownFunc   redo);
void     _gios_device_stream_teardown_leave  (GiosDeviceStream  *self);
/* The context of a server socket's accepting (NULL: none), which
 * teardown_enter() holds too. */
void     _gios_device_stream_set_accept_context (GiosDeviceStream *self,
                                                 GMainContext     *context);
GMainContext *_gios_device_stream_get_accept_context (GiosDeviceStream *self);

/* Makes the stream's wake-up descriptor now (it is otherwise made on the
 * first wait), so that a wake from another thread is never missed. Returns
 * it, or a negative value where none could be made (waits then look at
 * their flags every 50 ms). */
int      _gios_device_stream_prepare_wakeup (GiosDeviceStream  *self);
/* Ends a wait on no descriptor (n_fds 0) in another thread. */
void     _gios_device_stream_wake           (GiosDeviceStream  *self);

/* Waits until one of @fds is ready, @deadline passes (G_IO_ERROR_TIMED_OUT),
 * @cancellable is cancelled (G_IO_ERROR_CANCELLED) or the stream is
 * interrupted (G_IO_ERROR_CLOSED).  Restarts after EINTR.  On success the
 * revents of @fds are set. With no @fds it is a wait to be woken, which may
 * also end early (every 50 ms where no wake-up descriptor could be made):
 * callers look at their condition again. */
gboolean _gios_device_stream_wait           (GiosDeviceStream  *self,
                                             GPollFD           *fds,
                                             guint              n_fds,
                                             gint64             deadline,
                                             GCancellable      *cancellable,
                                             GError           **error);
gboolean _gios_device_stream_wait_fd        (GiosDeviceStream  *self,
                                             int                fd,
                                             GIOCondition       condition,
                                             gint64             deadline,
                                             GCancellable      *cancellable,
                                             GError           **error);

/* is_open is the is-open property (opening also ends the closed state);
 * io_ready says whether the public I/O calls may use the device (a server
 * socket is open without a connection). */
void     _gios_device_stream_set_open       (GiosDeviceStream  *self,
                                             gboolean           is_open);
void     _gios_device_stream_set_io_ready   (GiosDeviceStream  *self,
                                             gboolean           io_ready);
/* Forgets buffered input and output and the end-of-input state: a new
 * connection starts clean. */
void     _gios_device_stream_reset          (GiosDeviceStream  *self);
/* Sends buffered output with the default timeout, if any is buffered. */
gboolean _gios_device_stream_flush_default  (GiosDeviceStream  *self,
                                             GError           **error);
/* Flushes with the default timeout when no other thread is in a call on
 * @self (the caller owns it); does nothing otherwise. */
gboolean _gios_device_stream_flush_if_owner (GiosDeviceStream  *self,
                                             GError           **error);

/* Like _gios_device_stream_enter, for calls that need the device. */
gboolean _gios_device_stream_enter_io       (GiosDeviceStream  *self,
                                             GError           **error);

/* Framing (inside enter_io/leave): makes @count bytes buffered until
 * @deadline without consuming them, and returns them; NULL with
 * G_IO_ERROR_CONNECTION_CLOSED when the input ends first, or the transport's
 * error. Bytes stay buffered on failure. */
const guint8 *_gios_device_stream_peek      (GiosDeviceStream  *self,
                                             gsize              count,
                                             gint64             deadline,
                                             GCancellable      *cancellable,
                                             GError           **error);
void     _gios_device_stream_consume        (GiosDeviceStream  *self,
                                             gsize              count);

/* The descriptor the async calls wait on (-1: none, they run on a thread).
 * Changing it fails the pending calls with G_IO_ERROR_CLOSED. */
void     _gios_device_stream_set_device_fd  (GiosDeviceStream  *self,
                                             int                fd);

G_END_DECLS
