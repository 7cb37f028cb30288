/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS load generator for the serving-model benchmark: GIO's
 * GTlsClientConnection (glib-networking's backend), so that every server is
 * measured against the same client.  Loopback only (127.0.0.1).  Every mode
 * runs for --duration seconds and every socket call has a STALL_MS timeout,
 * so it always ends by itself.  It prints one line:
 *
 *   RESULT mode=tls-bulk mib_s=... bytes=... secs=... served=1/1
 *   RESULT mode=tls-pingpong rps=... p50_us=... p99_us=... requests=... secs=... served=1/1
 *   RESULT mode=tls-handshake hps=... p50_us=... p99_us=... handshakes=... errors=...
 *          secs=... served=N/M
 *
 * and exits 0, or 3 when some connection was not served (the RESULT line is
 * still printed), or 1 on a hard error (refused, failed handshake, wrong
 * echo, stall), after an "ERROR ..." line on stderr.
 *
 * tls-bulk:      one connection; a thread writes the bulk pattern as fast as
 *                the server takes it while the main thread reads and checks
 *                every echoed byte: echoed bytes per second (one direction;
 *                as many go the other way).
 * tls-pingpong:  one connection, one --size (64) byte message at a time,
 *                its echo checked byte for byte.
 * tls-handshake: connect, a full handshake, one --size byte message echoed,
 *                close (close_notify); handshakes per second, and the
 *                latency of the whole.  glib-networking's server sends no
 *                session tickets, so no handshake is a resumption.
 *
 * The client takes whatever certificate the server presents
 * (accept-certificate): checking it is the client's cost, the same for every
 * server.  It has no database, which also spares it glib-networking 2.74's
 * reading of the system trust store for every connection (made with
 * g_tls_client_connection_new(), 7 ms of CPU each), so that the server, not
 * the client, limits the handshake rate.  The handshakes of tls-bulk and
 * tls-pingpong are not timed.
 */
#include "loadgen-common.h"

#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef enum
{
  MODE_TLS_BULK,
  MODE_TLS_PINGPONG,
  MODE_TLS_HANDSHAKE,
} Mode;

static const char *const mode_names[] = {
  "tls-bulk", "tls-pingpong", "tls-handshake",
};

static GSocketAddress *server_address;

static gboolean
accept_any_certificate (GTlsConnection       *tls,
                        GTlsCertificate      *peer_cert,
                        GTlsCertificateFlags  errors,
                        gpointer              data)
{
  return TRUE;
}

/* A TLS connection to the server with its handshake done, TCP_NODELAY and a
 * STALL_MS timeout on every call, or NULL with @error. */
static GIOStream *
tls_connect (GError **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) tcp = NULL;
  g_autoptr(GIOStream) tls = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_timeout (socket, STALL_MS / 1000);
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, error) ||
      !g_socket_connect (socket, server_address, NULL, error))
    return NULL;
  tcp = g_socket_connection_factory_create_connection (socket);

  tls = g_initable_new (g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()),
                        NULL, error, "base-io-stream", tcp, "database", NULL, NULL);
  if (tls == NULL)
    return NULL;
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, error))
    return NULL;
  return g_steal_pointer (&tls);
}

static GIOStream *
tls_connect_or_die (const char *mode)
{
  g_autoptr(GError) error = NULL;
  GIOStream *tls = tls_connect (&error);

  if (tls == NULL)
    die ("%s: %s", mode, error->message);
  return tls;
}

/* Writes @msg and reads its echo; false with @error, fatal on a wrong echo. */
static gboolean
echo_msg (GIOStream            *tls,
          const unsigned char  *msg,
          size_t                size,
          GError              **error)
{
  unsigned char reply[MAX_MSG];
  gsize got = 0;

  if (!g_output_stream_write_all (g_io_stream_get_output_stream (tls), msg, size, NULL, NULL, error) ||
      !g_input_stream_read_all (g_io_stream_get_input_stream (tls), reply, size, &got, NULL, error))
    return FALSE;
  if (got < size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   "closed after %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes of the reply",
                   got, size);
      return FALSE;
    }
  if (memcmp (reply, msg, size) != 0)
    die ("wrong bytes echoed");
  return TRUE;
}

/* ---- tls-bulk ------------------------------------------------------------- */

static unsigned char pattern[BULK_CHUNK + PATTERN_PERIOD];

typedef struct
{
  GOutputStream *out;
  int64_t        deadline;
  uint64_t       sent;      /* read by the other thread once done is set */
  gint           done;
  GError        *error;
} BulkWriter;

static gpointer
bulk_write (gpointer data)
{
  BulkWriter *w = data;

  while (now_ns () < w->deadline &&
         g_output_stream_write_all (w->out, pattern + w->sent % PATTERN_PERIOD, BULK_CHUNK,
                                    NULL, NULL, &w->error))
    w->sent += BULK_CHUNK;
  g_atomic_int_set (&w->done, 1);
  return NULL;
}

