"""Time ``drift check`` with cause attribution, without ``scratch_cache``, with it empty and with it filled.

    python bench/scratch_cache.py --dialect postgresql --revisions 100 --json bench/results/scratch-cache-postgresql.json

One run writes a throwaway project whose history has ``--revisions``
migrations, each creating one table (columns of a few types, an index), and
whose models add a column no migration makes; puts a new database at
``--pending`` revisions before head and adds a column by hand. ``drift check``
then has one finding of each cause, and to tell them builds a scratch schema at
the recorded revision and one per pending revision (the migrations run once
through, with a comparison at each stop). Each ``drift check`` is a new process,
as the nightly job runs it:

* **no cache**: config.ini without ``scratch_cache`` — the baseline;
* **cold**: ``scratch_cache`` set, its folder emptied before each run — the
  first night: everything built, then written;
* **warm**: the folder as the previous run left it — every night after, until
  a migration or the models change.

Reported per variant: wall time (best and median of ``--repeat``), scratch
databases made (from drift's ``--debug`` log), and whether every finding got
the same cause as without the cache. The database, and every scratch database,
is dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SERVERS, drift_revision, machine, progress, server_version, temporary_database  # noqa: E402

VARIANTS = ("no_cache", "cold", "warm")
LABELS = {"no_cache": "no `scratch_cache`", "cold": "`scratch_cache`, empty (the first night)",
          "warm": "`scratch_cache`, filled (every night after)"}


COLUMNS = (
    'sa.Column("id", sa.Integer, primary_key=True)',
    'sa.Column("name", sa.String(50), nullable=False)',
    'sa.Column("amount", sa.Numeric(10, 2))',
    'sa.Column("created", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP"))',
    'sa.Column("kind", sa.String(20), nullable=False, server_default="plain")',
)


def columns(indent: str, extra: tuple[str, ...] = ()) -> str:
    return "".join(f"{indent}{column},\n" for column in (*COLUMNS, *extra))


def write_project(root: Path, live: sa.engine.URL, scratch_url: sa.engine.URL | None, revisions: int) -> None:
    """Migrations r000… (each creates t000…), models with every table and t000.note, config.ini and cached.ini."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(
        "from alembic import context\n\n"
        "context.configure(connection=context.config.attributes['connection'], target_metadata=None)\n"
        "with context.begin_transaction():\n"
        "    context.run_migrations()\n",
        encoding="utf-8",
    )
    down = None
    models = ['"""The models: every migration\'s table, and t000.note, which no migration makes."""',
              "import sqlalchemy as sa", "", "metadata = sa.MetaData()", ""]
    for i in range(revisions):
        name = f"t{i:03d}"
        (versions / f"r{i:03d}.py").write_text(
            f'"""Create {name}."""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
            f'revision = "r{i:03d}"\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n'
            "def upgrade():\n"
            f'    op.create_table(\n        "{name}",\n{columns("        ")}    )\n'
            f'    op.create_index("ix_{name}_name", "{name}", ["name"])\n\n\n'
            "def downgrade():\n"
            f'    op.drop_table("{name}")\n',
            encoding="utf-8",
        )
        down = f"r{i:03d}"
        extra = ('sa.Column("note", sa.String(100))',) if i == 0 else ()
        models.append(f'sa.Table(\n    "{name}",\n    metadata,\n{columns("    ", extra)}'
                      f'    sa.Index("ix_{name}_name", "name"),\n)')
    (root / "models.py").write_text("\n".join(models) + "\n", encoding="utf-8")
    (root / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\npath_separator = os\n",
                                      encoding="utf-8")
    scratch = "" if scratch_url is None else f"scratch_url = {scratch_url.render_as_string(hide_password=False)}\n"
    common = "models = models:metadata\nmodel_modules = models\nalembic_ini = alembic.ini\n" + scratch
    prod = f"\n[prod]\nurl = {live.render_as_string(hide_password=False)}\nstatement_timeout = 600\n"
    (root / "config.ini").write_text("[drift]\n" + common + prod, encoding="utf-8")
    (root / "cached.ini").write_text("[drift]\n" + common + "scratch_cache = cache\n" + prod, encoding="utf-8")


def migrate(root: Path, live: sa.engine.URL, target: str, hand_made: str) -> None:
    """The live database at ``target``, through alembic, then one column added by hand."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(root / "migrations"))
    engine = sa.create_engine(live, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, target)
        with engine.begin() as conn:
            conn.exec_driver_sql(hand_made)
    finally:
        engine.dispose()


def check(root: Path, config: str) -> dict[str, Any]:
    """One ``drift check --env prod`` in a new process: seconds, scratch databases made, causes."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "drift", "check", "--env", "prod", "--config", str(root / config),
         "--format", "json", "--debug"],
        capture_output=True, text=True, cwd=root, timeout=3600,
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"drift check failed ({done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    causes = {f"{f['table']}.{f['name']}" if f["name"] else f["table"]: f["cause"] for f in report["findings"]}
    return {"seconds": round(seconds, 4), "scratch_databases": done.stderr.count("scratch database:"),
            "from_cache": done.stderr.count("from scratch_cache"), "causes": causes}


