// SPDX-License-Identifier: LGPL-2.1-or-later
// A main-loop server in GJS: every read and flush is asynchronous, so the
// loop never blocks while a connection is served. GJS cannot run JavaScript
// on other threads, so it serves on the main loop, never with listen_job().
//
// The server answers each line in capitals until the client closes. A
// client in the same program sends two lines and closes its sending side.
//
//   gjs -m mainloop-server.js          (from the build tree: meson devenv -C build)
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gios from 'gi://Gios';

const loop = new GLib.MainLoop(null, false);
const server = Gios.ServerSocket.new();
server.open_address('127.0.0.1', '0', 1000);

// The client connects and sends before anyone accepts: the kernel queues it.
const client = Gios.Socket.new();
client.open('127.0.0.1', String(server.port), 1000, null);
client.write_line('hello', null);
client.write_line('main loop', null);
client.flush(1000, null);
client.socket.shutdown(false, true);   // end of input for the server

// Serve one connection with read_line_async() and flush_async(), one
// callback after the other.
function serve(connection) {
    connection.read_line_async(1024, 5000, GLib.PRIORITY_DEFAULT, null, (source, result) => {
        let line;
        try {
            [line] = source.read_line_finish(result);
        } catch (e) {
            print(`server: ${e.message}`);
            line = null;
        }
        if (line === null) {            // end of input: the client is done
            source.close();
            loop.quit();
            return;
        }
        source.write_line(line.toUpperCase(), null);
        source.flush_async(1000, GLib.PRIORITY_DEFAULT, null, (s, r) => {
            s.flush_finish(r);
            serve(s);
        });
    });
}

// Accept on the main loop: 'accepted' is emitted for each connection, and
// the handler that returns true has taken it.
server.connect('accepted', (_server, connection) => {
    serve(connection);
    return true;
});
server.start();
GLib.timeout_add(GLib.PRIORITY_DEFAULT, 5000, () => loop.quit());
loop.run();

// The client reads the answers, then the end of input.
for (;;) {
    const [reply] = client.read_line(1024, 1000, null);
    if (reply === null)
        break;
    print(`client read "${reply}"`);
}
server.close();
