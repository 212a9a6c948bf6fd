"""``drift.risk``: each rule on SQLite, PostgreSQL and MariaDB, with data that triggers it and data that does not.

Every database is planted through a writable engine, compared with models
that differ (``drift.compare.compare``), and assessed on the read-only,
time-limited connection ``drift.connect.connect`` opens, so the bounds under
test are the real ones. Every assessment records the statements it sends and
fails if one of them could write.
"""

from __future__ import annotations

import ast
import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

import dbs
from drift.compare import compare
from drift.config import Environment
from drift.connect import connect
from drift.errors import ConfigError
from drift.findings import Finding, Risk
from drift.risk import RULES, RiskOptions, assess, fail_threshold, rule, rules_for
from drift.risk.shapes import parse

#: The only statements an assessment may send (the session is read-only besides).
READ_ONLY = ("SELECT", "SET", "SAVEPOINT", "RELEASE", "ROLLBACK", "SHOW", "PRAGMA")


# ---------------------------------------------------------------------- helpers


@contextlib.contextmanager
def writable(url: URL) -> Iterator[Connection]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def plant(url: URL, database: sa.MetaData, rows: Mapping[str, Sequence[Mapping[str, Any]]], *, analyze: bool = False) -> None:
    """Create ``database``'s tables with ``rows``; ``analyze`` gives PostgreSQL its catalog estimates."""
    with writable(url) as conn:
        database.create_all(conn)
        for name, data in rows.items():
            if data:
                conn.execute(database.tables[name].insert(), list(data))
    if analyze and url.get_backend_name() == "postgresql":
        engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        finally:
            engine.dispose()


def environment(url: URL, statement_timeout: float = 20.0) -> Environment:
    return Environment(name="t", url=url, statement_timeout=statement_timeout)


def assert_read_only(statements: Sequence[str]) -> None:
    for statement in statements:
        words = statement.split()
        first = words[0].upper() if words else ""
        assert first in READ_ONLY, statement
        if first == "SET" and words[1].upper() == "STATEMENT":
            assert re.search(r"\bFOR\s+SELECT\b", statement, re.IGNORECASE), statement
        if first == "ROLLBACK":
            assert len(words) == 1 or words[1].upper() == "TO", statement


def assessed(url: URL, models: sa.MetaData, options: RiskOptions | None = None) -> tuple[Finding, ...]:
    """compare + assess on a real read-only connection; the connection must still work afterwards."""
    with connect(environment(url)) as conn:
        findings = compare(conn, models).findings
        with dbs.recording(conn) as statements:
            result = assess(conn, findings, metadata=models, options=options or RiskOptions())
        assert_read_only(statements)
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    return result


def find(findings: Sequence[Finding], kind: str, table: str, name: str | None = None) -> Finding:
    found = [f for f in findings if f.kind == kind and f.table == table and (name is None or f.name == name)]
    assert len(found) == 1, [(f.kind, f.table, f.name) for f in findings]
    return found[0]


def risk(finding: Finding, name: str) -> Risk:
    found = [r for r in finding.risks if r.rule == name]
    assert len(found) == 1, [(r.rule, r.summary) for r in finding.risks]
    return found[0]


def rules_of(finding: Finding) -> set[str]:
    return {r.rule for r in finding.risks}


def by_dialect(dialect: str, **values: Any) -> Any:
    return values[dialect] if dialect in values else values["default"]


# ---------------------------------------------------------------------- NOT NULL


def test_not_null_counts_nulls_and_writes_the_backfill(dialect: str, db_url: URL) -> None:
    database = sa.MetaData()
    sa.Table("bad", database, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("email", sa.String(50)), sa.Column("nick", sa.String(50)), sa.Column("note", sa.String(50)))
    sa.Table("good", database, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50)))
    plant(db_url, database, {
        "bad": [{"id": 1, "email": None, "nick": None, "note": None}, {"id": 2, "email": "a", "nick": "b", "note": "c"},
                {"id": 3, "email": None, "nick": "d", "note": None}],
        "good": [{"id": 1, "email": "x"}],
    })
    models = sa.MetaData()
    sa.Table("bad", models, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("email", sa.String(50), nullable=False, server_default="nobody"),
             sa.Column("nick", sa.String(50), nullable=False, default="anon"),
             sa.Column("note", sa.String(50), nullable=False))
    sa.Table("good", models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50), nullable=False))

    findings = assessed(db_url, models)

    email = find(findings, "modify_nullable", "bad", "email")
    r = risk(email, "null_rows")
    assert (r.severity, r.measured, r.evidence["null_rows"]) == ("danger", True, 2)
    assert r.summary.startswith("2 rows of bad have NULL in email: ")
    assert r.code == """op.execute("UPDATE bad SET email = 'nobody' WHERE email IS NULL")"""
    assert email.severity == "danger"
    assert "strict sql_mode" in r.summary if dialect == "mysql" else True

    nick = risk(find(findings, "modify_nullable", "bad", "nick"), "null_rows")
    assert (nick.severity, nick.evidence["null_rows"]) == ("danger", 1)
    assert nick.code == """op.execute("UPDATE bad SET nick = 'anon' WHERE nick IS NULL")"""

    note = risk(find(findings, "modify_nullable", "bad", "note"), "null_rows")
    assert note.code == """op.execute('UPDATE bad SET note = ... WHERE note IS NULL')"""
    assert "replace ..." in (note.suggestion or "")

    good = find(findings, "modify_nullable", "good", "email")
    g = risk(good, "null_rows")
    assert (g.severity, g.measured, g.evidence["null_rows"]) == ("info", True, 0)
    assert good.severity == "warning"  # compare's own severity: an info risk never lowers it


