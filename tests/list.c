/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of the $LIST codec.  Every hex example of LIST-FORMAT.md is pinned in
 * both directions: the builder (and gios_list_encode()) writes exactly those
 * bytes, and the reader (and gios_list_decode()) reads them back.
 */

#include "gios-private.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "gios-test-utils.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

/* Ends @builder and checks its bytes, and that it is empty afterwards. */
static void
assert_builder_hex (GiosListBuilder *builder,
                    const char      *hex)
{
  g_autoptr(GBytes) bytes = gios_list_builder_end (builder);

  gios_test_assert_bytes_hex (bytes, hex);
  g_assert_cmpuint (gios_list_builder_get_size (builder), ==, 0);
}

/* A reader on @hex, moved onto its first element. */
static GiosListReader *
reader_on (const char    *hex,
           GiosListFlags  flags)
{
  g_autoptr(GBytes) bytes = gios_test_hex_bytes (hex);
  g_autoptr(GError) error = NULL;
  GiosListReader *reader = gios_list_reader_new_with_flags (bytes, flags);

  g_assert_true (gios_list_reader_next (reader, &error));
  g_assert_no_error (error);
  return reader;
}

static void
assert_at_end (GiosListReader *reader)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (gios_list_reader_next (reader, &error));
  g_assert_no_error (error);
  g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, GIOS_LIST_ITEM_TYPE_INVALID);
}

static void
assert_encodes (GVariant      *items,
                GiosListFlags  flags,
                const char    *hex)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) sunk = g_variant_ref_sink (items);
  g_autoptr(GBytes) bytes = gios_list_encode_with_flags (sunk, flags, &error);

  g_assert_no_error (error);
  gios_test_assert_bytes_hex (bytes, hex);
}

/* Decodes @hex and compares with the `av` value in GVariant text format. */
static void
assert_decodes (const char    *hex,
                GiosListFlags  flags,
                const char    *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = gios_test_hex_bytes (hex);
  g_autoptr(GVariant) value = gios_list_decode_with_flags (bytes, flags, &error);
  g_autoptr(GVariant) expected = g_variant_parse (G_VARIANT_TYPE ("av"), text, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (value);
  g_assert_false (g_variant_is_floating (value));
  if (!g_variant_equal (value, expected))
    {
      g_autofree char *got = g_variant_print (value, TRUE);

      g_error ("%s decodes to %s, not %s", hex, got, text);
    }
}

/* One item, as a one-element `av`. */
static GVariant *
one (GVariant *item)
{
  return g_variant_new_array (G_VARIANT_TYPE_VARIANT, (GVariant *[]) { g_variant_new_variant (item) }, 1);
}

static void
assert_decode_error (const char    *hex,
                     GQuark         domain,
                     int            code,
                     const char    *message_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = gios_test_hex_bytes (hex);
  g_autoptr(GVariant) value = gios_list_decode (bytes, &error);

  g_assert_null (value);
  g_assert_error (error, domain, code);
  if (message_part != NULL && strstr (error->message, message_part) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, message_part);
}

/* ------------------------------------------------------------------------ */
/* Strings, empty and undefined (spec §3)                                    */

typedef struct
{
  const char *utf8;             /* NULL: the undefined element */
  const char *hex;
  GiosListItemType type;
} StringExample;

static const StringExample string_examples[] = {
  { NULL, "01", GIOS_LIST_ITEM_TYPE_UNDEFINED },
  { "", "02 01", GIOS_LIST_ITEM_TYPE_STRING },
  { "hello", "07 01 68 65 6C 6C 6F", GIOS_LIST_ITEM_TYPE_STRING },
  { "ABC", "05 01 41 42 43", GIOS_LIST_ITEM_TYPE_STRING },
  { "65", "04 01 36 35", GIOS_LIST_ITEM_TYPE_STRING },
  { "\xC3\xA9", "03 01 E9", GIOS_LIST_ITEM_TYPE_STRING },
  { "\xE2\x82\xAC", "04 02 AC 20", GIOS_LIST_ITEM_TYPE_UNICODE },
  { "\xCF\x9B" "ABC", "0A 02 DB 03 41 00 42 00 43 00", GIOS_LIST_ITEM_TYPE_UNICODE },
  { "\xF0\x9F\x94\x9F", "06 02 3D D8 1F DD", GIOS_LIST_ITEM_TYPE_UNICODE },
};

static void
test_strings (void)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (string_examples); i++)
    {
      const StringExample *ex = &string_examples[i];
      g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();
      g_autoptr(GiosListReader) reader = reader_on (ex->hex, GIOS_LIST_FLAGS_NONE);
      g_autoptr(GError) error = NULL;

      g_test_message ("string example %s", ex->hex);
      if (ex->utf8 == NULL)
        gios_list_builder_append_undefined (builder);
      else
        gios_list_builder_append_string (builder, ex->utf8);
      assert_builder_hex (builder, ex->hex);

      g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, ex->type);
      if (ex->utf8 != NULL)
        {
          g_autofree char *str = gios_list_reader_get_string (reader, &error);

          g_assert_no_error (error);
          g_assert_cmpstr (str, ==, ex->utf8);
          assert_encodes (one (g_variant_new_string (ex->utf8)), GIOS_LIST_FLAGS_NONE, ex->hex);
        }
      else
        assert_encodes (one (g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL)),
                        GIOS_LIST_FLAGS_NONE, ex->hex);
      assert_at_end (reader);
    }

  assert_decodes ("01", 0, "[<@mv nothing>]");
  assert_decodes ("01 01", 0, "[<@mv nothing>, <@mv nothing>]");
  assert_decodes ("02 01", 0, "[<''>]");
  assert_decodes ("07 01 68 65 6C 6C 6F", 0, "[<'hello'>]");
  assert_decodes ("04 01 36 35", 0, "[<'65'>]");
  assert_decodes ("03 01 E9", 0, "[<'\u00e9'>]");
  assert_decodes ("04 02 AC 20", 0, "[<'\u20ac'>]");
  assert_decodes ("0A 02 DB 03 41 00 42 00 43 00", 0, "[<'\u03dbABC'>]");
  assert_decodes ("06 02 3D D8 1F DD", 0, "[<'\U0001F51F'>]");
  assert_decodes ("", 0, "@av []");

  /* $LB(,) and $LB($C(0)) */
  {
    g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();
    const guint8 nul = 0;

    gios_list_builder_append_undefined (builder);
    gios_list_builder_append_undefined (builder);
    assert_builder_hex (builder, "01 01");
    gios_list_builder_append_bytes (builder, &nul, 1);
    assert_builder_hex (builder, "03 01 00");
  }
  /* a NUL byte makes the element come back as a byte string */
  assert_decodes ("03 01 00", 0, "[<@ay [0x00]>]");
  assert_decodes ("05 01 61 00 62", 0, "[<@ay [0x61, 0x00, 0x62]>]");
  assert_encodes (one (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, NULL, 0, 1)), 0, "02 01");
}

/* ------------------------------------------------------------------------ */
/* Length prefixes (spec §2)                                                 */

typedef struct
{
  gsize payload;
  const char *prefix;
} LengthExample;

static const LengthExample length_examples[] = {
  { 0, "02 01" },
  { 252, "FE 01" },
  { 253, "FF 01" },
  { 254, "00 FF 00 01" },
  { 255, "00 00 01 01" },
  { 65534, "00 FF FF 01" },
  { 65535, "00 00 00 00 00 01 00 01" },
  { 70000, "00 00 00 71 11 01 00 01" },
  { 128000, "00 00 00 01 F4 01 00 01" },
};

static void
test_lengths (void)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (length_examples); i++)
    {
      const LengthExample *ex = &length_examples[i];
      g_autoptr(GBytes) prefix = gios_test_hex_bytes (ex->prefix);
      g_autofree char *as = g_strnfill (ex->payload, 'A');
      g_autoptr(GByteArray) expected = g_byte_array_new ();
      g_autoptr(GBytes) expected_bytes = NULL;
      g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GiosListReader) reader = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *str = NULL;
      const guint8 *payload;
      gsize len;

      g_test_message ("%zu payload bytes", ex->payload);
      g_byte_array_append (expected, g_bytes_get_data (prefix, NULL), g_bytes_get_size (prefix));
      g_byte_array_append (expected, (const guint8 *) as, ex->payload);
      expected_bytes = g_bytes_new (expected->data, expected->len);

      gios_list_builder_append_string (builder, as);
      bytes = gios_list_builder_end (builder);
      g_assert_true (g_bytes_equal (bytes, expected_bytes));

      reader = gios_list_reader_new (expected_bytes);
      g_assert_true (gios_list_reader_next (reader, &error));
      g_assert_no_error (error);
      payload = gios_list_reader_get_bytes (reader, &len);
      g_assert_cmpuint (len, ==, ex->payload);
      /* zero copy: the payload is a view of the bytes */
      g_assert_true (payload == (const guint8 *) g_bytes_get_data (expected_bytes, NULL) + g_bytes_get_size (prefix));
      str = gios_list_reader_get_string (reader, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (str, ==, as);
      assert_at_end (reader);
    }

  /* Readers accept longer prefixes than needed. */
  assert_decodes ("00 04 00 01 61 62 63", 0, "[<'abc'>]");
  assert_decodes ("00 00 00 04 00 00 00 01 61 62 63", 0, "[<'abc'>]");
  assert_decodes ("00 04 00 01 61 62 63 05 01 61 62 63 00 00 00 04 00 00 00 01 61 62 63", 0,
                  "[<'abc'>, <'abc'>, <'abc'>]");
  assert_decodes ("00 03 00 04 FF 00", 0, "[<int64 255>]");

  /* UTF-16 counts in bytes: 127 × U+20AC is 254 payload bytes. */
  {
    g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(GString) euros = g_string_new (NULL);
    g_autoptr(GiosListReader) reader = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *str = NULL;
    const guint8 *p;
    gsize len, k;

    for (k = 0; k < 127; k++)
      g_string_append (euros, "\xE2\x82\xAC");
    gios_list_builder_append_string (builder, euros->str);
    bytes = gios_list_builder_end (builder);
    p = g_bytes_get_data (bytes, &len);
    g_assert_cmpuint (len, ==, 4 + 254);
    g_assert_cmpmem (p, 4, "\x00\xFF\x00\x02", 4);
    for (k = 0; k < 127; k++)
      g_assert_cmpmem (p + 4 + 2 * k, 2, "\xAC\x20", 2);

    reader = gios_list_reader_new (bytes);
    g_assert_true (gios_list_reader_next (reader, &error));
    g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, GIOS_LIST_ITEM_TYPE_UNICODE);
    str = gios_list_reader_get_string (reader, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (str, ==, euros->str);
  }
}

