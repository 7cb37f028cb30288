/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The input that a TLS session reads its records from: the connection's
 * socket, read ahead. See gios-tls-input.c.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define GIOS_TYPE_TLS_INPUT (gios_tls_input_get_type ())
G_DECLARE_FINAL_TYPE (GiosTlsInput, gios_tls_input, GIOS, TLS_INPUT, GInputStream)

/* A pollable input stream over @socket (a connected stream socket; the
 * stream keeps a reference on it and never closes it). */
GInputStream *gios_tls_input_new         (GSocket      *socket);

/* Whether bytes read from the socket wait in the stream: the descriptor
 * no longer shows them. */
gboolean      gios_tls_input_has_held    (GiosTlsInput *self);
/* Whether they hold a whole TLS record, which the session can decrypt
 * without reading the socket. */
gboolean      gios_tls_input_holds_record (GiosTlsInput *self);

G_END_DECLS
