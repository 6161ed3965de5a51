package shard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/shard/kv"
	"github.com/sibylhq/sibyl/shard/statemachine"
	"github.com/sibylhq/sibyl/shard/transport"
)

// kvMachine is a tiny StateMachine: op "set" with body "k=v", op "del" with
// body "k", op "reject" returns an error value. It counts Apply calls.
type kvMachine struct {
	mu      sync.Mutex
	data    map[string]string
	applies int
	loads   int
}

func newKV() *kvMachine { return &kvMachine{data: map[string]string{}} }

var errRejected = errors.New("rejected by state machine")

func (m *kvMachine) Apply(w statemachine.Writer, cmd *statemachine.Command) any {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applies++
	switch cmd.Op {
	case "set":
		k, v, _ := strings.Cut(string(cmd.Body), "=")
		if err := w.Set([]byte("kv/"+k), []byte(v)); err != nil {
			return err
		}
		m.data[k] = v
		return "set:" + k
	case "del":
		if err := w.Delete([]byte("kv/" + string(cmd.Body))); err != nil {
			return err
		}
		delete(m.data, string(cmd.Body))
		return "del:" + string(cmd.Body)
	}
	return errRejected
}

func (m *kvMachine) Load(r statemachine.Reader) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	m.data = map[string]string{}
	return r.Iterate([]byte("kv/"), func(k, v []byte) error {
		m.data[strings.TrimPrefix(string(k), "kv/")] = string(v)
		return nil
	})
}

func (m *kvMachine) get(k string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[k]
	return v, ok
}

func (m *kvMachine) snapshot() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]string, len(m.data))
	for k, v := range m.data {
		out[k] = v
	}
	return out
}

func (m *kvMachine) applyCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applies
}

func setCmd(id, k, v string, ms int64) *statemachine.Command {
	return &statemachine.Command{ID: id, Store: "store1", Op: "set", Time: ms, Body: []byte(k + "=" + v)}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func openStateDB(t testing.TB, dir string) *kv.DB {
	t.Helper()
	s := kv.StateSizing()
	s.GCInterval = 0
	db, err := kv.Open(dir, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func openLogDB(t testing.TB, dir string) *kv.DB {
	t.Helper()
	s := kv.LogSizing()
	s.GCInterval = 0
	db, err := kv.Open(dir, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// testNode is one node's storage and port for group-level tests.
type testNode struct {
	id             string
	dir            string
	logDB, stateDB *kv.DB
	mux            *transport.Mux
}

func newTestNode(t testing.TB, id, dir string) *testNode {
	t.Helper()
	n := &testNode{id: id, dir: dir}
	n.logDB = openLogDB(t, dir+"/raft-log")
	n.stateDB = openStateDB(t, dir+"/state")
	var err error
	if n.mux, err = transport.Listen("127.0.0.1:0", "", nil); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *testNode) close() {
	n.mux.Close()
	n.stateDB.Close()
	n.logDB.Close()
}

func (n *testNode) groupConfig(group string, sm statemachine.StateMachine, boot []Peer) GroupConfig {
	c := DefaultGroupConfig()
	c.GroupID, c.NodeID, c.DataDir = group, n.id, n.dir
	c.LogDB, c.StateDB, c.Mux = n.logDB, n.stateDB, n.mux
	c.StateMachine, c.Bootstrap = sm, boot
	c.Timers = FastRaftTimers()
	return c
}

func (n *testNode) self() []Peer { return []Peer{{ID: n.id, Addr: n.mux.Addr().String()}} }

func openGroup(t testing.TB, cfg GroupConfig) *Group {
	t.Helper()
	g, err := OpenGroup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func waitLeader(t testing.TB, g *Group) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("group %s to elect this node", g.ID()), g.IsLeader)
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

type kvDB = kv.DB
