"""The fast path (drift.comparators.prefetch) reflects exactly what SQLAlchemy does, in a fixed number of statements.

Three proofs, on every dialect:

* per table and per reflection method, an inspector the fast path prepared
  answers exactly as a plain SQLAlchemy inspector does, on the accuracy corpus;
* the whole comparison — findings and the migration code — is the same with
  the ``drift.prefetch`` plugin as without it, on the corpus with planted
  changes;
* the number of statements a comparison sends does not grow with the number
  of tables (PostgreSQL and MariaDB), and alembic's SERIAL rule gives the same
  answer from the bulk map as from its own query, on the awkward cases.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

import corpus
import dbs
from scenarios import build
from drift.compare import compare
from drift.comparators import prefetch
from drift.config import Environment
from drift.connect import connect

pytestmark = [
    pytest.mark.filterwarnings("ignore:Did not recognize type 'point':sqlalchemy.exc.SAWarning"),
    pytest.mark.filterwarnings("ignore:Computed default on .* cannot be modified:UserWarning"),
]

#: Every per-table reflection method alembic's comparison relies on.
METHODS = (
    "get_columns", "get_pk_constraint", "get_foreign_keys", "get_indexes",
    "get_unique_constraints", "get_check_constraints", "get_table_comment", "get_table_options",
)

WITHOUT_PREFETCH = ["alembic.autogenerate.*", "drift.*", "~drift.prefetch"]

server = pytest.mark.parametrize(
    "dialect",
    [pytest.param("postgresql", marks=pytest.mark.postgresql), pytest.param("mysql", marks=pytest.mark.mysql)],
)


def _plain(value: Any) -> Any:
    """Reflected data in a comparable form (type objects compare by identity, so by their repr)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, sa.types.TypeEngine):
        return repr(value)
    if isinstance(value, sa.sql.ClauseElement):
        return ("sql", str(value))
    if isinstance(value, str):
        return str(value)
    return value


def _reflect_bulk(inspector: sa.Inspector) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for method in METHODS:
        try:
            found[method] = _plain(getattr(inspector, f"get_multi_{method[4:]}")())
        except NotImplementedError:
            found[method] = "not implemented"
    return found


