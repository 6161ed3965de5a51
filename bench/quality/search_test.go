package quality

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/blevesearch/bleve/v2"
)

// damerau1 reports whether b is a one-edit variant of a (substitution,
// deletion, insertion or swap of neighbours) and the first position the
// two differ at.
func damerau1(a, b string) (bool, int) {
	x, y := []rune(a), []rune(b)
	p := 0
	for p < len(x) && p < len(y) && x[p] == y[p] {
		p++
	}
	switch {
	case len(x) == len(y):
		if p == len(x) {
			return false, p
		}
		if string(x[p+1:]) == string(y[p+1:]) {
			return true, p // substitution
		}
		return p+1 < len(x) && x[p] == y[p+1] && x[p+1] == y[p] && string(x[p+2:]) == string(y[p+2:]), p
	case len(x) == len(y)+1:
		return string(x[p+1:]) == string(y[p:]), p // deletion
	case len(x)+1 == len(y):
		return string(x[p:]) == string(y[p+1:]), p // insertion
	}
	return false, p
}

// TestKnownQueriesAreAsShoppersType checks every kind's rules on the real
// names: words are the name's words in order, a prefix cuts only the last
// word, a typo is one edit past the first letter of a 5+ letter word, a
// reorder changes the order of two or three name words.
func TestKnownQueriesAreAsShoppersType(t *testing.T) {
	d := loadRetail(t)
	targets := sampleItems(len(d.Names), 500, 7)
	for _, kind := range QueryKinds {
		qs := MakeKnownQueries(kind, d.Names, targets, 7)
		if len(qs) < 450 {
			t.Fatalf("%s: %d queries from 500 names", kind, len(qs))
		}
		if again := MakeKnownQueries(kind, d.Names, targets, 7); !slices.Equal(qs, again) {
			t.Fatalf("%s: queries differ with the same seed", kind)
		}
		if other := MakeKnownQueries(kind, d.Names, targets, 8); slices.Equal(qs, other) {
			t.Fatalf("%s: queries do not depend on the seed", kind)
		}
		for _, q := range qs {
			name := nameWords(d.Names[q.Target])
			words := strings.Fields(q.Text)
			if len(words) < 1 || len(words) > 3 {
				t.Fatalf("%s %q: %d words", kind, q.Text, len(words))
			}
			inOrder := func(ws []string) bool { return subsequence(ws, name) }
			switch kind {
			case KindWords:
				if !inOrder(words) {
					t.Errorf("words %q: not the words of %q in order", q.Text, d.Names[q.Target])
				}
			case KindPrefix:
				last := words[len(words)-1]
				if !inOrder(words[:len(words)-1]) || !slices.ContainsFunc(name, func(w string) bool {
					return strings.HasPrefix(w, last) && len(last) >= 2 && len(last) < len(w)
				}) {
					t.Errorf("prefix %q: not words of %q with the last cut", q.Text, d.Names[q.Target])
				}
			case KindTypo:
				typos := 0
				for _, w := range words {
					if slices.Contains(name, w) {
						continue
					}
					typos++
					if !slices.ContainsFunc(name, func(n string) bool {
						one, at := damerau1(n, w)
						return one && at > 0 && len([]rune(n)) >= 5
					}) {
						t.Errorf("typo %q: %q is not one edit past the first letter of a 5+ letter word of %q", q.Text, w, d.Names[q.Target])
					}
				}
				if typos != 1 {
					t.Errorf("typo %q from %q: %d words changed, want 1", q.Text, d.Names[q.Target], typos)
				}
			case KindReorder:
				sorted := slices.Clone(words)
				if len(words) < 2 || inOrder(words) {
					t.Errorf("reorder %q: the order of %q", q.Text, d.Names[q.Target])
				}
				slices.Sort(sorted)
				for _, w := range sorted {
					if !slices.Contains(name, w) {
						t.Errorf("reorder %q: %q is not a word of %q", q.Text, w, d.Names[q.Target])
					}
				}
			}
		}
	}
}

