/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gio-socket list encode JSON / list decode HEX|-: $LIST bytes to and from
 * JSON, through the GVariant form of gios_list_encode() and
 * gios_list_decode().
 *
 *   JSON              GVariant         $LIST
 *   "text"            s                8-bit or UTF-16 string
 *   42                x                integer
 *   2.5               d                double
 *   true, false       b                the integers 1 and 0
 *   null              mv (nothing)     the undefined element
 *   [ … ]             av               a nested list (an 8-bit string)
 *   {"bytes": "hex"}  ay               an 8-bit string of these bytes
 *
 * Decoding cannot tell a nested list from a string, so nested lists come back
 * as strings (or {"bytes": …}); booleans come back as 1 and 0.
 */
#include "gio-socket-tool.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_STDIN_BYTES (64 * 1024 * 1024)

static GVariant *json_to_variant (JsonNode *node, GError **error);

static GVariant *
json_array_to_list (JsonArray  *array,
                    GError    **error)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("av"));
  guint n = json_array_get_length (array);

  for (guint i = 0; i < n; i++)
    {
      GVariant *item = json_to_variant (json_array_get_element (array, i), error);

      if (item == NULL)
        return NULL;
      g_variant_builder_add (&builder, "v", item);
    }
  return g_variant_builder_end (&builder);
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

static GVariant *
json_to_variant (JsonNode  *node,
                 GError   **error)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT, NULL);
    case JSON_NODE_ARRAY:
      return json_array_to_list (json_node_get_array (node), error);
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        JsonNode *hex = json_object_get_member (object, "bytes");

        if (json_object_get_size (object) == 1 && hex != NULL &&
            json_node_get_value_type (hex) == G_TYPE_STRING)
          return hex_to_bytes_variant (json_node_get_string (hex), error);
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                             _("A JSON object in a list must be {\"bytes\": \"HEX\"}"));
        return NULL;
      }
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          return g_variant_new_int64 (json_node_get_int (node));
        case G_TYPE_DOUBLE:
          return g_variant_new_double (json_node_get_double (node));
        case G_TYPE_BOOLEAN:
          return g_variant_new_boolean (json_node_get_boolean (node));
        case G_TYPE_STRING:
          return g_variant_new_string (json_node_get_string (node));
        default:
          break;
        }
      break;
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       _("This JSON value has no $LIST form"));
  return NULL;
}

static JsonNode *
variant_to_json (GVariant *value)
{
  JsonNode *node;

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_get_variant (value);

      return variant_to_json (inner);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_MAYBE))
    {
      g_autoptr(GVariant) inner = g_variant_get_maybe (value);

      return inner != NULL ? variant_to_json (inner) : json_node_new (JSON_NODE_NULL);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE ("av")))
    {
      JsonArray *array = json_array_new ();
      GVariantIter iter;
      GVariant *item;

      g_variant_iter_init (&iter, value);
      while ((item = g_variant_iter_next_value (&iter)) != NULL)
        {
          json_array_add_element (array, variant_to_json (item));
          g_variant_unref (item);
        }
      node = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (node, array);
      return node;
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    {
      gsize len;
      const guint8 *data = g_variant_get_fixed_array (value, &len, 1);
      GString *hex = g_string_sized_new (2 * len);
      JsonObject *object = json_object_new ();

      for (gsize i = 0; i < len; i++)
        g_string_append_printf (hex, "%02x", data[i]);
      json_object_set_string_member (object, "bytes", hex->str);
      g_string_free (hex, TRUE);
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, object);
      return node;
    }

  node = json_node_new (JSON_NODE_VALUE);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    json_node_set_string (node, g_variant_get_string (value, NULL));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    json_node_set_int (node, g_variant_get_int64 (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    json_node_set_double (node, (double) g_variant_get_uint64 (value));  /* above G_MAXINT64 */
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    json_node_set_double (node, g_variant_get_double (value));
  else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    json_node_set_boolean (node, g_variant_get_boolean (value));
  else
    {
      g_autofree char *text = g_variant_print (value, TRUE);

      json_node_set_string (node, text);
    }
  return node;
}

static int
list_encode (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GBytes) bytes = NULL;
  JsonNode *root;
  const guint8 *data;
  gsize len;

  if (!json_parser_load_from_data (parser, json, -1, &error))
    return tool_fail ("list", error, _("give a JSON array such as '[\"text\", 42, 2.5, null]'"));
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return tool_usage_error ("list", _("the JSON to encode must be an array, such as '[\"text\", 42]'"));
  items = json_array_to_list (json_node_get_array (root), &error);
  if (items == NULL)
    return tool_fail ("list", error, _("use strings, numbers, booleans, null and arrays"));
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
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autofree char *json = NULL;

  if (g_str_equal (input, "-"))
    bytes = read_all_stdin (&error);
  else
    bytes = parse_hex (input, &error);
  if (bytes == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
        return tool_usage_error ("list", "%s", error->message);
      return tool_fail ("list", error, NULL);
    }

  items = gios_list_decode (bytes, &error);
  if (items == NULL)
    return tool_fail ("list", error, _("check that the input is a whole $LIST"));

  root = variant_to_json (items);
  generator = json_generator_new ();
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, NULL);
  g_print ("%s\n", json);
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
