#!/usr/bin/env bash
# CI: install the .deb files from `packaging/build.sh deb`, start the server
# and the agent as their systemd units do, enroll the agent with the line
# `deskhand tokens create` prints (install-agent.sh), check that it shows
# online with this host's name and OS, and that its inventory on the server
# lists the package just installed, and that the packaged backup unit makes
# a whole copy; then stop everything and purge.
#
# Under systemd (PID 1) the units run, with a runtime drop-in that moves
# the server to loopback ports. Without it, the units' ExecStart= lines run
# directly, as their User=, with the installed config. Network: loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
pkgs=$PWD/target/packages
agent_deb=$(ls "$pkgs"/deskhand-agent_*.deb)
server_deb=$(ls "$pkgs"/deskhand-server_*.deb)
units=/usr/lib/systemd/system

for p in deskhand-server deskhand-agent; do
    if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q installed; then
        echo "deb-smoke: $p is installed already; this test installs and purges it, so remove it first" >&2
        exit 1
    fi
done
if [ -e /var/lib/deskhand ] || [ -e /var/lib/deskhand-agent ] || [ -e /var/lib/deskhand-backups ]; then
    echo "deb-smoke: /var/lib/deskhand, /var/lib/deskhand-agent or /var/lib/deskhand-backups exists; move it away first" >&2
    exit 1
fi

work=$(mktemp -d)
under_systemd=
[ -d /run/systemd/system ] && under_systemd=yes
pids=()
. packaging/ci/lib.sh
cleanup() {
    set +e
    if [ -n "$under_systemd" ]; then
        systemctl stop deskhand-agent deskhand-server 2>/dev/null
        rm -rf /run/systemd/system/deskhand-server.service.d
        systemctl daemon-reload
    fi
    # The agent first, so the server sees it leave.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
    dpkg --purge deskhand-agent deskhand-server >/dev/null 2>&1
    # The server package keeps its CA, database and backups on purge, by design.
    rm -rf /var/lib/deskhand /var/lib/deskhand-backups "$work"
}
trap cleanup EXIT

if [ -n "$under_systemd" ]; then
    # Before the package starts the unit: loopback ports only.
    api_port=18480 agents_port=18443
    mkdir -p /run/systemd/system/deskhand-server.service.d
    printf '[Service]\nEnvironment=DESKHAND_AGENTS_LISTEN=127.0.0.1:%s DESKHAND_API_LISTEN=127.0.0.1:%s\n' \
        "$agents_port" "$api_port" >/run/systemd/system/deskhand-server.service.d/ci.conf
fi
echo "deb-smoke: installing $(basename "$server_deb")"
dpkg -i "$server_deb"
[ -x /usr/bin/deskhand ] && [ -f "$units/deskhand-server.service" ] && [ -f /etc/deskhand/server.toml ]
getent passwd deskhand >/dev/null

if [ -n "$under_systemd" ]; then
    systemctl daemon-reload
    systemctl restart deskhand-server
    api=http://127.0.0.1:$api_port
    timeout 30 sh -c "until [ -s /var/lib/deskhand/admin.token ]; do sleep 0.2; done"
else
    # As the unit would: its ExecStart=, as its User=, with the installed config.
    user=$(sed -n 's/^User=//p' "$units/deskhand-server.service")
    read -r -a exec_start <<<"$(sed -n 's/^ExecStart=//p' "$units/deskhand-server.service")"
    setpriv --reuid="$user" --regid="$user" --init-groups -- \
        "${exec_start[@]}" --agents-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        >"$work/server.out" 2>"$work/server.err" &
    pids+=($!)
    timeout 30 sh -c "until grep -q '^  API:' '$work/server.out'; do sleep 0.2; done" || {
        cat "$work/server.err" >&2
        exit 1
    }
    api=$(sed -n 's/^  API: *//p' "$work/server.out")
fi
export DESKHAND_SERVER=$api
DESKHAND_TOKEN=$(cat /var/lib/deskhand/admin.token)
export DESKHAND_TOKEN
echo "deb-smoke: server up at $api"

