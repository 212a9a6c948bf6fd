"""Safety, never loses the last good report: failed, interrupted and simultaneous runs leave earlier reports whole.

Each test first makes a good report set in the folder (a nightly
``drift check --all`` to ``reports/``), then breaks the next run: the folder
is not a folder (a path under a regular file: ENOTDIR, which stops root
too), the disk fills (a 1 MiB tmpfs mounted for the test, filled up), SIGTERM or
Ctrl-C (SIGINT) reach a real ``drift`` process while it reflects through a
slowed proxy or while it migrates a scratch database, two runs write to the
same folder at once. Afterwards: every earlier file is byte for byte as it
was, no ``.tmp`` file is left, every file there is whole, the scratch
databases are gone, and the exit status is the documented one (2 could not
write, 130 interrupted).

Already proven elsewhere (docs/safety.md lists them): write_atomic keeps the
old file on an OSError or an interrupt mid-write
(tests/test_report_write.py::test_an_oserror_mid_write_keeps_the_old_file_and_no_temporary,
::test_an_interrupt_mid_write_keeps_the_old_file_and_no_temporary), a
failing renderer writes nothing
(tests/test_report_write.py::test_a_failing_renderer_leaves_every_earlier_report_untouched),
an interrupt between two files of a run
(tests/test_run.py::test_an_interrupted_write_leaves_every_file_whole), and
SIGTERM while attributing one environment
(tests/test_causes.py::test_sigterm_while_attributing_removes_the_scratch_database).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

import dbs
import faults
from fleet import Fleet, make_fleet, sqlite_dev_prod, sqlite_url
from scenarios import REPO, isolated_imports, render_url

REPORT_ARGS = ("--format", "html", "--format", "markdown", "--format", "text")
FIGURES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    with isolated_imports():
        yield


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    """dev at head, prod one revision behind, both SQLite: a run has drift (status 1) and needs no server."""
    return sqlite_dev_prod(tmp_path)


def drift_process(fleet: Fleet, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])  # the example's models package
    return subprocess.Popen(
        [sys.executable, "-m", "drift", *args, "--config", str(fleet.config_path)],
        cwd=fleet.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def assert_whole(folder: Path) -> None:
    """No temporary file, and every report there is complete."""
    for path in folder.iterdir():
        assert not path.name.endswith(".tmp") and not path.name.startswith("."), path.name
        data = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".html":
            assert data.rstrip().endswith("</html>"), path.name
        else:
            assert data.strip(), path.name


def good_set(fleet: Fleet, reports: Path) -> dict[str, bytes]:
    result = fleet.invoke("check", "--all", *REPORT_ARGS, "--output", f"{reports}/")
    assert result.exit_code == 1, result.output
    before = contents(reports)
    assert len(before) >= 8  # a run's html, md, txt, json, and latest copies of each
    return before


def record(name: str, outcome: str) -> None:
    FIGURES[name] = outcome
    faults.figure("reports", dict(sorted(FIGURES.items())))


# --------------------------------------------------------------------------- nowhere to write


def test_a_report_folder_that_is_a_file(fleet: Fleet, tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder\n", encoding="utf-8")
    result = fleet.invoke("check", "--all", *REPORT_ARGS, "--output", f"{blocker}/nightly/")
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("drift: error: cannot write report"), result.stderr
    assert "Not a directory" in lines[0] and "Traceback" not in result.output
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
    record("report folder is a file (ENOTDIR)", "exit 2, one line")


@contextlib.contextmanager
def tiny_disk(folder: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder``; skips when this machine cannot mount one."""
    folder.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); "
                    "tests/test_report_write.py simulates the full disk instead")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=10)


