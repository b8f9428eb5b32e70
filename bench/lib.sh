# Shared by the bench scripts: start a release server on loopback and read
# what it prints. Source it, then call start_server DIR MAX_CONNECTIONS;
# it sets pid, api, agents, admin and fp.
start_server() {
  local dir=$1 max=$2
  "$bin/deskhand" server --data-dir "$dir/data" --agents-listen 127.0.0.1:0 \
    --api-listen 127.0.0.1:0 --max-connections "$max" --log warn \
    > "$dir/server.out" 2> "$dir/server.err" &
  pid=$!
  for _ in $(seq 1 100); do grep -q "admin token" "$dir/server.out" 2>/dev/null && break; sleep 0.1; done
  api=$(awk '/API:/ {print $2}' "$dir/server.out")
  agents=$(awk '/agents \(QUIC\):/ {print $3}' "$dir/server.out")
  admin=$(cat "$dir/data/admin.token")   # printed only when created
  fp=$(awk '/CA fingerprint:/ {print $3}' "$dir/server.out")
}

# Prints a new enrollment token good for N uses.
enroll_token() {
  DESKHAND_SERVER=$api DESKHAND_TOKEN=$admin "$bin/deskhand" tokens create --uses "$1" --expires 1h -o json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

# Waits up to SECS seconds for the simulator (pid SIM, writing DIR/sim.out)
# to print all_connected. If it exits first or the time runs out, says so
# with the server's warnings and fails, rather than waiting out the time
# for output that cannot come.
wait_for_sim() {
  local dir=$1 sim=$2 secs=$3
  for _ in $(seq 1 $((secs * 4))); do
    grep -q all_connected "$dir/sim.out" 2>/dev/null && return 0
    kill -0 "$sim" 2>/dev/null || break
    sleep 0.25
  done
  echo "the simulator did not get through its setup (its error, if any, is above)" >&2
  [ -f "$dir/sim.err" ] && tail -n 5 "$dir/sim.err" >&2
  echo "the server's warnings and errors:" >&2
  grep -m 20 -E "WARN|ERROR" "$dir/server.err" >&2 || true
  return 1
}
