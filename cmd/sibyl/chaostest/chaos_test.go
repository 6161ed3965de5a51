//go:build chaos

// Package chaostest is the chaos run (`make test-chaos`): three `sibyl
// serve` processes on loopback, behind proxies the test owns, under a
// client writing and reading many stores while a seeded schedule kills,
// pauses and partitions the nodes. The history is checked with porcupine
// (model_test.go says exactly what is checked) and, after healing, every
// node must hold every acknowledged write.
package chaostest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

const (
	chaosNodes     = 3
	chaosStores    = 12
	chaosKeys      = 8  // products per store: one register each
	chaosWorkers   = 16 // concurrent client operations
	defaultFaults  = 8 * time.Minute
	convergeWithin = 3 * time.Minute
)

// TestChaos is built only with the chaos tag (`make test-chaos`, about
// 10 minutes): SIBYL_CHAOS_DURATION=60s for a short run,
// SIBYL_CHAOS_SEED=N to replay a printed seed.
func TestChaos(t *testing.T) {
	duration := defaultFaults
	if v := os.Getenv("SIBYL_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SIBYL_CHAOS_DURATION=%q: want a duration like 60s or 8m", v)
		}
		duration = d
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SIBYL_CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SIBYL_CHAOS_SEED=%q: want an unsigned integer", v)
		}
		seed = s
	}
	bin := os.Getenv("SIBYL_BIN")
	if bin == "" {
		t.Fatal("SIBYL_BIN must name the sibyl binary (make test-chaos builds it)")
	}
	// Kept on failure (node logs, history, visualization) or with
	// SIBYL_CHAOS_KEEP=1, else removed.
	dir, err := os.MkdirTemp("", "sibyl-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chaos seed %d (replay: SIBYL_CHAOS_SEED=%d make test-chaos), faults for %v, files in %s", seed, seed, duration, dir)
	keep := os.Getenv("SIBYL_CHAOS_KEEP") == "1"
	t.Cleanup(func() {
		switch {
		case t.Failed():
			t.Logf("chaos seed %d FAILED; node logs, history.jsonl and any visualization are in %s", seed, dir)
		case keep:
			t.Logf("SIBYL_CHAOS_KEEP=1: node logs and history.jsonl kept in %s", dir)
		default:
			os.RemoveAll(dir)
		}
	})

	c := newCluster(t, bin, dir, chaosNodes)
	t.Cleanup(c.net.close)
	t.Cleanup(c.stopAll)
	for i := range c.nodes {
		if err := c.start(i); err != nil {
			t.Fatal(err)
		}
	}
	pollOrFail(t, c, 2*time.Minute, "cluster formed", c.healthy)

	stores := createStores(t, c, chaosStores)
	h := &history{start: time.Now(), orders: make([]map[string]outcome, len(stores))}
	for i := range h.orders {
		h.orders[i] = map[string]outcome{}
	}
	cl := newClient(c.nodes, stores, chaosKeys, h)

	// Client and faults run together for the duration.
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var workers sync.WaitGroup
	for w := range chaosWorkers {
		workers.Add(1)
		go func() { defer workers.Done(); cl.run(ctx, w, seed) }()
	}
	nem := newNemesis(c, h, seed, t.Logf)
	nem.run(ctx) // returns after healing everything
	workers.Wait()
	t.Logf("%7.1fs client stopped", float64(h.now())/1e9)

	// Convergence: healthy, then a barrier order per store written after
	// every operation returned, then every node agrees and shows it.
	// Written now for a run that fails to converge, again with the final
	// reads below.
	histPath := filepath.Join(dir, "history.jsonl")
	if err := writeHistory(histPath, h, nil, nem.events); err != nil {
		t.Logf("cannot write the history: %v", err)
	}
	pollOrFail(t, c, convergeWithin, "cluster healthy after healing", c.healthy)
	final := converge(t, c, cl, stores)

	// The verdicts.
	sum := summarize(h, nem)
	t.Log(sum)
	// The partitions rely on finding which node opened each connection.
	c.net.mu.Lock()
	t.Logf("proxied TCP connections of unknown origin: %d %v", c.net.unknown.Load(), c.net.unknownAt)
	c.net.mu.Unlock()
	if exits := c.unexpectedExits(); len(exits) > 0 {
		t.Errorf("nodes exited without being killed (crash): %v\n%s", exits, c.logTails(3000))
	}
	for _, o := range h.odd {
		t.Logf("unexpected answer: %s", o)
	}
	checkOrders(t, c, stores, h)
	checkStaleReads(t, h)
	if err := writeHistory(histPath, h, final, nem.events); err != nil {
		t.Logf("cannot write the history: %v", err)
	}
	checkLinearizable(t, h, final, nem.events, dir)
	if acked := sum.outcomes[ok]; acked < 100 {
		t.Errorf("only %d operations answered: the run tested too little", acked)
	}
}

