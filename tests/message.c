/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for GiosMessage and for $LIST items and messages on a
 * GiosDeviceStream: the hex examples of LIST-FORMAT.md §7 byte for byte,
 * split arrivals, timeouts, peer resets, size limits and execute().
 *
 * The stream under test wraps one end of a socketpair (or a TCP connection
 * accepted on 127.0.0.1, port 0); the test holds the raw other end.
 */

#include "config.h"

#include <gios/gios.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__has_include)
# if __has_include(<valgrind/valgrind.h>)
#  include <valgrind/valgrind.h>
# endif
#endif
#ifndef RUNNING_ON_VALGRIND
# define RUNNING_ON_VALGRIND 0
#endif

#include "gios-test-utils.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static void
peer_write_hex (int         fd,
                const char *text)
{
  g_autoptr(GBytes) bytes = gios_test_hex_bytes (text);

  gios_test_peer_write_all (fd, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

/* Writes the bytes @prefix spells, then @count times the byte @byte spells. */
static void
peer_write_hex_repeating (int         fd,
                          const char *prefix,
                          const char *byte,
                          guint       count)
{
  g_autoptr(GString) text = g_string_new (prefix);

  for (guint i = 0; i < count; i++)
    g_string_append_printf (text, " %s", byte);
  peer_write_hex (fd, text->str);
}

/* The message whose frame @hex spells, asserted to parse. */
static GiosMessage *
message_from_hex (const char *hex)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) frame = gios_test_hex_bytes (hex);
  GiosMessage *msg = gios_message_new_from_bytes (frame, &error);

  g_assert_no_error (error);
  return msg;
}

/* The stream under test, over a GSocketConnection on a socketpair. */
static GiosTestPair *
pair_new (void)
{
  return gios_test_pair_new_socketpair (gios_test_stream_over_socket);
}

/* Receives an item within @timeout_ms and asserts that it is the string
 * @expected. */
static void
assert_receives_string (GiosDeviceStream *stream,
                        int               timeout_ms,
                        const char       *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) item = gios_device_stream_receive_item (stream, timeout_ms, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (item, NULL), ==, expected);
}

/* What assert_receive_fails() receives. */
typedef enum
{
  RECEIVE_ITEM,
  RECEIVE_MESSAGE,
} Receive;

/* Asserts that receiving what @what says within @timeout_ms fails with
 * @domain and @code, and that the error's message holds each of the
 * strings that follow, up to NULL. */
static void G_GNUC_NULL_TERMINATED
assert_receive_fails (GiosDeviceStream *stream,
                      Receive           what,
                      int               timeout_ms,
                      GCancellable     *cancellable,
                      GQuark            domain,
                      gint              code,
                      ...)
{
  g_autoptr(GError) error = NULL;
  const char *part;
  va_list parts;

  if (what == RECEIVE_ITEM)
    g_assert_null (gios_device_stream_receive_item (stream, timeout_ms, cancellable, &error));
  else
    g_assert_null (gios_device_stream_receive_message (stream, timeout_ms, cancellable, &error));
  g_assert_error (error, domain, code);
  va_start (parts, code);
  while ((part = va_arg (parts, const char *)) != NULL)
    g_assert_nonnull (strstr (error->message, part));
  va_end (parts);
}

/* A variant from its text form. */
static GVariant *
items_v (const char *text)
{
  g_autoptr(GError) error = NULL;
  GVariant *v = g_variant_parse (NULL, text, NULL, NULL, &error);

  g_assert_no_error (error);
  return v;
}

/* ------------------------------------------------------------------------ */
/* LIST-FORMAT.md §7, byte for byte                                           */

#define CLASS_METHOD_HEADER "1F 00 00 00  05 00 00 00  00 00 00 00  4B C2"
#define CLASS_METHOD_PAYLOAD \
  "11 01 25 53 59 53 54 45 4D 2E 56 65 72 73 69 6F 6E" \
  "0C 01 47 65 74 56 65 72 73 69 6F 6E" \
  "02 04"
#define HANDSHAKE "02 00 00 00  00 00 00 00  00 00 00 00  48 53  45 00"
#define DISCONNECT "00 00 00 00  07 00 00 00  00 00 00 00  44 43"
#define VERSION_REPLY \
  "16 00 00 00  05 00 00 00  00 00 00 00  00 00" \
  "16 01 49 52 49 53 20 66 6F 72 20 55 4E 49 58 20 32 30 32 34 2E 31"

static GiosMessage *
class_method_request (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) items = items_v ("[<'%SYSTEM.Version'>, <'GetVersion'>, <int64 0>]");
  GiosMessage *msg = gios_message_new_native (5, 0, 0x4B, NULL);

  g_assert_true (gios_message_set_items (msg, items, &error));
  g_assert_no_error (error);
  return msg;
}

