/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the subcommands of the gio-socket tool share.
 */
#pragma once

#include "config.h"

#include <gios/gios.h>
#include <glib/gi18n.h>

G_BEGIN_DECLS

/* Exit statuses, as the `gio` tool uses them: TOOL_EXIT_USAGE when the
 * command line is wrong (an unknown command or option, a missing or extra
 * argument, an option value of the wrong form), TOOL_EXIT_FAILED when the
 * command fails on its input (JSON, $LIST, hexadecimal) or at run time. */
enum
{
  TOOL_EXIT_OK = 0,
  TOOL_EXIT_FAILED = 1,
  TOOL_EXIT_USAGE = 2,
};

/* A subcommand: argv[0] is the command's name. */
typedef int (*ToolCommandFunc) (int argc, char **argv);

int   tool_serve   (int argc, char **argv);
int   tool_connect (int argc, char **argv);
int   tool_list    (int argc, char **argv);
int   tool_demo    (int argc, char **argv);

/* A GOptionContext for `gio-socket COMMAND`, translated, with @parameters
 * ("HOST PORT") and @summary shown by --help. */
GOptionContext *tool_option_context_new (const char   *command,
                                          const char   *parameters,
                                          const char   *summary,
                                          const char   *description,
                                          GOptionEntry *entries);

/* Parses the options; on a usage error prints one line and returns FALSE
 * (exit with TOOL_EXIT_USAGE). */
gboolean tool_parse_options (GOptionContext  *context,
                             const char      *command,
                             int             *argc,
                             char          ***argv);

/* Prints "gio-socket COMMAND: MESSAGE; try “gio-socket COMMAND --help”" on
 * standard error and returns TOOL_EXIT_USAGE. */
int   tool_usage_error (const char *command,
                        const char *format,
                        ...) G_GNUC_PRINTF (2, 3);

/* Prints "gio-socket COMMAND: ERROR; HINT" on standard error and returns
 * TOOL_EXIT_FAILED. When @hint is NULL it is chosen from @command and
 * @error, and left out when the error's message says what to do. */
int   tool_fail (const char   *command,
                 const GError *error,
                 const char   *hint);

/* Ends @command: returns TOOL_EXIT_OK when @error is NULL, else reports and
 * frees @error as tool_fail() does and returns TOOL_EXIT_FAILED. */
int   tool_finish (const char *command,
                   GError     *error);

/* "127.0.0.1:8080", "[::1]:8080" or "unix:/run/x.sock". */
char *tool_address_to_string (GSocketAddress *address);

G_END_DECLS
