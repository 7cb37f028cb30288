/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The buffers and the line framer of a device stream: see gios-buffer.h. */

#include "gios-private.h"
#include "gios-buffer.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Spare blocks                                                               */

/* A connection served from a main loop gives its buffers back each time it
 * waits (an idle connection holds none) and takes them again at its next
 * request: one spare block of each kind per thread saves the allocator a
 * free and a malloc per request, and still leaves idle connections empty. */
typedef enum
{
  SPARE_IN,
  SPARE_OUT,
  N_SPARES
} SpareKind;

typedef struct
{
  guint8 *data;
  gsize cap;
} Spare;

static void
spares_free (gpointer data)
{
  Spare *spares = data;

  for (guint i = 0; i < N_SPARES; i++)
    g_free (spares[i].data);
  g_free (spares);
}

static GPrivate spares_key = G_PRIVATE_INIT (spares_free);

/* The thread's spare block of @kind. */
static Spare *
get_spare (SpareKind kind)
{
  Spare *spares = g_private_get (&spares_key);

  if (spares == NULL)
    {
      spares = g_new0 (Spare, N_SPARES);
      g_private_set (&spares_key, spares);
    }
  return &spares[kind];
}

/* Keeps *@data (of @cap bytes; NULL: nothing to give) as the thread's
 * spare of @kind when that is free, frees it otherwise. */
static void
give_back (SpareKind   kind,
           guint8    **data,
           gsize       cap)
{
  Spare *spare;

  if (*data == NULL)
    return;
  spare = get_spare (kind);
  if (spare->data == NULL)
    {
      spare->data = g_steal_pointer (data);
      spare->cap = cap;
    }
  else
    g_clear_pointer (data, g_free);
}

/* The thread's spare of @kind when it holds at least @need bytes (its
 * size in @cap), or NULL. */
static guint8 *
take_spare (SpareKind  kind,
            gsize      need,
            gsize     *cap)
{
  Spare *spare = get_spare (kind);

  if (spare->data == NULL || spare->cap < need)
    return NULL;
  *cap = spare->cap;
  return g_steal_pointer (&spare->data);
}

/* ------------------------------------------------------------------------ */
/* Input                                                                      */

void
gios_in_buffer_init (GiosInBuffer *in,
                     gsize         size)
{
  memset (in, 0, sizeof *in);
  in->size = size;
}

void
gios_in_buffer_clear (GiosInBuffer *in)
{
  /* Only blocks of the configured size are worth keeping. */
  if (in->cap == in->size)
    give_back (SPARE_IN, &in->data, in->cap);
  else
    g_clear_pointer (&in->data, g_free);
  in->start = in->end = in->cap = 0;
}

void
gios_in_buffer_set_size (GiosInBuffer *in,
                         gsize         size)
{
  in->size = size;
  gios_in_buffer_release (in, TRUE);
}

void
gios_in_buffer_release (GiosInBuffer *in,
                        gboolean      grown_only)
{
  if (in->data != NULL && in->start == in->end && (!grown_only || in->cap > in->size))
    gios_in_buffer_clear (in);
}

void
gios_in_buffer_drained (GiosInBuffer *in)
{
  in->start = in->end = 0;
  /* A buffer that grew for one long line or exact read goes back to its
   * configured size once it is empty. */
  gios_in_buffer_release (in, TRUE);
}

guint8 *
gios_in_buffer_reserve (GiosInBuffer *in,
                        gsize         total,
                        gsize        *room)
{
  gsize buffered = gios_in_buffer_length (in);

  total = MAX (total, buffered + 1);
  total = MAX (total, in->size);

  if (in->cap - in->start < total || in->end == in->cap)
    {
      if (in->start > 0)
        {
          memmove (in->data, in->data + in->start, buffered);
          in->start = 0;
          in->end = buffered;
        }
      if (in->data == NULL && total == in->size)
        {
          in->data = take_spare (SPARE_IN, total, &in->cap);
          /* A larger spare (another stream's size) is used at this size. */
          if (in->data != NULL)
            in->cap = total;
        }
      if (in->cap < total)
        {
          in->data = g_realloc (in->data, total);
          in->cap = total;
        }
    }
  *room = in->cap - in->end;
  return in->data + in->end;
}

void
gios_out_buffer_init (GiosOutBuffer *out,
                      gsize          size)
{
  memset (out, 0, sizeof *out);
  out->size = size;
}

