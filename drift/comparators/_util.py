"""Small helpers the comparators share."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Callable, Iterator, Mapping, TypeVar

from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.schema import Constraint, Index
from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R", bound=Callable[[AutogenContext, "str | None"], object])


#: Whole-schema reads comparators make on first use (through :func:`per_schema`), each as
#: ``read(autogen_context, schema)``: :mod:`~drift.comparators.partitions` makes them all before
#: it forks, so that no worker process needs the database.
SCHEMA_READS: list[Callable[[AutogenContext, str | None], object]] = []


def schema_read(read: R) -> R:
    """Register a comparator's whole-schema read in :data:`SCHEMA_READS`."""
    SCHEMA_READS.append(read)
    return read


def per_schema(autogen_context: AutogenContext, what: str, schema: str | None, read: Callable[[], T]) -> T:
    """``read()`` once per schema and comparison, kept in the inspector's cache.

    Comparators run once per table; reading the whole schema each time would
    make a check quadratic in the number of tables (SQLAlchemy caches the
    per-table inspector methods, not the ``get_multi_*`` ones).
    """
    cache = autogen_context.inspector.info_cache
    key = per_schema_key(what, schema)
    if key not in cache:
        cache[key] = read()
    return cache[key]  # type: ignore[no-any-return]


@contextlib.contextmanager
def on_second_session(connection: Any, work: Callable[[Any], T], *, name: str = "drift-second-session") -> Iterator[list[T]]:
    """``work(other)`` in a thread, on a second connection of ``connection``'s engine, while the block runs.

    The engine's sessions are all read-only and time-limited alike. After the
    block the thread has ended and the connection is closed; the yielded list
    then holds the result, or nothing when there was no second connection or
    ``work`` failed (the caller then reads it itself, as it otherwise would).
    """
    done: list[T] = []
    try:
        other = connection.engine.connect()
    except Exception:
        log.debug("no second session", exc_info=True)
        yield done
        return

    def run() -> None:
        try:
            done.append(work(other))
        except BaseException:  # noqa: BLE001 -- the caller reads it itself
            log.debug("the second session's work failed", exc_info=True)

    thread = threading.Thread(target=run, name=name, daemon=True)
    try:
        thread.start()
        yield done
    finally:
        thread.join()
        other.close()


def per_schema_key(what: str, schema: str | None) -> tuple[str, str, str | None]:
    """Where :func:`per_schema` keeps ``what`` of ``schema`` in the inspector's cache."""
    return ("drift", what, schema)


def reflected_names(found: Mapping[K, list[dict[str, Any]]]) -> dict[K, list[dict[str, Any]]]:
    """A private copy of reflected indexes or constraints, names as plain strings.

    SQLAlchemy's reflection can hand back the dicts alembic keeps in its own
    cache, where alembic marks names ``conv`` in place; a marked name renders
    as ``op.f('name')``. drift's ops name what the database holds, as is.
    """
    return {
        key: [{**item, "name": str(item["name"]) if item.get("name") is not None else None} for item in items]
        for key, items in found.items()
    }


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


#: Types whose implementation on some dialect has another generic class than their own.
_IMPLEMENTED_ANOTHER_WAY = (TypeDecorator, sqltypes.Enum, sqltypes.MatchType)


def plain_type(type_: Any) -> bool:
    """Whether ``type_`` stands for itself on every dialect (no decorator, variant or dialect-made enum).

    Its dialect implementation (``dialect_impl``, an ``adapt()`` per type
    instance: each model column has its own) then has the same class family
    and the same options as the type itself.
    """
    return not isinstance(type_, _IMPLEMENTED_ANOTHER_WAY) and not getattr(type_, "_variant_mapping", None)


def type_affinity(type_: Any, dialect: Dialect) -> type | None:
    """The generic type class a (possibly variant or decorated) type stands for on ``dialect``."""
    if plain_type(type_):
        # A plain type's dialect implementation keeps its generic class (tests/test_comparators.py
        # checks every SQLAlchemy type on every dialect): no need to look it up.
        affinity = getattr(type_, "_type_affinity", None)
        if affinity is not None:
            return affinity  # type: ignore[no-any-return]
    try:
        impl = type_.dialect_impl(dialect)
    except Exception:  # an odd user type: the generic affinity is still a good answer
        impl = type_
    return getattr(impl, "_type_affinity", None) or getattr(type_, "_type_affinity", None)
