// Package placement maps shards onto nodes by rendezvous hashing
// (highest random weight, Thaler and Ravishankar, "Using name-based
// mappings to increase hit rates", IEEE/ACM ToN 1998): every (shard, node)
// pair gets a pseudo-random weight and a shard lives on the R nodes with
// the highest weights. Adding a node only takes the shards for which the
// new node wins, and removing one only moves the shards it held, which is
// why it was picked over a ring with virtual nodes: no tuning knob and the
// minimal-movement property holds exactly, not on average.
//
// The package is pure: the meta leader computes a Table from the eligible
// nodes and commits it; nodes obey the committed Table.
package placement

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
)

// DefaultReplicas is the replication factor when none is configured.
const DefaultReplicas = 3

// Errors callers branch on.
var (
	ErrNoNodes    = errors.New("no eligible nodes")
	ErrBadTable   = errors.New("invalid placement table")
	ErrShardCount = errors.New("shard count mismatch")
)

// Table is a committed placement: Shards[s] lists the replica node ids of
// shard s in preference order (highest weight first). Version grows by one
// with every committed change.
type Table struct {
	Version uint64     `json:"version"`
	Shards  [][]string `json:"shards"`
}

// Clone returns a deep copy, so that a caller may edit it without racing
// readers of the original.
func (t Table) Clone() Table {
	out := Table{Version: t.Version, Shards: make([][]string, len(t.Shards))}
	for i, r := range t.Shards {
		out.Shards[i] = slices.Clone(r)
	}
	return out
}

// Replicas returns the replica nodes of a shard, or nil when the shard is
// out of range.
func (t Table) Replicas(shard int) []string {
	if shard < 0 || shard >= len(t.Shards) {
		return nil
	}
	return t.Shards[shard]
}

// Has reports whether node holds a replica of shard.
func (t Table) Has(shard int, node string) bool {
	return slices.Contains(t.Replicas(shard), node)
}

// ShardsOf lists the shards with a replica on node, in shard order.
func (t Table) ShardsOf(node string) []int {
	var out []int
	for s, r := range t.Shards {
		if slices.Contains(r, node) {
			out = append(out, s)
		}
	}
	return out
}

