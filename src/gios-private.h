/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "config.h"

#include <glib/gi18n-lib.h>
#include <gios/gios.h>

G_BEGIN_DECLS

void     _gios_init_i18n          (void);
GIOErrorEnum _gios_io_error_from_errno (int errsv);
/* Sets @error from errno @errsv, with the message "@prefix: strerror". */
void     _gios_set_error_from_errno (GError     **error,
                                     int          errsv,
                                     const char  *format,
                                     ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
