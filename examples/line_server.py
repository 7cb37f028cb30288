#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A line-protocol server as a Gios.Socket subclass, served by a job server.

The client sends lines; the server answers each with "OK <line>" until the
client sends "QUIT", answered with "BYE". The subclass's do_run() serves one
connection; listen_job() runs it on a thread pool for each connection (the
GIL is released around the call), at most four at once.

Run with /usr/bin/python3 (it has PyGObject). From the build tree:
  meson devenv -C build python3 examples/line_server.py
"""
import gi

gi.require_version("Gios", "1.0")
from gi.repository import GLib, Gios  # noqa: E402


class LineSocket(Gios.Socket):
    """One connection of the line protocol."""

    def do_run(self, cancellable):
        while True:
            try:
                # At most 256 bytes a line; 5 s of silence ends the connection.
                line, _ = self.read_line(256, 5000, cancellable)
            except GLib.Error:
                return  # a timeout, a line too long, or cancelled
            if line is None:
                return  # end of input
            reply = "BYE" if line == "QUIT" else f"OK {line}"
            self.write_line(reply, cancellable)
            self.flush(1000, cancellable)
            if line == "QUIT":
                return  # the job closes the connection when do_run() returns


server = Gios.ServerSocket.new()
server.props.socket_type = LineSocket.__gtype__
server.open_address("127.0.0.1", "0", 1000)

# The client connects and sends its lines before anyone accepts: the kernel
# queues them.
client = Gios.Socket.new()
client.open("127.0.0.1", str(server.props.port), 1000, None)
for line in ("hello", "line protocol", "QUIT"):
    client.write_line(line, None)
client.flush(1000, None)

# Accept for 200 ms, a job per connection (no callback: call do_run()), at
# most four at once; then wait for the jobs to end.
server.listen_job(200, 4, None, None, None)
server.wait_jobs(5000)

while True:
    reply, _ = client.read_line(256, 1000, None)
    if reply is None:
        break
    print(f'client read "{reply}"')
server.close()