/* ------------------------------------------------------------------------ */
/* Integers (spec §4)                                                        */

typedef struct
{
  gint64 value;
  const char *c_core;           /* what the builder writes */
  const char *python;           /* the Python SDK's form, also read; or NULL */
} IntExample;

static const IntExample int_examples[] = {
  { 0, "02 04", NULL },
  { 1, "03 04 01", NULL },
  { 65, "03 04 41", NULL },
  { 127, "03 04 7F", NULL },
  { 128, "04 04 80 00", "03 04 80" },
  { 255, "04 04 FF 00", "03 04 FF" },
  { 256, "04 04 00 01", NULL },
  { 32768, "05 04 00 80 00", "04 04 00 80" },
  { 65535, "05 04 FF FF 00", "04 04 FF FF" },
  { G_MAXINT32, "06 04 FF FF FF 7F", NULL },
  { -1, "02 05", NULL },
  { -2, "03 05 FE", NULL },
  { -128, "03 05 80", NULL },
  { -129, "03 05 7F", NULL },
  { -256, "03 05 00", NULL },
  { -257, "04 05 FF FE", NULL },
  { -65536, "04 05 00 00", NULL },
  { -65537, "05 05 FF FF FE", NULL },
  { G_MININT32, "06 05 00 00 00 80", NULL },
  { G_MAXINT64, "0A 04 FF FF FF FF FF FF FF 7F", NULL },
  { G_MININT64, "0A 05 00 00 00 00 00 00 00 80", NULL },
};

static void
assert_reads_int (const char *hex,
                  gint64      value)
{
  g_autoptr(GiosListReader) reader = reader_on (hex, GIOS_LIST_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("[<int64 %" G_GINT64_FORMAT ">]", value);
  gint64 got = 0;
  gint64 mantissa = 1;
  gint8 exponent = 1;
  double d = 0;

  g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, GIOS_LIST_ITEM_TYPE_INTEGER);
  g_assert_true (gios_list_reader_get_int64 (reader, &got, &error));
  g_assert_no_error (error);
  g_assert_cmpint (got, ==, value);
  g_assert_true (gios_list_reader_get_decimal (reader, &mantissa, &exponent, &error));
  g_assert_cmpint (mantissa, ==, value);
  g_assert_cmpint (exponent, ==, 0);
  g_assert_true (gios_list_reader_get_double (reader, &d, &error));
  g_assert_cmpfloat (d, ==, (double) value);
  assert_at_end (reader);
  assert_decodes (hex, 0, text);
}

static void
test_integers (void)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (int_examples); i++)
    {
      const IntExample *ex = &int_examples[i];
      g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();

      g_test_message ("integer %" G_GINT64_FORMAT, ex->value);
      gios_list_builder_append_int64 (builder, ex->value);
      assert_builder_hex (builder, ex->c_core);
      assert_encodes (one (g_variant_new_int64 (ex->value)), 0, ex->c_core);
      assert_reads_int (ex->c_core, ex->value);
      if (ex->python != NULL)
        assert_reads_int (ex->python, ex->value);
    }

  /* Other integer types, booleans */
  assert_encodes (one (g_variant_new_byte (255)), 0, "04 04 FF 00");
  assert_encodes (one (g_variant_new_int16 (-129)), 0, "03 05 7F");
  assert_encodes (one (g_variant_new_uint16 (65535)), 0, "05 04 FF FF 00");
  assert_encodes (one (g_variant_new_int32 (G_MININT32)), 0, "06 05 00 00 00 80");
  assert_encodes (one (g_variant_new_uint32 (G_MAXUINT32)), 0, "07 04 FF FF FF FF 00");
  assert_encodes (one (g_variant_new_uint64 (G_MAXINT64)), 0, "0A 04 FF FF FF FF FF FF FF 7F");
  assert_encodes (one (g_variant_new_boolean (TRUE)), 0, "03 04 01");
  assert_encodes (one (g_variant_new_boolean (FALSE)), 0, "02 04");
  {
    g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();

    gios_list_builder_append_bool (builder, TRUE);
    gios_list_builder_append_bool (builder, FALSE);
    assert_builder_hex (builder, "03 04 01 02 04");
  }
  /* go-irisnative's false */
  assert_reads_int ("03 04 00", 0);
  /* non-minimal widths read too */
  assert_reads_int ("0A 04 01 00 00 00 00 00 00 00", 1);
  assert_reads_int ("0A 05 FF FF FF FF FF FF FF FF", -1);

  /* Beyond int64: 2^63 is written as its decimal digits. */
  assert_encodes (one (g_variant_new_uint64 (G_GUINT64_CONSTANT (9223372036854775808))), 0,
                  "15 01 39 32 32 33 33 37 32 30 33 36 38 35 34 37 37 35 38 30 38");
  assert_encodes (one (g_variant_new_uint64 (G_MAXUINT64)), 0,
                  "16 01 31 38 34 34 36 37 34 34 30 37 33 37 30 39 35 35 31 36 31 35");

  /* An 8-byte type 04 above INT64_MAX is read as unsigned. */
  {
    g_autoptr(GiosListReader) reader = reader_on ("0A 04 FF FF FF FF FF FF FF FF", 0);
    g_autoptr(GError) error = NULL;
    gint64 v;
    double d;

    g_assert_false (gios_list_reader_get_int64 (reader, &v, &error));
    g_assert_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED);
    g_assert_true (gios_list_reader_get_double (reader, &d, NULL));
    g_assert_cmpfloat (d, ==, 18446744073709551615.0);
    assert_decodes ("0A 04 FF FF FF FF FF FF FF FF", 0, "[<uint64 18446744073709551615>]");
  }
}

/* ------------------------------------------------------------------------ */
/* Decimals (spec §5)                                                        */

typedef struct
{
  gint64 mantissa;
  gint8 exponent;
  double value;
  const char *hex;
} DecimalExample;

static const DecimalExample decimal_examples[] = {
  { 15, -1, 1.5, "04 06 FF 0F" },
  { 314, -2, 3.14, "05 06 FE 3A 01" },
  { -314, -2, -3.14, "05 07 FE C6 FE" },
  { -15, -1, -1.5, "04 07 FF F1" },
  { 100, 0, 100, "04 06 00 64" },
  { -1, 0, -1, "03 07 00" },
  { -256, -1, -25.6, "04 07 FF 00" },
};

static void
assert_reads_decimal (const char *hex,
                      gint64      mantissa,
                      gint8       exponent,
                      double      value)
{
  g_autoptr(GiosListReader) reader = reader_on (hex, GIOS_LIST_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) expected = g_variant_ref_sink (one (g_variant_new_double (value)));
  g_autofree char *text = g_variant_print (expected, TRUE);
  gint64 m = 0;
  gint8 e = 0;
  double d = 0;

  g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, GIOS_LIST_ITEM_TYPE_DECIMAL);
  g_assert_true (gios_list_reader_get_decimal (reader, &m, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpint (m, ==, mantissa);
  g_assert_cmpint (e, ==, exponent);
  g_assert_true (gios_list_reader_get_double (reader, &d, &error));
  g_assert_cmpfloat (d, ==, value);
  assert_at_end (reader);
  assert_decodes (hex, 0, text);
}

static void
test_decimals (void)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (decimal_examples); i++)
    {
      const DecimalExample *ex = &decimal_examples[i];
      g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();

      g_test_message ("decimal %s", ex->hex);
      gios_list_builder_append_decimal (builder, ex->mantissa, ex->exponent);
      assert_builder_hex (builder, ex->hex);
      assert_reads_decimal (ex->hex, ex->mantissa, ex->exponent, ex->value);
    }

  /* The C core's un-normalised 1.5, and the Python SDK's decimal 0. */
  assert_reads_decimal ("07 06 F9 C0 E1 E4 00", 15000000, -7, 1.5);
  assert_reads_decimal ("04 06 00 00", 0, 0, 0);
  /* extremes of exponent and mantissa */
  assert_reads_decimal ("03 06 80", 0, -128, 0);
  assert_reads_decimal ("0B 06 7F FF FF FF FF FF FF FF 7F", G_MAXINT64, 127, 9.223372036854775807e145);
  assert_reads_decimal ("0B 07 EC 00 00 00 00 00 00 00 80", G_MININT64, -20, -0.09223372036854775808);
  assert_reads_decimal ("04 06 E9 07", 7, -23, 7e-23);
  {
    g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();

    gios_list_builder_append_decimal (builder, G_MAXINT64, 127);
    gios_list_builder_append_decimal (builder, 0, 0);
    assert_builder_hex (builder, "0B 06 7F FF FF FF FF FF FF FF 7F 03 06 00");
  }

  /* A whole-number decimal reads as an integer. */
  {
    static const struct { const char *hex; gint64 value; } whole[] = {
      { "04 06 00 64", 100 }, { "04 06 02 05", 500 }, { "05 06 FE 2C 01", 3 },
      { "03 07 03", -1000 }, { "04 06 00 00", 0 },
    };

    for (i = 0; i < G_N_ELEMENTS (whole); i++)
      {
        g_autoptr(GiosListReader) reader = reader_on (whole[i].hex, 0);
        gint64 v = 0;

        g_assert_true (gios_list_reader_get_int64 (reader, &v, NULL));
        g_assert_cmpint (v, ==, whole[i].value);
      }
  }
  {
    g_autoptr(GiosListReader) reader = reader_on ("04 06 FF 0F", 0);
    g_autoptr(GiosListReader) big = reader_on ("04 06 7F 01", 0);
    g_autoptr(GError) error = NULL;
    gint64 v;

    g_assert_false (gios_list_reader_get_int64 (reader, &v, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_clear_error (&error);
    g_assert_false (gios_list_reader_get_int64 (big, &v, &error));
    g_assert_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED);
  }
}

/* ------------------------------------------------------------------------ */
/* Doubles (spec §6)                                                         */

static double
double_from_bits (guint64 bits)
{
  double d;

  memcpy (&d, &bits, sizeof d);
  return d;
}

static guint64
double_bits (double d)
{
  guint64 bits;

  memcpy (&bits, &d, sizeof bits);
  return bits;
}

typedef struct
{
  guint64 bits;
  const char *plain;
  const char *compact;
} DoubleExample;

