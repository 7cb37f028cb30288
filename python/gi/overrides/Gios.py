# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyGObject overrides for Gios: Ctrl-C, context managers, lines, bytes.

What they add to the introspected classes (every C name keeps working):

- Ctrl-C: a blocking call made on the main thread returns within about a
  second of a signal that has a Python handler. Each such call runs with a
  cancellable of its own; signal.set_wakeup_fd() points at a socket that a
  watcher thread reads, and a signal byte there cancels the call. Then the
  handlers run: the default SIGINT handler raises KeyboardInterrupt; a
  handler that returns normally lets the call go on with what is left of
  its timeout (as PEP 475 retries system calls). A cancellable given by the
  caller still cancels the call, with the GLib.Error as before.
- `with` closes a stream or a server; `for line in stream` and
  stream.lines() read lines until the end of input.
- Reads return bytes, writes take str or bytes, timeouts default to
  Gios.TIMEOUT_DEFAULT and cancellables to None, ports may be ints.
"""

import os
import signal
import socket
import threading
import time

from gi.repository import Gio, GLib, GObject

from ..module import get_introspection_module
from ..overrides import override

Gios = get_introspection_module("Gios")

__all__ = []

_DEFAULT = Gios.TIMEOUT_DEFAULT


# ---------------------------------------------------------------------------
# Waking a blocking call of the main thread when a signal arrives
#
# Python runs a signal's handler only once the interpreter regains control,
# and here that is inside PyGObject: turning the cancelled call's GError
# into a GLib.Error runs Python code, and an exception a handler raised
# there is lost (PyGObject prints it and raises RuntimeError). So while the
# call runs, the Python handlers are swapped for one that only notes the
# signal; once the call has returned and the handlers are back, the noted
# ones run, from here.


class _Waker:
    """A socket that signal.set_wakeup_fd() writes to, and a thread that
    cancels the blocking call in progress when a signal byte arrives."""

    def __init__(self):
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.current = None     # the cancellable of the call in progress
        self.signalled = False  # a signal arrived during that call
        self.forward = -1       # the wake-up descriptor set before ours
        self.noted = []         # the signals noted during that call
        self._reader, self.writer = socket.socketpair()
        self.writer.setblocking(False)
        threading.Thread(target=self._watch, name="Gios signal watcher", daemon=True).start()

    def note(self, signum, _frame):
        """The Python handler of every signal that has one, while a call runs."""
        self.noted.append(signum)

    def _watch(self):
        while True:
            try:
                data = self._reader.recv(64)
            except InterruptedError:
                continue
            if not data:
                return
            # Cancelled under the lock: a cancellable is cancelled only while
            # its call runs, and the call sees `signalled` set.
            with self.lock:
                self.signalled = True
                forward = self.forward
                if self.current is not None:
                    self.current.cancel()
            if forward >= 0:
                # Whoever set the wake-up descriptor before us hears of the
                # signal too.
                try:
                    os.write(forward, data)
                except OSError:
                    pass


_waker = None


def _get_waker():
    """The waker of this process (made on first use, again after a fork), or
    None when the caller is not the main thread."""
    global _waker
    if threading.current_thread() is not threading.main_thread():
        return None
    if _waker is None or _waker.pid != os.getpid():
        _waker = _Waker()
    return _waker


def _python_handlers():
    """{signal: handler} for the signals whose handler is Python code."""
    return {signum: handler for signum in signal.valid_signals()
            if callable(handler := signal.getsignal(signum))}


def _run_handlers(waker, handlers):
    """Runs the handlers of the signals noted during a call (the default
    SIGINT handler raises KeyboardInterrupt), and those still pending."""
    noted, waker.noted = waker.noted, []
    for signum in noted:
        handlers[signum](signum, None)


def _is_cancelled_error(error):
    return error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)


def _blocking(call, timeout_ms, cancellable, stream=None, writes=False, poll=False):
    """Runs call(timeout_ms, cancellable) so that a signal interrupts it.

    stream resolves Gios.TIMEOUT_DEFAULT when the call is retried; writes:
    the call buffers what it could not send, so after a handler that returned
    it is not made again (that would write twice) and returns True; poll: the
    call reports a cancel by returning no condition."""
    if timeout_ms == _DEFAULT and stream is not None:
        timeout_ms = stream.props.default_timeout
    waker = _get_waker() if timeout_ms != 0 else None
    if waker is None:
        # Not the main thread, or a call that does not wait (a watch's reads
        # and flushes): nothing for a signal to interrupt, and no cost.
        return call(timeout_ms, cancellable)
    deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000

    while True:
        mine = Gio.Cancellable()
        forward = 0
        failure = None
        if cancellable is not None:
            forward = GObject.Object.connect(cancellable, "cancelled", lambda _c: mine.cancel())
            if cancellable.is_cancelled():
                mine.cancel()
        handlers = _python_handlers()
        waker.noted = []
        with waker.lock:
            waker.current = mine
            waker.signalled = False
        # From here to the end of `finally`, nothing but C calls: entering a
        # Python function may run a pending signal handler.
        list(map(signal.signal, handlers, [waker.note] * len(handlers)))
        previous = signal.set_wakeup_fd(waker.writer.fileno(), warn_on_full_buffer=False)
        waker.forward = previous if previous != waker.writer.fileno() else -1
        try:
            try:
                result = call(timeout_ms, mine)
            except GLib.Error as error:
                interrupted = waker.signalled and _is_cancelled_error(error) and \
                    not (cancellable is not None and cancellable.is_cancelled())
                if not interrupted:
                    failure = error
            else:
                interrupted = poll and result == 0 and waker.signalled
        finally:
            signal.set_wakeup_fd(waker.forward)
            with waker.lock:
                waker.current = None
                waker.forward = -1
            list(map(signal.signal, handlers.keys(), handlers.values()))
            if forward:
                GObject.signal_handler_disconnect(cancellable, forward)

        _run_handlers(waker, handlers)
        if not interrupted:
            if failure is not None:
                raise failure
            return result
        # Every handler returned normally: go on, within the same time limit.
        if writes:
            return True
        if deadline is not None:
            timeout_ms = max(0, int((deadline - time.monotonic()) * 1000))


def _port(port):
    """A port as the C calls take it: a service name or a number."""
    return port if isinstance(port, str) else str(int(port))


def _data(data):
    """bytes or GLib.Bytes for a str (as UTF-8), bytes or GLib.Bytes."""
    if isinstance(data, str):
        return data.encode("utf-8")
    return data


def _glib_bytes(data):
    data = _data(data)
    return data if isinstance(data, GLib.Bytes) else GLib.Bytes.new(data)


def _utf8_length(text):
    """The length of text (a str) in UTF-8, without encoding ASCII."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _bytes(data):
    """A GLib.Bytes (or None) as Python bytes (or None)."""
    return None if data is None else data.get_data() or b""


