"""The migration operations drift's comparators emit, and how autogenerate writes them.

Each op is an alembic :class:`~alembic.operations.ops.MigrateOperation`, so it
sits in the same op tree as alembic's own and ``alembic revision
--autogenerate`` renders it through :data:`alembic.autogenerate.renderers`.
The rendered code uses only stock alembic directives (``op.execute``,
``op.drop_constraint``, ``op.create_primary_key`` …), so a migration written
with these ops never needs drift installed to run.

Rendering is kept here, apart from the comparing, as alembic keeps
``render.py`` apart from ``compare/``.
"""

from __future__ import annotations

from typing import Any, Sequence

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.render import render_op
from alembic.operations import ops
from sqlalchemy.sql.schema import Column, Constraint, Index

from ._util import dialect_name

# --------------------------------------------------------------------------- helpers


def _prefix(autogen_context: AutogenContext) -> str:
    # Inside ``with op.batch_alter_table(...) as batch_op:`` directives go to batch_op.
    # AutogenContext has no public way to tell; alembic's own renderers read the same flag.
    if autogen_context._has_batch:
        return "batch_op."
    return autogen_context.opts.get("alembic_module_prefix") or "op."


def _qualified(autogen_context: AutogenContext, name: str, schema: str | None) -> str:
    preparer = autogen_context.dialect.identifier_preparer if autogen_context.dialect else None
    if preparer is None:
        return f"{schema}.{name}" if schema else name
    quoted = preparer.quote(name)
    return f"{preparer.quote_schema(schema)}.{quoted}" if schema else quoted


def _quote(autogen_context: AutogenContext, name: str) -> str:
    preparer = autogen_context.dialect.identifier_preparer if autogen_context.dialect else None
    return preparer.quote(name) if preparer is not None else name


def _execute(autogen_context: AutogenContext, sql: str) -> list[str]:
    return render_op(autogen_context, ops.ExecuteSQLOp(sql))


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --------------------------------------------------------------------------- primary keys


class ModifyPrimaryKeyOp(ops.MigrateOperation):
    """The primary key of a table is on other columns in the models than in the database."""

    drift_kind = "modify_primary_key"

    def __init__(self, table_name: str, *, schema: str | None, old_name: str | None,
                 old_columns: Sequence[str], new_name: str | None, new_columns: Sequence[str]) -> None:
        self.table_name = table_name
        self.schema = schema
        self.old_name = old_name
        self.old_columns = tuple(old_columns)
        self.new_name = new_name
        self.new_columns = tuple(new_columns)

    def reverse(self) -> ModifyPrimaryKeyOp:
        return ModifyPrimaryKeyOp(self.table_name, schema=self.schema, old_name=self.new_name,
                                  old_columns=self.new_columns, new_name=self.old_name, new_columns=self.old_columns)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("modify_primary_key", self.schema, self.table_name, self.old_columns, self.new_columns)


# MariaDB calls every primary key PRIMARY; a name is needed to drop one.
_PRIMARY_KEY_NAMES = {"mysql": "PRIMARY"}


@renderers.dispatch_for(ModifyPrimaryKeyOp)
def _render_modify_primary_key(autogen_context: AutogenContext, op: ModifyPrimaryKeyOp) -> list[str]:
    lines: list[str] = []
    prefix = _prefix(autogen_context)
    batch = autogen_context._has_batch
    if op.old_columns:
        old_name = op.old_name or _PRIMARY_KEY_NAMES.get(dialect_name(autogen_context))
        if old_name is None and batch:
            # SQLite: batch mode rebuilds the table, and create_primary_key below replaces
            # an unnamed key; there is nothing to drop by name.
            pass
        else:
            lines.extend(render_op(autogen_context, ops.DropConstraintOp(
                old_name, op.table_name, type_="primary", schema=op.schema)))
    if op.new_columns:
        args = [repr(op.new_name or f"pk_{op.table_name}")]
        if not batch:
            args.append(repr(op.table_name))
        args.append(repr(list(op.new_columns)))
        if op.schema and not batch:
            args.append(f"schema={op.schema!r}")
        lines.append(f"{prefix}create_primary_key({', '.join(args)})")
    return lines


