#!/usr/bin/env bash
# Ingest benchmark through the real path: a release `deskhand server` on
# SQLite, N simulated agents on QUIC loopback, each sending a full synthetic
# inventory (PKGS packages, most from a 3,000-package pool shared by the
# fleet, 20 unique), then DELTA_ROUNDS deltas of three upgrades each (one
# round of every agent after another). Then times searches
# over the API. Prints a table.
#
# Usage: [INFLIGHT=64] [DELTA_ROUNDS=3] [SIM_HEARTBEAT_SECS=1] bench/ingest.sh [AGENTS=10000] [PKGS=1500]
# INFLIGHT is how many reports are outstanding at once (each agent waits
# for its acknowledgement). At 64 the delta round is bound by the round
# trip, not by the server; a fleet whose agents report on their own
# schedules has as many in flight as arrive during one round trip.
# The searches are timed while every agent heartbeats each
# SIM_HEARTBEAT_SECS (1 by default: 30 times the server's default
# interval, a stress; 30 is what a real fleet of that size sends).
# Targets (brief): 1,000 full inventories/s, 20,000 deltas/s, a software
# version search over 10,000 assets under 50 ms. The CPU rows say what one
# report costs the server and the simulator (user + system time over the
# rounds): on one machine they share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
pkgs="${2:-1500}"
cargo build --release --quiet -p deskhand-server -p deskhand-tests --bins
bin=target/release
. bench/lib.sh
ulimit -n 65536 2>/dev/null || true
dir=$(mktemp -d)
start_server "$dir" $((n + 100))
trap 'kill ${sim:-} $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
token=$(enroll_token "$n")
DESKHAND_SERVER_PID=$pid "$bin/deskhand-fleet-sim" "$agents" "$token" "$fp" "$n" 60 "${INFLIGHT:-64}" "$pkgs" "${DELTA_ROUNDS:-3}" > "$dir/sim.out" &
sim=$!
wait_for_sim "$dir" "$sim" 3600
get() { awk -F= -v k="$1" '$1==k {print $2}' "$dir/sim.out"; }
rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
db=$(du -sm "$dir/data" | awk '{print $1}')
# API latency, median of 21 calls each (python: no extra tools needed).
lat() {
  python3 - "$api" "$admin" "$1" <<'PY'
import sys, time, urllib.request, statistics, json
api, token, query = sys.argv[1], sys.argv[2], sys.argv[3]
times, count = [], 0
for _ in range(21):
    req = urllib.request.Request(api + query, headers={"Authorization": "Bearer " + token})
    t = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        body = r.read()
    times.append((time.perf_counter() - t) * 1000)
    count = len(json.loads(body))
print(f"{statistics.median(times):.1f} {count}")
PY
}
read -r search_ms search_n < <(lat "/api/v1/assets?software=pool-package-0042%40%3C3.5")
read -r name_ms name_n < <(lat "/api/v1/assets?software=pool-package-0042")
read -r host_ms host_n < <(lat "/api/v1/assets?search=sim-0012")
read -r os_ms os_n < <(lat "/api/v1/assets?os=Debian")
# The 50 machines not heard from longest: every asset sorted, one page sent.
read -r page_ms page_n < <(lat "/api/v1/assets?sort=last-seen&limit=50")
# The rarest software: every catalog row counted and sorted, one page sent.
read -r rare_ms rare_n < <(lat "/api/v1/software?sort=assets&limit=50")
# The whole catalog with its counts, unpaged (what `software list` with no
# --limit asks for): every row read and sent.
read -r catalog_ms catalog_n < <(lat "/api/v1/software")
# What changed across the fleet during the run: every event, grouped;
# and the newest 1,000 events, each with its asset.
read -r sum_ms sum_n < <(lat "/api/v1/changes/summary?since=1h")
read -r each_ms each_n < <(lat "/api/v1/changes?since=1h")
# The inventory report (8 weeks by week): the fleet now and its changes.
read -r report_ms _ < <(lat "/api/v1/reports/inventory")
# A backup of the whole data directory while the agents still heartbeat
# (the database copied as of one moment, compacted and checked). One run:
# it is seconds, not milliseconds.
t0=$(date +%s.%N)
if "$bin/deskhand" backup --data-dir "$dir/data" --to "$dir/backup" > /dev/null 2> "$dir/backup.err"; then
  backup_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  backup_mb=$(du -sm "$dir/backup" | awk '{print $1}')
