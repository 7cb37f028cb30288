/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-over stage of a server socket: what an accepted connection goes
 * through before the application gets it. See gios-handover.c.
 */
#pragma once

#include <gios/gios.h>
#include "gios-gate.h"

G_BEGIN_DECLS

/* The report of dropped connections, one per server: at most one log line
 * per REPORT_INTERVAL, however many connections fail. */
typedef struct
{
  GMutex lock;
  gint64 quiet_until;      /* monotonic: no line before then */
  guint unreported;        /* drops since the last line */
} GiosHandoverLog;

void     gios_handover_log_init   (GiosHandoverLog   *log);
void     gios_handover_log_clear  (GiosHandoverLog   *log);

/* Whether @server's connections have a stage to go through at all. */
gboolean gios_handover_needed     (GiosServerSocket  *server);

/* Takes @connection (the accepted socket, or @server itself in the classic
 * model) through the stage, blocking, within @server's handshake-timeout:
 * its waits wake for @gate (the gate of the call that accepted, whose
 * teardown must reach them) and @cancellable. On success the connection
 * carries what the stage learnt (its addresses). On failure, with @error
 * set, the caller drops the connection; whether it goes on accepting is
 * gios_handover_is_drop()'s answer. */
gboolean gios_handover_run        (GiosServerSocket  *server,
                                   GiosSocketCommon  *connection,
                                   GiosGate          *gate,
                                   GCancellable      *cancellable,
                                   GError           **error);

/* The same on the thread-default main context, never blocking it: the
 * connection's descriptor is watched by the context's reactor. */
void     gios_handover_run_async  (GiosServerSocket    *server,
                                   GiosSocketCommon    *connection,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
gboolean gios_handover_run_finish (GAsyncResult        *result,
                                   GError             **error);

/* Whether @error failed only that connection (a bad, truncated or late
 * header, the peer gone), which is dropped while the server goes on; the
 * others (cancelled, closed) end the call that accepted. */
gboolean gios_handover_is_drop    (const GError      *error);

/* @connection failed the stage with @error (owned): it is released, and
 * reported when that was its own doing (gios_handover_is_drop()); the other
 * errors go to @stop, for the caller to stop with. */
void     gios_handover_fail       (GiosServerSocket  *server,
                                   GiosSocketCommon  *connection,
                                   GError            *error,
                                   GError           **stop);

/* Logs that a connection from @peer was dropped for @error, within the
 * limit of @log. */
void     gios_handover_report     (GiosHandoverLog   *log,
                                   GSocketAddress    *peer,
                                   const GError      *error);

G_END_DECLS
