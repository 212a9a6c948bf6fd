"""Ignore rules and accepted drift: which findings a check reports, and which it counts aside.

Two ways to keep a known difference from failing every check, both visible
in the report (counted and listed, never silently dropped):

* **Ignore rules** in config.ini: a pattern over tables, objects and kinds,
  with its reason, in ``[drift:ignore]`` (every environment) or
  ``[drift:ignore:<env>]`` (one environment)::

      [drift:ignore]
      audit_* = tables written by the audit trigger, not by the models
      users.legacy_* = columns kept for the old importer until Q3
      modify_comment * = comments are managed by the DBA

* **Accepted drift**: one finding, by its stable id, accepted in one
  environment (or all) with a reason, an owner and an expiry date, kept in
  ``drift-accepted.json`` beside config.ini and written by ``drift accept``.

:func:`apply_policy` is pure: findings in, a :class:`PolicyResult` out (what
is still reported, what was ignored and by which rule, what was accepted and
by which entry, which acceptances have expired and which match nothing any
more). :func:`accept` adds or renews entries for findings of a check::

    >>> policy = Policy.load(config)                                          # doctest: +SKIP
    >>> result = policy.apply(findings, "prod", today=date(2025, 6, 1))       # doctest: +SKIP
    >>> result.kept, result.summary                                           # doctest: +SKIP
    ((...), '3 ignored by rules, 1 accepted')
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .errors import ConfigError, ReportWriteError
from .findings import KINDS, Finding, Report, SuggestedMigration, count

if TYPE_CHECKING:
    from .config import Config

log = logging.getLogger(__name__)

#: Rules for every environment; ``[drift:ignore:<env>]`` holds one environment's own.
IGNORE_SECTION = "drift:ignore"
#: The ``environment`` of an acceptance that holds in every environment.
EVERY_ENVIRONMENT = "*"
DEFAULT_ACCEPTED_FILE = "drift-accepted.json"
#: Bumped when a field of the accepted-drift file changes meaning or disappears.
ACCEPTED_SCHEMA_VERSION = 1
#: What ``drift accept`` offers when no expiry is given: long enough for a quarter's plan, short
#: enough that nobody forgets the acceptance exists.
DEFAULT_ACCEPT_DAYS = 90

# fnmatch takes an unclosed '[' literally, so "users.[ab" would quietly match nothing anyone meant.
_BRACKETS_CLOSED = re.compile(r"(?:[^\[]|\[!?\]?[^\]]*\])*")
_KIND_WORD = re.compile(r"[A-Za-z0-9_*?\[\]!-]+")
# The fields of an entry, in the order they are written: the id first, the human part next.
_ENTRY_FIELDS = ("id", "environment", "kind", "schema", "table", "name", "reason", "owner", "accepted_on", "expires")
_REQUIRED_TEXT = ("id", "environment", "reason", "owner")


class UnknownFindingError(ConfigError):
    """``drift accept --id`` named a finding the check did not report."""


# --------------------------------------------------------------------------- ignore rules


@dataclass(frozen=True)
class IgnoreRule:
    """One line of ``[drift:ignore]``: a pattern, optionally limited to kinds, and why.

    ``target`` is the object pattern split at dots; it is compared segment by
    segment (``*`` never crosses a dot), case-sensitively:

    * one segment, ``audit_*``: a table, in any schema (everything about it);
    * two, ``users.legacy_*``: an object of a table (column, index,
      constraint) or a table in a schema, ``app.audit_*``;
    * three, ``app.users.legacy_*``: an object of a table in a schema.

    ``kind`` (the first of two words, ``remove_index users.*``) is an fnmatch
    pattern over :attr:`Finding.kind`.

    >>> rule = IgnoreRule.parse("users.legacy_*", "kept for the old importer")
    >>> rule.matches(Finding(kind="remove_column", table="users", name="legacy_code", message=""))
    True
    """

    pattern: str
    reason: str
    environment: str | None = None
    kind: str | None = None
    target: tuple[str, ...] = ("*",)

    @classmethod
    def parse(cls, key: str, reason: str, *, environment: str | None = None) -> "IgnoreRule":
        """A rule from a config.ini line ``key = reason``; :class:`ConfigError` naming it when it is wrong."""
        section = _section_name(environment)
        words = key.split()
        reason = " ".join(reason.split())
        if key.strip() == "kind" and "=" in reason:
            # configparser ends a key at the first ':' or '=', so "kind:modify_comment = why" arrives split.
            written, why = (part.strip() for part in reason.split("=", 1))
            raise ConfigError(
                f"[{section}] kind:{written} cannot be a key (':' ends a key in config.ini); write the kind, "
                f"a space and the object instead: {written if ' ' in written else written + ' *'} = {why or 'why'}"
            )
        if not words:
            raise ConfigError(f"[{section}] has a rule without a pattern; write 'pattern = reason'")
        if len(words) > 2:
            raise ConfigError(
                f"[{section}] {key.strip()!r} is not a rule: write a pattern (users.legacy_*) or a kind and "
                f"a pattern (remove_index users.*), then '= reason'"
            )
        if not reason:
            raise ConfigError(
                f"[{section}] {key.strip()!r} has no reason; write why it is ignored after '=' "
                f"({key.strip()} = tables written by the audit trigger)"
            )
        kind = words[0] if len(words) == 2 else None
        target_text = words[-1]
        if kind is not None:
            if not _KIND_WORD.fullmatch(kind) or not _BRACKETS_CLOSED.fullmatch(kind):
                raise ConfigError(
                    f"[{section}] {key.strip()!r}: {kind!r} is not a kind pattern; the first of two words is the "
                    f"kind of difference (remove_index, modify_*), the second the object (users.*)"
                )
            if not any(fnmatchcase(k, kind) for k in known_kinds()):
                # A warning, not an error: a comparator plugin may report kinds drift does not list.
                log.warning("[%s] %s: %r matches none of the kinds drift reports (%s)",
                            section, key.strip(), kind, ", ".join(sorted(known_kinds())))
        target = tuple(target_text.split("."))
        if len(target) > 3 or not all(target):
            raise ConfigError(
                f"[{section}] {target_text!r} is not a pattern: write table, table.object or schema.table.object "
                f"(audit_*, users.legacy_*, app.users.legacy_*)"
            )
        if not all(_BRACKETS_CLOSED.fullmatch(part) for part in target):
            raise ConfigError(f"[{section}] {target_text!r} has a '[' without its ']'; close it or remove it")
        return cls(pattern=" ".join(words), reason=reason, environment=environment, kind=kind, target=target)

    @property
    def section(self) -> str:
        return _section_name(self.environment)

    def applies_to(self, environment: str) -> bool:
        return self.environment is None or self.environment == environment

    def matches(self, finding: Finding) -> bool:
        if self.kind is not None and not fnmatchcase(finding.kind, self.kind):
            return False
        return any(
            len(path) == len(self.target) and all(fnmatchcase(p, t) for p, t in zip(path, self.target))
            for path in _paths(finding)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "reason": self.reason,
            "environment": self.environment,
            "section": self.section,
        }


def _paths(finding: Finding) -> list[tuple[str, ...]]:
    # What a pattern of one, two or three segments is compared with. The table alone comes
    # first: a rule on a table covers everything about it, its columns and indexes too.
    paths: list[tuple[str, ...]] = [(finding.table,)]
    if finding.schema:
        paths.append((finding.schema, finding.table))
    if finding.name:
        paths.append((finding.table, finding.name))
        if finding.schema:
            paths.append((finding.schema, finding.table, finding.name))
    return paths


def _section_name(environment: str | None) -> str:
    return IGNORE_SECTION if environment is None else f"{IGNORE_SECTION}:{environment}"


def known_kinds() -> frozenset[str]:
    """Every kind drift reports: alembic's vocabulary and drift's own comparators' (:data:`KINDS`)."""
    return frozenset(KINDS)


