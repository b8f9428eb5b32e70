#!/usr/bin/env bash
# Builds the release packages into target/packages/:
#
#   packaging/build.sh deb       deskhand-agent_*.deb, deskhand-server_*.deb (cargo-deb)
#   packaging/build.sh rpm       deskhand-agent-*.rpm, deskhand-server-*.rpm (cargo-generate-rpm)
#   packaging/build.sh windows   deskhand-agent-VERSION-windows-x86_64.zip: the exe and install-agent.ps1
#   packaging/build.sh all       all three (the default)
#
# The Linux packages carry bash, zsh and fish completions and man pages,
# which the built binaries write (`deskhand completions`, `deskhand man`).
#
# Needs: `cargo install cargo-deb cargo-generate-rpm --locked`; for Windows,
# Debian's gcc-mingw-w64-x86-64 and `rustup target add x86_64-pc-windows-gnu`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/packages
mkdir -p "$out"
what=${1:-all}

need() {
    command -v "$1" >/dev/null || { echo "build.sh: $1 is missing; $2" >&2; exit 1; }
}

linux_release() {
    cargo build --release --locked -p deskhand-agent -p deskhand-server
    docs
}

# Shell completions and man pages, written by the built programs from
# their own command lines into target/release/docs/PROGRAM/, where the
# .deb and .rpm assets (agent/Cargo.toml, server/Cargo.toml) take them.
# `deskhand` writes its own; the agent's come from deskhand-agent-docs
# (built beside it, not shipped), which keeps the generators out of the
# agent's binary.
docs() {
    local release=${CARGO_TARGET_DIR:-target}/release
    local program writer dir
    for program in deskhand deskhand-agent; do
        writer=$release/$program
        [ "$program" = deskhand-agent ] && writer=$release/deskhand-agent-docs
        dir=$release/docs/$program
        rm -rf "$dir"
        mkdir -p "$dir/man"
        "$writer" completions bash >"$dir/$program.bash"
        "$writer" completions zsh >"$dir/_$program"
        "$writer" completions fish >"$dir/$program.fish"
        "$writer" man --out "$dir/man" >/dev/null
        gzip -9n "$dir"/man/*.1
    done
}

deb() {
    need cargo-deb "install it with: cargo install cargo-deb --locked"
    for p in deskhand-agent deskhand-server; do
        cargo deb --no-build --quiet -p "$p" --output "$out/"
    done
}

rpm() {
    need cargo-generate-rpm "install it with: cargo install cargo-generate-rpm --locked"
    # -p takes the crate's directory here.
    for p in agent server; do
        cargo generate-rpm -p "$p" -o "$out/"
    done
    ls "$out"/deskhand-*.rpm
}

windows() {
    need x86_64-w64-mingw32-gcc "install Debian's gcc-mingw-w64-x86-64"
    cargo build --release --locked -p deskhand-agent --target x86_64-pc-windows-gnu
    local version stage
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
    stage=$(mktemp -d)
    cp target/x86_64-pc-windows-gnu/release/deskhand-agent.exe packaging/windows/install-agent.ps1 "$stage/"
    rm -f "$out/deskhand-agent-$version-windows-x86_64.zip"
    (cd "$stage" && zip -q -X "$OLDPWD/$out/deskhand-agent-$version-windows-x86_64.zip" deskhand-agent.exe install-agent.ps1)
    rm -rf "$stage"
    ls "$out"/*.zip
}

case "$what" in
    deb) linux_release; deb ;;
    rpm) linux_release; rpm ;;
    windows) windows ;;
    all) linux_release; deb; rpm; windows ;;
    *) echo "build.sh: unknown target $what; use deb, rpm, windows or all" >&2; exit 2 ;;
esac
