#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""System calls per request of each line-echo server, counted by strace.

For each server (an argv string, as for run-bench.py): start it, attach
`strace -f -c -p <pid>` once it prints its port (every thread, and any it
starts), run the load generator in line-pingpong mode (one connection, one
line in flight) for --duration seconds, detach, stop the server, and divide
each system call's count by the requests the load generator reports.  The
one accept() and the connection's setup and teardown are included, spread
over the requests.  strace slows the server down: the figures are counts,
not speeds.

Example (meson devenv runs in the build directory, the library uninstalled):
  meson devenv -C build ../bench/syscalls.py --loadgen bench/loadgen \\
      bench/peer-epoll "bench/gios-echo --model=async" \\
      "/usr/bin/python3 ../bench/python/line-echo.py --model=asyncio"
"""

import argparse
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('run_bench', os.path.join(HERE, 'run-bench.py'))
run_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_bench)

ATTACH_TIMEOUT = 10      # seconds for strace to attach
DETACH_TIMEOUT = 10      # seconds for strace to detach and write its table
SHOWN = 8                # system calls named per server


def parse_strace_table(text):
    """{syscall: (calls, errors)} from the table of `strace -c`."""
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        # % time, seconds, usecs/call, calls, [errors,] syscall
        if len(parts) < 5 or parts[-1] == 'total' or not parts[3].isdigit():
            continue
        try:
            float(parts[0])
        except ValueError:
            continue
        errors = int(parts[4]) if len(parts) == 6 else 0
        counts[parts[-1]] = (int(parts[3]), errors)
    return counts


def wait_for(path, needle, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, errors='replace') as f:
            if needle in f.read():
                return True
        time.sleep(0.05)
    return False


def measure(argv, args, tmpdir):
    """Returns (requests, {syscall: (calls, errors)}) or raises RuntimeError."""
    server = run_bench.Server(argv, args.cpu)
    strace = None
    try:
        problem = server.wait_port()
        if problem:
            skip = server.skipped()
            if skip:
                raise RuntimeError('skipped: ' + skip)
            raise RuntimeError(server.crashed() or problem)
        table = os.path.join(tmpdir, 'strace.txt')
        log = os.path.join(tmpdir, 'strace.log')
        with open(log, 'w') as logf:
            strace = subprocess.Popen(['strace', '-f', '-c', '-o', table, '-p', str(server.proc.pid)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=logf)
        if not wait_for(log, 'attached', ATTACH_TIMEOUT):
            raise RuntimeError('strace did not attach: ' + open(log).read().strip())
        lg = subprocess.run(['taskset', '-c', str(args.cpu), args.loadgen,
                             '--port=%d' % server.port, '--mode=line-pingpong',
                             '--duration=%g' % args.duration],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=args.duration + run_bench.LOADGEN_GRACE)
        # The server sees the end of the connection before strace stops.
        time.sleep(0.2)
        strace.send_signal(signal.SIGINT)
        strace.wait(DETACH_TIMEOUT)
        results = [l for l in lg.stdout.splitlines() if l.startswith('RESULT ')]
        if lg.returncode != 0 or not results:
            raise RuntimeError('loadgen: ' + (lg.stderr.strip() or 'status %d' % lg.returncode))
        requests = int(run_bench.parse_result(results[-1])['requests'])
        with open(table) as f:
            return requests, parse_strace_table(f.read())
    finally:
        if strace is not None and strace.poll() is None:
            strace.kill()
            strace.wait()
        server.stop()
        server.kill()


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('servers', nargs='+', metavar='SERVER')
    parser.add_argument('--loadgen', required=True, help='path to the load generator')
    parser.add_argument('--duration', type=float, default=2.0,
                        help='seconds of ping-pong per server (default 2)')
    parser.add_argument('--cpu', type=int, default=0,
                        help='CPU for the server and the load generator (default 0)')
    args = parser.parse_args()
    if shutil.which('strace') is None:
        parser.error('strace is required (Debian: apt-get install strace)')
    if not 0 < args.duration <= 60:
        parser.error('--duration must be 0..60')

    rows = []
    with tempfile.TemporaryDirectory(prefix='gios-syscalls-') as tmpdir:
        for spec in args.servers:
            argv = shlex.split(spec)
            label = run_bench.server_label(argv)
            try:
                requests, counts = measure(argv, args, tmpdir)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                rows.append((label, None, str(e)))
                print('%s: %s' % (label, e), file=sys.stderr, flush=True)
                continue
            total = sum(c for c, _ in counts.values()) / requests
            top = sorted(counts.items(), key=lambda kv: -kv[1][0])[:SHOWN]
            detail = ', '.join(
                '%s %.2f%s' % (name, calls / requests,
                               ' (%.2f failed)' % (errors / requests) if errors else '')
                for name, (calls, errors) in top if calls / requests >= 0.01)
            rows.append((label, total, '%d requests; %s' % (requests, detail)))
            print('%-45s %6.2f  %s' % (label, total, rows[-1][2]), file=sys.stderr, flush=True)

    width = max(len(r[0]) for r in rows)
    print('\nsystem calls per line-pingpong request (strace -f -c, all threads)')
    print('%-*s %8s  %s' % (width, 'server', 'calls', 'most frequent, per request'))
    for label, total, detail in rows:
        print('%-*s %8s  %s' % (width, label, '-' if total is None else '%.2f' % total, detail))
    return 1 if any(total is None and not detail.startswith('skipped') for _, total, detail in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
