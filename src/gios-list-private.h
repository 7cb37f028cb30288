/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the three files of the $LIST codec share (see LIST-FORMAT.md for the
 * bytes): the type bytes; the reading of length prefixes, which
 * gios-message.c uses too, to peek one element off a stream; the builder's
 * checked appends, which encoding from a GVariant needs; and the reader's
 * cursor, number reading and text conversions, which decoding into a
 * GVariant walks and writes with.
 *
 * Functions have the _gios_list_ prefix, since they are symbols of the
 * library; the inline helpers and macros keep their short names, as only
 * these files see them.  The prefix and number readers are inline because
 * they sit in the reader's and the decoder's inner loops.
 */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

/* Type bytes */
enum {
  TYPE_PLACEHOLDER = 0x00,
  TYPE_STRING = 0x01,
  TYPE_UNICODE = 0x02,
  TYPE_POS_INT = 0x04,
  TYPE_NEG_INT = 0x05,
  TYPE_POS_DECIMAL = 0x06,
  TYPE_NEG_DECIMAL = 0x07,
  TYPE_DOUBLE = 0x08,
  TYPE_COMPACT_DOUBLE = 0x09,
};

/* ------------------------------------------------------------------------ */
/* Length prefixes (LIST-FORMAT.md §2), read by the cursor and by
 * gios_device_stream_receive_item(), which peeks them off a stream           */

/* The size of the length prefix that starts at @p, of which @avail bytes
 * (at least 1) are there: 1, 3 or 7.  A size above @avail is how many bytes
 * it takes to tell. */
static inline gsize
prefix_size (const guint8 *p,
             gsize         avail)
{
  if (p[0] != 0)
    return 1;
  if (avail < 3 || p[1] != 0 || p[2] != 0)
    return 3;
  return 7;
}

/* The size of what follows the length prefix of @header bytes at @p: the
 * type byte and the payload.  It is 0 for the undefined element `01`, and
 * for a long form of 0, which is malformed. */
static inline gsize
prefix_body_size (const guint8 *p,
                  gsize         header)
{
  if (header == 1)
    return p[0] - 1;
  if (header == 3)
    return p[1] | ((gsize) p[2] << 8);
  return (gsize) get_le (p + 3, 4);
}

/* ------------------------------------------------------------------------ */
/* Writing (gios-list-builder.c)                                             */

/* Fails with G_IO_ERROR_INVALID_ARGUMENT when item @index, of @n payload
 * bytes, is too long for one element. */
gboolean _gios_list_check_payload_size     (gsize             n,
                                            gsize             index,
                                            GError          **error);
/* Appends @len bytes of UTF-8 as type 01 (Latin-1) or type 02 (UTF-16LE). */
gboolean _gios_list_builder_append_utf8    (GiosListBuilder  *self,
                                            const char       *str,
                                            gsize             len,
                                            gsize             index,
                                            GError          **error);
/* Appends the list @inner holds as one 8-bit element, item @index of the
 * list of @self. */
gboolean _gios_list_builder_append_builder (GiosListBuilder  *self,
                                            GiosListBuilder  *inner,
                                            gsize             index,
                                            GError          **error);

/* ------------------------------------------------------------------------ */
/* Reading (gios-list-reader.c)                                              */

/* The position of a reader on its bytes. */
typedef struct
{
  const guint8 *data;
  gsize size;
  gsize next;                   /* offset of the element after this one */
  gsize offset;                 /* offset of this element */
  const guint8 *payload;
  gsize payload_len;
  guint8 type;
  GiosListItemType item_type;
  GiosListFlags flags;
} GiosListCursor;

void     _gios_list_cursor_init        (GiosListCursor        *c,
                                        const guint8          *data,
                                        gsize                  size,
                                        GiosListFlags          flags);
/* Moves to the next element: FALSE at the end (no error) or on malformed
 * bytes (with @error set, and without moving). */
gboolean _gios_list_cursor_next        (GiosListCursor        *c,
                                        GError               **error);
gboolean _gios_list_cursor_get_double  (const GiosListCursor  *c,
                                        double                *out,
                                        GError               **error);
gboolean _gios_list_unsupported_string (const GiosListCursor  *c,
                                        GError               **error);

/* Whether the element is the SQL convention's empty string, `03 01 00`. */
static inline gboolean
cursor_is_sql_empty (const GiosListCursor *c)
{
  return (c->flags & GIOS_LIST_FLAGS_SQL_NULL) && c->type == TYPE_STRING &&
         c->payload_len == 1 && c->payload[0] == 0;
}

/* Widens the payload @u of @k bytes of a negative integer: u − 256^k. */
static inline gint64
negative_value (guint64 u,
                gsize   k)
{
  if (k >= 8)
    return (gint64) u;
  return (gint64) (u | (G_MAXUINT64 << (8 * k)));
}

/* Reads the integer or decimal mantissa at @p (@k ≤ 8 bytes), which has
 * been checked to fit in int64 when negative.  Sets *@big when a positive
 * value is above INT64_MAX; *@value then holds its bits. */
static inline gint64
read_integer (const guint8 *p,
              gsize         k,
              gboolean      negative,
              gboolean     *big)
{
  guint64 u = get_le (p, k);

  *big = !negative && u > (guint64) G_MAXINT64;
  return negative ? negative_value (u, k) : (gint64) u;
}

/* Text: Latin-1 and UTF-16LE to UTF-8 */

gboolean _gios_list_ascii_only        (const guint8 *p,
                                       gsize         len);
/* The size of @len bytes of Latin-1 in UTF-8. */
gsize    _gios_list_latin1_utf8_size  (const guint8 *p,
                                       gsize         len);
/* Writes @len bytes of Latin-1 at @out as the @size bytes of UTF-8 that
 * _gios_list_latin1_utf8_size() gave. */
void     _gios_list_latin1_write_utf8 (const guint8 *p,
                                       gsize         len,
                                       gsize         size,
                                       char         *out);

#define BAD_SIZE G_MAXSIZE

/* Converts UTF-16LE @p to UTF-8 at @out, or only measures it when @out is
 * NULL.  Returns the size in UTF-8, or BAD_SIZE when @p holds a character
 * that UTF-8 strings cannot. */
gsize    _gios_list_utf16le_convert   (const guint8 *p,
                                       gsize         len,
                                       char         *out);

G_END_DECLS
