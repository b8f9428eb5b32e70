#!/usr/bin/env bash
# Restart storm: one real `deskhand server` (release build, SQLite in a
# temporary directory) and N simulated agents (`deskhand-fleet-sim` with
# SIM_STORM=1), each connected and holding a full inventory (PKGS
# packages) the server acknowledged. Then the server is stopped with
# SIGTERM (it closes every session with "shutting down", as an upgrade
# does) and started again on the same data and port, and the simulator
# measures from the first agent that lost it: seconds until all N are
# online again, seconds until every inventory is current (acknowledged
# again), and how many reports of each kind the returning agents sent.
# The script adds the new server process's CPU time (user + system,
# startup included) per returning agent and its peak RSS (VmHWM).
# Each run does it twice on one fleet: first as agents do now (the hash
# alone for an unchanged inventory), then as they did before
# (SIM_ALWAYS_FULL: the whole inventory after every reconnect).
# CHANGED agents (1% by default) upgrade three packages while the server
# is away and send a delta. Prints a table of medians over RUNS runs and
# `reliability |` lines.
#
# Usage: [PKGS=1500] [CHANGED=N/100] [NO_BUILD=1] bench/storm.sh [AGENTS=10000] [RUNS=3]
# Targets (issue 37): all back within 20 s, under 300 us of server CPU per
# unchanged agent.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
runs="${2:-3}"
pkgs="${PKGS:-1500}"
changed="${CHANGED:-$((n / 100))}"
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet -p deskhand-server -p deskhand-tests --bins
bin="${CARGO_TARGET_DIR:-target}/release"
. bench/lib.sh
ulimit -n 65536 2>/dev/null || true

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }   # user + system, 1/100 s

# One storm on the fleet of the running server ($pid, data in $dir): the
# simulator must be waiting (it printed all_connected). Appends one value
# to each of the arrays named by mode ("hash" or "full").
storm() {
  local mode=$1 out=$2
  kill -TERM "$pid"; wait "$pid" || true
  "$bin/deskhand" server --data-dir "$dir/data" --agents-listen "$agents" \
    --api-listen 127.0.0.1:0 --max-connections $((n + 100)) --log warn \
    > "$dir/server2.out" 2> "$dir/server2.err" &
  pid=$!
  for _ in $(seq 1 $((120 * 4))); do
    grep -q storm_done "$out" 2>/dev/null && break
    kill -0 "$sim" 2>/dev/null || break
    sleep 0.25
  done
  local cpu hwm
  cpu=$(ticks "$pid"); hwm=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$pid/status")
  get() { awk -F= -v k="$1" '$1==k {print $2}' "$out"; }
  if ! grep -q storm_done "$out"; then
    echo "run $run ($mode): the fleet did not come back; the simulator said:" >&2
    tail -n 5 "$out" "$dir/sim.err" >&2 || true
    grep -m 20 -E "WARN|ERROR" "$dir/server2.err" >&2 || true
    return 1
  fi
  local back current
  back=$(get storm_all_online_ms); current=$(get storm_all_current_ms)
  eval "${mode}_online+=(\"$back\")"
  eval "${mode}_current+=(\"$current\")"
  # ticks are 10 ms: microseconds per returning agent
  eval "${mode}_cpu+=(\"$(( cpu * 10000 / n ))\")"
  eval "${mode}_hwm+=(\"$hwm\")"
  eval "${mode}_sent+=(\"$(get storm_full_reports) full, $(get storm_hash_reports) hash, $(get storm_delta_reports) delta; $(get storm_retries) retries\")"
  echo "run $run ($mode): all online in $back ms, all current in $current ms, server CPU $((cpu * 10)) ms, VmHWM $hwm MiB; $(get storm_online) online" >&2
}

declare -a hash_online hash_current hash_cpu hash_hwm hash_sent full_online full_current full_cpu full_hwm full_sent
for run in $(seq 1 "$runs"); do
  for mode in hash full; do
    dir=$(mktemp -d)
    start_server "$dir" $((n + 100))
    trap 'kill ${sim:-} $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
    token=$(enroll_token "$n")
    always=0; [ "$mode" = full ] && always=1
    SIM_STORM=1 SIM_ALWAYS_FULL=$always SIM_CHANGED="$changed" SIM_HEARTBEAT_SECS=30 \
      "$bin/deskhand-fleet-sim" "$agents" "$token" "$fp" "$n" 120 512 "$pkgs" \
      > "$dir/sim.out" 2> "$dir/sim.err" &
    sim=$!
    wait_for_sim "$dir" "$sim" 1800
    sleep 2
    storm "$mode" "$dir/sim.out"
    wait "$sim" || true
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"; trap - EXIT
  done
done

m() { printf '%s\n' "$@" | median; }
s() { echo "scale=1; $1 / 1000" | bc; }
printf '\n| restart storm, %s simulated agents (%s packages, %s changed while away), SIGTERM, %s runs (median) | hash (now) | full (before) | target |\n|---|---|---|---|\n' \
  "$n" "$pkgs" "$changed" "$runs"
printf '| all online again | %s s | %s s | < 20 s |\n' "$(s "$(m "${hash_online[@]}")")" "$(s "$(m "${full_online[@]}")")"
printf '| every inventory current | %s s | %s s | |\n' "$(s "$(m "${hash_current[@]}")")" "$(s "$(m "${full_current[@]}")")"
printf '| new server CPU per returning agent | %s us | %s us | < 300 us |\n' "$(m "${hash_cpu[@]}")" "$(m "${full_cpu[@]}")"
printf '| new server peak RSS (VmHWM) | %s MiB | %s MiB | |\n' "$(m "${hash_hwm[@]}")" "$(m "${full_hwm[@]}")"
printf '| reports sent, last run | %s | %s | |\n' "${hash_sent[-1]}" "${full_sent[-1]}"
printf 'reliability | restart storm (%s agents, SIGTERM) | %s | all back in %s s, every inventory current in %s s, %s us server CPU per returning agent, %s MiB peak RSS; lost nothing\n' \
  "$n" "$runs" "$(s "$(m "${hash_online[@]}")")" "$(s "$(m "${hash_current[@]}")")" "$(m "${hash_cpu[@]}")" "$(m "${hash_hwm[@]}")"
