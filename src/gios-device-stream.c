/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosDeviceStream: buffered, deadline-driven reads and writes over a device.
 *
 * The class owns both buffers and every framing rule.  Bytes come from and go
 * to the device only through the three class methods receive, send and
 * close_device; the default implementation wraps a GIOStream.
 */

#include "gios-private.h"
#include "gios-device-stream-private.h"
#include "gios-reactor-private.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
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
 * never drops data: what could not be sent stays buffered for the next flush.
 *
 * [ctor@Gios.DeviceStream.new] wraps any [class@Gio.IOStream] (a pipe, a
 * file, a serial line). The socket classes, [class@Gios.ServerSocket] and
 * [class@Gios.Socket], derive from it. A subclass for another kind of device
 * implements the `receive`, `send` and `close_device` class methods; see
 * [struct@Gios.DeviceStreamClass].
 *
 * A stream is used by one thread at a time. [method@Gios.DeviceStream.close]
 * and cancellation may come from any thread, and wake a thread blocked in a
 * call on the same stream.
 *
 * A write to a device whose reader has gone fails with an error: like
 * [class@Gio.Socket], the class ignores `SIGPIPE` process-wide, unless the
 * program has installed a handler of its own.
 *
 * Since: 1.0
 */

#define DEFAULT_BUFFER_SIZE (16 * 1024)
#define WAKEUP_NONE (-1)
#define WAKEUP_FAILED (-2)
/* A write on a descriptor-backed stream that poll() reported writable never
 * blocks below this size (a pipe guarantees PIPE_BUF bytes of room). */
#define FD_WRITE_CHUNK 4096
/* The most an async read_bytes receives through the stack. */
#define ASYNC_STACK_CHUNK (16 * 1024)

typedef struct
{
  GIOStream *base;

  /* Input: bytes [in_start, in_end) of in_buf are buffered. */
  guint8 *in_buf;
  gsize in_start;
  gsize in_end;
  gsize in_cap;
  guint in_size;

  /* Output: out_len bytes of out_buf wait to be sent. */
  guint8 *out_buf;
  gsize out_len;
  gsize out_cap;
  guint out_size;

  char *terminator;
  gsize terminator_len;
  int default_timeout;
  guint max_message_size;
  guint16 stop_code;

  guint is_open : 1;
  guint io_ready : 1;
  guint closed : 1;
  guint eof : 1;

  /* Asynchronous calls: the device's descriptor, if it has one, watched by
   * the reactor of the context the calls were made on; one read and one
   * write may be pending. */
  int device_fd;
  GiosWatch *watch;
  GMainContext *watch_context;
  GTask *read_task;
  GTask *write_task;
  /* Watches added with add_watch(), of UserWatch; NULL until the first. */
  GPtrArray *user_watches;
  guint last_watch_id;
  guint user_dispatching;
  /* Input consumed since the stream was made: a watch dispatch that took
   * none reports what is left only when more arrives. */
  guint64 in_taken;

  /* Coordination with close() and drop_connection() from other threads;
   * teardown serialises those two (recursive: a disconnected handler may
   * call one from inside the other). */
  GRecMutex teardown;
  /* The context teardown_enter() acquired, released by teardown_leave();
   * and how many descriptors the stream has had and how many times it was
   * closed, so that a teardown handed to the context's thread does not reach
   * a later connection. */
  GMainContext *teardown_contexts[2];
  guint teardown_depth;
  GMainContext *accept_context;
  guint device_generation;
  GMutex lock;
  GCond idle;
  guint busy;
  guint waiters;                /* threads in interrupt() waiting for idle */
  gint interrupted;             /* atomic */
  /* An eventfd that wakes a blocked wait, made on first use. GCancellable's
   * own descriptor is not used: GLib aborts the process when it cannot
   * create one, which is exactly what happens when descriptors run out. */
  int wakeup_fd;
  /* The cancellable of the last wait stays connected to the wake-up, since
   * connecting a handler per wait took about half the instructions of a
   * blocking read; its handler wakes only while waits use it. Guarded by
   * lock; wait_users is atomic for the handler. */
  GCancellable *wait_cancellable;
  gulong wait_handler;
  gint wait_users;
  /* Receives blocked in the device itself (atomic; see begin_blocking),
   * and the cancellable of the job serving this stream, whose cancellation
   * comes with drop_connection(). */
  gint blocked;
  GCancellable *job_cancellable;
} GiosDeviceStreamPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (GiosDeviceStream, gios_device_stream, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BASE_STREAM,
  PROP_IS_OPEN,
  PROP_AT_END,
  PROP_LINE_TERMINATOR,
  PROP_DEFAULT_TIMEOUT,
  PROP_INPUT_BUFFER_SIZE,
  PROP_OUTPUT_BUFFER_SIZE,
  PROP_MAX_MESSAGE_SIZE,
  PROP_STOP_CODE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define PRIV(self) ((GiosDeviceStreamPrivate *) gios_device_stream_get_instance_private (self))

/* ------------------------------------------------------------------------ */
/* Deadlines, entering and leaving, waiting                                   */

gint64
_gios_deadline_from_timeout (int timeout_ms)
{
  if (timeout_ms < 0)
    return -1;
  return g_get_monotonic_time () + (gint64) timeout_ms * 1000;
}

int
_gios_device_stream_resolve_timeout (GiosDeviceStream *self,
                                     int               timeout_ms)
{
  if (timeout_ms == GIOS_TIMEOUT_DEFAULT)
    return PRIV (self)->default_timeout;
  return timeout_ms;
}

static gint64
deadline_for (GiosDeviceStream *self,
              int               timeout_ms)
{
  return _gios_deadline_from_timeout (_gios_device_stream_resolve_timeout (self, timeout_ms));
}

/* The streams the current thread is inside a call on, so that close() or
 * drop_connection() from a signal handler inside a call does not wait for
 * its own thread. Calls nest only a few deep. */
#define MAX_NESTING 8
static __thread GiosDeviceStream *inside[MAX_NESTING];
static __thread guint n_inside;

static guint
calls_by_this_thread (GiosDeviceStream *self)
{
  guint n = 0;

  for (guint i = 0; i < MIN (n_inside, MAX_NESTING); i++)
    if (inside[i] == self)
      n++;
  return n;
}

static gboolean
enter_common (GiosDeviceStream  *self,
              gboolean           need_device,
              GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gboolean ok = FALSE;

  g_mutex_lock (&priv->lock);
  if (g_atomic_int_get (&priv->interrupted) > 0 || (priv->closed && need_device))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                         _("The stream is closed"));
  else if (need_device && !priv->io_ready)
    g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                         _("The stream is not connected"));
  else
    {
      priv->busy++;
      if (n_inside < MAX_NESTING)
        inside[n_inside] = self;
      n_inside++;
      ok = TRUE;
    }
  g_mutex_unlock (&priv->lock);

  return ok;
}

gboolean
_gios_device_stream_enter (GiosDeviceStream  *self,
                           GError           **error)
{
  return enter_common (self, FALSE, error);
}

/* The public I/O calls need a connected device. */
static gboolean
enter_io (GiosDeviceStream  *self,
          GError           **error)
{
  return enter_common (self, TRUE, error);
}

void
_gios_device_stream_leave (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  g_mutex_lock (&priv->lock);
  g_assert (priv->busy > 0);
  priv->busy--;
  g_assert (n_inside > 0);
  n_inside--;
  /* GCond wakes with a system call even when nobody waits: only when an
   * interrupt() does. */
  if (priv->waiters > 0)
    g_cond_broadcast (&priv->idle);
  g_mutex_unlock (&priv->lock);
}

static void
wake (GiosDeviceStreamPrivate *priv)
{
  int fd = g_atomic_int_get (&priv->wakeup_fd);

  if (fd >= 0)
    {
      guint64 one = 1;

      (void) !write (fd, &one, sizeof one);
    }
}

void
_gios_device_stream_interrupt (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  guint own;

  g_mutex_lock (&priv->lock);
  g_atomic_int_inc (&priv->interrupted);
  /* A receive blocked in the device wakes when the device is shut down:
   * either it sees interrupted set before it blocks, or this sees it
   * counted in blocked (both are sequentially consistent). device_fd
   * changes under the lock, so it is still open here. */
  if (g_atomic_int_get (&priv->blocked) > 0 && priv->device_fd >= 0)
    shutdown (priv->device_fd, SHUT_RDWR);
  /* A handler running inside a call on this same thread (a signal emitted
   * by a read) must not wait for itself. */
  own = calls_by_this_thread (self);
  if (priv->busy > own)
    {
      wake (priv);
      priv->waiters++;
      while (priv->busy > own)
        g_cond_wait (&priv->idle, &priv->lock);
      priv->waiters--;
    }
  g_mutex_unlock (&priv->lock);
}

gboolean
_gios_device_stream_begin_blocking (GiosDeviceStream *self,
                                    gint64            deadline,
                                    GCancellable     *cancellable)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (deadline >= 0 || priv->device_fd < 0 ||
      (cancellable != NULL && cancellable != priv->job_cancellable))
    return FALSE;
  g_atomic_int_inc (&priv->blocked);
  if (g_atomic_int_get (&priv->interrupted) > 0 || g_cancellable_is_cancelled (cancellable))
    {
      g_atomic_int_dec_and_test (&priv->blocked);
      return FALSE;
    }
  return TRUE;
}

gboolean
_gios_device_stream_end_blocking (GiosDeviceStream  *self,
                                  gboolean           got_data,
                                  GCancellable      *cancellable,
                                  GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  g_atomic_int_dec_and_test (&priv->blocked);
  if (got_data)
    return TRUE;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (g_atomic_int_get (&priv->interrupted) > 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                           _("The stream was closed while waiting"));
      return FALSE;
    }
  return TRUE;
}

void
_gios_device_stream_set_job_cancellable (GiosDeviceStream *self,
                                         GCancellable     *cancellable)
{
  g_set_object (&PRIV (self)->job_cancellable, cancellable);
}

void
_gios_device_stream_teardown_lock (GiosDeviceStream *self)
{
  g_rec_mutex_lock (&PRIV (self)->teardown);
}

void
_gios_device_stream_teardown_unlock (GiosDeviceStream *self)
{
  g_rec_mutex_unlock (&PRIV (self)->teardown);
}

typedef struct
{
  GiosDeviceStream *self;   /* owned */
  GiosTeardownFunc redo;
  guint generation;
} Teardown;

static void
teardown_free (Teardown *teardown)
{
  g_object_unref (teardown->self);
  g_free (teardown);
}

static gboolean
teardown_on_context (gpointer data)
{
  Teardown *teardown = data;
  GiosDeviceStreamPrivate *priv = PRIV (teardown->self);
  gboolean same;

  g_mutex_lock (&priv->lock);
  same = priv->device_generation == teardown->generation;
  g_mutex_unlock (&priv->lock);
  if (same)
    (void) teardown->redo (teardown->self, NULL);
  return G_SOURCE_REMOVE;
}

/* Watches and async calls are dispatched by the thread that runs their
 * context, without a lock: only that thread, or one that holds the context
 * while nobody runs it, may remove them. When another thread runs it, the
 * device's input is shut down at once, so that readers there and in other
 * threads see its end now, and the rest of the teardown (sending what is
 * buffered, failing the calls, removing the watches, closing) is done by
 * @redo on that thread, unless the stream has changed device by then. */
