// SPDX-License-Identifier: LGPL-2.1-or-later
// The Node line-echo server for the line benchmark, written the way a Node
// user would (net, 'data' events, split on "\n"):
//
//   node line-echo-node.js --port=N
//
// Listens on 127.0.0.1, prints "PORT <n>" once listening, answers every
// line with the same line and exits 0 on SIGTERM or SIGINT.
'use strict';
const net = require('net');

let port = 0;
for (const arg of process.argv.slice(2)) {
    if (arg.startsWith('--port='))
        port = Number(arg.slice('--port='.length));
}

const sockets = new Set();
const server = net.createServer({ noDelay: true }, socket => {
    sockets.add(socket);
    socket.setEncoding('utf8');
    let pending = '';
    socket.on('data', data => {
        pending += data;
        let end;
        while ((end = pending.indexOf('\n')) >= 0) {
            socket.write(pending.slice(0, end + 1));
            pending = pending.slice(end + 1);
        }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    socket.on('end', () => socket.end());
});

server.listen({ host: '127.0.0.1', port, backlog: 1024 }, () => {
    process.stdout.write(`PORT ${server.address().port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
        server.close();
        for (const socket of sockets)
            socket.destroy();
        process.exit(0);
    });
}