def test_hostile_names_are_quoted_and_the_backfill_runs(dialect: str, db_url: URL) -> None:
    table, column = 'we"ird%t', "e'm:ail x"
    database = sa.MetaData()
    sa.Table(table, database, sa.Column("id", sa.Integer, primary_key=True), sa.Column(column, sa.String(50)))
    plant(db_url, database, {table: [{"id": 1, column: None}, {"id": 2, column: "ok"}]})
    models = sa.MetaData()
    sa.Table(table, models, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column(column, sa.String(50), nullable=False, server_default="it's :here"))

    r = risk(find(assessed(db_url, models), "modify_nullable", table, column), "null_rows")
    assert (r.severity, r.evidence["null_rows"]) == ("danger", 1)

    # The code is Python that alembic runs as op.execute(text(...)): run it the same way.
    call = ast.parse(r.code or "").body[0].value  # type: ignore[attr-defined]
    sql = ast.literal_eval(call.args[0])
    with writable(db_url) as conn:
        conn.execute(sa.text(sql))
        t = sa.table(table, sa.column(column))
        values = sorted(conn.execute(sa.select(t.c[column])).scalars())
    assert values == ["it's :here", "ok"]


def test_new_not_null_column_without_default(dialect: str, db_url: URL) -> None:
    database = sa.MetaData()
    for name in ("full", "empty"):
        sa.Table(name, database, sa.Column("id", sa.Integer, primary_key=True))
    plant(db_url, database, {"full": [{"id": 1}]})
    models = sa.MetaData()
    for name in ("full", "empty"):
        sa.Table(name, models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("c", sa.String(5), nullable=False))

    findings = assessed(db_url, models)

    full = risk(find(findings, "add_column", "full", "c"), "not_null_without_default")
    assert full.severity == by_dialect(dialect, mysql="warning", default="danger")
    assert full.evidence == {"table_has_rows": True}
    assert "server_default" in (full.suggestion or "")
    assert "op.alter_column('full', 'c', nullable=False)" in (full.suggestion or "")
    empty = risk(find(findings, "add_column", "empty", "c"), "not_null_without_default")
    assert (empty.severity, empty.evidence) == ("info", {"table_has_rows": False})


# ---------------------------------------------------------------------- drops


