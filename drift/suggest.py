"""What to run: the commands, the migration message and the review notes for a set of findings.

Kept apart from comparing and from rendering so that every report format
and the Python API show the same advice.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence

from .findings import Finding, SuggestedMigration

_VERBS = {
    "add_table": "Add {name} table",
    "remove_table": "Drop {name} table",
    "add_column": "Add {name} column to {table} table",
    "remove_column": "Drop {name} column from {table} table",
    "modify_type": "Change type of {table}.{name}",
    "modify_nullable": "Change nullability of {table}.{name}",
    "modify_default": "Change server default of {table}.{name}",
    "modify_comment": "Change comment of {table}.{name}",
    "add_index": "Add index {name} on {table}",
    "remove_index": "Drop index {name} on {table}",
    "add_constraint": "Add constraint {name} on {table}",
    "remove_constraint": "Drop constraint {name} on {table}",
    "add_fk": "Add foreign key {name} on {table}",
    "remove_fk": "Drop foreign key {name} on {table}",
    "add_table_comment": "Change comment of {table} table",
    "remove_table_comment": "Drop comment of {table} table",
    "modify_primary_key": "Change primary key of {table}",
    "modify_check": "Change check constraint {name} on {table}",
    "modify_enum": "Change values of enum {name}",
    "modify_computed": "Change expression of computed column {table}.{name}",
    "rename_index": "Rename index to {name} on {table}",
    "rename_constraint": "Rename constraint to {name} on {table}",
}

MAX_MESSAGE = 72


def migration_message(findings: Sequence[Finding]) -> str:
    """A descriptive ``-m`` message: ``Add email column to users table`` for one change, a summary for many."""
    if not findings:
        return ""
    if len(findings) == 1:
        f = findings[0]
        template = _VERBS.get(f.kind, "Update {table}")
        return template.format(name=f.name or f.table, table=f.qualified_table)
    kinds = {f.kind for f in findings}
    tables = sorted({f.qualified_table for f in findings})
    if kinds == {"add_column"} and len(tables) == 1:
        names = ", ".join(f.name or "" for f in findings)
        message = f"Add {names} columns to {tables[0]} table"
        if len(message) <= MAX_MESSAGE:
            return message
    if kinds == {"add_table"}:
        message = f"Add {', '.join(f.table for f in findings)} tables"
        if len(message) <= MAX_MESSAGE:
            return message
    message = f"Sync {', '.join(tables)} with the models"
    if len(message) <= MAX_MESSAGE:
        return message
    return f"Sync {len(tables)} tables with the models"


def review_notes(findings: Sequence[Finding]) -> tuple[str, ...]:
    """Where autogenerate is known to write the wrong migration for these findings."""
    notes: list[str] = []
    by_table: dict[str, Counter[str]] = {}
    for f in findings:
        by_table.setdefault(f.qualified_table, Counter())[f.kind] += 1
    for table, kinds in sorted(by_table.items()):
        if kinds["add_column"] and kinds["remove_column"]:
            notes.append(
                f"{table}: a column is dropped and another added; if it is a rename, replace both with "
                "op.alter_column(..., new_column_name=...) or the data in the old column is lost."
            )
    if {"add_table", "remove_table"} <= {f.kind for f in findings}:
        notes.append("A table is dropped and another added; if it is a rename, use op.rename_table(...) instead.")
    for f in findings:
        if f.kind == "modify_nullable" and f.models and f.models.get("nullable") is False:
            notes.append(
                f"{f.object_label} becomes NOT NULL: existing rows with NULL make the migration fail; "
                f"backfill first in the same migration, e.g. op.execute(\"UPDATE {f.qualified_table} SET "
                f"{f.name} = ... WHERE {f.name} IS NULL\")."
            )
        if f.kind == "add_column" and f.models and f.models.get("nullable") is False and not f.models.get("default"):
            notes.append(
                f"{f.object_label} is added as NOT NULL without a server default: this fails on a table that has "
                "rows; add it nullable, backfill, then alter it to NOT NULL (or give it a server_default)."
            )
        if f.name and f.name.startswith("(") and f.kind in ("add_constraint", "add_fk"):
            notes.append(
                f"The constraint on {f.qualified_table} has no name; give it one (or a naming_convention on the "
                "MetaData) so the migration can drop it later on every database."
            )
        if f.kind == "modify_type":
            notes.append(
                f"{f.object_label} changes type: check the USING clause / data conversion, and for enums the "
                "type's own CREATE/ALTER TYPE, which autogenerate does not write."
            )
    return tuple(dict.fromkeys(notes))


#: Causes whose fix is a new migration. ``unknown`` is treated as one: it is the
#: only fix that is right whatever the cause turns out to be.
NEEDS_MIGRATION = ("missing_migration", "unknown")


def suggest(
    findings: Sequence[Finding],
    *,
    command_prefix: str,
    state: Any = None,
    upgrade_code: str = "",
    downgrade_code: str = "",
    scripts_dir: str = "alembic/versions",
) -> SuggestedMigration | None:
    """The commands to run, in order, and the migration to write; ``None`` when nothing differs.

    The causes decide the order: pending revisions are applied first (alembic
    refuses to autogenerate against a database that is behind), then one new
    migration covers what no migration does yet. A change made by hand
    (``out_of_band``) gets no command: adopting or reverting it is a choice,
    left to a review note. ``upgrade_code`` is the code for every finding; it is
    narrowed to the findings that need the new migration when others are present,
    and a risk's backfill code is put before the op it prepares.
    """
    if not findings:
        return None
    # A rename guess is advice beside the findings it pairs, not a change of its own.
    findings = [f for f in findings if not f.kind.endswith("_candidate")]
    if not findings:
        return None
    to_write = [f for f in findings if f.cause in NEEDS_MIGRATION]
    pending = [f for f in findings if f.cause == "pending_migration"]
    by_hand = [f for f in findings if f.cause == "out_of_band"]
    behind = bool(pending) or getattr(state, "status", None) == "behind"

    commands: list[str] = []
    if behind:
        commands.append(f"{command_prefix} upgrade head")
    message = migration_message(to_write)
    notes = list(review_notes(to_write))
    if to_write:
        review = f"# review the new file in {scripts_dir}/" + (" (see the review notes)" if notes else "") + ", then:"
        commands += [
            f'{command_prefix} revision --autogenerate -m "{_quote(message)}"',
            review,
            f"{command_prefix} upgrade head",
        ]
    if by_hand:
        notes.append(
            f"{len(by_hand)} change(s) were made to the database by hand, outside any migration: for each, "
            "adopt it (change the models, then autogenerate a migration) or revert it (run the op code shown "
            "with the finding); no command above does either."
        )
    if getattr(state, "status", None) in ("multiple_heads", "unknown_revision"):
        notes.insert(0, "Resolve the migration state first (see Migrations): autogenerate needs the database at one known head.")
    backfill = any(r.code for f in to_write for r in f.risks)
    if len(to_write) != len(findings) or backfill:
        upgrade_code = _joined(_with_backfill(f) for f in to_write)
        downgrade_code = _joined(f.downgrade_code for f in reversed(to_write))
    return SuggestedMigration(
        message=message,
        commands=tuple(commands),
        upgrade_code=upgrade_code,
        downgrade_code=downgrade_code,
        review_notes=tuple(notes),
    )


def _with_backfill(finding: Finding) -> str:
    # A backfill (UPDATE … WHERE col IS NULL) must run before the op, in the same migration.
    return "\n".join([r.code for r in finding.risks if r.code] + [finding.upgrade_code])


def _joined(blocks: Iterable[str]) -> str:
    # One AlterColumnOp can yield several findings with the same code: show it once.
    return "\n".join(dict.fromkeys(b for b in blocks if b))


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")

