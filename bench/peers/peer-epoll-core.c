/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The epoll echo core shared by peer-epoll and peer-gmainloop-epoll
 * (level-triggered).  Reads into one shared 64 KiB buffer and writes
 * straight back; only a connection whose socket buffer is full keeps a
 * private copy of the unsent bytes, and stops reading until they are gone.
 */
#include "peer-epoll-core.h"
#include "peer-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct
{
  int     fd;
  char   *pending;      /* unsent bytes, or NULL */
  size_t  pending_off;
  size_t  pending_len;
} Conn;

/* Tags for the two descriptors that are not connections. */
static char listen_tag;
static char signal_tag;

static char buf[PEER_BUF_SIZE];

static void
conn_free (Conn *c)
{
  close (c->fd);  /* also removes it from the epoll set */
  free (c->pending);
  free (c);
}

static void
set_events (int       ep,
            Conn     *c,
            uint32_t  events)
{
  struct epoll_event ev = { .events = events, .data.ptr = c };

  if (epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
    perror ("epoll_ctl(MOD)");
}

/* Sends @len bytes of @data; returns how many were sent, or -1 on error. */
static ssize_t
send_some (int         fd,
           const char *data,
           size_t      len)
{
  size_t off = 0;

  while (off < len)
    {
      ssize_t n = send (fd, data + off, len - off, MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
          return -1;
        }
      off += (size_t) n;
    }
  return (ssize_t) off;
}

/* Returns false when the connection is finished. */
static bool
conn_readable (int   ep,
               Conn *c)
{
  ssize_t n, sent;

  n = recv (c->fd, buf, sizeof buf, 0);
  if (n < 0)
    return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
  if (n == 0)
    return false;

  sent = send_some (c->fd, buf, (size_t) n);
  if (sent < 0)
    return false;
  if (sent < n)
    {
      c->pending_len = (size_t) (n - sent);
      c->pending_off = 0;
      c->pending = malloc (c->pending_len);
      if (c->pending == NULL)
        return false;
      memcpy (c->pending, buf + sent, c->pending_len);
      set_events (ep, c, EPOLLOUT);
    }
  return true;
}

static bool
conn_writable (int   ep,
               Conn *c)
{
  ssize_t sent;

  sent = send_some (c->fd, c->pending + c->pending_off,
                    c->pending_len - c->pending_off);
  if (sent < 0)
    return false;
  c->pending_off += (size_t) sent;
  if (c->pending_off == c->pending_len)
    {
      free (c->pending);
      c->pending = NULL;
      set_events (ep, c, EPOLLIN);
    }
  return true;
}

/* Returns false when accepting must pause (descriptor table full). */
static bool
accept_all (int ep,
            int lfd)
{
  for (int i = 0; i < 64; i++)
    {
      struct epoll_event ev;
      Conn *c;
      int fd;

      fd = accept4 (lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        {
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            return false;
          return true;  /* EAGAIN, ECONNABORTED, EINTR... */
        }
      peer_set_nodelay (fd);
      c = calloc (1, sizeof *c);
      if (c == NULL)
        {
          close (fd);
          return false;
        }
      c->fd = fd;
      ev.events = EPOLLIN;
      ev.data.ptr = c;
      if (epoll_ctl (ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        {
          perror ("epoll_ctl(ADD)");
          conn_free (c);
        }
    }
  return true;
}

void
epoll_peer_init (EpollPeer  *p,
                 int         argc,
                 char      **argv)
{
  struct epoll_event ev;
  PeerOptions opts;

  peer_parse_args (argc, argv, 0, &opts);
  peer_ignore_sigpipe ();

  p->accepting = true;
  p->warned = false;
  p->sfd = peer_signalfd ();
  p->ep = epoll_create1 (EPOLL_CLOEXEC);
  if (p->ep < 0)
    {
      perror ("epoll_create1");
      exit (1);
    }

  p->lfd = peer_listen (opts.port, &p->port);
  fcntl (p->lfd, F_SETFL, fcntl (p->lfd, F_GETFL) | O_NONBLOCK);
  ev.events = EPOLLIN;
  ev.data.ptr = &listen_tag;
  epoll_ctl (p->ep, EPOLL_CTL_ADD, p->lfd, &ev);
  ev.events = EPOLLIN;
  ev.data.ptr = &signal_tag;
  epoll_ctl (p->ep, EPOLL_CTL_ADD, p->sfd, &ev);

  peer_announce (p->port);
}

void
epoll_peer_resume_accepting (EpollPeer *p)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_tag };

  /* A full table pauses us again. */
  epoll_ctl (p->ep, EPOLL_CTL_ADD, p->lfd, &ev);
  p->accepting = true;
}

bool
epoll_peer_handle (EpollPeer          *p,
                   struct epoll_event *events,
                   int                 n)
{
  for (int i = 0; i < n; i++)
    {
      void *tag = events[i].data.ptr;
      Conn *c = tag;
      bool keep;

      if (tag == &signal_tag)
        return false;  /* SIGTERM or SIGINT: exit cleanly */
      if (tag == &listen_tag)
        {
          if (!accept_all (p->ep, p->lfd))
            {
              if (!p->warned)
                fprintf (stderr, "%s: accept: %s; pausing\n", program_invocation_short_name, strerror (errno));
              p->warned = true;
              epoll_ctl (p->ep, EPOLL_CTL_DEL, p->lfd, NULL);
              p->accepting = false;
            }
          continue;
        }

      if (c->pending != NULL)
        keep = (events[i].events & EPOLLERR) == 0 && conn_writable (p->ep, c);
      else
        keep = conn_readable (p->ep, c);
      if (!keep)
        conn_free (c);
    }
  return true;
}
