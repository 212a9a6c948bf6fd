"""Dropping what holds data: the rows of a table, the values of a column."""

from __future__ import annotations

from typing import Iterable

import sqlalchemy as sa

from ..findings import Finding, Risk
from .common import key
from .probe import Probe
from .registry import NotMeasured, rule

RENAME_HINT = (
    "if this is a rename, use {op} instead of drop + add; otherwise back the data up first "
    "(the downgrade recreates the {what} empty)"
)


@rule("remove_column", "data_loss", about="values in {label}")
def column_loss(finding: Finding, probe: Probe) -> Iterable[Risk]:
    if not finding.name:
        return
    t = probe.table(finding.table, finding.schema, finding.name)
    rows = probe.scan(sa.select(sa.func.count(), sa.func.count(t.c[finding.name])).select_from(t), [key(finding)])
    total, values = int(rows[0][0]), int(rows[0][1])
    evidence = {"rows": total, "non_null_values": values}
    if values == 0:
        why = "the table is empty" if total == 0 else f"all {total:,} rows hold NULL there"
        yield Risk(rule="data_loss", severity="info",
                   summary=f"dropping {finding.object_label} loses no values: {why}", evidence=evidence)
        return
    yield Risk(
        rule="data_loss", severity="danger",
        summary=f"dropping {finding.object_label} loses {values:,} non-NULL value{'s' if values != 1 else ''} "
                f"({total:,} row{'s' if total != 1 else ''})",
        evidence=evidence,
        suggestion=RENAME_HINT.format(op="op.alter_column(..., new_column_name=...)", what="column"),
    )


@rule("remove_table", "data_loss", about="rows of {table}")
def table_loss(finding: Finding, probe: Probe) -> Iterable[Risk]:
    t = probe.table(finding.table, finding.schema)
    suggestion = RENAME_HINT.format(op="op.rename_table(...)", what="table")
    try:
        rows = probe.scan(sa.select(sa.func.count()).select_from(t), [key(finding)])
    except NotMeasured as exc:
        # Too large to count is still an answer: the catalog knows the table is not empty.
        size = probe.size_or_none(finding.table, finding.schema)
        if size is None or not size.rows:
            raise
        yield Risk(
            rule="data_loss", severity="danger",
            summary=f"dropping {finding.qualified_table} loses {size.describe()} ({size.source}; not counted: {exc.reason})",
            evidence={**size.evidence(), "reason": exc.reason},
            measured=False, suggestion=suggestion,
        )
        return
    total = int(rows[0][0])
    if total == 0:
        yield Risk(rule="data_loss", severity="info",
                   summary=f"dropping {finding.qualified_table} loses no rows: it is empty", evidence={"rows": 0})
        return
    yield Risk(
        rule="data_loss", severity="danger",
        summary=f"dropping {finding.qualified_table} loses {total:,} row{'s' if total != 1 else ''}",
        evidence={"rows": total}, suggestion=suggestion,
    )
