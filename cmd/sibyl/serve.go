package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sibylhq/sibyl/cluster/membership"
	"github.com/sibylhq/sibyl/node"
	"github.com/spf13/cobra"
)

func init() {
	cfg := node.DefaultConfig()
	var demo, logLevel, memLimit, gossipKey string
	var lv leaveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Sibyl node (with no flags: a single-node cluster with data in ./data)",
		Example: `  sibyl serve
  sibyl serve --data-dir /var/lib/sibyl --http-addr :8080
  sibyl serve --demo demo/online-retail.csv.gz    # what 'make demo' runs`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envOverrides(cmd); err != nil {
				return err
			}
			if cfg.AdminToken == "" {
				cfg.AdminToken = os.Getenv("SIBYL_ADMIN_TOKEN")
			}
			if gossipKey != "" {
				keys, err := membership.ParseKeys(gossipKey)
				if err != nil {
					return fmt.Errorf("--gossip-key: %w", err)
				}
				cfg.Cluster.GossipKeys = keys
			}
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			if err := applyMemoryLimit(memLimit, log); err != nil {
				return err
			}
			return serve(cfg, demo, logLevel, lv, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory for all of the node's data (Raft log, state, snapshots, keys)")
	f.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "address of the HTTP API")
	f.StringVar(&cfg.RaftAddr, "raft-addr", cfg.RaftAddr, "address all Raft groups of this node share")
	f.StringVar(&cfg.RaftAdvertise, "raft-advertise", "", "Raft address peers dial, if not --raft-addr")
	f.StringVar(&cfg.GossipAddr, "gossip-addr", cfg.GossipAddr, "address for cluster membership gossip")
	f.StringVar(&cfg.NodeID, "node-id", "", "this node's id (default: generated at first start, kept in <data-dir>/node.id)")
	f.IntVar(&cfg.Shards, "shards", cfg.Shards, "number of data shards, fixed when the cluster is first started")
	f.BoolVar(&cfg.Cluster.Enabled, "cluster", false, "run in cluster mode even without --join (the first node of a cluster)")
	f.StringSliceVar(&cfg.Cluster.Join, "join", nil, "gossip addresses of cluster members, comma-separated; the node whose own gossip address is first bootstraps the cluster")
	f.StringVar(&cfg.Cluster.GossipAdvertise, "gossip-advertise", "", "gossip address peers dial, if not --gossip-addr")
	f.StringVar(&cfg.Cluster.HTTPAdvertise, "http-advertise", "", "HTTP address other nodes forward requests to (default: --http-addr with the Raft advertise host)")
	f.IntVar(&cfg.Cluster.Control.Reconcile.Replicas, "replicas", cfg.Cluster.Control.Reconcile.Replicas, "replication factor of every shard (fewer while the cluster is smaller)")
	f.DurationVar(&cfg.Cluster.Control.Reconcile.GracePeriod, "grace-period", cfg.Cluster.Control.Reconcile.GracePeriod, "how long a failed node keeps its replicas before they are re-replicated")
	f.DurationVar(&cfg.Cluster.Control.Reconcile.StabilizeTime, "stabilize-time", cfg.Cluster.Control.Reconcile.StabilizeTime, "how long a new node must have been alive before it receives replicas")
	f.BoolVar(&lv.onTerminate, "leave-on-terminate", false, "cluster mode: on SIGTERM, drain this node (its replicas move to the others) and announce a leave before stopping, as sibyl cluster leave would; off, SIGTERM is a restart-like stop (the others keep its replicas for --grace-period). SIGINT never leaves")
	f.DurationVar(&lv.timeout, "leave-timeout", 5*time.Minute, "with --leave-on-terminate: the longest the drain may take; after it the leave is announced anyway and the remaining replicas are re-created from the other copies")
	f.IntVar(&cfg.Cluster.Control.Reconcile.MaxMovesInFlight, "max-moves", cfg.Cluster.Control.Reconcile.MaxMovesInFlight,
		"cluster mode, on the meta leader: how many shards may copy a new replica at once. Higher forms and rebalances a cluster faster "+
			"(64 shards on 3 nodes: see docs/benchmarks.md) at the cost of more snapshot and log traffic and disk writes on the nodes receiving replicas")
	f.IntVar(&cfg.Cluster.Control.Reconcile.MaxLeaderTransfers, "max-leader-transfers", cfg.Cluster.Control.Reconcile.MaxLeaderTransfers,
		"cluster mode, on the meta leader: leadership transfers per reconcile round to spread shard leaders over the nodes (0: no balancing); "+
			"each transfer pauses writes to that shard for about an election")
	f.IntVar(&cfg.Cluster.Control.Reconcile.LeaderSlack, "leader-slack", cfg.Cluster.Control.Reconcile.LeaderSlack,
		"cluster mode: how many shards above its fair share (shards / healthy nodes, rounded up) a node may lead before leaderships are moved off it")
	f.IntVar(&cfg.Sync.MaxConcurrent, "sync-concurrency", cfg.Sync.MaxConcurrent,
		"most Data Syncs this node runs at once (of the stores whose shard it leads); more syncs wait their turn. "+
			"A sync mostly waits on the shop, but each holds connections and a share of the node's CPU and Raft bandwidth")
	f.Var(floorFlag{&cfg.MinFreeDisk}, "min-free-disk", "free-space floor of the data dir's disk: under it writes answer 507 insufficient_storage (reads still work) "+
		"until space is freed; a size (2GiB), a share of the disk (5%), both (the smaller applies) or 0 (off)")
	f.BoolVar(&cfg.RepairState, "repair-state", cfg.RepairState, "when the state database fails its integrity check at start, move it aside (state.damaged-<time>) "+
		"and rebuild it from this node's Raft log and snapshots; off, the node refuses to start and says what to do")
	f.StringVar(&cfg.Cluster.TLSDir, "tls-dir", "", "cluster mode: `dir` with ca.pem, node.pem and node-key.pem (from 'sibyl tls cert create'): "+
		"the Raft port then admits only peers with a certificate of the same CA (mutual TLS 1.3)")
	f.StringVar(&gossipKey, "gossip-key", "", "cluster mode: gossip encryption `key`, base64 of 32 bytes (from 'sibyl tls gossip-key'); "+
		"several comma-separated during a rotation, the first encrypts. Prefer the environment variable: flags show in ps")
	f.BoolVar(&cfg.Cluster.Insecure, "insecure-cluster", false, "cluster mode without --tls-dir and --gossip-key: anyone who reaches the "+
		"Raft or gossip port can join and read and write every store. Only for throwaway setups")
	f.StringVar(&cfg.HTTP.HTTPS.Addr, "https-addr", ":8443", "address of the HTTPS API (with --https-cert and --https-key)")
	f.StringVar(&cfg.HTTP.HTTPS.CertFile, "https-cert", "", "PEM certificate chain of the HTTPS API; the plain HTTP API stays on --http-addr")
	f.StringVar(&cfg.HTTP.HTTPS.KeyFile, "https-key", "", "PEM private key of the HTTPS API")
	f.StringVar(&demo, "demo", "", "on first start, create a store named \"demo\" and import this Online Retail CSV into it")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&memLimit, "memory-limit", "", "soft limit of the node's Go heap, e.g. 4GiB or 512MiB (default: $GOMEMLIMIT, else none). "+
		"Near it the collector runs more often instead of letting the heap grow to twice what is live: set it to what the node may use "+
		"(a container's limit minus ~10%) when several nodes or other programs share a machine. It is not a hard cap: live data above it still fits, at more GC CPU")
	addLimitFlags(f, &cfg.HTTP)
	withEnvHelp(cmd)
	root.AddCommand(cmd)
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// leaveOptions are serve's --leave-on-terminate settings.
type leaveOptions struct {
	onTerminate bool
	timeout     time.Duration
}

