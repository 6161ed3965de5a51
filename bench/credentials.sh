# Sourced by the cluster scripts: a throwaway cluster CA, one certificate
# per node and a gossip key, so that benchmarks run the cluster as it runs
# in production (mutual TLS on the Raft port, encrypted gossip); and the
# check they all wait on, cluster_converged.
# Usage: cluster_credentials BIN DIR NODE_COUNT -> DIR/tls-n<i> per node,
# SIBYL_GOSSIP_KEY exported.
cluster_credentials() {
  local bin=$1 dir=$2 count=$3 i
  "$bin" tls ca create --out "$dir/ca" >/dev/null
  for (( i = 0; i < count; i++ )); do
    "$bin" tls cert create --ca "$dir/ca" --node "n$i" --ip 127.0.0.1 --out "$dir/tls-n$i" >/dev/null
  done
  SIBYL_GOSSIP_KEY=$("$bin" tls gossip-key)
  export SIBYL_GOSSIP_KEY
}

# cluster_converged BIN URL [BALANCED] [NODE] succeeds once the cluster
# at URL has no move pending, waiting or stalled and every shard has 3
# replicas and a leader; with BALANCED=1 also every node leads at least one
# shard and no more than the leader limit; with NODE, that node holds
# replicas.
cluster_converged() {
  "$1" cluster status --url "$2" --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
m = s.get("moves") or {}
balanced, need = sys.argv[1] == "1", sys.argv[2]
ok = m and not m.get("steps") and not m.get("waiting") and not m.get("stalled") and \
     all(len(x["replicas"]) == 3 and x["leader"] for x in s.get("shards") or [{}]) and \
     (not balanced or (m.get("leader_limit") and all(0 < n["leads"] <= m["leader_limit"] for n in s["nodes"]))) and \
     (not need or any(n["id"] == need and n["replicas"] > 0 for n in s["nodes"]))
sys.exit(0 if ok else 1)' "${3:-0}" "${4:-}" 2>/dev/null
}
