# Sibyl in a container: the static binary on an empty image.
#
# No base image can be pulled where Sibyl is built, and none is needed: the
# binary is built on the host with CGO_ENABLED=0 (static, no libc) and
# copied into `scratch`. The build context is bin/, so only the binary is
# sent to the daemon:
#
#   make build                                   # CGO_ENABLED=0 -> bin/sibyl
#   docker build -f Dockerfile -t sibyl:local bin
#   docker run --rm -p 8080:8080 -v sibyl-data:/data sibyl:local
#
# Configuration is by environment (every flag of `sibyl serve` is also
# SIBYL_<FLAG>, e.g. SIBYL_NODE_ID, SIBYL_JOIN); see docs/operations.md.
FROM scratch

COPY sibyl /sibyl

# Defaults make `docker run` a working single-node cluster. A cluster node
# sets SIBYL_RAFT_ADDR=0.0.0.0:7000 plus SIBYL_RAFT_ADVERTISE (peers cannot
# dial 0.0.0.0 or loopback), SIBYL_NODE_ID and SIBYL_JOIN, and its
# credentials: SIBYL_TLS_DIR (a mounted directory from `sibyl tls cert
# create`, never baked into the image) and SIBYL_GOSSIP_KEY; see
# docker-compose.yml and docs/operations.md#security.
ENV SIBYL_DATA_DIR=/data \
    SIBYL_HTTP_ADDR=0.0.0.0:8080 \
    SIBYL_RAFT_ADDR=127.0.0.1:7000 \
    SIBYL_GOSSIP_ADDR=0.0.0.0:7946

# HTTP API, HTTPS API (with SIBYL_HTTPS_CERT/KEY), Raft and control calls
# (all groups share one port, mutual TLS), gossip (TCP and UDP).
EXPOSE 8080/tcp 8443/tcp 7000/tcp 7946/tcp 7946/udp
VOLUME ["/data"]

# Runs as root: `scratch` has no user database and a fresh named volume is
# root-owned. Mount a volume owned by a dedicated uid and pass --user to run
# unprivileged.
ENTRYPOINT ["/sibyl"]
CMD ["serve"]
