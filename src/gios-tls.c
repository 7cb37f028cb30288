/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TLS session of one connection.
 *
 * GIO has the protocol (GTlsServerConnection, GTlsClientConnection, and
 * glib-networking's GnuTLS backend behind them); this file drives it the
 * way the rest of the library drives a socket: the records go through the
 * pollable streams' non-blocking calls, and the caller waits for the
 * socket in its own gate, so every read and write keeps its millisecond
 * deadline, its cancellable and the wake-up of a close from another thread.
 * GIO's blocking calls would wait in the socket with GSocket:timeout,
 * whole seconds, and no close could reach them.
 *
 * The handshake is the one step GIO only offers whole: glib-networking runs
 * it on a thread of its own (GLib's task pool) and reports to the main
 * context it was started on. The blocking handshake starts it on a private
 * context and iterates that context here, with the gate's wait as the poll,
 * so that the deadline, the cancellable and an interrupt of the gate end
 * it: the handshake's cancellable is cancelled, and the call returns once
 * the handshake thread has let go of the socket. The asynchronous handshake
 * runs on the caller's context; its caller bounds it.
 *
 * A session ends without waiting: close_notify goes out when the socket has
 * room for it now. A handshake that is still under way (an asynchronous one
 * whose connection was dropped) holds the socket: it is shut down at once,
 * which ends the handshake, and closed when the handshake lets go of it, so
 * that its descriptor is never reused under the handshake thread.
 */

#include "gios-private.h"
#include "gios-tls.h"
#include "gios-tls-input.h"

#include <errno.h>
#include <sys/socket.h>

/* The first byte of every TLS record that can start a handshake. */
#define TLS_RECORD_HANDSHAKE 0x16

struct _GiosTls
{
  gatomicrefcount ref;
  GiosTlsRole role;
  GSocket *socket;
  GIOStream *tcp;                  /* the GSocketConnection over @socket */
  GIOStream *base;                 /* @tcp's output, @held as its input */
  GiosTlsInput *held;              /* the socket, read ahead */
  GTlsConnection *connection;
  GPollableInputStream *input;
  GPollableOutputStream *output;
  char *peer;
  char *host;                      /* the name the server must carry */
  /* An asynchronous handshake runs on the main context's thread, and a
   * close may come from any: both under @lock. */
  GMutex lock;
  GCancellable *handshaking;       /* set while an asynchronous one runs */
  guint closed : 1;
};

GiosTls *
gios_tls_new (GSocket             *socket,
              GiosTlsRole          role,
              GTlsCertificate     *certificate,
              GTlsDatabase        *database,
              GSocketConnectable  *identity,
              const char          *peer,
              GError             **error)
{
  g_autoptr(GIOStream) tcp = NULL;
  g_autoptr(GInputStream) held = NULL;
  g_autoptr(GIOStream) base = NULL;
  g_autoptr(GIOStream) connection = NULL;
  GTlsBackend *backend = g_tls_backend_get_default ();
  GiosTls *tls;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (role == GIOS_TLS_CLIENT || G_IS_TLS_CERTIFICATE (certificate), NULL);

  if (!g_tls_backend_supports_tls (backend))
    {
      g_set_error_literal (error, G_TLS_ERROR, G_TLS_ERROR_UNAVAILABLE,
                           _("TLS is not available: GIO has no TLS backend (install glib-networking)"));
      return NULL;
    }

  /* The socket connection closes the socket when it goes: kept until the
   * session ends. */
  tcp = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
  held = gios_tls_input_new (socket);
  base = g_simple_io_stream_new (held, g_io_stream_get_output_stream (tcp));
  /* Made with their database given: g_tls_server_connection_new() and
   * g_tls_client_connection_new() set the system's first, which
   * glib-networking 2.74 reads in for every connection, three quarters of
   * a server's handshake. A server that asks for no client certificate
   * needs none. */
  if (role == GIOS_TLS_SERVER)
    connection = g_initable_new (g_tls_backend_get_server_connection_type (backend), NULL, error,
                                 "base-io-stream", base,
                                 "certificate", certificate,
                                 "database", NULL,
                                 NULL);
  else if (database != NULL)
    connection = g_initable_new (g_tls_backend_get_client_connection_type (backend), NULL, error,
                                 "base-io-stream", base,
                                 "server-identity", identity,
                                 "certificate", certificate,
                                 "database", database,
                                 NULL);
  else
    {
      connection = g_tls_client_connection_new (base, identity, error);
      if (connection != NULL && certificate != NULL)
        g_tls_connection_set_certificate (G_TLS_CONNECTION (connection), certificate);
    }
  if (connection == NULL)
    return NULL;
  /* The end of input is a read of 0 bytes, as without TLS: a peer that
   * closes without close_notify is at its end, not in error. */
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (connection), FALSE);

  tls = g_new0 (GiosTls, 1);
  g_atomic_ref_count_init (&tls->ref);
  g_mutex_init (&tls->lock);
  tls->role = role;
  tls->socket = g_object_ref (socket);
  tls->tcp = g_steal_pointer (&tcp);
  tls->held = GIOS_TLS_INPUT (g_steal_pointer (&held));
  tls->base = g_steal_pointer (&base);
  tls->connection = G_TLS_CONNECTION (g_steal_pointer (&connection));
  tls->input = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (G_IO_STREAM (tls->connection)));
  tls->output = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (G_IO_STREAM (tls->connection)));
  tls->peer = g_strdup (peer);
  if (G_IS_NETWORK_ADDRESS (identity))
    tls->host = g_strdup (g_network_address_get_hostname (G_NETWORK_ADDRESS (identity)));
  return tls;
}

