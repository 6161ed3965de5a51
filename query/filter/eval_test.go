package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// testID stands for a named id type such as ingest.ID.
type testID string

// semanticsCatalog exercises every decision documented in doc.go.
func semanticsCatalog() []Item {
	return []Item{
		{Index: 0, Attrs: map[string]any{
			"id": "1", "price": 12.5, "brand": "Imperial Inc.", "on_sale": true,
			"categories": []any{1.0, 2.0}, "tags": []string{"Special Offer", "new"}, "name": "Red Wine Glass",
		}},
		{Index: 1, Attrs: map[string]any{
			"id": "2", "price": "8.00", "brand": "Acme", "on_sale": false,
			"categories": []any{"3"}, "tags": "special offer", "name": "Blue mug",
		}},
		{Index: 2, Attrs: map[string]any{
			"id": 3.0, "price": json.Number("100"), "brand": "acme",
			"categories": []float64{2, 4}, "tags": []string{}, "sizes": map[string]any{"m": 1},
			"cat_ids": []testID{"5", "6"}, "code": testID("A1"), "count": int8(3), "weight": float32(1.5),
			"nested": []any{[]any{1.0}, 2.0},
		}},
		{Index: 3, Attrs: map[string]any{}},
		{Index: 4, Attrs: map[string]any{
			"price": math.NaN(), "brand": nil, "categories": "2", "on_sale": "true", "stock": 7,
		}},
	}
}

func TestEvalSemantics(t *testing.T) {
	items := semanticsCatalog()
	ix := NewIndex(slices.Values(items))
	tests := []struct {
		filter string
		want   []uint32
	}{
		// Ids: "1" and 1 are the same; "8.00" is not 8 for equality.
		{`id = 1`, []uint32{0}},
		{`id = "3"`, []uint32{2}},
		{`id in [1, "2", 3]`, []uint32{0, 1, 2}},
		{`price = 8`, nil},
		{`price = "8.00"`, []uint32{1}},
		// Ranges compare numbers and decimal strings; NaN counts as absent.
		{`price > 10`, []uint32{0, 2}},
		{`price < 10`, []uint32{1}},
		{`price >= 100`, []uint32{2}},
		{`price <= 8`, []uint32{1}},
		{`price > -1e9`, []uint32{0, 1, 2}},
		{`stock >= 7`, []uint32{4}},
		// Equality is case-sensitive; != needs the attribute.
		{`brand = 'acme'`, []uint32{2}},
		{`brand != 'acme'`, []uint32{0, 1}},
		// Lists: any element; scalars behave as one-element lists.
		{`categories in [2]`, []uint32{0, 2, 4}},
		{`categories = 2`, []uint32{0, 2, 4}},
		{`categories not in [2]`, []uint32{1}},
		{`categories != 2`, []uint32{1}},
		{`categories >= 3`, []uint32{1, 2}},
		{`categories in []`, nil},
		{`categories not in []`, []uint32{0, 1, 2, 4}},
		// contains: list element equality, case-insensitive substring on strings.
		{`tags contains 'Special Offer'`, []uint32{0, 1}},
		{`tags contains 'special'`, []uint32{1}},
		{`tags contains 'new'`, []uint32{0}},
		{`tags != 'x'`, []uint32{0, 1, 2}},
		{`name contains 'GLASS'`, []uint32{0}},
		{`name contains 'u'`, []uint32{1}},
		{`categories contains 4`, []uint32{2}},
		{`categories contains '2'`, []uint32{0, 2, 4}},
		{`id contains 1`, []uint32{0}},
		// Booleans only equal booleans.
		{`on_sale = true`, []uint32{0}},
		{`on_sale = 'true'`, []uint32{4}},
		{`on_sale != true`, []uint32{1, 4}},
		{`name contains true`, nil},
		// Unknown or unsupported attributes match nothing, negated or not.
		{`unknown = 1`, nil},
		{`unknown != 1`, nil},
		{`unknown not in [1]`, nil},
		{`sizes != 1`, nil},
		// Named and sized Go types; nested lists' inner lists are ignored.
		{`cat_ids contains 5`, []uint32{2}},
		{`cat_ids in ['6']`, []uint32{2}},
		{`code = 'A1'`, []uint32{2}},
		{`count = 3`, []uint32{2}},
		{`weight > 1.4 and weight < 1.6`, []uint32{2}},
		{`nested = 1`, nil},
		{`nested = 2`, []uint32{2}},
		// Combinations from the Clerk docs and the architecture page.
		{`price > 10 and categories in [1,2]`, []uint32{0, 2}},
		{`brand = 'x' or on_sale = true`, []uint32{0}},
		{`on_sale = false or (categories not in [123, 456] and price <= 200)`, []uint32{0, 1, 2}},
		{`unknown = 1 or id = 2`, []uint32{1}},
		{`id = 2 and unknown = 1`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			e, err := Parse(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := ix.Eval(e).ToArray(); !slices.Equal(got, tt.want) {
				t.Errorf("Index.Eval = %v, want %v", got, tt.want)
			}
			var scanned []uint32
			for _, it := range items {
				if Match(e, it.Attrs) {
					scanned = append(scanned, it.Index)
				}
			}
			if !slices.Equal(scanned, tt.want) {
				t.Errorf("Match over items = %v, want %v", scanned, tt.want)
			}
		})
	}
}

