/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The listening sockets of a server socket, and taking connections from
 * them: fairly (each accept starts at the socket after the last one that
 * gave a connection), with the peer's address from accept() itself, and,
 * when descriptors run out, a growing pause reported once instead of a
 * spin.
 */
#pragma once

#include <gios/gios.h>
#include "gios-gate.h"
#include "gios-backoff.h"
#include "gios-bind.h"

G_BEGIN_DECLS

typedef struct
{
  GPtrArray *sockets;      /* of GSocket, listening */
  guint next;              /* where accepting starts, for fairness */
  GiosBackoff exhaustion;  /* out of descriptors: paused, reported once */
  GiosUnixPath unix_path;  /* the socket file we made, removed on close */
  /* Accepting stopped (a drain): accept() fails at once and its waits wake.
   * The sockets stay open, with their queues, until close(). */
  GMutex lock;
  GiosWakeup stop;
  gint stopped;            /* atomic */
} GiosListeners;

void     gios_listeners_init        (GiosListeners     *listeners);
void     gios_listeners_clear       (GiosListeners     *listeners);
/* Closes the sockets, which resets the connections queued in the kernel,
 * and removes the socket file. */
void     gios_listeners_close       (GiosListeners     *listeners);
/* Stops accepting (a drain), from any thread: accept() fails with
 * G_IO_ERROR_CLOSED from now on, and waits in it wake, until close(). */
void     gios_listeners_stop_accepting (GiosListeners  *listeners);
gboolean gios_listeners_is_stopped  (GiosListeners     *listeners);
/* Tries each socket once, without waiting. Returns a connected descriptor
 * (in blocking mode) and its peer, -1 with errno EAGAIN when none waits,
 * or -1 with another errno. */
int      gios_listeners_accept_once (GiosListeners     *listeners,
                                     GSocketAddress   **remote);
/* Waits until @deadline for a connection, on @gate (which a close from
 * another thread wakes). */
int      gios_listeners_accept      (GiosListeners     *listeners,
                                     GiosGate          *gate,
                                     guint              port,
                                     gint64             deadline,
                                     GCancellable      *cancellable,
                                     GSocketAddress   **remote,
                                     GError           **error);
/* Out of descriptors (@errsv), or accepting again (0): said once each. */
void     gios_listeners_report      (GiosListeners     *listeners,
                                     guint              port,
                                     int                errsv);
/* Whether accept() failed with @errsv for want of a resource that frees up
 * by itself (descriptors, memory). */
gboolean gios_listeners_exhausted   (int                errsv);
void     gios_listeners_set_backlog (GiosListeners     *listeners,
                                     int                backlog);

G_END_DECLS
