/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The writing half of the $LIST codec: GiosListBuilder, which appends
 * elements one after another (see LIST-FORMAT.md for the bytes).
 *
 * Each element is a length prefix, a type byte and a payload. The builder
 * always uses the shortest length form, and makes room for the longest
 * prefix and 8 bytes of slack before it writes, so that integers and
 * doubles are stored with one 8-byte write. gios-list-variant.c builds
 * lists from GVariants with it.
 */

#include "gios-private.h"
#include "gios-list-private.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* The long length form stores payload + 1 in a uint32. */
#define MAX_PAYLOAD ((gsize) G_MAXUINT32 - 1)
/* Room for the longest prefix and type byte, plus slack so that integers
 * and doubles can be stored with one 8-byte write. */
#define ELEMENT_SLACK 16

/* The number of bytes of the sign-safe integer form of @v: the smallest k
 * with v < 2^(8k−1) for v ≥ 0 (the C core's rule), or v ≥ −256^k for v < 0. */
static inline guint
int_width (gint64 v)
{
  guint64 w = v >= 0 ? (guint64) v << 1 : ~(guint64) v;

  return w == 0 ? 0 : (guint) (64 - __builtin_clzll (w) + 7) / 8;
}

gboolean
_gios_list_check_payload_size (gsize    n,
                               gsize    index,
                               GError **error)
{
  if (G_LIKELY (n <= MAX_PAYLOAD))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Item %zu is %zu bytes long; a $LIST element holds at most %zu"),
               index, n, MAX_PAYLOAD);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* GiosListBuilder                                                           */

struct _GiosListBuilder
{
  gatomicrefcount ref_count;
  GiosListFlags flags;
  guint8 *data;
  gsize len;
  gsize cap;
};

/**
 * GiosListBuilder:
 *
 * Writes `$LIST` elements one after another.
 *
 * Each `append` call adds one element in the shortest length form;
 * [method@Gios.ListBuilder.end] hands the bytes over and leaves the builder
 * empty, ready for the next list.
 *
 * ```c
 * g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();
 * g_autoptr(GBytes) bytes = NULL;
 *
 * gios_list_builder_append_string (builder, "%SYSTEM.Version");
 * gios_list_builder_append_string (builder, "GetVersion");
 * gios_list_builder_append_int64 (builder, 0);
 * bytes = gios_list_builder_end (builder);
 * ```
 *
 * Integers use the sign-safe width of InterSystems' C core (127 is
 * `03 04 7F`, 128 is `04 04 80 00`). Strings are written as 8-bit Latin-1
 * when every character is at most U+00FF, otherwise as UTF-16LE. Doubles are
 * 8-byte type `08` elements unless the builder has
 * %GIOS_LIST_FLAGS_COMPACT_DOUBLE.
 *
 * A builder is used by one thread at a time.
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (GiosListBuilder, gios_list_builder,
                     gios_list_builder_ref, gios_list_builder_unref)

/**
 * gios_list_builder_new:
 *
 * Creates an empty builder with %GIOS_LIST_FLAGS_NONE.
 *
 * Returns: (transfer full): a new builder
 *
 * Since: 0.1
 */
GiosListBuilder *
gios_list_builder_new (void)
{
  return gios_list_builder_new_with_flags (GIOS_LIST_FLAGS_NONE);
}

/**
 * gios_list_builder_new_with_flags:
 * @flags: how to write doubles and empty strings
 *
 * Creates an empty builder that writes with @flags.
 *
 * Returns: (transfer full): a new builder
 *
 * Since: 0.1
 */
GiosListBuilder *
gios_list_builder_new_with_flags (GiosListFlags flags)
{
  GiosListBuilder *self = g_new0 (GiosListBuilder, 1);

  _gios_init_i18n ();
  g_atomic_ref_count_init (&self->ref_count);
  self->flags = flags;
  return self;
}

/**
 * gios_list_builder_ref:
 * @self: a builder
 *
 * Takes a reference to @self.
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
 */
GiosListBuilder *
gios_list_builder_ref (GiosListBuilder *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * gios_list_builder_unref:
 * @self: (transfer full): a builder
 *
 * Drops a reference to @self, and frees it and any bytes not yet handed
 * over by [method@Gios.ListBuilder.end] when it was the last one.
 *
 * Since: 0.1
 */
void
gios_list_builder_unref (GiosListBuilder *self)
{
  g_return_if_fail (self != NULL);

  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      g_free (self->data);
      g_free (self);
    }
}

/**
 * gios_list_builder_get_flags:
 * @self: a builder
 *
 * Gets the flags @self writes with.
 *
 * Returns: the flags given at construction
 *
 * Since: 0.1
 */