static const DoubleExample double_examples[] = {
  { G_GUINT64_CONSTANT (0x3FF8000000000000), "0A 08 00 00 00 00 00 00 F8 3F", "04 08 C0 3F" },           /* 1.5 */
  { G_GUINT64_CONSTANT (0x7FF8000000000000), "0A 08 00 00 00 00 00 00 F8 7F", "04 09 F8 7F" },        /* NaN */
  { G_GUINT64_CONSTANT (0x8000000000000000), "0A 08 00 00 00 00 00 00 00 80", "03 08 80" },           /* -0.0 */
  { G_GUINT64_CONSTANT (0x0000000000000000), "0A 08 00 00 00 00 00 00 00 00", "02 08" },              /* +0.0 */
  { G_GUINT64_CONSTANT (0x3FF0000000000000), "0A 08 00 00 00 00 00 00 F0 3F", "04 08 80 3F" },        /* 1.0 */
  { G_GUINT64_CONSTANT (0x4000000000000000), "0A 08 00 00 00 00 00 00 00 40", "03 08 40" },           /* 2.0 */
  { G_GUINT64_CONSTANT (0x7FF0000000000000), "0A 08 00 00 00 00 00 00 F0 7F", "04 08 80 7F" },        /* +Inf */
  { G_GUINT64_CONSTANT (0xFFF0000000000000), "0A 08 00 00 00 00 00 00 F0 FF", "04 08 80 FF" },        /* -Inf */
  { G_GUINT64_CONSTANT (0x47EFFFFFE0000000), "0A 08 00 00 00 E0 FF FF EF 47", "06 08 FF FF 7F 7F" },  /* FLT_MAX */
  { G_GUINT64_CONSTANT (0x3FB999999999999A), "0A 08 9A 99 99 99 99 99 B9 3F", "0A 09 9A 99 99 99 99 99 B9 3F" }, /* 0.1 */
};

static void
assert_reads_double (const char *hex,
                     guint64     bits)
{
  g_autoptr(GiosListReader) reader = reader_on (hex, GIOS_LIST_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = gios_test_hex_bytes (hex);
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) item = NULL;
  double d = 0;

  g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, GIOS_LIST_ITEM_TYPE_DOUBLE);
  g_assert_true (gios_list_reader_get_double (reader, &d, &error));
  g_assert_no_error (error);
  g_assert_cmphex (double_bits (d), ==, bits);
  assert_at_end (reader);

  value = gios_list_decode (bytes, &error);
  g_assert_no_error (error);
  item = g_variant_get_child_value (value, 0);
  g_variant_unref (g_steal_pointer (&value));
  value = g_variant_get_variant (item);
  g_assert_cmphex (double_bits (g_variant_get_double (value)), ==, bits);
}

static void
test_doubles (void)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (double_examples); i++)
    {
      const DoubleExample *ex = &double_examples[i];
      double d = double_from_bits (ex->bits);
      g_autoptr(GiosListBuilder) plain = gios_list_builder_new ();
      g_autoptr(GiosListBuilder) compact = gios_list_builder_new_with_flags (GIOS_LIST_FLAGS_COMPACT_DOUBLE);

      g_test_message ("double %s", ex->plain);
      gios_list_builder_append_double (plain, d);
      assert_builder_hex (plain, ex->plain);
      gios_list_builder_append_double (compact, d);
      assert_builder_hex (compact, ex->compact);
      assert_encodes (one (g_variant_new_double (d)), 0, ex->plain);
      assert_encodes (one (g_variant_new_double (d)), GIOS_LIST_FLAGS_COMPACT_DOUBLE, ex->compact);
      assert_reads_double (ex->plain, ex->bits);
      assert_reads_double (ex->compact, ex->bits);
    }

  g_assert_cmphex (double_bits (FLT_MAX), ==, G_GUINT64_CONSTANT (0x47EFFFFFE0000000));
  /* Decoding examples of the spec, and every payload size. */
  assert_reads_double ("04 09 F0 3F", G_GUINT64_CONSTANT (0x3FF0000000000000));
  assert_reads_double ("03 09 F0", G_GUINT64_CONSTANT (0xF000000000000000));
  g_assert_cmpfloat_with_epsilon (double_from_bits (G_GUINT64_CONSTANT (0xF000000000000000)), -3.1e231, 0.01e231);
  assert_reads_double ("02 09", 0);
  assert_reads_double ("06 08 00 00 80 3F", G_GUINT64_CONSTANT (0x3FF0000000000000));
  assert_reads_double ("0A 09 00 00 00 00 00 00 F0 3F", G_GUINT64_CONSTANT (0x3FF0000000000000));
  /* short binary32 payloads are the high bytes: 01 is 0x01000000 = 2^-125 */
  assert_reads_double ("03 08 01", G_GUINT64_CONSTANT (0x3820000000000000));
  g_assert_cmpfloat (double_from_bits (G_GUINT64_CONSTANT (0x3820000000000000)), ==, ldexp (1, -125));
}

/* ------------------------------------------------------------------------ */
/* Nested lists (spec §3) and the worked message example (spec §7)           */

static void
test_nested (void)
{
  g_autoptr(GiosListBuilder) inner = gios_list_builder_new ();
  g_autoptr(GiosListBuilder) outer = gios_list_builder_new ();
  g_autoptr(GBytes) inner_bytes = NULL;
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GiosListReader) reader = NULL;
  g_autoptr(GiosListReader) nested = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *str = NULL;
  gint64 v = 0;

  /* $LB("test",$LB(4)) */
  gios_list_builder_append_int64 (inner, 4);
  inner_bytes = gios_list_builder_end (inner);
  gios_list_builder_append_string (outer, "test");
  gios_list_builder_append_list (outer, inner_bytes);
  assert_builder_hex (outer, "06 01 74 65 73 74 05 01 03 04 04");
  assert_encodes (g_variant_new_parsed ("[<'test'>, <[<int64 4>]>]"), 0,
                  "06 01 74 65 73 74 05 01 03 04 04");

  reader = reader_on ("06 01 74 65 73 74 05 01 03 04 04", 0);
  str = gios_list_reader_get_string (reader, &error);
  g_assert_cmpstr (str, ==, "test");
  g_assert_true (gios_list_reader_next (reader, &error));
  g_assert_cmpuint (gios_list_reader_get_offset (reader), ==, 6);
  nested = gios_list_reader_recurse (reader, &error);
  g_assert_no_error (error);
  g_assert_true (gios_list_reader_next (nested, &error));
  g_assert_cmpuint (gios_list_reader_get_offset (nested), ==, 0);
  g_assert_true (gios_list_reader_get_int64 (nested, &v, &error));
  g_assert_cmpint (v, ==, 4);
  assert_at_end (nested);
  assert_at_end (reader);
  /* the decoder does not guess */
  assert_decodes ("06 01 74 65 73 74 05 01 03 04 04", 0, "[<'test'>, <'\\u0003\\u0004\\u0004'>]");

  /* $LB($LB()) and $LB(<empty list>) */
  gios_list_builder_append_undefined (inner);
  g_bytes_unref (inner_bytes);
  inner_bytes = gios_list_builder_end (inner);
  gios_list_builder_append_list (outer, inner_bytes);
  assert_builder_hex (outer, "03 01 01");
  gios_list_builder_append_list (outer, empty);
  assert_builder_hex (outer, "02 01");
  assert_encodes (g_variant_new_parsed ("[<[<@mv nothing>]>]"), 0, "03 01 01");
  assert_encodes (g_variant_new_parsed ("[<@av []>]"), 0, "02 01");

  g_clear_pointer (&nested, gios_list_reader_unref);
  g_clear_pointer (&reader, gios_list_reader_unref);
  reader = reader_on ("03 01 01", 0);
  nested = gios_list_reader_recurse (reader, &error);
  g_assert_true (gios_list_reader_next (nested, &error));
  g_assert_cmpint (gios_list_reader_get_item_type (nested), ==, GIOS_LIST_ITEM_TYPE_UNDEFINED);
  assert_at_end (nested);

  /* An empty list in SQL mode is `02 01`, read as NULL, and still recurses. */
  g_clear_pointer (&nested, gios_list_reader_unref);
  g_clear_pointer (&reader, gios_list_reader_unref);
  reader = reader_on ("02 01", GIOS_LIST_FLAGS_SQL_NULL);
  g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, GIOS_LIST_ITEM_TYPE_NULL);
  nested = gios_list_reader_recurse (reader, &error);
  g_assert_no_error (error);
  assert_at_end (nested);

  /* Nesting two deep, with a long inner list. */
  {
    g_autoptr(GVariant) items = g_variant_ref_sink (
      g_variant_new_parsed ("[<[<'a'>, <[<int64 -1>, <2.5>]>]>, <int64 7>]"));
    g_autoptr(GBytes) bytes = gios_list_encode (items, &error);

    g_assert_no_error (error);
    gios_test_assert_bytes_hex (bytes, "13 01 03 01 61 0E 01 02 05 0A 08 00 00 00 00 00 00 04 40 03 04 07");
  }

  /* Errors in nested items name both indices. */
  {
    g_autoptr(GVariant) items = g_variant_ref_sink (g_variant_new_parsed ("[<int64 1>, <[<'a'>, <('x', 1)>]>]"));
    g_autoptr(GBytes) bytes = gios_list_encode (items, &error);

    g_assert_null (bytes);
    g_assert_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED);
    g_assert_nonnull (strstr (error->message, "item 1"));
    g_assert_nonnull (strstr (error->message, "Item 1 "));
    g_assert_nonnull (strstr (error->message, "(si)"));
  }
}

static void
test_message_payload (void)
{
  g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();
  const char *hex =
    "11 01 25 53 59 53 54 45 4D 2E 56 65 72 73 69 6F 6E "
    "0C 01 47 65 74 56 65 72 73 69 6F 6E "
    "02 04";

  gios_list_builder_append_string (builder, "%SYSTEM.Version");
  gios_list_builder_append_string (builder, "GetVersion");
  gios_list_builder_append_int64 (builder, 0);
  g_assert_cmpuint (gios_list_builder_get_size (builder), ==, 31);
  assert_builder_hex (builder, hex);
  assert_decodes (hex, 0, "[<'%SYSTEM.Version'>, <'GetVersion'>, <int64 0>]");
  assert_decodes ("16 01 49 52 49 53 20 66 6F 72 20 55 4E 49 58 20 32 30 32 34 2E 31", 0,
                  "[<'IRIS for UNIX 2024.1'>]");
}

/* ------------------------------------------------------------------------ */
/* Null and empty conventions (spec §3)                                      */

static void
assert_item_type (const char       *hex,
                  GiosListFlags     flags,
                  GiosListItemType  type)
{
  g_autoptr(GiosListReader) reader = reader_on (hex, flags);

  g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, type);
  assert_at_end (reader);
}

