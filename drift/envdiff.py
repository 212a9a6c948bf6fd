"""How two environments differ from each other (dev vs prod), from their reports alone.

The two databases are never compared with each other: dev is often SQLite and
prod PostgreSQL, and their reflected types would differ everywhere. Both were
already compared with the same models, so how they differ from each other is
how their findings differ:

* a finding only in the target's report: the target differs from the models
  where the source matches them (prod lacks what dev has, or has what dev
  does not);
* a finding only in the source's report: the source differs where the target
  matches the models;
* a finding in both, with different database-side values: they differ from
  each other (and both from the models).

A finding in both with the same database-side values is drift they share,
not a difference between them. Findings are matched by their stable id.

The recorded revisions say how far apart the two are in the migration
history (``prod is two revisions behind dev``), via
:meth:`~drift.history.RevisionGraph.path`.

>>> d = diff_reports(dev_report, prod_report, graph)     # doctest: +SKIP
>>> d.revisions.summary                                 # doctest: +SKIP
'prod is two revisions behind dev (0002_task_due_date, 0003_project_owner).'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .findings import SCHEMA_VERSION, Finding, Report, count, plain, worst
from .history import DEFAULT_COMMAND_PREFIX, Revision, RevisionGraph

RELATIONS = ("only_target", "only_source", "both")
REVISION_STATUSES = ("same", "behind", "ahead", "diverged", "unknown")

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(frozen=True)
class Difference:
    """One way the two environments differ, with a plain sentence and, when known, why."""

    id: str
    relation: str
    sentence: str
    source: Finding | None
    target: Finding | None
    cause: str | None = None

    @property
    def finding(self) -> Finding:
        """The finding the difference is about (the target's when both have one)."""
        found = self.target or self.source
        assert found is not None
        return found

    @property
    def severity(self) -> str:
        return worst(f.severity for f in (self.source, self.target) if f is not None)

    def to_dict(self) -> dict[str, Any]:
        f = self.finding
        return {
            "id": self.id,
            "relation": self.relation,
            "kind": f.kind,
            "schema": f.schema,
            "table": f.table,
            "name": f.name,
            "object_type": f.object_type,
            "severity": self.severity,
            "sentence": self.sentence,
            "cause": self.cause,
            "models": plain(f.models),
            "source_database": plain(self.source.database) if self.source is not None else plain(f.models),
            "target_database": plain(self.target.database) if self.target is not None else plain(f.models),
        }


@dataclass(frozen=True)
class RevisionRelation:
    """Where the two recorded revisions stand in the migration history."""

    status: str
    summary: str
    #: Revisions the source has applied and the target has not, in apply order.
    target_lacks: tuple[Revision, ...] = ()
    #: Revisions the target has applied and the source has not, in apply order.
    source_lacks: tuple[Revision, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "summary": self.summary,
            "target_lacks": [r.to_dict() for r in self.target_lacks],
            "source_lacks": [r.to_dict() for r in self.source_lacks],
        }


@dataclass(frozen=True)
class EnvDiff:
    """How ``target`` (prod) differs from ``source`` (dev), and what brings it level."""

    source: str
    target: str
    source_revision: tuple[str, ...]
    target_revision: tuple[str, ...]
    revisions: RevisionRelation
    differences: tuple[Difference, ...]
    commands: tuple[str, ...]
    #: Drift both share (same finding, same database values): not a difference between them.
    shared: int = 0

    @property
    def has_differences(self) -> bool:
        return bool(self.differences) or self.revisions.status not in ("same",)

    @property
    def verdict(self) -> str:
        if not self.differences:
            same = "the same schema" if self.revisions.status == "same" else "the same schema, at different revisions"
            return f"{self.source} and {self.target} have {same}"
        n = len(self.differences)
        return f"{n} {'difference' if n == 1 else 'differences'} between {self.source} and {self.target}"

    def counts(self) -> dict[str, int]:
        counts = {relation: 0 for relation in RELATIONS}
        for d in self.differences:
            counts[d.relation] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "document": "diff",
            "source": self.source,
            "target": self.target,
            "verdict": self.verdict,
            "source_revision": list(self.source_revision),
            "target_revision": list(self.target_revision),
            "revisions": self.revisions.to_dict(),
            "counts": self.counts(),
            "shared_drift": self.shared,
            "differences": [d.to_dict() for d in self.differences],
            "commands": list(self.commands),
        }


# --------------------------------------------------------------------------- computing