gboolean
_gios_device_stream_teardown_enter (GiosDeviceStream *self,
                                    GiosTeardownFunc  redo)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GMainContext *contexts[2] = { NULL, NULL };
  GMainContext *busy = NULL;
  Teardown *teardown;

  g_rec_mutex_lock (&priv->teardown);
  /* Nested (a disconnected handler that closes): the outer call decided. */
  if (priv->teardown_depth++ > 0)
    return TRUE;

  g_mutex_lock (&priv->lock);
  if (priv->watch_context != NULL)
    contexts[0] = g_main_context_ref (priv->watch_context);
  if (priv->accept_context != NULL && priv->accept_context != priv->watch_context)
    contexts[1] = g_main_context_ref (priv->accept_context);
  g_mutex_unlock (&priv->lock);

  for (guint i = 0; i < G_N_ELEMENTS (contexts); i++)
    {
      if (contexts[i] == NULL || busy != NULL || g_main_context_is_owner (contexts[i]))
        g_clear_pointer (&contexts[i], g_main_context_unref);
      else if (g_main_context_acquire (contexts[i]))
        /* Nobody dispatches the watches while this thread holds it. */
        priv->teardown_contexts[i] = g_steal_pointer (&contexts[i]);
      else
        busy = g_steal_pointer (&contexts[i]);
    }
  if (busy == NULL)
    return TRUE;

  teardown = g_new0 (Teardown, 1);
  teardown->self = g_object_ref (self);
  teardown->redo = redo;
  g_mutex_lock (&priv->lock);
  teardown->generation = priv->device_generation;
  if (priv->device_fd >= 0)
    shutdown (priv->device_fd, SHUT_RD);
  g_mutex_unlock (&priv->lock);
  _gios_device_stream_teardown_leave (self);
  g_main_context_invoke_full (busy, G_PRIORITY_DEFAULT, teardown_on_context, teardown,
                              (GDestroyNotify) teardown_free);
  g_main_context_unref (busy);
  return FALSE;
}

void
_gios_device_stream_teardown_leave (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (--priv->teardown_depth == 0)
    {
      for (guint i = 0; i < G_N_ELEMENTS (priv->teardown_contexts); i++)
        {
          GMainContext *context = g_steal_pointer (&priv->teardown_contexts[i]);

          if (context != NULL)
            {
              g_main_context_release (context);
              g_main_context_unref (context);
            }
        }
    }
  g_rec_mutex_unlock (&priv->teardown);
}

/* The context a subclass dispatches its own watches on (a server socket's
 * accepting), which teardown_enter() must hold too; NULL for none. Set and
 * read on that context's thread; the lock is for teardown_enter(). */
GMainContext *
_gios_device_stream_get_accept_context (GiosDeviceStream *self)
{
  return PRIV (self)->accept_context;
}

void
_gios_device_stream_set_accept_context (GiosDeviceStream *self,
                                        GMainContext     *context)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GMainContext *old;

  g_mutex_lock (&priv->lock);
  old = g_steal_pointer (&priv->accept_context);
  priv->accept_context = context != NULL ? g_main_context_ref (context) : NULL;
  g_mutex_unlock (&priv->lock);
  if (old != NULL)
    g_main_context_unref (old);
}

void
_gios_device_stream_resume (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  g_mutex_lock (&priv->lock);
  g_assert (g_atomic_int_get (&priv->interrupted) > 0);
  g_atomic_int_dec_and_test (&priv->interrupted);
  g_mutex_unlock (&priv->lock);
}

static int
poll_timeout (gint64 deadline)
{
  gint64 remaining;

  if (deadline < 0)
    return -1;
  remaining = deadline - g_get_monotonic_time ();
  if (remaining <= 0)
    return 0;
  /* Round up so that we never wake before the deadline. */
  return (int) MIN ((remaining + 999) / 1000, G_MAXINT);
}

#define MAX_WAIT_FDS 8
/* Without a wake-up descriptor, a wait looks at its flags this often. */
#define FALLBACK_SLICE_MS 50

int
_gios_device_stream_prepare_wakeup (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  int wakeup_fd;

  g_mutex_lock (&priv->lock);
  if (priv->wakeup_fd == WAKEUP_NONE)
    {
      int fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

      g_atomic_int_set (&priv->wakeup_fd, fd >= 0 ? fd : WAKEUP_FAILED);
    }
  wakeup_fd = priv->wakeup_fd;
  g_mutex_unlock (&priv->lock);
  return wakeup_fd;
}

void
_gios_device_stream_wake (GiosDeviceStream *self)
{
  wake (PRIV (self));
}

static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  wake (data);
}

/* The handler of the cached cancellable: it stays connected between waits,
 * when a wake would only be a spurious one for the next wait. A wait counts
 * itself in wait_users before it looks at the cancellable, so either it sees
 * the cancellation or this sees the wait. */
static void
on_cached_cancelled (GCancellable *cancellable,
                     gpointer      data)
{
  GiosDeviceStreamPrivate *priv = data;

  if (g_atomic_int_get (&priv->wait_users) > 0)
    wake (priv);
}

/* Makes @cancellable the cached one, unless another wait uses a different
 * one right now. Returns whether the wait uses the cache (and must call
 * release_cached_cancellable() when it ends). */
static gboolean
use_cached_cancellable (GiosDeviceStreamPrivate *priv,
                        GCancellable            *cancellable)
{
  GCancellable *old = NULL;
  gulong old_handler = 0;
  gboolean connect = FALSE;

  g_mutex_lock (&priv->lock);
  if (priv->wait_cancellable != cancellable)
    {
      if (g_atomic_int_get (&priv->wait_users) > 0)
        {
          g_mutex_unlock (&priv->lock);
          return FALSE;
        }
      old = g_steal_pointer (&priv->wait_cancellable);
      old_handler = priv->wait_handler;
      priv->wait_handler = 0;
      priv->wait_cancellable = g_object_ref (cancellable);
      connect = TRUE;
    }
  g_atomic_int_inc (&priv->wait_users);
  g_mutex_unlock (&priv->lock);

  if (old != NULL)
    {
      g_cancellable_disconnect (old, old_handler);
      g_object_unref (old);
    }
  if (connect)
    {
      /* Calls the handler at once if already cancelled: it wakes us. */
      gulong handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cached_cancelled),
                                              priv, NULL);

      g_mutex_lock (&priv->lock);
      priv->wait_handler = handler;
      g_mutex_unlock (&priv->lock);
    }
  return TRUE;
}

static void
release_cached_cancellable (GiosDeviceStreamPrivate *priv)
{
  g_atomic_int_dec_and_test (&priv->wait_users);
}

/* Disconnects the cached cancellable, unless a wait still uses it (then
 * finalize does). */
static void
clear_cached_cancellable (GiosDeviceStreamPrivate *priv)
{
  GCancellable *old;
  gulong handler;

  g_mutex_lock (&priv->lock);
  if (g_atomic_int_get (&priv->wait_users) > 0)
    {
      g_mutex_unlock (&priv->lock);
      return;
    }
  old = g_steal_pointer (&priv->wait_cancellable);
  handler = priv->wait_handler;
  priv->wait_handler = 0;
  g_mutex_unlock (&priv->lock);

  if (old != NULL)
    {
      g_cancellable_disconnect (old, handler);
      g_object_unref (old);
    }
}

gboolean
_gios_device_stream_wait (GiosDeviceStream  *self,
                          GPollFD           *fds,
                          guint              n_fds,
                          gint64             deadline,
                          GCancellable      *cancellable,
                          GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GPollFD all[MAX_WAIT_FDS + 1];
  guint n_all = n_fds;
  gulong handler = 0;
  gboolean cached = FALSE;
  int wakeup_fd;
  gboolean ret = FALSE;

  g_return_val_if_fail (n_fds <= MAX_WAIT_FDS, FALSE);

  if (n_fds > 0)
    memcpy (all, fds, n_fds * sizeof (GPollFD));

  wakeup_fd = _gios_device_stream_prepare_wakeup (self);

  if (wakeup_fd >= 0)
    {
      all[n_all].fd = wakeup_fd;
      all[n_all].events = G_IO_IN;
      n_all++;
    }
  if (cancellable != NULL && wakeup_fd >= 0)
    cached = use_cached_cancellable (priv, cancellable);
  if (cancellable != NULL && !cached)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), priv, NULL);

  for (;;)
    {
      int timeout;
      int r;
      guint i;
      gboolean ready = FALSE;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (g_atomic_int_get (&priv->interrupted) > 0)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               _("The stream was closed while waiting"));
          break;
        }

      timeout = poll_timeout (deadline);
      if (wakeup_fd < 0 && (timeout < 0 || timeout > FALLBACK_SLICE_MS))
        timeout = FALLBACK_SLICE_MS;
      for (i = 0; i < n_all; i++)
        all[i].revents = 0;
      r = g_poll (all, n_all, timeout);
      if (r < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          _gios_set_error_from_errno (error, errsv, _("Could not wait for the device"));
          break;
        }

      for (i = 0; i < n_fds; i++)
        {
          fds[i].revents = all[i].revents;
          if (all[i].revents != 0)
            ready = TRUE;
        }
      if (ready)
        {
          ret = TRUE;
          break;
        }
      if (wakeup_fd >= 0 && all[n_fds].revents != 0)
        {
          guint64 count;

          /* Drained here; the flags at the top say why we woke. */
          (void) !read (wakeup_fd, &count, sizeof count);
          /* A wait on no descriptor is a wait to be woken: a plain wake
           * (_gios_device_stream_wake) ends it. */
          if (n_fds == 0 && !g_cancellable_is_cancelled (cancellable) &&
              g_atomic_int_get (&priv->interrupted) == 0)
            {
              ret = TRUE;
              break;
            }
          continue;
        }

      if (deadline >= 0 && g_get_monotonic_time () >= deadline)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               _("Timed out"));
          break;
        }
      /* Without a wake-up descriptor a plain wake cannot be seen: a wait to
       * be woken ends with each slice, and its caller looks again. */
      if (wakeup_fd < 0 && n_fds == 0)
        {
          ret = TRUE;
          break;
        }
    }

  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  if (cached)
    release_cached_cancellable (priv);

  return ret;
}

gboolean
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

void
_gios_device_stream_set_open (GiosDeviceStream *self,
                              gboolean          is_open)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  is_open = !!is_open;
  if (is_open)
    {
      g_mutex_lock (&priv->lock);
      priv->closed = FALSE;
      g_mutex_unlock (&priv->lock);
    }

  if (priv->is_open != (guint) is_open)
    {
      priv->is_open = is_open;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IS_OPEN]);
    }
}

void
_gios_device_stream_set_io_ready (GiosDeviceStream *self,
                                  gboolean          io_ready)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  g_mutex_lock (&priv->lock);
  priv->io_ready = !!io_ready;
  g_mutex_unlock (&priv->lock);
}

static void
set_eof (GiosDeviceStream *self,
         gboolean          eof)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->eof != (guint) !!eof)
    {
      priv->eof = !!eof;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AT_END]);
    }
}