# --------------------------------------------------------------------------- check constraints


class ModifyCheckOp(ops.MigrateOperation):
    """A CHECK constraint's expression differs between the models and the database."""

    drift_kind = "modify_check"

    def __init__(self, table_name: str, *, schema: str | None, old_name: str | None, old_sqltext: str,
                 new_name: str | None, new_sqltext: str, old_canonical: str = "", new_canonical: str = "",
                 columns: Sequence[str] = ()) -> None:
        self.table_name = table_name
        self.schema = schema
        self.old_name = old_name
        self.old_sqltext = old_sqltext
        self.new_name = new_name
        self.new_sqltext = new_sqltext
        self.old_canonical = old_canonical
        self.new_canonical = new_canonical
        self.columns = tuple(columns)  # the columns the check reads, sorted

    @property
    def name(self) -> str | None:
        return self.new_name or self.old_name

    def reverse(self) -> ModifyCheckOp:
        return ModifyCheckOp(self.table_name, schema=self.schema, old_name=self.new_name,
                             old_sqltext=self.new_sqltext, new_name=self.old_name, new_sqltext=self.old_sqltext,
                             old_canonical=self.new_canonical, new_canonical=self.old_canonical,
                             columns=self.columns)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("modify_check", self.schema, self.table_name, self.name, self.old_sqltext, self.new_sqltext)


@renderers.dispatch_for(ModifyCheckOp)
def _render_modify_check(autogen_context: AutogenContext, op: ModifyCheckOp) -> list[str]:
    # A check cannot be altered in place on any of the three databases: drop, then create.
    # The database's name is used for both when the models leave it unnamed, so the
    # recreated check keeps the name later migrations will look for.
    name = op.new_name or op.old_name
    if op.old_name is None:
        # Only SQLite keeps a check without a name; nothing can drop it by name.
        lines = ["# The database's check is unnamed and cannot be dropped by name: rebuild the table",
                 "# (batch mode with table_args / reflect_args) or name the check in the models."]
    else:
        lines = render_op(autogen_context, ops.DropConstraintOp(op.old_name, op.table_name, type_="check",
                                                                schema=op.schema))
    lines.extend(render_op(autogen_context, ops.CreateCheckConstraintOp(name, op.table_name, op.new_sqltext,
                                                                        schema=op.schema)))
    return lines


# --------------------------------------------------------------------------- enums


class ModifyEnumOp(ops.MigrateOperation):
    """A PostgreSQL enum type holds other values (or another order) in the models than in the database."""

    drift_kind = "modify_enum"

    def __init__(self, name: str, *, schema: str | None, old_values: Sequence[str], new_values: Sequence[str],
                 columns: Sequence[tuple[str | None, str, str]]) -> None:
        self.name = name
        self.schema = schema
        self.old_values = tuple(old_values)
        self.new_values = tuple(new_values)
        self.columns = tuple(columns)

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(v for v in self.new_values if v not in self.old_values)

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(v for v in self.old_values if v not in self.new_values)

    @property
    def only_added(self) -> bool:
        """True when the old values appear, in their order, among the new ones (ADD VALUE suffices)."""
        kept = [v for v in self.new_values if v in self.old_values]
        return not self.removed and kept == list(self.old_values)

    def reverse(self) -> ModifyEnumOp:
        return ModifyEnumOp(self.name, schema=self.schema, old_values=self.new_values, new_values=self.old_values,
                            columns=self.columns)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("modify_enum", self.schema, self.name, self.old_values, self.new_values)


