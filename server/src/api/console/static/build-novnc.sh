#!/bin/sh
# Rebuilds the console's vendored noVNC: one minified ES module
# (novnc-$NOVNC.min.js, exporting noVNC's RFB as default) and its
# licences (novnc-LICENSE.txt), from the npm packages at pinned versions,
# in a temporary directory outside the repository. Not run by CI: run it
# by hand to move to another version, then update the file names in
# ../mod.rs and commit the two files.
#
# An ES module rather than a script: noVNC's core uses a top-level await
# (its H.264 decoder probe), which only a module may.
set -eu

NOVNC=1.7.0
ESBUILD=0.28.2

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact "@novnc/novnc@$NOVNC" "esbuild@$ESBUILD"

printf 'export { default } from "@novnc/novnc";\n' >entry.js
npx esbuild entry.js --bundle --format=esm --minify --target=es2022 \
    --legal-comments=none \
    --banner:js="/*! noVNC $NOVNC (MPL-2.0, https://github.com/novnc/noVNC) with pako (MIT); licences: novnc-LICENSE.txt */" \
    --outfile="$here/novnc-$NOVNC.min.js"

pkg=node_modules/@novnc/novnc
{
    printf 'noVNC %s, bundled into novnc-%s.min.js with esbuild %s\n' "$NOVNC" "$NOVNC" "$ESBUILD"
    printf '(by build-novnc.sh). What the bundle holds and under which licence:\n'
    printf 'noVNC core/**/*.js (MPL-2.0; core/crypto/des.js BSD-style, its\n'
    printf 'notice below) and noVNC vendor/pako (MIT). The source is the npm\n'
    printf 'package @novnc/novnc %s and https://github.com/novnc/noVNC.\n' "$NOVNC"
    printf '\n==== noVNC: LICENSE.txt ====\n\n'
    cat "$pkg/LICENSE.txt"
    printf '\n==== noVNC: AUTHORS ====\n\n'
    cat "$pkg/AUTHORS"
    printf '\n==== noVNC: core/crypto/des.js, its notice ====\n\n'
    sed -n '1,/^ \*\//p' "$pkg/core/crypto/des.js"
    printf '\n==== pako (vendor/pako): LICENSE (MIT) ====\n\n'
    cat "$pkg/vendor/pako/LICENSE"
    printf '\n==== Mozilla Public License 2.0 (docs/LICENSE.MPL-2.0) ====\n\n'
    cat "$pkg/docs/LICENSE.MPL-2.0"
} >"$here/novnc-LICENSE.txt"

ls -l "$here/novnc-$NOVNC.min.js" "$here/novnc-LICENSE.txt"
