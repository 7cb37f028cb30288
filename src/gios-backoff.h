/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one back-off of the library, for what may clear up by itself: a port
 * still in use, a full descriptor table, a full queue. Each try waits
 * longer, from a least to a most pause; running out of a resource is
 * reported once per episode, and its end once, instead of once per try
 * (GSocketService logged 194,000 warnings a second with the table full).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 least;       /* microseconds */
  gint64 most;
  gint64 pause;       /* the next pause; 0 before the first */
  gboolean reported;  /* this episode was reported */
} GiosBackoff;

void     gios_backoff_init    (GiosBackoff *backoff,
                               gint64       least_us,
                               gint64       most_us);
/* The next pause, in microseconds; each is twice the last, up to the most. */
gint64   gios_backoff_next    (GiosBackoff *backoff);
/* When the next try is due: after the next pause, but not after @deadline
 * (a monotonic time, -1 for none). */
gint64   gios_backoff_until   (GiosBackoff *backoff,
                               gint64       deadline);
/* A try succeeded: the next trouble starts with the least pause again. */
void     gios_backoff_reset   (GiosBackoff *backoff);
/* Reports trouble with a warning, once per episode. */
void     gios_backoff_trouble (GiosBackoff *backoff,
                               const char  *format,
                               ...) G_GNUC_PRINTF (2, 3);
/* Reports that the trouble is over, if it was reported, and resets. */
void     gios_backoff_recovered (GiosBackoff *backoff,
                                 const char  *format,
                                 ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
