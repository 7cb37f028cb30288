#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The PyGObject overrides (python/gi/overrides/Gios.py): Ctrl-C ends every
blocking call with KeyboardInterrupt, a handler that returns lets the call
go on within its timeout, a caller's cancellable still cancels; with
blocks, lines, bytes and defaults."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import gi

gi.require_version("Gios", "1.0")
from gi.repository import Gio, GLib, Gios  # noqa: E402

from giostest import TestCase  # noqa: E402

FOREVER = Gios.TIMEOUT_FOREVER

# A child program: makes a server with a silent client (a plain socket
# connected and queued), SETUP, prints "ready", then blocks in CALL. On
# KeyboardInterrupt it prints "interrupted", closes what it made and prints
# "closed".
CHILD = '''
import socket, sys, time
import gi
gi.require_version("Gios", "1.0")
from gi.repository import GLib, Gio, Gios
FOREVER = Gios.TIMEOUT_FOREVER
server = Gios.ServerSocket()
server.open_address("127.0.0.1", 0, 1000)
client = socket.create_connection(("127.0.0.1", server.props.port))
objects = [server]
{setup}
print("ready", flush=True)
try:
    {call}
    print("returned", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
for o in objects:
    try:
        o.close()
    except GLib.Error as e:
        print("close reported", e.code, flush=True)
print("closed" if not any(o.props.is_open for o in objects) else "still open", flush=True)
'''

# A setup that takes the queued client and drops it: the server has none.
DRAINED = "server.listen(1000)\nserver.drop_connection()"

# setup, call: one for each blocking call.
BLOCKING_CALLS = {
    "listen": (DRAINED, "server.listen(FOREVER)"),
    "accept": ("objects.append(server.accept(1000))", "server.accept(FOREVER)"),
    "read_line": ("server.listen(1000)", "server.read_line(0, FOREVER)"),
    "read_line_bytes": ("server.listen(1000)", "server.read_line_bytes(0, FOREVER)"),
    "read_exact": ("server.listen(1000)", "server.read_exact(10, FOREVER)"),
    "read_bytes": ("server.listen(1000)", "server.read_bytes(10, FOREVER)"),
    "read": ("server.listen(1000)", "server.read(10)"),
    "iteration": ("server.listen(1000)", "for line in server: pass"),
    "poll": ("server.listen(1000)", "server.poll(GLib.IOCondition.IN, FOREVER)"),
    "receive_message": ("server.listen(1000)", "server.receive_message(FOREVER)"),
    "flush": ("server.listen(1000)\n"
              "server.props.output_buffer_size = 64 * 1024 * 1024\n"
              "server.props.close_timeout = 100\n"
              "server.write(b'x' * (32 * 1024 * 1024))",
              "server.flush(FOREVER)"),
    "listen_job": ("", "server.listen_job(FOREVER, 0, lambda c, cancellable, data: None)"),
    "wait_jobs": ("server.listen_job(300, 0, lambda c, cancellable, data: c.read_line(0, FOREVER, cancellable))",
                  "server.wait_jobs(FOREVER)"),
    # The only listener's queue is full (backlog 0, one queued): a connect
    # waits for a place there.
    "Socket.open": ("full = socket.socket()\nfull.bind(('127.0.0.1', 0))\nfull.listen(0)\n"
                    "queued = [socket.socket() for _ in range(3)]\n"
                    "for s in queued: s.setblocking(False); s.connect_ex(full.getsockname())\n"
                    "connecting = Gios.Socket()\nobjects.append(connecting)",
                    "connecting.open('127.0.0.1', full.getsockname()[1], FOREVER)"),
}