static void
run_bulk (const LoadgenOptions *opts)
{
  static unsigned char rbuf[BULK_CHUNK];
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GError) error = NULL;
  BulkWriter w = { 0 };
  GInputStream *in;
  GThread *writer;
  uint64_t rcvd = 0, rcvd_at_end;
  int64_t start, end;
  gssize n;

  for (size_t i = 0; i < sizeof pattern; i++)
    pattern[i] = (unsigned char) (i % PATTERN_PERIOD);

  tls = tls_connect_or_die ("tls-bulk");
  in = g_io_stream_get_input_stream (tls);
  w.out = g_io_stream_get_output_stream (tls);

  start = now_ns ();
  w.deadline = start + (int64_t) (opts->duration * 1e9);
  writer = g_thread_new ("bulk-writer", bulk_write, &w);
  while (now_ns () < w.deadline)
    {
      n = g_input_stream_read (in, rbuf, sizeof rbuf, NULL, &error);
      if (n < 0)
        die ("tls-bulk: at %llu bytes echoed: %s", (unsigned long long) rcvd, error->message);
      if (n == 0)
        die ("tls-bulk: server closed the connection");
      if (memcmp (rbuf, pattern + rcvd % PATTERN_PERIOD, (size_t) n) != 0)
        die ("tls-bulk: wrong bytes echoed near offset %llu", (unsigned long long) rcvd);
      rcvd += (uint64_t) n;
    }
  end = now_ns ();
  rcvd_at_end = rcvd;

  /* Take back the writer's last chunk (each read bounded by the socket's
   * timeout), so that it never waits on a full pipe. */
  while (!g_atomic_int_get (&w.done) || rcvd < w.sent)
    {
      n = g_input_stream_read (in, rbuf, sizeof rbuf, NULL, NULL);
      if (n <= 0)
        break;
      rcvd += (uint64_t) n;
    }
  g_thread_join (writer);
  if (w.error != NULL)
    die ("tls-bulk: write at %llu bytes: %s", (unsigned long long) w.sent, w.error->message);
  g_io_stream_close (tls, NULL, NULL);

  printf ("RESULT mode=tls-bulk mib_s=%.1f bytes=%llu secs=%.3f served=1/1\n",
          (double) rcvd_at_end / ((double) (end - start) / 1e9) / (1024.0 * 1024.0),
          (unsigned long long) rcvd_at_end, (double) (end - start) / 1e9);
}

/* ---- tls-pingpong ----------------------------------------------------------- */

static void
run_pingpong (const LoadgenOptions *opts)
{
  g_autoptr(GIOStream) tls = tls_connect_or_die ("tls-pingpong");
  g_autoptr(GError) error = NULL;
  unsigned char msg[MAX_MSG];
  uint64_t requests = 0;
  int64_t start, deadline, t;

  start = now_ns ();
  deadline = start + (int64_t) (opts->duration * 1e9);
  while ((t = now_ns ()) < deadline)
    {
      make_msg (msg, opts->size, 0, (uint32_t) requests, false);
      if (!echo_msg (tls, msg, opts->size, &error))
        die ("tls-pingpong: request %llu: %s", (unsigned long long) requests, error->message);
      hist_add (now_ns () - t);
      requests++;
    }
  g_io_stream_close (tls, NULL, NULL);
  print_rr_result (mode_names[opts->mode], requests, t - start, 1, 1);
}

/* ---- tls-handshake ---------------------------------------------------------- */

/* One connection, handshake, echo and close; false with @error. */
static gboolean
one_handshake (size_t     size,
               uint32_t   seq,
               GError   **error)
{
  g_autoptr(GIOStream) tls = tls_connect (error);
  unsigned char msg[MAX_MSG];

  if (tls == NULL)
    return FALSE;
  make_msg (msg, size, seq, 0, false);
  return echo_msg (tls, msg, size, error) && g_io_stream_close (tls, NULL, error);
}

static void
run_handshake (const LoadgenOptions *opts)
{
  g_autofree char *first_error = NULL;
  uint64_t ok = 0, errors = 0, attempts = 0;
  int64_t start, deadline, t;

  start = now_ns ();
  deadline = start + (int64_t) (opts->duration * 1e9);
  while ((t = now_ns ()) < deadline && errors < MAX_CONN_ERRORS)
    {
      g_autoptr(GError) error = NULL;

      if (one_handshake (opts->size, (uint32_t) attempts, &error))
        {
          hist_add (now_ns () - t);
          ok++;
        }
      else if (errors++ == 0)
        first_error = g_strdup_printf ("connection %llu: %s",
                                       (unsigned long long) attempts, error->message);
      attempts++;
    }
  printf ("RESULT mode=tls-handshake hps=%.0f p50_us=%.1f p99_us=%.1f handshakes=%llu errors=%llu "
          "secs=%.3f served=%llu/%llu\n",
          (double) ok / ((double) (t - start) / 1e9),
          hist_quantile_us (0.50), hist_quantile_us (0.99),
          (unsigned long long) ok, (unsigned long long) errors, (double) (t - start) / 1e9,
          (unsigned long long) ok, (unsigned long long) attempts);
  if (ok == 0)
    die ("tls-handshake: no handshake succeeded (%s)", first_error);
  if (errors > 0)
    {
      fprintf (stderr, "tls-handshake: %llu failed, the first %s\n",
               (unsigned long long) errors, first_error);
      exit (3);
    }
}

/* ---- main ----------------------------------------------------------------- */

int
main (int    argc,
      char **argv)
{
  LoadgenOptions opts;

  loadgen_parse_args (argc, argv, mode_names, G_N_ELEMENTS (mode_names), &opts);
  signal (SIGPIPE, SIG_IGN);
  setvbuf (stdout, NULL, _IOLBF, 0);
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    die ("no TLS backend (install glib-networking)");
  server_address = g_inet_socket_address_new_from_string ("127.0.0.1", (guint) opts.port);

  switch ((Mode) opts.mode)
    {
    case MODE_TLS_BULK:
      run_bulk (&opts);
      break;
    case MODE_TLS_PINGPONG:
      run_pingpong (&opts);
      break;
    case MODE_TLS_HANDSHAKE:
      run_handshake (&opts);
      break;
    }
  g_object_unref (server_address);
  return 0;
}
