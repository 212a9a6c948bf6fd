"""Time ``drift check`` against alembic's own ``compare_metadata`` on a generated schema.

    python bench/run.py --dialect postgresql --tables 2000 --repeat 3 --json bench/results/postgresql-2000.json
    python bench/run.py --dialect mariadb --tables 2000 --rtt-ms 2 --json bench/results/mariadb-2000-rtt2.json
    python bench/run.py --dialect postgresql --tables 2000 --pair --tools alembic --json bench/results/pair-2000.json

One run: create a temporary database, fill it with the ``database`` side of
:mod:`schema` (a generated schema plus a handful of planted differences),
write a throwaway drift project whose models are the ``models`` side, then
measure in the same process, each taking its turn to go first:

* **alembic** (the baseline): ``compare_metadata`` on a plain connection, with
  ``compare_type`` and ``compare_server_default`` on — what a hand-written
  drift check would do, given the MetaData already built;
* **drift**: ``drift.check(config, env)`` end to end — importing the models
  (which builds the MetaData), opening the Alembic project, its own read-only
  connection, comparing, turning ops into findings and suggesting a migration;
* **drift_models_loaded**: the same, with the models module already imported,
  so it starts where the baseline starts;
* with ``--pair``, a second environment: ``dev`` on a SQLite file holding the
  same database side, ``prod`` on the server, and **drift_dev**,
  **drift_prod**, **drift_dev_prod** (both in one run of drift's
  multi-environment runner, in threads: ``parallel = threads``) and
  **drift_dev_prod_processes** (the same in processes, what
  ``drift check --env dev --env prod`` does on Linux).

Wall time (best and median of ``--repeat``) and statements sent are taken in
the timed runs; peak memory in one further run of each: by default the peak
RSS growth of a forked child (``--memory rss``), or Python's allocations under
tracemalloc (``--memory tracemalloc``, several times slower). ``--rtt-ms``
puts a delay proxy (``proxy.py``) between the tools and the server. The
temporary database is always dropped, also on Ctrl-C or SIGTERM (as sent by
``timeout``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import ctypes
import gc
import importlib
import json
import os
import platform
import pstats
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

import drift
from drift.comparators import partitions
from drift.run import run as run_environments

sys.path.insert(0, str(Path(__file__).resolve().parent))
import schema  # noqa: E402  (sibling modules, not a package)
from proxy import ProxyProcess  # noqa: E402

# Admin URLs of the servers the temporary databases are created on.
SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/",
}
DEFAULT_PORTS = {"postgresql": 5432, "mariadb": 3306}
DIALECTS = ("postgresql", "mariadb", "sqlite")
LABELS = {
    "alembic": "alembic `compare_metadata`, MetaData given",
    "drift": "`drift check`, end to end",
    "drift_models_loaded": "`drift check`, models already imported",
    "drift_dev": "`drift check --env dev` (SQLite), models already imported",
    "drift_prod": "`drift check --env prod`, models already imported",
    "drift_dev_prod": "`drift check --env dev --env prod`, one run in threads, models already imported",
    "drift_dev_prod_processes": "the same with `parallel = processes` (`auto` on Linux)",
}
DEFAULT_TOOLS = ("alembic", "drift", "drift_models_loaded")
PAIR_TOOLS = ("drift_dev", "drift_prod", "drift_dev_prod", "drift_dev_prod_processes")
MEMORY_METHODS = ("rss", "tracemalloc", "none")
ENVIRONMENT = "bench"
MODELS_MODULE = "bench_models"
SCHEMA_MODULE = "bench_schema"
# Tables created per transaction: one transaction for thousands of tables
# runs PostgreSQL out of lock slots (max_locks_per_transaction).
CREATE_BATCH = 200
# Connections creating tables at once on MariaDB (see create_schema).
CREATE_WORKERS = 3
# Generous, so a slow comparison is measured rather than cut off.
STATEMENT_TIMEOUT = 3600
# SELECT 1 round trips whose median is the measured RTT.
RTT_ROUNDS = 21
# Statement shapes kept per tool in the JSON.
TOP_SHAPES = 15


# --------------------------------------------------------------------------- measuring


class StatementCounter:
    """Counts statements sent through any engine (a listener on the Engine class).

    It keeps the statements' text too (a reference each: cheap), so that the
    shapes of what a tool sends can be tallied after the timed run.
    """

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements = []

    def __call__(self, conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, many: bool) -> None:
        self.statements.append(statement)

    @contextlib.contextmanager
    def installed(self) -> Iterator[StatementCounter]:
        event.listen(Engine, "before_cursor_execute", self)
        try:
            yield self
        finally:
            event.remove(Engine, "before_cursor_execute", self)


#: One tool under test: runs a whole comparison and returns the number of differences it reports.
Tool = Callable[[], int]


_LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`|\b\d+\b")


def statement_shape(statement: str) -> str:
    """A statement with its literals, quoted names and layout taken out, cut short: what tallies group by."""
    return _LITERALS.sub("?", " ".join(statement.split()))[:100]


def shapes(statements: Sequence[str], top: int = TOP_SHAPES) -> list[list[Any]]:
    """The ``top`` most frequent statement shapes, as ``[count, shape]``."""
    return [[n, shape] for shape, n in Counter(map(statement_shape, statements)).most_common(top)]


@dataclass(frozen=True)
class Sample:
    seconds: float
    cpu_seconds: float  # the run's process and its ended children: steadier than wall time on a busy machine
    statements: int
    differences: int
    round_trips: int | None = None  # exchanges the delay proxy saw (None: no proxy)


@dataclass
class ToolResult:
    name: str
    samples: list[Sample] = field(default_factory=list)
    peak_memory: int | None = None  # bytes, by memory_method
    memory_method: str | None = None
    memory_detail: dict[str, Any] | None = None
    statement_shapes: list[list[Any]] = field(default_factory=list)  # of the last timed run

    @property
    def best(self) -> float:
        return min(s.seconds for s in self.samples)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def best_cpu(self) -> float:
        return min(s.cpu_seconds for s in self.samples)

    @property
    def statements(self) -> int:
        return self.samples[-1].statements

    @property
    def differences(self) -> int:
        return self.samples[-1].differences

    @property
    def round_trips(self) -> int | None:
        return self.samples[-1].round_trips

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": [round(s.seconds, 4) for s in self.samples],
            "best_seconds": round(self.best, 4),
            "median_seconds": round(self.median, 4),
            "cpu_seconds": [round(s.cpu_seconds, 4) for s in self.samples],
            "best_cpu_seconds": round(self.best_cpu, 4),
            "statements": self.statements,
            "round_trips": self.round_trips,
            "differences": self.differences,
            "peak_memory_bytes": self.peak_memory,
            "memory_method": self.memory_method,
            "memory_detail": self.memory_detail,
            "statement_shapes": self.statement_shapes,
        }


def cpu_time() -> float:
    """CPU seconds of this process and of its children that have ended (drift's compare workers, say)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def measure(tool: Tool, counter: StatementCounter, proxy: ProxyProcess | None = None) -> tuple[Sample, list[Any]]:
    """One timed run of ``tool`` in a forked child of this process; the sample and its statement shapes.

    Every run starts from the same heap — the models imported, nothing
    compared — as a new ``drift check`` process would, whatever ran before:
    in one process, a run would inherit the freed but still mapped memory of
    the runs before it (alembic's at 10,000 tables leaves the heap hundreds of
    MB larger), which slows forking and page faults for the next. What the
    tool keeps about its findings (``kinds``) comes back with the figures.
    """
    gc.collect()
    exchanges = proxy.stats()["exchanges"] if proxy else None

    def timed() -> dict[str, Any]:
        counter.reset()
        start, cpu = time.perf_counter(), cpu_time()
        differences = tool()
        seconds, cpu_seconds = time.perf_counter() - start, cpu_time() - cpu
        kinds = getattr(tool, "kinds", None)
        return {"seconds": seconds, "cpu_seconds": cpu_seconds, "statements": counter.count,
                "differences": differences, "shapes": shapes(counter.statements), "kinds": kinds}

    report = in_child(timed)
    round_trips = proxy.stats()["exchanges"] - exchanges if proxy and exchanges is not None else None
    if report["kinds"] is not None:
        tool.kinds = _counters(report["kinds"])  # type: ignore[attr-defined]
    sample = Sample(report["seconds"], report["cpu_seconds"], report["statements"], report["differences"],
                    round_trips)
    return sample, report["shapes"]


def _counters(kinds: dict[str, Any]) -> Any:
    """A tool's ``kinds`` back from JSON: a Counter, or a Counter per environment."""
    if all(isinstance(value, dict) for value in kinds.values()) and kinds:
        return {name: Counter(value) for name, value in kinds.items()}
    return Counter(kinds)


# --------------------------------------------------------------------------- peak memory


def peak_memory(tool: Tool, method: str) -> tuple[int, dict[str, Any]]:
    """Peak memory of one run of ``tool``, in bytes, by ``method`` (rss or tracemalloc), and its details."""
    if method == "tracemalloc":
        return peak_tracemalloc(tool), {}
    detail = peak_rss(tool)
    return detail["peak_bytes"], detail


def peak_tracemalloc(tool: Tool) -> int:
    """The peak of Python's own allocations while ``tool`` runs (slow: every allocation is traced)."""
    gc.collect()
    tracemalloc.start()
    try:
        tool()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _proc_status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key}")


