/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Accepting on a main loop: see gios-acceptor.h. */

#include "gios-private.h"
#include "gios-acceptor.h"
#include "gios-backoff.h"
#include "gios-device-stream-serving.h"
#include "gios-reactor-private.h"

#include <errno.h>

#define RETRY_LEAST_US (10 * 1000)
#define RETRY_MOST_US (250 * 1000)
/* Connections accepted per event at most, so that other sources get their
 * turn. */
#define BATCH 64

typedef struct
{
  GTask *task;
  gboolean adopt;
} Pending;

struct _GiosAcceptor
{
  GiosDeviceStream *owner;      /* not owned: it owns the acceptor */
  GPtrArray *listeners;         /* the owner's */
  const GiosAcceptorFuncs *funcs;
  GMainContext *context;        /* of the watches */
  GPtrArray *watches;           /* of GiosWatch */
  GQueue pending;               /* of Pending */
  gboolean started;
  guint max_connections;
  gint live;                    /* atomic: connections from start() still open */
  GMutex live_lock;
  GPtrArray *live_tokens;       /* of LiveToken, those connections' */
  GSource *retry_source;        /* accepting paused, out of descriptors */
  GiosBackoff backoff;
  gboolean exhausted;           /* since the last connection accepted */
};

static void on_listener_ready (GiosWatch *watch, GIOCondition revents, gpointer data);

GiosAcceptor *
gios_acceptor_new (GiosDeviceStream        *owner,
                   GPtrArray               *listeners,
                   const GiosAcceptorFuncs *funcs)
{
  GiosAcceptor *acceptor = g_new0 (GiosAcceptor, 1);

  acceptor->owner = owner;
  acceptor->listeners = listeners;
  acceptor->funcs = funcs;
  g_queue_init (&acceptor->pending);
  g_mutex_init (&acceptor->live_lock);
  acceptor->live_tokens = g_ptr_array_new ();
  gios_backoff_init (&acceptor->backoff, RETRY_LEAST_US, RETRY_MOST_US);
  return acceptor;
}

static gboolean
want_connections (GiosAcceptor *acceptor)
{
  if (acceptor->retry_source != NULL)
    return FALSE;
  if (acceptor->pending.length > 0)
    return TRUE;
  return acceptor->started &&
         (acceptor->max_connections == 0 ||
          (guint) g_atomic_int_get (&acceptor->live) < acceptor->max_connections);
}

static void
update_watches (GiosAcceptor *acceptor)
{
  GIOCondition events = want_connections (acceptor) ? G_IO_IN : 0;

  if (acceptor->watches == NULL)
    return;
  for (guint i = 0; i < acceptor->watches->len; i++)
    _gios_watch_set_events (g_ptr_array_index (acceptor->watches, i), events);
}

static void
destroy_watches (GiosAcceptor *acceptor)
{
  g_clear_pointer (&acceptor->watches, g_ptr_array_unref);
  if (acceptor->retry_source != NULL)
    {
      g_source_destroy (acceptor->retry_source);
      g_clear_pointer (&acceptor->retry_source, g_source_unref);
    }
  if (acceptor->context != NULL)
    {
      _gios_device_stream_remove_context (acceptor->owner, acceptor->context);
      g_clear_pointer (&acceptor->context, g_main_context_unref);
    }
}

void
gios_acceptor_free (GiosAcceptor *acceptor)
{
  /* Pending calls hold a reference on the owner: none is left here. The
   * connections' tokens no longer see it (their weak owner is gone). */
  destroy_watches (acceptor);
  g_ptr_array_unref (acceptor->live_tokens);
  g_mutex_clear (&acceptor->live_lock);
  g_free (acceptor);
}

