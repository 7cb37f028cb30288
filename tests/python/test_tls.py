#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""TLS from Python: a server whose jobs speak TLS and a client that
upgrades with start_tls(); the main loop's start() with start_tls_async();
the error of a certificate the client does not trust. The certificates come
from tests/make-test-certs.sh (openssl)."""

import os
import subprocess
import tempfile
import threading
import unittest

import gi

gi.require_version("Gios", "1.0")
from gi.repository import Gio, GLib, Gios  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        subprocess.run(["/bin/sh", os.path.join(HERE, "..", "make-test-certs.sh"), cls.dir.name],
                       check=True, timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def server(self, cert="server"):
        server = Gios.ServerSocket.new()
        server.set_tls_certificate(Gio.TlsCertificate.new_from_files(
            self.path(cert + ".pem"), self.path(cert + ".key")))
        self.assertTrue(server.open_address("127.0.0.1", 0, 1000))
        return server

    def client(self, server):
        client = Gios.Socket.new()
        client.set_tls_database(Gio.TlsFileDatabase.new(self.path("ca.pem")))
        self.assertTrue(client.open("localhost", server.props.port, 5000))
        return client

    def test_jobs_and_a_client(self):
        server = self.server()

        def job(connection, cancellable, data):
            self.assertTrue(connection.get_is_tls())
            line, _ = connection.read_line(100, 5000, cancellable)
            connection.write_line(line.upper(), None)
            connection.flush(5000, None)

        served = []
        serving = threading.Thread(target=lambda: served.append(server.listen_job(1500, 1, job, None)))
        serving.start()
        client = self.client(server)
        self.assertFalse(client.get_is_tls())
        self.assertTrue(client.start_tls(5000))
        self.assertTrue(client.get_is_tls())
        client.write_line("over tls", None)
        client.flush(5000)
        self.assertEqual(client.read_line(100, 5000)[0], "OVER TLS")
        client.close()
        serving.join(10)
        self.assertEqual(served, [1])
        self.assertTrue(server.wait_jobs(5000))

    def test_main_loop(self):
        server = self.server()
        loop = GLib.MainLoop()
        replies = []
        kept = []

        def on_line(connection, result):
            line, _ = connection.read_line_finish(result)
            connection.write_line("got " + line, None)
            connection.flush(0)

        def on_accepted(server, connection):
            kept.append(connection)
            connection.read_line_async(100, 5000, GLib.PRIORITY_DEFAULT, None, on_line)
            return True

        def on_reply(client, result):
            replies.append(client.read_line_finish(result)[0])
            loop.quit()

        def on_tls(client, result):
            self.assertTrue(client.start_tls_finish(result))
            client.write_line("hello", None)
            client.flush(5000)
            client.read_line_async(100, 5000, GLib.PRIORITY_DEFAULT, None, on_reply)

        server.connect("accepted", on_accepted)
        self.assertTrue(server.start())
        client = Gios.Socket.new()
        client.set_tls_database(Gio.TlsFileDatabase.new(self.path("ca.pem")))
        client.open_async("localhost", str(server.props.port), 5000, None,
                          lambda c, r: c.open_finish(r) and
                          c.start_tls_async(5000, None, on_tls))
        GLib.timeout_add_seconds(10, loop.quit)
        loop.run()
        server.stop()
        self.assertEqual(replies, ["got hello"])

    def test_untrusted_certificate(self):
        server = self.server("self")
        serving = threading.Thread(target=lambda: server.listen_job(1500, 1, lambda *a: None, None))
        serving.start()
        client = self.client(server)
        with self.assertRaises(GLib.Error) as raised:
            client.start_tls(5000)
        self.assertTrue(raised.exception.matches(Gio.tls_error_quark(), Gio.TlsError.BAD_CERTIFICATE))
        self.assertIn("not signed by a known certificate authority", raised.exception.message)
        serving.join(10)
        server.close()


if __name__ == "__main__":
    unittest.main()
