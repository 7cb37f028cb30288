#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs every sample program of the documentation, as written.

Reads README.md and doc/*.md, and the doc comments (/** ... */) of src/*.c
and include/gios/*.h, at run time, so that a new guide or a changed sample
is tested. A fenced block whose info string is c, python, js or javascript
is a sample when the line before its opening fence (blank lines allowed,
and in doc comments after their " * ") is a marker:

  <!-- sample: prints TEXT -->
      a complete program: it must exit 0 within 60 s with TEXT somewhere
      in its standard output;
  <!-- sample: server PORT: SEND => REPLY -->
      a complete server listening on 127.0.0.1:PORT (7100-7199, one port
      per sample). The test starts it and waits until the port accepts;
      then one client sends an over-long line (256 KiB, longer than any
      sample's limit) and is dropped; then a second client sends SEND and
      must get the line REPLY back; then the server gets SIGTERM and must be
      gone within 5 s;
  <!-- sample: fragment -->
      deliberately not a whole program; not run.

A block that looks like a whole program (C: defines main; Python: imports
Gios from gi.repository at top level; JavaScript: imports gi://Gios) and has
no marker fails the test, as does a marker that is not followed by a c,
python or js block.

C samples are compiled with $CC (split like a shell would), the flags of
`pkg-config --cflags --libs gios-1` (PKG_CONFIG_PATH is pointed at the build
tree's meson-uninstalled directory) and $CFLAGS (the sanitizer build passes
its -fsanitize flags there). Python samples run with this interpreter, and
JavaScript ones with `GJS -m`; the environment of the test (GI_TYPELIB_PATH,
LD_LIBRARY_PATH, LD_PRELOAD of the sanitizer runtime) is theirs.

Usage: doc_samples.py SOURCE_ROOT BUILD_ROOT GJS
Prints TAP, one line per sample.
"""
import glob
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

LANGUAGES = {"c": "c", "python": "python", "js": "js", "javascript": "js"}
MARKER = re.compile(r"^\s*<!--\s*sample:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
WHOLE_PROGRAM = {
    "c": re.compile(r"^\s*(?:int\s+)?main\s*\(", re.M),
    "python": re.compile(r"^from\s+gi\.repository\s+import\s+.*\bGios\b", re.M),
    "js": re.compile(r"^import\s+Gios\s+from\s+['\"]gi://Gios", re.M),
}
PORTS = range(7100, 7200)
OVERLONG_LINE = b"x" * (256 * 1024) + b"\n"
RUN_SECONDS = 60
STOP_SECONDS = 5
CLIENT_SECONDS = 10


class Sample:
    def __init__(self, where, language, code, marker, marker_where):
        self.where = where            # "file:line" of the opening fence
        self.language = language      # "c", "python" or "js"
        self.code = code
        self.marker = marker          # the text after "sample:", or None
        self.marker_where = marker_where


def comment_lines(path):
    """The lines of the doc comments of a C file, as (line number, text)
    with the leading " * " removed; other lines are given as blank."""
    out = []
    inside = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            stripped = line.strip()
            if not inside and stripped.startswith("/**"):
                inside = True
                out.append((number, ""))
                continue
            if inside and stripped.startswith("*/"):
                inside = False
            if inside:
                text = re.sub(r"^\s*\* ?", "", line.rstrip("\n"), count=1)
                out.append((number, text))
            else:
                out.append((number, ""))
    return out


def markdown_lines(path):
    with open(path, encoding="utf-8") as f:
        return [(number, line.rstrip("\n")) for number, line in enumerate(f, 1)]


