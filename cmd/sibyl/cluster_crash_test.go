package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The cluster kill -9 test: three `sibyl serve` processes form a cluster;
// a writer streams orders (each acknowledged one is recorded) through all
// three nodes while one node at a time is killed with SIGKILL at a random
// moment and restarted, several times. Afterwards every acknowledged order
// must be readable from every node, and no order id appears twice.

type clusterProc struct {
	t                         *testing.T
	bin, dir, id              string
	http, raft, gossip, first string
	cmd                       *exec.Cmd
	done                      chan struct{}
	logPath                   string
	extra                     []string // more serve flags
	// tlsDir and gossipKey are the node's cluster credentials, made
	// with the binary's own `sibyl tls` commands.
	tlsDir, gossipKey string
}

func (p *clusterProc) start() {
	p.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(p.bin, "serve", "--data-dir", p.dir, "--node-id", p.id, "--http-addr", p.http,
		"--raft-addr", p.raft, "--gossip-addr", p.gossip, "--join", p.first, "--shards", "8",
		"--stabilize-time", "500ms", "--grace-period", "10m", "--log-level", "warn", "--tls-dir", p.tlsDir)
	p.cmd.Args = append(p.cmd.Args, p.extra...)
	p.cmd.Env = append(os.Environ(), "SIBYL_ADMIN_TOKEN="+crashAdminToken, "SIBYL_GOSSIP_KEY="+p.gossipKey)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() { p.cmd.Wait(); logf.Close(); close(p.done) }()
}

func (p *clusterProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

func (p *clusterProc) ready() error {
	resp, err := http.Get("http://" + p.http + "/ready")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("node %s: /ready %d", p.id, resp.StatusCode)
	}
	return nil
}

// clusterLogs is a failure dump of the nodes: whether each has exited and
// the end of its log.
func clusterLogs(procs []*clusterProc) func() string {
	return func() string {
		var b strings.Builder
		for _, p := range procs {
			state := "running"
			select {
			case <-p.done:
				state = "exited: " + p.cmd.ProcessState.String()
			default:
			}
			l, _ := os.ReadFile(p.logPath)
			fmt.Fprintf(&b, "--- %s (%s, http %s raft %s gossip %s)\n", p.id, state, p.http, p.raft, p.gossip)
			if crash := crashHead(l, 4000); crash != "" {
				fmt.Fprintf(&b, "crashed once (its first goroutine's trace):\n%s\n...\n", crash)
			}
			fmt.Fprintf(&b, "%s\n", tail(l, 2000))
		}
		return b.String()
	}
}

// crashHead returns up to n bytes of log from its first Go crash report
// ("panic: " or "fatal error: " at a line start), or "" without one: the
// tail alone shows only the last goroutine of the dump, never the cause.
func crashHead(log []byte, n int) string {
	i := -1
	for _, mark := range []string{"\npanic: ", "\nfatal error: "} {
		if j := strings.Index(string(log), mark); j >= 0 && (i < 0 || j < i) {
			i = j + 1
		}
	}
	if i < 0 {
		return ""
	}
	return string(log[i:min(len(log), i+n)])
}

// newClusterProcs returns n nodes named prefix0.. on free loopback ports
// with their data and logs in a temporary folder; not started yet.
func newClusterProcs(t *testing.T, prefix string, n int) []*clusterProc {
	t.Helper()
	bin := sibylBinary(t)
	base := t.TempDir()
	ca := filepath.Join(base, "ca")
	runSibyl(t, bin, "tls", "ca", "create", "--out", ca)
	key := strings.TrimSpace(runSibyl(t, bin, "tls", "gossip-key"))
	var procs []*clusterProc
	for i := range n {
		id := fmt.Sprintf("%s%d", prefix, i)
		tlsDir := filepath.Join(base, "tls-"+id)
		runSibyl(t, bin, "tls", "cert", "create", "--ca", ca, "--node", id, "--ip", "127.0.0.1", "--out", tlsDir)
		procs = append(procs, &clusterProc{t: t, bin: bin, id: id, dir: filepath.Join(base, id),
			http: freePort(t), raft: freePort(t), gossip: freePort(t), logPath: filepath.Join(base, id+".log"),
			tlsDir: tlsDir, gossipKey: key})
	}
	return procs
}

