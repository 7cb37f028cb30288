/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one main() of the two GIO peers: the native listening socket wrapped
 * in a GSocket (GSocketListener refuses port 0 and ignores a backlog set
 * after the fact), and a main loop that SIGTERM/SIGINT quits.
 */
#pragma once

#include <gio/gio.h>

#include "peer-common.h"

/* The main() of a GIO peer: parses the arguments (--max-jobs too when
 * @threaded), makes a GSocketService with @handler on its "incoming"
 * signal, or with @threaded a GThreadedSocketService of --max-jobs threads
 * with @handler on its "run" signal, and serves on the default main loop
 * until SIGTERM or SIGINT. */
int  peer_gio_main (int        argc,
                    char     **argv,
                    gboolean   threaded,
                    GCallback  handler);

void peer_gio_set_nodelay (GSocketConnection *connection);
