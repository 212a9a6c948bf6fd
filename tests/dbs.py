"""Throwaway databases for tests, on SQLite and on the PostgreSQL and MariaDB servers.

Every test that touches a server gets a database of its own, named
``drift_t_<pid>_<8 hex>``, created on entry and dropped on exit (also when the
test fails), so tests never see each other's tables and parallel runs never
collide.

Server URLs come from ``DRIFT_TEST_PG_URL`` and ``DRIFT_TEST_MYSQL_URL``. A
server that cannot be reached skips its tests, with the reason, unless
``DRIFT_REQUIRE_SERVERS=1`` is set (as in CI): then those tests fail, so a
broken service cannot pass as a green run that tested nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

DIALECTS = ("sqlite", "postgresql", "mysql")
SERVER_DIALECTS = ("postgresql", "mysql")

URL_ENV_VARS = {"postgresql": "DRIFT_TEST_PG_URL", "mysql": "DRIFT_TEST_MYSQL_URL"}
DEFAULT_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
}
REQUIRE_ENV_VAR = "DRIFT_REQUIRE_SERVERS"

NAME_PREFIX = "drift_t_"
# Seconds to wait for a server before calling it unavailable: a dead server
# should cost a test session a few seconds, not a hang.
CONNECT_TIMEOUT = 3
# Seconds MariaDB may wait for a metadata lock on DROP DATABASE (its default
# is a year, so one leaked transaction would hang the whole run).
MYSQL_LOCK_WAIT_TIMEOUT = 30
# Seconds a MariaDB admin statement (CREATE/DROP DATABASE) may take to answer.
ADMIN_IO_TIMEOUT = MYSQL_LOCK_WAIT_TIMEOUT + 30

# Server dialects on which this process created a database, for the sweep.
_used: set[str] = set()


def _check_dialect(dialect: str, allowed: tuple[str, ...] = DIALECTS) -> None:
    if dialect not in allowed:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {', '.join(allowed)}")


def server_url(dialect: str) -> URL:
    """The admin URL of the server for ``dialect`` (read from the environment each time)."""
    _check_dialect(dialect, SERVER_DIALECTS)
    return make_url(os.environ.get(URL_ENV_VARS[dialect]) or DEFAULT_URLS[dialect])


def masked(url: URL) -> str:
    """``url`` as text with its password hidden."""
    return url.render_as_string(hide_password=True)


def servers_required() -> bool:
    """True when an unreachable server must fail tests instead of skipping them."""
    return os.environ.get(REQUIRE_ENV_VAR, "").strip() == "1"


def new_database_name() -> str:
    """A database name unique to this process and call: ``drift_t_<pid>_<8 hex>``."""
    return f"{NAME_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"


def _admin_engine(url: URL, io_timeout: int = ADMIN_IO_TIMEOUT) -> Engine:
    # AUTOCOMMIT: CREATE/DROP DATABASE cannot run inside a transaction on
    # PostgreSQL. NullPool: no connection outlives its block, so nothing is
    # left holding a server connection after the test.
    connect_args: dict[str, int] = {"connect_timeout": CONNECT_TIMEOUT}
    if url.get_backend_name() == "mysql":
        # PyMySQL's connect_timeout covers only the TCP connect; a server that
        # accepts but never answers would hang the handshake without these.
        connect_args.update(read_timeout=io_timeout, write_timeout=io_timeout)
    return sa.create_engine(
        url, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args=connect_args
    )


@contextlib.contextmanager
def _admin_connection(dialect: str) -> Iterator[sa.Connection]:
    engine = _admin_engine(server_url(dialect))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@functools.lru_cache(maxsize=None)
def _probe(rendered_url: str) -> str | None:
    url = make_url(rendered_url)
    engine = _admin_engine(url, io_timeout=CONNECT_TIMEOUT)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to reach the server means "unavailable"
        # SQLAlchemy wraps driver errors; report the driver's own error.
        orig = getattr(exc, "orig", None) or exc
        lines = str(orig).strip().splitlines()
        if url.password:  # drivers don't echo it, but never risk printing it
            lines = [line.replace(str(url.password), "***") for line in lines]
        return (
            f"{url.get_backend_name()} server not available at {masked(url)}: "
            f"{type(orig).__name__}: {lines[0] if lines else '(no message)'}"
        )
    finally:
        engine.dispose()
    return None


def server_available(dialect: str) -> str | None:
    """None when the server for ``dialect`` answers, else why it does not.

    SQLite always answers. The result is cached per URL for the whole session,
    so a dead server costs one connect timeout, not one per test.
    """
    _check_dialect(dialect)
    if dialect == "sqlite":
        return None
    return _probe(server_url(dialect).render_as_string(hide_password=False))


def require_server(dialect: str) -> None:
    """Skip the running test when the server is unavailable; fail it instead under CI."""
    reason = server_available(dialect)
    if reason is None:
        return
    if servers_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV_VAR}=1, so this is a failure)", pytrace=False)
    pytest.skip(f"{reason} (set {URL_ENV_VARS[dialect]} to use another server)")


def _quote(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _create(dialect: str, name: str) -> None:
    with _admin_connection(dialect) as conn:
        if dialect == "postgresql":
            conn.execute(sa.text(f"CREATE DATABASE {_quote(conn, name)}"))
        else:
            conn.execute(sa.text(f"CREATE DATABASE {_quote(conn, name)} CHARACTER SET utf8mb4"))


def _drop(dialect: str, name: str) -> None:
    with _admin_connection(dialect) as conn:
        if dialect == "postgresql":
            # FORCE ends sessions still connected to it (a test that leaked
            # a connection must not make the drop fail).
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quote(conn, name)} WITH (FORCE)"))
            return
        # MariaDB has no FORCE: end the sessions using the database ourselves,
        # so an open transaction's metadata lock cannot block the drop.
        conn.execute(sa.text(f"SET SESSION lock_wait_timeout = {MYSQL_LOCK_WAIT_TIMEOUT}"))
        ids = conn.execute(
            sa.text(
                "SELECT ID FROM information_schema.PROCESSLIST "
                "WHERE DB = :name AND ID <> CONNECTION_ID()"
            ),
            {"name": name},
        ).scalars()
        for session_id in list(ids):
            with contextlib.suppress(sa.exc.DBAPIError):  # it may have just ended
                conn.execute(sa.text(f"KILL CONNECTION {int(session_id)}"))
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quote(conn, name)}"))


def list_databases(dialect: str) -> list[str]:
    """Names of all databases on the server for ``dialect``."""
    _check_dialect(dialect, SERVER_DIALECTS)
    with _admin_connection(dialect) as conn:
        if dialect == "postgresql":
            query = "SELECT datname FROM pg_database"
        else:
            query = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA"
        return sorted(conn.execute(sa.text(query)).scalars())


def database_exists(dialect: str, url: URL) -> bool:
    """Whether the database that ``url`` (made by :func:`temp_database`) names exists."""
    _check_dialect(dialect)
    if dialect == "sqlite":
        return url.database is not None and Path(url.database).exists()
    return url.database in list_databases(dialect)


def _new_sqlite_file(tmp_path: Path) -> Path:
    # Create the file now (an empty file is an empty SQLite database) so that
    # it exists for the whole block and a second call picks another name.
    path = tmp_path / "x.db"
    while True:
        try:
            path.touch(exist_ok=False)
            return path
        except FileExistsError:
            path = tmp_path / f"x_{secrets.token_hex(4)}.db"


@contextlib.contextmanager
def temp_database(dialect: str, tmp_path: Path) -> Iterator[URL]:
    """A new, empty database for ``dialect``; yields its URL and drops it afterwards.

    SQLite: a new file under ``tmp_path`` (``x.db``, then ``x_<hex>.db``), removed
    on exit. PostgreSQL and MariaDB:
    ``CREATE DATABASE drift_t_<pid>_<hex>`` on the configured server, yielding
    the server URL with the database swapped, and always dropped on exit, even
    when the block raises or left connections open. Skips (or fails, under
    ``DRIFT_REQUIRE_SERVERS=1``) when the server is unavailable.
    """
    _check_dialect(dialect)
    if dialect == "sqlite":
        path = _new_sqlite_file(Path(tmp_path))
        try:
            yield URL.create("sqlite+pysqlite", database=str(path))
        finally:
            for leftover in (path, *(path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
        return

    require_server(dialect)
    name = new_database_name()
    _used.add(dialect)
    try:
        _create(dialect, name)
        yield server_url(dialect).set(database=name)
    finally:
        _drop(dialect, name)


def sweep_leftovers(pid: int | None = None) -> list[str]:
    """Drop every ``drift_t_<pid>_*`` database this process made that is still there.

    A safety net behind :func:`temp_database`'s own drop; only servers this
    process created databases on are visited. Returns the names dropped.
    """
    prefix = f"{NAME_PREFIX}{os.getpid() if pid is None else pid}_"
    dropped: list[str] = []
    for dialect in sorted(_used):
        if server_available(dialect) is not None:
            continue
        for name in list_databases(dialect):
            if name.startswith(prefix):
                _drop(dialect, name)
                dropped.append(f"{dialect}:{name}")
    return dropped


def record_scratch_names(monkeypatch: pytest.MonkeyPatch, made: list[str]) -> None:
    """Append the name of every scratch database drift makes to ``made``, so a test can check it is gone."""
    from drift import scratch

    original = scratch.new_scratch_name

    def recorded() -> str:
        name = original()
        made.append(name)
        return name

    monkeypatch.setattr(scratch, "new_scratch_name", recorded)


@contextlib.contextmanager
def recording(conn: sa.Connection) -> Iterator[list[str]]:
    """Every statement ``conn`` sends meanwhile, in order."""
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(conn, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(conn, "before_cursor_execute", record)
