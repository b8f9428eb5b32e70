#!/usr/bin/env bash
# Benchmark: remote desktop through the whole chain on loopback, against
# x11vnc (a stock VNC server) on the same X display in the same run.
#
# An Xvfb of SIZE (default 1920x1080x24); a release server, agent and the
# user's helper (`deskhand-agent user`); `deskhand desktop` listening for
# a viewer (bench/desktop_viewer.py: ZRLE + CopyRect, one incremental
# request kept outstanding as viewers do). Each run: the viewer
# connects, the prompt is allowed (`deskhand-agent desktop allow`), then
# SECS seconds of an idle screen and SECS seconds of a window scrolling a
# line of text every 50 ms (`rfb_x11 scroll`). The same viewer then reads
# x11vnc serving the same display. RUNS runs (default 3), medians.
#
#   bench/desktop.sh                 # builds release, installs Xvfb/x11vnc if missing
#   RUNS=5 SECS=20 SIZE=1280x720x24 bench/desktop.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SECS=${SECS:-10}
SIZE=${SIZE:-1920x1080x24}
OUT=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$OUT"; }
trap cleanup EXIT

if ! command -v Xvfb >/dev/null || ! command -v x11vnc >/dev/null; then
  echo "installing Xvfb and x11vnc ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb x11vnc >/dev/null
fi

cargo build --release -p deskhand-server -p deskhand-agent >&2
cargo build --release -p deskhand-agent --example rfb_x11 >&2
bin=$PWD/target/release
source bench/lib.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

display=":$((300 + $$ % 200))"
Xvfb "$display" -screen 0 "$SIZE" -nolisten tcp -noreset 2> "$OUT/xvfb.err" &
pids+=($!)
sleep 1

start_server "$OUT" 100
pids+=("$pid")
token=$(enroll_token 1)
"$bin/deskhand-agent" --state-dir "$OUT/agent" enroll --server "$agents" --token "$token" --ca-fingerprint "$fp" >/dev/null
id=$(awk -F'"' '/agent_id/ {print $2}' "$OUT/agent/agent.toml")
: > "$OUT/agent.toml"
DESKHAND_AGENT_CONFIG=$OUT/agent.toml "$bin/deskhand-agent" --state-dir "$OUT/agent" run \
  --help-socket "$OUT/agent.sock" --log warn 2> "$OUT/agent.err" &
pids+=($!)
export DESKHAND_SERVER=$api DESKHAND_TOKEN=$admin
for _ in $(seq 1 100); do
  "$bin/deskhand" agents list -o json | grep -q '"online": *true' && break
  sleep 0.2
done
DISPLAY=$display "$bin/deskhand-agent" --help-socket "$OUT/agent.sock" user --display "$display" 2> "$OUT/helper.err" &
pids+=($!)
for _ in $(seq 1 100); do grep -q ready "$OUT/helper.err" && break; sleep 0.1; done

dport=$(free_port)
"$bin/deskhand" desktop "$id" --local "127.0.0.1:$dport" > /dev/null 2> "$OUT/desktop.err" &
pids+=($!)
vport=$(free_port)
x11vnc -display "$display" -rfbport "$vport" -localhost -forever -shared -nopw -quiet \
  -noxdamage > /dev/null 2> "$OUT/x11vnc.err" &
pids+=($!)
sleep 1

# One measured viewer on PORT; ALLOW=1 answers the user's prompt.
measure() {
  local port=$1 allow=$2 tag=$3
  coproc VIEWER { python3 bench/desktop_viewer.py 127.0.0.1 "$port" "$SECS" "$SECS" 2>&1; }
  # Bash unsets VIEWER_PID once the coprocess ends: keep it now.
  local vpid=$VIEWER_PID
  if [ "$allow" = 1 ]; then
    for _ in $(seq 1 200); do
      "$bin/deskhand-agent" --help-socket "$OUT/agent.sock" desktop allow >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  local line
  read -r line <&"${VIEWER[0]}"; echo "$line" >> "$OUT/$tag.idle"
  read -r line <&"${VIEWER[0]}"   # "next"
  "$bin/examples/rfb_x11" scroll "$((SECS + 2))" "$display" &
  local scroller=$!
  sleep 0.5
  echo go >&"${VIEWER[1]}"
  read -r line <&"${VIEWER[0]}"; echo "$line" >> "$OUT/$tag.scroll"
  wait "$scroller" || true
  wait "$vpid" 2>/dev/null || true
}

for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS ..." >&2
  measure "$dport" 1 deskhand
  sleep 1
  measure "$vport" 0 x11vnc
done

python3 - "$OUT" "$SIZE" "$SECS" <<'PY'
import json, statistics, sys
out, size, secs = sys.argv[1], sys.argv[2], sys.argv[3]
def rows(tag, phase):
    return [json.loads(l) for l in open(f"{out}/{tag}.{phase}") if l.strip()]
print(f"remote desktop, {size}, {secs} s per phase, medians of {len(rows('deskhand', 'idle'))} runs")
print(f"| | first frame (bytes) | idle updates/s | idle bytes/s | scrolling updates/s | scrolling KB/s |")
print(f"|---|---|---|---|---|---|")
for tag, name in [("deskhand", "deskhand (server, agent, helper)"), ("x11vnc", "x11vnc direct")]:
    idle, scroll = rows(tag, "idle"), rows(tag, "scroll")
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    print(f"| {name} | {med(idle, 'first_bytes'):.0f} | {med(idle, 'fps'):.1f} | {med(idle, 'bytes_per_s'):.0f} "
          f"| {med(scroll, 'fps'):.1f} | {med(scroll, 'bytes_per_s') / 1000:.1f} |")
PY
