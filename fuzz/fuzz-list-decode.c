/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the $LIST decoder: gios_list_decode() in both modes,
 * with checks of the serialised GVariant it writes, then a full walk with
 * GiosListReader that calls every getter and recurses into every 8-bit
 * string, as a caller that expects nested lists would: as deep as the reader
 * lets it, which is GIOS_LIST_MAX_DEPTH.
 */

#include "gios-private.h"

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

static void
walk (GiosListReader *reader,
      guint           depth)
{
  GError *error = NULL;

  while (gios_list_reader_next (reader, &error))
    {
      GiosListItemType type = gios_list_reader_get_item_type (reader);
      const guint8 *payload;
      gsize len;
      gint64 i, mantissa;
      gint8 exponent;
      double d;
      char *str;

      g_assert (type != GIOS_LIST_ITEM_TYPE_INVALID);
      payload = gios_list_reader_get_bytes (reader, &len);
      if (payload != NULL && len > 0)
        {
          /* touch both ends: ASan checks that the view is inside the input */
          volatile guint8 sink = payload[0] ^ payload[len - 1];
          (void) sink;
        }

      str = gios_list_reader_get_string (reader, &error);
      g_assert (str != NULL || error != NULL);
      if (str != NULL)
        g_assert (g_utf8_validate (str, -1, NULL));
      g_free (str);
      g_clear_error (&error);

      if (!gios_list_reader_get_int64 (reader, &i, &error))
        g_clear_error (&error);
      if (!gios_list_reader_get_double (reader, &d, &error))
        g_clear_error (&error);
      if (!gios_list_reader_get_decimal (reader, &mantissa, &exponent, &error))
        g_clear_error (&error);

      {
        GiosListReader *inner = gios_list_reader_recurse (reader, &error);

        if (inner != NULL)
          {
            g_assert (depth < GIOS_LIST_MAX_DEPTH);
            walk (inner, depth + 1);
            gios_list_reader_unref (inner);
          }
        else if (g_error_matches (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE))
          g_assert (depth == GIOS_LIST_MAX_DEPTH);
        g_clear_error (&error);
      }
    }
  g_clear_error (&error);
}

static GVariant *
reencode (GVariant      *value,
          GiosListFlags  flags)
{
  GError *error = NULL;
  GBytes *bytes = gios_list_encode_with_flags (value, flags, &error);
  GVariant *again;

  g_assert_no_error (error);
  again = gios_list_decode_with_flags (bytes, flags, &error);
  g_assert_no_error (error);
  g_bytes_unref (bytes);
  return again;
}

/* The decoder writes GVariant's serialised form itself: it must be normal
 * (checked on a copy GLib does not trust), within 16 times the input, and
 * the same value when GLib reads it. */
static void
check_serialised (GVariant *value,
                  gsize     input_size)
{
  GBytes *serialised = g_variant_get_data_as_bytes (value);
  GVariant *untrusted = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("av"),
                                                                      serialised, FALSE));

  g_assert (g_variant_is_normal_form (untrusted));
  g_assert (g_variant_get_size (value) <= 16 * input_size);
  g_assert (g_variant_equal (untrusted, value));
  g_variant_unref (untrusted);
  g_bytes_unref (serialised);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  GBytes *bytes = g_bytes_new_static (data, size);
  GiosListFlags modes[] = { GIOS_LIST_FLAGS_NONE, GIOS_LIST_FLAGS_SQL_NULL };
  gsize m;

  for (m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      GError *error = NULL;
      GVariant *value = gios_list_decode_with_flags (bytes, modes[m], &error);
      GiosListReader *reader;

      g_assert ((value == NULL) != (error == NULL));
      if (value != NULL)
        {
          GVariant *once, *twice;

          check_serialised (value, size);

          /* What decodes also encodes. One round trip maps a few values
           * onto others (a placeholder to undefined, a uint64 above
           * G_MAXINT64 to its digits); after that it is stable. */
          once = reencode (value, modes[m]);
          twice = reencode (once, modes[m]);
          g_assert (g_variant_equal (once, twice));
          g_variant_unref (twice);
          g_variant_unref (once);
          g_variant_unref (value);
        }
      g_clear_error (&error);

      reader = gios_list_reader_new_with_flags (bytes, modes[m]);
      walk (reader, 0);
      gios_list_reader_unref (reader);
    }

  g_bytes_unref (bytes);
  return 0;
}
