"""One cause per finding, from three layers between the live database and the models.

Between a live database and the models stand two schemas that the project's
own migrations build: the one the database's *recorded revision* implies and
the one at *head*. drift builds both in a scratch database
(:mod:`drift.scratch`) and compares each with the models, exactly as the live
database was compared. Each live finding then gets one cause by set
arithmetic over the three comparisons (a finding "is in" a layer when a
finding with the same id and the same database side is there):

* not in the recorded revision's layer → ``out_of_band``: the database
  differs from what its own migrations made, so it was changed by hand;
* in it, and gone at a pending revision → ``pending_migration``, naming the
  revision that makes the change;
* in it and still at head → ``missing_migration``: no migration makes the
  models' change yet.

The live database is not read again: attribution works on the findings the
check already has, and only scratch databases are ever written. A history
that does not start from an empty database gets a baseline
(``scratch_baseline`` / ``scratch_baseline_sql``, see
:func:`drift.scratch.resolve_baseline`) built into each scratch database
before its migrations run.

>>> attributor = Attributor(project, metadata, graph)                        # doctest: +SKIP
>>> result = attributor.attribute(environment, report_findings, state,
...                               command_prefix="alembic -x env=prod")      # doctest: +SKIP
>>> [(f.object_label, f.cause) for f in result.findings]                     # doctest: +SKIP
[('tasks.due_date', 'pending_migration'), ('users.email', 'missing_migration'),
 ('users.nickname', 'out_of_band')]
"""

from __future__ import annotations

import io
import json
import logging
import threading
import tokenize
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError

from . import secrets
from .compare import compare
from .config import Config, Environment
from .errors import ConfigError, first_line
from .findings import Finding, findings_by_cause, plain
from .history import MigrationState, Revision, RevisionGraph
from .layercache import LayerCache, SharedLayersOnDisk
from .loading import AlembicProject
from .scratch import (
    Baseline,
    BaselineConfigError,
    MigrationFailedError,
    ScratchError,
    ScratchTarget,
    ScratchUnavailableError,
    SqlScript,
    apply_baseline,
    resolve_baseline,
    scratch_database,
    scratch_target,
    upgrade,
)
from .suggest import migration_message

log = logging.getLogger(__name__)

#: Up to this many pending revisions are built one by one, so a pending
#: finding names the exact revision; beyond it only the recorded revision and
#: head are built, and the finding lists every pending revision.
STEP_LIMIT = 10

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

Key = tuple[str, str]
#: A built schema: (dialect family, baseline key or "", revisions).
CacheKey = tuple[str, str, tuple[str, ...]]


def finding_key(finding: Finding) -> Key:
    """What makes two findings "the same": the object and kind (the id) and the database side's value."""
    return finding.id, json.dumps(plain(finding.database), sort_keys=True, default=str)


@dataclass(frozen=True)
class Layer:
    """How the schema at ``revisions`` (the heads a version table would record) differs from the models."""

    family: str
    revisions: tuple[str, ...]
    findings: tuple[Finding, ...]

    @cached_property
    def keys(self) -> frozenset[Key]:
        return frozenset(finding_key(f) for f in self.findings)

    @cached_property
    def by_id(self) -> Mapping[str, Finding]:
        return MappingProxyType({f.id: f for f in self.findings})


@dataclass(frozen=True)
class Step:
    """One stop while building: upgrade to ``targets``, then compare. ``applies`` are the revisions it adds."""

    revisions: tuple[str, ...]
    targets: tuple[str, ...]
    applies: tuple[Revision, ...] = ()


@dataclass(frozen=True)
class Attribution:
    """The findings with their causes, and notes for the report."""

    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Built:
    """The layers built for one check: the recorded revision's first, then one per step."""

    steps: tuple[Step, ...]
    layers: tuple[Layer, ...]
    complete: bool  # the last layer is head
    reason: str | None = None  # why it is not complete