func TestEvalNilAndOwnership(t *testing.T) {
	ix := NewIndex(slices.Values(semanticsCatalog()))
	if got := ix.Eval(nil).GetCardinality(); got != 5 || ix.Len() != 5 {
		t.Fatalf("nil filter matched %d items, Len %d; want 5", got, ix.Len())
	}
	if !Match(nil, nil) {
		t.Fatal("nil filter must match")
	}
	// The caller owns the result: changing it must not change the index.
	e, _ := Parse(`brand = 'acme'`)
	b := ix.Eval(e)
	b.Add(99)
	b.Remove(2)
	if got := ix.Eval(e).ToArray(); !slices.Equal(got, []uint32{2}) {
		t.Fatalf("index changed through an Eval result: now %v", got)
	}
	if !ix.HasAttribute("brand") || ix.HasAttribute("unknown") || ix.HasAttribute("sizes") {
		t.Fatal("HasAttribute wrong")
	}
}

// randomScalar draws from a small domain so that values collide often and
// strings look like numbers, booleans and each other in different cases.
func randomScalar(r *rand.Rand) any {
	switch r.IntN(3) {
	case 0:
		return []string{"1", "2", "1.5", "-3", "x", "X", "ab", "aB c", "true", "01", ""}[r.IntN(11)]
	case 1:
		return []float64{1, 2, 1.5, -3, 0, 10, 100}[r.IntN(7)]
	default:
		return r.IntN(2) == 0
	}
}

func randomAttrs(r *rand.Rand) map[string]any {
	attrs := map[string]any{}
	for _, name := range []string{"a", "b", "c", "n"} {
		switch r.IntN(6) {
		case 0: // absent
		case 1:
			n := r.IntN(4)
			list := make([]any, n)
			for i := range list {
				list[i] = randomScalar(r)
			}
			attrs[name] = list
		case 2:
			attrs[name] = map[string]any{"unsupported": true}
		case 3: // a numeric column with many distinct values, so ranges span blocks
			attrs[name] = float64(r.IntN(5000)) / 10
		default:
			attrs[name] = randomScalar(r)
		}
	}
	// "p" has at most one numeric value per item, like a price, which takes
	// the prefix-bitmap path for ranges.
	switch r.IntN(4) {
	case 0:
		attrs["p"] = float64(r.IntN(5000)) / 10
	case 1:
		attrs["p"] = strconv.Itoa(r.IntN(500))
	case 2:
		attrs["p"] = randomScalar(r)
	}
	return attrs
}

func randomValue(r *rand.Rand) Value {
	switch v := randomScalar(r).(type) {
	case string:
		return Value{Kind: ValueString, Str: v}
	case float64:
		if r.IntN(2) == 0 {
			v = float64(r.IntN(5000)) / 10
		}
		return Value{Kind: ValueNumber, Num: v}
	default:
		return Value{Kind: ValueBool, Bool: v.(bool)}
	}
}

