/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Load generator for the serving-model benchmark.  Plain C, one thread,
 * loopback only (127.0.0.x).  Every mode runs for --duration seconds and
 * every wait is bounded, so it always ends by itself.  It prints one line:
 *
 *   RESULT mode=bulk mib_s=... bytes=... secs=... served=1/1
 *   RESULT mode=pingpong rps=... p50_us=... p99_us=... requests=... secs=... served=1/1
 *   RESULT mode=connrate cps=... conns=... errors=... secs=... served=N/M
 *   RESULT mode=fanin-one|fanin-all rps=... p50_us=... p99_us=... requests=...
 *          secs=... served=N/M
 *   RESULT mode=line-pingpong|line-fanin (the same fields as pingpong)
 *
 * and exits 0, or 3 when some connection was not served (the RESULT line
 * is still printed), or 1 on a hard error (refused, wrong echo, stall),
 * after an "ERROR ..." line on stderr.
 *
 * bulk:      one connection, up to 4 MiB in flight, echoed bytes per second
 *            (one direction), every echoed byte checked.
 * pingpong:  one connection, one --size (64) byte message at a time.
 * connrate:  connect, 1 byte each way, close; the source address rotates over
 *            127.0.0.1..127.0.0.16 (bind before connect, the port chosen at
 *            connect time) since TIME_WAIT caps one source address.
 * fanin-one: --conns (1000) connections, one request in flight at a time,
 *            round robin: the others stay idle.
 * fanin-all: every connection keeps one request in flight.
 * line-pingpong, line-fanin: pingpong and fanin-one with every message a
 *            line: --size - 1 printable ASCII bytes and "\n", for the
 *            line-echo servers; the reply is checked byte for byte too.
 * Both fanin modes first send one request on every connection at once and
 * wait (bounded) for every reply: connections that stay silent (a server
 * that stopped accepting) count as unserved and are left out.
 */
#include "loadgen-common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BULK_WINDOW      (4 * 1024 * 1024)
#define PROBE_MS         3000
#define N_SOURCES        16

typedef enum
{
  MODE_BULK,
  MODE_PINGPONG,
  MODE_CONNRATE,
  MODE_FANIN_ONE,
  MODE_FANIN_ALL,
  MODE_LINE_PINGPONG,
  MODE_LINE_FANIN,
} Mode;

static const char *const mode_names[] = {
  "bulk", "pingpong", "connrate", "fanin-one", "fanin-all", "line-pingpong", "line-fanin",
};

typedef LoadgenOptions Options;

/* Every request is a line (the line-* modes). */
static bool line_messages;

static struct sockaddr_in
loopback_addr (int host,
               int port)
{
  struct sockaddr_in addr;

  memset (&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons ((unsigned short) port);
  addr.sin_addr.s_addr = htonl ((in_addr_t) ((127u << 24) | (unsigned) host));
  return addr;
}

static void
set_nodelay (int fd)
{
  int one = 1;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Waits for @events on @fd; returns false on timeout. */
static bool
wait_fd (int   fd,
         short events,
         int   timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = events };
  int64_t deadline = now_ns () + (int64_t) timeout_ms * 1000000;

  for (;;)
    {
      int left = (int) ((deadline - now_ns ()) / 1000000);
      int n = poll (&pfd, 1, left < 0 ? 0 : left);
      if (n > 0)
        return true;
      if (n == 0)
        return false;
      if (errno != EINTR)
        die ("poll: %s", strerror (errno));
    }
}

/* A non-blocking connection to 127.0.0.1:@port with TCP_NODELAY, or -1. */
static int
connect_loopback (int port,
                  int timeout_ms)
{
  struct sockaddr_in addr = loopback_addr (1, port);
  int fd, err = 0;
  socklen_t len = sizeof err;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die ("socket: %s", strerror (errno));
  set_nodelay (fd);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      if (errno != EINPROGRESS)
        err = errno;
      else if (!wait_fd (fd, POLLOUT, timeout_ms))
        err = ETIMEDOUT;
      else if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    }
  if (err != 0)
    {
      fprintf (stderr, "connect 127.0.0.1:%d: %s\n", port, strerror (err));
      close (fd);
      return -1;
    }
  return fd;
}

