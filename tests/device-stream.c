/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for GiosDeviceStream: buffering, framing, timeouts, cancellation and
 * closing, over three transports:
 *
 *  - "unix":    gios_device_stream_new() over a GSimpleIOStream of
 *               GUnixInputStream/GUnixOutputStream on one end of a socketpair
 *  - "gsocket": gios_device_stream_new() over a GSocketConnection on one end
 *               of a socketpair
 *  - "tcp":     a GiosSocket accepted by a GiosServerSocket on 127.0.0.1,
 *               port 0, with a GiosSocket client as the peer
 *
 * The test holds the raw descriptor of the other end (the peer).
 */

#include "config.h"

#include <gios/gios.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>

#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gios-test-utils.h"

typedef enum {
  TRANSPORT_UNIX,
  TRANSPORT_GSOCKET,
  TRANSPORT_TCP,
  N_TRANSPORTS
} Transport;

static const char *transport_names[N_TRANSPORTS] = { "unix", "gsocket", "tcp" };

/* ------------------------------------------------------------------------ */
/* Pairs                                                                      */

static GiosDeviceStream *
stream_over_fd (int fd)
{
  g_autoptr(GIOStream) io = NULL;
  g_autoptr(GInputStream) in = g_unix_input_stream_new (fd, TRUE);
  g_autoptr(GOutputStream) out = g_unix_output_stream_new (dup (fd), TRUE);

  io = g_simple_io_stream_new (in, out);
  return gios_device_stream_new (io);
}

static GiosTestPair *
pair_new (Transport transport)
{
  GiosTestPair *pair = NULL;

  switch (transport)
    {
    case TRANSPORT_UNIX:
      pair = gios_test_pair_new_socketpair (stream_over_fd);
      break;
    case TRANSPORT_GSOCKET:
      pair = gios_test_pair_new_socketpair (gios_test_stream_over_socket);
      break;
    case TRANSPORT_TCP:
      pair = gios_test_pair_new_tcp ();
      g_assert_true (GIOS_IS_SOCKET (pair->stream));
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_true (gios_device_stream_get_is_open (pair->stream));
  return pair;
}

/* The peer stops sending: the stream sees end of input. */
static void
pair_peer_shutdown (GiosTestPair *pair)
{
  g_assert_cmpint (shutdown (pair->peer, SHUT_WR), ==, 0);
}

static void
set_buf (int fd,
         int option,
         int size)
{
  g_assert_cmpint (setsockopt (fd, SOL_SOCKET, option, &size, sizeof size), ==, 0);
}

/* Kernel buffers of about @size bytes between the stream and its peer, so
 * that the peer soon takes no more: the stream's send buffer, and the
 * peer's receive buffer on socketpairs only (a small receive buffer on a
 * connected TCP socket can stall the connection in zero-window probes with
 * back-off). */
static void
set_small_buffers (GiosTestPair *pair,
                   int           size)
{
  set_buf (pair->stream_fd, SO_SNDBUF, size);
  if (pair->server == NULL)
    set_buf (pair->peer, SO_RCVBUF, size);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                    */

/* Reads @len bytes from a raw descriptor, slowly if asked, and checks them
 * against gios_test_pattern_byte(). */
typedef struct {
  int fd;
  gsize len;
  gsize chunk;
  guint slow_every;
  gsize received;
  gsize first_bad;
  GThread *thread;
} Receiver;

static gpointer
receiver_thread (gpointer user_data)
{
  Receiver *r = user_data;
  g_autofree guint8 *buf = g_malloc (r->chunk);
  guint reads = 0;

  r->first_bad = G_MAXSIZE;
  while (r->received < r->len)
    {
      gsize want = MIN (r->chunk, r->len - r->received);
      gsize i;

      gios_test_peer_read_exact (r->fd, buf, want);
      for (i = 0; i < want && r->first_bad == G_MAXSIZE; i++)
        if (buf[i] != gios_test_pattern_byte (r->received + i))
          r->first_bad = r->received + i;
      r->received += want;
      if (r->slow_every > 0 && ++reads % r->slow_every == 0)
        g_usleep (1000);
    }
  return NULL;
}

static Receiver *
start_receiver (int   fd,
                gsize len,
                gsize chunk,
                guint slow_every)
{
  Receiver *r = g_new (Receiver, 1);

  *r = (Receiver) { fd, len, chunk, slow_every, 0, 0, NULL };
  r->thread = g_thread_new ("receiver", receiver_thread, r);
  return r;
}

/* Joins the receiver, asserts that every byte arrived, in order, and frees
 * it. */
static void
join_receiver (Receiver *r)
{
  g_thread_join (r->thread);
  g_assert_cmpuint (r->received, ==, r->len);
  g_assert_cmpuint (r->first_bad, ==, G_MAXSIZE);
  g_free (r);
}

/* Flushes @stream within @timeout_ms while the receiver reads, then joins
 * it: everything the stream held arrived, in order. */
static void
flush_to_receiver (GiosDeviceStream *stream,
                   int               timeout_ms,
                   Receiver         *r)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = gios_device_stream_flush (stream, timeout_ms, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (stream), ==, 0);
  join_receiver (r);
}

/* After a write or flush of @total bytes that was to take 200 ms from
 * @start: it timed out, on time, and kept part of them buffered; returns
 * how many bytes it kept. */
static gsize
assert_timed_out_keeping_part (GiosDeviceStream  *stream,
                               GError           **error,
                               gint64             start,
                               gsize              total)
{
  gsize left;

  gios_test_assert_timed_out (error, start, 200);
  left = gios_device_stream_get_buffered_output (stream);
  g_assert_cmpuint (left, >, 0);
  g_assert_cmpuint (left, <, total);
  return left;
}

static guint8 *
pattern_data (gsize len)
{
  guint8 *data = g_malloc (len);
  gsize i;

  for (i = 0; i < len; i++)
    data[i] = gios_test_pattern_byte (i);
  return data;
}

/* A read for gios_test_blocked_start(), which waits up to 10 s. */
typedef enum { BLOCK_READ, BLOCK_READ_LINE, BLOCK_READ_EXACT } BlockKind;

typedef struct {
  GiosDeviceStream *stream;
  BlockKind kind;
  GCancellable *cancellable;
} BlockedRead;

static gboolean
blocked_read (gpointer   data,
              GError   **error)
{
  BlockedRead *r = data;
  guint8 buf[64];
  char *line;
  gboolean ok = FALSE;

  switch (r->kind)
    {
    case BLOCK_READ:
      ok = gios_device_stream_read (r->stream, buf, sizeof buf, 10000, r->cancellable, error) >= 0;
      break;
    case BLOCK_READ_LINE:
      line = gios_device_stream_read_line (r->stream, 0, NULL, 10000, r->cancellable, error);
      ok = line != NULL;
      g_free (line);
      break;
    case BLOCK_READ_EXACT:
      ok = gios_device_stream_read_exact (r->stream, buf, sizeof buf, 10000, r->cancellable, error);
      break;
    }
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Read                                                                       */

/* Reads at most @count bytes within @timeout_ms and asserts that the read
 * gave the @len bytes at @expected (0: the end of input). */
static void
assert_read (GiosDeviceStream *stream,
             gsize             count,
             int               timeout_ms,
             const void       *expected,
             gssize            len)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *buf = g_malloc (count + 1);
  gssize n = gios_device_stream_read (stream, buf, count, timeout_ms, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (n, ==, len);
  g_assert_cmpmem (buf, n, expected, len);
}

static void
test_read_buffered_first (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint8 buf[100];
  gint64 start;

  gios_test_peer_write_str (pair->peer, "hello world");
  gios_test_wait_kernel_input (pair->stream_fd, 11);
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, 0, 0, NULL, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);

  assert_read (pair->stream, 5, 1000, "hello", 5);
  /* The rest was received into the buffer with the first five. */
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 6);

  /* Buffered bytes come without waiting, even with timeout 0. */
  start = g_get_monotonic_time ();
  assert_read (pair->stream, sizeof buf, 0, " world", 6);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 100);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);
}

