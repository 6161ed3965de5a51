package route

import (
	"errors"
	"sync"
	"testing"

	"github.com/sibylhq/sibyl/cluster/placement"
)

func testRouter(self string, ready func(int) bool) *Router {
	r := New(self, ready)
	r.SetTable(placement.Table{Version: 1, Shards: [][]string{{"a", "b", "c"}, {"b", "c", "d"}, {"d"}}})
	r.SetPeers([]Peer{
		{ID: "a", HTTPAddr: "a:8080", Up: true},
		{ID: "b", HTTPAddr: "b:8080", Up: true},
		{ID: "c", HTTPAddr: "c:8080", Up: false},
		{ID: "d", HTTPAddr: "d:8080", Up: true},
	})
	return r
}

func TestReadLocalWhenReplicaReady(t *testing.T) {
	r := testRouter("a", nil)
	got, err := r.Read(0)
	if err != nil || !got.Local || got.Node != "a" {
		t.Fatalf("read of a local shard = %+v %v", got, err)
	}
}

func TestReadForwardsToHealthyReplicasRoundRobin(t *testing.T) {
	// a holds shard 0 but its replica is still catching up.
	r := testRouter("a", func(s int) bool { return s != 0 })
	seen := map[string]int{}
	for range 10 {
		got, err := r.Read(0)
		if err != nil || got.Local {
			t.Fatalf("read = %+v %v", got, err)
		}
		seen[got.Node]++
	}
	// c is down and a is not ready: only b serves.
	if seen["b"] != 10 {
		t.Fatalf("targets %v", seen)
	}
	// A node without a replica spreads reads over the healthy ones.
	r = testRouter("x", nil)
	seen = map[string]int{}
	for range 10 {
		got, _ := r.Read(1)
		seen[got.HTTPAddr]++
	}
	if seen["b:8080"] != 5 || seen["d:8080"] != 5 {
		t.Fatalf("round robin over b and d: %v", seen)
	}
}

func TestNoRoute(t *testing.T) {
	r := testRouter("x", nil)
	r.SetPeers([]Peer{{ID: "d", HTTPAddr: "d:8080", Up: false}})
	if _, err := r.Read(2); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("read with the only replica down: %v", err)
	}
	if _, err := r.Write(2, ""); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("write with the only replica down: %v", err)
	}
	if _, err := r.Read(7); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("read of an unknown shard: %v", err)
	}
}

func TestWrite(t *testing.T) {
	r := testRouter("a", nil)
	cases := []struct {
		shard  int
		leader string
		want   Target
	}{
		{0, "a", Target{Node: "a", Local: true}},
		{0, "b", Target{Node: "b", HTTPAddr: "b:8080"}},
		// Leader down or unknown: go to a healthy replica other than self.
		{0, "c", Target{Node: "b", HTTPAddr: "b:8080"}},
		{1, "", Target{Node: "b", HTTPAddr: "b:8080"}},
		{2, "", Target{Node: "d", HTTPAddr: "d:8080"}},
	}
	for _, tc := range cases {
		got, err := r.Write(tc.shard, tc.leader)
		if err != nil || got != tc.want {
			t.Errorf("write shard %d leader %q = %+v %v, want %+v", tc.shard, tc.leader, got, err, tc.want)
		}
	}
}

func TestTableSwapIsSafe(t *testing.T) {
	r := testRouter("x", nil)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 1000 {
			r.SetTable(placement.Table{Version: uint64(i), Shards: [][]string{{"a"}, {"b"}, {"d"}}})
		}
	}()
	go func() {
		defer wg.Done()
		for range 1000 {
			if _, err := r.Read(1); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
}

func BenchmarkRead(b *testing.B) {
	r := testRouter("x", nil)
	for b.Loop() {
		if _, err := r.Read(1); err != nil {
			b.Fatal(err)
		}
	}
}
