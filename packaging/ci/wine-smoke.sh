#!/usr/bin/env bash
# CI: the Windows agent from `packaging/build.sh windows`, under Wine.
#
# 1. Unpacks the zip into a throwaway directory and WINEPREFIX.
# 2. Writes three programs into Wine's registry (`wine reg add`): one in
#    the 64-bit Uninstall key, one in the 32-bit view (WOW6432Node), one
#    in the user's hive, and asserts that `deskhand-agent.exe inventory
#    --json` lists all three with their versions and publishers.
# 3. Starts a Linux `deskhand server` on loopback; enrolls the exe,
#    installs the Windows service and lets Wine's SCM start it, asserts it
#    shows online with a Windows OS in `deskhand agents list`, stops it
#    (offline at once) and uninstalls it. (install-agent.ps1 itself needs
#    PowerShell, which Wine lacks; it runs the same subcommands.)
# 4. While the service runs: `deskhand-agent.exe help "printer on fire"`
#    reaches it over its named pipe and prints a ticket number; the
#    server's ticket has that title, is linked to this asset, was opened
#    by this agent with a fresh inventory and a system summary, and names
#    as requester the account Wine's token gives the caller (the prefix's
#    one user: Wine runs every program as it). With the service stopped,
#    `help` says the agent is not running.
#    (Before the stop, `help --open --print` mints a portal link over the
#    pipe, and following it signs in to the portal as the same account.)
# Every process it starts (server, agent, wineserver) is stopped at the end.
#
# WINE_SMOKE_EXE=path/to/deskhand-agent.exe and WINE_SMOKE_DESKHAND=path/to/
# deskhand run it on builds of your own (e.g. debug) instead of the
# packages.
#
# Debian's Wine 8.0 lacks bcryptprimitives.dll, which Rust's standard
# library imports (ProcessPrng); a test-only shim built from
# bcryptprimitives.c sits next to the exe. Real Windows needs no shim.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
deskhand=${WINE_SMOKE_DESKHAND:-$root/target/release/deskhand}
[ -x "$deskhand" ] || { echo "wine-smoke: build the server first (packaging/build.sh deb)" >&2; exit 1; }

