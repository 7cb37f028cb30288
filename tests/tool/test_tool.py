#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the gio-socket tool, against itself and against plain
Python sockets. Usage: test_tool.py PATH-TO-gio-socket

Every server is a subprocess of this test, started in its own process group
and stopped by its pid; every wait is bounded."""
import json
import math
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

TOOL = None
TIMEOUT = 10


def run(*args, input=None, check_status=None):
    """Runs the tool to completion; returns (status, stdout, stderr)."""
    result = subprocess.run([TOOL, *args], input=input, capture_output=True, timeout=TIMEOUT,
                            env=dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE=""))
    if check_status is not None and result.returncode != check_status:
        raise AssertionError(f"{args}: exit {result.returncode}, stderr {result.stderr!r}")
    return result.returncode, result.stdout, result.stderr


class Server:
    """gio-socket serve …, started and waited for until it says where it listens.

    Its standard output and error are read by threads as they come, so that a
    test can wait for "connection from" lines while the server runs. With
    @command (such as systemd-socket-activate …), serve runs under it, and
    the test calls wait_listening() when serve should have started."""

    def __init__(self, *args, preexec_fn=None, env=None, command=None, tool=None):
        self.proc = subprocess.Popen((command or []) + [tool or TOOL, "serve", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True,
                                     preexec_fn=preexec_fn,
                                     env=dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE="", **(env or {})))
        self._changed = threading.Condition()
        self._out = []
        self._err = []
        self._readers = [threading.Thread(target=self._read, args=(pipe, lines), daemon=True)
                         for pipe, lines in ((self.proc.stdout, self._out), (self.proc.stderr, self._err))]
        for reader in self._readers:
            reader.start()
        if command is None:
            self.wait_listening()

    def wait_listening(self):
        """Waits until serve says where it listens."""
        if not self._wait(lambda: self._out):
            self.kill()
            raise AssertionError("serve printed nothing")
        self.first_line = self._out[0].rstrip("\n")
        if not self.first_line.startswith("listening on "):
            self.kill()
            raise AssertionError(f"serve printed {self.first_line!r}, stderr {self.stderr()!r}")
        self.address = self.first_line[len("listening on "):]

    def _read(self, pipe, lines):
        for line in pipe:
            with self._changed:
                lines.append(line.decode(errors="replace"))
                self._changed.notify_all()

    def _wait(self, predicate, timeout=TIMEOUT):
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def wait_addresses(self, count):
        """Waits for the first @count lines, which say where the server
        listens, and returns the addresses they name: there are no more."""
        prefix = "listening on "
        if not self._wait(lambda: len(self._out) >= count):
            raise AssertionError(f"serve printed {self._out!r}, not {count} addresses")
        with self._changed:
            lines = [line.rstrip("\n") for line in self._out]
        addresses = [line[len(prefix):] for line in lines if line.startswith(prefix)]
        if len(addresses) != count:
            raise AssertionError(f"serve printed {lines!r}, not {count} addresses")
        return addresses

    def wait_stderr(self, text):
        """Waits until @text appears on standard error."""
        if not self._wait(lambda: text in "".join(self._err)):
            raise AssertionError(f"no {text!r} in {self.stderr()!r}")

    def stderr(self):
        with self._changed:
            return "".join(self._err)

    @property
    def port(self):
        return int(self.address.rsplit(":", 1)[1])

    def connections(self):
        """How many "connection from" lines the server printed so far."""
        with self._changed:
            return sum(line.startswith("connection ") for line in self._out)

    def wait_for_connections(self, count, timeout=TIMEOUT):
        """Waits until the server has taken @count connections in all."""
        if not self._wait(lambda: self.connections() >= count, timeout):
            raise AssertionError(f"the server took {self.connections()} connections, not {count}")

    def takes_more_than(self, count, within):
        """Whether the server takes more than @count connections in all
        within @within seconds."""
        return self._wait(lambda: self.connections() > count, within)

    def stop(self, sig=signal.SIGTERM):
        """Sends @sig; returns the exit status and the whole output."""
        return self.stop_timed(sig)[:3]

    def stop_timed(self, sig=signal.SIGTERM):
        """Sends @sig; returns the exit status, the whole output and the
        seconds from the signal to the exit."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"serve did not stop on {sig!r}")
        seconds = time.monotonic() - start
        self._close_pipes()
        with self._changed:
            return self.proc.returncode, "".join(self._out), "".join(self._err), seconds

    def _close_pipes(self):
        for reader in self._readers:
            reader.join(TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        self._close_pipes()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def have_ipv6():
    """Whether this machine has an IPv6 loopback interface to bind."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def exchange(port, data, family=socket.AF_INET, address=None):
    """A plain Python client: sends @data, half-closes, returns all it reads."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(address if address is not None else ("127.0.0.1", port))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def connect(port):
    """A plain Python client, connected, with the test's timeout."""
    s = socket.create_connection(("127.0.0.1", port), TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def round_trip(s, line, within=TIMEOUT):
    """Sends @line on @s and asserts that the same line comes back within
    @within seconds."""
    start = time.monotonic()
    s.settimeout(within)
    s.sendall(line)
    reply = b""
    while not reply.endswith(b"\n"):
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            raise AssertionError(f"no answer to {line!r} within {within} s")
        if not chunk:
            raise AssertionError(f"the server closed the connection instead of answering {line!r}")
        reply += chunk
    elapsed = time.monotonic() - start
    if reply != line or elapsed >= within:
        raise AssertionError(f"sent {line!r}, got {reply!r} after {elapsed:.2f} s")


def sees_end(s, within=TIMEOUT):
    """TRUE when the server closes @s within @within seconds (reading
    whatever it still sent)."""
    s.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if not s.recv(65536):
                return True
    except socket.timeout:
        pass
    except ConnectionResetError:
        return True
    return False


def threads_of(pid):
    """How many threads process @pid has."""
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"^Threads:\s+(\d+)$", status.read(), re.M)[1])