void
_gios_device_stream_reset (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  g_clear_pointer (&priv->in_buf, g_free);
  priv->in_start = priv->in_end = priv->in_cap = 0;
  g_clear_pointer (&priv->out_buf, g_free);
  priv->out_len = priv->out_cap = 0;
  set_eof (self, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                    */

static inline gsize
in_buffered (GiosDeviceStreamPrivate *priv)
{
  return priv->in_end - priv->in_start;
}

static void
in_consume (GiosDeviceStreamPrivate *priv,
            gsize                    n)
{
  priv->in_start += n;
  priv->in_taken += n;
  if (priv->in_start == priv->in_end)
    {
      priv->in_start = priv->in_end = 0;
      /* A buffer that grew for one long line or exact read goes back to
       * its configured size once it is empty. */
      if (priv->in_cap > priv->in_size)
        {
          g_clear_pointer (&priv->in_buf, g_free);
          priv->in_cap = 0;
        }
    }
}

/* Makes room so that the buffer can hold @total bytes in all (buffered ones
 * included) and has at least one free byte at its end. */
static void
in_reserve (GiosDeviceStreamPrivate *priv,
            gsize                    total)
{
  gsize buffered = in_buffered (priv);

  total = MAX (total, buffered + 1);
  total = MAX (total, priv->in_size);

  if (priv->in_cap - priv->in_start >= total && priv->in_end < priv->in_cap)
    return;

  if (priv->in_start > 0)
    {
      memmove (priv->in_buf, priv->in_buf + priv->in_start, buffered);
      priv->in_start = 0;
      priv->in_end = buffered;
    }
  if (priv->in_cap < total)
    {
      priv->in_buf = g_realloc (priv->in_buf, total);
      priv->in_cap = total;
    }
}

/* Receives once into the input buffer, which may grow to hold @total bytes.
 * Returns the bytes added, 0 at end of input, -1 on error. */
static gssize
in_fill (GiosDeviceStream  *self,
         gsize              total,
         gint64             deadline,
         GCancellable      *cancellable,
         GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gssize n;

  in_reserve (priv, total);
  n = GIOS_DEVICE_STREAM_GET_CLASS (self)->receive (self, priv->in_buf + priv->in_end,
                                                    priv->in_cap - priv->in_end,
                                                    deadline, cancellable, error);
  if (n > 0)
    {
      g_assert ((gsize) n <= priv->in_cap - priv->in_end);
      priv->in_end += n;
      set_eof (self, FALSE);
    }
  else if (n == 0)
    set_eof (self, TRUE);
  else if (in_buffered (priv) == 0 && priv->in_cap > priv->in_size)
    in_consume (priv, 0);

  return n;
}

static void
out_append (GiosDeviceStreamPrivate *priv,
            const guint8            *data,
            gsize                    count)
{
  if (count == 0)
    return;
  if (priv->out_cap - priv->out_len < count)
    {
      /* Grows by doubling up to the configured size rather than starting
       * there: an async connection frees its empty buffer after each
       * flush, and a small allocation is much cheaper than 16 KiB. */
      gsize cap = MAX (MIN (MAX (2 * priv->out_cap, 256), priv->out_size), priv->out_len + count);

      priv->out_buf = g_realloc (priv->out_buf, cap);
      priv->out_cap = cap;
    }
  memcpy (priv->out_buf + priv->out_len, data, count);
  priv->out_len += count;
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

static gboolean
flush_internal (GiosDeviceStream  *self,
                gint64             deadline,
                GCancellable      *cancellable,
                GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gsize sent;
  gboolean ok;

  if (priv->out_len == 0)
    return TRUE;

  ok = send_all (self, priv->out_buf, priv->out_len, &sent, deadline, cancellable, error);
  if (sent < priv->out_len)
    memmove (priv->out_buf, priv->out_buf + sent, priv->out_len - sent);
  priv->out_len -= sent;

  if (priv->out_len == 0 && priv->out_cap > priv->out_size)
    {
      g_clear_pointer (&priv->out_buf, g_free);
      priv->out_cap = 0;
    }

  if (!ok)
    g_prefix_error (error, _("Could not send %zu buffered bytes: "),
                    priv->out_len + sent);
  return ok;
}

gboolean
_gios_device_stream_flush_default (GiosDeviceStream  *self,
                                   GError           **error)
{
  return flush_internal (self, deadline_for (self, GIOS_TIMEOUT_DEFAULT), NULL, error);
}

gboolean
_gios_device_stream_flush_if_owner (GiosDeviceStream  *self,
                                    GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gboolean alone;
  gboolean ok = TRUE;

  if (!enter_io (self, NULL))
    return TRUE;
  g_mutex_lock (&priv->lock);
  alone = priv->busy == calls_by_this_thread (self);
  g_mutex_unlock (&priv->lock);
  if (alone)
    ok = _gios_device_stream_flush_default (self, error);
  _gios_device_stream_leave (self);
  return ok;
}

static gboolean
write_internal (GiosDeviceStream  *self,
                const guint8      *data,
                gsize              count,
                GCancellable      *cancellable,
                GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  gint64 deadline;
  gsize sent;

  if (priv->out_len + count <= priv->out_size)
    {
      out_append (priv, data, count);
      return TRUE;
    }

  deadline = deadline_for (self, GIOS_TIMEOUT_DEFAULT);
  if (!flush_internal (self, deadline, cancellable, error))
    {
      out_append (priv, data, count);
      return FALSE;
    }

  if (count < priv->out_size)
    {
      out_append (priv, data, count);
      return TRUE;
    }

  /* Large writes go straight to the device; what it does not take in time
   * stays buffered, so nothing is lost. */
  if (!send_all (self, data, count, &sent, deadline, cancellable, error))
    {
      out_append (priv, data + sent, count - sent);
      g_prefix_error (error, _("Sent %zu of %zu bytes: "),
                      sent, count);
      return FALSE;
    }
  return TRUE;
}

/* Replaces a bare "Timed out" from the transport with a message that says
 * what was being waited for. */
void
_gios_explain_timeout (GError     **error,
                       const char  *what,
                       int          timeout_ms,
                       gsize        buffered)
{
  if (error == NULL || *error == NULL ||
      !g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return;
  g_clear_error (error);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               /* Translators: the first %s is what was awaited ("a line", …) */
               _("Timed out after %d ms waiting for %s (%zu bytes buffered)"),
               timeout_ms, what, buffered);
}

/* ------------------------------------------------------------------------ */
/* The default transport: a GIOStream                                          */

static int
stream_fd (gpointer stream)
{
  if (G_IS_FILE_DESCRIPTOR_BASED (stream))
    return g_file_descriptor_based_get_fd (G_FILE_DESCRIPTOR_BASED (stream));
  return -1;
}

static gssize
gios_device_stream_real_receive (GiosDeviceStream  *self,
                                 guint8            *buffer,
                                 gsize              size,
                                 gint64             deadline,
                                 GCancellable      *cancellable,
                                 GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GInputStream *input;
  int fd;

  if (priv->base == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("%s does not implement receive"), G_OBJECT_TYPE_NAME (self));
      return -1;
    }

  input = g_io_stream_get_input_stream (priv->base);
  fd = stream_fd (input);
  if (fd >= 0 && !_gios_device_stream_wait_fd (self, fd, G_IO_IN, deadline, cancellable, error))
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
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GOutputStream *output;
  int fd;

  if (priv->base == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("%s does not implement send"), G_OBJECT_TYPE_NAME (self));
      return -1;
    }

  output = g_io_stream_get_output_stream (priv->base);
  fd = stream_fd (output);
  if (fd >= 0)
    {
      if (!_gios_device_stream_wait_fd (self, fd, G_IO_OUT, deadline, cancellable, error))
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

/* ------------------------------------------------------------------------ */
/* GObject                                                                    */

static void
gios_device_stream_finalize (GObject *object)
{
  GiosDeviceStream *self = GIOS_DEVICE_STREAM (object);
  GiosDeviceStreamPrivate *priv = PRIV (self);

  /* Pending tasks and watches hold a reference: none is left here. */
  g_clear_pointer (&priv->user_watches, g_ptr_array_unref);
  _gios_watch_destroy (priv->watch);
  g_clear_pointer (&priv->watch_context, g_main_context_unref);
  g_clear_pointer (&priv->accept_context, g_main_context_unref);

  clear_cached_cancellable (priv);
  g_clear_object (&priv->job_cancellable);
  g_clear_object (&priv->base);
  g_free (priv->in_buf);
  g_free (priv->out_buf);
  g_free (priv->terminator);
  if (priv->wakeup_fd >= 0)
    close (priv->wakeup_fd);
  g_rec_mutex_clear (&priv->teardown);
  g_mutex_clear (&priv->lock);
  g_cond_clear (&priv->idle);

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
      g_value_set_boolean (value, gios_device_stream_get_at_end (self));
      break;
    case PROP_LINE_TERMINATOR:
      g_value_set_string (value, priv->terminator);
      break;
    case PROP_DEFAULT_TIMEOUT:
      g_value_set_int (value, priv->default_timeout);
      break;
    case PROP_INPUT_BUFFER_SIZE:
      g_value_set_uint (value, priv->in_size);
      break;
    case PROP_OUTPUT_BUFFER_SIZE:
      g_value_set_uint (value, priv->out_size);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint (value, priv->max_message_size);
      break;
    case PROP_STOP_CODE:
      g_value_set_uint (value, priv->stop_code);
      break;
    default:
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

          priv->is_open = TRUE;
          priv->io_ready = TRUE;
          /* The async calls watch one descriptor: only for a stream that
           * reads and writes the same one (a socket, a terminal). */
          if (in_fd >= 0 && in_fd == stream_fd (g_io_stream_get_output_stream (priv->base)))
            priv->device_fd = in_fd;
        }
      break;
    case PROP_LINE_TERMINATOR:
      gios_device_stream_set_line_terminator (self, g_value_get_string (value));
      break;
    case PROP_DEFAULT_TIMEOUT:
      gios_device_stream_set_default_timeout (self, g_value_get_int (value));
      break;
    case PROP_INPUT_BUFFER_SIZE:
      gios_device_stream_set_input_buffer_size (self, g_value_get_uint (value));
      break;
    case PROP_OUTPUT_BUFFER_SIZE:
      gios_device_stream_set_output_buffer_size (self, g_value_get_uint (value));
      break;
    case PROP_MAX_MESSAGE_SIZE:
      gios_device_stream_set_max_message_size (self, g_value_get_uint (value));
      break;
    case PROP_STOP_CODE:
      gios_device_stream_set_stop_code (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GiosMessage *
gios_device_stream_real_handle_request (GiosDeviceStream *self,
                                        GiosMessage      *request)
{
  return NULL;
}

static void
gios_device_stream_class_init (GiosDeviceStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  _gios_init_i18n ();

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
   * Since: 1.0
   */
  properties[PROP_BASE_STREAM] =
    g_param_spec_object ("base-stream", NULL, NULL, G_TYPE_IO_STREAM,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:is-open:
   *
   * Whether the device is open: a wrapped stream until it is closed, a
   * server socket while it listens, a client socket while it is connected.
   *
   * Since: 1.0
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
   * Since: 1.0
   */
  properties[PROP_AT_END] =
    g_param_spec_boolean ("at-end", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:line-terminator:
   *
   * What ends a line, for [method@Gios.DeviceStream.read_line] and
   * [method@Gios.DeviceStream.write_line]. With the default, "\n", a line
   * ending in "\r\n" also reads as one line, without the "\r".
   *
   * Since: 1.0
   */
  properties[PROP_LINE_TERMINATOR] =
    g_param_spec_string ("line-terminator", NULL, NULL, "\n",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:default-timeout:
   *
   * The timeout in milliseconds of calls given [const@Gios.TIMEOUT_DEFAULT],
   * and of the flushes that [method@Gios.DeviceStream.write] makes when its
   * buffer is full. -1 waits without limit.
   *
   * Since: 1.0
   */
  properties[PROP_DEFAULT_TIMEOUT] =
    g_param_spec_int ("default-timeout", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:input-buffer-size:
   *
   * The size of the input buffer, allocated on first use. A long line or
   * exact read grows the buffer for as long as it needs to.
   *
   * Since: 1.0
   */
  properties[PROP_INPUT_BUFFER_SIZE] =
    g_param_spec_uint ("input-buffer-size", NULL, NULL, 1, G_MAXINT, DEFAULT_BUFFER_SIZE,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:output-buffer-size:
   *
   * How many bytes [method@Gios.DeviceStream.write] buffers before it sends
   * them. Writes of this size or more go to the device directly.
   *
   * Since: 1.0
   */
  properties[PROP_OUTPUT_BUFFER_SIZE] =
    g_param_spec_uint ("output-buffer-size", NULL, NULL, 1, G_MAXINT, DEFAULT_BUFFER_SIZE,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:max-message-size:
   *
   * The largest `$LIST` item (its whole element) that
   * [method@Gios.DeviceStream.receive_item] accepts, and the largest payload
   * that [method@Gios.DeviceStream.receive_message] accepts, in bytes. A
   * larger size announced by the peer fails with %GIOS_ERROR_TOO_LARGE
   * before anything is allocated for it. The default is 16 MiB.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_MESSAGE_SIZE] =
    g_param_spec_uint ("max-message-size", NULL, NULL, 0, G_MAXUINT, GIOS_DEFAULT_MAX_MESSAGE_SIZE,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * GiosDeviceStream:stop-code:
   *
   * The code of the request that ends [method@Gios.DeviceStream.execute]
   * with %GIOS_EXECUTE_STOPPED, as [method@Gios.Message.get_code] reads it.
   * The default is the disconnect code `DC` (%GIOS_MESSAGE_CODE_DISCONNECT).
   *
   * Since: 1.0
   */
  properties[PROP_STOP_CODE] =
    g_param_spec_uint ("stop-code", NULL, NULL, 0, G_MAXUINT16, GIOS_MESSAGE_CODE_DISCONNECT,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gios_device_stream_init (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  priv->in_size = DEFAULT_BUFFER_SIZE;
  priv->out_size = DEFAULT_BUFFER_SIZE;
  priv->terminator = g_strdup ("\n");
  priv->terminator_len = 1;
  priv->default_timeout = GIOS_TIMEOUT_FOREVER;
  priv->max_message_size = GIOS_DEFAULT_MAX_MESSAGE_SIZE;
  priv->stop_code = GIOS_MESSAGE_CODE_DISCONNECT;
  priv->wakeup_fd = WAKEUP_NONE;
  priv->device_fd = -1;
  g_rec_mutex_init (&priv->teardown);
  g_mutex_init (&priv->lock);
  g_cond_init (&priv->idle);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                 */

/**
 * gios_device_stream_new:
 * @base: the stream to read and write
 *
 * Creates a device stream over @base: a pipe, a file, a terminal, a socket
 * connection. Timeouts apply where the streams of @base are backed by file
 * descriptors; other streams are read and written blocking, with
 * cancellation.
 *
 * Returns: (transfer full): a new [class@Gios.DeviceStream]
 *
 * Since: 1.0
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
 * Since: 1.0
 */
GIOStream *
gios_device_stream_get_base_stream (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);

  return PRIV (self)->base;
}

static gssize
read_internal (GiosDeviceStream  *self,
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

  if (in_buffered (priv) == 0)
    {
      gssize r;

      /* Large reads skip the buffer. */
      if (count >= priv->in_size)
        {
          r = GIOS_DEVICE_STREAM_GET_CLASS (self)->receive (self, buffer, count, deadline,
                                                            cancellable, error);
          if (r >= 0)
            set_eof (self, r == 0);
          return r;
        }
      r = in_fill (self, 0, deadline, cancellable, error);
      if (r <= 0)
        return r;
    }

  n = MIN (count, in_buffered (priv));
  memcpy (buffer, priv->in_buf + priv->in_start, n);
  in_consume (priv, n);
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
 * Language bindings use [method@Gios.DeviceStream.read_bytes] instead.
 *
 * Returns: the number of bytes read, 0 at end of input, or -1 with @error set
 *
 * Since: 1.0
 */
gssize
gios_device_stream_read (GiosDeviceStream  *self,
                         guint8            *buffer,
                         gsize              count,
                         int                timeout_ms,
                         GCancellable      *cancellable,
                         GError           **error)
{
  gssize ret;
  int timeout;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), -1);
  g_return_val_if_fail (buffer != NULL || count == 0, -1);
  g_return_val_if_fail (count <= G_MAXSSIZE, -1);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, -1);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!enter_io (self, error))
    return -1;
  timeout = _gios_device_stream_resolve_timeout (self, timeout_ms);
  ret = read_internal (self, buffer, count, _gios_deadline_from_timeout (timeout),
                       cancellable, error);
  if (ret < 0)
    _gios_explain_timeout (error, _("input"), timeout, 0);
  _gios_device_stream_leave (self);

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
 * Since: 1.0
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
  int timeout;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  priv = PRIV (self);
  if (!enter_io (self, error))
    return NULL;

  timeout = _gios_device_stream_resolve_timeout (self, timeout_ms);
  if (count == 0)
    ret = g_bytes_new (NULL, 0);
  else if (in_buffered (priv) > 0 ||
           in_fill (self, 0, _gios_deadline_from_timeout (timeout), cancellable, error) >= 0)
    {
      gsize n = MIN (count, in_buffered (priv));

      ret = g_bytes_new (priv->in_buf + priv->in_start, n);
      in_consume (priv, n);
    }
  else
    _gios_explain_timeout (error, _("input"), timeout, 0);

  _gios_device_stream_leave (self);
  return ret;
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
 * Since: 1.0
 */
gboolean
gios_device_stream_read_exact (GiosDeviceStream  *self,
                               guint8            *buffer,
                               gsize              count,
                               int                timeout_ms,
                               GCancellable      *cancellable,
                               GError           **error)
{
  GiosDeviceStreamPrivate *priv;
  gboolean ok = FALSE;
  gint64 deadline;
  int timeout;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (buffer != NULL || count == 0, FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  if (!enter_io (self, error))
    return FALSE;

  timeout = _gios_device_stream_resolve_timeout (self, timeout_ms);
  deadline = _gios_deadline_from_timeout (timeout);
  if (_gios_device_stream_peek (self, count, deadline, cancellable, error) == NULL)
    {
      _gios_explain_timeout (error, _("an exact read"), timeout, in_buffered (priv));
      goto out;
    }
  if (count > 0)
    {
      memcpy (buffer, priv->in_buf + priv->in_start, count);
      in_consume (priv, count);
    }
  ok = TRUE;

out:
  _gios_device_stream_leave (self);
  return ok;
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
 * [struct@GLib.Bytes], which suits language bindings. Memory grows with what
 * arrives, not to @count at once. If the time runs out, the call is
 * cancelled or the input ends (%G_IO_ERROR_CONNECTION_CLOSED) first, nothing
 * is consumed: the bytes that arrived stay buffered.
 *
 * Returns: (transfer full): exactly @count bytes, or %NULL with @error set
 *
 * Since: 1.0
 */
GBytes *
gios_device_stream_read_exact_bytes (GiosDeviceStream  *self,
                                     gsize              count,
                                     int                timeout_ms,
                                     GCancellable      *cancellable,
                                     GError           **error)
{
  const guint8 *data;
  GBytes *ret = NULL;
  int timeout;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!enter_io (self, error))
    return NULL;

  timeout = _gios_device_stream_resolve_timeout (self, timeout_ms);
  data = _gios_device_stream_peek (self, count, _gios_deadline_from_timeout (timeout),
                                   cancellable, error);
  if (data != NULL)
    {
      ret = g_bytes_new (data, count);
      in_consume (PRIV (self), count);
    }
  else
    _gios_explain_timeout (error, _("an exact read"), timeout, in_buffered (PRIV (self)));

  _gios_device_stream_leave (self);
  return ret;
}

/* Framing helpers for the item and message readers: make @count bytes
 * buffered without consuming them, then consume what was used. */
const guint8 *
_gios_device_stream_peek (GiosDeviceStream  *self,
                          gsize              count,
                          gint64             deadline,
                          GCancellable      *cancellable,
                          GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  while (in_buffered (priv) < count)
    {
      /* Grow with what arrives, not to @count at once. */
      gssize n = in_fill (self, MIN (count, MAX (2 * in_buffered (priv), priv->in_size)),
                          deadline, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                       _("The input ended after %zu of %zu bytes"),
                       in_buffered (priv), count);
          return NULL;
        }
    }
  /* A valid pointer even for count 0. */
  return priv->in_buf != NULL ? priv->in_buf + priv->in_start : (const guint8 *) "";
}

void
_gios_device_stream_consume (GiosDeviceStream *self,
                             gsize             count)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  g_return_if_fail (count <= in_buffered (priv));
  in_consume (priv, count);
}

gboolean
_gios_device_stream_enter_io (GiosDeviceStream  *self,
                              GError           **error)
{
  return enter_io (self, error);
}

/* Looks for the terminator in the buffered input from byte @from on.
 * Returns its offset from in_start, or -1. */
static gssize
find_terminator (GiosDeviceStreamPrivate *priv,
                 gsize                    from)
{
  const guint8 *start = priv->in_buf + priv->in_start;
  gsize len = in_buffered (priv);
  const guint8 *hit;

  if (from >= len)
    return -1;
  if (priv->terminator_len == 1)
    hit = memchr (start + from, priv->terminator[0], len - from);
  else
    hit = memmem (start + from, len - from, priv->terminator, priv->terminator_len);
  return hit != NULL ? hit - start : -1;
}

static char *
take_line (GiosDeviceStreamPrivate *priv,
           gsize                    line_len,
           gsize                    consumed,
           gsize                   *length)
{
  char *line = g_malloc (line_len + 1);

  memcpy (line, priv->in_buf + priv->in_start, line_len);
  line[line_len] = '\0';
  in_consume (priv, consumed);
  if (length != NULL)
    *length = line_len;
  return line;
}

/* The most bytes a line of the longest accepted length can take, with a
 * "\r" before the "\n" and the terminator (saturated: a max_length near
 * G_MAXSIZE must not wrap around to a tiny bound). */
static gsize
line_most (GiosDeviceStreamPrivate *priv,
           gsize                    limit)
{
  return limit < G_MAXSIZE - 1 - priv->terminator_len ?
         limit + 1 + priv->terminator_len : G_MAXSIZE;
}

typedef enum {
  FRAME_NEED_MORE,
  FRAME_DONE,
  FRAME_FAILED,
} FrameState;

/* Looks for a whole line in the buffered input. @at_end says the input has
 * ended, so that what is left is the last line. FRAME_DONE with a NULL
 * line means there is no line left. */
static FrameState
try_line (GiosDeviceStreamPrivate  *priv,
          gsize                     limit,
          gsize                    *scanned,
          gboolean                  at_end,
          char                    **line,
          gsize                    *length,
          GError                  **error)
{
  gsize buffered = in_buffered (priv);
  gssize at = find_terminator (priv, *scanned);
  gsize most = line_most (priv, limit);

  if (at >= 0)
    {
      gsize line_len = at;

      if (priv->terminator_len == 1 && priv->terminator[0] == '\n' &&
          line_len > 0 && priv->in_buf[priv->in_start + line_len - 1] == '\r')
        line_len--;
      if (line_len > limit)
        goto too_long;
      *line = take_line (priv, line_len, at + priv->terminator_len, length);
      return FRAME_DONE;
    }
  if (buffered >= most || (at_end && buffered > limit))
    goto too_long;
  if (at_end)
    {
      gsize line_len = buffered;

      /* A last line cut after the "\r" of its "\r\n" reads like the others. */
      if (priv->terminator_len == 1 && priv->terminator[0] == '\n' &&
          line_len > 0 && priv->in_buf[priv->in_start + line_len - 1] == '\r')
        line_len--;
      if (buffered > 0)
        *line = take_line (priv, line_len, buffered, length);
      return FRAME_DONE;
    }
  *scanned = buffered >= priv->terminator_len ? buffered - priv->terminator_len + 1 : 0;
  return FRAME_NEED_MORE;

too_long:
  g_set_error (error, GIOS_ERROR, GIOS_ERROR_LINE_TOO_LONG,
               _("Line longer than %zu bytes"), limit);
  return FRAME_FAILED;
}

/* How much the input buffer may hold while a line of at most @limit bytes
 * is read: one more buffer's worth, up to the longest line. */
static gsize
line_fill_total (GiosDeviceStreamPrivate *priv,
                 gsize                    limit)
{
  return MIN (line_most (priv, limit), in_buffered (priv) + priv->in_size);
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
 * Reads one line and returns it without its terminator (see
 * [property@Gios.DeviceStream:line-terminator]). A last line that the input
 * ends without a terminator is returned as a line; after it, the call returns
 * %NULL without an error.
 *
 * A line longer than @max_length fails with %GIOS_ERROR_LINE_TOO_LONG as
 * soon as that is certain, so a peer cannot make the buffer grow without
 * limit; its bytes stay unread. On a timeout or cancellation, too, the bytes
 * that arrived stay buffered.
 *
 * Returns: (transfer full) (nullable): the line, nul-terminated; %NULL at
 *   end of input or on error
 *
 * Since: 1.0
 */
char *
gios_device_stream_read_line (GiosDeviceStream  *self,
                              gsize              max_length,
                              gsize             *length,
                              int                timeout_ms,
                              GCancellable      *cancellable,
                              GError           **error)
{
  GiosDeviceStreamPrivate *priv;
  char *line = NULL;
  gsize limit;
  gsize scanned = 0;
  gboolean at_end = FALSE;
  gint64 deadline;
  int timeout;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), NULL);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length != NULL)
    *length = 0;

  priv = PRIV (self);
  if (!enter_io (self, error))
    return NULL;

  limit = max_length > 0 ? max_length : GIOS_DEFAULT_MAX_LINE_LENGTH;
  timeout = _gios_device_stream_resolve_timeout (self, timeout_ms);
  deadline = _gios_deadline_from_timeout (timeout);

  while (try_line (priv, limit, &scanned, at_end, &line, length, error) == FRAME_NEED_MORE)
    {
      gssize n = in_fill (self, line_fill_total (priv, limit), deadline, cancellable, error);

      if (n < 0)
        {
          _gios_explain_timeout (error, _("a line"), timeout, in_buffered (priv));
          break;
        }
      at_end = n == 0;
    }

  _gios_device_stream_leave (self);
  return line;
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
 * them, waiting at most [property@Gios.DeviceStream:default-timeout]. Call
 * [method@Gios.DeviceStream.flush] to send what is buffered.
 *
 * A write never drops data: when sending fails, the bytes not sent stay
 * buffered for the next flush, and the call returns %FALSE.
 *
 * Returns: %TRUE when nothing failed
 *
 * Since: 1.0
 */
gboolean
gios_device_stream_write (GiosDeviceStream  *self,
                          const guint8      *data,
                          gsize              count,
                          GCancellable      *cancellable,
                          GError           **error)
{
  gboolean ok;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (data != NULL || count == 0, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!enter_io (self, error))
    return FALSE;
  ok = write_internal (self, data, count, cancellable, error);
  _gios_device_stream_leave (self);

  return ok;
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
 * Since: 1.0
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
 * as [method@Gios.DeviceStream.write] does.
 *
 * Returns: %TRUE when nothing failed
 *
 * Since: 1.0
 */
gboolean
gios_device_stream_write_line (GiosDeviceStream  *self,
                               const char        *line,
                               GCancellable      *cancellable,
                               GError           **error)
{
  GiosDeviceStreamPrivate *priv;
  gboolean ok;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (line != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  if (!enter_io (self, error))
    return FALSE;
  ok = write_internal (self, (const guint8 *) line, strlen (line), cancellable, error);
  if (ok)
    ok = write_internal (self, (const guint8 *) priv->terminator, priv->terminator_len,
                         cancellable, error);
  else
    /* The line stayed buffered: its terminator must follow it. */
    out_append (priv, (const guint8 *) priv->terminator, priv->terminator_len);
  _gios_device_stream_leave (self);

  return ok;
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
 * Since: 1.0
 */
gboolean
gios_device_stream_flush (GiosDeviceStream  *self,
                          int                timeout_ms,
                          GCancellable      *cancellable,
                          GError           **error)
{
  gboolean ok;
  int timeout;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!enter_io (self, error))
    return FALSE;
  timeout = _gios_device_stream_resolve_timeout (self, timeout_ms);
  ok = flush_internal (self, _gios_deadline_from_timeout (timeout), cancellable, error);
  if (!ok)
    _gios_explain_timeout (error, _("the peer to take output"), timeout, PRIV (self)->out_len);
  _gios_device_stream_leave (self);

  return ok;
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
 * Since: 1.0
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
  gint64 deadline;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), G_IO_ERR);
  g_return_val_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT, G_IO_ERR);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), G_IO_ERR);

  priv = PRIV (self);
  if (!enter_io (self, &error))
    return G_IO_ERR;

  deadline = deadline_for (self, timeout_ms);

  if ((condition & G_IO_IN) && in_buffered (priv) > 0)
    ret |= G_IO_IN;
  if ((condition & G_IO_OUT) && priv->out_len < priv->out_size)
    ret |= G_IO_OUT;

  if (ret == 0 && (condition & G_IO_OUT))
    {
      if (flush_internal (self, deadline, cancellable, &error))
        ret |= G_IO_OUT;
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) &&
               !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ret |= G_IO_ERR;
      g_clear_error (&error);
    }

  if (ret == 0 && (condition & G_IO_IN))
    {
      gssize n = in_fill (self, 0, deadline, cancellable, &error);

      if (n > 0)
        ret |= G_IO_IN;
      else if (n == 0)
        ret |= G_IO_IN | G_IO_HUP;
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) &&
               !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ret |= G_IO_ERR;
    }

  _gios_device_stream_leave (self);
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
 * Since: 1.0
 */
gsize
gios_device_stream_clear (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv;
  gsize n;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  priv = PRIV (self);
  n = in_buffered (priv);
  in_consume (priv, n);
  return n;
}

/**
 * gios_device_stream_close:
 * @self: a [class@Gios.DeviceStream]
 * @error: return location for a [struct@GLib.Error]
 *
 * Sends buffered output (waiting at most
 * [property@Gios.DeviceStream:default-timeout]) and closes the device. Called
 * from another thread while a call is blocked on @self, it wakes that call,
 * which fails with %G_IO_ERROR_CLOSED, and drops buffered output instead.
 * The device is closed even when sending fails; the error then says how many
 * bytes were not sent. Closing a closed stream does nothing.
 *
 * Watches and asynchronous calls run on the thread of their main context.
 * Called from another thread while that context is running, close() shuts
 * the device's input down at once, so that readers everywhere see its end,
 * and returns %TRUE; the rest of the closing (sending what is buffered,
 * failing the pending calls with %G_IO_ERROR_CLOSED, removing the watches)
 * happens in that context's next iteration.
 *
 * Returns: %TRUE when everything buffered was sent and the device closed
 *
 * Since: 1.0
 */
gboolean
gios_device_stream_close (GiosDeviceStream  *self,
                          GError           **error)
{
  GiosDeviceStreamPrivate *priv;
  g_autoptr(GError) local_error = NULL;
  /* Closing removes the watches, which may hold the last references. */
  g_autoptr(GiosDeviceStream) keep = NULL;
  gboolean ok;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  keep = g_object_ref (self);
  priv = PRIV (self);
  if (!_gios_device_stream_teardown_enter (self, (GiosTeardownFunc) gios_device_stream_close))
    return TRUE;   /* finished on the thread of the watches' context */
  g_mutex_lock (&priv->lock);
  if (priv->closed)
    {
      g_mutex_unlock (&priv->lock);
      _gios_device_stream_teardown_leave (self);
      return TRUE;
    }
  g_mutex_unlock (&priv->lock);

  _gios_device_stream_flush_if_owner (self, &local_error);
  /* Wakes blocked calls, shutting the device down under a receive blocked
   * in it: before the descriptor is forgotten. */
  _gios_device_stream_interrupt (self);
  _gios_device_stream_set_device_fd (self, -1);
  ok = GIOS_DEVICE_STREAM_GET_CLASS (self)->close_device (self, local_error ? NULL : &local_error);
  _gios_device_stream_reset (self);
  /* No wait runs now: let the caller's cancellable go. */
  clear_cached_cancellable (priv);
  g_mutex_lock (&priv->lock);
  priv->closed = TRUE;
  priv->io_ready = FALSE;
  priv->device_generation++;
  g_mutex_unlock (&priv->lock);
  _gios_device_stream_resume (self);

  if (priv->is_open)
    {
      priv->is_open = FALSE;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IS_OPEN]);
    }
  _gios_device_stream_teardown_leave (self);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return ok;
}

/**
 * gios_device_stream_get_is_open:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:is-open].
 *
 * Returns: whether the device is open
 *
 * Since: 1.0
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
 * Since: 1.0
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
 * Since: 1.0
 */
gsize
gios_device_stream_get_buffered_input (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return in_buffered (PRIV (self));
}

/**
 * gios_device_stream_get_buffered_output:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets how many written bytes wait in the output buffer to be sent.
 *
 * Returns: the number of buffered output bytes
 *
 * Since: 1.0
 */
gsize
gios_device_stream_get_buffered_output (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return PRIV (self)->out_len;
}

/**
 * gios_device_stream_get_line_terminator:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:line-terminator].
 *
 * Returns: (transfer none): the line terminator
 *
 * Since: 1.0
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
 * Since: 1.0
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

/**
 * gios_device_stream_get_default_timeout:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:default-timeout].
 *
 * Returns: the default timeout in milliseconds, -1 for none
 *
 * Since: 1.0
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
 * Since: 1.0
 */
void
gios_device_stream_set_default_timeout (GiosDeviceStream *self,
                                        int               timeout_ms)
{
  GiosDeviceStreamPrivate *priv;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= -1);

  priv = PRIV (self);
  if (priv->default_timeout == timeout_ms)
    return;
  priv->default_timeout = timeout_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEFAULT_TIMEOUT]);
}

