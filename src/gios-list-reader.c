/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reading half of the $LIST codec (see LIST-FORMAT.md for the bytes):
 * the cursor that steps from element to element, the conversions of its
 * numbers and of Latin-1 and UTF-16LE text, and GiosListReader on top.
 *
 * A list is elements placed one after another, each a length prefix, a type
 * byte and a payload.  The cursor checks every length against the buffer
 * before it looks at the bytes, and never allocates from a length it has not
 * checked.  gios_list_decode() (gios-list-variant.c) walks the same cursor.
 */

#include "gios-private.h"
#include "gios-list-private.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

void
_gios_list_cursor_init (GiosListCursor *c,
                        const guint8   *data,
                        gsize           size,
                        GiosListFlags   flags)
{
  *c = (GiosListCursor) {
    .data = data,
    .size = size,
    .flags = flags,
    .item_type = GIOS_LIST_ITEM_TYPE_INVALID,
  };
}

static gboolean
cursor_fail (GiosListCursor  *c,
             GError         **error,
             GiosError        code,
             const char      *format,
             ...) G_GNUC_PRINTF (4, 5);

/* Sets @error and leaves @c on no element; the next call to
 * _gios_list_cursor_next() reads the same bytes again and fails the same
 * way. */
static gboolean
cursor_fail (GiosListCursor  *c,
             GError         **error,
             GiosError        code,
             const char      *format,
             ...)
{
  va_list args;

  c->item_type = GIOS_LIST_ITEM_TYPE_INVALID;
  c->payload = NULL;
  c->payload_len = 0;
  if (error != NULL)
    {
      va_start (args, format);
      *error = g_error_new_valist (GIOS_ERROR, code, format, args);
      va_end (args);
    }
  return FALSE;
}

/* Whether an integer or mantissa payload of @k bytes of a negative type
 * is below INT64_MIN. */
static inline gboolean
negative_out_of_range (const guint8 *payload,
                       gsize         k)
{
  return k == 8 && (payload[7] & 0x80) == 0;
}

static gboolean
cursor_classify (GiosListCursor  *c,
                 GError         **error)
{
  gsize n = c->payload_len;

  switch (c->type)
    {
    case TYPE_PLACEHOLDER:
      if (n != 0)
        return cursor_fail (c, error, GIOS_ERROR_MALFORMED,
                            _("The $LIST placeholder element at byte offset %zu has a payload"),
                            c->offset);
      c->item_type = GIOS_LIST_ITEM_TYPE_NULL;
      return TRUE;

    case TYPE_STRING:
      if (n == 0 && (c->flags & GIOS_LIST_FLAGS_SQL_NULL))
        c->item_type = GIOS_LIST_ITEM_TYPE_NULL;
      else
        c->item_type = GIOS_LIST_ITEM_TYPE_STRING;
      return TRUE;

    case TYPE_UNICODE:
      if (n % 2 != 0)
        return cursor_fail (c, error, GIOS_ERROR_MALFORMED,
                            _("The UTF-16 string at byte offset %zu has an odd length"),
                            c->offset);
      c->item_type = GIOS_LIST_ITEM_TYPE_UNICODE;
      return TRUE;

    case TYPE_POS_INT:
    case TYPE_NEG_INT:
      if (n > 8)
        return cursor_fail (c, error, GIOS_ERROR_MALFORMED,
                            _("The integer at byte offset %zu has %zu bytes; the most is 8"),
                            c->offset, n);
      if (c->type == TYPE_NEG_INT && negative_out_of_range (c->payload, n))
        return cursor_fail (c, error, GIOS_ERROR_UNSUPPORTED,
                            _("The integer at byte offset %zu is below the 64-bit range"),
                            c->offset);
      c->item_type = GIOS_LIST_ITEM_TYPE_INTEGER;
      return TRUE;

    case TYPE_POS_DECIMAL:
    case TYPE_NEG_DECIMAL:
      if (n == 0 || n > 9)
        return cursor_fail (c, error, GIOS_ERROR_MALFORMED,
                            _("The decimal at byte offset %zu has %zu payload bytes; it needs 1 to 9"),
                            c->offset, n);
      if (c->type == TYPE_NEG_DECIMAL && negative_out_of_range (c->payload + 1, n - 1))
        return cursor_fail (c, error, GIOS_ERROR_UNSUPPORTED,
                            _("The decimal at byte offset %zu has a mantissa below the 64-bit range"),
                            c->offset);
      c->item_type = GIOS_LIST_ITEM_TYPE_DECIMAL;
      return TRUE;

    case TYPE_DOUBLE:
    case TYPE_COMPACT_DOUBLE:
      if (n > 8 || (c->type == TYPE_DOUBLE && n > 4 && n < 8))
        return cursor_fail (c, error, GIOS_ERROR_MALFORMED,
                            _("The double of type %02X at byte offset %zu has %zu bytes"),
                            (guint) c->type, c->offset, n);
      c->item_type = GIOS_LIST_ITEM_TYPE_DOUBLE;
      return TRUE;

    default:
      return cursor_fail (c, error, GIOS_ERROR_UNSUPPORTED,
                          _("The $LIST element at byte offset %zu has type %02X, which is not supported"),
                          c->offset, (guint) c->type);
    }
}