GiosTls *
gios_tls_ref (GiosTls *tls)
{
  g_atomic_ref_count_inc (&tls->ref);
  return tls;
}

void
gios_tls_unref (GiosTls *tls)
{
  if (!g_atomic_ref_count_dec (&tls->ref))
    return;
  g_assert (tls->handshaking == NULL);
  g_object_unref (tls->connection);
  g_object_unref (tls->base);
  g_object_unref (tls->held);
  g_object_unref (tls->tcp);
  g_object_unref (tls->socket);
  g_free (tls->peer);
  g_free (tls->host);
  g_mutex_clear (&tls->lock);
  g_free (tls);
}

void
gios_tls_close (GiosTls *tls)
{
  g_autoptr(GCancellable) handshaking = NULL;

  g_mutex_lock (&tls->lock);
  if (tls->closed)
    {
      g_mutex_unlock (&tls->lock);
      return;
    }
  tls->closed = TRUE;
  if (tls->handshaking != NULL)
    handshaking = g_object_ref (tls->handshaking);
  g_mutex_unlock (&tls->lock);
  if (handshaking != NULL)
    {
      /* The handshake thread still reads and writes the socket: wake it;
       * the handshake's end closes the socket. */
      g_cancellable_cancel (handshaking);
      g_socket_shutdown (tls->socket, TRUE, TRUE, NULL);
      return;
    }
  /* close_notify is one short record: when the socket says it has room,
   * the close sends it without waiting; otherwise the peer is not reading,
   * and the connection just ends. Closing the session closes the socket. */
  if (g_socket_condition_check (tls->socket, G_IO_OUT) == G_IO_OUT)
    g_io_stream_close (G_IO_STREAM (tls->connection), NULL, NULL);
  g_socket_close (tls->socket, NULL);
}

/* ------------------------------------------------------------------------ */
/* What went wrong                                                            */

/* Says what the validation of the peer's certificate found. */
static char *
describe_rejection (GiosTls              *tls,
                    GTlsCertificateFlags  flags)
{
  static const struct { GTlsCertificateFlags flag; const char *reason; } reasons[] = {
    { G_TLS_CERTIFICATE_UNKNOWN_CA, N_("it is not signed by a known certificate authority") },
    { G_TLS_CERTIFICATE_NOT_ACTIVATED, N_("it is not valid yet") },
    { G_TLS_CERTIFICATE_EXPIRED, N_("it has expired") },
    { G_TLS_CERTIFICATE_REVOKED, N_("it has been revoked") },
    { G_TLS_CERTIFICATE_INSECURE, N_("its algorithm is insecure") },
  };
  GString *text = g_string_new (NULL);

  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    /* Translators: "it is not valid for example.com" */
    g_string_append_printf (text, _("it is not valid for %s"),
                            tls->host != NULL ? tls->host : tls->peer);
  for (gsize i = 0; i < G_N_ELEMENTS (reasons); i++)
    if (flags & reasons[i].flag)
      {
        if (text->len > 0)
          g_string_append (text, "; ");
        g_string_append (text, _(reasons[i].reason));
      }
  if (text->len == 0)
    g_string_append (text, _("it could not be validated"));
  return g_string_free (text, FALSE);
}

