package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// ProposerConfig tunes group commit on the leader.
type ProposerConfig struct {
	// Linger is how long the first command of a batch waits for others.
	Linger time.Duration
	// FlushWhenIdle skips the linger when no entry of the group is in
	// Raft: the first command after a quiet spell goes at once (with
	// whatever is already queued), and batches form only while an entry
	// is being committed, whose fsync is the wait worth sharing.
	FlushWhenIdle bool
	// MaxCommands and MaxBytes flush a batch early.
	MaxCommands int
	MaxBytes    int
	// QueueSize bounds commands waiting to be batched; Propose blocks (up
	// to its context) when it is full.
	QueueSize int
	// InFlight bounds entries handed to Raft and not yet applied.
	InFlight int
	// EnqueueTimeout bounds how long a batch waits to enter Raft's queue.
	EnqueueTimeout time.Duration
}

// DefaultProposerConfig flushes every 1 ms, 512 commands or 1 MiB.
func DefaultProposerConfig() ProposerConfig {
	return ProposerConfig{
		Linger:         time.Millisecond,
		FlushWhenIdle:  true,
		MaxCommands:    512,
		MaxBytes:       1 << 20,
		QueueSize:      4096,
		InFlight:       256,
		EnqueueTimeout: 5 * time.Second,
	}
}

// Validate checks the proposer settings.
func (c ProposerConfig) Validate() error {
	switch {
	case c.Linger < 0:
		return errors.New("proposer: Linger must not be negative")
	case c.MaxCommands < 1:
		return errors.New("proposer: MaxCommands must be at least 1")
	case c.MaxBytes < 1<<10:
		return errors.New("proposer: MaxBytes must be at least 1 KiB")
	case c.QueueSize < 1 || c.InFlight < 1:
		return errors.New("proposer: QueueSize and InFlight must be at least 1")
	case c.EnqueueTimeout <= 0:
		return errors.New("proposer: EnqueueTimeout must be positive")
	}
	return nil
}

// raftApplier is the part of *raft.Raft the proposer uses.
type raftApplier interface {
	Apply(cmd []byte, timeout time.Duration) raft.ApplyFuture
	State() raft.RaftState
	LeaderWithID() (raft.ServerAddress, raft.ServerID)
}

// Future is the pending outcome of one proposed command.
type Future struct {
	done   chan struct{}
	result any
	index  uint64
	err    error
}

func (f *Future) resolve(result any, index uint64, err error) {
	f.result, f.index, f.err = result, index, err
	close(f.done)
}

// Done is closed once the outcome is known.
func (f *Future) Done() <-chan struct{} { return f.done }

// Wait returns the state machine's result for the command and the Raft
// index of the entry that carried it. When ctx ends first the error is
// ErrNoQuorum (deadline) or ctx.Err() (cancel); the command may still apply.
func (f *Future) Wait(ctx context.Context) (any, uint64, error) {
	select {
	case <-f.done:
		return f.result, f.index, f.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, 0, fmt.Errorf("%w: commit not confirmed before deadline", ErrNoQuorum)
		}
		return nil, 0, ctx.Err()
	}
}

type proposal struct {
	cmd    *statemachine.Command
	size   int
	future *Future
}

type inflight struct {
	future raft.ApplyFuture
	batch  []*proposal
}

// proposer collects commands from concurrent callers and flushes them as
// one Raft entry (group commit).
type proposer struct {
	group string
	cfg   ProposerConfig
	raft  raftApplier

	in      chan *proposal
	waiting chan inflight
	// pending counts entries handed to Raft and not yet resolved.
	pending atomic.Int64
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	entries chan<- int // test hook: batch sizes, may be nil
}

func newProposer(group string, r raftApplier, cfg ProposerConfig) *proposer {
	p := &proposer{
		group:   group,
		cfg:     cfg,
		raft:    r,
		in:      make(chan *proposal, cfg.QueueSize),
		waiting: make(chan inflight, cfg.InFlight),
		stop:    make(chan struct{}),
	}
	p.wg.Add(2)
	go p.batchLoop()
	go p.waitLoop()
	return p
}

// propose queues cmd and returns its future. It fails fast with a
// *NotLeaderError when this node is not the leader.
func (p *proposer) propose(ctx context.Context, cmd *statemachine.Command) (*Future, error) {
	if p.raft.State() != raft.Leader {
		return nil, p.notLeader()
	}
	size := encodedSize(cmd)
	if size > p.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, p.cfg.MaxBytes)
	}
	pr := &proposal{cmd: cmd, size: size, future: &Future{done: make(chan struct{})}}
	select {
	case <-p.stop:
		return nil, ErrShutdown
	default:
	}
	select {
	case p.in <- pr:
		return pr.future, nil
	case <-p.stop:
		return nil, ErrShutdown
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: proposal queue full: %w", ErrNoQuorum, ctx.Err())
	}
}

