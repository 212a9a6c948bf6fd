"""Runs over several environments: concurrency, unreachable environments, retries, time limits, the CLI.

Every database is real (SQLite files, and the PostgreSQL and MariaDB test
servers); the example application's models and migrations are the project.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

import dbs
import drift
import drift.causes
import drift.run
from drift.errors import ConnectError
from drift.run import EnvironmentResult, RunStoppedError, comparison_pair, run
from fleet import Fleet, closed_port, late_server, make_fleet, sqlite_dev_prod, sqlite_url
from scenarios import REPO, isolated_imports

PASSWORD = "Run-S3cret-pw-41x"
DUE_DATE = "add_column-c948954d61"  # tasks.due_date, added by 0002_task_due_date
EMAIL = "add_column-22b2037691"  # users.email, in the models with no migration


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    with isolated_imports():
        yield


@pytest.fixture
def dev_prod(tmp_path: Path) -> Fleet:
    """dev at head, prod one revision behind: both SQLite, so no server is needed."""
    return sqlite_dev_prod(tmp_path)


def findings(document: dict, env: str) -> dict[str, dict]:
    [entry] = [e for e in document["environments"] if e["name"] == env]
    return {f["id"]: f for f in entry["report"]["findings"]}


# --------------------------------------------------------------------------- choosing environments


def test_comparison_pair_prefers_configured_then_dev_and_prod(dev_prod: Fleet) -> None:
    config = drift.Config.load(dev_prod.config_path)
    assert comparison_pair(config, ["prod", "dev"]) == ("dev", "prod")
    assert comparison_pair(config, ["prod"]) is None
    dev_prod.write_config(drift_lines="diff_pair = prod -> dev")
    assert comparison_pair(drift.Config.load(dev_prod.config_path), ["dev", "prod"]) == ("prod", "dev")


def test_unknown_environment_is_refused_before_anything_connects(dev_prod: Fleet) -> None:
    result = dev_prod.invoke("check", "--env", "dev", "--env", "nope")
    assert result.exit_code == 2
    assert result.stderr == "drift: error: unknown environment 'nope' in config.ini; known environments: dev, prod\n"


@pytest.mark.parametrize("args, message", [
    (("--all", "--env", "dev"), "give --env NAME (repeat it for several) or --all, not both"),
    ((), "Missing option '--env'"),
    (("--env", "dev", "--history", "--output", "-"), "--history and --keep need a folder"),
])
def test_usage_errors(dev_prod: Fleet, args: tuple[str, ...], message: str) -> None:
    result = dev_prod.invoke("check", *args)
    assert result.exit_code == 2
    assert message in result.stderr


# --------------------------------------------------------------------------- one run, every dialect


def test_sqlite_postgresql_and_mariadb_in_one_run(tmp_path: Path, make_db: Callable[[str], URL]) -> None:
    urls = {"dev": make_db("sqlite"), "prod": make_db("postgresql"), "shop": make_db("mysql")}
    fleet = make_fleet(tmp_path / "project", urls)
    fleet.migrate("dev", "head")
    fleet.migrate("prod", "0001_initial")
    fleet.migrate("shop", "head")
    fleet.execute("shop", "ALTER TABLE users ADD COLUMN email VARCHAR(255)")  # by hand: shop matches the models

    result = fleet.invoke("check", "--all", "--format", "json", "--output", "-")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["document"] == "run"
    assert [(e["name"], e["status"], e["report"]["dialect"]) for e in document["environments"]] == [
        ("dev", "checked", "sqlite"), ("prod", "checked", "postgresql"), ("shop", "checked", "mysql"),
    ]
    assert set(findings(document, "dev")) == {EMAIL}
    assert set(findings(document, "prod")) == {EMAIL, DUE_DATE}
    assert findings(document, "prod")[DUE_DATE]["cause"] == "pending_migration"
    assert findings(document, "shop") == {}
    assert document["verdict"] == "3 environments: 2 with drift (dev, prod), 1 without drift (shop)"
    comparison = document["comparison"]
    assert (comparison["source"], comparison["target"]) == ("dev", "prod")
    assert comparison["revisions"]["summary"] == "prod is one revision behind dev (0002_task_due_date)."
    assert [(d["id"], d["relation"]) for d in comparison["differences"]] == [(DUE_DATE, "only_target")]
    assert "alembic -x env=prod upgrade 0002_task_due_date" in comparison["commands"]


def test_an_unreachable_environment_is_reported_and_the_others_still_checked(dev_prod: Fleet) -> None:
    port = closed_port()
    dev_prod.write_config(extra=f"[billing]\nurl = postgresql://app:{PASSWORD}@127.0.0.1:{port}/billing\n"
                                "connect_retries = 0\n")
    result = dev_prod.invoke("check", "--all", "--format", "json", "--output", "-")
    assert result.exit_code == 2, result.output
    assert PASSWORD not in result.output
    document = json.loads(result.stdout)
    statuses = {e["name"]: (e["status"], e["reason"]) for e in document["environments"]}
    assert statuses["dev"] == ("checked", None) and statuses["prod"] == ("checked", None)
    status, reason = statuses["billing"]
    assert status == "unreachable"
    assert reason.startswith(f"environment 'billing' at postgresql+psycopg://app:***@127.0.0.1:{port}/billing")
    assert "Connection refused" in reason
    assert document["verdict"] == "3 environments: 2 with drift (dev, prod), 1 not checked (billing)"

    text_result = dev_prod.invoke("check", "--all")
    assert text_result.exit_code == 2
    assert "billing  could not be reached: environment 'billing' at postgresql+psycopg://app:***@" in text_result.stdout
    assert "==== billing ====" in text_result.stdout and "==== dev ====" in text_result.stdout
    assert PASSWORD not in text_result.output


@pytest.mark.parametrize("parallel", ["threads", "processes"])
def test_progress_retries_and_debug_logs_never_show_the_password(dev_prod: Fleet, parallel: str) -> None:
    dev_prod.write_config(drift_lines=f"parallel = {parallel}",
                          extra=f"[billing]\nurl = postgresql://app:{PASSWORD}@127.0.0.1:{closed_port()}/billing\n"
                                "connect_retries = 1\nretry_backoff = 0.1\n")
    arguments = ("check", "--all", "--progress", "--debug", "--format", "json", "--output", "-")
    if parallel == "threads":
        result = dev_prod.invoke(*arguments)
        exit_code, stdout, stderr = result.exit_code, result.stdout, result.stderr
    else:  # a forked check logs to the real stderr, which only a real process shows
        done = subprocess.run([sys.executable, "-m", "drift", *arguments, "--config", str(dev_prod.config_path)],
                              capture_output=True, text=True, cwd=dev_prod.root, timeout=120,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(dev_prod.root)])})
        exit_code, stdout, stderr = done.returncode, done.stdout, done.stderr
    assert exit_code == 2, stderr
    assert "environment 'billing': cannot connect (" in stderr and "retrying in 0.1 s" in stderr
    assert "drift: billing: could not be reached: environment 'billing' at postgresql+psycopg://app:***@" in stderr
    assert PASSWORD not in stdout + stderr


def test_a_broken_section_fails_only_its_environment(dev_prod: Fleet) -> None:
    dev_prod.write_config(extra="[staging]\nurl = postgresql://app:${STAGING_PW}@db/app\n")
    result = run(dev_prod.config_path, None)
    staging = result.result("staging")
    assert staging is not None and staging.status == "failed"
    assert staging.reason == ("[staging] url uses ${STAGING_PW}, but the environment variable STAGING_PW is not set; "
                              "export STAGING_PW=… or write the value into the file")
    assert [e.status for e in result.environments] == ["checked", "checked", "failed"]
    assert result.exit_status == 2


# --------------------------------------------------------------------------- retries


@pytest.mark.postgresql
def test_a_server_that_comes_up_late_is_reached_by_retrying(tmp_path: Path, make_db: Callable[[str], URL]) -> None:
    live = make_db("postgresql")
    fleet = make_fleet(tmp_path / "project", {"prod": live})
    fleet.migrate("prod", "head")
    with late_server(live.port or 5432, delay=0.6) as port:
        fleet.urls["prod"] = live.set(port=port)
        fleet.write_config(env_lines={"prod": "connect_retries = 4\nretry_backoff = 0.25"})
        started = time.monotonic()
        report = drift.check(fleet.config_path, "prod", attribute=False)
        took = time.monotonic() - started
    assert report.database.url.endswith(f":{port}/{live.database}")
    assert [f.id for f in report.findings] == [EMAIL]
    assert took >= 0.5  # it waited for the server instead of failing at the first refusal


def test_without_retries_a_refused_connection_fails_at_once(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "project", {"prod": URL.create("postgresql", host="127.0.0.1", port=closed_port(),
                                                                  database="x", username="u")})
    fleet.write_config(env_lines={"prod": "connect_retries = 0\nretry_backoff = 5"})
    started = time.monotonic()
    with pytest.raises(ConnectError, match="Connection refused"):
        drift.check(fleet.config_path, "prod", attribute=False)
    assert time.monotonic() - started < 4


@pytest.mark.postgresql
def test_a_permanent_error_is_not_retried(tmp_path: Path) -> None:
    missing = dbs.server_url("postgresql").set(database="drift_no_such_db")
    fleet = make_fleet(tmp_path / "project", {"prod": missing})
    fleet.write_config(env_lines={"prod": "connect_retries = 3\nretry_backoff = 5"})
    started = time.monotonic()
    with pytest.raises(ConnectError, match="does not exist"):
        drift.check(fleet.config_path, "prod", attribute=False)
    assert time.monotonic() - started < 4  # one attempt, no 5 s backoff


def test_retry_settings_are_read_and_checked(dev_prod: Fleet) -> None:
    dev_prod.write_config(drift_lines="connect_retries = 5\nretry_backoff = 0.5", env_lines={"prod": "connect_retries = 0"})
    config = drift.Config.load(dev_prod.config_path)
    assert (config.environment("dev").connect_retries, config.environment("dev").retry_backoff) == (5, 0.5)
    assert config.environment("prod").connect_retries == 0
    dev_prod.write_config(drift_lines="connect_retries = lots")
    with pytest.raises(drift.errors.ConfigError, match="connect_retries = 'lots' must be a whole number from 0 to 10"):
        drift.Config.load(dev_prod.config_path).environment("dev")


# --------------------------------------------------------------------------- time limit and stopping


def _slow_check(slow: str, seen: list[str]) -> Callable[..., drift.Report]:
    """A check that for ``slow`` keeps sending statements to a SQLite database until it is stopped."""
    real = drift.run._check

    def check(config: object, env: str, **options: object) -> drift.Report:
        if env != slow:
            return real(config, env, **options)
        engine = create_engine("sqlite://", poolclass=NullPool)
        try:
            with engine.connect() as conn:
                while True:
                    try:
                        conn.execute(text("SELECT 1"))
                    except RunStoppedError:
                        seen.append("stopped")
                        raise
                    time.sleep(0.01)
        finally:
            engine.dispose()
            seen.append("ended")

    return check


def test_time_limit_reports_unfinished_environments_and_stops_them(
    dev_prod: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    monkeypatch.setattr(drift.run, "_check", _slow_check("prod", seen))
    started = time.monotonic()
    result = run(dev_prod.config_path, None, time_limit=1.5, processes=False)  # the thread's stop hook
    assert time.monotonic() - started < 5
    dev, prod = result.environments
    assert (dev.status, prod.status) == ("checked", "timed_out")
    assert prod.reason == "the time limit of 1.5 s expired before it finished"
    assert result.exit_status == 2
    assert result.comparison is None
    assert result.comparison_note == "dev and prod were not compared: prod was not checked"
    for _ in range(100):  # the stopped check ends at its next statement
        if seen == ["stopped", "ended"]:
            break
        time.sleep(0.05)
    assert seen == ["stopped", "ended"]


def test_time_limit_through_the_cli(dev_prod: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drift.run, "_check", _slow_check("prod", []))
    result = dev_prod.invoke("check", "--all", "--time-limit", "1", "--format", "json", "--output", "-")
    assert result.exit_code == 2
    [prod] = [e for e in json.loads(result.stdout)["environments"] if e["name"] == "prod"]
    assert (prod["status"], prod["reason"]) == ("timed_out", "the time limit of 1 s expired before it finished")
    single = dev_prod.invoke("check", "--env", "prod", "--time-limit", "1")
    assert single.exit_code == 2
    assert single.stderr == "drift: error: environment 'prod': the time limit of 1 s expired before it finished\n"


def test_progress_lines_go_to_stderr(dev_prod: Fleet) -> None:
    result = dev_prod.invoke("check", "--all", "--progress", "--format", "json", "--output", "-")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert sorted(lines[:2]) == ["drift: dev: checking", "drift: prod: checking"]
    assert sorted(re.sub(r" \(\d+\.\d s\)$", "", line) for line in lines[2:]) == [
        "drift: dev: 1 difference in 1 table", "drift: prod: 2 differences in 2 tables",
    ]
    json.loads(result.stdout)  # stdout stays clean
    assert dev_prod.invoke("check", "--all", "--format", "json", "--output", "-").stderr == ""  # not a terminal


# --------------------------------------------------------------------------- threads


def test_concurrent_checks_with_scratch_migrations_match_one_at_a_time(tmp_path: Path) -> None:
    # Four environments at different revisions: attribution migrates a scratch database for each, in its
    # own thread. Alembic's proxies are module-wide, so without one-at-a-time migrations they would cross.
    urls = {f"e{i}": sqlite_url(tmp_path / f"e{i}.db") for i in range(4)}
    fleet = make_fleet(tmp_path / "project", urls)
    for name, rev in zip(urls, ("head", "0001_initial", "head", "0001_initial")):
        fleet.migrate(name, rev)
    one_by_one = {name: [(f.id, f.cause) for f in drift.check(fleet.config_path, name).findings] for name in urls}
    before = signal.getsignal(signal.SIGTERM)
    together = run(fleet.config_path, None)
    assert signal.getsignal(signal.SIGTERM) is before
    assert {e.name: [(f.id, f.cause) for f in e.report.findings] for e in together.environments} == one_by_one
    assert one_by_one["e1"] == [(DUE_DATE, "pending_migration"), (EMAIL, "missing_migration")]


def test_a_run_started_outside_the_main_thread_leaves_signals_alone(dev_prod: Fleet) -> None:
    # A scheduler or a serverless runtime may call drift from a worker thread, where no signal handler
    # can be installed: the run must neither fail nor try.
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(run(dev_prod.config_path, ["dev", "prod"])))
    thread.start()
    thread.join(60)
    [result] = outcome
    assert [e.status for e in result.environments] == ["checked", "checked"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("server", [
    pytest.param("postgresql", marks=pytest.mark.postgresql), pytest.param("mysql", marks=pytest.mark.mysql),
])
def test_a_check_stopped_while_migrating_a_scratch_database_still_drops_it(
    server: str, tmp_path: Path, make_db: Callable[[str], URL], monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = make_fleet(tmp_path / "project", {"prod": make_db(server)})
    fleet.migrate("prod", "0001_initial")
    stop = drift.run._Stop("prod")
    real_upgrade = drift.causes.upgrade

    def upgrade_then_stop(*args: object, **kwargs: object) -> None:
        stop.set("the time limit of 1 s expired before it finished")  # the time limit, mid-migration
        real_upgrade(*args, **kwargs)

    monkeypatch.setattr(drift.causes, "upgrade", upgrade_then_stop)
    drift.run._install_stop_hook()
    before = {n for n in dbs.list_databases(server) if n.startswith("drift_scratch_")}
    outcome: list[BaseException | drift.Report] = []

    def stopped_check() -> None:
        drift.run._local.stop = stop
        try:
            outcome.append(drift.check(fleet.config_path, "prod"))
        except BaseException as exc:  # noqa: BLE001 - the outcome is what the test looks at
            outcome.append(exc)
        finally:
            drift.run._local.stop = None

    thread = threading.Thread(target=stopped_check)
    thread.start()
    thread.join(60)
    [ended] = outcome
    # Either the stop reached the top, or attribution gave up on causes and said why: the run discards it anyway.
    assert isinstance(ended, RunStoppedError) or any("stopped: the time limit" in n for n in ended.notes)
    assert {n for n in dbs.list_databases(server) if n.startswith("drift_scratch_")} == before


def test_cleanup_statements_pass_a_stopped_check() -> None:
    stop = drift.run._Stop("prod")
    stop.set("time is up")
    drift.run._local.stop = stop
    try:
        for allowed in ("DROP DATABASE IF EXISTS drift_scratch_x", "KILL CONNECTION 12", "ROLLBACK",
                        "SET statement_timeout = 30000",
                        "SET SESSION lock_wait_timeout = 30",
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s"):
            drift.run._refuse_when_stopped(None, None, allowed)
        with pytest.raises(RunStoppedError, match="environment 'prod': stopped: time is up"):
            drift.run._refuse_when_stopped(None, None, "SELECT * FROM users")
    finally:
        drift.run._local.stop = None


def test_environment_result_rejects_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="status 'gone'"):
        EnvironmentResult("x", "gone")


# --------------------------------------------------------------------------- the example, nightly


@pytest.mark.postgresql
def test_nightly_on_the_example_dev_sqlite_prod_postgresql(tmp_path: Path, make_db: Callable[[str], URL]) -> None:
    fleet = make_fleet(tmp_path / "project", {"dev": sqlite_url(tmp_path / "dev.db"),
                                              "prod": make_db("postgresql")})
    fleet.migrate("dev", "head")
    fleet.migrate("prod", "0001_initial")
    reports = tmp_path / "reports"
    args = ("check", "--all", "--format", "html", "--format", "markdown", "--format", "json",
            "--output", f"{reports}/")

    first = fleet.invoke(*args)
    assert first.exit_code == 1, first.output
    stamped = sorted(p.name for p in reports.iterdir() if not p.name.endswith(("-latest.html", "-latest.md",
                                                                                "-latest.json")))
    assert [re.sub(r"\d{8}T\d{6}Z", "STAMP", n) for n in stamped] == [
        "drift-all-STAMP.html", "drift-all-STAMP.json", "drift-all-STAMP.md",
    ]
    assert sorted(p.name for p in reports.glob("*-latest.*")) == [
        f"drift-{n}-latest.{e}" for n in ("all", "dev", "prod") for e in ("html", "json", "md")
    ]
    html = (reports / stamped[0]).read_text(encoding="utf-8")
    markdown = (reports / stamped[2]).read_text(encoding="utf-8")
    for body in (html, markdown):
        assert "Environment" in body and "prod is one revision behind dev (0002_task_due_date)." in body
        assert "alembic -x env=prod upgrade 0002_task_due_date" in body
    assert 'id="dev--env"' in html and 'id="prod--env"' in html and 'id="comparison"' in html
    assert "### `dev` vs `prod`" in markdown and "### Schema drift: `prod`" in markdown
    document = json.loads((reports / stamped[1]).read_text(encoding="utf-8"))
    marks = {e["name"]: e["report"]["history"]["findings"] for e in document["environments"]}
    assert {fid: m["status"] for fid, m in marks["prod"].items()} == {DUE_DATE: "new", EMAIL: "new"}

    fleet.migrate("prod", "head")  # deploy: fixes tasks.due_date in prod
    second = fleet.invoke(*args)
    assert second.exit_code == 1, second.output
    newest = max(reports.glob("drift-all-2*.json"))
    document = json.loads(newest.read_text(encoding="utf-8"))
    prod = next(e for e in document["environments"] if e["name"] == "prod")["report"]["history"]
    assert {fid: m["status"] for fid, m in prod["findings"].items()} == {EMAIL: "open"}
    assert [r["id"] for r in prod["resolved"]] == [DUE_DATE]
    dev = next(e for e in document["environments"] if e["name"] == "dev")["report"]["history"]
    assert dev["counts"] == {"new": 0, "open": 1, "resolved": 0}
    assert document["comparison"]["revisions"]["status"] == "same"
    latest = (reports / "drift-prod-latest.md").read_text(encoding="utf-8")
    assert "Still open since" in latest and "**Resolved:**" in latest
    assert len(list(reports.glob("drift-all-2*.html"))) == 2  # old reports are kept


def test_an_interrupted_write_leaves_every_file_whole(dev_prod: Fleet, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    reports = tmp_path / "reports"
    args = ("check", "--all", "--format", "html", "--format", "markdown", "--output", f"{reports}/")
    assert dev_prod.invoke(*args).exit_code == 1
    before = {p.name: p.read_bytes() for p in reports.iterdir()}
    calls = []
    real_replace = os.replace

    def interrupted(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr("drift.report.write.os.replace", interrupted)
    result = dev_prod.invoke(*args)
    assert result.exit_code == 130
    after = {p.name: p.read_bytes() for p in reports.iterdir()}
    assert not [n for n in after if n.endswith(".tmp")]  # no partial file
    assert all(after[name] == data for name, data in before.items())  # earlier reports untouched
    new = sorted(set(after) - set(before))
    assert len(new) == 2  # the two replaced before the interruption, each complete
    for name in new:
        if name.endswith(".json"):
            json.loads(after[name])
        else:
            assert after[name].rstrip().endswith((b"</html>", b"</sub>"))


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_environments_at_the_same_revision_share_each_scratch_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: bool
) -> None:
    fleet = make_fleet(tmp_path / "project", {"dev": sqlite_url(tmp_path / "dev.db"),
                                              "prod": sqlite_url(tmp_path / "prod.db")})
    fleet.migrate("dev", "0001_initial")
    fleet.migrate("prod", "0001_initial")
    built = tmp_path / "built.txt"  # a file: a forked check's list would stay in its own process
    real = drift.causes.scratch_database

    def counted(target: Any) -> Any:
        with built.open("a", encoding="utf-8") as out:
            out.write(f"{target.family}\n")
        return real(target)

    monkeypatch.setattr(drift.causes, "scratch_database", counted)
    folders: list[Path] = []

    class Recorded(drift.run.SharedLayersOnDisk):
        def __init__(self, folder: Path) -> None:
            folders.append(folder)
            super().__init__(folder)

    monkeypatch.setattr(drift.run, "SharedLayersOnDisk", Recorded)
    result = run(fleet.config_path, ["dev", "prod"], processes=processes, time_limit=120)

    assert [e.status for e in result.environments] == ["checked", "checked"]
    # One scratch database for both: the recorded revision and head, built once, used by each.
    assert built.read_text(encoding="utf-8").split() == ["sqlite"]
    dev, prod = (e.report for e in result.environments)
    assert dev is not None and prod is not None
    assert [(f.id, f.cause) for f in dev.findings] == [(f.id, f.cause) for f in prod.findings]
    assert {f.cause for f in dev.findings} == {"pending_migration", "missing_migration"}
    # In processes the layers went through the run's own folder, removed with the run.
    assert len(folders) == (1 if processes else 0)
    assert not any(folder.exists() for folder in folders)


def test_checks_in_processes_give_the_same_reports_as_threads(dev_prod: Fleet) -> None:
    threads = run(dev_prod.config_path, ["dev", "prod"])
    # A time limit, so that a check stuck in its process fails the test instead of hanging it.
    processes = run(dev_prod.config_path, ["dev", "prod"], processes=True, time_limit=120)

    def summary(result: Any) -> list[Any]:
        return [(e.name, e.status, [(f.id, f.cause, f.severity) for f in e.report.findings])
                for e in result.environments]

    assert summary(processes) == summary(threads)
    assert processes.exit_status == threads.exit_status == 1
    assert processes.comparison is not None and threads.comparison is not None
    assert processes.comparison.to_dict()["differences"] == threads.comparison.to_dict()["differences"]


def test_processes_from_config_and_errors_reported_as_in_threads(dev_prod: Fleet, tmp_path: Path) -> None:
    dev_prod.urls["broken"] = URL.create("postgresql+psycopg", host="127.0.0.1", port=closed_port(), database="x")
    dev_prod.write_config(drift_lines="parallel = processes")
    result = run(dev_prod.config_path, ["dev", "broken"], time_limit=120)
    assert [e.status for e in result.environments] == ["checked", "unreachable"]
    assert "127.0.0.1" in (result.environments[1].reason or "")

    dev_prod.write_config(drift_lines="parallel = sometimes")
    with pytest.raises(drift.errors.ConfigError, match="parallel must be auto, threads or processes"):
        run(dev_prod.config_path, ["dev", "prod"])


def test_a_time_limit_stops_checks_in_processes(dev_prod: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    real = drift.run._check

    def slow(config: Any, name: str, **options: Any) -> Any:
        if name == "prod":
            time.sleep(60)
        return real(config, name, **options)

    monkeypatch.setattr(drift.run, "_check", slow)  # inherited by the forked processes
    started = time.monotonic()
    result = run(dev_prod.config_path, ["dev", "prod"], time_limit=5, processes=True)
    assert time.monotonic() - started < 40
    assert [e.status for e in result.environments] == ["checked", "timed_out"]