gboolean
_gios_list_cursor_next (GiosListCursor  *c,
                        GError         **error)
{
  const guint8 *p;
  gsize avail, header, body;

  if (c->next >= c->size)
    {
      c->offset = c->size;
      c->item_type = GIOS_LIST_ITEM_TYPE_INVALID;
      c->payload = NULL;
      c->payload_len = 0;
      return FALSE;
    }

  c->offset = c->next;
  p = c->data + c->offset;
  avail = c->size - c->offset;

  if (G_LIKELY (p[0] >= 2))
    header = 1;
  else if (p[0] == 1)
    {
      c->item_type = GIOS_LIST_ITEM_TYPE_UNDEFINED;
      c->type = 0;
      c->payload = NULL;
      c->payload_len = 0;
      c->next = c->offset + 1;
      return TRUE;
    }
  else
    {
      header = prefix_size (p, avail);
      if (G_UNLIKELY (header > avail))
        return cursor_fail (c, error, GIOS_ERROR_MALFORMED,
                            _("The length of the $LIST element at byte offset %zu is cut short"),
                            c->offset);
      if (G_UNLIKELY (prefix_body_size (p, header) == 0))
        return cursor_fail (c, error, GIOS_ERROR_MALFORMED,
                            _("The $LIST element at byte offset %zu has a length of zero"),
                            c->offset);
    }

  body = prefix_body_size (p, header);
  if (G_UNLIKELY (body > avail - header))
    return cursor_fail (c, error, GIOS_ERROR_MALFORMED,
                        _("The $LIST element at byte offset %zu needs %zu bytes, but only %zu remain"),
                        c->offset, header + body, avail);

  c->type = p[header];
  c->payload = p + header + 1;
  c->payload_len = body - 1;
  if (!cursor_classify (c, error))
    return FALSE;
  c->next = c->offset + header + body;
  return TRUE;
}

static gboolean
wrong_kind (const GiosListCursor  *c,
            const char            *wanted,
            GError               **error)
{
  if (c->item_type == GIOS_LIST_ITEM_TYPE_INVALID)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 _("The $LIST reader is not on an element"));
  else
    /* TRANSLATORS: the second %s is "a string", "an integer" or "a number" */
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 _("The $LIST element at byte offset %zu is not %s"),
                 c->offset, wanted);
  return FALSE;
}

static gboolean
too_big (const GiosListCursor  *c,
         GError               **error)
{
  g_set_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED,
               _("The number at byte offset %zu is above the 64-bit range"),
               c->offset);
  return FALSE;
}

