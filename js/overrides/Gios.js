// SPDX-License-Identifier: LGPL-2.1-or-later
// GJS overrides for Gios, loaded by GJS when it imports the namespace
// ('gi://Gios' or imports.gi.Gios) from a directory on its search path
// (GJS_PATH, or gjs-1.0 under the XDG data directories, where `meson install`
// puts this file).
//
// They make the asynchronous methods return a Promise when they are called
// without a callback, the GJS convention (Gio._promisify), so that
//   const [line] = await stream.read_line_async(1024, 5000, GLib.PRIORITY_DEFAULT, null);
// works. With a callback they behave as before.
/* exported _init */
const {Gio} = imports.gi;

function _init() {
    const Gios = this;
    const asyncMethods = [
        [Gios.DeviceStream, [
            'read_bytes_async', 'read_line_async', 'read_line_bytes_async',
            'write_async', 'write_bytes_async', 'flush_async',
        ]],
        [Gios.SocketCommon, ['start_tls_async']],
        [Gios.Socket, ['open_async']],
        [Gios.ServerSocket, ['accept_async', 'listen_async']],
    ];
    for (const [klass, names] of asyncMethods) {
        for (const name of names)
            Gio._promisify(klass.prototype, name, name.replace(/_async$/, '_finish'));
    }
}