class SharedLayers:
    """Scratch layers shared by the checks of one run: each schema is built once, however many environments need it.

    A layer is known by its scratch server, how the migrations run (``env.py``
    or directly), the dialect family, the baseline and the revisions. A check
    that needs layers another check is building waits for it, then takes them.
    """

    def __init__(self) -> None:
        self._layers: dict[tuple[Any, ...], Layer] = {}
        self._guard = threading.Lock()
        self._building: dict[tuple[Any, ...], threading.Lock] = {}

    def get(self, key: tuple[Any, ...]) -> Layer | None:
        with self._guard:
            return self._layers.get(key)

    def put(self, key: tuple[Any, ...], layer: Layer) -> None:
        with self._guard:
            self._layers[key] = layer

    def building(self, partition: tuple[Any, ...]) -> threading.Lock:
        """The lock held while layers of ``partition`` (server, way, family, baseline) are built."""
        with self._guard:
            return self._building.setdefault(partition, threading.Lock())


#: Where the checks of one run share layers: in memory (threads) or in the run's folder (processes).
SharedStore = SharedLayers | SharedLayersOnDisk


class Attributor:
    """Decides each finding's cause; builds scratch schemas and caches them per (dialect, baseline, revisions).

    One attributor can serve several checks in a run: a schema built once for
    a dialect, baseline and revision is reused. ``baseline`` is built into
    every scratch database before the migrations run (see
    :class:`~drift.scratch.Baseline`).
    """

    def __init__(
        self,
        project: AlembicProject,
        metadata: MetaData,
        graph: RevisionGraph,
        *,
        use_env_py: bool = False,
        step_limit: int = STEP_LIMIT,
        baseline: Baseline | None = None,
        shared: SharedStore | None = None,
        disk: LayerCache | None = None,
    ) -> None:
        self.project = project
        self.metadata = metadata
        self.graph = graph
        self.use_env_py = use_env_py
        self.step_limit = step_limit
        self.baseline = baseline
        self.cache: dict[CacheKey, Layer] = {}
        self.shared = shared
        self.disk = disk

    @classmethod
    def for_config(
        cls, config: Config, environment: Environment, project: AlembicProject, metadata: MetaData,
        graph: RevisionGraph, *, shared: SharedStore | None = None,
    ) -> "Attributor":
        """An attributor set up from config.ini; refuses an unsafe ``scratch_url`` before anything connects.

        The baseline is resolved here too, so a malformed ``scratch_baseline*``
        setting, a Base that does not import, a missing dump or one that
        would leave the scratch database stops the check before it starts.
        """
        with_env_py = environment.settings.get("scratch_use_env_py") or config.settings.get("scratch_use_env_py")
        try:
            scratch_target(environment)
        except ScratchUnavailableError:
            pass  # reported, gracefully, when attributing
        baseline = resolve_baseline(environment, config.settings, config.root)
        if baseline is not None and baseline.revision:
            baseline = replace(baseline, revision=_revision_named(graph, baseline))
        use_env_py = _flag(with_env_py, "scratch_use_env_py")
        folder = _cache_folder(config)
        disk = None if folder is None else LayerCache(
            folder, project, metadata, [config.models, *config.model_modules], use_env_py=use_env_py, baseline=baseline,
        )
        return cls(project, metadata, graph, use_env_py=use_env_py, baseline=baseline, shared=shared, disk=disk)

    def attribute(
        self,
        environment: Environment,
        findings: Sequence[Finding],
        state: MigrationState,
        *,
        command_prefix: str = "alembic",
    ) -> Attribution:
        """Give every finding a cause; findings whose cause cannot be told keep ``unknown`` with the reason.

        Raises :class:`~drift.scratch.ScratchRefusedError` for a ``scratch_url``
        naming the checked database and lets ``KeyboardInterrupt`` through
        (after removing the scratch database); every other failure is reported
        in the notes and the causes it prevents stay ``unknown``.
        """
        findings = tuple(findings)
        reason = _unbuildable(state)
        if reason is not None:
            return _unattributed(findings, reason)
        try:
            target = scratch_target(environment)  # a ScratchRefusedError is no "cannot tell": it propagates
        except ScratchUnavailableError as exc:
            return _unattributed(findings, exc.message)
        # Read before a scratch database exists; an unsafe dump is refused like an unsafe scratch_url.
        script = self.baseline.script(target.family) if self.baseline is not None else None
        reason = self._before_baseline(state)
        if reason is not None:
            return _unattributed(findings, reason)

        try:
            built = self._build(target, self._plan(state), script, environment.name)
        except ScratchUnavailableError as exc:
            return _unattributed(findings, exc.message)
        if not built.layers:
            return _unattributed(findings, built.reason or "no scratch schema could be built")
        return decide(findings, built, state, command_prefix)

    # ----------------------------------------------------------------------- building

    def _plan(self, state: MigrationState) -> tuple[tuple[Step, ...], bool, str | None]:
        """The steps to build (recorded revision, then towards head), whether they reach head, and why not."""
        current = tuple(sorted(state.current))
        steps = [Step(current, current)]
        if state.status == "multiple_heads":
            return tuple(steps), False, (
                f"the migration scripts have {len(state.heads)} heads ({', '.join(state.heads)}), "
                "so there is no one schema at head: merge them to tell missing from pending migrations"
            )
        pending = state.pending
        if not pending:
            return tuple(steps), True, None
        if len(pending) > self.step_limit:
            heads = tuple(sorted(state.heads))
            steps.append(Step(heads, heads, tuple(pending)))
            return tuple(steps), True, None
        applied: set[str] = set()
        for rev_id in current:
            applied |= self.graph.ancestors(rev_id)
        for rev in pending:
            applied.add(rev.id)
            steps.append(Step(_heads_of(self.graph, applied), (rev.id,), (rev,)))
        return tuple(steps), True, None

    def _before_baseline(self, state: MigrationState) -> str | None:
        """Why the baseline cannot stand for the recorded revision's schema (it comes after it), or ``None``."""
        baseline = self.baseline
        if baseline is None or not baseline.revision:
            return None
        applied: set[str] = set()
        for rev_id in state.current:
            applied |= self.graph.ancestors(rev_id)
        if baseline.revision in applied:
            return None
        at = f"records {', '.join(state.current)}" if state.current else "has an empty version table"
        return (
            f"the database {at}, which is not at or after the baseline's revision ({baseline.described}), "
            "so the schema it implies cannot be built from the baseline"
        )

    def _build(
        self,
        target: ScratchTarget,
        plan: tuple[tuple[Step, ...], bool, str | None],
        script: SqlScript | None = None,
        section: str = "drift",
    ) -> Built:
        steps, complete, reason = plan
        family = target.family
        base = self.baseline.key(script) if self.baseline is not None else ""
        if self.shared is None:
            return self._build_steps(target, steps, complete, reason, family, base, script, section)
        partition = (target.identity, self.use_env_py, family, base)
        with self.shared.building(partition):
            for step in steps:
                layer = self.shared.get((*partition, step.revisions))
                if layer is not None:
                    self.cache[(family, base, step.revisions)] = layer
            built = self._build_steps(target, steps, complete, reason, family, base, script, section)
            for layer in built.layers:
                self.shared.put((*partition, layer.revisions), layer)
            return built

    def _build_steps(
        self, target: ScratchTarget, steps: tuple[Step, ...], complete: bool, reason: str | None,
        family: str, base: str, script: SqlScript | None, section: str,
    ) -> Built:
        to_store = self._from_disk(target, base, steps)
        if all((family, base, step.revisions) in self.cache for step in steps):
            return Built(steps, tuple(self.cache[(family, base, s.revisions)] for s in steps), complete, reason)

        layers: list[Layer] = []
        with scratch_database(target) as scratch:
            if self.baseline is not None:
                try:
                    apply_baseline(scratch, self.project, self.baseline, script)
                except ScratchError as exc:
                    log.warning("%s", exc.message)
                    return Built((), (), False, exc.message)
            try:
                conn = scratch.engine.connect()
            except DBAPIError as exc:
                raise ScratchUnavailableError(
                    f"cannot connect to the scratch database on {target.masked_server}: "
                    f"{secrets.mask(first_line(exc.orig))}"
                ) from None
            with conn:
                for step in steps:
                    try:
                        for rev_id in step.targets:
                            upgrade(conn, self.project, rev_id, metadata=self.metadata, use_env_py=self.use_env_py)
                        layers.append(self._layer(conn, family, base, step, to_store))
                    except ScratchError as exc:
                        message = exc.message + self._replay_hint(exc, section)
                        log.warning("%s", message)
                        return Built(steps[: len(layers)], tuple(layers), False, message)
                    except DBAPIError as exc:
                        message = f"comparing the scratch database failed: {secrets.mask(first_line(exc.orig))}"
                        return Built(steps[: len(layers)], tuple(layers), False, message)
        return Built(steps, tuple(layers), complete, reason)

    def _replay_hint(self, exc: ScratchError, section: str) -> str:
        """What to try when a migration fails: a baseline when there is none, checking it when there is."""
        if not isinstance(exc, MigrationFailedError):
            return ""
        rev = self.graph.revisions.get(exc.revision) if exc.revision else None
        baseline = self.baseline
        if baseline is not None:
            first = rev is not None and (
                rev.down_revisions == (baseline.revision,) if baseline.revision else rev.is_base
            )
            return f"; check that the baseline ({baseline.described}) is the schema it starts from" if first else ""
        settings = (
            "set scratch_baseline = package.module:Base (the models the migrations start from) or "
            "scratch_baseline_sql = a schema dump, with scratch_baseline_revision if the baseline already "
            f"includes revisions, in [{section}] or [drift]"
        )
        if rev is not None and rev.is_base:
            return (
                "; the first migration fails on an empty database, so the migrations probably start from tables "
                f"made another way and a baseline is needed: {settings}"
            )
        return f"; if the tables it changes were made before the migrations, a baseline is needed: {settings}"

    def _from_disk(self, target: ScratchTarget, base: str, steps: tuple[Step, ...]) -> dict[tuple[str, ...], str]:
        """Take from ``scratch_cache`` the layers of steps not in memory; the disk key of each step still to build.

        Nothing is hashed when every layer is in memory already (built, or shared by another check of the run).
        """
        missing = [step for step in steps if (target.family, base, step.revisions) not in self.cache]
        if self.disk is None or not missing:
            return {}
        to_build: dict[tuple[str, ...], str] = {}
        for step in missing:
            key = self.disk.key(target, base, step.revisions)
            if key is None:
                return {}
            layer = self.disk.get(key, target.family, step.revisions)
            if layer is None:
                to_build[step.revisions] = key
            else:
                self.cache[(target.family, base, step.revisions)] = layer
        return to_build

    def _layer(self, conn: Any, family: str, base: str, step: Step, to_store: Mapping[tuple[str, ...], str]) -> Layer:
        cached = self.cache.get((family, base, step.revisions))
        if cached is not None:
            return cached
        comparison = compare(
            conn, self.metadata,
            version_table=self.project.version_table, version_table_schema=self.project.version_table_schema,
        )
        if conn.in_transaction():
            conn.rollback()
        layer = Layer(family, step.revisions, comparison.findings)
        self.cache[(family, base, step.revisions)] = layer
        if self.disk is not None and step.revisions in to_store:
            self.disk.put(to_store[step.revisions], layer)
        log.debug("scratch schema at %s: %d differences", ", ".join(step.revisions) or "base", len(layer.findings))
        return layer