/**
 * gios_device_stream_get_input_buffer_size:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:input-buffer-size].
 *
 * Returns: the input buffer size in bytes
 *
 * Since: 1.0
 */
guint
gios_device_stream_get_input_buffer_size (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return PRIV (self)->in_size;
}

/**
 * gios_device_stream_set_input_buffer_size:
 * @self: a [class@Gios.DeviceStream]
 * @size: the size in bytes, at least 1
 *
 * Sets [property@Gios.DeviceStream:input-buffer-size]. Buffered input is
 * kept.
 *
 * Since: 1.0
 */
void
gios_device_stream_set_input_buffer_size (GiosDeviceStream *self,
                                          guint             size)
{
  GiosDeviceStreamPrivate *priv;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (size > 0 && size <= G_MAXINT);

  priv = PRIV (self);
  if (priv->in_size == size)
    return;
  priv->in_size = size;
  if (in_buffered (priv) == 0)
    in_consume (priv, 0);
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
 * Since: 1.0
 */
guint
gios_device_stream_get_output_buffer_size (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return PRIV (self)->out_size;
}

/**
 * gios_device_stream_set_output_buffer_size:
 * @self: a [class@Gios.DeviceStream]
 * @size: the size in bytes, at least 1
 *
 * Sets [property@Gios.DeviceStream:output-buffer-size]. Buffered output is
 * kept.
 *
 * Since: 1.0
 */
void
gios_device_stream_set_output_buffer_size (GiosDeviceStream *self,
                                           guint             size)
{
  GiosDeviceStreamPrivate *priv;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (size > 0 && size <= G_MAXINT);

  priv = PRIV (self);
  if (priv->out_size == size)
    return;
  priv->out_size = size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OUTPUT_BUFFER_SIZE]);
}

