#!/usr/bin/env bash
# CSV import benchmark through the real path: a release `deskhand server`
# on SQLite, and `POST /api/v1/assets/import` (what `deskhand assets
# import` sends) with a generated sheet of N rows: name, kind, serial,
# location; one row in 1,000 has no kind and one in 5,000 repeats an
# earlier serial, so both kinds of refusal are in it. For each size it
# times the check (`?check=true`, 3 runs on one server) and the import
# itself (3 runs, each on a fresh server), and prints the medians with
# what the server answered, and the server's peak RSS after the checks.
# Timed with python (not the CLI, whose 30 s timeout would cut slow runs
# short).
#
# Usage: [DESKHAND_BIN=DIR] bench/import.sh [ROWS...]   (default 10000 40000 100000)
# DESKHAND_BIN takes `deskhand` from DIR instead of building it (to time
# an older build: build it, copy target/release/deskhand aside, point
# DESKHAND_BIN at that folder).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then set -- 10000 40000 100000; fi
if [ -n "${DESKHAND_BIN:-}" ]; then
  bin=$DESKHAND_BIN
else
  cargo build --release --quiet -p deskhand-server --bin deskhand
  bin=target/release
fi
. bench/lib.sh
top=$(mktemp -d)
trap 'kill ${pid:-} 2>/dev/null || true; wait ${pid:-} 2>/dev/null || true; rm -rf "$top"' EXIT

# A sheet of N rows.
generate() {
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("name,kind,serial,location\n")
    for i in range(n):
        kind = "" if i % 1000 == 999 else ("printer", "monitor", "phone")[i % 3]
        serial = f"SN-{i - 1:07d}" if i % 5000 == 2500 else f"SN-{i:07d}"
        f.write(f"Asset {i:07d},{kind},{serial},floor {i % 12}\n")
PY
}

# Posts FILE to PATH RUNS times; prints the median seconds, the status and
# what the answer said (rows added and refused, or the error).
post() {
  python3 - "$api" "$admin" "$1" "$2" "$3" <<'PY'
import sys, time, json, statistics, urllib.request, urllib.error
api, token, path, file, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
data = open(file, "rb").read()
times = []
for _ in range(runs):
    req = urllib.request.Request(api + path, data=data, method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": "text/csv"})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    except OSError as e:
        status, body = 0, str(e).encode()
    times.append(time.perf_counter() - t)
try:
    v = json.loads(body)
    said = v["error"] if "error" in v else f'{len(v["created"])} ok, {len(v["failed"])} refused'
except ValueError:
    said = "not JSON: " + body[:60].decode("utf-8", "replace")
print(f"{statistics.median(times):.2f}\t{status}\t{said}")
PY
}

stop_server() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; }

rows=()
for n in "$@"; do
  csv="$top/assets-$n.csv"
  generate "$n" "$csv"
  mib=$(awk -v b="$(stat -c %s "$csv")" 'BEGIN { printf "%.1f", b / 1048576 }')
  mkdir -p "$top/check-$n"
  start_server "$top/check-$n" 100
  IFS=$'\t' read -r check_s check_status check_said < <(post "/api/v1/assets/import?check=true" "$csv" 3)
  rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
  stop_server
  times=()
  for run in 1 2 3; do
    mkdir -p "$top/import-$n-$run"
    start_server "$top/import-$n-$run" 100
    IFS=$'\t' read -r s import_status import_said < <(post "/api/v1/assets/import" "$csv" 1)
    times+=("$s")
    stop_server
  done
  import_s=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
  rows+=("$(printf '| %s | %s MiB | %s s | %s %s | %s s | %s %s | %s MiB |' \
    "$n" "$mib" "$check_s" "$check_status" "$check_said" "$import_s" "$import_status" "$import_said" "$rss")")
done

printf '\n| rows | file | check (median of 3) | check answered | import (median of 3) | import answered | server peak RSS |\n'
printf '|---|---|---|---|---|---|---|\n'
printf '%s\n' "${rows[@]}"