def test_drops_count_what_would_be_lost(dialect: str, db_url: URL) -> None:
    database = sa.MetaData()
    sa.Table("t", database, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("old", sa.String(20)), sa.Column("blank", sa.String(20)))
    sa.Table("gone", database, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("gone_empty", database, sa.Column("id", sa.Integer, primary_key=True))
    plant(db_url, database, {
        "t": [{"id": 1, "old": "x", "blank": None}, {"id": 2, "old": None, "blank": None}],
        "gone": [{"id": 1}, {"id": 2}, {"id": 3}],
    })
    models = sa.MetaData()
    sa.Table("t", models, sa.Column("id", sa.Integer, primary_key=True))

    findings = assessed(db_url, models)

    old = risk(find(findings, "remove_column", "t", "old"), "data_loss")
    assert (old.severity, dict(old.evidence)) == ("danger", {"rows": 2, "non_null_values": 1})
    blank_finding = find(findings, "remove_column", "t", "blank")
    blank = risk(blank_finding, "data_loss")
    assert (blank.severity, dict(blank.evidence)) == ("info", {"rows": 2, "non_null_values": 0})
    assert blank_finding.severity == "danger"  # compare says danger; an info risk does not lower it
    gone = risk(find(findings, "remove_table", "gone"), "data_loss")
    assert (gone.severity, gone.evidence["rows"], gone.summary) == ("danger", 3, "dropping gone loses 3 rows")
    empty = risk(find(findings, "remove_table", "gone_empty"), "data_loss")
    assert (empty.severity, empty.evidence["rows"]) == ("info", 0)


# ---------------------------------------------------------------------- unique


def test_unique_counts_duplicate_groups_with_an_example(dialect: str, db_url: URL) -> None:
    database = sa.MetaData()
    sa.Table("t", database, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("email", sa.String(50)), sa.Column("code", sa.String(10)))
    emails = ["a@x", "a@x", "a@x", "b@x", "b@x", "c@x", None, None]
    plant(db_url, database, {"t": [{"id": i, "email": e, "code": f"c{i}"} for i, e in enumerate(emails, 1)]})
    models = sa.MetaData()
    sa.Table("t", models, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("email", sa.String(50)), sa.Column("code", sa.String(10)),
             sa.UniqueConstraint("email", name="uq_t_email"), sa.Index("ix_t_code", "code", unique=True))

    findings = assessed(db_url, models)

    dup = risk(find(findings, "add_constraint", "t", "uq_t_email"), "duplicates")
    assert dup.severity == "danger"
    assert dup.evidence["duplicate_groups"] == 2
    assert dup.evidence["rows_in_duplicate_groups"] == 5  # the NULLs never conflict
    assert dup.evidence["example"] == {"email": "a@x"} and dup.evidence["example_count"] == 3
    assert "e.g. email='a@x' appears 3 times" in dup.summary
    ok = risk(find(findings, "add_index", "t", "ix_t_code"), "duplicates")
    assert (ok.severity, ok.evidence["duplicate_groups"]) == ("info", 0)


# ---------------------------------------------------------------------- foreign keys


def test_new_foreign_key_counts_orphans(dialect: str, db_url: URL) -> None:
    database = sa.MetaData()
    sa.Table("parent", database, sa.Column("id", sa.Integer, primary_key=True))
    for name in ("child", "child_ok"):
        sa.Table(name, database, sa.Column("id", sa.Integer, primary_key=True), sa.Column("pid", sa.Integer))
    plant(db_url, database, {
        "parent": [{"id": 1}, {"id": 2}],
        "child": [{"id": 1, "pid": 1}, {"id": 2, "pid": 7}, {"id": 3, "pid": None}],
        "child_ok": [{"id": 1, "pid": 2}, {"id": 2, "pid": None}],
    })
    models = sa.MetaData()
    sa.Table("parent", models, sa.Column("id", sa.Integer, primary_key=True))
    for name in ("child", "child_ok"):
        sa.Table(name, models, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("pid", sa.Integer, sa.ForeignKey("parent.id", name=f"fk_{name}_pid")))

    findings = assessed(db_url, models)

    bad = risk(find(findings, "add_fk", "child"), "orphans")
    assert bad.severity == by_dialect(dialect, sqlite="warning", default="danger")
    assert (bad.evidence["orphan_rows"], bad.evidence["example"]) == (1, {"pid": 7})
    assert "1 row of child points at no row of parent" in bad.summary
    ok = risk(find(findings, "add_fk", "child_ok"), "orphans")
    assert (ok.severity, ok.evidence["orphan_rows"]) == ("info", 0)


# ---------------------------------------------------------------------- type narrowing


def test_type_narrowing(dialect: str, db_url: URL) -> None:
    def columns() -> list[sa.Column[Any]]:
        return [sa.Column("id", sa.Integer, primary_key=True), sa.Column("s", sa.String(50)),
                sa.Column("n", sa.BigInteger), sa.Column("p", sa.Numeric(10, 2)), sa.Column("r", sa.Numeric(10, 2)),
                sa.Column("code", sa.String(10))]

    database = sa.MetaData()
    sa.Table("t", database, *columns())
    sa.Table("ok", database, *columns())
    plant(db_url, database, {
        "t": [{"id": 1, "s": "x" * 30, "n": 99999, "p": 123456.5, "r": 1.25, "code": "x1"},
              {"id": 2, "s": "short", "n": 1, "p": 1, "r": 1, "code": "12"}],
        "ok": [{"id": 1, "s": "short", "n": 5, "p": 12.5, "r": 1.5, "code": "42"}],
    })
    models = sa.MetaData()
    for name in ("t", "ok"):
        sa.Table(name, models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("s", sa.String(10)),
                 sa.Column("n", sa.SmallInteger), sa.Column("p", sa.Numeric(5, 1)), sa.Column("r", sa.Numeric(10, 1)),
                 sa.Column("code", sa.Integer))

    findings = assessed(db_url, models)

    def narrowing(table: str, column: str) -> Risk | None:
        found = [r for r in find(findings, "modify_type", table, column).risks if r.rule == "narrowing"]
        assert len(found) <= 1, found
        return found[0] if found else None

    s = narrowing("t", "s")
    assert s is not None and s.severity == by_dialect(dialect, sqlite="warning", default="danger")
    assert (s.evidence["too_long"], s.evidence["longest"]) == (1, 30)
    code = narrowing("t", "code")
    assert code is not None and code.severity == "danger" and code.evidence["example"] == "x1"
    assert narrowing("ok", "s").severity == "info"  # type: ignore[union-attr]
    assert narrowing("ok", "code").severity == "info"  # type: ignore[union-attr]

    if dialect == "sqlite":
        # SQLite stores any integer in any integer column and does not round NUMERIC: nothing to lose.
        assert narrowing("t", "n") is None and narrowing("t", "p") is None and narrowing("t", "r") is None
        return
    n = narrowing("t", "n")
    assert n is not None and n.severity == "danger"
    assert (n.evidence["out_of_range"], n.evidence["largest"]) == (1, 99999)
    p = narrowing("t", "p")
    assert p is not None and p.severity == "danger" and p.evidence["overflow"] == 1
    r = narrowing("t", "r")
    assert r is not None and r.severity == "warning" and r.evidence["rounded"] == 1
    for column in ("n", "p", "r"):
        assert narrowing("ok", column).severity == "info", column  # type: ignore[union-attr]


# ---------------------------------------------------------------------- enums


def test_enum_values_in_use_mariadb(make_db: Any) -> None:
    url = make_db("mysql")
    database = sa.MetaData()
    for name in ("t", "ok"):
        sa.Table(name, database, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("kind", mysql_types.ENUM("a", "b", "c")))
    plant(url, database, {"t": [{"id": 1, "kind": "a"}, {"id": 2, "kind": "c"}], "ok": [{"id": 1, "kind": "b"}]})
    models = sa.MetaData()
    for name in ("t", "ok"):
        sa.Table(name, models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Enum("a", "b")))

    findings = assessed(url, models)

    bad = risk(find(findings, "modify_type", "t", "kind"), "enum_values")
    assert (bad.severity, bad.evidence["rows_by_value"], bad.evidence["removed_values"]) == ("danger", {"c": 1}, ["c"])
    ok = risk(find(findings, "modify_type", "ok", "kind"), "enum_values")
    assert (ok.severity, ok.evidence["rows_by_value"]) == ("info", {})


