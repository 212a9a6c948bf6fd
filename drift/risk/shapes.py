"""Column types as comparable shapes, parsed from the type text a finding carries.

A finding's ``models``/``database`` sides spell types as the dialect compiles
them (``VARCHAR(255)``, ``BIGINT(20) UNSIGNED``, ``NUMERIC(10, 2)``,
``ENUM('a','b')``). Rules only need a few facts from them — the family, a
length, an integer range, a precision and scale, enum values — so they are
parsed from that text rather than from type objects, which keeps the rules
working for findings read back from JSON. Text that does not parse is family
``other``, and no rule guesses about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Integer widths in bits by type name; SERIAL types are the integers they stand for.
_INTEGER_BITS = {
    "TINYINT": 8,
    "SMALLINT": 16,
    "INT2": 16,
    "SMALLSERIAL": 16,
    "MEDIUMINT": 24,
    "INT": 32,
    "INTEGER": 32,
    "INT4": 32,
    "SERIAL": 32,
    "BIGINT": 64,
    "INT8": 64,
    "BIGSERIAL": 64,
}
_STRING_NAMES = ("VARCHAR", "CHARACTER VARYING", "NVARCHAR", "NCHAR", "CHARACTER", "CHAR", "VARCHAR2")
#: Text types: MySQL's small ones have a hard limit, the others are effectively unbounded.
_TEXT_LIMITS: dict[str, int | None] = {
    "TINYTEXT": 255,
    "TEXT": None,
    "MEDIUMTEXT": None,
    "LONGTEXT": None,
    "CLOB": None,
    "CITEXT": None,
}
_NUMERIC_NAMES = ("NUMERIC", "DECIMAL", "DEC", "NUMBER")
_FLOAT_NAMES = ("FLOAT", "REAL", "DOUBLE PRECISION", "DOUBLE", "FLOAT4", "FLOAT8")
_BOOLEAN_NAMES = ("BOOLEAN", "BOOL")

_ARGS = re.compile(r"^\s*\(\s*([^)]*)\)")
_ENUM = re.compile(r"^(ENUM|SET)\s*\((.*)\)", re.IGNORECASE | re.DOTALL)
_QUOTED = re.compile(r"'((?:[^']|'')*)'")


@dataclass(frozen=True)
class Shape:
    """What a rule needs to know about one column type.

    ``family`` is one of ``string`` (bounded or not: ``length`` None means
    unbounded), ``integer``, ``numeric``, ``float``, ``boolean``, ``enum``,
    ``other``.
    """

    family: str
    text: str
    length: int | None = None
    fixed: bool = False
    bits: int | None = None
    unsigned: bool = False
    precision: int | None = None
    scale: int | None = None
    values: tuple[str, ...] | None = None

    @property
    def integer_range(self) -> tuple[int, int] | None:
        if self.family != "integer" or self.bits is None:
            return None
        if self.unsigned:
            return 0, 2**self.bits - 1
        return -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1

    @property
    def is_text(self) -> bool:
        return self.family in ("string", "enum")

    @property
    def is_number(self) -> bool:
        return self.family in ("integer", "numeric", "float")


def parse(text: Any) -> Shape:
    """The shape of a type as compiled by a dialect; ``other`` when it is not understood."""
    raw = "" if text is None else str(text).strip()
    upper = raw.upper()
    if not upper:
        return Shape("other", raw)

    enum = _ENUM.match(raw)
    if enum:
        values = tuple(v.replace("''", "'") for v in _QUOTED.findall(enum.group(2)))
        family = "enum" if enum.group(1).upper() == "ENUM" else "other"
        return Shape(family, raw, values=values)

    unsigned = " UNSIGNED" in upper
    for name, bits in sorted(_INTEGER_BITS.items(), key=lambda kv: -len(kv[0])):
        if _starts_with_word(upper, name):
            # MySQL's display width (BIGINT(20)) says nothing about the range.
            return Shape("integer", raw, bits=bits, unsigned=unsigned)

    for name in sorted(_STRING_NAMES, key=len, reverse=True):
        if _starts_with_word(upper, name):
            args = _args(upper[len(name):])
            length = args[0] if args else (1 if name in ("CHAR", "CHARACTER", "NCHAR") else None)
            return Shape("string", raw, length=length, fixed=name in ("CHAR", "CHARACTER", "NCHAR"))

    for name, limit in _TEXT_LIMITS.items():
        if _starts_with_word(upper, name):
            return Shape("string", raw, length=limit)

    for name in _NUMERIC_NAMES:
        if _starts_with_word(upper, name):
            args = _args(upper[len(name):])
            precision = args[0] if args else None
            scale = args[1] if len(args) > 1 else (0 if args else None)
            return Shape("numeric", raw, precision=precision, scale=scale, unsigned=unsigned)

    for name in sorted(_FLOAT_NAMES, key=len, reverse=True):
        if _starts_with_word(upper, name):
            return Shape("float", raw, unsigned=unsigned)

    for name in _BOOLEAN_NAMES:
        if _starts_with_word(upper, name):
            return Shape("boolean", raw)

    return Shape("other", raw)


def _starts_with_word(text: str, word: str) -> bool:
    if not text.startswith(word):
        return False
    rest = text[len(word):]
    return not rest or not (rest[0].isalnum() or rest[0] == "_")


def _args(rest: str) -> list[int]:
    match = _ARGS.match(rest)
    if not match:
        return []
    numbers = []
    for part in match.group(1).split(","):
        part = part.strip()
        if not part.isdigit():
            return numbers
        numbers.append(int(part))
    return numbers