static void
test_examples_write (void)
{
  g_autoptr(GiosMessage) call = class_method_request ();
  g_autoptr(GiosMessage) handshake = NULL;
  g_autoptr(GiosMessage) disconnect = NULL;
  g_autoptr(GiosMessage) reply = NULL;
  g_autoptr(GBytes) version = gios_test_hex_bytes ("45 00");
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) items = items_v ("[<'IRIS for UNIX 2024.1'>]");
  g_autoptr(GError) error = NULL;

  bytes = gios_message_to_bytes (call);
  gios_test_assert_bytes_hex (bytes, CLASS_METHOD_HEADER CLASS_METHOD_PAYLOAD);
  g_clear_pointer (&bytes, g_bytes_unref);

  handshake = gios_message_new_request (0, 0, "HS", version);
  bytes = gios_message_to_bytes (handshake);
  gios_test_assert_bytes_hex (bytes, HANDSHAKE);
  g_clear_pointer (&bytes, g_bytes_unref);

  disconnect = gios_message_new (7, 0, GIOS_MESSAGE_CODE_DISCONNECT, NULL);
  bytes = gios_message_to_bytes (disconnect);
  gios_test_assert_bytes_hex (bytes, DISCONNECT);
  g_clear_pointer (&bytes, g_bytes_unref);

  reply = gios_message_new_reply (call, 0, NULL);
  g_assert_true (gios_message_set_items (reply, items, &error));
  g_assert_no_error (error);
  bytes = gios_message_to_bytes (reply);
  gios_test_assert_bytes_hex (bytes, VERSION_REPLY);
}

static void
test_examples_read (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = gios_test_hex_bytes (CLASS_METHOD_PAYLOAD);
  g_autoptr(GiosMessage) msg = message_from_hex (CLASS_METHOD_HEADER CLASS_METHOD_PAYLOAD);
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GVariant) want = items_v ("[<'%SYSTEM.Version'>, <'GetVersion'>, <int64 0>]");

  g_assert_cmpuint (gios_message_get_message_id (msg), ==, 5);
  g_assert_cmpuint (gios_message_get_context (msg), ==, 0);
  g_assert_cmpuint (gios_message_get_code (msg), ==, 0xC24B);
  g_assert_cmpint (gios_message_get_kind (msg), ==, GIOS_MESSAGE_KIND_NATIVE);
  g_assert_null (gios_message_get_code_string (msg));
  g_assert_true (g_bytes_equal (gios_message_get_payload (msg), payload));
  items = gios_message_get_items (msg, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (items, want));
  g_clear_pointer (&msg, gios_message_unref);

  msg = message_from_hex (HANDSHAKE);
  g_assert_cmpuint (gios_message_get_code (msg), ==, 0x5348);
  g_assert_cmpuint (gios_message_get_code (msg), ==, GIOS_MESSAGE_CODE ('H', 'S'));
  g_assert_cmpint (gios_message_get_kind (msg), ==, GIOS_MESSAGE_KIND_TWO_LETTER);
  g_assert_cmpstr (gios_message_get_code_string (msg), ==, "HS");
  gios_test_assert_bytes_hex (gios_message_get_payload (msg), "45 00");
  g_clear_pointer (&msg, gios_message_unref);

  msg = message_from_hex (DISCONNECT);
  g_assert_cmpstr (gios_message_get_code_string (msg), ==, "DC");
  g_assert_cmpuint (gios_message_get_message_id (msg), ==, 7);
  g_assert_cmpuint (g_bytes_get_size (gios_message_get_payload (msg)), ==, 0);
  g_clear_pointer (&msg, gios_message_unref);

  msg = message_from_hex (VERSION_REPLY);
  g_assert_cmpuint (gios_message_get_code (msg), ==, 0);
  g_assert_cmpint (gios_message_get_kind (msg), ==, GIOS_MESSAGE_KIND_STATUS);
  g_clear_pointer (&items, g_variant_unref);
  items = gios_message_get_items (msg, &error);
  g_assert_no_error (error);
  {
    g_autofree char *printed = g_variant_print (items, FALSE);

    g_assert_cmpstr (printed, ==, "[<'IRIS for UNIX 2024.1'>]");
  }
}

/* The same examples through a stream, in both directions. */
static void
test_examples_stream (void)
{
  const char *frames[] = {
    CLASS_METHOD_HEADER CLASS_METHOD_PAYLOAD, HANDSHAKE, DISCONNECT, VERSION_REPLY,
  };
  g_autoptr(GiosTestPair) pair = pair_new ();
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (frames); i++)
    {
      g_autoptr(GBytes) frame = gios_test_hex_bytes (frames[i]);
      g_autoptr(GiosMessage) msg = NULL;
      g_autoptr(GBytes) echoed = NULL;

      peer_write_hex (pair->peer, frames[i]);
      msg = gios_device_stream_receive_message (pair->stream, 1000, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (msg);
      g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);

      g_assert_true (gios_device_stream_send_message (pair->stream, msg, NULL, &error));
      g_assert_no_error (error);
      /* send_message flushes: the bytes are there without a flush. */
      g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), ==, 0);
      echoed = gios_test_peer_read_bytes (pair->peer, g_bytes_get_size (frame));
      g_assert_true (g_bytes_equal (echoed, frame));
    }
  g_assert_false (gios_test_peer_has_input (pair->peer));
}