def _reset_peak_rss() -> bool:
    """Set this process's RSS high-water mark (VmHWM) to its current RSS (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _malloc_trim() -> None:
    """Give memory malloc holds free back to the system, so a child's growth shows as new pages."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _measure_in_child(tool: Tool) -> dict[str, Any]:
    earlier = partitions.last()
    reset = _reset_peak_rss()
    start = _proc_status_kb("VmRSS")
    began = time.perf_counter()
    tool()
    seconds = time.perf_counter() - began
    hwm = _proc_status_kb("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    peak = (hwm if reset else maxrss) - start
    # drift's compare workers (forked processes): their own pages, added as if all at once.
    partitioned = partitions.last()
    if partitioned is earlier:
        partitioned = None  # this run compared nothing (alembic's)
    workers = partitioned.worker_memory if partitioned is not None else 0
    return {
        "peak_bytes": peak * 1024 + workers,
        "process_peak_bytes": peak * 1024,
        "workers": partitioned.workers if partitioned is not None else 0,
        "worker_private_bytes": workers,
        "start_rss_bytes": start * 1024,
        "high_water_bytes": (hwm if reset else maxrss) * 1024,
        "ru_maxrss_bytes": maxrss * 1024,  # the same high-water mark as getrusage reports it
        "high_water_reset": reset,
        "seconds": round(seconds, 4),
    }


def peak_rss(tool: Tool) -> dict[str, Any]:
    """One run of ``tool`` in a forked child: how far its resident set grew above where it started.

    The child starts from this process's heap as it is — models imported,
    nothing compared yet, no garbage of earlier runs (the schema was created
    in a child too) — so what the run touches anew is what counts: the
    high-water mark of the child's RSS (VmHWM, reset at its start) minus its
    RSS then. Memory freed earlier but kept by the allocator could be reused
    without counting, which ``gc.collect`` and ``malloc_trim`` before the
    fork keep small.
    """
    gc.collect()
    _malloc_trim()
    return in_child(lambda: _measure_in_child(tool))


def in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``work()`` in a forked child; its result (JSON) comes back through a pipe, its errors as RuntimeError.

    The child never returns into the caller's frames (which would drop the
    temporary database twice); Ctrl-C or SIGTERM here kills it.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code, report = 1, {}
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.close(read_end)
            report = work()
            code = 0
        except BaseException as exc:  # noqa: BLE001 -- reported to the parent, which raises it
            report = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            try:
                data = json.dumps(report).encode()
                while data:
                    data = data[os.write(write_end, data):]
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
    except BaseException:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    report = json.loads(data or b"{}")
    if "error" in report or os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the child process failed: {report.get('error') or f'exit status {status}'}")
    return report


