#!/usr/bin/env bash
# A/B of tracking's server CPU per event between two sibyl binaries,
# interleaved so both see the same machine: per run a fresh node, the demo
# imported, 10 s for the first model, then log_product closed loop at 32
# connections for 12 s (NEW_BIN generates the load). CPU per event is less
# disturbed by the machine than events/s, but the machine itself moves it:
# compare binaries within one run of this script, never across days.
#
#   bash bench/tracking-ab.sh OLD_BIN NEW_BIN [ROUNDS]
set -u
OLD=${1:?old binary}; NEW=${2:?new binary}; ROUNDS=${3:-3}
export SIBYL_RATE_PER_IP=1e9 SIBYL_BURST_PER_IP=1000000000 SIBYL_RATE_PER_STORE=1e9 SIBYL_BURST_PER_STORE=1000000000
GEN=$NEW
run() { # label bin port
  local D; D=$(mktemp -d /tmp/ab-XXXX); local HTTP=127.0.0.1:$3
  "$2" serve --data-dir $D/node --http-addr $HTTP --raft-addr 127.0.0.1:$(( $3 + 1 )) --log-level warn > $D/log 2>&1 &
  local PID=$!
  until curl -sf http://$HTTP/ready >/dev/null; do sleep 0.1; done
  local KEYS; KEYS=$("$2" store create --url http://$HTTP --admin-token "$(cat $D/node/admin.token)" --name bench --json)
  local PK SK; PK=$(echo "$KEYS" | sed 's/.*"public_key":"\([^"]*\)".*/\1/'); SK=$(echo "$KEYS" | sed 's/.*"private_key":"\([^"]*\)".*/\1/')
  "$2" import --quiet --url http://$HTTP --key $PK --private-key $SK demo/online-retail.csv.gz >/dev/null
  sleep 10
  local t0; t0=$(awk '{print $14+$15}' /proc/$PID/stat)
  $GEN bench --url http://$HTTP --key $PK --scenario log_product --connections 32 --duration 12s --warmup 0s --ceiling=false --out $D/out >/dev/null 2>&1
  local t1; t1=$(awk '{print $14+$15}' /proc/$PID/stat)
  local rps; rps=$(grep -m1 '^| log_product' $D/out/report.md | awk -F'|' '{gsub(/ /,"",$6); print $6}')
  echo "$1 rps=$rps server_cpu_us_per_event=$(( ( (t1 - t0) * 10000 ) / (rps * 12) )) load=$(cut -d' ' -f1 /proc/loadavg)"
  kill $PID; wait $PID 2>/dev/null; rm -rf $D
}
for _ in $(seq "$ROUNDS"); do
  run old "$OLD" 38300
  run new "$NEW" 38310
done
