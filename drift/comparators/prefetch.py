"""Reflection in a fixed number of round trips: what alembic would ask table by table, asked once.

Alembic 1.20 already reads most of the schema in bulk (``pre_cache_tables``
calls the inspector's ``get_multi_*`` methods once per schema). Some lookups
remain per table or per column, and over a network each is a round trip:

* **PostgreSQL**: for every integer column whose default is ``nextval(...)``,
  alembic's ``PostgresqlImpl.autogen_column_reflect`` asks which column owns
  the sequence (a SERIAL's default is not a difference). Here the owners of
  every sequence are read in one query, the first time a ``nextval`` default
  is reflected, and each column is answered from that map with alembic's own
  rule. A sequence the map does not know is still asked alembic's way.
* **MariaDB / MySQL**: SQLAlchemy has no bulk reflection there; every table
  costs a ``SHOW CREATE TABLE``. Here they are sent together, many
  statements in one round trip (PyMySQL with the ``MULTI_STATEMENTS`` client
  flag, which :mod:`drift.connect` sets), each answer kept where SQLAlchemy's
  reflection cache looks for it and parsed by SQLAlchemy's own
  table-definition parser when first asked for. A connection without the
  flag, another driver, a view, or an error part-way (a table dropped
  meanwhile) leaves the rest to SQLAlchemy's table-by-table path, unchanged.
  On a large MariaDB schema the check-constraint catalogue, which makes the
  server open every table, is read meanwhile on a second read-only session.
* **SQLite**: no round trips, but SQLAlchemy runs about eight PRAGMAs per
  table and scans all of ``sqlite_master`` up to three times per table;
  :func:`sqlite_read_in_bulk` (used by :func:`drift.compare.compare`) reads
  each PRAGMA's answers for all tables in one query, and ``sqlite_master``
  once.

Either way SQLAlchemy reflects and alembic compares exactly as before; only
where the answers come from changes. ``tests/test_prefetch.py`` proves the
reflection equal to SQLAlchemy's own on the accuracy corpus, on every dialect,
and counts the statements.

The plugin (``drift.prefetch``) runs first among the schema-level comparators,
before alembic's ``tables`` comparator reflects anything.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from typing import Any, Callable, Iterator, Sequence

from alembic.autogenerate.api import AutogenContext
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import BIGINT, INTEGER
from sqlalchemy.engine import Connection, Inspector
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import quoted_name

from ..connect import MULTI_STATEMENTS
from . import checks
from ._util import on_second_session, per_schema, per_schema_key, schema_read

log = logging.getLogger(__name__)

#: Upper bound on one multi-statement batch, well under every server's default ``max_allowed_packet``.
BATCH_BYTES = 512 * 1024

_NEXTVAL = re.compile(r"nextval\('(.+?)'::regclass\)")  # alembic's own pattern

# The owning column of every sequence, keyed as nextval() defaults spell the sequence (regclass text
# under the session's search_path). Alembic's per-column query, without its WHERE on one sequence.
_SEQUENCE_OWNERS = text(
    "select c.oid::regclass::text as seqname, a.attname "
    "from pg_class as c "
    "left join pg_depend d on d.objid=c.oid and "
    "d.classid='pg_class'::regclass and d.refclassid='pg_class'::regclass "
    "left join pg_class t on t.oid=d.refobjid "
    "left join pg_attribute a on a.attrelid=t.oid and a.attnum=d.refobjsubid "
    "where c.relkind='S'"
)


def prefetch(autogen_context: AutogenContext, upgrade_ops: Any, schemas: set[str | None]) -> PriorityDispatchResult:
    """Schema-level comparator: prepare the inspector alembic is about to reflect with."""
    connection = autogen_context.connection
    dialect = autogen_context.dialect
    if connection is None or dialect is None:
        return PriorityDispatchResult.CONTINUE
    inspector = autogen_context.inspector
    share_bulk_reads(inspector)
    if dialect.name == "postgresql":
        answer_serial_lookups(autogen_context.migration_context.impl, inspector)
    elif dialect.name in ("mysql", "mariadb"):
        for schema in sorted(schemas, key=lambda s: s or ""):
            _create_tables_and_checks(autogen_context, schema)
    return PriorityDispatchResult.CONTINUE


#: From this many tables on, MariaDB's check-constraint catalogue is read on a second session while
#: the ``SHOW CREATE TABLE`` batch runs: the server opens every table for it (a third of a second at
#: 10,000 tables).
SECOND_SESSION_TABLES = 300


def _create_tables_and_checks(autogen_context: AutogenContext, schema: str | None) -> None:
    inspector = autogen_context.inspector
    if (not getattr(autogen_context.dialect, "is_mariadb", False)
            or per_schema_key(checks.MARIADB_CHECKS, schema) in inspector.info_cache
            or len(inspector.get_table_names(schema=schema)) < SECOND_SESSION_TABLES):
        prefetch_create_tables(inspector, schema)
        return
    with on_second_session(autogen_context.connection, lambda other: checks.read_mariadb_checks(other, schema),
                           name="drift-checks-read") as read:
        prefetch_create_tables(inspector, schema)
    for found in read:  # else drift.checks reads them on this session, when it first needs them
        per_schema(autogen_context, checks.MARIADB_CHECKS, schema, lambda: found)


# --------------------------------------------------------------------------- every dialect

#: The inspector's bulk methods that alembic (``pre_cache_tables``) and drift's comparators both call.
SHARED_BULK_READS = (
    "get_multi_columns", "get_multi_pk_constraint", "get_multi_foreign_keys", "get_multi_indexes",
    "get_multi_unique_constraints", "get_multi_check_constraints", "get_multi_table_comment",
    "get_multi_table_options",
)


def share_bulk_reads(inspector: Inspector) -> None:
    """One whole-schema read per bulk method and schema, however many comparators ask for it.

    SQLAlchemy caches the per-table inspector methods but not the ``get_multi_*``
    ones, so alembic reading every index of the schema and drift's predicate
    comparator doing the same would be two catalog queries and twice the work.
    Only whole-schema reads (no ``filter_names``) are shared; the rest pass through.
    """
    cache = inspector.info_cache
    if cache.get(("drift", "shared_bulk_reads")):
        return
    cache[("drift", "shared_bulk_reads")] = True
    for name in SHARED_BULK_READS:
        setattr(inspector, name, _shared_read(inspector, name, getattr(inspector, name)))


def _shared_read(inspector: Inspector, name: str, read: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(read)
    def shared(schema: str | None = None, filter_names: Any = None, **kw: Any) -> Any:
        if filter_names is not None:
            return read(schema=schema, filter_names=filter_names, **kw)
        cache = inspector.info_cache
        key = ("drift", name, schema, tuple(sorted(kw.items(), key=lambda item: item[0])))
        if key not in cache:
            cache[key] = read(schema=schema, **kw)
        return cache[key]

    return shared


# --------------------------------------------------------------------------- PostgreSQL


def answer_serial_lookups(impl: Any, inspector: Inspector) -> None:
    """Make ``impl``'s SERIAL check answer from one bulk query instead of one query per column."""
    original = impl.autogen_column_reflect
    if getattr(original, "drift_prefetched", False):
        return

    @functools.wraps(original)
    def autogen_column_reflect(inspector_: Inspector, table: Any, column_info: dict[str, Any]) -> None:
        default = column_info.get("default")
        match = _NEXTVAL.match(default) if default and _is_integer(column_info["type"]) else None
        if match is not None:
            owners = sequence_owners(inspector)
            seqname = match.group(1)
            if seqname in owners:
                # Alembic's rule: the sequence is owned by a column of this name, so it is a SERIAL.
                if owners[seqname] is not None and owners[seqname] == column_info["name"]:
                    log.info("Detected sequence named '%s' as owned by integer column '%s(%s)', "
                             "assuming SERIAL and omitting", seqname, table.name, column_info["name"])
                    del column_info["default"]
                return
        original(inspector_, table, column_info)

    autogen_column_reflect.drift_prefetched = True  # type: ignore[attr-defined]
    impl.autogen_column_reflect = autogen_column_reflect


