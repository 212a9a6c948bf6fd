"""Safety, never hangs: every fault ends the check within its timeouts, clearly.

Each fault is real: a port nothing listens on, the check's own server
session ended from another session (``pg_terminate_backend`` / ``KILL``) at
its n-th statement, a loopback proxy that accepts and then forwards nothing
(a black hole: the server is silent but no connection closes), a table
another session holds an exclusive lock on, a table dropped or created by
another session while the check reflects. Timeouts are small in these
configs (1 s), and every run is timed against a bound.

The outcome is always one of: exit 0/1 with a whole report, or exit 2 with
exactly one line on stderr, ``drift: error: environment 't' …``, and no
traceback. Never a hang, never a traceback.

Already proven elsewhere (docs/safety.md lists them): the server's statement
timeout (tests/test_check_dialects.py::test_statement_timeout_stops_a_slow_query),
a locked table inside the risk assessment
(tests/test_risk.py::test_a_locked_table_times_out_and_the_rest_is_still_measured),
the time budget of the risk queries (tests/test_risk.py::test_the_time_budget_caps_the_whole_assessment),
retries of a server that comes up late
(tests/test_run.py::test_a_server_that_comes_up_late_is_reached_by_retrying), and
``--time-limit`` (tests/test_run.py::test_time_limit_through_the_cli).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL

import dbs
import faults
from faults import restore_logging_and_imports  # noqa: F401  (autouse)
from drift.cli import cli
from fleet import closed_port
from scenarios import Project, build, make_project
from test_risk import locked

SERVERS = [
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]
PORTS = {"postgresql": 5432, "mysql": 3306}

# The database: three tables, one NULL where the models want NOT NULL (so risk queries run).
DATABASE = """\
metadata = MetaData()
Table("accounts", metadata, Column("id", Integer, primary_key=True), Column("email", String(50)))
Table("orders", metadata, Column("id", Integer, primary_key=True), Column("total", Integer))
Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", Text))
"""
MODELS = """\
metadata = MetaData()
Table("accounts", metadata, Column("id", Integer, primary_key=True), Column("email", String(50), nullable=False))
Table("orders", metadata, Column("id", Integer, primary_key=True), Column("total", Integer))
Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", Text))
"""
SMALL_TIMEOUTS = "connect_timeout = 1\nstatement_timeout = 1\nconnect_retries = 0\n"

#: Faults survived, for docs/safety.md: name -> outcome.
SURVIVED: dict[str, str] = {}


@dataclass
class Outcome:
    result: Result
    seconds: float

    @property
    def status(self) -> int:
        return self.result.exit_code

    def error_line(self) -> str:
        lines = self.result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("drift: error: "), self.result.stderr
        return lines[0]


def check(project: Project, *options: str) -> Outcome:
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["check", "--env", project.env, "--config", str(project.config_path), *options])
    return Outcome(result, time.monotonic() - started)


def assert_clean_outcome(name: str, outcome: Outcome, bound: float) -> str:
    """Exit 0/1 with a whole JSON report, or 2 with one line naming the environment; within ``bound`` s."""
    result = outcome.result
    assert "Traceback" not in result.output
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.exc_info
    assert outcome.seconds < bound, (outcome.seconds, result.output)
    if outcome.status == 2:
        line = outcome.error_line()
        assert line.startswith("drift: error: environment 't'"), line
        assert result.stdout == ""
        summary = f"exit 2: {line}"
    else:
        assert outcome.status in (0, 1), result.output
        document = json.loads(result.stdout)
        assert document["environment"] == "t"
        summary = f"exit {outcome.status}: {document['verdict']}"
    SURVIVED[name] = f"{summary} ({outcome.seconds:.1f} s)"
    faults.figure("faults", {"survived": len(SURVIVED), "cases": dict(sorted(SURVIVED.items()))})
    return summary


def project_on(dialect: str, url: URL, root: Path, env_lines: str = SMALL_TIMEOUTS) -> Project:
    return make_project(root, url, MODELS, env_lines=env_lines)


@pytest.fixture
def planted(request: pytest.FixtureRequest, make_db: Callable[[str], URL]) -> Callable[[str], URL]:
    def make(dialect: str) -> URL:
        url = make_db(dialect)
        build(url, DATABASE, "INSERT INTO accounts (id, email) VALUES (1, NULL)")
        return url

    return make


def is_session_of(url: URL) -> Callable[[sa.Connection], bool]:
    return lambda conn: conn.engine.url.port == url.port and conn.engine.url.database == url.database


# --------------------------------------------------------------------------- server down


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_server_down_at_start(dialect: str, tmp_path: Path) -> None:
    url = dbs.server_url(dialect).set(port=closed_port(), database="app")
    project = project_on(dialect, url, tmp_path / "p", SMALL_TIMEOUTS.replace("= 0", "= 1") + "retry_backoff = 0.2\n")
    outcome = check(project, "--format", "json")
    assert_clean_outcome(f"server down at start ({dialect})", outcome, bound=5)
    assert outcome.status == 2 and "cannot connect" in outcome.error_line()


# --------------------------------------------------------------------------- the session killed mid-check


@pytest.mark.parametrize("nth", [1, 4, -1], ids=["first", "reflecting", "last"])
@pytest.mark.parametrize("dialect", SERVERS)
def test_session_killed_mid_check(dialect: str, nth: int, planted: Callable[[str], URL], tmp_path: Path) -> None:
    url = planted(dialect)
    project = project_on(dialect, url, tmp_path / "p", "connect_timeout = 2\nstatement_timeout = 5\nconnect_retries = 0\n")
    if nth == -1:  # the last statement the check sends: count them on an undisturbed run
        with faults.recording(is_session_of(url)) as seen:
            assert check(project, "--format", "json").status == 1
        nth = len(seen.statements)
    killed: list[int] = []

    def kill(n: int, statement: str) -> None:
        if n == nth and not killed:
            killed.append(n)
            conn = sa_connection_of_current()
            faults.kill_session(dialect, faults.session_id(dialect, conn))

    with _current_connection(url), faults.on_statement(is_session_of(url), kill):
        outcome = check(project, "--format", "json")
    assert killed == [nth]
    summary = assert_clean_outcome(f"session killed at statement {nth} ({dialect})", outcome, bound=15)
    if outcome.status == 2:
        assert "lost the connection" in summary or "cannot connect" in summary, summary
        # A killed session is not a timeout: the line must not send the operator to raise the timeouts.
        assert "timed out" not in summary, summary
    # Exit 1: killed during the risk queries, which say what they could not measure; the findings stand.


# The DBAPI connection of the statement about to run, for the hook above (which is given only the statement).
_current: list[object] = []


class _current_connection:
    """While active, remembers the DBAPI connection of each statement sent to ``url``'s database."""

    def __init__(self, url: URL) -> None:
        self.is_target = is_session_of(url)

    def _before(self, conn: sa.Connection, *args: object) -> None:
        if self.is_target(conn):
            _current[:] = [conn.connection.dbapi_connection]

    def __enter__(self) -> None:
        # Registered first, so it runs before faults.on_statement's hook.
        sa.event.listen(sa.Engine, "before_cursor_execute", self._before, insert=True)

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(sa.Engine, "before_cursor_execute", self._before)
        _current.clear()


