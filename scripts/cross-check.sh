#!/usr/bin/env bash
# Check (no linking) that the agent compiles for Windows and macOS (Apple
# silicon and Intel) from Linux.
# ring compiles C in its build script even for `cargo check`: Windows needs
# mingw-w64; macOS needs clang plus three header stand-ins (no SDK here).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! command -v clang >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-mingw-w64-x86-64 clang
fi
rustup target add x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin >/dev/null
cargo check -p deskhand-agent --target x86_64-pc-windows-gnu
shim="-ffreestanding -nostdlibinc -isystem $PWD/scripts/darwin-check-shim"
CC_aarch64_apple_darwin=clang CFLAGS_aarch64_apple_darwin="$shim" \
    cargo check -p deskhand-agent --target aarch64-apple-darwin
CC_x86_64_apple_darwin=clang CFLAGS_x86_64_apple_darwin="$shim" \
    cargo check -p deskhand-agent --target x86_64-apple-darwin