def sequence_owners(inspector: Inspector) -> dict[str, str | None]:
    """The owning column of every sequence, read once per comparison (on first use)."""
    key = ("drift", "sequence_owners")
    if key not in inspector.info_cache:
        owners: dict[str, str | None] = {}
        for seqname, attname in inspector.bind.execute(_SEQUENCE_OWNERS):
            if owners.get(seqname) is None:  # alembic takes the first owning row
                owners[seqname] = attname
        inspector.info_cache[key] = owners
    return inspector.info_cache[key]  # type: ignore[no-any-return]


@schema_read
def _read_sequence_owners(autogen_context: AutogenContext, schema: str | None) -> None:
    if autogen_context.dialect is not None and autogen_context.dialect.name == "postgresql":
        sequence_owners(autogen_context.inspector)


def _is_integer(type_: Any) -> bool:
    return isinstance(type_, (INTEGER, BIGINT))  # the types alembic checks


# --------------------------------------------------------------------------- SQLite


#: The per-table PRAGMAs of SQLAlchemy's SQLite reflection, each with what its argument names.
BULK_PRAGMAS = {
    "table_info": ("table", "view"),
    "table_xinfo": ("table", "view"),
    "index_list": ("table", "view"),
    "foreign_key_list": ("table", "view"),
    "index_info": ("index",),
}

