package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest/schedule"
	"github.com/sibylhq/sibyl/ingest/source"
	"github.com/sibylhq/sibyl/query"
	"github.com/sibylhq/sibyl/shard"
)

// Data Sync's runner: one schedule.Loop per node, holding the stores
// whose shard this node leads (on a single node, all of them). A store's
// configuration and its runs are replicated (engine/sync.go), so whichever
// node leads the shard knows when the store last ran and takes over its
// schedule; a store is scheduled on one node at a time because only the
// shard's leader schedules it, and a node that loses the lead removes the
// shard's stores from its Loop and cancels their running syncs.
//
// How the runner learns of changes without work per store: each engine
// counts the sync commands it applied (Engine.SyncChanges). A watcher
// looks, every WatchInterval, at each shard's leadership and counter
// (two loads per shard) and rereads a shard's configurations only when
// one of them moved. The Loop itself sleeps on one timer until the
// earliest due store.

// SyncConfig tunes the Data Sync runner.
type SyncConfig struct {
	// MaxConcurrent is the most syncs that run at once on the node.
	MaxConcurrent int
	// Client is the HTTP client every sync of the node fetches with.
	Client source.ClientConfig
	// WatchInterval is how often shard leadership and configuration
	// changes are looked for (a POST /v2/sync/start does not wait for
	// it).
	WatchInterval time.Duration
}

// DefaultSyncConfig runs at most 4 syncs at once and looks for
// leadership changes every second.
func DefaultSyncConfig() SyncConfig {
	return SyncConfig{MaxConcurrent: schedule.DefaultConfig().MaxConcurrent, Client: source.DefaultClientConfig(), WatchInterval: time.Second}
}

