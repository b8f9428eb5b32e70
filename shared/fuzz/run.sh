#!/usr/bin/env bash
# Runs the frame-decoder fuzz target for a while (default 60 s).
# Usage: shared/fuzz/run.sh [SECONDS]
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain
# accept them, since no nightly toolchain can be installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/frame_decoder
RUSTC_BOOTSTRAP=1 cargo fuzz run frame_decoder --sanitizer none -- \
  -max_total_time="$secs" -max_len=8192 fuzz/corpus/frame_decoder