static void
test_kinds (void)
{
  struct {
    guint16 code;
    GiosMessageKind kind;
    const char *string;
  } cases[] = {
    { 0, GIOS_MESSAGE_KIND_STATUS, NULL },
    { 100, GIOS_MESSAGE_KIND_STATUS, NULL },             /* SQLCODE: no more data */
    { 417, GIOS_MESSAGE_KIND_STATUS, NULL },             /* connect refused */
    { (guint16) -400, GIOS_MESSAGE_KIND_STATUS, NULL },  /* a negative SQLCODE */
    { 0xFFFF, GIOS_MESSAGE_KIND_STATUS, NULL },
    { GIOS_MESSAGE_CODE ('P', '2'), GIOS_MESSAGE_KIND_TWO_LETTER, "P2" },
    { GIOS_MESSAGE_CODE ('D', 'Q'), GIOS_MESSAGE_KIND_TWO_LETTER, "DQ" },
    { GIOS_MESSAGE_CODE (0x41, 0xC2), GIOS_MESSAGE_KIND_NATIVE, NULL },
    { GIOS_MESSAGE_CODE (0x5E, 0xC2), GIOS_MESSAGE_KIND_NATIVE, NULL },
    { GIOS_MESSAGE_CODE ('2', 'P'), GIOS_MESSAGE_KIND_STATUS, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GiosMessage) msg = gios_message_new (1, 2, cases[i].code, NULL);
      g_autoptr(GiosMessage) reply = gios_message_new_reply (msg, 417, NULL);

      g_assert_cmpint (gios_message_get_kind (msg), ==, cases[i].kind);
      g_assert_cmpstr (gios_message_get_code_string (msg), ==, cases[i].string);
      g_assert_cmpuint (gios_message_get_code (msg), ==, cases[i].code);
      g_assert_cmpuint (gios_message_get_message_id (reply), ==, 1);
      g_assert_cmpuint (gios_message_get_context (reply), ==, 2);
      g_assert_cmpuint (gios_message_get_code (reply), ==, 417);
      g_assert_cmpint (gios_message_get_kind (reply), ==, GIOS_MESSAGE_KIND_STATUS);
    }
}

static void
test_message_api (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosMessage) msg = gios_message_new_request (3, 9, "DQ", NULL);
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(GVariant) bad = items_v ("(1, 2)");
  g_autoptr(GBytes) before = NULL;

  g_assert_cmpuint (g_bytes_get_size (gios_message_get_payload (msg)), ==, 0);
  gios_message_set_message_id (msg, 4);
  g_assert_cmpuint (gios_message_get_message_id (msg), ==, 4);
  g_assert_true (G_TYPE_IS_BOXED (GIOS_TYPE_MESSAGE));

  /* set_items with something that is not a list leaves the payload. */
  before = g_bytes_ref (gios_message_get_payload (msg));
  g_assert_false (gios_message_set_items (msg, bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (gios_message_get_payload (msg) == before);

  /* A payload that is not a $LIST: get_items fails, naming the offset. */
  {
    g_autoptr(GBytes) junk = gios_test_hex_bytes ("05 03 00 00 00");
    g_autoptr(GVariant) items = NULL;

    gios_message_set_payload (msg, junk);
    items = gios_message_get_items (msg, &error);
    g_assert_null (items);
    g_assert_nonnull (error);
    g_assert_true (error->domain == GIOS_ERROR);
    g_clear_error (&error);
  }

  /* Frames of the wrong size. */
  frame = gios_test_hex_bytes ("01 00 00 00 00 00 00 00 00 00 00 00 44 43");
  g_assert_null (gios_message_new_from_bytes (frame, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "1"));
  g_clear_error (&error);
  g_clear_pointer (&frame, g_bytes_unref);
  frame = gios_test_hex_bytes ("00 00 00 00 00 00 00 00 00 00 00 00 44");
  g_assert_null (gios_message_new_from_bytes (frame, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_MALFORMED);
  g_clear_error (&error);

  /* Boxed copy is a reference. */
  {
    GiosMessage *copy = g_boxed_copy (GIOS_TYPE_MESSAGE, msg);

    g_assert_true (copy == msg);
    g_boxed_free (GIOS_TYPE_MESSAGE, copy);
  }
}

/* ------------------------------------------------------------------------ */
/* Items on a stream                                                          */

static void
test_items_send (void)
{
  struct {
    const char *variant;
    const char *bytes;
  } cases[] = {
    { "'hello'", "07 01 68 65 6C 6C 6F" },
    { "''", "02 01" },
    { "'€'", "04 02 AC 20" },
    { "int64 0", "02 04" },
    { "int64 -1", "02 05" },
    { "int64 255", "04 04 FF 00" },
    { "1.5", "0A 08 00 00 00 00 00 00 F8 3F" },
    { "@mv nothing", "01" },
    { "[<'test'>, <[<int64 4>]>]", "0D 01 06 01 74 65 73 74 05 01 03 04 04" },
    { "true", "03 04 01" },
  };
  g_autoptr(GiosTestPair) pair = pair_new ();
  g_autoptr(GError) error = NULL;
  GString *all = g_string_new (NULL);
  g_autoptr(GBytes) want = NULL;
  g_autoptr(GBytes) got = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) item = g_variant_parse (NULL, cases[i].variant, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_true (gios_device_stream_send_item (pair->stream, item, NULL, &error));
      g_assert_no_error (error);
      g_string_append_printf (all, "%s ", cases[i].bytes);
    }
  /* Buffered until the caller flushes. */
  g_assert_false (gios_test_peer_has_input (pair->peer));
  g_assert_true (gios_device_stream_flush (pair->stream, 1000, NULL, &error));
  want = gios_test_hex_bytes (all->str);
  got = gios_test_peer_read_bytes (pair->peer, g_bytes_get_size (want));
  g_assert_true (g_bytes_equal (got, want));
  g_string_free (all, TRUE);

  /* What cannot be encoded writes nothing (and a floating item is
   * consumed, as valgrind checks). */
  g_assert_false (gios_device_stream_send_item (pair->stream, g_variant_new ("(ii)", 1, 2),
                                                NULL, &error));
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), ==, 0);
}