def parse_rules(
    sections: Mapping[str, Mapping[str, str]], environments: Iterable[str] | None = None
) -> tuple[IgnoreRule, ...]:
    """The rules of ``[drift:ignore]`` and every ``[drift:ignore:<env>]`` in ``sections``, in file order.

    ``sections`` maps section names to their lines (``Config.drift_sections``);
    other ``drift:…`` sections are left alone. With ``environments``, a
    section naming an environment that is not among them is an error (a typo
    would otherwise ignore nothing, silently).
    """
    known = None if environments is None else set(environments)
    rules: list[IgnoreRule] = []
    for name, lines in sections.items():
        if name == IGNORE_SECTION:
            environment = None
        elif name.startswith(IGNORE_SECTION + ":"):
            environment = name[len(IGNORE_SECTION) + 1:]
            if known is not None and environment not in known:
                listed = ", ".join(sorted(known)) or "none"
                raise ConfigError(f"[{name}] names no environment in config.ini; known environments: {listed}")
        elif name.startswith(IGNORE_SECTION):
            raise ConfigError(
                f"[{name}] is not a section drift reads; write [{IGNORE_SECTION}] for every environment "
                f"or [{IGNORE_SECTION}:NAME] for one"
            )
        else:
            continue
        rules += [IgnoreRule.parse(key, reason, environment=environment) for key, reason in lines.items()]
    return tuple(rules)


