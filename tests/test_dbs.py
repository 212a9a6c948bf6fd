"""Tests of the throwaway-database helpers in ``dbs.py`` and the fixtures built on them."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

import dbs
from dbs import temp_database

TESTS_DIR = Path(__file__).resolve().parent
NAME_RE = re.compile(rf"^drift_t_{os.getpid()}_[0-9a-f]{{8}}$")

# Nothing listens on port 1 of the loopback address: connecting is refused at once.
DEAD_URLS = {
    "postgresql": "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/postgres",
    "mysql": "mysql+pymysql://root:s3cret-pw@127.0.0.1:1/test",
}

server_dialects = pytest.mark.parametrize("server", list(dbs.SERVER_DIALECTS))


def _roundtrip(url: URL) -> None:
    """Create a table, write and read a row: the database is real and usable."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20))"))
            conn.execute(sa.text("INSERT INTO t (id, name) VALUES (1, 'ä')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM t")).scalar_one() == "ä"
    finally:
        engine.dispose()


def test_database_exists_inside_and_is_gone_after(dialect: str, tmp_path: Path) -> None:
    with temp_database(dialect, tmp_path) as url:
        assert dbs.database_exists(dialect, url)
        if dialect == "sqlite":
            assert url.drivername == "sqlite+pysqlite"
            assert Path(url.database) == tmp_path / "x.db"
        else:
            assert NAME_RE.match(url.database), url.database
            server = dbs.server_url(dialect)
            assert url.set(database=server.database) == server  # only the database differs
        _roundtrip(url)
    assert not dbs.database_exists(dialect, url)


def test_database_is_dropped_after_an_exception(dialect: str, tmp_path: Path) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with temp_database(dialect, tmp_path) as url:
            _roundtrip(url)
            raise Boom
    assert not dbs.database_exists(dialect, url)


def test_database_is_dropped_despite_open_connections(dialect: str, tmp_path: Path) -> None:
    # A test that leaks a connection, mid-transaction on a table, must not
    # block or break the drop (PostgreSQL: FORCE; MariaDB: the sessions are killed).
    with temp_database(dialect, tmp_path) as url:
        _roundtrip(url)
        engine = sa.create_engine(url)
        leaked = engine.connect()
        leaked.begin()
        leaked.execute(sa.text("SELECT * FROM t")).all()
    try:
        assert not dbs.database_exists(dialect, url)
    finally:
        with contextlib.suppress(sa.exc.DBAPIError):  # its server session is gone
            leaked.close()
        engine.dispose()


def test_names_are_unique(dialect: str, tmp_path: Path) -> None:
    with temp_database(dialect, tmp_path) as first, temp_database(dialect, tmp_path) as second:
        assert first != second
        assert dbs.database_exists(dialect, first)
        assert dbs.database_exists(dialect, second)
    assert not dbs.database_exists(dialect, first)
    assert not dbs.database_exists(dialect, second)
    names = {dbs.new_database_name() for _ in range(1000)}
    assert len(names) == 1000
    assert all(NAME_RE.match(name) for name in names)


@pytest.mark.parametrize(
    "server",
    [pytest.param("postgresql", marks=pytest.mark.postgresql), pytest.param("mysql", marks=pytest.mark.mysql)],
)
def test_sweep_drops_leftovers_of_the_given_process_only(server: str, tmp_path: Path) -> None:
    # Pids above Linux's pid_max, so no database of a live run is touched.
    mine, other = 999_999_998, 999_999_999
    leftover, foreign = f"drift_t_{mine}_0123abcd", f"drift_t_{other}_0123abcd"
    with temp_database(server, tmp_path):  # skips when the server is down
        dbs._create(server, leftover)
        dbs._create(server, foreign)
    try:
        assert dbs.sweep_leftovers(pid=mine) == [f"{server}:{leftover}"]
        names = dbs.list_databases(server)
        assert leftover not in names
        assert foreign in names
    finally:
        dbs._drop(server, leftover)
        dbs._drop(server, foreign)


def test_db_url_fixture_gives_an_empty_database(dialect: str, db_url: URL) -> None:
    assert db_url.get_backend_name() == dialect
    engine = sa.create_engine(db_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
    _roundtrip(db_url)


def test_make_db_gives_separate_databases(dialect: str, make_db: Callable[[str], URL]) -> None:
    first, second = make_db(dialect), make_db(dialect)
    assert first != second
    _roundtrip(first)
    _roundtrip(second)  # same table name: would fail if the databases were shared


def test_server_markers_are_applied(request: pytest.FixtureRequest, dialect: str) -> None:
    marks = {mark.name for mark in request.node.iter_markers()}
    assert ("postgresql" in marks) == (dialect == "postgresql")
    assert ("mysql" in marks) == (dialect == "mysql")


def test_sqlite_is_always_available() -> None:
    assert dbs.server_available("sqlite") is None


def test_unknown_dialect_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="oracle"):
        dbs.server_available("oracle")
    with pytest.raises(ValueError, match="oracle"):
        with temp_database("oracle", tmp_path):
            pass