/**
 * gios_device_stream_get_max_message_size:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:max-message-size].
 *
 * Returns: the largest item or message payload accepted, in bytes
 *
 * Since: 1.0
 */
guint
gios_device_stream_get_max_message_size (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);

  return PRIV (self)->max_message_size;
}

/**
 * gios_device_stream_set_max_message_size:
 * @self: a [class@Gios.DeviceStream]
 * @size: the largest item or message payload to accept, in bytes
 *
 * Sets [property@Gios.DeviceStream:max-message-size].
 *
 * Since: 1.0
 */
void
gios_device_stream_set_max_message_size (GiosDeviceStream *self,
                                         guint             size)
{
  GiosDeviceStreamPrivate *priv;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));

  priv = PRIV (self);
  if (priv->max_message_size == size)
    return;
  priv->max_message_size = size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_MESSAGE_SIZE]);
}

/* ------------------------------------------------------------------------ */
/* Asynchronous calls                                                         */

typedef enum {
  OP_READ_BYTES,
  OP_READ_LINE,
  OP_FLUSH,
} OpKind;

typedef struct
{
  OpKind kind;
  gsize count;           /* read_bytes: the most bytes; read_line: the limit */
  gsize scanned;
  gsize length;
  int timeout;
  gboolean at_end;
  GSource *timeout_source;
  GSource *cancel_source;
} AsyncOp;

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
async_op_free (AsyncOp *op)
{
  clear_source (&op->timeout_source);
  clear_source (&op->cancel_source);
  g_free (op);
}

