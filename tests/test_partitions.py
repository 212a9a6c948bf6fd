"""Comparing in forked workers (drift.comparators.partitions) changes the time a check takes, never its result.

* every planted change of the accuracy suite, and the clean round trip, give the
  same findings and the same migration code in chunks of three tables (the
  first compared in this process, each other in a forked worker of its own,
  two processes at once) as in one process alone, on PostgreSQL, MariaDB and
  SQLite, with no worker failing;
* a worker that cannot finish (here: a read nobody made ahead) costs time only:
  its chunk is compared in the parent, with the same result;
* a worker cannot reach the database: its statements are refused, by
  SQLAlchemy and by the driver (a server's socket is ``/dev/null``, SQLite's
  connection denies every statement), and the parent's session carries on
  untouched;
* progress counts what the workers compare; other threads, small schemas and
  a SQLite catalogue that cannot be read in bulk keep the comparison in one
  process.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from alembic.operations import ops
from sqlalchemy import event

import corpus
import dbs
import faults
from drift.check import compare_processes_setting
from drift.compare import Comparison, compare
from drift.comparators import _util, partitions, prefetch, progress
from drift.config import Config, Environment
from drift.connect import connect
from drift.errors import ConfigError
from test_accuracy import PLANTS

pytestmark = [
    pytest.mark.filterwarnings("ignore:Did not recognize type 'point':sqlalchemy.exc.SAWarning"),
    pytest.mark.filterwarnings("ignore:Computed default on .* cannot be modified:UserWarning"),
]

#: Every dialect the comparison forks on, with the mark of the server it needs (SQLite: none).
DIALECTS = {"postgresql": pytest.mark.postgresql, "mysql": pytest.mark.mysql, "sqlite": ()}


@pytest.fixture(autouse=True)
def fork_small_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus has a dozen tables: let it fork anyway, in chunks of three."""
    monkeypatch.setattr(partitions, "MIN_TABLES", 1)
    monkeypatch.setattr(partitions, "CHUNK_TABLES", 3)


@pytest.fixture(scope="module")
def corpus_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``corpus_urls(dialect)``: the accuracy corpus database of that dialect, made once per module."""
    with contextlib.ExitStack() as stack:
        made: dict[str, sa.URL] = {}

        def get(dialect: str) -> sa.URL:
            if dialect not in made:
                url = stack.enter_context(dbs.temp_database(dialect, tmp_path_factory.mktemp(dialect)))
                corpus.create(url, dialect)
                made[dialect] = url
            return made[dialect]

        yield get


def _both_ways(url: sa.URL, models: Any) -> tuple[Comparison, Comparison]:
    """The comparison in two workers, then in one process, each on drift's own connection."""
    with connect(Environment(name="t", url=url)) as conn:
        forked = compare(conn, models(), workers=2)
    with connect(Environment(name="t", url=url)) as conn:
        alone = compare(conn, models())
    return forked, alone


