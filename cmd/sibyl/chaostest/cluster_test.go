package chaostest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const adminToken = "chaos-test-admin-token-0123456789"

// node is one `sibyl serve` process and the proxy addresses it advertises.
type node struct {
	i            int
	id, dir, log string
	// tlsDir and gossipKey are the node's cluster credentials.
	tlsDir, gossipKey string
	http, raft        string // real listen addresses (the test client uses http)
	gossip            string
	pubHTTP           string // proxy addresses, advertised to the other nodes
	pubRaft           string
	pubGossip         string
	join              string
	mu                sync.Mutex
	cmd               *exec.Cmd
	done              chan struct{}
	expectExit        bool
	unexpectedExit    []string // exits the test did not cause
}

// serveCommand is the ONE place that says how a chaos node is started:
// the flags and the environment. Cluster security flags (mutual TLS,
// gossip key, or --insecure-cluster) go here.
func serveCommand(bin string, n *node) *exec.Cmd {
	cmd := exec.Command(bin, "serve",
		"--data-dir", n.dir,
		"--node-id", n.id,
		"--http-addr", n.http, "--http-advertise", n.pubHTTP,
		"--raft-addr", n.raft, "--raft-advertise", n.pubRaft,
		"--gossip-addr", n.gossip, "--gossip-advertise", n.pubGossip,
		"--join", n.join,
		"--shards", "8",
		"--stabilize-time", "500ms",
		// Faults here last seconds; a failed node keeps its replicas (with
		// three nodes and three replicas there is nowhere to move them).
		"--grace-period", "10m",
		"--log-level", "warn",
		// Secure by default, as production: mutual TLS on the Raft port
		// (the proxies pass the TLS bytes through) and encrypted gossip.
		"--tls-dir", n.tlsDir)
	cmd.Env = append(os.Environ(), "SIBYL_ADMIN_TOKEN="+adminToken, "SIBYL_GOSSIP_KEY="+n.gossipKey)
	return cmd
}