@renderers.dispatch_for(ModifyEnumOp)
def _render_modify_enum(autogen_context: AutogenContext, op: ModifyEnumOp) -> list[str]:
    type_name = _qualified(autogen_context, op.name, op.schema)
    if op.only_added:
        lines = ["# ALTER TYPE ... ADD VALUE: the new value cannot be used in the same transaction"]
        for index, value in enumerate(op.new_values):
            if value in op.old_values:
                continue
            following = next((v for v in op.new_values[index + 1:] if v in op.old_values), None)
            preceding = next((v for v in reversed(op.new_values[:index]) if v in op.old_values), None)
            position = (f" BEFORE {_sql_literal(following)}" if following is not None
                        else f" AFTER {_sql_literal(preceding)}" if preceding is not None else "")
            lines.extend(_execute(autogen_context,
                                  f"ALTER TYPE {type_name} ADD VALUE IF NOT EXISTS {_sql_literal(value)}{position}"))
        return lines
    # PostgreSQL cannot drop or move an enum value: build the type anew and move the columns over.
    old_name = f"{op.name}_old"
    lines = ["# Values removed or reordered: recreate the type. Rows holding a removed value make",
             "# the ALTER COLUMN fail (update them first); a column default on the type must be",
             "# dropped before and set again after."]
    lines.extend(_execute(autogen_context, f"ALTER TYPE {type_name} RENAME TO {_quote(autogen_context, old_name)}"))
    values = ", ".join(_sql_literal(v) for v in op.new_values)
    lines.extend(_execute(autogen_context, f"CREATE TYPE {type_name} AS ENUM ({values})"))
    for schema, table, column in op.columns:
        col = _quote(autogen_context, column)
        lines.extend(_execute(
            autogen_context,
            f"ALTER TABLE {_qualified(autogen_context, table, schema)} ALTER COLUMN {col} "
            f"TYPE {type_name} USING {col}::text::{type_name}",
        ))
    lines.extend(_execute(autogen_context, f"DROP TYPE {_qualified(autogen_context, old_name, op.schema)}"))
    return lines


# --------------------------------------------------------------------------- renamed indexes and constraints


class RenameIndexOp(ops.MigrateOperation):
    """An index has the same definition in the models and the database, under another name."""

    drift_kind = "rename_index"

    def __init__(self, table_name: str, *, schema: str | None, old_name: str, new_name: str,
                 old_index: Index, new_index: Index) -> None:
        self.table_name = table_name
        self.schema = schema
        self.old_name = old_name
        self.new_name = new_name
        self.old_index = old_index
        self.new_index = new_index

    def reverse(self) -> RenameIndexOp:
        return RenameIndexOp(self.table_name, schema=self.schema, old_name=self.new_name, new_name=self.old_name,
                             old_index=self.new_index, new_index=self.old_index)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("rename_index", self.schema, self.table_name, self.old_name, self.new_name)


def _rename_index_sql(autogen_context: AutogenContext, op: RenameIndexOp) -> str | None:
    old, new = _quote(autogen_context, op.old_name), _quote(autogen_context, op.new_name)
    renderer = _RENAME_INDEX_SQL.get(dialect_name(autogen_context))
    return renderer(autogen_context, op, old, new) if renderer else None


_RENAME_INDEX_SQL = {
    "postgresql": lambda ctx, op, old, new: (
        f"ALTER INDEX {_qualified(ctx, op.old_name, op.schema)} RENAME TO {new}"),
    "mysql": lambda ctx, op, old, new: (
        f"ALTER TABLE {_qualified(ctx, op.table_name, op.schema)} RENAME INDEX {old} TO {new}"),
}


@renderers.dispatch_for(RenameIndexOp)
def _render_rename_index(autogen_context: AutogenContext, op: RenameIndexOp) -> list[str]:
    sql = _rename_index_sql(autogen_context, op)
    if sql is not None:
        return _execute(autogen_context, sql)
    # SQLite cannot rename an index: drop it and create it under the new name.
    lines = render_op(autogen_context, ops.DropIndexOp.from_index(op.old_index))
    lines.extend(render_op(autogen_context, ops.CreateIndexOp.from_index(op.new_index)))
    return lines


