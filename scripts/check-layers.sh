#!/usr/bin/env bash
# Fails when a crate gains a dependency its layer forbids, or SQL appears
# outside the server's store. Run by .ci/run; cheap (cargo tree, grep).
#
# - deskhand-shared (the protocol) does no I/O: no tokio, quinn, rusqlite.
# - deskhand-net (plumbing both programs use) knows no store, no agent,
#   no server.
# - deskhand-api-types (the HTTP API's JSON types) is serde only: no
#   store, no QUIC, no HTTP framework, no clap, no runtime, no server.
# - deskhand-cli (the operator CLI) speaks to the server over HTTP with
#   the API types only: no database, no QUIC, no agent, no server, no
#   axum, and not the server's allocator.
# - deskhand-server uses the agent crate only for `server --dev`'s local
#   agent, behind the `dev-agent` feature: without it, no deskhand-agent.
# - One crypto provider, ring: no aws-lc or OpenSSL in either program.
# - SQL statements live in server/src/store/ only.
# - Sizes: no source file over 1,000 lines; no module's code before its
#   unit tests (`#[cfg(test)] mod ...`) over 700. Files that are tests
#   throughout (`tests.rs`, `tests/`) have only the first bound.
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
deps() { # crate, extra cargo-tree flags...: the crate names it depends on
  local crate=$1; shift
  cargo tree -q -p "$crate" -e normal --prefix none "$@" | sed 's/ .*//' | sort -u
}
forbid() { # crate, "flags", forbidden crates...
  local crate=$1 flags=$2; shift 2
  local have
  # shellcheck disable=SC2086
  have=$(deps "$crate" $flags)
  for bad in "$@"; do
    if grep -qx "$bad" <<<"$have"; then
      echo "check-layers: $crate${flags:+ ($flags)} depends on $bad, which its layer forbids" >&2
      # shellcheck disable=SC2086
      cargo tree -q -p "$crate" -e normal $flags -i "$bad" >&2 || true
      fail=1
    fi
  done
}

forbid deskhand-shared "" tokio quinn rusqlite deskhand-net deskhand-agent deskhand-server
forbid deskhand-net "" rusqlite deskhand-agent deskhand-server axum
forbid deskhand-api-types "" rusqlite quinn axum clap tokio deskhand-server
forbid deskhand-cli "" rusqlite quinn deskhand-agent deskhand-server axum mimalloc
forbid deskhand-server "--no-default-features" deskhand-agent
for program in deskhand-agent deskhand-server deskhand-cli; do
  forbid "$program" "" aws-lc-rs aws-lc-sys openssl openssl-sys
done

sql=$(grep -rnE '"(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE (TABLE|INDEX)|ALTER TABLE) ' \
  server/src --include='*.rs' | grep -v '^server/src/store/' || true)
if [ -n "$sql" ]; then
  echo "check-layers: SQL outside server/src/store/:" >&2
  echo "$sql" >&2
  fail=1
fi

sizes=$(find agent server shared tests -name '*.rs' -not -path '*/target/*' -print0 |
  xargs -0 awk '
    FNR == 1 { if (prev) report(); prev = FILENAME; code = 0; in_tests = (FILENAME ~ /(^|\/)tests(\.rs|\/)/) }
    !in_tests && /^#\[cfg\(test\)\]/ { pending = 1; next }
    pending && /^mod [a-z_]+ *(\{|;)/ { in_tests = 1 }
    { pending = 0; if (!in_tests) code++ }
    function report() {
      if (FNR_prev > 1000) print prev ": " FNR_prev " lines (at most 1,000)"
      else if (code > 700) print prev ": " code " lines of code before its tests (at most 700)"
    }
    { FNR_prev = FNR }
    END { report() }')
if [ -n "$sizes" ]; then
  echo "check-layers: files past the size bar (split them by area):" >&2
  echo "$sizes" >&2
  fail=1
fi

[ "$fail" = 0 ] && echo "check-layers: ok"
exit "$fail"
