"""Small helpers the rule modules share: per-dialect outcomes, examples, migration code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..findings import Finding
from .probe import Probe, TableKey
from .registry import DIALECT_FALLBACKS, NotMeasured

#: SQLAlchemy's own pattern for a bind parameter in text(): ``:name`` not preceded by ':' or a word char.
_BIND = re.compile(r"(?<![:\w\$\x5c]):([\w\$]+)(?![:\w\$])", re.UNICODE)
EXAMPLE_CHARS = 60


@dataclass(frozen=True)
class Outcome:
    """What a dialect does when the migration meets the data: how bad, and in words."""

    severity: str
    says: str


def outcome(table: Mapping[str | None, Outcome | None], probe: Probe) -> Outcome | None:
    """The dialect's entry in ``table`` (``mariadb`` → ``mysql`` → default ``None``)."""
    for candidate in (probe.dialect_name, *DIALECT_FALLBACKS.get(probe.dialect_name, ()), None):
        if candidate in table:
            return table[candidate]
    return None


def key(finding: Finding) -> TableKey:
    return (finding.schema, finding.table)


def split_reference(reference: str, default_schema: str | None = None) -> TableKey:
    """``"schema.table"`` or ``"table"`` as a foreign key spells its target → ``(schema, table)``."""
    if "." in reference:
        schema, table = reference.rsplit(".", 1)
        return schema, table
    return default_schema, reference


def example(value: Any) -> Any:
    """A value fit for evidence and summaries: plain, and short (reports travel; keep them small)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, bytes):
        text = value[:EXAMPLE_CHARS].hex()
        return text + ("…" if len(value) > EXAMPLE_CHARS else "")
    text = str(value)
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "…"


def shown(value: Any) -> str:
    value = example(value)
    return repr(value) if isinstance(value, str) else str(value)


def op_execute(sql: str) -> str:
    """``op.execute("…")`` for ``sql``: a valid Python literal whose colons text() will not read as binds."""
    escaped = _BIND.sub(lambda m: "\\" + m.group(0), sql)
    if "'" in escaped and '"' in escaped and "\\" not in escaped and '"""' not in escaped and not escaped.endswith('"'):
        # Quoted identifiers and string literals together: triple quotes read better than repr's escapes.
        return f'op.execute("""{escaped}""")'
    return f"op.execute({escaped!r})"


def strict_mode(probe: Probe) -> bool | None:
    """Whether MariaDB/MySQL rejects bad data in ALTER TABLE (STRICT_*_TABLES in the global sql_mode).

    The global mode is what a migration's new session starts with; ``None`` when it cannot be read.
    """

    def read() -> bool | None:
        try:
            rows = probe.catalog("SELECT @@GLOBAL.sql_mode")
        except NotMeasured:
            return None
        mode = str(rows[0][0] or "").upper() if rows else ""
        return "STRICT_TRANS_TABLES" in mode or "STRICT_ALL_TABLES" in mode

    return probe.fact("mysql_strict_mode", read)  # type: ignore[no-any-return]


def mysql_bad_data(strict: bool | None, silently: str) -> str:
    """How MariaDB treats values an ALTER cannot keep, in the server's sql_mode."""
    if strict is True:
        return "MariaDB rejects the ALTER (strict sql_mode)"
    if strict is False:
        return f"MariaDB {silently} without an error (sql_mode is not strict)"
    return f"MariaDB rejects the ALTER in strict sql_mode and {silently} otherwise"