static gboolean
cursor_get_decimal (const GiosListCursor  *c,
                    gint64                *mantissa,
                    gint8                 *exponent,
                    GError               **error)
{
  gboolean big;

  if (c->item_type == GIOS_LIST_ITEM_TYPE_INTEGER)
    {
      *mantissa = read_integer (c->payload, c->payload_len, c->type == TYPE_NEG_INT, &big);
      *exponent = 0;
    }
  else if (c->item_type == GIOS_LIST_ITEM_TYPE_DECIMAL)
    {
      *mantissa = read_integer (c->payload + 1, c->payload_len - 1,
                                c->type == TYPE_NEG_DECIMAL, &big);
      *exponent = (gint8) c->payload[0];
    }
  else
    return wrong_kind (c, _("an integer or a decimal"), error);

  return big ? too_big (c, error) : TRUE;
}

static gboolean
cursor_get_int64 (const GiosListCursor  *c,
                  gint64                *out,
                  GError               **error)
{
  gint64 m;
  gint8 e;

  if (G_LIKELY (c->item_type == GIOS_LIST_ITEM_TYPE_INTEGER))
    {
      gboolean big;

      *out = read_integer (c->payload, c->payload_len, c->type == TYPE_NEG_INT, &big);
      return big ? too_big (c, error) : TRUE;
    }

  if (c->item_type != GIOS_LIST_ITEM_TYPE_DECIMAL)
    return wrong_kind (c, _("an integer"), error);
  if (!cursor_get_decimal (c, &m, &e, error))
    return FALSE;

  /* A decimal converts when its value is a whole number in range. */
  for (; e < 0 && m != 0; e++)
    {
      if (m % 10 != 0)
        return wrong_kind (c, _("a whole number"), error);
      m /= 10;
    }
  for (; e > 0 && m != 0; e--)
    {
      if (m > G_MAXINT64 / 10 || m < G_MININT64 / 10)
        return too_big (c, error);
      m *= 10;
    }
  *out = m;
  return TRUE;
}

static const double exact_powers_of_ten[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* mantissa × 10^exponent, correctly rounded. */
static double
decimal_to_double (gint64   mantissa,
                   gboolean unsigned_mantissa,
                   int      exponent)
{
  char buf[48];
  const gint64 exact = G_GINT64_CONSTANT (1) << 53;

  if (!unsigned_mantissa && mantissa >= -exact && mantissa <= exact &&
      exponent >= -22 && exponent <= 22)
    {
      if (exponent >= 0)
        return (double) mantissa * exact_powers_of_ten[exponent];
      return (double) mantissa / exact_powers_of_ten[-exponent];
    }

  if (unsigned_mantissa)
    g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT "e%d", (guint64) mantissa, exponent);
  else
    g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT "e%d", mantissa, exponent);
  return g_ascii_strtod (buf, NULL);
}

/* Decodes a type 08/09 payload, already checked for length. */
static double
ieee_value (guint8        type,
            const guint8 *p,
            gsize         k)
{
  if (type == TYPE_DOUBLE && k <= 4)
    {
      guint32 bits = (guint32) (get_le (p, k) << (8 * (4 - k)));
      float f;

      memcpy (&f, &bits, sizeof f);
      return f;
    }
  else
    {
      /* k ≤ 8; a shift by 64 is undefined, so 0 bytes is handled apart */
      guint64 bits = k == 0 ? 0 : get_le (p, k) << (8 * (8 - k));
      double d;

      memcpy (&d, &bits, sizeof d);
      return d;
    }
}

gboolean
_gios_list_cursor_get_double (const GiosListCursor  *c,
                              double                *out,
                              GError               **error)
{
  gboolean big;
  gint64 m;

  switch (c->item_type)
    {
    case GIOS_LIST_ITEM_TYPE_DOUBLE:
      *out = ieee_value (c->type, c->payload, c->payload_len);
      return TRUE;
    case GIOS_LIST_ITEM_TYPE_INTEGER:
      m = read_integer (c->payload, c->payload_len, c->type == TYPE_NEG_INT, &big);
      *out = big ? (double) (guint64) m : (double) m;
      return TRUE;
    case GIOS_LIST_ITEM_TYPE_DECIMAL:
      m = read_integer (c->payload + 1, c->payload_len - 1, c->type == TYPE_NEG_DECIMAL, &big);
      *out = decimal_to_double (m, big, (gint8) c->payload[0]);
      return TRUE;
    default:
      return wrong_kind (c, _("a number"), error);
    }
}