# ---------------------------------------------------------------------------
# The classes


class DeviceStream(Gios.DeviceStream):
    """A timeout-driven, buffered stream over a device.

    In Python: `with stream:` closes it; `for line in stream:` reads lines as
    str until the end of input; reads return bytes and writes take str or
    bytes. A blocking call on the main thread ends with KeyboardInterrupt
    within about a second of Ctrl-C."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def __iter__(self):
        return self.lines()

    def lines(self, max_length=0, timeout_ms=_DEFAULT, cancellable=None):
        """Yields each line as a str, without its terminator, until the end
        of input. Each line waits at most timeout_ms; a line longer than
        max_length bytes (0: Gios.DEFAULT_MAX_LINE_LENGTH) raises
        GLib.Error Gios.Error.LINE_TOO_LONG."""
        while True:
            line, _length = self.read_line(max_length, timeout_ms, cancellable)
            if line is None:
                return
            yield line

    def lines_bytes(self, max_length=0, timeout_ms=_DEFAULT, cancellable=None):
        """Like lines(), with each line as bytes (any byte, NUL included)."""
        while True:
            line = self.read_line_bytes(max_length, timeout_ms, cancellable)
            if line is None:
                return
            yield line

    def read_line(self, max_length=0, timeout_ms=_DEFAULT, cancellable=None):
        """read_line(max_length=0, timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> (str or None, int)

        Reads one line of UTF-8 text and returns it without its terminator,
        with its length in bytes; (None, 0) at the end of input. A line
        longer than max_length bytes (0: Gios.DEFAULT_MAX_LINE_LENGTH) raises
        Gios.Error.LINE_TOO_LONG; no line within timeout_ms raises
        Gio.IOErrorEnum.TIMED_OUT; neither consumes anything."""
        if timeout_ms == 0:     # a call that does not wait: nothing to interrupt
            return Gios.DeviceStream.read_line(self, max_length, 0, cancellable)
        return _blocking(lambda t, c: Gios.DeviceStream.read_line(self, max_length, t, c),
                         timeout_ms, cancellable, self)

    def read_line_bytes(self, max_length=0, timeout_ms=_DEFAULT, cancellable=None):
        """read_line_bytes(max_length=0, timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> bytes or None

        Like read_line(), with the line as bytes (any byte, NUL included);
        None at the end of input."""
        if timeout_ms == 0:     # a call that does not wait: nothing to interrupt
            return _bytes(Gios.DeviceStream.read_line_bytes(self, max_length, 0, cancellable))
        return _bytes(_blocking(lambda t, c: Gios.DeviceStream.read_line_bytes(self, max_length, t, c),
                                timeout_ms, cancellable, self))

    def read_bytes(self, count, timeout_ms=_DEFAULT, cancellable=None):
        """read_bytes(count, timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> bytes

        Returns what is there, at most count bytes, waiting up to timeout_ms
        for at least one; b"" at the end of input."""
        if timeout_ms == 0:     # a call that does not wait: nothing to interrupt
            return _bytes(Gios.DeviceStream.read_bytes(self, count, 0, cancellable))
        return _bytes(_blocking(lambda t, c: Gios.DeviceStream.read_bytes(self, count, t, c),
                                timeout_ms, cancellable, self))

    def read(self, count, timeout_ms=_DEFAULT, cancellable=None):
        """read(count, timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> bytes

        The same as read_bytes()."""
        return self.read_bytes(count, timeout_ms, cancellable)

    def read_exact(self, count, timeout_ms=_DEFAULT, cancellable=None):
        """read_exact(count, timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> bytes

        Returns exactly count bytes. A timeout, or the end of input before
        count bytes (Gio.IOErrorEnum.CONNECTION_CLOSED), raises and consumes
        nothing."""
        return _bytes(_blocking(lambda t, c: Gios.DeviceStream.read_exact(self, count, t, c),
                                timeout_ms, cancellable, self))

    def read_bytes_finish(self, result):
        """read_bytes_finish(result) -> bytes"""
        return _bytes(Gios.DeviceStream.read_bytes_finish(self, result))

    def read_line_bytes_finish(self, result):
        """read_line_bytes_finish(result) -> bytes or None"""
        return _bytes(Gios.DeviceStream.read_line_bytes_finish(self, result))

    def write(self, data, cancellable=None):
        """write(data, cancellable=None) -> True

        Buffers data (bytes, or a str written as UTF-8) for sending; sends
        once the output buffer is full. Call flush() to send."""
        data = _data(data)
        if isinstance(data, GLib.Bytes):
            return self.write_bytes(data, cancellable)
        return _blocking(lambda _t, c: Gios.DeviceStream.write(self, data, c),
                         self._write_wait(len(data)), cancellable, writes=True)

    def write_bytes(self, data, cancellable=None):
        """write_bytes(data, cancellable=None) -> True

        Like write(), for GLib.Bytes, bytes or a str."""
        data = _glib_bytes(data)
        return _blocking(lambda _t, c: Gios.DeviceStream.write_bytes(self, data, c),
                         self._write_wait(data.get_size()), cancellable, writes=True)

    def write_line(self, line, cancellable=None):
        """write_line(line, cancellable=None) -> True

        Buffers line (a str) and the line terminator."""
        size = _utf8_length(line) + _utf8_length(self.get_line_terminator())
        if self._write_wait(size) == 0:
            return Gios.DeviceStream.write_line(self, line, cancellable)
        return _blocking(lambda _t, c: Gios.DeviceStream.write_line(self, line, c),
                         -1, cancellable, writes=True)

    def _write_wait(self, size):
        """0 when size more bytes fit in the output buffer (such a write only
        buffers: it cannot wait, so no signal can interrupt it), else -1."""
        if self.get_buffered_output() + size < self.get_output_buffer_size():
            return 0
        return -1

    def flush(self, timeout_ms=_DEFAULT, cancellable=None):
        """flush(timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> True

        Sends every buffered byte within timeout_ms; what is not sent stays
        buffered."""
        if timeout_ms == 0:     # a call that does not wait: nothing to interrupt
            return Gios.DeviceStream.flush(self, 0, cancellable)
        return _blocking(lambda t, c: Gios.DeviceStream.flush(self, t, c),
                         timeout_ms, cancellable, self)

    def poll(self, condition, timeout_ms=_DEFAULT, cancellable=None):
        """poll(condition, timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> GLib.IOCondition

        Waits until the stream can be read (GLib.IOCondition.IN) or written
        (OUT) without waiting; returns the conditions that hold, 0 when none
        did within timeout_ms."""
        if timeout_ms == 0:     # a call that does not wait: nothing to interrupt
            return Gios.DeviceStream.poll(self, condition, 0, cancellable)
        return _blocking(lambda t, c: Gios.DeviceStream.poll(self, condition, t, c),
                         timeout_ms, cancellable, self, poll=True)

    def receive_item(self, timeout_ms=_DEFAULT, cancellable=None):
        """receive_item(timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> GLib.Variant"""
        return _blocking(lambda t, c: Gios.DeviceStream.receive_item(self, t, c),
                         timeout_ms, cancellable, self)

    def receive_message(self, timeout_ms=_DEFAULT, cancellable=None):
        """receive_message(timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> Gios.Message"""
        return _blocking(lambda t, c: Gios.DeviceStream.receive_message(self, t, c),
                         timeout_ms, cancellable, self)

    def send_item(self, item, cancellable=None):
        """send_item(item, cancellable=None) -> True"""
        return _blocking(lambda _t, c: Gios.DeviceStream.send_item(self, item, c),
                         -1, cancellable, writes=True)

    def send_message(self, message, cancellable=None):
        """send_message(message, cancellable=None) -> True

        Sends message and flushes; what is not sent stays buffered."""
        return _blocking(lambda _t, c: Gios.DeviceStream.send_message(self, message, c),
                         -1, cancellable, writes=True)

    def execute(self, timeout_ms=_DEFAULT, func=None, user_data=None, cancellable=None):
        """execute(timeout_ms=Gios.TIMEOUT_DEFAULT, func=None, user_data=None, cancellable=None) -> (Gios.ExecuteResult, Gios.Message or None)

        Receives one request, hands it to func(stream, request, user_data)
        (or the class's do_handle_request) and sends the reply it returns."""
        return _blocking(lambda t, c: Gios.DeviceStream.execute(self, t, func, user_data, c),
                         timeout_ms, cancellable, self)


DeviceStream = override(DeviceStream)
__all__.append("DeviceStream")


class SocketCommon(Gios.SocketCommon, DeviceStream):
    """What every socket has: its connection, addresses and options, and TLS."""

    def start_tls(self, timeout_ms=_DEFAULT, cancellable=None):
        """start_tls(timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> True

        Upgrades the connection to TLS: the client role on a socket that
        open() connected (the server's certificate is checked against
        tls_database and the host name), the server role otherwise
        (tls_certificate). Ctrl-C raises KeyboardInterrupt."""
        return _blocking(lambda t, c: Gios.SocketCommon.start_tls(self, t, c),
                         timeout_ms, cancellable, self)


SocketCommon = override(SocketCommon)
__all__.append("SocketCommon")


class Socket(Gios.Socket, SocketCommon):
    """A client connection (or one a server accepted).

    open() takes the port as an int or a str."""

    def open(self, host, port, timeout_ms=_DEFAULT, cancellable=None):
        """open(host, port, timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> True

        Connects to host:port (port an int or a service name)."""
        port = _port(port)
        return _blocking(lambda t, c: Gios.Socket.open(self, host, port, t, c),
                         timeout_ms, cancellable, self)

    def open_unix(self, path, timeout_ms=_DEFAULT, cancellable=None):
        """open_unix(path, timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> True"""
        return _blocking(lambda t, c: Gios.Socket.open_unix(self, path, t, c),
                         timeout_ms, cancellable, self)


Socket = override(Socket)
__all__.append("Socket")


class ServerSocket(Gios.ServerSocket, SocketCommon):
    """A listening socket that serves its connections one at a time
    (listen(), then read and write on the server itself), returns them
    (accept()), runs a job for each (listen_job()) or hands them to the main
    loop (start()).

    `with Gios.ServerSocket() as server:` closes it at the end of the block.
    Ports may be ints."""

    def open(self, port, timeout_ms=_DEFAULT):
        """open(port, timeout_ms=Gios.TIMEOUT_DEFAULT) -> True

        Listens on port (an int or a str; 0 for any free port) on every
        address, waiting up to timeout_ms for a port in use to come free."""
        return Gios.ServerSocket.open(self, _port(port), timeout_ms)

    def open_address(self, host, port, timeout_ms=_DEFAULT):
        """open_address(host, port, timeout_ms=Gios.TIMEOUT_DEFAULT) -> True"""
        return Gios.ServerSocket.open_address(self, host, _port(port), timeout_ms)

    def listen(self, timeout_ms=_DEFAULT, cancellable=None):
        """listen(timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> True

        Waits up to timeout_ms (Gios.TIMEOUT_FOREVER: no limit) for a
        connection and makes it the server's current connection: read from
        and write to the server itself, then drop_connection(). No connection
        in time raises Gio.IOErrorEnum.TIMED_OUT; Ctrl-C raises
        KeyboardInterrupt and the server listens on."""
        return _blocking(lambda t, c: Gios.ServerSocket.listen(self, t, c),
                         timeout_ms, cancellable, self)

    def accept(self, timeout_ms=_DEFAULT, cancellable=None):
        """accept(timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> Gios.Socket

        Waits for a connection and returns it as a new socket-type object."""
        return _blocking(lambda t, c: Gios.ServerSocket.accept(self, t, c),
                         timeout_ms, cancellable, self)

    def listen_job(self, timeout_ms=_DEFAULT, max_jobs=0, func=None, user_data=None, cancellable=None):
        """listen_job(timeout_ms=Gios.TIMEOUT_DEFAULT, max_jobs=0, func=None, user_data=None, cancellable=None) -> int

        Accepts connections for timeout_ms and runs func(connection,
        cancellable, user_data) for each on a thread pool (or the
        connection's do_run() when func is None), at most max_jobs at once
        (0: no limit). Returns the number of jobs started."""
        return _blocking(lambda t, c: Gios.ServerSocket.listen_job(self, t, max_jobs, func, user_data, c),
                         timeout_ms, cancellable, self)

    def wait_jobs(self, timeout_ms=_DEFAULT, cancellable=None):
        """wait_jobs(timeout_ms=Gios.TIMEOUT_DEFAULT, cancellable=None) -> True

        Waits until every job of listen_job() has ended (wait_jobs_full() in
        C)."""
        return _blocking(lambda t, c: Gios.ServerSocket.wait_jobs_full(self, t, c),
                         timeout_ms, cancellable, self)


ServerSocket = override(ServerSocket)
__all__.append("ServerSocket")
