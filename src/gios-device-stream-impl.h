/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside the device stream: the instance state that its files share
 * (gios-device-stream.c: the object, the transport and the teardown;
 * -io.c: the blocking calls; -async.c: the asynchronous calls; -watch.c:
 * the device's reactor watch and the user watches). Nothing outside those
 * files includes this.
 */
#pragma once

#include "gios-private.h"
#include "gios-device-stream-private.h"
#include "gios-device-stream-serving.h"
#include "gios-device-stream-framing.h"
#include "gios-buffer.h"
#include "gios-gate.h"
#include "gios-reactor-private.h"
#include "gios-async-call.h"

G_BEGIN_DECLS

#define GIOS_DEFAULT_BUFFER_SIZE (16 * 1024)
#define GIOS_DEFAULT_CLOSE_TIMEOUT 5000

typedef struct _UserWatch UserWatch;

typedef struct
{
  GIOStream *base;
  /* Where waits for a base stream that is pollable but no descriptor (a
   * GTlsConnection) iterate its source; made on first use. */
  GMainContext *wait_context;
  GiosGate gate;
  GiosInBuffer in;
  GiosOutBuffer out;

  char *terminator;
  gsize terminator_len;
  int default_timeout;
  int close_timeout;
  int read_cap;

  guint is_open : 1;
  guint eof : 1;

  /* Teardowns: serialised (recursive: a disconnected handler may close
   * from inside a drop), holding the registered main contexts. How many
   * devices the stream has had, so that a teardown handed to a context's
   * thread does not reach a later device. */
  GRecMutex teardown;
  guint teardown_depth;
  GPtrArray *contexts;          /* of GMainContext, registered */
  GPtrArray *held;              /* of GMainContext, acquired by the teardown */
  gint device_generation;       /* atomic */

  /* The main loop: the device's descriptor, watched by the reactor of the
   * context its watches and async calls were made on; one read and one
   * write call may be pending. */
  int device_fd;
  GMainContext *loop_context;   /* the stream is served from this loop */
  GiosWatch *watch;
  GMainContext *watch_context;
  GiosAsyncCall *read_call;
  GiosAsyncCall *write_call;
  /* The last receive came back short: the device had no more, and the
   * reactor says when it has (see on_device_ready). */
  guint input_drained : 1;
  /* on_device_ready runs: what the reactor reported is current. */
  guint in_dispatch : 1;
  /* The device holds input that its descriptor does not show (see
   * _gios_device_stream_more_input()), until the next receive. */
  guint input_held : 1;
  /* The pending write call found the device full: it waits for G_IO_OUT. */
  guint write_waits_out : 1;
  GiosIdleFunc on_idle;         /* the device was silent past the read cap */
  GPtrArray *user_watches;      /* of UserWatch; NULL until the first */
  guint last_watch_id;
  guint user_dispatching;
} GiosDeviceStreamPrivate;

/* Set by the class: where the private struct is in an instance. */
extern gint _gios_device_stream_private_offset;

static inline GiosDeviceStreamPrivate *
PRIV (GiosDeviceStream *self)
{
  return G_STRUCT_MEMBER_P (self, _gios_device_stream_private_offset);
}

/* _gios_call_begin(), inlined where the stream's own calls run, for the
 * calls made per request. */
static inline gboolean
_gios_call_begin_here (GiosCall          *call,
                       GiosDeviceStream  *stream,
                       GiosCallKind       kind,
                       const char        *what,
                       int                timeout_ms,
                       GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (stream);

  call->stream = stream;
  call->kind = kind;
  call->what = what;
  call->timeout = timeout_ms == GIOS_TIMEOUT_DEFAULT ? priv->default_timeout : timeout_ms;
  call->capped = kind == GIOS_CALL_READ && priv->read_cap >= 0 &&
                 (call->timeout < 0 || call->timeout > priv->read_cap);
  call->deadline = _gios_deadline_from_timeout (call->capped ? priv->read_cap : call->timeout);
  return gios_gate_enter (&priv->gate, &call->frame,
                          kind == GIOS_CALL_OPEN ? GIOS_GATE_ANY : GIOS_GATE_DEVICE, 0, error);
}

/* _gios_call_end(), likewise. */
static inline void
_gios_call_end_here (GiosCall  *call,
                     GError   **error)
{
  if (error != NULL && *error != NULL && call->what != NULL)
    _gios_call_end (call, error);
  else
    gios_gate_leave (&PRIV (call->stream)->gate, &call->frame);
}

/* gios-device-stream.c */
/* The error of a call that timed out, saying what was awaited and how much
 * had arrived (or was still to send). */
GError  *_gios_device_stream_timeout_error (GiosDeviceStream *self,
                                            GiosCallKind      kind,
                                            const char       *what,
                                            int               timeout,
                                            gboolean          capped);
void     _gios_device_stream_change_eof   (GiosDeviceStream  *self,
                                           gboolean           eof);
static inline void
_gios_device_stream_set_eof (GiosDeviceStream *self,
                             gboolean          eof)
{
  if (PRIV (self)->eof != (guint) !!eof)
    _gios_device_stream_change_eof (self, eof);
}
/* Receives once into @buffer; notes whether the device was read to the
 * bottom. Returns the bytes received, 0 at end of input, -1 on error. */
gssize   _gios_device_stream_receive      (GiosDeviceStream  *self,
                                           guint8            *buffer,
                                           gsize              size,
                                           gint64             deadline,
                                           GCancellable      *cancellable,
                                           GError           **error);
/* Receives once into the input buffer, which may grow to hold @total
 * bytes. Returns the bytes added, 0 at end of input, -1 on error. */
gssize   _gios_device_stream_fill         (GiosDeviceStream  *self,
                                           gsize              total,
                                           gint64             deadline,
                                           GCancellable      *cancellable,
                                           GError           **error);
/* Sends buffered output until @deadline; what is not sent stays buffered. */
gboolean _gios_device_stream_flush_buffer (GiosDeviceStream  *self,
                                           gint64             deadline,
                                           GCancellable      *cancellable,
                                           GError           **error);
/* Sends @data, buffering it as write() does; on a main-loop stream it
 * never waits, and fails with G_IO_ERROR_WOULD_BLOCK, buffering nothing,
 * when there is no room. */
gboolean _gios_device_stream_write_buffered (GiosDeviceStream *self,
                                             const guint8     *data,
                                             gsize             count,
                                             GCancellable     *cancellable,
                                             GError          **error);
/* On a main-loop stream: makes room by sending what the device takes now,
 * without waiting. TRUE when @count bytes may be buffered: they fit, or the
 * buffer is empty (a write larger than the buffer is taken whole into an
 * empty one, so that it can go out at all); G_IO_ERROR_WOULD_BLOCK
 * otherwise. */
gboolean _gios_device_stream_make_room_now (GiosDeviceStream *self,
                                            gsize             count,
                                            GError          **error);
/* The time limit of sends made without a timeout of their own: the
 * shorter of default-timeout and close-timeout. */
int      _gios_device_stream_implicit_timeout (GiosDeviceStream *self);
/* Whether implicit sends must not wait: the stream is served from a main
 * loop and this is that loop's thread. */
gboolean _gios_device_stream_on_loop      (GiosDeviceStream  *self);
/* Enters and leaves the gate for a step of an asynchronous call. */
gboolean _gios_device_stream_enter_step   (GiosDeviceStream  *self,
                                           GiosGateFrame     *frame,
                                           GError           **error);
void     _gios_device_stream_leave_step   (GiosDeviceStream  *self,
                                           GiosGateFrame     *frame);
/* Takes a scanned line out of the input buffer. */
char    *_gios_device_stream_take_line    (GiosDeviceStream  *self,
                                           const GiosLineScan *scan);
GBytes  *_gios_device_stream_take_line_bytes (GiosDeviceStream *self,
                                              const GiosLineScan *scan);
/* Checks that a scanned line is text for a utf8 result: no NUL, valid
 * UTF-8. Consumes nothing. */
gboolean _gios_device_stream_check_text   (GiosDeviceStream  *self,
                                           const GiosLineScan *scan,
                                           GError           **error);

/* gios-device-stream-watch.c */
/* Watches the device on @context (the caller's thread-default one), moving
 * the watch there if it was on another context. */
gboolean _gios_device_stream_ensure_watch (GiosDeviceStream  *self,
                                           GMainContext      *context,
                                           GError           **error);
/* Asks the watch for what the pending calls wait for. */
void     _gios_device_stream_update_watch (GiosDeviceStream  *self);
/* The device changed: the watch and the user watches go. */
void     _gios_device_stream_drop_watches (GiosDeviceStream  *self);
/* Calls the watch in the reactor's next dispatch, to look at the buffers
 * and try the device once. */
void     _gios_device_stream_recheck      (GiosDeviceStream  *self);
GIOCondition _gios_device_stream_wanted_by_user_watches (GiosDeviceStream *self);
void     _gios_device_stream_dispatch_user_watches (GiosDeviceStream *self,
                                                    GIOCondition      revents);
void     _gios_device_stream_release_buffers (GiosDeviceStream *self);

/* gios-device-stream-async.c */
/* Steps the pending calls after the watch reported @revents. */
void     _gios_device_stream_step_async   (GiosDeviceStream  *self,
                                           GIOCondition       revents,
                                           gboolean           recheck);
/* Fails the pending calls with G_IO_ERROR_CLOSED and @message, untranslated. */
void     _gios_device_stream_fail_async   (GiosDeviceStream  *self,
                                           const char        *message);

G_END_DECLS
