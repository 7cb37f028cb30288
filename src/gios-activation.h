/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Listening sockets passed to this process by the one that started it,
 * with systemd's LISTEN_FDS protocol: descriptors from 3 on, LISTEN_FDS of
 * them, for the process LISTEN_PID, named by LISTEN_FDNAMES (colon
 * separated). systemd does it for a socket unit, systemd-socket-activate
 * on the command line, and a server handing its sockets over to the one
 * that replaces it can do it too. Which ones the process took is kept
 * here, once for the process.
 */
#pragma once

#include <gios/gios.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The descriptor of a passed socket: the one named @name, or with NULL the
 * first one not taken yet. It must be a listening stream socket; it is then
 * taken, given FD_CLOEXEC, and once every passed socket is taken the three
 * variables are unset. Returns -1 with @error set when there is none for
 * this process, @name is unknown or taken, or the descriptor is not a
 * listening stream socket (which stays untaken and untouched). */
int _gios_activation_take (const char  *name,
                           GError     **error);

/* Writes the decimal digits of @value at @out, which has room for 24
 * bytes: the value of LISTEN_PID, which a forked child writes for itself
 * before it execs the process it passes sockets to (async-signal-safe). */
void _gios_activation_format_pid (char  *out,
                                  pid_t  value);

G_END_DECLS
