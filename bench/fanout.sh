#!/usr/bin/env bash
# Job fan-out benchmark: one release `deskhand server` and N real
# `deskhand-agent run` processes (each with its own state directory) on
# loopback. Each round creates one job targeting every asset and times,
# from the API call to the last result committed to SQLite:
#   - a diagnostic (system-summary) on every agent;
#   - a signed script (first round: each agent fetches and verifies it;
#     later rounds: from each agent's cache);
#   - an inventory refresh.
# Prints a table of medians over ROUNDS rounds.
#
# Usage: bench/fanout.sh [AGENTS=200] [ROUNDS=5]
# Target (brief): a diagnostic to all 10,000 online agents, every result
# stored, in under 3 s. Real agent processes stand in for the many-agent
# simulator, which comes in a later issue.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
rounds="${2:-5}"
cargo build --release --quiet -p deskhand-server -p deskhand-agent
bin=target/release
. bench/lib.sh
ulimit -n 65536 2>/dev/null || true

dir=$(mktemp -d)
agent_pids=()
cleanup() {
  for p in "${agent_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${agent_pids[@]}" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
start_server "$dir" $((n + 100))
trap cleanup EXIT
export DESKHAND_SERVER=$api DESKHAND_TOKEN=$admin

public=$("$bin/deskhand" keys generate --out "$dir/publisher.key" | head -1)
printf '#!/bin/sh\necho "hello from $(hostname)"\n' > "$dir/hello.sh"
"$bin/deskhand" scripts publish "$dir/hello.sh" --interpreter sh --sign-with "$dir/publisher.key" >/dev/null
token=$(enroll_token "$n")

echo "enrolling $n agents..." >&2
seq 1 "$n" | xargs -P 8 -I{} "$bin/deskhand-agent" --state-dir "$dir/agents/{}" enroll \
  --server "$agents" --token "$token" --ca-fingerprint "$fp" --trust-publisher "$public" >/dev/null
for i in $(seq 1 "$n"); do
  "$bin/deskhand-agent" --state-dir "$dir/agents/$i" run --log warn 2>>"$dir/agents.log" &
  agent_pids+=($!)
done

count_assets() { "$bin/deskhand" assets list -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
for _ in $(seq 1 600); do
  online=$("$bin/deskhand" status -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["agents_online"])')
  [ "$online" -ge "$n" ] && [ "$(count_assets)" -ge "$n" ] && break
  sleep 0.5
done
echo "online: $online of $n; assets: $(count_assets)" >&2

# Creates a job for every asset and waits (polling every 20 ms) until every
# target is final; prints "milliseconds succeeded-count".
time_job() {
  python3 - "$api" "$admin" "$@" <<'EOF'
import json, sys, time, urllib.request
api, token, action, item = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] or None
def call(method, path, body=None):
    req = urllib.request.Request(api + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)
start = time.monotonic()
job = call("POST", "/api/v1/jobs", {"action": action, "item": item, "targets": ["all"], "all": True})
final = {"succeeded", "failed", "cancelled", "expired"}
while True:
    d = call("GET", "/api/v1/jobs/" + job["id"])
    if all(t["state"] in final for t in d["targets"]):
        break
    if time.monotonic() - start > 300:
        sys.exit("timed out")
    time.sleep(0.02)
ms = (time.monotonic() - start) * 1000
ok = sum(1 for t in d["targets"] if t["state"] == "succeeded")
print(f"{ms:.0f} {ok} {len(d['targets'])}")
EOF
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -a diag script inv
script_first=""
for r in $(seq 1 "$rounds"); do
  read -r ms ok total < <(time_job diag system-summary); diag+=("$ms")
  echo "round $r: diag $ms ms ($ok/$total succeeded)" >&2
  read -r ms ok total < <(time_job script hello)
  if [ -z "$script_first" ]; then script_first=$ms; else script+=("$ms"); fi
  echo "round $r: script $ms ms ($ok/$total succeeded)" >&2
  read -r ms ok total < <(time_job inventory ""); inv+=("$ms")
  echo "round $r: inventory $ms ms ($ok/$total succeeded)" >&2
done
server_rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
agent_rss=$(for p in "${agent_pids[@]}"; do awk '/VmRSS/ {print $2}' /proc/$p/status; done | median)

m() { printf '%s\n' "$@" | median; }
printf '\n| job to all %s agents (real processes), %s rounds (median) | every result stored |\n|---|---|\n' "$n" "$rounds"
printf '| diagnostic (system-summary) | %s ms |\n' "$(m "${diag[@]}")"
printf '| signed script, first run (fetch + verify on every agent) | %s ms |\n' "$script_first"
printf '| signed script, cached | %s ms |\n' "$( [ ${#script[@]} -gt 0 ] && m "${script[@]}" || echo -)"
printf '| inventory refresh | %s ms |\n' "$(m "${inv[@]}")"
printf '| server peak RSS | %s MiB |\n' "$server_rss"
printf '| agent RSS (median) | %s MiB |\n' "$((agent_rss / 1024))"