// Nodes lists every node that holds at least one replica, sorted.
func (t Table) Nodes() []string {
	seen := make(map[string]struct{})
	for _, r := range t.Shards {
		for _, n := range r {
			seen[n] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SameAssignment reports whether two tables place every shard on the same
// replica set, ignoring version and replica order.
func SameAssignment(a, b Table) bool {
	if len(a.Shards) != len(b.Shards) {
		return false
	}
	for s := range a.Shards {
		if !sameSet(a.Shards[s], b.Shards[s]) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// Validate checks that every shard has at least one replica and no shard
// lists a node twice.
func (t Table) Validate() error {
	if len(t.Shards) == 0 {
		return fmt.Errorf("%w: no shards", ErrBadTable)
	}
	for s, r := range t.Shards {
		if len(r) == 0 {
			return fmt.Errorf("%w: shard %d has no replicas", ErrBadTable, s)
		}
		for i, n := range r {
			if n == "" {
				return fmt.Errorf("%w: shard %d has an empty node id", ErrBadTable, s)
			}
			if slices.Contains(r[:i], n) {
				return fmt.Errorf("%w: shard %d lists node %q twice", ErrBadTable, s, n)
			}
		}
	}
	return nil
}

// Assign places shards 0..shards-1 on min(replicas, len(nodes)) of the
// given nodes each. The result depends only on the set of node ids (not
// their order), so every node computing it agrees. The returned table has
// Version 0; the committer sets it.
func Assign(shards, replicas int, nodes []string) (Table, error) {
	if shards <= 0 {
		return Table{}, fmt.Errorf("%w: %d shards", ErrBadTable, shards)
	}
	if replicas <= 0 {
		return Table{}, fmt.Errorf("%w: replication factor %d", ErrBadTable, replicas)
	}
	ids := slices.Clone(nodes)
	sort.Strings(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 && ids[0] == "" {
		ids = ids[1:]
	}
	if len(ids) == 0 {
		return Table{}, ErrNoNodes
	}
	r := min(replicas, len(ids))
	nodeHash := make([]uint64, len(ids))
	for i, id := range ids {
		nodeHash[i] = hashString(id)
	}
	t := Table{Shards: make([][]string, shards)}
	order := make([]int, len(ids))
	weight := make([]uint64, len(ids))
	for s := range shards {
		shardHash := mix64(uint64(s) + 0x9e3779b97f4a7c15)
		for i := range ids {
			order[i] = i
			weight[i] = Weight(shardHash, nodeHash[i])
		}
		// Ties are astronomically unlikely but break them by id so the
		// result stays a function of the node set.
		sort.Slice(order, func(a, b int) bool {
			wa, wb := weight[order[a]], weight[order[b]]
			if wa != wb {
				return wa > wb
			}
			return ids[order[a]] < ids[order[b]]
		})
		rep := make([]string, r)
		for i := range r {
			rep[i] = ids[order[i]]
		}
		t.Shards[s] = rep
	}
	return t, nil
}

// Weight is the rendezvous weight of a (shard, node) pair from their
// hashes. Exported for tests and for tools that explain a placement.
func Weight(shardHash, nodeHash uint64) uint64 {
	return mix64(shardHash ^ nodeHash)
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	// FNV alone spreads short, similar ids ("node-1", "node-2") poorly;
	// the finalizer below restores avalanche.
	return mix64(h.Sum64())
}

// mix64 is the SplitMix64 finalizer (Steele, Lea and Flood, "Fast
// splittable pseudorandom number generators", OOPSLA 2014).
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// ShardDiff is how one shard's replica set changes between two tables.
type ShardDiff struct {
	Shard  int
	Add    []string // nodes that gain a replica
	Remove []string // nodes that lose one
}

// Diff lists the shards whose replica sets differ between old and new, in
// shard order. Tables of different lengths are an error: the shard count
// is fixed at bootstrap. An empty old table (no shards) means every replica
// of new is an add.
func Diff(old, new Table) ([]ShardDiff, error) {
	if len(old.Shards) != 0 && len(old.Shards) != len(new.Shards) {
		return nil, fmt.Errorf("%w: %d vs %d", ErrShardCount, len(old.Shards), len(new.Shards))
	}
	var out []ShardDiff
	for s := range new.Shards {
		var prev []string
		if len(old.Shards) != 0 {
			prev = old.Shards[s]
		}
		d := ShardDiff{Shard: s}
		for _, n := range new.Shards[s] {
			if !slices.Contains(prev, n) {
				d.Add = append(d.Add, n)
			}
		}
		for _, n := range prev {
			if !slices.Contains(new.Shards[s], n) {
				d.Remove = append(d.Remove, n)
			}
		}
		if len(d.Add) > 0 || len(d.Remove) > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

// Moves counts the replicas added across a diff: the number of replica
// copies that have to be streamed to new nodes.
func Moves(d []ShardDiff) int {
	n := 0
	for _, x := range d {
		n += len(x.Add)
	}
	return n
}

// Load counts replicas per node.
func (t Table) Load() map[string]int {
	out := make(map[string]int)
	for _, r := range t.Shards {
		for _, n := range r {
			out[n]++
		}
	}
	return out
}

// Rank orders nodes by their rendezvous weight for an arbitrary key
// (highest first), e.g. to choose the meta group's voters. Like Assign, the
// answer depends only on the set of ids.
func Rank(key string, nodes []string) []string {
	ids := slices.Clone(nodes)
	sort.Strings(ids)
	ids = slices.Compact(ids)
	kh := hashString("key:" + key)
	w := make(map[string]uint64, len(ids))
	for _, id := range ids {
		w[id] = Weight(kh, hashString(id))
	}
	sort.SliceStable(ids, func(a, b int) bool { return w[ids[a]] > w[ids[b]] })
	return ids
}
