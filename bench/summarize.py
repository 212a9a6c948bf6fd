"""Markdown for bench/README.md from the JSON files ``run.py --json`` writes.

    python bench/summarize.py bench/results/*.json
    python bench/summarize.py --targets-only bench/results/*.json

Prints issue 9's targets (each target, the figure the results give, the
limit, met or not: computed here, never typed), one overview table (a row per
run), the dev + prod runs, and then each run's full table, so the README
shows exactly what the runs measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

DIALECT_ORDER = {"postgresql": 0, "mariadb": 1, "sqlite": 2}
DIALECT_NAMES = {"postgresql": "PostgreSQL", "mariadb": "MariaDB", "sqlite": "SQLite"}
#: The drift figure the targets use: drift with the models already imported, where alembic's baseline starts.
#: A --pair run measures the same as drift_prod.
DRIFT_TOOLS = ("drift_models_loaded", "drift_prod", "drift")
RTT_REMOTE_MS = 2.0


def load(paths: Sequence[Path]) -> list[dict[str, Any]]:
    runs = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    return sorted(runs, key=lambda r: (DIALECT_ORDER.get(r["dialect"], 9), r["tables_requested"],
                                       r.get("rtt_ms") or 0, "pair" in r))


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _drift_tool(run: dict[str, Any]) -> str | None:
    return next((name for name in DRIFT_TOOLS if name in run["tools"]), None)


def path(run: dict[str, Any]) -> str:
    """loopback, a file, or the delay proxy's configured and measured round trip."""
    if run["dialect"] == "sqlite":
        return "file"
    if not run.get("rtt_ms"):
        return "loopback"
    measured = run.get("rtt_ms_measured")
    return f"RTT {run['rtt_ms']:g} ms" + (f" (measured {measured:.2f})" if measured is not None else "")


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """One of issue 9's targets: what it says, how to find its figure in the runs, and its limit."""

    text: str
    limit: float
    figure: Callable[[Sequence[dict[str, Any]]], tuple[float | None, str]]  # (value, where it comes from)
    unit: str = "×"


def _pick(runs: Sequence[dict[str, Any]], dialect: str, tables: int, *, rtt: float = 0.0,
          pair: bool = False, compare_processes: int | str = "auto") -> dict[str, Any] | None:
    """The latest run of that case: loopback (rtt 0) or through the proxy at ``rtt`` ms; with --pair or not;
    with drift's default ``compare_processes`` (auto) unless another is asked for."""
    found = [r for r in runs if r["dialect"] == dialect and r["tables_requested"] == tables
             and float(r.get("rtt_ms") or 0) == rtt and ("pair" in r) == pair
             and r.get("compare_processes", "auto") == compare_processes]
    return max(found, key=lambda r: r["date"]) if found else None


def _case(run: dict[str, Any]) -> str:
    return f"{DIALECT_NAMES.get(run['dialect'], run['dialect'])} {run['tables_requested']:,}, {path(run)}"


def statements(dialect: str, tables: int) -> Callable[[Sequence[dict[str, Any]]], tuple[float | None, str]]:
    def figure(runs: Sequence[dict[str, Any]]) -> tuple[float | None, str]:
        run = _pick(runs, dialect, tables) or _pick(runs, dialect, tables, rtt=RTT_REMOTE_MS)
        tool = _drift_tool(run) if run else None
        if run is None or tool is None:
            return None, ""
        return run["tools"][tool]["statements"], f"{_case(run)}: drift {run['tools'][tool]['statements']:,}, " \
                                                 f"alembic {run['tools']['alembic']['statements']:,}"
    return figure


def time_ratio(dialect: str, tables: int, rtt: float) -> Callable[[Sequence[dict[str, Any]]], tuple[float | None, str]]:
    def figure(runs: Sequence[dict[str, Any]]) -> tuple[float | None, str]:
        run = _pick(runs, dialect, tables, rtt=rtt)
        tool = _drift_tool(run) if run else None
        if run is None or tool is None:
            return None, ""
        alembic, drift = run["tools"]["alembic"]["best_seconds"], run["tools"][tool]["best_seconds"]
        return drift / alembic, f"{_case(run)}: drift {drift:.2f} s, alembic {alembic:.2f} s (best of {run['repeat']})"
    return figure


def growth(dialect: str, small: int, large: int) -> Callable[[Sequence[dict[str, Any]]], tuple[float | None, str]]:
    def figure(runs: Sequence[dict[str, Any]]) -> tuple[float | None, str]:
        a, b = _pick(runs, dialect, small), _pick(runs, dialect, large)
        tool = "drift_models_loaded"
        if a is None or b is None or tool not in a["tools"] or tool not in b["tools"]:
            return None, ""
        ta, tb = a["tools"][tool]["best_seconds"], b["tools"][tool]["best_seconds"]
        alembic = b["tools"]["alembic"]["best_seconds"] / a["tools"]["alembic"]["best_seconds"]
        return tb / ta, (f"{DIALECT_NAMES[dialect]}: drift {tb:.2f} s at {large:,} tables, {ta:.2f} s at {small:,} "
                         f"(two runs, best of each; alembic grew {alembic:.2f}×)")
    return figure


