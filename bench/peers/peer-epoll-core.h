/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The echo core of peer-epoll, shared with peer-gmainloop-epoll: one epoll
 * set holds the listening socket, the signalfd and every connection.  The
 * two peers differ only in who waits on that set.
 */
#pragma once

#include <stdbool.h>
#include <sys/epoll.h>

#define EPOLL_PEER_MAX_EVENTS 256
#define EPOLL_PEER_BACKOFF_MS 100   /* accepting pauses this long on EMFILE */

typedef struct
{
  int  ep;          /* the epoll set */
  int  lfd;         /* listening socket */
  int  sfd;         /* signalfd for SIGTERM and SIGINT */
  int  port;
  bool accepting;   /* false while the listening socket is out of the set */
  bool warned;
} EpollPeer;

/* Parses --port, listens, fills the epoll set and prints "PORT <n>". */
void epoll_peer_init             (EpollPeer          *p,
                                  int                 argc,
                                  char              **argv);

/* Handles @n events from epoll_wait() on p->ep; returns false once SIGTERM
 * or SIGINT arrived (the caller exits 0). */
bool epoll_peer_handle           (EpollPeer          *p,
                                  struct epoll_event *events,
                                  int                 n);

/* Puts the listening socket back after a pause (p->accepting false). */
void epoll_peer_resume_accepting (EpollPeer          *p);