work=$(mktemp -d)
export WINEPREFIX=$work/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
server_pid=
. packaging/ci/lib.sh
cleanup() {
    set +e
    stop_pid "$server_pid"
    if [ -d "$WINEPREFIX" ]; then
        wineserver -k 2>/dev/null
        timeout 20 wineserver -w 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/agent"
if [ -n "${WINE_SMOKE_EXE:-}" ]; then
    cp "$WINE_SMOKE_EXE" "$work/agent/deskhand-agent.exe"
else
    zip=$(ls "$root"/target/packages/deskhand-agent-*-windows-x86_64.zip)
    (cd "$work/agent" && unzip -q "$zip")
    [ -f "$work/agent/install-agent.ps1" ]
fi
x86_64-w64-mingw32-gcc -shared -O2 -o "$work/agent/bcryptprimitives.dll" \
    packaging/ci/bcryptprimitives.c -ladvapi32
exe=$work/agent/deskhand-agent.exe

echo "wine-smoke: creating a Wine prefix"
timeout 300 wineboot -i >/dev/null 2>&1
# wineboot returns while the prefix's services still start; a program run
# meanwhile once crashed in Wine's loader (exit 139, nothing on stderr).
timeout 120 wineserver -w 2>/dev/null || true

uninstall='Software\Microsoft\Windows\CurrentVersion\Uninstall'
reg_app() { # KEY NAME VERSION PUBLISHER
    timeout 60 wine reg add "$1" /v DisplayName /t REG_SZ /d "$2" /f >/dev/null
    timeout 60 wine reg add "$1" /v DisplayVersion /t REG_SZ /d "$3" /f >/dev/null
    timeout 60 wine reg add "$1" /v Publisher /t REG_SZ /d "$4" /f >/dev/null
}
reg_app "HKLM\\$uninstall\\DeskhandWine64" "Deskhand Wine Test 64" "6.4.1" "Deskhand CI"
reg_app "HKLM\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\DeskhandWine32" \
    "Deskhand Wine Test 32" "3.2.1" "Deskhand CI"
reg_app "HKCU\\$uninstall\\DeskhandWineUser" "Deskhand Wine Test User" "1.0.7" "Deskhand CI"

# run_once NAME CMD...: runs CMD with its stdout in $work/NAME.out and its
# stderr in $work/NAME.err; once more if Wine itself crashed.
run_once() {
    local name=$1 status=0
    shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" || status=$?
    if [ "$status" -ge 129 ] && [ "$status" != 137 ] && [ ! -s "$work/$name.err" ] && [ ! -s "$work/$name.out" ]; then
        # Killed by a signal with nothing said: Wine itself crashed, not
        # the agent (whose errors go to stderr); once more before failing.
        echo "wine-smoke: Wine crashed running $name (exit $status); once more" >&2
        status=0
        "$@" >"$work/$name.out" 2>"$work/$name.err" || status=$?
    fi
    if [ "$status" != 0 ]; then
        echo "wine-smoke: $name failed (exit $status)" >&2
        cat "$work/$name.err" >&2
        exit 1
    fi
}

echo "wine-smoke: deskhand-agent.exe inventory --json"
run_once inventory timeout 180 wine "$exe" inventory --json
mv "$work/inventory.out" "$work/inventory.json"
jq -c '.software[] | select(.name | startswith("Deskhand Wine Test")) | {name, version, publisher: .vendor, source, id}' \
    "$work/inventory.json"
for want in "Deskhand Wine Test 64=6.4.1" "Deskhand Wine Test 32=3.2.1" "Deskhand Wine Test User=1.0.7"; do
    jq -e --arg n "${want%=*}" --arg v "${want#*=}" \
        'any(.software[]; .name == $n and .version == $v and .vendor == "Deskhand CI")' \
        "$work/inventory.json" >/dev/null || {
        echo "wine-smoke: ${want%=*} ${want#*=} is missing from the inventory" >&2
        exit 1
    }
done
jq -e '.os.family == "windows"' "$work/inventory.json" >/dev/null

echo "wine-smoke: enrolling the exe with a server on loopback"
"$deskhand" server --data-dir "$work/server" --agents-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
timeout 30 sh -c "until grep -q '^  admin token:' '$work/server.out'; do sleep 0.2; done" || {
    cat "$work/server.err" >&2
    exit 1
}
export DESKHAND_SERVER DESKHAND_TOKEN
DESKHAND_SERVER=$(sed -n 's/^  API: *//p' "$work/server.out")
DESKHAND_TOKEN=$(cat "$work/server/admin.token")
token_json=$("$deskhand" tokens create --uses 1 --expires 10m --output json)
wait_online() { # true|false
    for _ in $(seq 1 150); do
        list=$("$deskhand" agents list --output json)
        if jq -e --argjson want "$1" 'length == 1 and .[0].online == $want' <<<"$list" >/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}
agent_log=$WINEPREFIX/drive_c/ProgramData/deskhand/agent.log
# Enroll, register the service, start it. (install-agent.ps1 installs
# first so the ACL is in place before the key is written; Wine's SCM only
# sees a new service after the prefix restarts, and then starts automatic
# services itself, so here the agent is enrolled before that restart.)
timeout 120 wine "$exe" enroll \
    --server "$(jq -r .server <<<"$token_json")" \
    --token "$(jq -r .token <<<"$token_json")" \
    --ca-fingerprint "$(jq -r .ca_fingerprint <<<"$token_json")"
timeout 60 wine "$exe" service install
timeout 60 wineserver -w
# Right after the prefix restarts, Wine's service manager may not answer
# yet ("RPC server unavailable", seen once in CI): a few tries, then fail.
started=0
for _ in 1 2 3 4 5; do
    if timeout 60 wine "$exe" service start; then
        started=1
        break
    fi
    sleep 2
done
[ "$started" = 1 ] || {
    echo "wine-smoke: the service would not start" >&2
    exit 1
}
wait_online true || {
    echo "wine-smoke: the Windows service did not come online; its log:" >&2
    tail -20 "$agent_log" >&2
    exit 1
}
echo "wine-smoke: agents list: $(jq -c '.[0] | {id, online, hostname, os}' <<<"$list")"
jq -e '.[0].os | test("windows"; "i")' <<<"$list" >/dev/null || {
    echo "wine-smoke: the agent's OS is not Windows" >&2
    exit 1
}
# Help over the service's named pipe, as the prefix's user.
echo "wine-smoke: deskhand-agent.exe help \"printer on fire\""
agent_id=$(jq -r '.[0].id' <<<"$list")
help_start=$(date +%s%N)
run_once help timeout 150 wine "$exe" help "printer on fire"
help_ms=$((($(date +%s%N) - help_start) / 1000000))
number=$(sed -n 's/^ticket \([0-9][0-9]*\) is open.*/\1/p' "$work/help.out")
[ -n "$number" ] || {
    echo "wine-smoke: help printed no ticket number: $(cat "$work/help.out")" >&2
    tail -20 "$agent_log" >&2
    exit 1
}
ticket=$("$deskhand" tickets show "$number" --output json)
echo "wine-smoke: ticket $number in $help_ms ms (Wine's start-up included): $(jq -c '{title: .ticket.title, requester: .ticket.requester, created_by: .ticket.created_by, assets: [.linked_assets[].asset.id]}' <<<"$ticket")"
# As on Linux: the ticket carries a fresh inventory and a system summary.
jq -e --arg id "$agent_id" '.ticket.title == "printer on fire"
    and .ticket.created_by == "agent:" + $id
    and ([.linked_assets[].asset.id] == [$id])
    and ([.timeline[].kind] == ["created", "inventory", "job_result"])
    and .timeline[2].job.diag.check == "system-summary"' <<<"$ticket" >/dev/null || {
    echo "wine-smoke: ticket $number is not the help request linked to the Windows asset $agent_id: $(jq -c '[.timeline[] | {kind, body}]' <<<"$ticket" | cut -c1-600)" >&2
    exit 1
}
# The requester is the account Wine's token names, DOMAIN\user: never
# empty, never a SID (which would mean the name lookup failed), never
# what the client could have said.
want_user=$(timeout 60 wine cmd /c echo '%USERDOMAIN%\%USERNAME%' 2>/dev/null | tr -d '\r')
jq -e --arg want "$want_user" '.ticket.requester == $want' <<<"$ticket" >/dev/null || {
    echo "wine-smoke: the requester is $(jq -c .ticket.requester <<<"$ticket"), not the caller's Wine account $want_user" >&2
    grep -i help "$agent_log" | tail -5 >&2
    exit 1
}
echo "wine-smoke: the agent's log: $(grep -h "help request" "$agent_log" | tail -3 | cut -c1-400)"
# The requester portal: a link minted over the same pipe for the same
# account; following it opens a portal session as that account.
echo "wine-smoke: deskhand-agent.exe help --open --print"
run_once portal timeout 150 wine "$exe" help --open --print
url=$(tr -d '\r' <"$work/portal.out" | grep -m1 '/portal/enter/' || true)
[ -n "$url" ] || {
    echo "wine-smoke: help --open printed no portal link: $(cat "$work/portal.out" "$work/portal.err")" >&2
    exit 1
}
python3 - "$url" "$want_user" <<'PY' || exit 1
import sys, urllib.request, urllib.error
url, want = sys.argv[1], sys.argv[2]
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None
opener = urllib.request.build_opener(NoRedirect)
try:
    opener.open(url, timeout=30)
    sys.exit("wine-smoke: the portal link did not redirect")
