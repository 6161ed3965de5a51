package query

import (
	"errors"
	"slices"
	"sort"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/query/filter"
)

// catalogView is a store's products as the filter language and facets see
// them: attribute maps and a per-attribute index, built once per catalog
// change (engine.Store.Derived) and shared by every request. Products are
// numbered by the store's docNumbers, as in the search index.
type catalogView struct {
	nums *docNumbers
	// ids are the view's products in id order.
	ids []ingest.ID
	// attrs[d] are product d's attributes (nil: not in this view).
	attrs []map[string]any
	index *filter.Index

	mu sync.Mutex
	// filters caches evaluated filters by their text (read-only bitmaps).
	filters map[string]*roaring.Bitmap
}

// filterCacheMax bounds the cached filter results per data version.
const filterCacheMax = 1000

func catalogOf(st StoreReader) *catalogView {
	return st.Derived("catalog", func() any {
		ps := st.Products()
		nums := docNumbersOf(st)
		cv := &catalogView{nums: nums, ids: make([]ingest.ID, len(ps))}
		docs := make([]uint32, len(ps))
		top := uint32(0)
		for i, p := range ps {
			cv.ids[i] = p.ID
			docs[i] = nums.of(p.ID)
			top = max(top, docs[i]+1)
		}
		cv.attrs = make([]map[string]any, top)
		for i, p := range ps {
			cv.attrs[docs[i]] = filterAttributes(p)
		}
		cv.index = filter.NewIndex(func(yield func(filter.Item) bool) {
			for _, d := range docs {
				if !yield(filter.Item{Index: d, Attrs: cv.attrs[d]}) {
					return
				}
			}
		})
		return cv
	}).(*catalogView)
}

// doc is the number of a product of this view.
func (cv *catalogView) doc(id ingest.ID) (uint32, bool) {
	d, ok := cv.nums.lookup(id)
	return d, ok && int(d) < len(cv.attrs) && cv.attrs[d] != nil
}

// filterAttributes is what the filter language and facets see of a
// product: its fields (productFields) and the derived on_sale
// (price < list_price, docs/api.md), which only filters and facets know:
// product_data answers a product's fields as the shop sent them.
func filterAttributes(p *ingest.Product) map[string]any {
	m := productFields(p)
	if p.ListPrice != 0 {
		m["on_sale"] = p.Price < p.ListPrice
	}
	return m
}

// productFields is a product's fields by Clerk name (extra attributes
// included), typed as the filter language expects; encoded, it is the
// product's JSON record. It is the one conversion of a product to a map:
// the catalog view (filterAttributes) and product_data (productAttributes)
// both start from it.
func productFields(p *ingest.Product) map[string]any {
	m := make(map[string]any, 13+len(p.Extra))
	for k, v := range p.Extra {
		m[k] = v
	}
	m["id"] = string(p.ID)
	m["name"] = p.Name
	m["price"] = p.Price
	if p.Description != "" {
		m["description"] = p.Description
	}
	if p.ListPrice != 0 {
		m["list_price"] = p.ListPrice
	}
	if p.Brand != "" {
		m["brand"] = p.Brand
	}
	if p.SKU != "" {
		m["sku"] = p.SKU
	}
	if p.Image != "" {
		m["image"] = p.Image
	}
	if p.URL != "" {
		m["url"] = p.URL
	}
	if p.Stock != nil {
		m["stock"] = *p.Stock
	}
	if p.CreatedAt != 0 {
		m["created_at"] = float64(p.CreatedAt)
	}
	if len(p.Categories) > 0 {
		cs := make([]string, len(p.Categories))
		for i, c := range p.Categories {
			cs[i] = string(c)
		}
		m["categories"] = cs
	}
	if p.Index != nil {
		m["index"] = *p.Index
	}
	return m
}

// filterParam parses the `filter` parameter and returns the products it
// keeps (nil when there is no filter). Syntax errors are a 400 that says
// where and what was expected.
func filterParam(r *request, st StoreReader) (func(ingest.ID) bool, error) {
	src, err := r.p.str("filter")
	if err != nil || src == "" {
		return nil, err
	}
	expr, err := parseFilter(src)
	if err != nil {
		return nil, err
	}
	match, cv := filterBitmap(st, expr, src)
	return func(id ingest.ID) bool {
		d, ok := cv.doc(id)
		return ok && match.Contains(d)
	}, nil
}

// parseFilter parses the filter parameter's text, a 400 when it is bad.
func parseFilter(src string) (*filter.Expr, error) {
	expr, err := filter.Parse(src)
	if err != nil {
		var se *filter.SyntaxError
		if errors.As(err, &se) {
			return nil, errBadRequest("filter %s: %v", quote(src), se)
		}
		return nil, errBadRequest("filter %s: %s", quote(src), clip(err.Error()))
	}
	return expr, nil
}

