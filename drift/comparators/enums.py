"""PostgreSQL enum types: values added, removed or reordered.

On PostgreSQL a native enum is a type of its own (``CREATE TYPE mood AS ENUM
(...)``); alembic compares a column's type by its name only, so a value added
to ``sa.Enum(...)`` in the models goes unnoticed until an INSERT fails. This
comparator reads the database's enum types (``Inspector.get_enums``) and
compares each one the models use, values and order. (MariaDB's inline ENUM is
part of the column type and alembic compares it; SQLite has no enum type.)
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import UpgradeOps
from alembic.runtime.plugins import Plugin
from alembic.util import PriorityDispatchResult
from sqlalchemy.engine import Dialect

from .ops import ModifyEnumOp

log = logging.getLogger(__name__)


def _may_hold_enum(type_: Any) -> bool:
    """Whether ``type_`` can be, or on some dialect become, a native enum: cheap, so most columns skip the rest."""
    return (
        isinstance(type_, (sa.Enum, sa.types.TypeDecorator))
        or bool(getattr(type_, "_variant_mapping", None))  # with_variant(Enum(...), "postgresql")
        or getattr(type_, "item_type", None) is not None  # ARRAY(Enum(...))
    )


def _enum_types(type_: Any, dialect: Dialect) -> Iterator[sa.Enum]:
    if not _may_hold_enum(type_):
        return
    impl = type_.dialect_impl(dialect)
    if isinstance(impl, sa.Enum) and impl.native_enum and impl.name:
        yield impl
    item = getattr(impl, "item_type", None)  # ARRAY(Enum(...))
    if item is not None:
        yield from _enum_types(item, dialect)


def metadata_enums(autogen_context: AutogenContext, schemas: set[str | None]
                   ) -> dict[tuple[str | None, str], tuple[list[str], list[tuple[str | None, str, str]]]]:
    """(schema, name) → (values, [(schema, table, column), ...]) for the models' native enums."""
    dialect = autogen_context.dialect
    assert dialect is not None
    default_schema = dialect.default_schema_name
    found: dict[tuple[str | None, str], tuple[list[str], list[tuple[str | None, str, str]]]] = {}
    for table in autogen_context.sorted_tables:
        table_schema = None if table.schema == default_schema else table.schema
        if table_schema not in schemas:
            continue
        for column in table.columns:
            for enum in _enum_types(column.type, dialect):
                schema = enum.schema if enum.schema is not None else table_schema
                schema = None if schema == default_schema else schema
                values, columns = found.setdefault((schema, str(enum.name)), (list(enum.enums), []))
                columns.append((table_schema, table.name, column.name))
    return found


def compare_enums(autogen_context: AutogenContext, upgrade_ops: UpgradeOps,
                  schemas: set[str | None]) -> PriorityDispatchResult:
    dialect = autogen_context.dialect
    assert dialect is not None
    wanted = metadata_enums(autogen_context, schemas)
    if not wanted:
        return PriorityDispatchResult.CONTINUE
    inspector = autogen_context.inspector
    existing: dict[tuple[str | None, str], list[str]] = {}
    for schema in {s for s, _ in wanted}:
        for enum in inspector.get_enums(schema=schema or dialect.default_schema_name):  # type: ignore[attr-defined]
            existing[(schema, enum["name"])] = list(enum["labels"])
    found = []
    for (schema, name), (values, columns) in sorted(wanted.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        labels = existing.get((schema, name))
        # A type missing altogether comes with its table or column (CREATE TABLE makes it).
        if labels is None or labels == values:
            continue
        # alembic hands the type name through to include_name; "enum" is drift's own.
        if not autogen_context.run_name_filters(name, "enum", {"schema_name": schema}):  # type: ignore[arg-type]
            continue
        log.info("Detected changed enum %r: %s to %s", name, labels, values)
        found.append(ModifyEnumOp(name, schema=schema, old_values=labels, new_values=values, columns=columns))
    # First in the migration: a new value must exist before a column default or a row uses it.
    upgrade_ops.ops[0:0] = found
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(compare_enums, "schema", "enums", qualifier="postgresql")