# --------------------------------------------------------------------------- accepted drift


@dataclass(frozen=True)
class Acceptance:
    """One entry of the accepted-drift file: finding ``id`` is accepted in ``environment`` until ``expires``.

    The id decides what is accepted; ``kind``, ``schema``, ``table`` and
    ``name`` are written for the people reading the file. The acceptance
    holds up to and including ``expires``; from the next day the finding is
    reported again. ``extra`` keeps keys drift does not know (a ticket
    number added by hand) so rewriting the file does not lose them.
    """

    id: str
    environment: str
    reason: str
    owner: str
    accepted_on: date
    expires: date
    kind: str = ""
    schema: str | None = None
    table: str = ""
    name: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def for_finding(
        cls, finding: Finding, *, environment: str, reason: str, owner: str, accepted_on: date, expires: date
    ) -> "Acceptance":
        return cls(
            id=finding.id, environment=environment, reason=reason, owner=owner, accepted_on=accepted_on,
            expires=expires, kind=finding.kind, schema=finding.schema, table=finding.table, name=finding.name,
        )

    @property
    def label(self) -> str:
        """``modify_type users.email``: what a person recognises, beside the id."""
        where = ".".join(p for p in (self.schema, self.table, self.name) if p)
        return " ".join(p for p in (self.kind, where) if p) or self.id

    @property
    def scope(self) -> str:
        return "every environment" if self.environment == EVERY_ENVIRONMENT else self.environment

    def applies_to(self, environment: str) -> bool:
        return self.environment in (EVERY_ENVIRONMENT, environment)

    def expired(self, today: date) -> bool:
        return today > self.expires

    def sort_key(self) -> tuple[str, str, str, str, str, str]:
        return (self.environment, self.schema or "", self.table, self.kind, self.name or "", self.id)

    def to_dict(self) -> dict[str, Any]:
        known = {
            "id": self.id,
            "environment": self.environment,
            "kind": self.kind,
            "schema": self.schema,
            "table": self.table,
            "name": self.name,
            "reason": self.reason,
            "owner": self.owner,
            "accepted_on": self.accepted_on.isoformat(),
            "expires": self.expires.isoformat(),
        }
        return {**known, **{k: v for k, v in sorted(self.extra.items()) if k not in known}}


def accepted_path(config: "Config") -> Path:
    """``[drift] accepted_file`` (relative to config.ini), else ``drift-accepted.json`` beside it."""
    return config.root / (config.settings.get("accepted_file") or DEFAULT_ACCEPTED_FILE).strip()


def read_accepted(path: Path) -> tuple[Acceptance, ...]:
    """The entries of the accepted-drift file; none when it does not exist yet."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise ConfigError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return parse_accepted(text, path.name)


def parse_accepted(text: str, source: str = DEFAULT_ACCEPTED_FILE) -> tuple[Acceptance, ...]:
    """Entries from the text of an accepted-drift file; :class:`ConfigError` naming what is wrong."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix it or restore "
            f"it from version control"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise ConfigError(f'{source} must be a JSON object with "schema_version" and a list of "entries"')
    version = document.get("schema_version")
    if version != ACCEPTED_SCHEMA_VERSION:
        raise ConfigError(
            f"{source} has schema_version {version!r}; this drift reads version {ACCEPTED_SCHEMA_VERSION} "
            f"(upgrade drift, or rewrite the file)"
        )
    entries: list[Acceptance] = []
    seen: set[tuple[str, str]] = set()
    for number, raw in enumerate(document["entries"], start=1):
        entry = _entry(raw, f"{source} entry {number}")
        if (entry.id, entry.environment) in seen:
            raise ConfigError(f"{source} accepts {entry.id} in {entry.scope} twice; keep one of the two entries")
        seen.add((entry.id, entry.environment))
        entries.append(entry)
    return tuple(entries)


