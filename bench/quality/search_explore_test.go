// Explorations behind the defaults (validation numbers only) are slow and
// print tables rather than assert: they compile only with the explore tag,
// go test -tags explore -run TestExploreX ./bench/quality (docs/quality.md).

//go:build explore

package quality

import (
	"strings"
	"testing"
)

// TestExploreSearchMisses lists, on search-known-item's validation split
// (the products the test sample left out, queries of another seed), the
// queries Bleve ranks better than Sibyl, by kind: where a ranking change
// starts. Tune on these, never on the reported (test) queries.
func TestExploreSearchMisses(t *testing.T) {
	rep, err := RunKnownItem(loadRetail(t), KnownItemConfig{PerKind: DefaultSearchQueries, Seed: 1, Validation: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Kinds {
		var out, shorter int
		for _, w := range k.Worse {
			if w.SibylRank == 0 {
				out++
			}
			if len(w.SibylTop) > 0 && len(strings.Fields(w.Name)) < len(strings.Fields(w.SibylTop[0])) {
				shorter++
			}
		}
		t.Logf("%-7s %d queries: MRR@10 Sibyl %.4f (text alone %.4f), Bleve %.4f; Bleve better on %d (Sibyl out of the top 10 on %d; target's name shorter than Sibyl's first on %d)",
			k.Kind, k.Sibyl.Queries, k.Sibyl.MRR10, k.SibylTextOnly.MRR10, k.Bleve.MRR10, len(k.Worse), out, shorter)
		for i, w := range k.Worse {
			if i%25 == 0 {
				t.Logf("    %q from %q: Sibyl #%d, Bleve #%d; Sibyl's first %q; Bleve's first %q", w.Query.Text, w.Name, w.SibylRank, w.BleveRank, w.SibylTop, w.BleveTop)
			}
		}
	}
}

// TestExploreSearchSales prints search-sales on its validation split:
// the purchased product's rank with the store's signals and by text
// alone, for ranking choices between sales and text.
func TestExploreSearchSales(t *testing.T) {
	rep, err := RunSalesValidation(loadRetail(t), 2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("search-sales validation (%d purchases): with sales MRR@10 %.4f Recall@10 %.4f; text alone MRR@10 %.4f Recall@10 %.4f",
		rep.Purchases, rep.WithSales.MRR10, rep.WithSales.Recall10, rep.TextOnly.MRR10, rep.TextOnly.Recall10)
}
