package node

import (
	"fmt"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest/source"
	"github.com/sibylhq/sibyl/query"
)

// Data health's view of a store's syncs (query.SyncHealth): read from the
// replicated sync configuration and run records of the local replica, so
// any node holding the store answers alike.

var _ query.SyncHealth = (*Node)(nil)

// SyncSummary implements query.SyncHealth: false when the store has no
// sync configuration on this node.
func (n *Node) SyncSummary(store string) (query.SyncSummary, bool) {
	sr, err := n.StoreData(store)
	if err != nil || sr == nil {
		return query.SyncSummary{}, false
	}
	st, ok := sr.(*engine.Store)
	if !ok {
		return query.SyncSummary{}, false
	}
	cfg, ok := st.SyncConfig()
	if !ok {
		return query.SyncSummary{}, false
	}
	return summarizeSyncs(cfg, st.SyncRuns()), true
}

// summarizeSyncs builds the summary of a configuration and its runs
// (newest first).
func summarizeSyncs(cfg engine.SyncConfig, runs []engine.SyncRun) query.SyncSummary {
	sum := query.SyncSummary{Source: describeSource(cfg.Source), Products: 0, PreviousProducts: -1,
		Runs: make([]query.SyncRunSummary, 0, len(runs))}
	complete := 0
	for i := range runs {
		r := &runs[i]
		rs := query.SyncRunSummary{ID: r.ID, State: r.State, Started: r.Started, Finished: r.Finished, Error: runError(r)}
		for _, c := range r.Counts {
			rs.Created += c.Created
			rs.Updated += c.Updated
			rs.Deleted += c.Deleted
			rs.Rejected += c.Rejected
		}
		sum.Runs = append(sum.Runs, rs)
		if r.Products == nil {
			continue
		}
		switch complete {
		case 0:
			sum.Products = *r.Products
		case 1:
			sum.PreviousProducts = *r.Products
		}
		complete++
	}
	return sum
}

// runError is a run's reason to fail or refuse, else its first record
// error.
func runError(r *engine.SyncRun) string {
	if r.Message != "" && (r.State == engine.RunFailed || r.State == engine.RunRefused) {
		return r.Message
	}
	if len(r.Errors) > 0 {
		e := r.Errors[0]
		if e.ID != "" {
			return fmt.Sprintf("%s %s: %s", e.Kind, e.ID, e.Message)
		}
		return fmt.Sprintf("%s: %s", e.Kind, e.Message)
	}
	return r.Message
}

// describeSource names a source without its secrets: "feed https://...".
func describeSource(c source.Config) string {
	switch {
	case c.URL != "":
		return c.Type + " " + source.RedactString(c.URL)
	case len(c.URLs) > 0:
		return fmt.Sprintf("%s (%d URLs)", c.Type, len(c.URLs))
	}
	return c.Type
}
