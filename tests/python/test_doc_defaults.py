# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every property's reference page states its default, and it is the real one.

Reads the property doc comments (`GiosClass:name:`) of src/*.c, where each
says "Default: `X`." in one paragraph, and compares X with the default of
the GParamSpec found through introspection: TRUE/FALSE, a number, a C
string literal, NULL, an enum value's C name, or a type name."""

import glob
import json
import os
import re
import unittest

import gi

gi.require_version("Gios", "1.0")
from gi.repository import GObject, Gios  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
CLASSES = [Gios.DeviceStream, Gios.SocketCommon, Gios.ServerSocket, Gios.Socket]
PROPERTY_DOC = re.compile(r"^\s*/\*\*\s*\n\s*\* (Gios\w+):([a-z0-9-]+):\s*\n(.*?)\*/", re.M | re.S)
DEFAULT = re.compile(r"^\s*\* Default: `([^`]*)`", re.M)


def documented_defaults():
    """{(class name, property): [stated defaults]} from the doc comments."""
    found = {}
    for path in sorted(glob.glob(os.path.join(SRC, "*.c"))):
        with open(path, encoding="utf-8") as f:
            for m in PROPERTY_DOC.finditer(f.read()):
                found[(m.group(1), m.group(2))] = DEFAULT.findall(m.group(3))
    return found


def as_written(pspec):
    """The default of pspec, written as the doc comments write it."""
    if pspec.value_type.is_a(GObject.TYPE_OBJECT):
        return "NULL"                   # object properties always start NULL
    if pspec.value_type == GObject.TYPE_GTYPE:
        # PyGObject exposes no default for a GType property; a new object's
        # value is the one g_param_value_set_default gives (is_a_type).
        return None
    value = pspec.default_value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return json.dumps(value)        # a C string literal for ASCII text
    if isinstance(value, GObject.GEnum):
        return value.value_name         # the C name of the value
    return str(value)


class DocDefaultsTest(unittest.TestCase):
    def test_every_property_states_its_default(self):
        docs = documented_defaults()
        checked = 0
        for cls in CLASSES:
            type_name = cls.__gtype__.name
            for pspec in cls.list_properties():
                if pspec.owner_type != cls.__gtype__:
                    continue
                with self.subTest(property=f"{type_name}:{pspec.name}"):
                    stated = docs.get((type_name, pspec.name))
                    self.assertIsNotNone(stated, "no doc comment")
                    self.assertEqual(len(stated), 1, "no (or more than one) \"Default: `X`.\" paragraph")
                    expected = as_written(pspec)
                    if expected is None:
                        expected = GObject.new(cls.__gtype__).get_property(pspec.name).name
                    self.assertEqual(stated[0], expected)
                    checked += 1
        # Every class has properties of its own but Socket: at least these.
        self.assertGreaterEqual(checked, 23)

    def test_no_stale_doc_comments(self):
        """A doc comment for a property that does not exist is an error too."""
        known = {(cls.__gtype__.name, p.name) for cls in CLASSES for p in cls.list_properties()}
        for key in documented_defaults():
            with self.subTest(property=":".join(key)):
                self.assertIn(key, known)


if __name__ == "__main__":
    unittest.main()