// TestTypoIsOneEdit checks the typo maker on one word many times.
func TestTypoIsOneEdit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		got := typo("lantern", rng)
		if one, at := damerau1("lantern", got); !one || at == 0 {
			t.Fatalf("typo(lantern) = %q: not one edit past the first letter", got)
		}
	}
}

// TestBleveScoresByBM25 guards the reference engine's setup: BM25 must be
// the model in force (an index type without field lengths would silently
// score otherwise).
func TestBleveScoresByBM25(t *testing.T) {
	b, err := NewBleve([]string{"RED HEART", "WHITE HANGING HEART T-LIGHT HOLDER", "BLUE BOX"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r := request(bleve.NewMatchQuery("heart"), 10)
	r.Explain = true
	res, err := b.ix.Search(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 2 || res.Hits[0].ID != bleveID(0) {
		t.Fatalf("hits %v, want the short name first, then the long one", res.Hits)
	}
	if ex := res.Hits[0].Expl.String(); !strings.Contains(ex, "bm25") {
		t.Fatalf("explanation does not name bm25:\n%s", ex)
	}
	got, err := b.Search(KindPrefix, "hanging hea", 10, nil)
	if err != nil || !slices.Equal(got, []int32{1}) {
		t.Fatalf("prefix search = %v, %v; want [1]", got, err)
	}
	got, err = b.Search(KindTypo, "holedr haert", 10, nil)
	if err != nil || !slices.Equal(got, []int32{1}) {
		t.Fatalf("typo search = %v, %v; want [1] (fuzziness 1 for 5 to 8 letters, a swap is one edit)", got, err)
	}
}

// TestSearchKnownItem pins search-known-item (docs/quality.md, Search) on
// the bundled catalog, 2,000 queries per kind, seed 1. Latency is not
// checked here (timing targets are benchmarks' and sibyl eval's).
func TestSearchKnownItem(t *testing.T) {
	rep, err := RunKnownItem(loadRetail(t), KnownItemConfig{PerKind: DefaultSearchQueries, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	// sibyl, text only, bleve by kind, bleve typo-tolerant: MRR@10, Recall@10
	want := map[QueryKind][4][2]float64{
		KindWords:   {{0.6387, 0.8300}, {0.6425, 0.8285}, {0.6229, 0.8200}, {0.6145, 0.8130}},
		KindPrefix:  {{0.4290, 0.6150}, {0.4336, 0.6185}, {0.4166, 0.6155}, {0.4122, 0.6120}},
		KindTypo:    {{0.6132, 0.8163}, {0.6209, 0.8228}, {0.5519, 0.7516}, {0.5519, 0.7516}},
		KindReorder: {{0.8234, 0.9775}, {0.8260, 0.9760}, {0.8274, 0.9755}, {0.8210, 0.9725}},
	}
	for _, k := range rep.Kinds {
		w := want[k.Kind]
		for i, m := range []SearchMetrics{k.Sibyl, k.SibylTextOnly, k.Bleve, k.BleveFuzzy} {
			engine := []string{"sibyl", "sibyl text only", "bleve", "bleve typo-tolerant"}[i]
			pin(t, string(k.Kind)+" "+engine+" MRR@10", m.MRR10, w[i][0])
			pin(t, string(k.Kind)+" "+engine+" Recall@10", m.Recall10, w[i][1])
		}
		if k.Sibyl.Queries < 1950 || k.Sibyl.Queries != k.Bleve.Queries {
			t.Errorf("%s: %d and %d queries", k.Kind, k.Sibyl.Queries, k.Bleve.Queries)
		}
		verdict := "higher"
		if k.Sibyl.MRR10 <= k.Bleve.MRR10 {
			verdict = "NOT higher (issue 13 wants higher)"
		}
		t.Logf("%-7s MRR@10 sibyl %.4f bleve %.4f: %s; %d queries bleve ranks better", k.Kind, k.Sibyl.MRR10, k.Bleve.MRR10, verdict, len(k.Worse))
	}
}

// TestSearchSalesSignalsHelp pins search-sales and checks the issue's
// claim: with the store's sales the purchased product ranks higher than
// with text relevance alone.
func TestSearchSalesSignalsHelp(t *testing.T) {
	rep, err := RunSales(loadRetail(t), DefaultSearchQueries, 1)
	if err != nil {
		t.Fatal(err)
	}
	pin(t, "search-sales with signals MRR@10", rep.WithSales.MRR10, 0.6882)
	pin(t, "search-sales with signals Recall@10", rep.WithSales.Recall10, 0.8670)
	pin(t, "search-sales text only MRR@10", rep.TextOnly.MRR10, 0.6537)
	pin(t, "search-sales text only Recall@10", rep.TextOnly.Recall10, 0.8245)
	if rep.WithSales.MRR10 < rep.TextOnly.MRR10+0.03 {
		t.Errorf("sales signals do not clearly help: MRR@10 %.4f with, %.4f without", rep.WithSales.MRR10, rep.TextOnly.MRR10)
	}
}

// knownItemEngines builds both engines once per test binary.
var knownItemEngines = sync.OnceValues(func() (*knownEngines, error) {
	d, err := retailOnce()
	if err != nil {
		return nil, err
	}
	sib, err := NewSibylSearch(d, d.Orders)
	if err != nil {
		return nil, err
	}
	bl, err := NewBleve(d.Names)
	if err != nil {
		return nil, err
	}
	return &knownEngines{d, sib, bl}, nil
})

type knownEngines struct {
	d   *Retail
	sib *SibylSearch
	bl  *Bleve
}

// BenchmarkKnownItem times each engine on search-known-item's queries of
// each kind (seed 1), the way sibyl eval's latency columns do:
// go test -run X -bench KnownItem ./bench/quality.
func BenchmarkKnownItem(b *testing.B) {
	e, err := knownItemEngines()
	if err != nil {
		b.Fatal(err)
	}
	targets := sampleItems(len(e.d.Names), DefaultSearchQueries, 1)
	var dst []int32
	for _, kind := range QueryKinds {
		qs := MakeKnownQueries(kind, e.d.Names, targets, 1)
		b.Run("sibyl/"+string(kind), func(b *testing.B) {
			for i := range b.N {
				dst = e.sib.Search(qs[i%len(qs)].Text, kind == KindPrefix, true, searchDepth, dst[:0])
			}
		})
		b.Run("bleve/"+string(kind), func(b *testing.B) {
			for i := range b.N {
				if dst, err = e.bl.Search(kind, qs[i%len(qs)].Text, searchDepth, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRunSearchProtocols goes the way of sibyl eval: the search protocols
// run without the shared folder, make their tables, and print them.
func TestRunSearchProtocols(t *testing.T) {
	o := Options{Protocols: []string{ProtocolSearchKnownItem, ProtocolSearchSales}, Seed: 1, SearchQueries: 100, DataDir: ""}
	t.Setenv("SIBYL_DATA", t.TempDir()+"/none") // the search protocols never read it
	tables, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || tables[0].Protocol != ProtocolSearchKnownItem || tables[1].Protocol != ProtocolSearchSales {
		t.Fatalf("tables %+v", tables)
	}
	ki := tables[0]
	if len(ki.Rows) != 4 || ki.Rows[0].Model != EngineSibyl || ki.Rows[2].Model != EngineBleve || ki.Cases < 390 {
		t.Fatalf("search-known-item rows %+v, %d cases", ki.Rows, ki.Cases)
	}
	for _, r := range []Row{ki.Rows[0], ki.Rows[2]} {
		if p50, p99 := r.Values["p50 ms"], r.Values["p99 ms"]; p50 <= 0 || p99 < p50 {
			t.Errorf("%s: latency p50 %v p99 %v", r.Model, p50, p99)
		}
	}
	if tables[1].Cases != 100 || tables[1].Rows[0].Values["MRR@10"] <= tables[1].Rows[1].Values["MRR@10"] {
		t.Errorf("search-sales %+v", tables[1])
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, tables); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "| MRR@10 words | Recall@10 words |") || !strings.Contains(out, "| – | – | not timed |") {
		t.Errorf("markdown:\n%s", out)
	}
	for _, bad := range []Options{{Protocols: []string{"search-foo"}}, {Protocols: []string{ProtocolSearchSales}, SearchQueries: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
