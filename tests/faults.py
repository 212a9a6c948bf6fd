"""Fault injection for the safety tests: a loopback TCP proxy, statement recording, throwaway logins.

Everything here is bounded: the proxy and its pump threads stop by
themselves after ``lifetime`` seconds (and when the block ends), hooks are
removed when their block ends, and every role or user made is dropped, also
when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from drift.scratch import split_sql

import dbs
import pytest
from scenarios import isolated_imports, logging_kept

#: A password that must be URL-encoded (@ : / % ? # &) and is long enough to be masked anywhere.
HOSTILE_PASSWORD = "p@ss:w/rd%?#&-Zq7"


def spellings(secret: str) -> set[str]:
    """Every way a password may surface: raw, percent-encoded, form-encoded, as SQLAlchemy renders it."""
    rendered = URL.create("x", username="u", password=secret, host="h").render_as_string(hide_password=False)
    return {secret, quote(secret, safe=""), quote_plus(secret), rendered[len("x://u:"):-len("@h")]}


def leaks(text: str, secret: str) -> list[str]:
    """The spellings of ``secret`` that occur in ``text`` (empty: nothing leaked)."""
    return sorted(s for s in spellings(secret) if s and s in text)


# --------------------------------------------------------------------------- a TCP proxy that misbehaves


@dataclass
class Proxy:
    """A loopback TCP proxy to ``127.0.0.1:target_port``; :meth:`stall` makes it a black hole.

    A stalled proxy keeps every connection open and accepts new ones, but
    forwards nothing in either direction: to the client the server has gone
    silent without closing anything, as behind a hung load balancer or a
    frozen server. ``delay`` slows every forwarded chunk (a slow network).
    """

    target_port: int
    delay: float = 0.0
    lifetime: float = 60.0
    port: int = 0
    connections: int = 0
    _stalled: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stall(self) -> None:
        self._stalled.set()

    @property
    def stalled(self) -> bool:
        return self._stalled.is_set()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.1)
        try:
            while not self._stop.is_set():
                if self._stalled.is_set():
                    time.sleep(0.05)  # read nothing, send nothing, close nothing
                    continue
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                if self.delay:
                    time.sleep(self.delay)
                if self._stalled.is_set():
                    continue  # stalled while this chunk was in flight: it is lost, as in a black hole
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not self._stalled.is_set() or self._stop.is_set():
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

    def _serve(self, listener: socket.socket) -> None:
        ends = time.monotonic() + self.lifetime
        with listener:
            while not self._stop.is_set() and time.monotonic() < ends:
                try:
                    client, _ = listener.accept()
                except socket.timeout:
                    continue
                with self._lock:
                    self.connections += 1
                    self._sockets.append(client)
                if self._stalled.is_set():
                    continue  # accepted, never answered
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                except OSError:
                    client.close()
                    continue
                with self._lock:
                    self._sockets.append(upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True, name="proxy-pump").start()
        self._stop.set()  # lifetime over: the pumps end too

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.close()


@contextlib.contextmanager
def proxy(target_port: int, *, delay: float = 0.0, lifetime: float = 60.0, stalled: bool = False) -> Iterator[Proxy]:
    """A :class:`Proxy` listening on a fresh loopback port, closed when the block ends."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    p = Proxy(target_port, delay=delay, lifetime=lifetime, port=listener.getsockname()[1])
    if stalled:
        p.stall()
    thread = threading.Thread(target=p._serve, args=(listener,), daemon=True, name="proxy")
    thread.start()
    try:
        yield p
    finally:
        p.close()
        thread.join(5)


# --------------------------------------------------------------------------- what reaches the target database

# Words that begin a statement which reads only; anything else sent to the target counts as a write.
_READING = re.compile(r"^\s*(\(\s*)*(SELECT|SHOW|WITH|PRAGMA|DESCRIBE|DESC|EXPLAIN|ROLLBACK|COMMIT|BEGIN)\b", re.I)
_SESSION_SET = re.compile(r"^\s*SET\s+(SESSION\s+|LOCAL\s+)?(?!GLOBAL\b|PERSIST\b)", re.I)
_MODIFYING_CTE = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.I)
# MariaDB's per-statement limits wrap a SELECT: SET STATEMENT max_statement_time=… FOR SELECT …
_SET_STATEMENT_FOR = re.compile(r"^\s*SET\s+STATEMENT\s+.+?\s+FOR\s+(?P<rest>.*)$", re.I | re.S)


def is_write(statement: str) -> bool:
    """Whether ``statement`` could change the database: DDL, DML, or a server-wide setting.

    A multi-statement batch (MariaDB's bulk ``SHOW CREATE TABLE``) is a write if any of its statements is.
    """
    if ";" in statement:
        parts = [part.text for part in split_sql(statement, "mysql")]
        if len(parts) > 1:
            return any(is_write(part) for part in parts)
    sql = statement.strip()
    nested = _SET_STATEMENT_FOR.match(sql)
    if nested:
        sql = nested.group("rest")
    if _SESSION_SET.match(sql) and not sql.upper().startswith("SET STATEMENT"):
        return False
    if not _READING.match(sql):
        return True
    if re.match(r"^\s*WITH\b", sql, re.I) and _MODIFYING_CTE.search(sql):
        return True  # a data-modifying CTE
    return bool(re.search(r"\bFOR\s+UPDATE\b|\bINTO\s+(OUTFILE|DUMPFILE)\b|\bpg_terminate_backend\b", sql, re.I))


@dataclass
class Recorded:
    statements: list[str] = field(default_factory=list)

    def writes(self) -> list[str]:
        return [s for s in self.statements if is_write(s)]


