#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""How long one client's TLS handshake takes while others stall theirs.

  tls-stall.py [--stall hello|header] [--counts 0,20,40,60]
               GIO_SOCKET [SERVE-OPTION...]

Starts `GIO_SOCKET serve --host 127.0.0.1 --port 0 SERVE-OPTION...` with a
throwaway certificate (made with openssl). For each count N, it opens N
connections that begin a TLS handshake and stall, and times one genuine
handshake (Python's ssl) next to them. Then it closes the stalled ones and
waits for the server's handshake-timeout (--handshake-timeout MS, read
from the options; 10000 by default) before the next count. --stall hello
(the default) sends a whole ClientHello and then nothing; --stall header,
only a TLS record header.

It measures the same again with HAProxy 2.6 terminating TLS in front of
the server. There the server runs without TLS and with --proxy-protocol v2,
and both kinds of client talk to HAProxy. When haproxy is not installed,
this half is skipped and the script says so.

GIO runs every TLS handshake on a thread of GLib's shared task pool, sync
or async. The pool starts with 10 threads and grows slowly. A handshake
that stalls holds its thread until the handshake-timeout, and this script
measures what that costs the other clients. Every process it starts is
stopped by pid; everything is on loopback.
"""

import argparse
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

GENUINE_TIMEOUT = 30.0


def start(argv, pattern):
    """Starts argv and waits for a line matching pattern on its output."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(pattern, line)
        if match:
            # Keep reading what it says, so that it never blocks on a full pipe.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, match
    proc.kill()
    proc.wait()
    sys.exit("%s did not start" % argv[0])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("nothing listens on port %d" % port)


def client_hello(ctx):
    """The bytes of one ClientHello."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def genuine(ctx, port):
    start_time = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), GENUINE_TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost"):
                pass
        return "%.0f ms" % ((time.monotonic() - start_time) * 1000)
    except (OSError, ssl.SSLError) as e:
        return "failed after %.0f ms (%s)" % ((time.monotonic() - start_time) * 1000, e)


def measure(args, front, stall, ctx, timeout_ms, cert, key, tmp):
    """Starts the server (behind HAProxy when front is "haproxy") and
    prints one line a count."""
    children = []
    serve = [args.gio_socket, "serve", "--host", "127.0.0.1", "--port", "0"] + args.serve
    if front == "haproxy":
        serve += ["--proxy-protocol", "v2"]
    else:
        serve += ["--tls-certificate", cert, "--tls-key", key]
    try:
        server, match = start(serve, r"listening on 127\.0\.0\.1:(\d+)")
        children.append(server)
        port = int(match.group(1))
        if front == "haproxy":
            both = os.path.join(tmp, "both.pem")
            with open(both, "w") as out:
                out.write(open(cert).read() + open(key).read())
            port_front = free_port()
            config = os.path.join(tmp, "haproxy.cfg")
            with open(config, "w") as out:
                out.write("global\n  nbthread 1\n  maxconn 4096\n"
                          "defaults\n  mode tcp\n  timeout connect 5s\n"
                          "  timeout client %dms\n  timeout server 30s\n"
                          "frontend f\n  bind 127.0.0.1:%d ssl crt %s\n  default_backend b\n"
                          "backend b\n  server s 127.0.0.1:%d send-proxy-v2\n"
                          % (timeout_ms, port_front, both, port))
            children.append(subprocess.Popen(["haproxy", "-f", config, "-db"],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            port = port_front
            wait_listening(port)
        print("%s%s" % ("HAProxy terminating TLS in front of: " if front == "haproxy" else "",
                        " ".join(["gio-socket"] + serve[1:])), flush=True)
        for count in args.counts:
            stalled = []
            for _ in range(count):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(stall)
                stalled.append(s)
            time.sleep(0.2)
            print("%6d stalled: genuine handshake %s" % (count, genuine(ctx, port)), flush=True)
            for s in stalled:
                s.close()
            if count:
                # Until the server has let go of every stalled handshake.
                time.sleep(timeout_ms / 1000 + 1)
    finally:
        for proc in reversed(children):
            proc.terminate()
        for proc in reversed(children):
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stall", choices=["header", "hello"], default="hello")
    parser.add_argument("--counts", default="0,20,40,60")
    parser.add_argument("gio_socket")
    parser.add_argument("serve", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    args.counts = [int(c) for c in args.counts.split(",")]

    timeout_ms = 10000
    for i, option in enumerate(args.serve):
        if option.startswith("--handshake-timeout="):
            timeout_ms = int(option.split("=", 1)[1])
        elif option == "--handshake-timeout" and i + 1 < len(args.serve):
            timeout_ms = int(args.serve[i + 1])

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    stall = b"\x16\x03\x01\x02\x00" if args.stall == "header" else client_hello(ctx)
    print("Stalled clients send %s and then nothing." %
          ("a TLS record header" if args.stall == "header" else "a whole ClientHello"))

    with tempfile.TemporaryDirectory() as tmp:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        measure(args, "direct", stall, ctx, timeout_ms, cert, key, tmp)
        if shutil.which("haproxy") is None:
            print("HAProxy terminating TLS: skipped, haproxy is not installed")
        else:
            measure(args, "haproxy", stall, ctx, timeout_ms, cert, key, tmp)


if __name__ == "__main__":
    main()
