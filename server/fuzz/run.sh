#!/usr/bin/env bash
# Fuzzes what the server reads from agents, operators and its own database.
#   agent_report  frames and messages from an agent; inventory reports go
#                 through check, hash, plan, stored form, rebuild from the
#                 catalog rows, diff/apply, each checked against the others
#   stored_blobs  packed software links, their change values, stored
#                 inventories, diagnostic results, as a damaged database
#                 could hand them back
#   versions      dpkg, rpm and dotted orderings are total orders;
#                 constraints parse or fail
#   filters       label filters, list query strings, durations, ticket fields
#   csv_import    `assets import` files: rows name their own lines
# Usage: server/fuzz/run.sh [SECONDS] [TARGET...]
#   SECONDS per target (default 60); every target unless named.
# A panic, an allocation over 256 MiB or an inconsistency stops the run and
# saves the input under server/fuzz/artifacts/TARGET/; replay it with
#   (cd server && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none TARGET fuzz/artifacts/TARGET/crash-...)
# FUZZ_SOFT=DIR records inconsistencies under DIR/TARGET/ and goes on.
# Corpora grow in server/fuzz/corpus/TARGET/, seeded on the first run;
# each run's output is in server/fuzz/logs/TARGET.log.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets stable accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(agent_report stored_blobs versions filters csv_import)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none
mkdir -p fuzz/logs
for t in "${targets[@]}"; do
  corpus="$PWD/fuzz/corpus/$t"
  log="fuzz/logs/$t.log"
  mkdir -p "$corpus"
  if FUZZ_SEED_DIR="$corpus" cargo fuzz run -s none "$t" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 "$corpus" >"$log" 2>&1; then
    echo "$t: $(grep -E '^Done [0-9]+ runs' "$log")"
  else
    tail -40 "$log"
    echo "$t: FAILED; the input is saved under server/fuzz/artifacts/$t/ (log: server/$log)"
    exit 1
  fi
done
