"""drift.scratch: scratch databases are made fresh, migrated, and always removed; unsafe URLs are refused."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

import dbs
from drift import scratch
from drift.config import Environment
from drift.history import read_current
from drift.loading import AlembicProject
from drift.scratch import (
    NAME_PREFIX,
    MigrationFailedError,
    ScratchRefusedError,
    ScratchTarget,
    ScratchUnavailableError,
    same_database,
    scratch_database,
    scratch_target,
    upgrade,
)

REPO = Path(__file__).resolve().parent.parent

BROKEN_REVISION = '''"""A migration that fails.

Revision ID: 0003_broken
Revises: 0002_task_due_date
Create Date: 2025-02-01 00:00:00.000000

"""
from alembic import op

revision = "0003_broken"
down_revision = "0002_task_due_date"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("SELECT no_such_column FROM no_such_table")


def downgrade():
    pass
'''


# --------------------------------------------------------------------------- helpers


class Made:
    """The scratch databases a test made, by name, so it can check each one is gone."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def gone(self, family: str) -> bool:
        if family == "sqlite":
            root = Path(tempfile.gettempdir())
            return not any(any(root.glob(f"{name}_*")) for name in self.names)
        present = set(dbs.list_databases(family))
        return not present & set(self.names)


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Made:
    record = Made()
    original = scratch.new_scratch_name

    def named() -> str:
        name = original()
        record.names.append(name)
        return name

    monkeypatch.setattr(scratch, "new_scratch_name", named)
    return record


def target_for(dialect: str) -> ScratchTarget:
    if dialect == "sqlite":
        return ScratchTarget("sqlite")
    dbs.require_server(dialect)
    return ScratchTarget(dialect, dbs.server_url(dialect), connect_timeout=3)


def env(url: str | URL, scratch_url: str | URL | None = None, name: str = "prod") -> Environment:
    to_url = lambda u: make_url(u) if isinstance(u, str) else u  # noqa: E731
    return Environment(name=name, url=to_url(url), scratch_url=to_url(scratch_url) if scratch_url else None)


