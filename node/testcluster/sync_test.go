package testcluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stallingFeed serves a Clerk JSON feed v1 of products
// (docs.clerk.io/docs/data-feed). Its first answer stops half-way and
// hangs until release is closed: the sync reading it is mid-read when
// the test kills its node.
type stallingFeed struct {
	requests atomic.Int32
	release  chan struct{}
	body     []byte
}

func (f *stallingFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if f.requests.Add(1) == 1 {
		w.Header().Set("Content-Length", fmt.Sprint(len(f.body)))
		w.Write(f.body[:len(f.body)/2])
		w.(http.Flusher).Flush()
		select {
		case <-f.release:
		case <-r.Context().Done():
		}
		panic(http.ErrAbortHandler)
	}
	w.Write(f.body)
}

type syncRun struct {
	ID, State, Node, Message string
	Counts                   map[string]struct{ Created, Updated, Deleted int }
}

func syncRuns(t *testing.T, addr string, st store) ([]syncRun, error) {
	a := do(t, "GET", addr, "/v2/sync/runs"+q(st, true), nil)
	if a.Status != 200 {
		return nil, fmt.Errorf("runs via %s: %d %s", addr, a.Status, a.Raw)
	}
	var body struct{ Runs []syncRun }
	if err := json.Unmarshal([]byte(a.Raw), &body); err != nil {
		return nil, err
	}
	return body.Runs, nil
}

// TestSyncResumesOnNewLeader: the node running a store's sync is killed
// mid-read; nothing is deleted, the new leader of the store's shard
// records the run interrupted and runs the sync again, to completion.
func TestSyncResumesOnNewLeader(t *testing.T) {
	c := Start(t, 3, DefaultOptions())
	st := createStore(t, c.Members[0].HTTP, "synced")
	// A product the feed does not have: a complete sync deletes it (1 of
	// 51, under the safety valve's floor), an interrupted one must not.
	poll(t, 20*time.Second, func() error {
		if a := do(t, "POST", c.Members[1].HTTP, "/v2/products"+q(st, true), `[{"id":"old","name":"Old thing","price":1}]`); a.Status != 200 {
			return fmt.Errorf("seed: %d %s", a.Status, a.Raw)
		}
		return nil
	})
	products := make([]map[string]any, 50)
	for i := range products {
		products[i] = map[string]any{"id": fmt.Sprintf("p%d", i), "name": fmt.Sprintf("Gadget %d", i), "price": 10 + i}
	}
	body, _ := json.Marshal(map[string]any{"products": products})
	feed := &stallingFeed{release: make(chan struct{}), body: body}
	srv := httptest.NewServer(feed)
	var once sync.Once
	release := func() { once.Do(func() { close(feed.release) }) }
	defer srv.Close()
	defer release()

	poll(t, 20*time.Second, func() error {
		a := do(t, "POST", c.Members[2].HTTP, "/v2/sync"+q(st, true),
			map[string]any{"source": map[string]any{"type": "feed", "url": srv.URL + "/feed.json"}, "schedule": "manual"})
		if a.Status != 200 {
			return fmt.Errorf("configure: %d %s", a.Status, a.Raw)
		}
		return nil
	})
	var first string
	poll(t, 20*time.Second, func() error {
		a := do(t, "POST", c.Members[0].HTTP, "/v2/sync/start"+q(st, true), nil)
		if a.Status != 200 {
			return fmt.Errorf("start: %d %s", a.Status, a.Raw)
		}
		first, _ = a.Body["run"].(string)
		return nil
	})
	// The run is recorded running by the shard leader, which is stalled
	// in the middle of the feed.
	var runner string
	poll(t, 20*time.Second, func() error {
		runs, err := syncRuns(t, c.Members[1].HTTP, st)
		if err != nil {
			return err
		}
		if len(runs) == 0 || runs[0].ID != first || runs[0].State != "running" || feed.requests.Load() == 0 {
			return fmt.Errorf("run %s not running yet: %+v", first, runs)
		}
		runner = runs[0].Node
		return nil
	})
	victim := -1
	for i, m := range c.Members {
		if fmt.Sprintf("n%d", i) == runner && m.Node != nil {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("the run names node %q, not a member", runner)
	}
	c.Stop(victim)
	release()
	survivor := c.Members[(victim+1)%3].HTTP

	var runs []syncRun
	poll(t, 60*time.Second, func() error {
		var err error
		if runs, err = syncRuns(t, survivor, st); err != nil {
			return err
		}
		if len(runs) < 2 || runs[0].State != "succeeded" {
			return fmt.Errorf("no second, successful run yet: %+v", runs)
		}
		return nil
	})
	i := slices.IndexFunc(runs, func(r syncRun) bool { return r.ID == first })
	if i < 0 || runs[i].State != "failed" || runs[i].Counts["products"].Deleted != 0 {
		t.Fatalf("the interrupted run: %+v", runs)
	}
	if runs[0].Node == runner || runs[0].Counts["products"].Deleted != 1 || runs[0].Counts["products"].Created+runs[0].Counts["products"].Updated != 50 {
		t.Fatalf("the run on the new leader: %+v (the killed node was %s)", runs[0], runner)
	}
	a := do(t, "GET", survivor, "/v2/products"+q(st, true, "limit", "100"), nil)
	list, _ := a.Body["result"].([]any)
	if a.Status != 200 || len(list) != 50 || a.Body["total"] != float64(50) {
		t.Fatalf("products after the resumed sync: %d %.300s", a.Status, a.Raw)
	}
}
