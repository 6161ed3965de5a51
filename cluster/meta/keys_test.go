package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/sibylhq/sibyl/shard/statemachine"
)

func apply(t *testing.T, r *Registry, kv memKV, op string, at int64, body any) any {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return r.Apply(kv, &statemachine.Command{ID: op + "-test", Op: op, Time: at, Body: b})
}

// stateHolds reports whether any stored byte sequence contains s: what a
// meta snapshot (the group's key range) would carry.
func stateHolds(kv memKV, s string) bool {
	for k, v := range kv {
		if bytes.Contains([]byte(k), []byte(s)) || bytes.Contains(v, []byte(s)) {
			return true
		}
	}
	return false
}

func TestPrivateKeyHashedAtRest(t *testing.T) {
	kv := memKV{}
	r := NewRegistry()
	st, _ := NewStoreInfo("shop", 1)
	create(t, r, kv, st.Sealed())
	if stateHolds(kv, st.PrivateKey) {
		t.Fatal("the registry's state holds the private key in plain text")
	}
	if !stateHolds(kv, HashKey(st.PrivateKey)) {
		t.Fatal("the registry's state lacks the private key's hash")
	}
	if id, kind, ok := r.Authenticate(st.PrivateKey); !ok || id != st.ID || kind != PrivateKey {
		t.Fatalf("private key -> %q %v %v", id, kind, ok)
	}
	// The hash itself is not a key.
	if _, _, ok := r.Authenticate(HashKey(st.PrivateKey)); ok {
		t.Fatal("the key's hash authenticated")
	}
	for _, s := range r.Stores() {
		if s.PrivateKey != "" {
			t.Fatal("Stores() returned a private key")
		}
	}
}

// A log written before hashing carries store.create with the plain key,
// and old state records hold it too. Replaying the log gives hashed state;
// loading old state authenticates at once and the next applied command of
// any kind rewrites the records, the same on every replica.
func TestLegacyPlainKeysMigrate(t *testing.T) {
	st, _ := NewStoreInfo("old shop", 1)
	legacy := st
	legacy.PrivateKeyHash = "" // the old format: key only

	// Replay of an old log entry.
	kv := memKV{}
	r := NewRegistry()
	if res, ok := create(t, r, kv, legacy).(StoreInfo); !ok || res.PrivateKey != "" {
		t.Fatalf("replayed legacy create: %v", res)
	}
	if stateHolds(kv, st.PrivateKey) {
		t.Fatal("replaying a legacy create stored the plain key")
	}
	if _, kind, ok := r.Authenticate(st.PrivateKey); !ok || kind != PrivateKey {
		t.Fatal("replayed legacy store's private key does not authenticate")
	}

	// Old state on disk: load, then any command migrates.
	old := memKV{}
	b, _ := json.Marshal(legacy)
	old.Set([]byte(storeKeyPrefix+st.ID), b)
	replicas := []*Registry{NewRegistry(), NewRegistry()}
	kvs := []memKV{cloneKV(old), cloneKV(old)}
	for i, r := range replicas {
		if err := r.Load(kvs[i]); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := r.Authenticate(st.PrivateKey); !ok {
			t.Fatal("loaded legacy store's private key does not authenticate")
		}
	}
	other, _ := NewStoreInfo("new shop", 2)
	create(t, replicas[0], kvs[0], other.Sealed())
	m := NewMachine(replicas[1], NewPlacementState())
	// A placement command (rejected, it is not a valid table) migrates
	// too: migration does not wait for a registry command.
	m.Apply(kvs[1], &statemachine.Command{ID: "p", Op: OpSetPlacement, Body: []byte(`{}`)})
	for i := range replicas {
		if stateHolds(kvs[i], st.PrivateKey) {
			t.Fatalf("replica %d still holds the plain key after a command", i)
		}
	}
	if !bytes.Equal(kvs[0][storeKeyPrefix+st.ID], kvs[1][storeKeyPrefix+st.ID]) {
		t.Fatal("replicas migrated the legacy record differently")
	}
}

func cloneKV(m memKV) memKV {
	out := memKV{}
	for k, v := range m {
		out[k] = bytes.Clone(v)
	}
	return out
}