# --------------------------------------------------------------------------- deciding


def decide(findings: Sequence[Finding], built: Built, state: MigrationState, prefix: str) -> Attribution:
    """The cause of each live finding, from the layers built for it; pure, so it is tested with hand-made layers.

    ``built.layers[0]`` is the schema at the recorded revision; each later
    layer follows one step towards head. ``prefix`` starts every command
    (``alembic -x env=prod``).
    """
    findings = tuple(findings)
    recorded, later = built.layers[0], list(zip(built.steps[1:], built.layers[1:]))
    head = built.layers[-1] if built.complete else None
    missing = [f for f in findings if finding_key(f) in recorded.keys
               and all(finding_key(f) in layer.keys for _, layer in later) and built.complete]
    message = migration_message(missing)

    out: list[Finding] = []
    for f in findings:
        key = finding_key(f)
        if key not in recorded.keys:
            out.append(f.replace(cause="out_of_band", cause_detail=_out_of_band(f, recorded, state, prefix)))
            continue
        step = next((s for s, layer in later if key not in layer.keys), None)
        if step is not None:
            out.append(f.replace(cause="pending_migration", cause_detail=_pending(f, step, head, state, prefix)))
        elif head is not None:
            out.append(f.replace(cause="missing_migration", cause_detail=_missing(head, state, prefix, message)))
        else:
            out.append(f.replace(cause="unknown", cause_detail=f"Cause not known: {built.reason}."))

    notes = _notes(findings, built, state)
    if built.reason and any(f.cause == "unknown" for f in out):
        notes.insert(0, f"Some causes are unknown: {built.reason}.")
    return Attribution(tuple(out), tuple(notes))