def test_enum_values_in_use_postgresql(make_db: Any) -> None:
    url = make_db("postgresql")
    database = sa.MetaData()
    sa.Table("t", database, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("kind", sa.Enum("a", "b", "c", name="mood")))
    sa.Table("ok", database, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("kind", sa.Enum("a", "b", "c", name="tone")))
    sa.Table("v", database, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.String(10)))
    plant(url, database, {"t": [{"id": 1, "kind": "c"}, {"id": 2, "kind": "a"}], "ok": [{"id": 1, "kind": "b"}],
                          "v": [{"id": 1, "kind": "a"}, {"id": 2, "kind": "zzz"}]})
    models = sa.MetaData()
    sa.Table("t", models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Enum("a", "b", name="mood")))
    sa.Table("ok", models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Enum("a", "b", name="tone")))
    sa.Table("v", models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Enum("a", "b", name="tone")))

    findings = assessed(url, models, RiskOptions(large_table=2))

    mood = [f for f in findings if f.kind == "modify_enum" and f.name == "mood"]
    assert len(mood) == 1
    rewrite = risk(mood[0], "rewrite")  # a removed value means a new type: ALTER COLUMN TYPE rewrites t
    assert rewrite.severity == "warning" and "rewrites t (2 rows)" in rewrite.summary
    bad = risk(mood[0], "enum_values")
    assert (bad.severity, bad.evidence["rows_by_value"]) == ("danger", {"c": 1})
    assert "t.kind" in bad.summary
    tone = [f for f in findings if f.kind == "modify_enum" and f.name == "tone"]
    assert len(tone) == 1
    tone_risks = {r.summary: r.severity for r in tone[0].risks if r.rule == "enum_values"}
    assert set(tone_risks.values()) == {"info"}  # neither ok nor v's column holds 'c' under the type today

    # A text column turned into an enum: values outside it, and the cast PostgreSQL needs.
    cast = find(findings, "modify_type", "v", "kind")
    outside = risk(cast, "enum_values")
    assert (outside.severity, outside.evidence["rows_by_value"]) == ("danger", {"zzz": 1})
    using = risk(cast, "needs_using")
    assert using.severity == "danger" and "postgresql_using='kind::tone'" in (using.suggestion or "")


