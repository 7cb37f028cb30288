#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Translations: a German error message arrives in Python.

Run with LANGUAGE=de, LC_ALL=C.UTF-8 and GIOS_TEST_LOCALEDIR pointing at the
catalogs built in the build tree; see tests/i18n.c for why the test, not the
library, points the text domain there."""
import locale
import os
import unittest

import gi
gi.require_version("Gios", "1.0")
from gi.repository import Gio, Gios  # noqa: E402

from giostest import TestCase  # noqa: E402


class I18n(TestCase):
    def test_german_error(self):
        locale.setlocale(locale.LC_ALL, "")  # Python starts in the C locale
        server = Gios.ServerSocket.new()       # the library binds its domain
        locale.bindtextdomain("gios", os.environ["GIOS_TEST_LOCALEDIR"])
        server.open_address("127.0.0.1", "0", 1000)
        error = self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: server.listen(10, None))
        self.assertEqual(error.message,
                         f"Auf Port {server.props.port} ist innerhalb von 10 ms keine Verbindung eingegangen")


if __name__ == "__main__":
    unittest.main(verbosity=2)