static void
test_items_receive (void)
{
  g_autoptr(GiosTestPair) pair = pair_new ();
  g_autoptr(GError) error = NULL;
  const char *want[] = {
    "'hello'", "''", "'€'", "int64 0", "int64 -1", "int64 255", "1.5", "@mv nothing",
    "'abc'", "'abc'", "'\U0001F51F'",
  };
  GVariant *item;

  peer_write_hex (pair->peer,
                  "07 01 68 65 6C 6C 6F  02 01  04 02 AC 20  02 04  02 05  03 04 FF"
                  "0A 08 00 00 00 00 00 00 F8 3F  01"
                  /* non-minimal prefixes are read too */
                  "00 04 00 01 61 62 63  00 00 00 04 00 00 00 01 61 62 63"
                  "06 02 3D D8 1F DD");
  g_assert_cmpint (shutdown (pair->peer, SHUT_WR), ==, 0);

  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    {
      g_autoptr(GVariant) expected = g_variant_parse (NULL, want[i], NULL, NULL, NULL);

      item = gios_device_stream_receive_item (pair->stream, 1000, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (item);
      g_assert_false (g_variant_is_floating (item));
      g_assert_true (g_variant_equal (item, expected));
      g_variant_unref (item);
    }
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);

  /* The end of input before an item: NULL, and no error. */
  item = gios_device_stream_receive_item (pair->stream, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (item);
}

/* A well-framed element that does not decode is consumed; the next one
 * reads. */
static void
test_items_bad_element (void)
{
  g_autoptr(GiosTestPair) pair = pair_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) item = NULL;

  peer_write_hex (pair->peer, "04 03 00 00  0B 04 01 02 03 04 05 06 07 08 09  03 04 2A");
  assert_receive_fails (pair->stream, RECEIVE_ITEM, 1000, NULL, GIOS_ERROR, GIOS_ERROR_UNSUPPORTED, NULL);
  assert_receive_fails (pair->stream, RECEIVE_ITEM, 1000, NULL, GIOS_ERROR, GIOS_ERROR_MALFORMED, NULL);
  item = gios_device_stream_receive_item (pair->stream, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (item), ==, 42);
}

/* Items and messages arriving one byte at a time. */
static void
test_split_arrivals (void)
{
  g_autoptr(GiosTestPair) pair = pair_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosMessage) msg = NULL;
  g_autoptr(GiosMessage) end = NULL;
  g_autoptr(GBytes) payload = gios_test_hex_bytes (CLASS_METHOD_PAYLOAD);
  g_autofree char *medium = g_strnfill (254, 'A');
  GiosTestSender *trickle;

  /* Items in all three length forms, then a message, then the end. */
  {
    g_autoptr(GString) text = g_string_new ("07 01 68 65 6C 6C 6F  00 FF 00 01 ");
    g_autoptr(GBytes) bytes = NULL;

    for (int i = 0; i < 254; i++)
      g_string_append (text, "41");
    g_string_append (text, " 00 00 00 04 00 00 00 01 61 62 63 " CLASS_METHOD_HEADER CLASS_METHOD_PAYLOAD);
    bytes = gios_test_hex_bytes (text->str);
    trickle = gios_test_sender_start_trickle (pair->peer, pair->stream_fd, g_bytes_get_data (bytes, NULL),
                                              g_bytes_get_size (bytes), TRUE);
  }

  assert_receives_string (pair->stream, 10000, "hello");
  assert_receives_string (pair->stream, 10000, medium);
  assert_receives_string (pair->stream, 10000, "abc");
  msg = gios_device_stream_receive_message (pair->stream, 10000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gios_message_get_code (msg), ==, 0xC24B);
  g_assert_true (g_bytes_equal (gios_message_get_payload (msg), payload));
  end = gios_device_stream_receive_message (pair->stream, 10000, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (end);
  gios_test_sender_join (trickle);
}

