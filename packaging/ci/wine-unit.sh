#!/usr/bin/env bash
# CI: the agent's unit tests built for Windows, run under Wine, for the
# code only Windows compiles (the help pipe: its round trip, its name
# taken twice, the caps; the SID and account lookups). Args are passed to
# the test binary, e.g. `packaging/ci/wine-unit.sh help::pipe_windows`.
#
# Uses a throwaway WINEPREFIX and the test-only bcryptprimitives.dll shim
# (see wine-smoke.sh); wineserver is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=x86_64-pc-windows-gnu
exe=$(cargo test --target "$target" -p deskhand-agent --lib --no-run --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .target.name == "deskhand_agent" and .profile.test) | .executable' |
    tail -1)
[ -f "$exe" ] || { echo "wine-unit: no test executable built" >&2; exit 1; }

work=$(mktemp -d)
export WINEPREFIX=$work/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
    set +e
    if [ -d "$WINEPREFIX" ]; then
        wineserver -k 2>/dev/null
        timeout 20 wineserver -w 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

cp "$exe" "$work/agent-tests.exe"
x86_64-w64-mingw32-gcc -shared -O2 -o "$work/bcryptprimitives.dll" \
    packaging/ci/bcryptprimitives.c -ladvapi32
timeout 300 wineboot -i >/dev/null 2>&1
# As in wine-smoke.sh: let the new prefix's services start first.
timeout 120 wineserver -w 2>/dev/null || true
echo "wine-unit: $(basename "$exe") under Wine"
timeout 600 wine "$work/agent-tests.exe" --test-threads=1 "$@"
