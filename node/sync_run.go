package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/ingest/mirror"
	"github.com/sibylhq/sibyl/ingest/platform"
	"github.com/sibylhq/sibyl/ingest/source"
)

// One sync run: record it running, read the source into a sink that
// proposes the records exactly as POST /v2/<kind> does (validated,
// engine.EncodeUpsert, Node.Propose), and, after a complete read only,
// delete what the shop no longer has (mirror.Plan, with its safety
// valve). A failed read deletes nothing; a refused plan deletes nothing.

// platformCurrency is the store currency the connectors are given
// (ingest/platform needs one: orders in another currency without a rate
// are rejected as record errors, never converted silently).
func platformCurrency(c source.Config) string { return c.PlatformCurrency() }

// buildSource returns the Source of a configuration.
func buildSource(c source.Config, doer source.Doer) (source.Source, error) {
	switch c.Type {
	case source.TypeShopify:
		pc := platform.DefaultShopifyConfig()
		pc.BaseURL, pc.AccessToken, pc.Currency, pc.Rates, pc.StoreURL = c.URL, c.Token, platformCurrency(c), c.Rates, c.StoreURL
		if c.APIVersion != "" {
			pc.APIVersion = c.APIVersion
		}
		if c.PageSize > 0 {
			pc.PageSize = c.PageSize
		}
		return platform.NewShopify(pc, doer)
	case source.TypeWooCommerce:
		pc := platform.DefaultWooConfig()
		pc.BaseURL, pc.ConsumerKey, pc.ConsumerSecret = c.URL, c.ConsumerKey, c.ConsumerSecret
		pc.Currency, pc.Rates, pc.StoreURL, pc.AllowHTTP = platformCurrency(c), c.Rates, c.StoreURL, c.AllowHTTP
		if c.PageSize > 0 {
			pc.PageSize = c.PageSize
		}
		return platform.NewWooCommerce(pc, doer)
	case source.TypeMagento2:
		pc := platform.DefaultMagentoConfig()
		pc.BaseURL, pc.Token, pc.Currency, pc.Rates = c.URL, c.Token, platformCurrency(c), c.Rates
		if c.StoreURL != "" {
			pc.StoreURL = c.StoreURL
		}
		if c.PageSize > 0 {
			pc.PageSize = c.PageSize
		}
		return platform.NewMagento(pc, doer)
	}
	return source.Build(c, doer)
}

// run runs one sync of store and returns its final record.
func (r *syncRunner) run(ctx context.Context, store, id string) engine.SyncRun {
	run := engine.SyncRun{ID: id, State: engine.RunRunning, Started: time.Now().UTC(),
		Counts: make(map[ingest.Kind]*engine.RunCounts), Errors: []engine.RunError{}, Node: r.n.ID()}
	finish := func(state, msg string) engine.SyncRun {
		run.State, run.Message = state, clipMessage(msg)
		run.Finished = time.Now().UTC()
		if run.Finished.Before(run.Started) {
			run.Finished = run.Started
		}
		if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errSyncRemoved) {
			// The node is stopping or lost the shard's lead: the run
			// stays "running" in the replicated record, and the next
			// leader records it interrupted and starts the store again.
			r.n.log.Info("sync interrupted", "store", store, "run", id)
			return run
		}
		r.record(store, run)
		r.n.log.Info("sync finished", "store", store, "run", id, "state", state, "took", run.Finished.Sub(run.Started).Round(time.Millisecond).String())
		return run
	}
	if !r.record(store, run) {
		run.State, run.Finished = engine.RunFailed, time.Now().UTC()
		return run
	}
	st := r.n.dataEngines()[r.groupOf(store)].Store(store)
	if st == nil {
		return finish(engine.RunFailed, "the store's data is not on this node")
	}
	cfg, ok := st.SyncConfig()
	if !ok {
		return finish(engine.RunFailed, "the store has no sync configuration")
	}
	src, err := buildSource(cfg.Source, r.client)
	if err != nil {
		return finish(engine.RunFailed, "source: "+err.Error())
	}
	lim := r.n.cfg.HTTP.Limits
	if lim.MaxRecords < 1 {
		lim.MaxRecords = ingest.DefaultLimits().MaxRecords
	}
	sink := &proposeSink{ctx: ctx, n: r.n, store: store, lim: lim, run: &run, existing: make(map[ingest.Kind][]ingest.ID)}
	for _, k := range ingest.Kinds {
		sink.existing[k] = st.RecordIDs(k)
	}
	seen := mirror.NewSeen()
	var cnt source.Counter
	res, err := src.Fetch(source.WithCounter(ctx, &cnt), time.Time{}, mirror.Recorder{Next: sink, Seen: seen})
	run.Bytes = max(res.Bytes, cnt.Bytes())
	for k, n := range res.Rejected {
		sink.counts(k).Rejected += n
	}
	for _, fe := range res.Errors {
		sink.addError(fe.Kind, fe.RecordError)
	}
	if err != nil {
		msg := "the read failed; nothing was deleted: " + err.Error()
		if ctx.Err() != nil {
			msg = "cancelled (" + context.Cause(ctx).Error() + "); nothing was deleted"
		}
		return finish(engine.RunFailed, msg)
	}
	if !res.Complete {
		return finish(engine.RunSucceeded, "an incomplete read: records upserted, nothing deleted")
	}
	mc := mirror.DefaultConfig()
	mc.AllowMassDelete = cfg.AllowMassDelete
	existing := func(kind ingest.Kind, yield func(ingest.ID) bool) {
		for _, id := range st.RecordIDs(kind) {
			if !yield(id) {
				return
			}
		}
	}
	plan, err := mirror.Plan(existing, seen, res.Kinds, mc)
	var refused *mirror.RefusedError
	if errors.As(err, &refused) {
		return finish(engine.RunRefused, "the records read were upserted, the deletes refused: "+refused.Error())
	}
	if err != nil {
		return finish(engine.RunFailed, "mirror: "+err.Error())
	}
	for _, kind := range ingest.Kinds {
		ids := plan.IDs[kind]
		for len(ids) > 0 {
			n := min(len(ids), sink.lim.MaxRecords)
			body, _ := json.Marshal(ids[:n])
			applied, err := sink.propose(engine.Op(kind, engine.ActionDelete), body)
			if err != nil {
				return finish(engine.RunFailed, fmt.Sprintf("deleting %s: %v (%d deleted before)", kind, err, sink.counts(kind).Deleted))
			}
			sink.counts(kind).Deleted += applied
			ids = ids[n:]
		}
	}
	// The catalog size after a complete sync: data health compares it
	// with the previous one's.
	products := len(st.RecordIDs(ingest.KindProducts))
	run.Products = &products
	return finish(engine.RunSucceeded, "")
}

