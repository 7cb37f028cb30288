/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-over stage with the PROXY protocol (src/gios-handover.c): the
 * stage itself over socketpairs with hand-built headers (every failure
 * path, the bytes after the header kept), then each serving model over
 * loopback: bad clients dropped with one log line, silent clients dropped
 * after handshake-timeout, and nothing else affected.
 */
#include "gios-handover.h"
#include "gios-proxy-header.h"
#include "gios-socket-common-private.h"
#include "gios-device-stream-private.h"
#include "gios-test-utils.h"

#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

static const guint8 v2_sig[12] = {
  0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

/* A version 2 header, PROXY TCP4 from 192.0.2.1:4000 to 198.51.100.7:443,
 * with the TLVs @tlvs (@tlvs_len bytes), then @after. */
static GByteArray *
v2_tcp4 (guint8      ver_cmd,
         const void *tlvs,
         gsize       tlvs_len,
         const char *after)
{
  const guint8 addresses[12] = { 192, 0, 2, 1, 198, 51, 100, 7, 0x0F, 0xA0, 0x01, 0xBB };
  GByteArray *h = g_byte_array_new ();
  gsize len = sizeof addresses + tlvs_len;
  guint8 fixed[4] = { ver_cmd, 0x11, len >> 8, len & 0xFF };

  g_byte_array_append (h, v2_sig, sizeof v2_sig);
  g_byte_array_append (h, fixed, sizeof fixed);
  g_byte_array_append (h, addresses, sizeof addresses);
  if (tlvs_len > 0)
    g_byte_array_append (h, tlvs, tlvs_len);
  g_byte_array_append (h, (const guint8 *) after, strlen (after));
  return h;
}

/* ------------------------------------------------------------------------ */
/* The stage over a socketpair                                                */

typedef struct
{
  GiosServerSocket *server;
  GiosSocket *connection;   /* the accepted side, under test */
  int peer;                 /* the client's side */
} Stage;

static Stage *
stage_new (GiosProxyProtocol proxy,
           int               handshake_timeout)
{
  Stage *stage = g_new0 (Stage, 1);
  int fds[2];

  gios_test_socketpair (fds);
  stage->server = gios_server_socket_new ();
  gios_server_socket_set_proxy_protocol (stage->server, proxy);
  gios_server_socket_set_handshake_timeout (stage->server, handshake_timeout);
  stage->connection = gios_socket_new ();
  _gios_socket_common_set_connection_fd (GIOS_SOCKET_COMMON (stage->connection), fds[0], TRUE, NULL);
  _gios_device_stream_set_open (GIOS_DEVICE_STREAM (stage->connection), TRUE);
  stage->peer = fds[1];
  return stage;
}

static void
stage_free (Stage *stage)
{
  if (stage->peer >= 0)
    close (stage->peer);
  g_object_unref (stage->connection);
  g_object_unref (stage->server);
  g_free (stage);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Stage, stage_free)

static gboolean
stage_run (Stage   *stage,
           GError **error)
{
  GiosGate *gate = _gios_device_stream_get_gate (GIOS_DEVICE_STREAM (stage->connection));

  return gios_handover_run (stage->server, GIOS_SOCKET_COMMON (stage->connection), gate, NULL, error);
}

/* The connection's next line, within a second. */
static char *
stage_read_line (Stage *stage)
{
  g_autoptr(GError) error = NULL;
  char *line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (stage->connection), 0, NULL, 1000,
                                             NULL, &error);

  g_assert_no_error (error);
  return line;
}

static void
test_stage_v1_keeps_what_follows (void)
{
  g_autoptr(Stage) stage = stage_new (GIOS_PROXY_PROTOCOL_V1, 1000);
  g_autoptr(GError) error = NULL;
  GSocketAddress *peer = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  peer = g_object_ref (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection)));
  gios_test_peer_write_str (stage->peer, "PROXY TCP6 2001:db8::7 ::1 40000 80\r\nhello\r\n");
  gios_test_peer_write_str (stage->peer, "world\r\n");
  g_assert_true (stage_run (stage, &error));
  g_assert_no_error (error);
  gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection)), "2001:db8::7", 40000);
  g_assert_true (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (stage->connection)) == peer);
  g_assert_null (gios_socket_common_get_proxy_authority (GIOS_SOCKET_COMMON (stage->connection)));
  g_assert_false (gios_socket_common_get_proxy_ssl (GIOS_SOCKET_COMMON (stage->connection)));
  /* Every byte after the header is the application's. */
  first = stage_read_line (stage);
  second = stage_read_line (stage);
  g_assert_cmpstr (first, ==, "hello");
  g_assert_cmpstr (second, ==, "world");
  g_object_unref (peer);
}

