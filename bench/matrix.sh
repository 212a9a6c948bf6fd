#!/usr/bin/env bash
# The whole recorded benchmark matrix (issue 9), one case after another, each writing bench/results/<case>.json;
# then the summary, ready to paste into bench/README.md.
#
#   bench/matrix.sh                  # every case (14-45 minutes on a 2-core machine, see bench/README.md)
#   bench/matrix.sh pg-2000 pair     # only the cases named
#   bench/matrix.sh --list           # the cases and their exact commands, without running anything
#   SMOKE=1 bench/matrix.sh          # every case on a few dozen tables, into $TMPDIR/drift-bench-smoke/
#
# PYTHON names the interpreter (default: python); RESULTS the output folder (default: bench/results).
# A case that fails stops the matrix (its database is dropped by run.py on the way out); results of the
# cases before it are kept.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python}
RESULTS=${RESULTS:-bench/results}

# name | arguments to bench/run.py (the --json path is added). Repeats, tools and memory runs are chosen so the
# whole matrix fits in under 45 minutes on a shared 2-core machine (the measured parts are in bench/README.md):
# drift end to end (models imported afresh) only at 500 tables; at 10,000 tables one alembic run takes 20-70 s
# on PostgreSQL and MariaDB and 2-4 minutes on SQLite, so those cases run once, with the two tools the targets
# use (SQLite's memory runs add one more run of each). Memory does not depend on latency: the proxy cases
# skip it.
CASES=(
  "pg-500|--dialect postgresql --tables 500 --repeat 3"
  "pg-2000|--dialect postgresql --tables 2000 --repeat 3 --tools alembic,drift_models_loaded"
  "pg-10000|--dialect postgresql --tables 10000 --repeat 2 --tools alembic,drift_models_loaded"
  "mariadb-500|--dialect mariadb --tables 500 --repeat 3"
  "mariadb-2000|--dialect mariadb --tables 2000 --repeat 3 --tools alembic,drift_models_loaded"
  "mariadb-10000|--dialect mariadb --tables 10000 --repeat 2 --tools alembic,drift_models_loaded"
  "sqlite-500|--dialect sqlite --tables 500 --repeat 3"
  "sqlite-2000|--dialect sqlite --tables 2000 --repeat 3 --tools alembic,drift_models_loaded"
  "sqlite-10000|--dialect sqlite --tables 10000 --repeat 2 --tools alembic,drift_models_loaded"
  "pg-2000-rtt2|--dialect postgresql --tables 2000 --rtt-ms 2 --repeat 2 --tools alembic,drift_models_loaded --memory none"
  "mariadb-2000-rtt2|--dialect mariadb --tables 2000 --rtt-ms 2 --repeat 2 --tools alembic,drift_models_loaded --memory none"
  "pair|--dialect postgresql --tables 2000 --pair --repeat 2 --tools alembic --memory none"
  "pair-serial|--dialect postgresql --tables 2000 --pair --repeat 2 --tools alembic --memory none --compare-processes 1"
)

# SMOKE=1: every case on a few dozen tables, one repeat, into another folder: checks the driver in a minute.
if [[ ${SMOKE:-} == 1 ]]; then
  RESULTS=${RESULTS_SMOKE:-${TMPDIR:-/tmp}/drift-bench-smoke}
  for i in "${!CASES[@]}"; do
    entry=${CASES[$i]}
    entry=${entry//--tables 10000/--tables 60}
    entry=${entry//--tables 2000/--tables 40}
    entry=${entry//--tables 500/--tables 20}
    entry=$(sed -E 's/--repeat [0-9]+/--repeat 1/' <<<"$entry")
    CASES[$i]=$entry
  done
fi

# The result file of each case: bench/results/<dialect>-<tables>[-rtt2][-pair].json
result_file() {
  case "$1" in
    pg-*) echo "$RESULTS/postgresql-${1#pg-}.json" ;;
    pair) echo "$RESULTS/postgresql-2000-pair.json" ;;
    pair-serial) echo "$RESULTS/postgresql-2000-pair-serial.json" ;;
    *) echo "$RESULTS/$1.json" ;;
  esac
}

command_of() {
  local name=$1 args=$2
  echo "$PYTHON bench/run.py $args --json $(result_file "$name")"
}

if [[ ${1:-} == --list ]]; then
  for entry in "${CASES[@]}"; do
    command_of "${entry%%|*}" "${entry#*|}"
  done
  echo "$PYTHON bench/summarize.py $RESULTS/*.json"
  exit 0
fi

selected=("$@")
wanted() {
  [[ ${#selected[@]} -eq 0 ]] && return 0
  local name
  for name in "${selected[@]}"; do [[ $name == "$1" ]] && return 0; done
  return 1
}
for name in "${selected[@]}"; do
  found=0
  for entry in "${CASES[@]}"; do [[ ${entry%%|*} == "$name" ]] && found=1; done
  [[ $found -eq 1 ]] || { echo "unknown case $name; bench/matrix.sh --list shows them" >&2; exit 2; }
done

mkdir -p "$RESULTS"
start=$(date +%s)
for entry in "${CASES[@]}"; do
  name=${entry%%|*}
  wanted "$name" || continue
  cmd=$(command_of "$name" "${entry#*|}")
  echo "==> $name: $cmd" >&2
  case_start=$(date +%s)
  # shellcheck disable=SC2086  # the arguments are words on purpose
  $cmd
  echo "==> $name took $(( $(date +%s) - case_start )) s (matrix so far $(( $(date +%s) - start )) s)" >&2
done
echo "==> matrix took $(( $(date +%s) - start )) s" >&2

"$PYTHON" bench/summarize.py "$RESULTS"/*.json
