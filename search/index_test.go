package search

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/sibylhq/sibyl/text"
)

func testIndex(t *testing.T) *Index {
	t.Helper()
	an, err := text.NewAnalyzer("english")
	if err != nil {
		t.Fatal(err)
	}
	docs := []Doc{
		{Fields: [numFields]string{FieldName: "Desk lamp", FieldCategories: "Lighting", FieldBrand: "Lumo"}},                    // 0
		{Fields: [numFields]string{FieldName: "Bedside table", FieldDescription: "Fits a small lamp and a book"}},               // 1
		{Fields: [numFields]string{FieldName: "Christmas candle", FieldCategories: "Decoration"}},                               // 2
		{Fields: [numFields]string{FieldName: "LED bulb 12V", FieldCategories: "Lighting", FieldDescription: "for desk lamps"}}, // 3
		{Fields: [numFields]string{FieldName: "Lampshade, linen", FieldCategories: "Lighting"}},                                 // 4
		{Fields: [numFields]string{FieldName: "Floor lamp", FieldCategories: "Lighting"}},                                       // 5
	}
	return NewIndex(an, docs)
}

func docsOf(h []Hit) []uint32 {
	var out []uint32
	for _, x := range h {
		out = append(out, x.Doc)
	}
	return out
}

func TestSearchMeaning(t *testing.T) {
	ix := testIndex(t)
	pop := map[uint32]float64{5: 10, 0: 1} // the floor lamp sells more
	score := func(d uint32) float64 { return pop[d] }
	for _, tc := range []struct {
		name   string
		q      Query
		want   []uint32
		typos0 bool // the first hit matched without typos
	}{
		// Name matches before a description match; among names the
		// better seller first; the plural in a description matches by stem.
		{"word in fields", Query{Text: "lamp", Score: score}, []uint32{5, 0, 1, 3}, true},
		{"every word must match", Query{Text: "desk lamp", Score: score}, []uint32{0, 3}, true},
		{"a typo finds the product", Query{Text: "christmsa candle"}, []uint32{2}, false},
		{"a typo in a short word does not", Query{Text: "lamq"}, nil, false},
		{"plural by stem", Query{Text: "candles"}, []uint32{2}, true},
		{"units stay with numbers", Query{Text: "12v"}, []uint32{3}, true},
		// Names first; in descriptions, "lamps" as typed (3) before the
		// stem's "lamp" (1): the exactness rule.
		{"as you type", Query{Text: "lamps", Prefix: true}, []uint32{0, 4, 5, 3, 1}, true},
		// Proximity: the words next to each other, in order, in the name.
		{"proximity", Query{Text: "lamp desk"}, []uint32{0, 3}, true},
		{"longtail: any word, by words matched", Query{Text: "floor candle", Any: true}, []uint32{2, 5}, true},
		{"as you type, one letter", Query{Text: "bed", Prefix: true}, []uint32{1}, true},
		// A finished word (a space after it) is not a prefix: "lampsh"
		// is one typo from "lamps", never "lampshade".
		{"finished word is not a prefix", Query{Text: "lampsh ", Prefix: true}, []uint32{3}, false},
		{"no word matches", Query{Text: "sofa"}, nil, false},
		{"some words match: fall back to any", Query{Text: "sofa candle"}, []uint32{2}, true},
	} {
		got := ix.Search(tc.q)
		if !slices.Equal(docsOf(got), tc.want) {
			t.Errorf("%s: %q gave %v, want %v (%+v)", tc.name, tc.q.Text, docsOf(got), tc.want, got)
			continue
		}
		if len(got) > 0 && (got[0].Typos == 0) != tc.typos0 {
			t.Errorf("%s: first hit %+v, want typos==0 %v", tc.name, got[0], tc.typos0)
		}
	}
}

func testAnalyzer(t testing.TB) *text.Analyzer {
	an, err := text.NewAnalyzer("english")
	if err != nil {
		t.Fatal(err)
	}
	return an
}