/* A timeout consumes nothing: the message reads whole once the rest comes. */
static void
test_timeouts (void)
{
  g_autoptr(GiosTestPair) pair = pair_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosMessage) msg = NULL;
  gint64 start;

  /* Half a header. */
  peer_write_hex (pair->peer, "1F 00 00 00 05 00 00");
  start = g_get_monotonic_time ();
  g_assert_null (gios_device_stream_receive_message (pair->stream, 150, NULL, &error));
  gios_test_assert_timed_out (&error, start, 150);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 7);

  /* The header and part of the payload. */
  peer_write_hex (pair->peer, "00 00 00 00 00 4B C2 11 01 25");
  assert_receive_fails (pair->stream, RECEIVE_MESSAGE, 100, NULL,
                        G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "17 bytes buffered", NULL);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 17);

  peer_write_hex (pair->peer, "53 59 53 54 45 4D 2E 56 65 72 73 69 6F 6E"
                              "0C 01 47 65 74 56 65 72 73 69 6F 6E 02 04");
  msg = gios_device_stream_receive_message (pair->stream, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gios_message_get_message_id (msg), ==, 5);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);

  /* Items: a medium prefix cut short, with the default timeout. */
  gios_device_stream_set_default_timeout (pair->stream, 120);
  peer_write_hex (pair->peer, "00 05");
  start = g_get_monotonic_time ();
  g_assert_null (gios_device_stream_receive_item (pair->stream, GIOS_TIMEOUT_DEFAULT, NULL, &error));
  gios_test_assert_timed_out (&error, start, 120);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 2);
  peer_write_hex (pair->peer, "00 01 61 62");
  assert_receive_fails (pair->stream, RECEIVE_ITEM, 0, NULL, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, NULL);
  peer_write_hex (pair->peer, "63 64");
  assert_receives_string (pair->stream, 1000, "abcd");

  /* Cancellation, too, consumes nothing. */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();

    peer_write_hex (pair->peer, "05 01 41");
    g_cancellable_cancel (cancellable);
    assert_receive_fails (pair->stream, RECEIVE_ITEM, 1000, cancellable,
                          G_IO_ERROR, G_IO_ERROR_CANCELLED, NULL);
    peer_write_hex (pair->peer, "42 43");
    assert_receives_string (pair->stream, 1000, "ABC");
  }
}

/* The peer resets the connection in the middle of a message; and a peer that
 * ends its output in the middle of one. */
static void
test_peer_reset (void)
{
  {
    g_autoptr(GiosTestPair) pair = gios_test_pair_new_tcp ();

    peer_write_hex (pair->peer, CLASS_METHOD_HEADER "11 01 25 53");
    gios_test_wait_kernel_input (pair->stream_fd, 18);
    gios_test_pair_reset_peer (pair);
    assert_receive_fails (pair->stream, RECEIVE_MESSAGE, 2000, NULL,
                          G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, NULL);
  }

  {
    g_autoptr(GiosTestPair) pair = pair_new ();

    peer_write_hex (pair->peer, CLASS_METHOD_HEADER "11 01 25 53");
    shutdown (pair->peer, SHUT_WR);
    assert_receive_fails (pair->stream, RECEIVE_MESSAGE, 2000, NULL,
                          G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, "18 of 45", NULL);
    /* Still there, for clear() to drop. */
    g_assert_cmpuint (gios_device_stream_clear (pair->stream), ==, 18);
  }

  {
    g_autoptr(GiosTestPair) pair = pair_new ();

    peer_write_hex (pair->peer, "00 00 00 10 00 00 00 01 61");
    shutdown (pair->peer, SHUT_WR);
    assert_receive_fails (pair->stream, RECEIVE_ITEM, 2000, NULL,
                          G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, NULL);
  }
}

static void
test_too_large (void)
{
  g_autoptr(GiosTestPair) pair = pair_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosMessage) msg = NULL;
  g_autoptr(GVariant) item = NULL;

  g_assert_cmpuint (gios_device_stream_get_max_message_size (pair->stream), ==, 16 * 1024 * 1024);
  g_object_set (pair->stream, "max-message-size", 100, NULL);
  g_assert_cmpuint (gios_device_stream_get_max_message_size (pair->stream), ==, 100);

  /* A payload of 100 bytes is at the limit. */
  peer_write_hex_repeating (pair->peer, "64 00 00 00 01 00 00 00 00 00 00 00 00 00", "00", 100);
  msg = gios_device_stream_receive_message (pair->stream, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (gios_message_get_payload (msg)), ==, 100);

  /* 101 is above it: nothing consumed, the message names both sizes. */
  peer_write_hex (pair->peer, "65 00 00 00 02 00 00 00 00 00 00 00 00 00 AA");
  assert_receive_fails (pair->stream, RECEIVE_MESSAGE, 1000, NULL,
                        GIOS_ERROR, GIOS_ERROR_TOO_LARGE, "101", "100", NULL);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), >=, 14);
  g_assert_cmpuint (gios_device_stream_clear (pair->stream), ==, 15);

  /* Items: the whole element counts, prefix included. */
  peer_write_hex_repeating (pair->peer, "00 62 00 01", "41", 97);
  assert_receive_fails (pair->stream, RECEIVE_ITEM, 1000, NULL,
                        GIOS_ERROR, GIOS_ERROR_TOO_LARGE, "101", NULL);
  g_object_set (pair->stream, "max-message-size", 101, NULL);
  item = gios_device_stream_receive_item (pair->stream, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (g_variant_get_string (item, NULL)), ==, 97);

  /* The default limit refuses a 4 GiB length at once. */
  g_object_set (pair->stream, "max-message-size", GIOS_DEFAULT_MAX_MESSAGE_SIZE, NULL);
  peer_write_hex (pair->peer, "FF FF FF FF 00 00 00 00 00 00 00 00 41 41");
  assert_receive_fails (pair->stream, RECEIVE_MESSAGE, 1000, NULL,
                        GIOS_ERROR, GIOS_ERROR_TOO_LARGE, "4294967295", NULL);
  gios_device_stream_clear (pair->stream);
  peer_write_hex (pair->peer, "00 00 00 FF FF FF FF 01");
  assert_receive_fails (pair->stream, RECEIVE_ITEM, 1000, NULL, GIOS_ERROR, GIOS_ERROR_TOO_LARGE, NULL);
}