def _entry(raw: Any, where: str) -> Acceptance:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not an object with id, environment, reason, owner, accepted_on and expires")
    for key in _REQUIRED_TEXT:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where} ({raw.get('id') or 'no id'}) needs {key} as non-empty text")
    for key in ("kind", "table", "schema", "name"):
        if raw.get(key) is not None and not isinstance(raw.get(key), str):
            raise ConfigError(f"{where} ({raw['id']}): {key} must be text or null")
    dates = {key: _date(raw.get(key), f"{where} ({raw['id']}) {key}") for key in ("accepted_on", "expires")}
    return Acceptance(
        id=raw["id"].strip(),
        environment=raw["environment"].strip(),
        reason=" ".join(raw["reason"].split()),
        owner=raw["owner"].strip(),
        accepted_on=dates["accepted_on"],
        expires=dates["expires"],
        kind=raw.get("kind") or "",
        schema=raw.get("schema") or None,
        table=raw.get("table") or "",
        name=raw.get("name") or None,
        extra={k: v for k, v in raw.items() if k not in _ENTRY_FIELDS},
    )


def _date(value: Any, where: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where} = {value!r} is not a date; write it as YYYY-MM-DD")


def dump_accepted(entries: Iterable[Acceptance]) -> str:
    """The file's text: entries sorted by environment, table, kind and name, so it diffs cleanly.

    The same entries give the same bytes, whatever order they came in.
    """
    ordered = sorted(entries, key=Acceptance.sort_key)
    document = {"schema_version": ACCEPTED_SCHEMA_VERSION, "entries": [e.to_dict() for e in ordered]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_accepted(path: Path, entries: Iterable[Acceptance]) -> Path:
    """Write the file atomically: an interrupted write leaves the earlier file as it was."""
    from .report.write import write_atomic  # here: importing drift.report loads every renderer and Jinja2

    try:
        return write_atomic(path, dump_accepted(entries))
    except ReportWriteError as exc:
        reason = getattr(exc.__context__, "strerror", None) or exc.message
        raise ConfigError(f"cannot write {path.name}: {reason}; the accepted-drift file is unchanged") from None


# --------------------------------------------------------------------------- the policy and applying it


@dataclass(frozen=True)
class IgnoredFinding:
    finding: Finding
    rule: IgnoreRule

    def to_dict(self) -> dict[str, Any]:
        return {"finding": self.finding.to_dict(), "rule": self.rule.to_dict()}


@dataclass(frozen=True)
class AcceptedFinding:
    finding: Finding
    entry: Acceptance

    def to_dict(self) -> dict[str, Any]:
        return {"finding": self.finding.to_dict(), "acceptance": self.entry.to_dict()}


@dataclass(frozen=True)
class PolicyResult:
    """What a policy did to one environment's findings.

    ``kept`` is what the report shows and the exit status counts: findings no
    rule ignores and no current acceptance covers, including those whose
    acceptance has ``expired`` (listed there with their entry). ``unmatched``
    entries accept a finding the check did not report: the drift was fixed
    or changed, and the entry should go.

    The findings here are as they were given: in a check that is before risk
    and cause were added, so a renderer draws the report's own ``findings``
    and uses this for what was set aside, looked up by id.
    """

    environment: str
    today: date
    kept: tuple[Finding, ...] = ()
    ignored: tuple[IgnoredFinding, ...] = ()
    accepted: tuple[AcceptedFinding, ...] = ()
    expired: tuple[AcceptedFinding, ...] = ()
    unmatched: tuple[Acceptance, ...] = ()
    #: Whether any rule or entry applies to this environment: without, a report looks as it always has.
    active: bool = False
    accepted_file: str = DEFAULT_ACCEPTED_FILE

    @property
    def hidden(self) -> int:
        """How many findings the report does not show because a rule or an acceptance covers them."""
        return len(self.ignored) + len(self.accepted)

    def counts(self) -> dict[str, int]:
        return {
            "ignored": len(self.ignored),
            "accepted": len(self.accepted),
            "expired": len(self.expired),
            "unmatched": len(self.unmatched),
        }

    @property
    def summary(self) -> str:
        """``3 ignored by rules, 1 accepted, 1 acceptance expired``; empty when nothing happened."""
        parts = []
        if self.ignored:
            parts.append(f"{len(self.ignored)} ignored by rules")
        if self.accepted:
            parts.append(f"{len(self.accepted)} accepted")
        if self.expired:
            parts.append(count(len(self.expired), "acceptance") + " expired")
        if self.unmatched:
            parts.append(count(len(self.unmatched), "accepted entry", "accepted entries") + " matching nothing")
        return ", ".join(parts)

    def expired_entry(self, finding_id: str) -> Acceptance | None:
        """The expired acceptance of a reported finding, for a renderer's "acceptance expired on …" mark."""
        return next((x.entry for x in self.expired if x.finding.id == finding_id), None)

    @property
    def notes(self) -> tuple[str, ...]:
        """One line per expired or unmatched entry, for :attr:`Report.notes` (every renderer shows those)."""
        lines = [
            f"Acceptance expired on {x.entry.expires.isoformat()}: {x.entry.label} ({x.entry.id}), accepted by "
            f"{x.entry.owner} for {x.entry.scope} ({x.entry.reason}), is reported again; fix it, or renew it with "
            f"drift accept --env {self.environment} --id {x.entry.id}."
            for x in self.expired
        ]
        lines += [
            f"Accepted drift no longer found: {e.label} ({e.id}), accepted by {e.owner} for {e.scope} until "
            f"{e.expires.isoformat()}, matches nothing in {self.environment}; if the drift is resolved, remove the "
            f"entry from {self.accepted_file}."
            for e in self.unmatched
        ]
        return tuple(lines)

    @property
    def review_note(self) -> str | None:
        """For the suggested migration: autogenerate knows nothing of the policy and writes every op."""
        if not self.hidden:
            return None
        ignored, accepted = len(self.ignored), len(self.accepted)
        if ignored:
            what = f"{count(ignored, 'difference')} ignored by rules"
            what += f" and {accepted} accepted" if accepted else ""
        else:
            what = count(accepted, "accepted difference", "accepted differences")
        return (
            f"Left out of the code above: {what}; alembic revision --autogenerate still writes their ops, "
            "so delete those from the new file before upgrading."
        )

    def migration_code(self, findings: Iterable[Finding], upgrade_code: str, downgrade_code: str) -> tuple[str, str]:
        """The ``upgrade()`` / ``downgrade()`` code to suggest for ``findings`` (the report's, after the policy).

        Alembic's code for the whole comparison when nothing was set aside;
        otherwise each remaining finding's own code, in order (a rename guess
        has none of its own to add), since the comparison's holds the ops of
        ignored and accepted differences too.
        """
        if not self.hidden:
            return upgrade_code, downgrade_code
        remaining = [f for f in findings if not f.kind.endswith("_candidate")]
        return (
            "\n".join(dict.fromkeys(f.upgrade_code for f in remaining if f.upgrade_code)),
            "\n".join(dict.fromkeys(f.downgrade_code for f in reversed(remaining) if f.downgrade_code)),
        )

    def with_review_note(self, migration: SuggestedMigration | None) -> SuggestedMigration | None:
        """``migration`` with :attr:`review_note` added when it asks for an autogenerated revision."""
        note = self.review_note
        if migration is None or note is None or not any("--autogenerate" in c for c in migration.commands):
            return migration
        return replace(migration, review_notes=(*migration.review_notes, note))

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "ignored": [x.to_dict() for x in self.ignored],
            "accepted": [x.to_dict() for x in self.accepted],
            "expired": [x.entry.to_dict() for x in self.expired],
            "unmatched": [e.to_dict() for e in self.unmatched],
        }


