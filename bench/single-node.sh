#!/usr/bin/env bash
# Single-node figures of docs/benchmarks.md: import rate of the whole UCI
# Online Retail file through the HTTP API (fsync on), restart time with
# that data loaded (kill -9, then until /ready), resident memory, then
# `sibyl bench` for popular and most_sold_with beside the do-nothing
# ceiling. Usage: bench/single-node.sh [bin] [outdir]. Everything it
# prints also goes to <outdir>/summary.txt (commit it with the report:
# the restart and memory figures are only there). SIBYL_BENCH_SCENARIOS
# changes the read scenarios (make bench-api: the API logics).
set -euo pipefail
# One load generator on one host: lift the per-IP and per-store rate
# limits out of the way (still checked, so their cost is measured).
export SIBYL_RATE_PER_IP=${SIBYL_RATE_PER_IP:-1e9} SIBYL_BURST_PER_IP=${SIBYL_BURST_PER_IP:-1000000000}
export SIBYL_RATE_PER_STORE=${SIBYL_RATE_PER_STORE:-1e9} SIBYL_BURST_PER_STORE=${SIBYL_BURST_PER_STORE:-1000000000}
BIN=${1:-bin/sibyl}
OUT=${2:-bench/results/single-node}
DATA=$(mktemp -d /tmp/sibyl-single-XXXX)
HTTP=127.0.0.1:${SIBYL_BENCH_PORT:-38080}
RAFT=127.0.0.1:$(( ${SIBYL_BENCH_PORT:-38080} + 1 ))
mkdir -p "$OUT"
# Which build: read before summary.txt is rewritten (a rewritten tracked
# file would read as an uncommitted change).
REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
exec > >(tee "$OUT/summary.txt") 2>&1
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$DATA"' EXIT

PID=
# start runs a node and sets TOOK to the seconds until /ready answers 200.
start() {
  local t0=$(date +%s.%N)
  "$BIN" serve --data-dir "$DATA" --http-addr "$HTTP" --raft-addr "$RAFT" >>"$OUT/server.log" 2>&1 &
  PID=$!
  until curl -sf "http://$HTTP/ready" >/dev/null; do sleep 0.02; done
  TOOK=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')
}

echo "run $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $REV"
echo "machine: $(nproc) CPUs, $(grep 'model name' /proc/cpuinfo | head -1 | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg)"
start
echo "first start to ready: ${TOOK}s"
TOKEN=$(cat "$DATA/admin.token")
KEYS=$("$BIN" store create --url "http://$HTTP" --admin-token "$TOKEN" --name bench --json)
PK=$(echo "$KEYS" | sed 's/.*"public_key":"\([^"]*\)".*/\1/')
SK=$(echo "$KEYS" | sed 's/.*"private_key":"\([^"]*\)".*/\1/')
"$BIN" import --quiet --url "http://$HTTP" --key "$PK" --private-key "$SK" demo/online-retail.csv.gz | tee "$OUT/import.txt"
sleep 12 # let the model train before measuring reads and restart
echo "resident memory after import: $(( $(grep VmRSS /proc/$PID/status | awk '{print $2}') / 1024 )) MiB"
kill -9 $PID; wait $PID 2>/dev/null || true
start
echo "restart after kill -9 to ready (Online Retail loaded): ${TOOK}s"
sleep 12
echo "resident memory after restart and model training: $(( $(grep VmRSS /proc/$PID/status | awk '{print $2}') / 1024 )) MiB"
"$BIN" bench --url "http://$HTTP" --key "$PK" --private-key "$SK" --scenario "${SIBYL_BENCH_SCENARIOS:-popular,most_sold_with,complementary}" \
  --duration ${SIBYL_BENCH_DURATION:-10s} --warmup 2s --out "$OUT" | tail -5
