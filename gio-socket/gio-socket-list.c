/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gio-socket list encode JSON / list decode HEX|-: $LIST bytes to and from
 * JSON, through the GVariant form of gios_list_encode() and
 * gios_list_decode().
 *
 *   JSON              GVariant         $LIST
 *   "text"            s                8-bit or UTF-16 string
 *   "a\u0000b"        ay               8-bit string (Latin-1, NUL kept)
 *   42                x                integer (64-bit, or an error)
 *   2.5, 1e3          d                double (an error beyond its range)
 *   true, false       b                the integers 1 and 0
 *   null              mv (nothing)     the undefined element
 *   [ … ]             av               a nested list (an 8-bit string)
 *   {"bytes": "hex"}  ay               an 8-bit string of these bytes
 *
 * Decoding cannot tell a nested list from a string, so nested lists come back
 * as strings; 8-bit strings are read as Latin-1, NUL included, so that a
 * string holding U+0000 comes back as it went in; booleans come back as 1
 * and 0.
 *
 * The JSON is read by a strict (RFC 8259) parser of this file, without
 * recursion, rather than by json-glib: json-glib 1.6 parses arrays
 * recursively with no depth limit (65,000 nested arrays overflow the
 * stack), wraps integers beyond 64 bits (2^63 becomes -2^63), ends strings at
 * U+0000, and accepts more than JSON (single quotes, comments, hexadecimal
 * numbers), so that a scan for depth ahead of it could not tell where its
 * strings end.  The JSON of `list decode` is written here too: numbers in
 * their shortest form, which json-glib did not write (0.1 came out as
 * 0.10000000000000001, and 1e22 as "1e+22.0", which is not JSON).
 */
#include "gio-socket-tool.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_STDIN_BYTES (64 * 1024 * 1024)

/* ------------------------------------------------------------------------ */
/* JSON to GVariant                                                          */

typedef struct
{
  const char *text;
  const char *p;
} JsonInput;

static gsize
json_offset (const JsonInput *in)
{
  return (gsize) (in->p - in->text);
}

/* A syntax error at the current position. */
static gboolean
json_unexpected (const JsonInput  *in,
                 GError          **error)
{
  if (*in->p == '\0')
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 _("The JSON ends too early, at byte offset %zu"), json_offset (in));
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 _("Unexpected “%.*s” at byte offset %zu of the JSON"),
                 (int) (g_utf8_next_char (in->p) - in->p), in->p, json_offset (in));
  return FALSE;
}

static void
json_skip_space (JsonInput *in)
{
  in->p += strspn (in->p, " \t\n\r");
}

static int
json_hex4 (const char *p)
{
  int value = 0;

  for (int i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return -1;
      value = value << 4 | digit;
    }
  return value;
}

/* Reads the \uXXXX escape (and the low surrogate after a high one) at @in,
 * past the backslash. */
static gboolean
json_read_unicode_escape (JsonInput  *in,
                          gunichar   *c,
                          GError    **error)
{
  const char *start = in->p - 1;
  int unit = json_hex4 (in->p + 1), low;

  if (unit < 0)
    return json_unexpected (in, error);
  in->p += 5;
  *c = (gunichar) unit;
  if (unit >= 0xD800 && unit < 0xDC00 && in->p[0] == '\\' && in->p[1] == 'u' &&
      (low = json_hex4 (in->p + 2)) >= 0xDC00 && low <= 0xDFFF)
    {
      *c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
      in->p += 6;
    }
  else if (unit >= 0xD800 && unit <= 0xDFFF)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("“%.6s” at byte offset %zu of the JSON is half a surrogate pair"),
                   start, (gsize) (start - in->text));
      return FALSE;
    }
  return TRUE;
}

/* Reads the string at @in, past its opening quote, as UTF-8 (which may hold
 * NUL bytes).  Sets *@max_char to its largest character, and *@has_nul when
 * it holds U+0000. */
