/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-off of retries: see gios-backoff.h. */

#include "gios-private.h"
#include "gios-backoff.h"

void
gios_backoff_init (GiosBackoff *backoff,
                   gint64       least_us,
                   gint64       most_us)
{
  backoff->least = least_us;
  backoff->most = most_us;
  backoff->pause = 0;
  backoff->reported = FALSE;
}

gint64
gios_backoff_next (GiosBackoff *backoff)
{
  backoff->pause = backoff->pause == 0 ? backoff->least : MIN (backoff->pause * 2, backoff->most);
  return backoff->pause;
}

gint64
gios_backoff_until (GiosBackoff *backoff,
                    gint64       deadline)
{
  gint64 until = g_get_monotonic_time () + gios_backoff_next (backoff);

  return deadline >= 0 ? MIN (until, deadline) : until;
}

void
gios_backoff_reset (GiosBackoff *backoff)
{
  backoff->pause = 0;
}

static void report (GLogLevelFlags  level,
                    const char     *format,
                    va_list         args) G_GNUC_PRINTF (2, 0);

static void
report (GLogLevelFlags  level,
        const char     *format,
        va_list         args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);

  /* Structured, as g_warning() is here: a writer of the program's decides. */
  g_log_structured (G_LOG_DOMAIN, level, "MESSAGE", "%s", message);
}

void
gios_backoff_trouble (GiosBackoff *backoff,
                      const char  *format,
                      ...)
{
  va_list args;

  if (backoff->reported)
    return;
  backoff->reported = TRUE;
  va_start (args, format);
  report (G_LOG_LEVEL_WARNING, format, args);
  va_end (args);
}

void
gios_backoff_recovered (GiosBackoff *backoff,
                        const char  *format,
                        ...)
{
  va_list args;

  gios_backoff_reset (backoff);
  if (!backoff->reported)
    return;
  backoff->reported = FALSE;
  va_start (args, format);
  report (G_LOG_LEVEL_MESSAGE, format, args);
  va_end (args);
}