static void
test_stage_v2_tlvs (void)
{
  const guint8 tlvs[] = {
    0x02, 0x00, 0x0B, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'o', 'r', 'g',    /* AUTHORITY */
    0x20, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00,                             /* SSL, client SSL */
    0xE0, 0x00, 0x02, 0xAB, 0xCD,                                               /* custom */
  };
  g_autoptr(Stage) stage = stage_new (GIOS_PROXY_PROTOCOL_ANY, 1000);
  g_autoptr(GByteArray) h = v2_tcp4 (0x21, tlvs, sizeof tlvs, "\r\nafter\r\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) custom = NULL;
  g_autofree char *authority = NULL;
  g_autofree char *empty = NULL;
  g_autofree char *line = NULL;

  gios_test_peer_write_all (stage->peer, h->data, h->len);
  g_assert_true (stage_run (stage, &error));
  g_assert_no_error (error);
  gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection)), "192.0.2.1", 4000);
  g_assert_nonnull (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (stage->connection)));
  authority = gios_socket_common_get_proxy_authority (GIOS_SOCKET_COMMON (stage->connection));
  g_assert_cmpstr (authority, ==, "example.org");
  g_assert_true (gios_socket_common_get_proxy_ssl (GIOS_SOCKET_COMMON (stage->connection)));
  custom = gios_socket_common_get_proxy_tlv (GIOS_SOCKET_COMMON (stage->connection), 0xE0);
  g_assert_cmpmem (g_bytes_get_data (custom, NULL), g_bytes_get_size (custom), "\xAB\xCD", 2);
  /* Even an empty line right after the header is kept. */
  empty = stage_read_line (stage);
  line = stage_read_line (stage);
  g_assert_cmpstr (empty, ==, "");
  g_assert_cmpstr (line, ==, "after");

  /* A new connection forgets what the header said. */
  _gios_socket_common_release_connection (GIOS_SOCKET_COMMON (stage->connection));
  g_assert_null (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (stage->connection)));
  g_assert_null (gios_socket_common_get_proxy_tlv (GIOS_SOCKET_COMMON (stage->connection), 0xE0));
}

/* LOCAL (a balancer's health check) keeps the real peer, and no proxy
 * address. */
static void
test_stage_v2_local (void)
{
  g_autoptr(Stage) stage = stage_new (GIOS_PROXY_PROTOCOL_V2, 1000);
  g_autoptr(GByteArray) h = v2_tcp4 (0x20, NULL, 0, "ping\n");
  g_autoptr(GError) error = NULL;
  GSocketAddress *peer = gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection));
  g_autofree char *line = NULL;

  gios_test_peer_write_all (stage->peer, h->data, h->len);
  g_assert_true (stage_run (stage, &error));
  g_assert_no_error (error);
  g_assert_true (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection)) == peer);
  g_assert_null (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (stage->connection)));
  line = stage_read_line (stage);
  g_assert_cmpstr (line, ==, "ping");
}

typedef struct
{
  int fd;
  GByteArray *bytes;
  gulong delay_us;    /* between two bytes */
} Dribble;

/* Sends the bytes one at a time, @delay_us apart, until the receiver has
 * gone (the pace of a slow sender, not a synchronisation). */
static gpointer
dribble (gpointer data)
{
  Dribble *d = data;

  for (guint i = 0; i < d->bytes->len; i++)
    {
      if (send (d->fd, d->bytes->data + i, 1, MSG_NOSIGNAL) != 1)
        break;
      g_usleep (d->delay_us);
    }
  return NULL;
}

/* A header that arrives a byte at a time is read whole, and exactly. */
static void
test_stage_slow_sender (void)
{
  const char *texts[] = { "PROXY TCP4 10.1.2.3 10.0.0.1 5555 80\r\nrest\n", NULL };
  g_autoptr(GByteArray) v2 = v2_tcp4 (0x21, "\x04\x00\x01\x00", 4, "rest\n");

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(Stage) stage = stage_new (GIOS_PROXY_PROTOCOL_ANY, 10000);
      g_autoptr(GError) error = NULL;
      g_autofree char *line = NULL;
      Dribble d = { stage->peer, NULL, 1000 };
      GThread *thread;

      if (texts[i] != NULL)
        d.bytes = g_byte_array_append (g_byte_array_new (), (const guint8 *) texts[i], strlen (texts[i]));
      else
        d.bytes = g_byte_array_ref (v2);
      thread = g_thread_new ("dribble", dribble, &d);
      g_assert_true (stage_run (stage, &error));
      g_assert_no_error (error);
      gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection)),
                   i == 0 ? "10.1.2.3" : "192.0.2.1", i == 0 ? 5555 : 4000);
      line = stage_read_line (stage);
      g_assert_cmpstr (line, ==, "rest");
      g_thread_join (thread);
      g_byte_array_unref (d.bytes);
    }
}

