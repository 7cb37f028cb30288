/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (GIOS_INSIDE) && !defined (GIOS_COMPILATION)
# error "Only <gios/gios.h> can be included directly."
#endif

#include <gios/gios-device-stream.h>

G_BEGIN_DECLS

#define GIOS_TYPE_SOCKET_COMMON (gios_socket_common_get_type ())

GIOS_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (GiosSocketCommon, gios_socket_common, GIOS, SOCKET_COMMON, GiosDeviceStream)

/**
 * GiosSocketCommonClass:
 * @parent_class: the parent class
 * @disconnected: the class handler of [signal@Gios.SocketCommon::disconnected]
 *
 * The class structure of [class@Gios.SocketCommon].
 *
 * Since: 0.1
 */
struct _GiosSocketCommonClass
{
  GiosDeviceStreamClass parent_class;

  void (*disconnected) (GiosSocketCommon *self,
                        gboolean          intentional,
                        GError           *reason);

  /*< private >*/
  gpointer _reserved[8];
};

GIOS_AVAILABLE_IN_ALL
gboolean        gios_socket_common_drop_connection   (GiosSocketCommon  *self,
                                                      GError           **error);
GIOS_AVAILABLE_IN_ALL
GSocket        *gios_socket_common_get_socket        (GiosSocketCommon  *self);
GIOS_AVAILABLE_IN_ALL
GSocketAddress *gios_socket_common_get_local_address (GiosSocketCommon  *self);
GIOS_AVAILABLE_IN_ALL
GSocketAddress *gios_socket_common_get_remote_address (GiosSocketCommon *self);
GIOS_AVAILABLE_IN_ALL
GSocketAddress *gios_socket_common_get_proxy_address (GiosSocketCommon *self);
GIOS_AVAILABLE_IN_ALL
GBytes         *gios_socket_common_get_proxy_tlv     (GiosSocketCommon *self,
                                                      guint8            type);
GIOS_AVAILABLE_IN_ALL
char           *gios_socket_common_get_proxy_authority (GiosSocketCommon *self);
GIOS_AVAILABLE_IN_ALL
gboolean        gios_socket_common_get_proxy_ssl     (GiosSocketCommon *self);
GIOS_AVAILABLE_IN_ALL
guint           gios_socket_common_get_port          (GiosSocketCommon  *self);
GIOS_AVAILABLE_IN_ALL
const char     *gios_socket_common_get_host          (GiosSocketCommon  *self);
GIOS_AVAILABLE_IN_ALL
gboolean        gios_socket_common_get_is_connected  (GiosSocketCommon  *self);
GIOS_AVAILABLE_IN_ALL
gboolean        gios_socket_common_get_no_delay      (GiosSocketCommon  *self);
GIOS_AVAILABLE_IN_ALL
void            gios_socket_common_set_no_delay      (GiosSocketCommon  *self,
                                                      gboolean           no_delay);
GIOS_AVAILABLE_IN_ALL
gboolean        gios_socket_common_get_keep_alive    (GiosSocketCommon  *self);
GIOS_AVAILABLE_IN_ALL
void            gios_socket_common_set_keep_alive    (GiosSocketCommon  *self,
                                                      gboolean           keep_alive);
GIOS_AVAILABLE_IN_ALL
GTlsCertificate *gios_socket_common_get_tls_certificate (GiosSocketCommon *self);
GIOS_AVAILABLE_IN_ALL
void            gios_socket_common_set_tls_certificate (GiosSocketCommon *self,
                                                        GTlsCertificate  *certificate);
GIOS_AVAILABLE_IN_ALL
GTlsDatabase   *gios_socket_common_get_tls_database  (GiosSocketCommon  *self);
GIOS_AVAILABLE_IN_ALL
void            gios_socket_common_set_tls_database  (GiosSocketCommon  *self,
                                                      GTlsDatabase      *database);
GIOS_AVAILABLE_IN_ALL
gboolean        gios_socket_common_get_is_tls        (GiosSocketCommon  *self);
GIOS_AVAILABLE_IN_ALL
gboolean        gios_socket_common_start_tls         (GiosSocketCommon  *self,
                                                      int                timeout_ms,
                                                      GCancellable      *cancellable,
                                                      GError           **error);
GIOS_AVAILABLE_IN_ALL
void            gios_socket_common_start_tls_async   (GiosSocketCommon    *self,
                                                      int                  timeout_ms,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
gboolean        gios_socket_common_start_tls_finish  (GiosSocketCommon  *self,
                                                      GAsyncResult      *result,
                                                      GError           **error);

G_END_DECLS
