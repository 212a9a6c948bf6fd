"""Report folders as history: marks across runs, the previous report, pruning, the ticket, golden output."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL

from drift import archive
from drift.cli import cli
from drift.envdiff import diff_reports
from drift.errors import ConfigError
from drift.findings import Finding, Report
from drift.report import render
from drift.report.render import render_run, render_ticket
from drift.run import EnvironmentResult, RunResult
from report_builders import column, finding, hostile_report, report, state_behind
from scenarios import build, execute, isolated_imports, make_project

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("DRIFT_UPDATE_GOLDEN") == "1"
DAY1 = datetime(2025, 3, 1, 2, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    with isolated_imports():
        yield


def col(name: str, table: str = "users", type_: str = "INTEGER", **db: object) -> Finding:
    if db:
        return finding("modify_type", table, f"Column {table}.{name} is {type_} in the models but {db['type']} in "
                       "the database", name=name, object_type="column", models={"type": type_}, database=db)
    return finding("add_column", table, f"Column {table}.{name} exists in the models but not in the database",
                   name=name, object_type="column", models=column(type_))


def night(n: int, findings: list[Finding], env: str = "prod") -> Report:
    r = report(findings, environment=env)
    return Report(r.environment, r.database, r.findings, r.tables_compared, DAY1 + timedelta(days=n), r.tool_version,
                  r.revision, r.migration, r.state, r.notes)


def previous_of(r: Report, name: str = "x.json") -> archive.Previous:
    data = json.loads(render(r, "json"))
    return archive.Previous(name, r.generated_at, data)


# --------------------------------------------------------------------------- marking


def test_three_nights_new_still_open_resolved() -> None:
    a, b = col("a"), col("b")
    first = night(0, [a, b])
    h1 = archive.mark(first, None)
    assert h1["previous"] is None
    assert {k: v["status"] for k, v in h1["findings"].items()} == {a.id: "new", b.id: "new"}
    assert h1["counts"] == {"new": 2, "open": 0, "resolved": 0}

    second = night(1, [a, col("c")])
    h2 = archive.mark(second, previous_of(archive.with_history(first, h1), "night0.json"))
    assert h2["previous"] == {"file": "night0.json", "generated_at": "2025-03-01T02:00:00+00:00"}
    assert h2["findings"][a.id] == {"status": "open", "first_seen": "2025-03-01T02:00:00+00:00", "changed": False}
    assert h2["findings"][col("c").id]["status"] == "new"
    assert [r["id"] for r in h2["resolved"]] == [b.id]
    assert h2["resolved"][0]["object_label"] == "users.b"
    assert h2["counts"] == {"new": 1, "open": 1, "resolved": 1}

    third = night(2, [col("c")])
    h3 = archive.mark(third, previous_of(archive.with_history(second, h2)))
    assert h3["findings"] == {col("c").id: {"status": "open", "first_seen": "2025-03-02T02:00:00+00:00",
                                            "changed": False}}
    # first_seen travels with the marks: a was first seen on night 0, not on night 1.
    assert h3["resolved"][0]["id"] == a.id and h3["resolved"][0]["first_seen"] == "2025-03-01T02:00:00+00:00"


def test_a_finding_whose_values_moved_is_still_open_and_changed() -> None:
    before = night(0, [col("t", type_="VARCHAR(200)", type="VARCHAR(100)")])
    after = night(1, [col("t", type_="VARCHAR(200)", type="VARCHAR(50)")])
    history = archive.mark(after, previous_of(before))
    [mark] = history["findings"].values()
    assert (mark["status"], mark["changed"]) == ("open", True)


def test_marks_show_in_every_format() -> None:
    a, b = col("a"), col("b")
    first = night(0, [a, b])
    second = night(1, [a, col("c")])
    before = archive.with_history(first, archive.mark(first, None))
    marked = archive.with_history(second, archive.mark(second, previous_of(before, "drift-prod-20250301T020000Z.json")))
    html, md, txt = (render(marked, fmt) for fmt in ("html", "markdown", "text"))
    assert '<span class="mark mark-open">Still open since 2025-03-01</span>' in html
    assert '<span class="mark mark-new">New</span>' in html
    assert "Since the previous report (2025-03-01 02:00:00 UTC): 1 new, 1 still open, 1 resolved." in html
    assert "**INFO** · *Still open since 2025-03-01* ·" in md and "**INFO** · *New* ·" in md
    assert "- **Resolved:** Column users.b exists in the models but not in the database." in md
    assert "[info] [still open since 2025-03-01] Column users.a" in txt and "[info] [new] Column users.c" in txt
    assert "  [resolved] Column users.b exists in the models but not in the database." in txt
    document = json.loads(render(marked, "json"))
    assert document["history"]["counts"] == {"new": 1, "open": 1, "resolved": 1}


def test_without_history_the_report_is_unchanged() -> None:
    plain = night(0, [col("a")])
    assert "mark" not in render(plain, "html").split("</style>")[1]
    assert "history" not in json.loads(render(plain, "json"))


# --------------------------------------------------------------------------- the previous report


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_newest_report_of_the_environment_wins_whatever_the_file(tmp_path: Path) -> None:
    older = json.loads(render(night(0, [col("a")]), "json"))
    newer = json.loads(render(night(1, [col("b")]), "json"))
    other = json.loads(render(night(5, [col("z")], env="dev"), "json"))
    write_json(tmp_path / "drift-prod-20250301T020000Z.json", older)
    write_json(tmp_path / "drift-all-20250302T020000Z.json", {
        "document": "run", "environments": [
            {"name": "dev", "status": "checked", "report": other},
            {"name": "prod", "status": "checked", "report": newer},
            {"name": "staging", "status": "unreachable", "report": None},
        ]})
    (tmp_path / "drift-prod-20250309T020000Z.json").write_text("{ not json", encoding="utf-8")
    (tmp_path / "notes.json").write_text("[1, 2]", encoding="utf-8")
    found = archive.find_previous(tmp_path, "prod")
    assert found is not None
    assert (found.file, found.generated_at) == ("drift-all-20250302T020000Z.json", DAY1 + timedelta(days=1))
    assert [f["name"] for f in found.report["findings"]] == ["b"]
    assert archive.find_previous(tmp_path, "staging") is None
    assert archive.find_previous(tmp_path, "prod", exclude=[tmp_path / "drift-all-20250302T020000Z.json"]).file == \
        "drift-prod-20250301T020000Z.json"
    assert archive.find_previous(tmp_path / "missing", "prod") is None


def test_a_latest_copy_counts_when_it_is_newer(tmp_path: Path) -> None:
    write_json(tmp_path / "drift-prod-20250301T020000Z.json", json.loads(render(night(0, [col("a")]), "json")))
    write_json(tmp_path / "drift-prod-latest.json", json.loads(render(night(3, [col("q")]), "json")))
    assert archive.find_previous(tmp_path, "prod").file == "drift-prod-latest.json"


# --------------------------------------------------------------------------- pruning


def test_prune_keeps_the_newest_sets_per_name_and_nothing_else_goes(tmp_path: Path) -> None:
    names = []
    for day in range(4):
        for name in ("all", "prod"):
            for ext in ("html", "md", "json"):
                names.append(f"drift-{name}-2025030{day + 1}T020000Z.{ext}")
    names += ["drift-prod-latest.html", "drift-all-latest.json", "notes.txt", "drift-prod-20250301T020000Z.pdf",
              "drift-prod-20250301T020000Z.html.tmp"]
    for name in names:
        (tmp_path / name).write_text("x", encoding="utf-8")
    protect = [tmp_path / "drift-all-20250301T020000Z.html"]
    removed = archive.prune(tmp_path, 2, protect=protect)
    assert sorted(p.name for p in removed) == sorted(
        f"drift-{name}-2025030{day}T020000Z.{ext}" for name in ("all", "prod") for day in (1, 2)
        for ext in ("html", "md", "json") if (name, day, ext) != ("all", 1, "html")
    )
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "drift-all-20250301T020000Z.html" in left  # just written: never pruned
    for kept in ("drift-prod-latest.html", "drift-all-latest.json", "notes.txt", "drift-prod-20250301T020000Z.pdf",
                 "drift-prod-20250301T020000Z.html.tmp", "drift-prod-20250304T020000Z.json"):
        assert kept in left
    with pytest.raises(ConfigError, match="keep at least 1"):
        archive.prune(tmp_path, 0)


def test_report_links() -> None:
    path = Path("reports/drift-dev+prod-20250304T050607Z.html")
    assert archive.report_link(path, None) == str(path)
    assert archive.report_link(path, "https://r.example/nightly/{filename}") == \
        "https://r.example/nightly/drift-dev%2Bprod-20250304T050607Z.html"
    with pytest.raises(ConfigError, match="has no {filename}"):
        archive.check_report_url("https://r.example/")


# --------------------------------------------------------------------------- a run's report and its ticket


def hand_built_run() -> RunResult:
    a, b = col("a"), col("b")
    prod_first = night(0, [a, b])
    due = finding("add_column", "tasks", "Column tasks.due_date exists in the models but not in the database",
                  name="due_date", object_type="column", models=column("DATE"), cause="pending_migration")
    prod = night(1, [a, due])
    prod = Report(prod.environment, prod.database, prod.findings, 5, prod.generated_at, "0.1.0",
                  ("0001_initial",), None, state_behind(), ())
    prod = archive.with_history(prod, archive.mark(prod, previous_of(archive.with_history(
        prod_first, archive.mark(prod_first, None)), "drift-all-20250301T020000Z.json")))
    dev = night(1, [a], env="dev")
    dev = Report("dev", dev.database, dev.findings, 5, dev.generated_at, "0.1.0", ("0002_task_due_date",))
    dev = archive.with_history(dev, archive.mark(dev, None))
    return RunResult(
        environments=(
            EnvironmentResult("dev", "checked", dev, seconds=0.4),
            EnvironmentResult("prod", "checked", prod, seconds=2.5),
            EnvironmentResult("staging", "unreachable", reason="environment 'staging' at "
                              "postgresql+psycopg://app:***@db:5432/app (host db, port 5432): cannot connect: "
                              "Connection refused", seconds=0.1),
        ),
        generated_at=DAY1 + timedelta(days=1, minutes=1),
        tool_version="0.1.0",
        name="all",
        time_limit=600,
        pair=("dev", "prod"),
        comparison=diff_reports(dev, prod, None),
    )


@pytest.mark.parametrize("fmt, ext", [("html", "html"), ("markdown", "md"), ("text", "txt"), ("json", "json")])
def test_run_report_matches_golden(fmt: str, ext: str) -> None:
    text = render_run(hand_built_run(), fmt)
    path = GOLDEN / f"run.{ext}"
    if UPDATE:
        path.write_text(text, encoding="utf-8", newline="\n")
    assert text == path.read_text(encoding="utf-8")
    assert text == render_run(hand_built_run(), fmt)


def test_ticket_matches_golden() -> None:
    text = render_ticket(hand_built_run(), link="https://reports.example/drift-all-20250302T020100Z.html",
                         link_label="drift-all-20250302T020100Z.html")
    path = GOLDEN / "ticket.md"
    if UPDATE:
        path.write_text(text, encoding="utf-8", newline="\n")
    assert text == path.read_text(encoding="utf-8")


def test_ticket_stays_under_its_cap_and_says_what_it_left_out() -> None:
    many = [col(f"c{i:03d}", table=f"t{i % 7}") for i in range(300)]
    big = night(0, many)
    result = RunResult((EnvironmentResult("prod", "checked", archive.with_history(big, archive.mark(big, None))),),
                       DAY1, "0.1.0", name="prod")
    full = render_ticket(result)
    capped = render_ticket(result, max_chars=5_000)
    assert len(full) > 5_000 >= len(capped)
    shown = capped.count("\n- **INFO**")
    assert 0 < shown < 300
    assert f"- … and {300 - shown} more in the full report" in capped
    assert "**Full report:** not written in this run" in capped


def test_run_markdown_is_capped_across_environments() -> None:
    many = [col(f"c{i:03d}", table=f"t{i % 7}") for i in range(200)]
    result = RunResult(tuple(EnvironmentResult(env, "checked", night(0, many, env=env)) for env in ("dev", "prod")),
                       DAY1, "0.1.0")
    capped = render_run(result, "markdown", max_chars=20_000)
    assert len(capped) <= 20_000
    assert "### Schema drift: `dev`" in capped and "### Schema drift: `prod`" in capped
    assert "left out** to keep this report under 20,000 characters" in capped


def test_hostile_names_in_a_run_and_a_ticket_stay_text() -> None:
    evil = hostile_report()
    result = RunResult((EnvironmentResult(evil.environment, "checked", evil),), DAY1, "0.1.0")
    html = render_run(result, "html")
    assert "<script>" not in html.split("</style>", 1)[1]
    ticket = render_ticket(result, link="https://r.example/a b<x>.html", link_label="a<b>")
    assert "<script>" not in ticket and "<x>" not in ticket and "(<https://r.example/a%20b%3Cx%3E.html>)" in ticket


# --------------------------------------------------------------------------- the CLI, night after night


def invoke(project_config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["check", "--env", "t", "--config", str(project_config), *args], prog_name="drift")


def test_three_runs_through_the_cli(dialect: str, db_url: URL, tmp_path: Path) -> None:
    models = 'metadata = MetaData()\nTable("t", metadata, Column("id", Integer, primary_key=True), ' \
             'Column("x", Integer), Column("y", Integer))\n'
    build(db_url, 'metadata = MetaData()\nTable("t", metadata, Column("id", Integer, primary_key=True))\n')
    project = make_project(tmp_path / "project", db_url, models, drift_lines="report_url = https://r.example/{filename}")
    reports = tmp_path / "reports"
    args = ("--history", "--format", "markdown", "--output", f"{reports}/", "--keep", "2",
            "--ticket", str(tmp_path / "ticket.md"))

    first = invoke(project.config_path, *args)
    assert first.exit_code == 1, first.output
    lines = first.stdout.splitlines()
    assert lines[0] == "2 differences in 1 table"
    assert re.fullmatch(r"wrote .*/drift-t-\d{8}T\d{6}Z\.md", lines[1])
    assert re.fullmatch(r"wrote .*/drift-t-\d{8}T\d{6}Z\.json", lines[2])
    assert lines[3] == f"wrote {tmp_path / 'ticket.md'}"
    assert lines[4] == f"updated drift-t-latest in {reports}"
    ticket = (tmp_path / "ticket.md").read_text(encoding="utf-8")
    assert "**Full report:** [drift-t-" in ticket and "](<https://r.example/drift-t-" in ticket
    assert "New since the previous report:" in ticket

    second = invoke(project.config_path, *args)
    assert second.exit_code == 1
    latest = (reports / "drift-t-latest.md").read_text(encoding="utf-8")
    assert latest.count("*Still open since ") == 2

    execute(db_url, "ALTER TABLE t ADD COLUMN y INTEGER")  # fixes one of the two
    third = invoke(project.config_path, *args)
    assert third.exit_code == 1
    assert third.stdout.splitlines()[-1] == "removed 2 old report files (--keep 2)"
    document = json.loads((reports / "drift-t-latest.json").read_text(encoding="utf-8"))
    history = document["history"]
    assert history["counts"] == {"new": 0, "open": 1, "resolved": 1}
    assert [r["name"] for r in history["resolved"]] == ["y"]
    assert [f["name"] for f in document["findings"]] == ["x"]
    assert len(list(reports.glob("drift-t-2*.json"))) == 2
    ticket = (tmp_path / "ticket.md").read_text(encoding="utf-8")
    assert "Resolved since the previous report:" in ticket and "Still open:" in ticket