def sa_connection_of_current() -> object:
    assert _current, "no statement is running"
    return _current[0]


# --------------------------------------------------------------------------- a network black hole


@pytest.mark.parametrize("dialect", SERVERS)
def test_black_hole_at_connect(dialect: str, planted: Callable[[str], URL], tmp_path: Path) -> None:
    url = planted(dialect)
    with faults.proxy(PORTS[dialect], stalled=True, lifetime=30) as silent:
        project = project_on(dialect, url.set(port=silent.port), tmp_path / "p")
        outcome = check(project, "--format", "json")
    assert_clean_outcome(f"black hole at connect ({dialect})", outcome, bound=8)
    line = outcome.error_line()
    assert outcome.status == 2 and "timed out" in line and "connect_timeout is 1 s" in line, line


@pytest.mark.parametrize("nth", [5], ids=["reflecting"])
@pytest.mark.parametrize("dialect", SERVERS)
def test_black_hole_mid_check(dialect: str, nth: int, planted: Callable[[str], URL], tmp_path: Path) -> None:
    url = planted(dialect)
    with faults.proxy(PORTS[dialect], lifetime=30) as hole:
        through = url.set(port=hole.port)
        project = project_on(dialect, through, tmp_path / "p")

        def stall(n: int, statement: str) -> None:
            if n == nth:
                hole.stall()

        with faults.on_statement(is_session_of(through), stall):
            outcome = check(project, "--format", "json")
    assert hole.stalled
    # statement_timeout + connect_timeout + 1 s: the client-side limit on both dialects, plus start-up.
    assert_clean_outcome(f"black hole at statement {nth} ({dialect})", outcome, bound=8)
    line = outcome.error_line()
    assert outcome.status == 2 and "timed out" in line, line