/* Each way a header fails: the error, and the connection left as it was. */
static void
test_stage_failures (void)
{
  g_autofree char *long_line = g_strnfill (300, 'x');
  g_autoptr(GByteArray) v2_huge = v2_tcp4 (0x21, NULL, 0, "");
  g_autoptr(GByteArray) v2_cut = v2_tcp4 (0x21, NULL, 0, "");
  g_autoptr(GByteArray) v2_bad_tlv = v2_tcp4 (0x21, "\x02\x00\x09" "abc", 6, "");
  const struct {
    GiosProxyProtocol proxy;
    const void *data;
    gsize len;
    gboolean then_close;
    GQuark domain;
    gint code;
  } cases[] = {
    { GIOS_PROXY_PROTOCOL_V1, "GET / HTTP/1.0\r\n\r\n", 18, FALSE, GIOS_ERROR, GIOS_ERROR_MALFORMED },
    { GIOS_PROXY_PROTOCOL_V2, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, FALSE, GIOS_ERROR, GIOS_ERROR_MALFORMED },
    { GIOS_PROXY_PROTOCOL_V1, "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", 36, FALSE, GIOS_ERROR, GIOS_ERROR_MALFORMED },
    { GIOS_PROXY_PROTOCOL_V1, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2", 30, TRUE, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED },
    { GIOS_PROXY_PROTOCOL_ANY, "", 0, TRUE, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED },
    { GIOS_PROXY_PROTOCOL_V1, long_line, 300, FALSE, GIOS_ERROR, GIOS_ERROR_TOO_LARGE },
    { GIOS_PROXY_PROTOCOL_V2, v2_huge->data, 16, FALSE, GIOS_ERROR, GIOS_ERROR_TOO_LARGE },
    { GIOS_PROXY_PROTOCOL_V2, v2_cut->data, 20, TRUE, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED },
    { GIOS_PROXY_PROTOCOL_V2, v2_bad_tlv->data, v2_bad_tlv->len, FALSE, GIOS_ERROR, GIOS_ERROR_MALFORMED },
  };

  memcpy (long_line, "PROXY UNKNOWN ", 14);
  v2_huge->data[14] = 0x20;                   /* 8 KiB of addresses and TLVs */
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(Stage) stage = stage_new (cases[i].proxy, 5000);
      g_autoptr(GError) error = NULL;
      GSocketAddress *peer = gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection));
      gint64 start = g_get_monotonic_time ();

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      if (cases[i].len > 0)
        gios_test_peer_write_all (stage->peer, cases[i].data, cases[i].len);
      if (cases[i].then_close)
        {
          close (stage->peer);
          stage->peer = -1;
        }
      g_assert_false (stage_run (stage, &error));
      g_assert_error (error, cases[i].domain, cases[i].code);
      g_assert_true (gios_handover_is_drop (error));
      /* At once: none of them waits for the timeout. */
      g_assert_cmpint (gios_test_elapsed_ms (start), <, 2500);
      g_assert_true (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection)) == peer);
      g_assert_null (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (stage->connection)));
    }
}

/* A client that sends nothing, or half a header, is given up after the
 * handshake timeout. */
static void
test_stage_timeout (void)
{
  const char *sent[] = { NULL, "PROXY TCP4 1.2" };

  for (guint i = 0; i < G_N_ELEMENTS (sent); i++)
    {
      g_autoptr(Stage) stage = stage_new (GIOS_PROXY_PROTOCOL_ANY, 300);
      g_autoptr(GError) error = NULL;
      gint64 start = g_get_monotonic_time ();

      if (sent[i] != NULL)
        gios_test_peer_write_str (stage->peer, sent[i]);
      g_assert_false (stage_run (stage, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      g_assert_nonnull (strstr (error->message, "300 ms"));
      g_assert_true (gios_handover_is_drop (error));
      gios_test_assert_timed (start, 300);
    }
}

/* Cancelling ends the stage without counting as the connection's fault. */
static void
test_stage_cancelled (void)
{
  g_autoptr(Stage) stage = stage_new (GIOS_PROXY_PROTOCOL_V1, 10000);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GiosGate *gate = _gios_device_stream_get_gate (GIOS_DEVICE_STREAM (stage->connection));

  g_cancellable_cancel (cancellable);
  g_assert_false (gios_handover_run (stage->server, GIOS_SOCKET_COMMON (stage->connection), gate,
                                     cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (gios_handover_is_drop (error));
}

/* Without proxy-protocol nothing is looked for: a header is data. */
static void
test_stage_not_configured (void)
{
  g_autoptr(Stage) stage = stage_new (GIOS_PROXY_PROTOCOL_NONE, 1000);
  g_autoptr(GError) error = NULL;
  GSocketAddress *peer = gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection));
  g_autofree char *line = NULL;

  g_assert_false (gios_handover_needed (stage->server));
  gios_test_peer_write_str (stage->peer, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
  g_assert_true (stage_run (stage, &error));
  g_assert_no_error (error);
  g_assert_true (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (stage->connection)) == peer);
  line = stage_read_line (stage);
  g_assert_cmpstr (line, ==, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2");
}

/* ------------------------------------------------------------------------ */
/* The serving models over loopback                                           */

static GiosServerSocket *
proxied_server (GiosProxyProtocol proxy,
                int               handshake_timeout)
{
  GiosServerSocket *server = gios_test_open_loopback_server ();

  g_object_set (server, "proxy-protocol", proxy, "handshake-timeout", handshake_timeout, NULL);
  return server;
}

/* A raw client of @server that sends @text (if any). */
static int
client_sending (GiosServerSocket *server,
                const char       *text)
{
  int fd = gios_test_raw_connect (AF_INET, gios_test_server_port (server));

  if (text != NULL)
    gios_test_raw_send (fd, text);
  return fd;
}

#define GOOD_V1 "PROXY TCP4 203.0.113.9 127.0.0.1 61000 7000\r\n"

/* listen(): bad clients before a good one are dropped, each with no more
 * than one log line in all, and listen() returns the good one. */
static void
test_classic_listen (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V1, 2000);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  int bad[20];
  int good;

  gios_test_count_log ();
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    bad[i] = client_sending (server, i % 2 ? "garbage\r\n" : "PROXY TCP4 1.2.3.4\r\n");
  good = client_sending (server, GOOD_V1 "line\n");
  g_assert_true (gios_server_socket_listen (server, 5000, NULL, &error));
  g_assert_no_error (error);
  gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (server)), "203.0.113.9", 61000);
  gios_test_assert_inet (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (server)), "127.0.0.1",
               g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (server)))));
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (server), 0, NULL, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "line");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gios_test_raw_assert_dropped (bad[i]);
      close (bad[i]);
    }
  g_assert_cmpuint (gios_test_get_messages (), ==, 1);
  close (good);
}