def flooder(port, chunk):
    """A client that sends @chunk over and over and never reads, with a small
    receive buffer. Returns its socket once the server stopped taking bytes
    from it: the server's replies filled both sides' buffers, and the server
    waits for this client to read."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.settimeout(0.3)
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            s.send(chunk)
    except socket.timeout:
        return s
    s.close()
    raise AssertionError("the server went on taking the bytes of a client that never reads")


class Usage(unittest.TestCase):
    def assert_usage(self, *args, mentions):
        status, out, err = run(*args)
        self.assertEqual(status, 2, f"{args}: {err!r}")
        lines = err.decode().splitlines()
        self.assertEqual(len(lines), 1, f"{args}: one line expected, got {lines!r}")
        self.assertIn(mentions, lines[0])
        self.assertIn("--help", lines[0])  # says what to do
        self.assertEqual(out, b"")

    def test_no_command(self):
        status, out, err = run()
        self.assertEqual(status, 2)
        self.assertIn(b"serve", err)

    def test_unknown_command(self):
        self.assert_usage("frobnicate", mentions="frobnicate")

    def test_bad_arguments(self):
        self.assert_usage("serve", "--bogus", mentions="--bogus")
        self.assert_usage("serve", "--jobs", "2", "--async", mentions="--jobs")
        self.assert_usage("serve", "--echo", "--lines", mentions="--echo")
        self.assert_usage("serve", "--unix", "/tmp/x", "--port", "1", mentions="--unix")
        self.assert_usage("serve", "--permissions", "0600", mentions="--permissions")
        self.assert_usage("serve", "--unix", "/tmp/x", "--permissions", "999", mentions="999")
        self.assert_usage("serve", "--jobs", "many", mentions="many")
        for jobs in ("-1", "-5", "2x", "", "99999999999"):
            self.assert_usage("serve", "--jobs", jobs, mentions="--jobs")
        self.assert_usage("serve", "--jobs", "-1", mentions="“-1”")
        self.assert_usage("serve", "--idle-timeout", "-1", mentions="--idle-timeout")
        self.assert_usage("serve", "--idle-timeout", "soon", mentions="soon")
        self.assert_usage("serve", "--proxy-protocol", "v3", mentions="v3")
        self.assert_usage("serve", "--handshake-timeout", "-1", mentions="--handshake-timeout")
        self.assert_usage("serve", "extra", mentions="extra")
        self.assert_usage("serve", "--unix", "/tmp/x", "--reuse-port", mentions="--reuse-port")
        self.assert_usage("connect", mentions="HOST")
        self.assert_usage("connect", "127.0.0.1", mentions="HOST")
        self.assert_usage("connect", "--unix", "/tmp/x", "127.0.0.1", "1", mentions="--unix")
        self.assert_usage("connect", "--bogus", "127.0.0.1", "1", mentions="--bogus")
        self.assert_usage("connect", "127.0.0.1", "1", "-x", mentions="-x")
        self.assert_usage("list", mentions="encode")
        self.assert_usage("list", "rot13", "x", mentions="rot13")
        self.assert_usage("list", "encode", mentions="encode")
        self.assert_usage("list", "decode", mentions="decode")
        self.assert_usage("list", "encode", "[]", "[]", mentions="encode")
        self.assert_usage("demo", "now", mentions="now")

    def test_exit_status_rule(self):
        """One rule for every command: 2 for a usage error (the command line
        itself is wrong), 1 when the command fails on its data or at run
        time; --help says so, at the top and for each command."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free_port = str(s.getsockname()[1])
        usage = {"serve": [("--bogus",), ("--jobs", "-1"), ("extra",)],
                 "connect": [(), ("127.0.0.1",), ("--bogus", "127.0.0.1", "1")],
                 "list": [(), ("rot13", "[]"), ("encode",), ("decode", "00", "00")],
                 "demo": [("now",), ("--bogus",)]}
        failure = {"serve": [("--port", "abc"), ("--host", "no-such-host.invalid")],
                   "connect": [("127.0.0.1", free_port), ("127.0.0.1", "abc")],
                   "list": [("encode", "["), ("encode", '{"a":1}'), ("encode", '"text"'), ("encode", "42"),
                            ("encode", ""), ("encode", "[1] ["), ("encode", "[1e400]"),
                            ("decode", "0g"), ("decode", "123"), ("decode", "0901")]}
        for command, cases in usage.items():
            for args in cases:
                with self.subTest(command=command, args=args):
                    self.assert_usage(command, *args, mentions=command)
        for command, cases in failure.items():
            for args in cases:
                with self.subTest(command=command, args=args):
                    line = self.assert_fails_in_one_line(command, *args, mentions=(f"gio-socket {command}: ",))
                    self.assertNotIn("--help", line)  # nothing wrong with the command line
        for args in (("--help",), ("serve", "--help"), ("connect", "--help"), ("list", "--help"),
                     ("demo", "--help")):
            with self.subTest(args=args):
                status, out, err = run(*args, check_status=0)
                self.assertRegex(" ".join(out.decode().split()),
                                 r"Exit status: 0 on success; 1 when the command fails on its input "
                                 r"or at run time \(.*\); 2 when the command line is wrong \(.*\)\.$")

    def test_help_and_version(self):
        for command in ("serve", "connect", "list", "demo"):
            status, out, err = run(command, "--help")
            self.assertEqual(status, 0, command)
            self.assertIn(f"gio-socket {command}".encode(), out)
        status, out, _ = run("--help")
        self.assertEqual(status, 0)
        for command in (b"serve", b"connect", b"list", b"demo"):
            self.assertIn(command, out)
        status, out, _ = run("--version")
        self.assertEqual(status, 0)
        self.assertRegex(out.decode(), r"^gio-socket \d+\.\d+\.\d+\n$")

    def test_failure_is_status_1_in_one_line(self):
        # A port nobody listens on: take a free one and close it.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        status, out, err = run("connect", "127.0.0.1", str(port), input=b"")
        self.assertEqual(status, 1)
        lines = err.decode().splitlines()
        self.assertEqual(len(lines), 1)
        self.assertIn(str(port), lines[0])
        self.assertIn("gio-socket serve", lines[0])  # what to do

    def test_bad_ports(self):
        """Ports are 0 to 65535 or a service name; anything else fails with
        status 1 and one line that names it (glibc would take 99999 as 34463)."""
        for port in ("-5", "abc", "99999", "65536", "1.5", "-0x10"):
            for args in (("serve", "--port", port), ("serve", "--host", "127.0.0.1", "--port", port),
                         ("connect", "127.0.0.1", port), ("connect", "--", "127.0.0.1", port)):
                with self.subTest(args=args):
                    line = self.assert_fails_in_one_line(*args, mentions=(f"“{port}” is not a port",
                                                                          "0 to 65535", "service name"))
                    self.assertNotIn("Servname", line)

    def assert_fails_in_one_line(self, *args, mentions=(), input=b""):
        """Status 1, nothing on standard output, one line on standard error
        that mentions each of @mentions; returns that line."""
        status, out, err = run(*args, input=input)
        self.assertEqual((status, out), (1, b""), f"{args}: {err!r}")
        lines = err.decode().splitlines()
        self.assertEqual(len(lines), 1, f"{args}: one line expected, got {lines!r}")
        for part in mentions:
            self.assertIn(part, lines[0], args)
        return lines[0]

    def test_hints_fit_the_command_and_the_error(self):
        """The hint after an error comes from the command and the error: one
        about the host name for a name that does not resolve, none where the
        message says it all, and never "see the message above", which has
        nothing above it."""
        lines = []
        # A name that does not resolve (.invalid never does, RFC 6761).
        for args in (("serve", "--host", "no-such-host.invalid"),
                     ("connect", "no-such-host.invalid", "80")):
            line = self.assert_fails_in_one_line(*args, mentions=("no-such-host.invalid", "host name"))
            self.assertNotIn("gio-socket serve”", line)
            lines.append(line)
        # An address that is not this machine's (TEST-NET-1, RFC 5737).
        lines.append(self.assert_fails_in_one_line(
            "serve", "--host", "192.0.2.1", mentions=("192.0.2.1", "not an address of this machine")))
        # A missing directory: create it, not "check that a server listens".
        line = self.assert_fails_in_one_line("serve", "--unix", "/nonexistent/dir/x.sock",
                                             mentions=("/nonexistent/dir", "create the directory"))
        self.assertNotIn("listens", line)
        lines.append(line)
        # The client's side of a missing path: a server should listen there.
        lines.append(self.assert_fails_in_one_line("connect", "--unix", "/nonexistent/dir/x.sock",
                                                   mentions=("/nonexistent/dir/x.sock", "gio-socket serve")))
        # A bad port: the message says what a port is, and nothing follows it.
        for args in (("serve", "--port", "abc"), ("connect", "127.0.0.1", "abc")):
            line = self.assert_fails_in_one_line(*args, mentions=("“abc”", "0 to 65535"))
            self.assertTrue(line.endswith("such as “http”"), line)
            lines.append(line)
        for line in lines:
            self.assertNotIn("see the message above", line)
            self.assertNotIn("check the values on the command line", line)

    def test_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            status, out, err = run("serve", "--host", "127.0.0.1", "--port", str(port))
        self.assertEqual(status, 1)
        self.assertEqual(len(err.decode().splitlines()), 1)
        self.assertIn("another port", err.decode())