// runSibyl runs the binary and returns its standard output.
func runSibyl(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sibyl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func waitFor(t *testing.T, total time.Duration, fn func() error) {
	t.Helper()
	waitForOrDump(t, total, fn, nil)
}

// waitForOrDump is waitFor that adds dump() (the nodes' logs) to the
// failure, so a timeout in CI can be told from a crashed node.
func waitForOrDump(t *testing.T, total time.Duration, fn func() error, dump func() string) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			if dump != nil {
				t.Fatalf("%v\n%s", err, dump())
			}
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClusterKill9WhileWriting(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	procs := newClusterProcs(t, "c", 3)
	for _, p := range procs {
		p.first = procs[0].gossip
		p.start()
		t.Cleanup(p.kill)
	}
	logs := clusterLogs(procs)
	// Ready, with all three nodes placed (replication factor 3).
	waitForOrDump(t, 60*time.Second, func() error {
		for _, p := range procs {
			if err := p.ready(); err != nil {
				return err
			}
		}
		out, status, err := getJSON("http://"+procs[0].http+"/v2/cluster/status", crashAdminToken)
		if err != nil || status != 200 {
			return fmt.Errorf("status %d %v", status, err)
		}
		for _, s := range out["shards"].([]any) {
			if reps := s.(map[string]any)["replicas"].([]any); len(reps) != 3 {
				return fmt.Errorf("shard placed on %v, want 3 nodes", reps)
			}
		}
		return nil
	}, logs)
	var keys storeKeys
	waitFor(t, 30*time.Second, func() error {
		out, status, err := post("http://"+procs[0].http, "/v2/stores", map[string]string{"name": "crash"}, crashAdminToken)
		if err != nil || status != 200 {
			return fmt.Errorf("create store: %d %v %v", status, err, out)
		}
		keys = storeKeys{out["public_key"].(string), out["private_key"].(string)}
		return nil
	})

	// The writer: order i is sent until acknowledged or given up on; every
	// acknowledged id is recorded.
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("o%05d", i)
			body := map[string]any{"orders": []map[string]any{{"id": id, "time": 1700000000 + i, "customer": "c1",
				"products": []map[string]any{{"id": "p1", "quantity": 1, "price": 3}}}}}
			p := procs[i%3]
			_, status, err := post("http://"+p.http, "/v2/orders"+keys.q(), body, "")
			if err == nil && status == 200 {
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}
	}()
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	for round := range 3 {
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		victim := procs[rng.IntN(3)]
		victim.kill()
		t.Logf("round %d: killed %s", round, victim.id)
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		victim.start()
		waitForOrDump(t, 60*time.Second, victim.ready, logs)
	}
	close(stop)
	<-writerDone
	mu.Lock()
	want := make([]string, 0, len(acked))
	for id := range acked {
		want = append(want, id)
	}
	mu.Unlock()
	slices.Sort(want)
	if len(want) < 10 {
		t.Fatalf("only %d writes acknowledged\n%s", len(want), logs())
	}
	t.Logf("%d acknowledged orders", len(want))
	for _, p := range procs {
		waitFor(t, 60*time.Second, func() error {
			out, status, err := getJSON("http://"+p.http+"/v2/orders"+keys.q()+"&limit=10000", "")
			if err != nil || status != 200 {
				return fmt.Errorf("read via %s: %d %v", p.id, status, err)
			}
			seen := map[string]bool{}
			for _, o := range out["result"].([]any) {
				id := fmt.Sprint(o.(map[string]any)["id"])
				if seen[id] {
					return fmt.Errorf("order %s appears twice via %s", id, p.id)
				}
				seen[id] = true
			}
			for _, id := range want {
				if !seen[id] {
					return fmt.Errorf("acknowledged order %s missing via %s (%d orders there)", id, p.id, len(seen))
				}
			}
			return nil
		})
	}
}

func getJSON(u, bearer string) (map[string]any, int, error) {
	req, _ := http.NewRequest("GET", u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, resp.StatusCode, err
	}
	return out, resp.StatusCode, nil
}
