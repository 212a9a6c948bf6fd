"""Every format of every hand-built report, byte for byte against tests/golden/.

Regenerate after an intended change with ``DRIFT_UPDATE_GOLDEN=1 pytest tests/test_report_golden.py``
and read the diff before committing it: the golden files are the review of the output.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from drift.report import EXTENSIONS, render
from report_builders import (
    clean_report,
    drift_report,
    example_report,
    hostile_report,
    policy_clean_report,
    policy_report,
    risk_report,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("DRIFT_UPDATE_GOLDEN") == "1"

SCENARIOS = {
    "drift": drift_report,
    "clean": clean_report,
    "hostile": hostile_report,
    "example": example_report,
    "risk": risk_report,
    "policy": policy_report,
    "policy_clean": policy_clean_report,
}
FORMATS = ("html", "markdown", "json", "text")


def golden_path(scenario: str, fmt: str) -> Path:
    return GOLDEN / f"{scenario}.{EXTENSIONS[fmt]}"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_matches_golden(scenario: str, fmt: str) -> None:
    text = render(SCENARIOS[scenario](), fmt)
    path = golden_path(scenario, fmt)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"no golden file {path.name}; run with DRIFT_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if the change is intended, rerun with DRIFT_UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_same_report_same_bytes(scenario: str, fmt: str) -> None:
    assert render(SCENARIOS[scenario](), fmt) == render(SCENARIOS[scenario](), fmt)


def test_golden_files_hold_no_machine_paths() -> None:
    machine = re.compile(r"(/home/|/root/|/tmp/|/work/|/Users/|[A-Za-z]:\\\\)")
    for path in sorted(GOLDEN.iterdir()):
        found = machine.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name} holds a machine path near {found.group()!r}"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_json_is_the_report_data(scenario: str) -> None:
    report = SCENARIOS[scenario]()
    data = json.loads(render(report, "json"))
    assert data == json.loads(json.dumps(report.to_dict()))
    assert data["schema_version"] == 1


def test_json_spells_hidden_characters_as_escapes() -> None:
    text = render(hostile_report(), "json")
    assert "\u202e" not in text and "\u200b" not in text
    assert "\\u202e" in text
    assert "naïve_表_😀" in text  # ordinary unicode stays readable


@pytest.mark.parametrize("fmt", ("html", "markdown", "text"))
def test_every_format_says_the_same_things(fmt: str) -> None:
    report = drift_report()
    text = render(report, fmt)
    assert report.verdict in text
    for f in report.findings:
        assert f.id in text
    for command in report.migration.commands:
        assert (command if fmt != "html" else command.replace('"', "&#34;")) in text
    for line in report.migration.upgrade_code.splitlines():
        assert (line if fmt != "html" else line.replace("'", "&#39;")) in text
    assert "PostgreSQL 16.4" in text and "0002_task_due_date" in text and "0.1.0" in text
    assert "2025-03-04 05:06:07 UTC" in text
    assert report.state.summary in text


@pytest.mark.parametrize("fmt", ("html", "markdown", "text"))
def test_clean_database_gets_a_short_positive_report(fmt: str) -> None:
    text = render(clean_report(), fmt)
    assert "No drift: the database matches the models (3 tables compared)" in text
    assert "0002_task_due_date" in text
    assert "Compared 3 tables of the models with the postgresql database app" in text
    assert "Suggested migration" not in text and "Findings" not in text
    assert len(text) < (12_000 if fmt == "html" else 1_500)


@pytest.mark.parametrize("fmt", ("html", "markdown", "text"))
def test_unknown_cause_is_not_shown(fmt: str) -> None:
    text = render(drift_report(), fmt)
    assert "unknown" not in text.lower().replace("unknown_revision", "")
    assert "No migration covers this change" in text  # a decided cause is


@pytest.mark.parametrize("fmt", ("html", "markdown", "text"))
def test_the_example_project_report_says_what_to_run(fmt: str) -> None:
    text = render(example_report(), fmt)
    quote = "&#34;" if fmt == "html" else '"'
    assert f"alembic -x env=dev revision --autogenerate -m {quote}Add email column to users table{quote}" in text
    assert "alembic -x env=dev upgrade head" in text
    assert "batch_op.add_column(sa.Column(" in text