static void
test_read_waits (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  GiosTestSender *sender;
  guint8 buf[16];
  gssize n;

  sender = gios_test_sender_start (pair->peer, "late", 4, 4, 0);
  n = gios_device_stream_read (pair->stream, buf, sizeof buf, 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, >=, 1);
  g_assert_cmpint (n, <=, 4);
  g_assert_cmpmem (buf, n, "late", n);
  gios_test_sender_join (sender);
}

static void
notify_count (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_read_end (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint8 buf[16];
  guint notified = 0;
  gboolean at_end = TRUE;
  gsize got = 0;
  gssize n;

  g_signal_connect (pair->stream, "notify::at-end", G_CALLBACK (notify_count), &notified);
  gios_test_peer_write_str (pair->peer, "abc");
  pair_peer_shutdown (pair);

  g_assert_false (gios_device_stream_get_at_end (pair->stream));
  while (got < 3)
    {
      n = gios_device_stream_read (pair->stream, buf + got, sizeof buf - got, 5000, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, >, 0);
      got += n;
    }
  g_assert_cmpmem (buf, 3, "abc", 3);
  g_object_get (pair->stream, "at-end", &at_end, NULL);
  g_assert_false (at_end);

  assert_read (pair->stream, sizeof buf, 5000, "", 0);
  g_assert_true (gios_device_stream_get_at_end (pair->stream));
  g_object_get (pair->stream, "at-end", &at_end, NULL);
  g_assert_true (at_end);
  g_assert_cmpuint (notified, ==, 1);

  /* It stays at the end. */
  assert_read (pair->stream, sizeof buf, 5000, "", 0);
  g_assert_cmpuint (notified, ==, 1);
}

static void
test_read_large_bypasses_buffer (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autofree guint8 *payload = pattern_data (100);

  gios_device_stream_set_input_buffer_size (pair->stream, 16);
  gios_test_peer_write_all (pair->peer, payload, 100);
  gios_test_wait_kernel_input (pair->stream_fd, 100);

  /* Through the 16-byte buffer the read would give 16 bytes. */
  assert_read (pair->stream, 64, 1000, payload, 64);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);

  /* A small read then goes through the buffer. */
  assert_read (pair->stream, 4, 1000, payload + 64, 4);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 12);
}

static void
test_read_bytes (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) empty = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) end = NULL;
  gsize got = 0;

  empty = gios_device_stream_read_bytes (pair->stream, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (empty);
  g_assert_cmpuint (g_bytes_get_size (empty), ==, 0);

  gios_test_peer_write_str (pair->peer, "abc");
  gios_test_wait_kernel_input (pair->stream_fd, 3);
  /* A huge count: it must not allocate it. */
  bytes = gios_device_stream_read_bytes (pair->stream, G_MAXSSIZE, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  got = g_bytes_get_size (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), got, "abc", 3);

  pair_peer_shutdown (pair);
  end = gios_device_stream_read_bytes (pair->stream, 1024, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (end);
  g_assert_cmpuint (g_bytes_get_size (end), ==, 0);
  g_assert_true (gios_device_stream_get_at_end (pair->stream));
}

static void
test_read_bytes_timeout (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  GBytes *bytes;
  gint64 start = g_get_monotonic_time ();

  bytes = gios_device_stream_read_bytes (pair->stream, 10, 200, NULL, &error);
  g_assert_null (bytes);
  gios_test_assert_timed_out (&error, start, 200);
}

/* ------------------------------------------------------------------------ */
/* read_exact                                                                 */

static void
test_read_exact_many_writes (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *payload = pattern_data (100000);
  g_autofree guint8 *buf = g_malloc (100000);
  GiosTestSender *sender;

  /* 1000 writes of 100 bytes */
  sender = gios_test_sender_start (pair->peer, payload, 100000, 100, 100);
  g_assert_true (gios_device_stream_read_exact (pair->stream, buf, 100000, 20000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, 100000, payload, 100000);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);
  gios_test_sender_join (sender);
}

static void
test_read_exact_timeout_keeps (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint8 buf[32];
  gint64 start;

  gios_test_peer_write_str (pair->peer, "0123456789");
  start = g_get_monotonic_time ();
  g_assert_false (gios_device_stream_read_exact (pair->stream, buf, 20, 200, NULL, &error));
  gios_test_assert_timed_out (&error, start, 200);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 10);

  assert_read (pair->stream, sizeof buf, 0, "0123456789", 10);

  /* Then the rest completes a new exact read. */
  gios_test_peer_write_str (pair->peer, "abcdefghij");
  g_assert_true (gios_device_stream_read_exact (pair->stream, buf, 10, 5000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buf, 10, "abcdefghij", 10);
}

static void
test_read_exact_end_keeps (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint8 buf[32];

  gios_test_peer_write_str (pair->peer, "0123456789");
  pair_peer_shutdown (pair);
  g_assert_false (gios_device_stream_read_exact (pair->stream, buf, 20, 5000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 10);
  /* The end was seen; the bytes before it can still be read. */
  g_assert_true (gios_device_stream_get_at_end (pair->stream));

  assert_read (pair->stream, sizeof buf, 0, "0123456789", 10);
  assert_read (pair->stream, sizeof buf, 1000, "", 0);
}

static void
test_read_exact_bytes (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *payload = pattern_data (100000);
  g_autoptr(GBytes) bytes = NULL;
  static const guint8 binary[] = { 0x00, 0xff, 0x80, 'a', 0x00 };
  GiosTestSender *sender;
  gint64 start;

  sender = gios_test_sender_start (pair->peer, payload, 100000, 100, 100);
  bytes = gios_device_stream_read_exact_bytes (pair->stream, 100000, 20000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), payload, 100000);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);
  gios_test_sender_join (sender);
  g_clear_pointer (&bytes, g_bytes_unref);

  /* Time out with part of it: nothing is consumed. */
  gios_test_peer_write_all (pair->peer, binary, 3);
  start = g_get_monotonic_time ();
  g_assert_null (gios_device_stream_read_exact_bytes (pair->stream, 5, 200, NULL, &error));
  gios_test_assert_timed_out (&error, start, 200);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 3);

  gios_test_peer_write_all (pair->peer, binary + 3, 2);
  bytes = gios_device_stream_read_exact_bytes (pair->stream, 5, 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), binary, 5);
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = gios_device_stream_read_exact_bytes (pair->stream, 0, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 0);
  g_clear_pointer (&bytes, g_bytes_unref);

  /* The input ends first: an error, and the bytes stay. */
  gios_test_peer_write_str (pair->peer, "xy");
  pair_peer_shutdown (pair);
  g_assert_null (gios_device_stream_read_exact_bytes (pair->stream, 3, 5000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_clear_error (&error);
  bytes = gios_device_stream_read_exact_bytes (pair->stream, 2, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "xy", 2);
}

/* ------------------------------------------------------------------------ */
/* read_line                                                                  */

static void
assert_line (GiosDeviceStream *stream,
             gsize             max_length,
             const char       *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length = 12345;

  line = gios_device_stream_read_line (stream, max_length, &length, 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, expected);
  g_assert_cmpuint (length, ==, strlen (expected));
}

static void
test_read_line_lf_crlf (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));

  gios_test_peer_write_str (pair->peer, "one\ntwo\r\n\nthree\r\n\r\nlast\n");
  assert_line (pair->stream, 0, "one");
  assert_line (pair->stream, 0, "two");
  assert_line (pair->stream, 0, "");
  assert_line (pair->stream, 0, "three");
  assert_line (pair->stream, 0, "");
  assert_line (pair->stream, 0, "last");
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);
}

