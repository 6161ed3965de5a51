package shard

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/shard/statemachine"
)

// TestWriterRefusesOversizedWrites: a state machine writing a value over
// MaxValueBytes or a key over MaxKeyBytes gets ErrWriteTooLarge from the
// Writer; the command is rejected with none of its writes kept, and the
// group goes on and restarts cleanly. Before the bound, Badger refused the
// WriteBatch and ApplyBatch panicked on every replica and every replay.
func TestWriterRefusesOversizedWrites(t *testing.T) {
	if MaxValueBytes >= 256<<20 || MaxKeyBytes >= 65000 {
		t.Fatalf("write bounds %d/%d not below Badger's limits", MaxValueBytes, MaxKeyBytes)
	}
	dir := t.TempDir()
	n := newTestNode(t, "n1", dir)
	sm := newKV()
	g := openGroup(t, n.groupConfig("s0", sm, n.self()))
	waitLeader(t, g)
	raw := func(c *statemachine.Command) any {
		t.Helper()
		f := g.raft.Apply(EncodeBatch([]*statemachine.Command{c}), 30*time.Second)
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		return f.Response().([]any)[0]
	}
	for i, c := range []*statemachine.Command{
		setCmd("big-value", "k", strings.Repeat("v", MaxValueBytes+1), 1),
		setCmd("big-key", strings.Repeat("k", MaxKeyBytes), "v", 2),
	} {
		err, _ := raw(c).(error)
		if !errors.Is(err, ErrWriteTooLarge) {
			t.Fatalf("command %d: result %v, want ErrWriteTooLarge", i, err)
		}
		if res := raw(setCmd("ok"+c.ID, "ok", c.ID, int64(3+i))); res != "set:ok" {
			t.Fatalf("normal write after %s: %v", c.ID, res)
		}
	}
	if got := g.fsm.Rejected(); got != 2 {
		t.Fatalf("FSM counted %d rejections, want 2", got)
	}
	// A duplicate of a rejected command is still a duplicate: its id was
	// recorded, as for every decided command.
	if err, _ := raw(setCmd("big-key", "x", "y", 9)).(error); !errors.Is(err, ErrDuplicateCommand) {
		t.Fatalf("retry of a rejected command: %v, want ErrDuplicateCommand", err)
	}
	want := sm.snapshot()
	g.Shutdown()
	n.close()

	n = newTestNode(t, "n1", dir)
	defer n.close()
	sm = newKV()
	g = openGroup(t, n.groupConfig("s0", sm, n.self()))
	defer g.Shutdown()
	if got := sm.snapshot(); len(got) != len(want) || got["ok"] != want["ok"] || got["k"] != "" {
		t.Fatalf("after restart %v, want %v", got, want)
	}
}

// rejectAfterWrite writes, then rejects: the write must not be kept.
type rejectAfterWrite struct{ kvMachine }

func (m *rejectAfterWrite) Apply(w statemachine.Writer, cmd *statemachine.Command) any {
	if cmd.Op == "write-then-reject" {
		_ = w.Set([]byte("kv/leaked"), []byte("x"))
		return errRejected
	}
	return m.kvMachine.Apply(w, cmd)
}

// TestRejectedCommandWritesNothing: the FSM keeps a command's writes only
// when the state machine accepts it.
func TestRejectedCommandWritesNothing(t *testing.T) {
	dir := t.TempDir()
	n := newTestNode(t, "n1", dir)
	sm := &rejectAfterWrite{kvMachine: *newKV()}
	g := openGroup(t, n.groupConfig("s0", sm, n.self()))
	waitLeader(t, g)
	ctx := ctxTimeout(t, 10*time.Second)
	if res, _, err := g.Propose(ctx, &statemachine.Command{ID: "r", Store: "s", Op: "write-then-reject", Time: 1}); err != nil || !errors.Is(asErr(res), errRejected) {
		t.Fatalf("result %v, %v", res, err)
	}
	if _, _, err := g.Propose(ctx, setCmd("a", "a", "1", 2)); err != nil {
		t.Fatal(err)
	}
	g.Shutdown()
	n.close()
	n = newTestNode(t, "n1", dir)
	defer n.close()
	sm2 := newKV()
	g = openGroup(t, n.groupConfig("s0", sm2, n.self()))
	defer g.Shutdown()
	if got := sm2.snapshot(); len(got) != 1 || got["a"] != "1" {
		t.Fatalf("state after restart %v, want only a=1 (the rejected command's write leaked)", got)
	}
}

// TestApplyPanicIsRejected: a state machine that panics on a command
// (a bug) rejects that command instead of stopping the node, on every
// replica alike.
func TestApplyPanicIsRejected(t *testing.T) {
	n := newTestNode(t, "n1", t.TempDir())
	defer n.close()
	sm := &panicky{kvMachine: *newKV()}
	g := openGroup(t, n.groupConfig("s0", sm, n.self()))
	defer g.Shutdown()
	waitLeader(t, g)
	ctx := ctxTimeout(t, 10*time.Second)
	res, _, err := g.Propose(ctx, &statemachine.Command{ID: "p", Store: "s", Op: "panic", Time: 1})
	if err != nil || !errors.Is(asErr(res), ErrBadCommand) {
		t.Fatalf("result %v, %v; want ErrBadCommand", res, err)
	}
	if res, _, err := g.Propose(ctx, setCmd("a", "a", "1", 2)); err != nil || res != "set:a" {
		t.Fatalf("write after the panic: %v, %v", res, err)
	}
}

type panicky struct{ kvMachine }

func (m *panicky) Apply(w statemachine.Writer, cmd *statemachine.Command) any {
	if cmd.Op == "panic" {
		var list []int
		return list[3]
	}
	return m.kvMachine.Apply(w, cmd)
}