def _reflect_each(inspector: sa.Inspector, tables: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for table in tables:
        for method in METHODS:
            try:
                found[f"{table}.{method}"] = _plain(getattr(inspector, method)(table))
            except NotImplementedError:
                found[f"{table}.{method}"] = "not implemented"
            except sa.exc.NoSuchTableError:  # an answer too: the fast path must give the same
                found[f"{table}.{method}"] = "no such table"
    return found


@contextlib.contextmanager
def _drift_connection(url: sa.URL) -> Iterator[sa.Connection]:
    """The connection drift itself checks with: read-only, and on MariaDB with multi-statement batches."""
    with connect(Environment(name="t", url=url)) as conn:
        yield conn


@pytest.fixture
def corpus_url(dialect: str, tmp_path: Path) -> Iterator[sa.URL]:
    with dbs.temp_database(dialect, tmp_path) as url:
        corpus.create(url, dialect)
        yield url


# --------------------------------------------------------------------------- the same answers


def test_prepared_inspector_reflects_what_sqlalchemy_does(dialect: str, corpus_url: sa.URL) -> None:
    with _drift_connection(corpus_url) as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        assert len(tables) >= 8
        expected = _reflect_each(sa.inspect(conn), tables)
        expected_bulk = _reflect_bulk(sa.inspect(conn))

        inspector = sa.inspect(conn)
        prefetch.share_bulk_reads(inspector)
        prepared = prefetch.prefetch_create_tables(inspector, None)
        with dbs.recording(conn) as sent, prefetch.sqlite_read_in_bulk(conn):
            got = _reflect_each(inspector, tables)
            got_bulk = _reflect_bulk(inspector)
        assert "_get_table_sql" not in vars(conn.dialect)  # the override ends with the block

    assert got == expected
    assert got_bulk == expected_bulk
    # SQLite: the CREATE texts come from one read of sqlite_master, not up to three per table, and each
    # PRAGMA's rows from one query per database (main, temp), not one or two per table.
    master_reads = [s for s in sent if "type in ('table', 'view')" in s]
    assert len(master_reads) == (1 if dialect == "sqlite" else 0)
    if dialect == "sqlite":
        assert not [s for s in sent if s.startswith("PRAGMA")]
        bulk_pragmas = [s for s in sent if "JOIN pragma_" in s]
        assert 0 < len(bulk_pragmas) <= 2 * len(prefetch.BULK_PRAGMAS)
    if dialect == "mysql":
        assert prepared == len(tables)
        # Every table definition came from the batch: none was asked for again.
        assert not [s for s in sent if s.startswith("SHOW CREATE TABLE")]
    else:
        assert prepared == 0  # nothing to batch: SQLAlchemy reads these dialects in bulk already


def _planted(dialect: str) -> sa.MetaData:
    """The corpus models with a change of each broad kind: column, type, default, index, table."""
    md = corpus.build(dialect)
    defaults = md.tables["defaults"]
    defaults.append_column(sa.Column("planted_new", sa.Integer, nullable=True))
    first = next(c for c in defaults.columns if c.server_default is not None and not c.primary_key)
    first.server_default = sa.DefaultClause(sa.text("42")) if isinstance(first.type, sa.Integer) else None
    indexes = md.tables["indexes"]
    sa.Index("ix_planted", *list(indexes.columns)[1:2], _table=indexes)
    sa.Table("planted_table", md, sa.Column("id", sa.Integer, primary_key=True))
    return md


def test_comparison_is_the_same_with_and_without_the_fast_path(dialect: str, corpus_url: sa.URL) -> None:
    with _drift_connection(corpus_url) as conn:
        with dbs.recording(conn) as fast_sent:
            fast = compare(conn, _planted(dialect))
        conn.rollback()
        with dbs.recording(conn) as slow_sent:
            slow = compare(conn, _planted(dialect), autogenerate_plugins=WITHOUT_PREFETCH)

    assert fast.findings  # the planted changes are there, so the comparison compared something
    assert [f.to_dict() for f in fast.findings] == [f.to_dict() for f in slow.findings]
    assert fast.upgrade_code == slow.upgrade_code
    assert fast.downgrade_code == slow.downgrade_code
    assert len(fast_sent) <= len(slow_sent)


def test_round_trip_stays_clean_on_the_fast_path(dialect: str, corpus_url: sa.URL) -> None:
    with _drift_connection(corpus_url) as conn:
        assert compare(conn, corpus.build(dialect)).findings == ()


# --------------------------------------------------------------------------- a fixed number of statements


def _schema(tables: int) -> sa.MetaData:
    """``tables`` tables of the shapes that cost alembic a statement each: SERIAL keys, FKs, checks."""
    md = sa.MetaData()
    for i in range(tables):
        columns: list[Any] = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("code", sa.String(20), nullable=False, unique=True),
            sa.Column("amount", sa.Numeric(10, 2), server_default="0", comment="money"),
            sa.Column("created", sa.DateTime, server_default=sa.func.current_timestamp()),
            sa.CheckConstraint("amount >= 0", name=f"ck_t{i}_amount"),
        ]
        if i:
            columns.append(sa.Column("parent_id", sa.Integer, sa.ForeignKey(f"t{i - 1}.id"), index=True))
        sa.Table(f"t{i}", md, *columns, comment=f"table {i}")
    return md


def _statements_for(dialect: str, tmp_path: Path, tables: int) -> list[str]:
    with dbs.temp_database(dialect, tmp_path) as url:
        md = _schema(tables)
        build(url, md)
        models = _schema(tables)
        models.tables["t0"].append_column(sa.Column("planted", sa.Integer))  # one difference, always the same
        with _drift_connection(url) as conn, dbs.recording(conn) as sent:
            comparison = compare(conn, models)
        assert [f.kind for f in comparison.findings] == ["add_column"]
        return sent


@server
def test_statements_do_not_grow_with_the_tables(dialect: str, tmp_path: Path) -> None:
    few = _statements_for(dialect, tmp_path, 3)
    many = _statements_for(dialect, tmp_path, 40)
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= 20


@pytest.fixture
def corpus_mysql(tmp_path: Path) -> Iterator[sa.URL]:
    with dbs.temp_database("mysql", tmp_path) as url:
        build(url, corpus.build("mysql"))
        yield url


@pytest.mark.mysql
def test_batches_split_by_size_give_the_same_answers(corpus_mysql: sa.URL, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefetch, "BATCH_BYTES", 200)
    with _drift_connection(corpus_mysql) as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        expected = _reflect_each(sa.inspect(conn), tables)
        inspector = sa.inspect(conn)
        with dbs.recording(conn) as sent:
            assert prefetch.prefetch_create_tables(inspector, None) == len(tables)
        assert len(sent) > 2  # several batches (and the table list)
        assert _reflect_each(inspector, tables) == expected


