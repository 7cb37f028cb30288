#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Builds and runs a tiny project that has gio-socket as a Meson subproject
and takes it with dependency('gios-1'), as the README says.

Usage: test_subproject.py SOURCE-ROOT CONSUMER.c"""
import os
import subprocess
import sys
import tempfile

source_root, consumer = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])

MESON_BUILD = """project('consumer', 'c')
gios_dep = dependency('gios-1', fallback: 'gio-socket')
executable('consumer', 'consumer.c', dependencies: gios_dep)
"""

with tempfile.TemporaryDirectory(prefix="gios-subproject-") as top:
    os.mkdir(os.path.join(top, "subprojects"))
    os.symlink(source_root, os.path.join(top, "subprojects", "gio-socket"))
    os.symlink(consumer, os.path.join(top, "consumer.c"))
    with open(os.path.join(top, "meson.build"), "w") as f:
        f.write(MESON_BUILD)
    build = os.path.join(top, "build")
    # The subproject is used, even where gio-socket is installed; the
    # parts a consumer does not need are left out to keep the build short.
    subprocess.run(["meson", "setup", build, top, "--force-fallback-for=gios-1",
                    "-Dgio-socket:introspection=false", "-Dgio-socket:documentation=disabled",
                    "-Dgio-socket:vapi=disabled"],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    subprocess.run(["meson", "compile", "-C", build, "consumer"],
                   check=True, stdout=subprocess.DEVNULL, timeout=600)
    result = subprocess.run([os.path.join(build, "consumer")], capture_output=True, text=True,
                            timeout=30)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0 or "listened on port" not in result.stdout:
        sys.exit("the consumer program failed")