Rows = dict[str, list[tuple[Any, ...]]]

#: SQLite finds a name whatever the case of its ASCII letters (and only theirs).
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@contextlib.contextmanager
def sqlite_read_in_bulk(connection: Connection) -> Iterator[None]:
    """SQLite: every table's ``CREATE`` text, and each PRAGMA's rows for every table, in one query each, meanwhile.

    SQLAlchemy reflects a SQLite table with a PRAGMA per kind of thing
    (columns, indexes, each index's columns, foreign keys), run on ``main``
    then ``temp`` where the first answers nothing: about eight statements a
    table, each prepared anew, and slower the larger the schema. It also reads
    a table's ``CREATE`` statement up to three times (primary key, foreign
    keys, options), twice without its cache, each read a scan of all of
    ``sqlite_master``: quadratic in the number of tables. Here the first
    question of each kind about a schema reads the answers for all its
    objects at once (the PRAGMA's table-valued function joined with
    ``sqlite_master``), and every question is answered as SQLAlchemy's own
    read would answer it; a name the bulk read does not hold, or a bulk read
    that fails (an old SQLite, a view that no longer compiles), is left to
    SQLAlchemy's own read (and its error). The engine's dialect is drift's
    own, and the overrides are removed when the block ends.
    """
    dialect = connection.dialect
    original_sql = getattr(dialect, "_get_table_sql", None)
    original_pragma = getattr(dialect, "_get_table_pragma", None)
    if (dialect.name != "sqlite" or original_sql is None or original_pragma is None
            or "_get_table_sql" in vars(dialect) or "_get_table_pragma" in vars(dialect)):
        yield
        return
    reads = SQLiteBulkReads(original_sql, original_pragma)
    dialect._get_table_sql = reads.table_sql  # type: ignore[attr-defined]
    dialect._get_table_pragma = reads.table_pragma  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del dialect._get_table_sql  # type: ignore[attr-defined]
        del dialect._get_table_pragma  # type: ignore[attr-defined]