static void
test_sql_null (void)
{
  const GiosListFlags sql = GIOS_LIST_FLAGS_SQL_NULL;
  g_autoptr(GiosListBuilder) builder = gios_list_builder_new_with_flags (sql);
  g_autoptr(GiosListBuilder) plain = gios_list_builder_new ();
  g_autoptr(GiosListReader) reader = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *str = NULL;

  g_assert_cmpint (gios_list_builder_get_flags (builder), ==, sql);

  /* writing */
  gios_list_builder_append_null (builder);
  gios_list_builder_append_string (builder, "");
  gios_list_builder_append_bytes (builder, NULL, 0);
  gios_list_builder_append_undefined (builder);
  assert_builder_hex (builder, "02 01 03 01 00 03 01 00 01");
  gios_list_builder_append_null (plain);
  gios_list_builder_append_string (plain, "");
  gios_list_builder_append_undefined (plain);
  assert_builder_hex (plain, "01 02 01 01");
  assert_encodes (g_variant_new_parsed ("[<@ms nothing>, <''>, <@mv nothing>]"), sql, "02 01 03 01 00 01");
  assert_encodes (g_variant_new_parsed ("[<@ms nothing>, <''>, <@mv nothing>]"), 0, "01 02 01 01");
  assert_encodes (g_variant_new_parsed ("[<@ms 'a'>, <@mx 5>]"), 0, "03 01 61 03 04 05");

  /* reading: `01`, `02 01` and `03 01 00` stay apart in both modes */
  assert_item_type ("01", 0, GIOS_LIST_ITEM_TYPE_UNDEFINED);
  assert_item_type ("01", sql, GIOS_LIST_ITEM_TYPE_UNDEFINED);
  assert_item_type ("02 01", 0, GIOS_LIST_ITEM_TYPE_STRING);
  assert_item_type ("02 01", sql, GIOS_LIST_ITEM_TYPE_NULL);
  assert_item_type ("03 01 00", 0, GIOS_LIST_ITEM_TYPE_STRING);
  assert_item_type ("03 01 00", sql, GIOS_LIST_ITEM_TYPE_STRING);
  assert_item_type ("02 00", 0, GIOS_LIST_ITEM_TYPE_NULL);
  assert_item_type ("02 00", sql, GIOS_LIST_ITEM_TYPE_NULL);
  assert_item_type ("02 02", sql, GIOS_LIST_ITEM_TYPE_UNICODE);

  assert_decodes ("01 02 01 03 01 00 02 00", 0, "[<@mv nothing>, <''>, <@ay [0x00]>, <@ms nothing>]");
  assert_decodes ("01 02 01 03 01 00 02 00", sql, "[<@mv nothing>, <@ms nothing>, <''>, <@ms nothing>]");

  reader = reader_on ("03 01 00", sql);
  str = gios_list_reader_get_string (reader, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (str, ==, "");
  g_clear_pointer (&reader, gios_list_reader_unref);

  /* A NUL character is no UTF-8 string in the ObjectScript view. */
  reader = reader_on ("03 01 00", 0);
  g_assert_null (gios_list_reader_get_string (reader, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_clear_pointer (&reader, gios_list_reader_unref);

  reader = reader_on ("02 01", sql);
  g_assert_null (gios_list_reader_get_string (reader, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

/* ------------------------------------------------------------------------ */
/* Reader and builder API                                                     */

static void
test_reader_api (void)
{
  g_autoptr(GBytes) bytes = gios_test_hex_bytes ("01 03 04 05 04 02 41 00 0A 08 00 00 00 00 00 00 F8 3F 03 01 41");
  g_autoptr(GiosListReader) reader = gios_list_reader_new (bytes);
  g_autoptr(GiosListReader) copy = NULL;
  g_autoptr(GError) error = NULL;
  const gsize offsets[] = { 0, 1, 4, 8, 18 };
  const GiosListItemType types[] = {
    GIOS_LIST_ITEM_TYPE_UNDEFINED, GIOS_LIST_ITEM_TYPE_INTEGER, GIOS_LIST_ITEM_TYPE_UNICODE,
    GIOS_LIST_ITEM_TYPE_DOUBLE, GIOS_LIST_ITEM_TYPE_STRING,
  };
  gsize i, len = 99;
  gint64 v;
  double d;
  char *str;

  g_assert_true (G_TYPE_IS_BOXED (GIOS_TYPE_LIST_READER));
  g_assert_true (G_TYPE_IS_BOXED (GIOS_TYPE_LIST_BUILDER));
  g_assert_true (G_TYPE_IS_ENUM (GIOS_TYPE_LIST_ITEM_TYPE));
  g_assert_true (G_TYPE_IS_FLAGS (GIOS_TYPE_LIST_FLAGS));
  copy = g_boxed_copy (GIOS_TYPE_LIST_READER, reader);
  g_assert_true (copy == reader);
  g_boxed_free (GIOS_TYPE_LIST_READER, g_steal_pointer (&copy));

  /* before the first element */
  g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, GIOS_LIST_ITEM_TYPE_INVALID);
  g_assert_null (gios_list_reader_get_bytes (reader, &len));
  g_assert_cmpuint (len, ==, 0);
  g_assert_false (gios_list_reader_get_int64 (reader, &v, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  for (i = 0; i < G_N_ELEMENTS (offsets); i++)
    {
      g_assert_true (gios_list_reader_next (reader, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (gios_list_reader_get_offset (reader), ==, offsets[i]);
      g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, types[i]);

      /* asking for the wrong kind names the offset */
      if (types[i] != GIOS_LIST_ITEM_TYPE_INTEGER && types[i] != GIOS_LIST_ITEM_TYPE_DOUBLE)
        {
          g_autofree char *needle = g_strdup_printf ("offset %zu", offsets[i]);

          g_assert_false (gios_list_reader_get_double (reader, &d, &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          g_assert_nonnull (strstr (error->message, needle));
          g_clear_error (&error);
        }
      if (types[i] != GIOS_LIST_ITEM_TYPE_STRING && types[i] != GIOS_LIST_ITEM_TYPE_UNICODE)
        {
          g_assert_null (gios_list_reader_get_string (reader, &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          g_clear_error (&error);
        }
      if (types[i] != GIOS_LIST_ITEM_TYPE_STRING)
        {
          g_assert_null (gios_list_reader_recurse (reader, &error));
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
          g_clear_error (&error);
        }
    }
  str = gios_list_reader_get_string (reader, &error);
  g_assert_cmpstr (str, ==, "A");
  g_free (str);
  g_assert_cmpmem (gios_list_reader_get_bytes (reader, &len), len, "A", 1);

  /* at the end, and staying there */
  for (i = 0; i < 3; i++)
    {
      g_assert_false (gios_list_reader_next (reader, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (gios_list_reader_get_offset (reader), ==, g_bytes_get_size (bytes));
    }

  /* A double is not exact. */
  {
    g_autoptr(GiosListReader) dbl = reader_on ("03 09 F0", 0);
    gint64 m;
    gint8 e;

    g_assert_false (gios_list_reader_get_decimal (dbl, &m, &e, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  }
}

static void
test_builder_api (void)
{
  g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();
  g_autoptr(GiosListBuilder) ref = gios_list_builder_ref (builder);
  g_autoptr(GBytes) empty = NULL;
  guint round;

  gios_list_builder_unref (g_steal_pointer (&ref));
  empty = gios_list_builder_end (builder);
  g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);

  /* A builder is reused after end(), many times, growing from empty. */
  for (round = 0; round < 3; round++)
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GiosListReader) reader = NULL;
      guint i;
      gint64 v;

      for (i = 0; i < 1000; i++)
        gios_list_builder_append_int64 (builder, (gint64) i * 1000003 - 500000000);
      bytes = gios_list_builder_end (builder);
      reader = gios_list_reader_new (bytes);
      for (i = 0; i < 1000; i++)
        {
          g_assert_true (gios_list_reader_next (reader, NULL));
          g_assert_true (gios_list_reader_get_int64 (reader, &v, NULL));
          g_assert_cmpint (v, ==, (gint64) i * 1000003 - 500000000);
        }
      assert_at_end (reader);
    }
}

static void
test_variant_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) not_av = g_variant_ref_sink (g_variant_new_parsed ("[1, 2]"));
  g_autoptr(GVariant) dict = g_variant_ref_sink (g_variant_new_parsed ("[<'a'>, <{'k': <1>}>]"));
  g_autoptr(GVariant) path = g_variant_ref_sink (g_variant_new_parsed ("[<objectpath '/a'>]"));
  g_autoptr(GVariant) boxed = g_variant_ref_sink (g_variant_new_parsed ("[<<<int64 5>>>]"));
  g_autoptr(GBytes) bytes = NULL;

  g_assert_null (gios_list_encode (not_av, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "ai"));
  g_clear_error (&error);

  g_assert_null (gios_list_encode (dict, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "Item 1"));
  g_clear_error (&error);

  g_assert_null (gios_list_encode (path, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "Item 0"));
  g_clear_error (&error);

  bytes = gios_list_encode (boxed, &error);
  g_assert_no_error (error);
  gios_test_assert_bytes_hex (bytes, "03 04 05");
}

/* ------------------------------------------------------------------------ */
/* Random round trips                                                        */

/* A random string of @n characters from a mix of ranges; never U+0000. */
static char *
random_text (gsize    n,
             gunichar max_char)
{
  GString *out = g_string_sized_new (n);
  gsize i;

  for (i = 0; i < n; i++)
    {
      gunichar c;

      switch (g_test_rand_int_range (0, max_char > 0xFF ? 4 : 2))
        {
        case 0: c = g_test_rand_int_range (1, 0x80); break;
        case 1: c = g_test_rand_int_range (1, 0x100); break;
        case 2: c = g_test_rand_int_range (0x100, 0xD800); break;
        default: c = g_test_rand_int_range (0x10000, 0x110000); break;
        }
      g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

static gint64
random_int64 (void)
{
  static const gint64 special[] = {
    0, 1, -1, 127, 128, -128, -129, 255, 256, -256, -257, 32767, 32768, 65535, 65536,
    -65536, -65537, G_MAXINT32, G_MININT32, G_MAXINT64, G_MININT64, G_MAXINT64 - 1, G_MININT64 + 1,
  };
  int bits;

  if (g_test_rand_bit ())
    return special[g_test_rand_int_range (0, G_N_ELEMENTS (special))];
  bits = g_test_rand_int_range (0, 64);
  return (gint64) (((guint64) g_test_rand_int () << 32 | (guint32) g_test_rand_int ()) >> bits);
}

static double
random_double (void)
{
  static const guint64 special[] = {
    G_GUINT64_CONSTANT (0x7FF8000000000000), G_GUINT64_CONSTANT (0xFFF8000000000001),
    G_GUINT64_CONSTANT (0x8000000000000000), 0, G_GUINT64_CONSTANT (0x7FF0000000000000),
    G_GUINT64_CONSTANT (0xFFF0000000000000), 1, G_GUINT64_CONSTANT (0x3FF0000000000000),
  };

  switch (g_test_rand_int_range (0, 3))
    {
    case 0:
      return double_from_bits (special[g_test_rand_int_range (0, G_N_ELEMENTS (special))]);
    case 1:
      return (float) g_test_rand_double_range (-1e6, 1e6);
    default:
      return double_from_bits ((guint64) g_test_rand_int () << 32 | (guint32) g_test_rand_int ());
    }
}

/* The variant gios_list_decode() gives for an 8-bit payload. */
static GVariant *
expected_8bit (const guint8 *p,
               gsize         len)
{
  g_autofree char *utf8 = NULL;

  if (len == 0)
    return g_variant_new_string ("");
  if (memchr (p, 0, len) != NULL)
    return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, p, len, 1);
  utf8 = g_convert ((const char *) p, len, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
  return g_variant_new_string (utf8);
}

typedef struct
{
  GVariantBuilder input;        /* what is encoded */
  GVariantBuilder expected;     /* what decoding gives back */
  GiosListBuilder *builder;     /* the same items, through the builder */
  GPtrArray *checks;            /* how to check each element with the reader */
} RandomList;

typedef struct
{
  GiosListItemType type;
  gint64 i;
  gint8 e;
  double d;
  char *str;
  GBytes *raw;
} Check;

static void
check_free (Check *check)
{
  g_free (check->str);
  g_clear_pointer (&check->raw, g_bytes_unref);
  g_free (check);
}

static GBytes *random_list (GiosListFlags flags, int depth, GVariant **input, GVariant **expected, GPtrArray **checks);

static void
random_item (RandomList    *list,
             GiosListFlags  flags,
             int            depth)
{
  Check *check = g_new0 (Check, 1);
  GVariant *in = NULL, *out = NULL;
  int kind = g_test_rand_int_range (0, depth < 2 ? 9 : 8);

  /* decimals only at the top, where the encoder comparison skips them */
  if (kind == 4 && depth > 0)
    kind = 0;
  switch (kind)
    {
    case 0:
      check->type = GIOS_LIST_ITEM_TYPE_INTEGER;
      check->i = random_int64 ();
      in = g_variant_new_int64 (check->i);
      out = g_variant_new_int64 (check->i);
      gios_list_builder_append_int64 (list->builder, check->i);
      break;
    case 1:
      check->type = GIOS_LIST_ITEM_TYPE_DOUBLE;
      check->d = random_double ();
      in = g_variant_new_double (check->d);
      out = g_variant_new_double (check->d);
      gios_list_builder_append_double (list->builder, check->d);
      break;
    case 2:
      {
        static const gsize lengths[] = { 0, 1, 2, 100, 253, 254, 65534, 65535 };
        gsize n = lengths[g_test_rand_int_range (0, G_N_ELEMENTS (lengths))];
        gboolean wide = g_test_rand_bit ();

        check->str = random_text (wide ? n / 3 : n, wide ? 0x10FFFF : 0xFF);
        check->type = GIOS_LIST_ITEM_TYPE_STRING;
        for (const char *s = check->str; *s != '\0'; s = g_utf8_next_char (s))
          if (g_utf8_get_char (s) > 0xFF)
            check->type = GIOS_LIST_ITEM_TYPE_UNICODE;
        in = g_variant_new_string (check->str);
        out = g_variant_new_string (check->str);
        gios_list_builder_append_string (list->builder, check->str);
        break;
      }
    case 3:
      {
        gsize n = g_test_rand_int_range (1, 300);
        guint8 *data = g_malloc (n);
        gsize k;

        for (k = 0; k < n; k++)
          data[k] = (guint8) g_test_rand_int_range (0, 256);
        data[g_test_rand_int_range (0, n)] = 0;
        check->type = GIOS_LIST_ITEM_TYPE_STRING;
        check->raw = g_bytes_new_take (data, n);
        in = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, n, 1);
        out = (flags & GIOS_LIST_FLAGS_SQL_NULL) && n == 1
          ? g_variant_new_string ("") : expected_8bit (data, n);
        gios_list_builder_append_bytes (list->builder, data, n);
        break;
      }
    case 4:
      check->type = GIOS_LIST_ITEM_TYPE_DECIMAL;
      check->i = random_int64 ();
      check->e = (gint8) g_test_rand_int_range (-128, 128);
      in = NULL;
      gios_list_builder_append_decimal (list->builder, check->i, check->e);
      break;
    case 5:
      check->type = GIOS_LIST_ITEM_TYPE_UNDEFINED;
      in = g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
      out = g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
      gios_list_builder_append_undefined (list->builder);
      break;
    case 6:
      check->type = GIOS_LIST_ITEM_TYPE_INTEGER;
      check->i = g_test_rand_bit ();
      in = g_variant_new_boolean (check->i);
      out = g_variant_new_int64 (check->i);
      gios_list_builder_append_bool (list->builder, check->i);
      break;
    case 7:
      check->type = (flags & GIOS_LIST_FLAGS_SQL_NULL) ? GIOS_LIST_ITEM_TYPE_NULL : GIOS_LIST_ITEM_TYPE_UNDEFINED;
      in = g_variant_new_maybe (G_VARIANT_TYPE_STRING, NULL);
      out = (flags & GIOS_LIST_FLAGS_SQL_NULL)
        ? g_variant_new_maybe (G_VARIANT_TYPE_STRING, NULL)
        : g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
      gios_list_builder_append_null (list->builder);
      break;
    default:
      {
        GVariant *inner_in, *inner_out;
        GPtrArray *inner_checks;
        g_autoptr(GBytes) inner = random_list (flags, depth + 1, &inner_in, &inner_out, &inner_checks);
        const guint8 *p;
        gsize n;

        g_variant_unref (inner_out);
        g_ptr_array_unref (inner_checks);
        p = g_bytes_get_data (inner, &n);
        check->type = GIOS_LIST_ITEM_TYPE_STRING;
        check->raw = g_bytes_ref (inner);
        in = inner_in;
        out = n == 0 && (flags & GIOS_LIST_FLAGS_SQL_NULL)
          ? g_variant_new_maybe (G_VARIANT_TYPE_STRING, NULL) : expected_8bit (p, n);
        if (n == 0 && (flags & GIOS_LIST_FLAGS_SQL_NULL))
          check->type = GIOS_LIST_ITEM_TYPE_NULL;
        gios_list_builder_append_list (list->builder, inner);
        break;
      }
    }

  if (check->type == GIOS_LIST_ITEM_TYPE_DECIMAL)
    {
      /* no GVariant writes a decimal: encode its double instead */
      g_autoptr(GiosListBuilder) scratch = gios_list_builder_new ();
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GiosListReader) reader = NULL;

      gios_list_builder_append_decimal (scratch, check->i, check->e);
      bytes = gios_list_builder_end (scratch);
      reader = gios_list_reader_new (bytes);
      g_assert_true (gios_list_reader_next (reader, NULL));
      g_assert_true (gios_list_reader_get_double (reader, &check->d, NULL));
      out = g_variant_new_double (check->d);
    }
  else
    g_variant_builder_add (&list->input, "v", in);
  g_variant_builder_add (&list->expected, "v", out);
  g_ptr_array_add (list->checks, check);
}

/* Makes a random list through the builder, and the `av` that encodes to
 * the same bytes (decimals aside), the `av` that decoding gives, and the
 * checks of each element. */
static GBytes *
random_list (GiosListFlags   flags,
             int             depth,
             GVariant      **input,
             GVariant      **expected,
             GPtrArray     **checks)
{
  RandomList list;
  int n = g_test_rand_int_range (0, depth == 0 ? 30 : 5);
  GBytes *bytes;

  g_variant_builder_init (&list.input, G_VARIANT_TYPE ("av"));
  g_variant_builder_init (&list.expected, G_VARIANT_TYPE ("av"));
  list.builder = gios_list_builder_new_with_flags (flags);
  list.checks = g_ptr_array_new_with_free_func ((GDestroyNotify) check_free);
  while (n-- > 0)
    random_item (&list, flags, depth);
  bytes = gios_list_builder_end (list.builder);
  gios_list_builder_unref (list.builder);
  *input = g_variant_builder_end (&list.input);
  *expected = g_variant_ref_sink (g_variant_builder_end (&list.expected));
  *checks = list.checks;
  return bytes;
}

static void
check_with_reader (GBytes        *bytes,
                   GiosListFlags  flags,
                   GPtrArray     *checks)
{
  g_autoptr(GiosListReader) reader = gios_list_reader_new_with_flags (bytes, flags);
  g_autoptr(GError) error = NULL;
  guint i;

  for (i = 0; i < checks->len; i++)
    {
      const Check *check = checks->pdata[i];
      gint64 v = 0, m = 0;
      gint8 e = 0;
      double d = 0;

      g_assert_true (gios_list_reader_next (reader, &error));
      g_assert_no_error (error);
      g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, check->type);
      switch (check->type)
        {
        case GIOS_LIST_ITEM_TYPE_INTEGER:
          g_assert_true (gios_list_reader_get_int64 (reader, &v, &error));
          g_assert_cmpint (v, ==, check->i);
          break;
        case GIOS_LIST_ITEM_TYPE_DOUBLE:
          g_assert_true (gios_list_reader_get_double (reader, &d, &error));
          g_assert_cmphex (double_bits (d), ==, double_bits (check->d));
          break;
        case GIOS_LIST_ITEM_TYPE_DECIMAL:
          g_assert_true (gios_list_reader_get_decimal (reader, &m, &e, &error));
          g_assert_cmpint (m, ==, check->i);
          g_assert_cmpint (e, ==, check->e);
          break;
        case GIOS_LIST_ITEM_TYPE_STRING:
        case GIOS_LIST_ITEM_TYPE_UNICODE:
          if (check->raw != NULL)
            {
              gsize len;
              const guint8 *p = gios_list_reader_get_bytes (reader, &len);

              if ((flags & GIOS_LIST_FLAGS_SQL_NULL) && g_bytes_get_size (check->raw) == 0)
                g_assert_cmpmem (p, len, "", 1);
              else
                g_assert_cmpmem (p, len, g_bytes_get_data (check->raw, NULL), g_bytes_get_size (check->raw));
            }
          else
            {
              g_autofree char *str = gios_list_reader_get_string (reader, &error);

              g_assert_cmpstr (str, ==, check->str);
            }
          break;
        default:
          break;
        }
      g_assert_no_error (error);
    }
  assert_at_end (reader);
}

static void
test_round_trip (gconstpointer data)
{
  GiosListFlags flags = GPOINTER_TO_UINT (data);
  guint iterations = g_test_thorough () ? 2000 : 60;
  guint round;

  for (round = 0; round < iterations; round++)
    {
      GVariant *input, *expected;
      g_autoptr(GVariant) input_sunk = NULL;
      g_autoptr(GVariant) expected_sunk = NULL;
      g_autoptr(GPtrArray) checks = NULL;
      g_autoptr(GBytes) bytes = random_list (flags, 0, &input, &expected, &checks);
      g_autoptr(GVariant) decoded = NULL;
      g_autoptr(GError) error = NULL;

      input_sunk = g_variant_ref_sink (input);
      expected_sunk = expected;

      check_with_reader (bytes, flags, checks);

      decoded = gios_list_decode_with_flags (bytes, flags, &error);
      g_assert_no_error (error);
      if (!g_variant_equal (decoded, expected_sunk))
        {
          g_autofree char *got = g_variant_print (decoded, TRUE);
          g_autofree char *want = g_variant_print (expected_sunk, TRUE);

          g_error ("round %u: decoded\n  %.2000s\nexpected\n  %.2000s", round, got, want);
        }

      /* Without decimals the GVariant encoder writes the builder's bytes. */
      if (g_variant_n_children (input_sunk) == checks->len)
        {
          g_autoptr(GBytes) encoded = gios_list_encode_with_flags (input_sunk, flags, &error);

          g_assert_no_error (error);
          g_assert_true (g_bytes_equal (encoded, bytes));
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Decoding into one serialised GVariant                                     */

/* The tree of one GVariant per item that gios_list_decode() built before it
 * wrote the serialised form itself, on the public reader API: the oracle of
 * the tests below.  GLib serialises its result, so comparing the two with
 * g_variant_equal() compares gios_list_decode()'s bytes with GLib's. */
static GVariant *
reference_decode (GBytes         *bytes,
                  GiosListFlags   flags,
                  GError        **error)
{
  g_autoptr(GiosListReader) reader = gios_list_reader_new_with_flags (bytes, flags);
  g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  GError *local_error = NULL;

  while (gios_list_reader_next (reader, &local_error))
    {
      GVariant *value = NULL;
      const guint8 *p;
      gsize len;
      gint64 i;
      guint64 u;
      double d;
      char *str;

      switch (gios_list_reader_get_item_type (reader))
        {
        case GIOS_LIST_ITEM_TYPE_UNDEFINED:
          value = g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
          break;
        case GIOS_LIST_ITEM_TYPE_NULL:
          value = g_variant_new_maybe (G_VARIANT_TYPE_STRING, NULL);
          break;
        case GIOS_LIST_ITEM_TYPE_STRING:
          p = gios_list_reader_get_bytes (reader, &len);
          if (!((flags & GIOS_LIST_FLAGS_SQL_NULL) && len == 1 && p[0] == 0) &&
              memchr (p, 0, len) != NULL)
            {
              value = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, p, len, 1);
              break;
            }
          G_GNUC_FALLTHROUGH;
        case GIOS_LIST_ITEM_TYPE_UNICODE:
          str = gios_list_reader_get_string (reader, &local_error);
          if (str != NULL)
            value = g_variant_new_take_string (str);
          break;
        case GIOS_LIST_ITEM_TYPE_INTEGER:
          if (gios_list_reader_get_int64 (reader, &i, NULL))
            value = g_variant_new_int64 (i);
          else
            {
              /* above G_MAXINT64: an 8-byte type 04 */
              p = gios_list_reader_get_bytes (reader, &len);
              g_assert_cmpuint (len, ==, sizeof u);
              memcpy (&u, p, sizeof u);
              value = g_variant_new_uint64 (GUINT64_FROM_LE (u));
            }
          break;
        case GIOS_LIST_ITEM_TYPE_DECIMAL:
        case GIOS_LIST_ITEM_TYPE_DOUBLE:
          g_assert_true (gios_list_reader_get_double (reader, &d, NULL));
          value = g_variant_new_double (d);
          break;
        default:
          g_assert_not_reached ();
        }
      if (value == NULL)
        break;
      g_ptr_array_add (children, g_variant_ref_sink (g_variant_new_variant (value)));
    }
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  return g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARIANT, (GVariant **) children->pdata,
                                                  children->len));
}

/* gios_list_decode_with_flags() gives what reference_decode() gives, value
 * or error, in normal form and within 16 times the size of @bytes. */
static void
assert_decodes_as_reference (GBytes        *bytes,
                             GiosListFlags  flags)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) expected_error = NULL;
  g_autoptr(GVariant) value = gios_list_decode_with_flags (bytes, flags, &error);
  g_autoptr(GVariant) expected = reference_decode (bytes, flags, &expected_error);
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GVariant) untrusted = NULL;
  GVariantIter iter;
  GVariant *child;
  gsize i = 0;

  if (expected == NULL)
    {
      g_assert_null (value);
      g_assert_error (error, expected_error->domain, expected_error->code);
      g_assert_cmpstr (error->message, ==, expected_error->message);
      return;
    }

  g_assert_no_error (error);
  g_assert_nonnull (value);
  g_assert_false (g_variant_is_floating (value));
  if (!g_variant_equal (value, expected))
    {
      g_autofree char *got = g_variant_print (value, TRUE);
      g_autofree char *want = g_variant_print (expected, TRUE);

      g_error ("decoded\n  %.2000s\nexpected\n  %.2000s", got, want);
    }
  g_assert_cmpuint (g_variant_get_size (value), <=, 16 * g_bytes_get_size (bytes));

  /* GLib takes the word of trusted data: check the normal form on a copy
   * that is not trusted. */
  data = g_variant_get_data_as_bytes (value);
  untrusted = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("av"), data, FALSE));
  g_assert_true (g_variant_is_normal_form (untrusted));

  /* The children made on access are the expected ones. */
  g_variant_iter_init (&iter, value);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) want = g_variant_get_child_value (expected, i++);

      g_assert_true (g_variant_equal (child, want));
      g_variant_unref (child);
    }
  g_assert_cmpuint (i, ==, g_variant_n_children (expected));
}

static void
assert_hex_decodes_as_reference (const char    *hex,
                                 GiosListFlags  flags)
{
  g_autoptr(GBytes) bytes = gios_test_hex_bytes (hex);

  g_test_message ("%s", hex);
  assert_decodes_as_reference (bytes, flags);
}

/* Every kind of element, alone and among others whose sizes leave every
 * amount of padding, in both modes; errors too. */
static void
test_decode_kinds (void)
{
  static const char *elements[] = {
    "01",                                       /* undefined */
    "02 00",                                    /* placeholder */
    "02 01", "03 01 00", "03 01 41", "04 01 00 41", "03 01 E9", "05 01 FF 80 7F",
    "07 01 68 65 6C 6C 6F", "00 04 00 01 61 62 63", "00 00 00 04 00 00 00 01 61 62 63",
    "04 02 41 00", "0A 02 DB 03 41 00 42 00 43 00", "06 02 3D D8 1F DD", "04 02 AC 20",
    "02 04", "03 04 7F", "04 04 80 00", "02 05", "03 05 00", "0A 04 FF FF FF FF FF FF FF 7F",
    "0A 04 00 00 00 00 00 00 00 80", "0A 04 FF FF FF FF FF FF FF FF", "0A 05 00 00 00 00 00 00 00 80",
    "04 06 FF 0F", "05 06 FE 3A 01", "04 07 FF 00", "0B 06 00 00 00 00 00 00 00 00 80",
    "0A 08 00 00 00 00 00 00 F8 3F", "02 08", "04 08 80 3F", "03 08 80", "04 09 F8 7F",
    "0A 09 9A 99 99 99 99 99 B9 3F", "02 09", "0A 08 01 00 00 00 00 00 F8 7F",
    "",
  };
  static const char *errors[] = {
    "04 02 00 D8", "04 02 00 00", "06 02 00 D8 41 00", "03 02 41", "03 03 41", "0B 04 00 00 00 00 00 00 00 00 00",
    "02 06", "07 08 00 00 00 00 00", "0A 05 FF FF FF FF FF FF FF 7F", "09 01", "00 00", "00 00 00 00 00 00 00",
  };
  static const GiosListFlags modes[] = { GIOS_LIST_FLAGS_NONE, GIOS_LIST_FLAGS_SQL_NULL };
  gsize m, i, j;

  for (m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      for (i = 0; i < G_N_ELEMENTS (elements); i++)
        {
          assert_hex_decodes_as_reference (elements[i], modes[m]);
          for (j = 0; j < G_N_ELEMENTS (elements); j++)
            {
              g_autofree char *two = g_strconcat (elements[i], " ", elements[j], NULL);
              g_autofree char *three = g_strconcat (two, " ", elements[i], NULL);

              assert_hex_decodes_as_reference (two, modes[m]);
              assert_hex_decodes_as_reference (three, modes[m]);
            }
        }
      for (i = 0; i < G_N_ELEMENTS (errors); i++)
        {
          g_autofree char *after = g_strconcat ("03 04 01 01 ", errors[i], NULL);

          assert_hex_decodes_as_reference (errors[i], modes[m]);
          assert_hex_decodes_as_reference (after, modes[m]);
        }
    }
}

/* A list of @n copies of @element, and @tail. */
static GBytes *
repeated_list (const guint8 *element,
               gsize         element_len,
               gsize         n,
               const guint8 *tail,
               gsize         tail_len)
{
  GByteArray *array = g_byte_array_sized_new (element_len * n + tail_len);
  gsize i;

  for (i = 0; i < n; i++)
    g_byte_array_append (array, element, element_len);
  g_byte_array_append (array, tail, tail_len);
  return g_byte_array_free_to_bytes (array);
}

/* The width of the framing offsets grows with the size of the whole array:
 * 1 byte up to 255 bytes, 2 up to 65535.  Strings and runs of small items
 * on both sides of each step. */
static void
test_decode_offset_sizes (void)
{
  static const struct { gsize from, to; } string_lengths[] = { { 240, 262 }, { 65515, 65545 } };
  static const struct { gsize from, to; } counts[] = { { 20, 40 }, { 6540, 6560 } };
  static const guint8 undefined[] = { 0x01 };
  static const guint8 small_int[] = { 0x03, 0x04, 0x2A };
  static const guint8 latin1[] = { 0x03, 0x01, 0xE9 };
  gsize r, n;

  for (r = 0; r < G_N_ELEMENTS (string_lengths); r++)
    for (n = string_lengths[r].from; n <= string_lengths[r].to; n++)
      {
        g_autofree char *text = g_strnfill (n, 'a');
        g_autoptr(GiosListBuilder) builder = gios_list_builder_new ();
        g_autoptr(GBytes) bytes = NULL;

        gios_list_builder_append_string (builder, text);
        bytes = gios_list_builder_end (builder);
        assert_decodes_as_reference (bytes, GIOS_LIST_FLAGS_NONE);

        /* the same with an item before it and after it */
        gios_list_builder_append_int64 (builder, 5);
        gios_list_builder_append_string (builder, text);
        gios_list_builder_append_undefined (builder);
        g_clear_pointer (&bytes, g_bytes_unref);
        bytes = gios_list_builder_end (builder);
        assert_decodes_as_reference (bytes, GIOS_LIST_FLAGS_NONE);
      }

  for (r = 0; r < G_N_ELEMENTS (counts); r++)
    for (n = counts[r].from; n <= counts[r].to; n++)
      {
        g_autoptr(GBytes) undefined_run = repeated_list (undefined, 1, n, NULL, 0);
        g_autoptr(GBytes) int_run = repeated_list (small_int, 3, n / 2, latin1, 3);
        g_autoptr(GBytes) latin1_run = repeated_list (latin1, 3, n / 2, undefined, 1);

        assert_decodes_as_reference (undefined_run, GIOS_LIST_FLAGS_NONE);
        assert_decodes_as_reference (int_run, GIOS_LIST_FLAGS_NONE);
        assert_decodes_as_reference (latin1_run, GIOS_LIST_FLAGS_NONE);
      }
}

/* Random lists of every kind, nested lists among them, in every mode. */
static void
test_decode_random (void)
{
  static const GiosListFlags modes[] = {
    GIOS_LIST_FLAGS_NONE, GIOS_LIST_FLAGS_COMPACT_DOUBLE,
    GIOS_LIST_FLAGS_SQL_NULL | GIOS_LIST_FLAGS_COMPACT_DOUBLE,
  };
  guint iterations = g_test_thorough () ? 3000 : 150;
  guint round;

  for (round = 0; round < iterations; round++)
    {
      GiosListFlags flags = modes[round % G_N_ELEMENTS (modes)];
      GVariant *input, *expected;
      g_autoptr(GPtrArray) checks = NULL;
      g_autoptr(GBytes) bytes = random_list (flags, 0, &input, &expected, &checks);

      g_variant_unref (g_variant_ref_sink (input));
      g_variant_unref (expected);
      assert_decodes_as_reference (bytes, flags);
    }
}

/* The rule for the width of the framing offsets, at each step. */
static void
test_decode_offset_rule (void)
{
  static const struct { gsize body, n, total; } cases[] = {
    { 0, 0, 0 },
    { 3, 1, 4 },
    { 254, 1, 255 }, { 255, 1, 257 }, { 245, 10, 255 }, { 246, 10, 266 },
    { 65533, 1, 65535 }, { 65534, 1, 65538 }, { 65515, 10, 65535 }, { 65516, 10, 65556 },
    { G_GUINT64_CONSTANT (4294967291), 1, G_GUINT64_CONSTANT (4294967295) },
    { G_GUINT64_CONSTANT (4294967292), 1, G_GUINT64_CONSTANT (4294967300) },
    { G_GUINT64_CONSTANT (4294967255), 10, G_GUINT64_CONSTANT (4294967295) },
    { G_GUINT64_CONSTANT (4294967256), 10, G_GUINT64_CONSTANT (4294967336) },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      if (cases[i].total > G_MAXSIZE)
        continue;
      g_assert_cmpuint (_gios_variant_array_size (cases[i].body, cases[i].n), ==, cases[i].total);
    }
}

/* A list too large for its result to be addressed fails before a byte is
 * read: the GBytes claims more than it holds. */
static void
test_decode_too_large (void)
{
  static const guint8 data[] = { 0x01 };
  g_autoptr(GBytes) bytes = g_bytes_new_static (data, G_MAXSIZE / 16 + 1);
  g_autoptr(GError) error = NULL;

  g_assert_null (gios_list_decode (bytes, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE);
}

/* ------------------------------------------------------------------------ */
/* Nesting depth                                                             */

/* Frees the GVariants of a chain made by nested_items() or boxed_items(),
 * outermost first: each then frees alone, where dropping the outermost one
 * would make GLib recurse once per level. */
static void
chain_free (GPtrArray *chain)
{
  guint i;

  for (i = chain->len; i-- > 0;)
    g_variant_unref (chain->pdata[i]);
  g_ptr_array_free (chain, TRUE);
}

/* [<[<…[<int64 7>]…>]>]: the int in a list nested @depth deep, the items
 * (depth 0) last in the chain, and every GVariant held by the chain. */
static GPtrArray *
nested_items (guint depth)
{
  GPtrArray *chain = g_ptr_array_new ();
  GVariant *value = g_variant_ref_sink (g_variant_new_int64 (7));
  guint i;

  g_ptr_array_add (chain, value);
  for (i = 0; i <= depth; i++)
    {
      GVariant *boxed = g_variant_ref_sink (g_variant_new_variant (value));

      g_ptr_array_add (chain, boxed);
      value = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARIANT, &boxed, 1));
      g_ptr_array_add (chain, value);
    }
  return chain;
}

/* [<just <just <…<int64 7>…>>>]: one item, boxed @depth times in `mv`. */
static GPtrArray *
boxed_items (guint depth)
{
  GPtrArray *chain = g_ptr_array_new ();
  GVariant *value = g_variant_ref_sink (g_variant_new_int64 (7));
  GVariant *boxed;
  guint i;

  g_ptr_array_add (chain, value);
  for (i = 0; i < depth; i++)
    {
      boxed = g_variant_ref_sink (g_variant_new_variant (value));
      g_ptr_array_add (chain, boxed);
      value = g_variant_ref_sink (g_variant_new_maybe (NULL, boxed));
      g_ptr_array_add (chain, value);
    }
  boxed = g_variant_ref_sink (g_variant_new_variant (value));
  g_ptr_array_add (chain, boxed);
  g_ptr_array_add (chain, g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARIANT, &boxed, 1)));
  return chain;
}

