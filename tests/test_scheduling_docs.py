"""docs/scheduling.md stays true: its drift commands run as written, its handler runs, its schedules parse.

Every ``drift`` command in the page's code blocks (the cron line, systemd's
``ExecStart=``, the CI ``run:`` and ``script:`` lines, the plain shell
examples) is taken out of its block exactly as written and run in a test
project: ``config.ini`` in the current folder, ``dev`` at head and ``prod``
one revision behind, both SQLite. Nightly commands run twice, so the second
run marks what the first found.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from drift.cli import cli
from fleet import Fleet, make_fleet
from scenarios import REPO, isolated_imports
from sqlalchemy.engine import URL

DOC = REPO / "docs" / "scheduling.md"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```", re.M | re.S)
# What may stand before a command on its line: systemd's key, a YAML list dash or run: key.
LEAD = re.compile(r"^(?:ExecStart=|-\s+|run:\s*)")


def blocks() -> list[tuple[str, str]]:
    return [(m.group("lang"), m.group("body")) for m in FENCE.finditer(DOC.read_text(encoding="utf-8"))]


def drift_commands(body: str) -> list[list[str]]:
    """The arguments of every ``drift`` command in a block (``.venv/bin/drift check …`` → ``[check, …]``)."""
    found = []
    for raw in body.splitlines():
        line = LEAD.sub("", raw.strip())
        if not line or line.startswith("#"):
            continue
        for piece in re.split(r"\s*(?:&&|\|\||;)\s*", line):
            try:
                words = shlex.split(piece, comments=True)
            except ValueError:
                continue
            if words and (words[0] == "drift" or words[0].endswith("/drift")):
                found.append(words[1:])
    return found


def block_with(marker: str) -> str:
    matches = [body for _, body in blocks() if marker in body]
    assert matches, f"docs/scheduling.md has no code block with {marker!r}"
    return matches[0]


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    with isolated_imports():
        yield


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    fleet = make_fleet(tmp_path / "app", {
        "dev": URL.create("sqlite+pysqlite", database=str(tmp_path / "dev.db")),
        "prod": URL.create("sqlite+pysqlite", database=str(tmp_path / "prod.db")),
    }, env_lines={"prod": "connect_retries = 0"})
    fleet.migrate("dev", "head")
    fleet.migrate("prod", "0001_initial")
    monkeypatch.chdir(fleet.root)  # the documented commands read ./config.ini and write ./reports/
    monkeypatch.delenv("DRIFT_CONFIG", raising=False)
    return fleet


def run_as_written(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, prog_name="drift", env={"DRIFT_CONFIG": ""})
    return result.exit_code, result.stdout, result.stderr


# --------------------------------------------------------------------------- the commands


def test_every_scheduler_has_a_drift_command() -> None:
    for marker in ("15 2 * * *  cd", "ExecStart=", "schedule:", "CI_PIPELINE_SOURCE", "drift diff --from"):
        assert drift_commands(block_with(marker)), f"no drift command in the block with {marker!r}"


@pytest.mark.parametrize("marker", ["drift check --all --format html", "15 2 * * *  cd", "ExecStart=", "schedule:",
                                    "CI_PIPELINE_SOURCE"])
def test_nightly_commands_run_as_written(project: Fleet, marker: str) -> None:
    [args] = [a for a in drift_commands(block_with(marker)) if a[:1] == ["check"]]
    reports = project.root / "reports"
    first = run_as_written(args)
    assert first[0] == 1, first  # dev and prod have drift; both were checked
    assert first[2] == "", first[2]
    second = run_as_written(args)
    assert second[0] == 1, second

    runs = sorted(reports.glob("drift-all-2*.json"))
    assert len(runs) == 2 or (len(runs) == 1 and "--keep" in args)
    document = json.loads(runs[-1].read_text(encoding="utf-8"))
    assert [e["status"] for e in document["environments"]] == ["checked", "checked"]
    prod = next(e for e in document["environments"] if e["name"] == "prod")["report"]["history"]
    assert set(m["status"] for m in prod["findings"].values()) == {"open"}  # the second night saw them before
    assert document["comparison"]["revisions"]["summary"] == "prod is one revision behind dev (0002_task_due_date)."
    for name in ("dev", "prod", "all"):
        for ext in ("html", "md", "json"):
            assert (reports / f"drift-{name}-latest.{ext}").is_file()
    if "--ticket" in args:
        ticket = Path(args[args.index("--ticket") + 1]).read_text(encoding="utf-8")
        assert ticket.startswith("## drift: 2 environments: 2 with drift (dev, prod)")
        assert "alembic -x env=prod upgrade 0002_task_due_date" in ticket


def test_the_diff_command_runs_as_written(project: Fleet) -> None:
    [args] = [a for a in drift_commands(block_with("drift diff --from")) if a[:1] == ["diff"]]
    status, out, err = run_as_written(args)
    assert status == 1, (out, err)
    assert out.splitlines()[:2] == [
        "dev vs prod: 1 difference between dev and prod",
        "  prod is one revision behind dev (0002_task_due_date).",
    ]


def test_the_config_keys_the_page_shows_are_accepted(project: Fleet) -> None:
    ini = block_with("report_url =")
    project.write_config(drift_lines=ini.replace("[drift]", "").strip())
    status, _, err = run_as_written(["check", "--all", "--output", "reports/", "--format", "markdown",
                                     "--ticket", "ticket.md"])
    assert status == 1, err
    ticket = (project.root / "ticket.md").read_text(encoding="utf-8")
    assert "](<https://reports.example/nightly/drift-all-" in ticket


# --------------------------------------------------------------------------- the schedules themselves


def test_cron_line_has_five_time_fields() -> None:
    line = next(ln for ln in block_with("15 2 * * *  cd").splitlines() if not ln.startswith("#"))
    fields = line.split()[:5]
    assert fields == ["15", "2", "*", "*", "*"]
    workflow = block_with("schedule:")
    [cron] = re.findall(r'cron:\s*"([^"]+)"', workflow)
    assert len(cron.split()) == 5


def test_systemd_units_are_well_formed() -> None:
    service = block_with("ExecStart=")
    timer = block_with("OnCalendar=")
    assert "Type=oneshot" in service and "SuccessExitStatus=1" in service
    [calendar] = re.findall(r"^OnCalendar=(.+)$", timer, flags=re.M)
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed; the calendar expression is not checked")
    done = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    timeout = re.search(r"^TimeoutStartSec=(\d+)min$", service, flags=re.M)
    limit = re.search(r"--time-limit (\d+)", service)
    assert timeout and limit and int(timeout.group(1)) * 60 > int(limit.group(1))


# --------------------------------------------------------------------------- the Python handler


def test_the_serverless_handler_runs_with_a_test_config(project: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    source = next(body for lang, body in blocks() if lang == "python" and "def handler" in body)
    namespace: dict[str, object] = {"__name__": "handler_from_docs"}
    exec(compile(source, str(DOC), "exec"), namespace)
    handler = namespace["handler"]
    monkeypatch.setenv("DRIFT_CONFIG", str(project.config_path))
    result = handler({"environments": ["prod"]}, None)  # type: ignore[operator]
    assert result == {"prod": {"drift": True, "verdict": "2 differences in 2 tables",
                               "findings": ["add_column-c948954d61", "add_column-22b2037691"]}}
    everything = handler({}, None)  # type: ignore[operator]
    assert sorted(everything) == ["dev", "prod"]
    assert everything["dev"]["verdict"] == "1 difference in 1 table"
