"""Models vs live database: alembic's op tree turned into :class:`Finding` objects.

Alembic does the comparing (``produce_migrations``, with types and server
defaults compared); this module walks the resulting op tree — not the legacy
diff tuples, which nest, can be empty and lose rename and plugin ops — and
turns each operation into one or more findings through a registry keyed by
op class. Suggested ``op.`` code is rendered by alembic's own renderer.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.schema import Column, Constraint, ForeignKeyConstraint, Index

from . import comparators
from .comparators import partitions, prefetch
from .findings import Finding

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Comparison:
    """The findings of one comparison and the migration autogenerate would write for them."""

    findings: tuple[Finding, ...]
    upgrade_code: str
    downgrade_code: str
    tables_compared: int
    upgrade_ops: ops.UpgradeOps | None = field(default=None, repr=False, compare=False)
    #: How the comparison was shared among forked workers (``workers`` 0: it was not).
    partitioned: partitions.Partitioned | None = field(default=None, repr=False, compare=False)


def migration_context(connection: Connection, metadata: MetaData, *, version_table: str = "alembic_version",
                      version_table_schema: str | None = None, **opts: Any) -> MigrationContext:
    """The MigrationContext drift compares with: types and server defaults on, batch for SQLite."""
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "compare_type": True,
        "compare_server_default": True,
        "version_table": version_table,
        "version_table_schema": version_table_schema,
        "render_as_batch": connection.dialect.name == "sqlite",
        # alembic's comparators plus drift's (drift.comparators): defaults by meaning,
        # primary keys, checks, enums, partial indexes, generated columns, renames.
        "autogenerate_plugins": comparators.AUTOGENERATE_PLUGINS,
    }
    options.update(opts)
    return MigrationContext.configure(connection, opts=options)


def compare(connection: Connection, metadata: MetaData, *, workers: int = 1, **opts: Any) -> Comparison:
    """Compare ``metadata`` with the database behind ``connection``; read-only.

    With ``workers`` > 1 a large comparison may fork up to that many processes,
    each comparing a share of the tables (:mod:`drift.comparators.partitions`);
    the result is the same.
    """
    context = migration_context(connection, metadata, **opts)
    with fewer_collections(), prefetch.sqlite_read_in_bulk(connection), partitions.forking(workers) as partitioned:
        script = produce_migrations(context, metadata)
    upgrade_ops = script.upgrade_ops
    downgrade_ops = script.downgrade_ops
    assert upgrade_ops is not None and downgrade_ops is not None
    batch = connection.dialect.name == "sqlite"
    findings = sorted(findings_from_ops(upgrade_ops, context, batch=batch), key=Finding.sort_key)
    removed_tables = sum(1 for f in findings if f.kind == "remove_table")
    return Comparison(
        findings=tuple(findings),
        upgrade_code=render_ops(upgrade_ops, context, batch=batch) if findings else "",
        downgrade_code=render_ops(downgrade_ops, context, batch=batch) if findings else "",
        tables_compared=len(metadata.tables) + removed_tables,
        upgrade_ops=upgrade_ops,
        partitioned=partitioned,
    )


#: Allocations between two young-generation collections while comparing (CPython's default is 700).
#: Measured at 2,000 tables: 20,000 took a fifth less CPU than 700; 50,000 and more did worse again.
YOUNG_THRESHOLD = 20_000

_GC_LOCK = threading.Lock()
_gc_users = 0
_gc_thresholds: tuple[int, ...] = ()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Keep what already exists (the models, above all) out of the garbage collector's passes meanwhile.

    A comparison allocates a reflected ``Table`` per table, and CPython's full
    collections, triggered by that growth, would walk every object the process
    holds each time: about a third of a 2,000-table comparison (see
    ``bench/README.md``). ``gc.freeze()`` sets the objects alive now aside until
    the last comparison running in the process ends, and the young generation
    is collected less often (:data:`YOUNG_THRESHOLD`). What the comparison makes
    lives until it ends, so a full collection would walk it all and find next to
    nothing (0.9 s, freeing nothing, at 10,000 SQLite tables): before each, what
    exists then is set aside too (:func:`_set_aside`). Everything is put back
    when the last comparison ends, and collected from then on as usual.
    """
    global _gc_users, _gc_thresholds
    with _GC_LOCK:
        if _gc_users == 0:
            gc.freeze()
            _gc_thresholds = gc.get_threshold()
            gc.set_threshold(max(_gc_thresholds[0], YOUNG_THRESHOLD), *_gc_thresholds[1:])
            gc.callbacks.append(_set_aside)
        _gc_users += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_users -= 1
            if _gc_users == 0:
                gc.callbacks.remove(_set_aside)
                gc.set_threshold(*_gc_thresholds)
                gc.unfreeze()