/* Arms the watch for the pending calls. Conditions no call waits for any
 * more are dropped lazily, when an event finds nobody waiting for it: a
 * read loop that starts the next read from its callback then costs no
 * epoll_ctl() at all. */
static GIOCondition wanted_by_user_watches (GiosDeviceStreamPrivate *priv);

static GIOCondition
wanted_events (GiosDeviceStreamPrivate *priv)
{
  return (priv->read_task ? G_IO_IN : 0) | (priv->write_task ? G_IO_OUT : 0) |
         wanted_by_user_watches (priv);
}

static void
update_watch (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->watch != NULL)
    _gios_watch_set_events (priv->watch, _gios_watch_get_events (priv->watch) | wanted_events (priv));
}

/* Takes the pending task of @slot off the stream, so that its callback can
 * start the next call, and stops its timeout and cancellation sources. */
static GTask *
take_task (GiosDeviceStream  *self,
           GTask            **slot)
{
  GTask *task = g_steal_pointer (slot);
  AsyncOp *op = g_task_get_task_data (task);

  clear_source (&op->timeout_source);
  clear_source (&op->cancel_source);
  update_watch (self);
  return task;
}

static void
fail_task (GiosDeviceStream  *self,
           GTask            **slot,
           GError            *error)
{
  g_autoptr(GTask) task = take_task (self, slot);

  g_task_return_error (task, error);
}

/* An async connection spends most of its life waiting: it keeps no empty
 * buffers meanwhile, so that an idle connection costs a few hundred bytes
 * instead of two buffers (32 KiB with the defaults). */
static void
release_empty_buffers (GiosDeviceStreamPrivate *priv)
{
  if (priv->in_buf != NULL && in_buffered (priv) == 0)
    {
      g_clear_pointer (&priv->in_buf, g_free);
      priv->in_start = priv->in_end = priv->in_cap = 0;
    }
  if (priv->out_buf != NULL && priv->out_len == 0)
    {
      g_clear_pointer (&priv->out_buf, g_free);
      priv->out_cap = 0;
    }
}

/* Frames what is buffered; receives once more only when the watch said
 * the device is readable (@readable), so that a read started with nothing
 * buffered costs no failed receive. */
static void
read_step (GiosDeviceStream *self,
           gboolean          readable)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  for (;;)
    {
      AsyncOp *op = g_task_get_task_data (priv->read_task);
      GError *error = NULL;
      gssize n;

      if (op->kind == OP_READ_LINE)
        {
          char *line = NULL;

          switch (try_line (priv, op->count, &op->scanned, op->at_end, &line, &op->length, &error))
            {
            case FRAME_DONE:
              {
                g_autoptr(GTask) task = take_task (self, &priv->read_task);

                release_empty_buffers (priv);
                g_task_return_pointer (task, line, g_free);
                return;
              }
            case FRAME_FAILED:
              fail_task (self, &priv->read_task, error);
              return;
            case FRAME_NEED_MORE:
            default:
              break;
            }
        }
      else if (in_buffered (priv) > 0 || op->at_end)
        {
          g_autoptr(GTask) task = take_task (self, &priv->read_task);
          gsize count = MIN (op->count, in_buffered (priv));
          GBytes *bytes = g_bytes_new (count ? priv->in_buf + priv->in_start : NULL, count);

          in_consume (priv, count);
          release_empty_buffers (priv);
          g_task_return_pointer (task, bytes, (GDestroyNotify) g_bytes_unref);
          return;
        }

      if (!readable)
        {
          release_empty_buffers (priv);
          update_watch (self);
          return;
        }
      readable = FALSE;
      if (!enter_io (self, &error))
        {
          fail_task (self, &priv->read_task, error);
          return;
        }
      /* Bytes for a read_bytes call with nothing buffered go through the
       * stack: the GBytes copies them anyway, and the input buffer is not
       * allocated just to be freed again (see release_empty_buffers). */
      if (op->kind == OP_READ_BYTES && op->count > 0 && in_buffered (priv) == 0 &&
          priv->in_size <= ASYNC_STACK_CHUNK)
        {
          guint8 chunk[ASYNC_STACK_CHUNK];

          n = GIOS_DEVICE_STREAM_GET_CLASS (self)->receive (self, chunk,
                                                            MIN (op->count, priv->in_size),
                                                            0, NULL, &error);
          _gios_device_stream_leave (self);
          if (n > 0)
            {
              g_autoptr(GTask) task = take_task (self, &priv->read_task);

              set_eof (self, FALSE);
              release_empty_buffers (priv);
              g_task_return_pointer (task, g_bytes_new (chunk, n), (GDestroyNotify) g_bytes_unref);
              return;
            }
          if (n == 0)
            set_eof (self, TRUE);
        }
      else
        {
          /* The watch said the device is readable: this does not wait. */
          n = in_fill (self, op->kind == OP_READ_LINE ? line_fill_total (priv, op->count) : 0,
                       0, NULL, &error);
          _gios_device_stream_leave (self);
        }
      if (n == 0)
        op->at_end = TRUE;
      else if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            {
              /* Nothing there after all: wait for the next event. */
              g_error_free (error);
              update_watch (self);
              return;
            }
          fail_task (self, &priv->read_task, error);
          return;
        }
    }
}

static void
write_step (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GError *error = NULL;
  gboolean ok;

  if (!enter_io (self, &error))
    {
      fail_task (self, &priv->write_task, error);
      return;
    }
  ok = flush_internal (self, 0, NULL, &error);
  _gios_device_stream_leave (self);

  if (ok)
    {
      g_autoptr(GTask) task = take_task (self, &priv->write_task);

      release_empty_buffers (priv);
      g_task_return_boolean (task, TRUE);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_error_free (error);
      update_watch (self);
    }
  else
    fail_task (self, &priv->write_task, error);
}

/* Made pending with this, the watch looks at the buffers and tries the
 * device once, whatever the device said (see start_async). */
#define RECHECK G_IO_NVAL

static void dispatch_user_watches   (GiosDeviceStream *self,
                                     GIOCondition      revents);
static void remove_all_user_watches (GiosDeviceStream *self);

static void
on_device_ready (GiosWatch    *watch,
                 GIOCondition  revents,
                 gpointer      data)
{
  g_autoptr(GiosDeviceStream) self = g_object_ref (data);
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if ((revents & (G_IO_IN | G_IO_HUP | G_IO_ERR | RECHECK)) && priv->read_task != NULL)
    read_step (self, (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) != 0);
  if ((revents & (G_IO_OUT | G_IO_HUP | G_IO_ERR | RECHECK)) && priv->write_task != NULL)
    write_step (self);
  if (priv->user_watches != NULL && priv->watch == watch)
    dispatch_user_watches (self, revents & ~RECHECK);

  /* Exactly what is waited for now: drops what nobody waits for any more
   * (see update_watch), and restores what a callback that iterated the
   * context left unwatched while it ran. */
  if (priv->watch != NULL && priv->watch == watch)
    _gios_watch_set_events (watch, wanted_events (priv));
}

/* The device's descriptor changed (a new connection, or none): calls
 * pending on the old one fail with G_IO_ERROR_CLOSED, and its watches are
 * removed. */
