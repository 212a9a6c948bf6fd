"""Safety, never writes: the whole check runs as a login that can only read, and sends no DDL or DML.

On PostgreSQL the login is a role with CONNECT on the database, USAGE on
``public`` and SELECT on its tables, nothing else; on MariaDB a user with
SELECT on the one database. Both are made for the test (``drift_ro_<hex>``,
with a password that needs URL-encoding) and dropped after it. The check is
the whole nightly one through the CLI: reflection, the recorded revision,
the risk queries (a dropped column's rows are counted) and attribution (on
the scratch server, with its own login). Every statement sent to the checked
database is recorded with a SQLAlchemy event on the Engine class, filtered to
the read-only login, and none may be DDL or DML. (The session setup that
drift.connect sends on the raw DBAPI cursor, before SQLAlchemy sees the
connection, is only ``SET SESSION …`` and ``SELECT VERSION()``; the login
could not write anyway.)

Already proven elsewhere, and listed in docs/safety.md: read-only sessions
refuse writes (tests/test_check_dialects.py::test_session_refuses_to_write),
the live database is unchanged and its sessions read-only during attribution
(tests/test_causes.py::test_all_three_causes_at_once_without_writing_to_the_live_database),
and a scratch_url naming the checked database is refused before anything
connects (tests/test_causes.py::test_a_scratch_url_naming_the_checked_database_is_refused_before_connecting,
tests/test_scratch.py::test_a_scratch_url_naming_the_checked_database_is_refused).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import URL

import faults
from faults import restore_logging_and_imports  # noqa: F401  (autouse)
from drift.cli import cli
from scenarios import execute, render_url
from test_causes import NICKNAME, Example, make_example, snapshot

SERVERS = [
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]
CAUSES = {"tasks.due_date": "pending_migration", "users.email": "missing_migration", "users.nickname": "out_of_band"}


def example_behind(dialect: str, live: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Example:
    """The example app at 0001_initial with a hand-made users.nickname holding a value."""
    example = make_example(dialect, live, tmp_path, monkeypatch)
    example.migrate("0001_initial")
    example.execute(
        NICKNAME,
        "INSERT INTO users (id, username, password, full_name, nickname) VALUES ('u1', 'ann', 'x', 'Ann', 'annie')",
    )
    return example


def write_config(example: Example, reader: URL) -> None:
    """[prod] reads as ``reader``; causes are built on the scratch server, with its own login."""
    assert example.server is not None
    text = (
        "[drift]\nmodels = models.base:Base\nmodel_modules = models\n\n"
        f"[prod]\nurl = {render_url(reader)}\nscratch_url = {render_url(example.server)}\n"
        "statement_timeout = 20\n"
    )
    example.config_path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("dialect", SERVERS)
def test_the_whole_check_runs_as_a_read_only_login_and_sends_no_write(
    dialect: str, make_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = make_db(dialect)
    example = example_behind(dialect, live, tmp_path, monkeypatch)
    before = snapshot(live)
    scratch_before = faults.scratch_databases(dialect)
    login = faults.pg_read_only_role if dialect == "postgresql" else faults.mariadb_select_only_user
    with login(live) as reader:
        write_config(example, reader)
        as_reader = faults.targets(reader)
        with faults.recording(as_reader) as recorded:
            result = CliRunner().invoke(
                cli, ["check", "--env", "prod", "--config", str(example.config_path), "--format", "json"]
            )
    role = reader.username
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    findings = {f"{f['table']}.{f['name']}": f for f in document["findings"] if not f["kind"].endswith("_candidate")}
    assert {label: f["cause"] for label, f in findings.items()} == CAUSES
    # The risk queries ran, as the reader: the hand-made column's one value is what a drop would lose.
    [loss] = [r for r in findings["users.nickname"]["risks"] if r["rule"] == "data_loss"]
    assert loss["measured"] and loss["evidence"]["non_null_values"] == 1, loss

    # Writes to the target: none. Reads: the revision, reflection, and the risk query that counted the value.
    assert any("alembic_version" in s for s in recorded.statements)
    assert any("nickname" in s and "count(" in s.lower() for s in recorded.statements), recorded.statements
    assert len(recorded.statements) >= 5
    assert recorded.writes() == []
    faults.figure(f"writes.{dialect}", {"statements": len(recorded.statements), "writes": len(recorded.writes())})
    assert snapshot(live) == before
    assert faults.scratch_databases(dialect) == scratch_before
    assert faults.leaks(result.stdout + result.stderr, faults.HOSTILE_PASSWORD) == []
    # The login is gone again.
    exists = faults.pg_role_exists if dialect == "postgresql" else faults.mariadb_user_exists
    assert role and not exists(role)


@pytest.mark.parametrize("dialect", SERVERS)
def test_the_read_only_login_really_cannot_write(dialect: str, make_db) -> None:
    # The proof above means something only if the login itself has no way to write.
    live = make_db(dialect)
    execute(live, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
    login = faults.pg_read_only_role if dialect == "postgresql" else faults.mariadb_select_only_user
    with login(live) as reader:
        engine = sa.create_engine(reader, poolclass=sa.pool.NullPool)
        try:
            for statement in ("INSERT INTO t (id) VALUES (1)", "CREATE TABLE intruder (id INTEGER)", "DROP TABLE t"):
                with pytest.raises(sa.exc.DBAPIError, match=r"(?i)denied|must be owner"):
                    with engine.begin() as conn:
                        conn.exec_driver_sql(statement)
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    "statement, write",
    [
        ("SELECT 1", False),
        ("  select * from t for update", True),
        ("SHOW server_version", False),
        ("SET SESSION TRANSACTION READ ONLY", False),
        ("SET LOCAL statement_timeout = 100", False),
        ("SET STATEMENT max_statement_time=1 FOR SELECT count(*) FROM t", False),
        ("SET GLOBAL max_connections = 1", True),
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", True),
        ("INSERT INTO t VALUES (1)", True),
        ("ALTER TABLE t ADD COLUMN c INT", True),
        ("CREATE DATABASE d", True),
        ("ROLLBACK", False),
        ("SHOW CREATE TABLE `a`;\nSHOW CREATE TABLE `semi;colon`", False),
        ("SHOW CREATE TABLE `a`;\nDROP TABLE `b`", True),
    ],
)
def test_the_write_detector_itself(statement: str, write: bool) -> None:
    assert faults.is_write(statement) is write

