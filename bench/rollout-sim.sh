#!/usr/bin/env bash
# A staged rollout at fleet scale: one release `deskhand server` and N
# simulated agents (deskhand-fleet-sim) over QUIC on loopback, each with a
# small inventory so it is an asset. Each round creates a rollout of a
# signed script to every asset in 5 waves (1%, 5%, 25%, 50%, 100%; no
# soak, no approval, MAX_IN_FLIGHT machines at once) and times, from the
# API call, each wave's last result stored and the rollout done. The
# simulated agents answer every order at once, so the figures are the
# server's: the conductor's steps, the job targets it queues, the orders
# sent and the results committed. Also the server's CPU time per machine.
# Prints medians over ROUNDS rounds.
#
# Usage: bench/rollout-sim.sh [AGENTS=10000] [ROUNDS=3] [MAX_IN_FLIGHT=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
rounds="${2:-3}"
in_flight="${3:-1000}"
cargo build --release --quiet -p deskhand-server -p deskhand-tests --bins
bin=target/release
. bench/lib.sh
ulimit -n 65536 2>/dev/null || true
dir=$(mktemp -d)
start_server "$dir" $((n + 100))
trap 'kill $sim 2>/dev/null || true; kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
export DESKHAND_SERVER=$api DESKHAND_TOKEN=$admin
token=$(enroll_token "$n")
"$bin/deskhand" keys generate --out "$dir/publisher.key" >/dev/null
printf '#!/bin/sh\necho patched\n' > "$dir/patch.sh"
"$bin/deskhand" scripts publish "$dir/patch.sh" --name patch --interpreter sh \
  --sign-with "$dir/publisher.key" >/dev/null
"$bin/deskhand-fleet-sim" "$agents" "$token" "$fp" "$n" 1200 128 5 > "$dir/sim.out" 2> "$dir/sim.err" &
sim=$!
wait_for_sim "$dir" "$sim" 1200
echo "simulated agents connected and inventoried: $(awk -F= '$1=="connected" {print $2}' "$dir/sim.out")" >&2

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -a total create cpu w1 w2 w3 w4 w5
for r in $(seq 1 "$rounds"); do
  before=$(ticks)
  read -r ms create_ms machines a b c d e < <(python3 - "$api" "$admin" "$in_flight" <<'PY'
import json, sys, time, urllib.request
api, token, in_flight = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, path, body=None):
    req = urllib.request.Request(api + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)
start = time.monotonic()
r = call("POST", "/api/v1/rollouts", {"action": "script", "item": "patch", "targets": ["all"],
    "all": True, "waves": "1%,5%,25%,50%,100%", "max_in_flight": in_flight})
created = time.monotonic()
waves_done = {}
while True:
    v = call("GET", f"/api/v1/rollouts/{r['id']}")
    now = time.monotonic()
    for w in v["waves"]:
        c = w["counts"]
        if w["index"] > 0 and w["started"] and c["pending"] + c["in_flight"] == 0 and w["index"] not in waves_done:
            waves_done[w["index"]] = now
    if v["phase"] in ("done", "aborted", "paused"):
        break
    if now - start > 900:
        sys.exit("timed out")
    time.sleep(0.02)
if v["phase"] != "done":
    sys.exit(f"the rollout ended {v['phase']}: {v.get('paused_reason')}")
ms = lambda t: f"{(t - start) * 1000:.0f}"
machines = sum(w["counts"]["succeeded"] for w in v["waves"])
print(ms(now), ms(created), machines, *[ms(waves_done.get(k, now)) for k in range(1, 6)])
PY
)
  after=$(ticks)
  per=$(python3 -c "print(f'{($after - $before) / $hz / max($machines, 1) * 1e6:.0f}')")
  total+=("$ms"); create+=("$create_ms"); cpu+=("$per")
  w1+=("$a"); w2+=("$b"); w3+=("$c"); w4+=("$d"); w5+=("$e")
  echo "round $r: $machines machines succeeded; waves done at $a, $b, $c, $d, $e ms; rollout done at $ms ms ($create_ms ms to create); server CPU $per us per machine" >&2
done
rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
m() { printf '%s\n' "$@" | median; }
printf '\n| rollout of a script to %s simulated agents in 5 waves, max %s in flight, %s rounds (median) | value |\n|---|---|\n' "$n" "$in_flight" "$rounds"
printf '| creating it (resolve, plan, store, first sends) | %s ms |\n' "$(m "${create[@]}")"
printf '| wave 1 (1%%) last result stored | %s ms |\n' "$(m "${w1[@]}")"
printf '| wave 2 (5%%) last result stored | %s ms |\n' "$(m "${w2[@]}")"
printf '| wave 3 (25%%) last result stored | %s ms |\n' "$(m "${w3[@]}")"
printf '| wave 4 (50%%) last result stored | %s ms |\n' "$(m "${w4[@]}")"
printf '| wave 5 (100%%) last result stored: API call to rollout done | %s ms |\n' "$(m "${total[@]}")"
printf '| server CPU time per machine | %s us |\n' "$(m "${cpu[@]}")"
printf '| server peak RSS | %s MiB |\n' "$rss"
