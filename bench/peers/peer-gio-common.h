/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers for the two GIO peers: the native listening socket wrapped in a
 * GSocket (GSocketListener refuses port 0 and ignores a backlog set after
 * the fact), and a main loop that SIGTERM/SIGINT quits.
 */
#pragma once

#include <gio/gio.h>

#include "peer-common.h"

/* Listens on @port with @service, whose handler is connected, and serves
 * on the default main loop until SIGTERM or SIGINT. */
void peer_gio_serve (GSocketService *service,
                     int             port);

void peer_gio_set_nodelay (GSocketConnection *connection);
