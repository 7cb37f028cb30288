/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-test-utils.h"

#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* ------------------------------------------------------------------------ */
/* Children                                                                   */

/* A plain fork(), since g_test_trap_subprocess() starts GLib's worker thread,
 * whose TLS valgrind reports as possibly lost. */
void
gios_test_fork_with_address_limit (void    (*checks) (void),
                                   guint64   headroom)
{
  pid_t pid;
  int status = 0;

  fflush (stdout);
  fflush (stderr);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autofree char *statm = NULL;
      struct rlimit limit;
      guint64 pages;

      g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
      pages = g_ascii_strtoull (statm, NULL, 10);
      g_assert_no_errno (getrlimit (RLIMIT_AS, &limit));
      limit.rlim_cur = pages * sysconf (_SC_PAGESIZE) + headroom;
      if (limit.rlim_max != RLIM_INFINITY)
        limit.rlim_cur = MIN (limit.rlim_cur, limit.rlim_max);
      g_assert_no_errno (setrlimit (RLIMIT_AS, &limit));
      checks ();
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}
