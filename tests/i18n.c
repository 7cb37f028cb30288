/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Translations: German and French error messages arrive from the library,
 * typeset as each language writes.
 *
 * Run with LANGUAGE=de and LC_ALL=C.UTF-8 (LANGUAGE is ignored under the C
 * locale). The library binds its text domain to the installed LOCALEDIR the
 * first time one of its classes is used; the test checks that, then points
 * the domain at the catalogs built in the build tree
 * (GIOS_TEST_LOCALEDIR=build/po, laid out as de/LC_MESSAGES/gios.mo), so
 * the library itself needs no test-only code path.
 */
#include "config.h"

#include <gios/gios.h>
#include <glib/gi18n-lib.h>
#include <errno.h>
#include <locale.h>
#include <string.h>

#include "gios-test-utils.h"

static void
test_i18n_domain_bound (void)
{
  /* The domain is bound when the first class is initialised. */
  g_type_class_unref (g_type_class_ref (GIOS_TYPE_SERVER_SOCKET));
  g_assert_cmpstr (bindtextdomain (GETTEXT_PACKAGE, NULL), ==, LOCALEDIR);
}

static void
test_i18n_german_error (void)
{
  const char *localedir = g_getenv ("GIOS_TEST_LOCALEDIR");
  g_autoptr(GiosServerSocket) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;

  if (localedir == NULL || g_strcmp0 (g_getenv ("LANGUAGE"), "de") != 0)
    {
      g_test_skip ("needs GIOS_TEST_LOCALEDIR and LANGUAGE=de");
      return;
    }
  server = gios_test_open_loopback_server ();  /* binds the domain to LOCALEDIR */
  bindtextdomain (GETTEXT_PACKAGE, localedir);

  g_assert_false (gios_server_socket_listen (server, 10, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  expected = g_strdup_printf ("Auf Port %u ist innerhalb von 10 ms keine Verbindung eingegangen",
                              gios_test_server_port (server));
  g_assert_cmpstr (error->message, ==, expected);
}

/* glibc's count of loaded catalogs: a change invalidates the translations
 * it has cached, which are keyed by locale and not by LANGUAGE. */
extern int _nl_msg_cat_cntr;

/* Translates from now on into @language, with the build tree's catalogs. */
static gboolean
use_language (const char *language)
{
  const char *localedir = g_getenv ("GIOS_TEST_LOCALEDIR");

  if (localedir == NULL)
    return FALSE;
  /* The library binds its domain when its first class is initialised. */
  g_type_class_unref (g_type_class_ref (GIOS_TYPE_SERVER_SOCKET));
  bindtextdomain (GETTEXT_PACKAGE, localedir);
  g_setenv ("LANGUAGE", language, TRUE);
  ++_nl_msg_cat_cntr;
  return TRUE;
}

/* The message of opening a Unix-domain server in a directory that does
 * not exist, up to the system's reason, which glibc translates or not. */
static char *
missing_directory_message (void)
{
  g_autoptr(GiosServerSocket) server = gios_server_socket_new ();
  g_autoptr(GError) error = NULL;
  const char *reason;

  g_assert_false (gios_server_socket_open_unix (server, "/nonexistent/dir/x.sock", 0600, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  reason = g_strerror (ENOENT);
  g_assert_true (g_str_has_suffix (error->message, reason));
  return g_strndup (error->message, strlen (error->message) - strlen (reason));
}

typedef struct
{
  const char *language;
  const char *expected;
} Typeset;

/* German quotes „…“ round a path; French « … » with non-breaking spaces
 * inside and before the colon; both in one sentence, as translated. */
static const Typeset typeset[] = {
  { "de", "Das Verzeichnis „/nonexistent/dir“ kann nicht verwendet werden: " },
  { "fr", "Impossible d’utiliser le répertoire «\u00a0/nonexistent/dir\u00a0»\u00a0: " },
};

static void
test_i18n_typeset (gconstpointer data)
{
  const Typeset *t = data;
  g_autofree char *message = NULL;

  if (!use_language (t->language))
    {
      g_test_skip ("needs GIOS_TEST_LOCALEDIR");
      return;
    }
  message = missing_directory_message ();
  g_assert_cmpstr (message, ==, t->expected);
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "");
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/i18n/domain-bound", test_i18n_domain_bound);
  g_test_add_func ("/i18n/german-error", test_i18n_german_error);
  g_test_add_data_func ("/i18n/german-quotes", &typeset[0], test_i18n_typeset);
  g_test_add_data_func ("/i18n/french-spacing", &typeset[1], test_i18n_typeset);

  return g_test_run ();
}