/* The bytes of the list nested_items (@depth) encodes to, written by hand
 * from the inside out. */
static GBytes *
deep_list_bytes (guint depth)
{
  gsize cap = 3 + (gsize) depth * 8;
  guint8 *data = g_malloc (cap);
  gsize start = cap - 3;
  guint i;

  memcpy (data + start, "\x03\x04\x07", 3);
  for (i = 0; i < depth; i++)
    {
      gsize n = cap - start;
      guint32 length;

      data[--start] = 0x01;
      if (n <= 253)
        data[--start] = (guint8) (n + 2);
      else if (n <= 65534)
        {
          start -= 3;
          data[start] = 0;
          data[start + 1] = (guint8) (n + 1);
          data[start + 2] = (guint8) ((n + 1) >> 8);
        }
      else
        {
          start -= 7;
          memset (data + start, 0, 3);
          length = GUINT32_TO_LE ((guint32) (n + 1));
          memcpy (data + start + 3, &length, 4);
        }
    }
  memmove (data, data + start, cap - start);
  return g_bytes_new_take (data, cap - start);
}

static void
assert_depth_error (const GError *error)
{
  g_autofree char *limit = g_strdup_printf ("%d", GIOS_LIST_MAX_DEPTH);

  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, limit));
  g_assert_nonnull (strstr (error->message, "GIOS_LIST_MAX_DEPTH"));
}

