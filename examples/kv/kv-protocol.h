/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small key-value service, as a gio-socket protocol helper: a GiosSocket
 * subclass whose run() serves one connection with
 * gios_device_stream_execute(), and whose handle_request() class method
 * answers the requests. Serve it with gios_server_socket_listen_job() and
 * socket-type set to KV_TYPE_PROTOCOL.
 *
 * Every request and reply is a message (LIST-FORMAT.md §7) whose payload is
 * $LIST items:
 *
 *   request            items               reply status, items
 *   "ST" set           key, value          0
 *   "GT" get           key                 0, value  |  100 (not found)
 *   "DL" delete        key                 0         |  100 (not found)
 *   "LK" list keys     (none)              0, the keys in order
 *   "DC" disconnect    (none)              no reply: the connection ends
 *
 * A request with the wrong items gets status 400 and a message; an unknown
 * code gets status 501 and a message. A value is any $LIST item; keys are
 * strings. The store is shared by every connection of the process.
 */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

enum {
  KV_STATUS_OK = 0,
  KV_STATUS_NOT_FOUND = 100,
  KV_STATUS_BAD_REQUEST = 400,
  KV_STATUS_UNKNOWN_CODE = 501,
};

/* How long a connection may stay silent between requests. */
#define KV_IDLE_TIMEOUT_MS (60 * 1000)

#define KV_TYPE_PROTOCOL (kv_protocol_get_type ())
G_DECLARE_FINAL_TYPE (KvProtocol, kv_protocol, KV, PROTOCOL, GiosSocket)

/* Empties the store shared by all connections. */
void kv_store_reset (void);

G_END_DECLS
