# Sibyl: the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
BIN     ?= bin/sibyl
DATA    ?= ./data/demo
PKGS    := ./...

.PHONY: cluster-certs cluster-up cluster-down test-cluster
.PHONY: build test test-race test-hostile test-chaos fuzz demo bench bench-node bench-api bench-tracking bench-scale bench-search bench-sync bench-cluster bench-rebalance bench-full eval lint fmt clean

# -buildvcs=auto: stamp the commit into the binary (sibyl version, /health)
# even where GOFLAGS turns it off.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -o $(BIN) ./cmd/sibyl

# The CI suite: unit, integration (real nodes on random ports, a kill -9
# test with real processes) and the real-data quality checks. Keep it
# under ~10 minutes on 2 cores.
# TESTFLAGS: extra go test flags (.ci/run passes -v to list what skipped).
test: build
	$(GO) vet -tags 'hostile chaos explore' $(PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	SIBYL_BIN=$(CURDIR)/$(BIN) $(GO) test $(TESTFLAGS) -count=1 -timeout 15m $(PKGS)

# Replays of the attacks of issue 11 that are too slow for `make test`:
# floods that measure heap, quadratic requests beside a latency probe,
# disk full on a small tmpfs (mounts it: run as root, as CI does). These
# tests are built only with the `hostile` tag; the fast attack tests run
# in `make test` as well.
test-hostile: build
	SIBYL_BIN=$(CURDIR)/$(BIN) $(GO) test $(TESTFLAGS) -tags hostile -count=1 -timeout 30m -run Hostile $(PKGS)

# The data health page in a real browser: chromedp drives Chromium
# against a real node (web/browser_test.go, build tag browser). Skips,
# saying so, only when no Chromium binary is found (apt-get install -y
# chromium, or SIBYL_CHROMIUM=/path/to/chrome).
.PHONY: test-browser browser-deps
test-browser:
	$(GO) vet -tags browser ./web/
	$(GO) test $(TESTFLAGS) -tags browser -count=1 -timeout 5m -run Browser ./web/

# Chromium for test-browser, from the distribution's packages, when no
# Chromium is on the PATH (Debian/Ubuntu, as root; .ci/run calls it so
# that a fresh CI machine runs the browser test instead of skipping it).
browser-deps:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || [ -n "$$SIBYL_CHROMIUM" ]; then \
	  echo "browser-deps: a Chromium is already there"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && command -v chromium; \
	else \
	  echo "browser-deps: no Chromium, and no apt-get as root to install it: apt-get install -y chromium" >&2; \
	fi

# Every fuzz target (request parsers, record and command decoders) for
# FUZZTIME each (default 30s); CI runs it.
fuzz:
	bash .ci/fuzz

# The chaos run (about 10 minutes, not part of `make test`): three real
# nodes behind proxies the test owns, a client on 12 stores, and a seeded
# schedule of SIGKILLs, SIGSTOPs and partitions; the history is checked
# with porcupine and every acknowledged write must be on every node after
# healing. SIBYL_CHAOS_DURATION (default 8m of faults), SIBYL_CHAOS_SEED
# (replay a printed seed).
test-chaos: build
	SIBYL_BIN=$(CURDIR)/$(BIN) $(GO) test -tags chaos -count=1 -timeout 45m -run TestChaos -v ./cmd/sibyl/chaostest/

test-race:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# One node with embedded storage, loaded with the bundled UCI Online Retail
# data on first start; prints example queries. Ctrl-C stops it.
demo: build
	$(BIN) serve --data-dir $(DATA) --demo demo/online-retail.csv.gz

# Quick benchmark run (under 5 minutes): writes bench/results/.
bench: build
	$(BIN) bench quick --out bench/results

# Single-node figures: import rate, restart time, memory, popular and
# most_sold_with beside the do-nothing ceiling (docs/benchmarks.md).
bench-node: build
	bash bench/single-node.sh bin/sibyl bench/results/single-node

# The API logics of docs/benchmarks.md on the same single node (its import,
# restart and memory figures too), beside the ceiling.
bench-api: build
	SIBYL_BENCH_SCENARIOS=popular,complementary,substituting,visitor_complementary,popular_filtered,log_product \
	  bash bench/single-node.sh bin/sibyl bench/results/api

# Tracking throughput (log/product through Raft, fsync on) at 32, 64, 128
# and 256 connections, with CPU per 1,000 events of the server and of the
# load generator (docs/benchmarks.md).
bench-tracking: build
	bash bench/tracking.sh bin/sibyl bench/results/tracking

# Engine and model at scale on a generated store (bench/storegen):
# SIBYL_SCALE=full for 1M customers, 100k products, 20M order lines.
bench-scale:
	$(GO) test ./bench/scale -run XXX -bench . -benchtime 1x -timeout 60m

# Search on a generated 50,000-product store (bench/storegen): the
# search_predictive and search_full scenarios at 32 connections beside the
# do-nothing ceiling and at 1, a write's time to searchable on the node,
# BenchmarkSearchIndex50k (build rate, heap per product) and
# BenchmarkSearchQueries50k; report in bench/results/search-<date>/.
bench-search: build
	bash bench/search.sh bin/sibyl

# Data Sync (docs/benchmarks.md "Data Sync"): the demo Online Retail file
# as a Clerk JSON feed synced into a fresh node (3 runs, each a new node),
# and the idle CPU of a node with 1,000 hourly syncs scheduled; about a
# minute and a half. Output in bench/results/sync-<date>/summary.txt.
SYNC_OUT ?= bench/results/sync-$(shell date -u +%Y-%m-%d)
bench-sync:
	mkdir -p $(SYNC_OUT)
	{ echo "run $$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $$(git rev-parse --short HEAD)$$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"; \
	  echo "machine: $$(nproc) CPUs, load $$(cut -d' ' -f1 /proc/loadavg)"; \
	  $(GO) test ./node -run '^$$' -bench 'SyncOnlineRetail' -benchtime 1x -count 3 -v -timeout 10m && \
	  $(GO) test ./node -run '^$$' -bench 'SyncIdle1000' -benchtime 1x -v -timeout 10m; } 2>&1 | tee $(SYNC_OUT)/summary.txt
	! grep -q '^FAIL' $(SYNC_OUT)/summary.txt

# Throughput against node count: a local 3-node cluster, popular on 1..3
# of its nodes (bench/results/cluster, with the plot).
bench-cluster: build
	bash bench/cluster.sh bin/sibyl bench/results/cluster

# Adding a 4th node to a 3-node cluster holding STORES demo-sized stores:
# import rate, memory and disk per node, rebalance time and bytes moved
# (docs/benchmarks.md; about 200 MiB of RSS per store on each of the 3 nodes).
STORES ?= 10
bench-rebalance: build
	bash bench/rebalance.sh $(STORES) 4 bin/sibyl

bench-full: build
	$(BIN) bench full --out bench/results

# Recommendation quality on the real data sets (docs/quality.md).
eval: build
	$(BIN) eval

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# The container cluster's credentials (docs/operations.md#security): a
# cluster CA, one certificate per node and a gossip key, made once with
# bin/sibyl tls into .cluster/ (gitignored; keep .cluster/tls/ca off the
# nodes in production). Existing credentials are kept.
CLUSTER_DIR ?= .cluster
cluster-certs: build
	@if [ ! -e $(CLUSTER_DIR)/tls/ca/ca.pem ]; then \
	  $(BIN) tls ca create --out $(CLUSTER_DIR)/tls/ca && \
	  for i in 1 2 3; do \
	    $(BIN) tls cert create --ca $(CLUSTER_DIR)/tls/ca --node sibyl-$$i --ip 10.89.7.1$$i --dns sibyl-$$i --out $(CLUSTER_DIR)/tls/sibyl-$$i || exit 1; \
	  done; \
	fi
	@if [ ! -e $(CLUSTER_DIR)/gossip.env ]; then \
	  umask 077 && echo "SIBYL_GOSSIP_KEY=$$($(BIN) tls gossip-key)" > $(CLUSTER_DIR)/gossip.env; \
	fi

# Compose: the v2 plugin (`docker compose`) when the docker CLI has it,
# else the standalone docker-compose; override with COMPOSE=...
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; \
  elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)