def _workers(tables: int) -> int:
    """Workers forked for ``tables`` in two processes, chunks of three: one per chunk but the parent's."""
    return 2 * -(-tables // (2 * 3)) - 1


def _same(forked: Comparison, alone: Comparison) -> None:
    assert [f.to_dict() for f in forked.findings] == [f.to_dict() for f in alone.findings]
    assert forked.upgrade_code == alone.upgrade_code
    assert forked.downgrade_code == alone.downgrade_code
    assert forked.tables_compared == alone.tables_compared


def _plants() -> list[Any]:
    return [pytest.param(d, name, marks=DIALECTS[d], id=f"{d}-{name}")
            for d in DIALECTS for name, plant in PLANTS.items() if d in plant.dialects]


@pytest.mark.parametrize(("dialect", "plant_name"), _plants())
def test_planted_change_is_found_alike_by_workers(corpus_urls: Any, dialect: str, plant_name: str) -> None:
    def models() -> sa.MetaData:
        md = corpus.build(dialect)
        PLANTS[plant_name].mutate(md, dialect)
        return md

    forked, alone = _both_ways(corpus_urls(dialect), models)
    assert forked.partitioned is not None
    workers = _workers(forked.partitioned.tables)
    assert (forked.partitioned.workers, forked.partitioned.processes, forked.partitioned.failed) == (workers, 2, 0), \
        forked.partitioned.errors
    assert alone.partitioned is not None and alone.partitioned.workers == 0
    _same(forked, alone)
    # Only the tables a worker found different were compared again in the parent.
    assert forked.partitioned.candidates < forked.partitioned.tables


@pytest.mark.parametrize("dialect", [pytest.param(d, marks=m) for d, m in DIALECTS.items()])
def test_round_trip_is_clean_in_workers(corpus_urls: Any, dialect: str) -> None:
    forked, alone = _both_ways(corpus_urls(dialect), lambda: corpus.build(dialect))
    assert forked.partitioned is not None
    assert forked.partitioned.workers == _workers(forked.partitioned.tables) > 1
    assert (forked.partitioned.failed, forked.partitioned.candidates) == (0, 0)
    assert forked.findings == alone.findings == ()


@pytest.mark.parametrize("dialect", [pytest.param(d, marks=m) for d, m in DIALECTS.items()])
def test_a_failed_worker_costs_time_not_accuracy(corpus_urls: Any, dialect: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # A read nobody made ahead: each chunk's comparison starts with a statement, which the check's own
    # process sends and a worker's connection refuses, so every worker gives up.
    compare_tables = partitions._autogen_for_tables

    def reading_first(autogen_context: Any, upgrade_ops: Any, schemas: Any) -> Any:
        autogen_context.connection.exec_driver_sql("SELECT 1")
        return compare_tables(autogen_context, upgrade_ops, schemas)

    monkeypatch.setattr(partitions, "_autogen_for_tables", reading_first)

    def models() -> sa.MetaData:
        md = corpus.build(dialect)
        PLANTS["index_added_to_models"].mutate(md, dialect)
        return md

    forked, alone = _both_ways(corpus_urls(dialect), models)
    assert forked.partitioned is not None
    assert forked.partitioned.workers == forked.partitioned.failed == _workers(forked.partitioned.tables)
    assert forked.partitioned.errors[0].startswith("RuntimeError: a compare worker may not use the database")
    # The workers' whole chunks were compared here: more tables than the one planted change.
    assert forked.partitioned.candidates > 1
    _same(forked, alone)


@pytest.mark.postgresql
def test_an_operation_about_no_one_table_has_its_chunk_compared_again(corpus_urls: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # A plugin's op without a table name: the chunk cannot say which table it came from, so every
    # table of its chunk is compared again, here as in the worker, and nothing fails.
    compare_tables = partitions._autogen_for_tables

    def with_a_loose_op(autogen_context: Any, upgrade_ops: Any, schemas: Any) -> Any:
        result = compare_tables(autogen_context, upgrade_ops, schemas)
        upgrade_ops.ops.append(ops.ExecuteSQLOp("SELECT 1"))
        return result

    monkeypatch.setattr(partitions, "_autogen_for_tables", with_a_loose_op)

    def models() -> sa.MetaData:
        md = corpus.build("postgresql")
        PLANTS["index_added_to_models"].mutate(md, "postgresql")
        return md

    forked, alone = _both_ways(corpus_urls("postgresql"), models)
    assert forked.partitioned is not None
    assert forked.partitioned.failed == 0
    assert forked.partitioned.candidates == forked.partitioned.tables
    _same(forked, alone)


@pytest.mark.parametrize("dialect", [pytest.param(d, marks=m) for d, m in DIALECTS.items()])
def test_a_worker_cannot_reach_the_server(corpus_urls: Any, dialect: str) -> None:
    with connect(Environment(name="t", url=corpus_urls(dialect))) as conn:
        before = conn.exec_driver_sql("SELECT 1").scalar()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker's side
            outcome = b"?"
            try:
                partitions._cut_off(conn)
                try:
                    conn.exec_driver_sql("SELECT 2")
                    outcome = b"sent"
                except Exception:
                    outcome = b"refused"
                dbapi = conn.connection.dbapi_connection
                cursor = dbapi.cursor()
                try:  # past SQLAlchemy, straight to the driver: the socket is /dev/null
                    cursor.execute("SELECT 3")
                    outcome += b" driver-sent"
                except Exception:
                    outcome += b" driver-failed"
            finally:
                os.write(write_end, outcome)
                os._exit(0)
        os.close(write_end)
        os.waitpid(pid, 0)
        with os.fdopen(read_end, "rb") as f:
            outcome = f.read()
        # The parent's session is as it was: same connection, next statement answered.
        after = conn.exec_driver_sql("SELECT 1").scalar()
    assert outcome == b"refused driver-failed"
    assert before == after == 1


@pytest.mark.postgresql
def test_bulk_reads_use_a_second_read_only_session_and_leave_no_thread(corpus_urls: Any) -> None:
    sessions: dict[int, list[str]] = {}
    with connect(Environment(name="t", url=corpus_urls("postgresql"))) as conn:

        def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
            sessions.setdefault(id(connection.connection.dbapi_connection), []).append(statement)

        read_only: list[str] = []

        def opened(dbapi_connection: Any, record: Any) -> None:  # after drift's own session setup
            cursor = dbapi_connection.cursor()
            cursor.execute("SHOW default_transaction_read_only")
            read_only.append(cursor.fetchone()[0])
            cursor.close()

        event.listen(conn.engine, "before_cursor_execute", record)
        event.listen(conn.engine, "connect", opened)
        forked = compare(conn, corpus.build("postgresql"), workers=2)
    assert forked.partitioned is not None and forked.partitioned.workers > 1
    assert len(sessions) == 2  # this one and the second, for part of alembic's bulk reads
    second = min(sessions.values(), key=len)
    assert second and all("pg_catalog" in s for s in second)
    assert not [s for statements in sessions.values() for s in statements if faults.is_write(s)]
    assert read_only == ["on"]  # the second session, opened meanwhile, is read-only like the first
    assert [t.name for t in threading.enumerate() if t.name == "drift-bulk-read"] == []


@pytest.mark.mysql
def test_mariadb_checks_read_on_a_second_session_alike(corpus_urls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # From SECOND_SESSION_TABLES on, the check catalogue is read meanwhile on a second session.
    monkeypatch.setattr(prefetch, "SECOND_SESSION_TABLES", 1)
    threads: list[str] = []
    started = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        threads.append(thread.name)
        started(thread)

    monkeypatch.setattr(threading.Thread, "start", start)

    def models() -> sa.MetaData:
        md = corpus.build("mysql")
        PLANTS["check_added_to_models"].mutate(md, "mysql")
        return md

    with connect(Environment(name="t", url=corpus_urls("mysql"))) as conn:
        ahead = compare(conn, models())
    monkeypatch.setattr(prefetch, "SECOND_SESSION_TABLES", 10**9)
    with connect(Environment(name="t", url=corpus_urls("mysql"))) as conn:
        alone = compare(conn, models())
    assert "drift-checks-read" in threads
    assert ahead.findings
    _same(ahead, alone)


@pytest.mark.postgresql
def test_progress_counts_what_the_workers_compare(corpus_urls: Any) -> None:
    calls: list[tuple[str, int, int]] = []
    with connect(Environment(name="t", url=corpus_urls("postgresql"))) as conn:
        with progress.reporting(lambda *call: calls.append(call)), \
                pytest.MonkeyPatch.context() as mp:
            mp.setattr(partitions, "PROGRESS_EVERY", 0.0)
            forked = compare(conn, corpus.build("postgresql"), workers=2)
    assert forked.partitioned is not None and forked.partitioned.workers > 1
    compared = [c for c in calls if c[0] == "compared"]
    total = len(corpus.build("postgresql").tables)
    assert compared[-1] == ("compared", total, total)
    assert [done for _, done, _ in compared] == sorted(done for _, done, _ in compared)
    assert len(compared) > 1  # counted as the workers went, not only at the end


@pytest.mark.postgresql
def test_other_threads_keep_the_comparison_in_one_process(corpus_urls: Any) -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        with connect(Environment(name="t", url=corpus_urls("postgresql"))) as conn:
            alone = compare(conn, corpus.build("postgresql"), workers=2)
    finally:
        release.set()
        other.join()
    assert alone.partitioned is not None and alone.partitioned.workers == 0
    assert alone.partitioned.reason == "other threads are running"


def test_sqlite_whose_catalogue_is_not_read_in_bulk_stays_in_one_process(tmp_path: Path) -> None:
    # A view whose table is gone makes the bulk PRAGMA reads fail; tables are then read one by one, and a
    # worker, which may not read, could not compare any.
    url = sa.make_url(f"sqlite:///{tmp_path / 'x.db'}")
    engine = sa.create_engine(url)
    corpus.build("sqlite").create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE gone (z INTEGER)")
        conn.exec_driver_sql("CREATE VIEW broken AS SELECT z FROM gone")
        conn.exec_driver_sql("DROP TABLE gone")
    engine.dispose()
    with connect(Environment(name="t", url=url)) as conn:
        alone = compare(conn, corpus.build("sqlite"), workers=2).partitioned
    assert alone is not None and alone.workers == 0
    assert alone.reason == "a bulk read of SQLite's catalogue failed"


@pytest.mark.postgresql
def test_a_small_schema_stays_in_one_process(corpus_urls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partitions, "MIN_TABLES", 300)
    with connect(Environment(name="t", url=corpus_urls("postgresql"))) as conn:
        alone = compare(conn, corpus.build("postgresql"), workers=2).partitioned
    assert alone is not None and alone.workers == 0
    assert alone.reason == f"{len(corpus.build('postgresql').tables)} tables, fewer than 300"


def test_every_schema_read_is_registered() -> None:
    # The reads drift's comparators make on first use: each must be made ahead of the fork.
    names = {read.__module__.rsplit(".", 1)[-1] for read in _util.SCHEMA_READS}
    assert {"checks", "indexes", "prefetch"} <= names


@pytest.mark.parametrize(("value", "expected"), [("auto", partitions.available_cpus()), ("1", 1), (" 3 ", 3)])
def test_compare_processes_setting(tmp_path: Path, value: str, expected: int) -> None:
    (tmp_path / "config.ini").write_text(f"[drift]\ncompare_processes = {value}\n\n[dev]\nurl = sqlite:///x.db\n")
    assert compare_processes_setting(Config.load(tmp_path / "config.ini")) == expected


@pytest.mark.parametrize("value", ["0", "-2", "many", "1.5"])
def test_compare_processes_refuses_nonsense(tmp_path: Path, value: str) -> None:
    (tmp_path / "config.ini").write_text(f"[drift]\ncompare_processes = {value}\n\n[dev]\nurl = sqlite:///x.db\n")
    with pytest.raises(ConfigError, match="compare_processes must be auto or a whole number"):
        compare_processes_setting(Config.load(tmp_path / "config.ini"))


def test_the_pool_runs_no_more_workers_at_once_than_it_may() -> None:
    # Five chunks' workers, two at a time: each sleeps, answers and exits; none starts before a slot is free.
    pool = partitions._Pool(None, slots=2)

    def work(fd: int) -> None:
        time.sleep(0.2)
        partitions._sender(fd)({"tables": [["s", "t"]], "memory": 1000})
        os._exit(0)

    pool.queue.extend((index, work) for index in range(1, 6))
    try:
        pool.wait()
    finally:
        pool.end()
    assert [w.index for w in pool.workers] == [1, 2, 3, 4, 5]
    assert all(w.tables == {("s", "t")} for w in pool.workers)
    for worker in pool.workers:
        running = [o for o in pool.workers if o.started <= worker.started < o.finished]
        assert len(running) <= 2
    # The most memory held at once: two workers' worth, not five.
    assert partitions._most_at_once(pool.workers) == 2000