static void
test_depth_encode (void)
{
  static const guint too_deep[] = { GIOS_LIST_MAX_DEPTH + 1, 200000 };
  GPtrArray *chain = nested_items (GIOS_LIST_MAX_DEPTH);
  g_autoptr(GBytes) expected = deep_list_bytes (GIOS_LIST_MAX_DEPTH);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  gsize i;

  /* At the limit: the bytes written by hand. */
  bytes = gios_list_encode (g_ptr_array_index (chain, chain->len - 1), &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (bytes, expected));
  chain_free (chain);

  /* One level more, and far more: an error, with nothing on the stack per
   * level. */
  for (i = 0; i < G_N_ELEMENTS (too_deep); i++)
    {
      chain = nested_items (too_deep[i]);
      g_assert_null (gios_list_encode (g_ptr_array_index (chain, chain->len - 1), &error));
      assert_depth_error (error);
      /* the message names the limit once, without a prefix per level */
      g_assert_null (strstr (error->message, "item"));
      g_clear_error (&error);
      chain_free (chain);
    }

  /* Maybes and variants are unboxed without recursion, however deep. */
  chain = boxed_items (200000);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = gios_list_encode (g_ptr_array_index (chain, chain->len - 1), &error);
  g_assert_no_error (error);
  gios_test_assert_bytes_hex (bytes, "03 04 07");
  chain_free (chain);
}

