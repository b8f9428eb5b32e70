#!/usr/bin/env bash
# Benchmark: remote access on loopback, against OpenSSH on the same machine
# in the same run.
#
# - Keystroke round trip: `deskhand shell` in a real pseudo-terminal, one
#   keystroke typed, timed until the remote terminal's echo is back on the
#   local screen (operator -> server -> agent -> pty echo -> agent ->
#   server -> operator); KEYS keystrokes (default 1000), p50 and p99.
#   The peer: `ssh -tt` to a private sshd on loopback, same measurement.
# - Tunnel throughput: MB bytes (default 256 MiB) through `deskhand tunnel`
#   to a TCP sink on the agent's machine, then from a TCP source back;
#   the peer: `ssh -L` to the same sink and source; and plain loopback TCP
#   as the ceiling.
#
#   bench/remote.sh                 # builds release, installs openssh if missing
#   KEYS=2000 MB=512 bench/remote.sh
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000}
MB=${MB:-256}
OUT=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$OUT"; }
trap cleanup EXIT

if ! command -v sshd >/dev/null && [ ! -x /usr/sbin/sshd ]; then
  echo "installing openssh for the peer ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null
fi

cargo build --release -p deskhand-server -p deskhand-agent >&2
bin=$PWD/target/release
source bench/lib.sh

start_server "$OUT" 100
pids+=("$pid")
token=$(enroll_token 1)
"$bin/deskhand-agent" --state-dir "$OUT/agent" enroll --server "$agents" --token "$token" --ca-fingerprint "$fp" >/dev/null
id=$(awk -F'"' '/agent_id/ {print $2}' "$OUT/agent/agent.toml")

# The sink and source the tunnels reach, on the "PC" (here, loopback).
python3 bench/remote_helpers.py serve "$OUT/ports" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$OUT/ports" ] && break; sleep 0.1; done
read -r sink source < "$OUT/ports"
printf 'remote_access = "on"\ntunnel_ports = [%s, %s]\n' "$sink" "$source" > "$OUT/agent.toml"
DESKHAND_AGENT_CONFIG=$OUT/agent.toml "$bin/deskhand-agent" --state-dir "$OUT/agent" run \
  --help-socket "$OUT/agent.sock" --log warn 2> "$OUT/agent.err" &
pids+=($!)
export DESKHAND_SERVER=$api DESKHAND_TOKEN=$admin
for _ in $(seq 1 100); do
  "$bin/deskhand" agents list -o json | grep -q '"online": *true' && break
  sleep 0.2
done

# The peer: a private sshd on loopback with a throwaway key pair.
ssh-keygen -q -t ed25519 -N '' -f "$OUT/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$OUT/user_key"
cp "$OUT/user_key.pub" "$OUT/authorized_keys"
chmod 600 "$OUT/authorized_keys"
ssh_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -p "$ssh_port" -o ListenAddress=127.0.0.1 -h "$OUT/host_key" \
  -o AuthorizedKeysFile="$OUT/authorized_keys" -o PasswordAuthentication=no \
  -o StrictModes=no -o PidFile=none 2> "$OUT/sshd.err" &
pids+=($!)
ssh_cmd="ssh -q -i $OUT/user_key -p $ssh_port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes"
sleep 0.5

echo "keystrokes ($KEYS) ..." >&2
python3 bench/remote_helpers.py keys "$KEYS" "deskhand shell" "$bin/deskhand" shell "$id" > "$OUT/keys.deskhand"
python3 bench/remote_helpers.py keys "$KEYS" "ssh -tt" $ssh_cmd -tt "$(whoami)@127.0.0.1" > "$OUT/keys.ssh"

echo "tunnels ($MB MiB each way) ..." >&2
tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
uport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/deskhand" tunnel "$id" "$sink" --local "127.0.0.1:$tport" 2> "$OUT/tunnel1.err" &
pids+=($!)
"$bin/deskhand" tunnel "$id" "$source" --local "127.0.0.1:$uport" 2> "$OUT/tunnel2.err" &
pids+=($!)
sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$ssh_cmd -N -L "127.0.0.1:$sport:127.0.0.1:$sink" -L "127.0.0.1:$rport:127.0.0.1:$source" "$(whoami)@127.0.0.1" &
pids+=($!)
sleep 1
{
  python3 bench/remote_helpers.py push "$MB" "deskhand tunnel" "$tport"
  python3 bench/remote_helpers.py pull "$MB" "deskhand tunnel" "$uport"
  python3 bench/remote_helpers.py push "$MB" "ssh -L" "$sport"
  python3 bench/remote_helpers.py pull "$MB" "ssh -L" "$rport"
  python3 bench/remote_helpers.py push "$MB" "loopback TCP" "$sink"
  python3 bench/remote_helpers.py pull "$MB" "loopback TCP" "$source"
} > "$OUT/tunnels"

echo
echo "Keystroke round trip on loopback ($KEYS keystrokes; release build; $(nproc) cores)"
printf '%-16s %10s %10s %10s\n' "tool" "p50 ms" "p99 ms" "max ms"
cat "$OUT/keys.deskhand" "$OUT/keys.ssh"
echo
echo "Tunnel throughput ($MB MiB each way)"
printf '%-16s %-6s %10s\n' "tool" "way" "MB/s"
cat "$OUT/tunnels"