def test_a_full_disk_keeps_the_earlier_reports(fleet: Fleet, tmp_path: Path) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        reports = disk / "reports"
        before = good_set(fleet, reports)
        # Fill what is left, so the next run's first temporary file cannot be written whole.
        with open(disk / "filler", "wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 4096)
        result = fleet.invoke("check", "--all", *REPORT_ARGS, "--output", f"{reports}/")
        assert result.exit_code == 2, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and "No space left on device" in lines[0], result.stderr
        assert "the earlier report is unchanged" in lines[0]
        assert contents(reports) == before
        assert_whole(reports)
    record("disk full (tmpfs filled up)", "exit 2, one line, earlier reports byte-identical")


# --------------------------------------------------------------------------- SIGTERM and Ctrl-C


@pytest.fixture
def slow_prod(tmp_path: Path, make_db: Callable[[str], URL]) -> Iterator[tuple[Fleet, faults.Proxy, faults.Proxy]]:
    """dev on SQLite; prod on PostgreSQL, one revision behind, reached (and its scratch server too) through slow proxies."""
    prod = make_db("postgresql")
    fleet = make_fleet(tmp_path / "project", {"dev": sqlite_url(tmp_path / "dev.db"), "prod": prod})
    fleet.migrate("dev", "head")
    fleet.migrate("prod", "0001_initial")
    server = dbs.server_url("postgresql")
    good_set(fleet, tmp_path / "reports")  # the last good report, at full speed
    with faults.proxy(server.port or 5432, delay=0.03, lifetime=60) as live, \
            faults.proxy(server.port or 5432, delay=0.01, lifetime=60) as scratch:
        fleet.urls["prod"] = prod.set(port=live.port)
        fleet.write_config()
        text = fleet.config_path.read_text(encoding="utf-8").replace(
            f"scratch_url = {render_url(server)}", f"scratch_url = {render_url(server.set(port=scratch.port))}"
        )
        fleet.config_path.write_text(text, encoding="utf-8")
        yield fleet, live, scratch


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "signum, phase",
    [(signal.SIGINT, "reflecting"), (signal.SIGTERM, "migrating a scratch database")],
    ids=["SIGINT-reflecting", "SIGTERM-migrating"],
)
def test_a_signal_mid_run(signum: int, phase: str, slow_prod: tuple[Fleet, faults.Proxy, faults.Proxy],
                          tmp_path: Path) -> None:
    fleet, live, scratch = slow_prod
    reports = tmp_path / "reports"
    before = contents(reports)
    scratch_before = faults.scratch_databases("postgresql")
    watched = live if phase == "reflecting" else scratch

    process = drift_process(fleet, "check", "--all", *REPORT_ARGS, "--output", f"{reports}/")
    try:
        seen = watched.connections
        assert faults.wait_until(lambda: watched.connections > seen or process.poll() is not None, 30)
        assert process.poll() is None, finish(process)
        time.sleep(0.3)  # inside the phase, not at its first byte
        assert process.poll() is None, finish(process)
        process.send_signal(signum)
        started = time.monotonic()
        out, err = finish(process, timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
    took = time.monotonic() - started
    assert process.returncode == 130, (process.returncode, err)
    assert err.strip().splitlines()[-1] == "drift: error: interrupted; no report was written or changed", err
    assert "Traceback" not in err
    assert contents(reports) == before
    assert_whole(reports)
    assert faults.wait_until(lambda: faults.scratch_databases("postgresql") <= scratch_before, 10)
    record(f"{signal.Signals(signum).name} while {phase}", f"exit 130 after {took:.1f} s, reports unchanged, "
                                                            "scratch dropped")


def test_sigterm_on_a_one_environment_run_is_an_interrupt_too(fleet: Fleet, tmp_path: Path) -> None:
    # Without --all there are no worker threads; SIGTERM must still be Ctrl-C (status 130), not a kill.
    reports = tmp_path / "reports"
    reports.mkdir()
    driver = tmp_path / "driver.py"
    marker = tmp_path / "marker"
    driver.write_text(
        "import sys, time\nfrom pathlib import Path\nimport drift.check\n"
        "def stalled(*a, **k):\n    Path(sys.argv[1]).write_text('comparing')\n    time.sleep(30)\n"
        "sys.modules['drift.check'].compare = stalled\nfrom drift.cli import main\nmain(sys.argv[2:])\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_")}
    env["PYTHONPATH"] = str(REPO)
    process = subprocess.Popen(
        [sys.executable, str(driver), str(marker), "check", "--env", "prod", "--format", "html",
         "--output", f"{reports}/", "--config", str(fleet.config_path)],
        cwd=fleet.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert faults.wait_until(lambda: marker.exists() or process.poll() is not None, 30)
        process.send_signal(signal.SIGTERM)
        out, err = finish(process, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, (process.returncode, err)
    assert err == "drift: error: interrupted; no report was written or changed\n"
    assert list(reports.iterdir()) == []
    record("SIGTERM on a one-environment run", "exit 130")


# --------------------------------------------------------------------------- two runs at once


def test_two_runs_writing_to_one_folder_at_once(fleet: Fleet, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    before = good_set(fleet, reports)
    time.sleep(1.1)  # the new runs' reports get other names than the good set's
    runs = [drift_process(fleet, "check", "--all", *REPORT_ARGS, "--output", f"{reports}/") for _ in range(2)]
    outputs = [finish(p) for p in runs]
    assert [p.returncode for p in runs] == [1, 1], outputs
    after = contents(reports)
    assert {name: after[name] for name in before if "-latest." not in name} == {
        name: data for name, data in before.items() if "-latest." not in name
    }  # the earlier run's own set is untouched; the latest copies are the newest run's
    assert_whole(reports)
    assert len(after) > len(before)
    record("two runs writing to one folder at once", "both exit 1, every file whole, earlier set untouched")