/* Watches the listening sockets from the thread-default main context. */
static gboolean
ensure_watches (GiosAcceptor  *acceptor,
                GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  GiosReactor *reactor;

  if (acceptor->listeners->len == 0)
    {
      g_set_error_literal (error, GIOS_ERROR, GIOS_ERROR_NOT_CONNECTED,
                           _("The server socket is not open"));
      return FALSE;
    }
  if (acceptor->watches != NULL)
    {
      if (acceptor->context == context)
        return TRUE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                           _("The server socket accepts on another main context already"));
      return FALSE;
    }

  reactor = _gios_reactor_ref (context, error);
  if (reactor == NULL)
    return FALSE;
  acceptor->watches = g_ptr_array_new_with_free_func ((GDestroyNotify) _gios_watch_destroy);
  for (guint i = 0; i < acceptor->listeners->len; i++)
    g_ptr_array_add (acceptor->watches,
                     _gios_reactor_watch (reactor, g_socket_get_fd (g_ptr_array_index (acceptor->listeners, i)),
                                          0, on_listener_ready, acceptor));
  acceptor->context = g_steal_pointer (&context);
  /* A close from another thread must hold this context, or run on it. */
  _gios_device_stream_add_context (acceptor->owner, acceptor->context);
  g_source_unref ((GSource *) reactor);
  return TRUE;
}

static gboolean
on_retry (gpointer data)
{
  GiosAcceptor *acceptor = data;

  g_clear_pointer (&acceptor->retry_source, g_source_unref);
  update_watches (acceptor);
  return G_SOURCE_REMOVE;
}

/* Out of descriptors: stop watching for a growing pause, then try again. */
static void
pause_accepting (GiosAcceptor *acceptor,
                 int           errsv)
{
  acceptor->funcs->exhausted (acceptor->owner, errsv);
  acceptor->retry_source = g_timeout_source_new (gios_backoff_next (&acceptor->backoff) / 1000);
  g_source_set_static_name (acceptor->retry_source, "[gios] accept retry");
  g_source_set_callback (acceptor->retry_source, on_retry, acceptor, NULL);
  g_source_attach (acceptor->retry_source, acceptor->context);
  update_watches (acceptor);
}

/* ------------------------------------------------------------------------ */
/* Connections from start(), counted for max-connections                      */

typedef struct
{
  GiosAcceptor *acceptor;
  GObject *owner;           /* weak: the acceptor is valid while it is set */
  GWeakRef connection;      /* to close it when a drain runs out of time */
  gboolean gone;
} LiveToken;

static gboolean
update_on_context (gpointer data)
{
  LiveToken *token = data;

  if (token->owner != NULL)
    update_watches (token->acceptor);
  return G_SOURCE_REMOVE;
}

static void
live_token_unref (gpointer data)
{
  LiveToken *token = data;

  if (token->owner != NULL)
    g_object_remove_weak_pointer (token->owner, (gpointer *) &token->owner);
  g_weak_ref_clear (&token->connection);
  g_free (token);
}

static void
connection_gone (LiveToken *token)
{
  if (token->gone)
    return;
  token->gone = TRUE;
  if (token->owner == NULL)
    return;
  g_mutex_lock (&token->acceptor->live_lock);
  g_ptr_array_remove_fast (token->acceptor->live_tokens, token);
  g_mutex_unlock (&token->acceptor->live_lock);
  g_atomic_int_add (&token->acceptor->live, -1);
  /* A connection may be dropped on any thread; the watches belong to the
   * context's. */
  if (token->acceptor->context != NULL)
    {
      LiveToken *copy = g_new0 (LiveToken, 1);

      copy->acceptor = token->acceptor;
      copy->owner = token->owner;
      g_weak_ref_init (&copy->connection, NULL);
      g_object_add_weak_pointer (copy->owner, (gpointer *) &copy->owner);
      g_main_context_invoke_full (token->acceptor->context, G_PRIORITY_DEFAULT, update_on_context,
                                  copy, live_token_unref);
    }
}

static void
live_token_free (gpointer data)
{
  connection_gone (data);
  live_token_unref (data);
}

static void
on_connection_disconnected (GiosSocketCommon *connection,
                            gboolean          intentional,
                            GError           *reason,
                            LiveToken        *token)
{
  connection_gone (token);
}