void
_gios_device_stream_set_device_fd (GiosDeviceStream *self,
                                   int               fd)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GMainContext *context;

  _gios_watch_destroy (g_steal_pointer (&priv->watch));
  /* Under the lock: interrupt() shuts the old descriptor down only while it
   * is still open, and teardown_enter() looks at the context. */
  g_mutex_lock (&priv->lock);
  context = g_steal_pointer (&priv->watch_context);
  priv->device_fd = fd;
  priv->device_generation++;
  g_mutex_unlock (&priv->lock);
  if (context != NULL)
    g_main_context_unref (context);
  if (priv->read_task != NULL)
    fail_task (self, &priv->read_task,
               g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, _("The stream was closed")));
  if (priv->write_task != NULL)
    fail_task (self, &priv->write_task,
               g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, _("The stream was closed")));
  /* Last: the watches may hold the last references. */
  remove_all_user_watches (self);
}

static gboolean
on_async_timeout (gpointer data)
{
  GTask *task = data;
  GiosDeviceStream *self = g_task_get_source_object (task);
  GiosDeviceStreamPrivate *priv = PRIV (self);
  AsyncOp *op = g_task_get_task_data (task);
  GTask **slot = priv->read_task == task ? &priv->read_task : &priv->write_task;
  GError *error;

  /* One last try before failing, without waiting: the step start_async made
   * pending has not run yet when this source outranks the reactor, and a
   * timeout of 0 still means "what can be done now". The source holds a
   * reference on @task, so @op outlives the step. */
  if (op->kind == OP_FLUSH)
    write_step (self);
  else
    read_step (self, TRUE);
  if (*slot != task)
    return G_SOURCE_REMOVE;   /* finished: the step destroyed this source */

  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "");
  _gios_explain_timeout (&error, op->kind == OP_READ_LINE ? _("a line") :
                           op->kind == OP_FLUSH ? _("the peer to take output") : _("input"),
                   op->timeout, op->kind == OP_FLUSH ? priv->out_len : in_buffered (priv));
  g_clear_pointer (&op->timeout_source, g_source_unref);   /* destroyed on return */
  fail_task (self, slot, error);
  return G_SOURCE_REMOVE;
}

static gboolean
on_async_cancelled (GCancellable *cancellable,
                    gpointer      data)
{
  GTask *task = data;
  GiosDeviceStream *self = g_task_get_source_object (task);
  GiosDeviceStreamPrivate *priv = PRIV (self);
  AsyncOp *op = g_task_get_task_data (task);
  GTask **slot = priv->read_task == task ? &priv->read_task : &priv->write_task;
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  g_clear_pointer (&op->cancel_source, g_source_unref);
  fail_task (self, slot, error);
  return G_SOURCE_REMOVE;
}

static void
run_in_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GiosDeviceStream *self = source_object;
  AsyncOp *op = task_data;
  GError *error = NULL;

  switch (op->kind)
    {
    case OP_READ_BYTES:
      {
        GBytes *bytes = gios_device_stream_read_bytes (self, op->count, op->timeout, cancellable, &error);

        if (bytes != NULL)
          g_task_return_pointer (task, bytes, (GDestroyNotify) g_bytes_unref);
        else
          g_task_return_error (task, error);
      }
      break;
    case OP_READ_LINE:
      {
        char *line = gios_device_stream_read_line (self, op->count, &op->length, op->timeout,
                                                   cancellable, &error);

        if (error != NULL)
          g_task_return_error (task, error);
        else
          g_task_return_pointer (task, line, g_free);
      }
      break;
    case OP_FLUSH:
    default:
      if (gios_device_stream_flush (self, op->timeout, cancellable, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error);
      break;
    }
}

/* Watches the device on @context, moving the watch there if it was on
 * another context. */
static gboolean
ensure_watch (GiosDeviceStream  *self,
              GMainContext      *context,
              GError           **error)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GiosReactor *reactor;

  if (priv->watch != NULL && priv->watch_context == context)
    return TRUE;
  if (priv->watch != NULL)
    {
      _gios_watch_destroy (g_steal_pointer (&priv->watch));
      g_mutex_lock (&priv->lock);
      g_clear_pointer (&priv->watch_context, g_main_context_unref);
      g_mutex_unlock (&priv->lock);
    }
  reactor = _gios_reactor_ref (context, error);
  if (reactor == NULL)
    return FALSE;
  priv->watch = _gios_reactor_watch (reactor, priv->device_fd, 0, on_device_ready, self);
  g_mutex_lock (&priv->lock);
  priv->watch_context = g_main_context_ref (context);
  g_mutex_unlock (&priv->lock);
  g_source_unref ((GSource *) reactor);
  return TRUE;
}

