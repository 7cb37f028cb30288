/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (GIOS_INSIDE) && !defined (GIOS_COMPILATION)
# error "Only <gios/gios.h> can be included directly."
#endif

#include <glib-object.h>
#include <gios/gios-version.h>

G_BEGIN_DECLS

/**
 * GiosListFlags:
 * @GIOS_LIST_FLAGS_NONE: the ObjectScript conventions: `02 01` is the empty
 *   string, and doubles are written as 8-byte type `08` elements
 * @GIOS_LIST_FLAGS_COMPACT_DOUBLE: write doubles in the compressed forms
 *   (binary32 in type `08`, or type `09`, with the low zero bytes dropped),
 *   as a server with `$DOUBLE` compression does. Readers accept both forms
 *   whatever the flags.
 * @GIOS_LIST_FLAGS_SQL_NULL: the xDBC/SQL convention: `02 01` is SQL NULL and
 *   the empty string is written `03 01 00` (and read back as `""`)
 *
 * Options for writing and reading `$LIST` bytes.
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/ {
  GIOS_LIST_FLAGS_NONE = 0,
  GIOS_LIST_FLAGS_COMPACT_DOUBLE = 1 << 0,
  GIOS_LIST_FLAGS_SQL_NULL = 1 << 1,
} GiosListFlags;

/**
 * GiosListItemType:
 * @GIOS_LIST_ITEM_TYPE_INVALID: the reader is not on an element (before the
 *   first [method@Gios.ListReader.next], at the end, or after an error)
 * @GIOS_LIST_ITEM_TYPE_UNDEFINED: the undefined element `01` (no value)
 * @GIOS_LIST_ITEM_TYPE_NULL: the placeholder type `00`, or with
 *   %GIOS_LIST_FLAGS_SQL_NULL the SQL NULL `02 01`
 * @GIOS_LIST_ITEM_TYPE_STRING: an 8-bit string (type `01`): Latin-1 text,
 *   binary data or a nested list
 * @GIOS_LIST_ITEM_TYPE_UNICODE: a UTF-16 string (type `02`)
 * @GIOS_LIST_ITEM_TYPE_INTEGER: an integer (types `04` and `05`)
 * @GIOS_LIST_ITEM_TYPE_DECIMAL: a scaled decimal, mantissa × 10^exponent
 *   (types `06` and `07`)
 * @GIOS_LIST_ITEM_TYPE_DOUBLE: an IEEE double, plain or compressed (types
 *   `08` and `09`)
 *
 * The kind of the element a [struct@Gios.ListReader] is on.
 *
 * Since: 0.1
 */
typedef enum {
  GIOS_LIST_ITEM_TYPE_INVALID,
  GIOS_LIST_ITEM_TYPE_UNDEFINED,
  GIOS_LIST_ITEM_TYPE_NULL,
  GIOS_LIST_ITEM_TYPE_STRING,
  GIOS_LIST_ITEM_TYPE_UNICODE,
  GIOS_LIST_ITEM_TYPE_INTEGER,
  GIOS_LIST_ITEM_TYPE_DECIMAL,
  GIOS_LIST_ITEM_TYPE_DOUBLE,
} GiosListItemType;

/**
 * GIOS_LIST_MAX_DEPTH:
 *
 * How deep lists may nest in the `$LIST` calls: 32.
 *
 * The items given to [func@Gios.list_encode] are a list at depth 0, an `av`
 * item among them is a list at depth 1, and so on; a list nested deeper
 * fails with %GIOS_ERROR_TOO_LARGE. [method@Gios.ListReader.recurse] makes
 * readers down to this depth below a reader from
 * [ctor@Gios.ListReader.new], and fails the same way below it, so that a
 * caller that walks nested lists with a recursive function needs no limit
 * of its own.
 *
 * The bound keeps recursion on a small, fixed stack whatever the input.
 * 32 lists are 64 nested GVariant containers (`av` and `v` alternate): half
 * of what GVariant itself reads back from serialised data, which leaves room
 * for the caller's own containers around the items.
 *
 * Since: 0.2
 */
#define GIOS_LIST_MAX_DEPTH 32

/* Encoding and decoding whole lists as GVariant */

GIOS_AVAILABLE_IN_ALL
GBytes   *gios_list_encode                   (GVariant       *items,
                                              GError        **error);
GIOS_AVAILABLE_IN_ALL
GBytes   *gios_list_encode_with_flags        (GVariant       *items,
                                              GiosListFlags   flags,
                                              GError        **error);
