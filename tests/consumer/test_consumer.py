#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Installs the build into a temporary DESTDIR, then compiles and runs a tiny
consumer program with the flags of `pkg-config gios-1` from there.

Usage: test_consumer.py BUILD-DIR CONSUMER.c"""
import glob
import os
import shlex
import shutil
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

    def check_overrides(what, overrides, argv, expected, **variables):
        """Runs argv against the installation (the typelib, the library and
        variables) and exits unless it prints expected."""
        if len(overrides) != 1 or len(typelibs) != 1:
            sys.exit(f"{what}: {overrides} and typelibs {typelibs}: one of each expected")
        env = dict(os.environ, GI_TYPELIB_PATH=os.path.dirname(typelibs[0]), LD_LIBRARY_PATH=libdir,
                   **variables)
        env.pop("GJS_PATH", None)
        run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        sys.stderr.write(run.stderr)
        if run.stdout.strip() != expected:
            sys.exit(f"the installed {what} were not used: {run.stdout!r}")
        print(f"installed {what} used with", variables)

    def up(path, levels):
        for _ in range(levels):
            path = os.path.dirname(path)
        return path

    # The overrides (when the build has introspection): PyGObject's from the
    # site directory that holds gi/overrides/Gios.py, GJS's from gjs-1.0
    # under an XDG data directory.
    typelibs = glob.glob(os.path.join(destdir, "**", "Gios-1.0.typelib"), recursive=True)
    if typelibs:
        overrides = glob.glob(os.path.join(destdir, "**", "gi", "overrides", "Gios.py"), recursive=True)
        check_overrides("PyGObject overrides", overrides,
                        ["/usr/bin/python3", "-c", 'import gi; gi.require_version("Gios", "1.0"); '
                         "from gi.repository import Gios; print(Gios.ServerSocket.listen.__module__)"],
                        "gi.overrides.Gios", PYTHONPATH=up(overrides[0], 3) if overrides else "")
        if shutil.which("gjs"):
            overrides = glob.glob(os.path.join(destdir, "**", "gjs-1.0", "overrides", "Gios.js"), recursive=True)
            check_overrides("GJS overrides", overrides,
                            ["gjs", "-c", "print(typeof imports.gi.Gios.DeviceStream.prototype"
                             "._original_read_line_async);"],
                            "function", XDG_DATA_DIRS=up(overrides[0], 3) if overrides else "")
