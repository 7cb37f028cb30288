/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * $LIST codec throughput: encoding with GiosListBuilder and decoding with
 * GiosListReader and gios_list_decode(), on three workloads, beside memcpy()
 * of the same bytes in the same run.  gios_list_decode() is timed alone and
 * with a visit of every item (each child unboxed and classified), since a
 * decoder may leave work for the first access.
 *
 *   list-bench [--seconds=S]
 *
 * Every figure is the best of three runs of at least S/3 seconds (default
 * 0.3 s each), so the program ends by itself in well under a minute.
 */

#include <gios/gios.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ITEM_INT, ITEM_DOUBLE, ITEM_DECIMAL, ITEM_STRING, ITEM_UNDEFINED } ItemKind;

typedef struct
{
  const char *name;
  gsize n_items;
  ItemKind *kinds;
  gint64 *ints;
  char **strings;
} Workload;

static double seconds_per_run = 0.3;
static volatile guint64 sink;

static void
workload_free (Workload *w)
{
  gsize i;

  for (i = 0; i < w->n_items; i++)
    g_free (w->strings[i]);
  g_free (w->strings);
  g_free (w->kinds);
  g_free (w->ints);
}

static void
workload_init (Workload   *w,
               const char *name,
               gsize       n_items)
{
  w->name = name;
  w->n_items = n_items;
  w->kinds = g_new0 (ItemKind, n_items);
  w->ints = g_new0 (gint64, n_items);
  w->strings = g_new0 (char *, n_items);
}

static void
make_mixed (Workload *w)
{
  static const char *words[] = { "hello", "GetVersion", "%SYSTEM.Version", "caf\xC3\xA9", "IRIS for UNIX 2024.1" };
  GRand *rand = g_rand_new_with_seed (1);
  gsize i;

  workload_init (w, "small mixed", 200000);
  for (i = 0; i < w->n_items; i++)
    {
      w->kinds[i] = (ItemKind) g_rand_int_range (rand, 0, 5);
      w->ints[i] = g_rand_int_range (rand, -100000, 100000);
      if (w->kinds[i] == ITEM_STRING)
        w->strings[i] = g_strdup (words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
    }
  g_rand_free (rand);
}

static void
make_ints (Workload *w)
{
  GRand *rand = g_rand_new_with_seed (2);
  gsize i;

  workload_init (w, "small ints", 1000000);
  for (i = 0; i < w->n_items; i++)
    w->ints[i] = g_rand_int_range (rand, -1000, 100000);
  g_rand_free (rand);
}

static void
make_strings (Workload *w)
{
  gsize i;

  workload_init (w, "4 KiB strings", 1024);
  for (i = 0; i < w->n_items; i++)
    {
      w->kinds[i] = ITEM_STRING;
      w->strings[i] = g_strnfill (4096, (char) ('a' + i % 26));
    }
}

static GBytes *
encode (const Workload  *w,
        GiosListBuilder *builder)
{
  gsize i;

  for (i = 0; i < w->n_items; i++)
    {
      switch (w->kinds[i])
        {
        case ITEM_INT:
          gios_list_builder_append_int64 (builder, w->ints[i]);
          break;
        case ITEM_DOUBLE:
          gios_list_builder_append_double (builder, (double) w->ints[i] / 7);
          break;
        case ITEM_DECIMAL:
          gios_list_builder_append_decimal (builder, w->ints[i], -2);
          break;
        case ITEM_STRING:
          gios_list_builder_append_string (builder, w->strings[i]);
          break;
        case ITEM_UNDEFINED:
          gios_list_builder_append_undefined (builder);
          break;
        }
    }
  return gios_list_builder_end (builder);
}

typedef enum { OP_ENCODE, OP_READ_VIEW, OP_READ_COPY, OP_DECODE_VARIANT, OP_DECODE_VISIT, OP_MEMCPY } Op;

static const char *op_names[] = {
  "encode (builder)",
  "read (reader, zero-copy)",
  "read (reader, get_string)",
  "decode (GVariant)",
  "decode (GVariant) + visit",
  "memcpy",
};

/* Unboxes every item of a decoded `av`. */
static guint64
visit_all (GVariant *items)
{
  GVariantIter iter;
  GVariant *child;
  guint64 acc = 0;

  g_variant_iter_init (&iter, items);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      GVariant *item = g_variant_get_variant (child);

      acc += g_variant_classify (item);
      g_variant_unref (item);
      g_variant_unref (child);
    }
  return acc;
}

