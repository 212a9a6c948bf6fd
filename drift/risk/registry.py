"""The rule registry: which risk rules apply to a kind of finding on a dialect.

A rule is a function ``(finding, probe) -> Iterable[Risk]`` registered for one
or more finding kinds under a name. The same name may be registered once as
the default and again for a dialect; for a given dialect the most specific
registration wins (``mariadb`` falls back to ``mysql``, then to the default).
Rules registered only for a dialect do not run elsewhere. Plugins register
their own rules the same way.

>>> @rule("modify_comment", "comment_length")          # doctest: +SKIP
... def comment_length(finding, probe):
...     yield Risk(rule="comment_length", severity="info", summary="...")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from ..findings import SEVERITIES, Finding, Risk

if TYPE_CHECKING:
    from .probe import Probe

RuleFn = Callable[[Finding, "Probe"], Iterable[Risk]]

#: A dialect's fallbacks, most specific first; every chain ends at the default (None).
DIALECT_FALLBACKS: dict[str, tuple[str, ...]] = {"mariadb": ("mysql",)}


class NotMeasured(Exception):
    """A rule could not look at the data; ``reason`` says why, for the report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Rule:
    """One registered rule.

    ``about`` names what the rule looks at (``"NULL values in {label}"``) so
    that an unmeasured result can still say what was not measured; ``unmeasured``
    is the severity of that result: not knowing is a warning, never a danger.
    """

    kind: str
    name: str
    dialect: str | None
    fn: RuleFn
    about: str
    unmeasured: str = "warning"


#: (kind, name, dialect) → rule; dialect None is the default.
RULES: dict[tuple[str, str, str | None], Rule] = {}


def rule(
    kinds: str | Iterable[str],
    name: str,
    *,
    dialect: str | None = None,
    about: str = "the data in {label}",
    unmeasured: str = "warning",
) -> Callable[[RuleFn], RuleFn]:
    """Register ``fn`` as rule ``name`` for ``kinds``, for one dialect or (``None``) as the default."""
    if unmeasured not in SEVERITIES:
        raise ValueError(f"unmeasured severity {unmeasured!r} is not one of {', '.join(SEVERITIES)}")
    kind_list = (kinds,) if isinstance(kinds, str) else tuple(kinds)

    def register(fn: RuleFn) -> RuleFn:
        for kind in kind_list:
            RULES[(kind, name, dialect)] = Rule(kind, name, dialect, fn, about, unmeasured)
        return fn

    return register


def rules_for(kind: str, dialect: str) -> list[Rule]:
    """The rules that run for ``kind`` on ``dialect``, sorted by name (deterministic output)."""
    chain: tuple[str | None, ...] = (dialect, *DIALECT_FALLBACKS.get(dialect, ()), None)
    names = sorted({n for (k, n, _d) in RULES if k == kind})
    chosen = []
    for name in names:
        for candidate in chain:
            found = RULES.get((kind, name, candidate))
            if found is not None:
                chosen.append(found)
                break
    return chosen