class Serve(unittest.TestCase):
    MODELS = ([], ["--jobs", "2"], ["--jobs", "0"], ["--async"])

    def test_echo_against_python_client(self):
        data = bytes(range(256)) * 1024  # 256 KiB: more than any buffer
        for model in self.MODELS:
            with self.subTest(model=model), Server("--host", "127.0.0.1", *model) as server:
                self.assertEqual(exchange(server.port, data), data)
                self.assertEqual(exchange(server.port, b"again"), b"again")
                status, out, err = server.stop()
                self.assertEqual(status, 0, err)
                self.assertIn("connection from 127.0.0.1:", out)

    def test_lines_against_python_client(self):
        for model in self.MODELS:
            with self.subTest(model=model), Server("--host", "127.0.0.1", "--lines", *model) as server:
                self.assertEqual(exchange(server.port, b"one\ntwo\r\nthree\n"), b"one\ntwo\nthree\n")
                self.assertEqual(server.stop()[0], 0)

    def test_lines_are_bytes(self):
        """--lines echoes any bytes, NUL and bytes that are not UTF-8 included;
        a line that ends in CR LF comes back with LF alone."""
        for model in self.MODELS:
            with self.subTest(model=model), Server("--host", "127.0.0.1", "--lines", *model) as server:
                self.assertEqual(exchange(server.port, b"a\0b\n\xff\xfe\nx\r\n"), b"a\0b\n\xff\xfe\nx\n")
                with connect(server.port) as s:
                    for line in (b"a\0b\n", b"\xff\xfe\n", b"\0\n", b"\n"):
                        round_trip(s, line)
                self.assertEqual(server.stop()[0], 0)

    def test_concurrent_clients(self):
        for model in (["--jobs", "4"], ["--async"]):
            with self.subTest(model=model), Server("--host", "127.0.0.1", *model) as server:
                socks = [socket.create_connection(("127.0.0.1", server.port), TIMEOUT) for _ in range(3)]
                try:
                    # Every connection is served while the others stay open.
                    for i, s in enumerate(socks):
                        s.sendall(b"client %d\n" % i)
                    for i, s in enumerate(socks):
                        self.assertEqual(s.recv(100), b"client %d\n" % i)
                finally:
                    for s in socks:
                        s.close()
                self.assertEqual(server.stop()[0], 0)

    def test_stops_on_sigint_with_a_connection_open(self):
        for model in self.MODELS:
            with self.subTest(model=model), Server("--host", "127.0.0.1", *model) as server:
                with socket.create_connection(("127.0.0.1", server.port), TIMEOUT) as s:
                    s.sendall(b"x")
                    self.assertEqual(s.recv(1), b"x")  # served, now idle
                    start = time.monotonic()
                    status, out, err = server.stop(signal.SIGINT)
                    self.assertEqual(status, 0, err)
                    self.assertLess(time.monotonic() - start, 6)
                    s.settimeout(TIMEOUT)
                    self.assertEqual(s.recv(1), b"")  # the server closed it

    def test_reuse_port(self):
        """Two servers with --reuse-port on one port both serve; a server
        without it cannot join them."""
        with Server("--host", "127.0.0.1", "--reuse-port") as first:
            port = str(first.port)
            status, out, err = run("serve", "--host", "127.0.0.1", "--port", port)
            self.assertEqual(status, 1)
            self.assertIn(port, err.decode())
            with Server("--host", "127.0.0.1", "--port", port, "--reuse-port") as second:
                self.assertEqual(second.port, first.port)
                for _ in range(400):  # (1/2)^400: both answer long before
                    self.assertEqual(exchange(first.port, b"shared"), b"shared")
                    if first.connections() > 0 and second.connections() > 0:
                        break
                first.wait_for_connections(1)
                second.wait_for_connections(1)
                self.assertEqual(second.stop()[0], 0)
            self.assertEqual(first.stop()[0], 0)

    def test_all_interfaces_and_service_port(self):
        with Server() as server:
            self.assertGreater(server.port, 0)
            # A line for every listening socket, each with the same port.
            expected = [f"0.0.0.0:{server.port}"] + ([f"[::]:{server.port}"] if have_ipv6() else [])
            self.assertEqual(sorted(server.wait_addresses(len(expected))), sorted(expected))
            self.assertEqual(server.address, server.wait_addresses(len(expected))[0])
            self.assertEqual(exchange(server.port, b"any"), b"any")
            self.assertEqual(server.stop()[0], 0)


class Stop(unittest.TestCase):
    """serve stops with status 0 in every model whatever its clients do:
    within 1 s of SIGINT, and of SIGTERM with --drain-timeout 0; within the
    drain (1 s by default) and 0.5 s of SIGTERM, saying what it cut."""
    MODELS = Serve.MODELS
    DRAIN_S = 1.0

    def assert_stops(self, server, sig, drains=False):
        status, out, err, seconds = server.stop_timed(sig)
        self.assertEqual(status, 0, err)
        limit = self.DRAIN_S + 0.5 if drains else 1.0
        self.assertLess(seconds, limit, f"stopping took {seconds:.2f} s")
        if drains:
            self.assertGreaterEqual(seconds, self.DRAIN_S * 0.95, "the drain did not wait")
            self.assertRegex(err, r"gio-socket serve: \d+ connections? (was|were) still open "
                                  r"after 1000 ms and (was|were) cut")

    def test_clients_that_flood_and_never_read(self):
        for model in self.MODELS:
            for mode, chunk, sig in (("--echo", b"x" * 65536, signal.SIGTERM),
                                     ("--lines", b"a line\n" * 8192, signal.SIGINT)):
                with self.subTest(model=model, mode=mode), \
                     Server("--host", "127.0.0.1", mode, *model) as server:
                    with flooder(server.port, chunk):
                        self.assert_stops(server, sig, drains=sig == signal.SIGTERM)

    def test_idle_clients(self):
        for model in self.MODELS:
            with self.subTest(model=model), Server("--host", "127.0.0.1", *model) as server:
                idle = [connect(server.port) for _ in range(3)]
                try:
                    # Being served: blocked in a read (the classic model
                    # serves one, the others wait in the kernel's queue).
                    server.wait_for_connections(1 if not model else 2)
                    self.assert_stops(server, signal.SIGINT)
                finally:
                    for s in idle:
                        s.close()

    def test_half_a_line(self):
        for model in self.MODELS:
            for extra, drains in (([], True), (["--drain-timeout", "0"], False)):
                with self.subTest(model=model, extra=extra), \
                     Server("--host", "127.0.0.1", "--lines", *extra, *model) as server:
                    with connect(server.port) as s:
                        round_trip(s, b"a whole line\n")
                        s.sendall(b"half a li")
                        self.assert_stops(server, signal.SIGTERM, drains=drains)


