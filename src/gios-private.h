/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "config.h"

#include <glib/gi18n-lib.h>
#include <gios/gios.h>

G_BEGIN_DECLS

void     _gios_init_i18n          (void);
GIOErrorEnum _gios_io_error_from_errno (int errsv);
/* Sets @error to the G_IO_ERROR code of errno @errsv, with the message
 * @format: a whole translatable sentence, whose arguments usually end with
 * g_strerror (@errsv). */
void     _gios_set_error_from_errno (GError     **error,
                                     int          errsv,
                                     const char  *format,
                                     ...) G_GNUC_PRINTF (3, 4);
/* Rewords *@error, when set, as @format: a whole translatable sentence
 * whose arguments end with _gios_error_message (@error), the message it
 * replaces (where g_prefix_error() would make a sentence of two pieces). */
void     _gios_reword_error         (GError     **error,
                                     const char  *format,
                                     ...) G_GNUC_PRINTF (2, 3);
/* The message of *@error, or "" when there is none. */
const char *_gios_error_message     (GError     **error);

/* The size of a serialised GVariant array whose @n_items children of a
 * variable size take @body_size bytes, padding included: GVariant's rule for
 * the width of its framing offsets. */
gsize    _gios_variant_array_size (gsize body_size,
                                   gsize n_items);

/* Destroys and drops the source at @source, if any. */
static inline void
_gios_clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Little-endian integers of @k bytes (at most 8), as the wire formats
 * ($LIST and the message header) store them. */
static inline guint64
get_le (const guint8 *p,
        gsize         k)
{
  guint64 v = 0;

  while (k > 0)
    {
      k--;
      v = (v << 8) | p[k];
    }
  return v;
}

static inline void
put_le (guint8  *p,
        guint64  v,
        gsize    k)
{
  for (gsize i = 0; i < k; i++, v >>= 8)
    p[i] = (guint8) v;
}

G_END_DECLS
