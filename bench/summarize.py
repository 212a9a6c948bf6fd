"""Markdown for bench/README.md from the JSON files ``run.py --json`` writes.

    python bench/summarize.py bench/results/*.json

Prints one overview table (a row per run) and then each run's full table, so
the README shows exactly what the runs measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

DIALECT_ORDER = {"postgresql": 0, "mariadb": 1, "sqlite": 2}


def load(paths: Sequence[Path]) -> list[dict[str, Any]]:
    runs = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    return sorted(runs, key=lambda r: (DIALECT_ORDER.get(r["dialect"], 9), r["tables_requested"]))


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def overview(runs: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| database | tables | drift at | alembic, best | drift end to end, best | × | drift, models imported, best "
        "| × | × CPU | statements alembic / drift | × memory (models imported) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        tools, ratios = run["tools"], run["ratios"]
        end_to_end, loaded = tools.get("drift", {}), tools.get("drift_models_loaded", {})
        loaded_ratios = ratios.get("drift_models_loaded", {})
        cells = [
            run["server"],
            f"{run['schema']['tables']:,}",
            run["machine"].get("drift_revision") or "?",
            _seconds(tools["alembic"].get("best_seconds")),
            _seconds(end_to_end.get("best_seconds")),
            _times(ratios.get("drift", {}).get("best_seconds")),
            _seconds(loaded.get("best_seconds")),
            _times(loaded_ratios.get("best_seconds")),
            _times(loaded_ratios.get("best_cpu_seconds")),
            f"{tools['alembic']['statements']:,} / {(loaded or end_to_end).get('statements', 0):,}",
            _times(loaded_ratios.get("peak_memory")),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def details(run: dict[str, Any]) -> str:
    machine, stats = run["machine"], run["schema"]
    load = ", ".join(f"{x:g}" for x in machine.get("load_average", [])) or "not recorded"
    return "\n".join([
        f"#### {run['server']}, {stats['tables']:,} tables",
        "",
        f"{run['date']}; drift {machine['drift']} at {machine.get('drift_revision') or 'an unknown revision'}, "
        f"alembic {machine['alembic']}, SQLAlchemy {machine['sqlalchemy']}, Python {machine['python']}; "
        f"{machine['cpus']} CPUs ({machine['cpu']}), load average at the end {load}; best of {run['repeat']}.",
        f"Schema: {stats['columns']:,} columns, {stats['indexes']:,} indexes, {stats['foreign_keys']:,} foreign keys, "
        f"{stats['unique_constraints']:,} unique and {stats['check_constraints']:,} check constraints, "
        f"{stats['server_defaults']:,} server defaults, {stats['comments']:,} comments; "
        f"{run['planted']} planted differences, "
        f"{'all' if run['drift_matches_planted'] else 'NOT all'} reported by drift. "
        f"Building the models' MetaData took {run['models_build']['seconds']:.2f} s of drift's end-to-end time.",
        "",
        run["table"],
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Markdown tables from bench/run.py --json results.")
    parser.add_argument("results", nargs="+", type=Path)
    runs = load(parser.parse_args(argv).results)
    print(overview(runs))
    for run in runs:
        print()
        print(details(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