except urllib.error.HTTPError as e:
    if e.code not in (302, 303):
        sys.exit(f"wine-smoke: the portal link answered {e.code}")
    cookie = (e.headers.get("Set-Cookie") or "").split(";")[0]
base = url.split("/portal/")[0]
req = urllib.request.Request(base + "/portal", headers={"Cookie": cookie})
page = urllib.request.urlopen(req, timeout=30).read().decode()
if want + " on this computer" not in page.replace("&#92;", "\\"):
    sys.exit(f"wine-smoke: the portal does not name {want}: {page[:400]}")
print(f"wine-smoke: the portal link signed in as {want}")
PY
# A service stop closes the connection at once: the server shows it offline.
timeout 60 wine "$exe" service stop
wait_online false || {
    echo "wine-smoke: the agent still shows online after the service stopped" >&2
    exit 1
}
# With the service stopped, nobody holds the pipe: help says so.
nohelp() {
    status=0
    timeout 60 wine "$exe" help "anyone there?" >"$work/nohelp.out" 2>"$work/nohelp.err" || status=$?
}
nohelp
if [ "$status" = 0 ] && [ ! -s "$work/nohelp.out" ] && [ ! -s "$work/nohelp.err" ]; then
    # Exit 0 with nothing said (seen once in 6 runs, not reproduced): the
    # agent's help says something either way, so Wine did not run it.
    echo "wine-smoke: wine exited 0 without running help; once more" >&2
    nohelp
fi
grep -q "the deskhand agent is not running" "$work/nohelp.err" && [ "$status" = 1 ] || {
    echo "wine-smoke: help without the service: exit $status, $(cat "$work/nohelp.out" "$work/nohelp.err")" >&2
    tail -20 "$agent_log" >&2
    exit 1
}
timeout 60 wine "$exe" service uninstall
echo "wine-smoke: ok (inventory lists the registry programs; the service enrolled, showed online, opened ticket $number for $want_user over its help pipe, stopped, was removed)"