def _missing(head: Layer, state: MigrationState, prefix: str, message: str) -> str:
    at = ", ".join(head.revisions) or "base"
    command = f'{prefix} revision --autogenerate -m "{_quote(message)}"'
    when = f" once the database is at head (`{prefix} upgrade head`)" if state.pending else ""
    return f"The schema at head ({at}) differs from the models here too. Write a migration: `{command}`{when}."


def _pending(f: Finding, step: Step, head: Layer | None, state: MigrationState, prefix: str) -> str:
    at = ", ".join(state.current) or "an empty version table"
    if len(step.applies) == 1:
        rev = step.applies[0]
        what = f"Pending revision {_label(rev)} makes this change"
    else:
        listed = ", ".join(_label(r) for r in step.applies[:5])
        more = f" and {len(step.applies) - 5} more" if len(step.applies) > 5 else ""
        what = f"One of the {len(step.applies)} pending revisions ({listed}{more}) makes this change"
    detail = f"{what}; the database is at {at}. Apply it: `{prefix} upgrade head`."
    if head is not None and f.id in head.by_id:
        detail += f" The models still differ after it: {head.by_id[f.id].message}."
    return detail


def _out_of_band(f: Finding, recorded: Layer, state: MigrationState, prefix: str) -> str:
    at = ", ".join(state.current) or "base"
    there = recorded.by_id.get(f.id)
    implied = (
        f"The schema at its recorded revision ({at}) differs here in another way ({there.message})"
        if there is not None
        else f"The schema at its recorded revision ({at}) matches the models here"
    )
    revert = _one_line(f.upgrade_code)
    revert_text = f"Revert it: `{revert}`. " if revert else "Revert it with this finding's upgrade code. "
    return (
        f"{implied}, so the database was changed after it was migrated. "
        f"{revert_text}Or adopt it: {_adoption(f)}, write a migration that makes the same change "
        "(autogenerate it against a database that lacks the change), and mark it applied on this database, "
        f"which already has it: `{prefix} stamp <that revision>` once the revisions before it are applied."
    )


