/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The input and output buffers of a device stream, and the line framer:
 * pure data, no I/O, no locking (a stream is used by one thread at a time).
 *
 * An input buffer holds received bytes [start, end) of data; it is
 * allocated on first use at its configured size, grows for a long line or
 * exact read, and goes back to its size once empty. An output buffer holds
 * bytes written and not sent yet, growing by doubling up to its size (an
 * async connection frees its empty buffers between requests, and a small
 * allocation is much cheaper than a whole buffer).
 */
#pragma once

#include <glib.h>
#include <string.h>

G_BEGIN_DECLS

typedef struct
{
  guint8 *data;
  gsize start;
  gsize end;
  gsize cap;
  gsize size;          /* the configured size */
  guint64 taken;       /* bytes consumed since the buffer was made */
} GiosInBuffer;

typedef struct
{
  guint8 *data;
  gsize len;
  gsize cap;
  gsize size;          /* the configured size */
} GiosOutBuffer;

static inline gsize
gios_in_buffer_length (const GiosInBuffer *in)
{
  return in->end - in->start;
}

/* The buffered bytes; a valid pointer even when there are none. */
static inline const guint8 *
gios_in_buffer_peek (const GiosInBuffer *in)
{
  return in->data != NULL ? in->data + in->start : (const guint8 *) "";
}

void     gios_in_buffer_init       (GiosInBuffer  *in,
                                    gsize          size);
void     gios_in_buffer_clear      (GiosInBuffer  *in);
void     gios_in_buffer_set_size   (GiosInBuffer  *in,
                                    gsize          size);
void     gios_in_buffer_drained    (GiosInBuffer  *in);

/* Takes @count buffered bytes out. */
static inline void
gios_in_buffer_consume (GiosInBuffer *in,
                        gsize         count)
{
  g_assert (count <= gios_in_buffer_length (in));

  in->start += count;
  in->taken += count;
  if (in->start == in->end)
    gios_in_buffer_drained (in);
}
/* Makes room for @total bytes in all (those buffered included, at least
 * one more) and returns where to receive, with the room there in @room.
 * Commit what was received with gios_in_buffer_commit(). */
guint8  *gios_in_buffer_reserve    (GiosInBuffer  *in,
                                    gsize          total,
                                    gsize         *room);
static inline void
gios_in_buffer_commit (GiosInBuffer *in,
                       gsize         count)
{
  g_assert (count <= in->cap - in->end);

  in->end += count;
}
/* Frees the buffer while it holds nothing (a waiting connection keeps no
 * empty buffer), or only when it grew past its size (@grown_only). */
void     gios_in_buffer_release    (GiosInBuffer  *in,
                                    gboolean       grown_only);

void     gios_out_buffer_init      (GiosOutBuffer *out,
                                    gsize          size);
void     gios_out_buffer_clear     (GiosOutBuffer *out);
void     gios_out_buffer_grow      (GiosOutBuffer *out,
                                    gsize          count);

static inline void
gios_out_buffer_append (GiosOutBuffer *out,
                        const guint8  *data,
                        gsize          count)
{
  if (count == 0)
    return;
  if (out->cap - out->len < count)
    gios_out_buffer_grow (out, count);
  memcpy (out->data + out->len, data, count);
  out->len += count;
}

/* Forgets the first @count bytes, which were sent. */
static inline void
gios_out_buffer_remove (GiosOutBuffer *out,
                        gsize          count)
{
  g_assert (count <= out->len);

  if (count < out->len)
    memmove (out->data, out->data + count, out->len - count);
  out->len -= count;
  if (out->len == 0 && out->cap > out->size)
    gios_out_buffer_clear (out);
}
void     gios_out_buffer_release   (GiosOutBuffer *out);

/* Whether @count more bytes fit in the configured size. */
static inline gboolean
gios_out_buffer_fits (const GiosOutBuffer *out,
                      gsize                count)
{
  return count == 0 || (out->len <= out->size && count <= out->size - out->len);
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                      */

typedef enum
{
  GIOS_FRAME_NEED_MORE,
  GIOS_FRAME_DONE,
  GIOS_FRAME_FAILED,
} GiosFrame;

typedef struct
{
  const char *terminator;
  gsize terminator_len;
  gsize limit;         /* the longest line, without its terminator */
  gsize scanned;       /* where to look for the terminator next */
  gboolean at_end;     /* the input has ended: what is left is the last line */
  /* With GIOS_FRAME_DONE: the line is the first @line_len buffered bytes,
   * and @consumed bytes (the terminator included) go with it. @consumed 0
   * means there is no line left. */
  gsize line_len;
  gsize consumed;
} GiosLineScan;

void      gios_line_scan_init (GiosLineScan       *scan,
                               const char         *terminator,
                               gsize               terminator_len,
                               gsize               limit);
/* Looks for a whole line in @in without consuming anything. A line longer
 * than the limit fails with GIOS_ERROR_LINE_TOO_LONG as soon as that is
 * certain. With the terminator "\n", a "\r" before it is not part of the
 * line. */
GiosFrame gios_line_scan      (GiosLineScan       *scan,
                               const GiosInBuffer *in,
                               GError            **error);
/* How much the input buffer may hold while the line is read: one more
 * buffer's worth, up to the longest line. */
gsize     gios_line_fill_total (const GiosLineScan *scan,
                                const GiosInBuffer *in);

G_END_DECLS