def targets(url: URL) -> Callable[[sa.Connection], bool]:
    """A predicate: does this connection talk to the database ``url`` names (same host, port, database)?"""
    host, port, database = url.host, url.port, url.database

    def matches(conn: sa.Connection) -> bool:
        other = conn.engine.url
        if url.get_backend_name() == "sqlite":
            return (other.database or "").split("?")[0].endswith(str(database))
        return (other.host, other.port, other.database) == (host, port, database) and (
            other.username == url.username
        )

    return matches


@contextlib.contextmanager
def recording(is_target: Callable[[sa.Connection], bool]) -> Iterator[Recorded]:
    """Every statement any engine sends to a connection ``is_target`` accepts, for the block's duration."""
    recorded = Recorded()

    def before(conn: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        if is_target(conn):
            recorded.statements.append(statement)

    sa.event.listen(Engine, "before_cursor_execute", before)
    try:
        yield recorded
    finally:
        sa.event.remove(Engine, "before_cursor_execute", before)


@contextlib.contextmanager
def on_statement(is_target: Callable[[sa.Connection], bool], action: Callable[[int, str], None]) -> Iterator[list[str]]:
    """Call ``action(n, statement)`` before the n-th (1-based) statement sent to a target connection."""
    seen: list[str] = []

    def before(conn: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        if is_target(conn):
            seen.append(statement)
            action(len(seen), statement)

    sa.event.listen(Engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(Engine, "before_cursor_execute", before)


# --------------------------------------------------------------------------- admin work on the servers


@contextlib.contextmanager
def admin(dialect: str, database: str | None = None) -> Iterator[sa.Connection]:
    """An autocommit connection as the servers' superuser (to ``database`` when given)."""
    url = dbs.server_url(dialect)
    if database is not None:
        url = url.set(database=database)
    args: dict[str, Any] = {"connect_timeout": 5}
    if dialect == "mysql":
        args.update(read_timeout=30, write_timeout=30)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args=args)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def new_login() -> tuple[str, str]:
    """A unique role name ``drift_ro_<hex>`` and a hostile password for it."""
    return f"drift_ro_{secrets.token_hex(4)}", HOSTILE_PASSWORD


@contextlib.contextmanager
def pg_read_only_role(database_url: URL) -> Iterator[URL]:
    """A PostgreSQL role with only CONNECT, USAGE on public and SELECT on its tables; yields its URL.

    Tables must exist before the block: SELECT is granted on what is there.
    """
    role, password = new_login()
    database = database_url.database
    with admin("postgresql") as conn:
        # Utility statements take no bind parameters: the password goes in as a quoted literal.
        literal = "'" + password.replace("'", "''").replace("%", "%%") + "'"
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD {literal} NOSUPERUSER NOCREATEDB NOCREATEROLE")
    try:
        with admin("postgresql") as conn:
            conn.exec_driver_sql(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
            conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        with admin("postgresql", database) as conn:
            # PostgreSQL 15 already takes CREATE on public away from PUBLIC; made explicit all the same.
            conn.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
            conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        yield database_url.set(username=role, password=password)
    finally:
        with admin("postgresql") as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %(r)s", {"r": role}
            )
        with admin("postgresql", database) as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
        with admin("postgresql") as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")


def pg_role_exists(role: str) -> bool:
    with admin("postgresql") as conn:
        return conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %(r)s", {"r": role}).first() is not None


@contextlib.contextmanager
def mariadb_select_only_user(database_url: URL) -> Iterator[URL]:
    """A MariaDB user with SELECT on one database only; yields its URL."""
    user, password = new_login()
    hosts = ("%", "localhost", "127.0.0.1")
    try:
        with admin("mysql") as conn:
            for host in hosts:
                conn.exec_driver_sql("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))
                conn.exec_driver_sql(f"GRANT SELECT ON `{database_url.database}`.* TO %s@%s", (user, host))
        yield database_url.set(username=user, password=password)
    finally:
        with admin("mysql") as conn:
            for host in hosts:
                conn.exec_driver_sql("DROP USER IF EXISTS %s@%s", (user, host))


def mariadb_user_exists(user: str) -> bool:
    with admin("mysql") as conn:
        return conn.exec_driver_sql("SELECT 1 FROM mysql.user WHERE User = %s", (user,)).first() is not None


def kill_session(dialect: str, session_id: int) -> None:
    """End another session from a separate superuser connection, as an operator would."""
    with admin(dialect) as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql("SELECT pg_terminate_backend(%(pid)s)", {"pid": session_id})
        else:
            conn.exec_driver_sql(f"KILL CONNECTION {int(session_id)}")


def session_id(dialect: str, dbapi_connection: Any) -> int:
    with contextlib.closing(dbapi_connection.cursor()) as cur:
        cur.execute("SELECT pg_backend_pid()" if dialect == "postgresql" else "SELECT CONNECTION_ID()")
        return int(cur.fetchone()[0])


def scratch_databases(dialect: str) -> set[str]:
    return {n for n in dbs.list_databases(dialect) if n.startswith("drift_scratch")}


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def all_text(*parts: Iterable[str] | str) -> str:
    out: list[str] = []
    for part in parts:
        out.extend([part] if isinstance(part, str) else part)
    return "\n".join(out)


# --------------------------------------------------------------------------- figures for docs/safety.md


def figure(name: str, value: object) -> None:
    """Record one figure of this run in the file $DRIFT_SAFETY_FIGURES names (when set), one JSON line each."""
    path = os.environ.get("DRIFT_SAFETY_FIGURES")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"name": name, "value": value}) + "\n")


@pytest.fixture(autouse=True)
def restore_logging_and_imports() -> Iterator[None]:
    """Autouse in every module that imports it: the CLI's logging setup and imported models undone."""
    with logging_kept(), isolated_imports():
        yield
