"""``assess()``: every finding's risks, from its rules, on the live connection.

Findings come in as :func:`drift.compare.compare` made them and go out with
``risks`` filled and ``severity`` raised to the worst of them (never
lowered). Nothing here writes: the rules read through a
:class:`~drift.risk.probe.Probe`, whose queries are bounded and isolated.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .. import secrets
from ..errors import ConfigError
from ..findings import SEVERITIES, Finding, Risk, worst
from .common import key as table_key, split_reference
from .probe import Probe, TableKey
from .registry import NotMeasured, Rule, rules_for

log = logging.getLogger(__name__)

#: ``--fail-on`` choices, least strict first; ``info`` is the default: any finding fails.
FAIL_ON = ("info", "warning", "danger", "never")
DEFAULT_FAIL_ON = "info"


@dataclass(frozen=True)
class RiskOptions:
    """How far the risk rules may go on the live database.

    * ``data_checks`` — run data queries at all (``--no-data-checks`` turns
      them off; catalog-only hazards still apply);
    * ``deep`` — scan tables above ``max_rows`` too (``--deep``);
    * ``query_timeout`` — seconds each data query may take;
    * ``max_rows`` — catalog estimate above which a table is not scanned;
    * ``large_table`` — rows from which lock and rewrite hazards are reported;
    * ``total_timeout`` — seconds all data queries of one assessment may take together.
    """

    deep: bool = False
    data_checks: bool = True
    query_timeout: float = 3.0
    max_rows: int = 1_000_000
    large_table: int = 100_000
    total_timeout: float = 60.0

    def __post_init__(self) -> None:
        for name in ("query_timeout", "total_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 86400:
                raise ValueError(f"RiskOptions.{name} = {value!r} must be a number of seconds between 0 and 86400")
        for name in ("max_rows", "large_table"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"RiskOptions.{name} = {value!r} must be a whole number of rows, 0 or more")

    #: config.ini ``[drift]`` keys → fields; the CLI's options override them.
    SETTINGS: ClassVar[dict[str, tuple[str, Callable[[str], Any]]]] = {
        "risk_query_timeout": ("query_timeout", float),
        "risk_total_timeout": ("total_timeout", float),
        "risk_max_rows": ("max_rows", int),
        "risk_large_table": ("large_table", int),
    }

    @classmethod
    def from_settings(cls, settings: Mapping[str, str] | None = None, **overrides: Any) -> "RiskOptions":
        """Options from config.ini's ``[drift]`` section, then ``overrides`` (command-line values; None = unset).

        >>> RiskOptions.from_settings({"risk_max_rows": "5000"}, deep=True).max_rows
        5000
        """
        values: dict[str, Any] = {}
        for key, (field_name, convert) in cls.SETTINGS.items():
            text = (settings or {}).get(key)
            if text is None or not str(text).strip():
                continue
            try:
                values[field_name] = convert(str(text).strip().replace("_", ""))
            except ValueError:
                raise ConfigError(f"[drift] {key} = {text!r} is not a {'number' if convert is float else 'whole number'}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def within(self, statement_timeout: float) -> "RiskOptions":
        """These options fitted to a session whose statements may run ``statement_timeout`` seconds.

        A per-query timeout never exceeds the session's (on PostgreSQL ``SET
        LOCAL`` would otherwise lift it). With ``deep`` each query gets the
        session's whole timeout: scanning a table of millions of rows within
        a few seconds would time out every time, and deep was asked for.

        >>> RiskOptions(deep=True).within(30).query_timeout
        30
        """
        query_timeout = statement_timeout if self.deep else min(self.query_timeout, statement_timeout)
        return dataclasses.replace(self, query_timeout=query_timeout)


def assess(
    connection: Connection,
    findings: Iterable[Finding],
    *,
    metadata: sa.MetaData | None = None,
    options: RiskOptions | None = None,
) -> tuple[Finding, ...]:
    """The findings with their risks assessed against the rows that are there.

    ``connection`` is the read-only connection the findings were computed on
    (from :func:`drift.connect.connect`); ``metadata`` is the models' MetaData,
    used for defaults and enum values the findings do not carry. Order is
    kept; each finding's ``risks`` are replaced by this assessment's and its
    ``severity`` becomes the worst of its own and its risks'.

    >>> with connect(environment) as conn:                      # doctest: +SKIP
    ...     comparison = compare(conn, metadata)
    ...     findings = assess(conn, comparison.findings, metadata=metadata)
    >>> findings[0].risks[0].summary                             # doctest: +SKIP
    '3 rows of users have NULL in email: SET NOT NULL fails'
    """
    options = options or RiskOptions()
    probe = Probe(connection, options, metadata)
    findings = tuple(findings)
    assessed: list[Finding] = []
    try:
        probe.prefetch(_tables_named(findings, probe))
        for finding in findings:
            risks = tuple(_risks(finding, probe))
            produced = {r.rule for r in risks}
            kept = tuple(r for r in finding.risks if r.rule not in produced)
            all_risks = kept + risks
            severity = worst([finding.severity, *(r.severity for r in all_risks)])
            assessed.append(finding.replace(risks=all_risks, severity=severity))
    finally:
        probe.close()
    log.info(
        "assessed %d findings: %d risks, %d not measured",
        len(assessed),
        sum(len(f.risks) for f in assessed),
        sum(1 for f in assessed for r in f.risks if not r.measured),
    )
    return tuple(assessed)


def _tables_named(findings: Sequence[Finding], probe: Probe) -> list[TableKey]:
    """The tables the rules will ask the catalog about: each finding's, and the one a foreign key refers to."""
    keys: list[TableKey] = []
    for finding in findings:
        if not finding.table or not rules_for(finding.kind, probe.dialect_name):
            continue
        keys.append(table_key(finding))
        reference = (finding.models or {}).get("references")
        if isinstance(reference, str) and reference:
            keys.append(split_reference(reference, finding.schema))
    return keys