def sqlite_bulk_reads(connection: Connection) -> SQLiteBulkReads | None:
    """The bulk reads answering ``connection``'s SQLite reflection now (:func:`sqlite_read_in_bulk`), if any."""
    method = vars(connection.dialect).get("_get_table_pragma")
    reads = getattr(method, "__self__", None)
    return reads if isinstance(reads, SQLiteBulkReads) else None


class SQLiteBulkReads:
    """What :func:`sqlite_read_in_bulk` has read, and the dialect methods that answer from it."""

    def __init__(self, original_sql: Callable[..., Any], original_pragma: Callable[..., Any]) -> None:
        self.original_sql = original_sql
        self.original_pragma = original_pragma
        self.texts: dict[str | None, dict[str, str | None]] = {}
        self.pragmas: dict[tuple[str, str], Rows | None] = {}

    def table_sql(self, conn: Connection, table_name: str, schema: str | None = None, **kw: Any) -> Any:
        found = self._texts(conn, schema)
        if table_name in found:
            return found[table_name]
        return self.original_sql(conn, table_name, schema=schema, **kw)

    def table_pragma(self, conn: Connection, pragma: str, table_name: str, schema: str | None = None) -> Any:
        if pragma in BULK_PRAGMAS:
            # SQLAlchemy's order: the schema named, else main, then temp if main answered nothing.
            answers = [self._rows(conn, pragma, database) for database in _databases(schema)]
            key = table_name.translate(_ASCII_FOLD)
            if None not in answers and any(key in rows for rows in answers):
                return next((rows[key] for rows in answers if rows.get(key)), [])
        return self.original_pragma(conn, pragma, table_name, schema=schema)

    def read_all(self, conn: Connection, schema: str | None, info_cache: dict[Any, Any]) -> bool:
        """Read everything ``schema``'s tables' reflection needs now; whether every bulk read succeeded.

        SQLAlchemy reads a partial index's ``CREATE INDEX`` text with a query of
        its own, from ``get_indexes``: for each table with one, that is called
        here as reflection calls it (alone, and for unique constraints with
        the automatic indexes), into the inspector's cache ``info_cache``.
        """
        texts = self._texts(conn, schema)
        if None in [self._rows(conn, pragma, database) for pragma in BULK_PRAGMAS for database in _databases(schema)]:
            return False
        folded = {name.translate(_ASCII_FOLD): name for name in texts}
        for database in _databases(schema):
            for key, rows in (self.pragmas[("index_list", database)] or {}).items():
                if key in folded and any(len(row) >= 5 and row[4] for row in rows):
                    for extra in ({}, {"include_auto_indexes": True}):
                        conn.dialect.get_indexes(conn, folded[key], schema=schema, **extra, info_cache=info_cache)
        return True

    def _texts(self, conn: Connection, schema: str | None) -> dict[str, str | None]:
        if schema not in self.texts:
            self.texts[schema] = _all_table_sql(conn, schema)
        return self.texts[schema]

    def _rows(self, conn: Connection, pragma: str, database: str) -> Rows | None:
        if (pragma, database) not in self.pragmas:
            self.pragmas[(pragma, database)] = _all_pragma_rows(conn, pragma, database)
        return self.pragmas[(pragma, database)]


def _databases(schema: str | None) -> tuple[str, ...]:
    return (schema,) if schema is not None else ("main", "temp")


def _all_table_sql(connection: Connection, schema: str | None) -> dict[str, str | None]:
    """name → ``CREATE`` text, as SQLAlchemy's ``_get_table_sql`` reads it for one name (first row wins)."""
    prefix = f"{connection.dialect.identifier_preparer.quote_identifier(schema)}." if schema else ""
    queries = (
        f"SELECT name, sql FROM (SELECT * FROM {prefix}sqlite_master UNION ALL "
        f"SELECT * FROM {prefix}sqlite_temp_master) WHERE type in ('table', 'view')",
        f"SELECT name, sql FROM {prefix}sqlite_master WHERE type in ('table', 'view')",
    )
    for query in queries:
        try:
            rows = connection.exec_driver_sql(query).all()
        except DBAPIError:
            continue
        found: dict[str, str | None] = {}
        for name, sql in rows:
            found.setdefault(name, sql)
        return found
    return {}


