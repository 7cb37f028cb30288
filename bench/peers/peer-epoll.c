/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Single-thread epoll echo server (level-triggered): the echo core of
 * peer-epoll-core.c under a plain epoll_wait() loop.
 */
#include "peer-epoll-core.h"

#include <errno.h>
#include <stdio.h>

int
main (int    argc,
      char **argv)
{
  struct epoll_event events[EPOLL_PEER_MAX_EVENTS];
  EpollPeer p;

  epoll_peer_init (&p, argc, argv);
  for (;;)
    {
      int n = epoll_wait (p.ep, events, EPOLL_PEER_MAX_EVENTS,
                          p.accepting ? -1 : EPOLL_PEER_BACKOFF_MS);

      if (n < 0 && errno != EINTR)
        {
          perror ("epoll_wait");
          return 1;
        }
      /* Resume after the back-off. */
      if (!p.accepting && n == 0)
        epoll_peer_resume_accepting (&p);
      if (!epoll_peer_handle (&p, events, n < 0 ? 0 : n))
        return 0;
    }
}