/* listen() with a silent client: it is dropped after handshake-timeout,
 * and listen() keeps waiting within its own timeout for the next. */
static void
test_classic_listen_silent (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_ANY, 200);
  g_autoptr(GError) error = NULL;
  gint64 start;
  int silent;

  silent = client_sending (server, NULL);
  start = g_get_monotonic_time ();
  g_assert_false (gios_server_socket_listen (server, 600, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  gios_test_assert_timed (start, 600);
  gios_test_raw_assert_dropped (silent);
  close (silent);
}

/* accept(): the same, and the socket's host and port are the client's. */
static void
test_accept (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_ANY, 2000);
  g_autoptr(GiosSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  int bad = client_sending (server, "\r\n\r\nX");
  int good = client_sending (server, GOOD_V1 "line\n");

  socket = gios_server_socket_accept (server, 5000, NULL, &error);
  g_assert_no_error (error);
  gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (socket)), "203.0.113.9", 61000);
  g_assert_cmpstr (gios_socket_common_get_host (GIOS_SOCKET_COMMON (socket)), ==, "203.0.113.9");
  g_assert_cmpuint (gios_socket_common_get_port (GIOS_SOCKET_COMMON (socket)), ==, 61000);
  g_assert_nonnull (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (socket)));
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (socket), 0, NULL, 1000, NULL, &error);
  g_assert_cmpstr (line, ==, "line");
  gios_test_raw_assert_dropped (bad);
  close (bad);
  close (good);
}

/* A server without proxy-protocol never looks for a header. */
static void
test_accept_not_configured (void)
{
  g_autoptr(GiosServerSocket) server = gios_test_open_loopback_server ();
  g_autoptr(GiosSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  int client = client_sending (server, GOOD_V1);

  socket = gios_server_socket_accept (server, 5000, NULL, &error);
  g_assert_no_error (error);
  gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (socket)), "127.0.0.1",
               gios_socket_common_get_port (GIOS_SOCKET_COMMON (socket)));
  g_assert_null (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (socket)));
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (socket), 0, NULL, 1000, NULL, &error);
  g_assert_cmpstr (line, ==, "PROXY TCP4 203.0.113.9 127.0.0.1 61000 7000");
  close (client);
}

typedef struct
{
  GMutex lock;
  guint served;
  char *remote;
} Served;

/* A job that answers one line with the client's address. */
static void
answer_with_address (GiosSocket   *connection,
                     GCancellable *cancellable,
                     gpointer      user_data)
{
  Served *served = user_data;
  GSocketAddress *remote = gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (connection));
  g_autofree char *line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (connection), 0, NULL, 2000,
                                                        cancellable, NULL);
  g_autofree char *address = _gios_socket_address_to_string (remote);

  gios_device_stream_write_line (GIOS_DEVICE_STREAM (connection), address, NULL, NULL);
  g_mutex_lock (&served->lock);
  served->served++;
  g_mutex_unlock (&served->lock);
  g_assert_cmpstr (line, ==, "line");
}

/* listen_job(): one job slot; a silent client holds it no longer than the
 * handshake timeout, garbage never reaches a job, and a good client behind
 * them is served with its own address. The header is read on the job's
 * thread: the accepting thread takes the next connection meanwhile. */
static void
test_listen_job (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V1, 300);
  g_autoptr(GError) error = NULL;
  Served served = { 0 };
  gint64 start = g_get_monotonic_time ();
  int silent = client_sending (server, NULL);
  int bad = client_sending (server, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n");
  int good = client_sending (server, GOOD_V1 "line\n");
  gint started;

  g_mutex_init (&served.lock);
  started = gios_server_socket_listen_job (server, 1500, 1, answer_with_address, &served, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (started, ==, 3);
  gios_test_peer_assert_reads (good, "203.0.113.9:61000\n");
  g_assert_true (gios_server_socket_wait_jobs (server, 5000, &error));
  g_assert_cmpuint (served.served, ==, 1);
  gios_test_raw_assert_dropped (silent);
  gios_test_raw_assert_dropped (bad);
  /* The silent client was dropped after about 300 ms, well before
   * listen_job's 1500 ms ran out. */
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 3000);
  close (silent);
  close (bad);
  close (good);
  g_mutex_clear (&served.lock);
}

