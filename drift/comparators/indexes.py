"""Partial indexes: the WHERE predicate, which alembic does not compare.

An index ``ON tasks (due) WHERE NOT done`` that became ``WHERE done IS NULL``
keeps its name and columns, so alembic sees the same index. Here the
predicates of same-named indexes (``postgresql_where``, ``sqlite_where``) are
compared in canonical form (:mod:`.sqltext`) and a difference is reported
the way alembic reports any changed index: a drop and a create.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.operations.ops import ModifyTableOps
from alembic.runtime.plugins import Plugin
from alembic.util import PriorityDispatchResult
from sqlalchemy import Index, Table

from . import sqltext
from ._util import final_name, per_schema, reflected_names, schema_read, sql_of

log = logging.getLogger(__name__)

#: Dialects whose indexes can have a predicate, and the keyword SQLAlchemy uses for it.
WHERE_KEYWORDS = {"postgresql": "postgresql_where", "sqlite": "sqlite_where"}


def _canonical_where(where: Any, dialect: sa.engine.Dialect) -> str:
    return sqltext.canonical(sql_of(where, dialect), dialect.name) if where is not None else ""


@schema_read
def _indexes(autogen_context: AutogenContext, schema: str | None) -> dict[Any, list[dict[str, Any]]]:
    """Every index of ``schema``, read once per comparison."""
    if autogen_context.dialect is None or autogen_context.dialect.name not in WHERE_KEYWORDS:
        return {}
    inspector = autogen_context.inspector
    return per_schema(
        autogen_context, "indexes", schema, lambda: reflected_names(inspector.get_multi_indexes(schema=schema))
    )


def compare_index_predicates(
    autogen_context: AutogenContext,
    modify_table_ops: ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    dialect = autogen_context.dialect
    assert dialect is not None
    keyword = WHERE_KEYWORDS.get(dialect.name)
    if keyword is None or conn_table is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE
    reflected = {ix["name"]: ix for ix in _indexes(autogen_context, schema).get((schema, tname), [])}
    # An index alembic already replaces (other columns, uniqueness) needs no second report.
    touched = {op.index_name for op in modify_table_ops.ops if isinstance(op, (ops.DropIndexOp, ops.CreateIndexOp))}
    for index in sorted(metadata_table.indexes, key=lambda i: str(i.name)):
        name = final_name(index, dialect)
        found = reflected.get(name)
        if found is None or name in touched:
            continue
        md_where = _canonical_where(index.dialect_kwargs.get(keyword), dialect)
        conn_where = _canonical_where((found.get("dialect_options") or {}).get(keyword), dialect)
        if md_where == conn_where:
            continue
        if not autogen_context.run_object_filters(index, name, "index", False, None):
            continue
        log.info("Detected changed predicate of index %r on %r: %s to %s", name, tname, conn_where, md_where)
        old = _reflected_index(dict(found), conn_table, keyword)
        modify_table_ops.ops.append(ops.DropIndexOp.from_index(old))
        modify_table_ops.ops.append(ops.CreateIndexOp.from_index(index))
    return PriorityDispatchResult.CONTINUE


def _reflected_index(found: dict[str, Any], conn_table: Table, keyword: str) -> Index:
    expressions = [
        conn_table.c[col] if col is not None else sa.text(expr)
        for col, expr in zip(found["column_names"], found.get("expressions") or found["column_names"])
    ]
    where = (found.get("dialect_options") or {}).get(keyword)
    kwargs: dict[str, Any] = {keyword: sa.text(where) if isinstance(where, str) else where} if where is not None else {}
    # Built on a copy of the reflected table so the reflected schema is left as alembic saw it.
    holder = conn_table.to_metadata(sa.MetaData())
    expressions = [holder.c[e.name] if isinstance(e, sa.Column) else e for e in expressions]
    return Index(found["name"], *expressions, unique=bool(found.get("unique")), _table=holder, **kwargs)


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(compare_index_predicates, "table", "index_predicates")
