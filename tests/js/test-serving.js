// SPDX-License-Identifier: LGPL-2.1-or-later
// Serving from GJS: start() with the accepted signal and read_line_async, a
// client with open_async that reads its reply from a watch, all on one main
// loop.
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Gios from 'gi://Gios';
import System from 'system';

const loop = new GLib.MainLoop(null, false);
const server = Gios.ServerSocket.new();
server.open_address('127.0.0.1', '0', 1000);
let replies = [];
let stopped = [];
const kept = [];

server.connect('accepted', (srv, conn) => {
    kept.push(conn);
    conn.read_line_async(100, 2000, GLib.PRIORITY_DEFAULT, null, (c, res) => {
        const [line] = c.read_line_finish(res);
        c.write_line(`got ${line}`, null);
        c.flush_async(1000, GLib.PRIORITY_DEFAULT, null, null);
    });
    return true;
});
server.connect('stopped', (srv, reason) => stopped.push(reason.message));
server.start();

const N = 3;
for (let i = 0; i < N; i++) {
    const client = Gios.Socket.new();
    client.open_async('127.0.0.1', String(server.port), 1000, null, (c, res) => {
        c.open_finish(res);
        c.write_line(`hello ${i}`, null);
        c.flush(1000, null);
        // The reply through a watch: read what is there, without waiting.
        c.add_watch(GLib.IOCondition.IN, (c2, condition) => {
            let reply;
            try {
                [reply] = c2.read_line(100, 0, null);
            } catch (e) {
                if (e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT))
                    return GLib.SOURCE_CONTINUE;   // not all of the line yet
                throw e;
            }
            replies.push(reply);
            if (replies.length === N) {
                server.stop();
                loop.quit();
            }
            return GLib.SOURCE_REMOVE;
        });
    });
}

GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 10, () => {
    print('not ok - timed out');
    System.exit(1);
});
loop.run();

replies.sort();
const expected = ['got hello 0', 'got hello 1', 'got hello 2'];
const ok = JSON.stringify(replies) === JSON.stringify(expected) && stopped.length === 1;
print(`${ok ? 'ok' : 'not ok'} - replies ${JSON.stringify(replies)}, stopped ${JSON.stringify(stopped)}`);
System.exit(ok ? 0 : 1);
