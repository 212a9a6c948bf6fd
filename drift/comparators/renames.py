"""Probable renames of columns and tables: a guess, marked as one, over a list of findings.

Alembic sees a renamed column as one column dropped and another added, and a
migration written that way loses the column's data. Nothing in the database
says it was a rename, so this stays a guess: a removed and an added column of
the same table with a compatible type (same type name, any length) and the
same nullability, or a removed and an added table with the same columns, are
reported as a ``rename_column_candidate`` / ``rename_table_candidate``
finding that names both findings it pairs. The two original findings stay as
they are, ids included; the candidate offers the rename as the alternative::

    >>> findings = annotate_renames(comparison.findings, dialect="postgresql")  # doctest: +SKIP

Pairs are chosen one to one, most similar names first, so the same findings
always give the same guesses.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterable, Mapping, Sequence

from alembic.autogenerate import render_python_code
from alembic.operations import ops
from sqlalchemy.dialects import registry

from ..findings import Finding

CANDIDATE_KINDS = ("rename_column_candidate", "rename_table_candidate")


def _base_type(type_text: str | None) -> str:
    # VARCHAR(50) and VARCHAR(100) are compatible; VARCHAR and INTEGER are not.
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", "", type_text or "")).strip().upper()


def compatible(database: Mapping[str, Any] | None, models: Mapping[str, Any] | None) -> bool:
    """Whether a database column's state and a model column's state could be one column renamed."""
    if not database or not models:
        return False
    return (_base_type(database.get("type")) == _base_type(models.get("type"))
            and bool(database.get("nullable")) == bool(models.get("nullable")))


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _pair(removed: Sequence[Finding], added: Sequence[Finding], fits: Any) -> list[tuple[Finding, Finding]]:
    options = [
        (-_similarity(r.name or r.table, a.name or a.table), r.name or r.table, a.name or a.table, r, a)
        for r in removed for a in added if fits(r, a)
    ]
    taken: set[str] = set()
    pairs = []
    for *_, r, a in sorted(options, key=lambda o: o[:3]):
        if r.id in taken or a.id in taken:
            continue
        taken.update((r.id, a.id))
        pairs.append((r, a))
    return pairs


# --------------------------------------------------------------------------- suggested code


def _render(upgrade: ops.MigrateOperation, *, batch: bool) -> str:
    code = render_python_code(ops.UpgradeOps([upgrade]), render_as_batch=batch)
    lines = [line[4:] if line.startswith("    ") else line for line in code.splitlines()]
    return "\n".join(line for line in lines if not line.strip().startswith("# ###")).strip()


def _quote(dialect: str, name: str) -> str:
    try:
        return str(registry.load(dialect)().identifier_preparer.quote(name))
    except Exception:  # an unknown dialect name: the plain name
        return name


def _rename_column_op(dialect: str, table: str, schema: str | None, old: str, new: str) -> ops.MigrateOperation:
    if dialect == "mysql":
        # MariaDB's CHANGE COLUMN (what alter_column emits there) needs the full column
        # definition; RENAME COLUMN (10.5+) keeps it.
        qualified = f"{_quote(dialect, schema)}.{_quote(dialect, table)}" if schema else _quote(dialect, table)
        return ops.ExecuteSQLOp(
            f"ALTER TABLE {qualified} RENAME COLUMN {_quote(dialect, old)} TO {_quote(dialect, new)}")
    return ops.ModifyTableOps(table, [ops.AlterColumnOp(table, old, schema=schema, modify_name=new)], schema=schema)


def _column_code(dialect: str, table: str, schema: str | None, old: str, new: str) -> tuple[str, str]:
    batch = dialect == "sqlite"
    return (_render(_rename_column_op(dialect, table, schema, old, new), batch=batch),
            _render(_rename_column_op(dialect, table, schema, new, old), batch=batch))


def _table_code(schema: str | None, old: str, new: str) -> tuple[str, str]:
    # Autogenerate never writes rename_table, so alembic has no renderer for it.
    def rename(a: str, b: str) -> str:
        return f"op.rename_table({a!r}, {b!r}{f', schema={schema!r}' if schema else ''})"

    return rename(old, new), rename(new, old)


# --------------------------------------------------------------------------- candidates


def _causes_agree(removed: Finding, added: Finding) -> bool:
    # A rename is one event: both halves come from the same missing migration or the same
    # hand-made change. A hand-added column beside a model change is two events, not a rename.
    return removed.cause == added.cause or "unknown" in (removed.cause, added.cause)


def _shared_cause(removed: Finding, added: Finding) -> dict[str, Any]:
    # The guess is about the two findings it pairs: when they agree on why the database
    # differs (attribution ran first), so does the guess.
    if removed.cause != added.cause:
        return {}
    detail = removed.cause_detail if removed.cause_detail == added.cause_detail else None
    return {"cause": removed.cause, "cause_detail": detail}


def _column_candidates(findings: Sequence[Finding], dialect: str) -> list[Finding]:
    by_table: dict[tuple[str, str], tuple[list[Finding], list[Finding]]] = {}
    for f in findings:
        if f.kind in ("remove_column", "add_column"):
            removed, added = by_table.setdefault((f.schema or "", f.table), ([], []))
            (removed if f.kind == "remove_column" else added).append(f)
    candidates = []
    for (_, table), (removed, added) in sorted(by_table.items()):
        for r, a in _pair(removed, added, lambda r, a: compatible(r.database, a.models) and _causes_agree(r, a)):
            label = f"{r.qualified_table}"
            upgrade, downgrade = _column_code(dialect, table, r.schema, r.name or "", a.name or "")
            type_text = (a.models or {}).get("type")
            candidates.append(Finding(
                kind="rename_column_candidate", table=table, schema=r.schema, name=f"{r.name} -> {a.name}",
                object_type="column", severity="info",
                models={"column": a.name, **(a.models or {}), "finding": a.id},
                database={"column": r.name, **(r.database or {}), "finding": r.id},
                message=f"Probably a rename (a guess): column {label}.{r.name} in the database and "
                        f"{label}.{a.name} in the models have the same type ({type_text}) and nullability. "
                        f"If it is a rename, rename the column (below) instead of dropping {r.name} and "
                        f"adding {a.name}, which loses its data; if not, drop and add as suggested.",
                upgrade_code=upgrade, downgrade_code=downgrade, **_shared_cause(r, a),
            ))
    return candidates


def _same_columns(database: Mapping[str, Any] | None, models: Mapping[str, Any] | None) -> bool:
    db_cols = (database or {}).get("columns") or {}
    md_cols = (models or {}).get("columns") or {}
    return bool(db_cols) and set(db_cols) == set(md_cols) and all(
        compatible(db_cols[name], md_cols[name]) for name in db_cols)


def _table_candidates(findings: Sequence[Finding]) -> list[Finding]:
    by_schema: dict[str, tuple[list[Finding], list[Finding]]] = {}
    for f in findings:
        if f.kind in ("remove_table", "add_table"):
            removed, added = by_schema.setdefault(f.schema or "", ([], []))
            (removed if f.kind == "remove_table" else added).append(f)
    candidates = []
    for _, (removed, added) in sorted(by_schema.items()):
        for r, a in _pair(removed, added, lambda r, a: _same_columns(r.database, a.models) and _causes_agree(r, a)):
            upgrade, downgrade = _table_code(r.schema, r.table, a.table)
            candidates.append(Finding(
                kind="rename_table_candidate", table=a.table, schema=a.schema, name=f"{r.table} -> {a.table}",
                object_type="table", severity="info",
                models={"table": a.table, "finding": a.id}, database={"table": r.table, "finding": r.id},
                message=f"Probably a rename (a guess): table {r.qualified_table} in the database and "
                        f"{a.qualified_table} in the models have the same columns. If it is a rename, "
                        f"rename the table (below; its indexes and constraints keep their names) instead "
                        f"of dropping {r.table} and creating {a.table}, which loses its rows; if not, "
                        "drop and create as suggested.",
                upgrade_code=upgrade, downgrade_code=downgrade, **_shared_cause(r, a),
            ))
    return candidates


def annotate_renames(findings: Iterable[Finding], *, dialect: str = "default") -> tuple[Finding, ...]:
    """``findings`` plus a candidate finding for each probable column or table rename.

    The findings given are returned unchanged (same ids); candidates from an
    earlier call are replaced, so calling it twice changes nothing. ``dialect``
    ("sqlite", "postgresql", "mysql") picks how the suggested rename is written.
    """
    kept = [f for f in findings if f.kind not in CANDIDATE_KINDS]
    extra = _column_candidates(kept, dialect) + _table_candidates(kept)
    return tuple(sorted(kept + extra, key=Finding.sort_key))
