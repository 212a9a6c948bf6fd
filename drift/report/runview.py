"""What the multi-environment, comparison and ticket templates show, shaped for reading.

The counterpart of :mod:`drift.report.view` for a :class:`~drift.run.RunResult`
(several environments, maybe a dev-vs-prod comparison) and an
:class:`~drift.envdiff.EnvDiff`. Each checked environment keeps its own
:class:`~drift.report.view.ReportView`, so its section says exactly what its
one-environment report says. Text from databases and models goes through
:func:`~drift.report.view._clean` here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..findings import SEVERITIES
from .view import (
    KIND_LABELS,
    FindingView,
    SEVERITY_LABELS,
    SEVERITY_RANK,
    PendingView,
    ReportView,
    _clean,
    _utc,
    _words,
    build,
)

if TYPE_CHECKING:
    from ..envdiff import EnvDiff
    from ..run import EnvironmentResult, RunResult

STATUS_LABELS = {
    "checked": "Checked",
    "unreachable": "Could not be reached",
    "failed": "Could not be checked",
    "timed_out": "Did not finish in time",
}


@dataclass(frozen=True)
class DiffItemView:
    id: str
    relation: str
    relation_label: str
    sentence: str
    cause: str | None
    severity: str
    severity_label: str
    kind_label: str


@dataclass(frozen=True)
class DiffView:
    source: str
    target: str
    verdict: str
    differs: bool
    revision_status: str
    revision_summary: str
    target_lacks: tuple[PendingView, ...]
    source_lacks: tuple[PendingView, ...]
    differences: tuple[DiffItemView, ...]
    commands: tuple[str, ...]
    shared: int


@dataclass(frozen=True)
class EnvView:
    name: str
    prefix: str
    status: str
    status_label: str
    checked: bool
    summary: str
    reason: str | None
    seconds: str | None
    report: ReportView | None
    has_drift: bool
    severity: str
    severity_label: str
    revision: str
    state_label: str | None
    new: int | None
    open: int | None
    resolved: int | None


@dataclass(frozen=True)
class RunView:
    title: str
    verdict: str
    generated_at: str
    generated_at_iso: str
    tool_version: str
    time_limit: str | None
    has_drift: bool
    all_checked: bool
    environments: tuple[EnvView, ...]
    comparison: DiffView | None
    comparison_note: str | None
    has_history: bool
    has_risks: bool = False
    has_policy: bool = False

    @property
    def findings_total(self) -> int:
        return sum(e.report.findings_total for e in self.environments if e.report is not None)

    @property
    def findings_shown(self) -> int:
        return sum(e.report.findings_shown for e in self.environments if e.report is not None)


def _prefix(name: str, taken: set[str]) -> str:
    # Ids of one section must not collide with another's: the same finding id is in dev and in prod.
    base = re.sub(r"[^A-Za-z0-9-]", "-", name).strip("-") or "env"
    prefix, n = f"{base}--", 2
    while prefix in taken:
        prefix, n = f"{base}-{n}--", n + 1
    taken.add(prefix)
    return prefix


def build_run(result: RunResult) -> RunView:
    """Shape ``result`` for the templates; pure."""
    taken: set[str] = set()
    environments = tuple(_environment(e, _prefix(e.name, taken)) for e in result.environments)
    comparison = build_diff(result.comparison) if result.comparison is not None else None
    verdict = _clean(result.verdict)
    generated = _utc(result.generated_at)
    return RunView(
        title=f"drift · {verdict}",
        verdict=verdict,
        generated_at=generated.strftime("%Y-%m-%d %H:%M:%S UTC"),
        generated_at_iso=generated.isoformat(timespec="seconds").replace("+00:00", "Z"),
        tool_version=_clean(result.tool_version),
        time_limit=f"{result.time_limit:g} s" if result.time_limit is not None else None,
        has_drift=result.has_drift,
        all_checked=all(e.checked for e in result.environments),
        environments=environments,
        comparison=comparison,
        comparison_note=_clean(result.comparison_note) if result.comparison_note else None,
        has_history=any(e.report is not None and e.report.history is not None for e in environments),
        has_risks=any(e.report is not None and e.report.has_risks for e in environments),
        has_policy=any(e.report is not None and e.report.policy is not None for e in environments),
    )


def _environment(e: EnvironmentResult, prefix: str) -> EnvView:
    report = build(e.report) if e.report is not None else None
    severity = "info"
    if report is not None and report.tables:
        severity = max((t.severity for t in report.tables), key=lambda s: SEVERITY_RANK.get(s, -1))
    history = report.history if report is not None else None
    return EnvView(
        name=_clean(e.name),
        prefix=prefix,
        status=e.status,
        status_label=STATUS_LABELS.get(e.status, _words(e.status)),
        checked=report is not None,
        summary=report.verdict if report is not None else STATUS_LABELS.get(e.status, _words(e.status)),
        reason=_clean(e.reason) if e.reason else None,
        seconds=f"{e.seconds:.1f} s" if e.seconds is not None else None,
        report=report,
        has_drift=bool(report and report.has_drift),
        severity=severity,
        severity_label=SEVERITY_LABELS.get(severity, severity.capitalize()),
        revision=report.revision if report is not None else "—",
        state_label=report.state.status_label if report is not None and report.state is not None else None,
        new=history.new if history is not None else None,
        open=history.open if history is not None else None,
        resolved=len(history.resolved) if history is not None else None,
    )


def build_diff(d: EnvDiff) -> DiffView:
    source, target = _clean(d.source), _clean(d.target)
    labels = {
        "only_target": f"only {target} differs",
        "only_source": f"only {source} differs",
        "both": "both differ, differently",
    }
    items = tuple(
        DiffItemView(
            id=_clean(x.id),
            relation=x.relation,
            relation_label=labels.get(x.relation, _words(x.relation)),
            sentence=_clean(x.sentence),
            cause=_clean(x.cause) if x.cause else None,
            severity=x.severity if x.severity in SEVERITIES else "info",
            severity_label=SEVERITY_LABELS.get(x.severity, "Info"),
            kind_label=KIND_LABELS.get(x.finding.kind, _words(x.finding.kind)),
        )
        for x in d.differences
    )
    return DiffView(
        source=source,
        target=target,
        verdict=_clean(d.verdict),
        differs=d.has_differences,
        revision_status=d.revisions.status,
        revision_summary=_clean(d.revisions.summary),
        target_lacks=tuple(_pending(r) for r in d.revisions.target_lacks),
        source_lacks=tuple(_pending(r) for r in d.revisions.source_lacks),
        differences=items,
        commands=tuple(_clean(c) for c in d.commands),
        shared=d.shared,
    )


def _pending(rev: Any) -> PendingView:
    return PendingView(id=_clean(rev.id), message=_clean(rev.message), date=_clean(rev.date) if rev.date else None)


# --------------------------------------------------------------------------- ticket


@dataclass(frozen=True)
class TicketLine:
    """A line under a ticket item: a risk of applying it, or why an accepted finding is back."""

    label: str
    text: str


@dataclass(frozen=True)
class TicketItem:
    key: str
    sentence: str
    id: str
    severity: str
    severity_label: str
    detail: str | None = None
    lines: tuple[TicketLine, ...] = ()


def _ticket_lines(f: FindingView) -> tuple[TicketLine, ...]:
    # A ticket is short: the risks worth acting on, not the "nothing to worry about" ones.
    lines = [TicketLine("Reported again", f.expired)] if f.expired else []
    for r in f.risks:
        if r.severity == "info":
            continue
        text = f"{r.summary}: not measured: {r.not_measured}" if r.not_measured else r.summary
        label = f"{r.severity_label} risk" + ("" if r.measured else " (not measured)")
        lines.append(TicketLine(label, text))
    return tuple(lines)


@dataclass(frozen=True)
class TicketGroup:
    title: str
    items: tuple[TicketItem, ...]
    omitted: int = 0


@dataclass(frozen=True)
class TicketEnv:
    env: EnvView
    groups: tuple[TicketGroup, ...]


@dataclass(frozen=True)
class TicketView:
    """A ticket body: the run's verdict, a table, the comparison and what changed, within a size cap."""

    run: RunView
    link: str | None
    link_label: str | None
    link_is_url: bool
    comparison: TicketGroup
    envs: tuple[TicketEnv, ...]

    @property
    def omitted(self) -> int:
        return self.comparison.omitted + sum(g.omitted for e in self.envs for g in e.groups)


