/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a server sets on the device streams it serves (gios-acceptor.c,
 * gios-server-socket.c, and the idle drop of gios-socket-common.c): the
 * main loop a connection is served from, and the longest a read may wait.
 */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

/* A main context whose dispatches touch the stream (a server's accepting):
 * teardowns hold it, or run there when it runs on another thread. */
void     _gios_device_stream_add_context     (GiosDeviceStream  *self,
                                              GMainContext      *context);
void     _gios_device_stream_remove_context  (GiosDeviceStream  *self,
                                              GMainContext      *context);
/* The connection is served from @context's main loop (accepted by start()):
 * implicit sends do not wait on that loop's thread. */
void     _gios_device_stream_set_loop        (GiosDeviceStream  *self,
                                              GMainContext      *context);
/* The longest any read may wait, in milliseconds (-1: no cap): a server's
 * idle-timeout on the connections it accepts. A stream served from a main
 * loop that receives nothing for that long calls @on_idle there, which a
 * subclass sets once. */
typedef void (*GiosIdleFunc) (GiosDeviceStream *self,
                              int               idle_ms);
void     _gios_device_stream_set_read_cap    (GiosDeviceStream  *self,
                                              int                cap_ms);
void     _gios_device_stream_set_idle_func   (GiosDeviceStream  *self,
                                              GiosIdleFunc       on_idle);

G_END_DECLS
