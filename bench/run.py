"""Time ``drift check`` against alembic's own ``compare_metadata`` on a generated schema.

    python bench/run.py --dialect postgresql --tables 2000 --repeat 3 --json bench/results/postgresql-2000.json

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
  so it starts where the baseline starts.

Wall time (best and median of ``--repeat``) and statements sent are taken in
the timed runs; peak memory (tracemalloc) in one further run of each, since
tracing slows everything down. The temporary database is always dropped,
also on Ctrl-C or SIGTERM (as sent by ``timeout``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import platform
import pstats
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import schema  # noqa: E402  (a sibling module, not a package)

# Admin URLs of the servers the temporary databases are created on.
SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/",
}
DIALECTS = ("postgresql", "mariadb", "sqlite")
LABELS = {
    "alembic": "alembic `compare_metadata`, MetaData given",
    "drift": "`drift check`, end to end",
    "drift_models_loaded": "`drift check`, models already imported",
}
ENVIRONMENT = "bench"
MODELS_MODULE = "bench_models"
SCHEMA_MODULE = "bench_schema"
# Tables created per transaction: one transaction for thousands of tables
# runs PostgreSQL out of lock slots (max_locks_per_transaction).
CREATE_BATCH = 200
# Generous, so a slow comparison is measured rather than cut off.
STATEMENT_TIMEOUT = 3600


# --------------------------------------------------------------------------- measuring


class StatementCounter:
    """Counts statements sent through any engine (a listener on the Engine class)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, many: bool) -> None:
        self.count += 1

    @contextlib.contextmanager
    def installed(self) -> Iterator[StatementCounter]:
        event.listen(Engine, "before_cursor_execute", self)
        try:
            yield self
        finally:
            event.remove(Engine, "before_cursor_execute", self)


#: One tool under test: runs a whole comparison and returns the number of differences it reports.
Tool = Callable[[], int]


@dataclass(frozen=True)
class Sample:
    seconds: float
    cpu_seconds: float  # this process only: steadier than wall time on a busy machine
    statements: int
    differences: int


@dataclass
class ToolResult:
    name: str
    samples: list[Sample] = field(default_factory=list)
    peak_memory: int | None = None  # bytes, tracemalloc

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": [round(s.seconds, 4) for s in self.samples],
            "best_seconds": round(self.best, 4),
            "median_seconds": round(self.median, 4),
            "cpu_seconds": [round(s.cpu_seconds, 4) for s in self.samples],
            "best_cpu_seconds": round(self.best_cpu, 4),
            "statements": self.statements,
            "differences": self.differences,
            "peak_memory_bytes": self.peak_memory,
        }


def measure(tool: Tool, counter: StatementCounter) -> Sample:
    gc.collect()
    counter.count = 0
    start, cpu = time.perf_counter(), time.process_time()
    differences = tool()
    return Sample(time.perf_counter() - start, time.process_time() - cpu, counter.count, differences)


def peak_memory(tool: Tool) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tool()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


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

    def __init__(self, config_path: Path, *, fresh_import: bool) -> None:
        self.config_path = config_path
        self.fresh_import = fresh_import
        self.kinds: Counter[str] = Counter()  # the last run's findings by kind

    def __call__(self) -> int:
        if self.fresh_import:
            for name in (MODELS_MODULE, SCHEMA_MODULE):
                sys.modules.pop(name, None)
        report = drift.check(self.config_path, ENVIRONMENT)
        self.kinds = Counter(f.kind for f in report.findings)
        return len(report.findings)


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


def create_schema(url: URL, metadata: sa.MetaData) -> float:
    start = time.perf_counter()
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        tables = metadata.sorted_tables  # referenced tables first, so each batch's FKs resolve
        for first in range(0, len(tables), CREATE_BATCH):
            with engine.begin() as conn:
                metadata.create_all(conn, tables=tables[first:first + CREATE_BATCH], checkfirst=False)
    finally:
        engine.dispose()
    return time.perf_counter() - start


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


def write_project(root: Path, url: URL, tables: int, seed: int) -> Path:
    """A minimal project drift can check: config.ini, a models module, alembic.ini, no migrations."""
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
        "alembic_ini = alembic.ini\n\n"
        f"[{ENVIRONMENT}]\n"
        f"url = {url.render_as_string(hide_password=False)}\n"
        f"statement_timeout = {STATEMENT_TIMEOUT}\n",
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


def machine() -> dict[str, Any]:
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
        "drift_revision": drift_revision(),
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


