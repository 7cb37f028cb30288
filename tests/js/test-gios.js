// SPDX-License-Identifier: LGPL-2.1-or-later
// The foundation through introspection: GJS against a loopback server.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gios from 'gi://Gios';

import {check, expectError, finish} from './testing.js';

const server = Gios.ServerSocket.new();
server.loopback_only = true;
check(server.open('0', 1000), 'server opens on port 0');
const port = server.port;
check(port > 0, `port read back: ${port}`);

// A plain GIO client on the same thread: the kernel queues the connection
// and the bytes until the server takes them.
const client = new Gio.SocketClient();
const conn = client.connect_to_host(`127.0.0.1:${port}`, 0, null);
conn.get_output_stream().write_all(new TextEncoder().encode('hello\r\nsecond\n'), null);

check(server.listen(1000, null), 'listen takes the connection');
let [line, length] = server.read_line(64, 1000, null);
check(line === 'hello' && length === 5, `CRLF line: ${line}`);
[line] = server.read_line(64, 1000, null);
check(line === 'second', 'second line');

server.write_line('pong', null);
check(server.flush(1000, null), 'flush');
const reply = conn.get_input_stream().read_bytes(16, null).get_data();
check(new TextDecoder().decode(reply) === 'pong\n', 'client got the reply');

const start = GLib.get_monotonic_time();
expectError(() => server.read_line(64, 150, null),
    Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, 'silent peer times out');
const elapsed = (GLib.get_monotonic_time() - start) / 1000;
check(elapsed >= 140 && elapsed < 500, `timeout took ${elapsed} ms`);

let events = [];
server.connect('disconnected', (s, intentional) => events.push(intentional));
check(server.drop_connection(), 'drop_connection');
check(events.length === 1 && events[0] === true, 'disconnected(intentional)');
expectError(() => server.read_line(64, 0, null),
    Gios.Error, Gios.Error.NOT_CONNECTED, 'reading with no connection');
server.close();
check(!server.is_open, 'closed');

expectError(() => Gios.Socket.new().open('127.0.0.1', String(port), 500, null),
    Gio.IOErrorEnum, Gio.IOErrorEnum.CONNECTION_REFUSED, 'closed port refuses');

// Bytes, byte for byte. The C calls that fill a caller's buffer are not
// introspectable (GJS refused them); read_bytes reads what is there and
// read_exact (read_exact_bytes in C) exactly count bytes, as GLib.Bytes.
const BINARY = new Uint8Array([0x00, 0xff, 0x80, 0x61, 0x00, 0x0d, 0x0a, 0xc3]);

function sameBytes(bytes, expected) {
    const got = bytes instanceof GLib.Bytes ? bytes.toArray() : bytes;
    return got.length === expected.length && got.every((b, i) => b === expected[i]);
}

// A connected pair over a Unix socket: GJS has no socketpair().
function streamPair() {
    const dir = GLib.dir_make_tmp('gios-test-XXXXXX');
    const address = Gio.UnixSocketAddress.new(`${dir}/s`);
    const listener = new Gio.SocketListener();
    listener.add_address(address, Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT, null);
    const peer = new Gio.SocketClient().connect(address, null);
    const [connection] = listener.accept(null);
    listener.close();
    GLib.unlink(`${dir}/s`);
    GLib.rmdir(dir);
    return [Gios.DeviceStream.new(connection), peer];
}

function expectTimeout(fn, what) {
    expectError(fn, Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, what);
}

