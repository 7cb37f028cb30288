/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key-value protocol helper: see kv-protocol.h for the messages. */

#include "kv-protocol.h"

#include <stdlib.h>
#include <string.h>

struct _KvProtocol
{
  GiosSocket parent_instance;
};

G_DEFINE_FINAL_TYPE (KvProtocol, kv_protocol, GIOS_TYPE_SOCKET)

/* The store: key (char *) to value (GVariant *), shared by every connection,
 * each served on a thread of its own. */
static GMutex store_lock;
static GHashTable *store;

static GHashTable *
store_get (void)
{
  if (store == NULL)
    store = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify) g_variant_unref);
  return store;
}

void
kv_store_reset (void)
{
  g_mutex_lock (&store_lock);
  g_clear_pointer (&store, g_hash_table_unref);
  g_mutex_unlock (&store_lock);
}

static GiosMessage *
reply_with (GiosMessage *request,
            guint16      status,
            GVariant    *items)
{
  GiosMessage *reply = gios_message_new_reply (request, status, NULL);

  if (items != NULL && !gios_message_set_items (reply, items, NULL))
    g_assert_not_reached ();
  return reply;
}

static GiosMessage *
bad_request (GiosMessage *request,
             const char  *why)
{
  return reply_with (request, KV_STATUS_BAD_REQUEST, g_variant_new_parsed ("[<%s>]", why));
}

static int
compare_keys (const void *a,
              const void *b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static GiosMessage *
kv_protocol_handle_request (GiosDeviceStream *stream,
                            GiosMessage      *request)
{
  g_autoptr(GVariant) items = NULL;
  GVariant *value;
  g_autofree char *key = NULL;
  GiosMessage *reply = NULL;
  const char *code = gios_message_get_code_string (request);
  gsize want;

  if (g_strcmp0 (code, "ST") == 0)
    want = 2;
  else if (g_strcmp0 (code, "GT") == 0 || g_strcmp0 (code, "DL") == 0)
    want = 1;
  else if (g_strcmp0 (code, "LK") == 0)
    want = 0;
  else
    return NULL;  /* not ours: execute() hands it back to run() */

  items = gios_message_get_items (request, NULL);
  if (items == NULL || g_variant_n_children (items) != want)
    return bad_request (request, "wrong number of items");
  if (want > 0)
    {
      g_autoptr(GVariant) first = g_variant_get_child_value (items, 0);
      g_autoptr(GVariant) k = g_variant_get_variant (first);

      if (!g_variant_is_of_type (k, G_VARIANT_TYPE_STRING))
        return bad_request (request, "the key is not a string");
      key = g_variant_dup_string (k, NULL);
    }

  g_mutex_lock (&store_lock);
  switch (code[0])
    {
    case 'S':
      {
        g_autoptr(GVariant) second = g_variant_get_child_value (items, 1);

        g_hash_table_replace (store_get (), g_steal_pointer (&key), g_variant_get_variant (second));
        reply = reply_with (request, KV_STATUS_OK, NULL);
      }
      break;
    case 'G':
      value = g_hash_table_lookup (store_get (), key);
      if (value != NULL)
        {
          GVariant *boxed = g_variant_new_variant (value);

          reply = reply_with (request, KV_STATUS_OK,
                              g_variant_new_array (G_VARIANT_TYPE_VARIANT, &boxed, 1));
        }
      else
        reply = reply_with (request, KV_STATUS_NOT_FOUND, NULL);
      break;
    case 'D':
      reply = reply_with (request,
                          g_hash_table_remove (store_get (), key) ? KV_STATUS_OK : KV_STATUS_NOT_FOUND,
                          NULL);
      break;
    case 'L':
      {
        g_autofree const char **keys = (const char **) g_hash_table_get_keys_as_array (store_get (), NULL);
        GVariantBuilder builder;

        guint n = g_hash_table_size (store_get ());

        qsort (keys, n, sizeof (char *), compare_keys);
        g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
        for (guint i = 0; i < n; i++)
          g_variant_builder_add (&builder, "v", g_variant_new_string (keys[i]));
        reply = reply_with (request, KV_STATUS_OK, g_variant_builder_end (&builder));
      }
      break;
    default:
      g_assert_not_reached ();
    }
  g_mutex_unlock (&store_lock);

  return reply;
}

/* Serves one connection: a request at a time, until the client disconnects,
 * goes silent for KV_IDLE_TIMEOUT_MS, or the server closes. */
static void
kv_protocol_run (GiosSocket   *socket,
                 GCancellable *cancellable)
{
  GiosDeviceStream *stream = GIOS_DEVICE_STREAM (socket);

  for (;;)
    {
      g_autoptr(GiosMessage) request = NULL;
      g_autoptr(GiosMessage) reply = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *why = NULL;

      switch (gios_device_stream_execute (stream, KV_IDLE_TIMEOUT_MS, NULL, NULL, &request,
                                          cancellable, &error))
        {
        case GIOS_EXECUTE_REQUEST_DONE:
          continue;
        case GIOS_EXECUTE_UNHANDLED:
          if (gios_message_get_code_string (request) != NULL)
            why = g_strdup_printf ("unknown code %s", gios_message_get_code_string (request));
          else
            why = g_strdup_printf ("unknown code 0x%04x", gios_message_get_code (request));
          reply = reply_with (request, KV_STATUS_UNKNOWN_CODE, g_variant_new_parsed ("[<%s>]", why));
          if (gios_device_stream_send_message (stream, reply, cancellable, &error))
            continue;
          G_GNUC_FALLTHROUGH;
        case GIOS_EXECUTE_ERROR:
          g_debug ("kv: connection ends: %s", error->message);
          return;
        case GIOS_EXECUTE_STOPPED:
        default:
          return;
        }
    }
}

static void
kv_protocol_class_init (KvProtocolClass *klass)
{
  GIOS_SOCKET_CLASS (klass)->run = kv_protocol_run;
  GIOS_DEVICE_STREAM_CLASS (klass)->handle_request = kv_protocol_handle_request;
}

static void
kv_protocol_init (KvProtocol *self)
{
  /* A reply goes out within this; a client that does not read fails it. */
  gios_device_stream_set_default_timeout (GIOS_DEVICE_STREAM (self), 10 * 1000);
}