def test_enum_values_in_use_sqlite(make_db: Any) -> None:
    url = make_db("sqlite")
    database = sa.MetaData()
    for name in ("t", "ok"):
        sa.Table(name, database, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.String(10)))
    plant(url, database, {"t": [{"id": 1, "kind": "a"}, {"id": 2, "kind": "cc"}], "ok": [{"id": 1, "kind": "b"}]})
    models = sa.MetaData()
    for name in ("t", "ok"):
        sa.Table(name, models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Enum("a", "b", name="k")))

    findings = assessed(url, models)

    bad = risk(find(findings, "modify_type", "t", "kind"), "enum_values")
    assert (bad.severity, bad.evidence["rows_by_value"]) == ("warning", {"cc": 1})
    ok = risk(find(findings, "modify_type", "ok", "kind"), "enum_values")
    assert ok.severity == "info"


def test_tables_in_another_schema(make_db: Any) -> None:
    url = make_db("postgresql")
    schema = "S 2"
    with writable(url) as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    database = sa.MetaData(schema=schema)
    sa.Table("p", database, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("t", database, sa.Column("id", sa.Integer, primary_key=True), sa.Column("e", sa.String(20)),
             sa.Column("pid", sa.Integer))
    plant(url, database, {f"{schema}.p": [{"id": 1}], f"{schema}.t": [{"id": 1, "e": None, "pid": 5}]})
    models = sa.MetaData(schema=schema)
    sa.Table("p", models, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("t", models, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("e", sa.String(20), nullable=False, server_default="x"),
             sa.Column("pid", sa.Integer, sa.ForeignKey(f"{schema}.p.id", name="fk_t_p")))

    with connect(environment(url)) as conn:
        findings = compare(conn, models, include_schemas=True,
                           include_name=lambda name, type_, parent: type_ != "schema" or name == schema).findings
        result = assess(conn, findings, metadata=models)

    nulls = risk(find(result, "modify_nullable", "t", "e"), "null_rows")
    assert nulls.code == """op.execute(\"\"\"UPDATE "S 2".t SET e = 'x' WHERE e IS NULL\"\"\")"""
    orphans = risk(find(result, "add_fk", "t"), "orphans")
    assert (orphans.severity, orphans.evidence["references"], orphans.evidence["orphan_rows"]) == ("danger", "S 2.p", 1)


# ---------------------------------------------------------------------- lock and rewrite hazards


def test_lock_and_rewrite_hazards_on_large_tables(dialect: str, db_url: URL) -> None:
    database = sa.MetaData()
    sa.Table("parent", database, sa.Column("id", sa.Integer, primary_key=True))
    for name in ("big", "small"):
        sa.Table(name, database, sa.Column("id", sa.Integer, primary_key=True), sa.Column("s", sa.String(50)),
                 sa.Column("n", sa.Integer), sa.Column("pid", sa.Integer), sa.Column("e", sa.String(10)))
    plant(db_url, database, {
        "parent": [{"id": i} for i in range(1, 6)],
        "big": [{"id": i, "s": f"v{i}", "n": i, "pid": i, "e": f"e{i}"} for i in range(1, 6)],
        "small": [{"id": 1, "s": "v", "n": 1, "pid": 1, "e": "e"}],
    }, analyze=True)
    models = sa.MetaData()
    sa.Table("parent", models, sa.Column("id", sa.Integer, primary_key=True))
    for name in ("big", "small"):
        extra = [sa.Column("r", sa.Float, server_default=sa.text("random()"))] if dialect == "postgresql" else []
        sa.Table(name, models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("s", sa.String(100)),
                 sa.Column("n", sa.BigInteger), sa.Column("pid", sa.Integer, sa.ForeignKey("parent.id", name=f"fk_{name}")),
                 sa.Column("e", sa.String(10), nullable=False), *extra,
                 sa.Index(f"ix_{name}_s", "s"), sa.UniqueConstraint("e", name=f"uq_{name}_e"))

    # "Large" is settable: three rows make a table large here.
    findings = assessed(db_url, models, RiskOptions(large_table=3))

    def hazards(kind: str, table: str, name: str | None = None) -> set[str]:
        return rules_of(find(findings, kind, table, name)) & {"rewrite", "lock", "table_copy", "needs_using"}

    size_source = by_dialect(dialect, postgresql="pg_class", mysql="information_schema.TABLES", sqlite="count")
    if dialect == "postgresql":
        expected = {("modify_type", "n"): {"rewrite"}, ("modify_type", "s"): set(),  # widening: catalog only
                    ("add_index", None): {"lock"}, ("modify_nullable", "e"): {"lock"},
                    ("add_constraint", None): {"lock"}, ("add_fk", None): {"lock"}, ("add_column", "r"): {"rewrite"}}
        lock = risk(find(findings, "add_index", "big"), "lock")
        assert "CREATE INDEX ix_big_s blocks writes to big (~5 rows" in lock.summary
        assert "postgresql_concurrently=True" in (lock.suggestion or "")
        assert "NOT VALID" in (risk(find(findings, "modify_nullable", "big", "e"), "lock").suggestion or "")
    elif dialect == "mysql":
        expected = {("modify_type", "n"): {"table_copy"}, ("modify_type", "s"): set(),  # widening is in place
                    ("add_index", None): set(), ("modify_nullable", "e"): set(), ("add_fk", None): {"table_copy"}}
    else:
        expected = {("modify_type", "n"): {"table_copy"}, ("modify_type", "s"): {"table_copy"},
                    ("add_index", None): set(), ("modify_nullable", "e"): {"table_copy"},
                    ("add_constraint", None): {"table_copy"}, ("add_fk", None): {"table_copy"}}
    for (kind, name), rules in expected.items():
        assert hazards(kind, "big", name) == rules, (kind, name)
        assert hazards(kind, "small", name) == set(), (kind, name)  # one row: the lock is too short to matter
    r = risk(find(findings, "modify_type", "big", "n"), by_dialect(dialect, postgresql="rewrite", default="table_copy"))
    assert (r.severity, r.evidence["rows"], r.evidence["rows_source"]) == ("warning", 5, size_source)


# ---------------------------------------------------------------------- bounds


def _nulls_everywhere(url: URL, rows: int, *, analyze: bool) -> sa.MetaData:
    database = sa.MetaData()
    sa.Table("t", database, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50)))
    sa.Table("gone", database, sa.Column("id", sa.Integer, primary_key=True))
    plant(url, database, {"t": [{"id": i, "email": None if i % 2 else "x"} for i in range(1, rows + 1)],
                          "gone": [{"id": i} for i in range(1, rows + 1)]}, analyze=analyze)
    models = sa.MetaData()
    sa.Table("t", models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50), nullable=False))
    return models