class RenameConstraintOp(ops.MigrateOperation):
    """A constraint has the same definition in the models and the database, under another name."""

    drift_kind = "rename_constraint"

    def __init__(self, table_name: str, *, schema: str | None, constraint_type: str, old_name: str | None,
                 new_name: str | None, old_constraint: Constraint, new_constraint: Constraint,
                 columns: Sequence[str] = ()) -> None:
        self.table_name = table_name
        self.schema = schema
        self.constraint_type = constraint_type  # "unique", "foreignkey", "check", "primary"
        self.old_name = old_name
        self.new_name = new_name
        self.old_constraint = old_constraint
        self.new_constraint = new_constraint
        self.columns = tuple(columns)  # the constrained columns, in order

    def reverse(self) -> RenameConstraintOp:
        return RenameConstraintOp(self.table_name, schema=self.schema, constraint_type=self.constraint_type,
                                  old_name=self.new_name, new_name=self.old_name,
                                  old_constraint=self.new_constraint, new_constraint=self.old_constraint,
                                  columns=self.columns)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("rename_constraint", self.schema, self.table_name, self.constraint_type, self.old_name, self.new_name)


def _can_rename_in_place(autogen_context: AutogenContext, op: RenameConstraintOp) -> str | None:
    table = _qualified(autogen_context, op.table_name, op.schema)
    if op.old_name is None or op.new_name is None:
        return None
    old, new = _quote(autogen_context, op.old_name), _quote(autogen_context, op.new_name)
    dialect = dialect_name(autogen_context)
    if dialect == "postgresql":
        return f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}"
    if dialect == "mysql" and op.constraint_type == "unique":
        # A MariaDB unique constraint is a unique index.
        return f"ALTER TABLE {table} RENAME INDEX {old} TO {new}"
    return None


@renderers.dispatch_for(RenameConstraintOp)
def _render_rename_constraint(autogen_context: AutogenContext, op: RenameConstraintOp) -> list[str]:
    sql = _can_rename_in_place(autogen_context, op)
    if sql is not None:
        return _execute(autogen_context, sql)
    # No RENAME CONSTRAINT here (SQLite; foreign keys and checks on MariaDB): drop and add.
    if op.constraint_type == "primary":
        return _render_modify_primary_key(autogen_context, ModifyPrimaryKeyOp(
            op.table_name, schema=op.schema, old_name=op.old_name, old_columns=op.columns,
            new_name=op.new_name, new_columns=op.columns))
    lines = render_op(autogen_context, ops.DropConstraintOp(
        op.old_name, op.table_name, type_=op.constraint_type, schema=op.schema))
    lines.extend(render_op(autogen_context, ops.AddConstraintOp.from_constraint(op.new_constraint)))
    return lines


# --------------------------------------------------------------------------- computed columns


class ModifyComputedOp(ops.MigrateOperation):
    """A generated column's expression differs, or a column is generated on one side only."""

    drift_kind = "modify_computed"

    def __init__(self, table_name: str, column_name: str, *, schema: str | None, old_sqltext: str | None,
                 new_sqltext: str | None, old_column: Column[Any], new_column: Column[Any]) -> None:
        self.table_name = table_name
        self.column_name = column_name
        self.schema = schema
        self.old_sqltext = old_sqltext
        self.new_sqltext = new_sqltext
        self.old_column = old_column
        self.new_column = new_column

    def reverse(self) -> ModifyComputedOp:
        return ModifyComputedOp(self.table_name, self.column_name, schema=self.schema, old_sqltext=self.new_sqltext,
                                new_sqltext=self.old_sqltext, old_column=self.new_column, new_column=self.old_column)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("modify_computed", self.schema, self.table_name, self.column_name, self.old_sqltext, self.new_sqltext)


@renderers.dispatch_for(ModifyComputedOp)
def _render_modify_computed(autogen_context: AutogenContext, op: ModifyComputedOp) -> list[str]:
    # None of the three databases can change a generated column's expression in place.
    lines = ["# A generated column cannot be altered: drop it and add it again (its values are recomputed)"]
    lines.extend(render_op(autogen_context, ops.DropColumnOp.from_column_and_tablename(
        op.schema, op.table_name, op.old_column)))
    lines.extend(render_op(autogen_context, ops.AddColumnOp.from_column_and_tablename(
        op.schema, op.table_name, op.new_column)))
    return lines


#: Every op class drift's comparators emit.
OPS: tuple[type[ops.MigrateOperation], ...] = (
    ModifyPrimaryKeyOp,
    ModifyCheckOp,
    ModifyEnumOp,
    RenameIndexOp,
    RenameConstraintOp,
    ModifyComputedOp,
)