GiosListFlags
gios_list_builder_get_flags (GiosListBuilder *self)
{
  g_return_val_if_fail (self != NULL, GIOS_LIST_FLAGS_NONE);

  return self->flags;
}

/**
 * gios_list_builder_get_size:
 * @self: a builder
 *
 * Gets the number of bytes written since the builder was made or last
 * ended.
 *
 * Returns: the size of the list so far, in bytes
 *
 * Since: 0.1
 */
gsize
gios_list_builder_get_size (GiosListBuilder *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->len;
}

static void
builder_grow (GiosListBuilder *self,
              gsize            extra)
{
  gsize need, cap;

  if (extra > G_MAXSIZE - self->len)
    g_error ("$LIST builder: size overflow");
  need = self->len + extra;
  cap = MAX (self->cap, 64);
  while (cap < need)
    cap = cap > G_MAXSIZE / 2 ? need : cap * 2;
  self->data = g_realloc (self->data, cap);
  self->cap = cap;
}

/* Writes the prefix and type byte of an element with @n payload bytes
 * (n ≤ MAX_PAYLOAD), and returns where its payload goes.  The caller writes
 * exactly @n bytes there; it may scribble on up to ELEMENT_SLACK bytes past
 * them. */
static guint8 *
builder_begin_element (GiosListBuilder *self,
                       guint8           type,
                       gsize            n)
{
  guint8 *p;

  if (G_UNLIKELY (self->cap - self->len < n + ELEMENT_SLACK))
    builder_grow (self, n + ELEMENT_SLACK);
  p = self->data + self->len;

  if (n <= 253)
    {
      p[0] = (guint8) (n + 2);
      p[1] = type;
      p += 2;
    }
  else if (n <= 65534)
    {
      p[0] = 0;
      put_le (p + 1, (guint16) (n + 1), 2);
      p[3] = type;
      p += 4;
    }
  else
    {
      p[0] = p[1] = p[2] = 0;
      put_le (p + 3, (guint32) (n + 1), 4);
      p[7] = type;
      p += 8;
    }

  self->len = (gsize) (p - self->data) + n;
  return p;
}

static void
builder_append_raw (GiosListBuilder *self,
                    guint8           type,
                    const guint8    *data,
                    gsize            len)
{
  guint8 *p = builder_begin_element (self, type, len);

  if (len > 0)
    memcpy (p, data, len);
}

/**
 * gios_list_builder_append_undefined:
 * @self: a builder
 *
 * Appends the undefined element `01`: an element with no value, as in
 * `$LB(,)`.
 *
 * Since: 0.1
 */
void
gios_list_builder_append_undefined (GiosListBuilder *self)
{
  g_return_if_fail (self != NULL);

  if (G_UNLIKELY (self->cap - self->len < 1))
    builder_grow (self, 1);
  self->data[self->len++] = 0x01;
}

/**
 * gios_list_builder_append_null:
 * @self: a builder
 *
 * Appends a SQL NULL. With %GIOS_LIST_FLAGS_SQL_NULL this is `02 01`;
 * otherwise, in the ObjectScript view where "no value" is the undefined
 * element, it is `01`, as [method@Gios.ListBuilder.append_undefined] writes.
 *
 * Since: 0.1
 */
void
gios_list_builder_append_null (GiosListBuilder *self)
{
  g_return_if_fail (self != NULL);

  if (self->flags & GIOS_LIST_FLAGS_SQL_NULL)
    builder_begin_element (self, TYPE_STRING, 0);
  else
    gios_list_builder_append_undefined (self);
}

static void
builder_append_empty_string (GiosListBuilder *self)
{
  static const guint8 nul = 0;

  if (self->flags & GIOS_LIST_FLAGS_SQL_NULL)
    builder_append_raw (self, TYPE_STRING, &nul, 1);
  else
    builder_begin_element (self, TYPE_STRING, 0);
}