@pytest.mark.mysql
def test_without_multi_statements_sqlalchemy_reflects_table_by_table(corpus_mysql: sa.URL) -> None:
    engine = sa.create_engine(corpus_mysql, poolclass=NullPool)  # SQLAlchemy's own flags only
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert not prefetch.multi_statements(conn)
            assert prefetch.prefetch_create_tables(inspector, None) == 0
            tables = sorted(inspector.get_table_names())
            assert _reflect_each(inspector, tables) == _reflect_each(sa.inspect(conn), tables)
    finally:
        engine.dispose()


@pytest.mark.mysql
def test_a_table_dropped_meanwhile_leaves_the_rest_to_sqlalchemy(corpus_mysql: sa.URL) -> None:
    admin = sa.create_engine(corpus_mysql, poolclass=NullPool)
    try:
        with _drift_connection(corpus_mysql) as conn:
            inspector = sa.inspect(conn)
            tables = sorted(inspector.get_table_names())  # listed (and cached) before the drop
            victim = tables[len(tables) // 2]
            with admin.begin() as other:
                other.exec_driver_sql(f"DROP TABLE `{victim}`")
            done = prefetch.prefetch_create_tables(inspector, None)
            assert done == tables.index(victim)  # the batch stops at the first error, nothing is raised
            with pytest.raises(sa.exc.NoSuchTableError):
                inspector.get_columns(victim)  # SQLAlchemy's own path says what it always says
            survivor = tables[-1]
            assert _plain(inspector.get_columns(survivor)) == _plain(sa.inspect(conn).get_columns(survivor))
    finally:
        admin.dispose()


# --------------------------------------------------------------------------- PostgreSQL SERIAL


SERIAL_CASES = """
CREATE SCHEMA other;
CREATE TABLE plain (id SERIAL PRIMARY KEY, big BIGSERIAL);
CREATE TABLE "Mixed Case" ("Id" SERIAL PRIMARY KEY);
CREATE TABLE other.elsewhere (id SERIAL PRIMARY KEY);
CREATE SEQUENCE free_seq;
CREATE TABLE unowned (id INTEGER PRIMARY KEY DEFAULT nextval('free_seq'));
CREATE TABLE borrower (id INTEGER PRIMARY KEY DEFAULT nextval('plain_id_seq'), n INTEGER DEFAULT nextval('plain_id_seq'));
CREATE SEQUENCE small_seq;
CREATE TABLE smallish (id SMALLINT PRIMARY KEY DEFAULT nextval('small_seq'));
CREATE TABLE "Other Owner" (id SERIAL PRIMARY KEY, ref INTEGER);
CREATE SEQUENCE lent_seq OWNED BY "Other Owner".ref;
CREATE TABLE lender (ref INTEGER DEFAULT nextval('lent_seq'), x INTEGER DEFAULT nextval('lent_seq'));
"""


@pytest.mark.postgresql
def test_serial_answers_match_alembics_own_query(tmp_path: Path) -> None:
    from alembic.ddl.postgresql import PostgresqlImpl
    from alembic.runtime.migration import MigrationContext

    with dbs.temp_database("postgresql", tmp_path) as url:
        engine = sa.create_engine(url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                for statement in filter(None, (s.strip() for s in SERIAL_CASES.split(";"))):
                    conn.exec_driver_sql(statement)
        finally:
            engine.dispose()
        with _drift_connection(url) as conn:
            tables = [(None, t) for t in sa.inspect(conn).get_table_names()] + [("other", "elsewhere")]
            plain_inspector = sa.inspect(conn)
            columns = [(schema, t, c) for schema, t in tables for c in plain_inspector.get_columns(t, schema=schema)]
            with_nextval = [c for _, _, c in columns if "nextval" in str(c.get("default"))]
            assert len(with_nextval) >= 8

            def outcome(reflect: Any, inspector: sa.Inspector) -> list[Any]:
                results = []
                for schema, table, info in columns:
                    info = copy.copy(info)
                    reflect(inspector, sa.Table(table, sa.MetaData(), schema=schema), info)
                    results.append((schema, table, info["name"], info.get("default")))
                return results

            impl = MigrationContext.configure(conn).impl
            assert isinstance(impl, PostgresqlImpl)
            expected = outcome(impl.autogen_column_reflect, sa.inspect(conn))

            fast_inspector = sa.inspect(conn)
            prefetch.answer_serial_lookups(impl, fast_inspector)
            with dbs.recording(conn) as sent:
                got = outcome(impl.autogen_column_reflect, fast_inspector)

    assert got == expected
    assert len(sent) == 1  # one map for every sequence, however many columns
    # The cases mean something: SERIALs lose their default, the rest keep it.
    kept = {(t, name) for _, t, name, default in got if default is not None and "nextval" in default}
    assert {("unowned", "id"), ("smallish", "id"), ("borrower", "n"), ("lender", "x")} <= kept
    # alembic's rule looks at the owning column's name only, so a borrowed sequence counts too.
    assert not {("plain", "id"), ("plain", "big"), ("Mixed Case", "Id"), ("elsewhere", "id"),
                ("borrower", "id"), ("lender", "ref")} & kept


@pytest.mark.mysql
def test_hostile_table_names_are_batched_like_any_other(tmp_path: Path) -> None:
    names = ['we"ird%t', "back`tick", "ünï code", "semi;colon"]
    with dbs.temp_database("mysql", tmp_path) as url:
        md = sa.MetaData()
        for name in names:
            sa.Table(name, md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.String(10)))
        build(url, md)
        with _drift_connection(url) as conn:
            tables = sorted(sa.inspect(conn).get_table_names())
            expected = _reflect_each(sa.inspect(conn), tables)
            inspector = sa.inspect(conn)
            assert prefetch.prefetch_create_tables(inspector, None) == len(names)
            with dbs.recording(conn) as sent:
                assert _reflect_each(inspector, tables) == expected
    assert sorted(tables) == sorted(names)
    assert not [s for s in sent if s.startswith("SHOW CREATE TABLE")]


@pytest.mark.parametrize("broken_view", [False, True], ids=["bulk", "view-broken"])
def test_sqlite_bulk_reads_keep_sqlalchemys_answers_for_odd_names(tmp_path: Path, broken_view: bool) -> None:
    url = sa.URL.create("sqlite+pysqlite", database=str(tmp_path / "odd.db"))
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE "we""ird %t" (id INTEGER PRIMARY KEY, p INTEGER REFERENCES "we""ird %t"(id))')
            conn.exec_driver_sql('CREATE INDEX "ix we""ird" ON "we""ird %t" (p, id)')
            conn.exec_driver_sql("CREATE TABLE Plain (id INTEGER, CONSTRAINT pk_plain PRIMARY KEY (id))")
            conn.exec_driver_sql("CREATE TABLE bare (n INTEGER)")  # no index, no key: empty PRAGMA answers
            conn.exec_driver_sql("CREATE VIEW v AS SELECT id FROM Plain")
            # Same name as main's Plain but for case, in temp: SQLAlchemy asks main, then temp where main
            # answers nothing (Plain has no index of its own, temp's plain has one).
            conn.exec_driver_sql("CREATE TEMP TABLE plain (x INTEGER REFERENCES bare(n))")
            conn.exec_driver_sql("CREATE INDEX temp.ix_plain_x ON plain (x)")
            conn.exec_driver_sql("CREATE TEMP TABLE only_temp (y INTEGER UNIQUE)")
            if broken_view:  # a view whose table is gone: the bulk PRAGMA fails, each table is read alone
                conn.exec_driver_sql("CREATE TABLE gone (z INTEGER)")
                conn.exec_driver_sql("CREATE VIEW broken AS SELECT z FROM gone")
                conn.exec_driver_sql("DROP TABLE gone")
            tables = sa.inspect(conn).get_table_names() + ["plain", "PLAIN", "only_temp", "v"]
            expected = _reflect_each(sa.inspect(conn), tables)
            with pytest.raises(sa.exc.NoSuchTableError):
                sa.inspect(conn).get_pk_constraint("missing")
            with dbs.recording(conn) as sent, prefetch.sqlite_read_in_bulk(conn):
                assert _reflect_each(sa.inspect(conn), tables) == expected
                with pytest.raises(sa.exc.NoSuchTableError):
                    sa.inspect(conn).get_pk_constraint("missing")  # left to SQLAlchemy, which says so
    finally:
        engine.dispose()
    assert sorted(tables[:3]) == sorted(['we"ird %t', "Plain", "bare"])
    per_table = [s for s in sent if s.startswith("PRAGMA")]
    if broken_view:
        assert per_table  # the bulk read failed over the broken view: SQLAlchemy's own reads answered
    else:
        assert not per_table  # "PLAIN" is Plain, as SQLite matches names; "missing" fails before any
