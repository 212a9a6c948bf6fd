"""A loopback TCP delay line: stands in for a remote database server.

    python bench/proxy.py --target 127.0.0.1:5432 --rtt-ms 2 [--port N]

listens on ``127.0.0.1`` (a free port unless ``--port`` names one), prints
``listening on 127.0.0.1:PORT`` and forwards every connection to the target,
each chunk in each direction ``rtt / 2`` after it arrived, until SIGINT or
SIGTERM. With ``--control`` it reads commands on stdin instead: ``stats``
prints its counters as one JSON line (connections, exchanges — the round
trips, counted as the client's turns to speak — and bytes), and EOF stops it.

It is a *delay line*, not a throttle: a chunk is read as soon as it arrives,
stamped with its arrival time, and written at that time plus the delay, in
order. Reading never waits for the previous chunk to be written, so many
chunks can be in flight at once and the bandwidth is what the loopback gives
(the bandwidth-delay product is bounded by :data:`MAX_IN_FLIGHT`, far above
what a loopback carries in a millisecond).

From Python::

    with DelayProxy(("127.0.0.1", 5432), one_way=0.001) as proxy:
        url = url.set(host="127.0.0.1", port=proxy.port)

Each connection gets four threads (a reader and a writer per direction); a
half-close (EOF) is forwarded after the chunks before it; a reset or error on
either side drops both. The TCP handshake itself is not delayed: a new
connection costs one round trip less than on a real remote link.
:meth:`DelayProxy.close` stops accepting, shuts every connection down and
joins every thread it started.

:class:`ProxyProcess` runs the same proxy in a child process (the CLI), so
its forwarding neither takes the measured process's GIL nor counts in its
CPU time.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Sequence

#: Bytes read per ``recv``.
CHUNK = 256 * 1024
#: Bytes one direction may hold in flight before its reader waits for the writer (backpressure).
MAX_IN_FLIGHT = 32 * 1024 * 1024
#: Seconds :meth:`DelayProxy.close` waits for each thread.
JOIN_TIMEOUT = 5.0

_EOF = b""


def _nodelay(sock: socket.socket) -> None:
    # Each chunk goes out as it is due; Nagle's algorithm would hold small ones back for an ACK.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Direction:
    """One direction of one connection: ``src`` → delay → ``dst``, a reader and a writer thread."""

    def __init__(self, link: _Link, src: socket.socket, dst: socket.socket, name: str, *, upstream: bool) -> None:
        self.link, self.src, self.dst, self.name = link, src, dst, name
        self.upstream = upstream  # client → server
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.in_flight = 0
        self.cond = threading.Condition()
        self.done = False  # the writer has forwarded the EOF (or given up)
        self.transferred = 0  # bytes read from src

    def start(self, threads: list[threading.Thread]) -> None:
        for target, role in ((self._read, "read"), (self._write, "write")):
            thread = threading.Thread(target=target, name=f"delay-proxy-{self.name}-{role}", daemon=True)
            threads.append(thread)
            thread.start()

    def _read(self) -> None:
        delay = self.link.proxy.one_way
        try:
            while True:
                data = self.src.recv(CHUNK)
                due = time.monotonic() + delay
                if data:
                    self.transferred += len(data)
                    self.link.arrived(upstream=self.upstream)
                with self.cond:
                    while self.in_flight >= MAX_IN_FLIGHT and not self.link.broken:
                        self.cond.wait()
                    if self.link.broken:
                        return
                    self.queue.append((due, data))
                    self.in_flight += len(data)
                    self.cond.notify_all()
                if not data:  # EOF: the writer half-closes dst once the chunks before it are out
                    return
        except OSError:
            self.link.break_()

    def _write(self) -> None:
        try:
            while True:
                with self.cond:
                    while not self.queue and not self.link.broken:
                        self.cond.wait()
                    if self.link.broken:
                        return
                    due, data = self.queue[0]  # only this thread removes items: the head stays put
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if data is _EOF or not data:
                    with contextlib.suppress(OSError):
                        self.dst.shutdown(socket.SHUT_WR)
                    with self.cond:
                        self.queue.popleft()
                        self.done = True
                    self.link.direction_done()
                    return
                self.dst.sendall(data)
                with self.cond:
                    self.queue.popleft()
                    self.in_flight -= len(data)
                    self.cond.notify_all()
        except OSError:
            self.link.break_()

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()


class _Link:
    """One proxied connection: the client's socket, the upstream socket, a direction each way."""

    def __init__(self, proxy: DelayProxy, client: socket.socket, upstream: socket.socket, number: int) -> None:
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.broken = False
        self.exchanges = 0  # client turns: chunks to the server that follow something from it (or open the link)
        self._client_spoke_last = False
        self._lock = threading.Lock()
        self._closed = False
        self.directions = (
            _Direction(self, client, upstream, f"{number}-up", upstream=True),
            _Direction(self, upstream, client, f"{number}-down", upstream=False),
        )

    def arrived(self, *, upstream: bool) -> None:
        """Count round trips: a request/response protocol turns around once per exchange."""
        if upstream and not self._client_spoke_last:
            self.exchanges += 1
        self._client_spoke_last = upstream

    def start(self, threads: list[threading.Thread]) -> None:
        for direction in self.directions:
            direction.start(threads)

    def direction_done(self) -> None:
        if all(d.done for d in self.directions):
            self.close()

    def break_(self) -> None:
        """A reset or an error on either side: drop both sides now (a peer sees the connection end)."""
        with self._lock:
            self.broken = True
        for direction in self.directions:
            direction.wake()
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self.proxy._forget(self)

    @property
    def transferred(self) -> int:
        return sum(d.transferred for d in self.directions)