static void
test_read_line_crlf_split (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  char *line;
  gint64 start = g_get_monotonic_time ();
  GiosTestSender *sender;

  gios_test_peer_write_str (pair->peer, "abc\r");
  line = gios_device_stream_read_line (pair->stream, 0, NULL, 200, NULL, &error);
  g_assert_null (line);
  gios_test_assert_timed_out (&error, start, 200);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 4);

  gios_test_peer_write_str (pair->peer, "\n");
  assert_line (pair->stream, 0, "abc");

  /* Within one call, from a sender. */
  sender = gios_test_sender_start (pair->peer, "xyz\r\n", 5, 4, 20000);
  assert_line (pair->stream, 0, "xyz");
  gios_test_sender_join (sender);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);
}

static const char slow_line[] = "The quick brown fox jumps over the lazy dog, twice.\r\n";

static void
test_read_line_slow_sender (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gint64 start = g_get_monotonic_time ();
  gsize length = 0;
  GiosTestSender *sender;

  /* One byte every 2 ms: about 110 ms for the line, under one deadline. */
  sender = gios_test_sender_start (pair->peer, slow_line, strlen (slow_line), 1, 2000);
  line = gios_device_stream_read_line (pair->stream, 0, &length, 3000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "The quick brown fox jumps over the lazy dog, twice.");
  g_assert_cmpuint (length, ==, strlen (slow_line) - 2);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 3000);
  gios_test_sender_join (sender);
}

/* The timeout covers the whole line, not each arrival: a sender that keeps
 * sending, but too slowly, still times out; nothing is consumed. */
static void
test_read_line_one_deadline (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  char *line;
  gint64 start = g_get_monotonic_time ();
  gsize buffered;
  GiosTestSender *sender;

  /* One byte every 10 ms: about 540 ms for the line. */
  sender = gios_test_sender_start (pair->peer, slow_line, strlen (slow_line), 1, 10000);
  line = gios_device_stream_read_line (pair->stream, 0, NULL, 200, NULL, &error);
  g_assert_null (line);
  gios_test_assert_timed_out (&error, start, 200);
  buffered = gios_device_stream_get_buffered_input (pair->stream);
  g_assert_cmpuint (buffered, >, 0);
  g_assert_cmpuint (buffered, <, strlen (slow_line));
  gios_test_sender_join (sender);

  assert_line (pair->stream, 0, "The quick brown fox jumps over the lazy dog, twice.");
}

static void
assert_line_too_long (GiosDeviceStream *stream,
                      gsize             max_length,
                      gsize             expect_buffered)
{
  g_autoptr(GError) error = NULL;
  gsize length = 12345;
  char *line;

  line = gios_device_stream_read_line (stream, max_length, &length, 5000, NULL, &error);
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_LINE_TOO_LONG);
  g_assert_null (line);
  g_assert_cmpuint (length, ==, 0);
  if (expect_buffered > 0)
    g_assert_cmpuint (gios_device_stream_get_buffered_input (stream), ==, expect_buffered);
}

static void
test_read_line_max_length (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));

  gios_test_peer_write_str (pair->peer, "0123456789\n");
  gios_test_wait_kernel_input (pair->stream_fd, 11);
  assert_line (pair->stream, 10, "0123456789");

  gios_test_peer_write_str (pair->peer, "0123456789\r\n");
  gios_test_wait_kernel_input (pair->stream_fd, 12);
  assert_line (pair->stream, 10, "0123456789");

  /* One over: an error, and the bytes stay unread. */
  gios_test_peer_write_str (pair->peer, "01234567890\n");
  gios_test_wait_kernel_input (pair->stream_fd, 12);
  assert_line_too_long (pair->stream, 10, 12);
  /* Again: the same answer, nothing consumed. */
  assert_line_too_long (pair->stream, 10, 12);
  /* A larger limit takes it. */
  assert_line (pair->stream, 11, "01234567890");

  gios_test_peer_write_str (pair->peer, "01234567890\r\nnext\n");
  gios_test_wait_kernel_input (pair->stream_fd, 18);
  assert_line_too_long (pair->stream, 10, 18);
  g_assert_cmpuint (gios_device_stream_clear (pair->stream), ==, 18);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 0);
  g_assert_cmpuint (gios_device_stream_clear (pair->stream), ==, 0);

  gios_test_peer_write_str (pair->peer, "ok\n");
  assert_line (pair->stream, 10, "ok");
}

/* A line at the limit that arrives a byte at a time is accepted. */
static void
test_read_line_max_length_slow (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  GiosTestSender *sender;

  sender = gios_test_sender_start (pair->peer, "0123456789\r\n", 12, 1, 2000);
  assert_line (pair->stream, 10, "0123456789");
  gios_test_sender_join (sender);

  sender = gios_test_sender_start (pair->peer, "0123456789\n", 11, 1, 2000);
  assert_line (pair->stream, 10, "0123456789");
  gios_test_sender_join (sender);

  sender = gios_test_sender_start (pair->peer, "01234567890\n", 12, 1, 2000);
  assert_line_too_long (pair->stream, 10, 0);
  gios_test_sender_join (sender);
  g_assert_cmpuint (gios_device_stream_clear (pair->stream), <=, 12);
}

/* A line without an end fails as soon as it is too long, without the
 * buffer growing past the limit. */
static void
test_read_line_no_end (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  g_autofree char *junk = g_malloc (64 * 1024);
  gint64 start = g_get_monotonic_time ();
  gsize buffered;
  char *line;

  memset (junk, 'x', 64 * 1024);
  gios_device_stream_set_input_buffer_size (pair->stream, 64);
  gios_test_peer_write_all (pair->peer, junk, 64 * 1024);

  line = gios_device_stream_read_line (pair->stream, 1000, NULL, 5000, NULL, &error);
  g_assert_error (error, GIOS_ERROR, GIOS_ERROR_LINE_TOO_LONG);
  g_assert_null (line);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 2000);
  buffered = gios_device_stream_get_buffered_input (pair->stream);
  g_assert_cmpuint (buffered, >, 1000);
  g_assert_cmpuint (buffered, <=, 1000 + 2 + 1);
  g_assert_cmpuint (gios_device_stream_clear (pair->stream), ==, buffered);
}

