/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The input that a TLS session reads its records from.
 *
 * GnuTLS reads a record in two pieces of exactly the size it needs, its
 * five-byte header, then its body: two receives per record over GIO's
 * socket stream, which for a request-response connection is two system
 * calls per request where a plaintext one costs one. This stream reads
 * the socket ahead instead, up to a whole record of the largest size and
 * the start of the next, and hands GnuTLS the pieces from what it holds:
 * one receive per record. What it holds no longer shows on the descriptor:
 * the session's user asks gios_tls_input_has_held() before it waits on
 * the descriptor or tells the main loop that input is there.
 *
 * The bytes are held only between the receive and GnuTLS's next read, in
 * a block allocated for them: an idle connection holds none.
 */

#include "gios-private.h"
#include "gios-tls-input.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* A TLS record is at most 2^14 bytes of plaintext, 256 of expansion (TLS
 * 1.3) and a five-byte header; the rest of the block catches the start of
 * the next. A connection whose last receive filled the block (a bulk
 * transfer) reads four records' worth at once, so that one call of the
 * session decrypts them all (see gios_tls_receive()); one that did not goes
 * back to one. */
#define READ_AHEAD (17 * 1024)
#define READ_AHEAD_BULK (4 * READ_AHEAD)
#define RECORD_HEADER 5

struct _GiosTlsInput
{
  GInputStream parent_instance;
  GSocket *socket;
  guint8 *held;                  /* NULL when empty */
  gsize held_at;
  gsize held_end;
  gsize ahead;                   /* the size of the next block */
};

static void gios_tls_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (GiosTlsInput, gios_tls_input, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      gios_tls_input_pollable_init))

GInputStream *
gios_tls_input_new (GSocket *socket)
{
  GiosTlsInput *self;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);

  self = g_object_new (GIOS_TYPE_TLS_INPUT, NULL);
  self->socket = g_object_ref (socket);
  self->ahead = READ_AHEAD;
  return G_INPUT_STREAM (self);
}

gboolean
gios_tls_input_has_held (GiosTlsInput *self)
{
  return self->held != NULL;
}

gboolean
gios_tls_input_holds_record (GiosTlsInput *self)
{
  gsize held = self->held_end - self->held_at;
  const guint8 *header;

  if (held < RECORD_HEADER)
    return FALSE;
  header = self->held + self->held_at;
  return held - RECORD_HEADER >= ((gsize) header[3] << 8 | header[4]);
}

static void
release_held (GiosTlsInput *self)
{
  g_clear_pointer (&self->held, g_free);
  self->held_at = self->held_end = 0;
}

/* Hands out up to @count held bytes. */
static gsize
take_held (GiosTlsInput *self,
           guint8       *buffer,
           gsize         count)
{
  gsize n = MIN (count, self->held_end - self->held_at);

  memcpy (buffer, self->held + self->held_at, n);
  self->held_at += n;
  if (self->held_at == self->held_end)
    release_held (self);
  return n;
}

static gssize
receive_now (GiosTlsInput  *self,
             guint8        *buffer,
             gsize          size,
             GError       **error)
{
  int fd = g_socket_get_fd (self->socket);
  gssize n;
  int errsv;

  do
    n = recv (fd, buffer, size, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return n;
  errsv = errno;
  if (errsv == EAGAIN || errsv == EWOULDBLOCK)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                         g_strerror (errsv));
  else
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                 _("Error receiving data: %s"), g_strerror (errsv));
  return -1;
}

static gssize
gios_tls_input_read_nonblocking (GPollableInputStream  *pollable,
                                 void                  *buffer,
                                 gsize                  count,
                                 GError               **error)
{
  GiosTlsInput *self = (GiosTlsInput *) pollable;
  gssize n;

  if (self->held != NULL)
    return take_held (self, buffer, count);
  if (g_socket_is_closed (self->socket))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, _("Socket is already closed"));
      return -1;
    }
  /* A piece as large as the block goes where it is wanted. */
  if (count >= self->ahead)
    return receive_now (self, buffer, count, error);

  self->held = g_malloc (self->ahead);
  n = receive_now (self, self->held, self->ahead, error);
  if (n <= 0)
    {
      release_held (self);
      return n;
    }
  self->held_end = n;
  self->ahead = (gsize) n == self->ahead ? READ_AHEAD_BULK : READ_AHEAD;
  return take_held (self, buffer, count);
}

static gssize
gios_tls_input_read (GInputStream  *stream,
                     void          *buffer,
                     gsize          count,
                     GCancellable  *cancellable,
                     GError       **error)
{
  GiosTlsInput *self = GIOS_TLS_INPUT (stream);

  /* The handshake's blocking reads (on GIO's handshake thread): GSocket
   * waits, and the handshake's cancellable ends the wait. */
  if (self->held != NULL)
    return take_held (self, buffer, count);
  return g_socket_receive_with_blocking (self->socket, buffer, count, TRUE, cancellable, error);
}

static gboolean
gios_tls_input_is_readable (GPollableInputStream *pollable)
{
  GiosTlsInput *self = GIOS_TLS_INPUT (pollable);

  return self->held != NULL || g_socket_condition_check (self->socket, G_IO_IN) != 0;
}

static GSource *
gios_tls_input_create_source (GPollableInputStream *pollable,
                              GCancellable         *cancellable)
{
  GiosTlsInput *self = GIOS_TLS_INPUT (pollable);
  g_autoptr(GSource) ready = NULL;

  if (self->held != NULL)
    ready = g_timeout_source_new (0);
  else
    ready = g_socket_create_source (self->socket, G_IO_IN, NULL);
  return g_pollable_source_new_full (pollable, ready, cancellable);
}

static gboolean
gios_tls_input_can_poll (GPollableInputStream *pollable)
{
  return TRUE;
}

static gboolean
gios_tls_input_close (GInputStream  *stream,
                      GCancellable  *cancellable,
                      GError       **error)
{
  release_held (GIOS_TLS_INPUT (stream));
  return TRUE;
}

static void
gios_tls_input_finalize (GObject *object)
{
  GiosTlsInput *self = GIOS_TLS_INPUT (object);

  release_held (self);
  g_clear_object (&self->socket);
  G_OBJECT_CLASS (gios_tls_input_parent_class)->finalize (object);
}

static void
gios_tls_input_class_init (GiosTlsInputClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  object_class->finalize = gios_tls_input_finalize;
  stream_class->read_fn = gios_tls_input_read;
  stream_class->close_fn = gios_tls_input_close;
}

static void
gios_tls_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = gios_tls_input_can_poll;
  iface->is_readable = gios_tls_input_is_readable;
  iface->create_source = gios_tls_input_create_source;
  iface->read_nonblocking = gios_tls_input_read_nonblocking;
}

static void
gios_tls_input_init (GiosTlsInput *self)
{
}