static bool
send_msg (int                  fd,
          const unsigned char *msg,
          size_t               size)
{
  /* A small message on an idle socket always fits in the send buffer. */
  ssize_t n = send (fd, msg, size, MSG_NOSIGNAL);
  return n == (ssize_t) size;
}

/* ---- bulk ---------------------------------------------------------------- */

static void
run_bulk (const Options *opts)
{
  static unsigned char pattern[BULK_CHUNK + PATTERN_PERIOD];
  static unsigned char rbuf[BULK_CHUNK];
  uint64_t sent = 0, rcvd = 0, rcvd_at_end;
  int64_t start, deadline, end, last_progress;
  int fd;

  for (size_t i = 0; i < sizeof pattern; i++)
    pattern[i] = (unsigned char) (i % PATTERN_PERIOD);

  fd = connect_loopback (opts->port, CONNECT_MS);
  if (fd < 0)
    die ("bulk: cannot connect");

  start = last_progress = now_ns ();
  deadline = start + (int64_t) (opts->duration * 1e9);
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      int64_t t = now_ns ();

      if (t >= deadline)
        break;
      if (t - last_progress > (int64_t) STALL_MS * 1000000)
        die ("bulk: stalled at %llu bytes echoed", (unsigned long long) rcvd);
      if (sent - rcvd < BULK_WINDOW)
        pfd.events |= POLLOUT;
      if (poll (&pfd, 1, 100) < 0 && errno != EINTR)
        die ("poll: %s", strerror (errno));

      if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
        {
          ssize_t n = recv (fd, rbuf, sizeof rbuf, 0);
          if (n == 0)
            die ("bulk: server closed the connection");
          if (n < 0 && errno != EAGAIN && errno != EINTR)
            die ("bulk: recv: %s", strerror (errno));
          if (n > 0)
            {
              if (memcmp (rbuf, pattern + rcvd % PATTERN_PERIOD, (size_t) n) != 0)
                die ("bulk: wrong bytes echoed near offset %llu", (unsigned long long) rcvd);
              rcvd += (uint64_t) n;
              last_progress = now_ns ();
            }
        }
      if (pfd.revents & POLLOUT)
        {
          size_t room = BULK_WINDOW - (size_t) (sent - rcvd);
          size_t len = room < BULK_CHUNK ? room : BULK_CHUNK;
          ssize_t n = send (fd, pattern + sent % PATTERN_PERIOD, len, MSG_NOSIGNAL);
          if (n < 0 && errno != EAGAIN && errno != EINTR)
            die ("bulk: send: %s", strerror (errno));
          if (n > 0)
            sent += (uint64_t) n;
        }
    }
  end = now_ns ();
  rcvd_at_end = rcvd;

  /* Let the server echo the rest and close on EOF (bounded). */
  shutdown (fd, SHUT_WR);
  while (rcvd < sent && wait_fd (fd, POLLIN, DRAIN_MS))
    {
      ssize_t n = recv (fd, rbuf, sizeof rbuf, 0);
      if (n <= 0)
        break;
      rcvd += (uint64_t) n;
    }
  close (fd);

  printf ("RESULT mode=bulk mib_s=%.1f bytes=%llu secs=%.3f served=1/1\n",
          (double) rcvd_at_end / ((double) (end - start) / 1e9) / (1024.0 * 1024.0),
          (unsigned long long) rcvd_at_end, (double) (end - start) / 1e9);
}

/* ---- request/response helpers --------------------------------------------- */

/* Reads exactly @size bytes and checks them against @expect; false on timeout,
 * EOF or error (a wrong echo is fatal). */