/* max_length 0 means GIOS_DEFAULT_MAX_LINE_LENGTH. */
static void
test_read_line_default_max (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  gsize len = GIOS_DEFAULT_MAX_LINE_LENGTH;
  g_autofree char *text = g_malloc (2 * len + 4);
  g_autofree char *expected = g_strnfill (len, 'a');
  GiosTestSender *sender;

  memset (text, 'a', len);
  text[len] = '\n';
  memset (text + len + 1, 'b', len + 1);
  text[2 * len + 2] = '\n';
  sender = gios_test_sender_start (pair->peer, text, 2 * len + 3, 4096, 0);
  assert_line (pair->stream, 0, expected);
  assert_line_too_long (pair->stream, 0, 0);
  gios_test_sender_join (sender);
  g_assert_cmpuint (gios_device_stream_clear (pair->stream), <=, len + 2);
}

static void
test_read_line_terminator (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  GiosTestSender *sender;

  gios_device_stream_set_line_terminator (pair->stream, "\r\n");
  gios_test_peer_write_str (pair->peer, "a\nb\r\nc\r\n");
  assert_line (pair->stream, 0, "a\nb");
  assert_line (pair->stream, 0, "c");

  gios_device_stream_set_line_terminator (pair->stream, "END");
  gios_test_peer_write_str (pair->peer, "fooENDEND");
  assert_line (pair->stream, 0, "foo");
  assert_line (pair->stream, 0, "");
  /* The terminator split across arrivals. */
  sender = gios_test_sender_start (pair->peer, "barENDbazEND", 12, 1, 2000);
  assert_line (pair->stream, 0, "bar");
  assert_line (pair->stream, 0, "baz");
  gios_test_sender_join (sender);
  /* Not at the limit: "abcE" "N" "D" where only the terminator is past it. */
  gios_test_peer_write_str (pair->peer, "abcEND");
  assert_line (pair->stream, 3, "abc");
}

static void
test_read_line_last_line (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  gsize length = 12345;
  char *line;

  gios_test_peer_write_str (pair->peer, "first\nlast");
  pair_peer_shutdown (pair);
  assert_line (pair->stream, 0, "first");
  assert_line (pair->stream, 0, "last");

  line = gios_device_stream_read_line (pair->stream, 0, &length, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (line);
  g_assert_cmpuint (length, ==, 0);
  g_assert_true (gios_device_stream_get_at_end (pair->stream));
  line = gios_device_stream_read_line (pair->stream, 0, &length, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (line);
}

static void
test_read_line_last_too_long (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));

  gios_test_peer_write_str (pair->peer, "0123456789A");
  pair_peer_shutdown (pair);
  assert_line_too_long (pair->stream, 10, 11);
  assert_line (pair->stream, 11, "0123456789A");
}

/* A caller may ask for no practical limit. */
static void
test_read_line_huge_max (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  GiosTestSender *sender;

  sender = gios_test_sender_start (pair->peer, "abcdef\r\nghi\n", 12, 3, 20000);
  assert_line (pair->stream, G_MAXSIZE, "abcdef");
  assert_line (pair->stream, G_MAXSIZE - 1, "ghi");
  gios_test_sender_join (sender);
}

/* Lines through a one-byte input buffer. */
static void
test_read_line_tiny_buffer (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));

  gios_device_stream_set_input_buffer_size (pair->stream, 1);
  gios_test_peer_write_str (pair->peer, "hello\nworld\r\n\nx");
  pair_peer_shutdown (pair);
  assert_line (pair->stream, 5, "hello");
  assert_line (pair->stream, 5, "world");
  assert_line (pair->stream, 5, "");
  assert_line (pair->stream, 5, "x");
  g_assert_null (gios_device_stream_read_line (pair->stream, 5, NULL, 1000, NULL, NULL));
}

static void
test_read_line_nul (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length = 0;

  /* NUL bytes and bytes that are not UTF-8: read_line() fails without
   * consuming anything, read_line_bytes() returns every byte. */
  gios_test_peer_write_all (pair->peer, "a\0b\0\n\xff\xfe\x80x\r\nok\n", 15);
  line = gios_device_stream_read_line (pair->stream, 0, &length, 5000, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (line);
  g_assert_cmpuint (length, ==, 0);
  g_clear_error (&error);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 15);
  {
    g_autoptr(GBytes) first = gios_device_stream_read_line_bytes (pair->stream, 0, 5000, NULL, &error);
    g_autoptr(GBytes) second = NULL;

    g_assert_no_error (error);
    g_assert_cmpmem (g_bytes_get_data (first, NULL), g_bytes_get_size (first), "a\0b\0", 4);
    line = gios_device_stream_read_line (pair->stream, 0, &length, 5000, NULL, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_clear_error (&error);
    second = gios_device_stream_read_line_bytes (pair->stream, 0, 5000, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (g_bytes_get_data (second, NULL), g_bytes_get_size (second), "\xff\xfe\x80x", 4);
  }
  line = gios_device_stream_read_line (pair->stream, 0, &length, 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "ok");
  g_assert_cmpuint (length, ==, 2);
}

/* ------------------------------------------------------------------------ */
/* Timeouts                                                                   */

static void
test_timeout_silent_peer (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint8 buf[16];
  gint64 start;
  char *line;

  start = g_get_monotonic_time ();
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, sizeof buf, 200, NULL, &error), ==, -1);
  gios_test_assert_timed_out (&error, start, 200);

  start = g_get_monotonic_time ();
  line = gios_device_stream_read_line (pair->stream, 0, NULL, 200, NULL, &error);
  g_assert_null (line);
  gios_test_assert_timed_out (&error, start, 200);

  start = g_get_monotonic_time ();
  g_assert_false (gios_device_stream_read_exact (pair->stream, buf, sizeof buf, 200, NULL, &error));
  gios_test_assert_timed_out (&error, start, 200);

  start = g_get_monotonic_time ();
  g_assert_cmpint (gios_device_stream_poll (pair->stream, G_IO_IN, 200, NULL), ==, 0);
  gios_test_assert_timed (start, 200);

  /* The stream still works. */
  gios_test_peer_write_str (pair->peer, "ok\n");
  assert_line (pair->stream, 0, "ok");
}

static void
test_timeout_zero (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint8 buf[16];
  gint64 start;

  start = g_get_monotonic_time ();
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, sizeof buf, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 50);
  g_clear_error (&error);

  /* Bytes already in the kernel are read without waiting. */
  gios_test_peer_write_str (pair->peer, "now");
  gios_test_wait_kernel_input (pair->stream_fd, 3);
  assert_read (pair->stream, sizeof buf, 0, "now", 3);
}

static void
test_timeout_default (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint8 buf[16];
  gint64 start;
  char *line;

  gios_device_stream_set_default_timeout (pair->stream, 150);
  start = g_get_monotonic_time ();
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, sizeof buf, GIOS_TIMEOUT_DEFAULT,
                                            NULL, &error), ==, -1);
  gios_test_assert_timed_out (&error, start, 150);

  gios_device_stream_set_default_timeout (pair->stream, 300);
  start = g_get_monotonic_time ();
  line = gios_device_stream_read_line (pair->stream, 0, NULL, GIOS_TIMEOUT_DEFAULT, NULL, &error);
  g_assert_null (line);
  gios_test_assert_timed_out (&error, start, 300);
}

