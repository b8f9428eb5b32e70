#!/usr/bin/env bash
# Job fan-out at fleet scale: one release `deskhand server` and N simulated
# agents (deskhand-fleet-sim) over QUIC on loopback, each with a small
# inventory so it is an asset. Each round creates one diagnostic job for
# every asset and times, from the API call to the last result committed
# to SQLite, the server's side of a fan-out: resolving N targets, storing
# them, sending N orders and committing N results. The simulated agents
# answer at once, so agent run time is not in the figure (bench/fanout.sh
# measures real agents). Prints medians over ROUNDS rounds.
#
# Usage: bench/fanout-sim.sh [AGENTS=10000] [ROUNDS=3]
# Target (brief): a diagnostic to all 10,000 online agents with every
# result stored in under 3 s.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
rounds="${2:-3}"
cargo build --release --quiet -p deskhand-server -p deskhand-tests --bins
bin=target/release
. bench/lib.sh
ulimit -n 65536 2>/dev/null || true
dir=$(mktemp -d)
start_server "$dir" $((n + 100))
trap 'kill $sim 2>/dev/null || true; kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
export DESKHAND_SERVER=$api DESKHAND_TOKEN=$admin
token=$(enroll_token "$n")
"$bin/deskhand-fleet-sim" "$agents" "$token" "$fp" "$n" 600 128 5 > "$dir/sim.out" 2> "$dir/sim.err" &
sim=$!
wait_for_sim "$dir" "$sim" 1200
echo "simulated agents connected and inventoried: $(awk -F= '$1=="connected" {print $2}' "$dir/sim.out")" >&2

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -a total create half most
for r in $(seq 1 "$rounds"); do
  read -r ms create_ms p50 p99 ok all < <(python3 - "$api" "$admin" <<'PY'
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
created = time.monotonic()
# Every target online when the job began, or, if some of those sessions
# turn out dead, the moment the count stopped growing (5 s plateau).
done, last_change = -1, created
reached = {}
while True:
    j = [x for x in call("GET", "/api/v1/jobs?limit=1") if x["id"] == job["id"]][0]
    states = dict(j["states"])
    now_done = sum(states.get(s, 0) for s in ("succeeded", "failed", "cancelled", "expired"))
    now = time.monotonic()
    if now_done != done:
        done, last_change = now_done, now
        for q in (0.5, 0.99):
            if q not in reached and done >= q * job["online"]:
                reached[q] = now
    if done >= job["online"] or now - last_change > 5:
        break
    if now - start > 300:
        sys.exit("timed out")
    time.sleep(0.02)
ms = lambda t: f"{(t - start) * 1000:.0f}"
print(ms(last_change), ms(created), ms(reached.get(0.5, last_change)), ms(reached.get(0.99, last_change)), states.get('succeeded', 0), job['online'])
PY
)
  total+=("$ms"); create+=("$create_ms"); half+=("$p50"); most+=("$p99")
  echo "round $r: half stored at $p50 ms, 99% at $p99 ms, the last at $ms ms ($create_ms ms to create); $ok of $all targets online at creation succeeded" >&2
done
rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
m() { printf '%s\n' "$@" | median; }
printf '\n| diagnostic job to %s simulated agents, %s rounds (median) | value | target |\n|---|---|---|\n' "$n" "$rounds"
printf '| half of the results stored | %s ms | |\n' "$(m "${half[@]}")"
printf '| 99%% of the results stored | %s ms | |\n' "$(m "${most[@]}")"
printf '| every result stored (of the agents still connected) | %s ms | < 3000 ms |\n' "$(m "${total[@]}")"
printf '| simulated sessions that timed out during the run | %s | |\n' "$(grep -c "control stream ended" "$dir/sim.err" || true)"
printf '| of which creating the job (resolve and store the targets) | %s ms | |\n' "$(m "${create[@]}")"
printf '| server peak RSS | %s MiB | < 1024 MiB |\n' "$rss"
