"""The benchmark's delay proxy (bench/proxy.py) forwards bytes intact, in order, both ways, and closes cleanly.

Correctness only: the one timing assertion is that a round trip through the
proxy takes at least the round trip it was told to add.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

import dbs

TIMEOUT = 60  # seconds any socket call in these tests may block


def _load_proxy() -> ModuleType:
    # bench/ is not a package; load the file under a name of its own rather than put bench/ on sys.path.
    path = Path(__file__).resolve().parents[1] / "bench" / "proxy.py"
    spec = importlib.util.spec_from_file_location("drift_bench_proxy", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


proxy_module = _load_proxy()
DelayProxy = proxy_module.DelayProxy
ProxyProcess = proxy_module.ProxyProcess


# --------------------------------------------------------------------------- a small server to proxy to


@contextlib.contextmanager
def server(handle: Callable[[socket.socket], None]) -> Iterator[tuple[str, int]]:
    """A loopback TCP server calling ``handle(conn)`` in a thread per connection; yields its address."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    threads: list[threading.Thread] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.settimeout(TIMEOUT)

            def run(conn: socket.socket = conn) -> None:
                with conn:
                    with contextlib.suppress(OSError):
                        handle(conn)

            thread = threading.Thread(target=run, daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        acceptor.join(TIMEOUT)
        for thread in threads:
            thread.join(TIMEOUT)


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(1 << 20):
        chunks.append(data)
    return b"".join(chunks)


def send_and_receive(sock: socket.socket, payload: bytes) -> bytes:
    """Send ``payload`` then half-close, while reading everything that comes back (full duplex)."""
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_all(sock)), daemon=True)
    reader.start()
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)
    reader.join(TIMEOUT)
    assert not reader.is_alive(), "the reply did not end"
    return received[0]


@pytest.fixture
def no_thread_left() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [t for t in threading.enumerate() if t not in before and t.name.startswith("delay-proxy")]
        if not left:
            return
        time.sleep(0.05)
    pytest.fail(f"threads left behind: {[t.name for t in left]}")


# --------------------------------------------------------------------------- tests


def test_large_payload_both_ways_intact_and_in_order(no_thread_left: None) -> None:
    payload = os.urandom(64 * 1024 * 1024)
    with server(echo) as address, DelayProxy(address, rtt=0.002) as proxy:
        with connect(proxy.port) as sock:
            back = send_and_receive(sock, payload)
    assert len(back) == len(payload)
    assert hashlib.sha256(back).digest() == hashlib.sha256(payload).digest()


def test_full_duplex_each_direction_its_own_stream(no_thread_left: None) -> None:
    """The server streams its own payload while it takes the client's: neither waits for the other."""
    upstream = os.urandom(24 * 1024 * 1024)
    downstream = os.urandom(40 * 1024 * 1024)
    seen: list[bytes] = []

    def handle(conn: socket.socket) -> None:
        reader = threading.Thread(target=lambda: seen.append(read_all(conn)), daemon=True)
        reader.start()
        conn.sendall(downstream)
        conn.shutdown(socket.SHUT_WR)
        reader.join(TIMEOUT)

    with server(handle) as address, DelayProxy(address, one_way=0.0005) as proxy:
        with connect(proxy.port) as sock:
            got = send_and_receive(sock, upstream)
        deadline = time.monotonic() + TIMEOUT
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
    assert got == downstream
    assert seen == [upstream]


def test_several_connections_at_once_keep_their_own_bytes(no_thread_left: None) -> None:
    payloads = [bytes([n]) * 1000 + os.urandom(2 * 1024 * 1024) for n in range(16)]
    results: dict[int, bytes] = {}

    with server(echo) as address, DelayProxy(address, rtt=0.002) as proxy:

        def client(n: int) -> None:
            with connect(proxy.port) as sock:
                results[n] = send_and_receive(sock, payloads[n])

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(len(payloads))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        assert proxy.connections == len(payloads)
    assert sorted(results) == list(range(len(payloads)))
    for n, payload in enumerate(payloads):
        assert results[n] == payload, f"connection {n} got other bytes"


