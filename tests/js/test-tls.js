// SPDX-License-Identifier: LGPL-2.1-or-later
// TLS from GJS: a server on the main loop (start()) presenting its
// certificate, and a client that connects and upgrades with the promise
// form of start_tls_async; then a client that does not trust the server's
// certificate gets the error that says why. The certificates come from
// tests/make-test-certs.sh (openssl).
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Gios from 'gi://Gios';
import {check, expectError, finish} from './testing.js';

const here = GLib.path_get_dirname(GLib.filename_from_uri(import.meta.url)[0]);
const dir = GLib.dir_make_tmp('gios-tls-js-XXXXXX');
const [, , , status] = GLib.spawn_sync(null, ['/bin/sh', `${here}/../make-test-certs.sh`, dir],
    null, GLib.SpawnFlags.DEFAULT, null);
check(status === 0, 'certificates made');

function serverWith(name) {
    const server = Gios.ServerSocket.new();
    server.tls_certificate = Gio.TlsCertificate.new_from_files(`${dir}/${name}.pem`, `${dir}/${name}.key`);
    server.open_address('127.0.0.1', '0', 1000);
    return server;
}

const kept = [];
function serve(server) {
    server.connect('accepted', (srv, conn) => {
        kept.push(conn);
        conn.read_line_async(100, 5000, GLib.PRIORITY_DEFAULT, null, (c, res) => {
            const [line] = c.read_line_finish(res);
            c.write_line(`got ${line}`, null);
            c.flush(0, null);
        });
        return true;
    });
    server.start();
}

async function main() {
    const server = serverWith('server');
    serve(server);

    const client = Gios.Socket.new();
    client.tls_database = Gio.TlsFileDatabase.new(`${dir}/ca.pem`);
    await client.open_async('localhost', String(server.port), 5000, null);
    await client.start_tls_async(5000, null);
    check(client.get_is_tls(), 'the client is in TLS');
    client.write_line('hello', null);
    await client.flush_async(5000, GLib.PRIORITY_DEFAULT, null);
    const [reply] = await client.read_line_async(100, 5000, GLib.PRIORITY_DEFAULT, null);
    check(reply === 'got hello', `the reply came through TLS (${reply})`);
    client.close();
    server.stop();

    const untrusted = serverWith('self');
    serve(untrusted);
    const doubter = Gios.Socket.new();
    doubter.tls_database = Gio.TlsFileDatabase.new(`${dir}/ca.pem`);
    await doubter.open_async('localhost', String(untrusted.port), 5000, null);
    try {
        await doubter.start_tls_async(5000, null);
        check(false, 'an untrusted certificate is refused');
    } catch (e) {
        check(e.matches(Gio.TlsError, Gio.TlsError.BAD_CERTIFICATE) &&
              e.message.includes('not signed by a known certificate authority'),
        `an untrusted certificate is refused (${e.message})`);
    }
    untrusted.stop();
    expectError(() => doubter.write_line('x', null) && doubter.flush(1000, null),
        Gio.IOErrorEnum, Gio.IOErrorEnum.CONNECTION_CLOSED, 'the failed connection cannot be used');
}

const loop = new GLib.MainLoop(null, false);
let failed = null;
main().catch(e => {
    failed = e;
}).finally(() => loop.quit());
GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 20, () => {
    failed = new Error('timed out');
    loop.quit();
    return GLib.SOURCE_REMOVE;
});
loop.run();
GLib.spawn_sync(null, ['rm', '-rf', dir], null, GLib.SpawnFlags.SEARCH_PATH, null);
check(failed === null, `no exception (${failed})`);
finish();
