#!/usr/bin/env bash
# make bench-provision: 100,000 licenses end to end through the bulk API on SQLite — a release
# server on 127.0.0.1 with a fresh database, `lifeline provision` reading a CSV — in one run.
# Prints licenses/s and the ratio to the target (100,000 in <= 5 s). N=... to change the count.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${N:-100000}
dir=target/bench-provision
rm -rf "$dir" && mkdir -p "$dir"
cargo build --locked -q --release -p lifeline-cli
bin=${CARGO_TARGET_DIR:-target}/release/lifeline
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LIFELINE_ADMIN_TOKEN= "$bin" serve --data-dir "$dir/data" --listen "127.0.0.1:$port" 2>"$dir/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "serving on" "$dir/server.log" 2>/dev/null && break; sleep 0.1; done
token=$(cat "$dir/data/admin-token")
curl -sf -X POST "http://127.0.0.1:$port/api/v1/products" -H "authorization: Bearer $token" \
  -H 'content-type: application/json' -d '{"id":"photo-pro","name":"Photo Pro"}' >/dev/null
python3 - "$n" > "$dir/licenses.csv" <<'PY'
import sys
print("product,licensee,expires_at,entitlements,grace_s,seats")
for i in range(int(sys.argv[1])):
    print(f"photo-pro,customer-{i:07d},4102444800,export;raw,604800,5")
PY
start=$(date +%s.%N)
LIFELINE_TOKEN=$token "$bin" provision --server "http://127.0.0.1:$port" --file "$dir/licenses.csv" --batch ${BATCH:-5000} --parallel ${PARALLEL:-2} 2>"$dir/provision.log"
end=$(date +%s.%N)
count=$(curl -sf "http://127.0.0.1:$port/api/v1/audit/verify" -H "authorization: Bearer $token")
python3 - "$n" "$start" "$end" "$count" <<'PY'
import json, sys
n, start, end = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
secs = end - start
target = 5.0 * n / 100000
print(f"| provisioning (bulk API, SQLite, release) | {n} licenses | {secs:.2f} s | {n/secs:,.0f} licenses/s | target <= {target:.1f} s: {'met' if secs <= target else 'MISSED'} ({secs/target:.2f}x of target) |")
print(f"audit chain after the run: {json.loads(sys.argv[4])}")
PY