def diff_reports(
    source: Report,
    target: Report,
    graph: RevisionGraph | None = None,
    *,
    command_prefix: str = DEFAULT_COMMAND_PREFIX,
) -> EnvDiff:
    """How ``target`` differs from ``source``; pure: two reports and the revision graph in, data out."""
    src = {f.id: f for f in source.findings}
    tgt = {f.id: f for f in target.findings}
    revisions = relation(graph, source.revision, target.revision, source.environment, target.environment)
    differences: list[Difference] = []
    shared = 0
    for fid in sorted(set(src) | set(tgt), key=lambda i: (tgt.get(i) or src[i]).sort_key() + (i,)):
        s, t = src.get(fid), tgt.get(fid)
        if s is not None and t is not None:
            if plain(s.database) == plain(t.database):
                shared += 1
                continue
            sentence = _both_sentence(s, t, source.environment, target.environment)
            cause = None
            differences.append(Difference(fid, "both", sentence, s, t, cause))
        elif t is not None:
            differences.append(Difference(
                fid, "only_target", _one_side_sentence(t, target.environment, source.environment), None, t,
                _cause(t, target.environment, source.environment, revisions, differing_is_target=True),
            ))
        else:
            assert s is not None
            differences.append(Difference(
                fid, "only_source", _one_side_sentence(s, source.environment, target.environment), s, None,
                _cause(s, source.environment, target.environment, revisions, differing_is_target=False),
            ))
    return EnvDiff(
        source=source.environment,
        target=target.environment,
        source_revision=tuple(source.revision),
        target_revision=tuple(target.revision),
        revisions=revisions,
        differences=tuple(differences),
        commands=_commands(revisions, differences, source, target, command_prefix),
        shared=shared,
    )


def relation(
    graph: RevisionGraph | None,
    source_revision: Sequence[str],
    target_revision: Sequence[str],
    source: str = "dev",
    target: str = "prod",
) -> RevisionRelation:
    """Where ``target``'s recorded revisions stand against ``source``'s.

    >>> from drift.history import Revision, RevisionGraph
    >>> g = RevisionGraph.from_revisions([Revision("a", "", None, ()), Revision("b", "add email", None, ("a",)),
    ...                                   Revision("c", "add owner", None, ("b",))])
    >>> relation(g, ["c"], ["a"]).summary
    'prod is two revisions behind dev (b, c).'
    >>> relation(g, ["a"], ["a"]).status, relation(g, ["a"], ["b"]).status
    ('same', 'ahead')
    """
    src, tgt = tuple(sorted(set(source_revision))), tuple(sorted(set(target_revision)))
    if src == tgt:
        where = ", ".join(src) if src else "no revision"
        return RevisionRelation("same", f"{source} and {target} record the same revision ({where}).")
    if graph is None:
        return RevisionRelation("unknown", f"{source} records {_ids(src)} and {target} records {_ids(tgt)}.")
    unknown = [r for r in (*src, *tgt) if r not in graph]
    if unknown:
        return RevisionRelation(
            "unknown",
            f"{source} records {_ids(src)} and {target} records {_ids(tgt)}; the migration scripts do not define "
            f"{', '.join(sorted(set(unknown)))}, so how far apart they are cannot be told.",
        )
    target_lacks = graph.path(tgt, src)
    source_lacks = graph.path(src, tgt)
    if target_lacks and not source_lacks:
        return RevisionRelation(
            "behind", f"{target} is {_revisions(len(target_lacks))} behind {source} ({_list(target_lacks)}).",
            target_lacks=target_lacks,
        )
    if source_lacks and not target_lacks:
        return RevisionRelation(
            "ahead", f"{target} is {_revisions(len(source_lacks))} ahead of {source} ({_list(source_lacks)}).",
            source_lacks=source_lacks,
        )
    return RevisionRelation(
        "diverged",
        f"{source} and {target} are on different branches: {target} lacks {_list(target_lacks)}; "
        f"{source} lacks {_list(source_lacks)}.",
        target_lacks=target_lacks,
        source_lacks=source_lacks,
    )


def _revisions(n: int) -> str:
    word = _NUMBERS[n] if n < len(_NUMBERS) else str(n)
    return f"{word} revision" if n == 1 else f"{word} revisions"


def _list(revisions: Sequence[Revision]) -> str:
    return ", ".join(r.id for r in revisions)


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids) if ids else "no revision"


# --------------------------------------------------------------------------- wording


def what(f: Finding) -> str:
    """``column users.email``, ``table tasks``, ``index ix_tasks_due on tasks``."""
    if f.object_type in ("table", "table_comment") or (f.name is None and f.object_type != "column"):
        noun = "the comment of table" if f.object_type == "table_comment" else "table"
        return f"{noun} {f.qualified_table}"
    if f.object_type == "column":
        return f"column {f.object_label}"
    noun = f.object_type.replace("_", " ") if f.object_type != "other" else "object"
    return f"{noun} {f.name} on {f.qualified_table}"


