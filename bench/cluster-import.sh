#!/usr/bin/env bash
# The demo import into a fresh 3-node cluster (64 shards, RF 3, formed with
# --max-moves 16), timed by the client: for A/B runs of two server builds.
# Usage: bench/cluster-import.sh SERVER_BIN [CLI_BIN]  (from the repo root)
set -euo pipefail
# One load generator on one host: lift the per-IP and per-store rate
# limits out of the way (still checked, so their cost is measured).
export SIBYL_RATE_PER_IP=${SIBYL_RATE_PER_IP:-1e9} SIBYL_BURST_PER_IP=${SIBYL_BURST_PER_IP:-1000000000}
export SIBYL_RATE_PER_STORE=${SIBYL_RATE_PER_STORE:-1e9} SIBYL_BURST_PER_STORE=${SIBYL_BURST_PER_STORE:-1000000000}
BIN=$1
CLI=${2:-bin/sibyl}
D=$(mktemp -d /tmp/sibyl-ab-XXXX)
export SIBYL_ADMIN_TOKEN=bench-admin-token-0123456789
source "$(dirname "$0")/credentials.sh"
cluster_credentials "$BIN" "$D" 3
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$D"' EXIT
for i in 0 1 2; do
  "$BIN" serve --data-dir "$D/n$i" --node-id "n$i" --http-addr "127.0.0.1:2928$i" \
    --raft-addr "127.0.0.1:2828$i" --gossip-addr "127.0.0.1:2796$i" --join 127.0.0.1:27960 --tls-dir "$D/tls-n$i" \
    --stabilize-time 1s --max-moves 16 --log-level error >>"$D/cluster.log" 2>&1 &
  PIDS+=($!)
done
converged() { cluster_converged "$CLI" http://127.0.0.1:29280; }
until converged; do sleep 1; done
KEYS=$("$CLI" store create --url http://127.0.0.1:29281 --name bench --json)
PK=$(echo "$KEYS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
SK=$(echo "$KEYS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["private_key"])')
sleep 2
echo "$BIN load $(cut -d' ' -f1 /proc/loadavg)"
/usr/bin/time -f "cpu user %U sys %S wall %e" "$CLI" import --quiet --url http://127.0.0.1:29281 --key "$PK" --private-key "$SK" --batch 500 --concurrency 8 demo/online-retail.csv.gz 2>&1 | tail -2