static bool
read_reply (int                  fd,
            const unsigned char *expect,
            size_t               size,
            int                  timeout_ms)
{
  unsigned char buf[MAX_MSG];
  size_t got = 0;

  /* The reply cannot be there yet: wait first, then read. */
  while (got < size)
    {
      ssize_t n;

      if (!wait_fd (fd, POLLIN, timeout_ms))
        return false;
      n = recv (fd, buf + got, size - got, 0);
      if (n > 0)
        got += (size_t) n;
      else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        return false;
    }
  if (memcmp (buf, expect, size) != 0)
    die ("wrong bytes echoed");
  return true;
}

/* ---- pingpong ------------------------------------------------------------- */

static void
run_pingpong (const Options *opts)
{
  unsigned char msg[MAX_MSG];
  uint64_t requests = 0;
  int64_t start, deadline, t = 0;
  int fd;

  fd = connect_loopback (opts->port, CONNECT_MS);
  if (fd < 0)
    die ("pingpong: cannot connect");

  start = now_ns ();
  deadline = start + (int64_t) (opts->duration * 1e9);
  while ((t = now_ns ()) < deadline)
    {
      make_msg (msg, opts->size, 0, (uint32_t) requests, line_messages);
      if (!send_msg (fd, msg, opts->size))
        die ("pingpong: send: %s", strerror (errno));
      if (!read_reply (fd, msg, opts->size, STALL_MS))
        die ("pingpong: no reply to request %llu", (unsigned long long) requests);
      hist_add (now_ns () - t);
      requests++;
    }
  close (fd);
  print_rr_result (mode_names[opts->mode], requests, t - start, 1, 1);
}

/* ---- connrate ------------------------------------------------------------- */