def _all_pragma_rows(connection: Connection, pragma: str, database: str) -> Rows | None:
    """name → the rows ``PRAGMA database.pragma(name)`` returns, for every object it applies to; None if unread.

    Every object of the kinds the PRAGMA takes is a key, with no rows where
    the PRAGMA has none (a table without indexes): a name that is not a key is
    not there at all. Names are keyed as SQLite matches them, ASCII letters
    folded to lower case (one database cannot hold two names that differ so).
    """
    kinds = ", ".join(f"'{kind}'" for kind in BULK_PRAGMAS[pragma])
    query = (
        f"SELECT m.name, p.* FROM {connection.dialect.identifier_preparer.quote_identifier(database)}.sqlite_master"
        f" AS m LEFT JOIN pragma_{pragma}(m.name, ?) AS p WHERE m.type IN ({kinds})"
    )
    try:
        result = connection.exec_driver_sql(query, (database,)).all()
    except DBAPIError:
        return None
    found: Rows = {}
    for row in result:
        rows = found.setdefault(row[0].translate(_ASCII_FOLD), [])
        if row[1] is not None:  # the PRAGMA's first column (a position or an id) is never NULL
            rows.append(tuple(row[1:]))
    return found


# --------------------------------------------------------------------------- MariaDB / MySQL


def multi_statements(connection: Connection) -> bool:
    """Whether this PyMySQL connection may send several statements at once."""
    if connection.dialect.driver != "pymysql":
        return False
    dbapi_connection = connection.connection.dbapi_connection
    return bool(getattr(dbapi_connection, "client_flag", 0) & MULTI_STATEMENTS)


def prefetch_create_tables(inspector: Inspector, schema: str | None) -> int:
    """Fill SQLAlchemy's reflection cache with every table's ``SHOW CREATE TABLE``; how many.

    Each text is parsed when SQLAlchemy first asks for it (:class:`ParseWhenAsked`).

    Sends the statements in batches of up to :data:`BATCH_BYTES` (one round
    trip each: a single one up to some twenty thousand tables).
    """
    connection = inspector.bind
    if not isinstance(connection, Connection) or not multi_statements(connection):
        return 0
    dialect = connection.dialect
    cache = _parse_when_asked(inspector)
    names = [n for n in inspector.get_table_names(schema=schema) if _parser_key(n, schema) not in cache]
    preparer = dialect.identifier_preparer
    parser = dialect._tabledef_parser  # type: ignore[attr-defined]
    done = 0
    for batch in _batches(names, schema, preparer.quote_identifier):
        statements = [sql for _, sql in batch]
        try:
            for (name, _), definition in zip(batch, _show_create(connection, statements)):
                if parser._check_view(definition):
                    continue  # SQLAlchemy describes views another way; it will
                cache.keep(name, schema, definition)
                done += 1
        except dialect.loaded_dbapi.Error as exc:  # type: ignore[attr-defined]
            # A table dropped since it was listed, a timeout...: SQLAlchemy's own path takes the rest
            # and reports it the way it always does.
            log.debug("bulk SHOW CREATE TABLE stopped: %s", exc)
            break
    log.debug("prefetched %d table definitions in schema %s", done, schema or "(default)")
    return done