def memory_ratio(dialect: str, tables: int) -> Callable[[Sequence[dict[str, Any]]], tuple[float | None, str]]:
    def figure(runs: Sequence[dict[str, Any]]) -> tuple[float | None, str]:
        run = _pick(runs, dialect, tables)
        tool = _drift_tool(run) if run else None
        if run is None or tool is None:
            return None, ""
        drift, alembic = run["tools"][tool]["peak_memory_bytes"], run["tools"]["alembic"]["peak_memory_bytes"]
        if not drift or not alembic:
            return None, f"{_case(run)}: run without memory figures (--memory none)"
        method = run.get("memory_method") or "tracemalloc"
        return drift / alembic, f"{_case(run)}: drift {drift / 1e6:.0f} MB, alembic {alembic / 1e6:.0f} MB ({method})"
    return figure


def pair_ratio(dialect: str, tables: int, compare_processes: int | str = "auto",
               ) -> Callable[[Sequence[dict[str, Any]]], tuple[float | None, str]]:
    def figure(runs: Sequence[dict[str, Any]]) -> tuple[float | None, str]:
        run = (_pick(runs, dialect, tables, pair=True, compare_processes=compare_processes)
               or _pick(runs, dialect, tables, rtt=RTT_REMOTE_MS, pair=True, compare_processes=compare_processes))
        if run is None:
            return None, ""
        p = run["pair"]
        both = p.get("processes_best_seconds") or p["both_best_seconds"]
        how = "with parallel = processes" if "processes_best_seconds" in p else "in threads"
        return both / max(p["dev_best_seconds"], p["prod_best_seconds"]), (
            f"dev SQLite + prod {_case(run)}, {how}: both {both:.2f} s, "
            f"dev {p['dev_best_seconds']:.2f} s, prod {p['prod_best_seconds']:.2f} s "
            f"(in threads: {p['both_best_seconds']:.2f} s, {p['ratio_best']:.2f}×)")
    return figure


TARGETS: tuple[Target, ...] = (
    *(Target(f"statements per check, 2,000 tables, {DIALECT_NAMES[d]}", 50, statements(d, 2000), unit="")
      for d in ("postgresql", "mariadb")),
    *(Target(f"2,000 tables through a 2 ms round trip, {DIALECT_NAMES[d]}: drift ÷ alembic", 0.25,
             time_ratio(d, 2000, RTT_REMOTE_MS)) for d in ("postgresql", "mariadb")),
    *(Target(f"2,000 tables on loopback, {DIALECT_NAMES[d]}: drift ÷ alembic", 0.5, time_ratio(d, 2000, 0.0))
      for d in ("postgresql", "mariadb")),
    Target("2,000 tables, SQLite: drift ÷ alembic", 1.0, time_ratio("sqlite", 2000, 0.0)),
    *(Target(f"10,000 tables, {DIALECT_NAMES[d]}: drift's time ÷ drift's 2,000-table time", 5.5,
             growth(d, 2000, 10000)) for d in ("postgresql", "mariadb", "sqlite")),
    *(Target(f"10,000 tables, {DIALECT_NAMES[d]}: drift's peak memory ÷ alembic's", 1.5, memory_ratio(d, 10000))
      for d in ("postgresql", "mariadb", "sqlite")),
    Target("dev + prod in one run ÷ the slower one alone, 2,000 tables (prod PostgreSQL)", 1.2,
           pair_ratio("postgresql", 2000)),
)


