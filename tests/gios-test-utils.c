/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-test-utils.h"

/* ------------------------------------------------------------------------ */
/* Timing                                                                     */

gint64
gios_test_elapsed_ms (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000;
}

void
gios_test_assert_elapsed (gint64 start,
                          gint64 min_ms,
                          gint64 max_ms)
{
  gint64 ms = gios_test_elapsed_ms (start);

  g_assert_cmpint (ms, >=, min_ms);
  g_assert_cmpint (ms, <, max_ms);
}

void
gios_test_assert_timed (gint64 start,
                        int    timeout_ms)
{
  gios_test_assert_elapsed (start, timeout_ms * 95 / 100, timeout_ms * 3 / 2 + 150);
}
