#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Installs the build into a temporary DESTDIR, then compiles and runs a tiny
consumer program with the flags of `pkg-config gios-1` from there.

Usage: test_consumer.py BUILD-DIR CONSUMER.c"""
import glob
import os
import shlex
import subprocess
import sys
import tempfile

build_dir, source = sys.argv[1], os.path.abspath(sys.argv[2])

with tempfile.TemporaryDirectory(prefix="gios-consumer-") as destdir:
    subprocess.run(["meson", "install", "-C", build_dir, "--no-rebuild", "--quiet",
                    "--destdir", destdir], check=True, stdout=subprocess.DEVNULL, timeout=120)
    pcs = glob.glob(os.path.join(destdir, "**", "pkgconfig", "gios-1.pc"), recursive=True)
    if len(pcs) != 1:
        sys.exit(f"gios-1.pc installed {len(pcs)} times: {pcs}")
    # The installed .pc names the real prefix: point it into DESTDIR.
    pc_dir = os.path.join(destdir, "pkgconfig")
    os.mkdir(pc_dir)
    with open(pcs[0]) as f:
        pc = f.read()
    prefix = next(line.split("=", 1)[1] for line in pc.splitlines() if line.startswith("prefix="))
    with open(os.path.join(pc_dir, "gios-1.pc"), "w") as f:
        f.write(pc.replace("prefix=" + prefix, "prefix=" + destdir + prefix, 1))
    env = dict(os.environ, PKG_CONFIG_PATH=pc_dir)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "gios-1"],
                           env=env, check=True, capture_output=True, text=True).stdout
    if destdir not in flags:
        sys.exit(f"pkg-config gave flags outside the installation: {flags}")
    program = os.path.join(destdir, "consumer")
    cc = shlex.split(os.environ.get("CC", "cc"))
    subprocess.run(cc + [source, "-o", program] + shlex.split(flags), check=True, timeout=120)
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "gios-1"],
                            env=env, check=True, capture_output=True, text=True).stdout.strip()
    result = subprocess.run([program], env=dict(os.environ, LD_LIBRARY_PATH=libdir),
                            capture_output=True, text=True, timeout=30)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0 or "listened on port" not in result.stdout:
        sys.exit("the consumer program failed")

    # The PyGObject overrides, installed where PyGObject finds them: the
    # site directory that holds gi/overrides/Gios.py, with the installed
    # typelib (when the build has introspection and a Python with gi).
    overrides = glob.glob(os.path.join(destdir, "**", "gi", "overrides", "Gios.py"), recursive=True)
    typelibs = glob.glob(os.path.join(destdir, "**", "Gios-1.0.typelib"), recursive=True)
    if overrides or typelibs:
        if len(overrides) != 1 or len(typelibs) != 1:
            sys.exit(f"overrides {overrides} and typelibs {typelibs}: one of each expected")
        site = os.path.dirname(os.path.dirname(os.path.dirname(overrides[0])))
        check = ('import gi; gi.require_version("Gios", "1.0"); from gi.repository import Gios; '
                 'print(Gios.ServerSocket.listen.__module__)')
        env = dict(os.environ, PYTHONPATH=site, GI_TYPELIB_PATH=os.path.dirname(typelibs[0]),
                   LD_LIBRARY_PATH=libdir)
        module = subprocess.run(["/usr/bin/python3", "-c", check], env=env, capture_output=True,
                                text=True, timeout=30)
        sys.stderr.write(module.stderr)
        if module.stdout.strip() != "gi.overrides.Gios":
            sys.exit(f"the installed overrides were not used: {module.stdout!r}")
        print("installed overrides used from", site)
