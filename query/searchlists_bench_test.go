package query

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

// benchCatalog is a fake store of n products named from a small
// vocabulary (adjective, colour, material, noun), best sellers first.
func benchCatalog(n int) *fakeStore {
	adj := strings.Fields("vintage retro small large classic modern rustic deluxe mini jumbo folding hanging")
	col := strings.Fields("red blue green pink white black ivory gold silver cream")
	mat := strings.Fields("wooden glass metal paper ceramic cotton wicker enamel")
	noun := strings.Fields("lamp mug bag candle holder frame clock box tray basket heart sign cushion bottle jar")
	r := rand.New(rand.NewPCG(1, 2))
	f := &fakeStore{products: make(map[ingest.ID]*ingest.Product, n), lists: map[string][]ingest.ID{}}
	for i := range n {
		id := ingest.ID(fmt.Sprint(i))
		name := strings.Join([]string{adj[r.IntN(len(adj))], col[r.IntN(len(col))], mat[r.IntN(len(mat))], noun[r.IntN(len(noun))], fmt.Sprint(r.IntN(50))}, " ")
		f.products[id] = &ingest.Product{ID: id, Name: name}
		if i%10 == 0 {
			f.lists["popular"] = append(f.lists["popular"], id)
		}
	}
	return f
}

// BenchmarkSuggestionsBuild: the phrase table of a 50,000-product store,
// built once per data version (go test ./query -run XXX -bench Suggestions).
func BenchmarkSuggestionsBuild(b *testing.B) {
	f := benchCatalog(50_000)
	b.ReportAllocs()
	for b.Loop() {
		f.derived = nil
		phrasesOf(f)
	}
	b.ReportMetric(float64(len(phrasesOf(f).phrases)), "phrases")
}

// BenchmarkSuggestions: completions of short prefixes (the widest
// ranges), a two-word prefix, and a typo, on the built table.
func BenchmarkSuggestions(b *testing.B) {
	f := benchCatalog(50_000)
	phrasesOf(f)
	for _, typed := range []string{"r", "re", "red gl", "vintaeg"} {
		b.Run(typed, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(suggestions(f, typed, 10)) == 0 {
					b.Fatal("no suggestions")
				}
			}
		})
	}
}
