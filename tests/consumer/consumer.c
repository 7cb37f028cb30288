/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A program outside the project, built against the installed headers and
 * library through `pkg-config gios-1`. */
#include <gios/gios.h>

#if !GIOS_CHECK_VERSION (0, 1, 0)
# error "gios-version.h is not installed right"
#endif

int
main (void)
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GError) error = NULL;

  if (!gios_server_socket_open_address (server, "127.0.0.1", "0", 1000, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_print ("consumer of gio-socket %s listened on port %u\n", GIOS_VERSION_S,
           gios_socket_common_get_port (GIOS_SOCKET_COMMON (server)));
  return 0;
}
