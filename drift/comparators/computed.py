"""Generated columns: alembic only warns that a changed expression "cannot be modified".

A ``Computed("a + b")`` that became ``Computed("a * b")`` in the models, or a
column generated on one side and plain on the other, makes alembic emit a
Python warning and no operation, so it never becomes a finding or a line of
the migration. Here the expressions are compared in canonical form
(:mod:`.sqltext`, so PostgreSQL's ``(a + b)`` and MariaDB's ```a` + `b``` equal
``a + b``) and a difference is a :class:`~.ops.ModifyComputedOp`.
"""

from __future__ import annotations

import logging
from typing import Any

from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import ModifyTableOps
from alembic.runtime.plugins import Plugin
from alembic.util import PriorityDispatchResult
from sqlalchemy import Column, Computed, Table
from sqlalchemy.engine import Dialect

from . import sqltext
from ._util import sql_of
from .ops import ModifyComputedOp

log = logging.getLogger(__name__)


def _expression(column: Column[Any], dialect: Dialect) -> tuple[str | None, str]:
    """(the generated column's SQL as written, its canonical form); (None, "") for a plain column."""
    computed = column.computed if isinstance(column.computed, Computed) else None
    if computed is None:
        return None, ""
    text = sql_of(computed.sqltext, dialect)
    return text, sqltext.canonical(text, dialect.name)


def compare_computed(
    autogen_context: AutogenContext,
    modify_table_ops: ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    if conn_table is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE
    dialect = autogen_context.dialect
    assert dialect is not None
    for column in metadata_table.columns:
        conn_col = conn_table.c.get(column.name)
        if conn_col is None or (column.computed is None and conn_col.computed is None):
            continue
        md_text, md_canonical = _expression(column, dialect)
        conn_text, conn_canonical = _expression(conn_col, dialect)
        if md_canonical == conn_canonical:
            continue
        if not autogen_context.run_object_filters(column, column.name, "column", False, conn_col):
            continue
        log.info("Detected changed generated column '%s.%s': %r to %r", tname, column.name, conn_text, md_text)
        modify_table_ops.ops.append(ModifyComputedOp(
            tname, column.name, schema=schema, old_sqltext=conn_text, new_sqltext=md_text,
            old_column=conn_col, new_column=column,
        ))
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(compare_computed, "table", "computed")
