/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

/* Waits until @deadline for a connection; backs off on EMFILE and kin. */
GSocket    *_gios_server_socket_accept_socket (GiosServerSocket  *self,
                                               gint64             deadline,
                                               GCancellable      *cancellable,
                                               GError           **error);
/* Wraps an accepted connection in a new instance of socket-type. */
GiosSocket *_gios_server_socket_wrap          (GiosServerSocket  *self,
                                               GSocket           *connection,
                                               GError           **error);

/* Whether the class of @self implements run(). */
gboolean    _gios_socket_overrides_run        (GiosSocket        *self);

G_END_DECLS