GIOS_AVAILABLE_IN_ALL
GVariant *gios_list_decode                   (GBytes         *bytes,
                                              GError        **error);
GIOS_AVAILABLE_IN_ALL
GVariant *gios_list_decode_with_flags        (GBytes         *bytes,
                                              GiosListFlags   flags,
                                              GError        **error);

/* GiosListBuilder */

typedef struct _GiosListBuilder GiosListBuilder;

#define GIOS_TYPE_LIST_BUILDER (gios_list_builder_get_type ())

GIOS_AVAILABLE_IN_ALL
GType             gios_list_builder_get_type         (void) G_GNUC_CONST;
GIOS_AVAILABLE_IN_ALL
GiosListBuilder  *gios_list_builder_new              (void);
GIOS_AVAILABLE_IN_ALL
GiosListBuilder  *gios_list_builder_new_with_flags   (GiosListFlags     flags);
GIOS_AVAILABLE_IN_ALL
GiosListBuilder  *gios_list_builder_ref              (GiosListBuilder  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_unref            (GiosListBuilder  *self);
GIOS_AVAILABLE_IN_ALL
GiosListFlags     gios_list_builder_get_flags        (GiosListBuilder  *self);
GIOS_AVAILABLE_IN_ALL
gsize             gios_list_builder_get_size         (GiosListBuilder  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_append_undefined (GiosListBuilder  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_append_null      (GiosListBuilder  *self);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_append_string    (GiosListBuilder  *self,
                                                      const char       *utf8);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_append_bytes     (GiosListBuilder  *self,
                                                      const guint8     *data,
                                                      gsize             len);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_append_int64     (GiosListBuilder  *self,
                                                      gint64            value);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_append_bool      (GiosListBuilder  *self,
                                                      gboolean          value);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_append_double    (GiosListBuilder  *self,
                                                      double            value);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_append_decimal   (GiosListBuilder  *self,
                                                      gint64            mantissa,
                                                      gint8             exponent);
GIOS_AVAILABLE_IN_ALL
void              gios_list_builder_append_list      (GiosListBuilder  *self,
                                                      GBytes           *encoded_list);
GIOS_AVAILABLE_IN_ALL
GBytes           *gios_list_builder_end              (GiosListBuilder  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GiosListBuilder, gios_list_builder_unref)

/* GiosListReader */

typedef struct _GiosListReader GiosListReader;

#define GIOS_TYPE_LIST_READER (gios_list_reader_get_type ())

GIOS_AVAILABLE_IN_ALL
GType             gios_list_reader_get_type          (void) G_GNUC_CONST;
GIOS_AVAILABLE_IN_ALL
GiosListReader   *gios_list_reader_new               (GBytes           *bytes);
GIOS_AVAILABLE_IN_ALL
GiosListReader   *gios_list_reader_new_with_flags    (GBytes           *bytes,
                                                      GiosListFlags     flags);
GIOS_AVAILABLE_IN_ALL
GiosListReader   *gios_list_reader_ref               (GiosListReader   *self);
GIOS_AVAILABLE_IN_ALL
void              gios_list_reader_unref             (GiosListReader   *self);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_list_reader_next              (GiosListReader   *self,
                                                      GError          **error);
GIOS_AVAILABLE_IN_ALL
GiosListItemType  gios_list_reader_get_item_type     (GiosListReader   *self);
GIOS_AVAILABLE_IN_ALL
gsize             gios_list_reader_get_offset        (GiosListReader   *self);
GIOS_AVAILABLE_IN_ALL
const guint8     *gios_list_reader_get_bytes         (GiosListReader   *self,
                                                      gsize            *len);
GIOS_AVAILABLE_IN_ALL
char             *gios_list_reader_get_string        (GiosListReader   *self,
                                                      GError          **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_list_reader_get_int64         (GiosListReader   *self,
                                                      gint64           *out,
                                                      GError          **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_list_reader_get_double        (GiosListReader   *self,
                                                      double           *out,
                                                      GError          **error);
GIOS_AVAILABLE_IN_ALL
gboolean          gios_list_reader_get_decimal       (GiosListReader   *self,
                                                      gint64           *mantissa,
                                                      gint8            *exponent,
                                                      GError          **error);
GIOS_AVAILABLE_IN_ALL
GiosListReader   *gios_list_reader_recurse           (GiosListReader   *self,
                                                      GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GiosListReader, gios_list_reader_unref)

G_END_DECLS
