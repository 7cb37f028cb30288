// SPDX-License-Identifier: LGPL-2.1-or-later
// The key-value example end to end from GJS: kv-server (C, the first
// argument) in a child process, a Gios.Socket client speaking Gios.Message
// requests; and execute() with a JavaScript handler.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Gios from 'gi://Gios';
import System from 'system';

import {check, expectError, finish} from './testing.js';

function av(...values) {
    return new GLib.Variant('av', values.map(v => {
        if (v === null)
            return new GLib.Variant('mv', null);
        if (typeof v === 'string')
            return new GLib.Variant('s', v);
        return new GLib.Variant('x', v);
    }));
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The server, in a child process: its first line is "PORT <n>".
const proc = Gio.Subprocess.new([System.programArgs[0]],
    Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
const out = new Gio.DataInputStream({base_stream: proc.get_stdout_pipe()});
const [line] = out.read_line_utf8(null);
check(line !== null && line.startsWith('PORT '), `server says ${line}`);
const port = line.split(' ')[1];

const client = Gios.Socket.new();
check(client.open('127.0.0.1', port, 2000, null), 'client connects');

let nextId = 0;
function call(code, ...values) {
    const request = Gios.Message.new_request(nextId, 0, code, null);
    if (values.length > 0)
        request.set_items(av(...values));
    client.send_message(request, null);
    const reply = client.receive_message(5000, null);
    check(reply.get_message_id() === nextId, `reply ${nextId} to ${code}`);
    nextId++;
    return [reply.get_code(), reply.get_items().recursiveUnpack()];
}

check(same(call('LK'), [0, []]), 'no keys');
check(same(call('ST', 'name', 'gjs'), [0, []]), 'set a string');
check(same(call('ST', 'n', 7), [0, []]), 'set an integer');
check(same(call('ST', 'u', null), [0, []]), 'set undefined');
check(same(call('GT', 'name'), [0, ['gjs']]), 'get the string');
check(same(call('GT', 'n'), [0, [7]]), 'get the integer');
check(same(call('GT', 'u'), [0, [null]]), 'get undefined');
check(same(call('LK'), [0, ['n', 'name', 'u']]), 'list keys');
check(same(call('DL', 'n'), [0, []]), 'delete');
check(same(call('GT', 'n'), [100, []]), 'deleted key not found');
check(same(call('GT'), [400, ['wrong number of items']]), 'bad request');
check(same(call('XY'), [501, ['unknown code XY']]), 'unknown code');

client.send_message(Gios.Message.new_request(nextId, 0, 'DC', null), null);
check(client.receive_message(5000, null) === null, 'disconnect: the server ends the connection');
client.close();

// Standard input ends: the server stops.
proc.get_stdin_pipe().close(null);
check(proc.wait_check(null), 'kv-server exits cleanly');

// execute() in this process with a JavaScript handler, on one thread: the
// kernel holds the client's requests until the server side reads them.
const server = Gios.ServerSocket.new();
server.loopback_only = true;
server.open('0', 1000);
const peer = Gios.Socket.new();
peer.open('127.0.0.1', String(server.port), 1000, null);
const accepted = server.accept(1000, null);

const echo = Gios.Message.new_request(0, 0, 'EC', null);
echo.set_items(av('hi'));
peer.send_message(echo, null);
peer.send_message(Gios.Message.new_request(1, 0, 'ZZ', null), null);
peer.send_message(Gios.Message.new_request(2, 0, 'DC', null), null);

const seen = [];
const handler = (stream, request) => {
    seen.push(request.get_code_string());
    if (request.get_code_string() !== 'EC')
        return null;
    return Gios.Message.new_reply(request, 0, request.get_payload());
};

let [result, request] = accepted.execute(1000, handler, null);
check(result === Gios.ExecuteResult.REQUEST_DONE && request === null, 'execute: request done');
const reply = peer.receive_message(1000, null);
check(same(reply.get_items().recursiveUnpack(), ['hi']), 'execute: the reply came back');
[result, request] = accepted.execute(1000, handler, null);
check(result === Gios.ExecuteResult.UNHANDLED && request.get_code_string() === 'ZZ', 'execute: unhandled');
[result, request] = accepted.execute(1000, handler, null);
check(result === Gios.ExecuteResult.STOPPED && request.get_code_string() === 'DC', 'execute: stopped');
check(same(seen, ['EC', 'ZZ']), 'the stop code reaches no handler');
expectError(() => accepted.execute(100, handler, null),
    Gio.IOErrorEnum, Gio.IOErrorEnum.TIMED_OUT, 'execute: timeout');

// Items one at a time.
peer.send_item(new GLib.Variant('s', '€'), null);
peer.send_item(new GLib.Variant('x', -2), null);
peer.flush(1000, null);
check(accepted.receive_item(1000, null).unpack() === '€', 'receive_item: a UTF-16 string');
check(accepted.receive_item(1000, null).unpack() === -2, 'receive_item: an integer');

const hs = Gios.Message.new_request(0, 0, 'HS', new GLib.Bytes(new Uint8Array([0x45, 0])));
check(same(Array.from(hs.to_bytes().get_data()),
    [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x48, 0x53, 0x45, 0]), 'handshake bytes');
check(hs.get_kind() === Gios.MessageKind.TWO_LETTER && hs.get_code() === 0x5348, 'handshake code');

peer.close();
accepted.close();
server.close();

finish();
