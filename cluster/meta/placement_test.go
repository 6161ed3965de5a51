package meta

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/cluster/placement"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// placementTestKV is an in-memory statemachine.Writer and statemachine.Reader.
type placementTestKV map[string][]byte

func (kv placementTestKV) Set(k, v []byte) error {
	kv[string(k)] = append([]byte(nil), v...)
	return nil
}
func (kv placementTestKV) Delete(k []byte) error { delete(kv, string(k)); return nil }
func (kv placementTestKV) Get(k []byte) ([]byte, error) {
	v, ok := kv[string(k)]
	if !ok {
		return nil, statemachine.ErrNotFound
	}
	return v, nil
}
func (kv placementTestKV) Iterate(prefix []byte, fn func(k, v []byte) error) error {
	var keys []string
	for k := range kv {
		if strings.HasPrefix(k, string(prefix)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), kv[k]); err != nil {
			return err
		}
	}
	return nil
}

func mustSetCmd(t *testing.T, tab placement.Table) *statemachine.Command {
	t.Helper()
	cmd, err := NewSetPlacementCommand(tab, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestPlacementVersionCheck(t *testing.T) {
	kv := placementTestKV{}
	p := NewPlacementState()
	changed := p.Changed()
	v1 := placement.Table{Version: 1, Shards: [][]string{{"a", "b", "c"}, {"b", "c", "a"}}}
	res := p.Apply(kv, mustSetCmd(t, v1))
	if got, ok := res.(placement.Table); !ok || got.Version != 1 {
		t.Fatalf("apply v1 = %v", res)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed by an apply")
	}
	if p.Version() != 1 || !placement.SameAssignment(p.Table(), v1) {
		t.Fatalf("table = %+v", p.Table())
	}

	v2 := placement.Table{Version: 2, Shards: [][]string{{"a", "b", "d"}, {"b", "c", "a"}}}
	cases := []struct {
		name string
		tab  placement.Table
		want error
	}{
		{"replayed v1 is stale", v1, ErrStalePlacement},
		{"skipping a version is rejected", placement.Table{Version: 3, Shards: v2.Shards}, ErrStalePlacement},
		{"version 0 is rejected", placement.Table{Version: 0, Shards: v2.Shards}, ErrStalePlacement},
		{"shard count is fixed", placement.Table{Version: 2, Shards: [][]string{{"a"}}}, placement.ErrShardCount},
	}
	for _, tc := range cases {
		res := p.Apply(kv, mustSetCmd(t, tc.tab))
		if err, _ := res.(error); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, res, tc.want)
		}
		if p.Version() != 1 {
			t.Fatalf("%s: rejected command changed the table to v%d", tc.name, p.Version())
		}
	}
	// A table that does not validate never reaches the log through the
	// constructor, and is rejected by Apply if it does.
	bad := placement.Table{Version: 2, Shards: [][]string{{"a", "a"}, {"b"}}}
	if _, err := NewSetPlacementCommand(bad, 1); !errors.Is(err, placement.ErrBadTable) {
		t.Fatalf("constructor accepted a bad table: %v", err)
	}
	body, _ := json.Marshal(bad)
	if err, _ := p.Apply(kv, &statemachine.Command{ID: "x", Op: OpSetPlacement, Body: body}).(error); !errors.Is(err, placement.ErrBadTable) {
		t.Fatalf("apply of a bad table: %v", err)
	}
	if err, _ := p.Apply(kv, &statemachine.Command{ID: "y", Op: OpSetPlacement, Body: []byte("{")}).(error); !errors.Is(err, placement.ErrBadTable) {
		t.Fatalf("apply of bad json: %v", err)
	}

	if res := p.Apply(kv, mustSetCmd(t, v2)); res.(placement.Table).Version != 2 {
		t.Fatalf("apply v2 = %v", res)
	}

	// Load rebuilds the committed table from storage.
	fresh := NewPlacementState()
	if err := fresh.Load(kv); err != nil {
		t.Fatal(err)
	}
	if fresh.Version() != 2 || !placement.SameAssignment(fresh.Table(), v2) {
		t.Fatalf("loaded %+v", fresh.Table())
	}
	empty := NewPlacementState()
	if err := empty.Load(placementTestKV{}); err != nil || empty.Version() != 0 {
		t.Fatalf("load of empty store: v%d %v", empty.Version(), err)
	}
	if err := empty.Load(placementTestKV{placementKey: []byte("nope")}); err == nil {
		t.Fatal("corrupt record loaded")
	}
}

func TestPlacementTableIsACopy(t *testing.T) {
	p := NewPlacementState()
	p.Apply(placementTestKV{}, mustSetCmd(t, placement.Table{Version: 1, Shards: [][]string{{"a"}}}))
	got := p.Table()
	got.Shards[0][0] = "z"
	if p.Table().Shards[0][0] != "a" {
		t.Fatal("Table exposes internal state")
	}
}

func TestMachineRoutesOps(t *testing.T) {
	kv := placementTestKV{}
	m := NewMachine(NewRegistry(), NewPlacementState())
	st, err := NewStoreInfo("shop", 5)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(st)
	if res := m.Apply(kv, &statemachine.Command{ID: "c1", Op: OpCreateStore, Body: body}); res.(StoreInfo).ID != st.ID {
		t.Fatalf("create store = %v", res)
	}
	if res := m.Apply(kv, mustSetCmd(t, placement.Table{Version: 1, Shards: [][]string{{"a", "b"}}})); res.(placement.Table).Version != 1 {
		t.Fatalf("set placement = %v", res)
	}
	if err, _ := m.Apply(kv, &statemachine.Command{ID: "c3", Op: "placement.nope"}).(error); err == nil || !strings.Contains(err.Error(), "unknown placement op") {
		t.Fatalf("unknown placement op: %v", err)
	}

	again := NewMachine(NewRegistry(), NewPlacementState())
	if err := again.Load(kv); err != nil {
		t.Fatal(err)
	}
	if _, ok := again.Registry.Store(st.ID); !ok || again.Placement.Version() != 1 {
		t.Fatalf("load lost state: store %v, placement v%d", ok, again.Placement.Version())
	}
}
