/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GiosAsyncCall: the GAsyncResult of the asynchronous calls of a device
 * stream, a GTask that completes in the iteration that finished it.
 *
 * GTask calls back at once only in a later main-loop iteration than the one
 * that made it, and through an idle source otherwise: a flush that went out
 * at once, or a read whose line was buffered, costs the loop one more
 * iteration, and so one more poll(), per request. A call here is completed
 * through the reactor (gios-reactor.c) instead: when it is returned inside
 * the dispatch of its context's reactor, its callback runs in that dispatch
 * once the callback that is running has returned. Elsewhere (another
 * source's callback, another thread, outside any iteration) it runs from an
 * idle source on the call's context, as GTask's would.
 *
 * GIO's rules hold either way: the callback never runs inside the function
 * that made the call, always on the thread-default main context of the
 * thread that made it, and once. Calls returned in one dispatch call back
 * in the order they were returned. As with GTask, a call whose cancellable
 * was cancelled finishes with G_IO_ERROR_CANCELLED, its result dropped.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define GIOS_TYPE_ASYNC_CALL (_gios_async_call_get_type ())
G_DECLARE_FINAL_TYPE (GiosAsyncCall, _gios_async_call, GIOS, ASYNC_CALL, GObject)

/* Runs on a worker thread: returns the call there (see run_in_thread). */
typedef void (*GiosAsyncCallThreadFunc) (GiosAsyncCall *call,
                                         gpointer       source_object,
                                         gpointer       data,
                                         GCancellable  *cancellable);

/* A call of @source_object, on the caller's thread-default main context. */
GiosAsyncCall *_gios_async_call_new            (gpointer             source_object,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data,
                                                gpointer             source_tag);
/* The priority of the idle source, when one is needed. */
void          _gios_async_call_set_priority    (GiosAsyncCall       *call,
                                                int                  priority);
void          _gios_async_call_set_data        (GiosAsyncCall       *call,
                                                gpointer             data,
                                                GDestroyNotify       notify);
gpointer      _gios_async_call_get_data        (GiosAsyncCall       *call);
/* Not a new reference. */
gpointer      _gios_async_call_get_source_object (GiosAsyncCall     *call);
GMainContext *_gios_async_call_get_context     (GiosAsyncCall       *call);

/* Each call is returned once, from any thread. */
void          _gios_async_call_return_pointer  (GiosAsyncCall       *call,
                                                gpointer             result,
                                                GDestroyNotify       notify);
void          _gios_async_call_return_boolean  (GiosAsyncCall       *call,
                                                gboolean             result);
/* Takes @error. */
void          _gios_async_call_return_error    (GiosAsyncCall       *call,
                                                GError              *error);
/* Returns G_IO_ERROR_CANCELLED, and TRUE, when the cancellable is. */
gboolean      _gios_async_call_return_error_if_cancelled (GiosAsyncCall *call);
/* Runs @func on a worker thread, for a device that cannot be waited on
 * without blocking. */
void          _gios_async_call_run_in_thread   (GiosAsyncCall           *call,
                                                GiosAsyncCallThreadFunc  func);

/* For the _finish() functions: @result is a call of @source_object tagged
 * @source_tag. */
gboolean      _gios_async_call_is_valid        (GAsyncResult        *result,
                                                gpointer             source_object,
                                                gpointer             source_tag);
gpointer      _gios_async_call_propagate_pointer (GiosAsyncCall     *call,
                                                  GError           **error);
gboolean      _gios_async_call_propagate_boolean (GiosAsyncCall     *call,
                                                  GError           **error);

G_END_DECLS