static void
start_async (GiosDeviceStream    *self,
             AsyncOp             *op,
             int                  timeout_ms,
             int                  io_priority,
             GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data,
             gpointer             source_tag)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  GTask **slot = op->kind == OP_FLUSH ? &priv->write_task : &priv->read_task;
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  g_task_set_priority (task, io_priority);
  op->timeout = _gios_device_stream_resolve_timeout (self, timeout_ms);
  g_task_set_task_data (task, op, (GDestroyNotify) async_op_free);

  if (*slot != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               _("The stream has a call of this kind pending already"));
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;
  if (!enter_io (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  _gios_device_stream_leave (self);

  /* A device without a descriptor is read on a thread, blocking. */
  if (priv->device_fd < 0)
    {
      g_task_run_in_thread (task, run_in_thread);
      return;
    }

  if (!ensure_watch (self, context, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  if (op->timeout >= 0)
    {
      op->timeout_source = g_timeout_source_new (op->timeout);
      g_task_attach_source (task, op->timeout_source, on_async_timeout);
    }
  if (cancellable != NULL)
    {
      op->cancel_source = g_cancellable_source_new (cancellable);
      g_task_attach_source (task, op->cancel_source, G_SOURCE_FUNC (on_async_cancelled));
    }

  *slot = g_steal_pointer (&task);
  /* A call that may finish at once (output to send, input buffered) does
   * its step in the reactor's next dispatch: GTask would otherwise defer
   * the callback through an idle source of its own. A read with nothing
   * buffered just waits for the device. */
  if (op->kind == OP_FLUSH || in_buffered (priv) > 0)
    _gios_watch_set_pending (priv->watch, RECHECK);
  else
    read_step (self, FALSE);
}

/**
 * gios_device_stream_read_bytes_async:
 * @self: a [class@Gios.DeviceStream]
 * @count: the most bytes to return
 * @timeout_ms: how long to wait for the first byte, in milliseconds
 * @io_priority: the priority of the request
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when the bytes are there
 * @user_data: data for @callback
 *
 * Reads what is there, up to @count bytes, as
 * [method@Gios.DeviceStream.read_bytes] does, without blocking: @callback is
 * called on the thread-default main context of the caller. One read call
 * (this one or [method@Gios.DeviceStream.read_line_async]) may be pending on
 * a stream at a time.
 *
 * Since: 1.0
 */
void
gios_device_stream_read_bytes_async (GiosDeviceStream    *self,
                                     gsize                count,
                                     int                  timeout_ms,
                                     int                  io_priority,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  AsyncOp *op;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  op = g_new0 (AsyncOp, 1);
  op->kind = OP_READ_BYTES;
  op->count = count;
  start_async (self, op, timeout_ms, io_priority, cancellable, callback, user_data,
               gios_device_stream_read_bytes_async);
}

/**
 * gios_device_stream_read_bytes_finish:
 * @self: a [class@Gios.DeviceStream]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.DeviceStream.read_bytes_async].
 *
 * Returns: (transfer full): the bytes read, empty at end of input, or %NULL
 *   with @error set
 *
 * Since: 1.0
 */
GBytes *
gios_device_stream_read_bytes_finish (GiosDeviceStream  *self,
                                      GAsyncResult      *result,
                                      GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gios_device_stream_read_bytes_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * gios_device_stream_read_line_async:
 * @self: a [class@Gios.DeviceStream]
 * @max_length: the longest line accepted, in bytes without the terminator;
 *   0 for [const@Gios.DEFAULT_MAX_LINE_LENGTH]
 * @timeout_ms: how long the whole line may take, in milliseconds
 * @io_priority: the priority of the request
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when the line is there
 * @user_data: data for @callback
 *
 * Reads one line, as [method@Gios.DeviceStream.read_line] does, without
 * blocking: @callback is called on the thread-default main context of the
 * caller. Its rules hold here too: one timeout for the whole line, nothing
 * consumed on failure, %GIOS_ERROR_LINE_TOO_LONG past @max_length.
 *
 * Since: 1.0
 */
void
gios_device_stream_read_line_async (GiosDeviceStream    *self,
                                    gsize                max_length,
                                    int                  timeout_ms,
                                    int                  io_priority,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  AsyncOp *op;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  op = g_new0 (AsyncOp, 1);
  op->kind = OP_READ_LINE;
  op->count = max_length > 0 ? max_length : GIOS_DEFAULT_MAX_LINE_LENGTH;
  start_async (self, op, timeout_ms, io_priority, cancellable, callback, user_data,
               gios_device_stream_read_line_async);
}

/**
 * gios_device_stream_read_line_finish:
 * @self: a [class@Gios.DeviceStream]
 * @result: the result passed to the callback
 * @length: (out) (optional): where to store the length of the line
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.DeviceStream.read_line_async].
 *
 * Returns: (transfer full) (nullable): the line without its terminator;
 *   %NULL at end of input or on error
 *
 * Since: 1.0
 */
char *
gios_device_stream_read_line_finish (GiosDeviceStream  *self,
                                     GAsyncResult      *result,
                                     gsize             *length,
                                     GError           **error)
{
  AsyncOp *op;
  char *line;

  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gios_device_stream_read_line_async, NULL);

  op = g_task_get_task_data (G_TASK (result));
  line = g_task_propagate_pointer (G_TASK (result), error);
  if (length != NULL)
    *length = line != NULL ? op->length : 0;
  return line;
}

/**
 * gios_device_stream_flush_async:
 * @self: a [class@Gios.DeviceStream]
 * @timeout_ms: how long sending may take, in milliseconds
 * @io_priority: the priority of the request
 * @cancellable: (nullable): a [class@Gio.Cancellable]
 * @callback: (scope async): called when everything was sent
 * @user_data: data for @callback
 *
 * Sends every buffered byte, as [method@Gios.DeviceStream.flush] does,
 * without blocking: @callback is called on the thread-default main context
 * of the caller.
 *
 * Since: 1.0
 */
void
gios_device_stream_flush_async (GiosDeviceStream    *self,
                                int                  timeout_ms,
                                int                  io_priority,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  AsyncOp *op;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (timeout_ms >= GIOS_TIMEOUT_DEFAULT);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  op = g_new0 (AsyncOp, 1);
  op->kind = OP_FLUSH;
  start_async (self, op, timeout_ms, io_priority, cancellable, callback, user_data,
               gios_device_stream_flush_async);
}

/**
 * gios_device_stream_flush_finish:
 * @self: a [class@Gios.DeviceStream]
 * @result: the result passed to the callback
 * @error: return location for a [struct@GLib.Error]
 *
 * Finishes [method@Gios.DeviceStream.flush_async].
 *
 * Returns: %TRUE when everything was sent
 *
 * Since: 1.0
 */
gboolean
gios_device_stream_flush_finish (GiosDeviceStream  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gios_device_stream_flush_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* Watches                                                                    */

typedef struct
{
  guint id;
  GIOCondition condition;
  GiosDeviceStreamWatchFunc func;
  gpointer data;
  GDestroyNotify notify;
  GiosDeviceStream *stream;   /* owned */
  guint removed : 1;
  guint in_call : 1;          /* never called again from inside itself */
} UserWatch;


static GIOCondition
wanted_by_user_watches (GiosDeviceStreamPrivate *priv)
{
  GIOCondition wanted = 0;

  if (priv->user_watches == NULL)
    return 0;
  for (guint i = 0; i < priv->user_watches->len; i++)
    {
      UserWatch *watch = g_ptr_array_index (priv->user_watches, i);

      /* One that is running waits for nothing: a callback that iterates
       * the context does not make it spin on its own event. */
      if (!watch->removed && !watch->in_call)
        wanted |= watch->condition;
    }
  return wanted & (G_IO_IN | G_IO_OUT);
}

/* Once no dispatch is walking the array, takes the removed watches out,
 * then calls their destroy notify and drops their reference on the stream
 * (the caller holds one of its own). A watch removed from its own callback
 * thus keeps its data until the callback has returned, as a GSource does. */
static void
sweep_user_watches (GiosDeviceStreamPrivate *priv)
{
  g_autoptr(GPtrArray) removed = NULL;

  if (priv->user_dispatching > 0 || priv->user_watches == NULL)
    return;
  for (guint i = priv->user_watches->len; i-- > 0;)
    {
      UserWatch *watch = g_ptr_array_index (priv->user_watches, i);

      if (!watch->removed)
        continue;
      if (removed == NULL)
        removed = g_ptr_array_new ();
      g_ptr_array_add (removed, g_ptr_array_steal_index (priv->user_watches, i));
    }
  if (removed == NULL)
    return;
  for (guint i = removed->len; i-- > 0;)
    {
      UserWatch *watch = g_ptr_array_index (removed, i);

      if (watch->notify != NULL)
        watch->notify (watch->data);
      g_object_unref (watch->stream);
      g_free (watch);
    }
}

static void
remove_user_watch (GiosDeviceStream *self,
                   UserWatch        *watch)
{
  watch->removed = TRUE;
  sweep_user_watches (PRIV (self));
}

static void
remove_all_user_watches (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  g_autoptr(GiosDeviceStream) keep = NULL;

  if (priv->user_watches == NULL || priv->user_watches->len == 0)
    return;
  keep = g_object_ref (self);
  for (guint i = 0; i < priv->user_watches->len; i++)
    ((UserWatch *) g_ptr_array_index (priv->user_watches, i))->removed = TRUE;
  sweep_user_watches (priv);
}

/* Buffered input counts as readable: a watch for input is called again in
 * the next iteration while a callback consumed some and some is left (see
 * dispatch_user_watches). */
static void
recheck_buffered_input (GiosDeviceStream *self)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);

  if (priv->watch != NULL && in_buffered (priv) > 0 &&
      (wanted_by_user_watches (priv) & G_IO_IN))
    _gios_watch_set_pending (priv->watch, RECHECK);
}

static void
dispatch_user_watches (GiosDeviceStream *self,
                       GIOCondition      revents)
{
  GiosDeviceStreamPrivate *priv = PRIV (self);
  /* Watches added by a callback wait for the next event. */
  guint n = priv->user_watches->len;
  guint64 taken = priv->in_taken;

  priv->user_dispatching++;
  for (guint i = 0; i < n && priv->user_watches != NULL; i++)
    {
      UserWatch *watch = g_ptr_array_index (priv->user_watches, i);
      GIOCondition condition;
      gboolean keep;

      if (watch->removed || watch->in_call)
        continue;
      condition = revents & (watch->condition | G_IO_HUP | G_IO_ERR);
      if ((watch->condition & G_IO_IN) && in_buffered (priv) > 0)
        condition |= G_IO_IN;
      if (condition == 0)
        continue;
      watch->in_call = TRUE;
      keep = watch->func (self, condition, watch->data);
      watch->in_call = FALSE;
      if (!keep)
        remove_user_watch (self, watch);
    }
  priv->user_dispatching--;
  sweep_user_watches (priv);
  /* Input left after a callback consumed some may hold the next request;
   * input no callback took (half a line) waits for more to arrive, so that
   * a callback that reads whole lines does not spin. */
  if (priv->in_taken != taken)
    recheck_buffered_input (self);
  /* A watched connection waits between events, as an async one does. */
  release_empty_buffers (priv);
}

/**
 * GiosDeviceStreamWatchFunc:
 * @stream: the watched stream
 * @condition: what holds: %G_IO_IN when input is buffered or the device has
 *   some (or reached its end), %G_IO_OUT when the device takes output,
 *   %G_IO_HUP and %G_IO_ERR whether asked for or not
 * @user_data: the data given to [method@Gios.DeviceStream.add_watch]
 *
 * Called by a watch of [method@Gios.DeviceStream.add_watch].
 *
 * Returns: %G_SOURCE_CONTINUE to keep the watch, %G_SOURCE_REMOVE to
 *   remove it
 *
 * Since: 1.0
 */

/**
 * gios_device_stream_add_watch:
 * @self: a [class@Gios.DeviceStream] with a descriptor: a socket, or a
 *   stream made over one
 * @condition: %G_IO_IN, %G_IO_OUT or both
 * @func: (scope notified) (closure user_data) (destroy notify): called when
 *   @condition holds
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data when the watch is removed
 *
 * Calls @func on the thread-default main context of the caller whenever
 * @condition holds, until it returns %G_SOURCE_REMOVE, the watch is removed
 * with [method@Gios.DeviceStream.remove_watch], or the stream loses its
 * device (it is closed, or a server socket drops its connection).
 *
 * This is the main-loop counterpart of [method@Gios.DeviceStream.poll], and
 * the cheapest way to serve many connections from one thread: in @func,
 * read what is there with a timeout of 0, write the reply and flush it with a
 * timeout of 0; when that flush times out, the unsent bytes stay buffered and
 * a watch for %G_IO_OUT tells when to flush again. Unlike the `_async` calls
 * it makes no [class@Gio.Task] per call, and, like them, it costs nothing per
 * idle connection on each main loop iteration.
 *
 * Buffered input counts as readable: a watch for %G_IO_IN whose function
 * consumed some input and left some in the buffer is called again in the
 * next iteration. Input that no function consumed, such as half a line that
 * [method@Gios.DeviceStream.read_line] with a timeout of 0 could not return,
 * is reported again only when more arrives, so that a peer cannot make the
 * main loop spin. A watch function is never called again from inside itself,
 * even when it iterates the main context.
 *
 * The watch holds a reference on @self until it is removed. Add and remove
 * watches on the thread that runs the context, as for the `_async` calls;
 * [method@Gios.DeviceStream.close] and
 * [method@Gios.SocketCommon.drop_connection] may be called from any thread
 * (see [method@Gios.DeviceStream.close]).
 *
 * Returns: the watch's identifier, greater than 0
 *
 * Since: 1.0
 */
guint
gios_device_stream_add_watch (GiosDeviceStream          *self,
                              GIOCondition               condition,
                              GiosDeviceStreamWatchFunc  func,
                              gpointer                   user_data,
                              GDestroyNotify             notify)
{
  GiosDeviceStreamPrivate *priv;
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(GError) error = NULL;
  UserWatch *watch;

  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), 0);
  g_return_val_if_fail (condition != 0 && (condition & ~(G_IO_IN | G_IO_OUT)) == 0, 0);
  g_return_val_if_fail (func != NULL, 0);
  priv = PRIV (self);
  g_return_val_if_fail (priv->device_fd >= 0, 0);

  context = g_main_context_ref_thread_default ();
  if (priv->watch != NULL && priv->watch_context != context)
    {
      g_return_val_if_fail (priv->read_task == NULL && priv->write_task == NULL &&
                            wanted_by_user_watches (priv) == 0, 0);
    }
  if (!ensure_watch (self, context, &error))
    {
      /* Only when the process has no descriptor left for epoll. */
      g_critical ("%s", error->message);
      return 0;
    }

  watch = g_new0 (UserWatch, 1);
  watch->id = ++priv->last_watch_id;
  if (watch->id == 0)
    watch->id = ++priv->last_watch_id;
  watch->condition = condition;
  watch->func = func;
  watch->data = user_data;
  watch->notify = notify;
  watch->stream = g_object_ref (self);
  if (priv->user_watches == NULL)
    priv->user_watches = g_ptr_array_new ();
  g_ptr_array_add (priv->user_watches, watch);

  update_watch (self);
  recheck_buffered_input (self);
  return watch->id;
}

/**
 * gios_device_stream_remove_watch:
 * @self: a [class@Gios.DeviceStream]
 * @watch_id: what [method@Gios.DeviceStream.add_watch] returned
 *
 * Removes a watch: its function is not called again, and its destroy
 * notify is called now, or, when this is called from a watch function of
 * @self, once that function has returned. Removing a watch that was already
 * removed (by its function's return value, or because the stream lost its
 * device) does nothing.
 *
 * Since: 1.0
 */
void
gios_device_stream_remove_watch (GiosDeviceStream *self,
                                 guint             watch_id)
{
  GiosDeviceStreamPrivate *priv;
  g_autoptr(GiosDeviceStream) keep = NULL;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));
  g_return_if_fail (watch_id > 0);
  priv = PRIV (self);

  if (priv->user_watches == NULL)
    return;
  for (guint i = 0; i < priv->user_watches->len; i++)
    {
      UserWatch *watch = g_ptr_array_index (priv->user_watches, i);

      if (watch->id == watch_id && !watch->removed)
        {
          keep = g_object_ref (self);
          remove_user_watch (self, watch);
          return;
        }
    }
}

/**
 * gios_device_stream_get_stop_code:
 * @self: a [class@Gios.DeviceStream]
 *
 * Gets [property@Gios.DeviceStream:stop-code].
 *
 * Returns: the stop code
 *
 * Since: 1.0
 */
guint16
gios_device_stream_get_stop_code (GiosDeviceStream *self)
{
  g_return_val_if_fail (GIOS_IS_DEVICE_STREAM (self), GIOS_MESSAGE_CODE_DISCONNECT);

  return PRIV (self)->stop_code;
}

/**
 * gios_device_stream_set_stop_code:
 * @self: a [class@Gios.DeviceStream]
 * @code: the code, as [method@Gios.Message.get_code] reads it
 *
 * Sets [property@Gios.DeviceStream:stop-code].
 *
 * Since: 1.0
 */
void
gios_device_stream_set_stop_code (GiosDeviceStream *self,
                                  guint16           code)
{
  GiosDeviceStreamPrivate *priv;

  g_return_if_fail (GIOS_IS_DEVICE_STREAM (self));

  priv = PRIV (self);
  if (priv->stop_code == code)
    return;
  priv->stop_code = code;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STOP_CODE]);
}