@server_dialects
def test_url_comes_from_the_environment(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dbs.URL_ENV_VARS[server], raising=False)
    assert dbs.server_url(server) == sa.make_url(dbs.DEFAULT_URLS[server])
    monkeypatch.setenv(dbs.URL_ENV_VARS[server], DEAD_URLS[server])
    assert dbs.server_url(server) == sa.make_url(DEAD_URLS[server])


@server_dialects
def test_unavailable_server_reason_names_url_without_password(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dbs.URL_ENV_VARS[server], DEAD_URLS[server])
    reason = dbs.server_available(server)
    assert reason is not None
    assert "127.0.0.1:1" in reason
    assert "***" in reason
    assert "s3cret-pw" not in reason
    assert dbs.server_available(server) is reason  # cached: no second connect attempt


@server_dialects
def test_silent_server_counts_as_unavailable_quickly(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A port that accepts connections but never speaks (a wedged server) must
    # give up after the connect timeout instead of hanging the session.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes the handshake; nobody answers
        port = listener.getsockname()[1]
        url = sa.make_url(DEAD_URLS[server]).set(port=port)
        monkeypatch.setenv(dbs.URL_ENV_VARS[server], url.render_as_string(hide_password=False))
        started = time.monotonic()
        reason = dbs.server_available(server)
        elapsed = time.monotonic() - started
    assert reason is not None and f"127.0.0.1:{port}" in reason
    assert elapsed < dbs.CONNECT_TIMEOUT + 5, reason


@server_dialects
def test_unavailable_server_skips(
    server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(dbs.URL_ENV_VARS[server], DEAD_URLS[server])
    monkeypatch.delenv(dbs.REQUIRE_ENV_VAR, raising=False)
    with pytest.raises(pytest.skip.Exception, match="127.0.0.1:1"):
        with temp_database(server, tmp_path):
            pytest.fail("the block must not run without a server")


@server_dialects
def test_unavailable_server_fails_when_servers_are_required(
    server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(dbs.URL_ENV_VARS[server], DEAD_URLS[server])
    monkeypatch.setenv(dbs.REQUIRE_ENV_VAR, "1")
    with pytest.raises(pytest.fail.Exception, match="127.0.0.1:1.*DRIFT_REQUIRE_SERVERS=1"):
        with temp_database(server, tmp_path):
            pytest.fail("the block must not run without a server")


def _run_pytest_on_dead_servers(tmp_path: Path, require: bool) -> subprocess.CompletedProcess[str]:
    """Run a one-test suite using ``db_url`` in a child pytest, both servers pointing nowhere."""
    for name in ("conftest.py", "dbs.py"):
        shutil.copy(TESTS_DIR / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = --strict-markers -p no:cacheprovider\n"
        "markers =\n    postgresql: server\n    mysql: server\n"
    )
    (tmp_path / "test_child.py").write_text(
        "def test_uses_a_database(db_url):\n    assert db_url is not None\n"
    )
    env = {
        **os.environ,
        "DRIFT_TEST_PG_URL": DEAD_URLS["postgresql"],
        "DRIFT_TEST_MYSQL_URL": DEAD_URLS["mysql"],
    }
    env.pop(dbs.REQUIRE_ENV_VAR, None)
    if require:
        env[dbs.REQUIRE_ENV_VAR] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rsf", "-q", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_dead_servers_skip_in_a_real_run(tmp_path: Path) -> None:
    result = _run_pytest_on_dead_servers(tmp_path, require=False)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "1 passed, 2 skipped" in out, out
    assert "postgresql server not available at postgresql+psycopg://postgres:***@127.0.0.1:1" in out
    assert "mysql server not available at mysql+pymysql://root:***@127.0.0.1:1" in out
    assert "s3cret-pw" not in out


def test_dead_servers_fail_in_a_real_run_when_required(tmp_path: Path) -> None:
    result = _run_pytest_on_dead_servers(tmp_path, require=True)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "2 errors" in out or "2 failed" in out, out
    assert "1 passed" in out, out
    assert "DRIFT_REQUIRE_SERVERS=1" in out, out
    assert "s3cret-pw" not in out