void
gios_out_buffer_clear (GiosOutBuffer *out)
{
  give_back (SPARE_OUT, &out->data, out->cap);
  out->len = out->cap = 0;
}

void
gios_out_buffer_release (GiosOutBuffer *out)
{
  if (out->data != NULL && out->len == 0)
    gios_out_buffer_clear (out);
}

void
gios_out_buffer_grow (GiosOutBuffer *out,
                      gsize          count)
{
  /* Doubling up to the configured size rather than starting there. */
  gsize cap = MAX (MIN (MAX (2 * out->cap, 256), out->size), out->len + count);

  if (out->data == NULL)
    {
      gsize spare_cap;
      guint8 *spare = take_spare (SPARE_OUT, cap, &spare_cap);

      if (spare != NULL)
        {
          /* A spare larger than this stream's size would let its output
           * buffer hold more than the size says: use that much of it. */
          out->data = spare;
          out->cap = MIN (spare_cap, MAX (out->size, cap));
          return;
        }
    }
  out->data = g_realloc (out->data, cap);
  out->cap = cap;
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                      */

void
gios_line_scan_init (GiosLineScan *scan,
                     const char   *terminator,
                     gsize         terminator_len,
                     gsize         limit)
{
  memset (scan, 0, sizeof *scan);
  scan->terminator = terminator;
  scan->terminator_len = terminator_len;
  scan->limit = limit;
}

/* The most bytes a line of the longest accepted length can take, with a
 * "\r" before the "\n" and the terminator (saturated: a limit near
 * G_MAXSIZE must not wrap around to a tiny bound). */
static gsize
line_most (const GiosLineScan *scan)
{
  return scan->limit < G_MAXSIZE - 1 - scan->terminator_len ?
         scan->limit + 1 + scan->terminator_len : G_MAXSIZE;
}

/* Looks for the terminator from byte @from of the buffered input on.
 * Returns its offset, or -1. */
static gssize
find_terminator (const GiosLineScan *scan,
                 const GiosInBuffer *in,
                 gsize               from)
{
  const guint8 *start = gios_in_buffer_peek (in);
  gsize len = gios_in_buffer_length (in);
  const guint8 *hit;

  if (from >= len)
    return -1;
  if (scan->terminator_len == 1)
    hit = memchr (start + from, scan->terminator[0], len - from);
  else
    hit = memmem (start + from, len - from, scan->terminator, scan->terminator_len);
  return hit != NULL ? hit - start : -1;
}

/* A "\r" before the "\n" of the default terminator is not part of the
 * line. */
static gsize
without_cr (const GiosLineScan *scan,
            const GiosInBuffer *in,
            gsize               line_len)
{
  if (scan->terminator_len == 1 && scan->terminator[0] == '\n' &&
      line_len > 0 && gios_in_buffer_peek (in)[line_len - 1] == '\r')
    return line_len - 1;
  return line_len;
}

GiosFrame
gios_line_scan (GiosLineScan       *scan,
                const GiosInBuffer *in,
                GError            **error)
{
  gsize buffered = gios_in_buffer_length (in);
  gssize at = find_terminator (scan, in, scan->scanned);

  if (at >= 0)
    {
      scan->line_len = without_cr (scan, in, at);
      scan->consumed = at + scan->terminator_len;
      if (scan->line_len > scan->limit)
        goto too_long;
      return GIOS_FRAME_DONE;
    }
  if (buffered >= line_most (scan) || (scan->at_end && buffered > scan->limit))
    goto too_long;
  if (scan->at_end)
    {
      /* A last line cut after the "\r" of its "\r\n" reads like the
       * others; nothing buffered means no line at all. */
      scan->line_len = without_cr (scan, in, buffered);
      scan->consumed = buffered;
      return GIOS_FRAME_DONE;
    }
  scan->scanned = buffered >= scan->terminator_len ? buffered - scan->terminator_len + 1 : 0;
  return GIOS_FRAME_NEED_MORE;

too_long:
  g_set_error (error, GIOS_ERROR, GIOS_ERROR_LINE_TOO_LONG,
               _("Line longer than %zu bytes"), scan->limit);
  return GIOS_FRAME_FAILED;
}

gsize
gios_line_fill_total (const GiosLineScan *scan,
                      const GiosInBuffer *in)
{
  return MIN (line_most (scan), gios_in_buffer_length (in) + in->size);
}
