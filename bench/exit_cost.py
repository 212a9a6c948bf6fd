"""What ending the process costs after a large check, with and without setting the heap aside first.

    python bench/exit_cost.py --tables 10000

Builds a SQLite file of N generated tables (bench/schema.py) and a throwaway
project in a temporary folder, then runs, in a new process each: import the
models, ``drift.check``, and exit — once as the interpreter ends by itself,
once after ``gc.freeze()`` (what ``drift.cli.main`` does on its way out). It
prints each process's wall time and how long its check took: the rest is
importing and ending.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402
import schema  # noqa: E402

DRIVER = """
import gc, sys, time
sys.path.insert(0, sys.argv[1])
import bench_models, drift
start = time.perf_counter()
drift.check(sys.argv[1] + "/config.ini", "bench")
print(f"{time.perf_counter() - start:.2f}", flush=True)
if sys.argv[2] == "freeze":
    gc.freeze()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drift-exit-") as tmp:
        root = Path(tmp)
        url = sa.URL.create("sqlite+pysqlite", database=str(root / "bench.db"))
        bench.in_child(lambda: {"seconds": bench.create_schema(url, schema.build_metadata(args.tables, 1, side="database"))})
        project = root / "project"
        project.mkdir()
        bench.write_project(project, url, args.tables, 1)
        print(f"{args.tables:,} SQLite tables; process wall time (the check's own time), best of {args.repeat}")
        for mode in ("plain", "freeze"):
            runs = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                out = subprocess.run([sys.executable, "-c", DRIVER, str(project), mode], check=True,
                                     capture_output=True, text=True).stdout
                runs.append((time.perf_counter() - start, float(out.split()[-1])))
            wall, check = min(runs)
            print(f"{'gc.freeze() before exit' if mode == 'freeze' else 'interpreter ends by itself'}: "
                  f"{wall:.2f} s ({check:.2f} s check)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
