/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The hand-over stage: what an accepted connection goes through after
 * accept() and before the application gets it, in every serving model.
 *
 * It is an ordered list of steps (steps[] below): the PROXY protocol header
 * (when GiosServerSocket:proxy-protocol is set), then the TLS handshake
 * (when GiosSocketCommon:tls-certificate is set and
 * GiosServerSocket:starttls is not), since a balancer sends the header
 * before the client's first TLS byte. A step is wanted or not by the
 * server's settings, and is written once, as a non-blocking advance()
 * that does what it can with what has arrived and says what it waits for
 * next: input, or the TLS handshake, which GIO runs whole (see
 * gios-tls.c); two drivers run the steps:
 *
 * - gios_handover_run(), blocking, for the threaded models: the classic
 *   listen() and accept() run it on the accepting thread, inside their
 *   call (a close of the server wakes it through the server's gate);
 *   listen_job() runs it on the job's thread, so that a slow client never
 *   holds up the accepting thread, only its own job slot.
 * - gios_handover_run_async(), for start() and ::accepted: the waits are a
 *   watch on the context's reactor and a timer, so the loop never blocks.
 *
 * Both end at the server's handshake-timeout, counted from the accept: a
 * client that connects and sends nothing holds a job slot or a main-loop
 * connection no longer than that. A connection that fails the stage is
 * dropped by the caller and reported here, at most one log line per
 * REPORT_INTERVAL_US with the count of the others (a client sending
 * garbage a thousand times a second makes one line, not a thousand);
 * nothing else is affected.
 *
 * The PROXY step reads exactly the header and nothing after it: it peeks
 * (MSG_PEEK) at what has arrived, asks the parser, and consumes only bytes
 * that the parser has placed inside the header (all of them while it asks
 * for more, exactly the header's length once it is whole). The bytes after
 * the header stay in the kernel for the application's first read. Waiting
 * after a peek that found too little is safe: those bytes were consumed, so
 * readiness means new bytes.
 *
 * The TLS step waits for the client's first byte before it starts the
 * handshake, and refuses one that cannot begin a TLS record (a plaintext
 * client on a TLS port) at once. A client that connects and says nothing
 * thus costs a descriptor in the reactor or a job's wait, never one of the
 * threads GIO runs its handshakes on.
 */

#include "gios-private.h"
#include "gios-call.h"
#include "gios-handover.h"
#include "gios-proxy-header.h"
#include "gios-reactor-private.h"
#include "gios-server-socket-impl.h"
#include "gios-socket-common-private.h"
#include "gios-task-guard.h"
#include "gios-tls.h"

#include <errno.h>
#include <sys/socket.h>

/* At most one line about dropped connections per minute, per server. */
#define REPORT_INTERVAL_US (60 * G_USEC_PER_SEC)

typedef enum
{
  STEP_DONE,
  STEP_AGAIN,               /* wait for the condition, then advance again */
  STEP_HANDSHAKE,           /* make the TLS handshake, then advance again */
  STEP_FAILED,
} StepResult;

typedef struct
{
  GiosServerSocket *server;        /* owned */
  GiosSocketCommon *connection;    /* owned */
  int fd;
  gint64 deadline;                 /* monotonic, -1 for none */
  int timeout_ms;
  guint step;                      /* the current one, in steps[] */
  GIOCondition waiting_for;        /* set by a step that returns AGAIN */

  /* The PROXY step. */
  GiosProxyProtocol proxy;
  guint8 *buffer;                  /* GIOS_PROXY_MAX bytes, made on first use */
  gsize have;                      /* consumed, all of them header */
  GiosProxyHeader header;

  /* The TLS step. */
  gboolean handshaken;

  /* The asynchronous driver. */
  GTask *task;
  GiosWatch *watch;
  GiosTaskGuard guard;      /* handshake-timeout and the cancellable */
} Run;

typedef struct
{
  /* Whether the server's settings want the step. */
  gboolean   (*wanted)  (GiosServerSocket *server);
  /* Does what it can without blocking. */
  StepResult (*advance) (Run *run, GError **error);
  /* Gives the connection what the step learnt (nullable). */
  void       (*finish)  (Run *run);
  /* Sets the error of a timeout in the step. */
  void       (*timed_out) (Run *run, GError **error);
} Step;

/* ------------------------------------------------------------------------ */
/* The PROXY protocol header                                                  */

static gboolean
proxy_wanted (GiosServerSocket *server)
{
  return PRIV (server)->proxy_protocol != GIOS_PROXY_PROTOCOL_NONE;
}

/* Consumes @size bytes that a peek found. */
static gboolean
consume (Run     *run,
         gsize    size,
         GError **error)
{
  gssize n;

  do
    n = recv (run->fd, run->buffer + run->have, size, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      int errsv = errno;

      _gios_set_error_from_errno (error, errsv, _("Could not receive the PROXY header: %s"),
                                  g_strerror (errsv));
      return FALSE;
    }
  /* A stream socket gives what a peek showed. */
  g_assert ((gsize) n == size);
  run->have += n;
  return TRUE;
}

static StepResult
proxy_advance (Run     *run,
               GError **error)
{
  gsize cap = run->proxy == GIOS_PROXY_PROTOCOL_V1 ? GIOS_PROXY_V1_MAX : GIOS_PROXY_MAX;
  gsize need = 0;
  gssize n;

  if (run->buffer == NULL)
    run->buffer = g_malloc (GIOS_PROXY_MAX);
  for (;;)
    {
      do
        n = recv (run->fd, run->buffer + run->have, cap - run->have, MSG_PEEK | MSG_DONTWAIT);
      while (n < 0 && errno == EINTR);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          run->waiting_for = G_IO_IN;
          return STEP_AGAIN;
        }
      if (n < 0)
        {
          int errsv = errno;

          _gios_set_error_from_errno (error, errsv, _("Could not receive the PROXY header: %s"),
                                      g_strerror (errsv));
          return STEP_FAILED;
        }
      if (n == 0)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                               _("The connection ended before its PROXY header did"));
          return STEP_FAILED;
        }

      gios_proxy_header_clear (&run->header);
      switch (gios_proxy_header_parse (run->buffer, run->have + n, run->proxy, &need, &run->header, error))
        {
        case GIOS_PROXY_PARSE_DONE:
          return consume (run, run->header.length - run->have, error) ? STEP_DONE : STEP_FAILED;
        case GIOS_PROXY_PARSE_BAD:
          return STEP_FAILED;
        case GIOS_PROXY_PARSE_MORE:
          /* Every byte seen is the header's: take them, and wait for more. */
          if (!consume (run, n, error))
            return STEP_FAILED;
          break;
        }
    }
}