static void
track_live (GiosAcceptor *acceptor,
            GiosSocket   *connection)
{
  LiveToken *token = g_new0 (LiveToken, 1);

  token->acceptor = acceptor;
  token->owner = G_OBJECT (acceptor->owner);
  g_object_add_weak_pointer (token->owner, (gpointer *) &token->owner);
  g_weak_ref_init (&token->connection, connection);
  g_mutex_lock (&acceptor->live_lock);
  g_ptr_array_add (acceptor->live_tokens, token);
  g_mutex_unlock (&acceptor->live_lock);
  g_atomic_int_inc (&acceptor->live);
  g_signal_connect (connection, "disconnected", G_CALLBACK (on_connection_disconnected), token);
  g_object_set_data_full (G_OBJECT (connection), "gios-live-token", token, live_token_free);
}

/* ------------------------------------------------------------------------ */
/* Accepting                                                                  */

static void
stop_accepting (GiosAcceptor *acceptor,
                GError       *reason)
{
  if (!acceptor->started)
    {
      g_error_free (reason);
      return;
    }
  acceptor->started = FALSE;
  update_watches (acceptor);
  acceptor->funcs->stopped (acceptor->owner, reason);
  g_error_free (reason);
}

/* Hands a new connection to the first pending call, or to start(). */
static void
dispatch_connection (GiosAcceptor   *acceptor,
                     int             fd,
                     GSocketAddress *remote)
{
  Pending *pending = g_queue_pop_head (&acceptor->pending);
  g_autoptr(GiosSocket) connection = NULL;
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  if (pending != NULL)
    {
      task = pending->task;
      if (pending->adopt)
        {
          g_free (pending);
          acceptor->funcs->adopt (acceptor->owner, fd, remote);
          _gios_device_stream_set_loop (acceptor->owner, acceptor->context);
          g_task_return_boolean (task, TRUE);
          return;
        }
      g_free (pending);
    }

  connection = acceptor->funcs->wrap (acceptor->owner, fd, remote, &error);
  if (connection != NULL)
    _gios_device_stream_set_loop (GIOS_DEVICE_STREAM (connection), acceptor->context);
  if (task != NULL)
    {
      if (connection != NULL)
        g_task_return_pointer (task, g_steal_pointer (&connection), g_object_unref);
      else
        g_task_return_error (task, error);
      return;
    }
  if (connection == NULL)
    {
      g_warning ("%s", error->message);
      g_error_free (error);
      return;
    }
  track_live (acceptor, connection);
  acceptor->funcs->accepted (acceptor->owner, connection);
}

static void
fail_pending (GiosAcceptor *acceptor,
              const GError *error)
{
  Pending *pending;

  while ((pending = g_queue_pop_head (&acceptor->pending)) != NULL)
    {
      g_task_return_error (pending->task, g_error_copy (error));
      g_object_unref (pending->task);
      g_free (pending);
    }
}

static void
on_listener_ready (GiosWatch    *watch,
                   GIOCondition  revents,
                   gpointer      data)
{
  GiosAcceptor *acceptor = data;
  g_autoptr(GiosDeviceStream) keep G_GNUC_UNUSED = g_object_ref (acceptor->owner);

  for (int i = 0; i < BATCH && want_connections (acceptor); i++)
    {
      GSocketAddress *remote = NULL;
      int fd = acceptor->funcs->accept_once (acceptor->owner, &remote);
      int errsv = errno;
      GError *error = NULL;

      if (fd >= 0)
        {
          if (acceptor->exhausted)
            acceptor->funcs->exhausted (acceptor->owner, 0);
          acceptor->exhausted = FALSE;
          gios_backoff_reset (&acceptor->backoff);
          dispatch_connection (acceptor, fd, remote);
          continue;
        }
      if (errsv == EAGAIN || errsv == EWOULDBLOCK)
        break;
      if (errsv == EMFILE || errsv == ENFILE || errsv == ENOBUFS || errsv == ENOMEM)
        {
          acceptor->exhausted = TRUE;
          pause_accepting (acceptor, errsv);
          break;
        }
      _gios_set_error_from_errno (&error, errsv, _("Could not accept a connection: %s"), g_strerror (errsv));
      fail_pending (acceptor, error);
      stop_accepting (acceptor, error);
      break;
    }
  if (acceptor->watches != NULL)
    update_watches (acceptor);
}