/* Walks a list nested deep_list_bytes (@depth) deep with one reader per
 * level, iteratively, and returns the depth it reached. */
static guint
walk_down (GBytes  *bytes,
           GError **error)
{
  g_autoptr(GiosListReader) reader = gios_list_reader_new (bytes);
  guint depth = 0;

  for (;;)
    {
      GiosListReader *inner;

      g_assert_true (gios_list_reader_next (reader, NULL));
      if (gios_list_reader_get_item_type (reader) == GIOS_LIST_ITEM_TYPE_INTEGER)
        return depth;
      inner = gios_list_reader_recurse (reader, error);
      if (inner == NULL)
        return depth;
      gios_list_reader_unref (reader);
      reader = inner;
      depth++;
    }
}

static void
test_depth_reader (void)
{
  static const guint too_deep[] = { GIOS_LIST_MAX_DEPTH + 1, 200000 };
  g_autoptr(GBytes) bytes = deep_list_bytes (GIOS_LIST_MAX_DEPTH);
  g_autoptr(GError) error = NULL;
  gsize i;

  /* At the limit: down to the integer. */
  g_assert_cmpuint (walk_down (bytes, &error), ==, GIOS_LIST_MAX_DEPTH);
  g_assert_no_error (error);

  /* Deeper: recurse refuses below the limit. */
  for (i = 0; i < G_N_ELEMENTS (too_deep); i++)
    {
      g_autoptr(GBytes) deep = deep_list_bytes (too_deep[i]);
      g_autoptr(GVariant) items = NULL;
      g_autoptr(GVariant) item = NULL;

      g_assert_cmpuint (walk_down (deep, &error), ==, GIOS_LIST_MAX_DEPTH);
      assert_depth_error (error);
      g_assert_nonnull (strstr (error->message, "offset 0"));
      g_clear_error (&error);

      /* gios_list_decode() does not look into strings: one 8-bit string. */
      items = gios_list_decode (deep, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_variant_n_children (items), ==, 1);
      item = g_variant_get_child_value (items, 0);
      g_assert_true (g_variant_is_of_type (item, G_VARIANT_TYPE_VARIANT));
    }
}

