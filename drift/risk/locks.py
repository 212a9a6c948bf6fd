"""Lock and rewrite hazards: what the DDL itself does to a large table, per dialect.

These rules read only the catalog (a table's size estimate) and the
finding, so they apply with data checks off too. They speak only about
tables known to hold at least ``RiskOptions.large_table`` rows: on a small
table the lock is too short to matter, and on a table of unknown size they
say nothing rather than guess.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..findings import Finding, Risk
from .probe import Probe, TableSize
from .registry import rule
from .shapes import Shape, parse

#: Defaults PostgreSQL evaluates per row, so ADD COLUMN with one rewrites the table.
_VOLATILE = re.compile(r"\b(random|clock_timestamp|timeofday|gen_random_uuid|uuid_generate_v[14]\w*|nextval)\s*\(",
                       re.IGNORECASE)


def _large(probe: Probe, table: str, schema: str | None) -> TableSize | None:
    size = probe.size_or_none(table, schema)
    if size is None or size.rows is None or size.rows < probe.options.large_table:
        return None
    return size


def _sized(size: TableSize) -> str:
    if size.bytes:
        return f"{size.describe()}, {_human_bytes(size.bytes)}"
    return size.describe()


def _human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} bytes"


def _hazard(name: str, finding: Finding, size: TableSize, summary: str, suggestion: str,
            severity: str = "warning", **evidence: Any) -> Risk:
    return Risk(rule=name, severity=severity, summary=summary, suggestion=suggestion,
                evidence={**size.evidence(), **evidence})


def _shapes(finding: Finding) -> tuple[Shape, Shape]:
    return parse((finding.database or {}).get("type")), parse((finding.models or {}).get("type"))


# ---------------------------------------------------------------------- PostgreSQL


def _pg_binary_compatible(old: Shape, new: Shape) -> bool:
    """Type changes PostgreSQL makes in the catalog only, without touching the rows."""
    if old.family == new.family == "string" and not old.fixed and not new.fixed:
        return new.length is None or (old.length is not None and new.length >= old.length)
    if old.family == new.family == "numeric":
        if new.precision is None:
            return True
        return old.precision is not None and old.scale == new.scale and new.precision >= old.precision
    return False


@rule("modify_type", "rewrite", dialect="postgresql", about="the table rewrite for {label}")
def pg_type_rewrite(finding: Finding, probe: Probe) -> Iterable[Risk]:
    old, new = _shapes(finding)
    if _pg_binary_compatible(old, new):
        return
    size = _large(probe, finding.table, finding.schema)
    if size is None:
        return
    yield _hazard(
        "rewrite", finding, size,
        f"changing {finding.object_label} from {old.text} to {new.text} rewrites {finding.qualified_table} "
        f"({_sized(size)}) and rebuilds its indexes under an ACCESS EXCLUSIVE lock: reads and writes wait until it is done",
        "add a new column, backfill it in batches, then swap names in a short migration; "
        "or schedule the change for a maintenance window",
    )


@rule("modify_type", "needs_using", dialect="postgresql", about="the cast for {label}")
def pg_needs_using(finding: Finding, probe: Probe) -> Iterable[Risk]:
    old, new = _shapes(finding)
    if not (old.family == "string" and new.family != "string") and not (old.family == "integer" and new.family == "boolean"):
        return
    column = probe.quote(finding.name or "")
    using = f"{column}::{new.text}"
    schema = f", schema={finding.schema!r}" if finding.schema else ""
    yield Risk(
        rule="needs_using", severity="danger",
        summary=f"PostgreSQL does not convert {old.text} to {new.text} by itself: the generated op.alter_column "
                "fails (column cannot be cast automatically) unless it says how",
        evidence={"from": old.text, "to": new.text},
        suggestion=f"op.alter_column({finding.table!r}, {finding.name!r}, type_=..., "
                   f"postgresql_using={using!r}{schema})",
    )


@rule("modify_nullable", "lock", dialect="postgresql", about="the NOT NULL check on {label}")
def pg_not_null_scan(finding: Finding, probe: Probe) -> Iterable[Risk]:
    if not finding.models or finding.models.get("nullable") is not False:
        return
    size = _large(probe, finding.table, finding.schema)
    if size is None:
        return
    t, c = probe.quote_table(finding.table, finding.schema), probe.quote(finding.name or "")
    check = probe.quote(f"{finding.table}_{finding.name}_not_null")
    yield _hazard(
        "lock", finding, size,
        f"SET NOT NULL on {finding.object_label} scans all of {finding.qualified_table} ({_sized(size)}) "
        "under an ACCESS EXCLUSIVE lock",
        f"add CHECK ({c} IS NOT NULL) NOT VALID, VALIDATE it (no exclusive lock), then SET NOT NULL "
        f"(PostgreSQL 12+ skips the scan) and drop the check: "
        f"ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID; "
        f"ALTER TABLE {t} VALIDATE CONSTRAINT {check}",
    )


@rule("add_index", "lock", dialect="postgresql", about="the index build on {table}")
def pg_index_lock(finding: Finding, probe: Probe) -> Iterable[Risk]:
    if "postgresql_concurrently=True" in (finding.upgrade_code or ""):
        return
    size = _large(probe, finding.table, finding.schema)
    if size is None:
        return
    yield _hazard(
        "lock", finding, size,
        f"CREATE INDEX {finding.name} blocks writes to {finding.qualified_table} ({_sized(size)}) while it builds",
        "build it without blocking writes: with op.get_context().autocommit_block(): "
        "op.create_index(..., postgresql_concurrently=True)",
    )


_PG_CONSTRAINT_ADVICE = {
    "unique": "CREATE UNIQUE INDEX CONCURRENTLY (in op.get_context().autocommit_block()), then "
              "ALTER TABLE … ADD CONSTRAINT … UNIQUE USING INDEX …",
    "check": "add it NOT VALID (postgresql_not_valid=True), then ALTER TABLE … VALIDATE CONSTRAINT … "
             "in a later step, which does not block writes",
    "primary": "CREATE UNIQUE INDEX CONCURRENTLY, then ALTER TABLE … ADD CONSTRAINT … PRIMARY KEY USING INDEX …",
}


@rule("add_constraint", "lock", dialect="postgresql", about="the constraint build on {table}")
def pg_constraint_lock(finding: Finding, probe: Probe) -> Iterable[Risk]:
    ctype = str((finding.models or {}).get("type") or "")
    advice = _PG_CONSTRAINT_ADVICE.get(ctype)
    if advice is None:
        return
    size = _large(probe, finding.table, finding.schema)
    if size is None:
        return
    yield _hazard(
        "lock", finding, size,
        f"adding {ctype} constraint {finding.name} checks all of {finding.qualified_table} ({_sized(size)}) "
        "under an ACCESS EXCLUSIVE lock",
        advice,
    )


@rule("add_fk", "lock", dialect="postgresql", about="the foreign key check on {table}")
def pg_fk_lock(finding: Finding, probe: Probe) -> Iterable[Risk]:
    size = _large(probe, finding.table, finding.schema)
    if size is None:
        return
    parent = (finding.models or {}).get("references") or "the parent table"
    yield _hazard(
        "lock", finding, size,
        f"adding foreign key {finding.name} checks every row of {finding.qualified_table} ({_sized(size)}) "
        f"while holding a lock that blocks writes to it and to {parent}",
        "add it with postgresql_not_valid=True, then run ALTER TABLE … VALIDATE CONSTRAINT … "
        "in a later step, which does not block writes",
    )


@rule("add_column", "rewrite", dialect="postgresql", about="the table rewrite for {label}")
def pg_volatile_default(finding: Finding, probe: Probe) -> Iterable[Risk]:
    default = str((finding.models or {}).get("default") or "")
    if not _VOLATILE.search(default):
        return
    size = _large(probe, finding.table, finding.schema)
    if size is None:
        return
    yield _hazard(
        "rewrite", finding, size,
        f"adding {finding.object_label} with the volatile default {default} rewrites {finding.qualified_table} "
        f"({_sized(size)}) under an ACCESS EXCLUSIVE lock (a constant default would not)",
        "add the column without a default (or with a constant one), backfill it in batches, then set the default",
        default=default,
    )


# ---------------------------------------------------------------------- MariaDB / MySQL


def _mysql_in_place(old: Shape, new: Shape) -> bool:
    """Type changes InnoDB makes without copying the table (ALGORITHM=INSTANT or INPLACE)."""
    if old.family == new.family == "string" and not old.fixed and not new.fixed:
        return old.length is not None and new.length is not None and new.length >= old.length
    if old.family == new.family == "enum" and old.values is not None and new.values is not None:
        # Values appended at the end keep every stored index: instant. Anything else renumbers.
        return new.values[: len(old.values)] == old.values
    return False


@rule("modify_type", "table_copy", dialect="mysql", about="the table copy for {label}")
def mysql_type_copy(finding: Finding, probe: Probe) -> Iterable[Risk]:
    old, new = _shapes(finding)
    if _mysql_in_place(old, new):
        return
    size = _large(probe, finding.table, finding.schema)
    if size is None:
        return
    yield _hazard(
        "table_copy", finding, size,
        f"changing {finding.object_label} from {old.text} to {new.text} makes MariaDB copy {finding.qualified_table} "
        f"({_sized(size)}, ALGORITHM=COPY): writes are blocked until the copy is done and it needs the space twice",
        "run it off-peak, or with an online schema change tool (gh-ost, pt-online-schema-change); "
        "ALTER TABLE … ALGORITHM=INPLACE, LOCK=NONE fails instead of copying, which shows whether a copy is needed",
    )


@rule("add_fk", "table_copy", dialect="mysql", about="the table copy for {table}")
def mysql_fk_copy(finding: Finding, probe: Probe) -> Iterable[Risk]:
    size = _large(probe, finding.table, finding.schema)
    if size is None:
        return
    yield _hazard(
        "table_copy", finding, size,
        f"adding foreign key {finding.name} with foreign_key_checks on makes MariaDB copy {finding.qualified_table} "
        f"({_sized(size)}, ALGORITHM=COPY): writes are blocked until the copy is done",
        "with the orphans checked (see the orphans rule), SET foreign_key_checks=0 in the migration lets "
        "InnoDB add the key in place; set it back to 1 afterwards",
    )


# ---------------------------------------------------------------------- SQLite

#: Kinds alembic's batch mode applies by recreating the table and copying every row.
SQLITE_RECREATE_KINDS = (
    "modify_type", "modify_nullable", "modify_default", "add_constraint", "remove_constraint",
    "add_fk", "remove_fk", "remove_column",
)


@rule(SQLITE_RECREATE_KINDS, "table_copy", dialect="sqlite", about="the table copy for {table}")
def sqlite_batch_copy(finding: Finding, probe: Probe) -> Iterable[Risk]:
    size = _large(probe, finding.table, finding.schema)
    if size is None:
        return
    yield _hazard(
        "table_copy", finding, size,
        f"batch mode recreates {finding.qualified_table} and copies its {size.describe()} into the new table: "
        "the database is locked for writes meanwhile and needs room for a second copy",
        "run it when nothing writes, and keep the free disk space of the table's size",
    )