def test_tables_above_the_size_threshold_are_not_scanned_unless_deep(dialect: str, db_url: URL) -> None:
    models = _nulls_everywhere(db_url, 20, analyze=True)

    findings = assessed(db_url, models, RiskOptions(max_rows=5))

    nulls = find(findings, "modify_nullable", "t", "email")
    r = risk(nulls, "null_rows")
    assert (r.measured, r.severity, nulls.severity) == (False, "warning", "warning")
    size = by_dialect(dialect, sqlite="20 rows", default="~20 rows")  # SQLite: counted, up to a bound
    assert r.summary == f"NULL values in t.email: not measured: table t too large ({size}) — rerun with --deep"
    gone = risk(find(findings, "remove_table", "gone"), "data_loss")
    # Too large to count is still enough to know rows would be lost.
    assert (gone.measured, gone.severity) == (False, "danger")
    assert "not counted" in gone.summary

    deep = assessed(db_url, models, RiskOptions(max_rows=5, deep=True))
    r = risk(find(deep, "modify_nullable", "t", "email"), "null_rows")
    assert (r.measured, r.severity, r.evidence["null_rows"]) == (True, "danger", 10)


def test_without_catalog_estimates_a_bounded_count_decides(make_db: Any) -> None:
    url = make_db("postgresql")
    models = _nulls_everywhere(url, 20, analyze=False)  # never analyzed: reltuples is -1

    r = risk(find(assessed(url, models, RiskOptions(max_rows=5)), "modify_nullable", "t", "email"), "null_rows")
    # Counted (exactly, as the table is below the bound of max(max_rows, large_table) + 1 rows).
    assert r.summary.endswith("table t too large (20 rows) — rerun with --deep")