func named(names ...string) []Doc {
	docs := make([]Doc, len(names))
	for i, n := range names {
		docs[i].Fields[FieldName] = n
	}
	return docs
}

// A typo in the first letter counts two: a word of 5 to 8 letters (one
// typo) may not have it, one of 9 or more (two) may, with nothing else
// wrong, and ranks below a typo elsewhere.
func TestFirstLetterTypo(t *testing.T) {
	ix := NewIndex(testAnalyzer(t), named("cattle feed", "bottle opener", "christmas tree", "khristmas bauble", "decorations box"))
	got := ix.Search(Query{Text: "battle"})
	if !slices.Equal(docsOf(got), []uint32{1}) || got[0].Typos != 1 {
		t.Fatalf("battle: %+v, want the bottle only", got)
	}
	for _, q := range []string{"xhristmas", "hcristmas", "xchristmas"} {
		got := ix.Search(Query{Text: q})
		if len(got) == 0 || got[0].Doc != 2 && got[0].Doc != 3 {
			t.Errorf("%s: %+v, want a christmas", q, got)
		}
	}
	// "ecorations": the first letter dropped from a 10-letter word.
	if got := ix.Search(Query{Text: "ecorations"}); !slices.Equal(docsOf(got), []uint32{4}) || got[0].Typos != 2 {
		t.Errorf("ecorations: %+v", got)
	}
	// Two typos, one on the first letter: three in all, too many.
	if got := ix.Search(Query{Text: "xhristmsa"}); len(got) != 0 {
		t.Errorf("xhristmsa: %+v", got)
	}
	// Dict.MatchRanked finds what Match finds, ranked, within the budget.
	d := NewDict([]string{"bottle", "cattle", "battle", "battles", "christmas", "xchristmas"})
	for _, w := range []string{"battle", "bttle", "christmas", "hristmas"} {
		want := map[int]int{}
		d.Match(w, 2, false, func(term, typos int) {
			if r, _ := utf8.DecodeRuneInString(d.Term(term)); typos > 0 && r != []rune(w)[0] {
				typos++
			}
			if typos <= 2 {
				want[term] = typos
			}
		})
		got := map[int]int{}
		d.MatchRanked(w, 2, false, func(term, typos int) {
			if old, ok := got[term]; !ok || typos < old {
				got[term] = typos
			}
		})
		for term, typos := range want {
			if g, ok := got[term]; !ok || g > typos {
				t.Errorf("%s: %s at %d typos by Match, %d (found %v) by MatchRanked", w, d.Term(term), typos, g, ok)
			}
		}
	}
}

// Apply changes the index in place: a new doc is found, a changed one by
// its new words only, a deleted one no more, new words by typo and
// prefix, and stale words of a changed doc match nothing.
func TestApplyInPlace(t *testing.T) {
	ix := NewIndex(testAnalyzer(t), named("desk lamp", "floor lamp"))
	find := func(q Query) []uint32 { t.Helper(); return docsOf(ix.Search(q)) }
	ix.Apply([]Change{{Doc: 7, Fields: &Doc{Fields: [numFields]string{FieldName: "Velvet cushion"}}}})
	if got := find(Query{Text: "velvet"}); !slices.Equal(got, []uint32{7}) {
		t.Fatalf("a new doc: %v", got)
	}
	if got := find(Query{Text: "cushoin"}); !slices.Equal(got, []uint32{7}) {
		t.Fatalf("a new word by typo (not yet in the sorted vocabulary): %v", got)
	}
	if got := find(Query{Text: "cus", Prefix: true}); !slices.Equal(got, []uint32{7}) {
		t.Fatalf("a new word by prefix: %v", got)
	}
	ix.Apply([]Change{{Doc: 0, Fields: &Doc{Fields: [numFields]string{FieldName: "desk chair"}}}})
	if got := find(Query{Text: "lamp"}); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("a changed doc still matches its old words: %v", got)
	}
	if got := find(Query{Text: "chair"}); !slices.Equal(got, []uint32{0}) {
		t.Fatalf("a changed doc by its new words: %v", got)
	}
	ix.Apply([]Change{{Doc: 1}})
	if got := find(Query{Text: "lamp"}); len(got) != 0 || ix.Docs() != 2 {
		t.Fatalf("a deleted doc: %v (docs %d)", got, ix.Docs())
	}
	// Many new words at once rebuild the sorted vocabulary: still found.
	var changes []Change
	for i := range rebuildDictAt + 10 {
		changes = append(changes, Change{Doc: uint32(100 + i), Fields: &Doc{Fields: [numFields]string{FieldName: fmt.Sprintf("gizmo%d", i)}}})
	}
	ix.Apply(changes)
	if got := find(Query{Text: "gizmo42"}); len(got) == 0 || got[0] != 142 || len(ix.pending) != 0 {
		t.Fatalf("after a rebuild: %v (pending %d)", got, len(ix.pending))
	}
}