def run_program(program, signum=signal.SIGINT):
    """Runs program, which prints "ready" before it blocks, and sends it
    signum then; returns its output, error output, status and the seconds
    from the signal to its exit. Killed by pid after 10 s."""
    # SIGINT at its default action even when the test runs with it ignored
    # (as a shell's background job does): then Python installs its handler.
    child = subprocess.Popen(["env", "--default-signal=INT", sys.executable, "-c", program],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = child.stdout.readline()
        if ready != "ready\n":
            child.kill()
            _, err = child.communicate(10)
            raise AssertionError(f"the child did not start: {ready!r} {err}")
        # Time to enter the call; the assertions hold if it is not in it
        # yet (then the signal raises before the call).
        time.sleep(0.3)
        signalled_at = time.monotonic()
        child.send_signal(signum)
        out, err = child.communicate(timeout=10)
        return out, err, child.returncode, time.monotonic() - signalled_at
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def run_child(setup, call, signum=signal.SIGINT):
    """run_program() of CHILD with setup and call."""
    return run_program(CHILD.format(setup=setup, call=call), signum)


class CtrlCTest(TestCase):
    def test_every_blocking_call(self):
        for name, (setup, call) in BLOCKING_CALLS.items():
            with self.subTest(call=name):
                out, err, status, seconds = run_child(setup, call)
                # What a flush could not send, close() could not either.
                unsent = f"close reported {int(Gio.IOErrorEnum.TIMED_OUT)}\n" if name == "flush" else ""
                self.assertEqual(out, f"interrupted\n{unsent}closed\n", err)
                self.assertEqual(status, 0, err)
                self.assertLess(seconds, 1.0)

    def test_uncaught_interrupt_ends_the_program(self):
        # As in any Python program: KeyboardInterrupt unwinds to the top.
        program = CHILD[:CHILD.index("print(\"ready\"")] + 'print("ready", flush=True)\nserver.listen(FOREVER)\n'
        out, err, status, seconds = run_program(program.format(setup=DRAINED))
        self.assertEqual(out, "")
        self.assertIn("KeyboardInterrupt", err)
        self.assertNotEqual(status, 0)
        self.assertLess(seconds, 1.0)

    def test_handler_that_returns_resumes_the_call(self):
        # A handler of its own for SIGINT (and one for SIGUSR1): the call
        # goes on after it and still ends at its own timeout.
        for signum in (signal.SIGINT, signal.SIGUSR1):
            with self.subTest(signal=signum):
                setup = (DRAINED + f"\nseen = []\nimport signal\nsignal.signal({int(signum)}, lambda s, f: seen.append(s))\n"
                         "start = time.monotonic()")
                call = ("try:\n"
                        "        server.listen(1500)\n"
                        "    except GLib.Error as e:\n"
                        "        print(e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT), seen,\n"
                        "              round(time.monotonic() - start, 1), flush=True)")
                out, err, status, seconds = run_child(setup, call, signum)
                self.assertEqual(status, 0, err)
                lines = out.splitlines()
                self.assertEqual(lines[0].split()[:2], ["True", f"[{int(signum)}]"], out + err)
                self.assertGreaterEqual(float(lines[0].split()[2]), 1.4)
                self.assertLess(float(lines[0].split()[2]), 2.5)
                self.assertEqual(lines[1:], ["returned", "closed"])

    def test_resumed_call_takes_a_connection(self):
        # After the handler, listen() still takes the connection that comes.
        setup = ("import signal, threading\nsignal.signal(signal.SIGUSR1, lambda s, f: None)\n"
                 "server.listen(1000)\nserver.drop_connection()\nlate = []\n"
                 "threading.Timer(0.8, lambda: late.append(socket.create_connection(\n"
                 "    ('127.0.0.1', server.props.port)))).start()")
        call = "print(server.listen(5000), server.props.is_connected, flush=True)"
        out, err, status, _ = run_child(setup, call, signal.SIGUSR1)
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "True True\nreturned\nclosed\n", err)


