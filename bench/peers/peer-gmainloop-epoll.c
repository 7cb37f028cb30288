/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The echo core of peer-epoll under a bare GMainLoop: one GSource watches
 * the epoll descriptor (g_source_add_unix_fd) and its dispatch takes every
 * ready event with one epoll_wait(…, 0).  This is the floor of any server on
 * the GLib main loop: GLib's poll() of the epoll descriptor on top of what
 * peer-epoll pays.
 */
#include "peer-epoll-core.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct
{
  GSource    source;
  EpollPeer *peer;
  GMainLoop *loop;
  guint      resume_id;
} EpollSource;

static gboolean
resume_accepting (gpointer data)
{
  EpollSource *es = data;

  es->resume_id = 0;
  epoll_peer_resume_accepting (es->peer);
  return G_SOURCE_REMOVE;
}

static gboolean
epoll_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     data)
{
  EpollSource *es = (EpollSource *) source;
  struct epoll_event events[EPOLL_PEER_MAX_EVENTS];
  int n = epoll_wait (es->peer->ep, events, EPOLL_PEER_MAX_EVENTS, 0);

  if (n < 0 && errno != EINTR)
    {
      perror ("epoll_wait");
      exit (1);
    }
  if (!epoll_peer_handle (es->peer, events, n < 0 ? 0 : n))
    g_main_loop_quit (es->loop);
  else if (!es->peer->accepting && es->resume_id == 0)
    es->resume_id = g_timeout_add (EPOLL_PEER_BACKOFF_MS, resume_accepting, es);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs epoll_source_funcs = {
  .dispatch = epoll_source_dispatch,
};

int
main (int    argc,
      char **argv)
{
  EpollPeer p;
  EpollSource *es;
  GMainLoop *loop;

  epoll_peer_init (&p, argc, argv);
  loop = g_main_loop_new (NULL, FALSE);
  es = (EpollSource *) g_source_new (&epoll_source_funcs, sizeof *es);
  es->peer = &p;
  es->loop = loop;
  g_source_add_unix_fd (&es->source, p.ep, G_IO_IN);
  /* Nothing in the dispatch runs the loop again; without this, GLib blocks
   * the source around each dispatch, which takes its descriptor out of the
   * poll set and puts it back, and wakes the context (two eventfd writes
   * and a read per dispatch). */
  g_source_set_can_recurse (&es->source, TRUE);
  g_source_attach (&es->source, NULL);

  g_main_loop_run (loop);

  if (es->resume_id != 0)
    g_source_remove (es->resume_id);
  g_source_destroy (&es->source);
  g_source_unref (&es->source);
  g_main_loop_unref (loop);
  return 0;
}
