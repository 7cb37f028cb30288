/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The gate: how a call on one thread and a teardown (close, drop) on
 * another meet, as one plain struct.
 *
 * Every call on a stream runs inside the gate, between enter and leave,
 * with a frame on its own stack. A second thread that enters while another
 * is inside fails with G_IO_ERROR_PENDING, as GIO's streams do: a stream is
 * used by one thread at a time. Calls on one thread may nest (a signal
 * handler that calls back); the frames of a thread form a list, so nesting
 * has no limit.
 *
 * A teardown, from any thread, interrupts the gate: calls that try to
 * enter fail with G_IO_ERROR_CLOSED, calls inside wake from their waits
 * (the gate's own eventfd; a receive blocked in the device itself is woken
 * by shutting the device down), and the teardown waits until they have left
 * before it touches the device. Interrupts are counted, and each returns a
 * ticket: a frame entered with a ticket survives the interrupt that gave it
 * (the teardown's own flush) but not a later one, so that a second teardown
 * can always wake the first.
 *
 * The eventfd is the gate's own, not a GCancellable's: GLib aborts the
 * process when a cancellable cannot make its descriptor, which is exactly
 * what happens when descriptors run out.
 */
#pragma once

#include <gio/gio.h>
#include "gios-wakeup.h"

G_BEGIN_DECLS

typedef struct _GiosGate GiosGate;
typedef struct _GiosGateFrame GiosGateFrame;

struct _GiosGateFrame
{
  GiosGate *gate;
  GiosGateFrame *outer;    /* the thread's enclosing frame */
  guint ticket;            /* interrupts this frame survives */
};

struct _GiosGate
{
  GMutex lock;
  GCond idle;
  guint busy;              /* frames inside, of all threads */
  guint waiters;           /* interrupts waiting for the calls to leave */
  gint interrupted;        /* atomic: interrupts under way */
  guint attached : 1;      /* a device is there to read and write */
  guint closed : 1;
  int device_fd;           /* shut down under receives blocked in it */
  GiosWakeup wakeup;       /* made on first use */
  /* The cancellable of the last wait stays connected to the wake-up, since
   * connecting a handler per wait took about half the instructions of a
   * blocking read; its handler wakes only while waits use it. */
  GCancellable *wait_cancellable;
  gulong wait_handler;
  gint wait_users;         /* atomic */
  gint blocked;            /* atomic: receives blocked in the device */
  gint blocked_cancellable; /* atomic: those of them given @interrupting */
  /* A cancellable a receive may block in the device with (the jobs'):
   * whoever cancels it calls gios_gate_cancel_blocked(). Not owned: only
   * compared. */
  GCancellable *interrupting;
};

typedef enum
{
  GIOS_GATE_ANY,           /* the call needs no device (opening, accepting) */
  GIOS_GATE_DEVICE,        /* the call reads or writes the device */
} GiosGateNeed;

void     gios_gate_init            (GiosGate       *gate);
void     gios_gate_clear           (GiosGate       *gate);

gboolean gios_gate_enter           (GiosGate       *gate,
                                    GiosGateFrame  *frame,
                                    GiosGateNeed    need,
                                    guint           ticket,
                                    GError        **error);
void     gios_gate_leave           (GiosGate       *gate,
                                    GiosGateFrame  *frame);
/* Whether another thread is inside a call now. */
gboolean gios_gate_is_busy_elsewhere (GiosGate     *gate);

/* Interrupts the calls of other threads: they fail at their next wait,
 * or at once where they wait now. Returns the ticket of this interrupt.
 * Pair with gios_gate_resume(). */
guint    gios_gate_interrupt       (GiosGate       *gate);
/* Waits until the calls of other threads have left. */
void     gios_gate_wait_idle       (GiosGate       *gate);
void     gios_gate_resume          (GiosGate       *gate);
/* Shuts the device's input down, waking a receive blocked in it. */
void     gios_gate_shutdown_input  (GiosGate       *gate);

void     gios_gate_set_attached    (GiosGate       *gate,
                                    gboolean        attached,
                                    int             device_fd);
void     gios_gate_set_closed      (GiosGate       *gate,
                                    gboolean        closed);

/* Makes the wake-up descriptor now, so that a wake is never missed. Returns
 * it, or a negative value where none could be made (waits then look at
 * their flags every 50 ms). */
int      gios_gate_prepare_wakeup  (GiosGate       *gate);

/* Waits until one of @fds is ready (their revents set), @deadline passes
 * (G_IO_ERROR_TIMED_OUT), @cancellable is cancelled (G_IO_ERROR_CANCELLED)
 * or the gate is interrupted past the caller's frame (G_IO_ERROR_CLOSED).
 * Restarts after EINTR. */
gboolean gios_gate_wait            (GiosGate       *gate,
                                    GPollFD        *fds,
                                    guint           n_fds,
                                    gint64          deadline,
                                    GCancellable   *cancellable,
                                    GError        **error);

static inline gboolean
gios_gate_wait_fd (GiosGate      *gate,
                   int            fd,
                   GIOCondition   condition,
                   gint64         deadline,
                   GCancellable  *cancellable,
                   GError       **error)
{
  GPollFD pfd = { fd, condition, 0 };

  return gios_gate_wait (gate, &pfd, 1, deadline, cancellable, error);
}

/* One iteration of @context (acquired by the caller), whose poll is
 * gios_gate_wait() until @deadline: for what GIO only offers as a source or
 * an asynchronous call (a pollable stream that is no descriptor, a TLS
 * handshake). FALSE, with @error set, when @deadline passed, @cancellable
 * was cancelled or the gate was interrupted; the iteration's dispatch runs
 * either way. */
gboolean gios_gate_iterate         (GiosGate       *gate,
                                    GMainContext   *context,
                                    gint64          deadline,
                                    GCancellable   *cancellable,
                                    GError        **error);

/* For a transfer the device just refused (EAGAIN): TRUE, with @error set as
 * gios_gate_wait() would set it, when @deadline (-1: none) has passed, so
 * that the caller fails without polling the device it just tried; FALSE
 * when there is time left to wait. */
gboolean gios_gate_expired         (GiosGate       *gate,
                                    gint64          deadline,
                                    GCancellable   *cancellable,
                                    GError        **error);

/* For a receive that waits forever: whether it may block in the device
 * itself instead of polling first, which it may when whatever could end the
 * wait also shuts the device down. A TRUE return is paired with
 * end_blocking(), which, when the receive got nothing, says whether it was
 * woken: G_IO_ERROR_CANCELLED or G_IO_ERROR_CLOSED. */
gboolean gios_gate_begin_blocking  (GiosGate       *gate,
                                    gint64          deadline,
                                    GCancellable   *cancellable);
gboolean gios_gate_end_blocking    (GiosGate       *gate,
                                    gboolean        got_data,
                                    GCancellable   *cancellable,
                                    GError        **error);
void     gios_gate_set_interrupting (GiosGate      *gate,
                                     GCancellable  *cancellable);
/* The interrupting cancellable was cancelled: a receive blocked in the
 * device with it wakes, its input shut down (either it sees the
 * cancellation before it blocks, or this sees it counted). A receive given
 * no cancellable is left alone: to it, the shut input would look like the
 * peer's end. */
void     gios_gate_cancel_blocked   (GiosGate      *gate);


G_END_DECLS
