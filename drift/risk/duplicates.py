"""A new unique constraint or unique index over data that already repeats."""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from ..findings import Finding, Risk
from .common import example, key, shown
from .probe import Probe
from .registry import NotMeasured, rule


def _unique_columns(finding: Finding) -> list[str] | None:
    models = finding.models or {}
    if finding.kind == "add_index" and not models.get("unique"):
        return None
    if finding.kind == "add_constraint" and models.get("type") != "unique":
        return None
    columns = [str(c) for c in models.get("columns") or []]
    return columns or None


@rule(("add_constraint", "add_index"), "duplicates", about="duplicate values for {label}")
def duplicates(finding: Finding, probe: Probe) -> Iterable[Risk]:
    columns = _unique_columns(finding)
    if columns is None:
        return
    existing = probe.columns(finding.table, finding.schema)
    if existing is None:
        return  # the table is new: nothing there to repeat
    missing = [c for c in columns if c not in existing]
    if missing:
        # An expression (lower(email)) or a column the same migration adds: nothing to count today.
        raise NotMeasured(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not a column of "
                          f"{finding.qualified_table} in the database (an expression, or added in the same migration)")
    t = probe.table(finding.table, finding.schema, *columns)
    cols = [t.c[c] for c in columns]
    # Rows with a NULL in any key column never conflict in a unique index.
    conditions: list[Any] = [c.is_not(None) for c in cols]
    where = _partial_where(finding, probe)
    if where is not None:
        conditions.append(sa.text(where))
    count_name = "n"
    while count_name in columns:  # a column may be called n
        count_name += "_"
    n = sa.func.count().label(count_name)
    groups = (
        sa.select(*cols, n)
        .select_from(t).where(*conditions).group_by(*cols).having(sa.func.count() > 1)
    )
    sub = groups.subquery("dup")
    totals = probe.scan(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sub.c[count_name]), 0)).select_from(sub), [key(finding)]
    )
    group_count, row_count = int(totals[0][0]), int(totals[0][1])
    evidence: dict[str, Any] = {"duplicate_groups": group_count, "rows_in_duplicate_groups": row_count}
    if where is not None:
        evidence["where"] = where
    if group_count == 0:
        yield Risk(rule="duplicates", severity="info",
                   summary=f"no duplicate values in {finding.qualified_table} ({', '.join(columns)})", evidence=evidence)
        return
    first = probe.scan(groups.order_by(n.desc(), *cols).limit(1), [key(finding)])
    if first:
        row = first[0]
        evidence["example"] = {c: example(row[i]) for i, c in enumerate(columns)}
        evidence["example_count"] = int(row[len(columns)])
        shown_value = ", ".join(f"{c}={shown(row[i])}" for i, c in enumerate(columns))
        example_text = f"; e.g. {shown_value} appears {int(row[len(columns)]):,} times"
    else:
        example_text = ""
    what = "unique index" if finding.kind == "add_index" else "unique constraint"
    yield Risk(
        rule="duplicates", severity="danger",
        summary=f"{group_count:,} value{'s' if group_count != 1 else ''} of ({', '.join(columns)}) "
                f"{'repeat' if group_count != 1 else 'repeats'} in {finding.qualified_table} "
                f"({row_count:,} rows): creating the {what} fails{example_text}",
        evidence=evidence,
        suggestion="remove or merge the duplicates first (in a data migration), or widen the key",
    )


def _partial_where(finding: Finding, probe: Probe) -> str | None:
    # A partial unique index (postgresql_where / sqlite_where) only covers its own rows; the
    # predicate is the models' own SQL and runs inside the read-only, time-limited query.
    where = (finding.models or {}).get("where") or {}
    for dialect_kw, text in where.items():
        if str(dialect_kw).split("_", 1)[0] in (probe.dialect_name, probe.dialect.name) and text:
            return str(text)
    return None
