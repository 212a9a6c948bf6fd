"""The data every renderer, rule and comparison shares: findings and reports.

Findings are frozen dataclasses. They carry plain values only (strings,
numbers, booleans, lists and dicts of those) so that JSON, HTML, Markdown and
text are all drawn from the same data, and two runs over the same drift give
the same bytes apart from timestamps.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:
    from .policy import PolicyResult

#: Bumped when a field of the JSON document changes meaning or disappears.
SCHEMA_VERSION = 1

SEVERITIES = ("info", "warning", "danger")
CAUSES = ("missing_migration", "pending_migration", "out_of_band", "unknown")

#: Alembic's own vocabulary for differences.
ALEMBIC_KINDS = (
    "add_table",
    "remove_table",
    "add_column",
    "remove_column",
    "modify_type",
    "modify_nullable",
    "modify_default",
    "modify_comment",
    "add_index",
    "remove_index",
    "add_constraint",
    "remove_constraint",
    "add_fk",
    "remove_fk",
    "add_table_comment",
    "remove_table_comment",
)

#: What drift's own comparators (drift.comparators) add: what alembic misses,
#: and the guesses that pair two findings (drift.comparators.renames).
DRIFT_KINDS = (
    "modify_primary_key",
    "modify_check",
    "modify_enum",
    "modify_computed",
    "rename_index",
    "rename_constraint",
    "rename_column_candidate",
    "rename_table_candidate",
)

KINDS = ALEMBIC_KINDS + DRIFT_KINDS


def finding_id(kind: str, schema: str | None, table: str, name: str | None) -> str:
    """A stable id for one difference: the same drift gets the same id on every run.

    The id names the object and the kind of difference, not the values on
    either side, so a column whose type drifts further keeps its id (and its
    history, and any acceptance) instead of looking resolved and new.
    """
    key = "\x1f".join([kind, schema or "", table, name or ""])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]
    return f"{kind}-{digest}"


@dataclass(frozen=True)
class Risk:
    """What applying the suggested change would do to the rows that are there.

    ``measured`` is False when drift did not look (table too large, query
    timed out, data checks off); ``summary`` then says why instead of guessing.
    ``code`` is migration code to run *before* the suggested op (a backfill).
    """

    rule: str
    severity: str
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    measured: bool = True
    suggestion: str | None = None
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": plain(self.evidence),
            "measured": self.measured,
            "suggestion": self.suggestion,
            "code": self.code,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Risk":
        """The inverse of :meth:`to_dict` (``evidence`` comes back as plain JSON values)."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


def worst(severities: Iterable[str]) -> str:
    """The most severe of ``severities`` (``info`` when empty)."""
    ranked = [SEVERITIES.index(s) for s in severities if s in SEVERITIES]
    return SEVERITIES[max(ranked)] if ranked else "info"


@dataclass(frozen=True)
class Finding:
    """One difference between the models and a live database.

    ``models`` and ``database`` describe the object on each side (for a
    column: type, nullable, default, comment); the side where the object does
    not exist is ``None``.
    """

    kind: str
    table: str
    message: str
    schema: str | None = None
    name: str | None = None
    object_type: str = "table"
    models: Mapping[str, Any] | None = None
    database: Mapping[str, Any] | None = None
    severity: str = "info"
    cause: str = "unknown"
    cause_detail: str | None = None
    upgrade_code: str = ""
    downgrade_code: str = ""
    risks: tuple[Risk, ...] = ()
    id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", finding_id(self.kind, self.schema, self.table, self.name))

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def object_label(self) -> str:
        """``users.email`` for a column, ``users`` for a table, the name otherwise."""
        if self.object_type == "column" and self.name:
            return f"{self.qualified_table}.{self.name}"
        return self.name or self.qualified_table

    def sort_key(self) -> tuple[str, str, int, str, str]:
        kind_rank = KINDS.index(self.kind) if self.kind in KINDS else len(KINDS)
        return (self.schema or "", self.table, kind_rank, self.kind, self.name or "")

    def replace(self, **changes: Any) -> "Finding":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "object_type": self.object_type,
            "schema": self.schema,
            "table": self.table,
            "name": self.name,
            "message": self.message,
            "models": plain(self.models),
            "database": plain(self.database),
            "severity": self.severity,
            "cause": self.cause,
            "cause_detail": self.cause_detail,
            "upgrade_code": self.upgrade_code,
            "downgrade_code": self.downgrade_code,
            "risks": [r.to_dict() for r in self.risks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Finding":
        """The inverse of :meth:`to_dict`: the same finding, its sides as plain JSON values; ``id`` is recomputed."""
        values = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.init and f.name in data}
        values["risks"] = tuple(Risk.from_dict(r) for r in data.get("risks") or ())
        return cls(**values)


