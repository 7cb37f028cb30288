// SPDX-License-Identifier: LGPL-2.1-or-later
// The foundation through introspection: GJS against a loopback server.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gios from 'gi://Gios';
import System from 'system';

let failures = 0;
function check(cond, what) {
    if (cond) {
        print(`ok - ${what}`);
    } else {
        print(`not ok - ${what}`);
        failures++;
    }
}

function expectError(fn, domain, code, what) {
    try {
        fn();
        check(false, `${what}: no error`);
    } catch (e) {
        check(e instanceof GLib.Error && e.matches(domain, code), `${what} (${e.message})`);
    }
}

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

print(`1..${failures === 0 ? 'done' : 'failed'}`);
System.exit(failures === 0 ? 0 : 1);
