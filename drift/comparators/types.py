"""Column types: what alembic's type comparison lets through.

* Alembic compares a type's arguments only when both sides spell out the same
  number of them, so MariaDB's ``INTEGER UNSIGNED`` against a plain
  ``Integer()`` in the models counts as equal — yet the two hold different
  ranges.
* A PostgreSQL type SQLAlchemy does not know (``point``, a domain, an
  extension's type) reflects as ``NullType`` and alembic skips the column.
  Here the database's own name for the type (``format_type()``) is compared
  with the models' type as PostgreSQL would spell it.

The checks run before alembic's own comparison (after a user's
``compare_type`` callable) and decide only what they are sure of; every other
case is left to alembic.
"""

from __future__ import annotations

import logging
import re
import weakref
from typing import Any, Callable

import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import AlterColumnOp
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import types as sqltypes
from sqlalchemy.sql.schema import Column

from ._util import plain_type, schema_read

log = logging.getLogger(__name__)

#: "different: why" / "same" / None (no opinion: let alembic decide).
Verdict = tuple[bool, str] | None
Check = Callable[[AutogenContext, str, "str | None", Column[Any], Column[Any]], Verdict]


def _mysql_sign(autogen_context: AutogenContext, tname: str, schema: str | None,
                conn_col: Column[Any], metadata_col: Column[Any]) -> Verdict:
    assert autogen_context.dialect is not None
    if not isinstance(conn_col.type, sqltypes.Integer):
        return None
    type_ = metadata_col.type
    impl = type_ if plain_type(type_) else type_.dialect_impl(autogen_context.dialect)
    if not isinstance(impl, sqltypes.Integer):
        return None
    conn_unsigned = bool(getattr(conn_col.type, "unsigned", False))
    if conn_unsigned == bool(getattr(impl, "unsigned", False)):
        return None  # the rest of the type is alembic's to compare
    return True, f"UNSIGNED {'in the database' if conn_unsigned else 'in the models'} only"


# Per comparison run: (schema, table) → {column: PostgreSQL's name of its type}.
_pg_type_names: weakref.WeakKeyDictionary[AutogenContext, dict[tuple[str | None, str], dict[str, str]]] = \
    weakref.WeakKeyDictionary()


def _pg_types_of(autogen_context: AutogenContext, tname: str, schema: str | None) -> dict[str, str]:
    cache = _pg_type_names.setdefault(autogen_context, {})
    if (schema, tname) not in cache:
        rows = autogen_context.connection.execute(sa.text(  # type: ignore[union-attr]
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = :table AND n.nspname = COALESCE(:schema, current_schema()) "
            "AND a.attnum > 0 AND NOT a.attisdropped"
        ), {"table": tname, "schema": schema})
        cache[(schema, tname)] = {name: type_name for name, type_name in rows}
    return cache[(schema, tname)]


@schema_read
def _read_unknown_types(autogen_context: AutogenContext, schema: str | None) -> None:
    """PostgreSQL: the type names of the tables that have a column of a type SQLAlchemy does not know."""
    if autogen_context.dialect is None or autogen_context.dialect.name != "postgresql":
        return
    for (_, tname), columns in autogen_context.inspector.get_multi_columns(schema=schema).items():
        if any(isinstance(column["type"], sqltypes.NullType) for column in columns):
            _pg_types_of(autogen_context, tname, schema)


def _type_words(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace('"', "")).strip().lower()


def _pg_unknown_type(autogen_context: AutogenContext, tname: str, schema: str | None,
                     conn_col: Column[Any], metadata_col: Column[Any]) -> Verdict:
    if not isinstance(conn_col.type, sqltypes.NullType) or isinstance(metadata_col.type, sqltypes.NullType):
        return None
    database = _pg_types_of(autogen_context, tname, schema).get(conn_col.name)
    try:
        models = str(metadata_col.type.compile(dialect=autogen_context.dialect))
    except sa.exc.CompileError:
        return None
    if database is None:
        return None
    if _type_words(database) == _type_words(models):
        return False, ""
    return True, f"{database} in the database, {models} in the models"


#: Per dialect, the checks to run in order; the first with a verdict decides.
TYPE_CHECKS: dict[str, list[Check]] = {
    "mysql": [_mysql_sign],
    "postgresql": [_pg_unknown_type],
}


def compare_type_details(
    autogen_context: AutogenContext,
    alter_column_op: AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Column[Any],
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    dialect = autogen_context.dialect
    assert dialect is not None
    for check in TYPE_CHECKS.get(dialect.name, ()):
        verdict = check(autogen_context, tname, schema, conn_col, metadata_col)
        if verdict is None:
            continue
        different, why = verdict
        alter_column_op.existing_type = conn_col.type
        if different:
            alter_column_op.modify_type = metadata_col.type
            log.info("Detected type change on '%s.%s': %s", tname, cname, why)
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(compare_type_details, "column", "types", priority=DispatchPriority.FIRST)
