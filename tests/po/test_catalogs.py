#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The translations: complete, and typeset as each language writes.

Usage: test_catalogs.py SOURCE-ROOT BUILT-PO-DIR

- Every message of po/POTFILES.in is translated in every language of
  po/LINGUAS, none fuzzy (xgettext on the sources, then msgcmp).
- German quotes with „…“, French with « … »; French puts a non-breaking
  space inside its guillemets and before : ; ! and ?. ASCII quotes belong to
  code ('["text", 42]', {"bytes": "HEX"}) and are left alone."""
import gettext
import os
import re
import subprocess
import sys
import tempfile
import unittest

SOURCE_ROOT = None
PO_BUILD_DIR = None
NBSP = "\u00a0"        # before : and inside « »
NARROW_NBSP = "\u202f"  # before ; ! ?


def catalog(language):
    """The messages of the built catalog of @language, every plural form
    too: [(msgid, msgstr)]."""
    path = os.path.join(PO_BUILD_DIR, language, "LC_MESSAGES", "gios.mo")
    with open(path, "rb") as mo:
        messages = gettext.GNUTranslations(mo)._catalog
    return [(k[0] if isinstance(k, tuple) else k, v) for k, v in messages.items() if k]


def without_code(text):
    """@text without the code it shows: '…' quoted examples, JSON objects
    and strings in ASCII quotes."""
    text = re.sub(r"'[^']*'", "", text)
    text = re.sub(r"\{[^}]*\}", "", text)
    return re.sub(r'"[^"]*"', "", text)


class Catalogs(unittest.TestCase):
    def test_every_message_is_translated(self):
        with open(os.path.join(SOURCE_ROOT, "po", "LINGUAS")) as linguas:
            languages = linguas.read().split()
        self.assertEqual(sorted(languages), ["de", "fr"])
        with tempfile.TemporaryDirectory() as tmp:
            pot = os.path.join(tmp, "gios.pot")
            subprocess.run(["xgettext", "--from-code=UTF-8", "--keyword=_", "--keyword=N_",
                            "--keyword=C_:1c,2", "--keyword=NC_:1c,2", "--keyword=g_dngettext:2,3",
                            "--directory", SOURCE_ROOT,
                            "--files-from", os.path.join(SOURCE_ROOT, "po", "POTFILES.in"),
                            "--output", pot], check=True, timeout=60)
            for language in languages:
                with self.subTest(language=language):
                    # Untranslated and fuzzy entries count as missing.
                    result = subprocess.run(["msgcmp", os.path.join(SOURCE_ROOT, "po", f"{language}.po"), pot],
                                            capture_output=True, text=True, timeout=60)
                    self.assertEqual(result.returncode, 0, result.stderr)

    def test_german_quotes(self):
        for msgid, msgstr in catalog("de"):
            with self.subTest(msgid=msgid):
                text = without_code(msgstr)
                self.assertNotRegex(text, "[»«”]", "German quotes are „…“")
                self.assertEqual(re.findall("[„“]", text), ["„", "“"] * text.count("„"), "„ and “ in pairs")
                if "“" in without_code(msgid):
                    self.assertIn("„", text, "the English has quotes")

    def test_french_quotes_and_spaces(self):
        for msgid, msgstr in catalog("fr"):
            with self.subTest(msgid=msgid):
                text = without_code(msgstr)
                self.assertNotRegex(text, "[“”„]", "French quotes are « … »")
                self.assertEqual(text.count("«"), text.count("»"))
                self.assertEqual(text.count("«"), text.count("«" + NBSP), "a non-breaking space after «")
                self.assertEqual(text.count("»"), text.count(NBSP + "»"), "a non-breaking space before »")
                if "“" in without_code(msgid):
                    self.assertIn("«", text, "the English has quotes")
                # Punctuation (followed by a space or the end): the space
                # before it does not break.
                for m in re.finditer(r"(.)([:;!?])(?=\s|$)", text):
                    expected = NBSP if m[2] == ":" else NARROW_NBSP
                    self.assertEqual(m[1], expected, f"before “{m[2]}” in {text!r}")


if __name__ == "__main__":
    SOURCE_ROOT, PO_BUILD_DIR = sys.argv.pop(1), sys.argv.pop(1)
    unittest.main(verbosity=2)
