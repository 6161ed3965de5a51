package mirror

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/ingest"
)

// store is a fake store's ids per kind.
type store map[ingest.Kind][]ingest.ID

func (s store) existing(kind ingest.Kind, yield func(ingest.ID) bool) {
	for _, id := range s[kind] {
		if !yield(id) {
			return
		}
	}
}

// ids returns prefix-0 .. prefix-(n-1).
func ids(prefix string, n int) []ingest.ID {
	out := make([]ingest.ID, n)
	for i := range out {
		out[i] = ingest.ID(fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

func seenOf(s store) *Seen {
	seen := NewSeen()
	for kind, list := range s {
		for _, id := range list {
			seen.Add(kind, id)
		}
	}
	return seen
}

var (
	products   = ingest.KindProducts
	categories = ingest.KindCategories
	customers  = ingest.KindCustomers
	orders     = ingest.KindOrders
	pages      = ingest.KindPages
	all        = []ingest.Kind{categories, products, customers, orders, pages}
)

func TestPlan(t *testing.T) {
	f := func(name string, have, read store, complete []ingest.Kind, cfg Config, want store) {
		t.Helper()
		got, err := Plan(have.existing, seenOf(read), complete, cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, kind := range all {
			if !slices.Equal(got.IDs[kind], want[kind]) {
				t.Fatalf("%s: %s deletes %v, want %v", name, kind, got.IDs[kind], want[kind])
			}
			if _, listed := got.IDs[kind]; listed && len(want[kind]) == 0 {
				t.Fatalf("%s: %s listed with nothing to delete", name, kind)
			}
		}
		if n := len(want[products]) + len(want[categories]) + len(want[customers]) + len(want[pages]); got.Len() != n {
			t.Fatalf("%s: Len %d, want %d", name, got.Len(), n)
		}
	}
	def := DefaultConfig()
	catalog := store{
		products:   ids("p", 100),
		categories: ids("c", 20),
		customers:  ids("u", 50),
		orders:     ids("o", 500),
		pages:      ids("g", 5),
	}
	f("a re-run of the same source deletes nothing", catalog, catalog, all, def, store{})
	f("a product removed from the source is deleted", catalog,
		store{products: ids("p", 100)[1:], categories: ids("c", 20), customers: ids("u", 50), pages: ids("g", 5)},
		all, def, store{products: {"p-0"}})
	f("orders are never deleted, even listed complete and unseen", catalog,
		store{products: ids("p", 100), categories: ids("c", 20), customers: ids("u", 50), pages: ids("g", 5)},
		all, def, store{})
	f("a kind not read completely deletes nothing", catalog,
		store{products: ids("p", 90), categories: ids("c", 20)},
		[]ingest.Kind{products, categories}, def, store{products: ids("p", 100)[90:]})
	f("no complete kind, nothing deleted", catalog, store{}, nil, def, store{})
	f("new records in the source delete nothing", store{products: ids("p", 3)}, store{products: ids("p", 10)}, all, def, store{})
	f("a 3-product store can drop 1 (33%, under the floor)", store{products: ids("p", 3)},
		store{products: ids("p", 2)}, all, def, store{products: {"p-2"}})
	f("a 3-product store can drop all 3 (under the floor)", store{products: ids("p", 3)},
		store{}, all, def, store{products: ids("p", 3)})
	f("exactly 30% is allowed", store{products: ids("p", 1000)},
		store{products: ids("p", 700)}, all, def, store{products: ids("p", 1000)[700:]})
	f("20 products dropping 10 (50%, at the floor) is allowed", store{products: ids("p", 20)},
		store{products: ids("p", 10)}, all, def, store{products: ids("p", 20)[10:]})
	f("AllowMassDelete lets 90% through", store{products: ids("p", 100)},
		store{products: ids("p", 10)}, all, Config{MaxDeleteShare: 0.3, DeleteFloor: 10, AllowMassDelete: true},
		store{products: ids("p", 100)[10:]})
	f("ids are compared exactly", store{products: {"1", "01", "A", "a"}},
		store{products: {"1", "a"}}, all, def, store{products: {"01", "A"}})
}

func TestPlanRefused(t *testing.T) {
	f := func(name string, have, read store, cfg Config, want RefusedError) {
		t.Helper()
		got, err := Plan(have.existing, seenOf(read), all, cfg)
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Fatalf("%s: error %v, want a refusal", name, err)
		}
		if got.Len() != 0 || got.IDs != nil {
			t.Fatalf("%s: refused plan still deletes %v", name, got.IDs)
		}
		if refused.Kind != want.Kind || refused.Existing != want.Existing || refused.WouldDelete != want.WouldDelete ||
			math.Abs(refused.Share-want.Share) > 1e-9 || refused.Max != want.Max {
			t.Fatalf("%s: refused %+v, want %+v", name, *refused, want)
		}
		msg := err.Error()
		for _, part := range []string{
			fmt.Sprintf("refusing to delete %d of %d %s", want.WouldDelete, want.Existing, want.Kind),
			fmt.Sprintf("%.1f%%", 100*want.Share), fmt.Sprintf("%.1f%% allowed", 100*want.Max), "AllowMassDelete",
		} {
			if !strings.Contains(msg, part) {
				t.Fatalf("%s: message %q lacks %q", name, msg, part)
			}
		}
	}
	def := DefaultConfig()
	f("40% of the products", store{products: ids("p", 1000), categories: ids("c", 10)},
		store{products: ids("p", 600), categories: ids("c", 10)}, def,
		RefusedError{Kind: products, Existing: 1000, WouldDelete: 400, Share: 0.4, Max: 0.3})
	f("an empty feed", store{customers: ids("u", 50)}, store{}, def,
		RefusedError{Kind: customers, Existing: 50, WouldDelete: 50, Share: 1, Max: 0.3})
	f("20 products dropping 11 (55%, over the floor)", store{products: ids("p", 20)}, store{products: ids("p", 9)}, def,
		RefusedError{Kind: products, Existing: 20, WouldDelete: 11, Share: 0.55, Max: 0.3})
	f("the first kind over the limit, in feed order", store{products: ids("p", 100), categories: ids("c", 100)},
		store{products: ids("p", 10), categories: ids("c", 50)}, def,
		RefusedError{Kind: categories, Existing: 100, WouldDelete: 50, Share: 0.5, Max: 0.3})
	f("a stricter share", store{pages: ids("g", 100)}, store{pages: ids("g", 89)}, Config{MaxDeleteShare: 0.1},
		RefusedError{Kind: pages, Existing: 100, WouldDelete: 11, Share: 0.11, Max: 0.1})
	// A refusal of one kind applies nothing of the others either.
	f("one kind refused refuses all", store{products: ids("p", 100), categories: ids("c", 100)},
		store{products: ids("p", 99), categories: ids("c", 10)}, def,
		RefusedError{Kind: categories, Existing: 100, WouldDelete: 90, Share: 0.9, Max: 0.3})
}

func TestPlanExistingCounts(t *testing.T) {
	have := store{products: ids("p", 7), customers: ids("u", 4), orders: ids("o", 9)}
	got, err := Plan(have.existing, seenOf(store{products: ids("p", 6)}), []ingest.Kind{products, orders, pages}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := map[ingest.Kind]int{products: 7, pages: 0}
	if len(got.Existing) != len(want) || got.Existing[products] != 7 || got.Existing[pages] != 0 {
		t.Fatalf("Existing %v, want %v (customers not complete, orders never)", got.Existing, want)
	}
}

func TestPlanErrors(t *testing.T) {
	have := store{}
	f := func(name string, existing Existing, seen *Seen, complete []ingest.Kind, cfg Config, wantErr string) {
		t.Helper()
		_, err := Plan(existing, seen, complete, cfg)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%s: error %v, want one mentioning %q", name, err, wantErr)
		}
	}
	f("unknown kind", have.existing, NewSeen(), []ingest.Kind{"widgets"}, DefaultConfig(), `unknown kind "widgets"`)
	f("nil seen", have.existing, nil, all, DefaultConfig(), "needs")
	f("nil existing", nil, NewSeen(), all, DefaultConfig(), "needs")
	f("share over 1", have.existing, NewSeen(), all, Config{MaxDeleteShare: 1.5}, "between 0 and 1")
	f("negative share", have.existing, NewSeen(), all, Config{MaxDeleteShare: -0.1}, "between 0 and 1")
	f("NaN share", have.existing, NewSeen(), all, Config{MaxDeleteShare: math.NaN()}, "between 0 and 1")
	f("negative floor", have.existing, NewSeen(), all, Config{MaxDeleteShare: 0.3, DeleteFloor: -1}, "floor")
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// FuzzPlan: for any store and any read, the deletes are a subset of
// existing minus seen; when Plan does not refuse they are exactly that
// for the complete kinds other than orders, and nothing else; when it
// refuses, the error's numbers are the true ones and over the limit.
func FuzzPlan(f *testing.F) {
	f.Add([]byte("abcdefgh"), []byte("abcd"), uint8(0xff), uint8(0), false)
	f.Add([]byte("aaaa"), []byte("aaaa"), uint8(0x02), uint8(10), false)
	f.Add([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), []byte(""), uint8(0x0f), uint8(3), true)
	f.Fuzz(func(t *testing.T, haveBytes, readBytes []byte, completeMask, floor uint8, allow bool) {
		// Each byte is a record: kind from its low bits, id from the
		// rest, so that ids collide between the store and the read.
		split := func(b []byte, dedupe bool) store {
			s := store{}
			seen := map[string]bool{}
			for _, c := range b {
				kind := all[int(c)%len(all)]
				id := ingest.ID(fmt.Sprintf("%d", c/5))
				key := string(kind) + "/" + string(id)
				if dedupe && seen[key] {
					continue
				}
				seen[key] = true
				s[kind] = append(s[kind], id)
			}
			return s
		}
		have, read := split(haveBytes, true), split(readBytes, false)
		var complete []ingest.Kind
		for i, kind := range all {
			if completeMask&(1<<i) != 0 {
				complete = append(complete, kind)
			}
		}
		cfg := Config{MaxDeleteShare: 0.3, DeleteFloor: int(floor % 16), AllowMassDelete: allow}
		got, err := Plan(have.existing, seenOf(read), complete, cfg)
		want := map[ingest.Kind][]ingest.ID{}
		for _, kind := range complete {
			if kind == orders {
				continue
			}
			for _, id := range have[kind] {
				if !slices.Contains(read[kind], id) {
					want[kind] = append(want[kind], id)
				}
			}
		}
		var refused *RefusedError
		if errors.As(err, &refused) {
			gone := want[refused.Kind]
			if allow || refused.WouldDelete != len(gone) || refused.Existing != len(have[refused.Kind]) ||
				refused.WouldDelete <= cfg.DeleteFloor || refused.Share <= cfg.MaxDeleteShare || got.Len() != 0 {
				t.Fatalf("refusal %+v does not match: %d of %d would go, config %+v", *refused, len(gone), len(have[refused.Kind]), cfg)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, kind := range all {
			if !slices.Equal(got.IDs[kind], want[kind]) {
				t.Fatalf("%s: deletes %v, want existing minus seen %v", kind, got.IDs[kind], want[kind])
			}
			if !allow && len(want[kind]) > cfg.DeleteFloor && float64(len(want[kind])) > 0.3*float64(len(have[kind])) {
				t.Fatalf("%s: %d of %d deleted without a refusal", kind, len(want[kind]), len(have[kind]))
			}
		}
	})
}