func TestRotateKeysOverlap(t *testing.T) {
	kv := memKV{}
	r := NewRegistry()
	st, _ := NewStoreInfo("shop", 1000)
	create(t, r, kv, st.Sealed())
	// Rotation at t=2000 with old keys valid until 5000.
	rk, priv := NewRotation(st.ID, 5000)
	res, ok := apply(t, r, kv, OpRotateKeys, 2000, rk).(StoreInfo)
	if !ok || res.PublicKey != rk.PublicKey || res.PrivateKey != "" {
		t.Fatalf("rotate: %v", res)
	}
	if stateHolds(kv, priv) {
		t.Fatal("the rotated private key is stored in plain text")
	}
	check := func(key string, at int64, want bool) {
		t.Helper()
		id, _, ok := r.authenticateAt(key, at)
		if ok != want || (ok && id != st.ID) {
			t.Fatalf("key %.8s at %d: %q %v, want %v", key, at, id, ok, want)
		}
	}
	check(st.PublicKey, 4999, true)
	check(st.PrivateKey, 4999, true)
	check(st.PrivateKey, 5000, false)
	check(st.PublicKey, 5000, false)
	check(rk.PublicKey, 4000, true)
	check(priv, 9999, true)

	// The overlap survives a reload.
	r2 := NewRegistry()
	if err := r2.Load(kv); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := r2.authenticateAt(st.PrivateKey, 4999); !ok {
		t.Fatal("reloaded registry lost the overlap")
	}

	// A second rotation with no overlap ends the current keys at once and
	// drops retired sets whose window closed before the command's time.
	rk2, priv2 := NewRotation(st.ID, 0)
	apply(t, r, kv, OpRotateKeys, 6000, rk2)
	check(priv, 6001, false)
	check(priv2, 6001, true)
	if s, _ := r.Store(st.ID); len(s.Retired) != 0 {
		t.Fatalf("retired sets after an overlap-free rotation past the first window: %+v", s.Retired)
	}
	// Unknown store.
	rk3, _ := NewRotation("st_nope", 0)
	if err, _ := apply(t, r, kv, OpRotateKeys, 7000, rk3).(error); !errors.Is(err, ErrNoStore) {
		t.Fatalf("rotate unknown store: %v", err)
	}
}

func TestRetiredKeysBounded(t *testing.T) {
	kv := memKV{}
	r := NewRegistry()
	st, _ := NewStoreInfo("shop", 1)
	create(t, r, kv, st.Sealed())
	for i := range 10 {
		rk, _ := NewRotation(st.ID, 1<<40)
		apply(t, r, kv, OpRotateKeys, int64(10+i), rk)
	}
	s, _ := r.Store(st.ID)
	if len(s.Retired) != maxRetired {
		t.Fatalf("%d retired key sets, want %d", len(s.Retired), maxRetired)
	}
	if len(r.pub) != 1+maxRetired || len(r.priv) != 1+maxRetired {
		t.Fatalf("key maps hold %d public and %d private keys, want %d each", len(r.pub), len(r.priv), 1+maxRetired)
	}
}

func TestSetLimits(t *testing.T) {
	kv := memKV{}
	r := NewRegistry()
	st, _ := NewStoreInfo("shop", 1)
	create(t, r, kv, st.Sealed())
	if _, ok := r.Limits(st.ID); ok {
		t.Fatal("a new store has a limit override")
	}
	apply(t, r, kv, OpSetLimits, 2, SetLimits{Store: st.ID, Limits: &RateLimit{Rate: 5, Burst: 10}})
	if l, ok := r.Limits(st.ID); !ok || l.Rate != 5 || l.Burst != 10 {
		t.Fatalf("limits %+v %v", l, ok)
	}
	r2 := NewRegistry()
	r2.Load(kv)
	if l, ok := r2.Limits(st.ID); !ok || l.Rate != 5 {
		t.Fatal("reloaded registry lost the limit override")
	}
	if err, _ := apply(t, r, kv, OpSetLimits, 3, SetLimits{Store: st.ID, Limits: &RateLimit{Rate: 5}}).(error); !errors.Is(err, ErrBadStore) {
		t.Fatalf("rate without burst: %v", err)
	}
	apply(t, r, kv, OpSetLimits, 4, SetLimits{Store: st.ID})
	if _, ok := r.Limits(st.ID); ok {
		t.Fatal("cleared override still set")
	}
	// Keys still work after a limits change.
	if _, _, ok := r.Authenticate(st.PrivateKey); !ok {
		t.Fatal("private key lost after a limits change")
	}
}
