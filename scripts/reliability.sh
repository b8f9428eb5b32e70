#!/usr/bin/env bash
# The README's reliability table, from the fault tests themselves: each
# prints `reliability | fault | tried | outcome` rows (deskhand_tests::
# reliability), and so do scripts/fuzz-ci.sh and bench/storm.sh. This runs
# the fault tests (on SQLite; with-postgres in front for PostgreSQL) and
# prints their rows as a Markdown table, with the rows of any earlier
# output files given as arguments (a fuzzing or storm run's log).
#
# Usage: scripts/reliability.sh [LOG...]
set -euo pipefail
cd "$(dirname "$0")/.."
tests=(crash_rounds lossy_network greedy_clients watchdog storm inventory_failures jobs)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo build -q -p deskhand-server -p deskhand-agent --bins
args=()
for t in "${tests[@]}"; do
  [ -f "tests/tests/$t.rs" ] && args+=(--test "$t")
done
cargo test -q -p deskhand-tests "${args[@]}" -- --nocapture 2>&1 | tee "$out" \
  | grep -E '^(test result|reliability \|)' >&2 || { echo "scripts/reliability.sh: a fault test failed (log above)" >&2; exit 1; }
echo
echo "| fault | tried | what happened |"
echo "|---|---|---|"
cat "$out" "$@" | grep -hE '^reliability \|' | sed -E 's/^reliability \| */| /; s/$/ |/'
