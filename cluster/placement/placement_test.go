package placement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func nodeIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

// namings covers the id shapes a cluster is likely to use, so the balance
// and movement bounds do not hold by luck for one naming scheme only.
var namings = []string{"node-", "sibyl-", "10.0.0.", "n"}

func TestAssignDeterministicAndOrderIndependent(t *testing.T) {
	nodes := nodeIDs("node-", 7)
	a, err := Assign(64, 3, nodes)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(nodes)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		// Duplicates must not change the answer either.
		shuffled = append(shuffled, shuffled[0])
		b, err := Assign(64, 3, shuffled)
		if err != nil {
			t.Fatal(err)
		}
		for s := range a.Shards {
			if !slices.Equal(a.Shards[s], b.Shards[s]) {
				t.Fatalf("shard %d: %v vs %v for order %v", s, a.Shards[s], b.Shards[s], shuffled)
			}
		}
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	for s, r := range a.Shards {
		if len(r) != 3 {
			t.Fatalf("shard %d has %d replicas", s, len(r))
		}
	}
}

func TestAssignBalance(t *testing.T) {
	const shards, replicas = 64, 3
	for _, prefix := range namings {
		for n := 3; n <= 10; n++ {
			tab, err := Assign(shards, replicas, nodeIDs(prefix, n))
			if err != nil {
				t.Fatal(err)
			}
			load := tab.Load()
			if len(load) != n {
				t.Fatalf("%s x%d: only %d nodes hold replicas", prefix, n, len(load))
			}
			lo, hi := shards*replicas, 0
			for _, c := range load {
				lo, hi = min(lo, c), max(hi, c)
			}
			avg := float64(shards*replicas) / float64(n)
			t.Logf("%-8s nodes=%2d avg=%5.1f min=%2d max=%2d", prefix, n, avg, lo, hi)
			// Rendezvous hashing balances like independent draws: the
			// spread is binomial (sd ~ 4 replicas at 10 nodes). These
			// bounds are ~3 sd and catch a broken hash, which puts
			// everything on a few nodes.
			if float64(hi) > 1.5*avg+1 || float64(lo) < 0.5*avg-1 {
				t.Errorf("%s x%d: load min %d max %d, avg %.1f", prefix, n, lo, hi, avg)
			}
		}
	}
}

func TestAddNodeMovesAboutOneOverN(t *testing.T) {
	const shards, replicas = 64, 3
	for _, prefix := range namings {
		for n := 3; n <= 9; n++ {
			before, _ := Assign(shards, replicas, nodeIDs(prefix, n))
			grown := nodeIDs(prefix, n+1)
			after, _ := Assign(shards, replicas, grown)
			d, err := Diff(before, after)
			if err != nil {
				t.Fatal(err)
			}
			newNode := grown[n]
			for _, x := range d {
				// Every add lands on the new node and the new node never
				// loses anything: nothing moves between old nodes.
				if len(x.Add) != 1 || x.Add[0] != newNode || len(x.Remove) != 1 {
					t.Fatalf("%s %d->%d shard %d: add %v remove %v", prefix, n, n+1, x.Shard, x.Add, x.Remove)
				}
			}
			moved := Moves(d)
			ideal := float64(shards*replicas) / float64(n+1)
			t.Logf("%-8s %d->%d nodes: moved %d replicas (ideal %.1f)", prefix, n, n+1, moved, ideal)
			if float64(moved) > 1.5*ideal+2 {
				t.Errorf("%s %d->%d: moved %d of %d replicas, ideal %.1f", prefix, n, n+1, moved, shards*replicas, ideal)
			}
			if n == 3 && moved > shards*replicas/3+8 {
				t.Errorf("3->4 moved %d, more than a third plus slack", moved)
			}
		}
	}
}

func TestRemoveNodeMovesOnlyItsReplicas(t *testing.T) {
	const shards, replicas = 64, 3
	for _, prefix := range namings {
		for n := 4; n <= 10; n++ {
			nodes := nodeIDs(prefix, n)
			before, _ := Assign(shards, replicas, nodes)
			for gone := range nodes {
				rest := slices.Delete(slices.Clone(nodes), gone, gone+1)
				after, _ := Assign(shards, replicas, rest)
				d, err := Diff(before, after)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := Moves(d), len(before.ShardsOf(nodes[gone])); got != want {
					t.Fatalf("%s removing %s from %d: %d moves, it held %d replicas", prefix, nodes[gone], n, got, want)
				}
				for _, x := range d {
					if len(x.Remove) != 1 || x.Remove[0] != nodes[gone] {
						t.Fatalf("%s removing %s: shard %d removes %v", prefix, nodes[gone], x.Shard, x.Remove)
					}
				}
			}
		}
	}
}

