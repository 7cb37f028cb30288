/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (GIOS_INSIDE) && !defined (GIOS_COMPILATION)
# error "Only <gios/gios.h> can be included directly."
#endif

#include <gios/gios-socket-common.h>
#include <gios/gios-socket.h>

G_BEGIN_DECLS

/**
 * GiosJobFunc:
 * @connection: the accepted connection, an instance of
 *   [property@Gios.ServerSocket:socket-type]
 * @cancellable: cancelled when the server closes; the jobs running at that
 *   moment share it, and cancelling it (from anywhere) stops them all, even
 *   a read that waits in the device; later jobs get a new one
 * @user_data: the data given to [method@Gios.ServerSocket.listen_job]
 *
 * A job that serves one connection, on a thread of the server's pool. When
 * it returns, the connection is flushed and closed, unless the job kept a
 * reference to it and closes it itself.
 *
 * Since: 0.1
 */
typedef void (*GiosJobFunc) (GiosSocket   *connection,
                             GCancellable *cancellable,
                             gpointer      user_data);

/**
 * GiosProxyProtocol:
 * @GIOS_PROXY_PROTOCOL_NONE: connections carry no PROXY header; nothing is
 *   looked for
 * @GIOS_PROXY_PROTOCOL_V1: every connection starts with a version 1 (text)
 *   header
 * @GIOS_PROXY_PROTOCOL_V2: every connection starts with a version 2
 *   (binary) header
 * @GIOS_PROXY_PROTOCOL_ANY: every connection starts with a header of either
 *   version
 *
 * Whether the connections a [class@Gios.ServerSocket] accepts come through
 * a load balancer that speaks HAProxy's PROXY protocol, and which version:
 * see [property@Gios.ServerSocket:proxy-protocol]. A header is never looked
 * for on a server that is not configured for it, since any client could
 * then claim any address.
 *
 * Since: 0.2
 */
typedef enum {
  GIOS_PROXY_PROTOCOL_NONE,
  GIOS_PROXY_PROTOCOL_V1,
  GIOS_PROXY_PROTOCOL_V2,
  GIOS_PROXY_PROTOCOL_ANY,
} GiosProxyProtocol;

#define GIOS_TYPE_SERVER_SOCKET (gios_server_socket_get_type ())

GIOS_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (GiosServerSocket, gios_server_socket, GIOS, SERVER_SOCKET, GiosSocketCommon)

/**
 * GiosServerSocketClass:
 * @parent_class: the parent class
 * @accepted: the class handler of [signal@Gios.ServerSocket::accepted]: a
 *   subclass that serves the connections [method@Gios.ServerSocket.start]
 *   accepts overrides it (as `GSocketService::incoming` is overridden), keeps
 *   a reference to @connection and returns %TRUE
 * @stopped: the class handler of [signal@Gios.ServerSocket::stopped]
 *
 * The class structure of [class@Gios.ServerSocket].
 *
 * Since: 0.1
 */
struct _GiosServerSocketClass
{
  GiosSocketCommonClass parent_class;

  gboolean (*accepted) (GiosServerSocket *self,
                        GiosSocket       *connection);
  void     (*stopped)  (GiosServerSocket *self,
                        GError           *reason);

  /*< private >*/
  gpointer _reserved[6];
};

GIOS_AVAILABLE_IN_ALL
GiosServerSocket *gios_server_socket_new                      (void);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_open                     (GiosServerSocket  *self,
                                                               const char        *port,
                                                               int                timeout_ms,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_open_address             (GiosServerSocket  *self,
                                                               const char        *host,
                                                               const char        *port,
                                                               int                timeout_ms,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_open_unix                (GiosServerSocket  *self,
                                                               const char        *path,
                                                               guint              permissions,
                                                               int                timeout_ms,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_open_socket              (GiosServerSocket  *self,
                                                               GSocket           *listening,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_open_activated           (GiosServerSocket  *self,
                                                               const char        *name,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_listen                   (GiosServerSocket  *self,
                                                               int                timeout_ms,
                                                               GCancellable      *cancellable,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
GiosSocket       *gios_server_socket_accept                   (GiosServerSocket  *self,
                                                               int                timeout_ms,
                                                               GCancellable      *cancellable,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gint              gios_server_socket_listen_job               (GiosServerSocket  *self,
                                                               int                timeout_ms,
                                                               guint              max_jobs,
                                                               GiosJobFunc        func,
                                                               gpointer           user_data,
                                                               GDestroyNotify     notify,
                                                               GCancellable      *cancellable,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_start                    (GiosServerSocket  *self,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_stop                     (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_accept_async             (GiosServerSocket    *self,
                                                               GCancellable        *cancellable,
                                                               GAsyncReadyCallback  callback,
                                                               gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
GiosSocket       *gios_server_socket_accept_finish            (GiosServerSocket  *self,
                                                               GAsyncResult      *result,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_listen_async             (GiosServerSocket    *self,
                                                               GCancellable        *cancellable,
                                                               GAsyncReadyCallback  callback,
                                                               gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_listen_finish            (GiosServerSocket  *self,
                                                               GAsyncResult      *result,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
guint             gios_server_socket_get_n_jobs               (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_wait_jobs                (GiosServerSocket  *self,
                                                               int                timeout_ms,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_wait_jobs_full           (GiosServerSocket  *self,
                                                               int                timeout_ms,
                                                               GCancellable      *cancellable,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_hand_over_to             (GiosServerSocket    *self,
                                                               const char * const  *argv,
                                                               int                  timeout_ms,
                                                               GPid                *pid,
                                                               GError             **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_notify_ready                           (GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_drain                    (GiosServerSocket  *self,
                                                               int                timeout_ms,
                                                               GError           **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_close                    (GiosServerSocket  *self,
                                                               GError           **error);

GIOS_AVAILABLE_IN_ALL
int               gios_server_socket_get_connection_queue_size (GiosServerSocket *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_connection_queue_size (GiosServerSocket *self,
                                                                int               size);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_get_loopback_only        (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_loopback_only        (GiosServerSocket  *self,
                                                               gboolean           loopback_only);
GIOS_AVAILABLE_IN_ALL
GType             gios_server_socket_get_socket_type          (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_socket_type          (GiosServerSocket  *self,
                                                               GType              socket_type);
GIOS_AVAILABLE_IN_ALL
guint             gios_server_socket_get_max_connections      (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_max_connections      (GiosServerSocket  *self,
                                                               guint              max_connections);
GIOS_AVAILABLE_IN_ALL
int               gios_server_socket_get_idle_timeout         (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_idle_timeout         (GiosServerSocket  *self,
                                                               int                timeout_ms);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_get_reuse_port           (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_reuse_port           (GiosServerSocket  *self,
                                                               gboolean           reuse_port);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_get_replace_stale        (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_replace_stale        (GiosServerSocket  *self,
                                                               gboolean           replace_stale);
GIOS_AVAILABLE_IN_ALL
GList            *gios_server_socket_get_addresses            (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
const char       *gios_server_socket_get_unix_path            (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
GiosProxyProtocol gios_server_socket_get_proxy_protocol       (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_proxy_protocol       (GiosServerSocket  *self,
                                                               GiosProxyProtocol  proxy_protocol);
GIOS_AVAILABLE_IN_ALL
int               gios_server_socket_get_handshake_timeout    (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_handshake_timeout    (GiosServerSocket  *self,
                                                               int                timeout_ms);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_server_socket_get_starttls             (GiosServerSocket  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_server_socket_set_starttls             (GiosServerSocket  *self,
                                                               gboolean           starttls);

G_END_DECLS