gboolean
_gios_list_builder_append_utf8 (GiosListBuilder  *self,
                                const char       *str,
                                gsize             len,
                                gsize             index,
                                GError          **error)
{
  const char *s, *end = str + len;
  gsize n_chars = 0, n_pairs = 0;
  gunichar max_char = 0;
  guint8 *p;

  if (len == 0)
    {
      builder_append_empty_string (self);
      return TRUE;
    }
  if (_gios_list_ascii_only ((const guint8 *) str, len))
    {
      if (!_gios_list_check_payload_size (len, index, error))
        return FALSE;
      builder_append_raw (self, TYPE_STRING, (const guint8 *) str, len);
      return TRUE;
    }

  if (!g_utf8_validate_len (str, len, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Item %zu is not valid UTF-8"), index);
      return FALSE;
    }
  for (s = str; s < end; s = g_utf8_next_char (s))
    {
      gunichar c = g_utf8_get_char (s);

      max_char = MAX (max_char, c);
      n_pairs += c > 0xFFFF;
      n_chars++;
    }

  if (max_char <= 0xFF)
    {
      if (!_gios_list_check_payload_size (n_chars, index, error))
        return FALSE;
      p = builder_begin_element (self, TYPE_STRING, n_chars);
      for (s = str; s < end; s = g_utf8_next_char (s))
        *p++ = (guint8) g_utf8_get_char (s);
    }
  else
    {
      if (!_gios_list_check_payload_size (2 * (n_chars + n_pairs), index, error))
        return FALSE;
      p = builder_begin_element (self, TYPE_UNICODE, 2 * (n_chars + n_pairs));
      for (s = str; s < end; s = g_utf8_next_char (s))
        {
          gunichar c = g_utf8_get_char (s);

          if (c > 0xFFFF)
            {
              c -= 0x10000;
              put_le (p, (guint16) (0xD800 + (c >> 10)), 2);
              p += 2;
              c = 0xDC00 + (c & 0x3FF);
            }
          put_le (p, (guint16) c, 2);
          p += 2;
        }
    }
  return TRUE;
}

/**
 * gios_list_builder_append_string:
 * @self: a builder
 * @utf8: a UTF-8 string
 *
 * Appends a string: an 8-bit (type `01`) element holding Latin-1 when every
 * character of @utf8 is at most U+00FF, otherwise a UTF-16LE (type `02`)
 * element, with non-BMP characters as surrogate pairs.
 *
 * The empty string is `02 01`, or `03 01 00` with
 * %GIOS_LIST_FLAGS_SQL_NULL. A string holding U+0000 cannot be passed
 * here; use [method@Gios.ListBuilder.append_bytes].
 *
 * Since: 0.1
 */
void
gios_list_builder_append_string (GiosListBuilder *self,
                                 const char      *utf8)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (self != NULL);
  g_return_if_fail (utf8 != NULL);

  if (!_gios_list_builder_append_utf8 (self, utf8, strlen (utf8), 0, &error))
    g_critical ("%s: %s", G_STRFUNC, error->message);
}

/**
 * gios_list_builder_append_bytes:
 * @self: a builder
 * @data: (array length=len) (nullable): the bytes
 * @len: the number of bytes in @data
 *
 * Appends an 8-bit (type `01`) element holding @data as it is: binary data,
 * or text already in Latin-1. With %GIOS_LIST_FLAGS_SQL_NULL an empty @data
 * is written `03 01 00`, so that it is not read back as NULL.
 *
 * Since: 0.1
 */
void
gios_list_builder_append_bytes (GiosListBuilder *self,
                                const guint8    *data,
                                gsize            len)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (len <= MAX_PAYLOAD);

  if (len == 0)
    builder_append_empty_string (self);
  else
    builder_append_raw (self, TYPE_STRING, data, len);
}

/* Writes a type 04/05 (or 06/07 when @exponent_byte is set) element. */
static inline void
builder_append_integer (GiosListBuilder *self,
                        gint64           value,
                        guint8           base_type,
                        const gint8     *exponent)
{
  guint k = int_width (value);
  guint8 type = base_type + (value < 0);
  guint8 *p;

  if (exponent != NULL)
    {
      p = builder_begin_element (self, type, k + 1);
      *p++ = (guint8) *exponent;
    }
  else
    p = builder_begin_element (self, type, k);
  put_le (p, (guint64) value, 8);
}

/**
 * gios_list_builder_append_int64:
 * @self: a builder
 * @value: the integer
 *
 * Appends an integer (type `04` or `05`) in the fewest bytes that keep the
 * sign: 0 is `02 04`, 127 is `03 04 7F`, 128 is `04 04 80 00`, −1 is
 * `02 05`, −256 is `03 05 00`.
 *
 * Since: 0.1
 */
void
gios_list_builder_append_int64 (GiosListBuilder *self,
                                gint64           value)
{
  g_return_if_fail (self != NULL);

  builder_append_integer (self, value, TYPE_POS_INT, NULL);
}

/**
 * gios_list_builder_append_bool:
 * @self: a builder
 * @value: the boolean
 *
 * Appends a boolean, as the integer 1 (`03 04 01`) or 0 (`02 04`).
 *
 * Since: 0.1
 */