/* ------------------------------------------------------------------------ */
/* Cancellation and close                                                     */

static void
test_cancel_from_thread (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  BlockKind kind;

  for (kind = BLOCK_READ; kind <= BLOCK_READ_EXACT; kind++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      BlockedRead call = { pair->stream, kind, cancellable };
      g_autoptr(GiosTestBlocked) b = gios_test_blocked_start (blocked_read, &call);

      gios_test_blocked_cancel (b, cancellable);
    }

  /* The stream is still usable. */
  g_assert_true (gios_device_stream_get_is_open (pair->stream));
  gios_test_peer_write_str (pair->peer, "ok\n");
  assert_line (pair->stream, 0, "ok");
}

static void
test_cancel_already (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  guint8 buf[16];
  gint64 start;
  char *line;

  g_cancellable_cancel (cancellable);
  start = g_get_monotonic_time ();
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, sizeof buf, 5000, cancellable, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  line = gios_device_stream_read_line (pair->stream, 0, NULL, 5000, cancellable, &error);
  g_assert_null (line);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_false (gios_device_stream_read_exact (pair->stream, buf, 4, 5000, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (gios_device_stream_poll (pair->stream, G_IO_IN, 5000, cancellable), ==, 0);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 500);

  /* A partial line stays buffered after a cancelled read_line. */
  gios_test_peer_write_str (pair->peer, "part");
  gios_test_wait_kernel_input (pair->stream_fd, 4);
  line = gios_device_stream_read_line (pair->stream, 0, NULL, 0, NULL, &error);
  g_assert_null (line);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  line = gios_device_stream_read_line (pair->stream, 0, NULL, 5000, cancellable, &error);
  g_assert_null (line);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 4);
}

