"""Server defaults compared by meaning, per dialect, instead of by spelling.

Alembic compares a server default's text as the database gives it back with
the text the models render, with a few dialect fixes. Equal defaults then
still differ in spelling: MariaDB stores ``now()`` as ``current_timestamp()``,
``false`` as ``0`` and ``'1.5'`` on a DECIMAL(10, 2) as ``1.50``; PostgreSQL
adds ``::character varying`` casts; SQLite keeps ``''`` unparenthesised where
alembic expects parentheses. (On PostgreSQL alembic also runs the two
defaults through the server, which fails on a quote inside a string default.)

This comparator runs before alembic's own server-default comparison (at
``DispatchPriority.FIRST``, after a user's ``compare_server_default``
callable), decides equality itself for plain defaults, and stops the rest of
the comparison for that column:

* both sides are parsed into a canonical expression (:mod:`.sqltext`), with
  function synonyms per dialect (``now()`` = ``CURRENT_TIMESTAMP``);
* a literal is then read as the column's type reads it: a number on a numeric
  column (``'1.50'`` = ``1.5``), a truth value on a boolean one (``false`` =
  ``0`` = ``'f'``);
* an ``Identity()`` in the models is equal to no default on a database that
  has no identity columns (SQLite, MariaDB use autoincrement instead), and
  PostgreSQL's ``nextval(...)`` on a SERIAL key is equal to none.

Anything else that differs — another number, another string, another
function — is still reported, as alembic would.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import AlterColumnOp
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.schema import Column, DefaultClause, Identity, Sequence

from . import sqltext
from ._util import sql_of, type_affinity

log = logging.getLogger(__name__)

Value = Any  # a canonical tree (tuple) or a crude string


# --------------------------------------------------------------------------- reading a default


def _split_on_update(text: str) -> tuple[str, str | None]:
    # SQLAlchemy's MySQL reflection folds ON UPDATE into the default text.
    match = re.match(r"^(.*?)\s+on\s+update\s+(.*)$", text, re.I | re.S)
    if match is None:
        return text, None
    return match.group(1), match.group(2)


def _no_split(text: str) -> tuple[str, str | None]:
    return text, None


#: How a dialect's default text splits into (default, ON UPDATE clause).
SPLITTERS: dict[str, Callable[[str], tuple[str, str | None]]] = {"mysql": _split_on_update}


def _as_number(node: Value) -> Value:
    if isinstance(node, tuple) and node[0] in ("num", "str"):
        try:
            return ("num", sqltext._plain_decimal(Decimal(str(node[1]).strip())))
        except InvalidOperation:
            return node
    return node


_TRUTH = {"1": True, "0": False, "true": True, "false": False, "t": True, "f": False,
          "yes": True, "no": False, "y": True, "n": False, "on": True, "off": False}


def _as_truth(node: Value) -> Value:
    if not isinstance(node, tuple):
        return node
    if node[0] == "bool":
        return node
    if node[0] in ("num", "str"):
        truth = _TRUTH.get(str(node[1]).strip().lower())
        if truth is not None:
            return ("bool", truth)
    return node


def _unchanged(node: Value) -> Value:
    return node


#: How a literal is read, by the column's generic type (first match in order wins).
COERCIONS: list[tuple[type, Callable[[Value], Value]]] = [
    (sqltypes.Boolean, _as_truth),
    (sqltypes.Integer, _as_number),
    (sqltypes.Numeric, _as_number),
    (sqltypes.Float, _as_number),
]


def _coercion(column: Column[Any], dialect: Dialect) -> Callable[[Value], Value]:
    affinity = type_affinity(column.type, dialect)
    for generic, coerce in COERCIONS:
        if affinity is not None and issubclass(affinity, generic):
            return coerce
    return _unchanged


def _read(text: str | None, dialect: str, coerce: Callable[[Value], Value], *, literal: bool) -> Value:
    """A default as a comparable value; ``None`` for no default (or an explicit NULL)."""
    if text is None:
        return None
    if literal:
        # A plain string server_default in the models is a value, not SQL.
        node: Value = ("str", text)
    else:
        node = sqltext.canonical_tree(text, dialect)
    if node == ("null",):
        return None
    return coerce(node)


def _same(a: Value, b: Value) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return sqltext.render(a) == sqltext.render(b)
    return bool(a == b)


def defaults_equal(metadata_default: Any, conn_text: str | None, column: Column[Any], dialect: Dialect) -> bool:
    """Whether a model's server default and the database's default text mean the same thing."""
    coerce = _coercion(column, dialect)
    split = SPLITTERS.get(dialect.name, _no_split)
    literal = isinstance(metadata_default, DefaultClause) and isinstance(metadata_default.arg, str)
    md_text = sql_of(metadata_default.arg, dialect) if isinstance(metadata_default, DefaultClause) else None
    md_main, md_update = split(md_text) if md_text is not None and not literal else (md_text, None)
    conn_main, conn_update = split(conn_text) if conn_text is not None else (None, None)
    if not _same(_read(md_main, dialect.name, coerce, literal=literal),
                 _read(conn_main, dialect.name, coerce, literal=False)):
        return False
    return _same(_read(md_update, dialect.name, _unchanged, literal=False),
                 _read(conn_update, dialect.name, _unchanged, literal=False))


# --------------------------------------------------------------------------- the comparator


_NEXTVAL_RE = re.compile(r"^nextval\('.+'(::regclass)?\)$", re.I)


def _is_serial(column: Column[Any], conn_text: str | None) -> bool:
    # PostgreSQL SERIAL: the sequence default belongs to the key, not to the models.
    return (
        conn_text is not None
        and column.primary_key
        and column.table._autoincrement_column is column
        and _NEXTVAL_RE.match(conn_text.strip()) is not None
    )


def _setup_autoincrement(alter_column_op: AlterColumnOp, metadata_col: Column[Any]) -> None:
    # Stopping this subgroup also skips alembic's own step that records autoincrement for
    # a rendered alter_column(); record it here the same way.
    if metadata_col.table._autoincrement_column is metadata_col or metadata_col.autoincrement is True:
        alter_column_op.kw["autoincrement"] = True
    elif metadata_col.autoincrement is False:
        alter_column_op.kw["autoincrement"] = False


def compare_server_default(
    autogen_context: AutogenContext,
    alter_column_op: AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Column[Any],
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    metadata_default = metadata_col.server_default
    conn_default = conn_col.server_default
    if metadata_default is None and conn_default is None:
        return PriorityDispatchResult.CONTINUE
    dialect = autogen_context.dialect
    assert dialect is not None
    alter_column_op.existing_server_default = conn_default

    if isinstance(metadata_default, (Identity, Sequence)) and conn_default is None \
            and not dialect.supports_identity_columns:
        # SQLAlchemy renders Identity() as AUTOINCREMENT / AUTO_INCREMENT here: nothing to compare.
        _setup_autoincrement(alter_column_op, metadata_col)
        return PriorityDispatchResult.STOP
    plain = (DefaultClause, type(None))
    if not isinstance(metadata_default, plain) or not isinstance(conn_default, plain):
        return PriorityDispatchResult.CONTINUE  # computed and identity: alembic's comparators decide

    conn_text = conn_default.arg.text if conn_default is not None else None  # type: ignore[union-attr]
    if metadata_default is None and _is_serial(metadata_col, conn_text):
        equal = True
    else:
        equal = defaults_equal(metadata_default, conn_text, metadata_col, dialect)
    if not equal:
        alter_column_op.modify_server_default = metadata_default
        log.info("Detected server default on column '%s.%s': %r in the database",
                 tname, cname, conn_text)
    _setup_autoincrement(alter_column_op, metadata_col)
    return PriorityDispatchResult.STOP


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(
        compare_server_default, "column", "server_default", priority=DispatchPriority.FIRST,
    )

