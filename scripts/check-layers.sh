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
# - SQL statements live in server/src/store/ only.
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

sql=$(grep -rnE '"(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE (TABLE|INDEX)|ALTER TABLE) ' \
  server/src --include='*.rs' | grep -v '^server/src/store/' || true)
if [ -n "$sql" ]; then
  echo "check-layers: SQL outside server/src/store/:" >&2
  echo "$sql" >&2
  fail=1
fi

[ "$fail" = 0 ] && echo "check-layers: ok"
exit "$fail"