/* ------------------------------------------------------------------------ */
/* Malformed input                                                           */

static const char *valid_lists[] = {
  "06 01 74 65 73 74 05 01 03 04 04",
  "01 02 01 03 04 7F 04 04 80 00 0A 05 00 00 00 00 00 00 00 80",
  "05 06 FE 3A 01 04 07 FF 00 0A 08 00 00 00 00 00 00 F8 3F 04 08 80 3F 0A 09 9A 99 99 99 99 99 B9 3F",
  "0A 02 DB 03 41 00 42 00 43 00 06 02 3D D8 1F DD 02 00",
  "00 04 00 01 61 62 63 00 00 00 04 00 00 00 01 61 62 63 02 04",
};

/* Every truncation of a valid list either ends on an element boundary and
 * decodes, or fails with GIOS_ERROR_MALFORMED. */
static void
test_truncation (void)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (valid_lists); i++)
    {
      g_autoptr(GBytes) full = gios_test_hex_bytes (valid_lists[i]);
      g_autoptr(GiosListReader) reader = gios_list_reader_new (full);
      g_autoptr(GArray) ends = g_array_new (FALSE, FALSE, sizeof (gsize));
      gsize size = g_bytes_get_size (full), cut, end = 0;

      g_array_append_val (ends, end);
      while (gios_list_reader_next (reader, NULL))
        {
          gsize len;
          const guint8 *p = gios_list_reader_get_bytes (reader, &len);

          end = p == NULL ? gios_list_reader_get_offset (reader) + 1
                          : (gsize) (p - (const guint8 *) g_bytes_get_data (full, NULL)) + len;
          g_array_append_val (ends, end);
        }
      g_assert_cmpuint (end, ==, size);

      for (cut = 0; cut < size; cut++)
        {
          g_autoptr(GBytes) part = g_bytes_new_from_bytes (full, 0, cut);
          g_autoptr(GVariant) value = NULL;
          g_autoptr(GError) error = NULL;
          gboolean boundary = FALSE;
          guint k;

          for (k = 0; k < ends->len; k++)
            boundary |= g_array_index (ends, gsize, k) == cut;
          value = gios_list_decode (part, &error);
          if (boundary)
            {
              g_assert_no_error (error);
              g_assert_nonnull (value);
            }
          else
            {
              g_assert_error (error, GIOS_ERROR, GIOS_ERROR_MALFORMED);
              g_assert_null (value);
            }
        }
    }
}

static void
test_reserved_types (void)
{
  guint type;

  for (type = 0x03; type <= 0xFF; type++)
    {
      g_autofree char *bare = NULL;
      g_autofree char *after = NULL;
      g_autofree char *with_payload = NULL;

      if (type >= 0x04 && type <= 0x09)
        continue;
      bare = g_strdup_printf ("02 %02X", type);
      after = g_strdup_printf ("02 04 03 01 41 02 %02X", type);
      with_payload = g_strdup_printf ("04 %02X 41 00", type);
      assert_decode_error (bare, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED, "offset 0");
      assert_decode_error (after, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED, "offset 5");
      assert_decode_error (with_payload, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED, "offset 0");
    }
}

static void
test_malformed (void)
{
  static const struct { const char *hex; int code; const char *part; } cases[] = {
    /* lengths beyond the buffer, and overflowing prefixes */
    { "03", GIOS_ERROR_MALFORMED, "offset 0" },
    { "FF 01 41", GIOS_ERROR_MALFORMED, "offset 0" },
    { "02 04 FF 01", GIOS_ERROR_MALFORMED, "offset 2" },
    { "00", GIOS_ERROR_MALFORMED, "offset 0" },
    { "00 01", GIOS_ERROR_MALFORMED, "offset 0" },
    { "00 FF FF 01 41", GIOS_ERROR_MALFORMED, "offset 0" },
    { "00 00 00", GIOS_ERROR_MALFORMED, "offset 0" },
    { "00 00 00 01 00", GIOS_ERROR_MALFORMED, "offset 0" },
    { "00 00 00 00 00 00 00", GIOS_ERROR_MALFORMED, "offset 0" },
    { "00 00 00 00 00 00 00 01", GIOS_ERROR_MALFORMED, "offset 0" },
    { "00 00 00 FF FF FF FF 01", GIOS_ERROR_MALFORMED, "offset 0" },
    { "00 00 00 FE FF FF FF 01", GIOS_ERROR_MALFORMED, "offset 0" },
    { "01 00 00 00 02 00 00 00 01", GIOS_ERROR_MALFORMED, "offset 1" },
    /* payloads that do not fit their type */
    { "0B 04 01 02 03 04 05 06 07 08 09", GIOS_ERROR_MALFORMED, "offset 0" },
    { "0B 05 01 02 03 04 05 06 07 08 09", GIOS_ERROR_MALFORMED, "offset 0" },
    { "02 06", GIOS_ERROR_MALFORMED, "offset 0" },
    { "0C 06 00 01 02 03 04 05 06 07 08 09", GIOS_ERROR_MALFORMED, "offset 0" },
    { "07 08 01 02 03 04 05", GIOS_ERROR_MALFORMED, "offset 0" },
    { "08 08 01 02 03 04 05 06", GIOS_ERROR_MALFORMED, "offset 0" },
    { "09 08 01 02 03 04 05 06 07", GIOS_ERROR_MALFORMED, "offset 0" },
    { "0B 09 01 02 03 04 05 06 07 08 09", GIOS_ERROR_MALFORMED, "offset 0" },
    { "03 02 41", GIOS_ERROR_MALFORMED, "offset 0" },
    { "03 00 41", GIOS_ERROR_MALFORMED, "offset 0" },
    /* well formed, outside what gio-socket reads */
    { "0A 05 FF FF FF FF FF FF FF 7F", GIOS_ERROR_UNSUPPORTED, "offset 0" },
    { "0B 07 00 00 00 00 00 00 00 00 00", GIOS_ERROR_UNSUPPORTED, "offset 0" },
    { "04 02 00 D8", GIOS_ERROR_UNSUPPORTED, "offset 0" },
    { "04 02 00 DC", GIOS_ERROR_UNSUPPORTED, "offset 0" },
    { "06 02 00 D8 41 00", GIOS_ERROR_UNSUPPORTED, "offset 0" },
    { "04 02 00 00", GIOS_ERROR_UNSUPPORTED, "offset 0" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("malformed %s", cases[i].hex);
      assert_decode_error (cases[i].hex, GIOS_ERROR, cases[i].code, cases[i].part);
    }

  /* A reader stays on a malformed element and fails again. */
  {
    g_autoptr(GiosListReader) reader = reader_on ("02 04 FF 01", 0);
    guint k;

    for (k = 0; k < 2; k++)
      {
        g_autoptr(GError) error = NULL;

        g_assert_false (gios_list_reader_next (reader, &error));
        g_assert_error (error, GIOS_ERROR, GIOS_ERROR_MALFORMED);
        g_assert_cmpuint (gios_list_reader_get_offset (reader), ==, 2);
        g_assert_cmpint (gios_list_reader_get_item_type (reader), ==, GIOS_LIST_ITEM_TYPE_INVALID);
      }
  }
}

/* The checks of test_huge_length(), in a child process. */
static void
huge_length_checks (void)
{
  g_autoptr(GBytes) bytes = gios_test_hex_bytes ("00 00 00 FF FF FF FF 01");
  g_autoptr(GiosListReader) reader = gios_list_reader_new (bytes);
  g_autoptr(GError) error = NULL;

  assert_decode_error ("00 00 00 FF FF FF FF 01", GIOS_ERROR, GIOS_ERROR_MALFORMED, "offset 0");
  assert_decode_error ("00 00 00 FF FF FF FF 01 41 42 43", GIOS_ERROR, GIOS_ERROR_MALFORMED, "4294967302");
  g_assert_false (gios_list_reader_next (reader, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_MALFORMED);
}

/* A 4 GiB length fails without allocating: checked in a child whose address
 * space cannot grow by more than 1 GiB. */
static void
test_huge_length (void)
{
  gios_test_fork_with_address_limit (huge_length_checks, G_GUINT64_CONSTANT (1) << 30);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/list/strings", test_strings);
  g_test_add_func ("/list/lengths", test_lengths);
  g_test_add_func ("/list/integers", test_integers);
  g_test_add_func ("/list/decimals", test_decimals);
  g_test_add_func ("/list/doubles", test_doubles);
  g_test_add_func ("/list/nested", test_nested);
  g_test_add_func ("/list/message-payload", test_message_payload);
  g_test_add_func ("/list/sql-null", test_sql_null);
  g_test_add_func ("/list/reader-api", test_reader_api);
  g_test_add_func ("/list/builder-api", test_builder_api);
  g_test_add_func ("/list/variant-errors", test_variant_errors);
  g_test_add_data_func ("/list/round-trip/default", GUINT_TO_POINTER (GIOS_LIST_FLAGS_NONE), test_round_trip);
  g_test_add_data_func ("/list/round-trip/compact-double",
                        GUINT_TO_POINTER (GIOS_LIST_FLAGS_COMPACT_DOUBLE), test_round_trip);
  g_test_add_data_func ("/list/round-trip/sql-null",
                        GUINT_TO_POINTER (GIOS_LIST_FLAGS_SQL_NULL | GIOS_LIST_FLAGS_COMPACT_DOUBLE),
                        test_round_trip);
  g_test_add_func ("/list/decode/kinds", test_decode_kinds);
  g_test_add_func ("/list/decode/offset-sizes", test_decode_offset_sizes);
  g_test_add_func ("/list/decode/random", test_decode_random);
  g_test_add_func ("/list/decode/offset-rule", test_decode_offset_rule);
  g_test_add_func ("/list/decode/too-large", test_decode_too_large);
  g_test_add_func ("/list/depth/encode", test_depth_encode);
  g_test_add_func ("/list/depth/reader", test_depth_reader);
  g_test_add_func ("/list/malformed/truncation", test_truncation);
  g_test_add_func ("/list/malformed/reserved-types", test_reserved_types);
  g_test_add_func ("/list/malformed/cases", test_malformed);
  g_test_add_func ("/list/malformed/huge-length", test_huge_length);

  return g_test_run ();
}