func serve(cfg node.Config, demo, logLevel string, lv leaveOptions, log *slog.Logger) error {
	clustered := cfg.Cluster.Enabled || len(cfg.Cluster.Join) > 0
	if !clustered {
		// A lone node is the only voter of its groups: short election
		// timers make it leader (and ready) quickly after a restart. A
		// cluster keeps the long defaults (shard.DefaultRaftTimers): many
		// groups per node heartbeat cheaply.
		cfg.Group.Timers = node.SingleNodeTimers()
	}
	if !clustered && cfg.Group.RaftLogLevel == "warn" && logLevel != "debug" {
		// Every group of a lone node "times out" waiting for a leader at
		// start and elects itself: 65 warnings that mean nothing.
		cfg.Group.RaftLogLevel = "error"
	}
	start := time.Now()
	n, err := node.Open(cfg, log)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var sig os.Signal
	sigSeen := make(chan struct{})
	go func() {
		defer close(sigSeen)
		select {
		case sig = <-sigs:
			stop()
		case <-ctx.Done():
		}
	}()
	readyTimeout := time.Minute
	if clustered {
		// A joining node is ready once the meta leader has added it and
		// given it shards, which needs the others up: wait as long as it
		// takes (or until stopped).
		readyTimeout = 24 * time.Hour
	}
	readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	err = n.WaitReady(readyCtx)
	cancel()
	switch {
	case err != nil && ctx.Err() == nil:
		n.Shutdown(context.Background())
		return err
	case err != nil:
		// Stopped by a signal before ready: an orderly stop, not an error.
		log.Info("stopped before ready", "waited_for", err)
	default:
		log.Info("ready", "startup", time.Since(start).Round(time.Millisecond).String())
	}
	if demo != "" && err == nil {
		if err := loadDemo(n, cfg.DataDir, demo); err != nil {
			n.Shutdown(context.Background())
			return fmt.Errorf("demo: %w", err)
		}
	}
	<-ctx.Done()
	<-sigSeen
	if lv.onTerminate && clustered && sig == syscall.SIGTERM {
		log.Info("SIGTERM with --leave-on-terminate: draining, then leaving the cluster", "timeout", lv.timeout)
		lctx, cancel := context.WithTimeout(context.Background(), lv.timeout)
		go func() {
			// A second signal stops waiting for the drain.
			select {
			case <-sigs:
				cancel()
			case <-lctx.Done():
			}
		}()
		if err := n.Leave(lctx); err != nil {
			log.Warn("drain not finished; announcing the leave anyway", "err", err)
		}
		cancel()
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.Shutdown(sctx)
}

// demoState is what loadDemo keeps in <data-dir>/demo.json so that a
// restart neither re-imports nor forgets the keys.
type demoState struct {
	Store      string `json:"id"`
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key"`
	Imported   bool   `json:"imported"`
}

// loadDemo creates the demo store and imports the file through the HTTP
// API, exactly as `sibyl store create` and `sibyl import` would.
func loadDemo(n *node.Node, dataDir, file string) error {
	base := "http://" + loopback(n.HTTPAddr())
	statePath := filepath.Join(dataDir, "demo.json")
	var st demoState
	if b, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("corrupt %s: %w", statePath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if st.Store == "" {
		created, err := createStore(base, n.AdminToken(), "demo")
		if err != nil {
			return err
		}
		st = demoState{Store: fmt.Sprint(created["id"]), PublicKey: fmt.Sprint(created["public_key"]), PrivateKey: fmt.Sprint(created["private_key"])}
		if err := saveDemo(statePath, st); err != nil {
			return err
		}
	}
	if !st.Imported {
		sum, err := runImport(file, importOptions{url: base, key: st.PublicKey, priv: st.PrivateKey, format: "retail", batch: 500, concurrency: 4}, os.Stderr)
		fmt.Fprintln(os.Stderr, sum)
		if err != nil {
			return err
		}
		st.Imported = true
		if err := saveDemo(statePath, st); err != nil {
			return err
		}
	}
	printExamples(base, st)
	return nil
}

func saveDemo(path string, st demoState) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	return os.WriteFile(path, b, 0o600)
}

func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func printExamples(base string, st demoState) {
	k, pk := st.PublicKey, st.PrivateKey
	fmt.Printf(`
Sibyl is running with the demo store (UCI Online Retail) at %[1]s
  store id:    %[2]s
  public key:  %[3]s
  private key: %[4]s   (also in the data dir's demo.json)

Try:
  curl '%[1]s/v2/recommendations/popular?key=%[3]s&limit=5&attributes=["name","price"]'
  curl '%[1]s/v2/recommendations/trending?key=%[3]s&limit=5'
  curl '%[1]s/v2/recommendations/most_sold_with?key=%[3]s&products=["85123A"]&limit=5'
  curl '%[1]s/v2/recommendations/complementary?key=%[3]s&products=["22423"]&limit=5&attributes=["name"]'
  curl '%[1]s/v2/recommendations/customer/history?key=%[3]s&private_key=%[4]s&customer=17850&limit=5'
  curl '%[1]s/v2/products?key=%[3]s&private_key=%[4]s&products=["85123A"]'

Ctrl-C stops the node; data stays in the data dir.
`, base, st.Store, k, pk)
}
