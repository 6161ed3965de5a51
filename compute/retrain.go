package compute

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// RetrainPolicy decides when the trained model is stale. Counts and
// popularity are always fresh (Stats); this is about the factor model.
type RetrainPolicy struct {
	// MinChanges: retrain once this many orders/events arrived since the
	// last training started.
	MinChanges int64
	// MaxAge (seconds): retrain once the model is this old and anything
	// changed at all.
	MaxAge int64
	// MinInterval (seconds) between two trainings, to bound CPU use under
	// heavy write load.
	MinInterval int64
}

// DefaultRetrainPolicy retrains after 1,000 changes or 6 hours, at most
// every 5 minutes.
func DefaultRetrainPolicy() RetrainPolicy {
	return RetrainPolicy{MinChanges: 1000, MaxAge: 6 * 3600, MinInterval: 300}
}

// Validate checks the policy.
func (p RetrainPolicy) Validate() error {
	if p.MinChanges <= 0 || p.MaxAge <= 0 || p.MinInterval < 0 {
		return fmt.Errorf("retrain policy needs positive min changes and max age and min interval >= 0, got %+v", p)
	}
	return nil
}

// Due reports whether a model trained at trainedAt (unix seconds, 0 =
// never) with changes since then should be rebuilt at now.
func (p RetrainPolicy) Due(changes int64, trainedAt, now int64) bool {
	if trainedAt == 0 {
		return changes > 0
	}
	if changes == 0 || now-trainedAt < p.MinInterval {
		return false
	}
	return changes >= p.MinChanges || now-trainedAt >= p.MaxAge
}

// BuildFunc builds a model from the caller's current state (it takes the
// snapshot itself, so the data version is the caller's).
type BuildFunc func(ctx context.Context) (*Model, error)

// Retrainer owns one background goroutine that rebuilds the model when the
// policy says so and publishes it atomically. Queries read Current and
// never wait for training.
type Retrainer struct {
	policy RetrainPolicy
	build  BuildFunc
	now    func() int64
	check  time.Duration
	log    *slog.Logger

	current   atomic.Pointer[Model]
	changes   atomic.Int64
	trainedAt atomic.Int64
	builds    atomic.Int64
	wake      chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRetrainer returns a stopped retrainer. now is the clock (unix
// seconds); check is how often the age rule is evaluated without changes
// arriving.
func NewRetrainer(policy RetrainPolicy, build BuildFunc, now func() int64, check time.Duration, log *slog.Logger) (*Retrainer, error) {
	if err := policy.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create retrainer: %w", err)
	}
	if build == nil || now == nil || check <= 0 {
		return nil, fmt.Errorf("cannot create retrainer: build, clock and a positive check interval are required")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Retrainer{policy: policy, build: build, now: now, check: check, log: log, wake: make(chan struct{}, 1)}, nil
}

// Current returns the latest published model, or nil before the first.
func (r *Retrainer) Current() *Model { return r.current.Load() }

// Builds returns how many models were published.
func (r *Retrainer) Builds() int64 { return r.builds.Load() }

// Publish installs m directly (e.g. a model built at startup).
func (r *Retrainer) Publish(m *Model) {
	r.current.Store(m)
	r.trainedAt.Store(r.now())
	r.builds.Add(1)
}

// NoteChanges records n new orders or events and wakes the loop.
func (r *Retrainer) NoteChanges(n int64) {
	r.changes.Add(n)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Start launches the background loop; Stop ends it.
func (r *Retrainer) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan struct{})
	go r.loop(ctx, r.done)
}

// Stop cancels a training in progress and waits for the loop to exit.
func (r *Retrainer) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel = nil
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (r *Retrainer) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(r.check)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
		changes := r.changes.Load()
		if !r.policy.Due(changes, r.trainedAt.Load(), r.now()) {
			continue
		}
		started := r.now()
		m, err := r.build(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Error("model retrain failed", "err", err)
			continue
		}
		// Changes that arrived during training count toward the next one.
		r.changes.Add(-changes)
		r.current.Store(m)
		r.trainedAt.Store(started)
		r.builds.Add(1)
		r.log.Info("model retrained", "version", m.Version, "changes", changes)
	}
}