// The bitmap ranking of a large one-word bucket (rankOneWord) orders
// exactly as the doc-by-doc rules do.
func TestLargeBucketRanksAsEach(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"lamp", "lamps", "lampshade", "lame", "lamb", "camp", "table", "lantern", "lab"}
	docs := make([]Doc, 5000)
	for i := range docs {
		for f := range numFields {
			if rng.IntN(3) == 0 {
				docs[i].Fields[f] = words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
			}
		}
	}
	ix := NewIndex(testAnalyzer(t), docs)
	score := func(d uint32) float64 { return float64(d % 97) }
	for _, q := range []Query{{Text: "lamp"}, {Text: "lamps"}, {Text: "la", Prefix: true}, {Text: "lampz"}, {Text: "lanterns"},
		// several words: ranked doc by doc, the best kept in a heap
		{Text: "lamp table"}, {Text: "camp lab", Any: true}, {Text: "lantern lamb ta", Prefix: true},
		// words long enough for typos, every word or any
		{Text: "lamps table"}, {Text: "lampz tabel", Any: true}, {Text: "lanterns lamps camp", Any: true}} {
		q.Score = score
		all := ix.Search(q)
		if len(all) <= smallBucket {
			t.Fatalf("%q: only %d matches, the test needs a large bucket", q.Text, len(all))
		}
		for _, limit := range []int{1, 7, 25} {
			q.Limit = limit
			top := ix.Search(q)
			if !slices.Equal(top, all[:limit]) {
				t.Fatalf("%q: limit %d gave %+v, all gave %+v", q.Text, limit, top, all[:limit])
			}
		}
	}
}

// Words written together or apart are found either way: "tea light"
// finds the tealight, "tshirt" the T-SHIRT, and the word being typed is
// left alone.
func TestJoinedAndSplitWords(t *testing.T) {
	ix := NewIndex(testAnalyzer(t), named("Tealight holder", "T-SHIRT white", "Tea cup", "Light bulb"))
	for _, tc := range []struct {
		q    Query
		want []uint32
	}{
		{Query{Text: "tea light"}, []uint32{0}},
		{Query{Text: "tshirt"}, []uint32{1}},
		{Query{Text: "white tshirt"}, []uint32{1}},
		{Query{Text: "tealight"}, []uint32{0}},
	} {
		got := ix.Run(tc.q)
		if d := docsOf(got.Hits); !slices.Equal(d, tc.want) || !got.AllWords {
			t.Errorf("%q: %v (all words %v), want %v", tc.q.Text, d, got.AllWords, tc.want)
		}
	}
	// "tea" then "light" as one word while typing the second: the typed
	// word is a prefix of its own, not joined.
	if got := docsOf(ix.Search(Query{Text: "tea li", Prefix: true})); slices.Contains(got, 0) && !slices.Contains(got, 2) {
		t.Errorf("typing tea li: %v", got)
	}
}