class ParseWhenAsked(dict):  # type: ignore[type-arg]
    """An inspector's reflection cache that also holds tables' ``SHOW CREATE TABLE`` text.

    A table's text is parsed (by SQLAlchemy's parser) the first time
    SQLAlchemy looks for its parsed form — in whichever process reflects the
    table: a forked compare worker parses only the tables it compares
    (:mod:`.partitions`). The text stays: a parsed definition dropped from the
    cache is parsed again when next asked for.
    """

    def __init__(self, cache: dict[Any, Any], parse: Callable[[str], Any]) -> None:
        super().__init__(cache)
        self.texts: dict[Any, str] = {}
        #: The key SQLAlchemy uses when it reflects a ``Table`` (whose name is a ``quoted_name``)
        #: → the key the text is kept under (the names as listed, plain strings).
        self.aliases: dict[Any, Any] = {}
        self.parse = parse

    def keep(self, name: str, schema: str | None, text: str) -> None:
        key = _parser_key(name, schema)
        self.texts[key] = text
        quoted = _parser_key(quoted_name(name, None), None if schema is None else quoted_name(schema, None))
        if quoted != key:
            self.aliases[quoted] = key

    def _parsed(self, key: Any) -> None:
        kept = self.aliases.get(key, key)
        if kept in self.texts and not dict.__contains__(self, kept):
            self[kept] = self.parse(self.texts[kept])
        if kept is not key and not dict.__contains__(self, key) and dict.__contains__(self, kept):
            self[key] = dict.__getitem__(self, kept)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.texts or key in self.aliases

    def __missing__(self, key: Any) -> Any:
        if key not in self.texts and key not in self.aliases:
            raise KeyError(key)
        self._parsed(key)
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._parsed(key)
        return dict.get(self, key, default)

    def clear(self) -> None:
        self.texts.clear()
        self.aliases.clear()
        super().clear()


def _parse_when_asked(inspector: Inspector) -> ParseWhenAsked:
    if not isinstance(inspector.info_cache, ParseWhenAsked):
        dialect = inspector.dialect
        parser = dialect._tabledef_parser  # type: ignore[attr-defined]
        charset = dialect._connection_charset  # type: ignore[attr-defined]
        inspector.info_cache = ParseWhenAsked(inspector.info_cache, lambda text: parser.parse(text, charset))
    return inspector.info_cache


def _batches(names: Sequence[str], schema: str | None,
             quote: Callable[[str], str]) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    size = 0
    for name in names:
        full = ".".join(quote(part) for part in (schema, name) if part is not None)
        sql = f"SHOW CREATE TABLE {full}"
        if batch and size + len(sql) + 1 > BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append((name, sql))
        size += len(sql.encode("utf-8")) + 1
    if batch:
        yield batch


def _show_create(connection: Connection, statements: Sequence[str]) -> Iterator[str]:
    """Each statement's ``Create Table`` text, from one multi-statement round trip."""
    # Sent as SQLAlchemy sends its own SHOW CREATE TABLE: the driver's format-style pass turns the
    # preparer's doubled '%' in a name back into one.
    result = connection.execution_options(skip_user_error_events=True).exec_driver_sql(";\n".join(statements))
    cursor = result.cursor
    try:
        for index in range(len(statements)):
            if index and not cursor.nextset():
                return
            row = cursor.fetchone()
            if row is None:
                return
            yield str(row[1]).strip()
    finally:
        result.close()  # reads and discards any result sets left


def _parser_key(name: str, schema: str | None) -> tuple[Any, ...]:
    """The key under which SQLAlchemy's ``@reflection.cache`` keeps ``_setup_parser(conn, name, schema)``.

    Its decorator hands ``schema`` on as a keyword, so the key is the name among
    the arguments and ``schema`` among the keywords. Were it ever to change,
    nothing would be wrong, only slower: SQLAlchemy would ask table by table
    again (and ``tests/test_prefetch.py`` would say so by counting statements).
    """

    def plain(value: Any) -> Any:
        return (str(value), value.quote) if isinstance(value, quoted_name) else value

    return ("_setup_parser", (plain(name),), (("schema", plain(schema)),))


def setup(plugin: Plugin) -> None:
    plugin.add_autogenerate_comparator(prefetch, "schema", "prefetch", priority=DispatchPriority.FIRST)