# The one line an operator pastes, run next to the agent's package.
line=$(deskhand tokens create --uses 1 --expires 10m --output json | jq -r .install_command)
echo "deb-smoke: install line: $line"
case "$line" in "sudo sh install-agent.sh --server "*) ;; *) echo "deb-smoke: unexpected install line" >&2; exit 1 ;; esac
cp packaging/install-agent.sh "$agent_deb" "$work/"
read -r -a args <<<"${line#sudo }"
(cd "$work" && "${args[@]}" --no-start)
[ -f /var/lib/deskhand-agent/agent.toml ]

if [ -n "$under_systemd" ]; then
    systemctl start deskhand-agent
else
    read -r -a exec_start <<<"$(sed -n 's/^ExecStart=//p' "$units/deskhand-agent.service")"
    "${exec_start[@]}" 2>"$work/agent.err" &
    pids+=($!)
fi

host=$(deskhand-agent inventory --json | jq -r '.identity.hostname // empty')
found=
for _ in $(seq 1 100); do
    list=$(deskhand agents list --output json)
    if jq -e 'length == 1 and .[0].online == true' <<<"$list" >/dev/null; then
        found=yes
        break
    fi
    sleep 0.2
done
if [ -z "$found" ]; then
    echo "deb-smoke: the agent did not come online; its log:" >&2
    cat "$work/agent.err" >&2 2>/dev/null || journalctl -u deskhand-agent --no-pager | tail -20 >&2
    exit 1
fi
echo "deb-smoke: agents list: $(jq -c '.[0] | {id, online, hostname, os}' <<<"$list")"
jq -e '.[0].os | length > 0' <<<"$list" >/dev/null
if [ -n "$host" ]; then
    jq -e --arg h "$host" '.[0].hostname == $h' <<<"$list" >/dev/null || {
        echo "deb-smoke: hostname differs from the agent's inventory ($host)" >&2
        exit 1
    }
fi

# Its inventory reached the server, and lists the package just installed.
id=$(jq -r '.[0].id' <<<"$list")
inv=
for _ in $(seq 1 100); do
    if inv=$(deskhand assets show "$id" --output json 2>/dev/null) &&
        jq -e '[.software[] | select(.name == "deskhand-agent")] | length == 1' <<<"$inv" >/dev/null; then
        break
    fi
    inv=
    sleep 0.2
done
if [ -z "$inv" ]; then
    echo "deb-smoke: the server's inventory of the agent never listed the deskhand-agent package" >&2
    exit 1
fi
echo "deb-smoke: inventory: $(jq -c '{packages: (.software | length), agent: ([.software[] | select(.name == "deskhand-agent") | .version][0])}' <<<"$inv")"
# The packaged server, as its user and with its unit's limits, takes writes.
deskhand status --output json | jq -e '.database.writes == "ok"' >/dev/null || {
    echo "deb-smoke: the packaged server's database refuses writes: $(deskhand status)" >&2
    exit 1
}

# The packaged backup, while the server runs: the unit's ExecStart=, as
# its User=; a dated copy with the database and the CA in it.
if [ -n "$under_systemd" ]; then
    systemctl start deskhand-backup.service
else
    user=$(sed -n 's/^User=//p' "$units/deskhand-backup.service")
    read -r -a exec_start <<<"$(sed -n 's/^ExecStart=//p' "$units/deskhand-backup.service")"
    setpriv --reuid="$user" --regid="$user" --init-groups -- "${exec_start[@]}" >"$work/backup.out"
fi
copy=$(ls -d /var/lib/deskhand-backups/deskhand-*Z)
[ -s "$copy/deskhand.db" ] && [ -s "$copy/ca.key" ] || {
    echo "deb-smoke: the packaged backup made no whole copy ($copy)" >&2
    exit 1
}
echo "deb-smoke: backup: $copy"

# Stop as systemd would (SIGTERM), then purge and check nothing is left.
cleanup
trap - EXIT
for f in /usr/bin/deskhand /usr/bin/deskhand-agent /var/lib/deskhand-agent /etc/deskhand/server.toml; do
    if [ -e "$f" ]; then
        echo "deb-smoke: $f is still there after dpkg --purge" >&2
        exit 1
    fi
done
for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
        echo "deb-smoke: process $pid still runs" >&2
        exit 1
    fi
done
echo "deb-smoke: ok (installed, enrolled, online, inventoried, writes healthy, backed up, stopped, purged)"