/* With no limit, a 4 GiB length grows the buffer only with what arrives:
 * checked in a child whose address space cannot grow by more than 1 GiB. */
static void
huge_length_checks (void)
{
  g_autoptr(GiosTestPair) pair = pair_new ();

  gios_device_stream_set_max_message_size (pair->stream, G_MAXUINT);
  peer_write_hex (pair->peer, "FF FF FF FF 00 00 00 00 00 00 00 00 41 41 01 02 03");
  shutdown (pair->peer, SHUT_WR);
  assert_receive_fails (pair->stream, RECEIVE_MESSAGE, 2000, NULL,
                        G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, NULL);
  g_assert_cmpuint (gios_device_stream_clear (pair->stream), ==, 17);
  g_clear_pointer (&pair, gios_test_pair_free);

  pair = pair_new ();
  gios_device_stream_set_max_message_size (pair->stream, G_MAXUINT);
  peer_write_hex (pair->peer, "00 00 00 F0 FF FF FF 01 41 42");
  shutdown (pair->peer, SHUT_WR);
  assert_receive_fails (pair->stream, RECEIVE_ITEM, 2000, NULL,
                        G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, NULL);
}

static void
test_huge_length (void)
{
  gios_test_fork_with_address_limit (huge_length_checks, G_GUINT64_CONSTANT (1) << 30);
}

/* ------------------------------------------------------------------------ */
/* execute                                                                    */

#define CODE_ECHO GIOS_MESSAGE_CODE ('E', 'C')

static GiosMessage *
echo_handler (GiosDeviceStream *stream,
              GiosMessage      *request,
              gpointer          user_data)
{
  guint *calls = user_data;

  (*calls)++;
  if (gios_message_get_code (request) != CODE_ECHO)
    return NULL;
  return gios_message_new_reply (request, 0, gios_message_get_payload (request));
}

