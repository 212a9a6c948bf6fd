"""Read-only connections with timeouts, one setup per dialect.

Every session drift opens is read-only at the server (PostgreSQL
``default_transaction_read_only``, MariaDB/MySQL ``SET SESSION TRANSACTION
READ ONLY``, SQLite ``mode=ro`` plus ``query_only``), every statement has a
time limit, and every driver error leaves here as a masked, one-line
:class:`~drift.errors.ConnectError`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from . import secrets
from .config import DEFAULT_DRIVERS, Environment, mask_url
from .errors import CheckTimeoutError, ConnectError, DriftError, first_line
from .findings import DatabaseInfo

#: PyMySQL's ``CLIENT.MULTI_STATEMENTS`` capability: several statements in one round trip.
MULTI_STATEMENTS = 1 << 16

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DialectSetup:
    """How to open a safe session on one dialect."""

    connect_args: Callable[[Environment], dict[str, Any]]
    on_connect: Callable[[Any, Environment, dict[str, Any]], None]
    server_version: Callable[[Connection], str]
    url: Callable[[Environment], URL] = lambda env: env.url


def _pg_connect_args(env: Environment) -> dict[str, Any]:
    statement_ms = int(env.statement_timeout * 1000)
    options = " ".join(
        [
            "-c default_transaction_read_only=on",
            f"-c statement_timeout={statement_ms}",
            # A table locked by another session must not stall the check past its timeout.
            f"-c lock_timeout={statement_ms}",
            f"-c idle_in_transaction_session_timeout={statement_ms + 60000}",
        ]
    )
    return {
        "connect_timeout": max(2, int(round(env.connect_timeout))),  # libpq takes whole seconds, minimum 2
        "options": options,
        "application_name": "drift",
        # A silent network (no RST, no reply) is caught by the kernel instead of hanging forever.
        "tcp_user_timeout": int((env.statement_timeout + env.connect_timeout) * 1000),
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }


def _pg_on_connect(dbapi_conn: Any, env: Environment, info: dict[str, Any]) -> None:
    # The options above already apply; nothing more to send.
    return None


def _pg_version(conn: Connection) -> str:
    text = conn.exec_driver_sql("SHOW server_version").scalar() or ""
    return f"PostgreSQL {str(text).split()[0]}"


def _mysql_connect_args(env: Environment) -> dict[str, Any]:
    # Client-side socket timeouts: they fire even when the server never answers.
    socket_timeout = int(env.statement_timeout + env.connect_timeout) + 1
    return {
        "connect_timeout": max(1, int(round(env.connect_timeout))),
        "read_timeout": socket_timeout,
        "write_timeout": socket_timeout,
    }


def _mysql_on_connect(dbapi_conn: Any, env: Environment, info: dict[str, Any]) -> None:
    # Statement limits take fractions (MariaDB seconds to the microsecond, MySQL milliseconds), as
    # PostgreSQL's do; lock waits are whole seconds, rounded up so that a short timeout is not zero.
    statement_ms = max(1, int(round(env.statement_timeout * 1000)))
    seconds = max(1, math.ceil(env.statement_timeout))
    with contextlib.closing(dbapi_conn.cursor()) as cur:
        cur.execute("SET SESSION TRANSACTION READ ONLY")
        cur.execute("SELECT VERSION()")
        version = str(cur.fetchone()[0])
        if "mariadb" in version.lower():
            cur.execute(f"SET SESSION max_statement_time = {statement_ms / 1000:.3f}")
        else:
            cur.execute(f"SET SESSION max_execution_time = {statement_ms}")
        cur.execute(f"SET SESSION lock_wait_timeout = {seconds}")
        cur.execute(f"SET SESSION innodb_lock_wait_timeout = {seconds}")


def _mysql_version(conn: Connection) -> str:
    text = str(conn.exec_driver_sql("SELECT VERSION()").scalar() or "")
    number = text.split("-")[0]
    return f"MariaDB {number}" if "mariadb" in text.lower() else f"MySQL {number}"


def _sqlite_url(env: Environment) -> URL:
    database = env.url.database
    if not database or database == ":memory:":
        raise ConnectError(
            f"environment {env.name!r} names an in-memory SQLite database, which has no schema to check; "
            "set database = path/to/file.db",
            environment=env.name,
        )
    path = Path(database)
    if not path.is_file():
        raise ConnectError(
            f"environment {env.name!r}: SQLite file {str(path)!r} not found; "
            "create it (for example: alembic upgrade head) or fix database in its section",
            environment=env.name,
        )
    # mode=ro: the file is never created and never written; uri=true lets sqlite3 read the mode.
    # The path is percent-encoded: in a URI a '?' or '#' in a folder name would end the path, and
    # sqlite3 would open (and create!) a truncated path without mode=ro.
    location = quote(path.resolve().as_posix(), safe="/:")
    return URL.create("sqlite+pysqlite", database=f"file:{location}", query={"mode": "ro", "uri": "true"})


def _sqlite_connect_args(env: Environment) -> dict[str, Any]:
    return {"timeout": env.statement_timeout, "check_same_thread": False}


def _sqlite_on_connect(dbapi_conn: Any, env: Environment, info: dict[str, Any]) -> None:
    dbapi_conn.execute("PRAGMA query_only = ON")
    # Reads the header now, so a file that is not a database fails here, as "cannot connect".
    dbapi_conn.execute("PRAGMA schema_version").fetchone()
    # When the current statement started; reset before every statement (see make_engine).
    clock = info.setdefault("drift_clock", [time.monotonic()])

    def too_long() -> int:
        # sqlite3 has no statement timeout; the progress handler aborts a query that runs past it.
        return 1 if time.monotonic() - clock[0] > env.statement_timeout else 0

    dbapi_conn.set_progress_handler(too_long, 10000)


def _sqlite_version(conn: Connection) -> str:
    return f"SQLite {sqlite3.sqlite_version}"


DIALECTS: dict[str, DialectSetup] = {
    "postgresql": DialectSetup(_pg_connect_args, _pg_on_connect, _pg_version),
    "mysql": DialectSetup(_mysql_connect_args, _mysql_on_connect, _mysql_version),
    "mariadb": DialectSetup(_mysql_connect_args, _mysql_on_connect, _mysql_version),
    "sqlite": DialectSetup(_sqlite_connect_args, _sqlite_on_connect, _sqlite_version, _sqlite_url),
}


def setup_for(env: Environment) -> DialectSetup:
    try:
        return DIALECTS[env.dialect]
    except KeyError:
        raise ConnectError(
            f"environment {env.name!r} uses dialect {env.dialect!r}; drift checks "
            f"{', '.join(sorted(DIALECTS))} (read-only sessions are only guaranteed there)",
            environment=env.name,
        ) from None


def make_engine(env: Environment) -> Engine:
    """An engine whose every connection is read-only and time-limited."""
    setup = setup_for(env)
    url = setup.url(env)
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args=setup.connect_args(env))
    except (ImportError, SQLAlchemyError) as exc:
        extra = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}.get(env.dialect)
        default = f"{env.dialect}+{DEFAULT_DRIVERS.get(env.dialect)}"
        hint = ""
        if extra and url.drivername == default:
            hint = f"; install it with pip install 'drift-check[{extra}]'"
        elif extra:  # the extra installs drift's default driver, not the one asked for
            hint = f"; install that driver, or use {default} (pip install 'drift-check[{extra}]')"
        raise ConnectError(
            f"environment {env.name!r}: cannot load the driver for {mask_url(url)}: {secrets.mask(exc)}{hint}",
            environment=env.name,
        ) from None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        setup.on_connect(dbapi_conn, env, record.info)

    if env.dialect == "postgresql":
        _guard_with_deadline(engine, env)

    if engine.dialect.driver == "pymysql":

        @event.listens_for(engine, "do_connect")
        def _multi_statements(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            # Many SHOW CREATE TABLE in one round trip (drift.comparators.prefetch). Added to the
            # flags SQLAlchemy and the URL set, not in place of them.
            cparams["client_flag"] = int(cparams.get("client_flag", 0)) | MULTI_STATEMENTS

    if env.dialect == "sqlite":

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_reset_clock(conn: Any, cursor: Any, statement: Any, params: Any, context: Any, many: Any) -> None:
            clock = conn.info.get("drift_clock")
            if clock is not None:
                clock[0] = time.monotonic()

    return engine


def _guard_with_deadline(engine: Engine, env: Environment) -> None:
    """Give up on a PostgreSQL call the server has not answered in time, on the client side.

    ``statement_timeout`` is enforced by the server, and ``tcp_user_timeout``
    only fires while sent data goes unacknowledged: a server that has frozen,
    or a load balancer or proxy that keeps the connection open but forwards
    nothing, would leave libpq waiting forever (it has no read timeout). So
    every execute, commit and rollback gets a deadline a little past what
    the server's own limits allow; when it passes, the socket is shut down,
    libpq returns at once, and the call fails as a timeout.
    """
    limit = env.statement_timeout + env.connect_timeout + 1
    dialect = engine.dialect
    watchdog = _Watchdog()

    def guarded(call: Callable[..., Any], dbapi_conn_of: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            watch = watchdog.arm(dbapi_conn_of(*args), limit)
            try:
                return call(*args, **kwargs)
            except Exception as exc:
                if watch.fired:
                    # A driver error, so that every caller (risk probes included) treats it as any other timeout.
                    error = getattr(dialect.loaded_dbapi, "OperationalError", OSError)
                    raise error(f"no answer from the server, timed out after {limit:g} s") from exc
                raise
            finally:
                watchdog.disarm(watch)

        return run

    cursor_conn = lambda cursor, *rest: cursor.connection  # noqa: E731
    dialect.do_execute = guarded(dialect.do_execute, cursor_conn)  # type: ignore[method-assign]
    dialect.do_execute_no_params = guarded(dialect.do_execute_no_params, cursor_conn)  # type: ignore[method-assign]
    dialect.do_executemany = guarded(dialect.do_executemany, cursor_conn)  # type: ignore[method-assign]
    dialect.do_rollback = guarded(dialect.do_rollback, lambda conn: conn)  # type: ignore[method-assign]
    dialect.do_commit = guarded(dialect.do_commit, lambda conn: conn)  # type: ignore[method-assign]


@dataclass(eq=False)  # compared by identity: each call has its own
class _Watch:
    dbapi_conn: Any
    deadline: float
    fired: bool = False


class _Watchdog:
    """One thread per engine that shuts down a connection whose call outlives its deadline.

    A timer thread per statement would cost a thread start for each of the
    thousands of catalog queries a large schema needs; this thread sleeps
    until the nearest deadline and ends after a while with nothing to watch.
    """

    IDLE = 30.0

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: set[_Watch] = set()
        self._thread: threading.Thread | None = None

    def arm(self, dbapi_conn: Any, seconds: float) -> _Watch:
        watch = _Watch(dbapi_conn, time.monotonic() + seconds)
        with self._cond:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="drift-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()
        return watch

    def disarm(self, watch: _Watch) -> None:
        with self._cond:
            self._watches.discard(watch)

    def _loop(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self._cond:
                now = time.monotonic()
                due = [w for w in self._watches if w.deadline <= now]
                for watch in due:
                    watch.fired = True
                    self._watches.discard(watch)
                if not self._watches and not due:
                    if now - idle_since >= self.IDLE:
                        self._thread = None
                        return
                    self._cond.wait(self.IDLE)
                    continue
                idle_since = now
                if not due:
                    self._cond.wait(min(w.deadline for w in self._watches) - now)
                    continue
            for watch in due:  # outside the lock: shutting a socket down can take a moment
                _shut_down(watch.dbapi_conn)


def _shut_down(dbapi_conn: Any) -> None:
    """Shut the connection's socket down under the driver, so a call blocked on it returns."""
    try:
        fd = dbapi_conn.fileno()
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError) as exc:  # already closed: nothing is waiting on it
        log.debug("could not shut down a connection past its deadline: %s", exc)