{
    const [stream, peer] = streamPair();
    const out = peer.get_output_stream();
    check(!('read' in stream), 'the caller-buffer read is not exposed');

    out.write_all(BINARY, null);
    check(sameBytes(stream.read_bytes(100, 1000, null), BINARY), 'read_bytes: NUL, 0xff, 0x80 intact');

    out.write_all(BINARY.subarray(0, 3), null);
    check(sameBytes(stream.read_bytes(4096, 5000, null), BINARY.subarray(0, 3)),
        'read_bytes returns what is there');
    out.write_all(new TextEncoder().encode('abcdef'), null);
    check(sameBytes(stream.read_bytes(4, 1000, null), new TextEncoder().encode('abcd')), 'read_bytes at most count');
    check(sameBytes(stream.read_bytes(4, 0, null), new TextEncoder().encode('ef')), 'the rest, buffered');
    expectTimeout(() => stream.read_bytes(4, 100, null), 'read_bytes with nothing there times out');

    out.write_all(BINARY, null);
    const exact = stream.read_exact(BINARY.length, 1000, null);
    check(exact instanceof GLib.Bytes && sameBytes(exact, BINARY), 'read_exact: exact bytes');
    check(stream.read_exact(0, 0, null).get_size() === 0, 'read_exact of 0 bytes');

    // A timed-out read_exact consumes nothing: the next one gets every byte.
    out.write_all(BINARY.subarray(0, 3), null);
    const start2 = GLib.get_monotonic_time();
    expectTimeout(() => stream.read_exact(BINARY.length, 150, null), 'read_exact with part of it times out');
    check((GLib.get_monotonic_time() - start2) / 1000 >= 140, 'after the timeout');
    check(stream.get_buffered_input() === 3, 'the part stays buffered');
    out.write_all(BINARY.subarray(3), null);
    check(sameBytes(stream.read_exact(BINARY.length, 1000, null), BINARY), 'then read_exact gets all of it');

    // End of input: read_exact fails and keeps the bytes; read_bytes is empty.
    out.write_all(BINARY.subarray(0, 2), null);
    peer.get_socket().shutdown(false, true);
    expectError(() => stream.read_exact(3, 1000, null),
        Gio.IOErrorEnum, Gio.IOErrorEnum.CONNECTION_CLOSED, 'read_exact past the end');
    check(sameBytes(stream.read_exact(2, 1000, null), BINARY.subarray(0, 2)), 'the bytes before the end');
    check(stream.read_bytes(100, 1000, null).get_size() === 0 && stream.at_end, 'end of input: empty');
    stream.close();
    peer.close(null);
}

{
    // read_exact across several arrivals, from a writer that pauses.
    const start3 = GLib.get_monotonic_time();
    const writer = Gio.Subprocess.new(['/bin/sh', '-c',
        "printf '\\000\\377\\200'; sleep 0.05; printf 'a'; sleep 0.05; printf '\\000\\r\\n\\303'"],
    Gio.SubprocessFlags.STDOUT_PIPE);
    const stream = Gios.DeviceStream.new(
        Gio.SimpleIOStream.new(writer.get_stdout_pipe(), Gio.MemoryOutputStream.new_resizable()));
    check(sameBytes(stream.read_exact(BINARY.length, 10000, null), BINARY), 'read_exact over three arrivals');
    check((GLib.get_monotonic_time() - start3) / 1000 >= 95, 'it waited for the later arrivals');
    check(writer.wait(null) && stream.read_bytes(100, 1000, null).get_size() === 0, 'then the end');
    stream.close();
}

{
    // Lines of any bytes: read_line_bytes; read_line (a string) refuses a
    // line that is not UTF-8 text and consumes nothing.
    const [stream, peer] = streamPair();
    const out = peer.get_output_stream();
    out.write_all(new Uint8Array([0x61, 0x00, 0x62, 0x0a, 0xff, 0xfe, 0x0d, 0x0a, 0x6f, 0x6b, 0x0a]), null);
    expectError(() => stream.read_line(100, 1000, null),
        Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_DATA, 'read_line refuses a NUL');
    check(stream.get_buffered_input() === 11, 'nothing consumed');
    check(sameBytes(stream.read_line_bytes(100, 1000, null), new Uint8Array([0x61, 0x00, 0x62])),
        'read_line_bytes: the NUL line');
    expectError(() => stream.read_line(100, 1000, null),
        Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_DATA, 'read_line refuses bytes that are not UTF-8');
    check(sameBytes(stream.read_line_bytes(100, 1000, null), new Uint8Array([0xff, 0xfe])),
        'read_line_bytes: 0xff 0xfe, without CR LF');
    const [line, length] = stream.read_line(100, 1000, null);
    check(line === 'ok' && length === 2, 'then a text line');
    stream.close();
    peer.close(null);
}

// Deployment: every listening address, and the properties of reuse-port and
// replace-stale.
{
    const deployed = Gios.ServerSocket.new();
    check(!deployed.reuse_port && !deployed.replace_stale, 'reuse-port and replace-stale default to false');
    deployed.reuse_port = true;
    deployed.set_replace_stale(true);
    check(deployed.get_reuse_port() && deployed.replace_stale, 'reuse-port and replace-stale set');
    check(deployed.get_addresses().length === 0, 'no address before open');
    deployed.open_address('127.0.0.1', '0', 1000);
    const addresses = deployed.get_addresses();
    check(addresses.length === 1 && addresses[0] instanceof Gio.InetSocketAddress &&
        addresses[0].get_port() === deployed.port, `one address, on port ${deployed.port}`);
    deployed.close();
}

finish();