def example_project(root: Path | None = None) -> AlembicProject:
    """The example application's migrations (read from a copy when ``root`` is given)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    ini = (root or REPO) / "alembic.ini"
    return AlembicProject(ini=ini, script=ScriptDirectory.from_config(AlembicConfig(str(ini))))


def copy_example(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "alembic", root / "alembic", ignore=ignore)
    shutil.copytree(REPO / "models", root / "models", ignore=ignore)
    shutil.copy(REPO / "alembic.ini", root / "alembic.ini")
    return root


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


# --------------------------------------------------------------------------- safety, no database


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("postgresql://u@localhost/app", "postgresql+psycopg://v:pw@127.0.0.1:5432/app", True),
        ("postgresql://u@db1:5433/app", "postgresql://u@db1/app", False),
        ("postgresql://u@db1/app", "postgresql://u@db1/postgres", False),
        ("postgresql://u@db1/app", "postgresql://u@db2/app", False),
        ("mysql+pymysql://r@localhost/app", "mariadb+pymysql://r@127.0.0.1:3306/app", True),
        ("mysql+pymysql://r@localhost/app", "postgresql://r@localhost/app", False),
        ("sqlite:////srv/app.db", "sqlite:////srv/./app.db", True),
        ("sqlite:////srv/app.db", "sqlite:////srv/other.db", False),
        ("sqlite://", "sqlite://", False),
    ],
)
def test_same_database(a: str, b: str, same: bool) -> None:
    assert same_database(make_url(a), make_url(b)) is same
    assert same_database(make_url(b), make_url(a)) is same


def test_a_scratch_url_naming_the_checked_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScratchRefusedError, match=r"names the database being checked") as info:
        scratch_target(env("postgresql+psycopg://app:s3cret@db.example:5432/app",
                           "postgresql+psycopg://admin:s3cret@db.example/app"))
    assert "s3cret" not in str(info.value)
    assert "\n" not in str(info.value)
    db = tmp_path / "app.db"
    with pytest.raises(ScratchRefusedError):
        scratch_target(env(f"sqlite:///{db}", f"sqlite:///{db}"))


def test_server_dialects_need_a_scratch_url_of_their_own_dialect() -> None:
    with pytest.raises(ScratchUnavailableError, match=r"\[prod\] has no scratch_url"):
        scratch_target(env("postgresql+psycopg://app@db/app"))
    with pytest.raises(ScratchUnavailableError, match=r"is a mysql server, but \[prod\] is postgresql"):
        scratch_target(env("postgresql+psycopg://app@db/app", "mysql+pymysql://root@db/test"))
    target = scratch_target(env("mariadb+pymysql://app@db/app", "mysql+pymysql://root@db/test"))
    assert target.family == "mysql"


def test_sqlite_needs_no_scratch_url_and_ignores_one_for_another_dialect(tmp_path: Path) -> None:
    assert scratch_target(env(f"sqlite:///{tmp_path / 'a.db'}")).family == "sqlite"
    target = scratch_target(env(f"sqlite:///{tmp_path / 'a.db'}", "postgresql+psycopg://postgres@db/postgres"))
    assert target == ScratchTarget("sqlite", None, target.connect_timeout, target.statement_timeout)


def test_names_are_fresh_and_prefixed() -> None:
    names = {scratch.new_scratch_name() for _ in range(50)}
    assert len(names) == 50
    assert all(name.startswith(NAME_PREFIX) and len(name) == len(NAME_PREFIX) + 12 for name in names)


def test_only_scratch_databases_are_ever_dropped() -> None:
    with pytest.raises(AssertionError, match="refusing to drop"):
        scratch._drop(ScratchTarget("postgresql", make_url("postgresql://x@127.0.0.1:1/postgres")), "app")


# --------------------------------------------------------------------------- lifetime, per dialect


def test_scratch_database_exists_inside_and_is_gone_after(dialect: str, made: Made) -> None:
    target = target_for(dialect)
    with scratch_database(target) as db:
        assert db.name == made.names[-1]
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        assert tables(db.engine) == {"t"}
        assert not made.gone(dialect)
    assert made.gone(dialect)


def test_scratch_database_is_gone_after_an_error(dialect: str, made: Made) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with scratch_database(target_for(dialect)) as db:
            db.engine.connect().close()
            raise RuntimeError("boom")
    assert made.names and made.gone(dialect)


def test_scratch_database_is_gone_after_ctrl_c_even_with_a_connection_open(dialect: str, made: Made) -> None:
    with pytest.raises(KeyboardInterrupt):
        with scratch_database(target_for(dialect)) as db:
            conn = db.engine.connect()
            conn.execute(sa.text("SELECT 1"))
            raise KeyboardInterrupt
    with contextlib.suppress(sa.exc.DBAPIError):  # the drop ended its session on the server
        conn.close()
    assert made.names and made.gone(dialect)


def test_sigterm_becomes_keyboard_interrupt_and_the_old_handler_comes_back(dialect: str, made: Made) -> None:
    def previous(signum: int, frame: object) -> None:
        raise AssertionError("the previous handler must not run while a scratch database exists")

    old = signal.signal(signal.SIGTERM, previous)
    try:
        with pytest.raises(KeyboardInterrupt, match="terminated"):
            with scratch_database(target_for(dialect)):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the signal arrives well before this ends
        assert signal.getsignal(signal.SIGTERM) is previous
    finally:
        signal.signal(signal.SIGTERM, old)
    assert made.names and made.gone(dialect)


def test_an_unreachable_server_is_unavailable_not_an_error(made: Made) -> None:
    target = ScratchTarget("postgresql", make_url("postgresql+psycopg://postgres:pw9x@127.0.0.1:1/postgres"),
                           connect_timeout=2)
    with pytest.raises(ScratchUnavailableError, match="cannot create a scratch database") as info:
        with scratch_database(target):
            pass
    assert "pw9x" not in str(info.value)


# --------------------------------------------------------------------------- migrating


def test_upgrade_builds_each_revision_without_env_py(dialect: str, made: Made) -> None:
    project = example_project()
    with scratch_database(target_for(dialect)) as db, db.engine.connect() as conn:
        upgrade(conn, project, "0001_initial")
        assert read_current(conn) == ("0001_initial",)
        columns = {c["name"] for c in sa.inspect(conn).get_columns("tasks")}
        assert "due_date" not in columns
        conn.rollback()
        upgrade(conn, project, "0002_task_due_date")
        assert read_current(conn) == ("0002_task_due_date",)
        assert "due_date" in {c["name"] for c in sa.inspect(conn).get_columns("tasks")}
        conn.rollback()
    assert made.gone(dialect)


def test_a_failing_migration_names_its_revision_and_the_error(dialect: str, tmp_path: Path, made: Made) -> None:
    root = copy_example(tmp_path)
    (root / "alembic" / "versions" / "0003_broken.py").write_text(BROKEN_REVISION, encoding="utf-8")
    project = example_project(root)
    with pytest.raises(MigrationFailedError) as info:
        with scratch_database(target_for(dialect)) as db, db.engine.connect() as conn:
            upgrade(conn, project, "0003_broken")
    assert info.value.revision == "0003_broken"
    message = str(info.value)
    assert message.startswith(f"revision 0003_broken failed in the scratch {dialect} database: ")
    assert "no_such" in message and "\n" not in message
    assert made.gone(dialect)


def test_env_py_runs_on_the_scratch_connection_when_asked(dialect: str, tmp_path: Path, made: Made) -> None:
    import logging

    root = copy_example(tmp_path)
    project = example_project(root)
    before = (logging.getLogger().level, list(logging.getLogger().handlers))
    with scratch_database(target_for(dialect)) as db, db.engine.connect() as conn:
        upgrade(conn, project, "0002_task_due_date", use_env_py=True)
        assert read_current(conn) == ("0002_task_due_date",)
        conn.rollback()
    # env.py's fileConfig(alembic.ini) must not take over the caller's logging.
    assert (logging.getLogger().level, list(logging.getLogger().handlers)) == before
    assert made.gone(dialect)


ROGUE_ENV_PY = '''
from alembic import context
from sqlalchemy import create_engine

# Ignores config.attributes["connection"] and goes to "its own" database.
engine = create_engine("sqlite:///{target}")
with engine.connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
'''


def test_an_env_py_that_opens_its_own_connection_is_stopped_before_it_connects(tmp_path: Path, made: Made) -> None:
    root = copy_example(tmp_path)
    elsewhere = tmp_path / "real-environment.db"
    (root / "alembic" / "env.py").write_text(ROGUE_ENV_PY.format(target=elsewhere), encoding="utf-8")
    project = example_project(root)
    with pytest.raises(scratch.ScratchError, match=r"env\.py or a migration opened a database connection of its own"):
        with scratch_database(ScratchTarget("sqlite")) as db, db.engine.connect() as conn:
            upgrade(conn, project, "0001_initial", use_env_py=True)
    assert not elsewhere.exists()
    assert made.gone("sqlite")


def test_a_migration_that_opens_its_own_connection_is_stopped(tmp_path: Path, made: Made) -> None:
    root = copy_example(tmp_path)
    elsewhere = tmp_path / "real-environment.db"
    rogue = BROKEN_REVISION.replace(
        'op.execute("SELECT no_such_column FROM no_such_table")',
        f'import sqlalchemy as sa; sa.create_engine("sqlite:///{elsewhere}").connect()',
    )
    (root / "alembic" / "versions" / "0003_broken.py").write_text(rogue, encoding="utf-8")
    with pytest.raises(scratch.ScratchError, match=r"opened a database connection of its own"):
        with scratch_database(ScratchTarget("sqlite")) as db, db.engine.connect() as conn:
            upgrade(conn, example_project(root), "0003_broken")
    assert not elsewhere.exists()
    assert made.gone("sqlite")


@pytest.fixture(autouse=True)
def _no_stray_sigterm_handler() -> Iterator[None]:
    before = signal.getsignal(signal.SIGTERM)
    yield
    assert signal.getsignal(signal.SIGTERM) is before
