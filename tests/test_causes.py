"""drift.causes: one cause per finding, on the example project, on SQLite, PostgreSQL and MariaDB.

Each scenario copies the example application (models, migrations 0001 and
0002, models one step ahead with users.email), puts a live database at some
revision with alembic itself, plants hand-made changes with plain SQL, and
checks the cause drift gives every finding. Every scratch database a test
makes is looked up afterwards: it must be gone.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from click.testing import CliRunner
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

import dbs
from scenarios import logging_kept
import drift
from drift import causes
from drift.causes import Attributor, Built, Layer, Step, _one_line, decide, finding_key, findings_by_cause
from drift.cli import cli
from drift.config import Config
from drift.errors import DriftError
from drift.findings import Finding, Report
from drift.history import Revision, RevisionGraph, compute_state, graph_from_script_directory
from drift.loading import load_alembic, load_metadata

REPO = Path(__file__).resolve().parent.parent


def revision(rev_id: str, down: str, message: str, body: str) -> str:
    return textwrap.dedent(f'''\
        """{message}

        Revision ID: {rev_id}
        Revises: {down}
        Create Date: 2025-02-01 00:00:00.000000

        """
        import sqlalchemy as sa
        from alembic import op

        revision = "{rev_id}"
        down_revision = "{down}"
        branch_labels = None
        depends_on = None


        def upgrade():
            {body}


        def downgrade():
            pass
        ''')


#: Brings head level with the models: no migration is missing any more.
USER_EMAIL = revision(
    "0003_user_email", "0002_task_due_date", "Add users.email.",
    'op.add_column("users", sa.Column("email", sa.String(length=255), nullable=True))',
)
BROKEN = revision("0003_broken", "0002_task_due_date", "Fails.", 'op.execute("SELECT nope FROM no_such_table")')

NICKNAME = "ALTER TABLE users ADD COLUMN nickname VARCHAR(40)"
EMAIL_BY_HAND = "ALTER TABLE users ADD COLUMN email VARCHAR(255)"


# --------------------------------------------------------------------------- the example project


@dataclass
class Example:
    """A copy of the example application whose ``[prod]`` is a live test database."""

    root: Path
    dialect: str
    live: URL
    made: list[str] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        return self.root / "config.ini"

    @property
    def server(self) -> URL | None:
        return None if self.dialect == "sqlite" else dbs.server_url(self.dialect)

    def configure(self, *, scratch_url: URL | str | None | bool = True, prod: str = "", drift_lines: str = "") -> None:
        if scratch_url is True:
            scratch_url = self.server
        lines = [f"url = {self.live.render_as_string(hide_password=False)}"]
        if scratch_url:
            rendered = scratch_url if isinstance(scratch_url, str) else scratch_url.render_as_string(hide_password=False)
            lines.append(f"scratch_url = {rendered}")
        lines.append(prod)
        text = "[drift]\nmodels = models.base:Base\nmodel_modules = models\n" + drift_lines + "\n\n[prod]\n"
        self.config_path.write_text(text + "\n".join(lines) + "\n", encoding="utf-8")

    def add_revision(self, name: str, text: str) -> None:
        (self.root / "alembic" / "versions" / f"{name}.py").write_text(text, encoding="utf-8")

    def migrate(self, target: str) -> None:
        """``alembic upgrade <target>`` on the live database, through the project's env.py."""
        cfg = AlembicConfig()  # no file: alembic.ini's logging setup would replace the test run's
        cfg.set_main_option("script_location", str(self.root / "alembic"))
        with _engine(self.live) as engine, engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, target)

    def stamp(self, target: str) -> None:
        self.execute("DELETE FROM alembic_version", f"INSERT INTO alembic_version (version_num) VALUES ('{target}')")

    def execute(self, *statements: str) -> None:
        with _engine(self.live) as engine, engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def check(self, **kwargs: Any) -> Report:
        return drift.check(self.config_path, "prod", **kwargs)

    def scratch_gone(self) -> bool:
        assert self.made, "no scratch database was made"
        if self.dialect == "sqlite":
            root = Path(tempfile.gettempdir())
            return not any(any(root.glob(f"{name}_*")) for name in self.made)
        return not set(self.made) & set(dbs.list_databases(self.dialect))