// groupOf is the group of a store in the Loop, else its shard's.
func (r *syncRunner) groupOf(store string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.running[store]; a != nil {
		return a.group
	}
	return r.stores[store].group
}

func clipMessage(s string) string {
	const max = 2000
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// proposeSink is the ingest.FeedSink of a sync: each batch is validated
// and proposed as POST /v2/<kind> proposes it. Created and updated are
// told apart by the ids the store held when the run began (sorted, so a
// binary search each).
type proposeSink struct {
	ctx      context.Context
	n        *Node
	store    string
	lim      ingest.Limits
	run      *engine.SyncRun
	existing map[ingest.Kind][]ingest.ID
}

func (s *proposeSink) counts(kind ingest.Kind) *engine.RunCounts {
	c := s.run.Counts[kind]
	if c == nil {
		c = &engine.RunCounts{}
		s.run.Counts[kind] = c
	}
	return c
}

func (s *proposeSink) addError(kind ingest.Kind, e ingest.RecordError) {
	if len(s.run.Errors) >= engine.MaxRunErrors {
		return
	}
	clip := func(v string) string {
		if len(v) > 500 {
			return v[:500]
		}
		return v
	}
	s.run.Errors = append(s.run.Errors, engine.RunError{Kind: kind, ID: ingest.ID(clip(string(e.ID))), Field: clip(e.Field), Message: clip(e.Error())})
}

// propose replicates one command and returns how many records it
// applied.
func (s *proposeSink) propose(op string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.n.cfg.HTTP.WriteTimeout)
	defer cancel()
	res, err := s.n.Propose(ctx, s.store, op, body)
	if err != nil {
		return 0, err
	}
	switch v := res.(type) {
	case error:
		return 0, v
	case engine.Result:
		return v.Applied, nil
	}
	return 0, nil
}

func sinkBatch[T ingest.Record](s *proposeSink, recs []T, idOf func(*T) ingest.ID) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	kind := ingest.KindOf[T]()
	for len(recs) > 0 {
		n := min(len(recs), s.lim.MaxRecords)
		batch := recs[:n]
		recs = recs[n:]
		if errs := ingest.Validate(batch, s.lim); len(errs) > 0 {
			bad := make(map[int]bool, len(errs))
			for _, e := range errs {
				if e.Index < 0 {
					return e
				}
				if !bad[e.Index] {
					bad[e.Index] = true
					s.counts(kind).Rejected++
				}
				s.addError(kind, e)
			}
			good := make([]T, 0, len(batch)-len(bad))
			for i := range batch {
				if !bad[i] {
					good = append(good, batch[i])
				}
			}
			batch = good
		}
		if len(batch) == 0 {
			continue
		}
		body, err := engine.EncodeUpsert(kind, batch)
		if err != nil {
			return err
		}
		if _, err := s.propose(engine.Op(kind, engine.ActionUpsert), body); err != nil {
			return fmt.Errorf("writing %s: %w", kind, err)
		}
		c := s.counts(kind)
		for i := range batch {
			if _, found := slices.BinarySearch(s.existing[kind], idOf(&batch[i])); found {
				c.Updated++
			} else {
				c.Created++
			}
		}
	}
	return nil
}

// Categories implements ingest.FeedSink.
func (s *proposeSink) Categories(b []ingest.Category) error {
	return sinkBatch(s, b, func(r *ingest.Category) ingest.ID { return r.ID })
}

// Products implements ingest.FeedSink.
func (s *proposeSink) Products(b []ingest.Product) error {
	return sinkBatch(s, b, func(r *ingest.Product) ingest.ID { return r.ID })
}

// Customers implements ingest.FeedSink.
func (s *proposeSink) Customers(b []ingest.Customer) error {
	return sinkBatch(s, b, func(r *ingest.Customer) ingest.ID { return r.ID })
}

// Orders implements ingest.FeedSink.
func (s *proposeSink) Orders(b []ingest.Order) error {
	return sinkBatch(s, b, func(r *ingest.Order) ingest.ID { return r.ID })
}

// Pages implements ingest.FeedSink.
func (s *proposeSink) Pages(b []ingest.Page) error {
	return sinkBatch(s, b, func(r *ingest.Page) ingest.ID { return r.ID })
}