/* Silent clients never hold a job slot past the handshake timeout: with
 * two slots and four silent clients, a good client is served within about
 * two timeouts. */
static void
test_listen_job_silent_frees_slots (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V2, 250);
  g_autoptr(GByteArray) h = v2_tcp4 (0x21, NULL, 0, "line\n");
  g_autoptr(GError) error = NULL;
  Served served = { 0 };
  int silent[4];
  int good;
  gint started;

  g_mutex_init (&served.lock);
  for (guint i = 0; i < G_N_ELEMENTS (silent); i++)
    silent[i] = client_sending (server, NULL);
  good = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  gios_test_peer_write_all (good, h->data, h->len);
  started = gios_server_socket_listen_job (server, 1200, 2, answer_with_address, &served, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (started, ==, 5);
  gios_test_peer_assert_reads (good, "192.0.2.1:4000\n");
  g_assert_true (gios_server_socket_wait_jobs (server, 5000, &error));
  g_assert_cmpuint (served.served, ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (silent); i++)
    {
      gios_test_raw_assert_dropped (silent[i]);
      close (silent[i]);
    }
  close (good);
  g_mutex_clear (&served.lock);
}

/* Closing the server while jobs wait for headers ends them at once. */
static void
test_listen_job_close (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V1, 20000);
  g_autoptr(GError) error = NULL;
  Served served = { 0 };
  int silent = client_sending (server, "PROXY");
  gint64 start;

  g_mutex_init (&served.lock);
  g_assert_cmpint (gios_server_socket_listen_job (server, 300, 0, answer_with_address, &served, NULL, NULL,
                                                  &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (gios_server_socket_get_n_jobs (server), ==, 1);
  start = g_get_monotonic_time ();
  gios_server_socket_close (server, NULL);
  g_assert_true (gios_server_socket_wait_jobs (server, 5000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 2000);
  g_assert_cmpuint (served.served, ==, 0);
  close (silent);
  g_mutex_clear (&served.lock);
}

/* ------------------------------------------------------------------------ */
/* The main loop                                                              */

typedef struct
{
  GPtrArray *connections;   /* accepted, kept */
} Accepted;

static gboolean
on_accepted (GiosServerSocket *server,
             GiosSocket       *connection,
             Accepted         *accepted)
{
  g_ptr_array_add (accepted->connections, g_object_ref (connection));
  return TRUE;
}

/* start(): a silent client first does not hold up the loop: the good one
 * behind it is accepted at once, with the client's address and its bytes;
 * the silent one is dropped after the handshake timeout, the bad one at
 * once, and neither is ever emitted. */
static void
test_start (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V2, 1000);
  g_autoptr(GByteArray) h = v2_tcp4 (0x21, NULL, 0, "line\n");
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  Accepted accepted = { g_ptr_array_new_with_free_func (g_object_unref) };
  gint64 start = g_get_monotonic_time ();
  GiosSocket *connection;
  int silent, bad, good;

  g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), &accepted);
  g_assert_true (gios_server_socket_start (server, &error));
  silent = client_sending (server, NULL);
  bad = client_sending (server, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
  good = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  gios_test_peer_write_all (good, h->data, h->len);

  GIOS_TEST_RUN_UNTIL (accepted.connections->len == 1);
  /* Well before the silent client's 1000 ms are up. */
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 900);
  connection = g_ptr_array_index (accepted.connections, 0);
  gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (connection)), "192.0.2.1", 4000);
  g_assert_cmpstr (gios_socket_common_get_host (GIOS_SOCKET_COMMON (connection)), ==, "192.0.2.1");
  g_assert_nonnull (gios_socket_common_get_proxy_address (GIOS_SOCKET_COMMON (connection)));
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (connection), 0, NULL, 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "line");

  /* The silent one goes after its 1000 ms, while the loop runs. */
  GIOS_TEST_RUN_UNTIL (gios_test_peer_has_input (silent));
  g_assert_cmpint (gios_test_elapsed_ms (start), >=, 950);
  gios_test_raw_assert_dropped (silent);
  gios_test_raw_assert_dropped (bad);
  g_assert_cmpuint (accepted.connections->len, ==, 1);
  close (silent);
  close (bad);
  close (good);
  g_ptr_array_unref (accepted.connections);
}

/* With max-connections 1, a client that sends nothing holds the place no
 * longer than the handshake timeout; then the next one is accepted. */
