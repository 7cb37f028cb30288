#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The key-value example end to end from Python: kv-server (C, argv[1]) in a
child process, a Gios.Socket client speaking Gios.Message requests; and
execute() with a Python handler and a Python subclass."""

import socket
import struct
import subprocess
import sys
import unittest

import gi

gi.require_version("Gios", "1.0")
from gi.repository import Gio, GLib, Gios  # noqa: E402

from giostest import TestCase  # noqa: E402

KV_SERVER = None


def av(*values):
    """A GVariant 'av' from Python values (str, int, bytes, None)."""
    items = []
    for v in values:
        if v is None:
            items.append(GLib.Variant("mv", None))
        elif isinstance(v, str):
            items.append(GLib.Variant("s", v))
        elif isinstance(v, bytes):
            items.append(GLib.Variant("ay", v))
        elif isinstance(v, int):
            items.append(GLib.Variant("x", v))
        else:
            items.append(GLib.Variant("d", v))
    return GLib.Variant("av", items)


class KvServerTest(TestCase):
    def setUp(self):
        self.proc = subprocess.Popen([KV_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        self.assertTrue(line.startswith("PORT "), line)
        self.port = line.split()[1]
        self.client = Gios.Socket.new()
        self.assertTrue(self.client.open("127.0.0.1", self.port, 2000, None))
        self.next_id = 0

    def tearDown(self):
        self.client.close()
        # Standard input ends: the server stops; kill it by pid if it does not.
        self.proc.stdin.close()
        try:
            self.assertEqual(self.proc.wait(10), 0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.proc.stdout.close()

    def call(self, code, *values):
        request = Gios.Message.new_request(self.next_id, 0, code, None)
        if values:
            self.assertTrue(request.set_items(av(*values)))
        self.assertTrue(self.client.send_message(request, None))
        reply = self.client.receive_message(5000, None)
        self.assertIsNotNone(reply)
        self.assertEqual(reply.get_message_id(), self.next_id)
        self.assertEqual(reply.get_kind(), Gios.MessageKind.STATUS)
        self.next_id += 1
        return reply.get_code(), reply.get_items().unpack()

    def test_session(self):
        self.assertEqual(self.call("LK"), (0, []))
        self.assertEqual(self.call("ST", "name", "gio-socket"), (0, []))
        self.assertEqual(self.call("ST", "answer", 42), (0, []))
        self.assertEqual(self.call("ST", "blob", b"\x00\x01\x02"), (0, []))
        self.assertEqual(self.call("ST", "nothing", None), (0, []))
        self.assertEqual(self.call("GT", "name"), (0, ["gio-socket"]))
        self.assertEqual(self.call("GT", "answer"), (0, [42]))
        self.assertEqual(self.call("GT", "blob"), (0, [[0, 1, 2]]))  # ay unpacks to a list
        self.assertEqual(self.call("GT", "nothing"), (0, [None]))
        self.assertEqual(self.call("LK"), (0, ["answer", "blob", "name", "nothing"]))
        self.assertEqual(self.call("DL", "answer"), (0, []))
        self.assertEqual(self.call("DL", "answer"), (100, []))
        self.assertEqual(self.call("GT", "answer"), (100, []))
        self.assertEqual(self.call("GT"), (400, ["wrong number of items"]))
        self.assertEqual(self.call("QQ"), (501, ["unknown code QQ"]))

        # Disconnect: no reply; the server ends the connection.
        self.assertTrue(self.client.send_message(Gios.Message.new_request(self.next_id, 0, "DC", None), None))
        self.assertIsNone(self.client.receive_message(5000, None))

    def test_items_on_the_wire(self):
        # A request built from items sent one by one: header, then items.
        payload = Gios.list_encode(av("k", "v")).get_data()
        header = struct.pack("<IIIcc", len(payload), 9, 0, b"S", b"T")
        self.client.write(header, None)
        self.assertTrue(self.client.send_item(GLib.Variant("s", "k"), None))
        self.assertTrue(self.client.send_item(GLib.Variant("s", "v"), None))
        self.assertTrue(self.client.flush(1000, None))
        reply = self.client.receive_message(5000, None)
        self.assertEqual((reply.get_message_id(), reply.get_code()), (9, 0))
        self.next_id = 10
        self.assertEqual(self.call("GT", "k"), (0, ["v"]))


class ExecuteTest(TestCase):
    """execute() in this process, over a socketpair, with Python handlers."""

    def setUp(self):
        self.ours, self.peer = socket.socketpair()
        gsock = Gio.Socket.new_from_fd(self.ours.detach())
        self.connection = gsock.connection_factory_create_connection()

    def tearDown(self):
        self.peer.close()

    def frame(self, msg_id, code, payload=b""):
        return struct.pack("<III", len(payload), msg_id, 0) + code + payload

    def test_callback(self):
        stream = Gios.DeviceStream.new(self.connection)
        seen = []

        def handler(stream_, request, data):
            seen.append((request.get_code_string(), data))
            if request.get_code_string() != "EC":
                return None
            return Gios.Message.new_reply(request, 0, request.get_payload())

        hi = Gios.list_encode(av("hi")).get_data()
        self.peer.sendall(self.frame(0, b"EC", hi) + self.frame(1, b"ZZ") + self.frame(2, b"DC"))

        result, request = stream.execute(1000, handler, "data", None)
        self.assertEqual(result, Gios.ExecuteResult.REQUEST_DONE)
        self.assertIsNone(request)
        self.assertEqual(self.peer.recv(100), self.frame(0, b"\0\0", hi))

        result, request = stream.execute(1000, handler, "data", None)
        self.assertEqual(result, Gios.ExecuteResult.UNHANDLED)
        self.assertEqual((request.get_code_string(), request.get_message_id()), ("ZZ", 1))

        result, request = stream.execute(1000, handler, "data", None)
        self.assertEqual(result, Gios.ExecuteResult.STOPPED)
        self.assertEqual((request.get_code(), request.get_message_id()), (0x4344, 2))
        self.assertEqual(seen, [("EC", "data"), ("ZZ", "data")])

        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: stream.execute(100, handler, None, None))

        stream.set_stop_code(ord("Q") | ord("T") << 8)
        self.peer.sendall(self.frame(3, b"QT"))
        result, request = stream.execute(1000, handler, None, None)
        self.assertEqual(result, Gios.ExecuteResult.STOPPED)

        self.peer.shutdown(socket.SHUT_WR)
        result, request = stream.execute(1000, handler, None, None)
        self.assertEqual((result, request), (Gios.ExecuteResult.STOPPED, None))

    def test_subclass(self):
        class Upper(Gios.DeviceStream):
            def do_handle_request(self, request):
                if request.get_code_string() != "UP":
                    return None
                text = request.get_items().unpack()[0]
                reply = Gios.Message.new_reply(request, 0, None)
                reply.set_items(av(text.upper()))
                return reply

        stream = Upper(base_stream=self.connection)
        shout = Gios.list_encode(av("shout")).get_data()
        self.peer.sendall(self.frame(4, b"UP", shout) + self.frame(5, b"NO"))
        result, request = stream.execute(1000, None, None, None)
        self.assertEqual(result, Gios.ExecuteResult.REQUEST_DONE)
        reply = Gios.Message.new_from_bytes(GLib.Bytes.new(self.peer.recv(100)))
        self.assertEqual((reply.get_message_id(), reply.get_items().unpack()), (4, ["SHOUT"]))
        result, request = stream.execute(1000, None, None, None)
        self.assertEqual((result, request.get_code_string()), (Gios.ExecuteResult.UNHANDLED, "NO"))

    def test_limits_and_items(self):
        stream = Gios.DeviceStream.new(self.connection)
        self.assertEqual(stream.props.max_message_size, 16 * 1024 * 1024)
        stream.props.max_message_size = 10
        self.peer.sendall(struct.pack("<III", 11, 0, 0) + b"DQ")
        self.assertGError(Gios.error_quark(), Gios.Error.TOO_LARGE, lambda: stream.receive_message(1000, None))
        self.assertEqual(stream.clear(), 14)

        self.peer.sendall(bytes.fromhex("07 01 68 65 6C 6C 6F 02 01 03 04 2A 01"))
        self.assertEqual(stream.receive_item(1000, None).unpack(), "hello")
        self.assertEqual(stream.receive_item(1000, None).unpack(), "")
        self.assertEqual(stream.receive_item(1000, None).unpack(), 42)
        self.assertEqual(stream.receive_item(1000, None).get_type_string(), "mv")
        self.assertIOError(Gio.IOErrorEnum.TIMED_OUT, lambda: stream.receive_item(50, None))

        self.assertTrue(stream.send_item(GLib.Variant("s", "€"), None))
        self.assertTrue(stream.send_item(GLib.Variant("x", -1), None))
        self.assertTrue(stream.flush(1000, None))
        self.assertEqual(self.peer.recv(100), bytes.fromhex("04 02 AC 20 02 05"))

    def test_message_examples(self):
        call = Gios.Message.new_native(5, 0, 0x4B, None)
        call.set_items(av("%SYSTEM.Version", "GetVersion", 0))
        self.assertEqual(call.to_bytes().get_data(), bytes.fromhex(
            "1F000000 05000000 00000000 4BC2"
            "11 01 25 53 59 53 54 45 4D 2E 56 65 72 73 69 6F 6E"
            "0C 01 47 65 74 56 65 72 73 69 6F 6E 02 04"))
        self.assertEqual(call.get_kind(), Gios.MessageKind.NATIVE)
        hs = Gios.Message.new_request(0, 0, "HS", GLib.Bytes.new(b"\x45\x00"))
        self.assertEqual(hs.to_bytes().get_data(), bytes.fromhex("02000000 00000000 00000000 4853 4500"))
        self.assertEqual((hs.get_code(), hs.get_code_string(), hs.get_kind()),
                         (0x5348, "HS", Gios.MessageKind.TWO_LETTER))
        dc = Gios.Message.new_request(0, 0, "DC", None)
        self.assertEqual(dc.to_bytes().get_data(), bytes.fromhex("00000000 00000000 00000000 4443"))


if __name__ == "__main__":
    KV_SERVER = sys.argv.pop(1)
    unittest.main(verbosity=2)
