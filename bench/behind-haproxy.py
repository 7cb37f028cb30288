#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An echo server behind HAProxy, as one server of the serving benchmark.

  behind-haproxy.py [--backends N] [--send-proxy v1|v2] SERVER [ARG...] [--port=0]

Starts N processes of SERVER (an echo server that prints "PORT <n>" first;
with N > 1 each is given --reuse-port and they share one port, as one
process per core does), then HAProxy 2.6 in TCP mode on a free loopback port
in front of them (one thread, the backends as one server address: the
kernel spreads the connections over the processes), and prints
"PORT <haproxy's port>" once HAProxy accepts. With --send-proxy, HAProxy
sends a PROXY protocol header of that version first (the backends must
expect it). A trailing --port=N (run-bench.py adds --port=0) is ignored.
On SIGTERM or SIGINT it stops HAProxy and the backends, by pid, and exits 0.
Exits 77 when haproxy is not installed, as run-bench.py's skipped servers do.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

START_TIMEOUT = 10.0

children = []


def stop_children():
    for proc in reversed(children):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in reversed(children):
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def on_signal(signum, frame):
    stop_children()
    sys.exit(0)


def start_backend(argv, port, reuse_port):
    args = list(argv) + ['--port=%d' % port] + (['--reuse-port'] if reuse_port else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    children.append(proc)
    line = proc.stdout.readline().decode()
    if not line.startswith('PORT '):
        raise SystemExit('backend %s printed %r' % (' '.join(args), line))
    return int(line.split()[1])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_accepting(port):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), 0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--backends', type=int, default=1)
    parser.add_argument('--send-proxy', choices=('v1', 'v2'))
    parser.add_argument('server', nargs=argparse.REMAINDER)
    args = parser.parse_args()
    server = [a for a in args.server if not a.startswith('--port=')]
    if not server or args.backends < 1:
        parser.error('a server and at least one backend are needed')
    haproxy = shutil.which('haproxy') or ('/usr/sbin/haproxy' if os.path.exists('/usr/sbin/haproxy') else None)
    if haproxy is None:
        print('haproxy is not installed', file=sys.stderr)
        return 77

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        reuse = args.backends > 1
        port = start_backend(server, 0, reuse)
        for _ in range(args.backends - 1):
            start_backend(server, port, True)

        front = free_port()
        proxy = {'v1': ' send-proxy', 'v2': ' send-proxy-v2', None: ''}[args.send_proxy]
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, 'haproxy.cfg')
            with open(config, 'w') as f:
                f.write('global\n  maxconn 4096\n  nbthread 1\n'
                        'defaults\n  mode tcp\n  timeout connect 5s\n'
                        '  timeout client 60s\n  timeout server 60s\n'
                        'frontend front\n  bind 127.0.0.1:%d\n  default_backend backends\n'
                        'backend backends\n  server s1 127.0.0.1:%d%s\n' % (front, port, proxy))
            children.append(subprocess.Popen([haproxy, '-db', '-q', '-f', config],
                                             stdin=subprocess.DEVNULL))
            if not wait_accepting(front):
                raise SystemExit('haproxy did not accept on port %d' % front)
            print('PORT %d' % front, flush=True)
            while all(proc.poll() is None for proc in children):
                time.sleep(0.2)
            raise SystemExit('a backend or haproxy ended: %s' %
                             [proc.returncode for proc in children])
    finally:
        stop_children()


if __name__ == '__main__':
    sys.exit(main())
