#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The foundation through introspection: PyGObject against a loopback server."""

import os
import socket
import stat
import tempfile
import threading
import time
import unittest

import gi

gi.require_version("Gios", "1.0")
from gi.repository import Gio, GLib, Gios  # noqa: E402
from gi.module import get_introspection_module  # noqa: E402

from giostest import TestCase  # noqa: E402


def open_server():
    server = Gios.ServerSocket.new()
    server.props.loopback_only = True
    assert server.open("0", 1000)
    return server


class ServerSocketTest(TestCase):
    def test_classic_lines(self):
        server = open_server()
        port = server.props.port
        self.assertGreater(port, 0)
        replies = []

        def client():
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                c.sendall(b"hello\r\nwor")
                time.sleep(0.02)  # a split arrival, not synchronisation
                c.sendall(b"ld\n")
                replies.append(c.makefile("rb").readline())

        thread = threading.Thread(target=client)
        thread.start()
        self.assertTrue(server.listen(2000, None))
        self.assertTrue(server.props.is_connected)
        line, length = server.read_line(64, 2000, None)
        self.assertEqual((line, length), ("hello", 5))
        line, length = server.read_line(64, 2000, None)
        self.assertEqual(line, "world")
        server.write_line("pong", None)
        self.assertTrue(server.flush(1000, None))
        thread.join(5)
        self.assertEqual(replies, [b"pong\n"])

        events = []
        server.connect("disconnected", lambda s, intentional, reason: events.append(intentional))
        self.assertTrue(server.drop_connection())
        self.assertEqual(events, [True])
        self.assertFalse(server.props.is_connected)
        server.close()
        self.assertFalse(server.props.is_open)

    def test_timeout_and_errors(self):
        server = open_server()
        with socket.create_connection(("127.0.0.1", server.props.port)) as c:
            c.sendall(b"x" * 100)
            self.assertTrue(server.listen(1000, None))

            start = time.monotonic()
            self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: server.read_line(1000, 150, None))
            elapsed = time.monotonic() - start
            self.assertGreaterEqual(elapsed, 0.14)
            self.assertLess(elapsed, 0.5)

            # The bytes that arrived are still there, and a short limit
            # fails with LINE_TOO_LONG.
            self.assertGError(Gios.error_quark(), Gios.Error.LINE_TOO_LONG,
                              lambda: server.read_line(10, 150, None))
            self.assertEqual(server.clear(), 100)

            c.sendall(b"abc")
            data = server.read_bytes(1024, 1000, None)
            self.assertEqual(data, b"abc")

    def test_unix_permissions(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s.sock")
            server = Gios.ServerSocket.new()
            self.assertTrue(server.open_unix(path, 0o600, 0))
            mode = os.lstat(path).st_mode
            self.assertTrue(stat.S_ISSOCK(mode))
            self.assertEqual(stat.S_IMODE(mode), 0o600)
            self.assertIOError(Gio.IOErrorEnum.ADDRESS_IN_USE,
                               lambda: Gios.ServerSocket.new().open_unix(path, 0o600, 0))
            server.close()
            self.assertFalse(os.path.exists(path))


class SocketTest(TestCase):
    def test_client(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        client = Gios.Socket.new()
        self.assertTrue(client.open("127.0.0.1", str(port), 1000, None))
        peer, _ = listener.accept()
        client.write_line("hi", None)
        client.flush(1000, None)
        self.assertEqual(peer.recv(16), b"hi\n")
        peer.sendall(b"yo\n")
        self.assertEqual(client.read_line(0, 1000, None)[0], "yo")
        peer.close()
        # End of input: no line and no error.
        self.assertEqual(client.read_line(0, 1000, None)[0], None)
        self.assertTrue(client.props.at_end)
        client.close()
        listener.close()

    def test_refused(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        error = self.assertIOError(Gio.IOErrorEnum.CONNECTION_REFUSED,
                                   lambda: Gios.Socket.new().open("127.0.0.1", str(port), 1000, None))
        self.assertIn("127.0.0.1:%d" % port, error.message)


# The classes as introspected, without the overrides.
GIRepository = get_introspection_module("Gios")

BINARY = b"\x00\xff\x80a\x00\r\n\xc3"


class ByteReadTest(TestCase):
    """read_bytes and read_exact, byte for byte, over a socketpair.

    The C calls that fill a caller's buffer (gios_device_stream_read and
    gios_device_stream_read_exact) are not introspectable: bindings read
    into a GLib.Bytes, with read_exact_bytes under the name read_exact, and
    the Python overrides return those as bytes (read() is read_bytes())."""

    def setUp(self):
        ours, self.peer = socket.socketpair()
        self.addCleanup(self.peer.close)
        connection = Gio.Socket.new_from_fd(ours.detach()).connection_factory_create_connection()
        self.assertIsInstance(connection, Gio.SocketConnection)
        self.stream = Gios.DeviceStream.new(connection)
        self.addCleanup(self.stream.close)

    def test_buffer_forms_not_exposed(self):
        # The caller-allocates forms crashed PyGObject: they stay C only;
        # what Python calls read and read_exact reads into a GLib.Bytes.
        introspected = GIRepository.DeviceStream
        self.assertFalse(hasattr(introspected, "read"))
        self.assertEqual([a.get_name() for a in introspected.read_exact.get_arguments()],
                         ["count", "timeout_ms", "cancellable"])

    def test_read_bytes_exact_bytes(self):
        self.peer.sendall(BINARY)
        self.assertEqual(self.stream.read_bytes(100, 1000, None), BINARY)

    def test_read_bytes_short(self):
        # Returns what is there, at most count, and waits for nothing more.
        self.peer.sendall(b"\x00\xff\x80")
        start = time.monotonic()
        self.assertEqual(self.stream.read_bytes(4096, 5000, None), b"\x00\xff\x80")
        self.assertLess(time.monotonic() - start, 2.5)
        self.peer.sendall(b"abcdef")
        self.assertEqual(self.stream.read_bytes(4, 1000, None), b"abcd")
        self.assertEqual(self.stream.read_bytes(4, 0, None), b"ef")
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: self.stream.read_bytes(4, 100, None))

    def test_read_exact(self):
        self.peer.sendall(BINARY + b"rest")
        data = self.stream.read_exact(len(BINARY), 1000, None)
        self.assertIsInstance(data, bytes)
        self.assertEqual(data, BINARY)
        self.assertEqual(self.stream.read_exact(0, 0, None), b"")
        # What follows stays buffered.
        self.assertEqual(self.stream.read_exact(4, 0, None), b"rest")

    def test_read_exact_several_arrivals(self):
        payload = bytes(range(256)) * 4096   # 1 MiB, every byte value

        def send():
            for i in range(0, len(payload), 65536):
                self.peer.sendall(payload[i:i + 65536])
                time.sleep(0.001)  # spreads the arrivals, not synchronisation

        sender = threading.Thread(target=send)
        sender.start()
        try:
            data = self.stream.read_exact(len(payload), 20000, None)
        finally:
            sender.join(20)
        self.assertEqual(len(data), len(payload))
        self.assertEqual(data, payload)

    def test_read_exact_timeout_consumes_nothing(self):
        self.peer.sendall(BINARY[:3])
        start = time.monotonic()
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: self.stream.read_exact(len(BINARY), 150, None))
        self.assertGreaterEqual(time.monotonic() - start, 0.14)
        self.assertEqual(self.stream.get_buffered_input(), 3)
        self.peer.sendall(BINARY[3:])
        self.assertEqual(self.stream.read_exact(len(BINARY), 1000, None), BINARY)
        self.assertEqual(self.stream.get_buffered_input(), 0)

    def test_peer_count_cannot_overflow(self):
        # A length prefix from the peer sizes the read, not a buffer: a peer
        # that sends more than it announced cannot write past anything.
        self.peer.sendall(b"\x04" + BINARY)
        count = self.stream.read_exact(1, 1000, None)[0]
        self.assertEqual(self.stream.read_exact(count, 1000, None), BINARY[:4])
        self.assertEqual(self.stream.read_bytes(100, 1000, None), BINARY[4:])

    def test_end_of_input(self):
        self.peer.sendall(b"\x00\xff")
        self.peer.shutdown(socket.SHUT_WR)
        self.assertIOError(Gio.IOErrorEnum.CONNECTION_CLOSED, lambda: self.stream.read_exact(3, 1000, None))
        # The bytes before the end are still there, then empty reads.
        self.assertEqual(self.stream.read_exact(2, 1000, None), b"\x00\xff")
        self.assertEqual(self.stream.read_bytes(100, 1000, None), b"")
        self.assertTrue(self.stream.props.at_end)


class LineBytesTest(TestCase):
    """read_line_bytes returns any line as bytes; read_line (a str) refuses a
    line that is not UTF-8 text and consumes nothing, so nothing is lost."""

    setUp = ByteReadTest.setUp

    def test_binary_lines(self):
        self.peer.sendall(b"a\x00b\n\xff\xfe\x80\r\nok\n")
        self.assertIOError(Gio.IOErrorEnum.INVALID_DATA, lambda: self.stream.read_line(100, 1000, None))
        self.assertEqual(self.stream.get_buffered_input(), 12)
        line = self.stream.read_line_bytes(100, 1000, None)
        self.assertIsInstance(line, bytes)
        self.assertEqual(line, b"a\x00b")
        self.assertIOError(Gio.IOErrorEnum.INVALID_DATA, lambda: self.stream.read_line(100, 1000, None))
        self.assertEqual(self.stream.read_line_bytes(100, 1000, None), b"\xff\xfe\x80")
        self.assertEqual(self.stream.read_line(100, 1000, None), ("ok", 2))
        self.peer.shutdown(socket.SHUT_WR)
        self.assertIsNone(self.stream.read_line_bytes(100, 1000, None))

    def test_binary_line_async(self):
        self.peer.sendall(b"\x00\xff\n")
        loop = GLib.MainLoop()
        results = []

        def done(stream, result):
            results.append(stream.read_line_bytes_finish(result))
            loop.quit()

        self.stream.read_line_bytes_async(100, 1000, GLib.PRIORITY_DEFAULT, None, done)
        GLib.timeout_add_seconds(5, loop.quit)
        loop.run()
        self.assertEqual(results, [b"\x00\xff"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