def measure(root: Path, repeat: int) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for round_ in range(repeat):
        for variant in VARIANTS:
            if variant == "cold":
                shutil.rmtree(root / "cache", ignore_errors=True)
            sample = check(root, "config.ini" if variant == "no_cache" else "cached.ini")
            samples[variant].append(sample)
            progress(f"run {round_ + 1}/{repeat} {variant}: {sample['seconds']:.2f} s, "
                     f"{sample['scratch_databases']} scratch databases, {sample['from_cache']} layers read")
    baseline = samples["no_cache"][0]["causes"]
    results = {}
    for variant, runs in samples.items():
        times = [r["seconds"] for r in runs]
        results[variant] = {
            "best_seconds": min(times), "median_seconds": statistics.median(times), "samples": times,
            "scratch_databases": [r["scratch_databases"] for r in runs],
            "layers_read": [r["from_cache"] for r in runs],
            "same_causes": all(r["causes"] == baseline for r in runs),
        }
    base = results["no_cache"]["best_seconds"]
    for variant in VARIANTS:
        results[variant]["ratio_best"] = round(results[variant]["best_seconds"] / base, 3)
    return {"variants": results, "causes": baseline}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"{result['server']}, {result['revisions']} migrations ({result['pending']} pending), "
             f"{result['date']}; drift at {result['machine'].get('drift_revision') or '?'}; "
             f"best of {result['repeat']}, each run a new `drift check` process.", "",
             "| | best | median | ÷ no cache | scratch databases a run | layers read a run | same causes |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for variant in VARIANTS:
        v = result["variants"][variant]
        lines.append(f"| {LABELS[variant]} | {v['best_seconds']:.2f} s | {v['median_seconds']:.2f} s | "
                     f"{v['ratio_best']:.2f}× | {max(v['scratch_databases'])} | {max(v['layers_read'])} | "
                     f"{'yes' if v['same_causes'] else '**no**'} |")
    return "\n".join(lines)


@contextlib.contextmanager
def no_scratch_left(dialect: str) -> Iterator[None]:
    """Afterwards, no drift_scratch_* database left on the server (drift drops its own; this checks it)."""
    yield
    if dialect == "sqlite":
        return
    engine = sa.create_engine(SERVERS[dialect], poolclass=NullPool)
    try:
        with engine.connect() as conn:
            query = ("SELECT datname FROM pg_database" if dialect == "postgresql" else "SHOW DATABASES")
            left = [n for (n,) in conn.exec_driver_sql(query) if n.startswith("drift_scratch_")]
    finally:
        engine.dispose()
    if left:
        progress(f"warning: scratch databases left on the server: {', '.join(left)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--dialect", choices=("postgresql", "mariadb", "sqlite"), default="postgresql")
    parser.add_argument("--revisions", type=int, default=100, help="migrations in the history (default 100)")
    parser.add_argument("--pending", type=int, default=10,
                        help="revisions the live database is behind head (default 10, drift's step limit)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant (default 3)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.revisions < 2 or not 0 <= args.pending < args.revisions or args.repeat < 1:
        parser.error("need --revisions ≥ 2, 0 ≤ --pending < --revisions and --repeat ≥ 1")
    revision_at_start = drift_revision()
    with tempfile.TemporaryDirectory(prefix="drift-bench-cache-") as tmp, no_scratch_left(args.dialect):
        workdir = Path(tmp)
        with temporary_database(args.dialect, None, workdir) as live:
            root = workdir / "project"
            root.mkdir()
            scratch_url = None if args.dialect == "sqlite" else sa.engine.make_url(SERVERS[args.dialect])
            if args.dialect == "mariadb":
                scratch_url = scratch_url.set(database="mysql")
            write_project(root, live, scratch_url, args.revisions)
            target = f"r{args.revisions - 1 - args.pending:03d}"
            migrate(root, live, target, "ALTER TABLE t001 ADD COLUMN hotfix VARCHAR(20)")
            progress(f"live database at {target}, {args.pending} revisions behind head, t001.hotfix added by hand")
            measured = measure(root, args.repeat)
            result = {
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "dialect": args.dialect, "server": server_version(live), "revisions": args.revisions,
                "pending": args.pending, "repeat": args.repeat, "machine": machine(revision_at_start),
                **measured,
            }
    print(markdown(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0 if all(v["same_causes"] for v in result["variants"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
