// SPDX-License-Identifier: LGPL-2.1-or-later
// The GJS overrides (js/overrides/Gios.js): the asynchronous methods called
// without a callback return a Promise, which resolves with what the _finish
// call returns and rejects with its GLib.Error; with a callback they work as
// before.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gios from 'gi://Gios';

import {check, finish} from './testing.js';

const PRIORITY = GLib.PRIORITY_DEFAULT;
const decode = bytes => new TextDecoder().decode(bytes.toArray());

async function main() {
    const server = new Gios.ServerSocket();
    server.open_address('127.0.0.1', '0', 1000);

    // listen_async: the server's own connection.
    const client = new Gios.Socket();
    const opened = client.open_async('127.0.0.1', String(server.port), 1000, null);
    check(opened instanceof Promise, 'open_async without a callback returns a Promise');
    check(await opened === true, 'open_async resolves with true');
    check(await server.listen_async(null) === true && server.is_connected, 'listen_async resolves');

    client.write_line('text line', null);
    client.write_bytes(new GLib.Bytes(new Uint8Array([0x00, 0xff, 0x0a, 0x61, 0x62])), null);
    check(await client.flush_async(1000, PRIORITY, null) === true, 'flush_async resolves with true');
    const [line, length] = await server.read_line_async(100, 1000, PRIORITY, null);
    check(line === 'text line' && length === 9, `read_line_async resolves with [line, length]: ${line}`);
    const binary = await server.read_line_bytes_async(100, 1000, PRIORITY, null);
    check(binary instanceof GLib.Bytes && binary.toArray().join() === '0,255', 'read_line_bytes_async: bytes');
    const rest = await server.read_bytes_async(10, 1000, PRIORITY, null);
    check(decode(rest) === 'ab', 'read_bytes_async: what is there');

    check(await server.write_async(new TextEncoder().encode('to client\n'), 1000, PRIORITY, null) === true,
        'write_async resolves');
    check(await server.write_bytes_async(new GLib.Bytes(new TextEncoder().encode('and more\n')), 1000,
        PRIORITY, null) === true, 'write_bytes_async resolves');
    await server.flush_async(1000, PRIORITY, null);
    check((await client.read_line_async(100, 1000, PRIORITY, null))[0] === 'to client', 'the client reads');
    check((await client.read_line_async(100, 1000, PRIORITY, null))[0] === 'and more', 'in order');

    // An error rejects the Promise with the GLib.Error.
    try {
        await client.read_line_async(100, 100, PRIORITY, null);
        check(false, 'a silent peer: no error');
    } catch (e) {
        check(e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT),
            `a timeout rejects with the GLib.Error (${e.message})`);
    }

    // accept_async: a connection of its own.
    const second = new Gios.Socket();
    await second.open_async('127.0.0.1', String(server.port), 1000, null);
    const accepted = await server.accept_async(null);
    check(accepted instanceof Gios.Socket && accepted.is_connected, 'accept_async resolves with the connection');
    accepted.close();
    second.close();

    // With a callback, as before.
    await new Promise(resolve => {
        const ret = client.flush_async(1000, PRIORITY, null, (c, res) => {
            check(c.flush_finish(res), 'with a callback, the callback runs');
            resolve();
        });
        check(ret === undefined, 'with a callback, no Promise');
    });
    client.close();
    server.close();
}

const loop = new GLib.MainLoop(null, false);
main().catch(e => check(false, `failed: ${e}\n${e.stack}`)).finally(() => loop.quit());
GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 20, () => {
    check(false, 'timed out');
    loop.quit();
    return GLib.SOURCE_REMOVE;
});
loop.run();
finish();