static void
test_execute_callback (void)
{
  g_autoptr(GiosTestPair) pair = pair_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosMessage) request = NULL;
  g_autoptr(GBytes) reply = NULL;
  guint calls = 0;
  GiosExecuteResult result;

  g_assert_cmpuint (gios_device_stream_get_stop_code (pair->stream), ==, GIOS_MESSAGE_CODE_DISCONNECT);
  /* EC with "hi", an unknown ZZ, then DC with a payload of its own. */
  peer_write_hex (pair->peer,
                  "04 00 00 00 00 00 00 00 2A 00 00 00 45 43 04 01 68 69"
                  "00 00 00 00 01 00 00 00 00 00 00 00 5A 5A"
                  "01 00 00 00 02 00 00 00 00 00 00 00 44 43 01");

  result = gios_device_stream_execute (pair->stream, 1000, echo_handler, &calls, &request,
                                       NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (result, ==, GIOS_EXECUTE_REQUEST_DONE);
  g_assert_null (request);
  reply = gios_test_peer_read_bytes (pair->peer, 18);
  gios_test_assert_bytes_hex (reply, "04 00 00 00 00 00 00 00 2A 00 00 00 00 00 04 01 68 69");

  result = gios_device_stream_execute (pair->stream, 1000, echo_handler, &calls, &request,
                                       NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (result, ==, GIOS_EXECUTE_UNHANDLED);
  g_assert_nonnull (request);
  g_assert_cmpstr (gios_message_get_code_string (request), ==, "ZZ");
  g_assert_cmpuint (gios_message_get_message_id (request), ==, 1);
  g_clear_pointer (&request, gios_message_unref);
  g_assert_false (gios_test_peer_has_input (pair->peer));

  result = gios_device_stream_execute (pair->stream, 1000, echo_handler, &calls, &request,
                                       NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (result, ==, GIOS_EXECUTE_STOPPED);
  g_assert_cmpstr (gios_message_get_code_string (request), ==, "DC");
  g_assert_cmpuint (gios_message_get_message_id (request), ==, 2);
  g_clear_pointer (&request, gios_message_unref);
  /* The stop code reaches no handler and gets no reply. */
  g_assert_cmpuint (calls, ==, 2);
  g_assert_false (gios_test_peer_has_input (pair->peer));

  /* A silent peer: a timeout, which is an error. */
  result = gios_device_stream_execute (pair->stream, 100, echo_handler, &calls, NULL,
                                       NULL, &error);
  g_assert_cmpint (result, ==, GIOS_EXECUTE_ERROR);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* Another stop code; DC is then an ordinary request. */
  gios_device_stream_set_stop_code (pair->stream, GIOS_MESSAGE_CODE ('Q', 'T'));
  g_assert_cmpuint (gios_device_stream_get_stop_code (pair->stream), ==, GIOS_MESSAGE_CODE ('Q', 'T'));
  peer_write_hex (pair->peer,
                  "00 00 00 00 03 00 00 00 00 00 00 00 44 43"
                  "00 00 00 00 04 00 00 00 00 00 00 00 51 54");
  result = gios_device_stream_execute (pair->stream, 1000, echo_handler, &calls, &request,
                                       NULL, &error);
  g_assert_cmpint (result, ==, GIOS_EXECUTE_UNHANDLED);
  g_clear_pointer (&request, gios_message_unref);
  result = gios_device_stream_execute (pair->stream, 1000, echo_handler, &calls, &request,
                                       NULL, &error);
  g_assert_cmpint (result, ==, GIOS_EXECUTE_STOPPED);
  g_assert_cmpstr (gios_message_get_code_string (request), ==, "QT");
  g_clear_pointer (&request, gios_message_unref);

  /* A status code can be the stop code too. */
  gios_device_stream_set_stop_code (pair->stream, 0);
  g_assert_cmpuint (gios_device_stream_get_stop_code (pair->stream), ==, 0);

  /* The peer ends its output between messages: stopped, with no request. */
  shutdown (pair->peer, SHUT_WR);
  result = gios_device_stream_execute (pair->stream, 1000, echo_handler, &calls, &request,
                                       NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (result, ==, GIOS_EXECUTE_STOPPED);
  g_assert_null (request);
}

/* With no function, the handle_request class method serves. */
typedef struct { GiosDeviceStream parent_instance; guint handled; } Upper;
typedef struct { GiosDeviceStreamClass parent_class; } UpperClass;
static GType upper_get_type (void);
G_DEFINE_TYPE (Upper, upper, GIOS_TYPE_DEVICE_STREAM)

static GiosMessage *
upper_handle_request (GiosDeviceStream *stream,
                      GiosMessage      *request)
{
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GVariant) first = NULL;
  g_autofree char *upper = NULL;
  GiosMessage *reply;

  if (gios_message_get_code (request) != GIOS_MESSAGE_CODE ('U', 'P'))
    return GIOS_DEVICE_STREAM_CLASS (upper_parent_class)->handle_request (stream, request);
  ((Upper *) stream)->handled++;
  items = gios_message_get_items (request, NULL);
  if (items == NULL || g_variant_n_children (items) != 1)
    return gios_message_new_reply (request, 400, NULL);
  first = g_variant_get_child_value (items, 0);
  {
    g_autoptr(GVariant) s = g_variant_get_variant (first);

    upper = g_ascii_strup (g_variant_get_string (s, NULL), -1);
  }
  reply = gios_message_new_reply (request, 0, NULL);
  g_assert_true (gios_message_set_items (reply, g_variant_new_parsed ("[<%s>]", upper), NULL));
  return reply;
}

static void upper_class_init (UpperClass *klass) { GIOS_DEVICE_STREAM_CLASS (klass)->handle_request = upper_handle_request; }
static void upper_init (Upper *self) { }

/* An Upper over a GSocketConnection that owns @fd. */
static GiosDeviceStream *
upper_over_socket (int fd)
{
  g_autoptr(GIOStream) connection = gios_test_socket_stream_new (fd);

  return g_object_new (upper_get_type (), "base-stream", connection, NULL);
}

static void
test_execute_vfunc (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosMessage) request = NULL;
  g_autoptr(GiosMessage) reply = NULL;
  g_autoptr(GiosMessage) plain_request = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GiosDeviceStream) stream = NULL;
  g_autoptr(GiosDeviceStream) peer = NULL;
  int fds[2];

  gios_test_socketpair (fds);
  stream = upper_over_socket (fds[0]);
  peer = gios_test_stream_over_socket (fds[1]);

  /* The client side: a GiosDeviceStream sending messages too. */
  request = gios_message_new_request (0, 0, "UP", NULL);
  g_assert_true (gios_message_set_items (request, g_variant_new_parsed ("[<'shout'>]"), &error));
  g_assert_true (gios_device_stream_send_message (peer, request, NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&request, gios_message_unref);
  request = gios_message_new_request (1, 0, "NO", NULL);
  g_assert_true (gios_device_stream_send_message (peer, request, NULL, &error));
  g_clear_pointer (&request, gios_message_unref);

  g_assert_cmpint (gios_device_stream_execute (stream, 1000, NULL, NULL, &request, NULL, &error),
                   ==, GIOS_EXECUTE_REQUEST_DONE);
  g_assert_no_error (error);
  reply = gios_device_stream_receive_message (peer, 1000, NULL, &error);
  g_assert_no_error (error);
  {
    g_autoptr(GVariant) items = gios_message_get_items (reply, &error);
    g_autofree char *printed = g_variant_print (items, FALSE);

    g_assert_cmpstr (printed, ==, "[<'SHOUT'>]");
  }
  g_assert_cmpint (gios_device_stream_execute (stream, 1000, NULL, NULL, &request, NULL, &error),
                   ==, GIOS_EXECUTE_UNHANDLED);
  g_assert_cmpstr (gios_message_get_code_string (request), ==, "NO");
  g_assert_cmpuint (((Upper *) stream)->handled, ==, 1);

  /* A plain GiosDeviceStream (the peer) handles nothing. */
  g_assert_true (gios_device_stream_send_message (stream, request, NULL, &error));
  g_assert_cmpint (gios_device_stream_execute (peer, 1000, NULL, NULL, &plain_request, NULL, &error),
                   ==, GIOS_EXECUTE_UNHANDLED);
  g_assert_no_error (error);
  bytes = gios_message_to_bytes (plain_request);
  gios_test_assert_bytes_hex (bytes, "00 00 00 00 01 00 00 00 00 00 00 00 4E 4F");
}

/* The reply cannot be sent: execute fails with the write's error. */
static void
test_execute_send_fails (void)
{
  g_autoptr(GiosTestPair) pair = pair_new ();
  g_autoptr(GError) error = NULL;
  guint calls = 0;

  peer_write_hex (pair->peer, "02 00 00 00 00 00 00 00 00 00 00 00 45 43 02 01");
  gios_test_wait_kernel_input (pair->stream_fd, 16);
  gios_test_pair_close_peer (pair);
  g_assert_cmpint (gios_device_stream_execute (pair->stream, 1000, echo_handler, &calls, NULL,
                                               NULL, &error), ==, GIOS_EXECUTE_ERROR);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_cmpuint (calls, ==, 1);
}

/* ------------------------------------------------------------------------ */
/* The memory that decoding items costs                                      */

/* A field of /proc/self/status, in KiB. */
static guint64
status_kib (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, field);
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (field), NULL, 10);
}