def _notes(findings: tuple[Finding, ...], built: Built, state: MigrationState) -> list[str]:
    """Differences the live database does not show but its migrations do: hand-made changes the check hides."""
    live_ids = {f.id for f in findings}
    recorded, later = built.layers[0], list(zip(built.steps[1:], built.layers[1:]))
    at = ", ".join(state.current) or "base"
    notes: list[tuple[tuple[Any, ...], str]] = []
    for r in recorded.findings:
        if r.id in live_ids:
            continue
        key = finding_key(r)
        step = next((s for s, layer in later if key not in layer.keys), None)
        if step is not None:
            revs = ", ".join(rev.id for rev in step.applies)
            notes.append((r.sort_key(), (
                f"{r.object_label}: the database already matches the models here, although pending "
                f"{'revision' if len(step.applies) == 1 else 'revisions'} {revs} still {'makes' if len(step.applies) == 1 else 'make'} "
                f"this change (at {at}: {r.message}); someone made it by hand, so `upgrade head` may fail on it."
            )))
        elif built.complete:
            notes.append((r.sort_key(), _no_migration_note(r, at)))
    if built.complete and later:
        recorded_ids = recorded.by_id
        for h in built.layers[-1].findings:
            if h.id in live_ids or h.id in recorded_ids:
                continue
            step = next((s for s, layer in later if finding_key(h) in layer.keys), later[-1][0])
            revs = ", ".join(rev.id for rev in step.applies)
            notes.append((h.sort_key(), (
                f"{h.object_label}: pending {revs} will make the database differ from the models here "
                f"(after upgrading: {h.message})."
            )))
    return [text for _, text in sorted(notes)]