def _set_aside(phase: str, info: dict[str, int]) -> None:
    """A full collection is about to start: freeze what exists, so that it walks nothing made so far."""
    if phase == "start" and info["generation"] == 2:
        gc.freeze()


_RENDER_LOCK = threading.Lock()


def render_ops(container: ops.OpContainer, context: MigrationContext, *, batch: bool) -> str:
    """Python code for an op container, exactly as ``alembic revision --autogenerate`` writes it."""
    # catch_warnings swaps process-wide state: one thread at a time (a run checks several at once).
    with _RENDER_LOCK, warnings.catch_warnings(record=True) as caught:
        # alembic warns (on stderr, with its file path) when it renders a drop of an unnamed
        # constraint; the finding's review note says the same, so the warning goes to the debug log.
        warnings.simplefilter("always")
        code = render_python_code(container, render_as_batch=batch, migration_context=context)
    for warning in caught:
        log.debug("alembic: %s", warning.message)
    lines = [line[4:] if line.startswith("    ") else line for line in code.splitlines()]
    return "\n".join(line for line in lines if not line.strip().startswith("# ###")).strip()


# --------------------------------------------------------------------------- walking


def findings_from_ops(container: ops.OpContainer, context: MigrationContext, *, batch: bool) -> Iterator[Finding]:
    for op in container.ops:
        if isinstance(op, ops.ModifyTableOps):
            for child in op.ops:
                yield from _convert(child, op.table_name, op.schema, context, batch)
        else:
            yield from _convert(op, None, None, context, batch)


def _convert(op: ops.MigrateOperation, table: str | None, schema: str | None,
             context: MigrationContext, batch: bool) -> Iterator[Finding]:
    handler = _handler_for(type(op))
    upgrade, downgrade = _op_code(op, table, schema, context, batch)
    for finding in handler(op, context.dialect):
        yield finding.replace(upgrade_code=upgrade, downgrade_code=downgrade)


Converter = Callable[[Any, Dialect], Iterable[Finding]]
CONVERTERS: dict[type, Converter] = {}


def converter(*op_classes: type) -> Callable[[Converter], Converter]:
    """Register how an alembic op class becomes findings (plugins may add their own)."""

    def register(fn: Converter) -> Converter:
        for cls in op_classes:
            CONVERTERS[cls] = fn
        return fn

    return register


def _handler_for(cls: type) -> Converter:
    for klass in cls.__mro__:
        if klass in CONVERTERS:
            return CONVERTERS[klass]
    return _unknown_op


def _op_code(op: ops.MigrateOperation, table: str | None, schema: str | None,
             context: MigrationContext, batch: bool) -> tuple[str, str]:
    def wrap(one: ops.MigrateOperation) -> ops.UpgradeOps:
        if table is not None:
            return ops.UpgradeOps([ops.ModifyTableOps(table, [one], schema=schema)])
        return ops.UpgradeOps([one])

    try:
        upgrade = render_ops(wrap(op), context, batch=batch)
    except Exception:  # a plugin op without a renderer still gets its finding
        log.debug("cannot render %r", op, exc_info=True)
        upgrade = ""
    try:
        downgrade = render_ops(wrap(op.reverse()), context, batch=batch)
    except Exception:
        log.debug("cannot render the reverse of %r", op, exc_info=True)
        downgrade = ""
    return upgrade, downgrade