class InProcessTest(TestCase):
    def setUp(self):
        self.server = Gios.ServerSocket()
        self.addCleanup(self.server.close)
        self.server.open_address("127.0.0.1", 0, 1000)

    def later(self, seconds, fn):
        timer = threading.Timer(seconds, fn)
        timer.start()
        self.addCleanup(timer.join)
        self.addCleanup(timer.cancel)

    def test_own_cancellable_is_not_retried(self):
        cancellable = Gio.Cancellable()
        self.later(0.2, cancellable.cancel)
        start = time.monotonic()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, lambda: self.server.listen(FOREVER, cancellable))
        self.assertLess(time.monotonic() - start, 1.0)
        # Already cancelled: at once.
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, lambda: self.server.accept(FOREVER, cancellable))
        self.assertTrue(self.server.props.is_open)

    def test_own_cancellable_after_a_resumed_call(self):
        seen = []
        previous = signal.signal(signal.SIGUSR1, lambda s, f: seen.append(s))
        self.addCleanup(signal.signal, signal.SIGUSR1, previous)
        cancellable = Gio.Cancellable()
        self.later(0.1, lambda: os.kill(os.getpid(), signal.SIGUSR1))
        self.later(0.5, cancellable.cancel)
        start = time.monotonic()
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, lambda: self.server.listen(FOREVER, cancellable))
        self.assertEqual(seen, [signal.SIGUSR1])
        self.assertGreaterEqual(time.monotonic() - start, 0.45)
        self.assertLess(time.monotonic() - start, 1.5)

    def test_wakeup_fd_is_restored_and_told(self):
        previous = signal.signal(signal.SIGUSR1, lambda s, f: None)
        self.addCleanup(signal.signal, signal.SIGUSR1, previous)
        theirs, ours = socket.socketpair()
        self.addCleanup(theirs.close)
        self.addCleanup(ours.close)
        ours.setblocking(False)
        old = signal.set_wakeup_fd(ours.fileno())
        self.addCleanup(signal.set_wakeup_fd, old)
        self.later(0.1, lambda: os.kill(os.getpid(), signal.SIGUSR1))
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: self.server.listen(400))
        self.assertEqual(signal.set_wakeup_fd(ours.fileno()), ours.fileno())
        theirs.settimeout(1)
        self.assertEqual(theirs.recv(16), bytes([signal.SIGUSR1]))

    def test_other_threads_call_straight_through(self):
        errors = []

        def listen():
            try:
                self.server.listen(100)
            except GLib.Error as e:
                errors.append(e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT))

        thread = threading.Thread(target=listen)
        thread.start()
        thread.join(5)
        self.assertEqual(errors, [True])

    def test_calls_that_cannot_wait_cost_no_signal_set_up(self):
        # A watch's calls (reads and flushes with a timeout of 0, writes that
        # fit in the output buffer) cannot block: they must not swap signal
        # handlers or the wake-up descriptor (34 system calls a request
        # before). A call that waits still does, and still gets its reply.
        client = socket.create_connection(("127.0.0.1", self.server.props.port))
        self.addCleanup(client.close)
        self.assertTrue(self.server.listen(5000))
        client.sendall(b"ping\n")
        self.assertEqual(self.server.poll(GLib.IOCondition.IN, 5000), GLib.IOCondition.IN)
        calls = []
        real = signal.set_wakeup_fd

        def counting(*args, **kwargs):
            calls.append(args)
            return real(*args, **kwargs)

        signal.set_wakeup_fd = counting
        try:
            self.assertEqual(self.server.read_line(0, 0), ("ping", 4))
            self.assertTrue(self.server.write_line("pong"))
            self.assertTrue(self.server.write(b"!"))
            self.assertTrue(self.server.flush(0))
            self.assertEqual(calls, [])
            self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: self.server.read_line(0, 50))
            self.assertNotEqual(calls, [])
        finally:
            signal.set_wakeup_fd = real
        client.settimeout(5)
        self.assertEqual(client.recv(16), b"pong\n!")

    def test_wait_jobs_with_cancellable(self):
        client = socket.create_connection(("127.0.0.1", self.server.props.port))
        self.addCleanup(client.close)
        self.assertEqual(self.server.listen_job(300, 0, lambda c, cancellable, d: c.read_line(0, 5000, cancellable)), 1)
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: self.server.wait_jobs(100))
        cancellable = Gio.Cancellable()
        self.later(0.1, cancellable.cancel)
        self.assertIOError(Gio.IOErrorEnum.CANCELLED, lambda: self.server.wait_jobs(FOREVER, cancellable))
        self.assertEqual(self.server.get_n_jobs(), 1)
        client.sendall(b"done\n")
        self.assertTrue(self.server.wait_jobs(5000))