static void
proxy_finish (Run *run)
{
  _gios_socket_common_set_proxied (run->connection, run->header.source, run->header.tlvs);
}

static void
proxy_timed_out (Run     *run,
                 GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               _("No complete PROXY header arrived within %d ms (the handshake timeout)"),
               run->timeout_ms);
}

/* ------------------------------------------------------------------------ */
/* The TLS handshake                                                          */

static gboolean
tls_wanted (GiosServerSocket *server)
{
  return gios_socket_common_get_tls_certificate (GIOS_SOCKET_COMMON (server)) != NULL &&
         !PRIV (server)->starttls;
}

static StepResult
tls_advance (Run     *run,
             GError **error)
{
  if (run->handshaken)
    return STEP_DONE;
  switch (gios_tls_peek_client_hello (run->fd, error))
    {
    case 0:
      run->waiting_for = G_IO_IN;
      return STEP_AGAIN;
    case 1:
      return STEP_HANDSHAKE;
    default:
      return STEP_FAILED;
    }
}

static void
tls_timed_out (Run     *run,
               GError **error)
{
  g_propagate_error (error, _gios_socket_common_handshake_timeout_error (run->connection,
                                                                        run->timeout_ms));
}

/* ------------------------------------------------------------------------ */
/* The steps, in order                                                        */

