#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Serving-model benchmark: runs every echo server under the same loads.

Each server is an argv string (for example "bench/gios-echo --model=jobs");
it must print "PORT <n>" as its first stdout line once listening on
127.0.0.1, echo every byte and exit cleanly on SIGTERM.  The script adds
"--port=0".  For every repetition, placement (server and load generator on
the same core, or split over two cores) and mode, each server is started
fresh, loaded with the load generator, and stopped; the order of the servers
rotates between repetitions.  A server that crashes, hangs or does not serve
every connection is recorded and the run carries on; one that exits with
status 77 before its port line (a missing optional dependency, such as
uvloop) is skipped with its message.  It prints the medians and the ratios
to the baselines: the plain C servers (peer-epoll and peer-threads) unless
--ratio names others; and, for the request modes, the server's CPU time per
request, user + system, of all its threads ("us/req u+s", from /proc).

The line-* modes send lines ("...\n") for the line-echo servers of
bench/python and bench/js (any byte-echo server passes them too).

The tls-* modes (bulk, ping-pong and new connections with a full handshake
each, over TLS) use the TLS load generator (--tls-loadgen, GIO's TLS client)
and add "--tls-certificate FILE --tls-key FILE" to every server: a
self-signed certificate for localhost that the script makes with openssl.

Examples:
  bench/run-bench.py --loadgen build/bench/loadgen \\
      build/bench/peer-epoll build/bench/peer-threads \\
      build/bench/peer-gthreaded build/bench/peer-gservice
  bench/run-bench.py --smoke ...   (1 repetition, 1 second per mode)
  meson devenv -C build ../bench/run-bench.py --loadgen bench/loadgen \\
      --modes line-pingpong,line-fanin --placements same \\
      --ratio asyncio=--model=asyncio --ratio node=line-echo-node.js \\
      "/usr/bin/python3 ../bench/python/line-echo.py --model=asyncio" \\
      "/usr/bin/python3 ../bench/python/line-echo.py --model=watch" \\
      "node ../bench/js/line-echo-node.js" "gjs -m ../bench/js/line-echo.js --model=watch"
      (the line servers, with the library uninstalled)
  bench/run-bench.py --tls-loadgen build/bench/tls-loadgen \\
      --modes tls-bulk,tls-pingpong,tls-handshake --placements same \\
      --ratio gio-tls=peer-gio-tls build/bench/peer-gio-tls \\
      "build/bench/gios-echo --model=jobs"   (TLS against GIO's own TLS echo)
  GIOS_BENCH_SMOKE=1 meson test -C build --benchmark -v   (the same smoke run)
"""

import argparse
import json
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MODES = ['bulk', 'pingpong', 'connrate', 'fanin-one', 'fanin-all']
LINE_MODES = ['line-pingpong', 'line-fanin']
TLS_MODES = ['tls-bulk', 'tls-pingpong', 'tls-handshake']
# The main figure of each mode, its label, and the extra figures to show.
METRIC = {
    'bulk': ('mib_s', 'MiB/s', []),
    'pingpong': ('rps', 'req/s', ['p50_us', 'p99_us']),
    'connrate': ('cps', 'conn/s', []),
    'fanin-one': ('rps', 'req/s', ['p50_us', 'p99_us']),
    'fanin-all': ('rps', 'req/s', ['p50_us', 'p99_us']),
    'line-pingpong': ('rps', 'req/s', ['p50_us', 'p99_us']),
    'line-fanin': ('rps', 'req/s', ['p50_us', 'p99_us']),
    'tls-bulk': ('mib_s', 'MiB/s', []),
    'tls-pingpong': ('rps', 'req/s', ['p50_us', 'p99_us']),
    'tls-handshake': ('hps', 'hs/s', ['p50_us', 'p99_us']),
}
# Ratio columns: (column name, word of the server's label).
BASELINES = [('epoll', 'peer-epoll'), ('thread', 'peer-threads')]
SKIP_STATUS = 77         # a server that cannot run here (missing dependency)

START_TIMEOUT = 10       # seconds for a server to print its port
STOP_TIMEOUT = 5         # seconds for a server to exit after SIGTERM
LOADGEN_GRACE = 30       # seconds beyond --duration (connect, probe, drain)
TAIL_BYTES = 2000


class Tail:
    """Drains a pipe in a thread and keeps its first line and its tail, so a
    chatty server can never block on a full pipe."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.data = b''
        self.first_line = None
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        pending = b''
        while True:
            chunk = os.read(self.pipe.fileno(), 65536)
            with self.cond:
                if not chunk:
                    self.closed = True
                    self.cond.notify_all()
                    return
                if self.first_line is None:
                    pending += chunk
                    if b'\n' in pending:
                        self.first_line = pending.split(b'\n', 1)[0].decode(errors='replace')
                        self.cond.notify_all()
                    pending = pending[-4096:] if self.first_line is None else b''
                self.data = (self.data + chunk)[-TAIL_BYTES:]

    def wait_first_line(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.first_line is None and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return self.first_line

    def text(self):
        self.thread.join(1)
        with self.cond:
            return self.data.decode(errors='replace')


class Server:
    def __init__(self, argv, cpu):
        self.argv = argv
        self.proc = subprocess.Popen(
            ['taskset', '-c', str(cpu)] + argv + ['--port=0'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True)
        self.out = Tail(self.proc.stdout)
        self.err = Tail(self.proc.stderr)
        self.port = None

    def wait_port(self):
        line = self.out.wait_first_line(START_TIMEOUT)
        if line is None or not line.startswith('PORT '):
            return 'no "PORT <n>" line within %ds (got %r)' % (START_TIMEOUT, line)
        try:
            self.port = int(line.split()[1])
        except (IndexError, ValueError):
            return 'bad port line %r' % line
        return None

    def skipped(self):
        """The server's message if it exited with SKIP_STATUS (it may still be
        exiting when its output closes), else None."""
        try:
            rc = self.proc.wait(1)
        except subprocess.TimeoutExpired:
            return None
        if rc != SKIP_STATUS:
            return None
        return self.err.text().strip() or 'exit status %d' % SKIP_STATUS

    def crashed(self):
        """A description if the server already died, else None."""
        rc = self.proc.poll()
        if rc is None:
            return None
        return 'server died (%s)' % describe_status(rc)

    def stop(self):
        """SIGTERM, then SIGKILL; returns a note if it did not exit cleanly."""
        if self.proc.poll() is not None:
            return None
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return 'did not exit within %ds of SIGTERM (killed)' % STOP_TIMEOUT
        if self.proc.returncode != 0:
            return 'SIGTERM exit: %s' % describe_status(self.proc.returncode)
        return None

    def kill(self):
        """SIGKILL to the server and to whatever it left in its own process
        group (the server was started as that group's leader)."""
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def describe_status(rc):
    if rc < 0:
        try:
            return signal.Signals(-rc).name
        except ValueError:
            return 'signal %d' % -rc
    return 'exit status %d' % rc


def parse_result(line):
    fields = {}
    for item in line.split()[1:]:
        key, _, value = item.partition('=')
        fields[key] = value
    out = {}
    for key, value in fields.items():
        if key == 'served':
            num, _, den = value.partition('/')
            out['served'] = int(num)
            out['total'] = int(den)
        elif key != 'mode':
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


LIVE_SERVERS = []


def run_one(server_argv, mode, placement, args):
    """Runs one measurement; returns a dict with 'ok', figures and notes."""
    server_cpu, client_cpu = placement[1], placement[2]
    tls = mode in TLS_MODES
    record = {'server': ' '.join(server_argv), 'mode': mode,
              'placement': placement[0], 'ok': False, 'notes': []}
    server = Server(server_argv + (args.tls_server_args if tls else []), server_cpu)
    LIVE_SERVERS.append(server)
    try:
        problem = server.wait_port()
        if problem:
            skip = server.skipped()
            if skip:
                record['skipped'] = skip
            record['notes'].append(server.crashed() or problem)
            return record

        cpu_before = cpu_ticks(server.proc.pid)
        cmd = ['taskset', '-c', str(client_cpu), args.tls_loadgen if tls else args.loadgen,
               '--port=%d' % server.port, '--mode=' + mode,
               '--duration=%g' % args.duration, '--conns=%d' % args.conns]
        try:
            lg = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True,
                                timeout=args.duration + LOADGEN_GRACE)
        except subprocess.TimeoutExpired:
            record['notes'].append('load generator timed out')
            lg = None

        cpu_after = cpu_ticks(server.proc.pid)
        # Did the server survive the load?
        time.sleep(0.05)
        crash = server.crashed()
        if crash:
            record['notes'].append(crash)

        if lg is not None:
            results = [l for l in lg.stdout.splitlines() if l.startswith('RESULT ')]
            if results:
                record.update(parse_result(results[-1]))
            errors = [l[len('ERROR '):] for l in lg.stderr.splitlines() if l.startswith('ERROR ')]
            if lg.returncode == 3:
                record['notes'].append('served %d/%d' % (record.get('served', 0),
                                                         record.get('total', 0)))
            elif lg.returncode != 0:
                record['notes'].append('loadgen: ' + (errors[-1] if errors else
                                                      describe_status(lg.returncode)))
            record['ok'] = lg.returncode == 0 and bool(results) and not crash
            requests = int(record.get('requests', 0))
            if requests > 0 and cpu_before and cpu_after:
                # The server's CPU time per request, all its threads: what
                # it costs in its own code (user) and in the kernel (sys).
                tick_us = 1e6 / os.sysconf('SC_CLK_TCK')
                record['user_us'] = (cpu_after[0] - cpu_before[0]) * tick_us / requests
                record['sys_us'] = (cpu_after[1] - cpu_before[1]) * tick_us / requests

        if not crash:
            note = server.stop()
            if note:
                record['notes'].append(note)
                record['unclean_exit'] = True
        return record
    finally:
        server.kill()
        LIVE_SERVERS.remove(server)
        if not record['ok'] and args.verbose:
            tail = server.err.text().strip()
            if tail:
                record['stderr_tail'] = tail[-500:]


def cpu_ticks(pid):
    """(user, system) CPU time of process pid and its threads, in clock
    ticks, or None once it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except OSError:
        return None
    return int(fields[11]), int(fields[12])     # utime, stime


def server_label(argv):
    """The command line with its program and script paths cut to file names."""
    return ' '.join([os.path.basename(argv[0])] +
                    [os.path.basename(a) if os.sep in a and os.path.exists(a) else a
                     for a in argv[1:]])


def is_baseline(label, word):
    """A baseline is named by its program or by any word of its label."""
    return word in label.split()


def fmt(value):
    if value is None:
        return '-'
    if value >= 100:
        return '%.0f' % value
    return '%.1f' % value


def summarize(records, servers, modes, placements, reps, baselines):
    lines = []
    labels = [server_label(s) for s in servers]
    width = max([len(l) for l in labels] + [10])
    for placement in placements:
        lines.append('')
        lines.append('== placement %s: server on CPU %d, load generator on CPU %d, '
                     '%d repetition(s) ==' % (placement + (reps,)))
        header = ('%-13s %-*s %8s %10s %7s' + ' %9s' * len(baselines) + ' %11s %11s  %s') % (
            ('mode', width, 'server', 'unit', 'median', 'ok') +
            tuple('x ' + name for name, _ in baselines) + ('p50/p99us', 'us/req u+s', 'notes'))
        lines.append(header)
        lines.append('-' * len(header))
        for mode in modes:
            key, unit, extra = METRIC[mode]
            medians = {}
            for s, label in zip(servers, labels):
                recs = [r for r in records if r['mode'] == mode and r['placement'] == placement[0]
                        and r['server'] == ' '.join(s)]
                good = [r for r in recs if r['ok'] and key in r]
                medians[label] = {
                    'value': statistics.median([r[key] for r in good]) if good else None,
                    'extra': {e: statistics.median([r[e] for r in good if e in r])
                              for e in extra if good},
                    'cpu': {e: statistics.median([r[e] for r in good])
                            for e in ('user_us', 'sys_us') if good and all(e in r for r in good)},
                    'n': '%d/%d' % (len(good), len(recs)),
                    'notes': sorted(set(n for r in recs for n in r['notes'])),
                }
            base = {}
            for name, word in baselines:
                for label in labels:
                    if is_baseline(label, word) and medians[label]['value']:
                        base[name] = medians[label]['value']
                        break
            for label in labels:
                m = medians[label]
                ratios = []
                for name, _ in baselines:
                    if m['value'] is not None and base.get(name):
                        ratios.append('%.2f' % (m['value'] / base[name]))
                    else:
                        ratios.append('-')
                lat = '-'
                if 'p50_us' in m['extra']:
                    lat = '%s/%s' % (fmt(m['extra']['p50_us']), fmt(m['extra']['p99_us']))
                cpu = '-'
                if len(m['cpu']) == 2:
                    cpu = '%.1f+%.1f' % (m['cpu']['user_us'], m['cpu']['sys_us'])
                lines.append(('%-13s %-*s %8s %10s %7s' + ' %9s' * len(baselines) + ' %11s %11s  %s') % (
                    (mode, width, label, unit, fmt(m['value']), m['n']) + tuple(ratios) +
                    (lat, cpu, '; '.join(m['notes']))))
    return '\n'.join(lines)


def make_certificate(directory):
    """A self-signed certificate for localhost and its key in @directory:
    the server arguments that serve it."""
    cert = os.path.join(directory, 'cert.pem')
    key = os.path.join(directory, 'key.pem')
    made = subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                           '-subj', '/CN=localhost', '-days', '2', '-keyout', key, '-out', cert],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if made.returncode != 0:
        sys.exit('openssl req failed: ' + made.stderr.strip())
    return ['--tls-certificate', cert, '--tls-key', key]


def raise_nofile(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    elif hard == resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        soft = needed
    return soft


def on_signal(signum, frame):
    raise KeyboardInterrupt('signal %d' % signum)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('servers', nargs='+', metavar='SERVER',
                        help='server command line, e.g. "bench/gios-echo --model=jobs"')
    parser.add_argument('--loadgen', help='path to the load generator (every mode but the tls ones)')
    parser.add_argument('--tls-loadgen', help='path to the TLS load generator (the tls-* modes)')
    parser.add_argument('--reps', type=int, default=5, help='repetitions (default 5)')
    parser.add_argument('--duration', type=float, default=2.0,
                        help='seconds per measurement (default 2)')
    parser.add_argument('--modes', default=','.join(MODES),
                        help='comma-separated subset of ' + ','.join(MODES + LINE_MODES + TLS_MODES) +
                        ' (default: every mode but the line and tls ones)')
    parser.add_argument('--ratio', action='append', metavar='NAME=WORD', default=[],
                        help='a ratio column "x NAME" against the server whose label has '
                             'the word WORD (its program name or an argument); repeatable; '
                             'default epoll=peer-epoll and thread=peer-threads')
    parser.add_argument('--placements', default='same,split',
                        help='same (one core), split (two cores), or both (default)')
    parser.add_argument('--cpus', default='0,1',
                        help='server CPU and load generator CPU for "split"; '
                             '"same" uses the first (default 0,1)')
    parser.add_argument('--conns', type=int, default=1000,
                        help='fan-in connections (default 1000)')
    parser.add_argument('--smoke', action='store_true',
                        help='quick check: 1 repetition, 1 second per measurement')
    parser.add_argument('--json', metavar='FILE', help='also write every measurement here')
    parser.add_argument('--strict', action='store_true',
                        help='exit 1 if any measurement failed or any server did not '
                             'exit cleanly on SIGTERM (skipped servers do not count)')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='print each measurement and failing servers\' stderr')
    args = parser.parse_args()

    if os.environ.get('GIOS_BENCH_SMOKE'):
        args.smoke = True
    if args.smoke:
        args.reps, args.duration = 1, 1.0
    if not (1 <= args.reps <= 100 and 0 < args.duration <= 600):
        parser.error('--reps must be 1..100 and --duration 0..600')
    modes = [m for m in args.modes.split(',') if m]
    for m in modes:
        if m not in MODES + LINE_MODES + TLS_MODES:
            parser.error('unknown mode %r' % m)
    tls_modes = [m for m in modes if m in TLS_MODES]
    baselines = []
    for spec in args.ratio:
        name, sep, word = spec.partition('=')
        if not sep or not name or not word:
            parser.error('--ratio wants NAME=WORD, not %r' % spec)
        baselines.append((name, word))
    baselines = baselines or BASELINES
    if shutil.which('taskset') is None:
        parser.error('taskset (util-linux) is required')
    for option, path, needed in (('--loadgen', args.loadgen, len(tls_modes) < len(modes)),
                                 ('--tls-loadgen', args.tls_loadgen, bool(tls_modes))):
        if needed and path is None:
            parser.error('the modes given need %s' % option)
        if needed and not os.access(path, os.X_OK):
            parser.error('load generator %r is not executable' % path)
    if tls_modes and shutil.which('openssl') is None:
        parser.error('the tls modes need openssl, to make their certificate')

    servers = [shlex.split(s) for s in args.servers]
    for s in servers:
        if not s or shutil.which(s[0]) is None and not os.access(s[0], os.X_OK):
            parser.error('server %r is not executable' % ' '.join(s))

    cpus = [int(c) for c in args.cpus.split(',')]
    allowed = sorted(os.sched_getaffinity(0))
    placements = []
    for p in args.placements.split(','):
        if p == 'same':
            placements.append(('same', cpus[0], cpus[0]))
        elif p == 'split':
            if len(cpus) < 2 or cpus[0] == cpus[1] or not set(cpus[:2]) <= set(allowed):
                print('skipping placement "split": needs two usable CPUs (have %s)' % allowed)
                continue
            placements.append(('split', cpus[0], cpus[1]))
        else:
            parser.error('unknown placement %r' % p)
    if not placements:
        parser.error('no placement to run')

    limit = raise_nofile(args.conns + 100)
    if limit < args.conns + 64:
        print('RLIMIT_NOFILE is %d: lowering --conns from %d to %d'
              % (limit, args.conns, limit - 64))
        args.conns = max(1, limit - 64)

    signal.signal(signal.SIGTERM, on_signal)
    cert_dir = tempfile.TemporaryDirectory(prefix='run-bench-tls-') if tls_modes else None
    args.tls_server_args = make_certificate(cert_dir.name) if cert_dir else []
    records = []
    total = args.reps * len(placements) * len(modes) * len(servers)
    print('serving benchmark: %d server(s), modes %s, %d repetition(s) of %gs, '
          'placements %s, %d fan-in connections; %d measurements'
          % (len(servers), ','.join(modes), args.reps, args.duration,
             ','.join(p[0] for p in placements), args.conns, total), flush=True)
    interrupted = False
    skipped = {}         # server string: its message
    try:
        for rep in range(args.reps):
            order = servers[rep % len(servers):] + servers[:rep % len(servers)]
            for placement in placements:
                for mode in modes:
                    for s in order:
                        if ' '.join(s) in skipped:
                            continue
                        rec = run_one(s, mode, placement, args)
                        if 'skipped' in rec:
                            skipped[' '.join(s)] = rec['skipped']
                            print('  skipping %s: %s' % (server_label(s), rec['skipped']),
                                  flush=True)
                            continue
                        rec['rep'] = rep
                        records.append(rec)
                        key = METRIC[mode][0]
                        if args.verbose or not rec['ok']:
                            print('  rep %d %-5s %-9s %-30s %s %s %s' % (
                                rep + 1, placement[0], mode, server_label(s),
                                'ok' if rec['ok'] else 'FAILED',
                                fmt(rec.get(key)), '; '.join(rec['notes'])), flush=True)
                            if rec.get('stderr_tail'):
                                print('    stderr: ' + rec['stderr_tail'].replace('\n', '\n    '))
    except KeyboardInterrupt:
        interrupted = True
        print('interrupted: summarizing what was measured', flush=True)
    finally:
        for server in list(LIVE_SERVERS):
            server.kill()
        if cert_dir:
            cert_dir.cleanup()

    measured = [s for s in servers if ' '.join(s) not in skipped]
    print(summarize(records, measured, modes, placements, args.reps, baselines))
    print('\nratios: median of the server / median of %s; ok = good runs / runs'
          % ', '.join('%s (x %s)' % (word, name) for name, word in baselines))
    for s, why in skipped.items():
        print('skipped %s: %s' % (server_label(shlex.split(s)), why))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(records, f, indent=1)
    failed = [r for r in records if not r['ok'] or r.get('unclean_exit')]
    if interrupted:
        return 130
    return 1 if args.strict and failed else 0


if __name__ == '__main__':
    sys.exit(main())