@pytest.fixture
def example(dialect: str, db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Example:
    return make_example(dialect, db_url, tmp_path, monkeypatch)


def make_example(dialect: str, db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Example:
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "alembic", root / "alembic", ignore=ignore)
    shutil.copytree(REPO / "models", root / "models", ignore=ignore)
    shutil.copy(REPO / "alembic.ini", root / "alembic.ini")
    monkeypatch.syspath_prepend(str(root))
    project = Example(root, dialect, db_url)
    project.configure()

    dbs.record_scratch_names(monkeypatch, project.made)
    return project


@pytest.fixture(autouse=True)
def _restore_sys_path() -> Iterator[None]:
    saved = list(sys.path)
    yield
    sys.path[:] = saved


class _engine:
    def __init__(self, url: URL) -> None:
        self.engine = sa.create_engine(url, poolclass=NullPool)

    def __enter__(self) -> Engine:
        return self.engine

    def __exit__(self, *exc: object) -> None:
        self.engine.dispose()


def causes_of(report: Report) -> dict[str, str]:
    # Rename guesses (drift.comparators.renames) pair findings; they are tested there.
    return {f.object_label: f.cause for f in report.findings if not f.kind.endswith("_candidate")}


def detail(report: Report, label: str) -> str:
    found = [f for f in report.findings if f.object_label == label]
    assert len(found) == 1, (label, [f.object_label for f in report.findings])
    return found[0].cause_detail or ""


# --------------------------------------------------------------------------- watching the live database

_READ_ONLY_QUERIES = {
    "postgresql": "SHOW transaction_read_only",
    "mysql": "SELECT @@SESSION.tx_read_only",
    "sqlite": "PRAGMA query_only",
}


@dataclass
class LiveWatch:
    statements: list[str] = field(default_factory=list)
    read_only: list[Any] = field(default_factory=list)

    def writes(self) -> list[str]:
        def harmless(sql: str) -> bool:
            head = sql.lstrip().split(None, 2)
            word = head[0].upper() if head else ""
            if word == "SET":
                return len(head) < 2 or head[1].upper() not in ("GLOBAL", "PERSIST")
            return word in ("SELECT", "SHOW", "PRAGMA", "DESCRIBE")

        return [s for s in self.statements if not harmless(s)]


@pytest.fixture
def live_watch(example: Example) -> Iterator[LiveWatch]:
    """Every statement sent to the live database by anyone, and whether its sessions were read-only."""
    watch = LiveWatch()
    live_db = example.live.database or ""

    def is_live(conn: sa.Connection) -> bool:
        database = conn.engine.url.database or ""
        if example.dialect == "sqlite":
            return database.startswith("file:") and database[5:].split("?")[0] == str(Path(live_db).resolve())
        return database == live_db

    def before(conn: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        if is_live(conn):
            watch.statements.append(statement)

    def connected(conn: sa.Connection) -> None:
        if is_live(conn):
            watch.read_only.append(conn.exec_driver_sql(_READ_ONLY_QUERIES[example.dialect]).scalar())
            conn.rollback()  # leave the connection as drift opened it: no transaction begun

    sa.event.listen(Engine, "before_cursor_execute", before)
    sa.event.listen(Engine, "engine_connect", connected)
    try:
        yield watch
    finally:
        sa.event.remove(Engine, "before_cursor_execute", before)
        sa.event.remove(Engine, "engine_connect", connected)


def snapshot(url: URL) -> dict[str, Any]:
    with _engine(url) as engine, engine.connect() as conn:
        inspector = sa.inspect(conn)
        shape = {t: [c["name"] for c in inspector.get_columns(t)] for t in sorted(inspector.get_table_names())}
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return {"tables": shape, "versions": sorted(versions)}


# --------------------------------------------------------------------------- each cause on its own


def test_missing_migration(example: Example) -> None:
    example.migrate("head")
    report = example.check()
    assert causes_of(report) == {"users.email": "missing_migration"}
    assert '`alembic -x env=prod revision --autogenerate -m "Add email column to users table"`' in detail(
        report, "users.email"
    )
    assert "head (0002_task_due_date)" in detail(report, "users.email")
    assert report.notes == ()
    assert example.scratch_gone()


def test_pending_migrations_name_the_revision_that_makes_each_change(example: Example) -> None:
    example.add_revision("0003_user_email", USER_EMAIL)
    example.migrate("0001_initial")
    report = example.check()
    assert causes_of(report) == {"tasks.due_date": "pending_migration", "users.email": "pending_migration"}
    assert detail(report, "tasks.due_date").startswith(
        'Pending revision 0002_task_due_date ("Add tasks.due_date.") makes this change; '
        "the database is at 0001_initial. Apply it: `alembic -x env=prod upgrade head`."
    )
    assert detail(report, "users.email").startswith('Pending revision 0003_user_email ("Add users.email.")')
    assert [r.id for r in report.state.pending] == ["0002_task_due_date", "0003_user_email"]
    assert example.scratch_gone()


def test_out_of_band_change(example: Example) -> None:
    example.add_revision("0003_user_email", USER_EMAIL)
    example.migrate("head")
    example.execute(NICKNAME)
    report = example.check()
    assert causes_of(report) == {"users.nickname": "out_of_band"}
    text = detail(report, "users.nickname")
    assert "recorded revision (0003_user_email) matches the models here" in text
    assert "drop_column(" in text and "'nickname')" in text and "\n" not in text
    assert "add column users.nickname (VARCHAR(40)) to the models" in text
    assert "stamp" in text
    assert example.scratch_gone()


# --------------------------------------------------------------------------- all three at once


def test_all_three_causes_at_once_without_writing_to_the_live_database(
    example: Example, live_watch: LiveWatch
) -> None:
    example.migrate("0001_initial")
    example.execute(NICKNAME)
    before = snapshot(example.live)
    live_watch.statements.clear()
    live_watch.read_only.clear()

    report = example.check()

    assert causes_of(report) == {
        "tasks.due_date": "pending_migration",
        "users.email": "missing_migration",
        "users.nickname": "out_of_band",
    }
    assert "0002_task_due_date" in detail(report, "tasks.due_date")
    assert report.state.status == "behind"
    assert example.scratch_gone()
    # The live database: only read, from read-only sessions, and unchanged.
    assert live_watch.statements and live_watch.writes() == []
    assert live_watch.read_only and all(str(v).lower() in ("1", "on", "true") for v in live_watch.read_only)
    assert snapshot(example.live) == before


def test_drift_check_json_on_the_command_line(example: Example) -> None:
    example.migrate("0001_initial")
    example.execute(NICKNAME)
    with logging_kept():
        result = CliRunner().invoke(
            cli, ["check", "--env", "prod", "--config", str(example.config_path), "--format", "json"]
        )
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    by_label = {f"{f['table']}.{f['name']}": f for f in document["findings"]}
    assert {label: f["cause"] for label, f in by_label.items()} == {
        "tasks.due_date": "pending_migration",
        "users.email": "missing_migration",
        "users.nickname": "out_of_band",
    }
    assert 'Pending revision 0002_task_due_date ("Add tasks.due_date.")' in by_label["tasks.due_date"]["cause_detail"]
    assert document["migration_state"]["pending"][0]["id"] == "0002_task_due_date"
    assert example.scratch_gone()
    if example.dialect == "postgresql":  # docs/attribution.md's worked example is this run's output
        docs = (REPO / "docs" / "attribution.md").read_text(encoding="utf-8")
        for finding in document["findings"]:
            assert f'"cause_detail": {json.dumps(finding["cause_detail"])}' in docs, finding["name"]


def test_env_py_can_run_the_migrations_instead(example: Example) -> None:
    example.configure(drift_lines="scratch_use_env_py = true")
    example.migrate("0001_initial")
    example.execute(NICKNAME)
    root = logging.getLogger()
    handlers = list(root.handlers)
    report = example.check()
    assert causes_of(report) == {
        "tasks.due_date": "pending_migration",
        "users.email": "missing_migration",
        "users.nickname": "out_of_band",
    }
    assert list(root.handlers) == handlers
    assert example.scratch_gone()


# --------------------------------------------------------------------------- hand-made changes the check hides


def test_a_hand_made_change_that_no_migration_makes_is_a_note(example: Example) -> None:
    example.migrate("head")
    example.execute(EMAIL_BY_HAND)
    report = example.check()
    assert report.findings == ()
    assert report.notes == ("users.email exists in the database and the models but no migration creates it.",)
    assert example.scratch_gone()


def test_a_pending_change_already_made_by_hand_is_a_note(example: Example) -> None:
    example.add_revision("0003_user_email", USER_EMAIL)
    example.migrate("0002_task_due_date")
    example.execute(EMAIL_BY_HAND)
    report = example.check()
    assert report.findings == ()
    (note,) = report.notes
    assert note.startswith("users.email: the database already matches the models here, although pending revision "
                           "0003_user_email still makes this change")
    assert "`upgrade head` may fail" in note


# --------------------------------------------------------------------------- when it cannot


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.postgresql),
                                     pytest.param("mysql", marks=pytest.mark.mysql)])