static const Step steps[] = {
  { proxy_wanted, proxy_advance, proxy_finish, proxy_timed_out },
  { tls_wanted, tls_advance, NULL, tls_timed_out },
};

gboolean
gios_handover_needed (GiosServerSocket *server)
{
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    if (steps[i].wanted (server))
      return TRUE;
  return FALSE;
}

static Run *
run_new (GiosServerSocket *server,
         GiosSocketCommon *connection)
{
  Run *run = g_new0 (Run, 1);
  GiosServerSocketPrivate *priv = PRIV (server);

  run->server = g_object_ref (server);
  run->connection = g_object_ref (connection);
  run->fd = _gios_socket_common_get_fd (connection);
  run->timeout_ms = priv->handshake_timeout;
  run->deadline = _gios_deadline_from_timeout (priv->handshake_timeout);
  run->proxy = priv->proxy_protocol;
  return run;
}

static void
run_free (Run *run)
{
  g_assert (run->watch == NULL && run->guard.timeout == NULL && run->guard.cancel == NULL);
  gios_proxy_header_clear (&run->header);
  g_free (run->buffer);
  g_object_unref (run->connection);
  g_object_unref (run->server);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_free)

/* Advances to the end, or to a wait: STEP_AGAIN with run->waiting_for, or
 * STEP_HANDSHAKE. */
static StepResult
run_advance (Run     *run,
             GError **error)
{
  for (; run->step < G_N_ELEMENTS (steps); run->step++)
    {
      const Step *step = &steps[run->step];
      StepResult result;

      if (!step->wanted (run->server))
        continue;
      result = step->advance (run, error);
      if (result != STEP_DONE)
        return result;
      if (step->finish != NULL)
        step->finish (run);
    }
  return STEP_DONE;
}

/* ------------------------------------------------------------------------ */
/* Blocking                                                                   */

