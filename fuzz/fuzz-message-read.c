/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the readers of framed input on a GiosDeviceStream:
 * receive_message(), receive_item() and execute(), over a GMemoryInputStream
 * holding the input (a reply goes to a GMemoryOutputStream).
 *
 * The first byte chooses: bits 0-1 the reader (messages, items, execute,
 * or each in turn), bits 2-4 the max-message-size (from 0 to the default),
 * bit 5 a one-byte input buffer. The rest is the stream.
 */

#include "gios-private.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data,
                            size_t        size);

#define MAX_READS 4096

static const guint max_sizes[] = { 0, 1, 13, 14, 255, 4096, 65536, GIOS_DEFAULT_MAX_MESSAGE_SIZE };

static void
check_message (GiosMessage *msg)
{
  GBytes *frame = gios_message_to_bytes (msg);
  GiosMessage *again;
  GVariant *items;
  GError *error = NULL;

  /* What was read writes back to the same bytes, and parses again. */
  again = gios_message_new_from_bytes (frame, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gios_message_get_message_id (again), ==, gios_message_get_message_id (msg));
  g_assert_cmpuint (gios_message_get_context (again), ==, gios_message_get_context (msg));
  g_assert_cmpuint (gios_message_get_code (again), ==, gios_message_get_code (msg));
  g_assert_true (g_bytes_equal (gios_message_get_payload (again), gios_message_get_payload (msg)));
  g_assert_cmpint (gios_message_get_kind (again), ==, gios_message_get_kind (msg));
  if (gios_message_get_code_string (msg) != NULL)
    g_assert_cmpuint (strlen (gios_message_get_code_string (msg)), ==, 2);

  items = gios_message_get_items (msg, &error);
  g_assert ((items == NULL) != (error == NULL));
  if (items != NULL)
    g_variant_unref (items);
  g_clear_error (&error);

  gios_message_unref (again);
  g_bytes_unref (frame);
}

static GiosMessage *
echo (GiosDeviceStream *stream,
      GiosMessage      *request,
      gpointer          user_data)
{
  if (gios_message_get_code (request) & 1)
    return NULL;
  return gios_message_new_reply (request, 0, gios_message_get_payload (request));
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  GInputStream *in;
  GOutputStream *out;
  GIOStream *io;
  GiosDeviceStream *stream;
  guint8 mode;

  if (size < 1)
    return 0;
  mode = data[0];
  data++;
  size--;

  in = g_memory_input_stream_new_from_data (data, size, NULL);
  out = g_memory_output_stream_new_resizable ();
  io = g_simple_io_stream_new (in, out);
  stream = gios_device_stream_new (io);
  gios_device_stream_set_max_message_size (stream, max_sizes[(mode >> 2) & 7]);
  if (mode & 0x20)
    gios_device_stream_set_input_buffer_size (stream, 1);

  for (guint i = 0; i < MAX_READS; i++)
    {
      GError *error = NULL;
      gsize before = gios_device_stream_get_buffered_input (stream);
      guint reader = (mode & 3) == 3 ? i % 3 : (mode & 3);
      gboolean go_on = FALSE;

      if (reader == 0)
        {
          GiosMessage *msg = gios_device_stream_receive_message (stream, 0, NULL, &error);

          if (msg != NULL)
            {
              g_assert_cmpuint (g_bytes_get_size (gios_message_get_payload (msg)), <=,
                                gios_device_stream_get_max_message_size (stream));
              check_message (msg);
              gios_message_unref (msg);
              go_on = TRUE;
            }
        }
      else if (reader == 1)
        {
          GVariant *item = gios_device_stream_receive_item (stream, 0, NULL, &error);

          if (item != NULL)
            {
              g_assert_false (g_variant_is_floating (item));
              g_variant_unref (item);
              go_on = TRUE;
            }
          /* An element that arrived whole but does not decode is consumed. */
          else if (error != NULL && error->domain == GIOS_ERROR && error->code != GIOS_ERROR_TOO_LARGE)
            go_on = TRUE;
        }
      else
        {
          GiosMessage *request = NULL;
          GiosExecuteResult result = gios_device_stream_execute (stream, 0, echo, NULL, &request,
                                                                 NULL, &error);

          g_assert ((result == GIOS_EXECUTE_ERROR) == (error != NULL));
          go_on = result == GIOS_EXECUTE_REQUEST_DONE || result == GIOS_EXECUTE_UNHANDLED ||
                  (result == GIOS_EXECUTE_STOPPED && request != NULL);
          if (request != NULL)
            gios_message_unref (request);
        }

      /* A failure other than a bad element consumes nothing. */
      if (error != NULL && !go_on)
        g_assert_cmpuint (gios_device_stream_get_buffered_input (stream), >=, before);
      g_clear_error (&error);
      if (!go_on)
        break;
    }

  g_object_unref (stream);
  g_object_unref (io);
  g_object_unref (out);
  g_object_unref (in);
  return 0;
}