def test_data_checks_off_sends_no_data_queries(dialect: str, db_url: URL) -> None:
    models = _nulls_everywhere(db_url, 6, analyze=True)
    sa.Index("ix_t_email", models.tables["t"].c.email)
    options = RiskOptions(data_checks=False, large_table=3)

    with connect(environment(db_url)) as conn:
        findings = compare(conn, models).findings
        with dbs.recording(conn) as statements:
            result = assess(conn, findings, metadata=models, options=options)
    assert_read_only(statements)
    user_tables = re.compile(r"\bFROM\s+[`\"]?(t|gone)[`\"]?(\s|$)", re.IGNORECASE)
    assert not [s for s in statements if user_tables.search(s)]

    r = risk(find(result, "modify_nullable", "t", "email"), "null_rows")
    assert (r.measured, r.severity) == (False, "warning")
    assert r.summary == "NULL values in t.email: not measured: data checks are off (--no-data-checks)"
    if dialect == "postgresql":
        # Catalog-only hazards still apply: the size comes from pg_class, not from the rows.
        assert risk(find(result, "add_index", "t"), "lock").measured
        assert risk(find(result, "modify_nullable", "t", "email"), "lock").evidence["rows"] == 6


@contextlib.contextmanager
def locked(dialect: str, url: URL, *tables: str) -> Iterator[None]:
    """Another session holds ``tables`` locked against readers until the block ends."""
    if dialect == "sqlite":
        other = sqlite3.connect(url.database or "", isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as other:
            preparer = other.dialect.identifier_preparer
            names = ", ".join(preparer.quote(t) for t in tables)
            if dialect == "postgresql":
                other.exec_driver_sql(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
            else:
                other.exec_driver_sql(f"LOCK TABLES {', '.join(f'{preparer.quote(t)} WRITE' for t in tables)}")
            try:
                yield
            finally:
                if dialect == "mysql":
                    other.exec_driver_sql("UNLOCK TABLES")
                other.rollback()
    finally:
        engine.dispose()


def test_a_locked_table_times_out_and_the_rest_is_still_measured(dialect: str, db_url: URL) -> None:
    database = sa.MetaData()
    for name in ("a_locked", "b_free"):
        sa.Table(name, database, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50)))
    plant(db_url, database, {"a_locked": [{"id": 1, "email": None}], "b_free": [{"id": 1, "email": None}]})
    models = sa.MetaData()
    for name in ("a_locked", "b_free"):
        sa.Table(name, models, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("email", sa.String(50), nullable=False), sa.UniqueConstraint("email", name=f"uq_{name}"))
    lock_tables = ("a_locked",) if dialect != "sqlite" else ()  # SQLite locks the whole file

    with connect(environment(db_url, statement_timeout=20)) as conn:
        findings = compare(conn, models).findings
        conn.rollback()  # end compare's read-only transaction, as a long check would between steps
        with locked(dialect, db_url, *lock_tables), dbs.recording(conn) as statements:
            started = time.monotonic()
            result = assess(conn, findings, metadata=models, options=RiskOptions(query_timeout=1.0))
            elapsed = time.monotonic() - started
            assert_read_only(statements)
        # The connection works after the timeouts, for the rest of the check.
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        after = assess(conn, [f for f in findings if f.table == "a_locked"], metadata=models)

    # One timeout per locked table, then its other rules skip at once: far below the 20 s session limit.
    assert elapsed < 8, elapsed
    timed_out = risk(find(result, "modify_nullable", "a_locked", "email"), "null_rows")
    assert (timed_out.measured, timed_out.severity) == (False, "warning")
    assert re.search(r"not measured: (timed out after 1 s|skipped: an earlier query (on a_locked )?timed out)",
                     timed_out.summary)
    dup = risk(find(result, "add_constraint", "a_locked", "uq_a_locked"), "duplicates")
    assert not dup.measured and "timed out" in dup.summary
    if dialect != "sqlite":
        free = risk(find(result, "modify_nullable", "b_free", "email"), "null_rows")
        assert (free.measured, free.severity) == (True, "danger")
    # Once the lock is gone the same rule measures again on the same connection.
    assert risk(find(after, "modify_nullable", "a_locked", "email"), "null_rows").measured


def test_the_time_budget_caps_the_whole_assessment(make_db: Any) -> None:
    url = make_db("postgresql")
    database = sa.MetaData()
    names = [f"t{i}" for i in range(4)]
    for name in names:
        sa.Table(name, database, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50)))
    plant(url, database, {name: [{"id": 1, "email": None}] for name in names})
    models = sa.MetaData()
    for name in names:
        sa.Table(name, models, sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.String(50), nullable=False))

    with connect(environment(url)) as conn:
        findings = [f for f in compare(conn, models).findings if f.name == "email"]
        conn.rollback()
        with locked("postgresql", url, *names):
            started = time.monotonic()
            result = assess(conn, findings, options=RiskOptions(query_timeout=0.5, total_timeout=1.2))
            elapsed = time.monotonic() - started

    assert elapsed < 3, elapsed
    summaries = [r.summary for f in result for r in f.risks]
    assert "NULL values in t3.email: not measured: the time budget for data checks (1.2 s) is used up" in summaries
    assert all(not r.measured for f in result for r in f.risks)