@contextlib.contextmanager
def connect(env: Environment) -> Iterator[Connection]:
    """A read-only, time-limited connection to ``env``; driver errors become :class:`ConnectError`."""
    engine = make_engine(env)
    try:
        conn = _connect_with_retries(engine, env)
        try:
            with translate_errors(env):
                yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.close()
    finally:
        engine.dispose()


def _connect_with_retries(engine: Engine, env: Environment) -> Connection:
    """``engine.connect()``, tried again after a transient failure (``connect_retries`` times, backoff doubling).

    A nightly run should survive a server that is restarting or briefly out of
    connection slots; a wrong password or a missing database fails at once.
    """
    delay = env.retry_backoff
    for attempt in range(env.connect_retries + 1):
        try:
            return engine.connect()
        except DBAPIError as exc:
            if attempt == env.connect_retries or not is_transient(env, exc):
                raise connect_error(env, exc, "cannot connect") from None
            # INFO, not WARNING: a retry that works is no news, and one that fails ends in the one error line.
            log.info(
                "environment %r: cannot connect (%s); retrying in %g s (attempt %d of %d)",
                env.name, secrets.mask(first_line(getattr(exc, "orig", None) or exc)), delay,
                attempt + 2, env.connect_retries + 1,
            )
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # the loop returns or raises


