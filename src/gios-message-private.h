/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The message layer's settings on a GiosDeviceStream (max-message-size,
 * stop-code): the message layer owns their storage and their docs; the
 * stream installs them as its properties and hands their ids over.
 */
#pragma once

#include <gios/gios.h>

G_BEGIN_DECLS

/* Installs the properties with ids from @first_id on. */
void     _gios_message_install_properties (GObjectClass *klass,
                                           guint         first_id);
/* @id counts from the first of these properties; FALSE: not one of them. */
gboolean _gios_message_get_property       (GObject      *object,
                                           guint         id,
                                           GValue       *value);
gboolean _gios_message_set_property       (GObject      *object,
                                           guint         id,
                                           const GValue *value);

G_END_DECLS
