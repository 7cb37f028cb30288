/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the C tests, written once (as libsoup's
 * tests/test-utils.c does): timing windows, children that change the whole
 * process, a thread blocked in a call, and raw sockets for the other end.
 */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------------------ */
/* Timing: @start is a g_get_monotonic_time() taken before the call.          */

/* Milliseconds since @start. */
gint64 gios_test_elapsed_ms     (gint64 start);

/* Asserts that at least @min_ms and less than @max_ms have passed since
 * @start: for a call with a window of its own. */
void   gios_test_assert_elapsed (gint64 start,
                                 gint64 min_ms,
                                 gint64 max_ms);

/* Asserts that a call that timed out after @timeout_ms took about that long:
 * -5 %, +50 % and 150 ms of slack for valgrind. */
void   gios_test_assert_timed   (gint64 start,
                                 int    timeout_ms);

/* ------------------------------------------------------------------------ */
/* Children                                                                   */

/* Runs @checks in a forked child whose address space may grow by at most
 * @headroom bytes (RLIMIT_AS), and asserts that the child exited with 0:
 * for showing that something fails without allocating. */
void gios_test_fork_with_address_limit (void    (*checks) (void),
                                        guint64   headroom);

G_END_DECLS
