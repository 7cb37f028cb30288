/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GiosReactor GiosReactor;
typedef struct _GiosWatch GiosWatch;

/* Called on the context's thread when @fd has @revents. */
typedef void (*GiosWatchFunc) (GiosWatch    *watch,
                               GIOCondition  revents,
                               gpointer      data);

/* The reactor of @context (NULL: the thread-default one); release it with
 * g_source_unref(). Watches are made, changed and destroyed on the thread
 * that runs the context. */
GiosReactor  *_gios_reactor_ref      (GMainContext  *context,
                                      GError       **error);
GiosWatch    *_gios_reactor_watch    (GiosReactor   *reactor,
                                      int            fd,
                                      GIOCondition   events,
                                      GiosWatchFunc  func,
                                      gpointer       data);
/* 0 pauses the watch. */
void          _gios_watch_set_events (GiosWatch     *watch,
                                      GIOCondition   events);
GIOCondition  _gios_watch_get_events (GiosWatch     *watch);
/* Calls the watch with @revents in the next dispatch, descriptor or not. */
void          _gios_watch_set_pending (GiosWatch    *watch,
                                       GIOCondition  revents);
void          _gios_watch_destroy    (GiosWatch     *watch);

/* A call deferred until the callback that deferred it has returned,
 * embedded in what makes it. @run is FALSE when the reactor goes with the
 * call still deferred: it then only releases what the call holds. */
typedef struct _GiosDeferral GiosDeferral;
struct _GiosDeferral
{
  GList link;
  void (*func) (GiosDeferral *deferral,
                gboolean      run);
};

/* The reactor of @context when this thread is in its dispatch, or NULL. */
GiosReactor  *_gios_reactor_get_dispatching (GMainContext *context);
/* Makes the call in this dispatch once the current callback has returned
 * (in the next dispatch when this one did enough rounds). */
void          _gios_reactor_defer    (GiosReactor   *reactor,
                                      GiosDeferral  *deferral);
/* Calls the watch with GIOS_WATCH_IDLE once its descriptor has reported
 * no input for @idle_ms (-1: never), within an eighth of that. */
#define GIOS_WATCH_IDLE ((GIOCondition) (1 << 8))
void          _gios_watch_set_idle   (GiosWatch     *watch,
                                      int            idle_ms);

G_END_DECLS
