#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Line-echo servers for the line benchmark, written the way a Python user
would, one function per model:

  line-echo.py --model=watch|async|job|asyncio|uvloop --port=N

Each listens on 127.0.0.1, prints "PORT <n>" once listening, answers every
line with the same line and exits 0 on SIGTERM or SIGINT.

  watch    Gios: start() and ::accepted, add_watch() on each connection,
           one read_line() and a flush() with a timeout of 0 per call of
           the watch
  async    Gios: start() and ::accepted, read_line_async() / flush_async()
  job      Gios: listen_job(), a blocking read_line() loop per connection
  asyncio  asyncio streams (start_server, readline, write, drain)
  uvloop   the asyncio server on uvloop; exits 77 with a message when the
           uvloop module is not installed (Debian: python3-uvloop)

The Gios models use the library as installed, or uninstalled through
GI_TYPELIB_PATH, LD_LIBRARY_PATH and PYTHONPATH=<source>/python.
"""
import argparse
import signal
import sys

SKIP = 77        # "skipped" for run-bench.py and meson
BACKLOG = 1024


def gios_server():
    import gi
    gi.require_version("Gios", "1.0")
    from gi.repository import Gios
    server = Gios.ServerSocket.new()
    server.props.connection_queue_size = BACKLOG
    return server


def announce(port):
    print(f"PORT {port}", flush=True)


def serve_watch(server, port):
    from gi.repository import Gio, GLib

    def timed_out(e):
        return e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.TIMED_OUT)

    def on_writable(conn, condition, data):
        # The peer has room again: send the rest, then read again.
        try:
            conn.flush(0, None)
        except GLib.Error as e:
            if timed_out(e):
                return GLib.SOURCE_CONTINUE
            conn.close()
            return GLib.SOURCE_REMOVE
        conn.add_watch(GLib.IOCondition.IN, on_readable, None)
        return GLib.SOURCE_REMOVE

    def on_readable(conn, condition, data):
        # One line a call: a whole line left in the buffer calls this again
        # in the next iteration, half a line once the rest arrives.
        try:
            line, _ = conn.read_line(0, 0, None)
        except GLib.Error as e:
            if timed_out(e):                 # no whole line yet
                return GLib.SOURCE_CONTINUE
            conn.close()
            return GLib.SOURCE_REMOVE
        if line is None:                     # end of input
            conn.close()
            return GLib.SOURCE_REMOVE
        conn.write_line(line, None)
        try:
            conn.flush(0, None)
        except GLib.Error as e:
            if not timed_out(e):
                conn.close()
                return GLib.SOURCE_REMOVE
            conn.add_watch(GLib.IOCondition.OUT, on_writable, None)
            return GLib.SOURCE_REMOVE
        return GLib.SOURCE_CONTINUE

    def on_accepted(srv, conn):
        conn.add_watch(GLib.IOCondition.IN, on_readable, None)
        return True

    run_main_loop(server, port, on_accepted)


def serve_async(server, port):
    from gi.repository import GLib, Gios

    def read_next(conn):
        conn.read_line_async(0, Gios.TIMEOUT_FOREVER, GLib.PRIORITY_DEFAULT, None, on_line)

    def on_line(conn, result):
        try:
            line, _ = conn.read_line_finish(result)
        except GLib.Error:
            line = None
        if line is None:
            conn.close()
            return
        conn.write_line(line, None)
        conn.flush_async(Gios.TIMEOUT_FOREVER, GLib.PRIORITY_DEFAULT, None, on_flushed)

    def on_flushed(conn, result):
        try:
            conn.flush_finish(result)
        except GLib.Error:
            conn.close()
            return
        read_next(conn)

    def on_accepted(srv, conn):
        read_next(conn)
        return True

    run_main_loop(server, port, on_accepted)


def run_main_loop(server, port, on_accepted):
    from gi.repository import GLib
    loop = GLib.MainLoop()

    def on_signal():
        server.close()
        loop.quit()
        return GLib.SOURCE_REMOVE

    server.open_address("127.0.0.1", str(port), 1000)
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, on_signal)
    server.connect("accepted", on_accepted)
    server.start()
    announce(server.props.port)
    loop.run()


class Stop(Exception):
    pass


def serve_job(server, port):
    from gi.repository import GLib, Gios

    def job(conn, cancellable, data):
        try:
            while True:
                line, _ = conn.read_line(0, Gios.TIMEOUT_FOREVER, cancellable)
                if line is None:
                    return
                conn.write_line(line, cancellable)
                conn.flush(Gios.TIMEOUT_FOREVER, cancellable)
        except GLib.Error:
            return                          # the peer went away, or closing

    def on_signal(signum, frame):
        raise Stop()

    server.open_address("127.0.0.1", str(port), 1000)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    announce(server.props.port)
    try:
        server.listen_job(Gios.TIMEOUT_FOREVER, 1000, job, None)
    except Stop:
        pass
    server.close()                          # cancels the jobs
    server.wait_jobs(5000)


def serve_asyncio(port, use_uvloop=False):
    import asyncio

    async def handle(reader, writer):
        try:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def main():
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set_result, None)
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=BACKLOG)
        announce(server.sockets[0].getsockname()[1])
        async with server:
            await stop

    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            print("SKIP uvloop is not installed (Debian: apt-get install python3-uvloop)",
                  file=sys.stderr)
            sys.exit(SKIP)
        uvloop.install()
    asyncio.run(main())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True,
                        choices=["watch", "async", "job", "asyncio", "uvloop"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.model in ("asyncio", "uvloop"):
        serve_asyncio(args.port, args.model == "uvloop")
    else:
        server = gios_server()
        {"watch": serve_watch, "async": serve_async, "job": serve_job}[args.model](server, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
