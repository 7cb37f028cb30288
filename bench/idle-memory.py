#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Memory per idle connection of an echo server.

    idle-memory.py [--conns N] SERVER...

Each SERVER is an argv string that prints "PORT <n>" first (for example
"bench/gios-echo --model=async"). For each, the script opens N loopback
connections, echoes 64 bytes over every one of them so that each has served
a request, and then, with all of them idle, reads how much the server's
heap (VmData) and resident set (VmRSS) grew per connection. It stops the
server with SIGTERM, by pid, and waits for it.
"""

import argparse
import shlex
import socket
import subprocess
import sys
import time


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def measure(command, conns):
    server = subprocess.Popen(shlex.split(command), stdout=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline().split()
        if len(first) != 2 or first[0] != "PORT":
            raise RuntimeError(f"{command}: expected PORT <n>, got {first!r}")
        port = int(first[1])
        # One warm-up connection, so that what every server allocates once
        # (pools, the reactor) is not counted per connection.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"w" * 64)
            c.recv(64)
        time.sleep(0.2)
        data0 = status_kib(server.pid, "VmData")
        rss0 = status_kib(server.pid, "VmRSS")
        clients = []
        payload = b"x" * 64
        for _ in range(conns):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = c.recv(len(payload) - len(got))
                if not chunk:
                    raise RuntimeError(f"{command}: connection closed before the echo")
                got += chunk
            clients.append(c)
        time.sleep(0.5)
        data1 = status_kib(server.pid, "VmData")
        rss1 = status_kib(server.pid, "VmRSS")
        for c in clients:
            c.close()
        return (data1 - data0) / conns, (rss1 - rss0) / conns
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("servers", nargs="+", metavar="SERVER")
    parser.add_argument("--conns", type=int, default=1000,
                        help="idle connections (default 1000, at most 5000)")
    args = parser.parse_args()
    if not 1 <= args.conns <= 5000:
        parser.error("--conns must be between 1 and 5000")
    print(f"{'server':40} {'heap KiB/conn':>14} {'RSS KiB/conn':>13}")
    for command in args.servers:
        heap, rss = measure(command, args.conns)
        print(f"{command:40} {heap:14.2f} {rss:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
