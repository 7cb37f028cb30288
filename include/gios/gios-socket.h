/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (GIOS_INSIDE) && !defined (GIOS_COMPILATION)
# error "Only <gios/gios.h> can be included directly."
#endif

#include <gios/gios-socket-common.h>

G_BEGIN_DECLS

#define GIOS_TYPE_SOCKET (gios_socket_get_type ())

GIOS_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (GiosSocket, gios_socket, GIOS, SOCKET, GiosSocketCommon)

/**
 * GiosSocketClass:
 * @parent_class: the parent class
 * @run: the per-connection logic of a protocol helper: serves the connection
 *   until it ends or @cancellable is cancelled. [method@Gios.ServerSocket.listen_job]
 *   and [method@Gios.ServerSocket.start] call it when they are given no callback.
 *
 * The class structure of [class@Gios.Socket].
 *
 * Since: 0.1
 */
struct _GiosSocketClass
{
  GiosSocketCommonClass parent_class;

  void (*run) (GiosSocket   *self,
               GCancellable *cancellable);

  /*< private >*/
  gpointer _reserved[8];
};

GIOS_AVAILABLE_IN_ALL
GiosSocket *gios_socket_new       (void);
GIOS_AVAILABLE_IN_ALL
gboolean    gios_socket_open      (GiosSocket    *self,
                                   const char    *host,
                                   const char    *port,
                                   int            timeout_ms,
                                   GCancellable  *cancellable,
                                   GError       **error);
GIOS_AVAILABLE_IN_ALL
gboolean    gios_socket_open_unix (GiosSocket    *self,
                                   const char    *path,
                                   int            timeout_ms,
                                   GCancellable  *cancellable,
                                   GError       **error);
GIOS_AVAILABLE_IN_ALL
void        gios_socket_open_async  (GiosSocket          *self,
                                     const char          *host,
                                     const char          *port,
                                     int                  timeout_ms,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
GIOS_AVAILABLE_IN_ALL
gboolean    gios_socket_open_finish (GiosSocket    *self,
                                     GAsyncResult  *result,
                                     GError       **error);
GIOS_AVAILABLE_IN_ALL
void        gios_socket_run       (GiosSocket    *self,
                                   GCancellable  *cancellable);

G_END_DECLS
