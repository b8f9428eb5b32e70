#!/usr/bin/env bash
# Checks the dependency graph with cargo deny (advisories, licences, bans,
# sources: deny.toml), offline. Advisories come from the snapshot of the
# RustSec database beside the checkout (../shared/advisory-db, or
# $DESKHAND_ADVISORY_DB); cargo deny reads its database from a git clone,
# so the snapshot is copied into a throwaway repository whose one commit
# carries the snapshot's date (its SNAPSHOT.txt), never fetched.
#
# Usage: scripts/deny.sh [CHECK...]   (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deny >/dev/null || cargo install -q cargo-deny --locked

snapshot="${DESKHAND_ADVISORY_DB:-}"
for candidate in ../shared/advisory-db /work/shared/advisory-db; do
  [ -n "$snapshot" ] || { [ -d "$candidate/crates" ] && snapshot="$candidate"; } || true
done
if [ -z "$snapshot" ] || [ ! -d "$snapshot/crates" ]; then
  echo "scripts/deny.sh: ADVISORIES NOT CHECKED: no RustSec snapshot at ../shared/advisory-db" \
    "(set DESKHAND_ADVISORY_DB to a copy of rustsec/advisory-db); checking the rest" >&2
  [ $# -gt 0 ] || set -- bans licenses sources
  exec cargo deny ${DENY_FLAGS:-} --offline check "$@"
fi
echo "scripts/deny.sh: advisories from $snapshot ($(head -c 120 "$snapshot/SNAPSHOT.txt" 2>/dev/null | tr '\n' ' '))" >&2
dbs=$(mktemp -d)
trap 'rm -rf "$dbs"' EXIT
# The folder name cargo deny derives from the default database's URL.
db="$dbs/advisory-db-3157b0e258782691"
cp -r "$snapshot" "$db"
chmod -R u+w "$db"
when=$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$snapshot/SNAPSHOT.txt" | head -1)
when="${when:-2000-01-01}T00:00:00Z"
git -C "$db" init -q
git -C "$db" add -A
GIT_AUTHOR_DATE="$when" GIT_COMMITTER_DATE="$when" \
  git -C "$db" -c user.name=snapshot -c user.email=snapshot@localhost \
  commit -q -m "RustSec advisory database snapshot"

DESKHAND_ADVISORY_DBS="$dbs" cargo deny ${DENY_FLAGS:-} --offline check "$@"
