#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs a command and checks that it exits 0 and prints the expected line."""
import subprocess
import sys

expected, command = sys.argv[1], sys.argv[2:]
result = subprocess.run(command, capture_output=True, text=True, timeout=60)
sys.stdout.write(result.stdout)
sys.stderr.write(result.stderr)
if result.returncode != 0:
    sys.exit(f"{command[0]} exited with {result.returncode}")
if expected not in result.stdout.splitlines():
    sys.exit(f"expected the line {expected!r} in the output")