static GString *
json_read_string (JsonInput  *in,
                  gunichar   *max_char,
                  gboolean   *has_nul,
                  GError    **error)
{
  g_autoptr(GString) out = g_string_new (NULL);

  *max_char = 0;
  *has_nul = FALSE;
  for (;;)
    {
      gunichar c = g_utf8_get_char (in->p);

      if (c == '"')
        {
          in->p++;
          return g_steal_pointer (&out);
        }
      if (c < 0x20)
        {
          json_unexpected (in, error);
          return NULL;
        }
      if (c == '\\')
        {
          const char *escapes = "\"\\/bfnrt", *chars = "\"\\/\b\f\n\r\t";
          const char *found;

          in->p++;
          if (*in->p == 'u')
            {
              if (!json_read_unicode_escape (in, &c, error))
                return NULL;
            }
          else if (*in->p != '\0' && (found = strchr (escapes, *in->p)) != NULL)
            {
              c = (guchar) chars[found - escapes];
              in->p++;
            }
          else
            {
              json_unexpected (in, error);
              return NULL;
            }
        }
      else
        in->p = g_utf8_next_char (in->p);

      *max_char = MAX (*max_char, c);
      *has_nul |= c == 0;
      g_string_append_unichar (out, c);
    }
}

/* The string at @in as an item: `s`, or `ay` (an 8-bit $LIST string) when it
 * holds U+0000, which a GVariant string cannot. */
static GVariant *
json_string_item (JsonInput  *in,
                  GError    **error)
{
  const char *start = in->p++;
  g_autoptr(GString) text = NULL;
  g_autofree char *latin1 = NULL;
  gunichar max_char;
  gboolean has_nul;
  gsize len;

  text = json_read_string (in, &max_char, &has_nul, error);
  if (text == NULL)
    return NULL;
  if (!has_nul)
    return g_variant_new_string (text->str);
  if (max_char > 0xFF)
    {
      g_set_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED,
                   _("The string at byte offset %zu holds U+0000 and characters above U+00FF; "
                     "only an 8-bit $LIST string can hold U+0000 here"),
                   (gsize) (start - in->text));
      return NULL;
    }
  latin1 = g_convert (text->str, text->len, "ISO-8859-1", "UTF-8", NULL, &len, NULL);
  g_assert (latin1 != NULL);
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, latin1, len, 1);
}

/* Moves past one digit or more. */
static gboolean
json_skip_digits (JsonInput  *in,
                  GError    **error)
{
  gsize n = strspn (in->p, "0123456789");

  if (n == 0)
    return json_unexpected (in, error);
  in->p += n;
  return TRUE;
}

/* The number at @in: `x` when it is an integer (in the 64-bit range, or an
 * error that names it), otherwise `d` (within the range of a double). */
static GVariant *
json_number_item (JsonInput  *in,
                  GError    **error)
{
  const char *start = in->p;
  g_autofree char *token = NULL;
  gboolean integral = TRUE;
  gint64 i;
  double d;

  if (*in->p == '-')
    in->p++;
  if (*in->p == '0')
    in->p++;
  else if (!json_skip_digits (in, error))
    return NULL;
  if (*in->p == '.')
    {
      in->p++;
      integral = FALSE;
      if (!json_skip_digits (in, error))
        return NULL;
    }
  if (*in->p == 'e' || *in->p == 'E')
    {
      in->p++;
      if (*in->p == '+' || *in->p == '-')
        in->p++;
      integral = FALSE;
      if (!json_skip_digits (in, error))
        return NULL;
    }

  token = g_strndup (start, in->p - start);
  if (integral)
    {
      if (g_ascii_string_to_signed (token, 10, G_MININT64, G_MAXINT64, &i, NULL))
        return g_variant_new_int64 (i);
      g_set_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED,
                   _("The integer %s at byte offset %zu is outside the 64-bit range of a $LIST integer"),
                   token, (gsize) (start - in->text));
      return NULL;
    }
  d = g_ascii_strtod (token, NULL);
  if (isinf (d))
    {
      g_set_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED,
                   _("The number %s at byte offset %zu is beyond the range of a double"),
                   token, (gsize) (start - in->text));
      return NULL;
    }
  return g_variant_new_double (d);
}

