/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#define GIOS_INSIDE
# include <gios/gios-version.h>
# include <gios/gios-types.h>
# include <gios/gios-error.h>
# include <gios/gios-enum-types.h>
# include <gios/gios-device-stream.h>
# include <gios/gios-socket-common.h>
# include <gios/gios-socket.h>
# include <gios/gios-server-socket.h>
# include <gios/gios-list.h>
# include <gios/gios-message.h>
#undef GIOS_INSIDE