def alembic_tool(url: URL, metadata: sa.MetaData) -> Tool:
    """Alembic's comparison on a fresh engine and plain connection; the MetaData is given."""

    def run() -> int:
        engine = sa.create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(
                    conn, opts={"compare_type": True, "compare_server_default": True}
                )
                return count_diffs(compare_metadata(context, metadata))
        finally:
            engine.dispose()

    return run


def count_diffs(diffs: Sequence[Any]) -> int:
    # Column changes come as a list of tuples, one per changed attribute.
    return sum(len(d) if isinstance(d, list) else 1 for d in diffs)


class DriftTool:
    """``drift.check`` end to end.

    With ``fresh_import`` the models module is imported anew on every run, as
    in a new ``drift check`` process, so building the MetaData is part of the
    time; without it the module is already imported, so drift starts from the
    same point as the alembic baseline: the MetaData in memory.
    """

    def __init__(self, config_path: Path, environment: str = ENVIRONMENT, *, fresh_import: bool) -> None:
        self.config_path = config_path
        self.environment = environment
        self.fresh_import = fresh_import
        self.kinds: Counter[str] = Counter()  # the last run's findings by kind

    def __call__(self) -> int:
        if self.fresh_import:
            for name in (MODELS_MODULE, SCHEMA_MODULE):
                sys.modules.pop(name, None)
        report = drift.check(self.config_path, self.environment)
        self.kinds = Counter(f.kind for f in report.findings)
        return len(report.findings)


class PairTool:
    """Several environments in one run of drift's multi-environment runner, as ``drift check --env A --env B``.

    The runner checks them concurrently and compares the pair (dev → prod),
    as the CLI's several-environment path does; the models are already
    imported. Returns the findings of all environments together.
    """

    def __init__(self, config_path: Path, environments: Sequence[str], *, processes: bool = False) -> None:
        self.config_path = config_path
        self.environments = tuple(environments)
        self.processes = processes  # drift's parallel = processes: a forked process per environment
        self.kinds: dict[str, Counter[str]] = {}

    def __call__(self) -> int:
        result = run_environments(self.config_path, list(self.environments), processes=self.processes)
        failed = [f"{e.name}: {e.summary}" for e in result.environments if e.report is None]
        if failed:
            raise RuntimeError(f"the several-environment run did not check everything: {'; '.join(failed)}")
        self.kinds = {e.name: Counter(f.kind for f in e.report.findings)
                      for e in result.environments if e.report is not None}
        return sum(len(report.findings) for report in result.reports)


# --------------------------------------------------------------------------- the database