// Validate reports a configuration that cannot work.
func (c SyncConfig) Validate() error {
	if err := (schedule.Config{MaxConcurrent: c.MaxConcurrent}).Validate(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := c.Client.Validate(); err != nil {
		return fmt.Errorf("sync client: %w", err)
	}
	if c.WatchInterval <= 0 {
		return errors.New("sync: watch interval must be positive")
	}
	return nil
}

// syncRunner schedules and runs the syncs of the stores this node leads.
type syncRunner struct {
	n      *Node
	cfg    SyncConfig
	loop   *schedule.Loop
	client *source.Client
	ctx    context.Context // ends at node shutdown

	mu sync.Mutex
	// led maps the data groups this node leads to the engine's
	// SyncChanges when their stores were last read.
	led map[string]uint64
	// stores maps each store in the Loop to its group and schedule.
	stores map[string]scheduled
	// running holds the runs in progress, by store.
	running map[string]*activeRun
	// pending holds the run id StartSync promised, by store.
	pending map[string]string
}

type scheduled struct {
	group    string
	schedule schedule.Schedule
}

type activeRun struct {
	id     string
	group  string
	cancel context.CancelCauseFunc
}

// Why a run is cancelled. A run cancelled because its node lost the lead
// (or stops) leaves its record "running" for the next leader, which
// records it interrupted and starts it again; a run whose configuration
// was removed records its own end.
var (
	errLostLead    = errors.New("this node no longer leads the store's shard")
	errSyncRemoved = errors.New("the store's sync configuration was removed")
)

// startSync starts the runner's Loop and watcher, both tracked by the
// node's WaitGroup and stopped with ctx.
func (n *Node) startSync(ctx context.Context) error {
	r := &syncRunner{n: n, cfg: n.cfg.Sync, client: source.NewClient(n.cfg.Sync.Client), ctx: ctx,
		led: make(map[string]uint64), stores: make(map[string]scheduled),
		running: make(map[string]*activeRun), pending: make(map[string]string)}
	loop, err := schedule.NewLoop(schedule.Config{MaxConcurrent: r.cfg.MaxConcurrent}, schedule.RealClock(), r.start)
	if err != nil {
		return err
	}
	r.loop = loop
	if err := loop.Run(ctx); err != nil {
		return err
	}
	n.sync.Store(r)
	n.wg.Add(2)
	go func() { defer n.wg.Done(); <-loop.Done() }()
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(r.cfg.WatchInterval)
		defer t.Stop()
		for {
			r.watch()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// dataEngines returns the node's data engines by group id.
func (n *Node) dataEngines() map[string]*engine.Engine {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]*engine.Engine, len(n.engines))
	for g, e := range n.engines {
		out[g] = e
	}
	return out
}

// watch follows shard leadership and configuration changes.
func (r *syncRunner) watch() {
	engines := r.n.dataEngines()
	for gid, e := range engines {
		g := r.n.shards.Group(gid)
		leads := g != nil && g.IsLeader()
		r.mu.Lock()
		seen, wasLed := r.led[gid]
		r.mu.Unlock()
		switch {
		case leads && (!wasLed || seen != e.SyncChanges()):
			r.adopt(gid, e)
		case !leads && wasLed:
			r.drop(gid)
		}
	}
	r.mu.Lock()
	var gone []string
	for gid := range r.led {
		if engines[gid] == nil {
			gone = append(gone, gid)
		}
	}
	r.mu.Unlock()
	for _, gid := range gone {
		r.drop(gid)
	}
}

// adopt (re)reads the sync configurations of a group this node leads and
// puts its stores in the Loop. A run another node left "running" (it
// stopped or lost the lead mid-sync, applying no deletes) is recorded as
// failed and the store started again at once.
func (r *syncRunner) adopt(gid string, e *engine.Engine) {
	version := e.SyncChanges()
	ids := e.SyncStores()
	want := make(map[string]bool, len(ids))
	var restart []string
	for _, id := range ids {
		st := e.Store(id)
		if st == nil {
			continue
		}
		cfg, ok := st.SyncConfig()
		if !ok {
			continue
		}
		want[id] = true
		r.mu.Lock()
		cur, known := r.stores[id]
		mine := ""
		if a := r.running[id]; a != nil {
			mine = a.id
		}
		r.stores[id] = scheduled{group: gid, schedule: cfg.Schedule}
		r.mu.Unlock()
		if !known || cur.schedule != cfg.Schedule {
			r.loop.Upsert(id, cfg.Schedule, st.SyncState())
		}
		// A run recorded running that this node, the leader, is not
		// running was left by another node (or by this one before a
		// restart). It may become visible after the lead is taken (the
		// log is applied behind the election), so every adopt looks.
		interrupted := false
		for _, run := range st.SyncRuns() {
			if run.State != engine.RunRunning || run.ID == mine {
				continue
			}
			run.State, run.Finished = engine.RunFailed, time.Now().UTC()
			if run.Finished.Before(run.Started) {
				run.Finished = run.Started // another node's clock ran ahead
			}
			run.Message = "interrupted: the node running it stopped or lost the shard's lead; nothing was deleted"
			interrupted = r.record(id, run) || interrupted
		}
		if interrupted && mine == "" {
			restart = append(restart, id)
		}
	}
	r.mu.Lock()
	r.led[gid] = version
	var removed []string
	for id, s := range r.stores {
		if s.group == gid && !want[id] {
			removed = append(removed, id)
			delete(r.stores, id)
			delete(r.pending, id)
		}
	}
	r.mu.Unlock()
	for _, id := range removed {
		r.loop.Remove(id)
		r.cancel(id, errSyncRemoved)
	}
	for _, id := range restart {
		r.loop.Trigger(id)
	}
}

// drop forgets a group this node no longer leads: its stores leave the
// Loop and their running syncs are cancelled.
func (r *syncRunner) drop(gid string) {
	r.mu.Lock()
	delete(r.led, gid)
	var removed []string
	for id, s := range r.stores {
		if s.group == gid {
			removed = append(removed, id)
			delete(r.stores, id)
			delete(r.pending, id)
		}
	}
	r.mu.Unlock()
	for _, id := range removed {
		r.loop.Remove(id)
		r.cancel(id, errLostLead)
	}
}

func (r *syncRunner) cancel(store string, cause error) {
	r.mu.Lock()
	a := r.running[store]
	r.mu.Unlock()
	if a != nil {
		a.cancel(cause)
	}
}

func findRun(runs []engine.SyncRun, id string) (engine.SyncRun, bool) {
	for _, run := range runs {
		if run.ID == id {
			return run, true
		}
	}
	return engine.SyncRun{}, false
}

// StartSync implements query.SyncRunner. The route table sends the call
// to the store's shard leader; the store joins the Loop at once (the
// configuration may have been applied a moment ago) and starts as soon
// as a slot is free.
func (n *Node) StartSync(ctx context.Context, store string) (string, error) {
	r := n.sync.Load()
	if r == nil {
		return "", fmt.Errorf("%w: the sync runner is not running", query.ErrUnavailable)
	}
	gid := shard.ShardGroupID(n.shards.ShardFor(store))
	e := n.dataEngines()[gid]
	g := n.shards.Group(gid)
	if e == nil || g == nil || !g.IsLeader() {
		return "", fmt.Errorf("%w: this node does not lead the store's shard", query.ErrUnavailable)
	}
	st := e.Store(store)
	if st == nil {
		return "", query.ErrNoSyncConfig
	}
	if _, ok := st.SyncConfig(); !ok {
		return "", query.ErrNoSyncConfig
	}
	r.adopt(gid, e)
	r.mu.Lock()
	defer r.mu.Unlock()
	if id := r.pending[store]; id != "" {
		return id, nil // asked twice before it started: one run
	}
	id := newRunID()
	r.pending[store] = id
	if r.running[store] != nil {
		// A run is in progress, perhaps just ending: "start now" means
		// a read of the shop after this request, so the pending run
		// starts when the current one ends (start's goroutine).
		return id, nil
	}
	// Trigger fails only while the Loop still counts the store running
	// (its goroutine between the end of the run and Finished), which
	// then triggers the pending run itself.
	r.loop.Trigger(store)
	return id, nil
}

func newRunID() string { return "run_" + randomHex(10) }

// start is the Loop's Start callback: it launches the store's run in a
// goroutine the node's WaitGroup tracks.
func (r *syncRunner) start(store string) {
	r.mu.Lock()
	id := r.pending[store]
	delete(r.pending, store)
	if id == "" {
		id = newRunID()
	}
	s, ok := r.stores[store]
	if !ok || r.ctx.Err() != nil {
		r.mu.Unlock()
		r.loop.Finished(store, schedule.State{})
		return
	}
	ctx, cancel := context.WithCancelCause(r.ctx)
	r.running[store] = &activeRun{id: id, group: s.group, cancel: cancel}
	r.mu.Unlock()
	r.n.wg.Add(1)
	go func() {
		defer r.n.wg.Done()
		defer cancel(nil)
		run := r.run(ctx, store, id)
		r.mu.Lock()
		delete(r.running, store)
		r.mu.Unlock()
		st := schedule.State{LastStart: run.Started, LastFinish: run.Finished,
			LastDuration: run.Finished.Sub(run.Started), Outcome: run.Outcome()}
		if e := r.n.dataEngines()[s.group]; e != nil {
			if es := e.Store(store); es != nil {
				st = es.SyncState() // counts the failures in a row too
			}
		}
		r.loop.Finished(store, st)
		r.mu.Lock()
		again := r.pending[store] != ""
		r.mu.Unlock()
		if again {
			r.loop.Trigger(store)
		}
	}()
}

// record replicates a run record; a failure (the lead lost, no quorum)
// is logged: the next leader finds the run "running" and records it
// failed.
func (r *syncRunner) record(store string, run engine.SyncRun) bool {
	body, err := engine.EncodeSync(run)
	if err != nil {
		r.n.log.Error("sync: cannot encode the run", "store", store, "run", run.ID, "err", err)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.n.cfg.HTTP.WriteTimeout)
	defer cancel()
	res, err := r.n.Propose(ctx, store, engine.Op(engine.KindSyncRuns, engine.ActionUpsert), body)
	if err == nil {
		if e, ok := res.(error); ok {
			err = e
		}
	}
	if err != nil {
		r.n.log.Warn("sync: cannot record the run", "store", store, "run", run.ID, "state", run.State, "err", err)
		return false
	}
	return true
}
