/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the two load generators (loadgen, raw sockets, and tls-loadgen, GIO's
 * TLS client) share: their options, the bounds on every wait, the message
 * pattern, the latency histogram and the result line of the
 * request/response modes.  Plain C: loadgen links nothing else.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BULK_CHUNK       (64 * 1024)
#define PATTERN_PERIOD   251      /* bulk bytes are offset % PATTERN_PERIOD */
#define MAX_MSG          4096
#define STALL_MS         3000     /* no progress for this long is an error */
#define CONNECT_MS       3000
#define DRAIN_MS         2000
#define MAX_CONN_ERRORS  200

typedef struct
{
  int    mode;       /* index in the generator's mode names */
  int    port;
  double duration;
  int    conns;
  size_t size;
} LoadgenOptions;

/* Parses --port=N --mode=NAME (one of @mode_names) [--duration=SECONDS]
 * [--conns=N] [--size=BYTES]; exits with status 2 on a usage error. */
void    loadgen_parse_args (int                argc,
                            char             **argv,
                            const char *const *mode_names,
                            size_t             n_modes,
                            LoadgenOptions    *opts);

/* Prints "ERROR <message>" on stderr and exits with status 1. */
void    die (const char *fmt, ...) __attribute__ ((format (printf, 1, 2), noreturn));

int64_t now_ns (void);

/* The latency histogram: 0.1 µs buckets up to 100 ms, then one overflow
 * bucket. */
void    hist_add (int64_t ns);
/* The @q quantile in microseconds (upper edge of its bucket). */
double  hist_quantile_us (double q);

/* Fills @msg with a pattern naming connection @conn and request @seq; with
 * @line, printable ASCII ('!'..'~') ended by one newline. */
void    make_msg (unsigned char *msg,
                  size_t         size,
                  uint32_t       conn,
                  uint32_t       seq,
                  bool           line);

/* The RESULT line of a request/response mode, with the histogram's p50 and
 * p99. */
void    print_rr_result (const char *mode,
                         uint64_t    requests,
                         int64_t     elapsed_ns,
                         int         served,
                         int         total);
