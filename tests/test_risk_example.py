"""Issue 6's promise on the example project: NULL emails before a NOT NULL.

The models make ``users.email`` NOT NULL while some rows have none: the
report must call it danger with the exact count and put the backfill before
the ``alter_column`` in the suggested migration — on every dialect.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from test_causes import make_example

from drift.findings import Finding


def _email_not_null(root: Path) -> None:
    user = root / "models" / "user.py"
    text = user.read_text(encoding="utf-8")
    old = "email: Mapped[str | None] = mapped_column(String(255), nullable=True)"
    assert old in text
    user.write_text(text.replace(old, "email: Mapped[str] = mapped_column(String(255), nullable=False)"), encoding="utf-8")


def _forget_models(monkeypatch: pytest.MonkeyPatch) -> None:
    # The edited models must be imported afresh, not taken from an earlier test's import.
    for name in [n for n in sys.modules if n == "models" or n.startswith("models.")]:
        monkeypatch.delitem(sys.modules, name)


def test_null_emails_make_not_null_dangerous_with_a_backfill_first(
    dialect: str, db_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = make_example(dialect, db_url, tmp_path, monkeypatch)
    _forget_models(monkeypatch)
    example.migrate("head")
    example.execute(
        "ALTER TABLE users ADD COLUMN email VARCHAR(255)",
        "INSERT INTO users (id, username, password, full_name, email) VALUES ('1', 'ann', 'x', 'Ann', 'a@example.org')",
        "INSERT INTO users (id, username, password, full_name, email) VALUES ('2', 'bob', 'x', 'Bob', NULL)",
        "INSERT INTO users (id, username, password, full_name, email) VALUES ('3', 'cyd', 'x', 'Cyd', NULL)",
    )
    _email_not_null(example.root)
    _forget_models(monkeypatch)

    report = example.check(attribute=False)

    [finding] = [f for f in report.findings if (f.kind, f.table, f.name) == ("modify_nullable", "users", "email")]
    assert isinstance(finding, Finding)
    assert finding.severity == "danger"
    [risk] = [r for r in finding.risks if r.code]
    assert risk.severity == "danger"
    assert risk.measured
    assert 2 in risk.evidence.values(), risk.evidence
    assert "UPDATE" in risk.code and "email IS NULL" in risk.code.replace('"', "").replace("`", "")

    assert report.migration is not None
    code = report.migration.upgrade_code
    assert code.index("UPDATE") < code.index("nullable=False"), code