func (p *proposer) notLeader() error {
	addr, id := p.raft.LeaderWithID()
	return &NotLeaderError{Group: p.group, LeaderID: string(id), LeaderAddr: string(addr)}
}

func (p *proposer) batchLoop() {
	defer p.wg.Done()
	defer close(p.waiting)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *proposal
		select {
		case first = <-p.in:
		case <-p.stop:
			p.failQueued()
			return
		}
		batch, bytes := []*proposal{first}, first.size
		if p.cfg.FlushWhenIdle && p.pending.Load() == 0 {
			batch = p.drainQueued(batch, bytes)
			p.flush(batch)
			continue
		}
		timer.Reset(p.cfg.Linger)
	collect:
		for len(batch) < p.cfg.MaxCommands {
			select {
			case pr := <-p.in:
				batch, bytes = p.add(batch, bytes, pr)
			case <-timer.C:
				break collect
			case <-p.stop:
				timer.Stop()
				fail(batch, ErrShutdown)
				p.failQueued()
				return
			}
		}
		timer.Stop()
		p.flush(batch)
	}
}

// add appends pr to batch, flushing the batch first when pr would take
// it past MaxBytes.
func (p *proposer) add(batch []*proposal, bytes int, pr *proposal) ([]*proposal, int) {
	if bytes+pr.size > p.cfg.MaxBytes {
		p.flush(batch)
		batch, bytes = nil, 0
	}
	return append(batch, pr), bytes + pr.size
}

// drainQueued adds to batch the commands already queued, without
// waiting, and flushes early the ones beyond the batch limits.
func (p *proposer) drainQueued(batch []*proposal, bytes int) []*proposal {
	for len(batch) < p.cfg.MaxCommands {
		select {
		case pr := <-p.in:
			batch, bytes = p.add(batch, bytes, pr)
		default:
			return batch
		}
	}
	return batch
}

func (p *proposer) failQueued() {
	for {
		select {
		case pr := <-p.in:
			pr.future.resolve(nil, 0, ErrShutdown)
		default:
			return
		}
	}
}

func fail(batch []*proposal, err error) {
	for _, pr := range batch {
		pr.future.resolve(nil, 0, err)
	}
}

func (p *proposer) flush(batch []*proposal) {
	if len(batch) == 0 {
		return
	}
	if p.entries != nil {
		p.entries <- len(batch)
	}
	if p.raft.State() != raft.Leader {
		fail(batch, p.notLeader())
		return
	}
	cmds := make([]*statemachine.Command, len(batch))
	for i, pr := range batch {
		cmds[i] = pr.cmd
	}
	p.pending.Add(1)
	f := p.raft.Apply(EncodeBatch(cmds), p.cfg.EnqueueTimeout)
	// Blocks when InFlight entries are pending: backpressure on callers.
	p.waiting <- inflight{future: f, batch: batch}
}

// waitLoop resolves futures in commit order. It ends when batchLoop has
// closed waiting; raft resolves outstanding futures on shutdown.
func (p *proposer) waitLoop() {
	defer p.wg.Done()
	for in := range p.waiting {
		err := in.future.Error()
		p.pending.Add(-1)
		if err != nil {
			fail(in.batch, p.mapErr(err))
			continue
		}
		index := in.future.Index()
		switch resp := in.future.Response().(type) {
		case []any:
			if len(resp) != len(in.batch) {
				fail(in.batch, fmt.Errorf("group %s: fsm returned %d results for %d commands", p.group, len(resp), len(in.batch)))
				continue
			}
			for i, pr := range in.batch {
				pr.future.resolve(resp[i], index, nil)
			}
		case error:
			fail(in.batch, resp)
		default:
			fail(in.batch, fmt.Errorf("group %s: unexpected fsm response %T", p.group, resp))
		}
	}
}

func (p *proposer) mapErr(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return p.notLeader()
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("group %s: %w: %w", p.group, ErrNoQuorum, err)
	}
	return fmt.Errorf("group %s: %w", p.group, err)
}

// close stops batching and fails queued commands. Futures already in Raft
// are resolved when Raft shuts down; call wait after that.
func (p *proposer) close() {
	p.stopped.Do(func() { close(p.stop) })
}

func (p *proposer) wait() { p.wg.Wait() }
