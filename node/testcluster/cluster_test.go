package testcluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

type store struct{ ID, Public, Private string }

type answer struct {
	Status int
	Body   map[string]any
	Raw    string
}

var hc = &http.Client{Timeout: 30 * time.Second}

func do(t *testing.T, method, addr, path string, body any, header ...string) answer {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		enc, _ := json.Marshal(b)
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return answer{Status: -1, Raw: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

func createStore(t *testing.T, addr, name string) store {
	t.Helper()
	var a answer
	poll(t, 20*time.Second, func() error {
		a = do(t, "POST", addr, "/v2/stores", map[string]string{"name": name}, "Authorization", "Bearer "+AdminToken)
		if a.Status != 200 {
			return fmt.Errorf("create store: %d %s", a.Status, a.Raw)
		}
		return nil
	})
	return store{fmt.Sprint(a.Body["id"]), fmt.Sprint(a.Body["public_key"]), fmt.Sprint(a.Body["private_key"])}
}

func q(st store, private bool, kv ...string) string {
	v := url.Values{}
	v.Set("key", st.Public)
	if private {
		v.Set("private_key", st.Private)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

// writeOrder writes one order with one product line, retried until
// acknowledged.
func writeOrder(t *testing.T, addr string, st store, id, product string) {
	t.Helper()
	body := fmt.Sprintf(`{"orders":[{"id":%q,"time":1700000000,"customer":"c1","products":[{"id":%q,"quantity":1,"price":3}]}]}`, id, product)
	poll(t, 20*time.Second, func() error {
		a := do(t, "POST", addr, "/v2/orders"+q(st, true), body)
		if a.Status != 200 {
			return fmt.Errorf("write order %s via %s: %d %s", id, addr, a.Status, a.Raw)
		}
		return nil
	})
}

// orderIDs reads every order id of the store through addr.
func orderIDs(t *testing.T, addr string, st store) ([]string, error) {
	a := do(t, "GET", addr, "/v2/orders"+q(st, true, "limit", "10000"), nil)
	if a.Status != 200 {
		return nil, fmt.Errorf("read orders via %s: %d %s", addr, a.Status, a.Raw)
	}
	var ids []string
	list, _ := a.Body["result"].([]any)
	for _, o := range list {
		if m, ok := o.(map[string]any); ok {
			ids = append(ids, fmt.Sprint(m["id"]))
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// expectOrders polls until every running node returns exactly want.
func expectOrders(t *testing.T, c *Cluster, st store, want []string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	for _, m := range c.Running() {
		poll(t, 20*time.Second, func() error {
			got, err := orderIDs(t, m.HTTP, st)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("node %d has %d orders %v, want %d", m.Index, len(got), got, len(want))
			}
			return nil
		})
	}
}

func poll(t *testing.T, total time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replicaSet is the set of (shard, node) pairs of a status.
func replicaSet(c *Cluster) map[string]bool {
	out := make(map[string]bool)
	for _, s := range c.Status().Shards {
		for _, r := range s.Replicas {
			out[fmt.Sprintf("%d/%s", s.Shard, r)] = true
		}
	}
	return out
}

// expectLeadersSpread polls until every running node leads at least one
// shard and none leads more than the reconciler's limit (fair share plus
// slack), with every shard led exactly once. The first node bootstraps
// every group, so without balancing it would lead them all.
func expectLeadersSpread(t *testing.T, c *Cluster, shards int) {
	t.Helper()
	poll(t, 60*time.Second, func() error {
		st := c.Status()
		if st.Moves == nil || st.Moves.LeaderLimit == 0 {
			return fmt.Errorf("no leader limit in the plan yet")
		}
		total := 0
		for _, n := range st.Nodes {
			if n.Leads < 1 || n.Leads > st.Moves.LeaderLimit {
				return fmt.Errorf("node %s leads %d shards, want 1..%d (%+v)", n.ID, n.Leads, st.Moves.LeaderLimit, st.Nodes)
			}
			total += n.Leads
		}
		if total != shards {
			return fmt.Errorf("nodes lead %d shards in total, want %d", total, shards)
		}
		return nil
	})
	var leads []string
	for _, n := range c.Status().Nodes {
		leads = append(leads, fmt.Sprintf("%s:%d", n.ID, n.Leads))
	}
	t.Logf("leaders spread: %v", leads)
}

// expectDataFollowsTable polls until every running node holds data of
// exactly the shards the table places on it: a replica moved away has its
// Raft log and state deleted, and no placed replica lost its data.
func expectDataFollowsTable(t *testing.T, c *Cluster) {
	t.Helper()
	poll(t, 30*time.Second, func() error {
		st := c.Status()
		for _, m := range c.Running() {
			for _, sh := range st.Shards {
				placed := slices.Contains(sh.Replicas, m.Node.ID())
				has, err := m.Node.HasShardData(sh.Shard)
				if err != nil {
					return err
				}
				if has != placed {
					return fmt.Errorf("node %s: shard %d placed here %v, has data %v", m.Node.ID(), sh.Shard, placed, has)
				}
			}
		}
		return nil
	})
}

// TestJoinRouteAndGrow: three nodes form a cluster and the leaderships
// spread over them; a store created on one node is written through a
// second and read through every node (reads and writes are forwarded to
// replicas and leaders); a fourth node joins and takes about a quarter of
// the replicas, never more than a third, and some leaderships.
func TestJoinRouteAndGrow(t *testing.T) {
	opts := DefaultOptions()
	opts.Shards = 12
	c := Start(t, 3, opts)
	expectLeadersSpread(t, c, opts.Shards)
	st := createStore(t, c.Members[0].HTTP, "shop")
	var want []string
	for i := range 6 {
		id := fmt.Sprintf("o%d", i)
		writeOrder(t, c.Members[i%3].HTTP, st, id, "p1")
		want = append(want, id)
	}
	expectOrders(t, c, st, want)

	before := replicaSet(c)
	start := time.Now()
	c.Add()
	c.WaitConverged(90 * time.Second)
	t.Logf("fourth node converged in %v", time.Since(start))
	after := replicaSet(c)
	moved := 0
	for k := range after {
		if !before[k] {
			moved++
		}
	}
	if moved == 0 || moved > len(before)/3 {
		t.Fatalf("growing 3 -> 4 nodes moved %d of %d replicas, want 1..%d", moved, len(before), len(before)/3)
	}
	expectDataFollowsTable(t, c)
	if n := c.Status().Nodes; len(n) != 4 {
		t.Fatalf("status lists %d nodes, want 4", len(n))
	}
	expectLeadersSpread(t, c, opts.Shards)
	// The new node answers reads and writes for every store.
	writeOrder(t, c.Members[3].HTTP, st, "o-new", "p2")
	expectOrders(t, c, st, append(want, "o-new"))
}

// TestFailureReplacedAfterGrace: a stopped node keeps its replicas during
// the grace period, then they are re-replicated on the remaining nodes and
// the data stays readable and writable.
func TestFailureReplacedAfterGrace(t *testing.T) {
	opts := DefaultOptions()
	opts.GracePeriod = 1500 * time.Millisecond
	c := Start(t, 4, opts)
	st := createStore(t, c.Members[0].HTTP, "shop")
	writeOrder(t, c.Members[1].HTTP, st, "o1", "p1")
	victim := 3
	if c.Status().MetaLeader == "n3" {
		victim = 2
	}
	c.Stop(victim)
	stopped := fmt.Sprintf("n%d", victim)
	// Within the grace period the table still lists the node.
	still := false
	for _, s := range c.Status().Shards {
		still = still || slices.Contains(s.Replicas, stopped)
	}
	if !still {
		t.Fatalf("replicas of %s moved before the grace period ended", stopped)
	}
	c.WaitConverged(60 * time.Second)
	for _, s := range c.Status().Shards {
		if slices.Contains(s.Replicas, stopped) {
			t.Fatalf("shard %d still placed on failed node %s", s.Shard, stopped)
		}
	}
	writeOrder(t, c.Members[0].HTTP, st, "o2", "p1")
	expectOrders(t, c, st, []string{"o1", "o2"})
}

// TestDrainLeave: a drained node ends with no replicas and no meta vote;
// the others keep serving.
func TestDrainLeave(t *testing.T) {
	c := Start(t, 4, DefaultOptions())
	st := createStore(t, c.Members[0].HTTP, "shop")
	writeOrder(t, c.Members[0].HTTP, st, "o1", "p1")
	leaver := 1
	a := do(t, "POST", c.Members[leaver].HTTP, "/v2/cluster/leave", nil, "Authorization", "Bearer "+AdminToken)
	if a.Status != 200 {
		t.Fatalf("leave: %d %s", a.Status, a.Raw)
	}
	poll(t, 60*time.Second, func() error {
		for _, n := range c.Status().Nodes {
			if n.ID == "n1" && n.Replicas != 0 {
				return fmt.Errorf("n1 still holds %d replicas", n.Replicas)
			}
		}
		return nil
	})
	expectDataFollowsTable(t, c)
	for s := range DefaultOptions().Shards {
		if has, err := c.Members[leaver].Node.HasShardData(s); has || err != nil {
			t.Fatalf("drained node still holds data of shard %d (%v)", s, err)
		}
	}
	c.Stop(leaver)
	expectOrders(t, c, st, []string{"o1"})
	writeOrder(t, c.Members[2].HTTP, st, "o2", "p1")
	expectOrders(t, c, st, []string{"o1", "o2"})
}

// TestLeaderLossAndFullRestart: stopping the node that leads the store's
// shard does not lose acknowledged writes and writes resume; stopping and
// restarting every node keeps all data.
func TestLeaderLossAndFullRestart(t *testing.T) {
	opts := DefaultOptions()
	opts.GracePeriod = time.Minute // no re-replication in this test
	c := Start(t, 3, opts)
	st := createStore(t, c.Members[0].HTTP, "shop")
	writeOrder(t, c.Members[0].HTTP, st, "o1", "p1")
	// Stop each node in turn, so that whichever leads the store's shard
	// is stopped once: with 3 replicas, any single stop leaves a quorum.
	for i := range 3 {
		c.Stop(i)
		writeOrder(t, c.Members[(i+1)%3].HTTP, st, fmt.Sprintf("after-stop-%d", i), "p1")
		c.Restart(i)
		poll(t, 30*time.Second, func() error { return c.Members[i].Node.Ready() })
	}
	want := []string{"after-stop-0", "after-stop-1", "after-stop-2", "o1"}
	expectOrders(t, c, st, want)

	c.StopAll()
	for i := range 3 {
		c.Restart(i)
	}
	c.WaitConverged(60 * time.Second)
	expectOrders(t, c, st, want)
}