else
  backup_s="failed: $(tail -n 1 "$dir/backup.err")"; backup_mb=-
fi
kill $sim 2>/dev/null || true; wait $sim 2>/dev/null || true

printf '\n| ingest of %s simulated agents, %s packages each | value | target |\n|---|---|---|\n' "$n" "$pkgs"
printf '| full inventories ingested | %s/s (%s in %s ms, %s KiB each on the wire) | 1,000/s |\n' \
  "$(get full_ingests_per_s)" "$(get full_ingests)" "$(get full_ingest_ms)" "$(get full_report_kb)"
printf '| delta reports ingested (3 upgrades each) | %s/s (%s in %s ms, %s bytes each) | 20,000/s |\n' "$(get delta_ingests_per_s)" "$(get delta_ingests)" "$(get delta_ingest_ms)" "$(get delta_report_bytes)"
# CPU per report over the rounds, from /proc: what the server spends apart
# from the simulator, which shares its cores on one machine.
cpu() { printf '%s us (simulator: %s us)' "$(get "$1_server_cpu_us")" "$(get "$1_sim_cpu_us")"; }
printf '| server CPU per full inventory | %s | |\n' "$(cpu full)"
printf '| server CPU per delta | %s | |\n' "$(cpu delta)"
# What the server's own CPU per report would allow on two cores of its
# own, the simulator elsewhere: an estimate from the rows above, not a
# measured rate (the rates above are the measured ones).
bound() { awk -v us="$(get "$1_server_cpu_us")" 'BEGIN { if (us > 0) printf "%.0f/s", 2e6 / us; else print "-" }'; }
printf '| estimate: 2 cores of the server alone (2 s / its CPU per report) | full %s, deltas %s | |\n' "$(bound full)" "$(bound delta)"
printf '| UDP datagrams per full inventory / per delta (both ways) | %s / %s | |\n' "$(get full_datagrams)" "$(get delta_datagrams)"
printf '| unchanged full reports (as after a reconnect) | %s/s (server CPU %s) | |\n' \
  "$(get unchanged_full_ingests_per_s)" "$(cpu unchanged)"
printf '| database size | %s MiB | |\n' "$db"
printf '| server peak RSS | %s MiB | |\n' "$rss"
printf '| searches below: while %s agents heartbeat every %s s | | |\n' "$n" "${SIM_HEARTBEAT_SECS:-1}"
printf '| search: --software pool-package-0042@<3.5 | %s ms median (%s assets) | < 50 ms |\n' "$search_ms" "$search_n"
printf '| search: --software pool-package-0042 | %s ms median (%s assets) | |\n' "$name_ms" "$name_n"
printf '| search: --search sim-0012 | %s ms median (%s assets) | |\n' "$host_ms" "$host_n"
printf '| filter: --os Debian | %s ms median (%s assets) | |\n' "$os_ms" "$os_n"
printf '| list: --sort last-seen --limit 50 | %s ms median (%s assets) | |\n' "$page_ms" "$page_n"
printf '| software list --sort assets --limit 50 | %s ms median (%s rows) | |\n' "$rare_ms" "$rare_n"
printf '| software list (every row, unpaged) | %s ms median (%s rows) | |\n' "$catalog_ms" "$catalog_n"
printf '| changes: --since 1h (summary of the run) | %s ms median (%s changes) | |\n' "$sum_ms" "$sum_n"
printf '| changes: --since 1h --each (newest 1,000) | %s ms median (%s events) | |\n' "$each_ms" "$each_n"
printf '| reports inventory (8 weeks, by week) | %s ms median | |\n' "$report_ms"
printf '| deskhand backup (whole data directory, one run) | %s s (%s MiB copy) | |\n' "$backup_s" "$backup_mb"