# ---------------------------------------------------------------------- pure data: thresholds, options, registry


def _finding(severity: str) -> Finding:
    return Finding(kind="modify_type", table="t", name="c", object_type="column", message="m", severity=severity)


@pytest.mark.parametrize(
    "severities, fail_on, fails",
    [
        ([], "info", False),
        (["info"], "info", True),
        (["info"], None, True),  # the default: any finding fails
        (["info"], "warning", False),
        (["info", "warning"], "warning", True),
        (["warning"], "danger", False),
        (["danger"], "danger", True),
        (["danger"], "never", False),
        (["danger"], "WARNING", True),
    ],
)
def test_fail_threshold(severities: list[str], fail_on: str | None, fails: bool) -> None:
    assert fail_threshold([_finding(s) for s in severities], fail_on) is fails


def test_fail_threshold_rejects_an_unknown_level() -> None:
    with pytest.raises(ValueError, match="info, warning, danger, never"):
        fail_threshold([], "fatal")


def test_options_from_settings_and_overrides() -> None:
    options = RiskOptions.from_settings({"risk_max_rows": "5_000", "risk_query_timeout": "1.5"}, deep=True,
                                        data_checks=None)
    assert (options.max_rows, options.query_timeout, options.deep, options.data_checks) == (5000, 1.5, True, True)
    with pytest.raises(ConfigError, match="risk_max_rows"):
        RiskOptions.from_settings({"risk_max_rows": "many"})
    with pytest.raises(ConfigError, match="query_timeout"):
        RiskOptions.from_settings({}, query_timeout=0)


def test_options_fit_the_session_timeout() -> None:
    assert RiskOptions(query_timeout=3).within(30).query_timeout == 3
    assert RiskOptions(query_timeout=10).within(2).query_timeout == 2  # never past the session's own limit
    deep = RiskOptions(deep=True).within(30)
    assert (deep.query_timeout, deep.total_timeout) == (30, 60.0)


@pytest.fixture
def scratch_rules() -> Iterator[None]:
    before = dict(RULES)
    try:
        yield
    finally:
        RULES.clear()
        RULES.update(before)


def test_registry_picks_the_most_specific_dialect(scratch_rules: None) -> None:
    for dialect in (None, "mysql", "postgresql"):
        rule("test_kind", "a", dialect=dialect)(lambda f, p, d=dialect: ())
    rule("test_kind", "b", dialect="sqlite")(lambda f, p: ())

    def chosen(dialect: str) -> list[tuple[str, str | None]]:
        return [(r.name, r.dialect) for r in rules_for("test_kind", dialect)]

    assert chosen("mariadb") == [("a", "mysql")]
    assert chosen("postgresql") == [("a", "postgresql")]
    assert chosen("sqlite") == [("a", None), ("b", "sqlite")]


@pytest.mark.parametrize(
    "text, family, facts",
    [
        ("VARCHAR(255)", "string", {"length": 255}),
        ("CHARACTER VARYING(12)", "string", {"length": 12}),
        ("TEXT", "string", {"length": None}),
        ("BIGINT(20) UNSIGNED", "integer", {"bits": 64, "unsigned": True}),
        ("SMALLINT", "integer", {"integer_range": (-32768, 32767)}),
        ("NUMERIC(10, 2)", "numeric", {"precision": 10, "scale": 2}),
        ("DECIMAL(5)", "numeric", {"precision": 5, "scale": 0}),
        ("DOUBLE PRECISION", "float", {}),
        ("ENUM('a','it''s')", "enum", {"values": ("a", "it's")}),
        ("mood", "other", {}),
        ("INTERVAL", "other", {}),
    ],
)
def test_type_shapes(text: str, family: str, facts: dict[str, Any]) -> None:
    shape = parse(text)
    assert shape.family == family
    for name, value in facts.items():
        assert getattr(shape, name) == value, name


def test_docs_name_every_rule_and_option() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "risk.md").read_text(encoding="utf-8")
    for kind, name, dialect in RULES:
        assert f"`{name}`" in text, name
        assert f"`{kind}`" in text, kind
    for option in ("--deep", "--no-data-checks", "--fail-on", "not measured:"):
        assert option in text, option
    for field in ("query_timeout", "total_timeout", "max_rows", "large_table"):
        assert f"`{field}`" in text and f"`risk_{field}`" in text, field