static void
test_start_silent_frees_place (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V1, 300);
  g_autoptr(GError) error = NULL;
  Accepted accepted = { g_ptr_array_new_with_free_func (g_object_unref) };
  gint64 start = g_get_monotonic_time ();
  int silent, good;

  gios_server_socket_set_max_connections (server, 1);
  g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), &accepted);
  g_assert_true (gios_server_socket_start (server, &error));
  silent = client_sending (server, NULL);
  GIOS_TEST_RUN_UNTIL (gios_test_elapsed_ms (start) >= 50);
  good = client_sending (server, GOOD_V1);
  GIOS_TEST_RUN_UNTIL (accepted.connections->len == 1);
  gios_test_assert_elapsed (start, 280, 2000);
  gios_test_assert_inet (gios_socket_common_get_remote_address (g_ptr_array_index (accepted.connections, 0)),
                         "203.0.113.9", 61000);
  gios_test_raw_assert_dropped (silent);
  close (silent);
  close (good);
  g_ptr_array_unref (accepted.connections);
}

/* accept_async() and listen_async(): a bad client does not end the call,
 * which gets the next good one. */
static void
test_async_calls (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_ANY, 2000);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GiosSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  int bad, good;

  gios_server_socket_accept_async (server, NULL, gios_test_on_async_done, &result);
  bad = client_sending (server, "nonsense\r\n");
  good = client_sending (server, GOOD_V1);
  socket = gios_server_socket_accept_finish (server, gios_test_wait_result (&result), &error);
  g_assert_no_error (error);
  gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (socket)), "203.0.113.9", 61000);
  gios_test_raw_assert_dropped (bad);
  close (bad);
  close (good);

  g_clear_object (&result);
  gios_server_socket_listen_async (server, NULL, gios_test_on_async_done, &result);
  bad = client_sending (server, "PROXY TCP6 1.2.3.4 ::1 1 2\r\n");
  good = client_sending (server, "PROXY TCP6 2001:db8::2 ::1 7 8\r\n");
  g_assert_true (gios_server_socket_listen_finish (server, gios_test_wait_result (&result), &error));
  g_assert_no_error (error);
  gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (server)), "2001:db8::2", 7);
  gios_test_raw_assert_dropped (bad);
  close (bad);
  close (good);
}

/* Closing the server ends the hand-overs under way: the connections are
 * dropped, nothing is emitted, and a pending call fails. */
static void
test_main_loop_close (void)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V1, 20000);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GiosSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  Accepted accepted = { g_ptr_array_new_with_free_func (g_object_unref) };
  int waiting_start, waiting_call;

  gios_server_socket_accept_async (server, NULL, gios_test_on_async_done, &result);
  waiting_call = client_sending (server, "PROX");
  /* Let the acceptor take it: its header is then awaited. */
  GIOS_TEST_RUN_UNTIL (!g_main_context_pending (NULL));
  g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), &accepted);
  g_assert_true (gios_server_socket_start (server, &error));
  waiting_start = client_sending (server, "PROXY TCP4");
  GIOS_TEST_RUN_UNTIL (!g_main_context_pending (NULL));

  gios_server_socket_close (server, NULL);
  socket = gios_server_socket_accept_finish (server, gios_test_wait_result (&result), &error);
  g_assert_null (socket);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  gios_test_raw_assert_dropped (waiting_call);
  gios_test_raw_assert_dropped (waiting_start);
  g_assert_cmpuint (accepted.connections->len, ==, 0);
  close (waiting_call);
  close (waiting_start);
  g_ptr_array_unref (accepted.connections);
}

/* A drain gives the connections still reading their header its time, as
 * to any it serves, then cuts them: a job and a main-loop connection, both
 * waiting for a header that does not come. */
static void
test_drain (void)
{
  for (guint model = 0; model < 2; model++)
    {
      g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V1, 20000);
      g_autoptr(GError) error = NULL;
      Accepted accepted = { g_ptr_array_new_with_free_func (g_object_unref) };
      Served served = { 0 };
      gint64 start;
      int silent;

      g_mutex_init (&served.lock);
      silent = client_sending (server, "PROXY TCP4");
      if (model == 0)
        g_assert_cmpint (gios_server_socket_listen_job (server, 300, 0, answer_with_address, &served,
                                                        NULL, NULL, &error), ==, 1);
      else
        {
          g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), &accepted);
          g_assert_true (gios_server_socket_start (server, &error));
          GIOS_TEST_RUN_UNTIL (!g_main_context_pending (NULL));
        }
      g_assert_no_error (error);
      start = g_get_monotonic_time ();
      g_assert_false (gios_server_socket_drain (server, 300, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
      gios_test_assert_elapsed (start, 280, 3000);
      g_assert_true (gios_server_socket_wait_jobs (server, 5000, NULL));
      GIOS_TEST_RUN_UNTIL (!g_main_context_pending (NULL));
      gios_test_raw_assert_dropped (silent);
      g_assert_cmpuint (served.served, ==, 0);
      g_assert_cmpuint (accepted.connections->len, ==, 0);
      close (silent);
      g_ptr_array_unref (accepted.connections);
      g_mutex_clear (&served.lock);
    }
}

/* ------------------------------------------------------------------------ */
/* Faults during the hand-over, in both drivers                               */