# Server answers that no retry will change: a wrong login, a missing database, an unknown host.
_PERMANENT_MARKERS = (
    "does not exist",
    "authentication failed",
    "access denied",
    "unknown database",
    "name or service not known",
    "nodename nor servname",
    "unknown mysql server host",
    "no pg_hba.conf entry",
    "permission denied",
)
# MariaDB/MySQL codes worth another try: too many connections, shutting down, can't connect, gone away, lost.
_TRANSIENT_MYSQL_CODES = frozenset({1040, 1053, 2002, 2003, 2006, 2013})


def is_transient(env: Environment, exc: DBAPIError) -> bool:
    """Whether a failed connection attempt may succeed if tried again shortly."""
    if env.dialect == "sqlite":
        return False  # a local file: missing or unreadable stays so
    orig = getattr(exc, "orig", None) or exc
    reason = first_line(orig).lower()
    if any(marker in reason for marker in _PERMANENT_MARKERS):
        return False
    code = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
    if code is not None:
        return code in _TRANSIENT_MYSQL_CODES
    # PostgreSQL: refused, timed out, reset, starting up, too many clients -- all network or load.
    return True


@contextlib.contextmanager
def translate_errors(env: Environment, doing: str = "lost the connection while checking") -> Iterator[None]:
    """Turn driver errors raised inside the block into masked, one-line DriftErrors."""
    try:
        yield
    except DriftError:
        raise
    except DBAPIError as exc:
        raise connect_error(env, exc, doing) from None
    except NoSuchTableError as exc:
        # Another session dropped a table between listing the tables and reading its columns.
        raise ConnectError(
            f"environment {env.name!r} at {env.masked_url}: the schema changed while drift read it "
            f"(table {secrets.mask(first_line(exc))} was dropped meanwhile); run the check again",
            environment=env.name,
        ) from None
    except (sqlite3.Error, OSError, TimeoutError) as exc:
        raise ConnectError(
            f"environment {env.name!r}: {doing}: {secrets.mask(first_line(exc))}", environment=env.name
        ) from None