gboolean
_gios_list_ascii_only (const guint8 *p,
                       gsize         len)
{
  guint64 acc = 0;
  guint8 tail = 0;
  gsize i = 0;

  for (; i + 8 <= len; i += 8)
    {
      guint64 w;

      memcpy (&w, p + i, sizeof w);
      acc |= w;
    }
  for (; i < len; i++)
    tail |= p[i];
  return ((acc & G_GUINT64_CONSTANT (0x8080808080808080)) | (tail & 0x80)) == 0;
}

gsize
_gios_list_latin1_utf8_size (const guint8 *p,
                             gsize         len)
{
  gsize high = 0, i;

  if (_gios_list_ascii_only (p, len))
    return len;
  for (i = 0; i < len; i++)
    high += p[i] >> 7;
  return len + high;
}

void
_gios_list_latin1_write_utf8 (const guint8 *p,
                              gsize         len,
                              gsize         size,
                              char         *out)
{
  gsize i;

  if (size == len)
    {
      if (len > 0)
        memcpy (out, p, len);
      return;
    }
  for (i = 0; i < len; i++)
    {
      if (p[i] < 0x80)
        *out++ = (char) p[i];
      else
        {
          *out++ = (char) (0xC0 | (p[i] >> 6));
          *out++ = (char) (0x80 | (p[i] & 0x3F));
        }
    }
}

static char *
latin1_to_utf8 (const guint8 *p,
                gsize         len)
{
  gsize size = _gios_list_latin1_utf8_size (p, len);
  char *out = g_malloc (size + 1);

  _gios_list_latin1_write_utf8 (p, len, size, out);
  out[size] = '\0';
  return out;
}

#define BAD_CHAR ((gunichar) -1)

/* Reads the character at unit *@i of the @units UTF-16LE units at @p, and
 * moves *@i past it.  Returns BAD_CHAR for an unpaired surrogate or U+0000,
 * which a UTF-8 string cannot hold. */
static inline gunichar
utf16le_next (const guint8 *p,
              gsize         units,
              gsize        *i)
{
  gunichar c = p[2 * *i] | (p[2 * *i + 1] << 8);

  (*i)++;
  if (c >= 0xD800 && c < 0xDC00 && *i < units)
    {
      gunichar low = p[2 * *i] | (p[2 * *i + 1] << 8);

      if (low < 0xDC00 || low > 0xDFFF)
        return BAD_CHAR;
      (*i)++;
      return 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
    }
  if ((c >= 0xD800 && c <= 0xDFFF) || c == 0)
    return BAD_CHAR;
  return c;
}

gsize
_gios_list_utf16le_convert (const guint8 *p,
                            gsize         len,
                            char         *out)
{
  gsize units = len / 2, i = 0, n = 0;

  while (i < units)
    {
      gunichar c = utf16le_next (p, units, &i);

      if (c == BAD_CHAR)
        return BAD_SIZE;
      n += g_unichar_to_utf8 (c, out != NULL ? out + n : NULL);
    }
  return n;
}

/* Converts UTF-16LE to UTF-8, or returns NULL when @p holds an unpaired
 * surrogate or U+0000. */
static char *
utf16le_to_utf8 (const guint8 *p,
                 gsize         len)
{
  gsize size = _gios_list_utf16le_convert (p, len, NULL);
  char *out;

  if (size == BAD_SIZE)
    return NULL;
  out = g_malloc (size + 1);
  _gios_list_utf16le_convert (p, len, out);
  out[size] = '\0';
  return out;
}