gboolean
gios_acceptor_start (GiosAcceptor  *acceptor,
                     GError       **error)
{
  if (acceptor->started)
    return TRUE;
  if (!ensure_watches (acceptor, error))
    return FALSE;
  acceptor->started = TRUE;
  update_watches (acceptor);
  return TRUE;
}

void
gios_acceptor_stop (GiosAcceptor *acceptor,
                    GError       *reason)
{
  stop_accepting (acceptor, reason);
}

void
gios_acceptor_set_max_connections (GiosAcceptor *acceptor,
                                   guint         max_connections)
{
  acceptor->max_connections = max_connections;
  update_watches (acceptor);
}

static gboolean
on_pending_cancelled (GCancellable *cancellable,
                      gpointer      data)
{
  GTask *task = data;
  GiosAcceptor *acceptor = g_task_get_task_data (task);

  for (GList *l = acceptor->pending.head; l != NULL; l = l->next)
    {
      Pending *pending = l->data;

      if (pending->task != task)
        continue;
      g_queue_delete_link (&acceptor->pending, l);
      g_free (pending);
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
      update_watches (acceptor);
      break;
    }
  return G_SOURCE_REMOVE;
}

void
gios_acceptor_queue (GiosAcceptor *acceptor,
                     GTask        *task,
                     gboolean      adopt)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  Pending *pending;

  if (g_task_return_error_if_cancelled (task))
    return;
  if (!ensure_watches (acceptor, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, acceptor, NULL);
  if (cancellable != NULL)
    {
      g_autoptr(GSource) source = g_cancellable_source_new (cancellable);

      g_task_attach_source (task, source, G_SOURCE_FUNC (on_pending_cancelled));
    }
  /* In order: concurrent calls each get their own connection. */
  pending = g_new0 (Pending, 1);
  pending->task = g_object_ref (task);
  pending->adopt = adopt;
  g_queue_push_tail (&acceptor->pending, pending);
  update_watches (acceptor);
}

void
gios_acceptor_forget (GiosAcceptor *acceptor)
{
  acceptor->started = FALSE;
  destroy_watches (acceptor);
}

/* Pending calls fail with CLOSED and start() stops (CANCELLED), for @why. */
static void
end_accepting (GiosAcceptor *acceptor,
               const char   *why)
{
  g_autoptr(GError) closed = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, why);

  fail_pending (acceptor, closed);
  stop_accepting (acceptor, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, why));
}

void
gios_acceptor_stop_accepting (GiosAcceptor *acceptor)
{
  end_accepting (acceptor, _("The server socket no longer accepts connections"));
}

GMainContext *
gios_acceptor_get_context (GiosAcceptor *acceptor)
{
  return acceptor->context;
}

guint
gios_acceptor_get_n_live (GiosAcceptor *acceptor)
{
  return g_atomic_int_get (&acceptor->live);
}

guint
gios_acceptor_close_live (GiosAcceptor *acceptor)
{
  g_autoptr(GPtrArray) connections = g_ptr_array_new_with_free_func (g_object_unref);

  g_mutex_lock (&acceptor->live_lock);
  for (guint i = 0; i < acceptor->live_tokens->len; i++)
    {
      LiveToken *token = g_ptr_array_index (acceptor->live_tokens, i);
      GObject *connection = g_weak_ref_get (&token->connection);

      if (connection != NULL)
        g_ptr_array_add (connections, connection);
    }
  g_mutex_unlock (&acceptor->live_lock);

  /* Their handlers see their calls fail with G_IO_ERROR_CLOSED. */
  for (guint i = 0; i < connections->len; i++)
    gios_device_stream_close (g_ptr_array_index (connections, i), NULL);
  return connections->len;
}

void
gios_acceptor_close (GiosAcceptor *acceptor)
{
  end_accepting (acceptor, _("The server socket was closed"));
  destroy_watches (acceptor);
}