def database_info(conn: Connection, env: Environment) -> DatabaseInfo:
    setup = setup_for(env)
    return DatabaseInfo(
        url=env.masked_url,
        dialect=conn.dialect.name,
        driver=conn.dialect.driver,
        server_version=setup.server_version(conn),
        database=Path(env.url.database).name if env.dialect == "sqlite" and env.url.database else env.url.database,
    )


_TIMEOUT_MARKERS = (
    "statement timeout",
    "canceling statement",
    "max_statement_time",
    "maximum statement execution time",
    "lock timeout",
    "lock wait timeout",
    "timed out",
    "timeout expired",
    "interrupted",
    # Not "lost connection to mysql server during query" on its own: that is also a killed session or a
    # crashed server; PyMySQL's own read timeout adds "(timed out)", which the marker above catches.
)


def connect_error(env: Environment, exc: BaseException, doing: str) -> ConnectError:
    reason = first_line(getattr(exc, "orig", None) or exc)
    where = env.masked_url
    host = env.url.host
    if host:
        where = f"{where} (host {host}, port {env.url.port or 'default'})"
    lowered = reason.lower()
    if any(marker in lowered for marker in _TIMEOUT_MARKERS):
        return CheckTimeoutError(
            f"environment {env.name!r} at {where}: {doing}: timed out: {secrets.mask(reason)}; "
            f"connect_timeout is {env.connect_timeout:g} s and statement_timeout {env.statement_timeout:g} s "
            f"(raise them in [{env.name}] if the server is just slow)",
            environment=env.name,
        )
    return ConnectError(f"environment {env.name!r} at {where}: {doing}: {secrets.mask(reason)}", environment=env.name)
