// SPDX-License-Identifier: LGPL-2.1-or-later
// The classic model in one thread: a server and a client on loopback.
// Run with: gjs -m hello.js
import Gios from 'gi://Gios';

const server = Gios.ServerSocket.new();
server.open_address('127.0.0.1', '0', 1000);        // port 0: any free port
const client = Gios.Socket.new();
client.open('127.0.0.1', String(server.port), 1000, null);
client.write_line('hello', null);
client.flush(1000, null);

server.listen(1000, null);                           // wait 1 s for a connection
const [line] = server.read_line(80, 1000, null);     // at most 80 bytes, 1 s
server.write_line('world', null);
server.drop_connection();                            // flushes, keeps listening

const [reply] = client.read_line(80, 1000, null);
print(`server read "${line}", client read "${reply}"`);