def apply_policy(
    findings: Report | Iterable[Finding],
    rules: Iterable[IgnoreRule],
    accepted: Iterable[Acceptance],
    *,
    environment: str,
    today: date,
    accepted_file: str = DEFAULT_ACCEPTED_FILE,
) -> PolicyResult:
    """Split ``findings`` into kept, ignored and accepted; list expired and unmatched entries.

    ``rules`` and ``accepted`` may hold other environments' too; only those
    for ``environment`` (or for every environment) apply. A finding a rule
    matches is ignored (the environment's own rules are tried first, so
    their reason is the one shown); otherwise an acceptance of its id covers
    it until the day after ``expires``. An environment's own entry wins over
    one for every environment. An expired entry of a reported finding is
    listed under ``expired``; an entry whose finding the check did not
    report at all is listed under ``unmatched`` (expired or not: either way
    it should be removed). Order is kept, so sorted findings stay sorted.
    """
    items = findings.findings if isinstance(findings, Report) else tuple(findings)
    rules = list(rules)
    here = [r for r in rules if r.environment == environment] + [r for r in rules if r.environment is None]
    entries: dict[str, Acceptance] = {}
    applicable = [e for e in accepted if e.applies_to(environment)]
    for candidate in sorted(applicable, key=lambda e: e.environment != EVERY_ENVIRONMENT):
        entries[candidate.id] = candidate  # the environment's own entry comes last and wins

    kept: list[Finding] = []
    ignored: list[IgnoredFinding] = []
    covered: list[AcceptedFinding] = []
    expired: list[AcceptedFinding] = []
    for finding in items:
        rule = next((r for r in here if r.matches(finding)), None)
        if rule is not None:
            ignored.append(IgnoredFinding(finding, rule))
            continue
        entry = entries.get(finding.id)
        if entry is None:
            kept.append(finding)
        elif entry.expired(today):
            expired.append(AcceptedFinding(finding, entry))
            kept.append(finding)
        else:
            covered.append(AcceptedFinding(finding, entry))
    reported = {f.id for f in items}
    unmatched = sorted((e for e in entries.values() if e.id not in reported), key=Acceptance.sort_key)
    return PolicyResult(
        environment=environment,
        today=today,
        kept=tuple(kept),
        ignored=tuple(ignored),
        accepted=tuple(covered),
        expired=tuple(expired),
        unmatched=tuple(unmatched),
        active=bool(here or entries),
        accepted_file=accepted_file,
    )