def become_subreaper():
    """Makes this process the parent of the orphans of its descendants (a
    successor whose predecessor exited), so that it can wait for them."""
    import ctypes
    PR_SET_CHILD_SUBREAPER = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def wait_for_pid(pid, timeout=TIMEOUT):
    """Waits for a process this one reaps (see become_subreaper); returns
    its exit status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"process {pid} did not end")


class Restart(unittest.TestCase):
    """SIGHUP hands the listening sockets over to a successor and drains:
    under a bounded connect-and-request load, no connection is refused or
    reset and every request is answered."""

    CLIENTS = 4

    @classmethod
    def setUpClass(cls):
        become_subreaper()

    def load(self, port, stop, counts, failures):
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), TIMEOUT) as s:
                    s.settimeout(TIMEOUT)
                    s.sendall(b"request\n")
                    reply = b""
                    while not reply.endswith(b"\n"):
                        chunk = s.recv(64)
                        if not chunk:
                            raise ConnectionError(f"closed after {reply!r}")
                        reply += chunk
                    if reply != b"request\n":
                        raise AssertionError(f"answered {reply!r}")
                    counts.append(time.monotonic())
            except Exception as e:  # noqa: BLE001 -- every failure counts
                failures.append(repr(e))

    def test_hand_over_under_load(self):
        for model in Serve.MODELS:
            with self.subTest(model=model), Server("--lines", "--drain-timeout", "3000", *model) as server:
                port = server.port
                stop = threading.Event()
                counts, failures = [], []
                clients = [threading.Thread(target=self.load, args=(port, stop, counts, failures))
                           for _ in range(self.CLIENTS)]
                for c in clients:
                    c.start()
                successor = None
                try:
                    time.sleep(0.5)
                    before = len(counts)
                    server.proc.send_signal(signal.SIGHUP)
                    self.assertTrue(server._wait(lambda: any(l.startswith("handed over to process ")
                                                             for l in server._out)), server.stderr())
                    line = next(l for l in server._out if l.startswith("handed over to process "))
                    successor = int(line.split()[-1])
                    # The predecessor drains and exits by itself.
                    self.assertEqual(server.proc.wait(TIMEOUT), 0, server.stderr())
                    at_exit = len(counts)
                    time.sleep(0.5)
                finally:
                    stop.set()
                    for c in clients:
                        c.join(TIMEOUT)
                    if successor is not None:
                        os.kill(successor, signal.SIGTERM)
                        self.assertEqual(wait_for_pid(successor), 0)
                self.assertEqual(failures, [])
                self.assertGreater(before, 0, "no request before the hand-over")
                self.assertGreater(len(counts), at_exit, "the successor answered nothing")
                # Both sockets (IPv4 and IPv6) went over: the successor says so.
                self.assertEqual(sum(l.startswith("listening on ") for l in server._out),
                                 2 * sum(l.startswith("listening on ") for l in server._out[:2]))

    def test_a_successor_that_cannot_start(self):
        """The program was removed since it started, so no successor can
        start: the server says so and goes on serving."""
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "gio-socket")
            shutil.copy(TOOL, copy)
            libdir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(TOOL))), "src")
            env = {"LD_LIBRARY_PATH": libdir + ":" + os.environ.get("LD_LIBRARY_PATH", "")}
            with Server("--host", "127.0.0.1", "--lines", tool=copy, env=env) as server:
                os.unlink(copy)
                server.proc.send_signal(signal.SIGHUP)
                server.wait_stderr("could not hand over, serving on")
                self.assertEqual(exchange(server.port, b"still here\n"), b"still here\n")
                self.assertEqual(server.stop()[0], 0)


class Drain(unittest.TestCase):
    """SIGTERM drains: accepting stops at once, the connections being served
    finish within --drain-timeout, a second SIGTERM or SIGINT stops at once."""
    MODELS = Serve.MODELS

    def test_requests_in_progress_finish(self):
        for model in self.MODELS:
            with self.subTest(model=model), \
                 Server("--host", "127.0.0.1", "--lines", "--drain-timeout", "5000", *model) as server:
                with connect(server.port) as s:
                    round_trip(s, b"before\n")
                    start = time.monotonic()
                    server.proc.send_signal(signal.SIGTERM)
                    time.sleep(0.2)
                    # Not accepted any more: this one is never answered.
                    with connect(server.port) as late:
                        late.sendall(b"late\n")
                        # Being served still: answered during the drain.
                        round_trip(s, b"during the drain\n", within=2)
                        s.close()
                        status = server.proc.wait(TIMEOUT)
                        seconds = time.monotonic() - start
                        self.assertEqual(status, 0, server.stderr())
                        self.assertLess(seconds, 2.5, "the drain waited for the deadline")
                        self.assertTrue(sees_end(late), "a late client was served")
                self.assertNotIn("cut", server.stderr())

    def test_a_second_signal_stops_at_once(self):
        for model in self.MODELS:
            for second in (signal.SIGTERM, signal.SIGINT):
                with self.subTest(model=model, second=second), \
                     Server("--host", "127.0.0.1", "--drain-timeout", "20000", *model) as server:
                    with connect(server.port) as s:
                        round_trip(s, b"served\n")
                        server.proc.send_signal(signal.SIGTERM)
                        time.sleep(0.3)
                        self.assertIsNone(server.proc.poll(), "the drain did not wait")
                        status, out, err, seconds = server.stop_timed(second)
                        self.assertEqual(status, 0, err)
                        self.assertLess(seconds, 1.0, f"stopping took {seconds:.2f} s")
                        self.assertTrue(sees_end(s))

    def test_bad_drain_timeout(self):
        status, out, err = run("serve", "--drain-timeout", "-5")
        self.assertEqual(status, 2)
        self.assertIn("--drain-timeout", err.decode())


class Backpressure(unittest.TestCase):
    def test_others_are_answered_while_one_floods(self):
        """A client that floods without reading fills only its own buffers:
        the server stops reading it (flooder() checks that) and goes on
        answering the others."""
        for model in (["--async"], ["--jobs", "2"]):
            for mode, chunk in (("--lines", b"a line\n" * 8192), ("--echo", b"x" * 65536)):
                with self.subTest(model=model, mode=mode), \
                     Server("--host", "127.0.0.1", mode, *model) as server:
                    with flooder(server.port, chunk), connect(server.port) as s:
                        for i in range(20):
                            round_trip(s, b"round trip %d\n" % i, within=2)
                    self.assertEqual(server.stop()[0], 0)


class Idle(unittest.TestCase):
    """--idle-timeout: clients that connect and send nothing are dropped, and
    cannot keep the others from being served."""

    def test_idle_clients_do_not_hold_the_jobs(self):
        with Server("--host", "127.0.0.1", "--idle-timeout", "300", "--jobs", "2") as server:
            idle = [connect(server.port) for _ in range(2)]
            try:
                server.wait_for_connections(2)  # both jobs taken
                start = time.monotonic()
                self.assertEqual(exchange(server.port, b"third\n"), b"third\n")
                self.assertLess(time.monotonic() - start, 1.5)
                for s in idle:
                    self.assertTrue(sees_end(s), "an idle client was not dropped")
            finally:
                for s in idle:
                    s.close()
            self.assertEqual(server.stop()[0], 0)

    def test_an_idle_client_does_not_hold_the_classic_model(self):
        with Server("--host", "127.0.0.1", "--idle-timeout", "300") as server:
            with connect(server.port) as idle:
                server.wait_for_connections(1)
                start = time.monotonic()
                self.assertEqual(exchange(server.port, b"next\n"), b"next\n")
                self.assertLess(time.monotonic() - start, 1.5)
                self.assertTrue(sees_end(idle))
            self.assertEqual(server.stop()[0], 0)

    def test_async_drops_the_idle_client_only(self):
        with Server("--host", "127.0.0.1", "--lines", "--idle-timeout", "300", "--async") as server:
            with connect(server.port) as idle, connect(server.port) as active:
                server.wait_for_connections(2)
                start = time.monotonic()
                # The active client sends a line every 100 ms until the
                # idle one is dropped, and goes on being answered after.
                i = 0
                while not select.select([idle], [], [], 0.1)[0]:
                    self.assertLess(time.monotonic() - start, TIMEOUT, "the idle client was not dropped")
                    round_trip(active, b"line %d\n" % i)
                    i += 1
                dropped = time.monotonic() - start
                self.assertEqual(idle.recv(1), b"")
                self.assertGreaterEqual(dropped, 0.25, "dropped before its idle timeout")
                for j in range(5):
                    time.sleep(0.1)  # paces the client; 500 ms in all, more than the timeout
                    round_trip(active, b"after %d\n" % j)
            self.assertEqual(server.stop()[0], 0)

    def test_default_and_none(self):
        status, out, err = run("serve", "--help", check_status=0)
        self.assertIn(b"--idle-timeout", out)
        self.assertIn(b"300000", out)
        # 0 sets no idle timeout (the library would take 0 ms as "drop at
        # once"): a client that waits before it sends is still served.
        with Server("--host", "127.0.0.1", "--lines", "--idle-timeout", "0", "--async") as server:
            with connect(server.port) as s:
                server.wait_for_connections(1)
                time.sleep(0.3)  # waits as an idle client would
                round_trip(s, b"still here\n")
            self.assertEqual(server.stop()[0], 0)


def v2_header(client, client_port, tlvs=b""):
    """A PROXY protocol version 2 header: PROXY, TCP over IPv4, from
    @client:@client_port to 127.0.0.1:80, then @tlvs."""
    body = socket.inet_aton(client) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", client_port, 80) + tlvs
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def is_dropped(port, data):
    """Whether the server closes or resets a connection that sends @data,
    sending nothing back."""
    try:
        return exchange(port, data) == b""
    except ConnectionResetError:
        return True


class Proxy(unittest.TestCase):
    """--proxy-protocol: the header is read before the connection is served,
    the client it names is the one the server reports, and what follows the
    header is served; bad headers and silent clients are dropped alone."""

    def test_every_model(self):
        headers = {"v1": b"PROXY TCP4 192.0.2.10 127.0.0.1 4321 80\r\n",
                   "v2": v2_header("192.0.2.10", 4321),
                   "any": v2_header("192.0.2.10", 4321)}
        for model in ([], ["--jobs", "2"], ["--async"]):
            for version, header in headers.items():
                with self.subTest(model=model, version=version), \
                     Server("--host", "127.0.0.1", "--lines", "--proxy-protocol", version, *model) as server:
                    self.assertTrue(is_dropped(server.port, b"garbage\n"))
                    self.assertEqual(exchange(server.port, header + b"hello\n"), b"hello\n")
                    server.wait_for_connections(1)
                    status, out, err = server.stop()
                    self.assertEqual(status, 0)
                    self.assertIn("connection from 192.0.2.10:4321\n", out)
                    # The bad one was never served, and was reported once.
                    self.assertEqual(out.count("connection from"), 1)
                    self.assertEqual(err.count("Dropped a connection"), 1, err)

    def test_silent_client_is_dropped_after_the_handshake_timeout(self):
        with Server("--host", "127.0.0.1", "--lines", "--proxy-protocol", "v1",
                    "--handshake-timeout", "300", "--jobs", "1") as server:
            with connect(server.port) as silent:
                start = time.monotonic()
                self.assertTrue(sees_end(silent))
                self.assertGreaterEqual(time.monotonic() - start, 0.25)
                self.assertEqual(exchange(server.port, b"PROXY UNKNOWN\r\nnext\n"), b"next\n")
            self.assertEqual(server.stop()[0], 0)

    def test_without_the_option_a_header_is_data(self):
        with Server("--host", "127.0.0.1", "--lines") as server:
            self.assertEqual(exchange(server.port, b"PROXY TCP4 192.0.2.10 127.0.0.1 4321 80\r\n"),
                             b"PROXY TCP4 192.0.2.10 127.0.0.1 4321 80\n")
            status, out, err = server.stop()
            self.assertNotIn("192.0.2.10", out)


class Jobs(unittest.TestCase):
    def test_jobs_0_is_bounded(self):
        """--jobs 0 runs as many jobs as the descriptor limit leaves room for,
        two descriptors each: with a limit of 160, 64 at most ((160 - 32) / 2),
        where 80 idle clients made 80 threads."""
        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (160, 160))

        with Server("--host", "127.0.0.1", "--jobs", "0", preexec_fn=low_limit) as server:
            clients = [connect(server.port) for _ in range(80)]
            try:
                server.wait_for_connections(64)
                # No 65th job while 64 run (a bounded look: 300 ms).
                self.assertFalse(server.takes_more_than(64, within=0.3), f"{server.connections()} jobs at once")
                self.assertLessEqual(threads_of(server.proc.pid), 64 + 8)
                clients.pop(0).close()  # a job ends: a waiting client is served
                server.wait_for_connections(65)
            finally:
                for s in clients:
                    s.close()
            self.assertEqual(server.stop()[0], 0)

    def test_help_says_the_limit(self):
        status, out, err = run("serve", "--help", check_status=0)
        self.assertIn(b"1024", out)


class Connect(unittest.TestCase):
    def test_against_itself(self):
        for mode, data, expected in (("--echo", b"\x00\x01binary\xff" * 5000, None),
                                     ("--lines", b"a\nb\r\nc\n", b"a\nb\nc\n")):
            with self.subTest(mode=mode), Server("--host", "127.0.0.1", mode) as server:
                status, out, err = run("connect", "127.0.0.1", str(server.port), input=data)
                self.assertEqual(status, 0, err)
                self.assertEqual(out, expected if expected is not None else data)
                self.assertEqual(server.stop()[0], 0)

    def test_against_python_server(self):
        """The peer sees end of input (half-close), then answers and closes."""
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(TIMEOUT)
        received = []

        def peer():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                received.append(b"".join(chunks))
                conn.sendall(b"got %d bytes\n" % len(received[0]))

        thread = threading.Thread(target=peer)
        thread.start()
        try:
            status, out, err = run("connect", "127.0.0.1", str(listener.getsockname()[1]),
                                   input=b"request body" * 100)
        finally:
            thread.join(TIMEOUT)
            listener.close()
        self.assertEqual(status, 0, err)
        self.assertEqual(received, [b"request body" * 100])
        self.assertEqual(out, b"got 1200 bytes\n")

    def test_peer_closes_first(self):
        """The command ends when the peer closes, even with input left."""
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(TIMEOUT)

        def peer():
            conn, _ = listener.accept()
            conn.sendall(b"bye\n")
            conn.close()

        thread = threading.Thread(target=peer)
        thread.start()
        proc = subprocess.Popen([TOOL, "connect", "127.0.0.1", str(listener.getsockname()[1])],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=TIMEOUT)  # stdin stays open until here
        finally:
            if proc.poll() is None:
                proc.kill()
            thread.join(TIMEOUT)
            listener.close()
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out, b"bye\n")


class Tls(unittest.TestCase):
    """serve --tls-certificate and connect --tls, against each other and
    against openssl s_client; certificates from tests/make-test-certs.sh."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "make-test-certs.sh")
        subprocess.run(["/bin/sh", script, cls.dir.name], check=True, timeout=TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def cert(self, name):
        return os.path.join(self.dir.name, name)

    def serve_tls(self, *args, cert="server"):
        return Server("--host", "127.0.0.1", "--lines", "--tls-certificate", self.cert(cert + ".pem"),
                      "--tls-key", self.cert(cert + ".key"), *args)

    def s_client(self, port, line):
        """Sends @line through openssl s_client, validating the server as
        localhost; returns the line it prints. s_client keeps the session
        open after its input: it is stopped once it has the answer."""
        client = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-quiet",
                                   "-CAfile", self.cert("ca.pem"), "-verify_return_error",
                                   "-verify_hostname", "localhost"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            client.stdin.write(line)
            client.stdin.flush()
            ready, _, _ = select.select([client.stdout], [], [], TIMEOUT)
            return client.stdout.readline() if ready else b""
        finally:
            client.kill()
            client.wait(TIMEOUT)
            client.stdin.close()
            client.stdout.close()

    def test_every_model_against_connect_and_s_client(self):
        for model in ([], ["--jobs", "2"], ["--async"]):
            with self.subTest(model=model), self.serve_tls(*model) as server:
                status, out, err = run("connect", "--tls", "--ca-file", self.cert("ca.pem"),
                                       "localhost", str(server.port), input=b"hello\nover TLS\n")
                self.assertEqual((status, out), (0, b"hello\nover TLS\n"), err)
                self.assertEqual(self.s_client(server.port, b"from openssl\n"), b"from openssl\n")
                server.wait_for_connections(2)
                self.assertEqual(server.stop()[0], 0)

    def test_a_plaintext_client_is_dropped_and_reported(self):
        with self.serve_tls("--jobs", "1") as server:
            self.assertTrue(is_dropped(server.port, b"hello in plaintext\n"))
            status, out, err = run("connect", "--tls", "--ca-file", self.cert("ca.pem"),
                                   "localhost", str(server.port), input=b"next\n")
            self.assertEqual((status, out), (0, b"next\n"), err)
            status, out, err = server.stop()
            self.assertEqual(status, 0)
            self.assertIn("The client spoke plaintext to a TLS port", err)
            self.assertEqual(out.count("connection from"), 1)

    def test_errors_name_what_failed(self):
        with self.serve_tls("--jobs", "2", cert="expired") as server:
            for ca, reason in ((None, "not signed by a known certificate authority"),
                               (self.cert("ca.pem"), "it has expired")):
                with self.subTest(ca=ca):
                    args = ["--ca-file", ca] if ca else []
                    status, out, err = run("connect", "--tls", *args, "localhost", str(server.port),
                                           input=b"x\n")
                    self.assertEqual(status, 1)
                    self.assertIn(reason, err.decode())
                    self.assertEqual(err.decode().count("\n"), 1, err)
        with Server("--host", "127.0.0.1", "--echo") as plain:
            # A TLS client on a plaintext port: the echo sends its hello back.
            status, out, err = run("connect", "--tls", "--ca-file", self.cert("ca.pem"),
                                   "localhost", str(plain.port), input=b"")
            self.assertEqual(status, 1)
            self.assertIn("localhost:%d" % plain.port, err.decode())
            self.assertEqual(plain.stop()[0], 0)

    def test_silent_client_is_dropped_after_the_handshake_timeout(self):
        # Time enough for a real handshake on a loaded machine (the
        # sanitizer build).
        with self.serve_tls("--handshake-timeout", "1000", "--jobs", "1") as server:
            with connect(server.port) as silent:
                start = time.monotonic()
                self.assertTrue(sees_end(silent))
                self.assertGreaterEqual(time.monotonic() - start, 0.9)
            status, out, err = run("connect", "--tls", "--ca-file", self.cert("ca.pem"),
                                   "localhost", str(server.port), input=b"after\n")
            self.assertEqual((status, out), (0, b"after\n"), err)
            self.assertEqual(server.stop()[0], 0)

    def test_usage(self):
        for args, mentions in ((["serve", "--tls-key", "k.pem"], "--tls-key needs --tls-certificate"),
                               (["connect", "--ca-file", "ca.pem", "localhost", "1"], "--ca-file needs --tls")):
            status, out, err = run(*args)
            self.assertEqual(status, 2, err)
            self.assertIn(mentions, err.decode())
        status, out, err = run("serve", "--tls-certificate", self.cert("missing.pem"))
        self.assertEqual(status, 1)
        self.assertIn("missing.pem", err.decode())


def free_port():
    """A loopback port that nothing listens on now, for programs that take
    no port 0 (systemd-socket-activate)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(shutil.which("systemd-socket-activate"), "systemd-socket-activate is not installed")
class Activation(unittest.TestCase):
    """serve under systemd-socket-activate adopts the socket it passes."""

    def activated(self, *args, names=()):
        port = free_port()
        command = ["systemd-socket-activate", "-l", f"127.0.0.1:{port}"] + [f"--fdname={n}" for n in names]
        return port, Server(*args, command=command)

    def test_every_model(self):
        for model in Serve.MODELS:
            with self.subTest(model=model):
                port, server = self.activated("--lines", *model)
                with server:
                    server.wait_stderr("Listening on")
                    # serve starts at the first connection, which waits in
                    # the passed socket's queue meanwhile.
                    self.assertEqual(exchange(port, b"first\nsecond\n"), b"first\nsecond\n")
                    server.wait_listening()
                    self.assertEqual(server.address, f"127.0.0.1:{port}")
                    self.assertEqual(exchange(port, b"again\n"), b"again\n")
                    status, out, err = server.stop()
                    self.assertEqual(status, 0, err)
                    self.assertEqual(out.count("listening on "), 1)

    def test_options_that_do_not_apply(self):
        for option in (["--port", "7"], ["--unix", "/tmp/x"], ["--reuse-port"]):
            with self.subTest(option=option):
                port, server = self.activated(*option)
                with server:
                    server.wait_stderr("Listening on")
                    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
                        self.assertEqual(server.proc.wait(TIMEOUT), 2)
                    server.wait_stderr("LISTEN_FDS")

    def test_sockets_of_one_name_are_all_served(self):
        """Two sockets without names (as a socket unit with two
        ListenStream= lines names them alike): both are served."""
        port, other = free_port(), free_port()
        command = ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-l", f"127.0.0.1:{other}"]
        with Server(command=command) as server:
            server.wait_stderr(f"Listening on 127.0.0.1:{other}")
            self.assertEqual(exchange(port, b"two passed"), b"two passed")
            server.wait_listening()
            self.assertEqual(exchange(other, b"both served"), b"both served")
            status, out, err = server.stop()
            self.assertEqual(status, 0, err)
            self.assertEqual(out.count("listening on "), 2)
            self.assertNotIn("were passed", err)

    def test_only_the_first_name_is_served(self):
        port, other = free_port(), free_port()
        command = ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-l", f"127.0.0.1:{other}",
                   "--fdname=web:admin"]
        with Server(command=command) as server:
            server.wait_stderr(f"Listening on 127.0.0.1:{other}")
            self.assertEqual(exchange(port, b"web"), b"web")
            server.wait_listening()
            self.assertEqual(server.address, f"127.0.0.1:{port}")
            server.wait_stderr("2 sockets were passed (LISTEN_FDS); only those named as the first are served")
            self.assertEqual(server.stop()[0], 0)

    def test_variables_for_another_process(self):
        """LISTEN_FDS left for another process is not for serve, which
        listens as usual."""
        with Server("--host", "127.0.0.1", env={"LISTEN_FDS": "1", "LISTEN_PID": "1"}) as server:
            self.assertEqual(exchange(server.port, b"own"), b"own")
            self.assertEqual(server.stop()[0], 0)


class Unix(unittest.TestCase):
    def test_permissions_and_echo(self):
        with tempfile.TemporaryDirectory() as tmp:
            for mode, expected in ((None, 0o600), ("0660", 0o660), ("0700", 0o700)):
                path = os.path.join(tmp, f"s{expected:o}.sock")
                args = ["--unix", path] + (["--permissions", mode] if mode else [])
                with self.subTest(mode=mode), Server(*args) as server:
                    self.assertEqual(server.address, "unix:" + path)
                    st = os.stat(path)
                    self.assertTrue(stat.S_ISSOCK(st.st_mode))
                    self.assertEqual(stat.S_IMODE(st.st_mode), expected)
                    self.assertEqual(exchange(0, b"unix", socket.AF_UNIX, path), b"unix")
                    status, out, err = run("connect", "--unix", path, input=b"tool\n")
                    self.assertEqual((status, out), (0, b"tool\n"), err)
                    self.assertEqual(server.stop()[0], 0)
                self.assertFalse(os.path.exists(path), "the socket file stays after stop")

    def test_stale_socket_is_replaced(self):
        """A socket left by a server that died is replaced."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "crashed.sock")
            crashed = Server("--unix", path)
            crashed.kill()  # SIGKILL: the socket file stays
            self.assertTrue(stat.S_ISSOCK(os.lstat(path).st_mode))
            with Server("--unix", path) as server:
                self.assertEqual(exchange(0, b"again", socket.AF_UNIX, path), b"again")
                self.assertEqual(server.stop()[0], 0)
            self.assertFalse(os.path.exists(path))

    def test_live_socket_is_kept(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "live.sock")
            with Server("--unix", path) as live:
                inode = os.lstat(path).st_ino
                status, out, err = run("serve", "--unix", path)
                self.assertEqual(status, 1)
                self.assertIn(path, err.decode())
                self.assertEqual(os.lstat(path).st_ino, inode)
                self.assertEqual(exchange(0, b"live", socket.AF_UNIX, path), b"live")
                self.assertEqual(live.stop()[0], 0)

    def test_existing_file_is_kept(self):
        with tempfile.NamedTemporaryFile() as existing:
            status, out, err = run("serve", "--unix", existing.name)
            self.assertEqual(status, 1)
            self.assertIn(existing.name, err.decode())
            self.assertTrue(os.path.exists(existing.name))


class List(unittest.TestCase):
    def round_trip(self, value):
        status, out, err = run("list", "encode", json.dumps(value), check_status=0)
        hex_text = out.decode().strip()
        self.assertRegex(hex_text, r"^[0-9a-f]*$")
        status, out, err = run("list", "decode", hex_text, check_status=0)
        return hex_text, json.loads(out)

    def test_round_trip(self):
        for value in ([], ["hello"], [42, -1, 0, 2**40, -2**63], [2.5, -0.125, 1e300],
                      ["ünïcödé", "€", ""], [None, "x", None], ["a", 1, 2.5, None, "b"]):
            with self.subTest(value=value):
                self.assertEqual(self.round_trip(value)[1], value)

    def test_known_bytes(self):
        # LIST-FORMAT.md: "hello" is 07 01 68 65 6c 6c 6f, 42 is 03 04 2a.
        hex_text, decoded = self.round_trip(["hello", 42])
        self.assertEqual(hex_text, "070168656c6c6f03042a")

    def test_booleans_become_integers(self):
        self.assertEqual(self.round_trip([True, False])[1], [1, 0])

    def test_bytes(self):
        # An 8-bit string comes back as a string of its Latin-1 characters,
        # which encodes to the same bytes.
        hex_text, decoded = self.round_trip([{"bytes": "00ff"}])
        self.assertEqual((hex_text, decoded), ("040100ff", ["\u0000\u00ff"]))
        self.assertEqual(self.round_trip(decoded)[0], hex_text)

    def assert_fails(self, *args, mentions, input=None):
        """Exit status 1 and one line on standard error that mentions @mentions."""
        status, out, err = run(*args, input=input)
        self.assertEqual(status, 1, f"{args!r:.200}: {err!r:.300}")
        lines = err.decode().splitlines()
        self.assertEqual(len(lines), 1, f"{args!r:.200}: {lines!r:.300}")
        self.assertIn(mentions, lines[0])
        self.assertEqual(out, b"")

    def test_integers_out_of_range(self):
        for text in ("9223372036854775808", "18446744073709551616", "-9223372036854775809",
                     "12345678901234567890123"):
            with self.subTest(text=text):
                self.assert_fails("list", "encode", f"[1, {text}]", mentions=text)
        self.assertEqual(self.round_trip([2**63 - 1, -2**63])[1], [2**63 - 1, -2**63])

    def test_fractions_and_exponents(self):
        # Doubles, as json-glib read them; beyond the range of a double, an error.
        status, out, err = run("list", "encode", "[1e3, 2.5, -0.0, 1E-2, 1e-400]", check_status=0)
        self.assertEqual(out.decode().strip(), "0a080000000000408f40" "0a080000000000000440"
                         "0a080000000000000080" "0a087b14ae47e17a843f" "0a080000000000000000")
        for text in ("1e400", "-1e400", "1" * 400 + ".0"):
            with self.subTest(text=text[:10]):
                self.assert_fails("list", "encode", f"[{text}]", mentions=text)

    @staticmethod
    def doubles_hex(values):
        """$LIST bytes of doubles (LIST-FORMAT.md: length 10, type 8, then
        the IEEE 754 double, little-endian), in hexadecimal."""
        return b"".join(b"\x0a\x08" + struct.pack("<d", v) for v in values).hex()

    def test_doubles_decode_in_their_shortest_form(self):
        """A decoded double is the shortest text that reads back as the same
        double (Python's repr), and stays a double: 1.0, not 1."""
        cases = {0.1: "0.1", 1e300: "1e+300", 5e-324: "5e-324", -0.0: "-0.0", 1.0: "1.0",
                 123456789.123: "123456789.123", 1e22: "1e+22", 100.0: "100.0", 1e16: "1e+16",
                 1234567890123456.0: "1234567890123456.0", 0.0001: "0.0001", 1e-05: "1e-05",
                 -2.5: "-2.5", 1.7976931348623157e308: "1.7976931348623157e+308",
                 2.2250738585072014e-308: "2.2250738585072014e-308", 1 / 3: "0.3333333333333333"}
        status, out, err = run("list", "decode", self.doubles_hex(cases), check_status=0)
        self.assertEqual(out.decode(), "[" + ",".join(cases.values()) + "]\n")
        decoded = json.loads(out)
        self.assertEqual([struct.pack("<d", v) for v in decoded], [struct.pack("<d", v) for v in cases])
        self.assertTrue(all(type(v) is float for v in decoded))
        # Through encode and back: the same text.
        status, out, err = run("list", "encode", out.decode(), check_status=0)
        self.assertEqual(out.decode().strip(), self.doubles_hex(cases))

    def test_random_doubles_read_back_the_same(self):
        """2000 doubles of random bits (finite ones): each decodes as Python
        writes it, which reads back as the same bits."""
        rng = random.Random(14)
        values = []
        while len(values) < 2000:
            v = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(v):
                values.append(v)
        status, out, err = run("list", "decode", self.doubles_hex(values), check_status=0)
        self.assertEqual(out.decode(), json.dumps(values, separators=(",", ":")) + "\n")

    def test_doubles_that_json_cannot_write(self):
        """Infinities and NaN have no JSON form: an error that names the item,
        not invalid JSON or a silent null."""
        for value, word in ((math.inf, "inf"), (-math.inf, "-inf"), (math.nan, "nan")):
            with self.subTest(value=value):
                self.assert_fails("list", "decode", "0304" "2a" + self.doubles_hex([value]),
                                  mentions=f"item 1 is the double {word}")

    def test_strings_with_nul(self):
        # U+0000 makes an 8-bit string, which decodes back to the same string.
        hex_text, decoded = self.round_trip(["a\u0000b"])
        self.assertEqual((hex_text, decoded), ("0501610062", ["a\u0000b"]))
        for value in ("\u0000", "\u00e9\u0000\u00ff", "x\u0000\u001f\u007f\"\\\b\f\n\r\t"):
            with self.subTest(value=value):
                self.assertEqual(self.round_trip([value])[1], [value])
        # A UTF-16 element cannot be written with U+0000.
        self.assert_fails("list", "encode", '["\\u20ac\\u0000"]', mentions="U+0000")

    def test_control_characters_decode_as_json(self):
        # json-glib wrote U+001F raw, which is not JSON.
        value = "".join(map(chr, range(1, 0x20))) + "\u007f\u20ac"
        self.assertEqual(self.round_trip([value])[1], [value])

    def test_not_json(self):
        # Only JSON: json-glib's extensions are refused, like every syntax error.
        cases = {"['a']": "'", "[0x10]": "x", "[01]": "1", "[.5]": ".", "[1.]": "]", "[1e]": "]",
                 "[-]": "]", "[+1]": "+", "[1,]": "]", "[,1]": ",", "[1 2]": "2", "[1] x": "x",
                 "[1, // c\n 2]": "/", "[nul]": "nul", "[": "ends", '["a': "ends",
                 '["\\x"]': "x", '["\\u12"]': "u", '["\\ud800"]': "surrogate",
                 '["\\udc00\\ud800"]': "surrogate", '["a\tb"]': "offset 3"}
        for text, part in cases.items():
            with self.subTest(text=text):
                self.assert_fails("list", "encode", text, mentions=part)
        self.assert_fails("list", "encode", b'["\xff"]', mentions="UTF-8")

    def test_objects(self):
        for text in ('[{"a": 1}]', "[{}]", '[{"bytes": "00", "x": 1}]', '[{"bytes": 1}]',
                     '[{"bytes\\u0000": "00"}]', '[{"bytes": "0\\u0000"}]', '[{"bytes" "00"}]'):
            with self.subTest(text=text):
                self.assert_fails("list", "encode", text, mentions='{"bytes": "HEX"}')
        self.assert_fails("list", "encode", '[{"bytes": "0g"}]', mentions="0g")
        self.assert_fails("list", "encode", '[{"bytes": "\\x"}]', mentions="x")

    def test_deep_json(self):
        # GIOS_LIST_MAX_DEPTH lists below the top one encode; one more fails.
        limit = 32
        status, out, err = run("list", "encode", "[" * (limit + 1) + "]" * (limit + 1), check_status=0)
        self.assertEqual(len(bytes.fromhex(out.decode().strip())), 2 * limit)
        for depth in (limit + 2, 65000):
            with self.subTest(depth=depth):
                self.assert_fails("list", "encode", "[" * depth + "]" * depth, mentions=str(limit))
        # Objects do not nest either.
        self.assert_fails("list", "encode", "[" + '{"bytes": ' * 12000 + "]", mentions="HEX")

    @staticmethod
    def deep_list(depth):
        """A list nested @depth deep around the integer 7, written from the
        inside out, and the payload of its one element."""
        prefixes, n = [], 3
        for _ in range(depth):
            if n <= 253:
                prefix = bytes([n + 2, 1])
            elif n <= 65534:
                prefix = b"\x00" + (n + 1).to_bytes(2, "little") + b"\x01"
            else:
                prefix = b"\x00\x00\x00" + (n + 1).to_bytes(4, "little") + b"\x01"
            prefixes.append(prefix)
            n += len(prefix)
        data = b"".join(reversed(prefixes)) + b"\x03\x04\x07"
        return data, data[len(prefixes[-1]):]

    def test_deep_hex_list(self):
        # Decoding does not look into strings: a deeply nested list is one
        # 8-bit string, read without recursion.
        for depth, via_stdin in ((10000, False), (200000, True)):
            with self.subTest(depth=depth):
                data, payload = self.deep_list(depth)
                if via_stdin:
                    status, out, err = run("list", "decode", "-", input=data)
                else:
                    status, out, err = run("list", "decode", data.hex())
                self.assertEqual((status, err), (0, b""))
                self.assertEqual(json.loads(out), [payload.decode("latin-1")])

    def test_decode_binary_stdin_and_spaced_hex(self):
        status, out, err = run("list", "decode", "-", input=bytes.fromhex("070168656c6c6f03042a"))
        self.assertEqual((status, json.loads(out)), (0, ["hello", 42]), err)
        status, out, err = run("list", "decode", "07 01 68 65 6c 6c 6f 03:04:2a")
        self.assertEqual((status, json.loads(out)), (0, ["hello", 42]), err)

    def test_malformed(self):
        status, out, err = run("list", "decode", "0901")  # element longer than the input
        self.assertEqual(status, 1)
        self.assertEqual(len(err.decode().splitlines()), 1)
        status, out, err = run("list", "encode", "[1, ")
        self.assertEqual(status, 1)


class Demo(unittest.TestCase):
    def test_demo(self):
        status, out, err = run("demo", check_status=0)
        text = out.decode()
        for expected in ("listening on 127.0.0.1:", "HELLO, CLASSIC MODEL", "Line longer than 16 bytes",
                         "4 jobs ran, at most 2 at once", "receives the item 'temperature'", "receives the item int64 21",
                         "closed (is-open: no)"):
            self.assertIn(expected, text)
        self.assertEqual(err, b"")


if __name__ == "__main__":
    TOOL = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
