"""A type that holds less: shorter strings, smaller integers, fewer digits, text to numbers.

Each check compares the database's type (what the rows were written as)
with the models' (what the migration converts them to), counts the values
that would not survive, and says what the dialect does with them.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ..findings import Finding, Risk
from .common import Outcome, example, key, mysql_bad_data, outcome, shown, strict_mode
from .probe import Probe
from .registry import rule
from .shapes import Shape, parse

_INTEGER_PATTERN = r"^\s*[-+]?[0-9]+\s*$"
_NUMBER_PATTERN = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"


def _outcomes(pg: str | None, sqlite: tuple[str, str] | None, mysql_silently: str | None,
              pg_severity: str = "danger") -> dict[str | None, Outcome | None]:
    return {
        "postgresql": Outcome(pg_severity, pg) if pg else None,
        "sqlite": Outcome(*sqlite) if sqlite else None,
        "mysql": Outcome("danger", mysql_silently) if mysql_silently else None,
    }


#: Per check and dialect: how bad, and what happens. ``None``: the dialect does not care, do not look.
TOO_LONG = _outcomes(
    "the ALTER fails (value too long)",
    ("warning", "SQLite does not enforce lengths: the values stay longer than the models allow"),
    "truncates them",
)
OUT_OF_RANGE = _outcomes("the ALTER fails (out of range)", None, "clips them to the type's limits")
OVERFLOW = _outcomes("the ALTER fails (numeric field overflow)", None, "clips them to the type's limits")
ROUNDED = {
    "postgresql": Outcome("warning", "they are rounded to the new scale"),
    "mysql": Outcome("warning", "they are rounded to the new scale"),
    "sqlite": None,
}
FRACTIONS = {
    "postgresql": Outcome("warning", "they are rounded to whole numbers"),
    "mysql": Outcome("warning", "they are rounded to whole numbers"),
    "sqlite": Outcome("warning", "batch mode's CAST truncates them to whole numbers"),
}
NOT_NUMBERS = _outcomes(
    "the conversion fails (invalid input syntax)",
    ("danger", "batch mode's CAST silently turns them into 0 or a leading number"),
    "turns them into 0",
)


def _says(table: dict[str | None, Outcome | None], probe: Probe) -> Outcome | None:
    found = outcome(table, probe)
    if found is not None and probe.dialect_name in ("mysql", "mariadb"):
        # found.says holds what non-strict MariaDB does silently; the sentence depends on sql_mode.
        if found.severity == "danger":
            return Outcome("danger", mysql_bad_data(strict_mode(probe), found.says))
    return found


@rule("modify_type", "narrowing", about="values of {label} under the new type")
def narrowing(finding: Finding, probe: Probe) -> Iterable[Risk]:
    if not finding.name:
        return
    old = parse((finding.database or {}).get("type"))
    new = parse((finding.models or {}).get("type"))
    for check in CHECKS:
        risk = check(finding, probe, old, new)
        if risk is not None:
            yield risk


Check = Callable[[Finding, Probe, Shape, Shape], "Risk | None"]


def _column(finding: Finding, probe: Probe) -> tuple[sa.TableClause, ColumnElement[Any]]:
    t = probe.table(finding.table, finding.schema, finding.name or "")
    return t, t.c[finding.name or ""]


def _too_long(finding: Finding, probe: Probe, old: Shape, new: Shape) -> Risk | None:
    if new.family != "string" or new.length is None or not old.is_text:
        return None
    if old.family == "string" and old.length is not None and old.length <= new.length:
        return None
    says = _says(TOO_LONG, probe)
    if says is None:
        return None
    t, col = _column(finding, probe)
    length = probe.char_length(col)
    limit = sa.literal_column(str(int(new.length)))
    rows = probe.scan(
        sa.select(sa.func.count(), sa.func.max(length)).select_from(t).where(length > limit), [key(finding)]
    )
    count, longest = int(rows[0][0]), rows[0][1]
    evidence = {"too_long": count, "max_length": new.length, "longest": int(longest) if longest is not None else None}
    if count == 0:
        return Risk(rule="narrowing", severity="info",
                    summary=f"every value of {finding.object_label} fits {new.text}", evidence=evidence)
    return Risk(
        rule="narrowing", severity=says.severity,
        summary=f"{count:,} value{'s' if count != 1 else ''} of {finding.object_label} "
                f"{'are' if count != 1 else 'is'} longer than {new.length} characters (longest {longest}): {says.says}",
        evidence=evidence,
        suggestion=f"shorten or move those values first, or keep the column at {old.text} in the models",
    )


def _out_of_range(finding: Finding, probe: Probe, old: Shape, new: Shape) -> Risk | None:
    target = new.integer_range
    if target is None or not old.is_number:
        return None
    source = old.integer_range
    if source is not None and target[0] <= source[0] and source[1] <= target[1]:
        return None
    says = _says(OUT_OF_RANGE, probe)
    if says is None:
        return None
    t, col = _column(finding, probe)
    lo, hi = (sa.literal_column(str(v)) for v in target)
    rows = probe.scan(
        sa.select(sa.func.count(), sa.func.min(col), sa.func.max(col)).select_from(t).where(sa.or_(col < lo, col > hi)),
        [key(finding)],
    )
    count = int(rows[0][0])
    evidence = {"out_of_range": count, "range": list(target)}
    if count == 0:
        return Risk(rule="narrowing", severity="info",
                    summary=f"every value of {finding.object_label} is within {new.text}'s range", evidence=evidence)
    evidence.update(smallest=example(rows[0][1]), largest=example(rows[0][2]))
    return Risk(
        rule="narrowing", severity=says.severity,
        summary=f"{count:,} value{'s' if count != 1 else ''} of {finding.object_label} "
                f"{'are' if count != 1 else 'is'} outside {new.text}'s range {target[0]:,}…{target[1]:,} "
                f"(from {shown(rows[0][1])} to {shown(rows[0][2])}): {says.says}",
        evidence=evidence,
        suggestion=f"keep {old.text}, or move those values out first",
    )


def _fractions(finding: Finding, probe: Probe, old: Shape, new: Shape) -> Risk | None:
    if new.family != "integer" or old.family not in ("numeric", "float") or old.scale == 0:
        return None
    says = outcome(FRACTIONS, probe)
    if says is None:
        return None
    t, col = _column(finding, probe)
    rows = probe.scan(sa.select(sa.func.count()).select_from(t).where(col != sa.func.floor(col)), [key(finding)])
    count = int(rows[0][0])
    if count == 0:
        return None  # the range check speaks for the column already
    return Risk(
        rule="narrowing", severity=says.severity,
        summary=f"{count:,} value{'s' if count != 1 else ''} of {finding.object_label} "
                f"{'have' if count != 1 else 'has'} a fractional part: {says.says}",
        evidence={"fractional": count},
    )


def _numeric(finding: Finding, probe: Probe, old: Shape, new: Shape) -> Risk | None:
    if new.family != "numeric" or new.precision is None or not old.is_number:
        return None
    new_scale = new.scale or 0
    digits = new.precision - new_scale
    old_digits = (old.precision - (old.scale or 0)) if old.family == "numeric" and old.precision is not None else None
    narrower_digits = old_digits is None or digits < old_digits
    if old.family == "integer" and old.integer_range is not None:
        narrower_digits = len(str(max(abs(v) for v in old.integer_range))) > digits
    old_scale = old.scale if old.family == "numeric" else None
    fewer_decimals = old.family == "float" or (old.family == "numeric" and (old_scale is None or old_scale > new_scale))
    if not narrower_digits and not fewer_decimals:
        return None
    t, col = _column(finding, probe)
    selected: list[Any] = []
    labels: list[str] = []
    overflow_says = _says(OVERFLOW, probe) if narrower_digits else None
    rounded_says = outcome(ROUNDED, probe) if fewer_decimals else None
    if overflow_says is None and rounded_says is None:
        return None
    scale = sa.literal_column(str(int(new_scale)))
    # round(x, n) takes numeric, not double precision, on PostgreSQL (and MySQL's CAST AS DECIMAL
    # would mean DECIMAL(10, 0), so the cast stays PostgreSQL's).
    if old.family == "float" and probe.dialect.name == "postgresql":
        col = sa.cast(col, sa.Numeric())
    if overflow_says is not None:
        bound = sa.literal_column(str(10**digits))
        selected.append(sa.func.count(sa.case((sa.func.abs(sa.func.round(col, scale)) >= bound, 1))))
        labels.append("overflow")
    if rounded_says is not None:
        selected.append(sa.func.count(sa.case((col != sa.func.round(col, scale), 1))))
        labels.append("rounded")
    rows = probe.scan(sa.select(*selected).select_from(t), [key(finding)])
    counts = dict(zip(labels, (int(v) for v in rows[0])))
    evidence: dict[str, Any] = {**counts, "precision": new.precision, "scale": new_scale}
    if counts.get("overflow") and overflow_says is not None:
        n = counts["overflow"]
        return Risk(
            rule="narrowing", severity=overflow_says.severity,
            summary=f"{n:,} value{'s' if n != 1 else ''} of {finding.object_label} "
                    f"{'need' if n != 1 else 'needs'} more than {digits} digits before the point, which {new.text} "
                    f"allows: {overflow_says.says}",
            evidence=evidence, suggestion=f"keep {old.text}, or widen the precision in the models",
        )
    if counts.get("rounded") and rounded_says is not None:
        n = counts["rounded"]
        return Risk(
            rule="narrowing", severity=rounded_says.severity,
            summary=f"{n:,} value{'s' if n != 1 else ''} of {finding.object_label} "
                    f"{'have' if n != 1 else 'has'} more than {new_scale} decimals: {rounded_says.says}",
            evidence=evidence, suggestion=f"keep {old.text} if the decimals matter",
        )
    return Risk(rule="narrowing", severity="info",
                summary=f"every value of {finding.object_label} fits {new.text}", evidence=evidence)


def _not_numbers(finding: Finding, probe: Probe, old: Shape, new: Shape) -> Risk | None:
    if not new.is_number or old.family != "string":
        return None
    says = _says(NOT_NUMBERS, probe)
    if says is None:
        return None
    t, col = _column(finding, probe)
    bad = _not_number_condition(probe, col, integer=new.family == "integer")
    rows = probe.scan(sa.select(sa.func.count()).select_from(t).where(col.is_not(None), bad), [key(finding)])
    count = int(rows[0][0])
    evidence: dict[str, Any] = {"not_numbers": count}
    if count == 0:
        return Risk(rule="narrowing", severity="info",
                    summary=f"every value of {finding.object_label} reads as {new.text}", evidence=evidence)
    first = probe.scan(sa.select(col).select_from(t).where(col.is_not(None), bad).limit(1), [key(finding)])
    example_text = ""
    if first:
        evidence["example"] = example(first[0][0])
        example_text = f"; e.g. {shown(first[0][0])}"
    return Risk(
        rule="narrowing", severity=says.severity,
        summary=f"{count:,} value{'s' if count != 1 else ''} of {finding.object_label} "
                f"{_not_a(new.family == 'integer', count)}: "
                f"{says.says}{example_text}",
        evidence=evidence,
        suggestion="clean those values first (a data migration), or keep the column as text",
    )


def _not_a(integer: bool, count: int) -> str:
    noun = "whole number" if integer else "number"
    return f"are not {noun}s" if count != 1 else f"is not a {noun}"


def _sqlite_not_number(col: ColumnElement[Any], integer: bool) -> ColumnElement[Any]:
    # No REGEXP in stock SQLite: a value is a whole number when it survives the round trip
    # through CAST; a number when it has a digit and nothing but number characters.
    trimmed = sa.func.trim(col)
    if integer:
        return sa.cast(sa.cast(col, sa.Integer()), sa.Text()) != trimmed
    return sa.or_(trimmed.op("GLOB")("*[^0-9.eE+-]*"), trimmed.op("NOT GLOB")("*[0-9]*"))


def _regexp_not_number(col: ColumnElement[Any], integer: bool) -> ColumnElement[Any]:
    return sa.not_(col.regexp_match(_INTEGER_PATTERN if integer else _NUMBER_PATTERN))


NOT_NUMBER_CONDITION: dict[str | None, Callable[[ColumnElement[Any], bool], ColumnElement[Any]]] = {
    "sqlite": _sqlite_not_number,
    None: _regexp_not_number,
}


def _not_number_condition(probe: Probe, col: ColumnElement[Any], *, integer: bool) -> ColumnElement[Any]:
    build = NOT_NUMBER_CONDITION.get(probe.dialect.name, NOT_NUMBER_CONDITION[None])
    return build(col, integer)


CHECKS: tuple[Check, ...] = (_too_long, _out_of_range, _fractions, _numeric, _not_numbers)