@dataclass(frozen=True)
class Policy:
    """The ignore rules of config.ini and the accepted-drift file, read and checked once."""

    rules: tuple[IgnoreRule, ...] = ()
    accepted: tuple[Acceptance, ...] = ()
    accepted_path: Path | None = None

    @classmethod
    def load(cls, config: "Config") -> "Policy":
        """Read ``[drift:ignore…]`` and the accepted-drift file; :class:`ConfigError` when either is wrong."""
        rules = parse_rules(config.drift_sections, config.environment_names)
        path = accepted_path(config)
        accepted = read_accepted(path)
        strays = sorted({e.environment for e in accepted
                         if e.environment != EVERY_ENVIRONMENT and e.environment not in config.sections})
        if strays:
            # No check of that environment will ever report these entries as unmatched: say so here.
            log.warning("%s accepts drift in %s, which config.ini does not define; remove those entries",
                        path.name, ", ".join(strays))
        return cls(rules=rules, accepted=accepted, accepted_path=path)

    def apply(
        self, findings: Report | Iterable[Finding], environment: str, *, today: date | None = None
    ) -> PolicyResult:
        """:func:`apply_policy` with this policy; ``today`` defaults to the current UTC date."""
        return apply_policy(
            findings, self.rules, self.accepted, environment=environment, today=today or utc_today(),
            accepted_file=self.accepted_path.name if self.accepted_path else DEFAULT_ACCEPTED_FILE,
        )


def load_policy(config: "Config") -> Policy:
    """Shorthand for :meth:`Policy.load`."""
    return Policy.load(config)


def utc_today() -> date:
    # Reports stamp their time in UTC; expiry dates are compared with the same calendar.
    return datetime.now(timezone.utc).date()


# --------------------------------------------------------------------------- drift accept


@dataclass(frozen=True)
class AcceptResult:
    """What :func:`accept` wrote: new entries, renewed entries, and the file."""

    path: Path
    added: tuple[Acceptance, ...] = ()
    renewed: tuple[Acceptance, ...] = ()

    @property
    def changed(self) -> tuple[Acceptance, ...]:
        return tuple(sorted(self.added + self.renewed, key=Acceptance.sort_key))


