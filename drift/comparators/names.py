"""Indexes and constraints that differ only by name: a rename, not a drop and an add.

Alembic matches indexes and unique constraints by name, so renaming one in the
models yields a ``drop_index`` and a ``create_index`` with the same
definition — rebuilding an index that only needed ``ALTER INDEX ... RENAME``.
Foreign keys it matches by definition only, so a renamed foreign key is not
seen at all.

This comparator runs after alembic's (``DispatchPriority.LAST``): it pairs a
dropped and a created index (or unique constraint) of one table whose
definitions are equal — columns or canonical expressions, uniqueness, partial
predicate — and puts one :class:`~.ops.RenameIndexOp` /
:class:`~.ops.RenameConstraintOp` in their place. Named foreign keys are
matched with the database's by definition and a different name is reported.
"""

from __future__ import annotations

import logging
from typing import Any

from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.operations.ops import ModifyTableOps
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import ForeignKeyConstraint, Index, Table, UniqueConstraint
from sqlalchemy.engine import Dialect

from . import sqltext
from ._util import final_name, sql_of
from .ops import RenameConstraintOp, RenameIndexOp

log = logging.getLogger(__name__)

Signature = tuple[Any, ...]


def _expression_text(expr: Any, dialect: Dialect) -> str:
    name = getattr(expr, "name", None)
    if name is not None and not getattr(expr, "is_literal", False) and hasattr(expr, "table"):
        return sqltext.canonical(str(name), dialect.name)
    return sqltext.canonical(sql_of(expr, dialect), dialect.name)


def _where(index: Index, dialect: Dialect) -> str:
    where = index.dialect_kwargs.get(f"{dialect.name}_where")
    return sqltext.canonical(sql_of(where, dialect), dialect.name) if where is not None else ""


def index_signature(index: Index, dialect: Dialect) -> Signature:
    """What makes two indexes the same index, whatever their names."""
    return (bool(index.unique), tuple(_expression_text(e, dialect) for e in index.expressions), _where(index, dialect))


def _unique_signature(constraint: UniqueConstraint, dialect: Dialect) -> Signature:
    return (True, tuple(sqltext.canonical(c.name, dialect.name) for c in constraint.columns), "")


def _signature(op: ops.MigrateOperation, dialect: Dialect) -> tuple[str, Signature] | None:
    """("index" | "unique", signature) for a drop/create of an index or unique constraint."""
    if isinstance(op, (ops.CreateIndexOp, ops.DropIndexOp)):
        try:
            return "index", index_signature(op.to_index(), dialect)
        except Exception:  # an op without its definition cannot be paired
            return None
    if isinstance(op, (ops.AddConstraintOp, ops.DropConstraintOp)) and op.constraint_type == "unique":
        try:
            constraint = op.to_constraint()
        except Exception:
            return None
        if isinstance(constraint, UniqueConstraint):
            return "unique", _unique_signature(constraint, dialect)
    return None


def _name(op: Any) -> str | None:
    return getattr(op, "index_name", None) or getattr(op, "constraint_name", None)


def pair_renamed_indexes(autogen_context: AutogenContext, modify_table_ops: ModifyTableOps,
                         schema: str | None, tname: str) -> None:
    dialect = autogen_context.dialect
    assert dialect is not None
    table_ops = modify_table_ops.ops
    dropped = [(op, _signature(op, dialect)) for op in table_ops
               if isinstance(op, (ops.DropIndexOp, ops.DropConstraintOp))]
    created = [(op, _signature(op, dialect)) for op in table_ops
               if isinstance(op, (ops.CreateIndexOp, ops.AddConstraintOp))]
    used: set[int] = set()
    for drop, drop_sig in sorted(dropped, key=lambda d: str(_name(d[0]))):
        if drop_sig is None:
            continue
        match = next(
            (c for c, sig in sorted(created, key=lambda c: str(_name(c[0])))
             if id(c) not in used and sig is not None and sig[1] == drop_sig[1] and _name(c) != _name(drop)),
            None,
        )
        if match is None:
            continue
        used.add(id(match))
        rename = _rename_op(drop, match, drop_sig[0], schema, tname, dialect)
        log.info("Detected renamed %s %r to %r on %r", drop_sig[0], _name(drop), _name(match), tname)
        table_ops[table_ops.index(drop)] = rename
        table_ops.remove(match)


def _rename_op(drop: Any, create: Any, kind: str, schema: str | None, tname: str,
               dialect: Dialect) -> ops.MigrateOperation:
    if isinstance(create, ops.CreateIndexOp):
        return RenameIndexOp(tname, schema=schema, old_name=str(_name(drop)), new_name=str(_name(create)),
                             old_index=drop.to_index() if isinstance(drop, ops.DropIndexOp) else create.to_index(),
                             new_index=create.to_index())
    new = create.to_constraint()
    # MariaDB reflects a unique constraint as a unique index: the definitions are equal
    # (that is how the pair was made), so the model's constraint stands for both.
    old = drop.to_constraint() if isinstance(drop, ops.DropConstraintOp) else new
    return RenameConstraintOp(tname, schema=schema, constraint_type="unique", old_name=_name(drop),
                              new_name=_name(create), old_constraint=old, new_constraint=new,
                              columns=[c.name for c in new.columns])


def _fk_signature(fk: ForeignKeyConstraint) -> Signature:
    return (
        tuple(c.lower() for c in fk.column_keys),
        tuple(e.target_fullname.lower() for e in fk.elements),
    )


def pair_renamed_foreign_keys(autogen_context: AutogenContext, modify_table_ops: ModifyTableOps,
                              schema: str | None, tname: str, conn_table: Table, metadata_table: Table) -> None:
    dialect = autogen_context.dialect
    assert dialect is not None
    conn_by_sig: dict[Signature, list[ForeignKeyConstraint]] = {}
    for fk in conn_table.foreign_key_constraints:
        conn_by_sig.setdefault(_fk_signature(fk), []).append(fk)
    for fk in sorted(metadata_table.foreign_key_constraints, key=lambda f: str(f.name)):
        md_name = final_name(fk, dialect)
        if md_name is None:
            continue
        candidates = conn_by_sig.get(_fk_signature(fk), [])
        if not candidates or any(c.name == md_name for c in candidates):
            continue
        old = candidates.pop(0)
        if old.name is None or not autogen_context.run_object_filters(
                fk, md_name, "foreign_key_constraint", False, old):
            continue
        log.info("Detected renamed foreign key %r to %r on %r", old.name, md_name, tname)
        modify_table_ops.ops.append(RenameConstraintOp(
            tname, schema=schema, constraint_type="foreignkey", old_name=str(old.name), new_name=md_name,
            old_constraint=old, new_constraint=fk, columns=list(fk.column_keys),
        ))


def compare_names(
    autogen_context: AutogenContext,
    modify_table_ops: ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    if conn_table is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE
    pair_renamed_indexes(autogen_context, modify_table_ops, schema, tname)
    pair_renamed_foreign_keys(autogen_context, modify_table_ops, schema, tname, conn_table, metadata_table)
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(compare_names, "table", "renames", priority=DispatchPriority.LAST)
