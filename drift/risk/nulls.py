"""NOT NULL meets NULL: a column made NOT NULL, a NOT NULL column added without a default."""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.schema import DefaultClause

from ..findings import Finding, Risk
from .common import Outcome, key, mysql_bad_data, op_execute, outcome, strict_mode
from .probe import Probe
from .registry import rule

#: What stands in the backfill for a value the models do not give: not valid SQL, so it cannot run by accident.
PLACEHOLDER = "..."


def backfill_value(probe: Probe, finding: Finding) -> tuple[str, str]:
    """The SQL value old rows should get, and where it comes from.

    The model column's server default first (what the database itself would
    fill in), then a scalar or SQL Python-side default; otherwise
    :data:`PLACEHOLDER`, for the user to choose.
    """
    column = probe.model_column(finding.table, finding.schema, finding.name)
    if column is not None:
        server = column.server_default
        if isinstance(server, DefaultClause):
            arg = server.arg
            if isinstance(arg, str):
                return probe.literal(arg, sa.String()), "the model's server_default"
            if isinstance(arg, TextClause):
                return arg.text, "the model's server_default"
            return probe.sql(arg), "the model's server_default"
        default = column.default
        if default is not None and getattr(default, "is_scalar", False):
            try:
                return probe.literal(default.arg, column.type), "the model's default"  # type: ignore[attr-defined]
            except Exception:  # a type without literal rendering (JSON, arrays…): the user writes it
                pass
        if default is not None and getattr(default, "is_clause_element", False):
            return probe.sql(default.arg), "the model's default"  # type: ignore[attr-defined]
    text = (finding.models or {}).get("default")
    if text:
        return str(text), "the model's server_default"
    return PLACEHOLDER, "no default in the models: replace ... with the value existing rows should get"


def backfill_sql(probe: Probe, finding: Finding, value: str) -> str:
    table = probe.quote_table(finding.table, finding.schema)
    column = probe.quote(finding.name or "")
    return f"UPDATE {table} SET {column} = {value} WHERE {column} IS NULL"


NULL_ROWS: dict[str | None, Outcome | None] = {
    "postgresql": Outcome("danger", "SET NOT NULL fails (column contains null values)"),
    "sqlite": Outcome("danger", "batch mode's copy into the rebuilt table fails (NOT NULL constraint failed)"),
    None: Outcome("danger", "the ALTER fails"),
}


@rule("modify_nullable", "null_rows", about="NULL values in {label}")
def null_rows(finding: Finding, probe: Probe) -> Iterable[Risk]:
    if not finding.models or finding.models.get("nullable") is not False or not finding.name:
        return
    t = probe.table(finding.table, finding.schema, finding.name)
    rows = probe.scan(sa.select(sa.func.count()).select_from(t).where(t.c[finding.name].is_(None)), [key(finding)])
    nulls = int(rows[0][0])
    if nulls == 0:
        yield Risk(
            rule="null_rows", severity="info",
            summary=f"no NULL values in {finding.object_label}: NOT NULL can be applied",
            evidence={"null_rows": 0},
        )
        return
    value, origin = backfill_value(probe, finding)
    sql = backfill_sql(probe, finding, value)
    says = _null_outcome(probe)
    yield Risk(
        rule="null_rows", severity=says.severity,
        summary=f"{nulls:,} row{'s' if nulls != 1 else ''} of {finding.qualified_table} "
                f"{'have' if nulls != 1 else 'has'} NULL in {finding.name}: {says.says}",
        evidence={"null_rows": nulls, "backfill_value": value, "backfill_from": origin},
        suggestion=f"backfill them first, in the same migration, before the alter_column ({origin})",
        code=op_execute(sql),
    )


def _null_outcome(probe: Probe) -> Outcome:
    if probe.dialect_name in ("mysql", "mariadb"):
        silently = "replaces the NULLs with the type's implicit default ('' or 0)"
        return Outcome("danger", mysql_bad_data(strict_mode(probe), silently))
    found = outcome(NULL_ROWS, probe)
    assert found is not None
    return found


ADD_NOT_NULL: dict[str | None, Outcome | None] = {
    "postgresql": Outcome("danger", "ADD COLUMN … NOT NULL without a default fails (column contains null values)"),
    "sqlite": Outcome("danger", "SQLite refuses it (Cannot add a NOT NULL column with default value NULL)"),
    "mysql": Outcome(
        "warning",
        "MariaDB adds it and gives every existing row the type's implicit default ('' or 0), not a value you chose",
    ),
    None: Outcome("danger", "the ALTER fails: existing rows would hold NULL"),
}


@rule("add_column", "not_null_without_default", about="existing rows of {table}")
def not_null_without_default(finding: Finding, probe: Probe) -> Iterable[Risk]:
    models = finding.models or {}
    if models.get("nullable") is not False or models.get("default") is not None or not finding.name:
        return
    column = probe.model_column(finding.table, finding.schema, finding.name)
    if column is not None and (column.identity is not None or column.computed is not None):
        return  # the database fills identity and computed columns itself
    t = probe.table(finding.table, finding.schema)
    one = probe.peek(sa.select(sa.literal_column("1")).select_from(t).limit(1), [key(finding)])
    if not one:
        yield Risk(
            rule="not_null_without_default", severity="info",
            summary=f"{finding.qualified_table} is empty: {finding.name} can be added NOT NULL without a default "
                    "(this fails once the table has rows)",
            evidence={"table_has_rows": False},
        )
        return
    says = outcome(ADD_NOT_NULL, probe)
    assert says is not None
    yield Risk(
        rule="not_null_without_default", severity=says.severity,
        summary=f"{finding.qualified_table} has rows and {finding.name} is added NOT NULL without a server default: "
                f"{says.says}",
        evidence={"table_has_rows": True},
        suggestion=_add_not_null_suggestion(probe, finding, column),
    )


def _add_not_null_suggestion(probe: Probe, finding: Finding, column: sa.Column[Any] | None) -> str:
    value, origin = backfill_value(probe, finding)
    table, name = finding.table, finding.name or ""
    schema = f", schema={finding.schema!r}" if finding.schema else ""
    steps = (
        f"give the column a server_default, or add it nullable, backfill, then make it NOT NULL "
        f"in the same migration:\n"
        f"    op.add_column({table!r}, sa.Column({name!r}, ..., nullable=True){schema})\n"
        f"    {op_execute(backfill_sql(probe, finding, value))}\n"
        f"    op.alter_column({table!r}, {name!r}, nullable=False{schema})"
    )
    if column is not None and column.default is not None and column.server_default is None:
        steps += (
            f"\n(the model's default= applies only to rows SQLAlchemy inserts, not to the rows already there; "
            f"backfill value from {origin})"
        )
    return steps