# --------------------------------------------------------------------------- another session's lock


@pytest.mark.parametrize("dialect", SERVERS)
def test_a_table_locked_by_another_session(dialect: str, planted: Callable[[str], URL], tmp_path: Path) -> None:
    url = planted(dialect)
    project = project_on(
        dialect, url, tmp_path / "p", "connect_timeout = 2\nstatement_timeout = 2\nconnect_retries = 0\n"
    )
    (project.root / "config.ini").write_text(
        project.config_path.read_text(encoding="utf-8").replace("[drift]\n", "[drift]\nrisk_query_timeout = 1\n"),
        encoding="utf-8",
    )
    with locked(dialect, url, "accounts"):
        outcome = check(project, "--format", "json")
    summary = assert_clean_outcome(f"table locked by another session ({dialect})", outcome, bound=10)
    if dialect == "postgresql":
        # ACCESS EXCLUSIVE also blocks reflection there (pg_get_expr opens the table to name its columns):
        # the check gives up when statement_timeout (2 s) fires, and says so.
        assert outcome.status == 2 and "timed out" in summary and "statement_timeout 2 s" in summary, summary
        return
    # MariaDB's LOCK TABLES … WRITE leaves the catalog readable: only the risk query waits, and gives up.
    assert outcome.status == 1
    document = json.loads(outcome.result.stdout)
    [nullable] = [f for f in document["findings"] if f["kind"] == "modify_nullable"]
    assert [r["summary"].split(": not measured: ")[-1] for r in nullable["risks"] if not r["measured"]] == [
        "timed out after 1 s"
    ], nullable["risks"]


# --------------------------------------------------------------------------- the schema changing underfoot


DDL = {
    "drop": "DROP TABLE notes",
    "create": "CREATE TABLE intruder (id INTEGER PRIMARY KEY)",
}


@pytest.mark.parametrize("nth", [2, 4])  # after the tables are listed; before their columns are read
@pytest.mark.parametrize("change", sorted(DDL))
@pytest.mark.parametrize("dialect", SERVERS)
def test_a_table_dropped_or_created_while_reflecting(
    dialect: str, change: str, nth: int, planted: Callable[[str], URL], tmp_path: Path
) -> None:
    url = planted(dialect)
    project = project_on(dialect, url, tmp_path / "p", "connect_timeout = 2\nstatement_timeout = 5\nconnect_retries = 0\n")
    done: list[str] = []

    def alter(n: int, statement: str) -> None:
        if n == nth and not done:
            with faults.admin(dialect, url.database) as other:
                if dialect == "mysql":  # never wait long on the check's own metadata locks
                    other.exec_driver_sql("SET SESSION lock_wait_timeout = 2")
                else:
                    other.exec_driver_sql("SET lock_timeout = '2s'")
                try:
                    other.exec_driver_sql(DDL[change])
                    done.append("changed")
                except sa.exc.DBAPIError as exc:
                    done.append(f"blocked: {type(exc.orig).__name__}")

    with faults.on_statement(is_session_of(url), alter):
        outcome = check(project, "--format", "json")
    assert done, "the check sent fewer statements than expected"
    summary = assert_clean_outcome(f"{change} a table at statement {nth} ({dialect}, {done[0]})", outcome, bound=15)
    if outcome.status == 2:  # the dropped table was listed, then gone when its columns were read
        assert "the schema changed while drift read it" in summary and "run the check again" in summary, summary


def test_survived_every_fault() -> None:
    # Runs last in this module (pytest keeps file order): the figure for docs/safety.md.
    assert SURVIVED, "run the whole module"
    for name, outcome in sorted(SURVIVED.items()):
        print(f"{name}: {outcome}")