@contextlib.contextmanager
def temporary_database(dialect: str, server: str | None, workdir: Path) -> Iterator[URL]:
    """A new, empty database for this run; dropped on the way out whatever happens."""
    if dialect == "sqlite":
        yield URL.create("sqlite+pysqlite", database=str(workdir / "bench.db"))
        return
    admin_url = make_url(server or SERVERS[dialect])
    name = f"drift_bench_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote_identifier(name)
            extra = " CHARACTER SET utf8mb4" if dialect == "mariadb" else ""
            conn.exec_driver_sql(f"CREATE DATABASE {quoted}{extra}")
        progress(f"created database {name}")
        try:
            yield admin_url.set(database=name)
        finally:
            with admin.connect() as conn:
                force = " WITH (FORCE)" if dialect == "postgresql" and _pg_at_least(conn, 13) else ""
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")
            progress(f"dropped database {name}")
    finally:
        admin.dispose()


def _pg_at_least(conn: sa.Connection, major: int) -> bool:
    version = conn.dialect.server_version_info or (0,)
    return int(version[0]) >= major


def create_schema(url: URL, metadata: sa.MetaData, label: str = "") -> float:
    """``create_all`` in batches of :data:`CREATE_BATCH` tables, a transaction each, with progress lines.

    On MariaDB, whose every CREATE TABLE is a durable commit of its own, the
    batches go to :data:`CREATE_WORKERS` connections at once, with foreign key
    checks off so that a table may name one another connection has not made
    yet: the schema that results is the same.
    """
    start = time.perf_counter()
    backend = url.get_backend_name()
    engine = sa.create_engine(url, poolclass=NullPool)
    if backend == "sqlite":
        # pysqlite runs DDL outside any transaction, so each CREATE would be a durable commit of its own
        # (minutes at 10,000 tables): open the batch's transaction ourselves; durability does not matter here.
        @event.listens_for(engine, "connect")
        def _no_driver_transactions(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA synchronous = OFF")

        @event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN")
    workers = CREATE_WORKERS if backend == "mysql" else 1
    if workers > 1:
        @event.listens_for(engine, "connect")
        def _no_fk_checks(dbapi_conn: Any, record: Any) -> None:
            with contextlib.closing(dbapi_conn.cursor()) as cursor:
                cursor.execute("SET SESSION foreign_key_checks = 0")

    tables = metadata.sorted_tables  # referenced tables first, so each batch's FKs resolve
    batches = iter(range(0, len(tables), CREATE_BATCH))
    lock = threading.Lock()
    done = 0
    step = max(CREATE_BATCH, len(tables) // 10 // CREATE_BATCH * CREATE_BATCH)  # about ten progress lines
    failures: list[BaseException] = []

    def work() -> None:
        nonlocal done
        try:
            while not failures:
                with lock:
                    first = next(batches, None)
                if first is None:
                    return
                batch = tables[first:first + CREATE_BATCH]
                with engine.begin() as conn:
                    metadata.create_all(conn, tables=batch, checkfirst=False)
                with lock:
                    before, done = done, done + len(batch)
                    if len(tables) > step and (done // step > before // step or done == len(tables)):
                        elapsed = time.perf_counter() - start
                        progress(f"{label}created {done:,}/{len(tables):,} tables in {elapsed:.0f} s "
                                 f"({elapsed / done * 1000:.1f} ms a table)")
        except BaseException as exc:  # noqa: BLE001 -- raised again by the caller's thread
            failures.append(exc)

    try:
        if workers == 1:
            work()
        else:
            threads = [threading.Thread(target=work, name=f"create-{n}") for n in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if failures:
            raise failures[0]
        if backend == "postgresql":
            # Planner statistics, as any production database has them (autovacuum): drift's risk rules
            # read row estimates from pg_class, and count rows themselves where a table was never analyzed.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return time.perf_counter() - start


def select1_ms(url: URL, rounds: int = RTT_ROUNDS) -> float | None:
    """The median time of a ``SELECT 1`` on an open connection to ``url``, in ms: the path's round trip."""
    if url.get_backend_name() == "sqlite":
        return None
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            for _ in range(3):  # warm up
                conn.exec_driver_sql("SELECT 1").scalar()
            samples = []
            for _ in range(rounds):
                start = time.perf_counter()
                conn.exec_driver_sql("SELECT 1").scalar()
                samples.append(time.perf_counter() - start)
    finally:
        engine.dispose()
    return round(statistics.median(samples) * 1000, 3)


def server_version(url: URL) -> str:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                return f"SQLite {conn.exec_driver_sql('SELECT sqlite_version()').scalar()}"
            if conn.dialect.name == "postgresql":
                return f"PostgreSQL {str(conn.exec_driver_sql('SHOW server_version').scalar()).split()[0]}"
            text = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
            return f"{'MariaDB' if 'mariadb' in text.lower() else 'MySQL'} {text.split('-')[0]}"
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the drift project


def write_project(root: Path, url: URL, tables: int, seed: int, dev_url: URL | None = None,
                  compare_processes: int | None = None) -> Path:
    """A minimal project drift can check: config.ini, a models module, alembic.ini, no migrations.

    With ``dev_url`` config.ini also has ``dev`` (that SQLite file) and
    ``prod`` (the same database as ``bench``), as the example app has;
    ``compare_processes`` goes to ``[drift]`` when given.
    """
    shutil.copyfile(Path(schema.__file__), root / f"{SCHEMA_MODULE}.py")
    (root / f"{MODELS_MODULE}.py").write_text(
        '"""The models side of the generated benchmark schema."""\n\n'
        f"from {SCHEMA_MODULE} import build_metadata\n\n"
        f'metadata = build_metadata({tables}, seed={seed}, side="models")\n',
        encoding="utf-8",
    )
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\npath_separator = os\n", encoding="utf-8"
    )
    config = root / "config.ini"
    config.write_text(
        "[drift]\n"
        f"models = {MODELS_MODULE}:metadata\n"
        f"model_modules = {MODELS_MODULE}\n"
        "alembic_ini = alembic.ini\n"
        + ("" if compare_processes is None else f"compare_processes = {compare_processes}\n")
        + "\n"
        f"[{ENVIRONMENT}]\n"
        f"url = {url.render_as_string(hide_password=False)}\n"
        f"statement_timeout = {STATEMENT_TIMEOUT}\n"
        + ("" if dev_url is None else
           "\n[dev]\n"
           f"url = {dev_url.render_as_string(hide_password=False)}\n"
           f"statement_timeout = {STATEMENT_TIMEOUT}\n\n"
           "[prod]\n"
           f"url = {url.render_as_string(hide_password=False)}\n"
           f"statement_timeout = {STATEMENT_TIMEOUT}\n"),
        encoding="utf-8",
    )
    return config


# --------------------------------------------------------------------------- reporting


def schema_stats(metadata: sa.MetaData) -> dict[str, int]:
    tables = list(metadata.tables.values())
    columns = [c for t in tables for c in t.columns]
    constraints = [c for t in tables for c in t.constraints]
    return {
        "tables": len(tables),
        "columns": len(columns),
        "indexes": sum(len(t.indexes) for t in tables),
        "foreign_keys": sum(isinstance(c, sa.ForeignKeyConstraint) for c in constraints),
        "unique_constraints": sum(isinstance(c, sa.UniqueConstraint) for c in constraints),
        "check_constraints": sum(isinstance(c, sa.CheckConstraint) for c in constraints),
        "server_defaults": sum(c.server_default is not None for c in columns),
        "comments": sum(t.comment is not None for t in tables) + sum(c.comment is not None for c in columns),
    }


def machine(revision_at_start: str | None) -> dict[str, Any]:
    def version(package: str) -> str | None:
        try:
            return package_metadata.version(package)
        except package_metadata.PackageNotFoundError:
            return None

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "load_average": [round(load, 2) for load in os.getloadavg()],  # other work on the machine skews wall time
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "system": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "sqlalchemy": sa.__version__,
        "alembic": version("alembic"),
        "drift": drift.__version__,
        "drift_revision": revision_at_start,  # what was imported; the end's differs if drift/ changed meanwhile
        "drift_revision_at_end": drift_revision(),
        "psycopg": version("psycopg"),
        "pymysql": version("PyMySQL"),
    }


def drift_revision() -> str | None:
    """The commit drift was measured at, with ``+changes`` when drift/ differs from it."""
    source = Path(drift.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=source,
                                capture_output=True, text=True, check=True).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=source,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}+changes" if changes else commit


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


MEMORY_HEADERS = {"rss": "peak RSS growth", "tracemalloc": "peak memory (tracemalloc)"}


def markdown_table(results: Sequence[ToolResult], repeat: int) -> str:
    """One row per tool; ratios are against the first (the baseline) from the same run.

    A round-trips column (what the delay proxy counted) appears when the run went through it.
    """
    baseline = results[0]
    proxied = any(r.round_trips is not None for r in results)
    method = next((r.memory_method for r in results if r.memory_method), None)

    def times(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}×"

    def megabytes(value: int | None) -> str:
        return "—" if value is None else f"{value / 1e6:.1f} MB"

    header = [f"best of {repeat}", "median", "× alembic (best)", "× alembic (median)", "client CPU, best",
              "× alembic (CPU)", "statements", *(["round trips"] if proxied else []),
              MEMORY_HEADERS.get(method or "", "peak memory"), "× alembic (memory)", "differences"]
    lines = [f"| | {' | '.join(header)} |", "|---" + "|---:" * len(header) + "|"]
    for result in results:
        cells = [
            LABELS[result.name],
            f"{result.best:.2f} s",
            f"{result.median:.2f} s",
            times(ratio(result.best, baseline.best)),
            times(ratio(result.median, baseline.median)),
            f"{result.best_cpu:.2f} s",
            times(ratio(result.best_cpu, baseline.best_cpu)),
            str(result.statements),
            *([str(result.round_trips) if result.round_trips is not None else "—"] if proxied else []),
            megabytes(result.peak_memory),
            times(ratio(result.peak_memory, baseline.peak_memory)),
            str(result.differences),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def path_line(result: dict[str, Any]) -> str:
    """How the tools reached the server: loopback, or the delay proxy with its configured and measured RTT."""
    if result["dialect"] == "sqlite":
        return "SQLite file, no network"
    measured = result.get("rtt_ms_measured")
    if not result.get("rtt_ms"):
        return f"loopback, SELECT 1 round trip {measured} ms (median of {RTT_ROUNDS})"
    return (f"through the delay proxy: RTT {result['rtt_ms']:g} ms configured, {measured} ms measured "
            f"(median SELECT 1 of {RTT_ROUNDS}; {result.get('select1_direct_ms')} ms direct)")


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the run


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dialect", choices=DIALECTS, default="postgresql")
    parser.add_argument("--tables", type=int, default=2000, help="generated tables (default 2000)")
    parser.add_argument("--seed", type=int, default=1, help="schema generator seed (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each tool (default 3)")
    parser.add_argument("--server-url", help="admin URL of the server (default: the local server for the dialect)")
    parser.add_argument("--rtt-ms", type=float, default=0.0, metavar="MS",
                        help="put the delay proxy between the tools and the server, adding this round trip "
                             "(half each way); 0, the default, connects directly. Not for SQLite")
    parser.add_argument("--pair", action="store_true",
                        help="also a dev environment on a SQLite file with the same database side, and measure "
                             f"{', '.join(PAIR_TOOLS)} (dev alone, prod alone, both in one run)")
    parser.add_argument("--tools", default=",".join(DEFAULT_TOOLS),
                        help=f"comma-separated tools to measure (default {','.join(DEFAULT_TOOLS)}; "
                             f"--pair adds {','.join(PAIR_TOOLS)}); alembic is always the baseline")
    parser.add_argument("--memory", choices=MEMORY_METHODS, default="rss",
                        help="peak memory: rss (default: RSS growth of one run in a forked child), "
                             "tracemalloc (Python allocations; several times slower) or none")
    parser.add_argument("--no-memory", action="store_const", const="none", dest="memory",
                        help="same as --memory none")
    parser.add_argument("--compare-processes", type=int, metavar="N",
                        help="set compare_processes = N in the project's [drift] (default: not set, so auto: a "
                             "CPU each); 1 keeps every check in one process, which isolates the multi-environment "
                             "runner's own concurrency in a --pair run")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="also run each tool once under cProfile and write DIR/<tool>.prof")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.tables < 1 or args.repeat < 1:
        parser.error("--tables and --repeat must be at least 1")
    if args.compare_processes is not None and args.compare_processes < 1:
        parser.error("--compare-processes must be at least 1")
    if args.rtt_ms < 0:
        parser.error("--rtt-ms cannot be negative")
    if args.rtt_ms and args.dialect == "sqlite":
        parser.error("--rtt-ms needs a server to put the delay proxy in front of; "
                     "SQLite is a file opened in this process (use --dialect postgresql or mariadb)")
    tools = ["alembic"] + [t for t in args.tools.split(",") if t and t != "alembic"]
    if args.pair:
        tools += [t for t in PAIR_TOOLS if t not in tools]
    unknown = [t for t in tools if t not in LABELS]
    if unknown:
        parser.error(f"unknown tool {unknown[0]!r}; choose from {', '.join(LABELS)}")
    if not args.pair and any(t in PAIR_TOOLS for t in tools):
        parser.error(f"{', '.join(t for t in tools if t in PAIR_TOOLS)} need --pair (the dev environment)")
    if args.memory == "rss" and not Path("/proc/self/status").exists():
        parser.error("--memory rss reads /proc/self/status (Linux); use --memory tracemalloc here")
    args.tools = tools
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        url = stack.enter_context(temporary_database(args.dialect, args.server_url, workdir))
        dev_url = URL.create("sqlite+pysqlite", database=str(workdir / "dev.db")) if args.pair else None
        # In a child, so that the database side's MetaData leaves no freed memory behind in this
        # process for the memory runs to reuse unseen.
        created = in_child(lambda: create_schemas(args, url, dev_url))
        dev_created = created.get("dev_seconds")

        # The tools reach the server directly, or through the delay proxy (creating the schema did not).
        proxy: ProxyProcess | None = None
        tool_url = url
        if args.rtt_ms:
            target = (url.host or "127.0.0.1", url.port or DEFAULT_PORTS[args.dialect])
            proxy = stack.enter_context(ProxyProcess(target, rtt_ms=args.rtt_ms))
            tool_url = url.set(host="127.0.0.1", port=proxy.port)
            progress(f"delay proxy on 127.0.0.1:{proxy.port} → {target[0]}:{target[1]}, RTT {args.rtt_ms:g} ms")
        direct_ms = select1_ms(url)
        measured_ms = select1_ms(tool_url) if proxy else direct_ms
        if measured_ms is not None:
            progress(f"SELECT 1 round trip: {measured_ms} ms" + (f" (direct {direct_ms} ms)" if proxy else ""))

        project = workdir / "project"
        project.mkdir()
        config = write_project(project, tool_url, args.tables, args.seed, dev_url, args.compare_processes)
        # The models module, imported here as drift would import it: its MetaData is alembic's too.
        sys.path.insert(0, str(project))
        start = time.perf_counter()
        metadata = importlib.import_module(MODELS_MODULE).metadata
        models_seconds = time.perf_counter() - start
        progress(f"models imported in {models_seconds:.1f} s")
        drift_tools: dict[str, DriftTool] = {
            "drift": DriftTool(config, fresh_import=True),
            "drift_models_loaded": DriftTool(config, fresh_import=False),
            "drift_dev": DriftTool(config, "dev", fresh_import=False),
            "drift_prod": DriftTool(config, "prod", fresh_import=False),
        }
        pair_tool = PairTool(config, ("dev", "prod"))
        pair_processes = PairTool(config, ("dev", "prod"), processes=True)
        available: dict[str, Tool] = {"alembic": alembic_tool(tool_url, metadata), **drift_tools,
                                      "drift_dev_prod": pair_tool, "drift_dev_prod_processes": pair_processes}
        tools = {name: available[name] for name in args.tools}
        results = {name: ToolResult(name) for name in tools}
        models_memory = None
        if args.memory == "rss":  # before any run, from a heap that holds the models and little else
            models_memory = peak_rss(
                lambda: len(schema.build_metadata(args.tables, args.seed, side="models").tables)
            )["peak_bytes"]
            measure_memory(tools, results, args.memory)
        counter = StatementCounter()
        with counter.installed():
            for repetition in range(args.repeat):
                # Each tool goes first in turn, so warm caches favour none of them.
                names = list(tools)
                shift = repetition % len(names)
                for name in names[shift:] + names[:shift]:
                    sample, statement_shapes = measure(tools[name], counter, proxy)
                    results[name].samples.append(sample)
                    results[name].statement_shapes = statement_shapes
                    trips = f", {sample.round_trips} round trips" if sample.round_trips is not None else ""
                    progress(f"run {repetition + 1}/{args.repeat} {name}: {sample.seconds:.2f} s "
                             f"(CPU {sample.cpu_seconds:.2f} s), "
                             f"{sample.statements} statements{trips}, {sample.differences} differences")
            counter.reset()
        if args.memory == "tracemalloc":  # allocations only: the heap's state does not matter, after is fine
            models_memory = peak_tracemalloc(
                lambda: len(schema.build_metadata(args.tables, args.seed, side="models").tables)
            )
            measure_memory(tools, results, args.memory)
        if args.profile:
            profile(tools, args.profile)

        server_tools = [name for name in args.tools if name in ("drift", "drift_models_loaded", "drift_prod")]
        found = drift_tools[server_tools[0]].kinds if server_tools else Counter()
        planted = Counter(p.kind for p in schema.expected(args.tables, args.dialect))
        baseline = results["alembic"]
        result: dict[str, Any] = {
            "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "dialect": args.dialect,
            "server": server_version(url),
            "tables_requested": args.tables,
            "seed": args.seed,
            "repeat": args.repeat,
            "rtt_ms": args.rtt_ms,
            "rtt_ms_measured": measured_ms,
            "compare_processes": args.compare_processes or "auto",
            "select1_direct_ms": direct_ms,
            "memory_method": None if args.memory == "none" else args.memory,
            "machine": machine(args.drift_revision),
            "schema": schema_stats(metadata),
            "create_seconds": round(created["seconds"], 2),
            "models_build": {"seconds": round(models_seconds, 4), "peak_memory_bytes": models_memory},
            "planted": sum(planted.values()),
            "drift_matches_planted": found == planted,
            "drift_findings_by_kind": dict(sorted(found.items())),
            "tools": {name: r.as_dict() for name, r in results.items()},
            "ratios": {
                name: {
                    "best_seconds": ratio(r.best, baseline.best),
                    "median_seconds": ratio(r.median, baseline.median),
                    "best_cpu_seconds": ratio(r.best_cpu, baseline.best_cpu),
                    "statements": ratio(r.statements, baseline.statements),
                    "round_trips": ratio(r.round_trips, baseline.round_trips),
                    "peak_memory": ratio(r.peak_memory, baseline.peak_memory),
                }
                for name, r in results.items()
                if r is not baseline
            },
            "table": markdown_table(list(results.values()), args.repeat),
        }
        if args.pair:
            result["pair"] = pair_summary(results, pair_tool, drift_tools, args, dev_created)
        return result


def create_schemas(args: argparse.Namespace, url: URL, dev_url: URL | None) -> dict[str, Any]:
    """The database side on the server (and in the dev SQLite file with ``--pair``); seconds each."""
    progress(f"creating {args.tables:,} tables on {args.dialect}")
    database_side = schema.build_metadata(args.tables, args.seed, side="database")
    created: dict[str, Any] = {"seconds": create_schema(url, database_side)}
    progress(f"created in {created['seconds']:.1f} s")
    if dev_url is not None:
        progress(f"creating {args.tables:,} tables in the dev SQLite file")
        created["dev_seconds"] = create_schema(dev_url, database_side, "dev: ")
        progress(f"dev created in {created['dev_seconds']:.1f} s")
    return created


def measure_memory(tools: dict[str, Tool], results: dict[str, ToolResult], method: str) -> None:
    for name, tool in tools.items():
        result = results[name]
        result.peak_memory, detail = peak_memory(tool, method)
        result.memory_method, result.memory_detail = method, detail or None
        progress(f"{name}: {MEMORY_HEADERS[method]} {result.peak_memory / 1e6:.1f} MB")


def pair_summary(results: dict[str, ToolResult], pair_tool: PairTool, drift_tools: dict[str, DriftTool],
                 args: argparse.Namespace, dev_created: float | None) -> dict[str, Any]:
    """dev alone, prod alone, both in one run, and both ÷ the slower one alone."""
    dev, prod, both, processes = (results[name] for name in PAIR_TOOLS)
    expected = {"dev": Counter(p.kind for p in schema.expected(args.tables, "sqlite")),
                "prod": Counter(p.kind for p in schema.expected(args.tables, args.dialect))}
    return {
        "environments": {"dev": "SQLite file", "prod": args.dialect},
        "dev_create_seconds": None if dev_created is None else round(dev_created, 2),
        "dev_best_seconds": round(dev.best, 4),
        "prod_best_seconds": round(prod.best, 4),
        "both_best_seconds": round(both.best, 4),
        "dev_median_seconds": round(dev.median, 4),
        "prod_median_seconds": round(prod.median, 4),
        "both_median_seconds": round(both.median, 4),
        "ratio_best": ratio(both.best, max(dev.best, prod.best)),
        "ratio_median": ratio(both.median, max(dev.median, prod.median)),
        "processes_best_seconds": round(processes.best, 4),
        "processes_median_seconds": round(processes.median, 4),
        "processes_ratio_best": ratio(processes.best, max(dev.best, prod.best)),
        "processes_ratio_median": ratio(processes.median, max(dev.median, prod.median)),
        "matches_planted": (drift_tools["drift_dev"].kinds == expected["dev"]
                            and drift_tools["drift_prod"].kinds == expected["prod"]
                            and pair_tool.kinds == expected),
    }


def profile(tools: dict[str, Tool], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, tool in tools.items():
        profiler = cProfile.Profile()
        profiler.runcall(tool)
        profiler.dump_stats(directory / f"{name}.prof")
        progress(f"{name}: profile written to {directory / (name + '.prof')}; top of cumulative time:")
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)


def _terminate(signum: int, frame: Any) -> None:
    # SystemExit unwinds through the finally blocks that drop the temporary database.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.drift_revision = drift_revision()  # now, near the import: the tree may change during a long run
    signal.signal(signal.SIGTERM, _terminate)
    result = run(args)
    stats = result["schema"]
    print(f"{result['dialect']} ({result['server']}), {stats['tables']} tables, {stats['columns']} columns, "
          f"{stats['indexes']} indexes, {stats['foreign_keys']} foreign keys; "
          f"{result['machine']['cpus']} CPUs; {result['date']}")
    print(path_line(result))
    print(result["table"])
    print(f"building the models' MetaData (part of drift end to end): {result['models_build']['seconds']:.2f} s")
    pair = result.get("pair")
    if pair:
        print(f"dev + prod in one run: {pair['both_best_seconds']:.2f} s best, "
              f"{pair['ratio_best']:.2f}× the slower one alone "
              f"(dev {pair['dev_best_seconds']:.2f} s, prod {pair['prod_best_seconds']:.2f} s); "
              f"with parallel = processes {pair['processes_best_seconds']:.2f} s, "
              f"{pair['processes_ratio_best']:.2f}×")
        if not pair["matches_planted"]:
            print("warning: the pair's findings do not match the planted differences", file=sys.stderr)
    if not result["drift_matches_planted"] and any(t in result["tools"] for t in ("drift", "drift_models_loaded")):
        print(f"warning: drift's findings {result['drift_findings_by_kind']} "
              f"do not match the {result['planted']} planted differences", file=sys.stderr)
    machine_info = result["machine"]
    if machine_info["drift_revision_at_end"] != machine_info["drift_revision"]:
        print(f"warning: drift changed during the run ({machine_info['drift_revision']} at the start, "
              f"{machine_info['drift_revision_at_end']} at the end); the figures are of the start's",
              file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
