/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (GIOS_INSIDE) && !defined (GIOS_COMPILATION)
# error "Only <gios/gios.h> can be included directly."
#endif

#include <glib.h>
#include <gios/gios-version.h>

G_BEGIN_DECLS

/**
 * GIOS_ERROR:
 *
 * The error domain of gio-socket's own errors. Failures that GIO already
 * has a word for are reported in the `G_IO_ERROR` domain instead.
 *
 * Since: 0.1
 */
#define GIOS_ERROR (gios_error_quark ())

/**
 * GiosError:
 * @GIOS_ERROR_FAILED: a failure with no more specific code
 * @GIOS_ERROR_NOT_CONNECTED: the object has no connection to read from or
 *   write to (a server socket before [method@Gios.ServerSocket.listen], or
 *   after [method@Gios.SocketCommon.drop_connection])
 * @GIOS_ERROR_LINE_TOO_LONG: a line did not end within the allowed length;
 *   its bytes are left unread
 * @GIOS_ERROR_TOO_LARGE: a size the peer sent is above the configured limit,
 *   or lists nest deeper than %GIOS_LIST_MAX_DEPTH
 * @GIOS_ERROR_MALFORMED: the bytes received do not follow the format
 * @GIOS_ERROR_UNSUPPORTED: a well-formed value of a kind gio-socket does
 *   not handle
 *
 * Error codes in the %GIOS_ERROR domain.
 *
 * Since: 0.1
 */
typedef enum {
  GIOS_ERROR_FAILED,
  GIOS_ERROR_NOT_CONNECTED,
  GIOS_ERROR_LINE_TOO_LONG,
  GIOS_ERROR_TOO_LARGE,
  GIOS_ERROR_MALFORMED,
  GIOS_ERROR_UNSUPPORTED,
} GiosError;

GIOS_AVAILABLE_IN_ALL
GQuark gios_error_quark (void);

G_END_DECLS