static GVariant *
hex_to_bytes_variant (const char  *hex,
                      GError     **error)
{
  gsize len = strlen (hex);
  g_autofree guint8 *data = NULL;

  if (len % 2 != 0)
    goto bad;
  data = g_malloc (len / 2 + 1);
  for (gsize i = 0; i < len / 2; i++)
    {
      int high = g_ascii_xdigit_value (hex[2 * i]);
      int low = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (high < 0 || low < 0)
        goto bad;
      data[i] = high << 4 | low;
    }
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, len / 2, 1);

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("“%s” is not an even number of hexadecimal digits"), hex);
  return NULL;
}

/* Skips spaces and reads the string there, when there is one and it holds
 * no U+0000; otherwise returns NULL, with @error set on bad syntax. */
static GString *
json_read_plain_string (JsonInput  *in,
                        GError    **error)
{
  GString *str;
  gunichar max_char;
  gboolean has_nul;

  json_skip_space (in);
  if (*in->p != '"')
    return NULL;
  in->p++;
  str = json_read_string (in, &max_char, &has_nul, error);
  if (str != NULL && has_nul)
    {
      g_string_free (str, TRUE);
      return NULL;
    }
  return str;
}

/* Skips spaces and @c, when @c is there. */
static gboolean
json_skip_char (JsonInput *in,
                char       c)
{
  json_skip_space (in);
  if (*in->p != c)
    return FALSE;
  in->p++;
  return TRUE;
}

/* {"bytes": "HEX"} at @in, the only object a list item may be. */
static GVariant *
json_bytes_item (JsonInput  *in,
                 GError    **error)
{
  g_autoptr(GString) key = NULL;
  g_autoptr(GString) hex = NULL;
  GError *local_error = NULL;

  in->p++;
  if ((key = json_read_plain_string (in, &local_error)) != NULL && g_str_equal (key->str, "bytes") &&
      json_skip_char (in, ':') &&
      (hex = json_read_plain_string (in, &local_error)) != NULL && json_skip_char (in, '}'))
    return hex_to_bytes_variant (hex->str, error);

  if (local_error != NULL)
    g_propagate_error (error, local_error);
  else
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         _("A JSON object in a list must be {\"bytes\": \"HEX\"}"));
  return NULL;
}

/* The value at @in, other than an array. */
static GVariant *
json_item (JsonInput  *in,
           GError    **error)
{
  static const struct { const char *word; int value; } literals[] = {
    { "true", TRUE }, { "false", FALSE }, { "null", -1 },
  };

  if (*in->p == '"')
    return json_string_item (in, error);
  if (*in->p == '-' || g_ascii_isdigit (*in->p))
    return json_number_item (in, error);
  if (*in->p == '{')
    return json_bytes_item (in, error);
  for (gsize i = 0; i < G_N_ELEMENTS (literals); i++)
    if (g_str_has_prefix (in->p, literals[i].word))
      {
        in->p += strlen (literals[i].word);
        if (literals[i].value < 0)
          return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
        return g_variant_new_boolean (literals[i].value);
      }
  json_unexpected (in, error);
  return NULL;
}

/* Parses the JSON array @json into a `av`.  Nested arrays are kept on a
 * stack of builders, one per level, at most GIOS_LIST_MAX_DEPTH deep below
 * the top one, as gios_list_encode() takes them. */