void
gios_list_builder_append_bool (GiosListBuilder *self,
                               gboolean         value)
{
  gios_list_builder_append_int64 (self, value ? 1 : 0);
}

/**
 * gios_list_builder_append_decimal:
 * @self: a builder
 * @mantissa: the mantissa
 * @exponent: the power of ten
 *
 * Appends the scaled decimal @mantissa × 10^@exponent (type `06` or `07`),
 * exactly as given: the mantissa is not normalised. 1.5 given as (15, −1)
 * is `04 06 FF 0F`.
 *
 * Since: 0.1
 */
void
gios_list_builder_append_decimal (GiosListBuilder *self,
                                  gint64           mantissa,
                                  gint8            exponent)
{
  g_return_if_fail (self != NULL);

  builder_append_integer (self, mantissa, TYPE_POS_DECIMAL, &exponent);
}

static gboolean
fits_binary32 (double value)
{
  float f;

  if (!(value >= -FLT_MAX && value <= FLT_MAX))
    return value == (double) INFINITY || value == -(double) INFINITY;
  f = (float) value;
  return (double) f == value;
}

/**
 * gios_list_builder_append_double:
 * @self: a builder
 * @value: the double
 *
 * Appends an IEEE double. By default this is type `08` with the 8 bytes of
 * the binary64 value. With %GIOS_LIST_FLAGS_COMPACT_DOUBLE, +0.0 is `02 08`,
 * a value that survives a round trip through binary32 is type `08` with the
 * binary32 bytes, and any other value is type `09` with the binary64 bytes;
 * in both cases the zero bytes at the low end are dropped (1.0 is
 * `04 08 80 3F`, 0.1 is `0A 09 9A 99 99 99 99 99 B9 3F`).
 *
 * Since: 0.1
 */
void
gios_list_builder_append_double (GiosListBuilder *self,
                                 double           value)
{
  guint64 bits;
  guint8 type = TYPE_COMPACT_DOUBLE;
  guint k = 8;
  guint8 *p;

  g_return_if_fail (self != NULL);

  if (!(self->flags & GIOS_LIST_FLAGS_COMPACT_DOUBLE))
    {
      memcpy (&bits, &value, sizeof bits);
      put_le (builder_begin_element (self, TYPE_DOUBLE, 8), bits, 8);
      return;
    }

  if (fits_binary32 (value))
    {
      float f = (float) value;
      guint32 bits32;

      memcpy (&bits32, &f, sizeof bits32);
      bits = bits32;
      type = TYPE_DOUBLE;
      k = 4;
    }
  else
    memcpy (&bits, &value, sizeof bits);

  while (k > 0 && (bits & 0xFF) == 0)
    {
      bits >>= 8;
      k--;
    }
  p = builder_begin_element (self, type, k);
  put_le (p, bits, 8);
}

/**
 * gios_list_builder_append_list:
 * @self: a builder
 * @encoded_list: the bytes of a `$LIST`
 *
 * Appends a nested list: an 8-bit (type `01`) element whose payload is
 * @encoded_list. An empty list gives `02 01`.
 *
 * Since: 0.1
 */
void
gios_list_builder_append_list (GiosListBuilder *self,
                               GBytes          *encoded_list)
{
  const guint8 *data;
  gsize len;

  g_return_if_fail (self != NULL);
  g_return_if_fail (encoded_list != NULL);

  data = g_bytes_get_data (encoded_list, &len);
  g_return_if_fail (len <= MAX_PAYLOAD);
  builder_append_raw (self, TYPE_STRING, data, len);
}

gboolean
_gios_list_builder_append_builder (GiosListBuilder  *self,
                                   GiosListBuilder  *inner,
                                   gsize             index,
                                   GError          **error)
{
  if (!_gios_list_check_payload_size (inner->len, index, error))
    return FALSE;
  builder_append_raw (self, TYPE_STRING, inner->data, inner->len);
  return TRUE;
}

/**
 * gios_list_builder_end:
 * @self: a builder
 *
 * Hands over the list written so far and leaves @self empty, ready to
 * build another list with the same flags.
 *
 * Returns: (transfer full): the bytes of the list
 *
 * Since: 0.1
 */
GBytes *
gios_list_builder_end (GiosListBuilder *self)
{
  guint8 *data;
  gsize len;

  g_return_val_if_fail (self != NULL, NULL);

  len = self->len;
  data = g_steal_pointer (&self->data);
  /* Give back a large unused tail. */
  if (data != NULL && self->cap - len > len / 4 + 64)
    data = g_realloc (data, MAX (len, 1));
  self->len = 0;
  self->cap = 0;
  return g_bytes_new_take (data, len);
}
