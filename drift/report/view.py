"""What the report templates show: a :class:`~drift.findings.Report` shaped for reading.

Every decision about *what* a reader sees lives here, once, for HTML,
Markdown and text alike: labels for kinds, severities and causes; the
models-versus-database rows of each finding; which rows are worth a line;
how times and revisions are spelled; which findings survive a size cap. The
templates only decide *how* it looks.

All text from the database or the models passes through :func:`visible`
first, so a name with a newline, an ANSI escape, a right-to-left override or
a zero-width space cannot break a layout or hide what it says.

>>> visible("users\\u202eexe")
'users\\\\u202eexe'
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Collection, Iterable, Mapping

from .. import secrets
from ..findings import SEVERITIES, Finding, Report, Risk

if TYPE_CHECKING:
    from ..policy import Acceptance, PolicyResult

# str.isprintable() is False exactly for what must not reach a reader raw:
# controls (ANSI escapes, newlines), format characters (bidi overrides and
# isolates, zero-width spaces and joiners), line and paragraph separators,
# spaces other than U+0020, surrogates, private-use and unassigned code points.
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: object, *, keep: str = "") -> str:
    """``text`` with every invisible or layout-changing character spelled as a Python escape.

    Characters in ``keep`` (``"\\n\\t"`` for multi-line values) stay as they are.

    >>> visible("a\\nb"), visible("a\\nb", keep="\\n"), visible("ok ü 表")
    ('a\\\\nb', 'a\\nb', 'ok ü 表')
    """
    text = str(text)
    if text.isprintable():
        return text
    if "\n" in keep:  # a value kept on several lines: CRLF and CR are line breaks, not characters to show
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c if c.isprintable() or c in keep else _escape_char(c) for c in text)


def _clean(value: object, *, keep: str = "") -> str:
    # Masked here as well as on the rendered text: once HTML-escaped, a password
    # holding & or < would no longer match the secret it is masked by.
    return visible(secrets.mask(value), keep=keep)


# --------------------------------------------------------------------------- vocabulary

#: A short heading per kind of difference, said from the reader's side.
KIND_LABELS: dict[str, str] = {
    "add_table": "Table missing from the database",
    "remove_table": "Table only in the database",
    "add_column": "Column missing from the database",
    "remove_column": "Column only in the database",
    "modify_type": "Column type differs",
    "modify_nullable": "Nullability differs",
    "modify_default": "Server default differs",
    "modify_comment": "Column comment differs",
    "add_index": "Index missing from the database",
    "remove_index": "Index only in the database",
    "add_constraint": "Constraint missing from the database",
    "remove_constraint": "Constraint only in the database",
    "add_fk": "Foreign key missing from the database",
    "remove_fk": "Foreign key only in the database",
    "add_table_comment": "Table comment differs",
    "remove_table_comment": "Table comment only in the database",
}

#: What the difference means in practice, for a reader who did not write the models.
KIND_HELP: dict[str, str] = {
    "add_table": "The application expects this table; anything that uses it fails until a migration creates it.",
    "remove_table": "The models no longer define this table; a migration generated now would drop it and its data.",
    "add_column": "The application expects this column; queries that read or write it fail until a migration adds it.",
    "remove_column": "The models no longer define this column; a migration generated now would drop it and its data.",
    "modify_type": "The column holds a different type than the models declare; values may be cut, rounded or rejected.",
    "modify_nullable": "The models and the database disagree on whether the column may be NULL.",
    "modify_default": "Rows inserted without a value get a different default than the models declare.",
    "modify_comment": "Only the documentation differs; the data is not affected.",
    "add_index": "Queries the index was meant for run without it; a unique index also means duplicates are not refused.",
    "remove_index": "The database has an index the models do not declare; a migration generated now would drop it.",
    "add_constraint": "The database does not enforce a rule the models declare; rows breaking it can be stored.",
    "remove_constraint": "The database enforces a rule the models do not declare; a migration generated now would drop it.",
    "add_fk": "The database does not enforce this reference; rows can point at rows that do not exist.",
    "remove_fk": "The database enforces a reference the models do not declare; a migration generated now would drop it.",
    "add_table_comment": "Only the documentation differs; the data is not affected.",
    "remove_table_comment": "Only the documentation differs; the data is not affected.",
}

SEVERITY_LABELS = {"info": "Info", "warning": "Warning", "danger": "Danger"}
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

#: Shown only when attribution has decided; ``unknown`` is left out rather than shown as a verdict.
CAUSE_LABELS = {
    "missing_migration": "No migration covers this change: the models moved on without one.",
    "pending_migration": "A migration for this exists but has not been applied to this database.",
    "out_of_band": "The database was changed outside the migrations (by hand or by another tool).",
}

STATUS_LABELS = {
    "up_to_date": "Up to date",
    "behind": "Behind",
    "unknown_revision": "Unknown revision",
    "multiple_heads": "Multiple heads",
    "unversioned": "Not versioned",
    "empty_history": "No migrations",
}

# Rows of the models-versus-database table, in reading order; keys not listed follow, sorted.
_ATTRIBUTE_ORDER = (
    "type", "nullable", "default", "primary_key", "columns", "unique", "where",
    "references", "referred_columns", "ondelete", "onupdate", "sqltext", "comment",
)
_ATTRIBUTE_LABELS = {
    "type": "Type",
    "nullable": "Nullable",
    "default": "Server default",
    "primary_key": "Primary key",
    "columns": "Columns",
    "unique": "Unique",
    "where": "Where",
    "references": "References",
    "referred_columns": "Referred columns",
    "ondelete": "On delete",
    "onupdate": "On update",
    "sqltext": "Check",
    "comment": "Comment",
}
# Values spelled as SQL or identifiers, drawn as code.
_CODE_ATTRIBUTES = frozenset({"type", "default", "columns", "where", "references", "referred_columns", "sqltext"})
# Attributes worth a row only when some side says something: "comment: none" on both sides is noise.
_OPTIONAL_ATTRIBUTES = frozenset({"default", "primary_key", "unique", "where", "ondelete", "onupdate", "comment"})
_CONSTRAINT_TYPE_WORDS = {
    "foreignkey": "foreign key", "foreign_key": "foreign key", "primary": "primary key", "primary_key": "primary key",
    "unique": "unique", "check": "check",
}
_CONSTRAINT_TYPES = frozenset({"unique_constraint", "check_constraint", "primary_key", "foreign_key", "constraint"})


# --------------------------------------------------------------------------- view classes


@dataclass(frozen=True)
class Cell:
    """One side of one attribute: lines of text, drawn as code or as prose; ``muted`` for none/absent."""

    lines: tuple[str, ...]
    code: bool = False
    muted: bool = False


ABSENT = Cell(("—",), muted=True)
NONE = Cell(("none",), muted=True)


@dataclass(frozen=True)
class Row:
    label: str
    models: Cell
    database: Cell
    differs: bool


@dataclass(frozen=True)
class Evidence:
    """One number or example behind a risk: ``null_rows: 2``."""

    key: str
    value: str


@dataclass(frozen=True)
class RiskView:
    """What applying the suggested change would do to the rows that are there, worded for reading."""

    rule: str
    severity: str
    severity_label: str
    #: The sentence; for a risk drift did not measure, what it would have looked at.
    summary: str
    measured: bool
    #: Why drift did not look (``the table has ~2,000,000 rows…``); None when measured.
    not_measured: str | None
    evidence: tuple[Evidence, ...]
    suggestion: str | None
    #: Migration code to run before the suggested op, in the same migration (a backfill).
    code: str | None


@dataclass(frozen=True)
class FindingView:
    id: str
    kind: str
    kind_label: str
    explanation: str
    severity: str
    severity_label: str
    message: str
    sentence: str
    object_label: str
    rows: tuple[Row, ...]
    cause: str | None
    cause_detail: str | None
    #: Against the previous report in the same folder: ``new`` or ``open`` (None when no history is kept).
    mark: str | None = None
    mark_label: str | None = None
    risks: tuple[RiskView, ...] = ()
    #: ``acceptance expired on 2025-03-01 (alice, why)``: the finding is back because its acceptance ended.
    expired: str | None = None


@dataclass(frozen=True)
class TableView:
    name: str
    anchor: str
    findings: tuple[FindingView, ...]
    total: int
    severity: str
    severity_label: str


@dataclass(frozen=True)
class Count:
    """One line of a summary: a severity, a kind (``key`` is its code name) or a table (with its anchor)."""

    label: str
    count: int
    key: str = ""
    anchor: str = ""
    severity: str = ""
    severity_label: str = ""


@dataclass(frozen=True)
class PendingView:
    id: str
    message: str
    date: str | None


@dataclass(frozen=True)
class StateView:
    status: str
    status_label: str
    ok: bool
    summary: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[PendingView, ...]
    commands: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class MigrationView:
    message: str
    commands: tuple[str, ...]
    upgrade_code: str
    downgrade_code: str
    review_notes: tuple[str, ...]


@dataclass(frozen=True)
class ResolvedView:
    """A finding of the previous report that this one no longer has."""

    id: str
    kind_label: str
    object_label: str
    sentence: str
    severity: str
    severity_label: str
    first_seen: str | None


@dataclass(frozen=True)
class HistoryView:
    """What changed since the previous report of the same environment in the same folder."""

    summary: str
    previous: str | None
    previous_at: str | None
    new: int
    open: int
    resolved: tuple[ResolvedView, ...]


@dataclass(frozen=True)
class AsideView:
    """One finding or accepted-drift entry of the "Set aside" section.

    ``why`` is the rule's reason or the acceptance's; ``rule`` names the
    ignore rule's pattern, ``owner`` and ``expires`` the acceptance's.
    """

    id: str
    kind_label: str
    object_label: str
    sentence: str
    why: str
    rule: str | None = None
    section: str | None = None
    owner: str | None = None
    expires: str | None = None
    scope: str | None = None
    #: The finding's anchor in this report when it is shown (an expired acceptance's finding is).
    anchor: str | None = None
    #: The command that renews an expired acceptance.
    renew: str | None = None


@dataclass(frozen=True)
class PolicyView:
    """What ignore rules and accepted drift set aside: listed in full, or only counted under a size cap."""

    summary: str
    counts: tuple[Count, ...]
    ignored: tuple[AsideView, ...]
    accepted: tuple[AsideView, ...]
    expired: tuple[AsideView, ...]
    unmatched: tuple[AsideView, ...]
    accepted_file: str
    show_items: bool = True

    @property
    def total(self) -> int:
        return len(self.ignored) + len(self.accepted) + len(self.expired) + len(self.unmatched)


@dataclass(frozen=True)
class ReportView:
    """Everything a template draws, already worded, escaped of hidden characters and ordered."""

    title: str
    environment: str
    url: str
    dialect: str
    driver: str
    server_version: str
    database_name: str | None
    revision: str
    generated_at: str
    generated_at_iso: str
    tool_version: str
    verdict: str
    has_drift: bool
    tables_compared: int
    compared: str
    severity_counts: tuple[Count, ...]
    kind_counts: tuple[Count, ...]
    table_counts: tuple[Count, ...]
    tables: tuple[TableView, ...]
    findings_total: int
    migration: MigrationView | None
    state: StateView | None
    notes: tuple[str, ...]
    show_code: bool = True
    table_counts_omitted: int = 0
    history: HistoryView | None = None
    policy: PolicyView | None = None
    #: After the comparison sentence when nothing is left: what "clean" means here.
    clean_note: str = "Every table, column, index and constraint matches; there is nothing to migrate."

    @property
    def findings_shown(self) -> int:
        return sum(len(t.findings) for t in self.tables)

    @property
    def has_risks(self) -> bool:
        return any(f.risks for t in self.tables for f in t.findings)

    @property
    def findings_omitted(self) -> int:
        return self.findings_total - self.findings_shown

    def limited(
        self, keep: Collection[str] | None = None, *, show_code: bool = True, table_counts: int | None = None
    ) -> "ReportView":
        """The same report with only the findings whose ids are in ``keep`` (all when ``None``).

        Used by the Markdown size cap; the header, counts and commands always stay.
        """
        tables = self.tables
        if keep is not None:
            kept = set(keep)
            tables = tuple(
                dataclasses.replace(t, findings=tuple(f for f in t.findings if f.id in kept))
                for t in self.tables
            )
            tables = tuple(t for t in tables if t.findings)
        rows = self.table_counts if table_counts is None else self.table_counts[:table_counts]
        return dataclasses.replace(
            self,
            tables=tables,
            show_code=show_code,
            table_counts=rows,
            table_counts_omitted=len(self.table_counts) - len(rows),
        )

    def aside_counted(self) -> "ReportView":
        """The same report with the "Set aside" section cut to its counts (the Markdown size cap's first cut)."""
        if self.policy is None or not self.policy.show_items:
            return self
        return dataclasses.replace(self, policy=dataclasses.replace(self.policy, show_items=False))

    def priority_order(self) -> tuple[str, ...]:
        """Finding ids, most severe first (report order within a severity): what a cap keeps first."""
        flat = [f for t in self.tables for f in t.findings]
        ranked = sorted(enumerate(flat), key=lambda item: (-SEVERITY_RANK.get(item[1].severity, 0), item[0]))
        return tuple(f.id for _, f in ranked)


# --------------------------------------------------------------------------- building


def build(report: Report) -> ReportView:
    """Shape ``report`` for the templates; pure, so the same report always gives the same view."""
    db = report.database
    policy = _policy(report.policy, report.findings) if report.policy is not None else None
    expired = _expired_marks(report.policy) if report.policy is not None else {}
    tables = tuple(_table(name, findings, expired) for name, findings in report.findings_by_table().items())
    severity_totals: dict[str, int] = {}
    for f in report.findings:
        severity_totals[f.severity] = severity_totals.get(f.severity, 0) + 1
    severity_counts = tuple(
        Count(label=SEVERITY_LABELS.get(s, s.capitalize()), count=severity_totals[s], key=s, severity=s,
              severity_label=SEVERITY_LABELS.get(s, s.capitalize()))
        for s in sorted(severity_totals, key=lambda s: (-SEVERITY_RANK.get(s, -1), s))
    )
    kind_counts = tuple(
        Count(label=KIND_LABELS.get(kind, _words(kind)), count=n, key=_clean(kind))
        for kind, n in report.counts_by_kind().items()
    )
    table_counts = tuple(
        Count(label=t.name, count=t.total, anchor=t.anchor, severity=t.severity, severity_label=t.severity_label)
        for t in tables
    )
    environment = _clean(report.environment)
    verdict = _clean(report.verdict)
    history = report.extras.get("history") if isinstance(report.extras.get("history"), Mapping) else None
    if history is not None:
        tables = _marked(tables, history)
    return ReportView(
        title=f"drift · {environment} · {verdict}",
        environment=environment,
        url=_clean(db.url),
        dialect=_clean(db.dialect),
        driver=_clean(db.driver),
        server_version=_clean(db.server_version),
        database_name=_clean(db.database) if db.database else None,
        revision=", ".join(_clean(r) for r in report.revision) if report.revision else "none recorded",
        generated_at=_utc(report.generated_at).strftime("%Y-%m-%d %H:%M:%S UTC"),
        generated_at_iso=_utc(report.generated_at).isoformat(timespec="seconds").replace("+00:00", "Z"),
        tool_version=_clean(report.tool_version),
        verdict=verdict,
        has_drift=report.has_drift,
        tables_compared=report.tables_compared,
        compared=_compared(report),
        severity_counts=severity_counts,
        kind_counts=kind_counts,
        table_counts=table_counts,
        tables=tables,
        findings_total=len(report.findings),
        migration=_migration(report),
        state=_state(report.state),
        notes=_notes(report),
        history=_history(history) if history is not None else None,
        policy=policy,
        clean_note=(
            "Everything else matches: there is nothing to migrate apart from what is set aside below."
            if report.policy is not None and report.policy.hidden else
            "Every table, column, index and constraint matches; there is nothing to migrate."
        ),
    )


def _utc(moment: datetime) -> datetime:
    # A naive time is taken as UTC: the check stamps UTC, and hand-built reports should not depend on the machine's zone.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _words(kind: str) -> str:
    return _clean(kind).replace("_", " ").capitalize()


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _compared(report: Report) -> str:
    db = report.database
    where = f"the {_clean(db.dialect)} database"
    if db.database:
        where += f" {_clean(db.database)}"
    return f"Compared {_plural(report.tables_compared, 'table')} of the models with {where} ({_clean(db.server_version)})."


def _anchor(prefix: str, name: str) -> str:
    # Names can hold anything; a digest gives a short id that is valid, stable and safe in any format.
    return f"{prefix}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def _table(name: str, findings: Iterable[Finding], expired: Mapping[str, str] | None = None) -> TableView:
    views = tuple(_finding(f, (expired or {}).get(f.id)) for f in findings)
    worst = max((v.severity for v in views), key=lambda s: SEVERITY_RANK.get(s, -1))
    return TableView(
        name=_clean(name),
        anchor=_anchor("table", name),
        findings=views,
        total=len(views),
        severity=worst,
        severity_label=SEVERITY_LABELS.get(worst, worst.capitalize()),
    )


def _finding(f: Finding, expired: str | None = None) -> FindingView:
    severity = f.severity if f.severity in SEVERITY_LABELS else "info"
    return FindingView(
        id=_clean(f.id),
        kind=_clean(f.kind),
        kind_label=KIND_LABELS.get(f.kind, _words(f.kind)),
        explanation=KIND_HELP.get(f.kind, ""),
        severity=severity,
        severity_label=SEVERITY_LABELS[severity],
        message=_clean(f.message),
        sentence=_sentence(_clean(f.message)),
        object_label=_clean(f.object_label),
        rows=_rows(f),
        cause=CAUSE_LABELS.get(f.cause, _words(f.cause)) if f.cause != "unknown" else None,
        cause_detail=_clean(f.cause_detail, keep="\n") if f.cause_detail and f.cause != "unknown" else None,
        risks=tuple(_risk(r) for r in f.risks),
        expired=expired,
    )


# Written by drift.risk.assessment.not_measured: "<what it would look at>: not measured: <why>".
_NOT_MEASURED = ": not measured: "


def _risk(r: Risk) -> RiskView:
    severity = r.severity if r.severity in SEVERITY_LABELS else "warning"
    summary, reason = _clean(r.summary), None
    if not r.measured and _NOT_MEASURED in summary:
        summary, reason = summary.split(_NOT_MEASURED, 1)
    evidence = tuple(
        Evidence(_clean(k), _evidence_value(v))
        for k, v in r.evidence.items()
        # The reason is already said beside "not measured"; a second time as evidence is noise.
        if not (k == "reason" and not r.measured)
    )
    return RiskView(
        rule=_clean(r.rule),
        severity=severity,
        severity_label=SEVERITY_LABELS[severity],
        # Unmeasured, the summary names only what drift would have looked at: no sentence of its own.
        summary=_sentence(_capitalised(summary)) if reason is None else _capitalised(summary),
        measured=r.measured,
        not_measured=_sentence(reason) if reason else None,
        evidence=evidence,
        suggestion=_sentence(_capitalised(_clean(r.suggestion))) if r.suggestion else None,
        code=_clean(r.code, keep="\n").strip("\n") if r.code else None,
    )


def _capitalised(text: str) -> str:
    # Rules write lower-case clauses ("no NULL values in …"); an identifier at the start keeps its case.
    first = text.split(" ", 1)[0]
    return text[:1].upper() + text[1:] if first.isalpha() and first.islower() else text


def _evidence_value(value: Any) -> str:
    """One line per value: ``2``, ``1,250,000``, ``email=alice@example.com``, ``a, b``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Mapping):
        return ", ".join(f"{_clean(k)}={_evidence_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_evidence_value(v) for v in value) or "none"
    return _clean(value)


def _sentence(message: str) -> str:
    return message if not message or message[-1] in ".!?" else f"{message}."


def _rows(f: Finding) -> tuple[Row, ...]:
    models, database = f.models, f.database
    if models is None and database is None:
        return ()
    sides = [s for s in (models, database) if s is not None]
    keys = {k for s in sides for k in s}
    ordered = [k for k in _ATTRIBUTE_ORDER if k in keys] + sorted(keys - set(_ATTRIBUTE_ORDER))
    rows: list[Row] = []
    if models is None or database is None:
        rows.append(Row("Exists", Cell(("yes" if models is not None else "no",)),
                        Cell(("yes" if database is not None else "no",)), True))
    for key in ordered:
        values = [s.get(key) for s in sides]
        both = models is not None and database is not None
        if key in _OPTIONAL_ATTRIBUTES and not both and not any(values):
            continue
        label = "Constraint type" if key == "type" and f.object_type in _CONSTRAINT_TYPES else \
            _ATTRIBUTE_LABELS.get(key, _words(key))
        rows.append(Row(
            label=label,
            models=_cell(key, models, f.object_type),
            database=_cell(key, database, f.object_type),
            differs=both and models.get(key) != database.get(key),
        ))
    return tuple(rows)


def _cell(key: str, side: Mapping[str, Any] | None, object_type: str) -> Cell:
    if side is None:
        return ABSENT
    value = side.get(key)
    if value is None:
        return NONE
    if key == "nullable":
        return Cell(("yes (NULL allowed)" if value else "no (NOT NULL)",))
    if isinstance(value, bool):
        return Cell(("yes" if value else "no",))
    if key == "columns" and isinstance(value, Mapping):
        return Cell(tuple(_column_line(name, state) for name, state in value.items()), code=True)
    if isinstance(value, Mapping):
        return Cell(tuple(f"{_clean(k)}: {_clean(v)}" for k, v in value.items()), code=True)
    if isinstance(value, (list, tuple)):
        return Cell((", ".join(_clean(v) for v in value),), code=True) if value else NONE
    if key == "type" and object_type in _CONSTRAINT_TYPES:
        return Cell((_CONSTRAINT_TYPE_WORDS.get(str(value), _clean(value)),))
    code = key in _CODE_ATTRIBUTES
    lines = _clean(value, keep="\n").split("\n")
    return Cell(tuple(lines), code=code)


def _column_line(name: str, state: Any) -> str:
    """``email VARCHAR(255) NOT NULL DEFAULT 'x'``: one column of a whole table, spelled like DDL."""
    if not isinstance(state, Mapping):
        return f"{_clean(name)} {_clean(state)}"
    parts = [_clean(name), _clean(state.get("type") or "?")]
    if state.get("nullable") is False:
        parts.append("NOT NULL")
    if state.get("default") is not None:
        parts.append(f"DEFAULT {_clean(state['default'])}")
    if state.get("primary_key"):
        parts.append("PRIMARY KEY")
    return " ".join(parts)


def _migration(report: Report) -> MigrationView | None:
    m = report.migration
    if m is None:
        return None
    return MigrationView(
        message=_clean(m.message),
        commands=tuple(_clean(c) for c in m.commands),
        upgrade_code=_clean(m.upgrade_code, keep="\n"),
        downgrade_code=_clean(m.downgrade_code, keep="\n"),
        review_notes=tuple(_clean(n) for n in m.review_notes),
    )


def _state(state: Any) -> StateView | None:
    # Read by attribute: Report.state is typed loosely so findings.py need not import history.py.
    if state is None:
        return None
    status = str(getattr(state, "status", ""))
    pending = tuple(
        PendingView(id=_clean(r.id), message=_clean(r.message), date=_clean(r.date) if r.date else None)
        for r in getattr(state, "pending", ())
    )
    return StateView(
        status=_clean(status),
        status_label=STATUS_LABELS.get(status, _words(status)),
        ok=status == "up_to_date",
        summary=_clean(getattr(state, "summary", "")),
        current=tuple(_clean(r) for r in getattr(state, "current", ())),
        heads=tuple(_clean(r) for r in getattr(state, "heads", ())),
        pending=pending,
        commands=tuple(_clean(c) for c in getattr(state, "commands", ())),
        warnings=tuple(_clean(w) for w in getattr(state, "warnings", ())),
    )


# --------------------------------------------------------------------------- ignored and accepted drift


def _aside_finding(f: Finding, why: str, **extra: Any) -> AsideView:
    return AsideView(
        id=_clean(f.id),
        kind_label=KIND_LABELS.get(f.kind, _words(f.kind)),
        object_label=_clean(f.object_label),
        sentence=_sentence(_clean(f.message)),
        why=_clean(why),
        **extra,
    )


def _expired_text(entry: Acceptance) -> str:
    return f"acceptance expired on {entry.expires.isoformat()} ({_clean(entry.owner)}, {_clean(entry.reason)})"


def _expired_marks(policy: PolicyResult) -> dict[str, str]:
    return {x.finding.id: _expired_text(x.entry) for x in policy.expired}


def _policy(policy: PolicyResult, shown: Iterable[Finding]) -> PolicyView | None:
    """The "Set aside" section; None when rules apply but set nothing aside (the report then looks as always)."""
    counts = policy.counts()
    if not any(counts.values()):
        return None
    reported = {f.id for f in shown}
    ignored = tuple(
        _aside_finding(x.finding, x.rule.reason, rule=_clean(x.rule.pattern), section=f"[{_clean(x.rule.section)}]")
        for x in policy.ignored
    )
    accepted = tuple(
        _aside_finding(x.finding, x.entry.reason, owner=_clean(x.entry.owner), expires=x.entry.expires.isoformat(),
                       scope=_clean(x.entry.scope))
        for x in policy.accepted
    )
    expired = tuple(
        _aside_finding(x.finding, x.entry.reason, owner=_clean(x.entry.owner), expires=x.entry.expires.isoformat(),
                       scope=_clean(x.entry.scope), anchor=_clean(x.finding.id) if x.finding.id in reported else None,
                       renew=f"drift accept --env {_clean(policy.environment)} --id {_clean(x.entry.id)}")
        for x in policy.expired
    )
    unmatched = tuple(
        AsideView(id=_clean(e.id), kind_label=KIND_LABELS.get(e.kind, _words(e.kind)) if e.kind else "Accepted drift",
                  object_label=_clean(".".join(p for p in (e.schema, e.table, e.name) if p) or e.id), sentence="",
                  why=_clean(e.reason), owner=_clean(e.owner), expires=e.expires.isoformat(), scope=_clean(e.scope))
        for e in policy.unmatched
    )
    labels = (("ignored", "Ignored by rules"), ("accepted", "Accepted"), ("expired", "Acceptance expired"),
              ("unmatched", "Accepted, matching nothing"))
    return PolicyView(
        summary=_clean(policy.summary),
        counts=tuple(Count(label=label, count=counts[key], key=key) for key, label in labels if counts[key]),
        ignored=ignored,
        accepted=accepted,
        expired=expired,
        unmatched=unmatched,
        accepted_file=_clean(policy.accepted_file),
    )


def _notes(report: Report) -> tuple[str, ...]:
    # The policy's own notes (expired, matching nothing) are drawn in the "Set aside" section
    # and on the finding that came back; as notes as well they would say everything twice.
    own = set(report.policy.notes) if report.policy is not None else set()
    return tuple(_clean(n) for n in report.notes if n not in own)


# --------------------------------------------------------------------------- history


def _day(moment: object) -> str | None:
    """``2025-03-04`` from an ISO time (UTC), or None."""
    if not moment:
        return None
    try:
        return _utc(datetime.fromisoformat(str(moment).replace("Z", "+00:00"))).strftime("%Y-%m-%d")
    except ValueError:
        return _clean(moment)


def _moment(moment: object) -> str | None:
    if not moment:
        return None
    try:
        return _utc(datetime.fromisoformat(str(moment).replace("Z", "+00:00"))).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return _clean(moment)


def _mark_label(mark: Mapping[str, Any]) -> str:
    if mark.get("status") == "new":
        return "New"
    label = f"Still open since {_day(mark.get('first_seen')) or 'an earlier report'}"
    return f"{label} (changed)" if mark.get("changed") else label


def _marked(tables: tuple[TableView, ...], history: Mapping[str, Any]) -> tuple[TableView, ...]:
    marks = history.get("findings") or {}
    marked = []
    for table in tables:
        findings = []
        for f in table.findings:
            mark = marks.get(f.id)
            if isinstance(mark, Mapping) and mark.get("status") in ("new", "open"):
                f = dataclasses.replace(f, mark=str(mark["status"]), mark_label=_mark_label(mark))
            findings.append(f)
        marked.append(dataclasses.replace(table, findings=tuple(findings)))
    return tuple(marked)


def _history(history: Mapping[str, Any]) -> HistoryView:
    counts = history.get("counts") or {}
    new, still, gone = (int(counts.get(k, 0)) for k in ("new", "open", "resolved"))
    previous = history.get("previous") or None
    resolved = []
    for item in history.get("resolved") or ():
        severity = item.get("severity") if item.get("severity") in SEVERITY_LABELS else "info"
        kind = str(item.get("kind", ""))
        label = item.get("object_label") or item.get("table") or ""
        resolved.append(ResolvedView(
            id=_clean(item.get("id", "")),
            kind_label=KIND_LABELS.get(kind, _words(kind)),
            object_label=_clean(label),
            sentence=_sentence(_clean(item.get("message", ""))),
            severity=severity,
            severity_label=SEVERITY_LABELS[severity],
            first_seen=_day(item.get("first_seen")),
        ))
    if previous:
        when = _moment(previous.get("generated_at")) or "an earlier run"
        summary = f"Since the previous report ({when}): {new} new, {still} still open, {gone} resolved."
    else:
        summary = "No earlier report of this environment in this folder: every finding is new."
    return HistoryView(
        summary=summary,
        previous=_clean(previous.get("file")) if previous and previous.get("file") else None,
        previous_at=_moment(previous.get("generated_at")) if previous else None,
        new=new,
        open=still,
        resolved=tuple(resolved),
    )