# A 3-node cluster in containers (docker-compose.yml; the image is built
# from the host's static binary, nothing is pulled). Nodes on :8081..8083,
# mutual TLS between them and encrypted gossip (cluster-certs).
cluster-up: build cluster-certs
	$(COMPOSE) up -d --build

# Stops the containers; the named volumes (data) stay.
cluster-down:
	$(COMPOSE) down

# The partition test on a fresh container cluster (volumes removed before
# and after): the minority refuses writes with 503, the majority accepts
# them, all replicas converge after healing.
# On failure the containers' logs are kept under ARTIFACTS (the test
# writes them; the path is in its output) before `down -v` removes them.
ARTIFACTS ?= $(CURDIR)/.artifacts
test-cluster: build cluster-certs
	@if [ -z "$(COMPOSE)" ]; then echo "test-cluster: neither 'docker compose' (v2 plugin) nor docker-compose found"; exit 1; fi
	$(COMPOSE) down -v >/dev/null 2>&1 || true
	$(COMPOSE) up -d --build
	SIBYL_CLUSTER_COMPOSE=1 SIBYL_COMPOSE="$(COMPOSE)" SIBYL_ARTIFACTS=$(ARTIFACTS) \
	  $(GO) test -count=1 -timeout 10m -run TestComposePartition -v ./cmd/sibyl/; \
	  rc=$$?; \
	  if [ $$rc -ne 0 ]; then mkdir -p $(ARTIFACTS) && $(COMPOSE) logs --no-color --timestamps > $(ARTIFACTS)/test-cluster-compose.log 2>&1; \
	    echo "test-cluster failed: containers' logs in $(ARTIFACTS)/test-cluster-compose.log"; fi; \
	  $(COMPOSE) down -v; exit $$rc
