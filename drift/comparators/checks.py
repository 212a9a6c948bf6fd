"""CHECK constraints, compared by their normalised expressions.

Alembic's default plugins do not look at check constraints at all; its opt-in
``alembic.ext.checkconstraint_byname`` matches them by name only, treats every
expression as equal, and reports each unnamed model check as missing on
PostgreSQL and MariaDB (which name them ``<table>_<col>_check`` and
``CONSTRAINT_1``). This comparator replaces it — enable one or the other, not
both — and pairs the two sides in three passes:

1. by name, where both sides have one: a different expression is a
   ``ModifyCheckOp``;
2. by expression: an unnamed model check matches any database check with the
   same canonical expression (:mod:`.sqltext`); a named one under another name
   is a ``RenameConstraintOp``;
3. by the columns they constrain, one to one: a changed unnamed check is a
   ``ModifyCheckOp`` rather than a drop and an add.

What is left is added (``AddConstraintOp``) or removed (``DropConstraintOp``).
MariaDB's reflection misses checks written on a column; they are read from
``information_schema.CHECK_CONSTRAINTS`` instead, and the ``json_valid()``
check MariaDB adds to every JSON column is not a difference.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.operations.ops import ModifyTableOps
from alembic.runtime.plugins import Plugin
from alembic.util import PriorityDispatchResult
from sqlalchemy import CheckConstraint, Table

from . import sqltext
from ._util import final_name, per_schema, reflected_names, schema_read, sql_of
from .ops import ModifyCheckOp, RenameConstraintOp

log = logging.getLogger(__name__)


@dataclass
class _Check:
    name: str | None
    sqltext: str
    canonical: str
    columns: frozenset[str]
    built: CheckConstraint | None = None
    #: For a reflected check: the stand-in table its constraint goes on, made when first needed.
    holder: Callable[[], Table] | None = None

    @property
    def constraint(self) -> CheckConstraint:
        """The constraint object, built only for the few checks an op is made from."""
        if self.built is None:
            self.built = CheckConstraint(sa.text(self.sqltext), name=self.name)
            if self.holder is not None:
                self.holder().append_constraint(self.built)
        return self.built


# --------------------------------------------------------------------------- reading the database


def _reflect_default(autogen_context: AutogenContext, tname: str, schema: str | None) -> list[dict[str, Any]]:
    inspector = autogen_context.inspector
    every = per_schema(
        autogen_context, "checks", schema, lambda: reflected_names(inspector.get_multi_check_constraints(schema=schema))
    )
    return [dict(c) for c in every.get((schema, tname), [])]


def _reflect_mysql(autogen_context: AutogenContext, tname: str, schema: str | None) -> list[dict[str, Any]]:
    dialect = autogen_context.dialect
    if not getattr(dialect, "is_mariadb", False):
        return _reflect_default(autogen_context, tname, schema)
    # SHOW CREATE TABLE, which SQLAlchemy parses, writes column-level checks inside the
    # column definition, where reflection does not look; the catalogue lists them all.
    connection = autogen_context.connection
    assert connection is not None
    # One catalogue query per schema, not one round trip per table.
    every = per_schema(autogen_context, MARIADB_CHECKS, schema, lambda: read_mariadb_checks(connection, schema))
    return list(every.get(tname, []))


#: Where :func:`per_schema` keeps a MariaDB schema's checks (``drift.prefetch`` may read them ahead).
MARIADB_CHECKS = "mariadb_checks"


def read_mariadb_checks(connection: sa.Connection, schema: str | None) -> dict[str, list[dict[str, Any]]]:
    """Every check constraint of a MariaDB schema, table and column level, by table name."""
    rows = connection.execute(
        sa.text(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = COALESCE(:schema, DATABASE()) ORDER BY TABLE_NAME, CONSTRAINT_NAME"
        ),
        {"schema": schema},
    )
    by_table: dict[str, list[dict[str, Any]]] = {}
    for table, name, clause in rows:
        by_table.setdefault(table, []).append({"name": name, "sqltext": clause})
    return reflected_names(by_table)


#: How each dialect's check constraints are read: list of {"name", "sqltext"}.
REFLECTORS: dict[str, Callable[[AutogenContext, str, str | None], list[dict[str, Any]]]] = {
    "mysql": _reflect_mysql,
}


@schema_read
def _read_schema(autogen_context: AutogenContext, schema: str | None) -> None:
    """Every check of ``schema``, read ahead (any table name will do)."""
    dialect = autogen_context.dialect
    assert dialect is not None
    with contextlib.suppress(NotImplementedError):
        REFLECTORS.get(dialect.name, _reflect_default)(autogen_context, "", schema)


def _mariadb_json_valid(check: _Check, metadata_table: Table, dialect: sa.engine.Dialect) -> bool:
    # MariaDB's JSON is LONGTEXT plus CHECK (json_valid(col)) written on the column and named
    # after it. It belongs to the column's type (the type comparison covers it) and goes
    # away with it when the column is altered.
    tree = sqltext.canonical_tree(check.sqltext, "mysql")
    return (
        isinstance(tree, tuple) and tree[0] == "call" and tree[1] == "json_valid" and len(tree[2]) == 1
        and tree[2][0][0] == "id" and check.name is not None and tree[2][0][1] == check.name.lower()
    )


#: Checks a database adds by itself, per dialect: not drift.
IMPLICIT: dict[str, Callable[[_Check, Table, sa.engine.Dialect], bool]] = {
    "mysql": _mariadb_json_valid,
}


# --------------------------------------------------------------------------- comparing


def _metadata_checks(table: Table, dialect: sa.engine.Dialect) -> list[_Check]:
    found = [c for c in table.constraints if isinstance(c, CheckConstraint)]
    for column in table.columns:
        found.extend(c for c in column.constraints if isinstance(c, CheckConstraint))
    checks = []
    for constraint in found:
        text = sql_of(constraint.sqltext, dialect)
        checks.append(_Check(final_name(constraint, dialect), text, sqltext.canonical(text, dialect.name),
                             sqltext.columns_in(text), built=constraint))
    return sorted(checks, key=lambda c: (c.name or "", c.canonical))


def _conn_checks(autogen_context: AutogenContext, tname: str, schema: str | None, conn_table: Table,
                 metadata_table: Table) -> list[_Check] | None:
    dialect = autogen_context.dialect
    assert dialect is not None
    reflect = REFLECTORS.get(dialect.name, _reflect_default)
    try:
        reflected = reflect(autogen_context, tname, schema)
    except NotImplementedError:
        return None
    implicit = IMPLICIT.get(dialect.name)
    made: list[Table] = []

    def holder() -> Table:
        # A stand-in table, so ops built from these constraints can render (they need a table).
        if not made:
            made.append(Table(tname, sa.MetaData(), schema=schema))
        return made[0]

    checks = []
    for item in reflected:
        name = item.get("name")
        if name is not None and not autogen_context.run_name_filters(
                name, "check_constraint", {"table_name": tname, "schema_name": schema}):
            continue
        text = item["sqltext"]
        check = _Check(name, text, sqltext.canonical(text, dialect.name), sqltext.columns_in(text), holder=holder)
        if implicit is not None and implicit(check, metadata_table, dialect):
            continue
        checks.append(check)
    return sorted(checks, key=lambda c: (c.name or "", c.canonical))


def compare_checks(
    autogen_context: AutogenContext,
    modify_table_ops: ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    if conn_table is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE  # created and dropped tables carry their checks inline
    dialect = autogen_context.dialect
    assert dialect is not None
    conn = _conn_checks(autogen_context, tname, schema, conn_table, metadata_table)
    if conn is None:
        return PriorityDispatchResult.CONTINUE
    metadata = [c for c in _metadata_checks(metadata_table, dialect)
                if autogen_context.run_object_filters(c.constraint, c.name, "check_constraint", False, None)]
    emit = modify_table_ops.ops.append

    def modified(md: _Check, db: _Check) -> None:
        log.info("Detected changed check constraint %r on %r", md.name or db.name, tname)
        emit(ModifyCheckOp(tname, schema=schema, old_name=db.name, old_sqltext=db.sqltext, new_name=md.name,
                           new_sqltext=md.sqltext, old_canonical=db.canonical, new_canonical=md.canonical,
                           columns=sorted(md.columns | db.columns)))

    # 1. by name
    by_name = {c.name: c for c in conn if c.name}
    for md in list(metadata):
        db = by_name.get(md.name) if md.name else None
        if db is None:
            continue
        metadata.remove(md)
        conn.remove(db)
        if md.canonical != db.canonical:
            modified(md, db)

    # 2. by expression
    for md in list(metadata):
        db = next((c for c in conn if c.canonical == md.canonical), None)
        if db is None:
            continue
        metadata.remove(md)
        conn.remove(db)
        if md.name and md.name != db.name:
            log.info("Detected renamed check constraint %r to %r on %r", db.name, md.name, tname)
            emit(RenameConstraintOp(tname, schema=schema, constraint_type="check", old_name=db.name,
                                    new_name=md.name, old_constraint=db.constraint, new_constraint=md.constraint))

    # 3. by the columns constrained, only where that pairs them one to one
    for md in list(metadata):
        if not md.columns:
            continue
        candidates = [c for c in conn if c.columns == md.columns]
        rivals = [m for m in metadata if m.columns == md.columns]
        if len(candidates) == 1 and len(rivals) == 1:
            metadata.remove(md)
            conn.remove(candidates[0])
            modified(md, candidates[0])

    for db in conn:
        log.info("Detected removed check constraint %r on %r", db.name, tname)
        emit(ops.DropConstraintOp.from_constraint(db.constraint))
    for md in metadata:
        log.info("Detected added check constraint %r on %r", md.name, tname)
        emit(ops.AddConstraintOp.from_constraint(md.constraint))
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(compare_checks, "table", "check_constraints")