def test_no_scratch_url_leaves_causes_unknown_and_says_why(example: Example) -> None:
    example.configure(scratch_url=None)
    example.migrate("0001_initial")
    report = example.check()
    assert {f.cause for f in report.findings} == {"unknown"}
    assert report.notes == (
        "Causes not attributed: [prod] has no scratch_url, so drift cannot build the schema its migrations imply; "
        f"set scratch_url to a {example.dialect} server's maintenance database (in [prod] or [drift]).",
    )
    assert example.made == []


def test_a_failing_pending_migration_still_tells_out_of_band_changes(example: Example) -> None:
    example.add_revision("0003_broken", BROKEN)
    example.migrate("0002_task_due_date")
    example.execute(NICKNAME)
    report = example.check()
    assert causes_of(report) == {"users.email": "unknown", "users.nickname": "out_of_band"}
    (note,) = report.notes
    assert note.startswith(f"Some causes are unknown: revision 0003_broken failed in the scratch {example.dialect} database: ")
    assert "no_such_table" in note
    assert example.scratch_gone()


def test_a_recorded_revision_that_cannot_be_built_leaves_every_cause_unknown(example: Example) -> None:
    example.add_revision("0003_broken", BROKEN)
    example.migrate("0002_task_due_date")
    example.stamp("0003_broken")
    report = example.check()
    assert causes_of(report) == {"users.email": "unknown"}
    assert report.notes[0].startswith("Causes not attributed: revision 0003_broken failed")
    assert detail(report, "users.email").startswith("Cause not known: revision 0003_broken failed")
    assert example.scratch_gone()


