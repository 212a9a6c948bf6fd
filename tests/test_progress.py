"""Progress of one check: tables reflected and compared, on every dialect; a line on stderr from the CLI."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

import drift
from drift.cli import cli
from scenarios import build, make_project

MODELS = """
metadata = sa.MetaData()
for i in range(5):
    sa.Table(f"t{i}", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20)))
sa.Table("only_in_models", metadata, sa.Column("id", sa.Integer, primary_key=True))
"""

DATABASE = sa.MetaData()
for _i in range(5):
    sa.Table(f"t{_i}", DATABASE, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(20)))
sa.Table("only_in_database", DATABASE, sa.Column("id", sa.Integer, primary_key=True))


def test_check_reports_tables_reflected_and_compared(db_url: sa.URL, tmp_path: Path) -> None:
    build(db_url, DATABASE)
    project = make_project(tmp_path / "p", db_url, MODELS)
    calls: list[tuple[str, int, int]] = []
    report = drift.check(project.config_path, project.env, progress=lambda *call: calls.append(call))

    assert {"add_table", "remove_table"} <= {f.kind for f in report.findings}
    reflected = [c for c in calls if c[0] == "reflected"]
    compared = [c for c in calls if c[0] == "compared"]
    # The database has 6 tables, the models one more.
    assert reflected[-1] == ("reflected", 6, 6)
    assert compared[-1] == ("compared", 7, 7)
    assert [c[1] for c in compared] == list(range(1, 8))
    assert [c[1] for c in reflected] == list(range(1, 7))


def test_without_a_callback_the_check_is_the_same(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    url = sa.URL.create("sqlite+pysqlite", database=str(db))
    build(url, DATABASE)
    project = make_project(tmp_path / "p", url, MODELS)
    assert {"add_table", "remove_table"} <= {f.kind for f in drift.check(project.config_path, project.env).findings}


def test_cli_progress_lines_on_stderr(tmp_path: Path) -> None:
    url = sa.URL.create("sqlite+pysqlite", database=str(tmp_path / "x.db"))
    build(url, DATABASE)
    project = make_project(tmp_path / "p", url, MODELS)
    args = ["check", "--env", project.env, "--config", str(project.config_path), "--format", "json", "--output", "-"]

    shown = CliRunner().invoke(cli, [*args, "--progress"], prog_name="drift")
    assert shown.exit_code == 1, shown.output
    assert "drift: t: compared 7/7 tables" in shown.stderr
    assert "drift: t: reflected 6/6 tables" in shown.stderr

    # Not a terminal and not asked for: nothing but the report.
    quiet = CliRunner().invoke(cli, args, prog_name="drift")
    assert quiet.exit_code == 1
    assert "tables" not in quiet.stderr
