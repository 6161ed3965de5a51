package engine

import (
	"cmp"
	"encoding/json"
	"slices"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// LabelStats is the attribution of one recommendation label: how often it
// was shown, clicked, and how many sold products were clicked from it
// earlier in the same session.
type LabelStats struct {
	Impressions int64 `json:"impressions"`
	Clicks      int64 `json:"clicks"`
	Sales       int64 `json:"sales"`
}

func (st *LabelStats) weight() int64 { return st.Impressions + st.Clicks + st.Sales }

func (st *LabelStats) add(o LabelStats) {
	st.Impressions += o.Impressions
	st.Clicks += o.Clicks
	st.Sales += o.Sales
}

// labelsKept bounds the labels counted per store, separately for the
// replicated click/sale counts and the node-local impressions. Labels are
// chosen by the shop (one per slot or campaign), so a real store has tens;
// anything past this is a flood, and one request must not grow memory or
// the label answer without bound (30 requests of 100k labels each once
// took a node from 0.6 to 2.1 GB).
const labelsKept = 1000

// labelTable counts the labelsKept busiest labels. A new label arriving
// when the table is full first makes room: the tenth least counted labels
// (ties: the greatest names) move their counts to the Other bucket (a
// batched space-saving heuristic: a label counted often is never displaced
// by a flood of labels seen once, and one sort pays for labelsKept/10 new
// labels). The choice depends only on the counts and names, so replicas
// applying the same events keep the same labels.
type labelTable struct {
	m     map[string]*LabelStats
	other LabelStats
}

func newLabelTable() labelTable { return labelTable{m: make(map[string]*LabelStats)} }

// get returns l's counters, making room for it when needed.
func (t *labelTable) get(l string) *LabelStats {
	if st := t.m[l]; st != nil {
		return st
	}
	if len(t.m) >= labelsKept {
		t.evict(len(t.m) - labelsKept + labelsKept/10)
	}
	st := &LabelStats{}
	t.m[l] = st
	return st
}

// evict moves the n least counted labels to the Other bucket.
func (t *labelTable) evict(n int) {
	if n <= 0 {
		return
	}
	names := make([]string, 0, len(t.m))
	for l := range t.m {
		names = append(names, l)
	}
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(t.m[a].weight(), t.m[b].weight()); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	})
	for _, l := range names[:min(n, len(names))] {
		t.other.add(*t.m[l])
		delete(t.m, l)
	}
}

// Names of the store's label keys beside its records (metaKind).
const (
	labelsKey      = "labels"
	labelsOtherKey = "labels_other"
)

func (t *sessions) countClick(sess *session, e *Event) {
	if len(e.Labels) == 0 {
		return
	}
	rememberClick(sess, e)
	for _, l := range e.Labels {
		t.labels.get(l).Clicks++
	}
	t.labelsDirty = true
}

func (t *sessions) countSale(sess *session, e *Event) {
	for _, p := range e.Products {
		for _, l := range sess.Clicked[p] {
			t.labels.get(l).Sales++
			t.labelsDirty = true
		}
	}
	sess.Clicked = nil // a sale closes the attribution window
}

// writeLabels persists the replicated label counts when they changed.
func (t *sessions) writeLabels(w statemachine.Writer, store string) error {
	if !t.labelsDirty {
		return nil
	}
	b, _ := json.Marshal(t.labels.m)
	if err := w.Set(recordKey(store, metaKind, labelsKey), b); err != nil {
		return err
	}
	o, _ := json.Marshal(t.labels.other)
	if err := w.Set(recordKey(store, metaKind, labelsOtherKey), o); err != nil {
		return err
	}
	t.labelsDirty = false
	return nil
}

// loadLabels reads a label key written by writeLabels. Counts written
// before the table was bounded may hold more labels: the excess goes to
// Other as it would have at apply time.
func (t *sessions) loadLabels(name ingest.ID, value []byte) error {
	switch name {
	case labelsKey:
		m := make(map[string]*LabelStats)
		if err := json.Unmarshal(value, &m); err != nil {
			return err
		}
		for l, st := range m {
			if st == nil {
				delete(m, l)
			}
		}
		t.labels.m = m
		if len(m) > labelsKept {
			t.labels.evict(len(m) - labelsKept)
		}
	case labelsOtherKey:
		var o LabelStats
		if err := json.Unmarshal(value, &o); err != nil {
			return err
		}
		t.labels.other.add(o)
	}
	return nil
}

// CountImpressions records that an answer carrying these labels was
// served. Impressions are counted where the read is served, not
// replicated: they are reads, and a lost count on a crash is acceptable.
// At most labelsKept labels are counted per store (see labelTable); the
// caller bounds the labels of one request.
func (s *Store) CountImpressions(labels []string) {
	t := &s.sessions
	t.impMu.Lock()
	for _, l := range labels {
		t.impressions.get(l).Impressions++
	}
	t.impMu.Unlock()
}

// LabelRow is one label's attribution in a LabelsPage.
type LabelRow struct {
	Label string
	LabelStats
}

// LabelsPage reports the labels' attribution, busiest first (impressions
// + clicks + sales, ties by name), from offset, at most limit rows, with
// the number of labels counted and the Other bucket (labels displaced from
// the bounded tables). The answer is bounded: at most 2*labelsKept labels
// exist.
func (s *Store) LabelsPage(offset, limit int) (rows []LabelRow, total int, other LabelStats) {
	all := make(map[string]LabelStats, 64)
	t := &s.sessions
	t.mu.RLock()
	for l, st := range t.labels.m {
		all[l] = *st
	}
	other = t.labels.other
	t.mu.RUnlock()
	t.impMu.Lock()
	for l, st := range t.impressions.m {
		row := all[l]
		row.Impressions = st.Impressions
		all[l] = row
	}
	other.Impressions += t.impressions.other.Impressions
	t.impMu.Unlock()
	rows = make([]LabelRow, 0, len(all))
	for l, st := range all {
		rows = append(rows, LabelRow{l, st})
	}
	slices.SortFunc(rows, func(a, b LabelRow) int {
		if c := cmp.Compare(b.weight(), a.weight()); c != 0 {
			return c
		}
		return cmp.Compare(a.Label, b.Label)
	})
	total = len(rows)
	rows = rows[min(max(offset, 0), len(rows)):]
	return rows[:min(max(limit, 0), len(rows))], total, other
}
