/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whole $LIST lists as GVariants: gios_list_encode() writes the items of an
 * `av` with a GiosListBuilder, and gios_list_decode() walks a list with the
 * reader's cursor and writes one serialised `av` (see below for its form).
 *
 * Both are bounded by their input: encoding recurses at most
 * GIOS_LIST_MAX_DEPTH levels, and decoding checks every element before it
 * allocates anything, then allocates at most 16 times the size of the list.
 */

#include "gios-private.h"
#include "gios-list-private.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Encoding from a GVariant                                                  */

static gboolean builder_append_variant (GiosListBuilder  *self,
                                        GVariant         *value,
                                        gsize             index,
                                        guint             depth,
                                        GError          **error);

static gboolean
too_deep (GError **error)
{
  g_set_error (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE,
               _("Lists are nested more than %d deep, which is the limit (GIOS_LIST_MAX_DEPTH)"),
               GIOS_LIST_MAX_DEPTH);
  return FALSE;
}

/* Appends each item of @items, an `av` at @depth, as an element. */
static gboolean
builder_append_items (GiosListBuilder  *self,
                      GVariant         *items,
                      guint             depth,
                      GError          **error)
{
  gsize i, n = g_variant_n_children (items);

  for (i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (items, i);

      if (!builder_append_variant (self, child, i, depth, error))
        return FALSE;
    }
  return TRUE;
}

/* Appends @items, a list at @depth, as one 8-bit element.  Recursion stops
 * at GIOS_LIST_MAX_DEPTH, so its stack stays small. */
static gboolean
builder_append_nested (GiosListBuilder  *self,
                       GVariant         *items,
                       gsize             index,
                       guint             depth,
                       GError          **error)
{
  g_autoptr(GiosListBuilder) inner = NULL;

  if (depth > GIOS_LIST_MAX_DEPTH)
    return too_deep (error);

  inner = gios_list_builder_new_with_flags (gios_list_builder_get_flags (self));
  if (!builder_append_items (inner, items, depth, error))
    {
      /* The depth error reads the same at every level: no path. */
      if (error != NULL && !g_error_matches (*error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE))
        _gios_reword_error (error, _("In the list at item %zu: %s"), index, _gios_error_message (error));
      return FALSE;
    }
  return _gios_list_builder_append_builder (self, inner, index, error);
}