func TestReplicasLargerThanNodeCount(t *testing.T) {
	for n := 1; n <= 3; n++ {
		tab, err := Assign(16, 5, nodeIDs("node-", n))
		if err != nil {
			t.Fatal(err)
		}
		for s, r := range tab.Shards {
			if len(r) != n {
				t.Fatalf("%d nodes: shard %d has %d replicas %v", n, s, len(r), r)
			}
		}
	}
	if _, err := Assign(16, 3, nil); !errors.Is(err, ErrNoNodes) {
		t.Fatalf("no nodes: got %v", err)
	}
	if _, err := Assign(16, 3, []string{""}); !errors.Is(err, ErrNoNodes) {
		t.Fatalf("empty id only: got %v", err)
	}
	if _, err := Assign(0, 3, []string{"a"}); !errors.Is(err, ErrBadTable) {
		t.Fatalf("zero shards: got %v", err)
	}
}

func TestDiff(t *testing.T) {
	old := Table{Version: 1, Shards: [][]string{{"a", "b", "c"}, {"a", "b", "c"}, {"b", "c", "d"}}}
	new := Table{Version: 2, Shards: [][]string{{"c", "b", "a"}, {"a", "b", "d"}, {"e"}}}
	d, err := Diff(old, new)
	if err != nil {
		t.Fatal(err)
	}
	want := []ShardDiff{
		{Shard: 1, Add: []string{"d"}, Remove: []string{"c"}},
		{Shard: 2, Add: []string{"e"}, Remove: []string{"b", "c", "d"}},
	}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Fatalf("diff = %v, want %v", d, want)
	}
	if Moves(d) != 2 {
		t.Fatalf("moves = %d", Moves(d))
	}
	if SameAssignment(old, new) || !SameAssignment(new, Table{Shards: [][]string{{"a", "b", "c"}, {"d", "a", "b"}, {"e"}}}) {
		t.Fatal("SameAssignment is wrong")
	}
	if _, err := Diff(old, Table{Shards: [][]string{{"a"}}}); !errors.Is(err, ErrShardCount) {
		t.Fatalf("length mismatch: %v", err)
	}
	fresh, err := Diff(Table{}, new)
	if err != nil || Moves(fresh) != 7 {
		t.Fatalf("from empty: %v %v", fresh, err)
	}
}

func TestValidateAndClone(t *testing.T) {
	bad := []Table{
		{},
		{Shards: [][]string{{}}},
		{Shards: [][]string{{"a", "a"}}},
		{Shards: [][]string{{"a", ""}}},
	}
	for _, b := range bad {
		if err := b.Validate(); !errors.Is(err, ErrBadTable) {
			t.Errorf("%v: got %v", b, err)
		}
	}
	orig := Table{Version: 3, Shards: [][]string{{"a", "b"}}}
	c := orig.Clone()
	c.Shards[0][0] = "z"
	if orig.Shards[0][0] != "a" {
		t.Fatal("Clone shares replica slices")
	}
	if !orig.Has(0, "b") || orig.Has(0, "z") || orig.Has(5, "a") || orig.Replicas(-1) != nil {
		t.Fatal("Has/Replicas wrong")
	}
	if fmt.Sprint(orig.Nodes()) != "[a b]" {
		t.Fatalf("Nodes = %v", orig.Nodes())
	}
}

func BenchmarkAssign64x3over10(b *testing.B) {
	nodes := nodeIDs("node-", 10)
	for b.Loop() {
		if _, err := Assign(64, 3, nodes); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRank(t *testing.T) {
	nodes := nodeIDs("node-", 6)
	a := Rank("meta", nodes)
	b := Rank("meta", []string{nodes[5], nodes[2], nodes[0], nodes[4], nodes[1], nodes[3], nodes[3]})
	if !slices.Equal(a, b) || len(a) != 6 {
		t.Fatalf("Rank depends on input order: %v vs %v", a, b)
	}
	// Removing a node keeps the others' relative order (minimal disruption).
	without := Rank("meta", slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == a[0] }))
	if !slices.Equal(without, a[1:]) {
		t.Fatalf("after removing %s: %v, want %v", a[0], without, a[1:])
	}
	// Different keys spread the top choice over several nodes.
	tops := map[string]bool{}
	for i := range 20 {
		tops[Rank(fmt.Sprint("k", i), nodes)[0]] = true
	}
	if len(tops) < 3 {
		t.Fatalf("20 keys pick only %d distinct top nodes", len(tops))
	}
}