gboolean
gios_handover_run (GiosServerSocket  *server,
                   GiosSocketCommon  *connection,
                   GiosGate          *gate,
                   GCancellable      *cancellable,
                   GError           **error)
{
  g_autoptr(Run) run = NULL;
  GError *local_error = NULL;

  if (!gios_handover_needed (server))
    return TRUE;
  run = run_new (server, connection);
  for (;;)
    {
      switch (run_advance (run, error))
        {
        case STEP_DONE:
          return TRUE;
        case STEP_FAILED:
          return FALSE;
        case STEP_HANDSHAKE:
          if (!_gios_socket_common_handshake (connection, gate, run->deadline, run->timeout_ms,
                                              cancellable, error))
            return FALSE;
          run->handshaken = TRUE;
          continue;
        case STEP_AGAIN:
          break;
        }
      if (!gios_gate_wait_fd (gate, run->fd, run->waiting_for, run->deadline, cancellable, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
            {
              g_clear_error (&local_error);
              steps[run->step].timed_out (run, &local_error);
            }
          g_propagate_error (error, local_error);
          return FALSE;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* On a main loop                                                             */

static void
async_stop_waiting (Run *run)
{
  g_clear_pointer (&run->watch, _gios_watch_destroy);
  gios_task_guard_stop (&run->guard);
}

/* Ends the task with @error, or with success when it is NULL. */
static void
async_return (Run    *run,
              GError *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&run->task);

  async_stop_waiting (run);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void async_advance (Run *run);

static void
on_handshaken (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  g_autoptr(GTask) task = data;
  Run *run = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean ok = _gios_socket_common_handshake_finish (result, &error);

  if (run->task == NULL)
    {
      /* Ended meanwhile, by the handshake-timeout or the cancellable. */
      g_clear_error (&error);
      return;
    }
  if (!ok)
    {
      async_return (run, error);
      return;
    }
  run->handshaken = TRUE;
  async_advance (run);
}

static void
async_advance (Run *run)
{
  GError *error = NULL;

  switch (run_advance (run, &error))
    {
    case STEP_DONE:
      async_return (run, NULL);
      break;
    case STEP_FAILED:
      async_return (run, error);
      break;
    case STEP_AGAIN:
      _gios_watch_set_events (run->watch, run->waiting_for);
      break;
    case STEP_HANDSHAKE:
      /* GIO reads and writes the socket until it is done. */
      _gios_watch_set_events (run->watch, 0);
      _gios_socket_common_handshake_async (run->connection, on_handshaken, g_object_ref (run->task));
      break;
    }
}

static void
on_ready (GiosWatch    *watch,
          GIOCondition  revents,
          gpointer      data)
{
  Run *run = data;

  /* A watch that asks for nothing is one whose descriptor GIO's handshake
   * has: a hang-up or an error reported unasked is the handshake's to find. */
  if (_gios_watch_get_events (watch) != 0)
    async_advance (run);
}

/* The handshake-timeout passed, or the cancellable was cancelled. */
static void
on_limit (GTask  *task,
          GError *cancelled)
{
  Run *run = g_task_get_task_data (task);
  GError *error = cancelled;

  /* A handshake under way ends with the connection (see gios_tls_close()),
   * and at once: its thread lets go of the socket soon. */
  _gios_socket_common_cancel_handshake (run->connection);
  if (error == NULL)
    steps[run->step].timed_out (run, &error);
  async_return (run, error);
}

void
gios_handover_run_async (GiosServerSocket    *server,
                         GiosSocketCommon    *connection,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (connection, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  GiosReactor *reactor;
  Run *run;

  g_task_set_source_tag (task, gios_handover_run_async);
  if (!gios_handover_needed (server))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  reactor = _gios_reactor_ref (NULL, &error);
  if (reactor == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  run = run_new (server, connection);
  run->task = g_object_ref (task);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);
  run->watch = _gios_reactor_watch (reactor, run->fd, 0, on_ready, run);
  g_source_unref ((GSource *) reactor);
  gios_task_guard_start (&run->guard, task, run->timeout_ms, cancellable, on_limit);
  /* What arrived with the connection is read at once. */
  async_advance (run);
}

gboolean
gios_handover_run_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (G_IS_TASK (result), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* Dropping                                                                   */

gboolean
gios_handover_is_drop (const GError *error)
{
  return !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
         !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

void
gios_handover_fail (GiosServerSocket  *server,
                    GiosSocketCommon  *connection,
                    GError            *error,
                    GError           **stop)
{
  if (gios_handover_is_drop (error))
    {
      gios_handover_report (&PRIV (server)->handover_log,
                            gios_socket_common_get_remote_address (connection), error);
      g_error_free (error);
    }
  else
    g_propagate_error (stop, error);
  _gios_socket_common_release_connection (connection);
}

void
gios_handover_log_init (GiosHandoverLog *log)
{
  g_mutex_init (&log->lock);
  log->quiet_until = 0;
  log->unreported = 0;
}

void
gios_handover_log_clear (GiosHandoverLog *log)
{
  g_mutex_clear (&log->lock);
}

void
gios_handover_report (GiosHandoverLog *log,
                      GSocketAddress  *peer,
                      const GError    *error)
{
  gint64 now = g_get_monotonic_time ();
  g_autofree char *from = NULL;
  guint others;

  g_mutex_lock (&log->lock);
  if (now < log->quiet_until)
    {
      log->unreported++;
      g_mutex_unlock (&log->lock);
      return;
    }
  others = log->unreported;
  log->unreported = 0;
  log->quiet_until = now + REPORT_INTERVAL_US;
  g_mutex_unlock (&log->lock);

  from = _gios_socket_address_to_string (peer);
  if (others == 0)
    g_message (_("Dropped a connection from %s before handing it over: %s"), from, error->message);
  else
    g_message (g_dngettext (GETTEXT_PACKAGE,
                            "Dropped a connection from %s before handing it over: %s "
                            "(and %u other since the last report)",
                            "Dropped a connection from %s before handing it over: %s "
                            "(and %u others since the last report)", others),
               from, error->message, others);
}
