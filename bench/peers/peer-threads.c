/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Thread-per-connection echo server: the main thread accepts, each
 * connection gets a detached thread doing blocking reads and writes with a
 * 64 KiB buffer.
 */
#include "peer-common.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define THREAD_STACK_SIZE (256 * 1024)
#define ACCEPT_BACKOFF_MS 100

static bool
send_all (int         fd,
          const char *data,
          size_t      len)
{
  while (len > 0)
    {
      ssize_t n = send (fd, data, len, MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return false;
        }
      data += n;
      len -= (size_t) n;
    }
  return true;
}

static void *
serve (void *data)
{
  int fd = (int) (intptr_t) data;
  char *buf = malloc (PEER_BUF_SIZE);

  while (buf != NULL)
    {
      ssize_t n = recv (fd, buf, PEER_BUF_SIZE, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 || !send_all (fd, buf, (size_t) n))
        break;
    }
  free (buf);
  close (fd);
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  PeerOptions opts;
  pthread_attr_t attr;
  struct pollfd pfds[2];
  bool warned = false;
  int lfd, sfd, port;

  peer_parse_args (argc, argv, 0, &opts);
  peer_ignore_sigpipe ();

  /* Before any thread starts, so only the signalfd sees them. */
  sfd = peer_signalfd ();

  pthread_attr_init (&attr);
  pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize (&attr, THREAD_STACK_SIZE);

  lfd = peer_listen (opts.port, &port);
  peer_announce (port);

  pfds[0].fd = lfd;
  pfds[0].events = POLLIN;
  pfds[1].fd = sfd;
  pfds[1].events = POLLIN;

  for (;;)
    {
      pthread_t thread;
      int fd, err;

      if (poll (pfds, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          perror ("poll");
          return 1;
        }
      if (pfds[1].revents != 0)
        return 0;  /* SIGTERM or SIGINT: exit cleanly */
      if (pfds[0].revents == 0)
        continue;

      fd = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
      if (fd < 0)
        {
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            {
              if (!warned)
                fprintf (stderr, "peer-threads: accept: %s; pausing\n", strerror (errno));
              warned = true;
              poll (&pfds[1], 1, ACCEPT_BACKOFF_MS);
            }
          continue;
        }
      peer_set_nodelay (fd);
      err = pthread_create (&thread, &attr, serve, (void *) (intptr_t) fd);
      if (err != 0)
        {
          if (!warned)
            fprintf (stderr, "peer-threads: pthread_create: %s\n", strerror (err));
          warned = true;
          close (fd);
        }
    }
}