def test_an_unknown_recorded_revision(example: Example) -> None:
    example.migrate("head")
    example.stamp("ffff_from_another_branch")
    report = example.check()
    assert causes_of(report) == {"users.email": "unknown"}
    assert report.notes == (
        "Causes not attributed: the database records ffff_from_another_branch, which the migration scripts "
        "do not define, so drift cannot build the schema it implies.",
    )
    assert example.made == []


def test_an_unversioned_database(example: Example) -> None:
    example.migrate("head")
    example.execute("DROP TABLE alembic_version")
    report = example.check()
    assert causes_of(report) == {"users.email": "unknown"}
    assert "no version table" in report.notes[0]
    assert example.made == []


def test_multiple_heads_still_tell_out_of_band_changes(example: Example) -> None:
    example.add_revision("0003_a", revision("0003_a", "0002_task_due_date", "Branch a.", "pass"))
    example.add_revision("0003_b", revision("0003_b", "0002_task_due_date", "Branch b.", "pass"))
    example.migrate("0002_task_due_date")
    example.execute(NICKNAME)
    report = example.check()
    assert causes_of(report) == {"users.email": "unknown", "users.nickname": "out_of_band"}
    assert report.notes[0].startswith("Some causes are unknown: the migration scripts have 2 heads (0003_a, 0003_b)")
    assert example.scratch_gone()


def test_a_scratch_url_naming_the_checked_database_is_refused_before_connecting(
    example: Example, live_watch: LiveWatch
) -> None:
    example.configure(scratch_url=example.live)
    with pytest.raises(DriftError, match="names the database being checked"):
        example.check()
    assert live_watch.statements == []
    assert example.made == []