/* One connect, 1 byte each way, close; false on failure. */
static bool
one_connection (int      port,
                int      source,
                uint32_t seq)
{
  struct sockaddr_in src = loopback_addr (1 + source, 0);
  struct sockaddr_in dst = loopback_addr (1, port);
  struct timeval tv = { .tv_sec = STALL_MS / 1000 };
  unsigned char out = (unsigned char) seq, in = 0;
  bool ok = false;
  int one = 1;
  int fd;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die ("socket: %s", strerror (errno));
  /* Connect-time port choice can reuse a port per destination. */
  setsockopt (fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  /* Bounds connect() too on Linux. */
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  if (bind (fd, (struct sockaddr *) &src, sizeof src) == 0 &&
      connect (fd, (struct sockaddr *) &dst, sizeof dst) == 0 &&
      send (fd, &out, 1, MSG_NOSIGNAL) == 1 &&
      recv (fd, &in, 1, 0) == 1)
    ok = in == out;
  close (fd);
  return ok;
}

static void
run_connrate (const Options *opts)
{
  uint64_t ok = 0, errors = 0, attempts = 0;
  int64_t start, deadline, t = 0;

  start = now_ns ();
  deadline = start + (int64_t) (opts->duration * 1e9);
  while ((t = now_ns ()) < deadline && errors < MAX_CONN_ERRORS)
    {
      if (one_connection (opts->port, (int) (attempts % N_SOURCES), (uint32_t) attempts))
        ok++;
      else
        errors++;
      attempts++;
    }
  printf ("RESULT mode=connrate cps=%.0f conns=%llu errors=%llu secs=%.3f served=%llu/%llu\n",
          (double) ok / ((double) (t - start) / 1e9),
          (unsigned long long) ok, (unsigned long long) errors,
          (double) (t - start) / 1e9,
          (unsigned long long) ok, (unsigned long long) attempts);
  if (ok == 0)
    die ("connrate: no connection succeeded");
  if (errors > 0)
    exit (3);
}

/* ---- fan-in ----------------------------------------------------------------- */

typedef struct
{
  int      fd;
  bool     served;      /* answered the probe and never failed since */
  uint32_t seq;         /* current request */
  size_t   got;         /* reply bytes received so far */
  int64_t  sent_at;
  uint64_t replies;     /* in the measured phase */
  unsigned char msg[MAX_MSG];
  unsigned char rbuf[MAX_MSG];
} Client;

static void
client_send (Client *c,
             size_t  size,
             uint32_t index)
{
  make_msg (c->msg, size, index, c->seq, line_messages);
  c->got = 0;
  c->sent_at = now_ns ();
  if (!send_msg (c->fd, c->msg, size))
    c->served = false;
}

/* Reads what is available; returns true once the whole reply is in. */
static bool
client_read (Client *c,
             size_t  size)
{
  for (;;)
    {
      ssize_t n = recv (c->fd, c->rbuf + c->got, size - c->got, 0);
      if (n > 0)
        {
          c->got += (size_t) n;
          if (c->got < size)
            continue;
          if (memcmp (c->rbuf, c->msg, size) != 0)
            die ("wrong bytes echoed");
          return true;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n == 0 || errno != EAGAIN)
        c->served = false;
      return false;
    }
}

static int
count_served (const Client *clients,
              int           n)
{
  int served = 0;

  for (int i = 0; i < n; i++)
    served += clients[i].served;
  return served;
}

static void
drop_client (int     ep,
             Client *c)
{
  if (ep >= 0)
    epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
  c->served = false;
}

/* Sends one request on every connection at once and waits for every reply;
 * the silent ones are marked unserved. */
static void
probe_all (Client *clients,
           int     n,
           int     ep,
           size_t  size)
{
  struct epoll_event events[256];
  int64_t deadline = now_ns () + (int64_t) PROBE_MS * 1000000;
  int pending = 0;

  for (int i = 0; i < n; i++)
    {
      struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) i };

      if (!clients[i].served)
        continue;
      epoll_ctl (ep, EPOLL_CTL_ADD, clients[i].fd, &ev);
      client_send (&clients[i], size, (uint32_t) i);
      pending += clients[i].served;
    }

  while (pending > 0)
    {
      int left = (int) ((deadline - now_ns ()) / 1000000);
      int k;

      if (left <= 0)
        break;
      k = epoll_wait (ep, events, 256, left);
      if (k < 0 && errno != EINTR)
        die ("epoll_wait: %s", strerror (errno));
      for (int j = 0; j < k; j++)
        {
          Client *c = &clients[events[j].data.u32];
          if (client_read (c, size))
            {
              c->seq++;
              pending--;
              epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
            }
          else if (!c->served)
            {
              pending--;
              drop_client (ep, c);
            }
        }
    }

  /* Whoever is still waiting was not served. */
  for (int i = 0; i < n; i++)
    if (clients[i].served && clients[i].seq == 0)
      drop_client (ep, &clients[i]);
}

static void
fanin_one (const Options *opts,
           Client        *clients,
           int            n,
           int64_t        deadline,
           uint64_t      *requests)
{
  int64_t t;
  int i = 0;

  while ((t = now_ns ()) < deadline)
    {
      Client *c = NULL;

      /* Next served connection, round robin. */
      for (int k = 0; k < n && c == NULL; k++, i = (i + 1) % n)
        if (clients[i].served)
          c = &clients[i];
      if (c == NULL)
        return;
      i = (int) (c - clients + 1) % n;

      client_send (c, opts->size, (uint32_t) (c - clients));
      if (c->served && read_reply (c->fd, c->msg, opts->size, STALL_MS))
        {
          hist_add (now_ns () - t);
          c->seq++;
          c->replies++;
          (*requests)++;
        }
      else
        {
          fprintf (stderr, "fanin-one: connection %d failed\n", (int) (c - clients));
          drop_client (-1, c);
        }
    }
}

