#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The classic model in one thread: a server and a client on loopback.
import gi
gi.require_version("Gios", "1.0")
from gi.repository import Gios

server = Gios.ServerSocket.new()
server.open_address("127.0.0.1", "0", 1000)        # port 0: any free port
client = Gios.Socket.new()
client.open("127.0.0.1", str(server.props.port), 1000, None)
client.write_line("hello", None)
client.flush(1000, None)

server.listen(1000, None)                           # wait 1 s for a connection
line, length = server.read_line(80, 1000, None)     # at most 80 bytes, 1 s
server.write_line("world", None)
server.drop_connection()                            # flushes, keeps listening

reply, length = client.read_line(80, 1000, None)
print(f'server read "{line}", client read "{reply}"')
