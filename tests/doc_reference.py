#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks the reference as gi-docgen renders it, and the GIR it comes from.

- every documented symbol of the GIR says when it came (Since:), and no
  version is later than the project's, so that no page carries an
  "unstable" badge (which the HTML is checked for too);
- no page says "No description available." (a class member, a parameter or
  a symbol without documentation);
- no page shows a stray backtick outside its code blocks (gi-docgen takes
  `%NAME` for a constant link, which mangles `%SYSTEM.IS`), and the
  InterSystems names keep their "%".

Usage: doc_reference.py PROJECT_VERSION GIR HTML_DIR
Prints TAP.
"""
import glob
import html
import os
import re
import sys
import xml.etree.ElementTree as ET

CORE = "{http://www.gtk.org/introspection/core/1.0}"
# What a version applies to: the symbols a reference page is made for.
SYMBOLS = {"class", "record", "enumeration", "bitfield", "callback", "constant",
           "function", "function-macro", "constructor", "method", "virtual-method",
           "property", "signal", "alias", "interface"}


def version_tuple(text):
    return tuple(int(part) for part in text.split(".")[:2])


def gir_symbols(gir):
    """(where, element) for every symbol of the namespace and its members."""
    namespace = ET.parse(gir).getroot().find(CORE + "namespace")
    for top in namespace:
        kind = re.sub(r"\{.*\}", "", top.tag)
        if kind not in SYMBOLS:
            continue
        if top.get("{http://www.gtk.org/introspection/glib/1.0}is-gtype-struct-for"):
            continue            # class structures: their members are the vfuncs
        name = top.get("name")
        yield f"{kind} {name}", top
        for member in top:
            member_kind = re.sub(r"\{.*\}", "", member.tag)
            if member_kind in SYMBOLS:
                yield f"{member_kind} {name}.{member.get('name')}", member


def check_versions(project_version, gir):
    problems = []
    latest = version_tuple(project_version)
    for where, element in gir_symbols(gir):
        if element.get("introspectable") == "0" and element.find(CORE + "doc") is None:
            continue
        version = element.get("version")
        if version is None:
            problems.append(f"{where}: no Since:")
        elif version_tuple(version) > latest:
            problems.append(f"{where}: Since: {version} is later than the project's {project_version}")
    return problems


def visible_text(page):
    """The text a reader sees in the page's body, code blocks left out."""
    body = page.split("<body", 1)[-1]
    body = re.sub(r"<(script|style|pre)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def check_pages(html_dir):
    problems = []
    pages = sorted(glob.glob(os.path.join(html_dir, "*.html")))
    if not pages:
        return [f"no pages in {html_dir}"]
    for path in pages:
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            page = f.read()
        if "available-next" in page:
            problems.append(f"{name}: an \"unstable\" badge")
        text = visible_text(page)
        if "No description available" in text:
            problems.append(f"{name}: \"No description available.\"")
        for line in text.splitlines():
            if "`" in line:
                problems.append(f"{name}: a stray backtick: {line.strip()!r}")
            for m in re.finditer(r"(?<![%\w])(SYSTEM\.IS|IO\.ServerSocket)", line):
                problems.append(f"{name}: {m.group(1)} without its %: {line.strip()!r}")
    return problems


def main(project_version, gir, html_dir):
    checks = [("Since: on every symbol, none later than " + project_version,
               check_versions(project_version, gir)),
              ("the pages: no unstable badge, no missing description, no stray backtick",
               check_pages(html_dir))]
    print(f"1..{len(checks)}")
    failed = False
    for number, (name, problems) in enumerate(checks, 1):
        print(f"{'not ok' if problems else 'ok'} {number} {name}")
        for problem in problems:
            print(f"# {problem}")
            print(problem, file=sys.stderr)
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
