/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

/* Waits until @deadline for a connection and returns its descriptor and
 * the peer's address; backs off on EMFILE and kin. */
int         _gios_server_socket_accept_fd     (GiosServerSocket  *self,
                                               gint64             deadline,
                                               GCancellable      *cancellable,
                                               GSocketAddress   **remote,
                                               GError           **error);
/* Wraps an accepted connection (both arguments owned from now on) in a new
 * instance of socket-type. */
GiosSocket *_gios_server_socket_wrap          (GiosServerSocket  *self,
                                               int                fd,
                                               GSocketAddress    *remote,
                                               GError           **error);

/* Whether the class of @self implements run(). */
gboolean    _gios_socket_overrides_run        (GiosSocket        *self);

G_END_DECLS
