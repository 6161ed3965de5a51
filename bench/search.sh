#!/usr/bin/env bash
# Search figures of docs/benchmarks.md (issue 13): a generated store of
# 50,000 products (bench/storegen: realistic names, a category tree,
# brands, colours, materials, list prices; 200,000 order lines for
# popularity) is imported into one node, then `sibyl bench` measures
# search_predictive and search_full with 32 connections beside the
# do-nothing ceiling (<outdir>/c32) and with one connection, the server
# time of a request alone (<outdir>/c1), and bench/cmd/searchlag the time
# from a product write's 200 to search finding it; then the Go benchmark BenchmarkSearchIndex50k gives the index build rate, memory
# per product and the time from a write's acknowledgement to search
# finding it, and BenchmarkSearchQueries50k the handler's time by prefix
# length and by part of the full search. Usage: bench/search.sh [bin] [outdir]. Everything printed
# also goes to <outdir>/summary.txt (commit it with the report).
# SIBYL_BENCH_DURATION (default 10s) is each measured window.
set -euo pipefail
export SIBYL_RATE_PER_IP=${SIBYL_RATE_PER_IP:-1e9} SIBYL_BURST_PER_IP=${SIBYL_BURST_PER_IP:-1000000000}
export SIBYL_RATE_PER_STORE=${SIBYL_RATE_PER_STORE:-1e9} SIBYL_BURST_PER_STORE=${SIBYL_BURST_PER_STORE:-1000000000}
BIN=${1:-bin/sibyl}
OUT=${2:-bench/results/search-$(date -u +%Y-%m-%d)}
PRODUCTS=${SIBYL_SEARCH_PRODUCTS:-50000}
DATA=$(mktemp -d /tmp/sibyl-search-XXXX)
HTTP=127.0.0.1:${SIBYL_BENCH_PORT:-38180}
RAFT=127.0.0.1:$(( ${SIBYL_BENCH_PORT:-38180} + 1 ))
GOSSIP=127.0.0.1:$(( ${SIBYL_BENCH_PORT:-38180} + 2 ))
mkdir -p "$OUT"
REV="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
exec > >(tee "$OUT/summary.txt") 2>&1
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$DATA"' EXIT
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN{printf "%.3f", a-b}'; }

echo "run $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $REV"
echo "machine: $(nproc) CPUs, $(grep 'model name' /proc/cpuinfo | head -1 | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg)"
FEED="$DATA/store.json.gz"
go run ./bench/storegen/cmd/storefeed -products "$PRODUCTS" -out "$FEED"
start_node() {
  "$BIN" serve --data-dir "$DATA/node" --http-addr "$HTTP" --raft-addr "$RAFT" --gossip-addr "$GOSSIP" "$@" >>"$DATA/server.log" 2>&1 &
  PID=$!
  until curl -sf "http://$HTTP/ready" >/dev/null; do sleep 0.05; done
}
start_node
TOKEN=$(cat "$DATA/node/admin.token")
KEYS=$("$BIN" store create --url "http://$HTTP" --admin-token "$TOKEN" --name search --json)
PK=$(echo "$KEYS" | sed 's/.*"public_key":"\([^"]*\)".*/\1/')
SK=$(echo "$KEYS" | sed 's/.*"private_key":"\([^"]*\)".*/\1/')
"$BIN" import --quiet --url "http://$HTTP" --key "$PK" --private-key "$SK" --format clerk "$FEED" | tee "$OUT/import.txt"
T0=$(now)
curl -sf "http://$HTTP/v2/search/search?key=$PK&query=kitchen&limit=1" >/dev/null
echo "first search after the import (builds the index in the current version): $(since "$T0")s"
# c32: 32 connections back to back, beside the ceiling (throughput and
# its ratio); c1: one connection, so the server time is one request's
# own, not shared with 31 others on 2 cores (the latency targets).
# First with the answer cache (the default: repeated requests answered
# from it), then, after a restart with --search-cache 0, every search
# computed (-nocache): the search's own cost.
run_benches() {
  for c in 32 1; do
    ceiling=true; [ "$c" = 1 ] && ceiling=false
    "$BIN" bench --url "http://$HTTP" --key "$PK" --private-key "$SK" --data "$FEED" --scenario search_predictive,search_full \
      --connections "$c" --ceiling="$ceiling" --duration "${SIBYL_BENCH_DURATION:-10s}" --warmup 2s --out "$OUT/c$c$1" 2>&1 | grep -v '^bench: preparing'
  done
}
run_benches ""
kill $PID; wait $PID 2>/dev/null || true
start_node --search-cache 0
echo "restarted with --search-cache 0"
run_benches -nocache
# Writes last: each changes the store.
go run ./bench/cmd/searchlag -url "http://$HTTP" -key "$PK" -private-key "$SK" -n 20
kill $PID; wait $PID 2>/dev/null || true
PID=
# Index build rate, heap per product, write-to-searchable, in process.
# The handler's time per query kind and per part of the full search.
go test ./query -run XXX -bench 'BenchmarkSearch(Index|Queries)50k' -benchtime 1x -count 1 | tee "$OUT/index.txt"
