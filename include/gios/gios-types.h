/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined (GIOS_INSIDE) && !defined (GIOS_COMPILATION)
# error "Only <gios/gios.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * GIOS_TIMEOUT_FOREVER:
 *
 * A `timeout_ms` value that waits without limit.
 *
 * Since: 0.1
 */
#define GIOS_TIMEOUT_FOREVER (-1)

/**
 * GIOS_TIMEOUT_DEFAULT:
 *
 * A `timeout_ms` value that uses the stream's
 * [property@Gios.DeviceStream:default-timeout].
 *
 * Since: 0.1
 */
#define GIOS_TIMEOUT_DEFAULT (-2)

/**
 * GIOS_DEFAULT_MAX_LINE_LENGTH:
 *
 * The line length limit that [method@Gios.DeviceStream.read_line] applies
 * when it is given a `max_length` of 0.
 *
 * Since: 0.1
 */
#define GIOS_DEFAULT_MAX_LINE_LENGTH (64 * 1024)

typedef struct _GiosMessage GiosMessage;

G_END_DECLS