// pollOrFail polls fn until it returns nil or within passes.
func pollOrFail(t *testing.T, c *cluster, within time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v\n%s", what, within, err, c.logTails(3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createStores creates n stores and waits until every node accepts their
// keys.
func createStores(t *testing.T, c *cluster, n int) []storeKeys {
	t.Helper()
	cl := newClient(c.nodes, nil, 0, nil)
	var stores []storeKeys
	for i := range n {
		var st storeKeys
		pollOrFail(t, c, time.Minute, "create store", func() error {
			status, ans, err := cl.doBearer("POST", "http://"+c.nodes[i%len(c.nodes)].http+"/v2/stores",
				map[string]string{"name": fmt.Sprintf("chaos-%d", i)}, adminToken)
			if err != nil || status != 200 {
				return fmt.Errorf("status %d %v %v", status, err, ans)
			}
			st = storeKeys{ID: fmt.Sprint(ans["id"]), Public: fmt.Sprint(ans["public_key"]), Private: fmt.Sprint(ans["private_key"])}
			return nil
		})
		stores = append(stores, st)
	}
	pollOrFail(t, c, time.Minute, "store keys known on every node", func() error {
		for _, st := range stores {
			for _, nd := range c.nodes {
				status, ans, err := cl.do("GET", "http://"+nd.http+"/v2/products"+st.q(), nil)
				if err != nil || status != 200 {
					return fmt.Errorf("store %s on %s: %d %v %v", st.ID, nd.id, status, err, ans)
				}
			}
		}
		return nil
	})
	return stores
}

// converge writes a barrier order per store (a probe, recorded in the
// history like any other), then polls until every node shows it and all
// nodes hold the same products; it returns the final reads, one per node
// and register, timed as they were made.
func converge(t *testing.T, c *cluster, cl *client, stores []storeKeys) []record {
	t.Helper()
	var final []record
	for s := range stores {
		var barrier string
		for attempt := 0; barrier == ""; attempt++ {
			id := fmt.Sprintf("barrier-%d-%d", s, attempt)
			if cl.write(-1, attempt%len(c.nodes), regKey{Store: s, Product: productID(0)}, opProbe, id) == ok {
				barrier = id
			}
			if attempt > 100 {
				t.Fatalf("store %d: no barrier write acknowledged in 100 attempts\n%s", s, c.logTails(3000))
			}
		}
		var reads []record
		pollOrFail(t, c, convergeWithin, fmt.Sprintf("store %d converged on every node", s), func() error {
			reads = reads[:0]
			var first map[string]int64
			for _, nd := range c.nodes {
				var ords struct{ Result []map[string]any }
				if err := getInto("http://"+nd.http+"/v2/orders"+stores[s].q()+"&orders="+url.QueryEscape(`["`+barrier+`"]`), "", &ords); err != nil {
					return fmt.Errorf("%s: %w", nd.id, err)
				}
				if len(ords.Result) != 1 {
					return fmt.Errorf("%s does not show the barrier order %s yet", nd.id, barrier)
				}
				call := cl.h.now()
				var prods struct{ Result []map[string]any }
				if err := getInto("http://"+nd.http+"/v2/products"+stores[s].q()+"&limit=10000", "", &prods); err != nil {
					return fmt.Errorf("%s: %w", nd.id, err)
				}
				ret := cl.h.now()
				got := map[string]int64{}
				for _, p := range prods.Result {
					got[fmt.Sprint(p["id"])] = int64(num(p["price"]))
				}
				if first == nil {
					first = got
				} else if !mapsEqual(first, got) {
					return fmt.Errorf("nodes disagree on store %d: %v vs %s %v", s, first, nd.id, got)
				}
				for _, id := range cl.registers(s) {
					v, present := got[id]
					reads = append(reads, record{Worker: -1, Input: regInput{Key: regKey{Store: s, Product: id}, Kind: opFinal, Node: nd.i},
						Output: regOutput{Present: present, Value: v}, Outcome: ok, Call: call, Return: ret, Status: 200})
				}
			}
			return nil
		})
		final = append(final, reads...)
	}
	return final
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// checkOrders: on every node, every acknowledged order of every store is
// there exactly once, and no order appears that was never sent or was
// refused before it could be applied.
func checkOrders(t *testing.T, c *cluster, stores []storeKeys, h *history) {
	t.Helper()
	for s, st := range stores {
		for _, nd := range c.nodes {
			seen := map[string]int{}
			for offset := 0; ; offset += 10000 {
				var page struct {
					Result []map[string]any
					Total  int
				}
				if err := getInto(fmt.Sprintf("http://%s/v2/orders%s&limit=10000&offset=%d", nd.http, st.q(), offset), "", &page); err != nil {
					t.Errorf("store %d on %s: cannot list orders: %v", s, nd.id, err)
					return
				}
				for _, o := range page.Result {
					seen[fmt.Sprint(o["id"])]++
				}
				if len(page.Result) < 10000 {
					break
				}
			}
			var lost, twice, phantom []string
			for id, out := range h.orders[s] {
				if out == ok && seen[id] == 0 {
					lost = append(lost, id)
				}
				if out == failed && seen[id] > 0 {
					phantom = append(phantom, id+" (refused, yet applied)")
				}
			}
			for id, n := range seen {
				if n > 1 {
					twice = append(twice, id)
				}
				if _, sent := h.orders[s][id]; !sent {
					phantom = append(phantom, id+" (never sent)")
				}
			}
			sort.Strings(lost)
			if len(lost)+len(twice)+len(phantom) > 0 {
				t.Errorf("store %d on %s: %d acknowledged orders lost %v, %d listed twice %v, %d phantom %v",
					s, nd.id, len(lost), head(lost), len(twice), head(twice), len(phantom), head(phantom))
			}
		}
	}
}

func head(s []string) []string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// checkStaleReads: a replica's read may be old, but the value it shows was
// written by a put or patch called before the read returned.
func checkStaleReads(t *testing.T, h *history) {
	t.Helper()
	written := map[regKey]map[int64]int64{} // value -> call time
	for _, r := range h.ops {
		if r.Input.Kind == opPut || r.Input.Kind == opPatch {
			if written[r.Input.Key] == nil {
				written[r.Input.Key] = map[int64]int64{}
			}
			written[r.Input.Key][r.Input.Value] = r.Call
		}
	}
	bad := 0
	for _, r := range h.reads {
		if !r.Present {
			continue
		}
		call, found := written[r.Key][r.Value]
		if !found || call > r.Return {
			bad++
			if bad <= 10 {
				t.Errorf("node %d read %v = %d, a value no operation wrote before the read", r.Node, r.Key, r.Value)
			}
		}
	}
}

// checkLinearizable runs porcupine over the register operations and the
// final reads; on a violation it writes the visualization.
func checkLinearizable(t *testing.T, h *history, final []record, events []faultEvent, dir string) {
	t.Helper()
	ops, end := porcupineOps(h.ops, final)
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(registerModel, ops, 10*time.Minute)
	t.Logf("porcupine: %s over %d operations (%d registers) in %v", res, len(ops), len(registerModel.Partition(ops)), time.Since(start).Round(time.Millisecond))
	if res == porcupine.Ok {
		return
	}
	var notes []porcupine.Annotation
	for _, ev := range events {
		e := ev.End
		if e == 0 {
			e = end
		}
		notes = append(notes, porcupine.Annotation{Tag: "faults", Start: ev.Start, End: e, Description: ev.Kind, Details: ev.Desc, BackgroundColor: "#f6c6c6"})
	}
	info.AddAnnotations(notes)
	path := filepath.Join(dir, "linearizability.html")
	if err := porcupine.VisualizePath(registerModel, info, path); err != nil {
		t.Logf("cannot write the visualization: %v", err)
		path = "(not written)"
	}
	if res == porcupine.Illegal {
		t.Errorf("history NOT linearizable; visualization: %s\n%s", path, illegalExcerpts(ops, 3, 40))
	} else {
		t.Errorf("porcupine could not decide within its time limit (%s); visualization: %s", res, path)
	}
}

// porcupineOps turns the records into porcupine operations: answered ones
// with their times, unknown ones returning after everything else, failed
// ones and unknown probes left out (see model_test.go).
func porcupineOps(recs, final []record) ([]porcupine.Operation, int64) {
	var end int64
	for _, r := range slices.Concat(recs, final) {
		end = max(end, r.Return)
	}
	end++
	var ops []porcupine.Operation
	for _, r := range slices.Concat(recs, final) {
		if r.Outcome == failed || (r.Outcome == unknown && r.Input.Kind == opProbe) {
			continue
		}
		// ClientId only places an operation on a row of the
		// visualization (the checker ignores it): one row per worker,
		// then one per node for the barrier writes and final reads.
		client := r.Worker
		if r.Worker < 0 {
			client = chaosWorkers + max(r.Input.Node, 0)
		}
		op := porcupine.Operation{ClientId: client, Input: r.Input, Output: r.Output, Call: r.Call, Return: r.Return}
		if r.Outcome == unknown {
			op.Return = end
		}
		ops = append(ops, op)
	}
	return ops, end
}

func writeHistory(path string, h *history, final []record, events []faultEvent) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, ev := range events {
		enc.Encode(map[string]any{"fault": ev})
	}
	for _, r := range slices.Concat(h.ops, final) {
		enc.Encode(r)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type summary struct {
	outcomes map[outcome]int
	byKind   map[opKind]map[outcome]int
	reads    int
	faults   map[string]int
}

func summarize(h *history, nem *nemesis) summary {
	s := summary{outcomes: map[outcome]int{}, byKind: map[opKind]map[outcome]int{}, reads: len(h.reads), faults: nem.counts}
	for _, r := range h.ops {
		s.outcomes[r.Outcome]++
		if s.byKind[r.Input.Kind] == nil {
			s.byKind[r.Input.Kind] = map[outcome]int{}
		}
		s.byKind[r.Input.Kind][r.Outcome]++
	}
	return s
}

func (s summary) String() string {
	out := fmt.Sprintf("operations: %d acknowledged/answered, %d failed (not applied), %d unknown outcome; %d stale reads\n",
		s.outcomes[ok], s.outcomes[failed], s.outcomes[unknown], s.reads)
	for k := opPut; k <= opProbe; k++ {
		m := s.byKind[k]
		out += fmt.Sprintf("  %-6s ok %6d  failed %5d  unknown %5d\n", k, m[ok], m[failed], m[unknown])
	}
	keys := make([]string, 0, len(s.faults))
	for k := range s.faults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out += "faults:"
	for _, k := range keys {
		out += fmt.Sprintf(" %s %d", k, s.faults[k])
	}
	return out
}
