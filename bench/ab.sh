#!/usr/bin/env bash
# A/B of two sibyl binaries on the same machine, interleaved so that both
# see the same background load: each binary serves the demo store on its
# own node; then, ROUNDS times, every scenario is measured against A and
# right after against B (closed loop, 32 connections, no ceiling). Prints
# one line per run and the median requests/s per binary and scenario.
#
#   bash bench/ab.sh OLD_BIN NEW_BIN [ROUNDS] [SCENARIOS]
#
# The rate limits of a binary that has them are lifted (one load generator
# on one host), as `make bench` does; their checks still run. NEW_BIN is
# also the load generator for both.
set -euo pipefail
A=${1:?old binary}; B=${2:?new binary}; ROUNDS=${3:-3}
SCEN=${4:-popular,most_sold_with,complementary}
DUR=${AB_DURATION:-8s}
DEMO=${DEMO:-demo/online-retail.csv.gz}
work=$(mktemp -d /tmp/sibyl-ab.XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export SIBYL_RATE_PER_IP=1e9 SIBYL_BURST_PER_IP=1000000000 SIBYL_RATE_PER_STORE=1e9 SIBYL_BURST_PER_STORE=1000000000
start() { # name bin httpport raftport
  "$2" serve --data-dir "$work/$1" --http-addr "127.0.0.1:$3" --raft-addr "127.0.0.1:$4" --demo "$DEMO" >"$work/$1.log" 2>&1 &
  pids+=($!)
}
key() { # name: the demo store's public key, once the node has imported it
  for _ in $(seq 180); do
    k=$(grep -o 'public key: *pk_[0-9a-f]*' "$work/$1.log" 2>/dev/null | grep -o 'pk_[0-9a-f]*' || true)
    [ -n "$k" ] && { echo "$k"; return; }
    sleep 1
  done
  echo "node $1 did not load the demo; log: $work/$1.log" >&2; exit 1
}
# One import at a time, so that neither node's first model is trained
# under the other's import.
start a "$A" 18181 17171; ka=$(key a)
start b "$B" 18182 17172; kb=$(key b)
sleep 15 # first model training after the import
declare -A res
for r in $(seq "$ROUNDS"); do
  for s in ${SCEN//,/ }; do
    for side in a b; do
      if [ $side = a ]; then url=http://127.0.0.1:18181 k=$ka; else url=http://127.0.0.1:18182 k=$kb; fi
      rps=$("$B" bench --url "$url" --key "$k" --scenario "$s" --duration "$DUR" --warmup 2s --ceiling=false --out "$work/out-$side" 2>&1 \
            | grep -o '[0-9]* rps' | head -1 | grep -o '[0-9]*')
      echo "round $r $s $side $rps rps"
      res[$s,$side]="${res[$s,$side]:-} $rps"
    done
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "| scenario | A median rps | B median rps | B / A |"
echo "|---|---|---|---|"
for s in ${SCEN//,/ }; do
  ma=$(echo "${res[$s,a]}" | median); mb=$(echo "${res[$s,b]}" | median)
  echo "| $s | $ma | $mb | $(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", b/a}') |"
done
