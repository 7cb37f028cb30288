/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Drives the key-value protocol helper: a GiosServerSocket serving
 * KvProtocol with listen_job() on a thread, and GiosSocket clients on the
 * test's thread, on 127.0.0.1, port 0.
 */

#include "kv-protocol.h"

#include <string.h>

typedef struct {
  GiosServerSocket *server;
  GCancellable *cancellable;
  GThread *thread;
  char *port;
} Server;

static gpointer
serve (gpointer data)
{
  Server *s = data;

  /* Bounded: each round waits at most a second, and cancellation ends it. */
  for (guint round = 0; round < 120 && !g_cancellable_is_cancelled (s->cancellable); round++)
    if (gios_server_socket_listen_job (s->server, 1000, 8, NULL, NULL, NULL,
                                       s->cancellable, NULL) < 0)
      break;
  return NULL;
}

static Server *
server_start (void)
{
  g_autoptr(GError) error = NULL;
  Server *s = g_new0 (Server, 1);

  kv_store_reset ();
  s->server = gios_server_socket_new ();
  gios_server_socket_set_socket_type (s->server, KV_TYPE_PROTOCOL);
  g_assert_true (gios_server_socket_open_address (s->server, "127.0.0.1", "0", 1000, &error));
  g_assert_no_error (error);
  s->port = g_strdup_printf ("%u", gios_socket_common_get_port (GIOS_SOCKET_COMMON (s->server)));
  s->cancellable = g_cancellable_new ();
  s->thread = g_thread_new ("kv-server", serve, s);
  return s;
}

static void
server_stop (Server *s)
{
  g_cancellable_cancel (s->cancellable);
  g_thread_join (s->thread);
  /* The clients have gone, so the jobs end by themselves. Wait for that
   * before closing: close() dropping a connection while its job is closing
   * it races inside GiosSocketCommon (see kv-server.c). */
  g_assert_true (gios_server_socket_wait_jobs (s->server, 5000, NULL));
  g_assert_true (gios_server_socket_close (s->server, NULL));
  g_object_unref (s->server);
  g_object_unref (s->cancellable);
  g_free (s->port);
  g_free (s);
  kv_store_reset ();
}

static GiosSocket *
client_open (Server *s)
{
  g_autoptr(GError) error = NULL;
  GiosSocket *client = gios_socket_new ();

  g_assert_true (gios_socket_open (client, "127.0.0.1", s->port, 1000, NULL, &error));
  g_assert_no_error (error);
  return client;
}

/* Sends a request with the items of @items_text (a GVariant text of type av)
 * and returns the reply, whose message id must match. */
static GiosMessage *
call (GiosSocket *client,
      guint32     id,
      const char *code,
      const char *items_text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosMessage) request = gios_message_new_request (id, 0, code, NULL);
  GiosMessage *reply;

  if (items_text != NULL)
    {
      g_autoptr(GVariant) items = g_variant_parse (G_VARIANT_TYPE ("av"), items_text, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_true (gios_message_set_items (request, items, &error));
    }
  g_assert_true (gios_device_stream_send_message (GIOS_DEVICE_STREAM (client), request, NULL, &error));
  g_assert_no_error (error);
  reply = gios_device_stream_receive_message (GIOS_DEVICE_STREAM (client), 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
  g_assert_cmpuint (gios_message_get_message_id (reply), ==, id);
  g_assert_cmpint (gios_message_get_kind (reply), ==, GIOS_MESSAGE_KIND_STATUS);
  return reply;
}

static void
assert_reply (GiosMessage *reply,
              guint16      status,
              const char  *items_text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) items = gios_message_get_items (reply, &error);
  g_autofree char *printed = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (gios_message_get_code (reply), ==, status);
  printed = g_variant_print (items, FALSE);
  g_assert_cmpstr (printed, ==, items_text);
  gios_message_unref (reply);
}

