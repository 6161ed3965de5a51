# Sourced by the cluster scripts: a throwaway cluster CA, one certificate
# per node and a gossip key, so that benchmarks run the cluster as it runs
# in production (mutual TLS on the Raft port, encrypted gossip).
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