/* Appends @value, an item of a list at @depth. */
static gboolean
builder_append_variant (GiosListBuilder  *self,
                        GVariant         *value,
                        gsize             index,
                        guint             depth,
                        GError          **error)
{
  g_autoptr(GVariant) boxed = NULL;
  const char *str;
  gsize len;

  /* Variants and maybes with a value are unboxed in a loop: their nesting
   * has no limit of its own. */
  for (;;)
    {
      GVariant *inner;

      if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
        inner = g_variant_get_variant (value);
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_MAYBE))
        inner = g_variant_get_maybe (value);
      else
        break;
      if (inner == NULL)
        break;
      g_clear_pointer (&boxed, g_variant_unref);
      value = boxed = inner;
    }

  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_STRING:
      str = g_variant_get_string (value, &len);
      return _gios_list_builder_append_utf8 (self, str, len, index, error);
    case G_VARIANT_CLASS_BOOLEAN:
      gios_list_builder_append_bool (self, g_variant_get_boolean (value));
      return TRUE;
    case G_VARIANT_CLASS_BYTE:
      gios_list_builder_append_int64 (self, g_variant_get_byte (value));
      return TRUE;
    case G_VARIANT_CLASS_INT16:
      gios_list_builder_append_int64 (self, g_variant_get_int16 (value));
      return TRUE;
    case G_VARIANT_CLASS_UINT16:
      gios_list_builder_append_int64 (self, g_variant_get_uint16 (value));
      return TRUE;
    case G_VARIANT_CLASS_INT32:
      gios_list_builder_append_int64 (self, g_variant_get_int32 (value));
      return TRUE;
    case G_VARIANT_CLASS_UINT32:
      gios_list_builder_append_int64 (self, g_variant_get_uint32 (value));
      return TRUE;
    case G_VARIANT_CLASS_INT64:
      gios_list_builder_append_int64 (self, g_variant_get_int64 (value));
      return TRUE;
    case G_VARIANT_CLASS_UINT64:
      {
        guint64 u = g_variant_get_uint64 (value);
        char digits[G_ASCII_DTOSTR_BUF_SIZE];

        if (u <= G_MAXINT64)
          {
            gios_list_builder_append_int64 (self, (gint64) u);
            return TRUE;
          }
        /* Beyond int64, InterSystems writes the decimal digits. */
        len = (gsize) g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, u);
        gios_list_builder_append_bytes (self, (const guint8 *) digits, len);
        return TRUE;
      }
    case G_VARIANT_CLASS_DOUBLE:
      gios_list_builder_append_double (self, g_variant_get_double (value));
      return TRUE;
    case G_VARIANT_CLASS_MAYBE:
      /* with no value: the loop above unboxed any other */
      if (g_variant_is_of_type (value, G_VARIANT_TYPE ("mv")))
        gios_list_builder_append_undefined (self);
      else
        gios_list_builder_append_null (self);
      return TRUE;
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
        {
          const guint8 *data = g_variant_get_fixed_array (value, &len, 1);

          if (!_gios_list_check_payload_size (len, index, error))
            return FALSE;
          gios_list_builder_append_bytes (self, data, len);
          return TRUE;
        }
      if (g_variant_is_of_type (value, G_VARIANT_TYPE ("av")))
        return builder_append_nested (self, value, index, depth + 1, error);
      break;
    default:
      break;
    }

  g_set_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED,
               _("Item %zu has the type “%s”, which a $LIST cannot hold"),
               index, g_variant_get_type_string (value));
  return FALSE;
}

/**
 * gios_list_encode:
 * @items: a `av` variant: the list items
 * @error: return location for a #GError
 *
 * Encodes @items as a `$LIST` with %GIOS_LIST_FLAGS_NONE; see
 * [func@Gios.list_encode_with_flags].
 *
 * Returns: (transfer full): the bytes of the list, or %NULL with @error set
 *
 * Since: 0.1
 */
GBytes *
gios_list_encode (GVariant  *items,
                  GError   **error)
{
  return gios_list_encode_with_flags (items, GIOS_LIST_FLAGS_NONE, error);
}

/**
 * gios_list_encode_with_flags:
 * @items: a `av` variant: the list items
 * @flags: how to write doubles and empty strings
 * @error: return location for a #GError
 *
 * Encodes @items as a `$LIST`, one element per item:
 *
 * - `s`: a string, as [method@Gios.ListBuilder.append_string] writes it;
 * - `ay`: an 8-bit string holding the bytes as they are;
 * - `x`, and the other integer types `y`, `n`, `q`, `i`, `u`, `t`: an
 *   integer; a `t` above `G_MAXINT64` is written as its decimal digits, as
 *   InterSystems does;
 * - `b`: the integer 1 or 0;
 * - `d`: a double, compressed with %GIOS_LIST_FLAGS_COMPACT_DOUBLE;
 * - `av`: a nested list, as an 8-bit string element, down to
 *   [const@Gios.LIST_MAX_DEPTH] levels below @items;
 * - `mv` with no value: the undefined element `01`; another maybe type with
 *   no value: a SQL NULL (see [method@Gios.ListBuilder.append_null]); a
 *   maybe with a value: that value.
 *
 * Variants inside variants are unboxed.
 *
 * Returns: (transfer full): the bytes of the list, or %NULL with
 *   %G_IO_ERROR_INVALID_ARGUMENT when @items is not `av` or holds invalid
 *   text, %GIOS_ERROR_UNSUPPORTED for an item of another type, or
 *   %GIOS_ERROR_TOO_LARGE for lists nested too deep
 *
 * Since: 0.1
 */