static void
test_kv_session (void)
{
  Server *s = server_start ();
  g_autoptr(GiosSocket) client = client_open (s);
  g_autoptr(GError) error = NULL;
  g_autoptr(GiosMessage) bye = NULL;
  g_autoptr(GiosMessage) end = NULL;
  guint32 id = 0;

  assert_reply (call (client, id++, "LK", NULL), KV_STATUS_OK, "[]");
  assert_reply (call (client, id++, "ST", "[<'b'>, <'two'>]"), KV_STATUS_OK, "[]");
  assert_reply (call (client, id++, "ST", "[<'a'>, <int64 1>]"), KV_STATUS_OK, "[]");
  assert_reply (call (client, id++, "ST", "[<'c'>, <@mv nothing>]"), KV_STATUS_OK, "[]");
  assert_reply (call (client, id++, "GT", "[<'b'>]"), KV_STATUS_OK, "[<'two'>]");
  assert_reply (call (client, id++, "GT", "[<'a'>]"), KV_STATUS_OK, "[<int64 1>]");
  assert_reply (call (client, id++, "GT", "[<'c'>]"), KV_STATUS_OK, "[<@mv nothing>]");
  assert_reply (call (client, id++, "LK", NULL), KV_STATUS_OK, "[<'a'>, <'b'>, <'c'>]");
  assert_reply (call (client, id++, "ST", "[<'a'>, <'one'>]"), KV_STATUS_OK, "[]");
  assert_reply (call (client, id++, "GT", "[<'a'>]"), KV_STATUS_OK, "[<'one'>]");
  assert_reply (call (client, id++, "DL", "[<'a'>]"), KV_STATUS_OK, "[]");
  assert_reply (call (client, id++, "DL", "[<'a'>]"), KV_STATUS_NOT_FOUND, "[]");
  assert_reply (call (client, id++, "GT", "[<'a'>]"), KV_STATUS_NOT_FOUND, "[]");
  assert_reply (call (client, id++, "LK", NULL), KV_STATUS_OK, "[<'b'>, <'c'>]");

  /* Bad requests and an unknown code are answered, and the session goes on. */
  assert_reply (call (client, id++, "GT", NULL), KV_STATUS_BAD_REQUEST, "[<'wrong number of items'>]");
  assert_reply (call (client, id++, "GT", "[<int64 5>]"), KV_STATUS_BAD_REQUEST, "[<'the key is not a string'>]");
  assert_reply (call (client, id++, "ZZ", NULL), KV_STATUS_UNKNOWN_CODE, "[<'unknown code ZZ'>]");
  assert_reply (call (client, id++, "GT", "[<'b'>]"), KV_STATUS_OK, "[<'two'>]");

  /* Disconnect: no reply, and the server ends the connection. */
  bye = gios_message_new_request (id, 0, "DC", NULL);
  g_assert_true (gios_device_stream_send_message (GIOS_DEVICE_STREAM (client), bye, NULL, &error));
  end = gios_device_stream_receive_message (GIOS_DEVICE_STREAM (client), 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (end);

  g_clear_object (&client);
  server_stop (s);
}

/* Two clients at once share the store, each on a job of its own. */
static void
test_kv_two_clients (void)
{
  Server *s = server_start ();
  g_autoptr(GiosSocket) one = client_open (s);
  g_autoptr(GiosSocket) two = client_open (s);

  assert_reply (call (one, 0, "ST", "[<'k'>, <[byte 0x61, 0x00, 0x62]>]"), KV_STATUS_OK, "[]");
  assert_reply (call (two, 0, "GT", "[<'k'>]"), KV_STATUS_OK, "[<[byte 0x61, 0x00, 0x62]>]");
  assert_reply (call (two, 1, "ST", "[<'k2'>, <'€uro'>]"), KV_STATUS_OK, "[]");
  assert_reply (call (one, 1, "LK", NULL), KV_STATUS_OK, "[<'k'>, <'k2'>]");
  assert_reply (call (one, 2, "GT", "[<'k2'>]"), KV_STATUS_OK, "[<'€uro'>]");

  /* A client that just closes ends its job too. */
  g_clear_object (&one);
  g_clear_object (&two);
  server_stop (s);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/kv/session", test_kv_session);
  g_test_add_func ("/kv/two-clients", test_kv_two_clients);

  return g_test_run ();
}
