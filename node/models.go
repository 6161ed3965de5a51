package node

import (
	"context"
	"sort"
	"time"

	"github.com/sibylhq/sibyl/internal/periodic"
)

// modelLoop retrains the factor models of the stores whose data changed
// enough (engine.Store.RetrainDue), one store at a time so that training
// never takes more than the cores ALS is given, and publishes each model
// atomically: queries never wait for it. It stops when ctx ends, cancelling
// a training in progress.
func (n *Node) modelLoop(ctx context.Context) {
	defer n.wg.Done()
	periodic.Run(ctx, n.cfg.ModelCheckInterval, func() { n.retrainDue(ctx) })
}

func (n *Node) retrainDue(ctx context.Context) {
	n.mu.Lock()
	groups := make([]string, 0, len(n.engines))
	for g := range n.engines {
		groups = append(groups, g)
	}
	n.mu.Unlock()
	sort.Strings(groups)
	for _, g := range groups {
		n.mu.Lock()
		e := n.engines[g]
		n.mu.Unlock()
		if e == nil {
			continue // the group was closed (moved away) since the list was taken
		}
		ids := e.StoreIDs()
		sort.Strings(ids)
		for _, id := range ids {
			if ctx.Err() != nil {
				return
			}
			st := e.Store(id)
			if st == nil || !st.RetrainDue(time.Now(), n.cfg.ModelQuiet) {
				continue
			}
			start := time.Now()
			if err := st.Retrain(ctx, time.Now().Unix()); err != nil {
				if ctx.Err() == nil {
					n.log.Error("model training failed", "store", id, "err", err)
				}
				continue
			}
			info := st.ModelInfo()
			n.log.Info("model trained", "store", id, "version", info.Version, "users", info.Users,
				"items", info.Items, "took", time.Since(start).Round(time.Millisecond).String())
		}
	}
}
