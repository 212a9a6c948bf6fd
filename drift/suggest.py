"""What to run: the commands, the migration message and the review notes for a set of findings.

Kept apart from comparing and from rendering so that every report format
and the Python API show the same advice.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

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


def suggest(
    findings: Sequence[Finding],
    *,
    command_prefix: str,
    upgrade_code: str = "",
    downgrade_code: str = "",
    scripts_dir: str = "alembic/versions",
) -> SuggestedMigration | None:
    """The migration to write and the commands to run, in order; ``None`` when nothing differs."""
    if not findings:
        return None
    message = migration_message(findings)
    notes = review_notes(findings)
    review = f"# review the new file in {scripts_dir}/" + (" (see the review notes)" if notes else "") + ", then:"
    commands = (
        f'{command_prefix} revision --autogenerate -m "{_quote(message)}"',
        review,
        f"{command_prefix} upgrade head",
    )
    return SuggestedMigration(
        message=message,
        commands=commands,
        upgrade_code=upgrade_code,
        downgrade_code=downgrade_code,
        review_notes=notes,
    )


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")