def markdown_table(results: Sequence[ToolResult], repeat: int) -> str:
    """One row per tool; ratios are against the first (the baseline) from the same run."""
    baseline = results[0]

    def times(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}×"

    def megabytes(value: int | None) -> str:
        return "—" if value is None else f"{value / 1e6:.1f} MB"

    lines = [
        f"| | best of {repeat} | median | × alembic (best) | × alembic (median) "
        "| client CPU, best | × alembic (CPU) | statements | peak memory | × alembic (memory) | differences |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
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
            megabytes(result.peak_memory),
            times(ratio(result.peak_memory, baseline.peak_memory)),
            str(result.differences),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


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
    parser.add_argument("--tools", default=",".join(LABELS),
                        help=f"comma-separated tools to measure (default {','.join(LABELS)}); alembic is always the baseline")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="also run each tool once under cProfile and write DIR/<tool>.prof")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.tables < 1 or args.repeat < 1:
        parser.error("--tables and --repeat must be at least 1")
    tools = ["alembic"] + [t for t in args.tools.split(",") if t and t != "alembic"]
    unknown = [t for t in tools if t not in LABELS]
    if unknown:
        parser.error(f"unknown tool {unknown[0]!r}; choose from {', '.join(LABELS)}")
    args.tools = tools
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        workdir = Path(tmp)
        with temporary_database(args.dialect, args.server_url, workdir) as url:
            progress(f"creating {args.tables} tables on {args.dialect}")
            created = create_schema(url, schema.build_metadata(args.tables, args.seed, side="database"))
            progress(f"created in {created:.1f} s")

            start = time.perf_counter()
            metadata = schema.build_metadata(args.tables, args.seed, side="models")
            models_seconds = time.perf_counter() - start
            models_memory = None if args.no_memory else peak_memory(
                lambda: len(schema.build_metadata(args.tables, args.seed, side="models").tables)
            )

            project = workdir / "project"
            project.mkdir()
            config = write_project(project, url, args.tables, args.seed)
            drift_tools = {
                "drift": DriftTool(config, fresh_import=True),
                "drift_models_loaded": DriftTool(config, fresh_import=False),
            }
            available: dict[str, Tool] = {"alembic": alembic_tool(url, metadata), **drift_tools}
            tools = {name: available[name] for name in args.tools}
            results = {name: ToolResult(name) for name in tools}
            counter = StatementCounter()
            with counter.installed():
                for repetition in range(args.repeat):
                    # Each tool goes first in turn, so warm caches favour none of them.
                    names = list(tools)
                    shift = repetition % len(names)
                    for name in names[shift:] + names[:shift]:
                        sample = measure(tools[name], counter)
                        results[name].samples.append(sample)
                        progress(f"run {repetition + 1}/{args.repeat} {name}: {sample.seconds:.2f} s "
                                 f"(CPU {sample.cpu_seconds:.2f} s), "
                                 f"{sample.statements} statements, {sample.differences} differences")
            if not args.no_memory:
                for name, tool in tools.items():
                    peak = results[name].peak_memory = peak_memory(tool)
                    progress(f"{name}: peak memory {peak / 1e6:.1f} MB")
            if args.profile:
                profile(tools, args.profile)

            found = next((drift_tools[name].kinds for name in args.tools if name in drift_tools), Counter())
            planted = Counter(p.kind for p in schema.expected(args.tables, args.dialect))
            baseline = results["alembic"]
            return {
                "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                "dialect": args.dialect,
                "server": server_version(url),
                "tables_requested": args.tables,
                "seed": args.seed,
                "repeat": args.repeat,
                "machine": machine(),
                "schema": schema_stats(metadata),
                "create_seconds": round(created, 2),
                "models_build": {"seconds": round(models_seconds, 4), "peak_memory_bytes": models_memory},
                "planted": sum(planted.values()),
                "drift_matches_planted": found == planted,
                "drift_findings_by_kind": dict(sorted(found.items())),
                "tools": {name: result.as_dict() for name, result in results.items()},
                "ratios": {
                    name: {
                        "best_seconds": ratio(result.best, baseline.best),
                        "median_seconds": ratio(result.median, baseline.median),
                        "best_cpu_seconds": ratio(result.best_cpu, baseline.best_cpu),
                        "statements": ratio(result.statements, baseline.statements),
                        "peak_memory": ratio(result.peak_memory, baseline.peak_memory),
                    }
                    for name, result in results.items()
                    if result is not baseline
                },
                "table": markdown_table(list(results.values()), args.repeat),
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
    signal.signal(signal.SIGTERM, _terminate)
    result = run(args)
    stats = result["schema"]
    print(f"{result['dialect']} ({result['server']}), {stats['tables']} tables, {stats['columns']} columns, "
          f"{stats['indexes']} indexes, {stats['foreign_keys']} foreign keys; "
          f"{result['machine']['cpus']} CPUs; {result['date']}")
    print(result["table"])
    print(f"building the models' MetaData (part of drift end to end): {result['models_build']['seconds']:.2f} s")
    if not result["drift_matches_planted"]:
        print(f"warning: drift's findings {result['drift_findings_by_kind']} "
              f"do not match the {result['planted']} planted differences", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
