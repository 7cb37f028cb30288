/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one main() of the GIO peers: the native listening socket wrapped
 * in a GSocket (GSocketListener refuses port 0 and ignores a backlog set
 * after the fact), and a main loop that SIGTERM/SIGINT quits.
 */
#pragma once

#include <gio/gio.h>

#include "peer-common.h"

typedef enum
{
  /* A GThreadedSocketService of --max-jobs threads with the handler on its
   * "run" signal, instead of a GSocketService with it on "incoming". */
  PEER_GIO_THREADED = 1 << 0,
  /* Takes --tls-certificate and --tls-key (PEM) and gives the handler the
   * GTlsCertificate as its user data; exits with status 77 before listening
   * where GIO has no TLS backend. */
  PEER_GIO_TLS      = 1 << 1,
} PeerGioFlags;

/* The main() of a GIO peer: parses the arguments, makes the service of
 * @flags with @handler on its signal, and serves on the default main loop
 * until SIGTERM or SIGINT. */
int  peer_gio_main (int           argc,
                    char        **argv,
                    PeerGioFlags  flags,
                    GCallback     handler);

void peer_gio_set_nodelay (GSocketConnection *connection);

/* The blocking echo of the threaded peers: reads up to PEER_BUF_SIZE bytes
 * and writes them back until @stream ends or fails, then closes it. */
void peer_gio_echo_blocking (GIOStream *stream);
