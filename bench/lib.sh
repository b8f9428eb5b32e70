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
  admin=$(awk '/admin token:/ {print $3}' "$dir/server.out")
  fp=$(awk '/CA fingerprint:/ {print $3}' "$dir/server.out")
}

# Prints a new enrollment token good for N uses.
enroll_token() {
  DESKHAND_SERVER=$api DESKHAND_TOKEN=$admin "$bin/deskhand" tokens create --uses "$1" --expires 1h -o json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