/* Walks the list; with @copy, strings are converted to UTF-8. */
static guint64
read_all (GBytes   *bytes,
          gboolean  copy)
{
  GiosListReader *reader = gios_list_reader_new (bytes);
  guint64 acc = 0;

  while (gios_list_reader_next (reader, NULL))
    {
      gint64 i;
      double d;
      gsize len;

      switch (gios_list_reader_get_item_type (reader))
        {
        case GIOS_LIST_ITEM_TYPE_INTEGER:
          gios_list_reader_get_int64 (reader, &i, NULL);
          acc += (guint64) i;
          break;
        case GIOS_LIST_ITEM_TYPE_DECIMAL:
        case GIOS_LIST_ITEM_TYPE_DOUBLE:
          gios_list_reader_get_double (reader, &d, NULL);
          acc += (guint64) d;
          break;
        case GIOS_LIST_ITEM_TYPE_STRING:
        case GIOS_LIST_ITEM_TYPE_UNICODE:
          if (copy)
            {
              char *str = gios_list_reader_get_string (reader, NULL);

              acc += (guint8) str[0];
              g_free (str);
            }
          else
            acc += gios_list_reader_get_bytes (reader, &len)[0] + len;
          break;
        default:
          acc++;
          break;
        }
    }
  gios_list_reader_unref (reader);
  return acc;
}

static void
run_once (const Workload  *w,
          Op               op,
          GBytes          *encoded,
          guint8          *scratch,
          GiosListBuilder *builder)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (encoded, &size);

  switch (op)
    {
    case OP_ENCODE:
      g_bytes_unref (encode (w, builder));
      break;
    case OP_READ_VIEW:
      sink += read_all (encoded, FALSE);
      break;
    case OP_READ_COPY:
      sink += read_all (encoded, TRUE);
      break;
    case OP_DECODE_VARIANT:
      {
        GVariant *v = gios_list_decode (encoded, NULL);

        sink += g_variant_n_children (v);
        g_variant_unref (v);
        break;
      }
    case OP_DECODE_VISIT:
      {
        GVariant *v = gios_list_decode (encoded, NULL);

        sink += visit_all (v);
        g_variant_unref (v);
        break;
      }
    case OP_MEMCPY:
      memcpy (scratch, data, size);
      sink += scratch[size / 2];
      break;
    }
}

/* The best rate of three runs, in runs per second. */
static double
measure (const Workload *w,
         Op              op,
         GBytes         *encoded)
{
  guint8 *scratch = g_malloc (g_bytes_get_size (encoded) + 1);
  GiosListBuilder *builder = gios_list_builder_new ();
  double best = 0;
  int round;

  run_once (w, op, encoded, scratch, builder);   /* warm up */
  for (round = 0; round < 3; round++)
    {
      gint64 start = g_get_monotonic_time (), elapsed;
      guint64 runs = 0;

      do
        {
          run_once (w, op, encoded, scratch, builder);
          runs++;
          elapsed = g_get_monotonic_time () - start;
        }
      while (elapsed < seconds_per_run * G_USEC_PER_SEC / 3);
      best = MAX (best, runs / (elapsed / (double) G_USEC_PER_SEC));
    }

  gios_list_builder_unref (builder);
  g_free (scratch);
  return best;
}

static void
bench_workload (const Workload *w)
{
  GiosListBuilder *builder = gios_list_builder_new ();
  GBytes *encoded = encode (w, builder);
  double size_mb = g_bytes_get_size (encoded) / 1e6;
  double memcpy_rate = measure (w, OP_MEMCPY, encoded);
  Op op;

  printf ("%-14s %9zu items, %8.3f MB encoded\n", w->name, w->n_items, size_mb);
  for (op = OP_ENCODE; op <= OP_MEMCPY; op++)
    {
      double rate = op == OP_MEMCPY ? memcpy_rate : measure (w, op, encoded);

      printf ("  %-28s %12.1f M items/s %10.1f MB/s %8.3f× memcpy\n",
              op_names[op], rate * w->n_items / 1e6, rate * size_mb, rate / memcpy_rate);
    }
  g_bytes_unref (encoded);
  gios_list_builder_unref (builder);
}

int
main (int   argc,
      char *argv[])
{
  Workload workloads[3];
  gsize i;

  for (i = 1; i < (gsize) argc; i++)
    {
      if (g_str_has_prefix (argv[i], "--seconds="))
        seconds_per_run = CLAMP (g_ascii_strtod (argv[i] + 10, NULL), 0.01, 10.0);
      else
        {
          fprintf (stderr, "usage: %s [--seconds=S]\n", argv[0]);
          return 2;
        }
    }

  make_mixed (&workloads[0]);
  make_ints (&workloads[1]);
  make_strings (&workloads[2]);

  printf ("$LIST codec throughput (best of 3 × %.2f s; MB/s counts encoded bytes)\n",
          seconds_per_run / 3);
  for (i = 0; i < G_N_ELEMENTS (workloads); i++)
    {
      bench_workload (&workloads[i]);
      workload_free (&workloads[i]);
    }
  return 0;
}