static GVariant *
json_to_list (const char  *json,
              GError     **error)
{
  GVariantBuilder stack[GIOS_LIST_MAX_DEPTH + 1];
  JsonInput in = { json, json };
  gboolean want_value = TRUE, may_close = TRUE;
  const char *invalid;
  GVariant *item;
  int depth = 0;

  if (!g_utf8_validate (json, -1, &invalid))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("The JSON is not valid UTF-8 at byte offset %zu"), (gsize) (invalid - json));
      return NULL;
    }
  json_skip_space (&in);
  if (*in.p != '[')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _("The JSON to encode is not an array"));
      return NULL;
    }
  in.p++;
  g_variant_builder_init (&stack[0], G_VARIANT_TYPE ("av"));

  for (;;)
    {
      json_skip_space (&in);
      if (may_close && *in.p == ']')
        {
          in.p++;
          item = g_variant_builder_end (&stack[depth]);
          if (depth-- == 0)
            break;
        }
      else if (want_value && *in.p == '[')
        {
          if (depth == GIOS_LIST_MAX_DEPTH)
            {
              g_set_error (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE,
                           _("The array at byte offset %zu is nested more than %d lists deep, "
                             "which is the limit (GIOS_LIST_MAX_DEPTH)"),
                           json_offset (&in), GIOS_LIST_MAX_DEPTH);
              goto fail;
            }
          in.p++;
          g_variant_builder_init (&stack[++depth], G_VARIANT_TYPE ("av"));
          may_close = TRUE;
          continue;
        }
      else if (want_value)
        {
          item = json_item (&in, error);
          if (item == NULL)
            goto fail;
        }
      else if (*in.p == ',')
        {
          in.p++;
          want_value = TRUE;
          may_close = FALSE;
          continue;
        }
      else
        {
          json_unexpected (&in, error);
          goto fail;
        }

      g_variant_builder_add (&stack[depth], "v", item);
      want_value = FALSE;
      may_close = TRUE;
    }

  json_skip_space (&in);
  if (*in.p != '\0')
    {
      g_variant_unref (g_variant_ref_sink (item));
      json_unexpected (&in, error);
      return NULL;
    }
  return item;

fail:
  for (; depth >= 0; depth--)
    g_variant_builder_clear (&stack[depth]);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* GVariant to JSON                                                          */

/* Appends @len bytes at @p as a JSON string, read as UTF-8, or as Latin-1
 * when @latin1.  (json-glib could not: its strings end at U+0000.) */
static void
append_json_string (GString      *out,
                    const guint8 *p,
                    gsize         len,
                    gboolean      latin1)
{
  static const char escapes[] = "\"\\\b\f\n\r\t", letters[] = "\"\\bfnrt";

  g_string_append_c (out, '"');
  for (gsize i = 0; i < len; i++)
    {
      const char *escape = p[i] != 0 ? strchr (escapes, p[i]) : NULL;

      if (escape != NULL)
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, letters[escape - escapes]);
        }
      else if (p[i] < 0x20 || p[i] == 0x7F)
        g_string_append_printf (out, "\\u%04x", p[i]);
      else if (latin1 && p[i] >= 0x80)
        g_string_append_unichar (out, p[i]);
      else
        g_string_append_c (out, (char) p[i]);
    }
  g_string_append_c (out, '"');
}

/* Appends @d as the shortest JSON number that reads back as the same
 * double, written as Python's repr() writes it: in fixed notation from 1e-4
 * to below 1e16, with an exponent otherwise, and with ".0" when it would
 * read as an integer (1.0, not 1), so that a double stays a double. */
static void
append_json_double (GString *out,
                    double   d)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  char format[8];
  const char *e;
  int digits, exponent;

  g_assert (isfinite (d));
  /* 17 significant digits always read back the same. */
  for (digits = 1; digits < 17; digits++)
    {
      g_snprintf (format, sizeof format, "%%.%de", digits - 1);
      if (g_ascii_strtod (g_ascii_formatd (buffer, sizeof buffer, format, d), NULL) == d)
        break;
    }
  g_snprintf (format, sizeof format, "%%.%de", digits - 1);
  g_ascii_formatd (buffer, sizeof buffer, format, d);
  e = strchr (buffer, 'e');
  exponent = atoi (e + 1);
  if (exponent >= -4 && exponent < 16)
    {
      /* The same digits without the exponent. */
      g_snprintf (format, sizeof format, "%%.%df", MAX (digits - 1 - exponent, 0));
      g_ascii_formatd (buffer, sizeof buffer, format, d);
      g_string_append (out, buffer);
      if (strchr (buffer, '.') == NULL)
        g_string_append (out, ".0");
    }
  else
    g_string_append (out, buffer);
}