def find_samples(path, lines, errors):
    """The c/python/js blocks of one file, with their markers; records
    misplaced markers in errors."""
    samples = []
    pending = None            # (marker text, "file:line") waiting for a fence
    i = 0
    while i < len(lines):
        number, text = lines[i]
        where = f"{path}:{number}"
        marker = MARKER.match(text)
        fence = FENCE.match(text)
        if marker:
            if pending:
                errors.append(f"{pending[1]}: sample marker not followed by a code block")
            pending = (marker.group(1), where)
        elif fence:
            opening, info = fence.group(1), fence.group(2).lower()
            body = []
            i += 1
            while i < len(lines) and not lines[i][1].strip().startswith(opening):
                body.append(lines[i][1])
                i += 1
            language = LANGUAGES.get(info)
            if language:
                samples.append(Sample(where, language, "\n".join(body) + "\n",
                                      pending[0] if pending else None,
                                      pending[1] if pending else None))
            elif pending:
                errors.append(f"{pending[1]}: sample marker on a block that is not c, python or js")
            pending = None
        elif text.strip() and pending:
            errors.append(f"{pending[1]}: sample marker not followed by a code block")
            pending = None
        i += 1
    if pending:
        errors.append(f"{pending[1]}: sample marker not followed by a code block")
    return samples


def collect(source_root):
    errors = []
    samples = []
    markdown = [os.path.join(source_root, "README.md")]
    markdown += sorted(glob.glob(os.path.join(source_root, "doc", "*.md")))
    for path in markdown:
        samples += find_samples(os.path.relpath(path, source_root), markdown_lines(path), errors)
    sources = sorted(glob.glob(os.path.join(source_root, "src", "*.c")))
    sources += sorted(glob.glob(os.path.join(source_root, "include", "gios", "*.h")))
    for path in sources:
        samples += find_samples(os.path.relpath(path, source_root), comment_lines(path), errors)
    return samples, errors


def parse_marker(text):
    """("prints", text) | ("server", port, send, reply) | ("fragment",)"""
    if text == "fragment":
        return ("fragment",)
    m = re.fullmatch(r"prints\s+(.+)", text)
    if m:
        return ("prints", m.group(1))
    m = re.fullmatch(r"server\s+(\d+)\s*:\s*(.*?)\s*=>\s*(.*)", text)
    if m:
        return ("server", int(m.group(1)), m.group(2), m.group(3))
    raise ValueError(f"unknown sample marker {text!r}")


class Failure(Exception):
    pass


def output_of(result_or_files):
    return "\n".join(f"  {line}" for line in result_or_files.splitlines())


def build(sample, index, workdir, env):
    """Writes the sample into workdir and returns the command that runs it."""
    base = os.path.join(workdir, f"sample{index}")
    if sample.language == "python":
        with open(base + ".py", "w", encoding="utf-8") as f:
            f.write(sample.code)
        return [sys.executable, base + ".py"]
    if sample.language == "js":
        with open(base + ".js", "w", encoding="utf-8") as f:
            f.write(sample.code)
        return [GJS, "-m", base + ".js"]
    with open(base + ".c", "w", encoding="utf-8") as f:
        f.write(sample.code)
    pkg = subprocess.run(["pkg-config", "--cflags", "--libs", "gios-1"],
                         capture_output=True, text=True, env=env)
    if pkg.returncode != 0:
        raise Failure("pkg-config gios-1 failed:\n" + output_of(pkg.stderr))
    command = (shlex.split(env.get("CC", "cc")) +
               ["-Wall", "-Werror", "-o", base, base + ".c"] +
               shlex.split(pkg.stdout) + shlex.split(env.get("CFLAGS", "")))
    cc = subprocess.run(command, capture_output=True, text=True, env=env)
    if cc.returncode != 0:
        raise Failure(f"does not compile ({shlex.join(command)}):\n" + output_of(cc.stderr))
    return [base]


