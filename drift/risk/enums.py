"""Enum values the models no longer allow, still used by rows.

Two kinds of finding get here: ``modify_enum`` (``models``/``database``
carry ``{"values": [...]}``), and ``modify_type`` where the new type is an
enum (MariaDB's inline ``ENUM('a','b')``, or a PostgreSQL enum type the
models define). The columns to look at are the finding's own column, the
columns the finding lists, and, for a PostgreSQL enum type, every column the
catalog says uses it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import sqlalchemy as sa

from ..findings import Finding, Risk
from .common import Outcome, mysql_bad_data, outcome, strict_mode
from .probe import Probe
from .registry import NotMeasured, rule
from .shapes import parse

ColumnRef = tuple[str | None, str, str]  # schema, table, column

#: Distinct disallowed values listed per column, most used first.
LISTED_VALUES = 20

IN_USE: dict[str | None, Outcome | None] = {
    "postgresql": Outcome("danger", "converting them to the new type fails (invalid input value for enum)"),
    "sqlite": Outcome("warning", "SQLite keeps them (a non-native enum is a VARCHAR), outside the models' values"),
    None: Outcome("danger", "the ALTER fails"),
}


@rule("modify_enum", "enum_values", about="rows using the removed values of {label}")
def removed_values(finding: Finding, probe: Probe) -> Iterable[Risk]:
    old = _values(finding.database)
    new = _values(finding.models)
    if old is None or new is None:
        return
    removed = [v for v in old if v not in new]
    if not removed:
        return
    # Columns the same migration adds hold no rows yet.
    columns = [ref for ref in _enum_columns(finding, probe) if ref[2] in (probe.columns(ref[1], ref[0]) or {})]
    if not columns:
        raise NotMeasured(f"no column is known to use {finding.name or 'this enum'}")
    for ref in columns:
        yield _count_outside(finding, probe, ref, removed=removed)


@rule("modify_type", "enum_values", about="values of {label} outside the new enum")
def outside_new_enum(finding: Finding, probe: Probe) -> Iterable[Risk]:
    if not finding.name:
        return
    new = _new_enum_values(finding, probe)
    if new is None:
        return
    old_shape = parse((finding.database or {}).get("type"))
    ref = (finding.schema, finding.table, finding.name)
    if old_shape.family == "enum" and old_shape.values is not None:
        removed = [v for v in old_shape.values if v not in new]
        if not removed:
            return  # values added only: every row still fits
        yield _count_outside(finding, probe, ref, removed=removed)
    elif old_shape.is_text or old_shape.family == "other":
        yield _count_outside(finding, probe, ref, allowed=new)


def _count_outside(finding: Finding, probe: Probe, ref: ColumnRef, *,
                   removed: list[str] | None = None, allowed: list[str] | None = None) -> Risk:
    schema, table, column = ref
    t = probe.table(table, schema, column)
    col = probe.as_text(t.c[column])
    if removed is not None:
        condition = col.in_(removed)
    else:
        condition = sa.and_(col.is_not(None), col.not_in(allowed or []))
    n = sa.func.count().label("n" if column != "n" else "n_")
    rows = probe.scan(
        sa.select(col, n).select_from(t).where(condition).group_by(col).order_by(n.desc(), col).limit(LISTED_VALUES),
        [(schema, table)],
    )
    used = {str(value): int(count) for value, count in rows}
    label = f"{probe.label(table, schema)}.{column}"
    evidence: dict[str, Any] = {"rows_by_value": used}
    if removed is not None:
        evidence["removed_values"] = list(removed)
    if not used:
        what = "the removed values" if removed is not None else "values outside the new enum"
        return Risk(rule="enum_values", severity="info", summary=f"no row of {label} uses {what}", evidence=evidence)
    total = sum(used.values())
    listing = ", ".join(f"{v!r} ({c:,})" for v, c in used.items())
    says = _in_use_outcome(probe)
    at_least = "at least " if len(used) == LISTED_VALUES else ""
    return Risk(
        rule="enum_values", severity=says.severity,
        summary=f"{at_least}{total:,} row{'s' if total != 1 else ''} of {label} "
                f"{'use' if total != 1 else 'uses'} values the models no longer allow: {listing}: {says.says}",
        evidence=evidence,
        suggestion="update those rows to an allowed value first (a data migration), or keep the values in the models",
    )


def _in_use_outcome(probe: Probe) -> Outcome:
    if probe.dialect_name in ("mysql", "mariadb"):
        return Outcome("danger", mysql_bad_data(strict_mode(probe), "turns them into ''"))
    found = outcome(IN_USE, probe)
    assert found is not None
    return found


def _values(side: Mapping[str, Any] | None) -> list[str] | None:
    if not side or side.get("values") is None:
        return None
    return [str(v) for v in side["values"]]


def _new_enum_values(finding: Finding, probe: Probe) -> list[str] | None:
    shape = parse((finding.models or {}).get("type"))
    if shape.family == "enum" and shape.values is not None:
        return list(shape.values)
    column = probe.model_column(finding.table, finding.schema, finding.name)
    if column is not None and isinstance(column.type, sa.Enum) and column.type.native_enum:
        # PostgreSQL spells a named enum by its name alone; the models know its values.
        return [str(v) for v in column.type.enums]
    return None


def _enum_columns(finding: Finding, probe: Probe) -> list[ColumnRef]:
    found: list[ColumnRef] = []
    if finding.object_type == "column" and finding.name:
        found.append((finding.schema, finding.table, finding.name))
    for side in (finding.models, finding.database):
        for entry in (side or {}).get("columns") or []:
            ref = _column_ref(entry, finding)
            if ref is not None:
                found.append(ref)
    type_name = finding.name
    if not found and type_name:
        # The finding does not say: ask the catalog, then the models, who uses the type.
        found.extend(_columns_using_type(probe, str(type_name), finding.schema))
        found.extend(_model_columns_using_type(probe, str(type_name)))
    return sorted(set(found), key=lambda r: (r[0] or "", r[1], r[2]))


def _column_ref(entry: Any, finding: Finding) -> ColumnRef | None:
    """``"table.column"`` / ``"schema.table.column"`` (as describe.py lists them) or a mapping."""
    if isinstance(entry, Mapping) and entry.get("column"):
        return entry.get("schema"), str(entry.get("table") or finding.table), str(entry["column"])
    if isinstance(entry, str):
        parts = entry.split(".")
        if len(parts) == 1:
            return finding.schema, finding.table, parts[0]
        if len(parts) == 2:
            return None, parts[0], parts[1]
        return ".".join(parts[:-2]), parts[-2], parts[-1]
    return None


def _columns_using_type(probe: Probe, type_name: str, schema: str | None) -> list[ColumnRef]:
    if probe.dialect.name != "postgresql":
        return []
    try:
        rows = probe.catalog(
            "SELECT n.nspname, c.relname, a.attname "
            "FROM pg_catalog.pg_attribute a "
            "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
            "JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace "
            "WHERE t.typname = :name AND tn.nspname = COALESCE(:schema, current_schema()) "
            "AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') "
            "ORDER BY 1, 2, 3",
            {"name": type_name, "schema": schema},
        )
    except NotMeasured:
        return []
    default_schema = probe.connection.dialect.default_schema_name
    return [(None if nsp == default_schema else nsp, rel, att) for nsp, rel, att in rows]


def _model_columns_using_type(probe: Probe, type_name: str) -> list[ColumnRef]:
    if probe.metadata is None:
        return []
    found = []
    for table in probe.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, sa.Enum) and column.type.name == type_name:
                found.append((table.schema, table.name, column.name))
    return found


@rule("modify_enum", "rewrite", dialect="postgresql", about="the table rewrites for enum {label}")
def recreate_rewrites(finding: Finding, probe: Probe) -> Iterable[Risk]:
    """Removing or moving a value means a new type and ALTER COLUMN … TYPE: a rewrite per table."""
    old = _values(finding.database)
    new = _values(finding.models)
    if old is None or new is None:
        return
    kept = [v for v in new if v in old]
    if all(v in new for v in old) and kept == old:
        return  # ADD VALUE only: no rewrite
    for schema, table in sorted({(s, t) for s, t, _c in _enum_columns(finding, probe)}, key=lambda k: (k[0] or "", k[1])):
        size = probe.size_or_none(table, schema)
        if size is None or size.rows is None or size.rows < probe.options.large_table:
            continue
        yield Risk(
            rule="rewrite", severity="warning",
            summary=f"recreating enum type {finding.name} rewrites {probe.label(table, schema)} ({size.describe()}) "
                    "under an ACCESS EXCLUSIVE lock (ALTER COLUMN … TYPE … USING)",
            evidence={**size.evidence(), "table": probe.label(table, schema)},
            suggestion="schedule it for a quiet moment, or keep the old value in the type and stop using it instead",
        )
