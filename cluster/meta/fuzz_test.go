package meta

import (
	"encoding/json"
	"maps"
	"reflect"
	"testing"

	"github.com/sibylhq/sibyl/shard/statemachine"
)

// FuzzMachineApply drives the meta group's state machine with arbitrary
// commands, as a replica would apply a hostile or corrupt log entry: it
// must answer every command (a result or an error value) without panic,
// and what it keeps in memory must be exactly what a replica rebuilds
// from the writes it made (Load), so a restart never disagrees with the
// replicas that applied the command live. Rejected commands' writes are
// dropped, as shard.FSM drops them.
func FuzzMachineApply(f *testing.F) {
	st, err := NewStoreInfo("shop", 1_700_000_000_000)
	if err != nil {
		f.Fatal(err)
	}
	created, _ := json.Marshal(st.Sealed())
	f.Add(OpCreateStore, created, int64(1))
	f.Add(OpCreateStore, []byte(`{"id":"st_x","public_key":"pk_x","private_key":"sk_x"}`), int64(1))
	f.Add(OpRotateKeys, []byte(`{"store":"st_x","public_key":"pk_y","private_key_hash":"00"}`), int64(5))
	f.Add(OpSetLimits, []byte(`{"store":"st_x","limits":{"rate":-1,"burst":0}}`), int64(5))
	f.Add(OpSetPlacement, []byte(`{"version":1,"shards":[["a"]]}`), int64(1))
	f.Add("store.unknown", []byte(`{}`), int64(0))

	f.Fuzz(func(t *testing.T, op string, body []byte, at int64) {
		kv := memKV{}
		m := NewMachine(NewRegistry(), NewPlacementState())
		// A known store first, so rotations and limits have a target.
		base, _ := NewStoreInfo("base", 1)
		b, _ := json.Marshal(base.Sealed())
		if res := m.Apply(kv, &statemachine.Command{ID: "c0", Op: OpCreateStore, Body: b, Time: 1}); isErr(res) {
			t.Fatalf("creating the base store: %v", res)
		}
		for i, o := range []string{op, OpRotateKeys, OpSetLimits} {
			scratch := maps.Clone(kv)
			res := m.Apply(scratch, &statemachine.Command{ID: "c", Op: o, Body: body, Time: at})
			if res == nil {
				t.Fatalf("command %d (%q) answered nil", i, o)
			}
			if !isErr(res) {
				kv = scratch
			}
		}
		reloaded := NewMachine(NewRegistry(), NewPlacementState())
		if err := reloaded.Load(kv); err != nil {
			t.Fatalf("state written by accepted commands does not load: %v", err)
		}
		if got, want := reloaded.Registry.Stores(), m.Registry.Stores(); !reflect.DeepEqual(got, want) {
			t.Fatalf("memory and reloaded state differ:\nlive     %+v\nreloaded %+v", want, got)
		}
		if got, want := reloaded.Placement.Table(), m.Placement.Table(); !reflect.DeepEqual(got, want) {
			t.Fatalf("placement differs after reload: live %+v, reloaded %+v", want, got)
		}
	})
}

func isErr(res any) bool { _, ok := res.(error); return ok }