class PythonicTest(TestCase):
    def pair(self):
        ours, peer = socket.socketpair()
        self.addCleanup(peer.close)
        connection = Gio.Socket.new_from_fd(ours.detach()).connection_factory_create_connection()
        stream = Gios.DeviceStream.new(connection)
        self.addCleanup(stream.close)
        return stream, peer

    def test_overrides_loaded(self):
        self.assertEqual(Gios.ServerSocket.listen.__module__, "gi.overrides.Gios")
        self.assertIn("KeyboardInterrupt", Gios.ServerSocket.listen.__doc__)
        self.assertIn("bytes", Gios.DeviceStream.read_bytes.__doc__)

    def test_with_closes(self):
        with Gios.ServerSocket() as server:
            server.open_address("127.0.0.1", 0)
            with Gios.Socket() as client:
                self.assertTrue(client.open("127.0.0.1", server.props.port))   # an int port
                self.assertTrue(client.props.is_connected)
            self.assertFalse(client.props.is_open)
            self.assertTrue(server.props.is_open)
        self.assertFalse(server.props.is_open)
        stream, _ = self.pair()
        with stream as s:
            self.assertIs(s, stream)
        self.assertFalse(stream.props.is_open)

    def test_with_closes_on_error(self):
        with self.assertRaises(ValueError):
            with Gios.ServerSocket() as server:
                server.open("0")
                raise ValueError()
        self.assertFalse(server.props.is_open)

    def test_lines(self):
        stream, peer = self.pair()
        peer.sendall("one\r\ntwo\nthré\nlast".encode())
        peer.shutdown(socket.SHUT_WR)
        self.assertEqual(list(stream), ["one", "two", "thré", "last"])

    def test_lines_arguments_and_bytes(self):
        stream, peer = self.pair()
        peer.sendall(b"a\x00b\n\xff\n" + b"x" * 50 + b"\n")
        lines = stream.lines_bytes(max_length=10, timeout_ms=1000)
        self.assertEqual(next(lines), b"a\x00b")
        self.assertEqual(next(lines), b"\xff")
        self.assertGError(Gios.error_quark(), Gios.Error.LINE_TOO_LONG, lambda: next(lines))
        # The long line is still there, for a larger limit.
        self.assertEqual(next(stream.lines(max_length=100, timeout_ms=1000)), "x" * 50)
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: next(stream.lines(timeout_ms=50)))

    def test_bytes_and_defaults(self):
        stream, peer = self.pair()
        self.assertTrue(stream.write("é\n"))
        self.assertTrue(stream.write(b"\x00\xff"))
        self.assertTrue(stream.write_bytes(GLib.Bytes.new(b"!")))
        self.assertTrue(stream.write_bytes(b"?"))
        self.assertTrue(stream.write_line("end"))
        self.assertTrue(stream.flush())
        peer.settimeout(5)
        got = b""
        while len(got) < 11:
            got += peer.recv(64)
        self.assertEqual(got, "é\n".encode() + b"\x00\xff!?end\n")

        peer.sendall(b"line\n\x00\x01\x02\x03\x04\x05")
        self.assertEqual(stream.read_line(), ("line", 4))
        self.assertEqual(stream.read_exact(2), b"\x00\x01")
        self.assertEqual(stream.read(1), b"\x02")
        self.assertEqual(stream.read_bytes(10), b"\x03\x04\x05")
        self.assertIsInstance(stream.read_bytes(0, 0), bytes)
        peer.shutdown(socket.SHUT_WR)
        self.assertIsNone(stream.read_line_bytes())
        self.assertEqual(stream.read(10), b"")

    def test_async_finish_bytes(self):
        stream, peer = self.pair()
        peer.sendall(b"\x00\xff\nrest")
        loop = GLib.MainLoop()
        results = []

        def got_rest(s, result):
            results.append(s.read_bytes_finish(result))
            loop.quit()

        def got_line(s, result):
            results.append(s.read_line_bytes_finish(result))
            s.read_bytes_async(10, 1000, GLib.PRIORITY_DEFAULT, None, got_rest)

        stream.read_line_bytes_async(100, 1000, GLib.PRIORITY_DEFAULT, None, got_line)
        GLib.timeout_add_seconds(5, loop.quit)
        loop.run()
        self.assertEqual(results, [b"\x00\xff", b"rest"])

    def test_int_ports(self):
        server = Gios.ServerSocket()
        self.addCleanup(server.close)
        self.assertTrue(server.open_address("127.0.0.1", 0))
        other = Gios.ServerSocket()
        self.assertIOError(Gio.IOErrorEnum.ADDRESS_IN_USE,
                           lambda: other.open_address("127.0.0.1", server.props.port, 0))
        client = Gios.Socket()
        self.addCleanup(client.close)
        self.assertTrue(client.open("127.0.0.1", server.props.port, 1000))
        self.assertTrue(server.listen(1000))


if __name__ == "__main__":
    unittest.main(verbosity=2)
