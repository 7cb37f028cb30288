/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "loadgen-common.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HIST_RES_NS      100
#define HIST_BUCKETS     1000000

static uint32_t hist[HIST_BUCKETS + 1];
static uint64_t hist_count;

void
die (const char *fmt,
     ...)
{
  va_list ap;

  fputs ("ERROR ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

int64_t
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
hist_add (int64_t ns)
{
  int64_t b = ns / HIST_RES_NS;

  if (b < 0)
    b = 0;
  if (b > HIST_BUCKETS)
    b = HIST_BUCKETS;
  hist[b]++;
  hist_count++;
}

double
hist_quantile_us (double q)
{
  uint64_t target, seen = 0;

  if (hist_count == 0)
    return 0;
  target = (uint64_t) (q * (double) hist_count);
  if (target >= hist_count)
    target = hist_count - 1;
  for (size_t b = 0; b <= HIST_BUCKETS; b++)
    {
      seen += hist[b];
      if (seen > target)
        return (double) ((b + 1) * HIST_RES_NS) / 1000.0;
    }
  return (double) HIST_BUCKETS * HIST_RES_NS / 1000.0;
}

void
make_msg (unsigned char *msg,
          size_t         size,
          uint32_t       conn,
          uint32_t       seq,
          bool           line)
{
  for (size_t i = 0; i < size; i++)
    {
      uint32_t v = conn * 131u + seq * 7u + (uint32_t) i;
      msg[i] = line ? (unsigned char) ('!' + v % 94u) : (unsigned char) v;
    }
  if (line)
    msg[size - 1] = '\n';
}

void
print_rr_result (const char *mode,
                 uint64_t    requests,
                 int64_t     elapsed_ns,
                 int         served,
                 int         total)
{
  printf ("RESULT mode=%s rps=%.0f p50_us=%.1f p99_us=%.1f requests=%llu secs=%.3f served=%d/%d\n",
          mode, (double) requests / ((double) elapsed_ns / 1e9),
          hist_quantile_us (0.50), hist_quantile_us (0.99),
          (unsigned long long) requests, (double) elapsed_ns / 1e9,
          served, total);
}

static void
usage (const char        *prog,
       const char *const *mode_names,
       size_t             n_modes)
{
  fprintf (stderr,
           "Usage: %s --port=N --mode=MODE\n"
           "       [--duration=SECONDS (default 2, at most 600)]\n"
           "       [--conns=N (fan-in connections, default 1000)]\n"
           "       [--size=BYTES (request size, default 64)]\n"
           "Modes:", prog);
  for (size_t i = 0; i < n_modes; i++)
    fprintf (stderr, " %s", mode_names[i]);
  fputc ('\n', stderr);
  exit (2);
}

void
loadgen_parse_args (int                argc,
                    char             **argv,
                    const char *const *mode_names,
                    size_t             n_modes,
                    LoadgenOptions    *opts)
{
  static const struct option long_opts[] = {
    { "port", required_argument, NULL, 'p' },
    { "mode", required_argument, NULL, 'm' },
    { "duration", required_argument, NULL, 'd' },
    { "conns", required_argument, NULL, 'c' },
    { "size", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool have_mode = false;
  char *end;
  int c;

  opts->port = 0;
  opts->duration = 2.0;
  opts->conns = 1000;
  opts->size = 64;

  while ((c = getopt_long (argc, argv, "", long_opts, NULL)) != -1)
    {
      switch (c)
        {
        case 'p':
          opts->port = (int) strtol (optarg, &end, 10);
          if (*end != '\0' || opts->port <= 0 || opts->port > 65535)
            usage (argv[0], mode_names, n_modes);
          break;
        case 'm':
          for (size_t i = 0; i < n_modes; i++)
            if (strcmp (optarg, mode_names[i]) == 0)
              {
                opts->mode = (int) i;
                have_mode = true;
              }
          if (!have_mode)
            usage (argv[0], mode_names, n_modes);
          break;
        case 'd':
          opts->duration = strtod (optarg, &end);
          if (*end != '\0' || !(opts->duration > 0 && opts->duration <= 600))
            usage (argv[0], mode_names, n_modes);
          break;
        case 'c':
          opts->conns = (int) strtol (optarg, &end, 10);
          if (*end != '\0' || opts->conns < 1 || opts->conns > 100000)
            usage (argv[0], mode_names, n_modes);
          break;
        case 's':
          opts->size = (size_t) strtoul (optarg, &end, 10);
          if (*end != '\0' || opts->size < 1 || opts->size > MAX_MSG)
            usage (argv[0], mode_names, n_modes);
          break;
        default:
          usage (argv[0], mode_names, n_modes);
        }
    }
  if (optind != argc || opts->port == 0 || !have_mode)
    usage (argv[0], mode_names, n_modes);
}