/* Appends item @index of gios_list_decode()'s result, or fails on a double
 * that JSON cannot write. */
static gboolean
append_json_item (GString   *out,
                  GVariant  *item,
                  gsize      index,
                  GError   **error)
{
  g_autoptr(GVariant) value = g_variant_ref (item);
  g_autofree char *text = NULL;
  const char *str;
  gsize len;
  double d;

  while (value != NULL && (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT) ||
                           g_variant_is_of_type (value, G_VARIANT_TYPE_MAYBE)))
    {
      GVariant *inner = g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT)
        ? g_variant_get_variant (value) : g_variant_get_maybe (value);

      g_variant_unref (value);
      value = inner;
    }

  if (value == NULL)
    g_string_append (out, "null");
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      str = g_variant_get_string (value, &len);
      append_json_string (out, (const guint8 *) str, len, FALSE);
    }
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    {
      /* an 8-bit string holding a NUL */
      str = g_variant_get_fixed_array (value, &len, 1);
      append_json_string (out, (const guint8 *) str, len, TRUE);
    }
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    g_string_append_printf (out, "%" G_GINT64_FORMAT, g_variant_get_int64 (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64) ||
           g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    {
      /* A uint64 is above G_MAXINT64: a double, as JSON readers take it. */
      d = g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE)
        ? g_variant_get_double (value) : (double) g_variant_get_uint64 (value);
      if (!isfinite (d))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       _("The list’s item %zu is the double %s, which JSON cannot write"),
                       index, isnan (d) ? "nan" : d > 0 ? "inf" : "-inf");
          return FALSE;
        }
      append_json_double (out, d);
    }
  else
    {
      text = g_variant_print (value, TRUE);
      append_json_string (out, (const guint8 *) text, strlen (text), FALSE);
    }
  return TRUE;
}

static int
list_encode (const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const guint8 *data;
  gsize len;

  items = json_to_list (json, &error);
  if (items == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
        return tool_fail ("list", error, _("give a JSON array such as '[\"text\", 42, 2.5, null]'"));
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
        return tool_fail ("list", error, _("use strings, numbers, booleans, null and arrays"));
      return tool_fail ("list", error, NULL);
    }
  g_variant_ref_sink (items);
  bytes = gios_list_encode (items, &error);
  if (bytes == NULL)
    return tool_fail ("list", error, NULL);

  data = g_bytes_get_data (bytes, &len);
  for (gsize i = 0; i < len; i++)
    g_print ("%02x", data[i]);
  g_print ("\n");
  return TOOL_EXIT_OK;
}

static GBytes *
read_all_stdin (GError **error)
{
  GByteArray *data = g_byte_array_new ();
  guint8 chunk[16 * 1024];
  gssize n;

  while ((n = read (STDIN_FILENO, chunk, sizeof chunk)) != 0)
    {
      if (n < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                       _("Could not read standard input: %s"), g_strerror (errsv));
          g_byte_array_unref (data);
          return NULL;
        }
      if (data->len + n > MAX_STDIN_BYTES)
        {
          g_set_error (error, GIOS_ERROR, GIOS_ERROR_TOO_LARGE,
                       _("Standard input holds more than %d bytes"), MAX_STDIN_BYTES);
          g_byte_array_unref (data);
          return NULL;
        }
      g_byte_array_append (data, chunk, n);
    }
  return g_byte_array_free_to_bytes (data);
}

