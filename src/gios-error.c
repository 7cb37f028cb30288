/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gios-private.h"

#include <errno.h>
#include <string.h>

/**
 * gios_error_quark:
 *
 * The error domain of gio-socket's own errors; see [error@Gios.Error].
 *
 * Returns: the quark of %GIOS_ERROR
 *
 * Since: 0.1
 */
G_DEFINE_QUARK (gios-error-quark, gios_error)

void
_gios_init_i18n (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_once_init_leave (&initialized, 1);
    }
}

GIOErrorEnum
_gios_io_error_from_errno (int errsv)
{
  switch (errsv)
    {
    case EADDRNOTAVAIL:
      /* Binding an address that is not this machine's. */
      return G_IO_ERROR_INVALID_ARGUMENT;
    case ECONNRESET:
    case EPIPE:
      return G_IO_ERROR_CONNECTION_CLOSED;
    default:
      return g_io_error_from_errno (errsv);
    }
}

void
_gios_set_error_from_errno (GError     **error,
                            int          errsv,
                            const char  *format,
                            ...)
{
  va_list args;

  if (error == NULL)
    return;
  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (G_IO_ERROR, _gios_io_error_from_errno (errsv), format, args));
  va_end (args);
}

const char *
_gios_error_message (GError **error)
{
  return error != NULL && *error != NULL ? (*error)->message : "";
}

void
_gios_reword_error (GError     **error,
                    const char  *format,
                    ...)
{
  va_list args;
  char *message;

  if (error == NULL || *error == NULL)
    return;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_free ((*error)->message);
  (*error)->message = message;
}
