"""The risk probe's bulk catalog read answers exactly as its table-by-table queries, in a fixed number of statements.

PostgreSQL: one. MariaDB: two per schema (TABLES, then COLUMNS), each naming
its tables with ``IN``, the shape with which MariaDB opens those tables alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

import dbs
from drift.config import Environment
from drift.connect import connect
from drift.risk import RiskOptions
from drift.risk.probe import Probe

TABLES = ["small", "big", "never_analyzed", "Mixed Case"]


def _build(url: sa.URL, dialect: str) -> None:
    engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    md = sa.MetaData()
    for name in TABLES:
        sa.Table(name, md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.String(10)),
                 sa.Column("w", sa.Integer))
    try:
        with engine.connect() as conn:
            md.create_all(conn)
            conn.execute(md.tables["small"].insert(), [{"id": i, "v": "x"} for i in range(1, 4)])
            conn.execute(md.tables["big"].insert(), [{"id": i, "v": "y"} for i in range(1, 501)])
            conn.exec_driver_sql("CREATE VIEW small_view AS SELECT id, v FROM small")
            if dialect == "postgresql":
                conn.exec_driver_sql('ANALYZE small; ANALYZE big; ANALYZE "Mixed Case"')
    finally:
        engine.dispose()


def _answers(probe: Probe, keys: list[tuple[str | None, str]]) -> list[object]:
    out: list[object] = []
    for schema, table in keys:
        out.append(probe.columns(table, schema))
        out.append(probe.size_or_none(table, schema))
    return out


@pytest.mark.parametrize("dialect", [pytest.param("postgresql", marks=pytest.mark.postgresql),
                                     pytest.param("mysql", marks=pytest.mark.mysql)])
def test_bulk_catalog_read_answers_as_the_table_by_table_queries(dialect: str, tmp_path: Path) -> None:
    with dbs.temp_database(dialect, tmp_path) as url:
        _build(url, dialect)
        keys = [(None, t) for t in [*TABLES, "small_view", "no_such_table"]]
        with connect(Environment(name="t", url=url)) as conn:
            expected = _answers(Probe(conn, RiskOptions()), keys)
            probe = Probe(conn, RiskOptions())
            with dbs.recording(conn) as sent:
                probe.prefetch(keys)
            got = _answers(probe, keys)

    assert got == expected
    assert expected[0] == frozenset({"id", "v", "w"}) and expected[-2] is None  # the cases mean something
    catalog = [s for s in sent if "pg_class" in s or "information_schema" in s]
    assert len(catalog) == (1 if dialect == "postgresql" else 2), sent
    assert all(" JOIN information_schema" not in s for s in catalog)
