/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside GiosServerSocket: the instance state that its files share, and
 * what they call of each other. gios-server-socket.c: the object, its
 * properties, closing; -open.c: opening, and where it listens; -accept.c:
 * listen, accept, listen_job and the hand-over of accepted connections;
 * -async.c: accepting on the main loop and its signals; -drain.c: the
 * graceful stop; -successor.c: handing the sockets to a successor.
 */
#pragma once

#include "gios-private.h"
#include "gios-acceptor.h"
#include "gios-job-pool.h"
#include "gios-listeners.h"
#include "gios-device-stream-private.h"
#include "gios-handover.h"

#include <sys/socket.h>

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
  guint starttls : 1;
  GiosHandoverLog handover_log;
  GiosJobPool *jobs;
  /* atomic: blocking accepts under way, from before they look whether
   * accepting stopped until their connection is the current one or a job:
   * a drain waits for them before it counts what it waits for. */
  gint accepting;
  GiosAcceptor *acceptor;
} GiosServerSocketPrivate;

GiosServerSocketPrivate *_gios_server_socket_get_private (GiosServerSocket *self);
#define PRIV(self) _gios_server_socket_get_private (self)

/* What the server's waits block on: a close from another thread wakes them. */
static inline GiosGate *
_gios_server_socket_gate (GiosServerSocket *self)
{
  return _gios_device_stream_get_gate (GIOS_DEVICE_STREAM (self));
}

static inline int
_gios_server_socket_backlog (GiosServerSocketPrivate *priv)
{
  return priv->backlog < 0 ? SOMAXCONN : priv->backlog;
}

/* gios-server-socket-open.c: fails with G_IO_ERROR_EXISTS when @self is
 * open already. */
gboolean _gios_server_socket_check_not_open (GiosServerSocket  *self,
                                             GError           **error);

/* gios-server-socket-accept.c: how accepted connections are handed over
 * (to listen(), accept(), jobs and start()), and the jobs' preparation on
 * their thread (the hand-over stage). */
extern const GiosAcceptorFuncs _gios_server_socket_acceptor_funcs;
gboolean _gios_server_socket_prepare_job (GObject      *owner,
                                          GiosSocket   *connection,
                                          GCancellable *cancellable);

/* gios-server-socket-async.c: the signals of accepting on the main loop,
 * ::accepted and ::stopped, and the acceptor's hand-over to them. */
void _gios_server_socket_install_signals (GiosServerSocketClass *klass);
void _gios_server_socket_emit_accepted   (gpointer               owner,
                                          GiosSocket            *connection);
void _gios_server_socket_emit_stopped    (gpointer               owner,
                                          GError                *reason);

G_END_DECLS
