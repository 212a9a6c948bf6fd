"""Data-aware risk: what each suggested change would do to the rows that are there.

For every finding, the rules registered for its kind (and the connection's
dialect) look at the live data with bounded, read-only queries and at the
catalog, and attach :class:`~drift.findings.Risk` objects: a severity
(``info``, ``warning``, ``danger``), evidence, a safer way, and sometimes
migration code to run first (a backfill).

>>> from drift.risk import RiskOptions, assess, fail_threshold       # doctest: +SKIP
>>> with connect(environment) as conn:                                # doctest: +SKIP
...     findings = compare(conn, metadata).findings
...     findings = assess(conn, findings, metadata=metadata, options=RiskOptions(deep=False))
>>> exit_status = 1 if fail_threshold(findings, "warning") else 0     # doctest: +SKIP

One module per kind of risk registers its rules (see :mod:`.registry`):
:mod:`.nulls`, :mod:`.loss`, :mod:`.duplicates`, :mod:`.orphans`,
:mod:`.narrowing`, :mod:`.enums`, :mod:`.locks`.
"""

from __future__ import annotations

from ..findings import Risk
from . import duplicates, enums, locks, loss, narrowing, nulls, orphans  # noqa: F401  (they register rules)
from .assessment import DEFAULT_FAIL_ON, FAIL_ON, RiskOptions, assess, fail_threshold
from .probe import Probe, TableSize
from .registry import RULES, NotMeasured, Rule, rule, rules_for

__all__ = [
    "DEFAULT_FAIL_ON",
    "FAIL_ON",
    "RULES",
    "NotMeasured",
    "Probe",
    "Risk",
    "RiskOptions",
    "Rule",
    "TableSize",
    "assess",
    "fail_threshold",
    "rule",
    "rules_for",
]