# --------------------------------------------------------------------------- describing objects


def type_text(type_: Any, dialect: Dialect) -> str | None:
    """A type as the database spells it (``VARCHAR(255)``), falling back to SQLAlchemy's repr."""
    if type_ is None:
        return None
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        return repr(type_)


def default_text(default: Any) -> str | None:
    """A server default as SQL text; ``None`` when there is none."""
    if default is None or default is False:
        return None
    arg = getattr(default, "arg", default)
    text = getattr(arg, "text", arg)
    return str(text)


def column_state(column: Column[Any], dialect: Dialect) -> dict[str, Any]:
    return {
        "type": type_text(column.type, dialect),
        "nullable": bool(column.nullable),
        "default": default_text(column.server_default),
        "comment": column.comment,
        "primary_key": bool(column.primary_key),
    }


def _columns(obj: Any) -> list[str]:
    cols = []
    for col in getattr(obj, "columns", None) or getattr(obj, "expressions", None) or []:
        cols.append(getattr(col, "name", None) or str(col))
    return cols


def _table_label(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name


def _or_none(value: Any) -> str:
    return "none" if value is None else repr(value) if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------- converters


@converter(ops.CreateTableOp)
def _add_table(op: ops.CreateTableOp, dialect: Dialect) -> Iterable[Finding]:
    table = op.to_table()
    label = _table_label(op.table_name, op.schema)
    yield Finding(
        kind="add_table", table=op.table_name, schema=op.schema, object_type="table",
        models={"columns": {c.name: column_state(c, dialect) for c in table.columns}, "comment": table.comment},
        database=None,
        message=f"Table {label} exists in the models but not in the database",
    )


@converter(ops.DropTableOp)
def _remove_table(op: ops.DropTableOp, dialect: Dialect) -> Iterable[Finding]:
    table = op.to_table()
    label = _table_label(op.table_name, op.schema)
    yield Finding(
        kind="remove_table", table=op.table_name, schema=op.schema, object_type="table",
        models=None,
        database={"columns": {c.name: column_state(c, dialect) for c in table.columns}, "comment": table.comment},
        message=f"Table {label} exists in the database but not in the models",
        severity="danger",
    )


@converter(ops.AddColumnOp)
def _add_column(op: ops.AddColumnOp, dialect: Dialect) -> Iterable[Finding]:
    label = _table_label(op.table_name, op.schema)
    yield Finding(
        kind="add_column", table=op.table_name, schema=op.schema, name=op.column.name, object_type="column",
        models=column_state(op.column, dialect), database=None,
        message=f"Column {label}.{op.column.name} exists in the models but not in the database",
    )


@converter(ops.DropColumnOp)
def _remove_column(op: ops.DropColumnOp, dialect: Dialect) -> Iterable[Finding]:
    label = _table_label(op.table_name, op.schema)
    yield Finding(
        kind="remove_column", table=op.table_name, schema=op.schema, name=op.column_name, object_type="column",
        models=None, database=column_state(op.to_column(), dialect),
        message=f"Column {label}.{op.column_name} exists in the database but not in the models",
        severity="danger",
    )


@converter(ops.AlterColumnOp)
def _alter_column(op: ops.AlterColumnOp, dialect: Dialect) -> Iterable[Finding]:
    label = f"{_table_label(op.table_name, op.schema)}.{op.column_name}"
    common = dict(table=op.table_name, schema=op.schema, name=op.column_name, object_type="column")
    if op.modify_type is not None:
        models, database = type_text(op.modify_type, dialect), type_text(op.existing_type, dialect)
        yield Finding(
            kind="modify_type", models={"type": models}, database={"type": database}, severity="warning",
            message=f"Column {label} is {database} in the database but {models} in the models", **common,
        )
    if op.modify_nullable is not None:
        def says(nullable: bool | None) -> str:
            return "nullable" if nullable else "NOT NULL"

        yield Finding(
            kind="modify_nullable",
            models={"nullable": op.modify_nullable}, database={"nullable": not op.modify_nullable},
            severity="warning" if op.modify_nullable is False else "info",
            message=f"Column {label} is {says(not op.modify_nullable)} in the database "
                    f"but {says(op.modify_nullable)} in the models",
            **common,
        )
    if op.modify_server_default is not False:
        models, database = default_text(op.modify_server_default), default_text(op.existing_server_default)
        yield Finding(
            kind="modify_default", models={"default": models}, database={"default": database},
            message=f"Column {label} has server default {_or_none(database)} in the database "
                    f"but {_or_none(models)} in the models",
            **common,
        )
    if op.modify_comment is not False:
        yield Finding(
            kind="modify_comment", models={"comment": op.modify_comment}, database={"comment": op.existing_comment},
            message=f"Column {label} has comment {_or_none(op.existing_comment)} in the database "
                    f"but {_or_none(op.modify_comment)} in the models",
            **common,
        )


def _index_state(index: Index) -> dict[str, Any]:
    state: dict[str, Any] = {"columns": _columns(index), "unique": bool(index.unique)}
    where = {k: v for k, v in index.dialect_kwargs.items() if k.endswith("_where") and v is not None}
    if where:
        state["where"] = {k: str(v) for k, v in where.items()}
    return state


@converter(ops.CreateIndexOp)
def _add_index(op: ops.CreateIndexOp, dialect: Dialect) -> Iterable[Finding]:
    index = op.to_index()
    state = _index_state(index)
    yield Finding(
        kind="add_index", table=op.table_name, schema=op.schema, name=op.index_name, object_type="index",
        models=state, database=None,
        message=f"{'Unique index' if index.unique else 'Index'} {op.index_name} on "
                f"{_table_label(op.table_name, op.schema)} ({', '.join(state['columns'])}) "
                "exists in the models but not in the database",
        severity="warning" if index.unique else "info",
    )


@converter(ops.DropIndexOp)
def _remove_index(op: ops.DropIndexOp, dialect: Dialect) -> Iterable[Finding]:
    index = op.to_index()
    state = _index_state(index)
    yield Finding(
        kind="remove_index", table=op.table_name, schema=op.schema, name=op.index_name, object_type="index",
        models=None, database=state,
        message=f"{'Unique index' if index.unique else 'Index'} {op.index_name} on "
                f"{_table_label(op.table_name, op.schema)} ({', '.join(state['columns'])}) "
                "exists in the database but not in the models",
    )


_CONSTRAINT_WORDS = {
    "unique": ("unique_constraint", "Unique constraint"),
    "check": ("check_constraint", "Check constraint"),
    "primary": ("primary_key", "Primary key"),
    "primary_key": ("primary_key", "Primary key"),
    "foreignkey": ("foreign_key", "Foreign key"),
    "foreign_key": ("foreign_key", "Foreign key"),
}


def _constraint_state(constraint: Constraint | None, kind: str) -> dict[str, Any]:
    if constraint is None:
        return {"type": kind}
    state: dict[str, Any] = {"type": kind}
    if isinstance(constraint, ForeignKeyConstraint):
        state["columns"] = list(constraint.column_keys)
        # The referred table as the foreign key spells it (schema.table), without resolving
        # it: the op's constraint points at a stand-in table that has no columns.
        targets = [e.target_fullname.rsplit(".", 1)[0] for e in constraint.elements]
        state["references"] = targets[0] if targets else None
        state["referred_columns"] = [e.target_fullname.split(".")[-1] for e in constraint.elements]
        if constraint.ondelete:
            state["ondelete"] = constraint.ondelete
        if constraint.onupdate:
            state["onupdate"] = constraint.onupdate
    elif kind == "check":
        state["sqltext"] = str(getattr(constraint, "sqltext", ""))
    else:
        state["columns"] = _columns(constraint)
    return state


def _constraint_finding(op: Any, dialect: Dialect, *, adding: bool) -> Finding:
    ctype = getattr(op, "constraint_type", None)
    if ctype is None:
        ctype = {ops.CreateUniqueConstraintOp: "unique", ops.CreateForeignKeyOp: "foreignkey",
                 ops.CreateCheckConstraintOp: "check", ops.CreatePrimaryKeyOp: "primary"}.get(type(op), "unique")
    object_type, word = _CONSTRAINT_WORDS.get(ctype, ("constraint", "Constraint"))
    try:
        constraint = op.to_constraint()
    except Exception:
        constraint = None
    state = _constraint_state(constraint, ctype)
    name = op.constraint_name
    table, schema = _constraint_table(op)
    label = _table_label(table, schema)
    cols = f" ({', '.join(state['columns'])})" if state.get("columns") else ""
    target = f" referencing {state['references']}" if state.get("references") else ""
    fk = object_type == "foreign_key"
    where = "in the models but not in the database" if adding else "in the database but not in the models"
    return Finding(
        kind=("add_fk" if fk else "add_constraint") if adding else ("remove_fk" if fk else "remove_constraint"),
        table=table, schema=schema, name=name or _unnamed(ctype, state), object_type=object_type,
        models=state if adding else None, database=None if adding else state,
        message=f"{word} {name or '(unnamed)'} on {label}{cols}{target} exists {where}",
        severity="warning",
    )


def _constraint_table(op: Any) -> tuple[str, str | None]:
    # CreateForeignKeyOp names its table source_table (schema in kw); every other constraint op table_name.
    if isinstance(op, ops.CreateForeignKeyOp):
        return op.source_table, op.kw.get("source_schema")
    return op.table_name, op.schema


def _unnamed(ctype: str, state: dict[str, Any]) -> str:
    # An unnamed constraint still needs a stable identity: its type and columns.
    return f"({ctype}: {', '.join(state.get('columns') or [state.get('sqltext', '')])})"


@converter(ops.AddConstraintOp)
def _add_constraint(op: ops.AddConstraintOp, dialect: Dialect) -> Iterable[Finding]:
    yield _constraint_finding(op, dialect, adding=True)


@converter(ops.DropConstraintOp)
def _remove_constraint(op: ops.DropConstraintOp, dialect: Dialect) -> Iterable[Finding]:
    yield _constraint_finding(op, dialect, adding=False)


@converter(ops.CreateTableCommentOp)
def _table_comment(op: ops.CreateTableCommentOp, dialect: Dialect) -> Iterable[Finding]:
    label = _table_label(op.table_name, op.schema)
    yield Finding(
        kind="add_table_comment", table=op.table_name, schema=op.schema, object_type="table_comment",
        models={"comment": op.comment}, database={"comment": op.existing_comment},
        message=f"Table {label} has comment {_or_none(op.existing_comment)} in the database "
                f"but {_or_none(op.comment)} in the models",
    )


@converter(ops.DropTableCommentOp)
def _drop_table_comment(op: ops.DropTableCommentOp, dialect: Dialect) -> Iterable[Finding]:
    label = _table_label(op.table_name, op.schema)
    yield Finding(
        kind="remove_table_comment", table=op.table_name, schema=op.schema, object_type="table_comment",
        models={"comment": None}, database={"comment": op.existing_comment},
        message=f"Table {label} has comment {_or_none(op.existing_comment)} in the database but none in the models",
    )


@converter(*comparators.OPS)
def _comparator_op(op: ops.MigrateOperation, dialect: Dialect) -> Iterable[Finding]:
    # drift's own comparator ops describe themselves (drift.comparators.describe).
    yield Finding(**comparators.describe(op, dialect))


def _unknown_op(op: Any, dialect: Dialect) -> Iterable[Finding]:
    # A plugin comparator's op that drift has no words for: still a difference, never dropped.
    kind = getattr(op, "drift_kind", None) or type(op).__name__
    table = getattr(op, "table_name", None) or ""
    yield Finding(
        kind=kind, table=table, schema=getattr(op, "schema", None), name=getattr(op, "drift_name", None),
        object_type="other", message=getattr(op, "drift_message", None) or f"{type(op).__name__} on {table or 'the schema'}",
        severity="warning",
    )
