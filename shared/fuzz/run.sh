#!/usr/bin/env bash
# Runs the protocol crate's fuzz targets (frame_decoder, manifest_verify)
# for a while each (default 60 s), through scripts/fuzz-ci.sh.
# Usage: shared/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec scripts/fuzz-ci.sh "${1:-60}" frame_decoder manifest_verify
