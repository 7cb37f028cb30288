/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside GiosServerSocket: the instance state that its two files share
 * (gios-server-socket.c: the object, opening, listen, accept, jobs and
 * closing; -async.c: accepting on the main loop and its signals).
 */
#pragma once

#include "gios-private.h"
#include "gios-acceptor.h"
#include "gios-job-pool.h"
#include "gios-listeners.h"
#include "gios-handover.h"

G_BEGIN_DECLS

typedef struct
{
  GiosListeners listeners;
  int backlog;
  guint loopback_only : 1;
  guint reuse_port : 1;
  guint replace_stale : 1;
  GType socket_type;
  int idle_timeout;
  guint max_connections;
  GiosProxyProtocol proxy_protocol;
  int handshake_timeout;
  GiosHandoverLog handover_log;
  GiosJobPool *jobs;
  GiosAcceptor *acceptor;
} GiosServerSocketPrivate;

GiosServerSocketPrivate *_gios_server_socket_get_private (GiosServerSocket *self);
#define PRIV(self) _gios_server_socket_get_private (self)

/* gios-server-socket-async.c: the signals of accepting on the main loop,
 * ::accepted and ::stopped, and the acceptor's hand-over to them. */
void _gios_server_socket_install_signals (GiosServerSocketClass *klass);
void _gios_server_socket_emit_accepted   (gpointer               owner,
                                          GiosSocket            *connection);
void _gios_server_socket_emit_stopped    (gpointer               owner,
                                          GError                *reason);

G_END_DECLS
