#!/usr/bin/env bash
# Cluster formation time against --max-moves: for each value, three fresh
# `sibyl serve` processes on this machine form a cluster (64 shards, RF 3:
# 128 replica moves) and the time until `sibyl cluster status` shows every
# shard on 3 nodes with a leader, no step pending, no replica catching up
# and the leaders balanced is printed. Wall-clock: noisy on a shared machine.
# Usage: bench/formation.sh [bin] [max-moves values...]
set -euo pipefail
# One load generator on one host: lift the per-IP and per-store rate
# limits out of the way (still checked, so their cost is measured).
export SIBYL_RATE_PER_IP=${SIBYL_RATE_PER_IP:-1e9} SIBYL_BURST_PER_IP=${SIBYL_BURST_PER_IP:-1000000000}
export SIBYL_RATE_PER_STORE=${SIBYL_RATE_PER_STORE:-1e9} SIBYL_BURST_PER_STORE=${SIBYL_BURST_PER_STORE:-1000000000}
BIN=${1:-bin/sibyl}
shift || true
VALUES=${*:-1 2 4 8}
export SIBYL_ADMIN_TOKEN=bench-admin-token-0123456789
source "$(dirname "$0")/credentials.sh"
converged() { cluster_converged "$BIN" http://127.0.0.1:29180 1; }
for MOVES in $VALUES; do
  D=$(mktemp -d /tmp/sibyl-formation-XXXX)
  cluster_credentials "$BIN" "$D" 3
  PIDS=()
  for i in 0 1 2; do
    "$BIN" serve --data-dir "$D/n$i" --node-id "n$i" --http-addr "127.0.0.1:2918$i" \
      --raft-addr "127.0.0.1:2818$i" --gossip-addr "127.0.0.1:2795$i" --join 127.0.0.1:27950 --tls-dir "$D/tls-n$i" \
      --stabilize-time 1s --max-moves "$MOVES" --log-level warn >>"$D/cluster.log" 2>&1 &
    PIDS+=($!)
  done
  t0=$(date +%s.%N)
  until converged; do sleep 0.5; done
  t1=$(date +%s.%N)
  leads=$("$BIN" cluster status --url http://127.0.0.1:29180 --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(" ".join("%s:%d" % (n["id"], n["leads"]) for n in s["nodes"]))')
  printf 'max-moves %s: formed, converged and leaders balanced in %.1f s (leaders %s, load %s)\n' "$MOVES" "$(echo "$t1 - $t0" | bc)" "$leads" "$(cut -d' ' -f1 /proc/loadavg)"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$D"
done