def default_expiry(today: date | None = None, days: int = DEFAULT_ACCEPT_DAYS) -> date:
    """The expiry ``drift accept`` offers: ``days`` after today (UTC)."""
    return (today or utc_today()) + timedelta(days=days)


def accept(
    config: "Config",
    env: str,
    ids: Sequence[str] | None,
    reason: str,
    owner: str,
    expires: date,
    *,
    report: Report,
    everywhere: bool = False,
    today: date | None = None,
) -> AcceptResult:
    """Accept findings of ``report`` (a check of ``env``) and write the accepted-drift file.

    ``ids`` names the findings; ``None`` accepts every finding the report
    shows. Findings already accepted can be named again to renew them (new
    reason, owner and expiry). With ``everywhere`` the entries hold in every
    environment (``"environment": "*"``). Rename guesses are not accepted:
    they are advice beside the two findings they pair, which can be.

    >>> report = check(config, "prod", attribute=False)                        # doctest: +SKIP
    >>> accept(config, "prod", ["modify_type-1a2b3c4d5e"], "widened by the DBA", "alice",
    ...        default_expiry(), report=report).path.name                     # doctest: +SKIP
    'drift-accepted.json'

    Raises :class:`UnknownFindingError` for an id the check did not report and
    :class:`ConfigError` for an empty reason or owner, a past expiry date, or
    an accepted-drift file that cannot be read or written.
    """
    today = today or utc_today()
    reason, owner = " ".join(reason.split()), owner.strip()
    if not reason:
        raise ConfigError("the reason is empty; say why this drift is accepted (--reason TEXT)")
    if not owner:
        raise ConfigError("the owner is empty; name who answers for this acceptance (--owner NAME)")
    if expires < today:
        raise ConfigError(f"the expiry date {expires.isoformat()} is in the past (today is {today.isoformat()} UTC)")
    if report.environment != env:
        raise ConfigError(f"the report is of {report.environment}, not {env}; check {env} first")

    policy = report.policy
    shown = [f for f in report.findings if not f.kind.endswith("_candidate")]
    acceptable = {f.id: f for f in shown}
    if policy is not None:
        acceptable.update({x.finding.id: x.finding for x in policy.accepted})
    ignored = {x.finding.id: x.rule for x in policy.ignored} if policy is not None else {}

    if ids is None:
        chosen = shown
    else:
        wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
        for finding_id in wanted:
            if finding_id in ignored:
                rule = ignored[finding_id]
                raise ConfigError(
                    f"{finding_id} is ignored in {env} by [{rule.section}] {rule.pattern} ({rule.reason}); "
                    f"there is nothing to accept"
                )
            if finding_id.rsplit("-", 1)[0].endswith("_candidate"):
                raise ConfigError(
                    f"{finding_id} is a rename guess, not a difference; accept the two findings it pairs instead"
                )
        unknown = [i for i in wanted if i not in acceptable]
        if unknown:
            raise UnknownFindingError(_unknown_message(unknown, env, sorted(acceptable)))
        chosen = [acceptable[i] for i in wanted]

    path = accepted_path(config)
    existing = {(e.id, e.environment): e for e in read_accepted(path)}
    scope = EVERY_ENVIRONMENT if everywhere else env
    added: list[Acceptance] = []
    renewed: list[Acceptance] = []
    for finding in chosen:
        entry = Acceptance.for_finding(
            finding, environment=scope, reason=reason, owner=owner, accepted_on=today, expires=expires
        )
        previous = existing.get((finding.id, scope))
        if previous is not None:
            entry = replace(entry, extra=previous.extra)
            renewed.append(entry)
        else:
            added.append(entry)
        existing[(finding.id, scope)] = entry
    if chosen:
        write_accepted(path, existing.values())
        log.info("%s: %d accepted, %d renewed in %s", env, len(added), len(renewed), path.name)
    return AcceptResult(path=path, added=tuple(added), renewed=tuple(renewed))


def _unknown_message(unknown: Sequence[str], env: str, known: Sequence[str]) -> str:
    # One line, so a long list is cut: the JSON report lists every id.
    shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
    what = "no finding" if len(unknown) == 1 else "no findings"
    there = f"findings there: {shown}" if known else f"{env} has no findings to accept"
    return f"{what} {', '.join(unknown)} in {env}; {there}"
