package shard_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard"
	"github.com/sibylhq/sibyl/shard/kv"
	"github.com/sibylhq/sibyl/shard/statemachine"
	"github.com/sibylhq/sibyl/shard/transport"
)

// engineNode is one node's storage and a single-voter group running the
// real engine, opened from dir (again after a restart).
type engineNode struct {
	logDB, stateDB *kv.DB
	mux            *transport.Mux
	g              *shard.Group
	eng            *engine.Engine
}

func openEngineNode(t *testing.T, dir string) *engineNode {
	t.Helper()
	n := openReplica(t, dir, "n1", true, shard.FastRaftTimers())
	deadline := time.Now().Add(10 * time.Second)
	for !n.g.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("the group elected no leader in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return n
}

// openReplica opens node id's replica of group s0 from dir; bootstrap
// makes it the group's first voter.
func openReplica(t *testing.T, dir, id string, bootstrap bool, timers shard.RaftTimers) *engineNode {
	t.Helper()
	n := &engineNode{eng: engine.New(engine.DefaultConfig())}
	var err error
	ls, ss := kv.LogSizing(), kv.StateSizing()
	ls.GCInterval, ss.GCInterval = 0, 0
	if n.logDB, err = kv.Open(dir+"/raft-log", ls, nil); err != nil {
		t.Fatal(err)
	}
	if n.stateDB, err = kv.Open(dir+"/state", ss, nil); err != nil {
		t.Fatal(err)
	}
	if n.mux, err = transport.Listen("127.0.0.1:0", "", nil); err != nil {
		t.Fatal(err)
	}
	c := shard.DefaultGroupConfig()
	c.GroupID, c.NodeID, c.DataDir = "s0", id, dir
	c.LogDB, c.StateDB, c.Mux = n.logDB, n.stateDB, n.mux
	c.StateMachine = n.eng
	if bootstrap {
		c.Bootstrap = []shard.Peer{{ID: id, Addr: n.mux.Addr().String()}}
	}
	c.Timers = timers
	if n.g, err = shard.OpenGroup(c); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *engineNode) close() {
	n.g.Shutdown()
	n.mux.Close()
	n.stateDB.Close()
	n.logDB.Close()
}

// raw appends one command to the log as it is (no proposer) and returns
// its result.
func (n *engineNode) raw(t *testing.T, c *statemachine.Command) any {
	t.Helper()
	res, err := shard.RaftApplyForTest(n.g, shard.EncodeBatch([]*statemachine.Command{c}), 30*time.Second)
	if err != nil {
		t.Fatalf("raft apply of %s: %v", c.Op, err)
	}
	list, ok := res.([]any)
	if !ok || len(list) != 1 {
		t.Fatalf("response %T %v, want one result", res, res)
	}
	return list[0]
}

var cmdSeq int

func eventsCmd(evs ...engine.Event) *statemachine.Command {
	cmdSeq++
	return &statemachine.Command{ID: fmt.Sprintf("c%d", cmdSeq), Store: "st1", Op: engine.OpEvents, Time: int64(1_000 + cmdSeq), Body: engine.EncodeEvents(evs)}
}

func ids(prefix string, n int) []ingest.ID {
	out := make([]ingest.ID, n)
	for i := range out {
		out[i] = ingest.ID(fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// state is what the test compares across restarts: the visitor's session
// and the label counts.
func state(t *testing.T, n *engineNode) string {
	t.Helper()
	st := n.eng.Store("st1")
	if st == nil {
		return "store st1 has no state"
	}
	items, kinds, cart := st.VisitorItems("v1")
	rows, total, other := st.LabelsPage(0, 100)
	var labels []string
	for _, r := range rows {
		labels = append(labels, fmt.Sprintf("%s:%d/%d", r.Label, r.Clicks, r.Sales))
	}
	return fmt.Sprintf("items=%v kinds=%v cart=%v email=%q labels=%v total=%d other=%+v p1=%v",
		items, kinds, cart, st.VisitorEmail("v1"), labels, total, other, st.Product("p1") != nil)
}

// poisonCase is a command that must be rejected with an error wrapping
// want.
type poisonCase struct {
	name string
	cmd  *statemachine.Command
	want error
}

// poisonCommands are the commands that once crashed every replica or
// stalled a shard, and their relatives.
func poisonCommands() []poisonCase {
	mb := strings.Repeat("x", 1<<20)
	huge := strings.Repeat("y", 100<<10)
	twelveK := make([]string, 12_000)
	for i := range twelveK {
		twelveK[i] = fmt.Sprintf("label-%d", i)
	}
	return []poisonCase{
		{"click 12k products x 12k labels", eventsCmd(engine.Event{Kind: engine.EventClick, Visitor: "v1", Products: ids("p", 12_000), Labels: twelveK, Time: 10}), engine.ErrRejected},
		{"cart_add 300k ids", eventsCmd(engine.Event{Kind: engine.EventCartAdd, Visitor: "v1", Products: ids("c", 300_000), Time: 11}), engine.ErrRejected},
		{"cart_remove 300k ids", eventsCmd(engine.Event{Kind: engine.EventCartRemove, Visitor: "v1", Products: ids("c", 300_000), Time: 11}), engine.ErrRejected},
		{"product view with a 1 MB id", eventsCmd(engine.Event{Kind: engine.EventProduct, Visitor: "v1", Products: []ingest.ID{ingest.ID(mb)}, Time: 12}), engine.ErrRejected},
		{"email of 1 MB", eventsCmd(engine.Event{Kind: engine.EventEmail, Visitor: "v1", Email: mb, Time: 13}), engine.ErrRejected},
		{"visitor of 100 KB", eventsCmd(engine.Event{Kind: engine.EventProduct, Visitor: huge, Products: []ingest.ID{"p1"}, Time: 14}), engine.ErrRejected},
		{"label of 100 KB", eventsCmd(engine.Event{Kind: engine.EventClick, Visitor: "v1", Products: []ingest.ID{"p1"}, Labels: []string{huge}, Time: 15}), engine.ErrRejected},
		{"unknown event kind", eventsCmd(engine.Event{Kind: "explode", Visitor: "v1", Time: 16}), engine.ErrRejected},
		// A good event before a bad one in the same command: nothing of
		// the command may apply.
		{"good then bad event", eventsCmd(
			engine.Event{Kind: engine.EventEmail, Visitor: "v1", Email: "first@example.com", Time: 17},
			engine.Event{Kind: engine.EventEmail, Visitor: "v1", Email: mb, Time: 17}), engine.ErrRejected},
		{"events body of garbage", &statemachine.Command{ID: "g1", Store: "st1", Op: engine.OpEvents, Time: 20, Body: []byte("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff garbage")}, engine.ErrRejected},
		{"events body of random bytes", &statemachine.Command{ID: "g2", Store: "st1", Op: engine.OpEvents, Time: 21, Body: bytes.Repeat([]byte{0x01, 0x80}, 5000)}, engine.ErrRejected},
		{"product with a 1 MB id", &statemachine.Command{ID: "g3", Store: "st1", Op: engine.Op(ingest.KindProducts, engine.ActionUpsert), Time: 22,
			Body: []byte(`[{"id":"p2","name":"ok"},{"id":"` + mb + `","name":"big"}]`)}, engine.ErrRejected},
		{"orders of garbage", &statemachine.Command{ID: "g4", Store: "st1", Op: engine.Op(ingest.KindOrders, engine.ActionUpsert), Time: 23, Body: []byte{5, 1, 2, 3}}, engine.ErrRejected},
		{"delete of a 1 MB id", &statemachine.Command{ID: "g5", Store: "st1", Op: engine.Op(ingest.KindProducts, engine.ActionDelete), Time: 24, Body: []byte(`["p1","` + mb + `"]`)}, engine.ErrRejected},
		{"store id of 100 KB", &statemachine.Command{ID: "g6", Store: huge, Op: engine.OpEvents, Time: 25, Body: engine.EncodeEvents(nil)}, engine.ErrRejected},
		{"record of 9 MiB", &statemachine.Command{ID: "g7", Store: "st1", Op: engine.Op(ingest.KindProducts, engine.ActionUpsert), Time: 27,
			Body: []byte(`[{"id":"big","name":"x","description":"` + strings.Repeat("d", 9<<20) + `"}]`)}, engine.ErrRejected},
		{"command id of 100 KB", &statemachine.Command{ID: huge, Store: "st1", Op: engine.OpEvents, Time: 26, Body: engine.EncodeEvents(nil)}, shard.ErrBadCommand},
	}
}

// TestPoisonCommandsRejectedEverywhere proposes, straight into Raft (no
// API, no proposer size check), each command that once crashed every
// replica or stalled a shard: the 12,000 x 12,000 click, a 300,000-id
// cart, megabyte ids and emails, garbage. Each must come back as an error
// result, the group must keep accepting writes, and a restart (state kept,
// then state deleted so the whole log replays) must come back with the
// same state.
func TestPoisonCommandsRejectedEverywhere(t *testing.T) {
	dir := t.TempDir()
	n := openEngineNode(t, dir)
	good := 0
	normal := func() {
		t.Helper()
		good++
		res := n.raw(t, eventsCmd(engine.Event{Kind: engine.EventCartAdd, Visitor: "v1", Products: []ingest.ID{ingest.ID(fmt.Sprintf("ok%d", good))}, Time: int64(good)}))
		if err, ok := res.(error); ok {
			t.Fatalf("normal write %d rejected: %v", good, err)
		}
	}
	normal()
	if res := n.raw(t, eventsCmd(engine.Event{Kind: engine.EventClick, Visitor: "v1", Products: []ingest.ID{"p1"}, Labels: []string{"home"}, Time: 5})); isErr(res) {
		t.Fatalf("click rejected: %v", res)
	}
	if res := n.raw(t, &statemachine.Command{ID: "prod", Store: "st1", Op: engine.Op(ingest.KindProducts, engine.ActionUpsert), Time: 6,
		Body: []byte(`[{"id":"p1","name":"Lamp","price":10}]`)}); isErr(res) {
		t.Fatalf("product upsert rejected: %v", res)
	}

	start := time.Now()
	for _, tc := range poisonCommands() {
		res := n.raw(t, tc.cmd)
		err, _ := res.(error)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: result %v, want an error wrapping %v", tc.name, res, tc.want)
		}
		if len(err.Error()) > 400 {
			t.Errorf("%s: error message of %d bytes quotes too much of the input: %.200s", tc.name, len(err.Error()), err)
		}
		normal()
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the poison commands took %v to reject", d)
	}
	// An entry that is not a command batch at all.
	res, err := shard.RaftApplyForTest(n.g, []byte("definitely not a batch"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rerr, _ := res.(error); !errors.Is(rerr, shard.ErrBadBatch) {
		t.Fatalf("garbage entry: response %v, want ErrBadBatch", res)
	}
	normal()
	if got := shard.FSMRejectedForTest(n.g); got < 18 {
		t.Errorf("FSM counted %d rejections, want at least 18", got)
	}

	want := state(t, n)
	// The rejected commands left nothing: the cart holds only the normal
	// writes, the email was never set, the labels are the one click's.
	_, _, cart := n.eng.Store("st1").VisitorItems("v1")
	if len(cart) != good || n.eng.Store("st1").VisitorEmail("v1") != "" || !strings.Contains(want, "labels=[home:1/0] total=1") {
		t.Fatalf("state after the rejections: %s (want %d cart items, no email, one label)", want, good)
	}
	if n.eng.Store("st1").Product("p2") != nil {
		t.Fatal("p2 of a rejected product batch was applied")
	}

	// Restart with the state kept, then with the state deleted: the
	// whole log, poison included, replays.
	n.close()
	n = openEngineNode(t, dir)
	if got := state(t, n); got != want {
		t.Fatalf("after restart:\n got %s\nwant %s", got, want)
	}
	normal()
	want = state(t, n)
	n.close()
	if err := os.RemoveAll(dir + "/state"); err != nil {
		t.Fatal(err)
	}
	n = openEngineNode(t, dir)
	defer n.close()
	deadline := time.Now().Add(30 * time.Second)
	for state(t, n) != want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := state(t, n); got != want {
		t.Fatalf("after a full replay:\n got %s\nwant %s", got, want)
	}
	normal()
}

func isErr(v any) bool { _, ok := v.(error); return ok }

// TestPoisonCommandsSameOnEveryReplica: three replicas apply the poison
// commands and a normal write after each; every replica rejects alike,
// keeps up, and ends with the same state.
func TestPoisonCommandsSameOnEveryReplica(t *testing.T) {
	// Slower than FastRaftTimers: the poison entries are megabytes, and a
	// loaded 2-core machine must not lose the leader's lease mid-test.
	timers := shard.FastRaftTimers()
	timers.HeartbeatTimeout, timers.ElectionTimeout, timers.LeaderLeaseTimeout = time.Second, time.Second, 500*time.Millisecond
	leader := openReplica(t, t.TempDir(), "n1", true, timers)
	defer leader.close()
	deadline := time.Now().Add(20 * time.Second)
	for !leader.g.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no leader in 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	nodes := []*engineNode{leader}
	for _, id := range []string{"n2", "n3"} {
		n := openReplica(t, t.TempDir(), id, false, timers)
		defer n.close()
		if err := leader.g.AddVoter(t.Context(), shard.Peer{ID: id, Addr: n.mux.Addr().String()}); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	for i, tc := range poisonCommands() {
		if err, _ := leader.raw(t, tc.cmd).(error); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if res := leader.raw(t, eventsCmd(engine.Event{Kind: engine.EventCartAdd, Visitor: "v1", Products: []ingest.ID{ingest.ID(fmt.Sprint("ok", i))}, Time: int64(i)})); isErr(res) {
			t.Fatalf("normal write after %s: %v", tc.name, res)
		}
	}
	want := state(t, leader)
	for _, n := range nodes[1:] {
		deadline := time.Now().Add(20 * time.Second)
		for n.g.AppliedIndex() < leader.g.AppliedIndex() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := state(t, n); got != want {
			t.Fatalf("replica state differs:\n got %s\nwant %s", got, want)
		}
		if got, w := shard.FSMRejectedForTest(n.g), shard.FSMRejectedForTest(leader.g); got != w {
			t.Fatalf("replica rejected %d commands, leader %d", got, w)
		}
	}
}