def test_ctrl_c_while_attributing_removes_the_scratch_database(
    example: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    example.migrate("0001_initial")

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(causes, "compare", interrupted)
    with pytest.raises(KeyboardInterrupt):
        example.check()
    assert example.scratch_gone()


SIGTERM_DRIVER = """
import sys, time
from pathlib import Path
from drift import causes, scratch
from drift.cli import main

marker = Path(sys.argv[1])
original = scratch.new_scratch_name

def named():
    name = original()
    marker.with_suffix(".name").write_text(name)
    return name

def stalled(*args, **kwargs):
    marker.write_text("comparing")
    time.sleep(60)

scratch.new_scratch_name = named
causes.compare = stalled
main(sys.argv[2:])
"""


def test_sigterm_while_attributing_removes_the_scratch_database(example: Example, tmp_path: Path) -> None:
    example.migrate("0001_initial")
    marker = tmp_path / "marker"
    driver = tmp_path / "driver.py"
    driver.write_text(SIGTERM_DRIVER, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(driver), str(marker), "check", "--env", "prod", "--config", str(example.config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), process.communicate(timeout=10)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "interrupted" in err
    example.made.append(marker.with_suffix(".name").read_text())
    assert example.scratch_gone()


def test_attribute_false_builds_nothing(example: Example) -> None:
    example.migrate("0001_initial")
    report = example.check(attribute=False)
    assert {f.cause for f in report.findings} == {"unknown"}
    assert all(f.cause_detail is None for f in report.findings)
    assert example.made == [] and report.notes == ()


# --------------------------------------------------------------------------- the attributor itself


@pytest.fixture
def sqlite_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Example]:
    with dbs.temp_database("sqlite", tmp_path) as url:
        yield make_example("sqlite", url, tmp_path, monkeypatch)


def _attribute(project: Example, attributor: Attributor | None = None, **kwargs: Any) -> tuple[Attributor, Any]:
    config = Config.load(project.config_path)
    environment = config.environment("prod")
    metadata = load_metadata(config)
    alembic = load_alembic(config)
    graph = graph_from_script_directory(alembic.script)
    attributor = attributor or Attributor(alembic, metadata, graph, **kwargs)
    live = drift.check(project.config_path, "prod", attribute=False)
    state = compute_state(graph, live.revision, env="prod")
    return attributor, attributor.attribute(environment, live.findings, state, command_prefix="alembic -x env=prod")


def test_built_schemas_are_cached_per_dialect_baseline_and_revision(sqlite_example: Example) -> None:
    sqlite_example.migrate("0001_initial")
    attributor, first = _attribute(sqlite_example)
    assert sorted(attributor.cache) == [("sqlite", "", ("0001_initial",)), ("sqlite", "", ("0002_task_due_date",))]
    assert len(sqlite_example.made) == 1
    _, second = _attribute(sqlite_example, attributor)
    assert second == first
    assert len(sqlite_example.made) == 1  # nothing built again


def test_beyond_the_step_limit_pending_findings_list_every_pending_revision(sqlite_example: Example) -> None:
    sqlite_example.add_revision("0003_user_email", USER_EMAIL)
    sqlite_example.migrate("0001_initial")
    attributor, result = _attribute(sqlite_example, step_limit=1)
    assert sorted(attributor.cache) == [("sqlite", "", ("0001_initial",)), ("sqlite", "", ("0003_user_email",))]
    details = {f.object_label: f.cause_detail for f in result.findings}
    assert details["users.email"].startswith(
        'One of the 2 pending revisions (0002_task_due_date ("Add tasks.due_date."), '
        '0003_user_email ("Add users.email.")) makes this change'
    )


# --------------------------------------------------------------------------- deciding, from hand-made layers

GRAPH = RevisionGraph.from_revisions([
    Revision("0001", "create", None, ()),
    Revision("0002", "widen t.c", None, ("0001",)),
    Revision("0003", "drop t.keep", None, ("0002",)),
])
STATE = compute_state(GRAPH, ["0001"], env="prod")
STEPS = (Step(("0001",), ("0001",)), Step(("0002",), ("0002",), (GRAPH.revisions["0002"],)),
         Step(("0003",), ("0003",), (GRAPH.revisions["0003"],)))


def typed(table: str, name: str, database: str, models: str = "VARCHAR(100)") -> Finding:
    return Finding(kind="modify_type", table=table, name=name, object_type="column",
                   models={"type": models}, database={"type": database},
                   message=f"Column {table}.{name} is {database} in the database but {models} in the models",
                   upgrade_code=f"op.alter_column('{table}', '{name}', type_=sa.String({models[8:-1]}))")


def layers(*findings_per_step: tuple[Finding, ...]) -> Built:
    built = tuple(Layer("sqlite", step.revisions, found) for step, found in zip(STEPS, findings_per_step))
    return Built(STEPS, built, complete=True)


def test_a_hand_change_on_top_of_a_migrated_difference_is_out_of_band() -> None:
    live = typed("users", "name", "VARCHAR(80)")
    rev = typed("users", "name", "VARCHAR(50)")
    result = decide([live], layers((rev,), (rev,), (rev,)), STATE, "alembic -x env=prod")
    (f,) = result.findings
    assert f.cause == "out_of_band"
    assert "differs here in another way (Column users.name is VARCHAR(50)" in f.cause_detail
    assert "give users.name the database's type (VARCHAR(80)) in the models" in f.cause_detail


def test_a_pending_change_that_still_leaves_a_difference_says_so() -> None:
    live = typed("t", "c", "VARCHAR(10)", "VARCHAR(30)")
    later = typed("t", "c", "VARCHAR(20)", "VARCHAR(30)")
    result = decide([live], layers((live,), (later,), (later,)), STATE, "alembic -x env=prod")
    (f,) = result.findings
    assert f.cause == "pending_migration"
    assert f.cause_detail.startswith('Pending revision 0002 ("widen t.c") makes this change; the database is at 0001.')
    assert f.cause_detail.endswith("The models still differ after it: Column t.c is VARCHAR(20) in the database "
                                   "but VARCHAR(30) in the models.")


def test_a_pending_revision_that_takes_the_database_away_from_the_models_is_a_note() -> None:
    keep = Finding(kind="add_column", table="t", name="keep", object_type="column", database=None,
                   models={"type": "INTEGER"}, message="Column t.keep exists in the models but not in the database")
    result = decide([], layers((), (), (keep,)), STATE, "alembic -x env=prod")
    assert result.notes == (
        "t.keep: pending 0003 will make the database differ from the models here "
        "(after upgrading: Column t.keep exists in the models but not in the database).",
    )


def test_an_incomplete_build_decides_what_it_can() -> None:
    hand = typed("users", "name", "VARCHAR(80)")
    other = typed("t", "c", "VARCHAR(10)")
    built = Built(STEPS[:1], (Layer("sqlite", ("0001",), (other,)),), complete=False,
                  reason="revision 0002 failed in the scratch sqlite database: boom")
    result = decide([hand, other], built, STATE, "alembic")
    assert [(f.object_label, f.cause) for f in result.findings] == [("users.name", "out_of_band"), ("t.c", "unknown")]
    assert result.findings[1].cause_detail == "Cause not known: revision 0002 failed in the scratch sqlite database: boom."
    assert result.notes == ("Some causes are unknown: revision 0002 failed in the scratch sqlite database: boom.",)


def test_findings_by_cause_follows_the_order_of_causes() -> None:
    def f(name: str, cause: str) -> Finding:
        return Finding(kind="add_column", table="t", name=name, message=name, object_type="column", cause=cause)

    grouped = findings_by_cause([f("a", "unknown"), f("b", "out_of_band"), f("c", "missing_migration"),
                                 f("d", "out_of_band")])
    assert list(grouped) == ["missing_migration", "out_of_band", "unknown"]
    assert [x.name for x in grouped["out_of_band"]] == ["b", "d"]


def test_same_finding_means_same_object_and_same_database_side() -> None:
    a = Finding(kind="modify_type", table="t", name="c", message="x", database={"type": "VARCHAR(50)"})
    b = a.replace(message="other words", database={"type": "VARCHAR(50)"}, cause="out_of_band")
    c = a.replace(database={"type": "VARCHAR(80)"})
    assert finding_key(a) == finding_key(b) != finding_key(c)


@pytest.mark.parametrize(
    ("code", "line"),
    [
        ("op.drop_column('users', 'nickname')", "op.drop_column('users', 'nickname')"),
        (
            "with op.batch_alter_table('users', schema=None) as batch_op:\n    batch_op.drop_column('nickname')",
            "with op.batch_alter_table('users', schema=None) as batch_op: batch_op.drop_column('nickname')",
        ),
        (
            "op.create_table('x',\n    sa.Column('id', sa.Integer(), nullable=False),\n    "
            "sa.PrimaryKeyConstraint('id')\n)\nop.create_index('ix', 'x', ['id'])",
            "op.create_table('x', sa.Column('id', sa.Integer(), nullable=False), sa.PrimaryKeyConstraint('id') ); "
            "op.create_index('ix', 'x', ['id'])",
        ),
        ("", ""),
    ],
)
def test_one_line_code(code: str, line: str) -> None:
    assert _one_line(code) == line
    if line:
        compile(line, "<one line>", "exec")
