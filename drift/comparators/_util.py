"""Small helpers the comparators share."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.schema import Constraint, Index


def dialect_name(autogen_context: AutogenContext) -> str:
    return autogen_context.dialect.name if autogen_context.dialect is not None else "default"


def final_name(obj: Constraint | Index, dialect: Dialect) -> str | None:
    """The name the database will hold for ``obj`` (naming conventions and truncation applied)."""
    if obj.name is None:
        return None
    # SQLAlchemy's preparer takes this flag for alembic: the bare final name, unquoted.
    name = dialect.identifier_preparer.format_constraint(obj, _alembic_quote=False)
    return str(name) if name is not None else None


def sql_of(expr: Any, dialect: Dialect) -> str:
    """A metadata-side SQL expression (text, clause or string) as ``dialect`` would write it."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, ClauseElement):
        return str(expr.compile(dialect=dialect, compile_kwargs={"literal_binds": True, "include_table": False}))
    return str(expr)


def type_affinity(type_: Any, dialect: Dialect) -> type | None:
    """The generic type class a (possibly variant or decorated) type stands for on ``dialect``."""
    try:
        impl = type_.dialect_impl(dialect)
    except Exception:  # an odd user type: the generic affinity is still a good answer
        impl = type_
    return getattr(impl, "_type_affinity", None) or getattr(type_, "_type_affinity", None)
