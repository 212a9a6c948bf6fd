"""Writing reports: atomic files, nothing written when a renderer fails, and the CLI end to end.

The last test is the issue's definition of done: on the example project at
head (``users.email`` missing), ``drift check --env dev --format html
--format markdown`` writes both files under ``reports/`` with the drift, the
commands and the batch-mode ``add_column`` code.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import drift.cli
import drift.report.write as write_module
from drift.cli import cli
from drift.errors import ReportWriteError
from drift.report import render, write_atomic
from drift.report.render import RENDERERS, RendererSpec
from report_builders import drift_report, example_report
from scenarios import isolated_imports, make_project, upgrade_example, use_example_models


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- write_atomic


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "r.md"
    assert write_atomic(target, "one\n") == target
    write_atomic(target, "two\n")
    assert target.read_text(encoding="utf-8") == "two\n"
    assert leftovers(target.parent) == []
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_an_oserror_mid_write_keeps_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.html"
    target.write_text("earlier report\n", encoding="utf-8")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(write_module.os, "fsync", disk_full)
    with pytest.raises(ReportWriteError, match="No space left on device; the earlier report is unchanged"):
        write_atomic(target, render(drift_report(), "html"))
    assert target.read_text(encoding="utf-8") == "earlier report\n"
    assert leftovers(tmp_path) == []


def test_an_interrupt_mid_write_keeps_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.md"
    target.write_text("earlier report\n", encoding="utf-8")
    monkeypatch.setattr(write_module.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "earlier report\n"
    assert leftovers(tmp_path) == []


def test_an_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(ReportWriteError, match="choose another --output"):
        write_atomic(blocker / "r.md", "x")


# --------------------------------------------------------------------------- render everything first


def test_a_failing_renderer_leaves_every_earlier_report_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(report: object) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setitem(RENDERERS, "broken", RendererSpec(broken, "txt", frozenset()))
    first, second = tmp_path / "a.md", tmp_path / "b.txt"
    first.write_text("earlier markdown\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="renderer bug"):
        drift.cli._emit(drift_report(), [("markdown", first), ("broken", second)], quiet=True)
    assert first.read_text(encoding="utf-8") == "earlier markdown\n"
    assert not second.exists()
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def hand_built_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config.ini whose check returns the hand-built example report (no database needed)."""
    config = tmp_path / "config.ini"
    config.write_text("[drift]\nreport_dir = reports\n\n[dev]\ndialect = sqlite\ndatabase = dev.db\n", encoding="utf-8")
    monkeypatch.setattr(drift.cli, "run_check", lambda config, env, **options: example_report())
    return config


def test_cli_writes_html_and_markdown_to_report_dir(hand_built_check: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--env", "dev", "--config", str(hand_built_check),
                                      "--format", "html", "--format", "markdown"])
    assert result.exit_code == 1, result.output
    written = re.findall(r"^wrote (.+)$", result.output, flags=re.M)
    assert [Path(p).suffix for p in written] == [".html", ".md"]
    for path in written:
        assert Path(path).parent == hand_built_check.parent / "reports"
        assert re.fullmatch(r"drift-dev-\d{8}T\d{6}Z\.(html|md)", Path(path).name)
    assert result.output.splitlines()[0] == "1 difference in 1 table"


def test_cli_markdown_to_stdout(hand_built_check: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--env", "dev", "--config", str(hand_built_check),
                                      "--format", "markdown", "--output", "-"])
    assert result.exit_code == 1
    assert result.output == render(example_report(), "markdown")


def test_cli_html_to_a_named_file(hand_built_check: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "today.html"
    target.parent.mkdir()
    result = CliRunner().invoke(cli, ["check", "--env", "dev", "--config", str(hand_built_check),
                                      "--format", "html", "--output", str(target)])
    assert result.exit_code == 1
    assert target.read_text(encoding="utf-8") == render(example_report(), "html")


@pytest.fixture
def example_at_head(tmp_path: Path) -> Iterator[Path]:
    with isolated_imports():
        use_example_models()
        project = make_project(tmp_path / "project", f"sqlite:///{tmp_path / 'project' / 'dev.db'}", None, env="dev")
        upgrade_example(project)
        yield project.config_path


def test_example_project_writes_both_reports_with_what_to_run(example_at_head: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--env", "dev", "--config", str(example_at_head),
                                      "--format", "html", "--format", "markdown"])
    assert result.exit_code == 1, result.output
    written = [Path(p) for p in re.findall(r"^wrote (.+)$", result.output, flags=re.M)]
    assert [p.suffix for p in written] == [".html", ".md"]
    html, markdown = (p.read_text(encoding="utf-8") for p in written)
    for path in written:
        assert path.parent == example_at_head.parent / "reports"
    assert "Column users.email exists in the models but not in the database" in markdown
    assert 'alembic -x env=dev revision --autogenerate -m "Add email column to users table"' in markdown
    assert "alembic -x env=dev upgrade head" in markdown
    assert "batch_op.add_column(sa.Column('email', sa.String(length=255), nullable=True))" in markdown
    assert "Column users.email exists in the models but not in the database" in html
    assert "alembic -x env=dev revision --autogenerate -m &#34;Add email column to users table&#34;" in html
    assert "alembic -x env=dev upgrade head" in html
    assert "batch_op.add_column(sa.Column(&#39;email&#39;, sa.String(length=255), nullable=True))" in html
    assert "0002_task_due_date" in html and "0002_task_due_date" in markdown
