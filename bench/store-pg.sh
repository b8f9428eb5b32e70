#!/usr/bin/env bash
# The store on SQLite beside PostgreSQL, in one run: a release `deskhand
# server` on each, N simulated agents over QUIC loopback each sending a
# full synthetic inventory (PKGS packages, most from a pool the fleet
# shares), then DELTA_ROUNDS deltas of three upgrades each, RUNS times per
# database (a fresh data directory and database each time), alternating
# the two so that the machine's load falls on both alike. Prints the
# median of each row and every run's value.
#
# Usage: [RUNS=3] [INFLIGHT=64] [DELTA_ROUNDS=3] bench/store-pg.sh [AGENTS=1000] [PKGS=300]
#
# PostgreSQL: the server named by DESKHAND_TEST_DATABASE (a superuser
# URL; each run gets a database of its own there), else a throwaway
# cluster started by `with-postgres` (Debian's postgresql package).
# Binaries come from $CARGO_TARGET_DIR/release (built here unless
# NO_BUILD=1).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
pkgs="${2:-300}"
runs="${RUNS:-3}"
bin="${CARGO_TARGET_DIR:-target}/release"
if [ "${NO_BUILD:-0}" != 1 ]; then
  cargo build --release --quiet -p deskhand-server -p deskhand-tests --bins
fi
if [ -z "${DESKHAND_TEST_DATABASE:-}" ]; then
  exec "$bin/with-postgres" -- env NO_BUILD=1 "$0" "$@"
fi
. bench/lib.sh
ulimit -n 65536 2>/dev/null || true
top=$(mktemp -d)
trap 'kill ${sim:-} ${pid:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$top"' EXIT

# One run on DATABASE (empty: SQLite in the data directory): the
# simulator's key=value lines in $top/NAME.out.
one_run() {
  local name=$1 database=$2
  local dir="$top/$name"
  mkdir -p "$dir"
  DESKHAND_DATABASE=$database start_server "$dir" $((n + 100))
  local token
  token=$(enroll_token "$n")
  DESKHAND_SERVER_PID=$pid "$bin/deskhand-fleet-sim" "$agents" "$token" "$fp" "$n" 60 \
    "${INFLIGHT:-64}" "$pkgs" "${DELTA_ROUNDS:-3}" > "$dir/sim.out" 2> "$dir/sim.err" &
  sim=$!
  wait_for_sim "$dir" "$sim" 1800
  kill "$sim" "$pid" 2>/dev/null || true
  wait "$sim" "$pid" 2>/dev/null || true
  cp "$dir/sim.out" "$top/$name.out"
  rm -rf "$dir"
}

for r in $(seq 1 "$runs"); do
  one_run "sqlite-$r" ""
  db="bench_store_$$_$r"
  psql -q "$DESKHAND_TEST_DATABASE" -c "CREATE DATABASE $db" > /dev/null
  url="${DESKHAND_TEST_DATABASE%/*}/$db"
  one_run "postgres-$r" "$url"
  psql -q "$DESKHAND_TEST_DATABASE" -c "DROP DATABASE $db" > /dev/null
  echo "run $r of $runs done" >&2
done

# KEY's values over the runs on BACKEND: "median (a, b, c)".
row() {
  local backend=$1 key=$2
  for f in "$top/$backend"-*.out; do awk -F= -v k="$key" '$1==k {print $2}' "$f"; done |
    sort -n | awk '{ v[NR] = $1; all = all (NR > 1 ? ", " : "") $1 }
      END { if (NR == 0) { print "-"; exit }
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%s (%s)", m, all }'
}

printf '\n| %s agents x %s packages, median of %s runs (each run) | SQLite | PostgreSQL |\n|---|---|---|\n' "$n" "$pkgs" "$runs"
line() { printf '| %s | %s | %s |\n' "$1" "$(row sqlite "$2")" "$(row postgres "$2")"; }
line "full inventories/s" full_ingests_per_s
line "deltas/s (3 upgrades each)" delta_ingests_per_s
line "unchanged full reports/s" unchanged_full_ingests_per_s
line "server CPU per full inventory (us)" full_server_cpu_us
line "server CPU per delta (us)" delta_server_cpu_us
line "enrollment, whole fleet (ms)" enroll_total_ms
