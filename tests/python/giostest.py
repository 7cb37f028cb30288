# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the Python tests share: a TestCase that checks GLib errors."""

import unittest

import gi

gi.require_version("Gios", "1.0")
from gi.repository import Gio, GLib  # noqa: E402


class TestCase(unittest.TestCase):
    def assertGError(self, domain, code, fn):
        """Calls fn, which must raise the GLib.Error domain/code; returns it."""
        with self.assertRaises(GLib.Error) as caught:
            fn()
        self.assertTrue(caught.exception.matches(domain, code), caught.exception.message)
        return caught.exception

    def assertIOError(self, code, fn):
        """assertGError for a Gio.IOErrorEnum code."""
        return self.assertGError(Gio.io_error_quark(), code, fn)
