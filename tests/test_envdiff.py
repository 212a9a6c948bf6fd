"""dev vs prod: differences from two reports' findings, revision distance, commands; then on real databases."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from drift.envdiff import diff_reports, relation, what
from drift.findings import DatabaseInfo, Finding, Report
from drift.history import Revision, RevisionGraph
from drift.report.render import render_diff
from fleet import make_fleet
from report_builders import column
from scenarios import isolated_imports

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("DRIFT_UPDATE_GOLDEN") == "1"
AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)

GRAPH = RevisionGraph.from_revisions([
    Revision("0001_initial", "Initial schema.", None, ()),
    Revision("0002_task_due_date", "Add tasks.due_date.", "2025-01-20 14:30:00", ("0001_initial",)),
    Revision("0003_project_owner", "Add projects.owner_id.", "2025-02-01 09:00:00", ("0002_task_due_date",)),
    Revision("0003b_hotfix", "Hotfix on a branch.", None, ("0002_task_due_date",)),
])


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    with isolated_imports():
        yield


def report(env: str, findings: list[Finding], revision: tuple[str, ...]) -> Report:
    info = DatabaseInfo(url=f"sqlite:///{env}.db", dialect="sqlite", driver="pysqlite", server_version="SQLite 3")
    return Report(env, info, tuple(sorted(findings, key=Finding.sort_key)), 3, AT, "0.1.0", revision=revision)


def due_date(cause: str = "pending_migration") -> Finding:
    return Finding("add_column", "tasks", "Column tasks.due_date exists in the models but not in the database",
                   name="due_date", object_type="column", models=column("DATE"), cause=cause)


def owner(cause: str = "pending_migration") -> Finding:
    return Finding("add_column", "projects", "Column projects.owner_id exists in the models but not in the database",
                   name="owner_id", object_type="column", models=column("INTEGER"), cause=cause)


def nickname(type_: str) -> Finding:
    return Finding("remove_column", "users", "Column users.nickname exists in the database but not in the models",
                   name="nickname", object_type="column", database=column(type_), cause="out_of_band")


def title_type(db: str, cause: str = "out_of_band") -> Finding:
    return Finding("modify_type", "tasks", f"Column tasks.title is VARCHAR(200) in the models but {db} in the database",
                   name="title", object_type="column", models={"type": "VARCHAR(200)"}, database={"type": db},
                   cause=cause, severity="warning")


def index_only(env_cause: str = "missing_migration") -> Finding:
    return Finding("add_index", "tasks", "Index ix_tasks_due_date on tasks (due_date) exists in the models but not in "
                   "the database", name="ix_tasks_due_date", object_type="index", models={"columns": ["due_date"]},
                   cause=env_cause)


# --------------------------------------------------------------------------- revisions


@pytest.mark.parametrize("source, target, status, summary", [
    (("0002_task_due_date",), ("0002_task_due_date",), "same",
     "dev and prod record the same revision (0002_task_due_date)."),
    (("0003_project_owner",), ("0001_initial",), "behind",
     "prod is two revisions behind dev (0002_task_due_date, 0003_project_owner)."),
    (("0001_initial",), ("0002_task_due_date",), "ahead", "prod is one revision ahead of dev (0002_task_due_date)."),
    (("0003_project_owner",), ("0003b_hotfix",), "diverged",
     "dev and prod are on different branches: prod lacks 0003_project_owner; dev lacks 0003b_hotfix."),
    ((), ("0001_initial",), "ahead", "prod is one revision ahead of dev (0001_initial)."),
    (("ffff",), ("0001_initial",), "unknown",
     "dev records ffff and prod records 0001_initial; the migration scripts do not define ffff, "
     "so how far apart they are cannot be told."),
])
def test_relation(source: tuple[str, ...], target: tuple[str, ...], status: str, summary: str) -> None:
    found = relation(GRAPH, source, target)
    assert (found.status, found.summary) == (status, summary)


def test_relation_without_a_graph_only_names_the_revisions() -> None:
    assert relation(None, ["b"], ["a"]).summary == "dev records b and prod records a."


# --------------------------------------------------------------------------- differences


def test_symmetric_difference_by_id_and_database_values() -> None:
    dev = report("dev", [nickname("VARCHAR(40)"), index_only(), title_type("VARCHAR(100)")], ("0003_project_owner",))
    prod = report("prod", [nickname("VARCHAR(80)"), due_date(), owner(), title_type("VARCHAR(100)")],
                  ("0001_initial",))
    d = diff_reports(dev, prod, GRAPH)
    assert [(x.finding.kind, x.finding.table, x.finding.name, x.relation) for x in d.differences] == [
        ("add_column", "projects", "owner_id", "only_target"),
        ("add_column", "tasks", "due_date", "only_target"),
        ("add_index", "tasks", "ix_tasks_due_date", "only_source"),
        ("remove_column", "users", "nickname", "both"),
    ]
    assert d.shared == 1  # tasks.title drifted the same way in both: not a difference between them
    sentences = [x.sentence for x in d.differences]
    assert sentences == [
        "prod lacks column projects.owner_id, which dev has (as the models declare).",
        "prod lacks column tasks.due_date, which dev has (as the models declare).",
        "dev lacks index ix_tasks_due_date on tasks, which prod has (as the models declare).",
        "Column users.nickname differs between dev and prod, and from the models (type: dev VARCHAR(40), "
        "prod VARCHAR(80)).",
    ]
    assert d.differences[0].cause == ("prod is two revisions behind dev (0002_task_due_date, 0003_project_owner); "
                                      "a migration prod has not applied yet makes this change.")
    assert d.differences[2].cause == ("No migration makes this change, so prod got it another way "
                                      "(create_all, a change by hand, or a migration not committed).")
    assert d.verdict == "4 differences between dev and prod"
    assert d.counts() == {"only_target": 2, "only_source": 1, "both": 1}
    assert d.commands == (
        "# prod lacks 0002_task_due_date, 0003_project_owner, which dev has applied:",
        "alembic -x env=prod upgrade 0003_project_owner",
        "# 1 difference no revision explains: see the suggested migration of prod",
        "drift check --env prod",
        "# dev differs from the models where prod does not:",
        "drift check --env dev",
        "drift diff --from dev --to prod   # confirm",
    )


def test_a_changed_value_is_said_plainly() -> None:
    dev = report("dev", [], ("0002_task_due_date",))
    prod = report("prod", [title_type("VARCHAR(100)")], ("0002_task_due_date",))
    [x] = diff_reports(dev, prod, GRAPH).differences
    assert x.sentence == "Column tasks.title differs: prod has type VARCHAR(100), dev has type VARCHAR(200) " \
                         "(as the models declare)."
    assert x.cause == "prod was changed outside the migrations (by hand or by another tool)."


def test_level_environments() -> None:
    same = diff_reports(report("dev", [title_type("X")], ("0002_task_due_date",)),
                        report("prod", [title_type("X")], ("0002_task_due_date",)), GRAPH)
    assert (same.differences, same.has_differences, same.commands) == ((), False, ())
    assert same.verdict == "dev and prod have the same schema"


def test_ahead_suggests_upgrading_the_source_not_downgrading_the_target() -> None:
    d = diff_reports(report("dev", [], ("0001_initial",)), report("prod", [], ("0002_task_due_date",)), GRAPH)
    assert d.verdict == "dev and prod have the same schema, at different revisions"
    assert d.has_differences
    assert d.commands[:2] == (
        "# dev lacks 0002_task_due_date; bring it level rather than downgrading prod:",
        "alembic -x env=dev upgrade 0002_task_due_date",
    )


def test_what_names_the_object() -> None:
    assert what(due_date()) == "column tasks.due_date"
    assert what(index_only()) == "index ix_tasks_due_date on tasks"
    assert what(Finding("add_table", "tags", "x", object_type="table")) == "table tags"


def test_json_is_plain_data() -> None:
    d = diff_reports(report("dev", [], ("0003_project_owner",)), report("prod", [due_date()], ("0002_task_due_date",)),
                     GRAPH)
    document = json.loads(render_diff(d, "json"))
    assert document["document"] == "diff"
    assert document["differences"][0]["source_database"] == column("DATE")  # dev matches the models there
    assert document["differences"][0]["target_database"] is None
    assert document["revisions"]["target_lacks"][0]["id"] == "0003_project_owner"


@pytest.mark.parametrize("fmt, ext", [("text", "txt"), ("markdown", "md"), ("html", "html")])
def test_rendered_comparison_matches_golden(fmt: str, ext: str) -> None:
    dev = report("dev", [nickname("VARCHAR(40)"), index_only()], ("0003_project_owner",))
    prod = report("prod", [nickname("VARCHAR(80)"), due_date(), owner(), title_type("VARCHAR(100)")],
                  ("0001_initial",))
    text = render_diff(diff_reports(dev, prod, GRAPH), fmt, generated_at="2025-03-04 05:06:07 UTC",
                       tool_version="0.1.0")
    path = GOLDEN / f"diff.{ext}"
    if UPDATE:
        path.write_text(text, encoding="utf-8", newline="\n")
    assert text == path.read_text(encoding="utf-8")


def test_hostile_names_stay_text() -> None:
    evil = Finding("add_column", "t", "Column t.<b>x</b> exists in the models but not in the database",
                   name="<script>alert(1)</script>\u202e", object_type="column", models=column("INT"))
    d = diff_reports(report("dev", [], ("0001_initial",)), report("prod", [evil], ("0001_initial",)), GRAPH)
    html = render_diff(d, "html")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;\\u202e" in html
    markdown = render_diff(d, "markdown")
    assert "<script>" not in markdown and "\\<script\\>" in markdown


# --------------------------------------------------------------------------- planted on real databases


@pytest.mark.postgresql
def test_dev_on_sqlite_vs_prod_on_postgresql(tmp_path: Path, make_db: Callable[[str], URL]) -> None:
    fleet = make_fleet(tmp_path / "project", {"dev": URL.create("sqlite+pysqlite", database=str(tmp_path / "dev.db")),
                                              "prod": make_db("postgresql")})
    fleet.migrate("dev", "head")
    fleet.migrate("prod", "0001_initial")
    fleet.execute("dev", "ALTER TABLE users ADD COLUMN nickname VARCHAR(40)")   # both by hand, differently
    fleet.execute("prod", "ALTER TABLE users ADD COLUMN nickname VARCHAR(80)")
    fleet.execute("prod", "CREATE INDEX ix_hand_made ON projects (name)")       # only prod, by hand

    result = fleet.invoke("diff", "--from", "dev", "--to", "prod", "--format", "json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["revisions"]["summary"] == "prod is one revision behind dev (0002_task_due_date)."
    assert [(d["kind"], d["table"], d["name"], d["relation"]) for d in document["differences"]] == [
        ("remove_index", "projects", "ix_hand_made", "only_target"),
        ("add_column", "tasks", "due_date", "only_target"),
        ("remove_column", "users", "nickname", "both"),
    ]
    by_name = {d["name"]: d for d in document["differences"]}
    assert by_name["due_date"]["sentence"] == "prod lacks column tasks.due_date, which dev has (as the models declare)."
    assert by_name["due_date"]["cause"].startswith("prod is one revision behind dev (0002_task_due_date)")
    assert by_name["ix_hand_made"]["sentence"] == ("prod has index ix_hand_made on projects, which dev does not have "
                                                   "(nor do the models).")
    assert by_name["ix_hand_made"]["cause"] == "prod was changed outside the migrations (by hand or by another tool)."
    assert document["shared_drift"] == 1  # users.email: in the models, in neither database
    assert document["commands"][:2] == [
        "# prod lacks 0002_task_due_date, which dev has applied:",
        "alembic -x env=prod upgrade 0002_task_due_date",
    ]

    fleet.migrate("prod", "head")
    fleet.execute("prod", "DROP INDEX ix_hand_made", "ALTER TABLE users DROP COLUMN nickname")
    fleet.execute("dev", "ALTER TABLE users DROP COLUMN nickname")
    level = fleet.invoke("diff", "--from", "dev", "--to", "prod")
    assert level.exit_code == 0, level.output
    assert level.stdout.splitlines()[0] == "dev vs prod: dev and prod have the same schema"


def test_diff_of_an_unreachable_environment_is_status_2(tmp_path: Path) -> None:
    from fleet import closed_port

    fleet = make_fleet(tmp_path / "project", {
        "dev": URL.create("sqlite+pysqlite", database=str(tmp_path / "dev.db")),
        "prod": URL.create("postgresql", username="app", password="Pw-diff-88", host="127.0.0.1",
                           port=closed_port(), database="app"),
    }, env_lines={"prod": "connect_retries = 0"})
    fleet.migrate("dev", "head")
    result = fleet.invoke("diff", "--from", "dev", "--to", "prod")
    assert result.exit_code == 2
    assert result.stderr.startswith("drift: error: cannot compare dev and prod: prod could not be reached: "
                                    "environment 'prod' at postgresql+psycopg://app:***@127.0.0.1:")
    assert "Pw-diff-88" not in result.output
    assert fleet.invoke("diff", "--from", "dev", "--to", "dev").exit_code == 2
