#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Serving many from Python: listen_job with a do_run subclass and with a
job function, start() on a GLib main loop, and a connection behind a load
balancer (the PROXY protocol)."""

import socket
import struct
import threading
import unittest

import gi

gi.require_version("Gios", "1.0")
from gi.repository import Gio, GLib, GObject, Gios  # noqa: E402


class UpperSocket(Gios.Socket):
    """A protocol helper: answers each line in upper case."""

    def do_run(self, cancellable):
        while True:
            line, _ = self.read_line(100, 2000, cancellable)
            if line is None:
                return
            self.write_line(line.upper(), None)
            self.flush(2000, None)


def open_server():
    server = Gios.ServerSocket.new()
    assert server.open_address("127.0.0.1", "0", 1000)
    return server


def talk(port, lines):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall("".join(line + "\n" for line in lines).encode())
        c.shutdown(socket.SHUT_WR)
        return c.makefile("rb").read().decode()


class ListenJobTest(unittest.TestCase):
    def test_subclass_run(self):
        server = open_server()
        server.props.socket_type = UpperSocket.__gtype__
        replies = []
        clients = [threading.Thread(target=lambda: replies.append(talk(server.props.port, ["a", "b"])))
                   for _ in range(4)]
        for c in clients:
            c.start()
        started = server.listen_job(1500, 2, None, None)
        for c in clients:
            c.join(5)
        self.assertEqual(started, 4)
        self.assertTrue(server.wait_jobs(2000))
        self.assertEqual(replies, ["A\nB\n"] * 4)

    def test_job_function(self):
        server = open_server()
        seen = []
        lock = threading.Lock()

        def job(connection, cancellable, data):
            line, _ = connection.read_line(100, 2000, cancellable)
            with lock:
                seen.append((line, data, threading.current_thread() is not threading.main_thread()))
            connection.write_line("ok " + line, None)

        client = threading.Thread(target=lambda: seen.append(talk(server.props.port, ["job"])))
        client.start()
        self.assertEqual(server.listen_job(500, 0, job, "data"), 1)
        client.join(5)
        self.assertTrue(server.wait_jobs(2000))
        self.assertIn(("job", "data", True), seen)
        self.assertIn("ok job\n", seen)
        self.assertEqual(server.get_n_jobs(), 0)


class StartTest(unittest.TestCase):
    def test_start_on_main_loop(self):
        server = open_server()
        loop = GLib.MainLoop()
        replies = []
        stopped = []

        def on_line(conn, result):
            line, _ = conn.read_line_finish(result)
            conn.write_line(line[::-1], None)
            conn.flush_async(1000, GLib.PRIORITY_DEFAULT, None, None)

        def on_accepted(srv, conn):
            conn.read_line_async(100, 2000, GLib.PRIORITY_DEFAULT, None, on_line)
            return True

        def on_reply(client, result):
            line, _ = client.read_line_finish(result)
            replies.append(line)
            server.stop()
            loop.quit()

        def on_open(client, result):
            self.assertTrue(client.open_finish(result))
            client.write_line("stressed", None)
            client.flush(1000, None)
            client.read_line_async(100, 2000, GLib.PRIORITY_DEFAULT, None, on_reply)

        server.connect("accepted", on_accepted)
        server.connect("stopped", lambda srv, reason: stopped.append(reason.code))
        self.assertTrue(server.start())
        client = Gios.Socket.new()
        client.open_async("127.0.0.1", str(server.props.port), 1000, None, on_open)
        GLib.timeout_add_seconds(10, loop.quit)
        loop.run()
        self.assertEqual(replies, ["desserts"])
        self.assertEqual(stopped, [Gio.IOErrorEnum.CANCELLED])

    def test_watch_on_main_loop(self):
        """A server on start() whose connections are served from watches:
        read what is there with a timeout of 0, answer, flush."""
        server = open_server()
        loop = GLib.MainLoop()
        result = {}

        def on_readable(conn, condition, tag):
            self.assertEqual(tag, "tag")
            self.assertTrue(condition & GLib.IOCondition.IN)
            try:
                line, _ = conn.read_line(100, 0, None)
            except GLib.Error as e:
                # Only part of a line there yet: wait for the rest.
                self.assertTrue(e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT))
                return GLib.SOURCE_CONTINUE
            if line is None:
                conn.close()
                return GLib.SOURCE_REMOVE
            conn.write_line(line.upper(), None)
            conn.flush(0, None)
            return GLib.SOURCE_CONTINUE

        def on_accepted(srv, conn):
            self.assertGreater(conn.add_watch(GLib.IOCondition.IN, on_readable, "tag"), 0)
            return True

        def client():
            result["reply"] = talk(server.props.port, ["ping", "pong"])
            GLib.idle_add(loop.quit)

        server.connect("accepted", on_accepted)
        self.assertTrue(server.start())
        thread = threading.Thread(target=client)
        thread.start()
        GLib.timeout_add_seconds(10, loop.quit)
        loop.run()
        thread.join()
        server.close()
        self.assertEqual(result.get("reply"), "PING\nPONG\n")


class ProxyTest(unittest.TestCase):
    def test_proxy_address_after_a_v2_header(self):
        server = open_server()
        server.props.proxy_protocol = Gios.ProxyProtocol.V2
        server.props.handshake_timeout = 2000
        authority = b"example.org"
        tlv = bytes([0x02]) + struct.pack("!H", len(authority)) + authority
        body = (socket.inet_aton("198.51.100.20") + socket.inet_aton("127.0.0.1")
                + struct.pack("!HH", 5555, 80) + tlv)
        header = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack("!H", len(body)) + body
        with socket.create_connection(("127.0.0.1", server.props.port), timeout=5) as c:
            c.sendall(header + b"after the header\n")
            connection = server.accept(5000, None)
            remote = connection.props.remote_address
            self.assertEqual(remote.get_address().to_string(), "198.51.100.20")
            self.assertEqual(remote.get_port(), 5555)
            # The balancer: the real peer, this client.
            proxy = connection.props.proxy_address
            self.assertEqual(proxy.get_address().to_string(), "127.0.0.1")
            self.assertEqual(proxy.get_port(), c.getsockname()[1])
            self.assertEqual(connection.get_proxy_authority(), "example.org")
            self.assertFalse(connection.get_proxy_ssl())
            self.assertEqual(connection.get_proxy_tlv(0x02).get_data(), authority)
            line, _ = connection.read_line(100, 2000, None)
            self.assertEqual(line, "after the header")
        server.close()


class DeployTest(unittest.TestCase):
    def test_get_addresses(self):
        server = Gios.ServerSocket.new()
        self.assertEqual(server.get_addresses(), [])
        self.assertTrue(server.open("0", 1000))
        port = server.props.port
        addresses = server.get_addresses()
        self.assertIn(Gio.SocketFamily.IPV4, [a.get_family() for a in addresses])
        for address in addresses:
            self.assertIsInstance(address, Gio.InetSocketAddress)
            self.assertEqual(address.get_port(), port)
            self.assertTrue(address.get_address().get_is_any())
        self.assertTrue(server.close())
        self.assertEqual(server.get_addresses(), [])

    def test_replace_stale(self):
        server = Gios.ServerSocket.new()
        self.assertFalse(server.props.replace_stale)
        server.props.replace_stale = True
        self.assertTrue(server.get_replace_stale())

    def test_reuse_port(self):
        first, second = Gios.ServerSocket.new(), Gios.ServerSocket.new()
        self.assertFalse(first.props.reuse_port)
        first.props.reuse_port = True
        second.set_reuse_port(True)
        self.assertTrue(first.get_reuse_port())
        self.assertTrue(first.open_address("127.0.0.1", "0", 1000))
        port = str(first.props.port)
        self.assertTrue(second.open_address("127.0.0.1", port, 0))
        self.assertEqual(second.props.port, first.props.port)
        other = Gios.ServerSocket.new()
        with self.assertRaises(GLib.Error) as caught:
            other.open_address("127.0.0.1", port, 0)
        self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.ADDRESS_IN_USE))


class DrainTest(unittest.TestCase):
    def test_drain_cuts_what_does_not_finish(self):
        """drain() from Python: an idle main-loop connection is cut at the
        deadline, the error says so, and the server ends closed."""
        server = open_server()
        taken = []

        def on_accepted(srv, conn):
            taken.append(conn)
            return True

        server.connect("accepted", on_accepted)
        self.assertTrue(server.start())
        with socket.create_connection(("127.0.0.1", server.props.port), 5) as s:
            context = GLib.MainContext.default()
            for _ in range(500):
                if taken:
                    break
                context.iteration(True)
            self.assertEqual(len(taken), 1)
            with self.assertRaises(GLib.Error) as caught:
                server.drain(200)
            self.assertTrue(caught.exception.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT))
            self.assertIn("1 connection was still open", caught.exception.message)
            self.assertFalse(taken[0].props.is_open)
            self.assertFalse(server.props.is_open)
            self.assertEqual(s.recv(16), b"")

    def test_drain_with_nothing_to_wait_for(self):
        server = open_server()
        self.assertTrue(server.drain(1000))
        self.assertFalse(server.props.is_open)


if __name__ == "__main__":
    unittest.main(verbosity=2)