def _no_migration_note(r: Finding, at: str) -> str:
    if r.kind == "add_column":
        return f"{r.object_label} exists in the database and the models but no migration creates it."
    if r.kind == "add_table":
        return f"Table {r.qualified_table} exists in the database and the models but no migration creates it."
    if r.kind in ("remove_column", "remove_table"):
        return f"{r.object_label} is gone from the database and the models but no migration drops it."
    return (
        f"{r.object_label}: the database matches the models here but no migration makes that change "
        f"(at {at} and at head: {r.message})."
    )


# --------------------------------------------------------------------------- adoption wording

Adopter = Callable[[Finding], str]
ADOPTERS: dict[str, Adopter] = {}

_OBJECT_WORDS = {
    "column": "column",
    "table": "table",
    "index": "index",
    "unique_constraint": "unique constraint",
    "check_constraint": "check constraint",
    "foreign_key": "foreign key",
    "primary_key": "primary key",
    "constraint": "constraint",
    "table_comment": "table comment",
}

_ATTRIBUTES = {
    "modify_type": ("type", "type"),
    "modify_nullable": ("nullable", "nullability"),
    "modify_default": ("default", "server default"),
    "modify_comment": ("comment", "comment"),
    "add_table_comment": ("comment", "table comment"),
    "remove_table_comment": ("comment", "table comment"),
}


def adopter(*kinds: str) -> Callable[[Adopter], Adopter]:
    """Register how to describe adopting a hand-made change of these kinds into the models."""

    def register(fn: Adopter) -> Adopter:
        for kind in kinds:
            ADOPTERS[kind] = fn
        return fn

    return register


def _what(f: Finding) -> str:
    word = _OBJECT_WORDS.get(f.object_type, f.object_type)
    if f.object_type == "column":
        return f"column {f.object_label}"
    if f.object_type == "table":
        return f"table {f.qualified_table}"
    return f"{word} {f.name or ''} on {f.qualified_table}".replace("  ", " ")


@adopter("remove_table", "remove_column", "remove_index", "remove_constraint", "remove_fk")
def _adopt_extra(f: Finding) -> str:
    if f.object_type == "column" and f.database:
        null = "" if f.database.get("nullable", True) else ", NOT NULL"
        return f"add {_what(f)} ({f.database.get('type')}{null}) to the models"
    if f.object_type == "table":
        return f"add a model for {_what(f)}"
    return f"add {_what(f)} to the models"


@adopter("add_table", "add_column", "add_index", "add_constraint", "add_fk")
def _adopt_missing(f: Finding) -> str:
    if f.object_type == "table":
        return f"remove the model of {_what(f)}"
    return f"remove {_what(f)} from the models"


@adopter(*_ATTRIBUTES)
def _adopt_modified(f: Finding) -> str:
    key, word = _ATTRIBUTES[f.kind]
    value = (f.database or {}).get(key)
    if f.kind == "modify_nullable":
        shown = "nullable" if value else "NOT NULL"
        return f"make {f.object_label} {shown} in the models"
    shown = "none" if value is None else str(value)
    return f"give {f.object_label} the database's {word} ({shown}) in the models"


def _adoption(f: Finding) -> str:
    fn = ADOPTERS.get(f.kind)
    if fn is None:
        return f"change the models to match the database ({f.message})"
    return fn(f)


# --------------------------------------------------------------------------- helpers