@dataclass(frozen=True)
class DatabaseInfo:
    """What was connected to: never holds a password (``url`` is masked)."""

    url: str
    dialect: str
    driver: str
    server_version: str
    database: str | None = None


@dataclass(frozen=True)
class SuggestedMigration:
    """What to run, in order, to bring the database and the models together."""

    message: str
    commands: tuple[str, ...]
    upgrade_code: str
    downgrade_code: str
    review_notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """The outcome of checking one environment."""

    environment: str
    database: DatabaseInfo
    findings: tuple[Finding, ...]
    tables_compared: int
    generated_at: datetime
    tool_version: str
    revision: tuple[str, ...] = ()
    migration: SuggestedMigration | None = None
    state: Any = field(default=None, compare=False)  # drift.history.MigrationState
    notes: tuple[str, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)
    #: What ignore rules and accepted drift took out of ``findings`` (counted there, not dropped);
    #: None when no rule or acceptance applies to this environment.
    policy: PolicyResult | None = None

    @property
    def has_drift(self) -> bool:
        return bool(self.findings)

    @property
    def tables_with_drift(self) -> tuple[str, ...]:
        return tuple(sorted({f.qualified_table for f in self.findings}))

    @property
    def verdict(self) -> str:
        """One line: ``3 differences in 2 tables`` or ``No drift in 12 tables``.

        With ignored or accepted findings it says how many, so a clean verdict never hides them:
        ``2 differences in 1 table (3 ignored by rules, 1 accepted)``.
        """
        aside = self.policy.summary if self.policy is not None else ""
        if not self.findings:
            compared = f"{count(self.tables_compared, 'table')} compared"
            if self.policy is not None and self.policy.hidden:
                return f"No drift apart from what is ignored or accepted ({aside}; {compared})"
            return f"No drift: the database matches the models ({compared})" + (f"; {aside}" if aside else "")
        return (
            f"{count(len(self.findings), 'difference')} in "
            f"{count(len(self.tables_with_drift), 'table')}"
        ) + (f" ({aside})" if aside else "")

    def counts_by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.kind] = counts.get(f.kind, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (KINDS.index(kv[0]) if kv[0] in KINDS else 99, kv[0])))

    def counts_by_table(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.qualified_table] = counts.get(f.qualified_table, 0) + 1
        return dict(sorted(counts.items()))

    def findings_by_table(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = {}
        for f in self.findings:
            grouped.setdefault(f.qualified_table, []).append(f)
        return dict(sorted(grouped.items()))

    def findings_by_cause(self) -> dict[str, list[Finding]]:
        return findings_by_cause(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool_version": self.tool_version,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "environment": self.environment,
            "url": self.database.url,
            "dialect": self.database.dialect,
            "driver": self.database.driver,
            "server_version": self.database.server_version,
            "database": self.database.database,
            "revision": list(self.revision),
            "tables_compared": self.tables_compared,
            "verdict": self.verdict,
            "has_drift": self.has_drift,
            "counts": {"by_kind": self.counts_by_kind(), "by_table": self.counts_by_table()},
            "findings": [f.to_dict() for f in self.findings],
            "migration": plain(dataclasses.asdict(self.migration)) if self.migration else None,
            "migration_state": plain(self.state) if self.state is not None else None,
            "notes": list(self.notes),
            # Only with a policy, so the JSON of a project without one is unchanged.
            **({"policy": self.policy.to_dict()} if self.policy is not None else {}),
            **{k: plain(v) for k, v in sorted(self.extras.items())},
        }


def findings_by_cause(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Findings grouped by cause, in the order of :data:`CAUSES`; empty causes left out."""
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(f.cause, []).append(f)
    order = {cause: i for i, cause in enumerate(CAUSES)}
    return {cause: grouped[cause] for cause in sorted(grouped, key=lambda c: (order.get(c, len(order)), c))}


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 table``, ``3 tables``: the one way every message and report counts things."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def plain(value: Any) -> Any:
    """Turn tuples, mappings and dataclasses into JSON-ready lists and dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value
