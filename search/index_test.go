package search

import (
	"slices"
	"testing"

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
		{"as you type", Query{Text: "lamps", Prefix: true}, []uint32{0, 4, 5, 1, 3}, true},
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
