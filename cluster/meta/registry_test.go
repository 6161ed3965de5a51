package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/shard/statemachine"
)

type memKV map[string][]byte

func (m memKV) Set(k, v []byte) error { m[string(k)] = bytes.Clone(v); return nil }
func (m memKV) Delete(k []byte) error { delete(m, string(k)); return nil }
func (m memKV) Get(k []byte) ([]byte, error) {
	if v, ok := m[string(k)]; ok {
		return v, nil
	}
	return nil, statemachine.ErrNotFound // the Reader contract
}
func (m memKV) Iterate(prefix []byte, fn func(k, v []byte) error) error {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, string(prefix)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), m[k]); err != nil {
			return err
		}
	}
	return nil
}

func create(t *testing.T, r *Registry, kv memKV, st StoreInfo) any {
	t.Helper()
	b, _ := json.Marshal(st)
	return r.Apply(kv, &statemachine.Command{ID: "c-" + st.ID, Op: OpCreateStore, Body: b})
}

func TestRegistryKeysAndReload(t *testing.T) {
	kv := memKV{}
	r := NewRegistry()
	a, err := NewStoreInfo("Shop A", 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewStoreInfo("Shop B", 2)
	if res, ok := create(t, r, kv, a.Sealed()).(StoreInfo); !ok || res.ID != a.ID || res.PrivateKey != "" || res.PrivateKeyHash != HashKey(a.PrivateKey) {
		t.Fatalf("create a: %v", res)
	}
	create(t, r, kv, b.Sealed())
	for _, c := range []struct {
		key   string
		store string
		kind  KeyKind
	}{{a.PublicKey, a.ID, PublicKey}, {a.PrivateKey, a.ID, PrivateKey}, {b.PublicKey, b.ID, PublicKey}} {
		st, kind, ok := r.Authenticate(c.key)
		if !ok || st != c.store || kind != c.kind {
			t.Fatalf("key %s -> %s %v %v, want %s %v", c.key, st, kind, ok, c.store, c.kind)
		}
	}
	if _, _, ok := r.Authenticate("pk_nope"); ok {
		t.Fatal("unknown key authenticated")
	}
	// Same id again: refused, and the first store's keys are untouched.
	dup := b.Sealed()
	dup.ID = a.ID
	if res, ok := create(t, r, kv, dup).(error); !ok || !errors.Is(res, ErrStoreExists) {
		t.Fatalf("duplicate id: %v", res)
	}
	// A fresh registry loaded from the same state knows the same keys.
	r2 := NewRegistry()
	if err := r2.Load(kv); err != nil {
		t.Fatal(err)
	}
	if st, kind, ok := r2.Authenticate(b.PrivateKey); !ok || st != b.ID || kind != PrivateKey {
		t.Fatal("reloaded registry lost store b's private key")
	}
	if len(r2.Stores()) != 2 {
		t.Fatalf("reloaded %d stores, want 2", len(r2.Stores()))
	}
}

func TestNewStoreInfoValidation(t *testing.T) {
	if _, err := NewStoreInfo("  ", 1); !errors.Is(err, ErrBadStore) {
		t.Fatalf("blank name: %v", err)
	}
	if _, err := NewStoreInfo(strings.Repeat("x", 201), 1); !errors.Is(err, ErrBadStore) {
		t.Fatalf("long name: %v", err)
	}
	x, _ := NewStoreInfo("x", 1)
	y, _ := NewStoreInfo("x", 1)
	if x.ID == y.ID || x.PublicKey == y.PublicKey || x.PrivateKey == y.PrivateKey {
		t.Fatal("two stores got the same id or keys")
	}
}
