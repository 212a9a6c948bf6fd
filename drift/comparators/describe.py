"""What each of drift's comparator ops means, as the fields of a finding.

``drift.compare`` turns alembic ops into findings through a registry keyed by
op class; for the ops in :mod:`.ops` it calls :func:`describe`, which looks the
op's class up here. The fields are plain values (strings, lists, dicts) so
every report format draws the same data.
"""

from __future__ import annotations

from typing import Any, Callable

from alembic.operations import ops as alembic_ops
from sqlalchemy.engine import Dialect

from .ops import (
    ModifyCheckOp,
    ModifyComputedOp,
    ModifyEnumOp,
    ModifyPrimaryKeyOp,
    RenameConstraintOp,
    RenameIndexOp,
)

Fields = dict[str, Any]
Describer = Callable[[Any, Dialect], Fields]
DESCRIBERS: dict[type[alembic_ops.MigrateOperation], Describer] = {}


def describer(op_class: type[alembic_ops.MigrateOperation]) -> Callable[[Describer], Describer]:
    def register(fn: Describer) -> Describer:
        DESCRIBERS[op_class] = fn
        return fn

    return register


def describe(op: alembic_ops.MigrateOperation, dialect: Dialect) -> Fields:
    """Finding fields (kind, table, schema, name, object_type, models, database, message, severity)."""
    for klass in type(op).__mro__:
        if klass in DESCRIBERS:
            return DESCRIBERS[klass](op, dialect)
    raise KeyError(f"no description for {type(op).__name__}")


def _label(table: str, schema: str | None) -> str:
    return f"{schema}.{table}" if schema else table


def _cols(columns: Any) -> str:
    return "(" + ", ".join(columns) + ")"


def _values(values: Any) -> str:
    return "(" + ", ".join(repr(v) for v in values) + ")"


@describer(ModifyPrimaryKeyOp)
def _primary_key(op: ModifyPrimaryKeyOp, dialect: Dialect) -> Fields:
    label = _label(op.table_name, op.schema)

    def side(columns: tuple[str, ...]) -> str:
        return f"on {_cols(columns)}" if columns else "absent"

    return dict(
        kind="modify_primary_key", table=op.table_name, schema=op.schema, name=None, object_type="primary_key",
        models={"columns": list(op.new_columns), "name": op.new_name},
        database={"columns": list(op.old_columns), "name": op.old_name},
        message=f"Primary key of {label} is {side(op.old_columns)} in the database "
                f"but {side(op.new_columns)} in the models",
        severity="warning",
    )


@describer(ModifyCheckOp)
def _check(op: ModifyCheckOp, dialect: Dialect) -> Fields:
    label = _label(op.table_name, op.schema)
    name = op.name
    # Unnamed on both sides (SQLite): the columns it reads make a stable identity.
    identity = name or f"(check: {', '.join(op.columns)})"
    return dict(
        kind="modify_check", table=op.table_name, schema=op.schema, name=identity,
        object_type="check_constraint",
        models={"name": op.new_name, "sqltext": op.new_sqltext, "normalized": op.new_canonical},
        database={"name": op.old_name, "sqltext": op.old_sqltext, "normalized": op.old_canonical},
        message=f"Check constraint {name or '(unnamed)'} on {label} is CHECK ({op.old_sqltext}) in the database "
                f"but CHECK ({op.new_sqltext}) in the models",
        severity="warning",
    )


@describer(ModifyEnumOp)
def _enum(op: ModifyEnumOp, dialect: Dialect) -> Fields:
    changes = []
    if op.added:
        changes.append(f"adds {', '.join(repr(v) for v in op.added)}")
    if op.removed:
        changes.append(f"removes {', '.join(repr(v) for v in op.removed)}")
    if not changes:
        changes.append("reorders the values")
    elif not op.only_added and not op.removed:
        changes.append("moves existing values")
    columns = [f"{_label(t, s)}.{c}" for s, t, c in op.columns]
    # One finding per type, filed under the first table that uses it (a stable place).
    first_schema, first_table, _ = min(op.columns, key=lambda c: (c[0] or "", c[1], c[2]))
    return dict(
        kind="modify_enum", table=first_table, schema=first_schema, name=op.name, object_type="enum",
        models={"values": list(op.new_values), "columns": columns},
        database={"values": list(op.old_values), "columns": columns},
        message=f"Enum type {_label(op.name, op.schema)} is {_values(op.old_values)} in the database "
                f"but {_values(op.new_values)} in the models: the models' version {'; '.join(changes)}",
        severity="info" if op.only_added else "warning",
    )


def _index_state(index: Any, name: str) -> Fields:
    columns = [getattr(e, "name", None) or str(e) for e in index.expressions]
    return {"name": name, "columns": columns, "unique": bool(index.unique)}


@describer(RenameIndexOp)
def _rename_index(op: RenameIndexOp, dialect: Dialect) -> Fields:
    label = _label(op.table_name, op.schema)
    return dict(
        kind="rename_index", table=op.table_name, schema=op.schema, name=op.new_name, object_type="index",
        models=_index_state(op.new_index, op.new_name), database=_index_state(op.old_index, op.old_name),
        message=f"Index {op.old_name} on {label} is named {op.new_name} in the models, "
                "with the same definition: a rename, not a new index",
    )


_CONSTRAINT_WORDS = {
    "unique": ("unique_constraint", "Unique constraint"),
    "foreignkey": ("foreign_key", "Foreign key"),
    "check": ("check_constraint", "Check constraint"),
    "primary": ("primary_key", "Primary key"),
}


@describer(RenameConstraintOp)
def _rename_constraint(op: RenameConstraintOp, dialect: Dialect) -> Fields:
    object_type, word = _CONSTRAINT_WORDS.get(op.constraint_type, ("constraint", "Constraint"))
    label = _label(op.table_name, op.schema)
    cols = f" {_cols(op.columns)}" if op.columns else ""
    return dict(
        kind="rename_constraint", table=op.table_name, schema=op.schema, name=op.new_name, object_type=object_type,
        models={"name": op.new_name, "type": op.constraint_type, "columns": list(op.columns)},
        database={"name": op.old_name, "type": op.constraint_type, "columns": list(op.columns)},
        message=f"{word} {op.old_name or '(unnamed)'} on {label}{cols} is named {op.new_name or '(unnamed)'} "
                "in the models, with the same definition: a rename",
    )


@describer(ModifyComputedOp)
def _computed(op: ModifyComputedOp, dialect: Dialect) -> Fields:
    label = f"{_label(op.table_name, op.schema)}.{op.column_name}"

    def side(sqltext: str | None) -> str:
        if sqltext is None:
            return "not generated"
        wrapped = sqltext.startswith("(") and sqltext.endswith(")")
        return f"generated as {sqltext}" if wrapped else f"generated as ({sqltext})"

    return dict(
        kind="modify_computed", table=op.table_name, schema=op.schema, name=op.column_name, object_type="column",
        models={"computed": op.new_sqltext}, database={"computed": op.old_sqltext},
        message=f"Column {label} is {side(op.old_sqltext)} in the database but {side(op.new_sqltext)} in the models",
        severity="warning",
    )