/* Makes VmHWM the current VmRSS: "5" in clear_refs (Linux 4.0). */
static gboolean
reset_peak_rss (void)
{
  int fd = open ("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  gboolean done;

  if (fd < 0)
    return FALSE;
  done = write (fd, "5", 1) == 1;
  close (fd);
  return done;
}

/* A payload of max-message-size bytes, every element @element (its last
 * byte an undefined element when the size is not a multiple). */
static GBytes *
payload_of (const guint8 *element,
            gsize         len)
{
  gsize size = GIOS_DEFAULT_MAX_MESSAGE_SIZE, i;
  guint8 *data = g_malloc (size);

  for (i = 0; i + len <= size; i += len)
    memcpy (data + i, element, len);
  memset (data + i, 0x01, size - i);
  return g_bytes_new_take (data, size);
}

/* gios_message_get_items() on a message as large as max-message-size allows
 * grows the resident memory by at most 16 times the payload at its peak.
 * (A tree of one GVariant per item took +2.9 GiB for 16 MiB of undefined
 * elements, and 10 s.) */
static void
test_items_memory (gconstpointer data)
{
  const char *element_hex = data;
  g_autoptr(GBytes) element = gios_test_hex_bytes (element_hex);
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GiosMessage) msg = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GError) error = NULL;
  gsize element_len, size;
  const guint8 *p = g_bytes_get_data (element, &element_len);
  guint64 before, peak;
  gint64 start;

  if (RUNNING_ON_VALGRIND)
    {
      g_test_skip ("valgrind's own memory counts in the resident size");
      return;
    }
  payload = payload_of (p, element_len);
  size = g_bytes_get_size (payload);
  msg = gios_message_new (1, 0, 0, payload);
  if (!reset_peak_rss ())
    {
      g_test_skip ("/proc/self/clear_refs cannot reset the peak resident size");
      return;
    }
  before = status_kib ("VmRSS:");
  start = g_get_monotonic_time ();
  items = gios_message_get_items (msg, &error);
  peak = status_kib ("VmHWM:");
  g_test_message ("%zu bytes of %s elements: %zu items, peak +%" G_GUINT64_FORMAT " KiB (%.1fx), %.2f s",
                  size, element_hex, g_variant_n_children (items), peak - before,
                  (peak - before) * 1024.0 / size, (g_get_monotonic_time () - start) / 1e6);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (items), ==, size / element_len + size % element_len);
  g_assert_cmpuint ((peak - before) * 1024, <=, 16 * (guint64) size);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/message/examples/write", test_examples_write);
  g_test_add_func ("/message/examples/read", test_examples_read);
  g_test_add_func ("/message/examples/stream", test_examples_stream);
  g_test_add_func ("/message/kinds", test_kinds);
  g_test_add_func ("/message/api", test_message_api);
  g_test_add_func ("/message/items/send", test_items_send);
  g_test_add_func ("/message/items/receive", test_items_receive);
  g_test_add_func ("/message/items/bad-element", test_items_bad_element);
  g_test_add_data_func ("/message/items/memory/undefined", "01", test_items_memory);
  g_test_add_data_func ("/message/items/memory/small-ints", "03 04 2A", test_items_memory);
  g_test_add_func ("/message/stream/split-arrivals", test_split_arrivals);
  g_test_add_func ("/message/stream/timeouts", test_timeouts);
  g_test_add_func ("/message/stream/peer-reset", test_peer_reset);
  g_test_add_func ("/message/stream/too-large", test_too_large);
  g_test_add_func ("/message/stream/huge-length", test_huge_length);
  g_test_add_func ("/message/execute/callback", test_execute_callback);
  g_test_add_func ("/message/execute/vfunc", test_execute_vfunc);
  g_test_add_func ("/message/execute/send-fails", test_execute_send_fails);

  return g_test_run ();
}
