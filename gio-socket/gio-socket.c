/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gio-socket: the command-line tool. Subcommands follow the `gio` tool's
 * conventions: `gio-socket COMMAND [OPTIONS]`, `--help` on each, errors on
 * standard error in one line that says what to do, exit status 0, 1
 * (the command failed on its input or at run time) or 2 (the command line
 * is wrong).
 */
#include "gio-socket-tool.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  const char *name;
  ToolCommandFunc func;
  const char *summary;
} Command;

static const Command commands[] = {
  { "serve", tool_serve, N_("Serve connections: echo bytes or answer lines") },
  { "connect", tool_connect, N_("Connect standard input and output to a server") },
  { "list", tool_list, N_("Encode JSON as $LIST bytes, or decode them") },
  { "demo", tool_demo, N_("Show the device model on loopback") },
};

/* Every command's --help ends with it. */
static const char exit_status_rule[] =
  N_("Exit status: 0 on success; 1 when the command fails on its input or at run time (data "
     "that is not valid, a host, port or path that cannot be used, a connection that fails); "
     "2 when the command line is wrong (an unknown command or option, a missing or extra "
     "argument, an option value of the wrong form).");

static void
usage (FILE *out)
{
  fprintf (out, "%s\n", _("Usage:\n  gio-socket COMMAND [OPTION…]\n\nCommands:"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "\n%s\n", _("Use “gio-socket COMMAND --help” for help on a command."));
  fprintf (out, "\n%s\n", _(exit_status_rule));
}

GOptionContext *
tool_option_context_new (const char   *command,
                         const char   *parameters,
                         const char   *summary,
                         const char   *description,
                         GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new (parameters);
  g_autofree char *full_description = NULL;

  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, summary);
  if (description != NULL)
    full_description = g_strdup_printf ("%s\n\n%s", description, _(exit_status_rule));
  g_option_context_set_description (context, full_description != NULL ? full_description : _(exit_status_rule));
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  return context;
}

gboolean
tool_parse_options (GOptionContext  *context,
                    const char      *command,
                    int             *argc,
                    char          ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("gio-socket %s", command);

  /* --help shows "Usage: gio-socket COMMAND …". */
  g_set_prgname (prgname);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      tool_usage_error (command, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

int
tool_usage_error (const char *command,
                  const char *format,
                  ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  /* TRANSLATORS: the first %s is a command (serve, connect…), the second an
   * error message; keep the command line in quotes as it is. */
  g_printerr (_("gio-socket %s: %s; try “gio-socket %s --help”\n"), command, message, command);
  return TOOL_EXIT_USAGE;
}

/* What to do about @error from @command, or NULL when its message says all
 * there is to say. */
static const char *
hint_for (const char   *command,
          const GError *error)
{
  gboolean serving = g_str_equal (command, "serve");

  if (error->domain == G_RESOLVER_ERROR)
    return error->code == G_RESOLVER_ERROR_TEMPORARY_FAILURE
      ? _("check the host name and the network, then try again")
      : _("check the host name");
  if (error->domain != G_IO_ERROR)
    return NULL;
  switch (error->code)
    {
    case G_IO_ERROR_ADDRESS_IN_USE:
    case G_IO_ERROR_EXISTS:
      return _("choose another port or path, or stop the program using it");
    case G_IO_ERROR_PERMISSION_DENIED:
      return serving ? _("use a port above 1023, or a path in a directory you can write to")
                     : _("check the permissions of the socket file and of its directory");
    /* serve: a missing directory; connect: no socket at the path. */
    case G_IO_ERROR_NOT_FOUND:
      return serving ? _("create the directory first, or choose a path in one that exists")
                     : _("check that a server listens there, for example “gio-socket serve”");
    case G_IO_ERROR_CONNECTION_REFUSED:
      return _("check that a server listens there, for example “gio-socket serve”");
    case G_IO_ERROR_TIMED_OUT:
      return _("check the host and port, and that no firewall drops the packets");
    case G_IO_ERROR_HOST_NOT_FOUND:
    case G_IO_ERROR_HOST_UNREACHABLE:
    case G_IO_ERROR_NETWORK_UNREACHABLE:
      return _("check the host name and the network");
    case G_IO_ERROR_FILENAME_TOO_LONG:
      return _("use a shorter socket path");
    case G_IO_ERROR_NOT_DIRECTORY:
      return _("check the directory part of the path");
    default:
      return NULL;
    }
}

int
tool_fail (const char   *command,
           const GError *error,
           const char   *hint)
{
  if (hint == NULL)
    hint = hint_for (command, error);
  if (hint != NULL)
    /* TRANSLATORS: the first %s is a command (serve, connect…), then an
     * error message and what to do about it. */
    g_printerr (_("gio-socket %s: %s; %s\n"), command, error->message, hint);
  else
    /* TRANSLATORS: the first %s is a command (serve, connect…), then an
     * error message that says what to do itself. */
    g_printerr (_("gio-socket %s: %s\n"), command, error->message);
  return TOOL_EXIT_FAILED;
}

int
tool_finish (const char *command,
             GError     *error)
{
  g_autoptr(GError) owned = error;

  if (owned == NULL)
    return TOOL_EXIT_OK;
  return tool_fail (command, owned, NULL);
}

char *
tool_address_to_string (GSocketAddress *address)
{
  if (address == NULL)
    return g_strdup ("?");
  if (G_IS_UNIX_SOCKET_ADDRESS (address))
    return g_strdup_printf ("unix:%s", g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)));
  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (argc < 2)
    {
      usage (stderr);
      return TOOL_EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return TOOL_EXIT_OK;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      g_print ("gio-socket %s\n", PACKAGE_VERSION);
      return TOOL_EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].func (argc - 1, argv + 1);

  g_printerr (_("gio-socket: unknown command “%s”; try “gio-socket --help”\n"), argv[1]);
  return TOOL_EXIT_USAGE;
}