// makeCredentials creates the cluster CA, one certificate per node and
// the gossip key with the binary's own `sibyl tls` commands.
func makeCredentials(t *testing.T, bin, base string, nodes []*node) {
	t.Helper()
	run := func(args ...string) string {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("sibyl %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	ca := filepath.Join(base, "ca")
	run("tls", "ca", "create", "--out", ca)
	key := strings.TrimSpace(run("tls", "gossip-key"))
	for _, n := range nodes {
		n.tlsDir = filepath.Join(base, "tls-"+n.id)
		run("tls", "cert", "create", "--ca", ca, "--node", n.id, "--ip", "127.0.0.1", "--out", n.tlsDir)
		n.gossipKey = key
	}
}

type cluster struct {
	t     *testing.T
	bin   string
	nodes []*node
	net   *netem
}

// newCluster prepares n nodes on free loopback ports and their proxies;
// the nodes are not started yet.
func newCluster(t *testing.T, bin, base string, n int) *cluster {
	c := &cluster{t: t, bin: bin}
	c.net = newNetem(n, c.pid)
	for i := range n {
		id := fmt.Sprintf("chaos%d", i)
		nd := &node{i: i, id: id, dir: filepath.Join(base, id), log: filepath.Join(base, id+".log"),
			http: freeTCP(t), raft: freeTCP(t), gossip: freeTCPUDP(t),
			pubHTTP: freeTCP(t), pubRaft: freeTCP(t), pubGossip: freeTCPUDP(t)}
		c.nodes = append(c.nodes, nd)
		_, p, _ := net.SplitHostPort(nd.gossip)
		var port int
		fmt.Sscan(p, &port)
		c.net.gossipPort[port] = i
	}
	for _, nd := range c.nodes {
		nd.join = c.nodes[0].pubGossip
		for _, err := range []error{
			c.net.proxyTCP(nd.i, nd.pubHTTP, nd.http),
			c.net.proxyTCP(nd.i, nd.pubRaft, nd.raft),
			c.net.proxyTCP(nd.i, nd.pubGossip, nd.gossip),
			c.net.proxyUDP(nd.i, nd.pubGossip, nd.gossip),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	makeCredentials(t, bin, base, c.nodes)
	return c
}

func (c *cluster) pid(i int) int {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil || n.done == nil {
		return 0
	}
	select {
	case <-n.done:
		return 0
	default:
		return n.cmd.Process.Pid
	}
}

// start runs node i (it must not be running).
func (c *cluster) start(i int) error {
	n := c.nodes[i]
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open node log: %w", err)
	}
	fmt.Fprintf(logf, "=== chaos: start %s at %s\n", n.id, time.Now().Format(time.RFC3339Nano))
	cmd := serveCommand(c.bin, n)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("cannot start %s: %w", n.id, err)
	}
	done := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.done, n.expectExit = cmd, done, false
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		if !n.expectExit {
			n.unexpectedExit = append(n.unexpectedExit, fmt.Sprintf("%s exited by itself at %s: %v", n.id, time.Now().Format(time.RFC3339Nano), err))
		}
		n.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether node i's process is alive (paused counts).
func (c *cluster) running(i int) bool { return c.pid(i) != 0 }

// kill sends SIGKILL to node i and waits for it to exit.
func (c *cluster) kill(i int) {
	n := c.nodes[i]
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.expectExit = true
	n.mu.Unlock()
	if cmd == nil || done == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

func (c *cluster) signal(i int, sig syscall.Signal) {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(sig)
	}
}

// stopAll kills every node (cleanup); paused ones are continued first so
// that SIGKILL is delivered at once.
func (c *cluster) stopAll() {
	for i := range c.nodes {
		c.signal(i, syscall.SIGCONT)
		c.kill(i)
	}
}

// unexpectedExits lists every exit the test did not cause.
func (c *cluster) unexpectedExits() []string {
	var out []string
	for _, n := range c.nodes {
		n.mu.Lock()
		out = append(out, n.unexpectedExit...)
		n.mu.Unlock()
	}
	return out
}

// healthy reports nil once every node is ready, every shard and the meta
// group have three replicas and a leader, as node 0 sees it.
func (c *cluster) healthy() error {
	for _, n := range c.nodes {
		resp, err := httpClient.Get("http://" + n.http + "/ready")
		if err != nil {
			return fmt.Errorf("%s: %w", n.id, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: /ready answered %d", n.id, resp.StatusCode)
		}
	}
	for _, n := range c.nodes {
		var st struct {
			Nodes []struct {
				ID, State string
			}
			Shards []struct {
				Shard    int
				Replicas []string
				Leader   string
			}
		}
		if err := getInto("http://"+n.http+"/v2/cluster/status", adminToken, &st); err != nil {
			return fmt.Errorf("%s: status: %w", n.id, err)
		}
		for _, m := range st.Nodes {
			if m.State != "alive" {
				return fmt.Errorf("%s sees %s as %s", n.id, m.ID, m.State)
			}
		}
		for _, s := range st.Shards {
			if len(s.Replicas) != len(c.nodes) || s.Leader == "" {
				return fmt.Errorf("%s: shard %d on %v, leader %q", n.id, s.Shard, s.Replicas, s.Leader)
			}
		}
	}
	return nil
}

// logTails returns the end of every node's log.
func (c *cluster) logTails(n int) string {
	var b strings.Builder
	for _, nd := range c.nodes {
		l, _ := os.ReadFile(nd.log)
		if len(l) > n {
			l = l[len(l)-n:]
		}
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", nd.id, nd.log, l)
	}
	return b.String()
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

func getInto(u, bearer string, v any) error {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: status %d", req.URL.Path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Ports for the nodes and proxies are taken below the kernel's ephemeral
// range: a port from inside it, free when chosen, can meanwhile become the
// local port of some outgoing connection (the proxies dial nodes that are
// not up yet) and the node then fails to bind it after a restart.
var portRNG = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))

func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo <= 11000 {
		return 32768
	}
	return lo
}

func freeTCP(t *testing.T) string { return freePort(t, false) }

// freeTCPUDP returns a loopback port free for both TCP and UDP (gossip).
func freeTCPUDP(t *testing.T) string { return freePort(t, true) }

func freePort(t *testing.T, udp bool) string {
	t.Helper()
	lo := ephemeralLow()
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 10000+portRNG.IntN(lo-10000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		if udp {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				continue
			}
			pc.Close()
		}
		return addr
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}