GBytes *
gios_list_encode_with_flags (GVariant       *items,
                             GiosListFlags   flags,
                             GError        **error)
{
  g_autoptr(GiosListBuilder) builder = NULL;

  g_return_val_if_fail (items != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  builder = gios_list_builder_new_with_flags (flags);
  if (!g_variant_is_of_type (items, G_VARIANT_TYPE ("av")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A $LIST is encoded from a GVariant of type “av”, not “%s”"),
                   g_variant_get_type_string (items));
      return NULL;
    }

  if (!builder_append_items (builder, items, 0, error))
    return NULL;
  return gios_list_builder_end (builder);
}

/* ------------------------------------------------------------------------ */
/* Decoding into one serialised GVariant                                     */

/*
 * gios_list_decode() writes the serialised form of its `av` result itself,
 * into one allocation that a first pass sizes exactly, and hands it to
 * g_variant_new_from_bytes(): the items become GVariants only when they are
 * read.  (A tree of one GVariant per item took about 180 bytes per item:
 * 2.9 GiB for a 16 MiB message of 1-byte elements.)
 *
 * The form is GVariant's normal form (gvariant-serialiser.c in GLib):
 *
 * - an array of `v` is its children one after another, each starting at a
 *   multiple of 8 (the alignment of `v`) with zero bytes in the gaps, then
 *   the end offset of every child, little-endian, all of the same width: the
 *   fewest bytes (1, 2, 4 or 8) that hold any offset into the whole array,
 *   offsets included (_gios_variant_array_size());
 * - a `v` is its value, a zero byte and the value's type string;
 * - an `s` is its UTF-8 bytes and a zero byte, an `ay` its bytes, an `x`,
 *   `t` or `d` 8 bytes in the machine's order, and a `mv` or `ms` with no
 *   value no bytes at all.
 *
 * So a child takes at most 16 times the bytes of its element, with the
 * padding before the next child (up to 7) and its offset (up to 8):
 *
 * - undefined, 1 byte: "\0mv", 3 + 5 + 8 = 16;
 * - placeholder and SQL NULL, 2 bytes: 3 + 5 + 8 = 16 ≤ 32;
 * - integers, decimals and doubles, 2 bytes or more: 10 + 6 + 8 = 24 ≤ 32;
 * - 8-bit strings of n bytes (n + 2 or more): at most 2n bytes of UTF-8
 *   from Latin-1, so ≤ 2n + 3 + 7 + 8 ≤ 16 (n + 2); UTF-16 gives at most
 *   3 bytes of UTF-8 per 2 bytes, which is less.
 *
 * and the result is at most 16 times the size of the list.
 */

/* What an element becomes in the result. */
typedef enum
{
  FORM_UNDEFINED,               /* mv with no value */
  FORM_NULL,                    /* ms with no value */
  FORM_STRING,                  /* s */
  FORM_BYTES,                   /* ay: an 8-bit string holding a NUL */
  FORM_INT64,                   /* x */
  FORM_UINT64,                  /* t: an 8-byte type 04 above G_MAXINT64 */
  FORM_DOUBLE,                  /* d: doubles and decimals */
} ItemForm;

static const char form_types[][3] = { "mv", "ms", "s", "ay", "x", "t", "d" };

#define VARIANT_ALIGN(offset) (((offset) + 7) & ~(gsize) 7)

gsize
_gios_variant_array_size (gsize body_size,
                          gsize n_items)
{
  if (body_size + n_items <= G_MAXUINT8)
    return body_size + n_items;
  if (body_size + 2 * n_items <= G_MAXUINT16)
    return body_size + 2 * n_items;
  if (body_size + 4 * n_items <= G_MAXUINT32)
    return body_size + 4 * n_items;
  return body_size + 8 * n_items;
}

static ItemForm
cursor_item_form (const GiosListCursor *c)
{
  gboolean big;

  switch (c->item_type)
    {
    case GIOS_LIST_ITEM_TYPE_UNDEFINED:
      return FORM_UNDEFINED;
    case GIOS_LIST_ITEM_TYPE_NULL:
      return FORM_NULL;
    case GIOS_LIST_ITEM_TYPE_STRING:
      if (!cursor_is_sql_empty (c) && memchr (c->payload, 0, c->payload_len) != NULL)
        return FORM_BYTES;
      return FORM_STRING;
    case GIOS_LIST_ITEM_TYPE_UNICODE:
      return FORM_STRING;
    case GIOS_LIST_ITEM_TYPE_INTEGER:
      read_integer (c->payload, c->payload_len, c->type == TYPE_NEG_INT, &big);
      return big ? FORM_UINT64 : FORM_INT64;
    case GIOS_LIST_ITEM_TYPE_DECIMAL:
    case GIOS_LIST_ITEM_TYPE_DOUBLE:
      return FORM_DOUBLE;
    case GIOS_LIST_ITEM_TYPE_INVALID:
    default:
      g_assert_not_reached ();
    }
}

/* Writes the value of the element in @form at @out, or only measures it
 * when @out is NULL, so that both passes of gios_list_decode_with_flags()
 * agree on every size.  Returns the size, or BAD_SIZE for a UTF-16 string
 * that UTF-8 cannot hold. */
static gsize
cursor_value (const GiosListCursor *c,
              ItemForm              form,
              guint8               *out)
{
  gboolean big;
  gint64 i;
  double d;
  gsize n = 0;

  switch (form)
    {
    case FORM_UNDEFINED:
    case FORM_NULL:
      return 0;
    case FORM_STRING:
      if (c->type == TYPE_UNICODE)
        n = _gios_list_utf16le_convert (c->payload, c->payload_len, (char *) out);
      else if (!cursor_is_sql_empty (c))
        {
          n = _gios_list_latin1_utf8_size (c->payload, c->payload_len);
          if (out != NULL)
            _gios_list_latin1_write_utf8 (c->payload, c->payload_len, n, (char *) out);
        }
      if (n == BAD_SIZE)
        return BAD_SIZE;
      if (out != NULL)
        out[n] = '\0';
      return n + 1;
    case FORM_BYTES:
      if (out != NULL)
        memcpy (out, c->payload, c->payload_len);
      return c->payload_len;
    case FORM_INT64:
    case FORM_UINT64:
      if (out != NULL)
        {
          i = read_integer (c->payload, c->payload_len, c->type == TYPE_NEG_INT, &big);
          memcpy (out, &i, sizeof i);
        }
      return sizeof i;
    case FORM_DOUBLE:
      if (out != NULL)
        {
          _gios_list_cursor_get_double (c, &d, NULL);
          memcpy (out, &d, sizeof d);
        }
      return sizeof d;
    default:
      g_assert_not_reached ();
    }
}

/* Writes the `v` that holds the element at @out: its value, a zero byte and
 * the type string; or only measures it when @out is NULL.  Returns its size,
 * or BAD_SIZE as cursor_value() does. */
static gsize
cursor_child (const GiosListCursor *c,
              guint8               *out)
{
  ItemForm form = cursor_item_form (c);
  gsize type_len = strlen (form_types[form]);
  gsize n = cursor_value (c, form, out);

  if (n == BAD_SIZE)
    return BAD_SIZE;
  if (out != NULL)
    {
      out[n] = '\0';
      memcpy (out + n + 1, form_types[form], type_len);
    }
  return n + 1 + type_len;
}

/* Checks every element of the list @c is at the start of, and adds up the
 * sizes of the children, each aligned: the array without its offsets. */
static gboolean
measure_children (GiosListCursor  *c,
                  gsize           *body,
                  gsize           *n_items,
                  GError         **error)
{
  GError *local_error = NULL;

  *body = *n_items = 0;
  while (_gios_list_cursor_next (c, &local_error))
    {
      gsize child = cursor_child (c, NULL);

      if (child == BAD_SIZE)
        return _gios_list_unsupported_string (c, error);
      *body = VARIANT_ALIGN (*body) + child;
      (*n_items)++;
    }
  if (local_error == NULL)
    return TRUE;
  g_propagate_error (error, local_error);
  return FALSE;
}

/* Writes the @n_items children of @body bytes that measure_children()
 * measured as the array of @total bytes at @out: the children with zero
 * bytes in the gaps, then the end offset of each. */
static void
write_children (GiosListCursor *c,
                guint8         *out,
                gsize           body,
                gsize           n_items,
                gsize           total)
{
  gsize width = n_items > 0 ? (total - body) / n_items : 0;
  gsize end = 0, i;

  for (i = 0; _gios_list_cursor_next (c, NULL); i++)
    {
      gsize start = VARIANT_ALIGN (end);
      guint64 offset;

      memset (out + end, 0, start - end);
      end = start + cursor_child (c, out + start);
      offset = GUINT64_TO_LE ((guint64) end);
      memcpy (out + body + i * width, &offset, width);
    }
  g_assert (i == n_items && end == body);
}

/**
 * gios_list_decode:
 * @bytes: the bytes of a `$LIST`
 * @error: return location for a #GError
 *
 * Decodes a `$LIST` with %GIOS_LIST_FLAGS_NONE; see
 * [func@Gios.list_decode_with_flags].
 *
 * Returns: (transfer full): a `av` variant, or %NULL with @error set
 *
 * Since: 0.1
 */
GVariant *
gios_list_decode (GBytes  *bytes,
                  GError **error)
{
  return gios_list_decode_with_flags (bytes, GIOS_LIST_FLAGS_NONE, error);
}

/**
 * gios_list_decode_with_flags:
 * @bytes: the bytes of a `$LIST`
 * @flags: the conventions to read with; only %GIOS_LIST_FLAGS_SQL_NULL
 *   changes what is read
 * @error: return location for a #GError
 *
 * Decodes a `$LIST` into a `av` variant, one item per element:
 *
 * - 8-bit and UTF-16 strings: `s` (8-bit strings are read as Latin-1);
 *   8-bit strings holding a NUL byte: `ay`, since a GVariant string cannot
 *   hold one (but `03 01 00` is `""` with %GIOS_LIST_FLAGS_SQL_NULL);
 * - integers: `x` (`t` for an 8-byte type `04` value above `G_MAXINT64`);
 * - decimals and doubles: `d` ([struct@Gios.ListReader] gives decimals
 *   exactly);
 * - the undefined element `01`: `mv` with no value;
 * - the placeholder `00`, and `02 01` with %GIOS_LIST_FLAGS_SQL_NULL: `ms`
 *   with no value (SQL NULL).
 *
 * Nested lists are not detected, since the bytes alone cannot tell them
 * from strings: they come back as `s` or `ay`.
 *
 * Every element is checked before anything is allocated for the result. The
 * result is one serialised GVariant of at most 16 times the size of @bytes,
 * whose items are made as they are read, so that what
 * [property@Gios.DeviceStream:max-message-size] admits costs a bounded
 * amount of memory.
 *
 * Returns: (transfer full): a `av` variant (not floating), or %NULL with
 *   @error set as [method@Gios.ListReader.next] and
 *   [method@Gios.ListReader.get_string] set it, or with
 *   %GIOS_ERROR_TOO_LARGE when 16 times the size of @bytes is beyond the
 *   address space
 *
 * Since: 0.1
 */
GVariant *
gios_list_decode_with_flags (GBytes         *bytes,
                             GiosListFlags   flags,
                             GError        **error)
{
  g_autoptr(GBytes) serialised = NULL;
  const guint8 *data;
  guint8 *out;
  gsize size, body, n, total;
  GiosListCursor c;

  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  _gios_init_i18n ();
  data = g_bytes_get_data (bytes, &size);
  /* 16 bytes per byte of input must be countable (see above). */
  if (size > G_MAXSIZE / 16)
    {
      g_set_error (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE,
                   _("A $LIST of %zu bytes is too large to decode"), size);
      return NULL;
    }

  _gios_list_cursor_init (&c, data, size, flags);
  if (!measure_children (&c, &body, &n, error))
    return NULL;

  total = _gios_variant_array_size (body, n);
  out = g_malloc (total);
  _gios_list_cursor_init (&c, data, size, flags);
  write_children (&c, out, body, n, total);

  serialised = g_bytes_new_take (out, total);
  return g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("av"), serialised, TRUE));
}
