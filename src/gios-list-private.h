/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the files of the $LIST codec share (see LIST-FORMAT.md for the
 * bytes): the type bytes, the builder's checked appends that encoding from
 * a GVariant needs, and the ASCII test that writing and reading strings
 * both use.
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

/* gios-list-builder.c */

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

/* gios-list.c */

gboolean _gios_list_ascii_only             (const guint8     *p,
                                            gsize             len);

G_END_DECLS