def targets(runs: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| target | figure | limit | met | from |",
        "|---|---:|---:|---|---|",
    ]
    for target in TARGETS:
        value, source = target.figure(runs)
        if value is None:
            figure, met = "—", "not measured"
        else:
            figure = f"{value:,.0f}" if not target.unit else f"{value:.2f}{target.unit}"
            met = "yes" if value <= target.limit else "**no**"
        limit = f"≤ {target.limit:g}{target.unit}"
        lines.append(f"| {target.text} | {figure} | {limit} | {met} | {source} |")
    value, source = pair_ratio("postgresql", 2000, compare_processes=1)(runs)
    if value is not None:
        lines += ["", f"Not a target, for reading the last one: with every check in one process "
                      f"(`compare_processes = 1`, as if each had a CPU of its own), dev + prod in one run is "
                      f"{value:.2f}× the slower one alone ({source})."]
    revisions = sorted({r["machine"].get("drift_revision") or "?" for r in runs})
    lines += [
        "",
        f"drift is measured with the models already imported (where alembic's baseline starts, MetaData in hand); "
        f"times are the best of each run's repeats; drift at {', '.join(revisions)}.",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- tables


def overview(runs: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| database | tables | path | drift at | alembic, best | drift end to end, best | × | drift, models imported, best "
        "| × | × CPU | statements alembic / drift | round trips alembic / drift | × memory (models imported) |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        if "pair" in run:
            continue  # in the dev + prod table
        tools, ratios = run["tools"], run["ratios"]
        end_to_end, loaded = tools.get("drift", {}), tools.get("drift_models_loaded", {})
        loaded_ratios = ratios.get("drift_models_loaded", {})
        drift_trips = (loaded or end_to_end).get("round_trips")
        trips = "—" if drift_trips is None else f"{tools['alembic']['round_trips']:,} / {drift_trips:,}"
        cells = [
            run["server"],
            f"{run['schema']['tables']:,}",
            path(run),
            run["machine"].get("drift_revision") or "?",
            _seconds(tools["alembic"].get("best_seconds")),
            _seconds(end_to_end.get("best_seconds")),
            _times(ratios.get("drift", {}).get("best_seconds")),
            _seconds(loaded.get("best_seconds")),
            _times(loaded_ratios.get("best_seconds")),
            _times(loaded_ratios.get("best_cpu_seconds")),
            f"{tools['alembic']['statements']:,} / {(loaded or end_to_end).get('statements', 0):,}",
            trips,
            _times(loaded_ratios.get("peak_memory")),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def pairs(runs: Sequence[dict[str, Any]]) -> str | None:
    """dev (SQLite) alone, prod alone, both in one run, and the ratio."""
    paired = [r for r in runs if "pair" in r]
    if not paired:
        return None
    lines = [
        "| prod | tables | path | compare_processes | drift at | dev alone, best | prod alone, best | dev + prod in one run "
        "(threads), best | ÷ slower alone | in processes, best | ÷ slower alone | findings as planted |",
        "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in paired:
        p = run["pair"]
        cells = [
            run["server"],
            f"{run['schema']['tables']:,}",
            path(run),
            str(run.get("compare_processes", "auto")),
            run["machine"].get("drift_revision") or "?",
            _seconds(p["dev_best_seconds"]),
            _seconds(p["prod_best_seconds"]),
            _seconds(p["both_best_seconds"]),
            _times(p["ratio_best"]),
            _seconds(p["processes_best_seconds"]) if "processes_best_seconds" in p else "—",
            _times(p["processes_ratio_best"]) if "processes_ratio_best" in p else "—",
            "yes" if p["matches_planted"] else "**no**",
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def details(run: dict[str, Any]) -> str:
    machine, stats = run["machine"], run["schema"]
    load = ", ".join(f"{x:g}" for x in machine.get("load_average", [])) or "not recorded"
    title = f"#### {run['server']}, {stats['tables']:,} tables"
    if run.get("rtt_ms"):
        title += f", RTT {run['rtt_ms']:g} ms"
    if "pair" in run:
        title += ", dev + prod"
    if run.get("compare_processes", "auto") != "auto":
        title += f", compare_processes = {run['compare_processes']}"
    connection = ""
    if run["dialect"] != "sqlite" and "rtt_ms_measured" in run:
        if run.get("rtt_ms"):
            connection = (f" Through the delay proxy: RTT {run['rtt_ms']:g} ms configured, "
                          f"{run['rtt_ms_measured']} ms measured (median `SELECT 1`; {run['select1_direct_ms']} ms "
                          "direct).")
        else:
            connection = f" Loopback: `SELECT 1` round trip {run['rtt_ms_measured']} ms (median)."
    memory = {"rss": "Peak memory: RSS growth of one run in a forked child.",
              "tracemalloc": "Peak memory: tracemalloc (Python allocations)."}.get(run.get("memory_method") or "", "")
    if "memory_method" not in run and any(t.get("peak_memory_bytes") for t in run["tools"].values()):
        memory = "Peak memory: tracemalloc (Python allocations)."
    return "\n".join([
        title,
        "",
        f"{run['date']}; drift {machine['drift']} at {machine.get('drift_revision') or 'an unknown revision'}, "
        f"alembic {machine['alembic']}, SQLAlchemy {machine['sqlalchemy']}, Python {machine['python']}; "
        f"{machine['cpus']} CPUs ({machine['cpu']}), load average at the end {load}; best of {run['repeat']}.",
        f"Schema: {stats['columns']:,} columns, {stats['indexes']:,} indexes, {stats['foreign_keys']:,} foreign keys, "
        f"{stats['unique_constraints']:,} unique and {stats['check_constraints']:,} check constraints, "
        f"{stats['server_defaults']:,} server defaults, {stats['comments']:,} comments; "
        f"{run['planted']} planted differences, "
        f"{'all' if run['drift_matches_planted'] else 'NOT all'} reported by drift. "
        f"Created in {run['create_seconds']:.0f} s. "
        f"Building the models' MetaData took {run['models_build']['seconds']:.2f} s of drift's end-to-end time."
        f"{connection} {memory}".rstrip(),
        "",
        run["table"],
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Markdown tables from bench/run.py --json results.")
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--targets-only", action="store_true", help="print only issue 9's targets table")
    args = parser.parse_args(argv)
    runs = load(args.results)
    print(targets(runs))
    if args.targets_only:
        return 0
    print()
    print(overview(runs))
    paired = pairs(runs)
    if paired:
        print()
        print(paired)
    for run in runs:
        print()
        print(details(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