def _unbuildable(state: MigrationState) -> str | None:
    """Why no scratch schema can stand for this database's recorded revision, or ``None``."""
    if state.status == "empty_history":
        return "the migration scripts define no revisions, so there is no schema to compare the database with"
    if state.status == "unversioned":
        return "the database has no version table, so drift cannot tell which revision its schema should match"
    if state.status == "unknown_revision":
        return (
            f"the database records {', '.join(state.unknown)}, which the migration scripts do not define, "
            "so drift cannot build the schema it implies"
        )
    return None


def _unattributed(findings: tuple[Finding, ...], reason: str) -> Attribution:
    reason = secrets.mask(reason)
    if not findings:  # nothing whose cause is missing: the migration state already tells the rest
        log.info("causes not attributed: %s", reason)
        return Attribution(findings)
    return Attribution(
        tuple(f.replace(cause="unknown", cause_detail=f"Cause not known: {reason}.") for f in findings),
        (f"Causes not attributed: {reason}.",),
    )


def _revision_named(graph: RevisionGraph, baseline: Baseline) -> str:
    """The full id of ``scratch_baseline_revision`` (a unique prefix is enough, as with alembic)."""
    given = baseline.revision or ""
    if given in graph.revisions:
        return given
    matches = [rev_id for rev_id in graph.revisions if rev_id.startswith(given)]
    if len(matches) == 1:
        return matches[0]
    what = f"matches {len(matches)} revisions" if matches else "is not a revision the migration scripts define"
    raise BaselineConfigError(
        f"[{baseline.section}] scratch_baseline_revision = {given} {what}; name the revision the baseline stands for"
    )


def _heads_of(graph: RevisionGraph, applied: set[str]) -> tuple[str, ...]:
    needed = set()
    for rev_id in applied:
        rev = graph.revisions[rev_id]
        needed.update(rev.down_revisions)
        needed.update(rev.depends_on)
    return tuple(sorted(applied - needed))


def _label(rev: Revision) -> str:
    return f'{rev.id} ("{rev.message}")' if rev.message else rev.id


def _cache_folder(config: Config) -> Path | None:
    """``[drift] scratch_cache``, relative to config.ini's folder; ``None`` when it is not set."""
    value = (config.settings.get("scratch_cache") or "").strip()
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_absolute():
        folder = config.root / folder
    try:
        occupied = folder.exists() and not folder.is_dir()
    except OSError:  # a parent that cannot be searched: writing will fail and say so, once
        return folder
    if occupied:
        raise ConfigError(
            f"[drift] scratch_cache = {value} is a file, not a folder; "
            "name a folder for drift to keep built scratch schemas in, or remove the setting"
        )
    return folder


def _flag(value: str | None, key: str) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{key} = {value!r} is not true or false")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")


def _one_line(code: str) -> str:
    """Rendered ``op.`` code on one line: statements joined with ``; ``, a block's body after its colon.

    >>> _one_line("with op.batch_alter_table('users', schema=None) as batch_op:\\n    batch_op.drop_column('x')")
    "with op.batch_alter_table('users', schema=None) as batch_op: batch_op.drop_column('x')"
    """
    if not code.strip():
        return ""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code.strip() + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return " ".join(code.split())
    lines = code.strip().splitlines()
    statements: list[str] = []
    start = None
    for tok in tokens:
        if tok.type in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        if start is None:
            start = tok.start
        if tok.type == tokenize.NEWLINE:
            (row0, col0), (row1, col1) = start, tok.start
            part = [lines[row0 - 1][col0:]] + lines[row0:row1 - 1] if row1 > row0 else [lines[row0 - 1][col0:col1]]
            if row1 > row0:
                part.append(lines[row1 - 1][:col1])
            statements.append(" ".join(p.strip() for p in part if p.strip()))
            start = None
    out = ""
    for stmt in statements:
        if not out:
            out = stmt
        elif out.endswith(":"):
            out = f"{out} {stmt}"
        else:
            out = f"{out}; {stmt}"
    return out


__all__ = [
    "ADOPTERS",
    "Attribution",
    "Attributor",
    "Built",
    "Layer",
    "Step",
    "STEP_LIMIT",
    "adopter",
    "decide",
    "finding_key",
    "findings_by_cause",
]