/* Takes connections through the hand-over in one of the two drivers, on
 * this thread: GIOS_TEST_MODEL_ACCEPT, accept(), which blocks in it, or
 * GIOS_TEST_MODEL_START, start() and ::accepted on the default context. */
typedef struct
{
  GiosServerSocket *server;
  GiosTestModel model;
  Accepted accepted;        /* start()'s */
} Driver;

static const GiosTestModel drivers[] = { GIOS_TEST_MODEL_ACCEPT, GIOS_TEST_MODEL_START };

static void
driver_init (Driver           *driver,
             GiosServerSocket *server,
             GiosTestModel     model)
{
  driver->server = server;
  driver->model = model;
  driver->accepted.connections = g_ptr_array_new_with_free_func (g_object_unref);
  if (model == GIOS_TEST_MODEL_START)
    {
      g_signal_connect (server, "accepted", G_CALLBACK (on_accepted), &driver->accepted);
      g_assert_true (gios_server_socket_start (server, NULL));
    }
}

/* The next connection handed over, asserted. */
static GiosSocket *
driver_next (Driver *driver)
{
  g_autoptr(GError) error = NULL;
  GiosSocket *socket;

  if (driver->model == GIOS_TEST_MODEL_ACCEPT)
    {
      socket = gios_server_socket_accept (driver->server, 5000, NULL, &error);
      g_assert_no_error (error);
      return socket;
    }
  GIOS_TEST_RUN_UNTIL (driver->accepted.connections->len > 0);
  return g_ptr_array_steal_index (driver->accepted.connections, 0);
}

static void
driver_clear (Driver *driver)
{
  g_signal_handlers_disconnect_by_data (driver->server, &driver->accepted);
  /* Nothing else was handed over. */
  g_assert_cmpuint (driver->accepted.connections->len, ==, 0);
  g_ptr_array_unref (driver->accepted.connections);
}

/* Asserts that @socket is the client @ip:@port, and that it sent "line"
 * after its header. */
static void
assert_handed_over (GiosSocket *socket,
                    const char *ip,
                    guint       port)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  gios_test_assert_inet (gios_socket_common_get_remote_address (GIOS_SOCKET_COMMON (socket)), ip, port);
  line = gios_device_stream_read_line (GIOS_DEVICE_STREAM (socket), 0, NULL, 2000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "line");
}

/* The client: waits until the server has read what it sent, then resets. */
static gpointer
reset_once_read (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);

  gios_test_raw_wait_sent_read (fd);
  gios_test_raw_reset (fd);
  return NULL;
}

/* A client that resets its connection in the middle of its header: that
 * connection is dropped and reported (one message), nothing else, and the
 * next client is served. */
static void
test_reset_mid_header (gconstpointer data)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V1, 5000);
  g_autoptr(GiosSocket) socket = NULL;
  guint messages, warnings;
  Driver driver;
  GThread *resetter;
  int good;

  gios_test_count_log ();
  messages = gios_test_get_messages ();
  warnings = gios_test_get_warnings ();
  driver_init (&driver, server, GPOINTER_TO_INT (data));
  resetter = g_thread_new ("reset", reset_once_read,
                           GINT_TO_POINTER (client_sending (server, "PROXY TCP4 198.51.100")));
  good = client_sending (server, GOOD_V1 "line\n");
  socket = driver_next (&driver);
  assert_handed_over (socket, "203.0.113.9", 61000);
  g_thread_join (resetter);
  /* The main loop may hand the good one over first. */
  GIOS_TEST_RUN_UNTIL (gios_test_get_messages () > messages);
  g_assert_cmpuint (gios_test_get_messages (), ==, messages + 1);
  g_assert_cmpuint (gios_test_get_warnings (), ==, warnings);
  driver_clear (&driver);
  close (good);
}

/* A version 2 header that arrives a byte every 3 ms is read whole, within
 * one handshake-timeout: the client has the header's address and its
 * bytes after it. */
static void
check_slow_header (GiosTestModel model)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V2, 2000);
  g_autoptr(GByteArray) h = v2_tcp4 (0x21, NULL, 0, "line\n");
  g_autoptr(GiosSocket) socket = NULL;
  Dribble d = { client_sending (server, NULL), h, 3000 };
  gint64 start = g_get_monotonic_time ();
  Driver driver;
  GThread *thread;

  driver_init (&driver, server, model);
  thread = g_thread_new ("dribble", dribble, &d);
  socket = driver_next (&driver);
  g_assert_cmpint (gios_test_elapsed_ms (start), <, 2000);
  assert_handed_over (socket, "192.0.2.1", 4000);
  g_thread_join (thread);
  driver_clear (&driver);
  close (d.fd);
}

/* The handshake-timeout is one deadline for the whole header, not one per
 * byte: a header trickling in over longer than that is given up at the
 * timeout, and the client behind it is served. */
