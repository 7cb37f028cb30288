/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One frame for a blocking call on a stream: its timeout resolved once into
 * a deadline, entering and leaving the stream's gate, and the message of a
 * timeout, made by the frame that knows what was awaited. Every blocking
 * public call of the library runs as
 *
 *   GiosCall call;
 *   if (!_gios_call_begin (&call, stream, GIOS_CALL_READ, N_("a line"), timeout_ms, error))
 *     return …;
 *   … the body, with call.deadline …
 *   _gios_call_end (&call, error);
 */
#pragma once

#include <gios/gios.h>
#include "gios-gate.h"

G_BEGIN_DECLS

typedef enum
{
  GIOS_CALL_OPEN,     /* needs no connection: open, listen, accept */
  GIOS_CALL_READ,     /* reads the device: capped by the stream's read cap */
  GIOS_CALL_WRITE,    /* writes the device */
} GiosCallKind;

typedef struct
{
  GiosGateFrame frame;
  GiosDeviceStream *stream;
  GiosCallKind kind;
  /* What is awaited, for a timeout's message, untranslated (N_(): a
   * translation per call cost more than the call); NULL: keep it. */
  const char *what;
  int timeout;        /* milliseconds, -1 for none, as resolved */
  gint64 deadline;    /* monotonic, -1 for none */
  gboolean capped;    /* the read cap, not @timeout, set the deadline */
} GiosCall;

/* A time limit, as the public calls receive it (timeout_ms) and as the
 * transport methods use it (a monotonic deadline). */
static inline gint64
_gios_deadline_from_timeout (int timeout_ms)
{
  if (timeout_ms < 0)
    return -1;
  return g_get_monotonic_time () + (gint64) timeout_ms * 1000;
}

/* Resolves GIOS_TIMEOUT_DEFAULT against the stream's default-timeout. */
int      _gios_call_resolve_timeout (GiosDeviceStream  *stream,
                                     int                timeout_ms);
gboolean _gios_call_begin           (GiosCall          *call,
                                     GiosDeviceStream  *stream,
                                     GiosCallKind       kind,
                                     const char        *what,
                                     int                timeout_ms,
                                     GError           **error);
/* Leaves the gate. A timeout in @error gets the message of this call:
 * what was awaited, within which time, and how much had arrived (or was
 * still to send). */
void     _gios_call_end             (GiosCall          *call,
                                     GError           **error);

G_END_DECLS
