#!/usr/bin/env bash
# Tracking throughput of docs/benchmarks.md: one `sibyl serve` node (fsync
# on) with the demo store imported, then `sibyl bench --scenario
# log_product` closed-loop at each connection count. Beside events/s it
# prints the CPU time of the server process and of the load generator per
# 1,000 events (from /proc/<pid>/stat and bash's `time`; the generator's
# fixed start-up CPU left out), less disturbed by other jobs sharing the
# machine than events/s, and the load average.
# Usage: bench/tracking.sh [bin] [outdir] [connections...]
set -euo pipefail
# One load generator on one host: lift the per-IP and per-store rate
# limits out of the way (still checked, so their cost is measured).
export SIBYL_RATE_PER_IP=${SIBYL_RATE_PER_IP:-1e9} SIBYL_BURST_PER_IP=${SIBYL_BURST_PER_IP:-1000000000}
export SIBYL_RATE_PER_STORE=${SIBYL_RATE_PER_STORE:-1e9} SIBYL_BURST_PER_STORE=${SIBYL_BURST_PER_STORE:-1000000000}
BIN=${1:-bin/sibyl}
OUT=${2:-bench/results/tracking}
shift 2 || true
CONNS=("$@")
[ ${#CONNS[@]} -eq 0 ] && CONNS=(32 64 128 256 512 1024)
DUR=${SIBYL_BENCH_DURATION:-10s}
DATA=$(mktemp -d /tmp/sibyl-tracking-XXXX)
HTTP=127.0.0.1:${SIBYL_BENCH_PORT:-38180}
RAFT=127.0.0.1:$(( ${SIBYL_BENCH_PORT:-38180} + 1 ))
mkdir -p "$OUT"
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT

"$BIN" serve --data-dir "$DATA/node" --http-addr "$HTTP" --raft-addr "$RAFT" --log-level warn >>"$DATA/server.log" 2>&1 &
PID=$!
until curl -sf "http://$HTTP/ready" >/dev/null; do sleep 0.05; done
TOKEN=$(cat "$DATA/node/admin.token")
KEYS=$("$BIN" store create --url "http://$HTTP" --admin-token "$TOKEN" --name bench --json)
PK=$(echo "$KEYS" | sed 's/.*"public_key":"\([^"]*\)".*/\1/')
SK=$(echo "$KEYS" | sed 's/.*"private_key":"\([^"]*\)".*/\1/')
"$BIN" import --quiet --url "http://$HTTP" --key "$PK" --private-key "$SK" demo/online-retail.csv.gz >/dev/null
sleep 8 # the model trains once after the import: keep it out of the runs

# cpu_ticks prints utime+stime of a process in clock ticks.
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# events prints the answered log/product calls so far (any status).
events() { curl -s "http://$HTTP/metrics" | awk -F' ' '/^sibyl_http_requests_total\{endpoint="\/v2\/log\/product"/ {n+=$2} END {print n+0}'; }
HZ=$(getconf CLK_TCK)

# The load generator's fixed CPU (reading --data for ids, setting up) is
# measured by a run of 1 ms and left out of its per-event figure.
fixed=$( { TIMEFORMAT='%U %S'; time "$BIN" bench --url "http://$HTTP" --key "$PK" --scenario log_product \
    --connections 1 --duration 1ms --warmup 0s --ceiling=false --out "$OUT/setup" >/dev/null 2>&1; } 2>&1 )
rm -rf "$OUT/setup"

exec > >(tee "$OUT/summary.md")
echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs ($(grep 'model name' /proc/cpuinfo | head -1 | cut -d: -f2 | xargs)), server and load generator on the same CPUs, $DUR per run after a 2 s warm-up."
echo "Command: bench/tracking.sh $BIN $OUT ${CONNS[*]}"
echo
printf '| connections | events/s | p50 ms | p99 ms | server CPU ms / 1k events | load generator CPU ms / 1k events | load average at start |\n'
printf '|---|---|---|---|---|---|---|\n'
for c in "${CONNS[@]}"; do
  load=$(cut -d' ' -f1 /proc/loadavg)
  s0=$(cpu_ticks $PID); e0=$(events)
  gen=$( { TIMEFORMAT='%U %S'; time "$BIN" bench --url "http://$HTTP" --key "$PK" --scenario log_product \
      --connections "$c" --duration "$DUR" --warmup 2s --ceiling=false --out "$OUT/c$c" >"$OUT/c$c.txt" 2>&1; } 2>&1 )
  s1=$(cpu_ticks $PID); e1=$(events)
  n=$(( e1 - e0 ))
  row=$(grep -m1 '^| log_product' "$OUT/c$c/report.md" || true)
  # report.md columns: run mode offered conns rps 2xx p50 p90 p99 ...
  rps=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$6); print $6}')
  p50=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$8); print $8}')
  p99=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$10); print $10}')
  awk -v c="$c" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v st=$(( s1 - s0 )) -v hz="$HZ" -v n="$n" -v gen="$gen" -v load="$load" \
    -v fixed="$fixed" \
    'BEGIN { split(gen, g, " "); split(fixed, f, " "); printf "| %s | %s | %s | %s | %.1f | %.1f | %s |\n", c, rps, p50, p99, st/hz*1e6/n, (g[1]+g[2]-f[1]-f[2])*1e6/n, load }'
done
