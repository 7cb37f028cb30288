/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Accepting on a main loop, for a server socket's start(), accept_async()
 * and listen_async(): one reactor watch per listening socket, armed only
 * while someone wants connections (a pending call, or start() below
 * max-connections); out of descriptors, a paused watch and a growing retry
 * instead of a spin. What it accepts it hands over through callbacks.
 */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

typedef struct _GiosAcceptor GiosAcceptor;

typedef struct
{
  /* Accepts one connection without waiting: its descriptor and peer, or
   * -1 with errno set (EAGAIN when none waits). */
  int         (*accept_once) (gpointer         owner,
                              GSocketAddress **remote);
  /* Makes a connection object of an accepted descriptor (both owned). */
  GiosSocket *(*wrap)        (gpointer         owner,
                              int              fd,
                              GSocketAddress  *remote,
                              GError         **error);
  /* listen_async(): the descriptor becomes the owner's connection. */
  void        (*adopt)       (gpointer         owner,
                              int              fd,
                              GSocketAddress  *remote);
  /* start(): a new connection, for the owner's handlers. */
  void        (*accepted)    (gpointer         owner,
                              GiosSocket      *connection);
  /* start()'s accepting ended, for @reason. */
  void        (*stopped)     (gpointer         owner,
                              GError          *reason);
  /* Out of descriptors (@errsv), or accepting again (0). */
  void        (*exhausted)   (gpointer         owner,
                              int              errsv);
} GiosAcceptorFuncs;

/* @listeners (of GSocket) belongs to @owner and may change while nothing
 * is watched. */
GiosAcceptor *gios_acceptor_new     (GiosDeviceStream        *owner,
                                     GPtrArray               *listeners,
                                     const GiosAcceptorFuncs *funcs);
void          gios_acceptor_free    (GiosAcceptor            *acceptor);
gboolean      gios_acceptor_start   (GiosAcceptor            *acceptor,
                                     GError                 **error);
/* Emits stopped with @reason (owned) if accepting was started. */
void          gios_acceptor_stop    (GiosAcceptor            *acceptor,
                                     GError                  *reason);
/* Queues an accept_async() (@adopt FALSE) or listen_async() (@adopt TRUE)
 * task; the pending calls get connections in order, before start(). */
void          gios_acceptor_queue   (GiosAcceptor            *acceptor,
                                     GTask                   *task,
                                     gboolean                 adopt);
/* Stops accepting (a drain), on the watches' context: pending calls fail
 * with G_IO_ERROR_CLOSED and start() stops; the connections it accepted go
 * on. */
void          gios_acceptor_stop_accepting (GiosAcceptor     *acceptor);
/* The context accepting runs on, or NULL before the first start() or
 * accept_async(). */
GMainContext *gios_acceptor_get_context (GiosAcceptor           *acceptor);
/* The connections from start() still open, from any thread. */
guint         gios_acceptor_get_n_live  (GiosAcceptor           *acceptor);
/* Closes them (a drain ran out of time), from any thread. Returns how many
 * there were. */
guint         gios_acceptor_close_live  (GiosAcceptor           *acceptor);
/* The server closes: pending calls fail, start() stops, the watches go. */
void          gios_acceptor_close   (GiosAcceptor            *acceptor);
/* The owner is disposed of: the watches go, quietly. */
void          gios_acceptor_forget  (GiosAcceptor            *acceptor);
void          gios_acceptor_set_max_connections (GiosAcceptor *acceptor,
                                                 guint         max_connections);

G_END_DECLS
