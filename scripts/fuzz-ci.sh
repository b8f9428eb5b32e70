#!/usr/bin/env bash
# Builds every fuzz target of the three cargo-fuzz workspaces and runs each
# briefly; CI runs it, and it is the way to run them all by hand.
#   shared/fuzz  frame_decoder, manifest_verify
#   agent/fuzz   dpkg_status, rpm_query, smbios, edid, reg_export
#   server/fuzz  agent_report, stored_blobs, versions, filters, csv_import
# Usage: scripts/fuzz-ci.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET defaults to 10; every target unless some are named.
# Prints one line per target (runs, execs/s) and, at the end, one
# `reliability |` line per target. A crash (a panic, a broken promise, a
# single allocation over 256 MiB, an input that runs over 10 s) fails the
# run after the other targets have run; the line names the saved input,
# <workspace>/fuzz/artifacts/TARGET/crash-..., and how to replay it. Keep
# such an input as a regression test in the parser's own tests.
# Corpora grow in <workspace>/fuzz/corpus/TARGET/ (seeded on the first
# run, not in git); logs are in <workspace>/fuzz/logs/TARGET.log.
# The three workspaces share one target directory, FUZZ_TARGET_DIR
# (default target/fuzz), so their common dependencies build once.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets stable accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
secs="${1:-10}"
shift || true
wanted=" $* "

command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
tdir="${FUZZ_TARGET_DIR:-$root/target/fuzz}"
# No sanitizer (safe Rust; the allocation guard stands in for ASan's
# allocation limit), 16 codegen units and opt-level 1 (FUZZ_OPT_LEVEL):
# the cold build of all three fits CI's budget on two cores; a long run by
# hand may want FUZZ_OPT_LEVEL=3 (slower build, more execs/s).
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${FUZZ_OPT_LEVEL:-1}"
flags=(-s none --codegen-units 16 --target-dir "$tdir")

# workspace (directory whose fuzz/ holds it), then its targets.
workspaces=(
  "shared frame_decoder manifest_verify"
  "agent dpkg_status rpm_query smbios edid reg_export"
  "server agent_report stored_blobs versions filters csv_import"
)

# libFuzzer options per target beyond the common ones.
extra_opts() {
  case "$1" in
    frame_decoder) echo "-max_len=8192" ;;
    *) ;;
  esac
}

summary=()
failed=()
for ws in "${workspaces[@]}"; do
  read -r dir targets <<<"$ws"
  run=()
  for t in $targets; do
    [ "$wanted" = "  " ] || [[ "$wanted" == *" $t "* ]] && run+=("$t")
  done
  [ ${#run[@]} -gt 0 ] || continue
  mkdir -p "$dir/fuzz/logs"
  if ! (cd "$dir" && cargo fuzz build "${flags[@]}" >"fuzz/logs/build.log" 2>&1); then
    tail -40 "$dir/fuzz/logs/build.log"
    echo "fuzz-ci: the $dir fuzz targets do not build (log: $dir/fuzz/logs/build.log)"
    exit 1
  fi
  for t in "${run[@]}"; do
    corpus="$root/$dir/fuzz/corpus/$t"
    log="$root/$dir/fuzz/logs/$t.log"
    mkdir -p "$corpus"
    # shellcheck disable=SC2046 # the extra options split on purpose
    if (cd "$dir" && FUZZ_SEED_DIR="$corpus" cargo fuzz run "${flags[@]}" "$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        $(extra_opts "$t") "$corpus" >"$log" 2>&1); then
      done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
      runs=$(awk '{print $2}' <<<"$done_line")
      took=$(awk '{print $5}' <<<"$done_line")
      runs=${runs:-0}
      took=${took:-1}
      rate=$((runs / (took > 0 ? took : 1)))
      printf '%-16s %10s runs %8s execs/s\n' "$t" "$runs" "$rate"
      summary+=("reliability | fuzzing: $t | $runs runs | no crash ($rate execs/s)")
    else
      input=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
      runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
      tail -30 "$log"
      printf '%-16s CRASHED after %s runs: input %s\n' "$t" "${runs:-0}" "${input:-?}"
      echo "  replay: (cd $dir && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none $t ${input:-?})"
      echo "  log: $dir/fuzz/logs/$t.log"
      summary+=("reliability | fuzzing: $t | ${runs:-0} runs | crashed, input kept in ${input:-?}")
      failed+=("$t")
    fi
  done
done
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-ci: ${failed[*]} crashed; fix the parser and keep the input as a regression test"
  exit 1
fi