def _ticket_groups(e: EnvView) -> list[tuple[str, list[TicketItem]]]:
    """What a ticket lists for one environment, in reading order: new, resolved, still open (or all findings)."""
    if e.report is None:
        return []
    findings = [f for t in e.report.tables for f in t.findings]
    severity_first = sorted(findings, key=lambda f: -SEVERITY_RANK.get(f.severity, 0))

    def item(f: FindingView, detail: str | None = None) -> TicketItem:
        return TicketItem(f"{e.prefix}{f.id}", f.sentence, f.id, f.severity, f.severity_label, detail,
                          _ticket_lines(f))

    if e.report.history is None:
        return [("Findings", [item(f) for f in severity_first])]
    resolved = sorted(e.report.history.resolved, key=lambda r: -SEVERITY_RANK.get(r.severity, 0))
    return [
        ("New since the previous report", [item(f) for f in severity_first if f.mark == "new"]),
        ("Resolved since the previous report", [
            TicketItem(f"{e.prefix}resolved-{r.id}", r.sentence, r.id, r.severity, r.severity_label,
                       f"open since {r.first_seen}" if r.first_seen else None)
            for r in resolved
        ]),
        ("Still open", [item(f, f.mark_label) for f in severity_first if f.mark == "open"]),
    ]


def ticket_priority(run: RunView) -> tuple[str, ...]:
    """Item keys in the order a size cap keeps them: the comparison, then new, resolved, still open."""
    keys: list[str] = []
    if run.comparison is not None:
        diffs = sorted(run.comparison.differences, key=lambda x: -SEVERITY_RANK.get(x.severity, 0))
        keys.extend(f"comparison-{x.id}" for x in diffs)
    per_env = [_ticket_groups(e) for e in run.environments]
    for rank in range(3):
        for groups in per_env:
            if rank < len(groups):
                keys.extend(i.key for i in groups[rank][1])
    return tuple(keys)


def build_ticket(
    run: RunView, *, link: str | None, link_label: str | None, keep: Any = None,
) -> TicketView:
    """The ticket for ``run``; ``keep`` (item keys) limits what is listed, ``None`` lists everything."""
    kept = None if keep is None else set(keep)

    def group(title: str, items: list[TicketItem]) -> TicketGroup:
        shown = tuple(i for i in items if kept is None or i.key in kept)
        return TicketGroup(title, shown, len(items) - len(shown))

    comparison_items: list[TicketItem] = []
    if run.comparison is not None:
        comparison_items = [
            TicketItem(f"comparison-{x.id}", x.sentence, x.id, x.severity, x.severity_label, x.cause)
            for x in sorted(run.comparison.differences, key=lambda x: -SEVERITY_RANK.get(x.severity, 0))
        ]
    envs = tuple(
        TicketEnv(e, tuple(g for g in (group(t, items) for t, items in _ticket_groups(e)) if g.items or g.omitted))
        for e in run.environments
    )
    return TicketView(
        run=run,
        link=_clean(link) if link else None,
        link_label=_clean(link_label) if link_label else None,
        link_is_url=bool(link and re.match(r"^https?://", link)),
        comparison=group("Differences", comparison_items),
        envs=envs,
    )