def test_many_small_exchanges_arrive_in_order(no_thread_left: None) -> None:
    """Request/response traffic like a database driver's: each reply follows its own request."""
    with server(echo) as address, DelayProxy(address, rtt=0.0002) as proxy:
        with connect(proxy.port) as sock:
            for n in range(300):
                message = f"statement {n};".encode()
                sock.sendall(message)
                got = b""
                while len(got) < len(message):
                    got += sock.recv(len(message) - len(got))
                assert got == message


def test_client_close_reaches_the_server(no_thread_left: None) -> None:
    ended = threading.Event()

    def handle(conn: socket.socket) -> None:
        read_all(conn)  # returns at EOF
        ended.set()

    with server(handle) as address, DelayProxy(address, rtt=0.002) as proxy:
        sock = connect(proxy.port)
        sock.sendall(b"hello")
        sock.close()
        assert ended.wait(TIMEOUT), "the server never saw the client close"
        deadline = time.monotonic() + TIMEOUT
        while proxy.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.open_connections == 0


def test_server_close_reaches_the_client(no_thread_left: None) -> None:
    def handle(conn: socket.socket) -> None:
        conn.sendall(b"bye")  # then the with-block closes it

    with server(handle) as address, DelayProxy(address, rtt=0.002) as proxy:
        with connect(proxy.port) as sock:
            assert read_all(sock) == b"bye"  # the data, then EOF


def test_closing_the_proxy_ends_open_connections_and_joins_its_threads(no_thread_left: None) -> None:
    with server(echo) as address:
        proxy = DelayProxy(address, rtt=0.002).start()
        socks = [connect(proxy.port) for _ in range(5)]
        for sock in socks:
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
        proxy.close()
        for sock in socks:
            with sock:
                try:
                    assert sock.recv(1) == b""
                except ConnectionResetError:
                    pass  # a reset is an end too
        with pytest.raises(OSError):
            connect(proxy.port).recv(1)


def test_a_round_trip_takes_at_least_the_configured_delay(no_thread_left: None) -> None:
    rtt = 0.02
    with server(echo) as address, DelayProxy(address, rtt=rtt) as proxy:
        with connect(proxy.port) as sock:
            for _ in range(3):
                start = time.perf_counter()
                sock.sendall(b"ping")
                assert sock.recv(4) == b"ping"
                assert time.perf_counter() - start >= rtt


def test_exchanges_count_the_client_turns(no_thread_left: None) -> None:
    with server(echo) as address, DelayProxy(address, rtt=0.0002) as proxy:
        with connect(proxy.port) as sock:
            for _ in range(7):
                sock.sendall(b"ask")
                assert sock.recv(3) == b"ask"
        stats = proxy.stats()
    assert stats["connections"] == 1
    assert stats["exchanges"] == 7
    assert stats["bytes"] == 2 * 7 * 3


def test_the_command_line_proxy_forwards_reports_and_stops() -> None:
    with server(echo) as address, ProxyProcess(address, rtt_ms=1) as process:
        with connect(process.port) as sock:
            assert send_and_receive(sock, b"through the child process") == b"through the child process"
        stats = process.stats()
        child = process._process
    assert stats["connections"] == 1 and stats["exchanges"] == 1
    assert child is not None and child.returncode == 0


@pytest.mark.postgresql
def test_postgresql_select_1_through_the_proxy() -> None:
    dbs.require_server("postgresql")
    url = dbs.server_url("postgresql")
    with DelayProxy((url.host or "127.0.0.1", url.port or 5432), rtt=0.002) as proxy:
        engine = sa.create_engine(url.set(host="127.0.0.1", port=proxy.port), poolclass=NullPool,
                                  connect_args={"connect_timeout": 10})
        try:
            with engine.connect() as conn:
                start = time.perf_counter()
                assert conn.execute(sa.text("SELECT 1")).scalar() == 1
                assert time.perf_counter() - start >= 0.002
        finally:
            engine.dispose()
        assert proxy.connections == 1
