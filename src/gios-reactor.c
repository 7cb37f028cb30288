/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reactor: every asynchronous wait of the library goes through one
 * epoll-backed GSource per GMainContext.
 *
 * GLib's main loop polls every descriptor of every source on each
 * iteration, so a server with 1,000 idle connections pays for all of them on
 * each event. Past DIRECT_MAX watches, the context polls one descriptor, the
 * epoll set, and the cost of an event does not depend on how many
 * connections are idle. Up to DIRECT_MAX, GLib polls the watches'
 * descriptors itself, as its own sources' (g_source_add_unix_fd()): a
 * handful cost poll() next to nothing, and an event then costs no
 * epoll_wait() of its own, one system call in four of a request. The
 * reactor moves its watches to epoll when a watch would make one too many,
 * and back when they are down to half of DIRECT_MAX. Callbacks still run on
 * the context's thread, in its priority order.
 *
 * The source can recurse: GLib would otherwise take the source's descriptor
 * out of its poll set around each dispatch, at the price of three system
 * calls per event.
 *
 * A watch can also be made pending: it is then called in the next dispatch
 * whatever its descriptor says. That is how buffered input is reported.
 *
 * A callback of the dispatch can defer a call until it has returned: the
 * dispatch makes the deferred calls once the watches are called, round after
 * round while the calls defer more, up to MAX_ROUNDS, and leaves the rest for
 * the next iteration. That is how an asynchronous call completes
 * (gios-async-call.c): in the iteration that finished it, which costs no
 * poll() of its own, and never from inside the function that started it.
 *
 * A watch can have an idle limit: the reactor notes when its descriptor
 * last reported input (the iteration's cached time, no system call) and,
 * sweeping its idle watches every eighth of the shortest limit, calls those
 * silent for longer. One sweep for all of them: a timer source per
 * connection would cost every iteration of the loop a look at each.
 */

#include "gios-private.h"
#include "gios-reactor-private.h"

#include <errno.h>
#include <unistd.h>
#include <sys/epoll.h>

#define MAX_EVENTS 128
/* The most watches whose descriptors GLib polls directly. */
#define DIRECT_MAX 8
/* Rounds of deferred calls per dispatch: a request and its reply are two
 * (a read completes, its callback starts a flush, which completes). */
#define MAX_ROUNDS 16

struct _GiosReactor
{
  GSource source;
  int epfd;
  gpointer tag;            /* the epoll set's, while use_epoll */
  gboolean use_epoll;      /* else every watch has its own tag */
  GQueue watches;          /* of live GiosWatch, through link */
  GMainContext *context;   /* not owned: the context owns the source */
  guint dispatching;
  GPtrArray *graveyard;    /* watches destroyed during a dispatch */
  GQueue pending;          /* of GiosWatch, through pending_link */
  GQueue deferred;         /* of GiosDeferral, through its link */
  GQueue idle;             /* of GiosWatch with an idle limit, through idle_link */
  gint64 sweep_period;     /* microseconds */
};

struct _GiosWatch
{
  GiosReactor *reactor;
  GList link;              /* in reactor->watches */
  gpointer tag;            /* GLib's, while the reactor does not use epoll */
  int fd;
  GIOCondition events;
  GiosWatchFunc func;
  gpointer data;
  GIOCondition pending_revents;
  GList pending_link;      /* in reactor->pending while pending_revents != 0 */
  gint64 idle_limit;       /* microseconds; 0: none */
  gint64 last_input;       /* monotonic */
  GList idle_link;         /* in reactor->idle while idle_limit != 0 */
  guint dead : 1;
  guint fd_closed : 1;     /* closed under the watch: no longer polled */
  guint parked : 1;        /* failed or hung up, watched for nothing: not
                            * polled until it is watched for something */
};

static void watch_detach (GiosWatch *watch);
static void park_if_unwatched (GiosWatch *watch);

G_LOCK_DEFINE_STATIC (reactors);
static GHashTable *reactors;   /* GMainContext → GiosReactor, not owned */

/* GLib's conditions are poll()'s bits, which epoll shares: a condition goes
 * to epoll and comes back as it is, masked. epoll reports EPOLLERR and
 * EPOLLHUP whether asked or not. */
G_STATIC_ASSERT ((guint32) G_IO_IN == EPOLLIN && (guint32) G_IO_OUT == EPOLLOUT &&
                 (guint32) G_IO_PRI == EPOLLPRI && (guint32) G_IO_ERR == EPOLLERR &&
                 (guint32) G_IO_HUP == EPOLLHUP);
#define EPOLL_CONDITIONS (G_IO_IN | G_IO_OUT | G_IO_PRI | G_IO_ERR | G_IO_HUP)

static gboolean
reactor_prepare (GSource *source,
                 int     *timeout)
{
  GiosReactor *reactor = (GiosReactor *) source;

  *timeout = -1;
  return reactor->pending.length > 0 || reactor->deferred.length > 0;
}

static gboolean
reactor_check (GSource *source)
{
  GiosReactor *reactor = (GiosReactor *) source;

  /* GLib also dispatches the source when the epoll descriptor is ready. */
  return reactor->pending.length > 0 || reactor->deferred.length > 0;
}

/* Calls the watches silent past their limit, and plans the next sweep. */
static void
sweep_idle (GiosReactor *reactor)
{
  GSource *source = (GSource *) reactor;
  gint64 now = g_source_get_time (source);
  guint n = reactor->idle.length;

  for (GList *l = reactor->idle.head; l != NULL && n-- > 0;)
    {
      GiosWatch *watch = l->data;

      /* The callback may destroy this watch or others: step first. */
      l = l->next;
      if (!watch->dead && now - watch->last_input >= watch->idle_limit)
        {
          watch->last_input = now;   /* once per limit at most */
          watch->func (watch, GIOS_WATCH_IDLE, watch->data);
        }
    }
  g_source_set_ready_time (source, reactor->idle.length > 0 ? now + reactor->sweep_period : -1);
}

/* Makes the deferred calls, those each call defers in the next round. */
static void
run_deferred (GiosReactor *reactor)
{
  for (guint round = 0; round < MAX_ROUNDS && reactor->deferred.length > 0; round++)
    {
      guint n = reactor->deferred.length;

      /* A callback that iterates the context may run some of them. */
      while (n-- > 0 && reactor->deferred.length > 0)
        {
          GiosDeferral *deferral = g_queue_pop_head_link (&reactor->deferred)->data;

          deferral->func (deferral, TRUE);
        }
    }
}

static gboolean
reactor_dispatch (GSource     *source,
                  GSourceFunc  callback,
                  gpointer     user_data)
{
  GiosReactor *reactor = (GiosReactor *) source;
  struct epoll_event events[MAX_EVENTS];
  guint n_pending = reactor->pending.length;
  int n = 0;

  reactor->dispatching++;

  /* Only the watches pending now: one that makes itself pending again is
   * called in the next iteration, so that other sources get their turn. */
  while (n_pending-- > 0 && reactor->pending.length > 0)
    {
      GiosWatch *watch = g_queue_pop_head_link (&reactor->pending)->data;
      GIOCondition revents = watch->pending_revents;

      watch->pending_revents = 0;
      watch->func (watch, revents, watch->data);
    }

  if (reactor->use_epoll)
    {
      /* epoll_wait() only when the poll found the epoll set ready: a
       * dispatch for pending watches alone costs no system call. */
      if (g_source_query_unix_fd (source, reactor->tag) & G_IO_IN)
        {
          do
            n = epoll_wait (reactor->epfd, events, MAX_EVENTS, 0);
          while (n < 0 && errno == EINTR);
        }
    }
  else
    {
      /* What GLib's poll found, noted before any callback runs: a callback
       * may add, destroy or move watches. */
      for (GList *l = reactor->watches.head; l != NULL && n < DIRECT_MAX; l = l->next)
        {
          GiosWatch *watch = l->data;
          /* Without a tag (closed under it, or parked), it is not polled. */
          GIOCondition revents = watch->tag != NULL ? g_source_query_unix_fd (source, watch->tag) : 0;

          if (G_UNLIKELY (revents & G_IO_NVAL))
            {
              /* The descriptor was closed under the watch (destroy it
               * first). poll() would report it at once on every
               * iteration: stop polling it, and tell the watch once, as
               * an error. epoll forgets a closed descriptor silently. */
              watch_detach (watch);
              watch->fd_closed = TRUE;
              revents = G_IO_ERR | G_IO_HUP;
            }
          if (revents != 0)
            events[n++] = (struct epoll_event) { .events = revents, .data.ptr = watch };
        }
    }

  for (int i = 0; i < n; i++)
    {
      GiosWatch *watch = events[i].data.ptr;
      GIOCondition revents = (GIOCondition) (events[i].events & EPOLL_CONDITIONS);

      if (watch->dead)
        continue;
      if (watch->idle_limit != 0 && (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
        watch->last_input = g_source_get_time (source);
      watch->func (watch, revents, watch->data);
      if (!watch->dead && (revents & (G_IO_HUP | G_IO_ERR)))
        park_if_unwatched (watch);
    }
  if (reactor->idle.length > 0 && g_source_get_time (source) >= g_source_get_ready_time (source))
    sweep_idle (reactor);
  run_deferred (reactor);
  if (--reactor->dispatching == 0)
    g_ptr_array_set_size (reactor->graveyard, 0);

  return G_SOURCE_CONTINUE;
}

static void
reactor_finalize (GSource *source)
{
  GiosReactor *reactor = (GiosReactor *) source;

  G_LOCK (reactors);
  if (reactors != NULL && g_hash_table_lookup (reactors, reactor->context) == reactor)
    g_hash_table_remove (reactors, reactor->context);
  G_UNLOCK (reactors);

  /* The context went with calls still deferred: they are dropped, as
   * GLib drops the sources of a context it destroys. */
  while (reactor->deferred.length > 0)
    {
      GiosDeferral *deferral = g_queue_pop_head_link (&reactor->deferred)->data;

      deferral->func (deferral, FALSE);
    }
  g_ptr_array_unref (reactor->graveyard);
  close (reactor->epfd);
}

static GSourceFuncs reactor_funcs = {
  .prepare = reactor_prepare,
  .check = reactor_check,
  .dispatch = reactor_dispatch,
  .finalize = reactor_finalize,
};

/* Returns the reactor of @context (the thread-default context when NULL),
 * making it on first use, or NULL with @error set when epoll is missing.
 * Release it with g_source_unref(). */
GiosReactor *
_gios_reactor_ref (GMainContext  *context,
                   GError       **error)
{
  GiosReactor *reactor;

  if (context == NULL)
    context = g_main_context_ref_thread_default ();
  else
    g_main_context_ref (context);

  G_LOCK (reactors);
  if (reactors == NULL)
    reactors = g_hash_table_new (NULL, NULL);
  reactor = g_hash_table_lookup (reactors, context);
  if (reactor != NULL)
    g_source_ref ((GSource *) reactor);
  else
    {
      int epfd = epoll_create1 (EPOLL_CLOEXEC);

      if (epfd < 0)
        {
          int errsv = errno;

          G_UNLOCK (reactors);
          g_main_context_unref (context);
          _gios_set_error_from_errno (error, errsv, _("Could not create an epoll descriptor: %s"), g_strerror (errsv));
          return NULL;
        }
      reactor = (GiosReactor *) g_source_new (&reactor_funcs, sizeof (GiosReactor));
      g_source_set_static_name ((GSource *) reactor, "[gios] reactor");
      g_source_set_can_recurse ((GSource *) reactor, TRUE);
      reactor->epfd = epfd;
      reactor->context = context;
      reactor->graveyard = g_ptr_array_new_with_free_func (g_free);
      g_source_attach ((GSource *) reactor, context);
      g_hash_table_insert (reactors, context, reactor);
    }
  G_UNLOCK (reactors);

  g_main_context_unref (context);
  return reactor;
}

/* The reactor of @context when this thread is in its dispatch (a callback of
 * one of its watches or deferred calls), or NULL. */
GiosReactor *
_gios_reactor_get_dispatching (GMainContext *context)
{
  GSource *source = g_main_current_source ();

  if (source == NULL || source->source_funcs != &reactor_funcs ||
      g_source_get_context (source) != context)
    return NULL;
  return (GiosReactor *) source;
}

/* Makes @deferral's call once the current callback of the dispatch has
 * returned: in this dispatch, or in the next one past MAX_ROUNDS. Only from
 * within the dispatch (see _gios_reactor_get_dispatching()). */
void
_gios_reactor_defer (GiosReactor  *reactor,
                     GiosDeferral *deferral)
{
  g_return_if_fail (reactor->dispatching > 0);

  deferral->link.data = deferral;
  g_queue_push_tail_link (&reactor->deferred, &deferral->link);
}

/* Starts polling @watch's descriptor the reactor's way. */
static void
watch_attach (GiosWatch *watch)
{
  GiosReactor *reactor = watch->reactor;
  GIOCondition events = watch->events & EPOLL_CONDITIONS;

  if (watch->fd_closed || watch->parked)
    return;
  if (reactor->use_epoll)
    {
      struct epoll_event ev = { .events = events, .data.ptr = watch };

      if (epoll_ctl (reactor->epfd, EPOLL_CTL_ADD, watch->fd, &ev) != 0)
        g_critical ("Could not watch descriptor %d: %s", watch->fd, g_strerror (errno));
    }
  else
    watch->tag = g_source_add_unix_fd ((GSource *) reactor, watch->fd, events);
}

static void
watch_detach (GiosWatch *watch)
{
  GiosReactor *reactor = watch->reactor;

  if (watch->fd_closed || watch->parked)
    return;
  if (reactor->use_epoll)
    (void) epoll_ctl (reactor->epfd, EPOLL_CTL_DEL, watch->fd, NULL);
  else
    g_source_remove_unix_fd ((GSource *) reactor, g_steal_pointer (&watch->tag));
}

/* A descriptor that failed or hung up is reported so on every poll,
 * whatever it is watched for (poll() and epoll report POLLERR and POLLHUP
 * unasked): once its watch has been told and still asks for nothing (a
 * connection between two calls), it is no longer polled, or the loop would
 * spin until the next call. Watched for something again, it is polled
 * again, and reports its state at once. */
static void
park_if_unwatched (GiosWatch *watch)
{
  if ((watch->events & EPOLL_CONDITIONS) != 0 || watch->fd_closed || watch->parked)
    return;
  watch_detach (watch);
  watch->parked = TRUE;
}

/* Moves every watch to epoll, or back to GLib's poll. */
static void
move_watches (GiosReactor *reactor,
              gboolean     use_epoll)
{
  GSource *source = (GSource *) reactor;

  if (reactor->use_epoll == use_epoll)
    return;
  for (GList *l = reactor->watches.head; l != NULL; l = l->next)
    watch_detach (l->data);
  reactor->use_epoll = use_epoll;
  if (use_epoll)
    reactor->tag = g_source_add_unix_fd (source, reactor->epfd, G_IO_IN);
  else
    g_source_remove_unix_fd (source, g_steal_pointer (&reactor->tag));
  for (GList *l = reactor->watches.head; l != NULL; l = l->next)
    watch_attach (l->data);
}

GiosWatch *
_gios_reactor_watch (GiosReactor   *reactor,
                     int            fd,
                     GIOCondition   events,
                     GiosWatchFunc  func,
                     gpointer       data)
{
  GiosWatch *watch = g_new0 (GiosWatch, 1);

  watch->reactor = (GiosReactor *) g_source_ref ((GSource *) reactor);
  watch->fd = fd;
  watch->events = events;
  watch->func = func;
  watch->data = data;
  if (reactor->watches.length >= DIRECT_MAX)
    move_watches (reactor, TRUE);
  watch->link.data = watch;
  g_queue_push_tail_link (&reactor->watches, &watch->link);
  watch_attach (watch);
  return watch;
}

void
_gios_watch_set_events (GiosWatch    *watch,
                        GIOCondition  events)
{
  GiosReactor *reactor = watch->reactor;

  if (watch->events == events)
    return;
  watch->events = events;
  if (watch->fd_closed)
    return;
  if (watch->parked)
    {
      if ((events & EPOLL_CONDITIONS) != 0)
        {
          watch->parked = FALSE;
          watch_attach (watch);
        }
      return;
    }
  if (reactor->use_epoll)
    {
      struct epoll_event ev = { .events = events & EPOLL_CONDITIONS, .data.ptr = watch };

      (void) epoll_ctl (reactor->epfd, EPOLL_CTL_MOD, watch->fd, &ev);
    }
  else
    g_source_modify_unix_fd ((GSource *) reactor, watch->tag, events & EPOLL_CONDITIONS);
}

GIOCondition
_gios_watch_get_events (GiosWatch *watch)
{
  return watch->events;
}

/* Calls the watch with @revents (added to any already pending) in the
 * reactor's next dispatch, whatever its descriptor says. */
void
_gios_watch_set_pending (GiosWatch    *watch,
                         GIOCondition  revents)
{
  g_return_if_fail (revents != 0);

  if (watch->pending_revents == 0)
    {
      watch->pending_link.data = watch;
      g_queue_push_tail_link (&watch->reactor->pending, &watch->pending_link);
    }
  watch->pending_revents |= revents;
}

static void
plan_sweeps (GiosReactor *reactor)
{
  GSource *source = (GSource *) reactor;
  gint64 period = G_USEC_PER_SEC;

  for (GList *l = reactor->idle.head; l != NULL; l = l->next)
    period = MIN (period, ((GiosWatch *) l->data)->idle_limit / 8);
  reactor->sweep_period = MAX (period, 5000);
  if (reactor->idle.length == 0)
    g_source_set_ready_time (source, -1);
  else if (g_source_get_ready_time (source) < 0 ||
           g_source_get_ready_time (source) > g_get_monotonic_time () + reactor->sweep_period)
    g_source_set_ready_time (source, g_get_monotonic_time () + reactor->sweep_period);
}

void
_gios_watch_set_idle (GiosWatch *watch,
                      int        idle_ms)
{
  GiosReactor *reactor = watch->reactor;
  gint64 limit = idle_ms < 0 ? 0 : MAX ((gint64) idle_ms * 1000, 1);

  if (watch->idle_limit == limit)
    return;
  if (watch->idle_limit != 0)
    g_queue_unlink (&reactor->idle, &watch->idle_link);
  watch->idle_limit = limit;
  if (limit != 0)
    {
      watch->last_input = g_get_monotonic_time ();
      watch->idle_link.data = watch;
      g_queue_push_tail_link (&reactor->idle, &watch->idle_link);
    }
  plan_sweeps (reactor);
}

/* Stops watching; call it before the descriptor is closed. The callback is
 * not called again, even for events of the current dispatch. */
void
_gios_watch_destroy (GiosWatch *watch)
{
  GiosReactor *reactor;

  if (watch == NULL)
    return;
  reactor = watch->reactor;
  watch_detach (watch);
  g_queue_unlink (&reactor->watches, &watch->link);
  if (reactor->watches.length <= DIRECT_MAX / 2)
    move_watches (reactor, FALSE);
  if (watch->pending_revents != 0)
    g_queue_unlink (&reactor->pending, &watch->pending_link);
  watch->pending_revents = 0;
  if (watch->idle_limit != 0)
    {
      g_queue_unlink (&reactor->idle, &watch->idle_link);
      watch->idle_limit = 0;
      plan_sweeps (reactor);
    }
  watch->dead = TRUE;
  if (reactor->dispatching > 0)
    g_ptr_array_add (reactor->graveyard, watch);
  else
    g_free (watch);
  g_source_unref ((GSource *) reactor);
}
