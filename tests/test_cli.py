"""The ``drift`` command in-process: version, help, ``envs``, exit statuses, JSON and text output, report files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import URL

import drift
from drift.cli import cli
from scenarios import Project, build, isolated_imports, make_project

PASSWORD = "S3cr3t-pw-9xq"
TABLE = 'metadata = MetaData()\nTable("t", metadata, Column("id", Integer, primary_key=True){extra})\n'
CLEAN = TABLE.format(extra="")
DRIFTED = TABLE.format(extra=', Column("x", Integer)')

FINDING_FIELDS = {
    "id", "kind", "object_type", "schema", "table", "name", "message", "models", "database",
    "severity", "cause", "cause_detail", "upgrade_code", "downgrade_code",
}


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    with isolated_imports():
        yield


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or {}, prog_name="drift")


def check(project: Project, *args: str) -> Result:
    return invoke("check", "--env", project.env, "--config", str(project.config_path), *args)


def sqlite_project(root: Path, models: str) -> Project:
    root.mkdir(parents=True)
    url = URL.create("sqlite+pysqlite", database=str(root / "app.db"))
    build(url, CLEAN)
    return make_project(root, url, models)


@pytest.fixture
def clean(tmp_path: Path) -> Project:
    """A SQLite project whose database matches its models."""
    return sqlite_project(tmp_path / "clean", CLEAN)


@pytest.fixture
def drifted(tmp_path: Path) -> Project:
    """A SQLite project whose models have one column more than its database."""
    return sqlite_project(tmp_path / "drifted", DRIFTED)


# --------------------------------------------------------------------------- version and help


def test_version() -> None:
    result = invoke("--version")
    assert (result.exit_code, result.stdout) == (0, f"drift {drift.__version__}\n")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("command", list(_commands(cli)), ids=lambda c: " ".join(("drift", *c)))
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    for flag in ("--help", "-h"):
        result = invoke(*command, flag)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"Usage: drift {' '.join(command)}".rstrip() + " ")
        assert "Example" in result.stdout
        assert "\n    drift " in result.stdout  # the example is a command line, indented


def test_usage_errors_are_status_2(clean: Project) -> None:
    missing = invoke("check", "--config", str(clean.config_path))
    assert missing.exit_code == 2
    assert "Missing option '--env'" in missing.stderr
    wrong = check(clean, "--format", "yaml")
    assert wrong.exit_code == 2
    assert "Invalid value for '--format'" in wrong.stderr


# --------------------------------------------------------------------------- envs


def test_envs_lists_environments_with_masked_passwords(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text(
        "[drift]\nmodels = app:Base\n\n"
        f"[prod]\nurl = postgresql://app:{PASSWORD}@db.internal/app\n\n"
        "[staging]\ndialect = mysql\nhost = db\nuser = root\npassword = ${STAGING_PW}\ndatabase = shop\n\n"
        "[dev]\ndialect = sqlite\ndatabase = dev.db\n\n"
        "[logging]\nlevel = INFO\n",
        encoding="utf-8",
    )
    result = invoke("envs", "--config", str(tmp_path / "config.ini"), env={"STAGING_PW": "An0ther-pw-7yz"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"dev\tsqlite\tsqlite+pysqlite:///{tmp_path}/dev.db",
        "prod\tpostgresql\tpostgresql+psycopg://app:***@db.internal/app",
        "staging\tmysql\tmysql+pymysql://root:***@db/shop",
    ]
    assert PASSWORD not in result.output and "An0ther-pw-7yz" not in result.output


def test_envs_shows_a_broken_environment_and_keeps_going(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text(
        "[drift]\nmodels = app:Base\n\n"
        "[a]\nurl = postgresql://app:${A_PW}@db/app\n\n"
        f"[b]\nurl = postgresql://app:{PASSWORD}@db/app\nport = 5432\n",
        encoding="utf-8",
    )
    result = invoke("envs", "--config", str(tmp_path / "config.ini"))
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "a\t?\t[a] url uses ${A_PW}, but the environment variable A_PW is not set; export A_PW=… or write the value "
        "into the file",
        "b\t?\t[b] has both url and port; keep one way of naming the database",
    ]
    assert PASSWORD not in result.output


def test_envs_without_environments(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("[drift]\nmodels = app:Base\n", encoding="utf-8")
    result = invoke("envs", "--config", str(tmp_path / "config.ini"))
    assert (result.exit_code, result.stdout) == (
        0, "no environments in config.ini (a section needs url = … or dialect = …)\n",
    )


# --------------------------------------------------------------------------- check: statuses and text


def test_check_clean_is_status_0(clean: Project) -> None:
    result = check(clean)
    assert result.exit_code == 0, result.output
    assert "No drift: the database matches the models (1 table compared)" in result.stdout.splitlines()
    assert result.stderr == ""


def test_check_drift_is_status_1(drifted: Project) -> None:
    result = check(drifted)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("drift check: t (sqlite+pysqlite:///")
    assert "1 difference in 1 table" in lines
    assert any("Column t.x exists in the models but not in the database" in line for line in lines)
    assert result.stderr == ""


def test_quiet_prints_nothing_but_keeps_the_status(clean: Project, drifted: Project) -> None:
    assert (check(clean, "-q").exit_code, check(clean, "-q").stdout) == (0, "")
    assert (check(drifted, "--quiet").exit_code, check(drifted, "--quiet").stdout) == (1, "")


def test_check_status_on_every_dialect(dialect: str, db_url: URL, tmp_path: Path) -> None:
    build(db_url, CLEAN)
    assert check(make_project(tmp_path / "clean", db_url, CLEAN)).exit_code == 0
    assert check(make_project(tmp_path / "drifted", db_url, DRIFTED)).exit_code == 1


# --------------------------------------------------------------------------- check: JSON


def test_json_to_stdout(dialect: str, db_url: URL, tmp_path: Path) -> None:
    build(db_url, CLEAN)
    # PostgreSQL trusts local logins, so a password in the URL is accepted and ignored: plant one.
    url = db_url.set(password=PASSWORD) if dialect == "postgresql" else db_url
    project = make_project(tmp_path / "project", url, DRIFTED)
    result = check(project, "--format", "json", "--output", "-")
    assert result.exit_code == 1, result.output
    assert result.stderr == ""
    assert PASSWORD not in result.stdout
    document = json.loads(result.stdout)

    assert document["schema_version"] == 1
    assert document["tool_version"] == drift.__version__
    assert document["generated_at"].endswith("+00:00")
    assert document["environment"] == "t"
    assert document["url"] == db_url.set(password=PASSWORD if dialect == "postgresql" else None).render_as_string(
        hide_password=True
    )
    assert document["dialect"] == {"mysql": "mysql", "postgresql": "postgresql", "sqlite": "sqlite"}[dialect]
    assert document["server_version"].startswith({"sqlite": "SQLite 3.", "postgresql": "PostgreSQL ",
                                                   "mysql": "MariaDB "}[dialect])
    assert document["has_drift"] is True
    assert document["verdict"] == "1 difference in 1 table"
    [finding] = document["findings"]
    assert FINDING_FIELDS <= set(finding)
    assert {k: finding[k] for k in ("kind", "object_type", "schema", "table", "name", "message", "database")} == {
        "kind": "add_column",
        "object_type": "column",
        "schema": None,
        "table": "t",
        "name": "x",
        "message": "Column t.x exists in the models but not in the database",
        "database": None,
    }
    assert finding["models"] == {"type": "INTEGER", "nullable": True, "default": None, "comment": None,
                                 "primary_key": False}
    assert finding["id"].startswith("add_column-")
    assert finding["upgrade_code"].splitlines()[-1].strip() in (
        "op.add_column('t', sa.Column('x', sa.Integer(), nullable=True))",
        "batch_op.add_column(sa.Column('x', sa.Integer(), nullable=True))",
    )


def test_json_defaults_to_stdout(clean: Project) -> None:
    result = check(clean, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["findings"] == []


def test_json_is_stable_apart_from_the_time(drifted: Project) -> None:
    first, second = (json.loads(check(drifted, "--format", "json").stdout) for _ in range(2))
    first.pop("generated_at")
    second.pop("generated_at")
    assert first == second


# --------------------------------------------------------------------------- check: report files


def test_output_file_is_written_whole_and_replaces_the_old_one(drifted: Project, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    target.write_text("the previous report\n", encoding="utf-8")
    result = check(drifted, "--format", "json", "--output", str(target))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["1 difference in 1 table", f"wrote {target}"]
    assert json.loads(target.read_text(encoding="utf-8"))["verdict"] == "1 difference in 1 table"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]  # no temporary file left


def test_output_file_is_untouched_when_the_check_fails(drifted: Project, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("the previous report\n", encoding="utf-8")
    (drifted.root / "alembic.ini").unlink()
    result = check(drifted, "--format", "json", "--output", str(target))
    assert result.exit_code == 2
    assert target.read_text(encoding="utf-8") == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["report.json"]


def test_output_directory_gets_a_named_report(drifted: Project, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    result = check(drifted, "--format", "json", "--output", str(folder))
    assert result.exit_code == 1
    [written] = list(folder.iterdir())
    assert written.name.startswith("drift-t-") and written.name.endswith("Z.json")
    assert result.stdout.splitlines() == ["1 difference in 1 table", f"wrote {written}"]


def test_only_one_format_can_go_to_stdout(drifted: Project) -> None:
    result = check(drifted, "--format", "json", "--format", "text", "--output", "-")
    assert result.exit_code == 2
    assert result.stderr == "drift: error: only one --format can go to stdout; use --output DIR for several\n"


def test_nothing_but_errors_on_stderr_even_for_an_unnamed_constraint(tmp_path: Path) -> None:
    # A process of its own: pytest would otherwise catch the Python warning before it reached stderr.
    root = tmp_path / "project"
    root.mkdir()
    url = URL.create("sqlite+pysqlite", database=str(root / "app.db"))
    build(url, TABLE.format(extra=', Column("x", Integer)'))
    project = make_project(root, url, TABLE.format(extra=', Column("x", Integer), UniqueConstraint("x")'))
    done = subprocess.run(
        [sys.executable, "-m", "drift", "check", "--env", project.env, "--config", str(project.config_path)],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("DRIFT_")},
    )
    assert done.returncode == 1
    assert done.stderr == ""
    assert "Unique constraint (unnamed) on t (x) exists in the models but not in the database" in done.stdout


def test_relative_script_location_is_read_from_the_folder_of_alembic_ini(
    clean: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # alembic itself would look for it in the current directory; drift is run from anywhere.
    (clean.root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = check(clean)
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- failures that are not drift's own


def _raising(exc: BaseException):  # type: ignore[no-untyped-def]
    def run_check(*args: object, **kwargs: object) -> None:
        raise exc

    return run_check


def test_an_unexpected_error_is_one_masked_line(clean: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drift.cli.run_check", _raising(RuntimeError(f"boom at postgresql://u:{PASSWORD}@h/d")))
    result = check(clean)
    assert result.exit_code == 2
    assert result.stderr == (
        "drift: error: unexpected RuntimeError: boom at postgresql://u:***@h/d (rerun with --debug for the traceback)\n"
    )
    debug = check(clean, "--debug")
    assert debug.exit_code == 2
    assert "Traceback (most recent call last):" in debug.stderr
    assert PASSWORD not in debug.stderr


def test_ctrl_c_is_status_130(clean: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drift.cli.run_check", _raising(KeyboardInterrupt()))
    result = check(clean)
    assert (result.exit_code, result.stdout) == (130, "")
    assert result.stderr == "drift: error: interrupted; no report was written or changed\n"
