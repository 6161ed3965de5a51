#!/usr/bin/env bash
# Throughput against node count: three `sibyl serve` processes on this
# machine form a cluster (64 shards, RF 3), the demo store is imported
# through node 1, then `sibyl bench --nodes-sweep` measures popular on 1, 2
# and 3 of the nodes (report and plot in the output dir).
# Usage: bench/cluster.sh [bin] [outdir]
set -euo pipefail
# One load generator on one host: lift the per-IP and per-store rate
# limits out of the way (still checked, so their cost is measured).
export SIBYL_RATE_PER_IP=${SIBYL_RATE_PER_IP:-1e9} SIBYL_BURST_PER_IP=${SIBYL_BURST_PER_IP:-1000000000}
export SIBYL_RATE_PER_STORE=${SIBYL_RATE_PER_STORE:-1e9} SIBYL_BURST_PER_STORE=${SIBYL_BURST_PER_STORE:-1000000000}
BIN=${1:-bin/sibyl}
OUT=${2:-bench/results/cluster}
D=$(mktemp -d /tmp/sibyl-cluster-XXXX)
export SIBYL_ADMIN_TOKEN=bench-admin-token-0123456789
source "$(dirname "$0")/credentials.sh"
cluster_credentials "$BIN" "$D" 3
mkdir -p "$OUT"
# The formation and import figures are printed only: keep them beside the
# report.
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
exec > >(tee "$OUT/summary.txt") 2>&1
echo "run $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $REV, load $(cut -d' ' -f1 /proc/loadavg)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$D"' EXIT
for i in 0 1 2; do
  "$BIN" serve --data-dir "$D/n$i" --node-id "n$i" --http-addr "127.0.0.1:2908$i" \
    --raft-addr "127.0.0.1:2808$i" --gossip-addr "127.0.0.1:2794$i" --join 127.0.0.1:27940 \
    --tls-dir "$D/tls-n$i" --stabilize-time 1s --log-level warn >>"$OUT/cluster.log" 2>&1 &
  PIDS+=($!)
done
converged() { cluster_converged "$BIN" http://127.0.0.1:29080; }
t0=$(date +%s)
until converged; do sleep 2; done
echo "3-node cluster formed and converged in $(( $(date +%s) - t0 )) s"
KEYS=$("$BIN" store create --url http://127.0.0.1:29081 --name bench --json)
PK=$(echo "$KEYS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
SK=$(echo "$KEYS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["private_key"])')
sleep 2 # the new store's keys reach every node's copy of the meta group
"$BIN" import --quiet --url http://127.0.0.1:29081 --key "$PK" --private-key "$SK" --batch 500 --concurrency 8 demo/online-retail.csv.gz
"$BIN" bench --url http://127.0.0.1:29080 --url http://127.0.0.1:29081 --url http://127.0.0.1:29082 \
  --key "$PK" --scenario popular --nodes-sweep --duration ${SIBYL_BENCH_DURATION:-10s} --warmup 2s --out "$OUT" | tail -3