static void
check_header_deadline (GiosTestModel model)
{
  g_autoptr(GiosServerSocket) server = proxied_server (GIOS_PROXY_PROTOCOL_V2, 300);
  g_autoptr(GByteArray) slow_header = v2_tcp4 (0x21, NULL, 0, "");
  g_autoptr(GByteArray) good_header = v2_tcp4 (0x21, NULL, 0, "line\n");
  g_autoptr(GiosSocket) socket = NULL;
  /* 28 bytes, 30 ms apart: 840 ms, but a byte every 30 ms. */
  Dribble d = { client_sending (server, NULL), slow_header, 30000 };
  GThread *thread = g_thread_new ("dribble", dribble, &d);
  int good = gios_test_raw_connect (AF_INET, gios_test_server_port (server));
  Driver driver;
  gint64 start;

  gios_test_peer_write_all (good, good_header->data, good_header->len);
  driver_init (&driver, server, model);
  start = g_get_monotonic_time ();
  /* Behind the slow one in accept(); at once on the main loop. */
  socket = driver_next (&driver);
  assert_handed_over (socket, "192.0.2.1", 4000);
  GIOS_TEST_RUN_UNTIL (gios_test_raw_has_ended (d.fd));
  gios_test_assert_timed (start, 300);
  g_thread_join (thread);
  driver_clear (&driver);
  close (d.fd);
  close (good);
}

static void
test_slow_header (gconstpointer data)
{
  check_slow_header (GPOINTER_TO_INT (data));
  check_header_deadline (GPOINTER_TO_INT (data));
}

/* EINTR: a signal every 2 ms, without SA_RESTART, at the thread whose
 * accept() takes slow headers through the hand-over: it goes on, and its
 * timeout still holds. */
static void
test_eintr (void)
{
  GiosTestInterrupter *in = gios_test_interrupter_start (2000);

  check_slow_header (GIOS_TEST_MODEL_ACCEPT);
  check_header_deadline (GIOS_TEST_MODEL_ACCEPT);
  g_assert_cmpuint (gios_test_interrupter_stop (in), >, 50);
}

static void
test_properties (void)
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  GiosProxyProtocol proxy;
  int timeout;

  g_object_get (server, "proxy-protocol", &proxy, "handshake-timeout", &timeout, NULL);
  g_assert_cmpint (proxy, ==, GIOS_PROXY_PROTOCOL_NONE);
  g_assert_cmpint (timeout, ==, 10000);
  gios_server_socket_set_proxy_protocol (server, GIOS_PROXY_PROTOCOL_V2);
  gios_server_socket_set_handshake_timeout (server, -1);
  g_assert_cmpint (gios_server_socket_get_proxy_protocol (server), ==, GIOS_PROXY_PROTOCOL_V2);
  g_assert_cmpint (gios_server_socket_get_handshake_timeout (server), ==, -1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/proxy/properties", test_properties);
  g_test_add_func ("/proxy/stage/v1-keeps-what-follows", test_stage_v1_keeps_what_follows);
  g_test_add_func ("/proxy/stage/v2-tlvs", test_stage_v2_tlvs);
  g_test_add_func ("/proxy/stage/v2-local", test_stage_v2_local);
  g_test_add_func ("/proxy/stage/slow-sender", test_stage_slow_sender);
  g_test_add_func ("/proxy/stage/failures", test_stage_failures);
  g_test_add_func ("/proxy/stage/timeout", test_stage_timeout);
  g_test_add_func ("/proxy/stage/cancelled", test_stage_cancelled);
  g_test_add_func ("/proxy/stage/not-configured", test_stage_not_configured);
  g_test_add_func ("/proxy/classic/listen", test_classic_listen);
  g_test_add_func ("/proxy/classic/listen-silent", test_classic_listen_silent);
  g_test_add_func ("/proxy/classic/accept", test_accept);
  g_test_add_func ("/proxy/classic/not-configured", test_accept_not_configured);
  g_test_add_func ("/proxy/jobs/serve", test_listen_job);
  g_test_add_func ("/proxy/jobs/silent-frees-slots", test_listen_job_silent_frees_slots);
  g_test_add_func ("/proxy/jobs/close", test_listen_job_close);
  g_test_add_func ("/proxy/main-loop/start", test_start);
  g_test_add_func ("/proxy/main-loop/silent-frees-place", test_start_silent_frees_place);
  g_test_add_func ("/proxy/main-loop/async-calls", test_async_calls);
  g_test_add_func ("/proxy/main-loop/close", test_main_loop_close);
  g_test_add_func ("/proxy/drain", test_drain);
  for (guint i = 0; i < G_N_ELEMENTS (drivers); i++)
    {
      GiosTestModel m = drivers[i];
      g_autofree char *reset_path = g_strdup_printf ("/proxy/faults/reset-mid-header/%s", gios_test_model_names[m]);
      g_autofree char *slow_path = g_strdup_printf ("/proxy/faults/slow-header/%s", gios_test_model_names[m]);

      g_test_add_data_func (reset_path, GINT_TO_POINTER (m), test_reset_mid_header);
      g_test_add_data_func (slow_path, GINT_TO_POINTER (m), test_slow_header);
    }
  g_test_add_func ("/proxy/faults/eintr", test_eintr);

  return g_test_run ();
}
