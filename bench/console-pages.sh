#!/usr/bin/env bash
# Console page timings on the bench fleet: one release `deskhand server`
# on SQLite, N simulated agents (deskhand-fleet-sim) over QUIC on loopback,
# each with a synthetic inventory of PKGS packages and holding its session
# (a heartbeat every SIM_HEARTBEAT_SECS, 30 by default: what a real fleet
# sends), and TICKETS tickets (one in ten linked to a machine, most of
# them resolved). A console session is logged in with curl and a cookie
# jar, as a browser would, and each page is fetched REQUESTS times after a
# warm-up: the asset list (first page, and a software@ search), an asset's
# page, the ticket queue and the dashboard. Prints p50/p90/max per page.
#
# Usage: [PKGS=1500] [TICKETS=5000] [REQUESTS=30] [SIM_HEARTBEAT_SECS=30] [DESKHAND_BIN=DIR] bench/console-pages.sh [AGENTS=10000]
# DESKHAND_BIN takes `deskhand` from DIR instead of the release build (to
# time an older build beside this one).
# Target (issue 36): every page under 100 ms on the 10,000-asset fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000}"
pkgs="${PKGS:-1500}"
tickets="${TICKETS:-5000}"
requests="${REQUESTS:-30}"
export SIM_HEARTBEAT_SECS="${SIM_HEARTBEAT_SECS:-30}"
cargo build --release --quiet -p deskhand-server -p deskhand-tests --bins
bin="${CARGO_TARGET_DIR:-target}/release"
sim_bin=$bin
bin="${DESKHAND_BIN:-$bin}"
. bench/lib.sh
ulimit -n 65536 2>/dev/null || true
dir=$(mktemp -d)
start_server "$dir" $((n + 100))
trap 'kill ${sim:-} $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
token=$(enroll_token "$n")
# Hold the sessions for an hour: the script stops the simulator when done.
"$sim_bin/deskhand-fleet-sim" "$agents" "$token" "$fp" "$n" 3600 128 "$pkgs" 1 > "$dir/sim.out" 2> "$dir/sim.err" &
sim=$!
wait_for_sim "$dir" "$sim" 3600
echo "agents connected and inventoried: $(awk -F= '$1=="connected" {print $2}' "$dir/sim.out")" >&2

# The tickets, over the API from four threads; prints an asset's id.
asset=$(python3 - "$api" "$admin" "$tickets" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
api, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, path, body=None):
    req = urllib.request.Request(api + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read()
        return json.loads(text) if text else None
def ticket(i):
    body = {"title": f"bench ticket {i}: printer on floor {i % 12} jams",
            "requester": f"user{i % 700}@example.com",
            "priority": ("low", "normal", "normal", "high", "urgent")[i % 5]}
    if i % 10 == 0:
        body["assets"] = [f"sim-{i % 10000:05}"]
    t = call("POST", "/api/v1/tickets", body)
    if i % 5 != 4:  # four in five are resolved; the rest stay in the queue
        call("POST", f"/api/v1/tickets/{t['number']}/status",
             {"status": "resolved", "note": "cleared the tray"})
with ThreadPoolExecutor(4) as pool:
    list(pool.map(ticket, range(n)))
print(call("GET", "/api/v1/assets?search=sim-00042")[0]["id"])
PY
)
echo "tickets created: $tickets" >&2

# Log in as a browser does: the form (with its CSRF field, if it has
# one), then the post; the session is in the cookie jar.
jar="$dir/cookies"
form=$(curl -sf -c "$jar" "$api/console/login")
csrf=$(printf '%s' "$form" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" \
  --data-urlencode "name=admin" --data-urlencode "password=$(cat "$dir/data/admin.password")" \
  ${csrf:+--data-urlencode "csrf=$csrf"} "$api/console/login")
[ "$code" = 303 ] || { echo "the console login answered $code, not 303" >&2; exit 1; }

# Times PATH: a warm-up, then REQUESTS requests; prints "p50 p90 max" in
# ms (nearest rank). Any answer but 200 stops the script.
timed() {
  local url="$api$1" out
  curl -sf -o /dev/null -b "$jar" "$url"
  for _ in $(seq 1 "$requests"); do
    out=$(curl -s -o /dev/null -b "$jar" -w '%{http_code} %{time_total}' "$url")
    [ "${out%% *}" = 200 ] || { echo "$1 answered ${out%% *}" >&2; exit 1; }
    echo "${out#* }"
  done | sort -n | awk '{a[NR]=$1*1000} END {
    printf "%.1f %.1f %.1f\n", a[int((NR-1)*0.5)+1], a[int((NR-1)*0.9)+1], a[NR] }'
}

printf '\n| console page, %s assets (%s packages each), %s tickets; %s requests each | p50 ms | p90 ms | max ms | target |\n|---|---|---|---|---|\n' \
  "$n" "$pkgs" "$tickets" "$requests"
row() {
  local vals p50 p90 max
  vals=$(timed "$2")
  read -r p50 p90 max <<< "$vals"
  printf '| %s | %s | %s | %s | < 100 ms |\n' "$1" "$p50" "$p90" "$max"
}
row "asset list, first page (/console/assets)" "/console/assets"
row "asset list, software@ search (pool-package-0042@<3.5)" "/console/assets?software=pool-package-0042%40%3C3.5"
row "an asset's page ($pkgs packages)" "/console/assets/$asset"
row "ticket queue (/console/tickets)" "/console/tickets"
row "dashboard (/console/)" "/console/"