// filterBitmap is the products (by number) a parsed filter keeps.
// Shops send the same few filters over and over: each is evaluated once
// per catalog change.
func filterBitmap(st StoreReader, expr *filter.Expr, src string) (*roaring.Bitmap, *catalogView) {
	cv := catalogOf(st)
	cv.mu.Lock()
	match, ok := cv.filters[src]
	cv.mu.Unlock()
	if !ok {
		match = cv.index.Eval(expr)
		cv.mu.Lock()
		if cv.filters == nil || len(cv.filters) >= filterCacheMax {
			cv.filters = make(map[string]*roaring.Bitmap)
		}
		cv.filters[src] = match
		cv.mu.Unlock()
	}
	return match, cv
}

// facetsOf counts, for each named attribute, the values among the given
// products: unit facets list values with counts (most frequent first),
// numeric attributes also report their range.
func facetsOf(st StoreReader, ids []ingest.ID, names []string) map[string]any {
	cv := catalogOf(st)
	docs := roaring.New()
	for _, id := range ids {
		if d, ok := cv.doc(id); ok {
			docs.Add(d)
		}
	}
	return cv.facets(docs, names)
}

// facetValue is one value's count in an answer's facets.
type facetValue struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// facetValuesKept bounds the values listed per facet.
const facetValuesKept = 100

// facets counts the named attributes' values among docs
// (filter.Index.Facet).
func (cv *catalogView) facets(docs *roaring.Bitmap, names []string) map[string]any {
	out := make(map[string]any, len(names))
	for _, name := range names {
		counts, lo, hi, numeric := cv.index.Facet(name, docs)
		sort.Slice(counts, func(i, j int) bool {
			if counts[i].Count != counts[j].Count {
				return counts[i].Count > counts[j].Count
			}
			return counts[i].Value < counts[j].Value
		})
		if len(counts) > facetValuesKept {
			counts = counts[:facetValuesKept]
		}
		vals := make([]facetValue, len(counts))
		for i, c := range counts {
			vals[i] = facetValue{c.Value, c.Count}
		}
		f := map[string]any{"values": vals}
		if numeric {
			f["min"], f["max"] = lo, hi
		}
		out[name] = f
	}
	return out
}

// handleProductFacets answers product/facets: facet counts over the whole
// catalog, or the `products` given, after `filter`.
func (s *Server) handleProductFacets(r *request) error {
	names, err := r.boundedList("facets", r.limits().MaxParamItems, r.limits().MaxIDBytes)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errBadRequest("parameter \"facets\" is required: the attributes to count, e.g. [\"brand\",\"price\"]")
	}
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	if st == nil {
		return writeJSON(r.ctx, map[string]any{"status": "ok", "facets": map[string]any{}})
	}
	keep, err := filterParam(r, st)
	if err != nil {
		return err
	}
	ids := catalogOf(st).ids
	if given, err := r.p.list("products"); err != nil {
		return err
	} else if len(given) > 0 {
		ids = toIDs(given)
	}
	ids = slices.DeleteFunc(slices.Clone(ids), func(id ingest.ID) bool {
		return !engine.Recommendable(st.Product(id)) || keep != nil && !keep(id)
	})
	return writeJSON(r.ctx, map[string]any{"status": "ok", "facets": facetsOf(st, ids, names), "count": len(ids)})
}

// orderByAttribute sorts ids by a product attribute (numbers numerically,
// strings by byte order; products lacking it last), keeping the incoming
// order among equals.
func orderByAttribute(st StoreReader, ids []ingest.ID, attr string, desc bool) []ingest.ID {
	cv := catalogOf(st)
	keys := make([]sortKey, len(ids))
	for i, id := range ids {
		if d, ok := cv.doc(id); ok {
			keys[i] = cv.sortKey(d, attr)
		}
		keys[i].pos = i
	}
	sort.SliceStable(keys, func(a, b int) bool { return keys[a].less(&keys[b], desc) })
	out := make([]ingest.ID, len(ids))
	for i, k := range keys {
		out[i] = ids[k.pos]
	}
	return out
}

// sortKey is a product's value of the orderby attribute: numbers (and
// booleans as 0 and 1) numerically, strings by bytes; products lacking it
// sort last either way. pos and score break ties.
type sortKey struct {
	num   float64
	str   string
	ok    bool
	pos   int
	score float64
}

func (cv *catalogView) sortKey(d uint32, attr string) sortKey {
	if int(d) >= len(cv.attrs) {
		return sortKey{}
	}
	switch v := cv.attrs[d][attr].(type) {
	case float64:
		return sortKey{num: v, ok: true}
	case string:
		return sortKey{str: v, ok: true}
	case bool:
		if v {
			return sortKey{num: 1, ok: true}
		}
		return sortKey{ok: true}
	}
	return sortKey{}
}

// less orders by value (desc: greatest first), those without a value
// last; equal values keep their order.
func (a *sortKey) less(b *sortKey, desc bool) bool {
	if a.ok != b.ok {
		return a.ok
	}
	if a.num == b.num && a.str == b.str {
		return false
	}
	less := a.num < b.num || a.num == b.num && a.str < b.str
	if desc {
		return !less
	}
	return less
}
