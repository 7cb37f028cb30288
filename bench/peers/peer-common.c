/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "peer-common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* --reuse-port: peer_listen() sets SO_REUSEPORT, so that several peers
 * share a port (the deployment benchmark's processes). */
static bool reuse_port;

static void
usage (const char *prog,
       PeerArgs    accepts)
{
  fprintf (stderr, "Usage: %s --port=N [--reuse-port]%s%s\n", prog,
           accepts & PEER_ARG_MAX_JOBS ? " [--max-jobs=N]" : "",
           accepts & PEER_ARG_TLS ? " --tls-certificate=FILE --tls-key=FILE" : "");
  exit (2);
}

static int
parse_int (const char *s,
           int         min,
           int         max,
           bool       *ok)
{
  char *end = NULL;
  long v;

  errno = 0;
  v = strtol (s, &end, 10);
  *ok = errno == 0 && end != s && *end == '\0' && v >= min && v <= max;
  return (int) v;
}

void
peer_parse_args (int          argc,
                 char       **argv,
                 PeerArgs     accepts,
                 PeerOptions *opts)
{
  static const struct option long_opts[] = {
    { "port", required_argument, NULL, 'p' },
    { "max-jobs", required_argument, NULL, 'j' },
    { "reuse-port", no_argument, NULL, 'r' },
    { "tls-certificate", required_argument, NULL, 'c' },
    { "tls-key", required_argument, NULL, 'k' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool tls = accepts & PEER_ARG_TLS;
  int c;
  bool ok;

  opts->port = 0;
  opts->max_jobs = 1000;
  opts->tls_certificate = NULL;
  opts->tls_key = NULL;

  while ((c = getopt_long (argc, argv, "", long_opts, NULL)) != -1)
    {
      switch (c)
        {
        case 'p':
          opts->port = parse_int (optarg, 0, 65535, &ok);
          if (!ok)
            usage (argv[0], accepts);
          break;
        case 'r':
          reuse_port = true;
          break;
        case 'j':
          if (!(accepts & PEER_ARG_MAX_JOBS))
            usage (argv[0], accepts);
          opts->max_jobs = parse_int (optarg, -1, INT_MAX, &ok);
          if (!ok || opts->max_jobs == 0)
            usage (argv[0], accepts);
          break;
        case 'c':
        case 'k':
          if (!tls)
            usage (argv[0], accepts);
          *(c == 'c' ? &opts->tls_certificate : &opts->tls_key) = optarg;
          break;
        default:
          usage (argv[0], accepts);
        }
    }
  if (optind != argc || (tls && (opts->tls_certificate == NULL || opts->tls_key == NULL)))
    usage (argv[0], accepts);
}

int
peer_listen (int  port,
             int *bound_port)
{
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  int one = 1;
  int fd;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      perror ("socket");
      exit (1);
    }
  if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
    perror ("setsockopt(SO_REUSEADDR)");
  if (reuse_port && setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
    {
      perror ("setsockopt(SO_REUSEPORT)");
      exit (1);
    }

  memset (&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons ((unsigned short) port);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      fprintf (stderr, "bind 127.0.0.1:%d: %s\n", port, strerror (errno));
      exit (1);
    }
  if (listen (fd, PEER_BACKLOG) < 0)
    {
      perror ("listen");
      exit (1);
    }
  if (getsockname (fd, (struct sockaddr *) &addr, &len) < 0)
    {
      perror ("getsockname");
      exit (1);
    }
  *bound_port = ntohs (addr.sin_port);
  return fd;
}

void
peer_announce (int port)
{
  printf ("PORT %d\n", port);
  fflush (stdout);
}

void
peer_set_nodelay (int fd)
{
  int one = 1;

  /* Best effort: it fails only on a socket that is already gone. */
  (void) setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void
peer_ignore_sigpipe (void)
{
  signal (SIGPIPE, SIG_IGN);
}

int
peer_signalfd (void)
{
  sigset_t mask;
  int fd;

  sigemptyset (&mask);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  fd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0)
    {
      perror ("signalfd");
      exit (1);
    }
  return fd;
}
