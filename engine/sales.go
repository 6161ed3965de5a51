package engine

import (
	"slices"
	"sort"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/ingest"
)

// salesStats are the live statistics every order updates at once, before
// any model is retrained (compute.Stats: decayed popularity and trend,
// co-purchase and co-view counts), plus the most recent sales.
//
// The compute structures only add. An order that is replaced by a
// different version, or deleted, marks the statistics stale; they are
// recounted from the store's orders before the next read that needs them.
// Re-importing identical orders changes nothing and costs no recount.
type salesStats struct {
	*compute.Stats
	recent []recentSale
	// now is the newest order time seen: the store's clock for trending,
	// taken from the data so that every replica agrees.
	now   int64
	stale bool
}

type recentSale struct {
	item int32
	time int64
}

const recentSalesKept = 1000

func newSalesStats(cfg Config) *salesStats {
	st, err := compute.NewStats(0, cfg.Model)
	if err != nil {
		panic(err) // the config is validated by the node
	}
	return &salesStats{Stats: st}
}

func (s *salesStats) addOrder(o *heldOrder) {
	// One order line counts once whatever the quantity: popularity is how
	// many orders want the item, not wholesale volume.
	idx := o.items()
	s.AddOrder(compute.SnapshotOrder{User: -1, Time: o.Time, Items: idx})
	s.now = max(s.now, o.Time)
	for _, i := range idx {
		s.recent = append(s.recent, recentSale{i, o.Time})
	}
	if len(s.recent) > 2*recentSalesKept {
		sort.SliceStable(s.recent, func(a, b int) bool { return s.recent[a].time < s.recent[b].time })
		s.recent = append(s.recent[:0], s.recent[len(s.recent)-recentSalesKept:]...)
	}
}

// rebuildSales recounts the statistics from every order, in time order so
// that the recent-sales list is right. Called with the store write-locked.
func (s *Store) rebuildSales() {
	fresh := newSalesStats(s.cfg)
	orders := make([]*heldOrder, 0, len(s.orders))
	for _, o := range s.orders {
		orders = append(orders, o)
	}
	slices.SortFunc(orders, func(a, b *heldOrder) int {
		if a.Time != b.Time {
			return int(a.Time - b.Time)
		}
		return compareIDs(a.ID, b.ID)
	})
	for _, o := range orders {
		fresh.addOrder(o)
	}
	s.sales = fresh
	s.replayCoViews()
}

func compareIDs(a, b ingest.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
