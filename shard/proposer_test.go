package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// fakeRaft is an in-memory raftApplier: it decodes each entry and answers
// every command with "ok:<id>", or fails entries with err.
type fakeRaft struct {
	mu      sync.Mutex
	state   raft.RaftState
	err     error
	hold    chan struct{} // when set, futures wait for it to close
	entries [][]*statemachine.Command
}

type fakeFuture struct {
	hold  chan struct{}
	err   error
	index uint64
	resp  any
}

func (f *fakeFuture) Error() error {
	if f.hold != nil {
		<-f.hold
	}
	return f.err
}
func (f *fakeFuture) Index() uint64 { return f.index }
func (f *fakeFuture) Response() any { return f.resp }

func (r *fakeRaft) Apply(data []byte, _ time.Duration) raft.ApplyFuture {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmds, err := DecodeBatch(data)
	if err != nil {
		panic(err)
	}
	r.entries = append(r.entries, cmds)
	res := make([]any, len(cmds))
	for i, c := range cmds {
		res[i] = "ok:" + c.ID
	}
	return &fakeFuture{hold: r.hold, err: r.err, index: uint64(len(r.entries)), resp: res}
}

func (r *fakeRaft) State() raft.RaftState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

func (r *fakeRaft) LeaderWithID() (raft.ServerAddress, raft.ServerID) {
	return "10.0.0.2:7947", "n2"
}

func TestProposerBatchesBySizeAndCount(t *testing.T) {
	fr := &fakeRaft{state: raft.Leader}
	cfg := DefaultProposerConfig()
	cfg.Linger = 200 * time.Millisecond // long, so a loaded machine still batches
	cfg.FlushWhenIdle = false
	cfg.MaxCommands = 10
	p := newProposer("g", fr, cfg)
	defer func() { p.close(); p.wait() }()

	var wg sync.WaitGroup
	for i := range 35 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := p.propose(context.Background(), &statemachine.Command{ID: fmt.Sprint(i)})
			if err != nil {
				t.Error(err)
				return
			}
			res, idx, err := f.Wait(context.Background())
			if err != nil || res != "ok:"+fmt.Sprint(i) || idx == 0 {
				t.Errorf("command %d: %v, %d, %v", i, res, idx, err)
			}
		}()
	}
	wg.Wait()
	fr.mu.Lock()
	defer fr.mu.Unlock()
	total := 0
	for _, e := range fr.entries {
		if len(e) > cfg.MaxCommands {
			t.Fatalf("entry of %d commands exceeds MaxCommands %d", len(e), cfg.MaxCommands)
		}
		total += len(e)
	}
	if total != 35 || len(fr.entries) < 4 || len(fr.entries) > 10 {
		t.Fatalf("%d commands in %d entries", total, len(fr.entries))
	}
}

func TestProposerErrors(t *testing.T) {
	fr := &fakeRaft{state: raft.Follower}
	p := newProposer("g", fr, DefaultProposerConfig())
	defer func() { p.close(); p.wait() }()
	ctx := context.Background()

	_, err := p.propose(ctx, &statemachine.Command{ID: "a"})
	var nl *NotLeaderError
	if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) || nl.LeaderAddr != "10.0.0.2:7947" || nl.LeaderID != "n2" {
		t.Fatalf("follower: %v", err)
	}

	fr.mu.Lock()
	fr.state, fr.err = raft.Leader, raft.ErrLeadershipLost
	fr.mu.Unlock()
	f, err := p.propose(ctx, &statemachine.Command{ID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Wait(ctx); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("leadership lost: %v, want ErrNoQuorum", err)
	}

	// No answer before the deadline: ErrNoQuorum, not a hang.
	fr.mu.Lock()
	fr.err, fr.hold = nil, make(chan struct{})
	fr.mu.Unlock()
	f, err = p.propose(ctx, &statemachine.Command{ID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, _, err := f.Wait(tctx); !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("timeout: %v, want ErrNoQuorum", err)
	}
	close(fr.hold)
	if res, _, err := f.Wait(ctx); err != nil || res != "ok:c" {
		t.Fatalf("late result %v, %v", res, err)
	}

	big := &statemachine.Command{ID: "d", Body: make([]byte, 2<<20)}
	if _, err := p.propose(ctx, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized command: %v", err)
	}
	p.close()
	if _, err := p.propose(ctx, &statemachine.Command{ID: "e"}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("after close: %v", err)
	}
}

func TestProposerRespectsMaxBytes(t *testing.T) {
	fr := &fakeRaft{state: raft.Leader}
	cfg := DefaultProposerConfig()
	cfg.Linger = 50 * time.Millisecond
	cfg.FlushWhenIdle = false
	cfg.MaxBytes = 4 << 10
	p := newProposer("g", fr, cfg)
	defer func() { p.close(); p.wait() }()
	var futures []*Future
	for i := range 12 {
		f, err := p.propose(context.Background(), &statemachine.Command{ID: fmt.Sprint(i), Body: make([]byte, 1000)})
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		if _, _, err := f.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	for _, e := range fr.entries {
		if n := len(EncodeBatch(e)); n > cfg.MaxBytes {
			t.Fatalf("entry of %d bytes exceeds MaxBytes %d", n, cfg.MaxBytes)
		}
	}
	if len(fr.entries) < 3 {
		t.Fatalf("12 KB of commands in %d entries under a 4 KiB limit", len(fr.entries))
	}
}

// With FlushWhenIdle a command on an idle group is not held for the
// linger, and commands arriving while an entry is in Raft are batched.
func TestProposerFlushesAtOnceWhenIdle(t *testing.T) {
	fr := &fakeRaft{state: raft.Leader, hold: make(chan struct{})}
	cfg := DefaultProposerConfig()
	cfg.Linger = 300 * time.Millisecond
	p := newProposer("g", fr, cfg)
	defer func() { p.close(); p.wait() }()
	ctx := context.Background()

	start := time.Now()
	first, err := p.propose(ctx, &statemachine.Command{ID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	// The entry reaches Raft without lingering, while it is held there.
	for {
		fr.mu.Lock()
		n := len(fr.entries)
		fr.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Since(start) > cfg.Linger/2 {
			t.Fatalf("a lone command on an idle group was held %v (linger %v)", time.Since(start), cfg.Linger)
		}
		time.Sleep(time.Millisecond)
	}
	// Raft is busy now: these two linger and share one entry.
	var later []*Future
	for _, id := range []string{"b", "c"} {
		f, err := p.propose(ctx, &statemachine.Command{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		later = append(later, f)
	}
	close(fr.hold)
	for _, f := range append([]*Future{first}, later...) {
		if _, _, err := f.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if len(fr.entries) != 2 || len(fr.entries[1]) != 2 {
		t.Fatalf("entries %d, want 2 (the lone command, then b and c together)", len(fr.entries))
	}
}