class DelayProxy:
    """A TCP proxy on ``127.0.0.1`` to ``target`` that delays every chunk by ``one_way`` seconds each way.

    ``rtt`` (seconds) is the other way to give it: ``one_way = rtt / 2``.
    ``port=0`` (the default) picks a free port; read :attr:`port` after
    :meth:`start` (or entering the ``with`` block).
    """

    def __init__(
        self,
        target: tuple[str, int],
        *,
        one_way: float | None = None,
        rtt: float | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        if one_way is not None and rtt is not None:
            raise ValueError("give one_way or rtt, not both")
        self.one_way = one_way if one_way is not None else (rtt or 0.0) / 2
        if self.one_way < 0:
            raise ValueError("the delay cannot be negative")
        self.target = target
        self.host = host
        self.port = port
        self.connections = 0  # accepted so far
        self._ended_bytes = 0  # forwarded by connections that have ended
        self._ended_exchanges = 0
        self._listener: socket.socket | None = None
        self._links: set[_Link] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def rtt(self) -> float:
        return 2 * self.one_way

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self) -> DelayProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        self._listener = listener
        self.port = listener.getsockname()[1]
        thread = threading.Thread(target=self._accept, name="delay-proxy-accept", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:  # the listener was shut down by close()
                return
            if self._stopping.is_set():
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the client sees the server refuse, as it would without the proxy
                continue
            for sock in (client, upstream):
                _nodelay(sock)
            with self._lock:
                self.connections += 1
                link = _Link(self, client, upstream, self.connections)
                self._links.add(link)
                # Forget threads of connections that are over, so a long run does not pile them up.
                self._threads = [t for t in self._threads if t.is_alive()]
                link.start(self._threads)

    def _forget(self, link: _Link) -> None:
        with self._lock:
            if link in self._links:
                self._links.discard(link)
                self._ended_bytes += link.transferred
                self._ended_exchanges += link.exchanges

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._links)

    def stats(self) -> dict[str, int]:
        """Counters since the start: connections accepted, exchanges (round trips), bytes forwarded."""
        with self._lock:
            links = list(self._links)
            return {
                "connections": self.connections,
                "open": len(links),
                "exchanges": self._ended_exchanges + sum(link.exchanges for link in links),
                "bytes": self._ended_bytes + sum(link.transferred for link in links),
            }

    def close(self) -> None:
        """Stop accepting, drop every connection, join every thread this proxy started."""
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.break_()
        with self._lock:
            threads = list(self._threads)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(JOIN_TIMEOUT)

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class ProxyProcess:
    """The CLI in a child process (``--control``), as a context manager; :attr:`port` is where it listens.

    The measured process then carries none of the forwarding: no GIL taken
    from it, no CPU time added to it. :meth:`stats` asks the child for its
    counters; leaving the block closes its stdin, which stops it (so does
    the parent's death: the child never outlives it).
    """

    def __init__(self, target: tuple[str, int], *, rtt_ms: float, port: int = 0) -> None:
        self.target, self.rtt_ms, self.port = target, rtt_ms, port
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> ProxyProcess:
        command = [sys.executable, str(Path(__file__).resolve()), "--target", f"{self.target[0]}:{self.target[1]}",
                   "--rtt-ms", repr(self.rtt_ms), "--port", str(self.port), "--control"]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._readline()
        if not line.startswith("listening on "):
            self._stop()
            raise RuntimeError(f"the delay proxy did not start (it said {line.strip()!r})")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def _readline(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        return self._process.stdout.readline()

    def stats(self) -> dict[str, int]:
        """The child's :meth:`DelayProxy.stats`."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write("stats\n")
        self._process.stdin.flush()
        line = self._readline()
        if not line:
            raise RuntimeError("the delay proxy has stopped")
        return json.loads(line)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()  # EOF: the child closes its proxy and exits
        try:
            process.wait(JOIN_TIMEOUT * 2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._stop()


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def _fine_timer_slack() -> None:
    """Ask Linux to wake sleeping threads on time (timer slack 1 ns, not 50 µs); threads started later inherit it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK
    except (OSError, AttributeError):
        pass


class _Stopped(Exception):
    pass


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A loopback TCP proxy that delays every chunk in each direction.")
    parser.add_argument("--target", type=_address, required=True, help="HOST:PORT to forward to")
    parser.add_argument("--rtt-ms", type=float, default=2.0, help="added round trip in ms, half each way (default 2)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--control", action="store_true",
                        help="read commands on stdin: 'stats' prints the counters as one JSON line; EOF stops")
    args = parser.parse_args(argv)
    if args.rtt_ms < 0:
        parser.error("--rtt-ms cannot be negative")

    signal.signal(signal.SIGTERM, _stopped)
    signal.signal(signal.SIGINT, _stopped)
    _fine_timer_slack()
    with DelayProxy(args.target, rtt=args.rtt_ms / 1000, port=args.port) as proxy:
        print(f"listening on {proxy.host}:{proxy.port}", flush=True)
        try:
            if args.control:
                for line in sys.stdin:
                    if line.strip() == "stats":
                        print(json.dumps(proxy.stats()), flush=True)
            else:
                threading.Event().wait()
        except _Stopped:
            pass
        print(f"delay proxy: stopping after {proxy.connections} connections", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
