/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Ports, addresses and listening sockets: the checks of what a caller
 * asks to listen on, and the binding itself, with the system calls (GIO's
 * g_socket_bind() resets SO_REUSEPORT, GSocketListener applies the backlog
 * late and has no mode for Unix sockets).
 */
#pragma once

#include <gios/gios.h>
#include "gios-gate.h"
#include <sys/types.h>

G_BEGIN_DECLS

/* A port as callers give it: a decimal number from 0 to 65535, or a
 * service name such as "http"; NULL and "" mean 0. Anything else fails with
 * G_IO_ERROR_INVALID_ARGUMENT naming it (glibc would take "65536" as 0 and
 * "70000" as 4464). */
gboolean _gios_parse_port (const char  *port,
                           guint16     *number,
                           GError     **error);

/* Listens on @port of @host (NULL: every interface, IPv6 and IPv4, or the
 * loopback ones with @loopback_only), adding the listening sockets to
 * @listeners (of GSocket); with @reuse_port, sharing the port with other
 * sockets that set SO_REUSEPORT (the kernel spreads connections over
 * them). A port in use is tried again until @deadline, pausing on @gate,
 * which a close from another thread wakes. */
gboolean _gios_bind_tcp   (GiosGate          *gate,
                           const char        *host,
                           const char        *port,
                           gboolean           loopback_only,
                           gboolean           reuse_port,
                           int                backlog,
                           gint64             deadline,
                           GPtrArray         *listeners,
                           GError           **error);

/* The socket file a server made, to remove on close if it is still ours. */
typedef struct
{
  char *path;
  dev_t dev;
  ino_t ino;
} GiosUnixPath;

/* Listens on a Unix-domain socket at @path with exactly @permissions, never
 * reachable with others and never replacing an existing entry, which it
 * waits for to go away until @deadline; except, with @replace_stale, a
 * stale socket: one of this user's that refuses connections, as a server
 * that died leaves it. Returns the descriptor, or -1. */
int      _gios_bind_unix  (GiosGate          *gate,
                           const char        *path,
                           guint              permissions,
                           gboolean           replace_stale,
                           int                backlog,
                           gint64             deadline,
                           GiosUnixPath      *made,
                           GError           **error);
void     _gios_unix_path_remove (GiosUnixPath *made);

G_END_DECLS