def _one_side_sentence(f: Finding, differing: str, matching: str) -> str:
    """``prod lacks column users.email, which dev has.``: ``differing`` differs from the models, ``matching`` not."""
    if f.kind.startswith("add_") and f.database is None:
        return f"{differing} lacks {what(f)}, which {matching} has (as the models declare)."
    if f.kind.startswith("remove_") and f.models is None:
        return f"{differing} has {what(f)}, which {matching} does not have (nor do the models)."
    values = _differing_values(f.models, f.database)
    if values:
        theirs = "; ".join(f"{k} {_value(k, db)}" for k, _, db in values)
        ours = "; ".join(f"{k} {_value(k, m)}" for k, m, _ in values)
        return f"{_capital(what(f))} differs: {differing} has {theirs}, {matching} has {ours} (as the models declare)."
    return f"{_capital(what(f))} differs in {differing} from {matching}, which matches the models: {f.message}."


def _both_sentence(s: Finding, t: Finding, source: str, target: str) -> str:
    keys = sorted({k for side in (s.database, t.database) if side for k in side}
                  | {k for k in (s.models or {})})
    diffs = [k for k in keys if _get(s.database, k) != _get(t.database, k)]
    if s.database is None or t.database is None:
        has, lacks = (target, source) if s.database is None else (source, target)
        return f"{_capital(what(t))} differs from the models in both, differently: {lacks} lacks it, {has} has it."
    parts = [
        f"{k}: {source} {_value(k, _get(s.database, k))}, {target} {_value(k, _get(t.database, k))}"
        + (f", models {_value(k, _get(t.models, k))}" if t.models is not None else "")
        for k in diffs
    ]
    detail = "; ".join(parts) if parts else t.message
    return f"{_capital(what(t))} differs between {source} and {target}, and from the models ({detail})."


def _differing_values(
    models: Mapping[str, Any] | None, database: Mapping[str, Any] | None
) -> list[tuple[str, Any, Any]]:
    if models is None or database is None:
        return []
    keys = sorted(set(models) | set(database))
    return [(k, models.get(k), database.get(k)) for k in keys if plain(models.get(k)) != plain(database.get(k))]


def _get(side: Mapping[str, Any] | None, key: str) -> Any:
    return None if side is None else plain(side.get(key))


def _value(key: str, value: Any) -> str:
    if key == "nullable" and isinstance(value, bool):
        return "NULL allowed" if value else "NOT NULL"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(str(v) for v in value) + ")"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _cause(
    f: Finding, differing: str, matching: str, revisions: RevisionRelation, *, differing_is_target: bool
) -> str | None:
    """Why the differing environment differs here, when its own check could tell."""
    behind = revisions.target_lacks if differing_is_target else revisions.source_lacks
    if f.cause == "pending_migration":
        if behind:
            return (f"{differing} is {_revisions(len(behind))} behind {matching} ({_list(behind)}); "
                    f"a migration {differing} has not applied yet makes this change.")
        return f"A migration {differing} has not applied yet makes this change."
    if f.cause == "missing_migration":
        return (f"No migration makes this change, so {matching} got it another way "
                "(create_all, a change by hand, or a migration not committed).")
    if f.cause == "out_of_band":
        return f"{differing} was changed outside the migrations (by hand or by another tool)."
    return None


def _commands(
    revisions: RevisionRelation,
    differences: Sequence[Difference],
    source: Report,
    target: Report,
    prefix: str,
) -> tuple[str, ...]:
    """What to run to bring the target level with the source, in order; comments say why."""
    src_cmd, tgt_cmd = prefix.format(env=source.environment), prefix.format(env=target.environment)
    commands: list[str] = []
    if revisions.status in ("behind", "diverged") and source.revision:
        applies = _list(revisions.target_lacks)
        commands.append(f"# {target.environment} lacks {applies}, which {source.environment} has applied:")
        commands.extend(f"{tgt_cmd} upgrade {rev}" for rev in sorted(source.revision))
    if revisions.status in ("ahead", "diverged") and target.revision:
        commands.append(f"# {source.environment} lacks {_list(revisions.source_lacks)}; "
                        f"bring it level rather than downgrading {target.environment}:")
        commands.extend(f"{src_cmd} upgrade {rev}" for rev in sorted(target.revision))
    explained = {d.id for d in differences if d.relation == "only_target" and d.target is not None
                 and d.target.cause == "pending_migration" and revisions.target_lacks}
    rest_target = [d for d in differences if d.relation in ("only_target", "both") and d.id not in explained]
    rest_source = [d for d in differences if d.relation == "only_source"]
    if rest_target:
        commands.append(f"# {count(len(rest_target), 'difference')} no revision explains: "
                        f"see the suggested migration of {target.environment}")
        commands.append(f"drift check --env {target.environment}")
    if rest_source:
        commands.append(f"# {source.environment} differs from the models where {target.environment} does not:")
        commands.append(f"drift check --env {source.environment}")
    if commands:
        commands.append(f"drift diff --from {source.environment} --to {target.environment}   # confirm")
    return tuple(commands)
