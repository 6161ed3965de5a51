#!/usr/bin/env bash
# Rebalance onto a new node with many stores: three `sibyl serve` processes
# on this machine form a cluster (64 shards, RF 3), N stores are created and
# the demo Online Retail file is imported into each (P imports at a time);
# the import rate and every node's memory and data-dir size are printed.
# Then node 4 joins with the same --join, and the time until the cluster has
# converged again (every shard 3 replicas and a leader, no pending step, no
# replica catching up, the new node holding replicas), the replicas moved,
# the bytes the new node holds and so the transfer rate are printed.
# Wall-clock: noisy on a shared machine. Memory: every node holds a replica
# of every store with RF 3 on 3 nodes; check RSS per store before raising N.
# Usage: bench/rebalance.sh [stores] [nodes] [bin]   (from the repo root)
#   env: SIBYL_IMPORTS (imports at a time, 4), SIBYL_MAX_MOVES (4),
#        SIBYL_IDLE_TIMEOUT (s to wait for model training to finish, 600),
#        SIBYL_KEEP_LOGS (dir to copy the node logs to),
#        SIBYL_MIN_FREE_MIB (3072: below this MemAvailable the nodes are killed
#        and the run given up, so that a too large N cannot swap or OOM a
#        shared machine), SIBYL_MEMORY_LIMIT (each node's --memory-limit, e.g.
#        5GiB for 100 stores on this 24 GiB machine; unset: none)
set -euo pipefail
# One load generator on one host: lift the per-IP and per-store rate
# limits out of the way (still checked, so their cost is measured).
export SIBYL_RATE_PER_IP=${SIBYL_RATE_PER_IP:-1e9} SIBYL_BURST_PER_IP=${SIBYL_BURST_PER_IP:-1000000000}
export SIBYL_RATE_PER_STORE=${SIBYL_RATE_PER_STORE:-1e9} SIBYL_BURST_PER_STORE=${SIBYL_BURST_PER_STORE:-1000000000}
STORES=${1:-10}
NODES=${2:-4}
BIN=${3:-bin/sibyl}
P=${SIBYL_IMPORTS:-4}
MOVES=${SIBYL_MAX_MOVES:-4}
IDLE_TIMEOUT=${SIBYL_IDLE_TIMEOUT:-600}
MIN_FREE_MIB=${SIBYL_MIN_FREE_MIB:-3072}
DEMO=demo/online-retail.csv.gz
LINES=386326 # order lines the importer sends from $DEMO
if (( NODES < 4 )); then echo "nodes must be at least 4 (3 + the ones added)" >&2; exit 2; fi
D=$(mktemp -d /tmp/sibyl-rebalance-XXXX)
export SIBYL_ADMIN_TOKEN=bench-admin-token-0123456789
source "$(dirname "$0")/credentials.sh"
cluster_credentials "$BIN" "$D" "$NODES"
PIDS=()
WATCHDOG=
cleanup() {
  [[ -n $WATCHDOG ]] && kill "$WATCHDOG" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 20); do # a graceful stop with data takes a few seconds
    alive=0; for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    (( alive )) || break; sleep 0.5
  done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n ${SIBYL_KEEP_LOGS:-} ]]; then mkdir -p "$SIBYL_KEEP_LOGS"; cp "$D"/*.log "$SIBYL_KEEP_LOGS"/ 2>/dev/null || true; fi
  rm -rf "$D"
}
trap cleanup EXIT
# The memory watchdog kills the nodes (their pids in $D/pids) when the
# machine runs short; the loops below then see $D/oom and give up.
(
  while sleep 2; do
    free=$(awk '/MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
    if (( free < MIN_FREE_MIB )); then
      echo "memory watchdog: MemAvailable ${free} MiB < ${MIN_FREE_MIB} MiB, killing the nodes" >&2
      touch "$D/oom"; kill -9 $(cat "$D/pids") 2>/dev/null; exit
    fi
  done
) &
WATCHDOG=$!
given_up() { if [[ -e $D/oom ]]; then echo "given up: the machine ran short of memory" >&2; exit 3; fi; }
URL=http://127.0.0.1:29380
start_node() { # i
  local i=$1
  "$BIN" serve --data-dir "$D/n$i" --node-id "n$i" --http-addr "127.0.0.1:2938$i" \
    --raft-addr "127.0.0.1:2838$i" --gossip-addr "127.0.0.1:2797$i" --join 127.0.0.1:27970 --tls-dir "$D/tls-n$i" \
    --stabilize-time 1s --max-moves "$MOVES" --log-level warn >>"$D/n$i.log" 2>&1 &
  PIDS+=($!)
  echo $! >>"$D/pids"
}
status() { "$BIN" cluster status --url "$URL" --json 2>/dev/null; }
# converged [node that must hold replicas]
converged() { given_up; cluster_converged "$BIN" "$URL" 0 "${1:-}"; }
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$2/status"; }
cpu_ticks() { local t=0; for p in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat") )); done; echo $t; }
report_nodes() { # label
  local i
  for i in "${!PIDS[@]}"; do
    live=$(curl -s --max-time 5 "http://127.0.0.1:2938$i/metrics" | awk '$1 == "go_gc_heap_live_bytes" {printf "%d", $2 / 1048576}')
    printf '  %s n%d: RSS %d MiB (peak %d MiB), heap live %s MiB, data dir %d MiB\n' "$1" "$i" \
      $(( $(kib VmRSS "${PIDS[$i]}") / 1024 )) $(( $(kib VmHWM "${PIDS[$i]}") / 1024 )) "${live:-?}" \
      $(( $(du -sk "$D/n$i" | cut -f1) / 1024 ))
  done
}
cpu_pct() { # percent of one core the nodes used over 5 s
  local a b
  a=$(cpu_ticks "${PIDS[@]}"); sleep 5; b=$(cpu_ticks "${PIDS[@]}")
  echo $(( (b - a) * 100 / (5 * $(getconf CLK_TCK)) ))
}
# wait_idle: until the nodes use no more than 10% of a core above their idle
# use (Raft heartbeats of 65 groups, gossip, reconcile rounds), measured
# before the import: the first model training of every store replica is over.
wait_idle() {
  local t0=$SECONDS c
  while (( SECONDS - t0 < IDLE_TIMEOUT )); do
    c=$(cpu_pct)
    if (( c <= IDLE_PCT + 10 )); then echo "  nodes idle ($c% of a core) after $(( SECONDS - t0 )) s"; return; fi
  done
  echo "  nodes still busy ($c% of a core) after ${IDLE_TIMEOUT} s, going on"
}

echo "rebalance bench: $STORES stores, 3 -> $NODES nodes, max-moves $MOVES, $P imports at a time, memory limit ${SIBYL_MEMORY_LIMIT:-none}; $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in 0 1 2; do start_node $i; done
t0=$(date +%s.%N)
until converged; do sleep 1; done
printf '3 nodes formed and converged in %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"

for s in $(seq 1 "$STORES"); do
  "$BIN" store create --url "$URL" --name "bench-$s" --json | python3 -c 'import json,sys; k=json.load(sys.stdin); print(k["public_key"], k["private_key"])' >"$D/keys.$s"
done
sleep 2 # the keys reach every node's copy of the meta group
report_nodes "empty, $STORES stores created:"
IDLE_PCT=$(cpu_pct)
echo "  idle cluster: ${IDLE_PCT}% of a core for the 3 nodes"

# Imports round-robin over the three nodes, P at a time (xargs: the nodes
# are this shell's jobs too, so `wait -n` cannot tell an import from a node).
import_one() { # store number
  local PK SK
  read -r PK SK <"$D/keys.$1"
  "$BIN" import --quiet --url "http://127.0.0.1:2938$(( $1 % 3 ))" --key "$PK" --private-key "$SK" \
    --batch 500 --concurrency 4 "$DEMO" >"$D/import.$1.log" 2>&1 || { echo "import $1 failed:"; tail -3 "$D/import.$1.log"; return 1; }
  # progress: one line per store imported (minutes for 100 stores)
  echo "  store $1 imported at $(date -u +%H:%M:%S), MemAvailable $(awk '/MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo) MiB"
}
export -f import_one
export BIN D DEMO
t0=$(date +%s.%N)
seq 1 "$STORES" | xargs -P "$P" -I{} bash -c 'import_one {}' || { given_up; exit 1; }
t1=$(date +%s.%N)
wall=$(echo "$t1 - $t0" | bc)
printf 'imported %d stores x %d order lines in %.1f s: %.0f lines/s acknowledged (RF 3); load %s\n' \
  "$STORES" "$LINES" "$wall" "$(echo "$STORES * $LINES / $wall" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
report_nodes "after import:"
wait_idle
report_nodes "trained, idle:"

# Node 4 (and more) joins.
before=$(status)
echo "$before" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("  before: placement v%d, leaders %s" % (s["placement_version"], " ".join("%s:%d" % (n["id"], n["leads"]) for n in s["nodes"])))'
hz=$(getconf CLK_TCK)
for (( i = 3; i < NODES; i++ )); do start_node $i; done
t0=$(date +%s.%N)
until converged "n$(( NODES - 1 ))"; do sleep 1; done
t1=$(date +%s.%N)
wall=$(echo "$t1 - $t0" | bc)
after=$(status)
newk=0
snapk=0
for (( i = 3; i < NODES; i++ )); do
  newk=$(( newk + $(du -sk "$D/n$i" | cut -f1) ))
  snapk=$(( snapk + $(du -sk "$D/n$i/snapshots" | cut -f1) ))
done
python3 - "$wall" "$newk" "$STORES" "$snapk" <<EOF
import json, sys
wall, newk, stores, snapk = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
b = json.loads('''$before''')
a = json.loads('''$after''')
old = {x["shard"]: set(x["replicas"]) for x in b["shards"]}
moved = sum(len(set(x["replicas"]) - old[x["shard"]]) for x in a["shards"])
total = sum(len(x["replicas"]) for x in a["shards"])
print("node(s) joined; converged again in %.1f s: %d of %d replicas moved (%.0f%%), placement v%d -> v%d" % (
    wall, moved, total, 100.0 * moved / total, b["placement_version"], a["placement_version"]))
print("  the new node(s) hold %.0f MiB on disk: %.1f MiB/s over the rebalance" % (newk / 1024, newk / 1024 / wall))
print("  the new node(s) received snapshots of %.0f MiB: %.1f MiB/s over the rebalance" % (snapk / 1024, snapk / 1024 / wall))
print("  leaders after: " + " ".join("%s:%d" % (n["id"], n["leads"]) for n in a["nodes"]))
EOF
report_nodes "after rebalance:"
for (( i = 0; i < NODES; i++ )); do
  printf '  n%d on disk (MiB):' "$i"; for sub in raft-log state snapshots; do printf ' %s %d' "$sub" $(( $(du -sk "$D/n$i/$sub" 2>/dev/null | cut -f1 || echo 0) / 1024 )); done; echo
done
printf '  load %s; CPU time of all nodes: see above; new node: user+sys %.1f s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$(echo "$(cpu_ticks "${PIDS[@]:3}") / $hz" | bc -l)"
if grep -q -E '"level":"ERROR"|level=ERROR' "$D"/n*.log; then
  echo "errors in the node logs up to here (addresses, groups and times left out):"
  grep -h -E 'level=ERROR' "$D"/n*.log | sed -E 's/^time=[^ ]+ //; s/[0-9.]+:[0-9]+/ADDR/g; s/ (group|node)=[^ ]+//g; s/peer=\\?"?\{[^}]*\}\\?"?/peer=PEER/' \
    | sort | uniq -c | sort -rn | head -12
fi