gboolean
_gios_list_unsupported_string (const GiosListCursor  *c,
                               GError               **error)
{
  g_set_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED,
               _("The string at byte offset %zu holds U+0000 or an unpaired surrogate, "
                 "which a UTF-8 string cannot"),
               c->offset);
  return FALSE;
}

static char *
cursor_get_string (const GiosListCursor  *c,
                   GError               **error)
{
  char *str;

  if (c->item_type == GIOS_LIST_ITEM_TYPE_STRING)
    {
      if (cursor_is_sql_empty (c))
        return g_strdup ("");
      if (memchr (c->payload, 0, c->payload_len) == NULL)
        return latin1_to_utf8 (c->payload, c->payload_len);
    }
  else if (c->item_type == GIOS_LIST_ITEM_TYPE_UNICODE)
    {
      str = utf16le_to_utf8 (c->payload, c->payload_len);
      if (str != NULL)
        return str;
    }
  else
    {
      wrong_kind (c, _("a string"), error);
      return NULL;
    }

  _gios_list_unsupported_string (c, error);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* GiosListReader                                                            */

struct _GiosListReader
{
  gatomicrefcount ref_count;
  GBytes *bytes;
  GiosListCursor cursor;
  guint depth;                  /* levels of recurse() above this reader */
};

/**
 * GiosListReader:
 *
 * Walks the elements of `$LIST` bytes one at a time, without copying them.
 *
 * ```c
 * g_autoptr(GiosListReader) reader = gios_list_reader_new (bytes);
 * g_autoptr(GError) error = NULL;
 *
 * while (gios_list_reader_next (reader, &error))
 *   {
 *     gint64 value;
 *
 *     if (gios_list_reader_get_item_type (reader) == GIOS_LIST_ITEM_TYPE_INTEGER &&
 *         gios_list_reader_get_int64 (reader, &value, NULL))
 *       g_print ("%" G_GINT64_FORMAT "\n", value);
 *   }
 * if (error != NULL)
 *   g_printerr ("%s\n", error->message);
 * ```
 *
 * [method@Gios.ListReader.next] checks each element's length against the
 * bytes and its payload against its type; malformed bytes give an error in
 * the %GIOS_ERROR domain that names the byte offset. The getters convert the
 * current element; asking for the wrong kind of value gives
 * %G_IO_ERROR_INVALID_DATA.
 *
 * Readers accept every form writers use: non-minimal length prefixes, both
 * positive-integer widths, un-normalised decimals, and plain and compressed
 * doubles. An 8-byte type `04` integer is read as unsigned (above
 * `G_MAXINT64` it is only available as a double).
 *
 * Since: 0.1
 */
G_DEFINE_BOXED_TYPE (GiosListReader, gios_list_reader,
                     gios_list_reader_ref, gios_list_reader_unref)

/**
 * gios_list_reader_new:
 * @bytes: the bytes of a `$LIST`
 *
 * Creates a reader on @bytes with %GIOS_LIST_FLAGS_NONE. The reader starts
 * before the first element.
 *
 * Returns: (transfer full): a new reader
 *
 * Since: 0.1
 */
GiosListReader *
gios_list_reader_new (GBytes *bytes)
{
  return gios_list_reader_new_with_flags (bytes, GIOS_LIST_FLAGS_NONE);
}

/**
 * gios_list_reader_new_with_flags:
 * @bytes: the bytes of a `$LIST`
 * @flags: the conventions to read with; only %GIOS_LIST_FLAGS_SQL_NULL
 *   changes what is read
 *
 * Creates a reader on @bytes. The reader starts before the first element.
 *
 * Returns: (transfer full): a new reader
 *
 * Since: 0.1
 */
GiosListReader *
gios_list_reader_new_with_flags (GBytes        *bytes,
                                 GiosListFlags  flags)
{
  GiosListReader *self;
  const guint8 *data;
  gsize size;

  g_return_val_if_fail (bytes != NULL, NULL);

  _gios_init_i18n ();
  self = g_new0 (GiosListReader, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->bytes = g_bytes_ref (bytes);
  data = g_bytes_get_data (bytes, &size);
  _gios_list_cursor_init (&self->cursor, data, size, flags);
  return self;
}

/**
 * gios_list_reader_ref:
 * @self: a reader
 *
 * Takes a reference to @self.
 *
 * Returns: (transfer full): @self
 *
 * Since: 0.1
 */
GiosListReader *
gios_list_reader_ref (GiosListReader *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

/**
 * gios_list_reader_unref:
 * @self: (transfer full): a reader
 *
 * Drops a reference to @self, and frees it when it was the last one.
 *
 * Since: 0.1
 */
void
gios_list_reader_unref (GiosListReader *self)
{
  g_return_if_fail (self != NULL);

  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      g_bytes_unref (self->bytes);
      g_free (self);
    }
}

/**
 * gios_list_reader_next:
 * @self: a reader
 * @error: return location for a #GError
 *
 * Moves to the next element and checks it.
 *
 * At the end of the bytes this returns %FALSE without setting @error. On
 * malformed bytes (a length beyond the end, a bad payload size) it sets
 * %GIOS_ERROR_MALFORMED, and on a type gio-socket does not read (`03`,
 * `0A`–`10`, object references, by-reference types) %GIOS_ERROR_UNSUPPORTED;
 * the reader then stays where it is, and calling it again fails again.
 *
 * Returns: %TRUE if the reader is on an element
 *
 * Since: 0.1
 */
gboolean
gios_list_reader_next (GiosListReader  *self,
                       GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return _gios_list_cursor_next (&self->cursor, error);
}

/**
 * gios_list_reader_get_item_type:
 * @self: a reader
 *
 * Gets the kind of the current element.
 *
 * Returns: the kind of element, or %GIOS_LIST_ITEM_TYPE_INVALID when the
 *   reader is not on one
 *
 * Since: 0.1
 */
GiosListItemType
gios_list_reader_get_item_type (GiosListReader *self)
{
  g_return_val_if_fail (self != NULL, GIOS_LIST_ITEM_TYPE_INVALID);

  return self->cursor.item_type;
}

/**
 * gios_list_reader_get_offset:
 * @self: a reader
 *
 * Gets the byte offset of the current element (its length prefix) in the
 * reader's bytes; at the end, the size of the bytes.
 *
 * Returns: the offset in bytes
 *
 * Since: 0.1
 */
gsize
gios_list_reader_get_offset (GiosListReader *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->cursor.offset;
}

/**
 * gios_list_reader_get_bytes:
 * @self: a reader
 * @len: (out): the length of the payload
 *
 * Gets the payload of the current element as it is in the bytes, after its
 * type byte: Latin-1 text or binary data for a string, UTF-16LE code units
 * for a Unicode string, the little-endian number for numbers. The pointer
 * stays valid as long as the reader.
 *
 * Returns: (array length=len) (transfer none) (nullable): the payload, or
 *   %NULL for the undefined element or when the reader is not on one
 *
 * Since: 0.1
 */
const guint8 *
gios_list_reader_get_bytes (GiosListReader *self,
                            gsize          *len)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (len != NULL, NULL);

  *len = self->cursor.payload_len;
  return self->cursor.payload;
}

/**
 * gios_list_reader_get_string:
 * @self: a reader
 * @error: return location for a #GError
 *
 * Gets the current string element as UTF-8. An 8-bit string is read as
 * Latin-1. With %GIOS_LIST_FLAGS_SQL_NULL, `03 01 00` reads as `""`.
 *
 * A string holding U+0000 (or an unpaired surrogate) gives
 * %GIOS_ERROR_UNSUPPORTED; read it with [method@Gios.ListReader.get_bytes].
 * An element that is not a string gives %G_IO_ERROR_INVALID_DATA.
 *
 * Returns: (transfer full): the string, or %NULL with @error set
 *
 * Since: 0.1
 */
char *
gios_list_reader_get_string (GiosListReader  *self,
                             GError         **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return cursor_get_string (&self->cursor, error);
}

/**
 * gios_list_reader_get_int64:
 * @self: a reader
 * @out: (out): the integer
 * @error: return location for a #GError
 *
 * Gets the current integer element, or a decimal element whose value is a
 * whole number. Any other element gives %G_IO_ERROR_INVALID_DATA; a value
 * above the 64-bit range gives %GIOS_ERROR_UNSUPPORTED.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
gios_list_reader_get_int64 (GiosListReader  *self,
                            gint64          *out,
                            GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return cursor_get_int64 (&self->cursor, out, error);
}

/**
 * gios_list_reader_get_double:
 * @self: a reader
 * @out: (out): the value
 * @error: return location for a #GError
 *
 * Gets the current number element, of any kind, as a double: doubles as
 * they are, integers and decimals correctly rounded. Any other element
 * gives %G_IO_ERROR_INVALID_DATA.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
gios_list_reader_get_double (GiosListReader  *self,
                             double          *out,
                             GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return _gios_list_cursor_get_double (&self->cursor, out, error);
}

/**
 * gios_list_reader_get_decimal:
 * @self: a reader
 * @mantissa: (out): the mantissa
 * @exponent: (out): the power of ten
 * @error: return location for a #GError
 *
 * Gets the current decimal element exactly, as written (the mantissa is not
 * normalised); an integer element gives an exponent of 0. Any other element
 * gives %G_IO_ERROR_INVALID_DATA; a mantissa above the 64-bit range gives
 * %GIOS_ERROR_UNSUPPORTED.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
gios_list_reader_get_decimal (GiosListReader  *self,
                              gint64          *mantissa,
                              gint8           *exponent,
                              GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (mantissa != NULL, FALSE);
  g_return_val_if_fail (exponent != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return cursor_get_decimal (&self->cursor, mantissa, exponent, error);
}

/**
 * gios_list_reader_recurse:
 * @self: a reader
 * @error: return location for a #GError
 *
 * Reads the payload of the current 8-bit string element as a nested list,
 * without copying it. The bytes alone cannot tell a nested list from a
 * string, so the caller decides; the new reader reports malformed bytes as
 * it walks them.
 *
 * Readers nest down to [const@Gios.LIST_MAX_DEPTH] levels below one made
 * with [ctor@Gios.ListReader.new]; below that, this fails with
 * %GIOS_ERROR_TOO_LARGE, so a recursive walk of untrusted bytes has a
 * bounded depth.
 *
 * Returns: (transfer full): a reader on the nested list, or %NULL with
 *   %G_IO_ERROR_INVALID_DATA when the element is not an 8-bit string, or
 *   %GIOS_ERROR_TOO_LARGE when the new reader would be nested too deep
 *
 * Since: 0.1
 */
GiosListReader *
gios_list_reader_recurse (GiosListReader  *self,
                          GError         **error)
{
  const GiosListCursor *c;
  g_autoptr(GBytes) inner = NULL;
  GiosListReader *reader;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  c = &self->cursor;
  if (c->type != TYPE_STRING ||
      (c->item_type != GIOS_LIST_ITEM_TYPE_STRING && c->item_type != GIOS_LIST_ITEM_TYPE_NULL))
    {
      wrong_kind (c, _("an 8-bit string"), error);
      return NULL;
    }

  if (self->depth >= GIOS_LIST_MAX_DEPTH)
    {
      g_set_error (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE,
                   _("The list at byte offset %zu would be nested more than %d deep, "
                     "which is the limit (GIOS_LIST_MAX_DEPTH)"),
                   c->offset, GIOS_LIST_MAX_DEPTH);
      return NULL;
    }

  inner = g_bytes_new_from_bytes (self->bytes, (gsize) (c->payload - c->data), c->payload_len);
  reader = gios_list_reader_new_with_flags (inner, c->flags);
  reader->depth = self->depth + 1;
  return reader;
}