/* Gives a failed handshake's error a message that names the peer and what
 * failed. */
static void
explain_failure (GiosTls  *tls,
                 GError  **error)
{
  GError *e = *error;

  if (g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
      g_error_matches (e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return;
  if (g_error_matches (e, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE) && tls->role == GIOS_TLS_CLIENT)
    {
      GTlsCertificateFlags flags = g_tls_connection_get_peer_certificate_errors (tls->connection);
      g_autofree char *why = describe_rejection (tls, flags);

      g_clear_error (error);
      /* Translators: "The certificate of 127.0.0.1:4000 was rejected: it has expired" */
      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   _("The certificate of %s was rejected: %s"), tls->peer, why);
      return;
    }
  /* A server saw its client's first byte start a TLS record (see
   * gios_tls_peek_client_hello()): GnuTLS's "not TLS" there is a client
   * that went away, as one does that rejects the certificate. */
  if (g_error_matches (e, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS) && tls->role == GIOS_TLS_CLIENT)
    {
      _gios_reword_error (error, _("%s does not answer in TLS (is it a plaintext port?): %s"),
                          tls->peer, _gios_error_message (error));
      return;
    }
  if (g_error_matches (e, G_TLS_ERROR, G_TLS_ERROR_EOF) ||
      g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
      g_error_matches (e, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
    {
      g_clear_error (error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   _("%s closed the connection during the TLS handshake"), tls->peer);
      return;
    }
  _gios_reword_error (error, _("The TLS handshake with %s failed: %s"), tls->peer,
                      _gios_error_message (error));
}

GError *
gios_tls_timeout_error (GiosTls *tls,
                        int      timeout_ms)
{
  return g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                      _("The TLS handshake with %s did not finish within %d ms"),
                      tls->peer, timeout_ms);
}

/* Peeks at the first byte the peer sent, without waiting. */
static gssize
peek_first (int     fd,
            guint8 *first)
{
  gssize n;

  do
    n = recv (fd, first, 1, MSG_PEEK | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return n;
}

gboolean
gios_tls_check_server_silent (int          fd,
                              const char  *peer,
                              GError     **error)
{
  guint8 first;

  if (peek_first (fd, &first) <= 0)
    return TRUE;
  g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS,
               _("%s does not answer in TLS (is it a plaintext port?): it spoke first"), peer);
  return FALSE;
}

int
gios_tls_peek_client_hello (int      fd,
                            GError **error)
{
  guint8 first;
  gssize n = peek_first (fd, &first);

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return 0;
  if (n < 0)
    {
      int errsv = errno;

      _gios_set_error_from_errno (error, errsv, _("Could not receive the TLS handshake: %s"),
                                  g_strerror (errsv));
      return -1;
    }
  if (n == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                           _("The connection ended before its TLS handshake began"));
      return -1;
    }
  if (first != TLS_RECORD_HANDSHAKE)
    {
      g_set_error_literal (error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS,
                           _("The client spoke plaintext to a TLS port"));
      return -1;
    }
  return 1;
}

/* ------------------------------------------------------------------------ */
/* The handshake                                                              */

typedef struct
{
  gboolean done;
  gboolean ok;
  GError *error;
} Handshake;

static void
on_handshake_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  Handshake *handshake = data;

  handshake->ok = g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result,
                                                     &handshake->error);
  handshake->done = TRUE;
}