/* Hexadecimal digits; spaces, colons and a leading "0x" are allowed. */
static GBytes *
parse_hex (const char  *text,
           GError     **error)
{
  GByteArray *data = g_byte_array_new ();
  int high = -1;

  if (g_str_has_prefix (text, "0x") || g_str_has_prefix (text, "0X"))
    text += 2;
  for (const char *p = text; *p != '\0'; p++)
    {
      int digit = g_ascii_xdigit_value (*p);

      if (digit < 0)
        {
          if (g_ascii_isspace (*p) || *p == ':')
            continue;
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("“%c” at position %d is not a hexadecimal digit"), *p, (int) (p - text) + 1);
          g_byte_array_unref (data);
          return NULL;
        }
      if (high < 0)
        high = digit;
      else
        {
          guint8 byte = high << 4 | digit;

          g_byte_array_append (data, &byte, 1);
          high = -1;
        }
    }
  if (high >= 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The hexadecimal input has an odd number of digits"));
      g_byte_array_unref (data);
      return NULL;
    }
  return g_byte_array_free_to_bytes (data);
}

static int
list_decode (const char *input)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GString) json = NULL;
  GVariantIter iter;
  GVariant *item;

  if (g_str_equal (input, "-"))
    bytes = read_all_stdin (&error);
  else
    bytes = parse_hex (input, &error);
  if (bytes == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
        return tool_fail ("list", error, _("give hexadecimal digits such as 03042a, or “-” to read bytes from standard input"));
      return tool_fail ("list", error, NULL);
    }

  items = gios_list_decode (bytes, &error);
  if (items == NULL)
    return tool_fail ("list", error, _("check that the input is a whole $LIST"));

  json = g_string_new ("[");
  g_variant_iter_init (&iter, items);
  for (gsize i = 0; (item = g_variant_iter_next_value (&iter)) != NULL; i++)
    {
      gboolean ok;

      if (i > 0)
        g_string_append_c (json, ',');
      ok = append_json_item (json, item, i, &error);
      g_variant_unref (item);
      if (!ok)
        return tool_fail ("list", error, NULL);
    }
  g_string_append_c (json, ']');
  g_print ("%s\n", json->str);
  return TOOL_EXIT_OK;
}

int
tool_list (int    argc,
           char **argv)
{
  g_autoptr(GOptionContext) context = NULL;

  context = tool_option_context_new ("list", _("encode JSON | decode HEX|-"),
      _("Encodes a JSON array as $LIST bytes and prints them in hexadecimal, or "
        "decodes $LIST bytes (hexadecimal, or binary on standard input with “-”) "
        "and prints them as JSON.\n\n"
        "Strings, integers, doubles, null (the undefined element) and nested arrays "
        "map to their $LIST forms; true and false are written as 1 and 0; "
        "{\"bytes\": \"HEX\"} is an 8-bit string of those bytes. Decoding gives "
        "nested lists back as strings, since the bytes alone cannot tell them apart."),
      _("Examples:\n"
        "  gio-socket list encode '[\"hello\", 42, 2.5, null]'\n"
        "  gio-socket list decode 070168656c6c6f03042a\n"
        "  printf '\\x03\\x04\\x2a' | gio-socket list decode -"),
      NULL);
  if (!tool_parse_options (context, "list", &argc, &argv))
    return TOOL_EXIT_USAGE;

  if (argc < 2)
    return tool_usage_error ("list", _("say “encode” or “decode”"));
  if (g_str_equal (argv[1], "encode"))
    {
      if (argc != 3)
        return tool_usage_error ("list", _("“list encode” takes one JSON array"));
      return list_encode (argv[2]);
    }
  if (g_str_equal (argv[1], "decode"))
    {
      if (argc != 3)
        return tool_usage_error ("list", _("“list decode” takes hexadecimal digits, or “-” for standard input"));
      return list_decode (argv[2]);
    }
  return tool_usage_error ("list", _("unknown action “%s”; say “encode” or “decode”"), argv[1]);
}
