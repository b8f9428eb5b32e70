#!/usr/bin/env bash
# Fleet benchmark: one real `deskhand server` (release build, SQLite in a
# temporary directory) and a simulator that enrolls N agents over QUIC on
# loopback, then holds N sessions at once with a heartbeat per agent per
# second. Prints a table of medians over RUNS runs.
#
# Usage: bench/fleet.sh [AGENTS=10000] [RUNS=3]
# Targets (brief): 10,000 enrollments in under 30 s; 10,000 agents connected
# at once with server RSS under 1 GiB.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
runs="${2:-3}"
cargo build --release --quiet -p deskhand-server -p deskhand-tests --bins
bin=target/release
. bench/lib.sh
ulimit -n 65536 2>/dev/null || true

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -a enroll_total enroll_med enroll_p99 conn_total rss_mb hwm_mb cpu_pct
for run in $(seq 1 "$runs"); do
  dir=$(mktemp -d)
  start_server "$dir" $((n + 100))
  trap 'kill ${sim:-} $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
  token=$(enroll_token "$n")
  cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
  "$bin/deskhand-fleet-sim" "$agents" "$token" "$fp" "$n" 10 > "$dir/sim.out" &
  sim=$!
  wait_for_sim "$dir" "$sim" 300
  sleep 5   # five seconds of heartbeats from every agent
  online=$(DESKHAND_SERVER=$api DESKHAND_TOKEN=$admin "$bin/deskhand" status -o json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["agents_online"])')
  rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status)
  cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
  wait $sim
  hwm=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
  kill $pid; wait $pid || true
  get() { awk -F= -v k="$1" '$1==k {print $2}' "$dir/sim.out"; }
  enroll_total+=("$(get enroll_total_ms)"); enroll_med+=("$(get enroll_median_ms)")
  enroll_p99+=("$(get enroll_p99_ms)"); conn_total+=("$(get connect_total_ms)")
  rss_mb+=("$rss"); hwm_mb+=("$hwm")
  # server CPU over the 5 s of heartbeats, in % of one core
  cpu_pct+=("$(( (cpu1 - cpu0) ))")
  echo "run $run: agents online per API = $online of $n; $(get still_connected) still connected after the hold" >&2
  rm -rf "$dir"; trap - EXIT
done

m() { printf '%s\n' "$@" | median; }
printf '\n| fleet of %s simulated agents, %s runs (median) | value | target |\n|---|---|---|\n' "$n" "$runs"
printf '| enroll all (wall) | %s ms | < 30000 ms |\n' "$(m "${enroll_total[@]}")"
printf '| one enrollment, median latency | %s ms | |\n' "$(m "${enroll_med[@]}")"
printf '| one enrollment, p99 latency | %s ms | |\n' "$(m "${enroll_p99[@]}")"
printf '| connect all sessions (wall) | %s ms | |\n' "$(m "${conn_total[@]}")"
printf '| server RSS, all connected, heartbeats 1/s each | %s MiB | < 1024 MiB |\n' "$(m "${rss_mb[@]}")"
printf '| server peak RSS | %s MiB | < 1024 MiB |\n' "$(m "${hwm_mb[@]}")"
printf '| server CPU ticks from start of enrollment to end of heartbeats | %s | |\n' "$(m "${cpu_pct[@]}")"
