"""Primary keys: alembic compares a table's columns, never which of them form the key.

A key moved to other columns (``(id)`` → ``(tenant_id, id)``), a key added to
or dropped from a table, and — where the database keeps the name — a key
renamed are reported here.
"""

from __future__ import annotations

import logging
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import ModifyTableOps
from alembic.runtime.plugins import Plugin
from alembic.util import PriorityDispatchResult
from sqlalchemy import Table

from ._util import final_name
from .ops import ModifyPrimaryKeyOp, RenameConstraintOp

log = logging.getLogger(__name__)


def compare_primary_key(
    autogen_context: AutogenContext,
    modify_table_ops: ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    if conn_table is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE  # a created or dropped table takes its key along
    dialect = autogen_context.dialect
    assert dialect is not None
    md_pk = metadata_table.primary_key
    conn_pk = conn_table.primary_key  # alembic has reflected the table already
    md_columns = [c.name for c in md_pk.columns]
    conn_columns = [c.name for c in conn_pk.columns]
    md_name = final_name(md_pk, dialect) if md_columns else None
    conn_name = str(conn_pk.name) if conn_pk.name else None

    # alembic hands the type name through to include_object; "primary_key" is drift's own.
    if md_columns != conn_columns:
        if not autogen_context.run_object_filters(md_pk, md_name, "primary_key", False,  # type: ignore[arg-type]
                                                  conn_pk):
            return PriorityDispatchResult.CONTINUE
        log.info("Detected changed primary key on %r: %s to %s", tname, conn_columns, md_columns)
        modify_table_ops.ops.append(ModifyPrimaryKeyOp(
            tname, schema=schema, old_name=conn_name, old_columns=conn_columns,
            new_name=md_name, new_columns=md_columns,
        ))
    elif md_name and conn_name and md_name != conn_name:
        # Only a database that keeps key names (PostgreSQL, SQLite) reports one; MariaDB's
        # are all PRIMARY and reflect as None, so they never get here.
        if not autogen_context.run_object_filters(md_pk, md_name, "primary_key", False,  # type: ignore[arg-type]
                                                  conn_pk):
            return PriorityDispatchResult.CONTINUE
        log.info("Detected renamed primary key on %r: %r to %r", tname, conn_name, md_name)
        modify_table_ops.ops.append(RenameConstraintOp(
            tname, schema=schema, constraint_type="primary", old_name=conn_name, new_name=md_name,
            old_constraint=conn_pk, new_constraint=md_pk, columns=md_columns,
        ))
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(compare_primary_key, "table", "primary_key")
