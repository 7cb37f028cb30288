// SPDX-License-Identifier: LGPL-2.1-or-later
// For test-sigint.js: blocks in the call named by its argument ('listen'
// or 'read_line') without limit, after printing "ready".
import Gios from 'gi://Gios';
import System from 'system';

const server = new Gios.ServerSocket();
server.open_address('127.0.0.1', '0', 1000);
if (System.programArgs[0] === 'read_line') {
    const client = new Gios.Socket();
    client.open('127.0.0.1', String(server.port), 1000, null);
    server.listen(1000, null);
}
print('ready');
if (System.programArgs[0] === 'read_line')
    server.read_line(0, Gios.TIMEOUT_FOREVER, null);
else
    server.listen(Gios.TIMEOUT_FOREVER, null);
print('returned');
