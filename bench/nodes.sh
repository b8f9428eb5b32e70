#!/usr/bin/env bash
# Several nodes beside one: the ingest and fan-out of N simulated agents
# (deskhand-fleet-sim over QUIC loopback) against a release server on
# SQLite, one node on PostgreSQL, and two nodes sharing one PostgreSQL
# database with the agents split between them (two simulators, one per
# node, started together), in one run. Prints one table: full
# inventories/s, deltas/s, each node's CPU per report, and a diagnostic
# job to every agent (made on the first node) until every result is
# stored.
#
# Usage: [INFLIGHT=64] [DELTA_ROUNDS=3] bench/nodes.sh [AGENTS=2000] [PKGS=300]
#
# PostgreSQL: the server DESKHAND_TEST_DATABASE names (a superuser URL;
# each setup gets a database of its own), else a throwaway cluster
# started by `with-postgres`. On one machine the nodes, the simulators
# and PostgreSQL share its cores: two nodes show what coordination costs,
# not what a second machine would add.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2000}"
pkgs="${2:-300}"
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
pids=()
trap 'kill ${pids[*]:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$top"' EXIT

# A server on DATABASE (empty: SQLite) in DIR named NAME, its CA and admin
# token copied from FIRST's data directory when given; sets pid, api,
# agents, admin, fp (lib.sh).
node() {
  local dir=$1 database=$2 name=$3 first=${4:-}
  mkdir -p "$dir/data"
  if [ -n "$first" ]; then
    cp "$first/data/ca.pem" "$first/data/ca.key" "$first/data/admin.token" "$dir/data/"
  fi
  DESKHAND_DATABASE=$database DESKHAND_NODE_NAME=$name start_server "$dir" $((n + 100))
  pids+=("$pid")
}

# The simulator for COUNT agents against the server last started, into
# DIR/sim.out; sets sim.
simulate() {
  local dir=$1 count=$2 token=$3
  DESKHAND_SERVER_PID=$pid "$bin/deskhand-fleet-sim" "$agents" "$token" "$fp" "$count" 600 \
    "${INFLIGHT:-64}" "$pkgs" "${DELTA_ROUNDS:-3}" > "$dir/sim.out" 2> "$dir/sim.err" &
  sim=$!
  pids+=("$sim")
}

get() { awk -F= -v k="$2" '$1==k {print $2}' "$1/sim.out"; }

# A diagnostic to every agent through API; prints the ms until every
# result was stored (or the count stopped growing for 5 s) and how many.
fanout() {
  python3 - "$1" "$2" <<'PY'
import json, sys, time, urllib.request
api, token = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(api + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)
start = time.monotonic()
job = call("POST", "/api/v1/jobs", {"action": "diag", "item": "system-summary", "targets": ["all"], "all": True})
done, last = -1, start
while True:
    j = [x for x in call("GET", "/api/v1/jobs?limit=1") if x["id"] == job["id"]][0]
    states = dict(j["states"])
    now_done = sum(states.get(s, 0) for s in ("succeeded", "failed", "cancelled", "expired"))
    now = time.monotonic()
    if now_done != done:
        done, last = now_done, now
    if done >= job["online"] or now - last > 5 or now - start > 300:
        break
    time.sleep(0.02)
print(f"{(last - start) * 1000:.0f} {states.get('succeeded', 0)} {job['online']}")
PY
}

# One setup: SQLite, PostgreSQL with one node, or with two.
declare -A row
run_setup() {
  local name=$1 database=$2 nodes=$3
  local dir="$top/$name"
  node "$dir/a" "$database" "$name-a"
  local api_a=$api admin_a=$admin pid_a=$pid agents_a=$agents fp_a=$fp
  local token
  token=$(enroll_token "$n")
  local count=$((n / nodes))
  simulate "$dir/a" "$count"  "$token"
  local sim_a=$sim sim_b=
  if [ "$nodes" = 2 ]; then
    node "$dir/b" "$database" "$name-b" "$dir/a"
    SIM_FIRST=$count simulate "$dir/b" "$((n - count))" "$token"
    sim_b=$sim
  fi
  wait_for_sim "$dir/a" "$sim_a" 1800
  [ -z "$sim_b" ] || wait_for_sim "$dir/b" "$sim_b" 1800
  read -r fan_ms fan_ok fan_online < <(fanout "$api_a" "$admin_a")
  local full=0 delta=0 cpu_full="" cpu_delta=""
  for d in "$dir/a" ${sim_b:+"$dir/b"}; do
    full=$((full + $(get "$d" full_ingests_per_s)))
    delta=$((delta + $(get "$d" delta_ingests_per_s)))
    cpu_full="$cpu_full${cpu_full:+ / }$(get "$d" full_server_cpu_us)"
    cpu_delta="$cpu_delta${cpu_delta:+ / }$(get "$d" delta_server_cpu_us)"
  done
  row[$name]="| $name | $full/s | $delta/s | $cpu_full us | $cpu_delta us | $fan_ms ms ($fan_ok of $fan_online) |"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  pids=()
  echo "$name done" >&2
}

run_setup sqlite "" 1
for nodes in 1 2; do
  db="bench_nodes_$$_$nodes"
  psql -q "$DESKHAND_TEST_DATABASE" -c "CREATE DATABASE $db" > /dev/null
  run_setup "postgres-${nodes}-node" "${DESKHAND_TEST_DATABASE%/*}/$db" "$nodes"
  psql -q "$DESKHAND_TEST_DATABASE" -c "DROP DATABASE $db" > /dev/null
done

printf '\n| %s simulated agents, %s packages each | full inventories | deltas (3 upgrades) | server CPU per full (each node) | per delta (each node) | diagnostic to all, every result stored |\n|---|---|---|---|---|---|\n' "$n" "$pkgs"
for name in sqlite postgres-1-node postgres-2-node; do
  echo "${row[$name]}"
done
echo "(two nodes: the two simulators' rates added; they run at the same time against one node each)"