static void
fanin_all (const Options *opts,
           Client        *clients,
           int            n,
           int            ep,
           int64_t        deadline,
           uint64_t      *requests)
{
  struct epoll_event events[256];
  int64_t last_progress = now_ns ();

  for (int i = 0; i < n; i++)
    {
      struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) i };

      if (!clients[i].served)
        continue;
      epoll_ctl (ep, EPOLL_CTL_ADD, clients[i].fd, &ev);
      client_send (&clients[i], opts->size, (uint32_t) i);
      if (!clients[i].served)
        drop_client (ep, &clients[i]);
    }

  for (;;)
    {
      int64_t t = now_ns ();
      int left = (int) ((deadline - t) / 1000000);
      int k;

      if (left <= 0)
        break;
      if (t - last_progress > (int64_t) STALL_MS * 1000000)
        {
          fprintf (stderr, "fanin-all: no reply for %d ms\n", STALL_MS);
          break;
        }
      k = epoll_wait (ep, events, 256, left < 100 ? left : 100);
      if (k < 0 && errno != EINTR)
        die ("epoll_wait: %s", strerror (errno));
      for (int j = 0; j < k; j++)
        {
          uint32_t idx = events[j].data.u32;
          Client *c = &clients[idx];

          if (client_read (c, opts->size))
            {
              t = now_ns ();
              hist_add (t - c->sent_at);
              last_progress = t;
              c->seq++;
              c->replies++;
              (*requests)++;
              client_send (c, opts->size, idx);
            }
          if (!c->served)
            drop_client (ep, c);
        }
    }

  /* Every connection must have had a reply while all were busy. */
  for (int i = 0; i < n; i++)
    if (clients[i].served && clients[i].replies == 0)
      clients[i].served = false;
}

static void
run_fanin (const Options *opts)
{
  Client *clients;
  uint64_t requests = 0;
  int64_t start, deadline, t;
  int n = opts->conns;
  int ep, served;

  clients = calloc ((size_t) n, sizeof *clients);
  ep = epoll_create1 (EPOLL_CLOEXEC);
  if (clients == NULL || ep < 0)
    die ("out of memory or descriptors");

  for (int i = 0; i < n; i++)
    {
      clients[i].fd = connect_loopback (opts->port, CONNECT_MS);
      if (clients[i].fd < 0)
        die ("%s: connection %d of %d failed", mode_names[opts->mode], i, n);
      clients[i].served = true;
    }

  probe_all (clients, n, ep, opts->size);

  start = now_ns ();
  deadline = start + (int64_t) (opts->duration * 1e9);
  if (opts->mode == MODE_FANIN_ONE || opts->mode == MODE_LINE_FANIN)
    fanin_one (opts, clients, n, deadline, &requests);
  else
    fanin_all (opts, clients, n, ep, deadline, &requests);
  t = now_ns ();

  served = count_served (clients, n);
  for (int i = 0; i < n; i++)
    close (clients[i].fd);
  close (ep);
  free (clients);

  print_rr_result (mode_names[opts->mode], requests, t - start, served, n);
  if (requests == 0)
    die ("%s: no request was answered", mode_names[opts->mode]);
  if (served < n)
    exit (3);
}

/* ---- main ----------------------------------------------------------------- */

int
main (int    argc,
      char **argv)
{
  Options opts;

  loadgen_parse_args (argc, argv, mode_names, sizeof mode_names / sizeof mode_names[0], &opts);
  /* A line needs a byte besides its newline. */
  if ((opts.mode == MODE_LINE_PINGPONG || opts.mode == MODE_LINE_FANIN) && opts.size < 2)
    die ("--size must be at least 2 in the line modes");
  line_messages = opts.mode == MODE_LINE_PINGPONG || opts.mode == MODE_LINE_FANIN;
  signal (SIGPIPE, SIG_IGN);
  setvbuf (stdout, NULL, _IOLBF, 0);

  switch (opts.mode)
    {
    case MODE_BULK:
      run_bulk (&opts);
      break;
    case MODE_PINGPONG:
    case MODE_LINE_PINGPONG:
      run_pingpong (&opts);
      break;
    case MODE_CONNRATE:
      run_connrate (&opts);
      break;
    case MODE_FANIN_ONE:
    case MODE_FANIN_ALL:
    case MODE_LINE_FANIN:
      run_fanin (&opts);
      break;
    }
  return 0;
}