func randomExpr(r *rand.Rand, depth int) *Expr {
	if depth > 0 && r.IntN(3) > 0 {
		e := &Expr{Kind: KindAnd}
		if r.IntN(2) == 0 {
			e.Kind = KindOr
		}
		for range 2 + r.IntN(2) {
			e.Args = appendFlat(e.Args, e.Kind, randomExpr(r, depth-1))
		}
		return e
	}
	e := &Expr{Kind: KindCompare, Attr: []string{"a", "b", "c", "n", "p", "missing"}[r.IntN(6)], Op: Op(1 + r.IntN(9))}
	switch e.Op {
	case OpGt, OpGe, OpLt, OpLe:
		e.Value = Value{Kind: ValueNumber, Num: float64(r.IntN(5200)-100) / 10}
	case OpIn, OpNotIn:
		e.Value = Value{Kind: ValueList, List: []Value{}}
		for range r.IntN(4) {
			e.Value.List = append(e.Value.List, randomValue(r))
		}
	default:
		e.Value = randomValue(r)
	}
	return e
}

// TestIndexAgreesWithMatch is the property test: on random catalogs and
// random filters, the bitmap evaluation selects exactly the items that
// Match accepts one by one.
func TestIndexAgreesWithMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for c := range 40 {
		n := []int{0, 1, 7, 300, 3000, 8000}[c%6]
		items := make([]Item, n)
		for i := range items {
			items[i] = Item{Index: uint32(i), Attrs: randomAttrs(r)}
		}
		ix := NewIndex(slices.Values(items))
		filters := 60
		if n > 1000 {
			filters = 15 // enough to hit the block paths; keeps the test fast
		}
		for range filters {
			e := randomExpr(r, 3)
			// The printed form must parse back, so the generator only makes valid trees.
			if back, err := Parse(e.String()); err != nil || !back.Equal(e) {
				t.Fatalf("generated filter %s does not round-trip: %v", e, err)
			}
			got := ix.Eval(e)
			for _, it := range items {
				if want := Match(e, it.Attrs); want != got.Contains(it.Index) {
					t.Fatalf("catalog %d, item %d %v, filter %s: Match = %v, Index.Eval disagrees", c, it.Index, it.Attrs, e, want)
				}
			}
			if got.GetCardinality() > uint64(n) {
				t.Fatalf("filter %s matched %d of %d items", e, got.GetCardinality(), n)
			}
		}
	}
}

func TestEvalConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	items := make([]Item, 2000)
	for i := range items {
		items[i] = Item{Index: uint32(i), Attrs: randomAttrs(r)}
	}
	ref := NewIndex(slices.Values(items))
	filters := make([]*Expr, 20)
	want := make([]*roaring.Bitmap, len(filters))
	for i := range filters {
		filters[i] = randomExpr(r, 2)
		want[i] = ref.Eval(filters[i])
	}
	// A fresh index, so that the workers race to build its columns.
	ix := NewIndex(slices.Values(items))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for k := range 50 {
				i := (w + k) % len(filters)
				if !ix.Eval(filters[i]).Equals(want[i]) {
					errs <- fmt.Errorf("concurrent Eval of %s differs", filters[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Unknown attribute names come from requests, so the index must not
// remember an unbounded number of them.
func TestUnknownAttributesBounded(t *testing.T) {
	ix := NewIndex(slices.Values(semanticsCatalog()))
	for i := range maxCachedAbsent + 500 {
		e := &Expr{Kind: KindCompare, Attr: fmt.Sprintf("nope%d", i), Op: OpNe, Value: Value{Kind: ValueNumber, Num: 1}}
		if !ix.Eval(e).IsEmpty() {
			t.Fatalf("unknown attribute %s matched", e.Attr)
		}
	}
	cached := 0
	ix.cols.Range(func(_, _ any) bool { cached++; return true })
	if cached > maxCachedAbsent {
		t.Fatalf("%d attribute entries cached after %d unknown names, limit %d", cached, maxCachedAbsent+500, maxCachedAbsent)
	}
	// Known attributes still work after the cache filled up.
	e, _ := Parse(`brand = 'acme'`)
	if got := ix.Eval(e).ToArray(); !slices.Equal(got, []uint32{2}) {
		t.Fatalf("brand = 'acme' after many unknown names: %v", got)
	}
}
