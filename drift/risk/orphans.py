"""A new foreign key over rows whose parent is not there."""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from ..findings import Finding, Risk
from .common import Outcome, example, key, outcome, shown, split_reference
from .probe import Probe
from .registry import NotMeasured, rule

ORPHANS: dict[str | None, Outcome | None] = {
    "postgresql": Outcome("danger", "ADD FOREIGN KEY fails (violates foreign key constraint)"),
    "mysql": Outcome("danger", "ADD FOREIGN KEY fails (Cannot add or update a child row)"),
    # Batch mode copies the rows over, and SQLite checks foreign keys only when a row is written
    # with PRAGMA foreign_keys on: the orphans stay, violating the new key.
    "sqlite": Outcome("warning", "the migration succeeds but the orphans stay, violating the new key"),
    None: Outcome("danger", "ADD FOREIGN KEY fails"),
}


@rule("add_fk", "orphans", about="rows of {table} without a parent")
def orphans(finding: Finding, probe: Probe) -> Iterable[Risk]:
    models = finding.models or {}
    columns = [str(c) for c in models.get("columns") or []]
    referred = [str(c) for c in models.get("referred_columns") or []]
    reference = models.get("references")
    if not columns or not reference or len(columns) != len(referred):
        return
    child_cols = probe.columns(finding.table, finding.schema)
    if child_cols is None:
        return  # a new table has no rows
    missing = [c for c in columns if c not in child_cols]
    if missing:
        raise NotMeasured(f"{', '.join(missing)} not yet a column of {finding.qualified_table} (added in the same migration)")
    parent_key = split_reference(str(reference), finding.schema)
    parent_cols = probe.columns(parent_key[1], parent_key[0])

    c = probe.table(finding.table, finding.schema, *columns).alias("c")
    has_key = [c.c[col].is_not(None) for col in columns]  # MATCH SIMPLE: a NULL anywhere is never checked
    tables = [key(finding)]
    if parent_cols is None:
        # The parent is created by the same migration, empty: every child row with a key is an orphan.
        condition: list[Any] = has_key
        parent_note = f"{probe.label(parent_key[1], parent_key[0])} does not exist yet (it is created empty)"
    else:
        p = probe.table(parent_key[1], parent_key[0], *referred).alias("p")
        match = sa.and_(*[p.c[r] == c.c[col] for col, r in zip(columns, referred)])
        condition = [*has_key, ~sa.exists().where(match)]
        tables.append(parent_key)
        parent_note = ""
    counted = probe.scan(sa.select(sa.func.count()).select_from(c).where(*condition), tables)
    count = int(counted[0][0])
    parent_label = probe.label(parent_key[1], parent_key[0])
    evidence: dict[str, Any] = {"orphan_rows": count, "references": parent_label}
    if parent_note:
        evidence["parent"] = parent_note
    if count == 0:
        yield Risk(rule="orphans", severity="info",
                   summary=f"every row of {finding.qualified_table} ({', '.join(columns)}) has its parent in {parent_label}",
                   evidence=evidence)
        return
    first = probe.scan(sa.select(*[c.c[col] for col in columns]).select_from(c).where(*condition).limit(1), tables)
    example_text = ""
    if first:
        evidence["example"] = {col: example(first[0][i]) for i, col in enumerate(columns)}
        example_text = "; e.g. " + ", ".join(f"{col}={shown(first[0][i])}" for i, col in enumerate(columns))
    says = outcome(ORPHANS, probe)
    assert says is not None
    yield Risk(
        rule="orphans", severity=says.severity,
        summary=f"{count:,} row{'s' if count != 1 else ''} of {finding.qualified_table} "
                f"{'point' if count != 1 else 'points'} at no row of {parent_label}: {says.says}{example_text}",
        evidence=evidence,
        suggestion="delete the orphans, set their key to NULL, or insert the missing parents first (a data migration)",
    )
