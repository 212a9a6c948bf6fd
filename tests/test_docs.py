"""The docs describe the code that exists: JSON fields, commands and options."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from drift.cli import cli
from drift.findings import KINDS, DatabaseInfo, Finding, Report, Risk, SuggestedMigration
from drift.history import MigrationState, Revision
from drift.report import render

ROOT = Path(__file__).resolve().parent.parent
JSON_DOC = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")


def _documented(section: str) -> set[str]:
    body = JSON_DOC.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for cell in re.findall(r"^\| (.+?) \|", body, flags=re.M):
        names.update(re.findall(r"`([a-z_.]+)`", cell))
    return names


def _report() -> Report:
    risk = Risk(rule="not_null", severity="danger", summary="2 rows are NULL", evidence={"null_rows": 2}, code="x")
    finding = Finding(kind="modify_nullable", table="users", name="email", object_type="column",
                      message="m", models={"nullable": False}, database={"nullable": True}, risks=(risk,))
    state = MigrationState(status="behind", current=("a",), heads=("b",), pending=(Revision("b", "m", None, ("a",)),),
                           unknown=(), summary="s", commands=("c",))
    return Report(
        environment="prod", database=DatabaseInfo("sqlite://", "sqlite", "pysqlite", "SQLite 3"),
        findings=(finding,), tables_compared=1, generated_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        tool_version="0", revision=("a",), state=state,
        migration=SuggestedMigration(message="m", commands=("c",), upgrade_code="u", downgrade_code="d"),
    )


def test_every_json_field_is_documented() -> None:
    document = json.loads(render(_report(), "json"))
    top = _documented("Top level")
    assert {k for k in document if k != "counts"} <= top, set(document) - top
    assert {"counts.by_kind", "counts.by_table"} <= top
    assert set(document["findings"][0]) <= _documented("Finding")
    assert set(document["findings"][0]["risks"][0]) <= _documented("Risk")
    assert set(document["migration"]) <= _documented("Suggested migration")
    assert set(document["migration_state"]) <= _documented("Migration state")


def test_every_kind_is_documented() -> None:
    finding_section = JSON_DOC.split("## Finding\n", 1)[1].split("\n## ", 1)[0]
    missing = [kind for kind in KINDS if f"`{kind}`" not in finding_section]
    assert not missing


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example" in result.output, f"drift {name} --help shows no example"


def test_readme_mentions_every_command_and_check_option() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"drift {name}" in readme, f"README does not mention drift {name}"
    for param in cli.commands["check"].params:
        spellings = [opt for opt in param.opts if opt.startswith("-")]
        if spellings:
            assert any(opt in readme for opt in spellings), f"README does not mention drift check {spellings[0]}"


def test_readme_opens_with_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:sh|bash|shell)\n(.*?)```", readme, flags=re.S)
    first, second = blocks[0].strip(), blocks[1].strip()
    assert "\n" not in first and "\n" not in second
    assert "drift check --env dev" in first
    assert "pytest" in second