def _risks(finding: Finding, probe: Probe) -> list[Risk]:
    out: list[Risk] = []
    for rule in rules_for(finding.kind, probe.dialect_name):
        produced: list[Risk] = []
        try:
            for risk in rule.fn(finding, probe):
                produced.append(risk)
        except NotMeasured as exc:
            produced.append(not_measured(rule, finding, exc.reason))
        except Exception as exc:  # a broken rule must not break the check; it says so instead
            log.warning("risk rule %s failed on %s: %s", rule.name, finding.object_label,
                        secrets.mask(f"{type(exc).__name__}: {exc}"), exc_info=log.isEnabledFor(logging.DEBUG))
            produced.append(not_measured(rule, finding, f"the rule failed ({type(exc).__name__}: {exc})"))
        out.extend(produced)
    return out


def not_measured(rule: Rule, finding: Finding, reason: str) -> Risk:
    about = rule.about.format(label=finding.object_label, table=finding.qualified_table, column=finding.name or "")
    reason = secrets.mask(reason)
    return Risk(
        rule=rule.name,
        severity=rule.unmeasured,
        summary=f"{about}: not measured: {reason}",
        evidence={"reason": reason},
        measured=False,
    )


def fail_threshold(findings: Sequence[Finding], fail_on: str | None = DEFAULT_FAIL_ON) -> bool:
    """Whether ``findings`` should fail the run (exit status 1) under ``--fail-on fail_on``.

    ``info`` (the default): any finding fails; ``warning``/``danger``: a
    finding at least that severe fails; ``never``: nothing fails. A finding
    with a severity drift does not know counts as the most severe.

    >>> fail_threshold([], "info"), fail_threshold([], "never")
    (False, False)
    """
    level = (fail_on or DEFAULT_FAIL_ON).strip().lower()
    if level not in FAIL_ON:
        raise ValueError(f"fail_on = {fail_on!r} is not one of {', '.join(FAIL_ON)}")
    if level == "never":
        return False
    threshold = SEVERITIES.index(level)
    return any(_rank(f.severity) >= threshold for f in findings)


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
