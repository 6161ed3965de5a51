package quality

import "testing"

func TestSearchKnownItemDraft(t *testing.T) {
	d := loadRetail(t)
	rep, err := RunKnownItem(d, DefaultSearchQueries, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kinds {
		t.Logf("%s sibyl %+v bleve %+v worse %d", k.Kind, k.Sibyl, k.Bleve, len(k.Worse))
		for _, w := range k.Worse[:min(5, len(k.Worse))] {
			t.Logf("   %q from %q: sibyl %d bleve %d; sibyl top %q", w.Query.Text, w.Name, w.SibylRank, w.BleveRank, w.SibylTop)
		}
	}
	t.Logf("latency sibyl %+v bleve %+v", rep.SibylLatency, rep.BleveLatency)
	s, err := RunSales(d, DefaultSearchQueries, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sales %+v", s)
}