gboolean
gios_tls_handshake (GiosTls       *tls,
                    GiosGate      *gate,
                    gint64         deadline,
                    int            timeout_ms,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) stop = g_cancellable_new ();
  g_autoptr(GError) interrupted = NULL;
  Handshake handshake = { 0 };

  g_main_context_push_thread_default (context);
  g_main_context_acquire (context);
  g_tls_connection_handshake_async (tls->connection, G_PRIORITY_DEFAULT, stop,
                                    on_handshake_done, &handshake);
  while (!handshake.done)
    {
      if (interrupted == NULL)
        {
          if (!gios_gate_iterate (gate, context, deadline, cancellable, &interrupted))
            g_cancellable_cancel (stop);
        }
      else
        /* Cancelled: the handshake thread lets go of the socket soon. */
        g_main_context_iteration (context, TRUE);
    }
  g_main_context_release (context);
  g_main_context_pop_thread_default (context);

  if (interrupted != NULL)
    {
      g_clear_error (&handshake.error);
      if (g_error_matches (interrupted, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_propagate_error (error, gios_tls_timeout_error (tls, timeout_ms));
      else
        g_propagate_error (error, g_steal_pointer (&interrupted));
      return FALSE;
    }
  if (!handshake.ok)
    {
      g_propagate_error (error, handshake.error);
      explain_failure (tls, error);
      return FALSE;
    }
  return TRUE;
}

static void
on_async_handshake_done (GObject      *source,
                         GAsyncResult *result,
                         gpointer      data)
{
  g_autoptr(GTask) task = data;
  GiosTls *tls = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean closed;

  g_mutex_lock (&tls->lock);
  g_clear_object (&tls->handshaking);
  closed = tls->closed;
  g_mutex_unlock (&tls->lock);
  if (g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    {
      explain_failure (tls, &error);
      g_task_return_error (task, error);
    }
  /* A session closed meanwhile closes its socket now that nothing else
   * uses it. */
  if (closed)
    g_socket_close (tls->socket, NULL);
}

void
gios_tls_handshake_async (GiosTls             *tls,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_return_if_fail (tls->handshaking == NULL && !tls->closed);

  g_task_set_source_tag (task, gios_tls_handshake_async);
  g_task_set_task_data (task, gios_tls_ref (tls), (GDestroyNotify) gios_tls_unref);
  g_mutex_lock (&tls->lock);
  tls->handshaking = g_cancellable_new ();
  g_mutex_unlock (&tls->lock);
  g_tls_connection_handshake_async (tls->connection, G_PRIORITY_DEFAULT, tls->handshaking,
                                    on_async_handshake_done, task);
}

void
gios_tls_cancel_handshake (GiosTls *tls)
{
  g_autoptr(GCancellable) handshaking = NULL;

  g_mutex_lock (&tls->lock);
  if (tls->handshaking != NULL)
    handshaking = g_object_ref (tls->handshaking);
  g_mutex_unlock (&tls->lock);
  if (handshaking != NULL)
    g_cancellable_cancel (handshaking);
}

gboolean
gios_tls_handshake_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* Records                                                                    */

gssize
gios_tls_receive (GiosTls  *tls,
                  guint8   *buffer,
                  gsize     size,
                  GError  **error)
{
  gssize n = g_pollable_input_stream_read_nonblocking (tls->input, buffer, size, NULL, error);

  /* Whole records read ahead decrypt without a receive: one call takes
   * them all while they fit, instead of one call (and one main-loop
   * iteration) each. What ends them (an error, the end, a record that
   * brings no data) comes with the next call. */
  while (n > 0 && (gsize) n < size && gios_tls_input_holds_record (tls->held))
    {
      gssize more = g_pollable_input_stream_read_nonblocking (tls->input, buffer + n, size - n,
                                                              NULL, NULL);

      if (more <= 0)
        break;
      n += more;
    }
  return n;
}

gboolean
gios_tls_holds_input (GiosTls *tls)
{
  return gios_tls_input_has_held (tls->held);
}

gssize
gios_tls_send (GiosTls       *tls,
               const guint8  *data,
               gsize          size,
               GError       **error)
{
  return g_pollable_output_stream_write_nonblocking (tls->output, data, size, NULL, error);
}