def run_prints(command, expected, env):
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env,
                                timeout=RUN_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise Failure(f"still running after {RUN_SECONDS} s:\n" +
                      output_of((e.stdout or b"").decode(errors="replace") +
                                (e.stderr or b"").decode(errors="replace")))
    if result.returncode != 0:
        raise Failure(f"exited with {result.returncode}:\n" +
                      output_of(result.stdout + result.stderr))
    if expected not in result.stdout:
        raise Failure(f"did not print {expected!r}; it printed:\n" + output_of(result.stdout))


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until_accepting(process, port):
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Failure(f"exited with {process.returncode} before accepting on port {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise Failure(f"not accepting on port {port} after {RUN_SECONDS} s")


def send_overlong_line(port):
    """A client that sends a line longer than the server reads, then waits
    (bounded) until the server drops it. Errors on this connection are the
    expected outcome and ignored."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_SECONDS) as client:
            try:
                client.sendall(OVERLONG_LINE)
                while client.recv(65536):
                    pass
            except OSError:
                pass
    except OSError as e:
        raise Failure(f"refused the over-long line's client: {e}")


def exchange(port, send, reply):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_SECONDS) as client:
            client.sendall(send.encode() + b"\n")
            received = b""
            while not received.endswith(b"\n"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                received += chunk
    except OSError as e:
        raise Failure(f"after a client with an over-long line, sending {send!r}: {e}")
    got = received.decode(errors="replace").rstrip("\r\n")
    if got != reply:
        raise Failure(f"after a client with an over-long line, sent {send!r}, "
                      f"expected {reply!r}, got {got!r}")


def run_server(command, port, send, reply, env, workdir):
    if not port_is_free(port):
        raise Failure(f"port {port} is in use by another process; cannot test")
    log_path = os.path.join(workdir, f"server{port}.log")
    with open(log_path, "w+b") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env)
        try:
            wait_until_accepting(process, port)
            send_overlong_line(port)
            exchange(port, send, reply)
            if process.poll() is not None:
                raise Failure(f"exited with {process.returncode} after answering")
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                raise Failure(f"still running {STOP_SECONDS} s after SIGTERM")
        except Failure as e:
            log.seek(0)
            raise Failure(f"{e}\n  its output:\n" +
                          output_of(log.read().decode(errors="replace")))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def check_ports(samples, errors):
    seen = {}
    for sample in samples:
        if not sample.marker:
            continue
        try:
            kind = parse_marker(sample.marker)
        except ValueError as e:
            errors.append(f"{sample.marker_where}: {e}")
            continue
        if kind[0] != "server":
            continue
        port = kind[1]
        if port not in PORTS:
            errors.append(f"{sample.marker_where}: port {port} is outside 7100-7199")
        elif port in seen:
            errors.append(f"{sample.marker_where}: port {port} is also used at {seen[port]}")
        else:
            seen[port] = sample.marker_where


def main(source_root, build_root, gjs):
    global GJS
    GJS = gjs
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = os.pathsep.join(
        [os.path.join(build_root, "meson-uninstalled")] +
        ([env["PKG_CONFIG_PATH"]] if env.get("PKG_CONFIG_PATH") else []))
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [os.path.join(build_root, "src")] +
        ([env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else []))
    env.setdefault("GI_TYPELIB_PATH", os.path.join(build_root, "src"))
    # Criticals (a GError set twice, a failed precondition) end a sample.
    env["G_DEBUG"] = "fatal-criticals"

    samples, errors = collect(source_root)
    check_ports(samples, errors)
    for sample in samples:
        if sample.marker is None and WHOLE_PROGRAM[sample.language].search(sample.code):
            errors.append(f"{sample.where}: a complete {sample.language} program without a "
                          "<!-- sample: ... --> marker")

    runnable = [s for s in samples if s.marker and not s.marker.startswith("fragment")]
    print(f"1..{len(runnable) + 1}")
    failed = bool(errors)
    if errors:
        print("not ok 1 markers")
        for error in errors:
            print(f"# {error}")
            print(error, file=sys.stderr)
    else:
        print(f"ok 1 markers ({len(samples)} code blocks, {len(runnable)} to run)")

    with tempfile.TemporaryDirectory(prefix="gios-doc-samples-") as workdir:
        for number, sample in enumerate(runnable, 2):
            name = f"{sample.where} ({sample.language}: {sample.marker})"
            try:
                kind = parse_marker(sample.marker)
                command = build(sample, number, workdir, env)
                if kind[0] == "prints":
                    run_prints(command, kind[1], env)
                else:
                    run_server(command, kind[1], kind[2], kind[3], env, workdir)
            except (Failure, ValueError) as e:
                failed = True
                print(f"not ok {number} {name}")
                for line in str(e).splitlines():
                    print(f"# {line}")
                print(f"{name}: {e}", file=sys.stderr)
                continue
            print(f"ok {number} {name}")
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
