#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Copies the GIR for gi-docgen, giving each virtual method's field in a
class structure the description of its virtual method.

g-ir-scanner 1.74 drops the description of a class-structure field whose
type is a function pointer (the `@receive:` line of the structure's doc
comment), so gi-docgen lists such class members as "No description
available" even though their virtual methods are documented
(`GiosDeviceStreamClass::receive:` blocks). This step fills the gap in a
copy used only for the documentation.

Usage: class-member-docs.py INPUT.gir OUTPUT.gir"""
import sys
import xml.etree.ElementTree as ET

CORE = "http://www.gtk.org/introspection/core/1.0"
GLIB = "http://www.gtk.org/introspection/glib/1.0"
C = "http://www.gtk.org/introspection/c/1.0"
for prefix, uri in (("", CORE), ("glib", GLIB), ("c", C)):
    ET.register_namespace(prefix, uri)


def tag(name):
    return f"{{{CORE}}}{name}"


def main(source, target):
    tree = ET.parse(source)
    namespace = tree.getroot().find(tag("namespace"))
    classes = {c.get("name"): c for c in namespace.findall(tag("class"))}
    missing = []
    for record in namespace.findall(tag("record")):
        owner = classes.get(record.get(f"{{{GLIB}}}is-gtype-struct-for"))
        if owner is None:
            continue
        vfuncs = {v.get("name"): v for v in owner.findall(tag("virtual-method"))}
        for field in record.findall(tag("field")):
            if field.find(tag("doc")) is not None or field.find(tag("callback")) is None:
                continue
            doc = vfuncs.get(field.get("name"))
            doc = doc.find(tag("doc")) if doc is not None else None
            if doc is None:
                missing.append(f"{record.get('name')}.{field.get('name')}")
                continue
            copy = ET.Element(tag("doc"), doc.attrib)
            copy.text = doc.text
            field.insert(0, copy)
    if missing:
        sys.exit("class members without a documented virtual method: " + ", ".join(missing))
    tree.write(target, encoding="UTF-8", xml_declaration=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
