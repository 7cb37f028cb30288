// SPDX-License-Identifier: LGPL-2.1-or-later
// Line-echo servers for the line benchmark, written the way a GJS user
// would:
//
//   gjs -m line-echo.js --model=watch|async --port=N
//
// Listens on 127.0.0.1, prints "PORT <n>" once listening, answers every
// line with the same line and exits 0 on SIGTERM or SIGINT.
//
//   watch  start() and ::accepted, add_watch() on each connection, one
//          read_line() and a flush() with a timeout of 0 per call
//   async  start() and ::accepted, read_line_async() and flush_async()
//
// The library as installed, or uninstalled through GI_TYPELIB_PATH,
// LD_LIBRARY_PATH and GJS_PATH=<source>/js.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gios from 'gi://Gios';
import System from 'system';

let model = null, port = '0';
for (const arg of System.programArgs) {
    if (arg.startsWith('--model='))
        model = arg.slice('--model='.length);
    else if (arg.startsWith('--port='))
        port = arg.slice('--port='.length);
}
if (model !== 'watch' && model !== 'async') {
    printerr('usage: gjs -m line-echo.js --model=watch|async --port=N');
    System.exit(2);
}

const timedOut = e => e.matches?.(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT);

// watch: one line a call (a whole line left in the buffer calls again in
// the next iteration, half a line once the rest arrives), answered and sent
// without waiting; when the peer takes less, wait for room instead of input.
function onWritable(conn) {
    try {
        conn.flush(0, null);
    } catch (e) {
        if (timedOut(e))
            return GLib.SOURCE_CONTINUE;
        conn.close();
        return GLib.SOURCE_REMOVE;
    }
    conn.add_watch(GLib.IOCondition.IN, onReadable);
    return GLib.SOURCE_REMOVE;
}

function onReadable(conn) {
    let line;
    try {
        [line] = conn.read_line(0, 0, null);
    } catch (e) {
        if (timedOut(e))                    // no whole line yet
            return GLib.SOURCE_CONTINUE;
        conn.close();
        return GLib.SOURCE_REMOVE;
    }
    if (line === null) {                    // end of input
        conn.close();
        return GLib.SOURCE_REMOVE;
    }
    conn.write_line(line, null);
    try {
        conn.flush(0, null);
    } catch (e) {
        if (!timedOut(e)) {
            conn.close();
            return GLib.SOURCE_REMOVE;
        }
        conn.add_watch(GLib.IOCondition.OUT, onWritable);
        return GLib.SOURCE_REMOVE;
    }
    return GLib.SOURCE_CONTINUE;
}

// async: one read_line_async at a time, the next from the flush's callback.
function readNext(conn) {
    conn.read_line_async(0, Gios.TIMEOUT_FOREVER, GLib.PRIORITY_DEFAULT, null, (c, result) => {
        let line = null;
        try {
            [line] = c.read_line_finish(result);
        } catch (e) {
        }
        if (line === null) {
            c.close();
            return;
        }
        c.write_line(line, null);
        c.flush_async(Gios.TIMEOUT_FOREVER, GLib.PRIORITY_DEFAULT, null, (c2, r) => {
            try {
                c2.flush_finish(r);
            } catch (e) {
                c2.close();
                return;
            }
            readNext(c2);
        });
    });
}

const loop = new GLib.MainLoop(null, false);
const server = Gios.ServerSocket.new();
server.connection_queue_size = 1024;
server.open_address('127.0.0.1', port, 1000);
for (const signum of [15, 2]) {
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, () => {
        server.close();
        loop.quit();
        return GLib.SOURCE_REMOVE;
    });
}
server.connect('accepted', (_server, conn) => {
    if (model === 'watch')
        conn.add_watch(GLib.IOCondition.IN, onReadable);
    else
        readNext(conn);
    return true;
});
server.start();
print(`PORT ${server.port}`);
loop.run();