static void
test_close_from_thread (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint notified = 0;
  BlockedRead call = { pair->stream, BLOCK_READ, NULL };
  g_autoptr(GiosTestBlocked) b = NULL;
  gint64 closed_at;
  guint8 buf[4];

  g_signal_connect (pair->stream, "notify::is-open", G_CALLBACK (notify_count), &notified);
  b = gios_test_blocked_start (blocked_read, &call);
  closed_at = g_get_monotonic_time ();
  g_assert_true (gios_device_stream_close (pair->stream, &error));
  g_assert_no_error (error);
  gios_test_blocked_join_error (b, closed_at, G_IO_ERROR, G_IO_ERROR_CLOSED);

  g_assert_false (gios_device_stream_get_is_open (pair->stream));
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, sizeof buf, 0, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_null (gios_device_stream_read_line (pair->stream, 0, NULL, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (gios_device_stream_write (pair->stream, buf, 1, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_false (gios_device_stream_flush (pair->stream, 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpint (gios_device_stream_poll (pair->stream, G_IO_IN, 0, NULL), ==, G_IO_ERR);

  /* Closing again does nothing. */
  g_assert_true (gios_device_stream_close (pair->stream, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (notified, ==, 1);

  /* The peer sees the end of input. */
  if (pair->peer >= 0)
    {
      struct pollfd pfd = { pair->peer, POLLIN, 0 };

      g_assert_cmpint (poll (&pfd, 1, 5000), ==, 1);
      g_assert_cmpint (recv (pair->peer, buf, sizeof buf, MSG_DONTWAIT), ==, 0);
    }
}

/* close() with output buffered sends it first. */
static void
test_close_flushes (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_device_stream_write_line (pair->stream, "bye", NULL, &error));
  g_assert_no_error (error);
  g_assert_false (gios_test_peer_has_input (pair->peer));
  g_assert_true (gios_device_stream_close (pair->stream, &error));
  g_assert_no_error (error);
  gios_test_peer_assert_reads (pair->peer, "bye\n");
}

/* ------------------------------------------------------------------------ */
/* Write and flush                                                            */

static void
test_write_buffered (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static (" world", 6);
  char buf[32];

  g_assert_true (gios_device_stream_write (pair->stream, (const guint8 *) "hello", 5, NULL, &error));
  g_assert_true (gios_device_stream_write_bytes (pair->stream, bytes, NULL, &error));
  g_assert_true (gios_device_stream_write (pair->stream, NULL, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), ==, 11);
  g_assert_cmpint (recv (pair->peer, buf, sizeof buf, MSG_DONTWAIT), ==, -1);
  g_assert_false (gios_test_peer_has_input (pair->peer));

  g_assert_true (gios_device_stream_flush (pair->stream, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), ==, 0);
  gios_test_peer_assert_reads (pair->peer, "hello world");

  /* Flushing nothing succeeds at once. */
  g_assert_true (gios_device_stream_flush (pair->stream, 0, NULL, &error));
  g_assert_no_error (error);
}

static void
test_write_line (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;

  g_assert_true (gios_device_stream_write_line (pair->stream, "abc", NULL, &error));
  g_assert_true (gios_device_stream_write_line (pair->stream, "", NULL, &error));
  gios_device_stream_set_line_terminator (pair->stream, "\r\n");
  g_assert_true (gios_device_stream_write_line (pair->stream, "def", NULL, &error));
  gios_device_stream_set_line_terminator (pair->stream, "END");
  g_assert_true (gios_device_stream_write_line (pair->stream, "ghi", NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), ==, 16);
  g_assert_true (gios_device_stream_flush (pair->stream, 1000, NULL, &error));
  g_assert_no_error (error);
  gios_test_peer_assert_reads (pair->peer, "abc\n\ndef\r\nghiEND");
}

/* Writes larger than the output buffer arrive whole and in order. */
static void
test_write_large (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  gsize total = 1024 * 1024;
  g_autofree guint8 *payload = pattern_data (total);
  Receiver *receiver;
  gsize off = 0;
  gsize sizes[] = { 10, 1000, 1023, 1024, 1025, 5000, 100000, 3, 300000 };
  guint i = 0;

  gios_device_stream_set_output_buffer_size (pair->stream, 1024);
  receiver = start_receiver (pair->peer, total, 65536, 0);
  while (off < total)
    {
      gsize n = MIN (sizes[i++ % G_N_ELEMENTS (sizes)], total - off);

      g_assert_true (gios_device_stream_write (pair->stream, payload + off, n, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), <=, 1024);
      off += n;
    }
  flush_to_receiver (pair->stream, 10000, receiver);
}

/* A small send buffer and a slow reader: sends are short, and every byte
 * arrives in order. */
static void
test_write_short_writes (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  gsize total = 3 * 1024 * 1024;
  g_autofree guint8 *payload = pattern_data (total);
  Receiver *receiver;

  set_small_buffers (pair, 4096);
  receiver = start_receiver (pair->peer, total, 777, 64);
  g_assert_true (gios_device_stream_write (pair->stream, payload, 1000, NULL, &error));
  g_assert_true (gios_device_stream_write (pair->stream, payload + 1000, total - 1000, NULL, &error));
  g_assert_no_error (error);
  flush_to_receiver (pair->stream, 30000, receiver);
}

/* A flush to a peer that does not read times out, keeps what it could not
 * send, and a later flush sends the rest. */
static void
test_flush_timeout_keeps (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  gsize total = 8 * 1024 * 1024;
  g_autofree guint8 *payload = pattern_data (total);
  Receiver *receiver;
  gint64 start;

  set_small_buffers (pair, 8192);
  gios_device_stream_set_output_buffer_size (pair->stream, total + 1);
  g_assert_true (gios_device_stream_write (pair->stream, payload, total, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), ==, total);

  start = g_get_monotonic_time ();
  g_assert_false (gios_device_stream_flush (pair->stream, 200, NULL, &error));
  assert_timed_out_keeping_part (pair->stream, &error, start, total);

  receiver = start_receiver (pair->peer, total, 65536, 0);
  flush_to_receiver (pair->stream, 30000, receiver);
}

/* write() flushes a full buffer with the default timeout; what it could not
 * send, and write_line's terminator, stay buffered. */
static void
test_write_timeout_keeps (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  gsize total = 8 * 1024 * 1024;
  g_autofree guint8 *payload = pattern_data (total);
  Receiver *receiver;
  gsize left;
  gint64 start;

  set_small_buffers (pair, 8192);
  gios_device_stream_set_output_buffer_size (pair->stream, 1024);
  gios_device_stream_set_default_timeout (pair->stream, 200);

  start = g_get_monotonic_time ();
  g_assert_false (gios_device_stream_write (pair->stream, payload, total, NULL, &error));
  left = assert_timed_out_keeping_part (pair->stream, &error, start, total);

  /* More writes while the buffer is stuck: kept, in order, terminator too.
   * Over TCP the peer's window may open a little meanwhile, so the flush in
   * write_line can send some of what was left: never more, and never the
   * tail (the receiver below checks every byte and the order). */
  g_assert_false (gios_device_stream_write_line (pair->stream, "tail", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), <=, left + 5);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), >, 5);

  receiver = start_receiver (pair->peer, total, 65536, 0);
  flush_to_receiver (pair->stream, 30000, receiver);
  gios_test_peer_assert_reads (pair->peer, "tail\n");
}

static void
write_to_closed_peer (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint8 chunk[4096] = { 0 };
  int i;

  gios_test_pair_close_peer (pair);
  /* TCP may take a first write before the peer's reset arrives. */
  for (i = 0; i < 1000; i++)
    {
      if (!gios_device_stream_write (pair->stream, chunk, sizeof chunk, NULL, &error) ||
          !gios_device_stream_flush (pair->stream, 1000, NULL, &error))
        break;
      g_usleep (1000);
    }
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_true (error->code == G_IO_ERROR_BROKEN_PIPE ||
                 error->code == G_IO_ERROR_CONNECTION_CLOSED);
}

/* In a subprocess, so that nothing else in the process (GSocket's class
 * init ignores SIGPIPE) hides a SIGPIPE. */
static void
test_write_peer_closed (gconstpointer data)
{
  gios_test_run_in_subprocess (write_to_closed_peer, data, 10);
}

/* A GiosDeviceStream that reads @read_fd and writes @write_fd (the ends
 * of two pipes), owning both. */
static GiosDeviceStream *
stream_over_pipes (int read_fd,
                   int write_fd)
{
  g_autoptr(GInputStream) in = g_unix_input_stream_new (read_fd, TRUE);
  g_autoptr(GOutputStream) out = g_unix_output_stream_new (write_fd, TRUE);
  g_autoptr(GIOStream) io = g_simple_io_stream_new (in, out);

  return gios_device_stream_new (io);
}

/* The same over a pipe pair, which has no MSG_NOSIGNAL. */
static void
pipe_write_to_closed_peer (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosDeviceStream) stream = NULL;
  int to_stream[2];
  int from_stream[2];
  char buf[8];

  g_assert_cmpint (pipe (to_stream), ==, 0);
  g_assert_cmpint (pipe (from_stream), ==, 0);
  stream = stream_over_pipes (to_stream[0], from_stream[1]);

  /* It works as a stream first. */
  g_assert_cmpint (write (to_stream[1], "in\n", 3), ==, 3);
  assert_line (stream, 0, "in");
  g_assert_true (gios_device_stream_write_line (stream, "out", NULL, &error));
  g_assert_true (gios_device_stream_flush (stream, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (read (from_stream[0], buf, sizeof buf), ==, 4);
  g_assert_cmpmem (buf, 4, "out\n", 4);

  close (from_stream[0]);
  g_assert_true (gios_device_stream_write_line (stream, "lost", NULL, &error));
  g_assert_false (gios_device_stream_flush (stream, 1000, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (stream), ==, 5);
  g_clear_error (&error);

  /* End of input over the pipe. */
  close (to_stream[1]);
  g_assert_null (gios_device_stream_read_line (stream, 0, NULL, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_get_at_end (stream));
}

static void
test_pipe_write_peer_closed (void)
{
  gios_test_run_in_subprocess (pipe_write_to_closed_peer, NULL, 10);
}

/* ------------------------------------------------------------------------ */
/* Poll                                                                       */

static void
test_poll (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  guint8 buf[4];
  gint64 start;
  GiosTestSender *sender;

  g_assert_cmpint (gios_device_stream_poll (pair->stream, G_IO_OUT, 0, NULL), ==, G_IO_OUT);

  start = g_get_monotonic_time ();
  g_assert_cmpint (gios_device_stream_poll (pair->stream, G_IO_IN, 200, NULL), ==, 0);
  gios_test_assert_timed (start, 200);

  /* Waits for data. */
  sender = gios_test_sender_start (pair->peer, "ab", 2, 2, 0);
  g_assert_cmpint (gios_device_stream_poll (pair->stream, G_IO_IN, 5000, NULL), ==, G_IO_IN);
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), >=, 1);
  gios_test_sender_join (sender);

  /* Buffered input counts as readable at once, with the kernel empty. */
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, 1, 0, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (buf[0], ==, 'a');
  g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 1);
  start = g_get_monotonic_time ();
  g_assert_cmpint (gios_device_stream_poll (pair->stream, G_IO_IN | G_IO_OUT, 5000, NULL),
                   ==, G_IO_IN | G_IO_OUT);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 100);
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, sizeof buf, 0, NULL, &error), ==, 1);
  g_assert_cmpint (buf[0], ==, 'b');

  /* End of input. */
  pair_peer_shutdown (pair);
  g_assert_cmpint (gios_device_stream_poll (pair->stream, G_IO_IN, 5000, NULL), ==, G_IO_IN | G_IO_HUP);
  g_assert_true (gios_device_stream_get_at_end (pair->stream));
}

/* G_IO_OUT with a full output buffer flushes it. */
static void
test_poll_out_flushes (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;

  gios_device_stream_set_output_buffer_size (pair->stream, 4);
  g_assert_true (gios_device_stream_write (pair->stream, (const guint8 *) "abcd", 4, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), ==, 4);
  g_assert_cmpint (gios_device_stream_poll (pair->stream, G_IO_OUT, 1000, NULL), ==, G_IO_OUT);
  g_assert_cmpuint (gios_device_stream_get_buffered_output (pair->stream), ==, 0);
  gios_test_peer_assert_reads (pair->peer, "abcd");
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                    */

/* EINTR every 5 ms: calls go on, and their timeout still holds. */
static void
test_eintr (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  g_autoptr(GError) error = NULL;
  GiosTestInterrupter *in = gios_test_interrupter_start (5000);
  GiosTestSender *sender;
  guint8 buf[8];
  gint64 start;

  start = g_get_monotonic_time ();
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, sizeof buf, 300, NULL, &error), ==, -1);
  gios_test_assert_timed_out (&error, start, 300);

  sender = gios_test_sender_start (pair->peer, "interrupted\n", 12, 1, 3000);
  assert_line (pair->stream, 0, "interrupted");
  gios_test_sender_join (sender);

  g_assert_true (gios_device_stream_write_line (pair->stream, "ok", NULL, &error));
  g_assert_true (gios_device_stream_flush (pair->stream, 1000, NULL, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (gios_test_interrupter_stop (in), >, 10);
  gios_test_peer_assert_reads (pair->peer, "ok\n");
}

/* ------------------------------------------------------------------------ */
/* Other transports                                                           */

/* A GIOStream without a descriptor is read and written blocking. */
static void
test_memory_stream (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) io = gios_test_memory_stream_new ("a\r\nb\n\0c", 7);
  GMemoryOutputStream *out = G_MEMORY_OUTPUT_STREAM (g_io_stream_get_output_stream (io));
  g_autoptr(GiosDeviceStream) stream = gios_device_stream_new (io);
  gsize length = 0;
  char *line;

  g_assert_true (gios_device_stream_get_base_stream (stream) == io);
  assert_line (stream, 0, "a");
  assert_line (stream, 0, "b");
  /* A line with a NUL is no text: read_line() leaves it for
   * read_line_bytes(). */
  line = gios_device_stream_read_line (stream, 0, &length, 1000, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (line);
  g_assert_cmpuint (length, ==, 0);
  g_clear_error (&error);
  {
    g_autoptr(GBytes) bytes = gios_device_stream_read_line_bytes (stream, 0, 1000, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "\0c", 2);
  }
  g_assert_null (gios_device_stream_read_line (stream, 0, NULL, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_get_at_end (stream));

  g_assert_true (gios_device_stream_write_line (stream, "out", NULL, &error));
  g_assert_cmpuint (g_memory_output_stream_get_data_size (out), ==, 0);
  g_assert_true (gios_device_stream_flush (stream, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (g_memory_output_stream_get_data (out),
                   g_memory_output_stream_get_data_size (out),
                   "out\n", 4);
  g_assert_true (gios_device_stream_close (stream, &error));
  g_assert_no_error (error);
  g_assert_true (g_io_stream_is_closed (io));
}

static void
on_disconnected (GiosSocketCommon *socket,
                 gboolean          intentional,
                 GError           *reason,
                 gpointer          user_data)
{
  int *result = user_data;

  g_assert_nonnull (reason);
  *result = intentional ? 1 : 2;
}

/* The peer resets the connection: a blocked read fails and disconnected
 * says it was not intentional. */
static void
test_tcp_peer_reset (void)
{
  g_autoptr(GiosTestPair) pair = pair_new (TRANSPORT_TCP);
  g_autoptr(GError) error = NULL;
  int disconnected = 0;
  guint8 buf[8];

  g_signal_connect (pair->stream, "disconnected", G_CALLBACK (on_disconnected), &disconnected);
  gios_test_pair_reset_peer (pair);
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, sizeof buf, 5000, NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_cmpint (disconnected, ==, 2);
  g_clear_error (&error);
  g_assert_cmpint (gios_device_stream_read (pair->stream, buf, sizeof buf, 0, NULL, &error), ==, -1);
  g_assert_nonnull (error);
  g_assert_cmpint (disconnected, ==, 2);
}

/* ------------------------------------------------------------------------ */
/* Properties                                                                 */

static void
test_properties (gconstpointer data)
{
  g_autoptr(GiosTestPair) pair = pair_new (GPOINTER_TO_INT (data));
  GObject *object = G_OBJECT (pair->stream);
  guint n_term = 0, n_timeout = 0, n_in = 0, n_out = 0, n_open = 0;
  g_autofree char *terminator = NULL;
  int timeout = 0;
  guint in_size = 0, out_size = 0;
  gboolean is_open = FALSE, at_end = TRUE;

  g_signal_connect (object, "notify::line-terminator", G_CALLBACK (notify_count), &n_term);
  g_signal_connect (object, "notify::default-timeout", G_CALLBACK (notify_count), &n_timeout);
  g_signal_connect (object, "notify::input-buffer-size", G_CALLBACK (notify_count), &n_in);
  g_signal_connect (object, "notify::output-buffer-size", G_CALLBACK (notify_count), &n_out);
  g_signal_connect (object, "notify::is-open", G_CALLBACK (notify_count), &n_open);

  g_object_get (object,
                "line-terminator", &terminator,
                "default-timeout", &timeout,
                "input-buffer-size", &in_size,
                "output-buffer-size", &out_size,
                "is-open", &is_open,
                "at-end", &at_end,
                NULL);
  g_assert_cmpstr (terminator, ==, "\n");
  g_assert_cmpint (timeout, ==, GIOS_TIMEOUT_FOREVER);
  g_assert_cmpuint (in_size, ==, 16 * 1024);
  g_assert_cmpuint (out_size, ==, 16 * 1024);
  g_assert_true (is_open);
  g_assert_false (at_end);

  gios_device_stream_set_line_terminator (pair->stream, "\r\n");
  gios_device_stream_set_line_terminator (pair->stream, "\r\n");
  g_object_set (object, "line-terminator", "\r\n", NULL);
  g_assert_cmpuint (n_term, ==, 1);
  g_assert_cmpstr (gios_device_stream_get_line_terminator (pair->stream), ==, "\r\n");
  g_object_set (object, "line-terminator", "|", NULL);
  g_assert_cmpuint (n_term, ==, 2);
  g_assert_cmpstr (gios_device_stream_get_line_terminator (pair->stream), ==, "|");

  gios_device_stream_set_default_timeout (pair->stream, 500);
  g_object_set (object, "default-timeout", 500, NULL);
  g_assert_cmpuint (n_timeout, ==, 1);
  g_assert_cmpint (gios_device_stream_get_default_timeout (pair->stream), ==, 500);
  g_object_set (object, "default-timeout", -1, NULL);
  g_assert_cmpuint (n_timeout, ==, 2);
  g_assert_cmpint (gios_device_stream_get_default_timeout (pair->stream), ==, -1);

  gios_device_stream_set_input_buffer_size (pair->stream, 100);
  g_object_set (object, "input-buffer-size", 100, NULL);
  g_assert_cmpuint (n_in, ==, 1);
  g_assert_cmpuint (gios_device_stream_get_input_buffer_size (pair->stream), ==, 100);

  gios_device_stream_set_output_buffer_size (pair->stream, 200);
  g_object_set (object, "output-buffer-size", 200, NULL);
  g_assert_cmpuint (n_out, ==, 1);
  g_assert_cmpuint (gios_device_stream_get_output_buffer_size (pair->stream), ==, 200);

  /* Shrinking the input buffer keeps what is buffered. */
  gios_test_peer_write_str (pair->peer, "0123456789|");
  gios_test_wait_kernel_input (pair->stream_fd, 11);
  {
    guint8 b[2];
    g_autoptr(GError) error = NULL;

    g_assert_cmpint (gios_device_stream_read (pair->stream, b, 1, 1000, NULL, &error), ==, 1);
    g_assert_no_error (error);
    g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 10);
    gios_device_stream_set_input_buffer_size (pair->stream, 2);
    g_assert_cmpuint (gios_device_stream_get_buffered_input (pair->stream), ==, 10);
    assert_line (pair->stream, 0, "123456789");
  }

  if (GPOINTER_TO_INT (data) != TRANSPORT_TCP)
    g_assert_nonnull (gios_device_stream_get_base_stream (pair->stream));

  g_assert_true (gios_device_stream_close (pair->stream, NULL));
  g_assert_cmpuint (n_open, ==, 1);
  g_object_get (object, "is-open", &is_open, NULL);
  g_assert_false (is_open);
}

/* ------------------------------------------------------------------------ */
/* Programmer errors                                                          */

static void
test_programmer_errors (void)
{
  g_autoptr(GiosTestPair) pair = pair_new (TRANSPORT_UNIX);
  g_autoptr(GError) error = NULL;
  guint8 buf[4];

  g_test_expect_message ("Gios", G_LOG_LEVEL_CRITICAL, "*assertion*GIOS_IS_DEVICE_STREAM*");
  g_assert_cmpint (gios_device_stream_read (NULL, buf, sizeof buf, 0, NULL, &error), ==, -1);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  g_test_expect_message ("Gios", G_LOG_LEVEL_CRITICAL, "*assertion*timeout_ms*");
  g_assert_null (gios_device_stream_read_line (pair->stream, 0, NULL, -3, NULL, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  g_test_expect_message ("Gios", G_LOG_LEVEL_CRITICAL, "*assertion*buffer != NULL*");
  g_assert_cmpint (gios_device_stream_read (pair->stream, NULL, 4, 0, NULL, &error), ==, -1);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gios", G_LOG_LEVEL_CRITICAL, "*assertion*terminator*");
  gios_device_stream_set_line_terminator (pair->stream, "");
  g_test_assert_expected_messages ();
  g_assert_cmpstr (gios_device_stream_get_line_terminator (pair->stream), ==, "\n");

  g_test_expect_message ("Gios", G_LOG_LEVEL_CRITICAL, "*assertion*size > 0*");
  gios_device_stream_set_input_buffer_size (pair->stream, 0);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (gios_device_stream_get_input_buffer_size (pair->stream), ==, 16 * 1024);

  g_test_expect_message ("Gios", G_LOG_LEVEL_CRITICAL, "*assertion*G_IS_IO_STREAM*");
  g_assert_null (gios_device_stream_new (NULL));
  g_test_assert_expected_messages ();
}

/* ------------------------------------------------------------------------ */
/* The classic model: a listening server's own stream                         */

static void
test_tcp_listen_echo (void)
{
  g_autoptr(GiosServerSocket) server = NULL;
  g_autoptr(GiosSocket) client = NULL;
  g_autoptr(GError) error = NULL;
  GiosDeviceStream *s;
  GiosDeviceStream *c;

  gios_test_tcp_open (&server, &client);
  g_assert_true (gios_server_socket_listen (server, 1000, NULL, &error));
  g_assert_no_error (error);
  s = GIOS_DEVICE_STREAM (server);
  c = GIOS_DEVICE_STREAM (client);

  g_assert_true (gios_device_stream_write_line (c, "ping", NULL, &error));
  g_assert_true (gios_device_stream_flush (c, 1000, NULL, &error));
  g_assert_no_error (error);
  assert_line (s, 0, "ping");
  g_assert_true (gios_device_stream_write_line (s, "pong", NULL, &error));
  g_assert_true (gios_device_stream_flush (s, 1000, NULL, &error));
  g_assert_no_error (error);
  assert_line (c, 0, "pong");

  /* The client closes: the server reads the end of input. */
  g_assert_true (gios_device_stream_close (c, &error));
  g_assert_no_error (error);
  g_assert_null (gios_device_stream_read_line (s, 0, NULL, 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (gios_device_stream_get_at_end (s));
}

/* ------------------------------------------------------------------------ */

static void
add (const char    *name,
     GTestDataFunc  func)
{
  Transport t;

  for (t = 0; t < N_TRANSPORTS; t++)
    {
      g_autofree char *path = g_strdup_printf ("/device-stream/%s/%s", transport_names[t], name);

      g_test_add_data_func (path, GINT_TO_POINTER (t), func);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  add ("read/buffered-first", test_read_buffered_first);
  add ("read/waits", test_read_waits);
  add ("read/end", test_read_end);
  add ("read/large-bypasses-buffer", test_read_large_bypasses_buffer);
  add ("read-bytes/basic", test_read_bytes);
  add ("read-bytes/timeout", test_read_bytes_timeout);
  add ("read-exact/many-writes", test_read_exact_many_writes);
  add ("read-exact/timeout-keeps", test_read_exact_timeout_keeps);
  add ("read-exact/end-keeps", test_read_exact_end_keeps);
  add ("read-exact/bytes", test_read_exact_bytes);
  add ("read-line/lf-crlf", test_read_line_lf_crlf);
  add ("read-line/crlf-split", test_read_line_crlf_split);
  add ("read-line/slow-sender", test_read_line_slow_sender);
  add ("read-line/one-deadline", test_read_line_one_deadline);
  add ("read-line/max-length", test_read_line_max_length);
  add ("read-line/max-length-slow", test_read_line_max_length_slow);
  add ("read-line/no-end", test_read_line_no_end);
  add ("read-line/default-max", test_read_line_default_max);
  add ("read-line/terminator", test_read_line_terminator);
  add ("read-line/last-line", test_read_line_last_line);
  add ("read-line/last-too-long", test_read_line_last_too_long);
  add ("read-line/nul", test_read_line_nul);
  add ("read-line/huge-max", test_read_line_huge_max);
  add ("read-line/tiny-buffer", test_read_line_tiny_buffer);
  add ("eintr", test_eintr);
  add ("timeout/silent-peer", test_timeout_silent_peer);
  add ("timeout/zero", test_timeout_zero);
  add ("timeout/default", test_timeout_default);
  add ("cancel/from-thread", test_cancel_from_thread);
  add ("cancel/already", test_cancel_already);
  add ("close/from-thread", test_close_from_thread);
  add ("close/flushes", test_close_flushes);
  add ("write/buffered", test_write_buffered);
  add ("write/line", test_write_line);
  add ("write/large", test_write_large);
  add ("write/short-writes", test_write_short_writes);
  add ("write/timeout-keeps", test_write_timeout_keeps);
  add ("write/peer-closed", test_write_peer_closed);
  add ("flush/timeout-keeps", test_flush_timeout_keeps);
  add ("poll/basic", test_poll);
  add ("poll/out-flushes", test_poll_out_flushes);
  add ("properties", test_properties);
  g_test_add_func ("/device-stream/pipe/write-peer-closed", test_pipe_write_peer_closed);
  g_test_add_func ("/device-stream/tcp/listen-echo", test_tcp_listen_echo);
  g_test_add_func ("/device-stream/tcp/peer-reset", test_tcp_peer_reset);
  g_test_add_func ("/device-stream/memory", test_memory_stream);
  g_test_add_func ("/device-stream/programmer-errors", test_programmer_errors);

  return g_test_run ();
}
