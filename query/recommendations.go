package query

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/sibylhq/sibyl/compute"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/engine"
	"github.com/valyala/bytebufferpool"
)

// A logic produces a ranked candidate list for a request; the common
// parameters (exclude, offset, limit, attributes) are applied after it.
type logic struct {
	name string
	run  func(r *request, st *engine.Store) ([]ingest.ID, error)
	// fill tops up a short answer from popular: a store with any sales
	// never answers an empty list (the architecture's fallback chain).
	fill bool
}

var (
	logicPopular               = logic{"popular", func(_ *request, st *engine.Store) ([]ingest.ID, error) { return st.Popular(), nil }, false}
	logicTrending              = logic{"trending", func(_ *request, st *engine.Store) ([]ingest.ID, error) { return st.Trending(), nil }, true}
	logicNew                   = logic{"new", func(_ *request, st *engine.Store) ([]ingest.ID, error) { return st.New(), nil }, false}
	logicRecentlyBought        = logic{"recently_bought", func(_ *request, st *engine.Store) ([]ingest.ID, error) { return st.RecentlyBought(), nil }, false}
	logicMostSoldWith          = logic{"most_sold_with", seeded((*engine.Store).MostSoldWith), true}
	logicComplementary         = logic{"complementary", seeded((*engine.Store).Complementary), true}
	logicSubstituting          = logic{"substituting", seeded((*engine.Store).Substituting), true}
	logicCustomerHistory       = logic{"customer/history", customerLogic((*engine.Store).CustomerHistory), false}
	logicCustomerComplementary = logic{"customer/complementary", customerLogic((*engine.Store).CustomerComplementary), true}
	logicCustomerSubstituting  = logic{"customer/substituting", customerLogic((*engine.Store).CustomerSubstituting), true}
)

var (
	logicVisitorHistory = logic{"visitor/history", visitorLogic(func(st *engine.Store, items []ingest.ID, _ []compute.EventKind) []ingest.ID {
		return items
	}), false}
	logicVisitorComplementary = logic{"visitor/complementary", visitorLogic(func(st *engine.Store, items []ingest.ID, kinds []compute.EventKind) []ingest.ID {
		if ids := st.VisitorComplementary(items, kinds); ids != nil {
			return ids
		}
		// No model yet: what is bought with what they looked at last.
		return st.Complementary(items[:min(len(items), 5)])
	}), true}
	logicVisitorSubstituting = logic{"visitor/substituting", visitorLogic(func(st *engine.Store, items []ingest.ID, _ []compute.EventKind) []ingest.ID {
		return st.Substituting(items[:min(len(items), 5)])
	}), true}
)

// visitorLogic wraps a logic of the visitor's session (`visitor` id): an
// unknown or empty session yields nothing, and the fill takes over.
func visitorLogic(f func(*engine.Store, []ingest.ID, []compute.EventKind) []ingest.ID) func(*request, *engine.Store) ([]ingest.ID, error) {
	return func(r *request, st *engine.Store) ([]ingest.ID, error) {
		v, _, err := visitorParam(r)
		if err != nil {
			return nil, err
		}
		if v == "" {
			return nil, errBadRequest("parameter \"visitor\" is required")
		}
		items, kinds, _ := st.VisitorItems(v)
		if len(items) == 0 {
			return nil, nil
		}
		return f(st, items, kinds), nil
	}
}

// customerLogic wraps a logic of the `customer` (id) or `email` parameter.
func customerLogic(f func(*engine.Store, ingest.ID, string) ([]ingest.ID, error)) func(*request, *engine.Store) ([]ingest.ID, error) {
	return func(r *request, st *engine.Store) ([]ingest.ID, error) {
		customer, email, err := customerParams(r)
		if err != nil {
			return nil, err
		}
		ids, herr := f(st, ingest.ID(customer), email)
		if errors.Is(herr, engine.ErrUnknownCustomer) {
			return nil, errNotFound("no customer %q in this store", firstNonEmpty(customer, email))
		}
		return ids, herr
	}
}

func customerParams(r *request) (customer, email string, err error) {
	customer, aerr := r.p.str("customer")
	if aerr != nil {
		return "", "", aerr
	}
	email, aerr = r.p.str("email")
	if aerr != nil {
		return "", "", aerr
	}
	if customer == "" && email == "" {
		return "", "", errBadRequest("parameter \"customer\" or \"email\" is required")
	}
	return customer, email, nil
}

// seeded wraps a logic of the `products` parameter.
func seeded(f func(*engine.Store, []ingest.ID) []ingest.ID) func(*request, *engine.Store) ([]ingest.ID, error) {
	return func(r *request, st *engine.Store) ([]ingest.ID, error) {
		raw, err := r.p.list("products")
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			return nil, errBadRequest("parameter \"products\" is required: a product id or a list of them")
		}
		return f(st, toIDs(raw)), nil
	}
}

func toIDs(ss []string) []ingest.ID {
	out := make([]ingest.ID, len(ss))
	for i, s := range ss {
		out[i] = ingest.ID(s)
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// recs turns a logic into a handler.
func (s *Server) recs(l logic) func(*request) error {
	return func(r *request) error {
		limit, err := r.p.intParam("limit", s.cfg.DefaultLimit, 0, s.cfg.MaxLimit)
		if err != nil {
			return err
		}
		offset, err := r.p.intParam("offset", 0, 0, s.cfg.MaxLimit)
		if err != nil {
			return err
		}
		excludeRaw, err := r.p.list("exclude")
		if err != nil {
			return err
		}
		attrs, err := r.p.list("attributes")
		if err != nil {
			return err
		}
		st, serr := s.backend.StoreData(r.store)
		if serr != nil {
			return s.backendErr(serr)
		}
		var ranked []ingest.ID
		if st != nil {
			ranked, serr = l.run(r, st)
			if serr != nil {
				return serr
			}
		} else if err := s.checkLogicParams(r, l); err != nil {
			return err
		}
		exclude := toIDs(excludeRaw)
		page, total := pick(st, ranked, exclude, offset, limit)
		if l.fill && st != nil && len(page) < limit {
			seen := append(slices.Clone(exclude), ranked...)
			if seeds, _ := r.p.list("products"); len(seeds) > 0 {
				seen = append(seen, toIDs(seeds)...)
			}
			more, _ := pick(st, st.Popular(), seen, max(0, offset-total), limit-len(page))
			page = append(page, more...)
		}
		return writeRecs(r, st, page, attrs)
	}
}

// checkLogicParams validates parameters when the store has no data yet,
// so that a bad request is a 400 whether or not data exists.
func (s *Server) checkLogicParams(r *request, l logic) error {
	switch l.name {
	case "most_sold_with", "complementary", "substituting":
		if raw, err := r.p.list("products"); err != nil {
			return err
		} else if len(raw) == 0 {
			return errBadRequest("parameter \"products\" is required: a product id or a list of them")
		}
	case "customer/history", "customer/complementary", "customer/substituting":
		c, e, err := customerParams(r)
		if err != nil {
			return err
		}
		return errNotFound("no customer %q in this store", firstNonEmpty(c, e))
	}
	return nil
}

// pick applies exclude, offset and limit to a ranked list, skipping
// products that are gone or hidden. It returns the page and the number of
// eligible products ranked.
func pick(st *engine.Store, ranked, exclude []ingest.ID, offset, limit int) ([]ingest.ID, int) {
	page := make([]ingest.ID, 0, limit)
	n := 0
	for _, id := range ranked {
		if len(exclude) > 0 && slices.Contains(exclude, id) {
			continue
		}
		if !engine.Recommendable(st.Product(id)) {
			continue
		}
		if n >= offset && len(page) < limit {
			page = append(page, id)
		}
		n++
		if len(page) == limit && n > offset+limit {
			// Enough for the page; the total is only a lower bound from
			// here, and counting the rest would scan the catalog.
			break
		}
	}
	return page, n
}

// writeRecs encodes `{"status":"ok","result":[...],"count":n}` by hand:
// this is the hottest path of the server and encoding/json's reflection
// would dominate it.
func writeRecs(r *request, st *engine.Store, ids []ingest.ID, attrs []string) error {
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	b := append(buf.B[:0], `{"status":"ok","result":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(id))
	}
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(len(ids)), 10)
	if len(attrs) > 0 && st != nil {
		data := make([]map[string]any, 0, len(ids))
		for _, id := range ids {
			data = append(data, productAttributes(st.Product(id), attrs))
		}
		enc, err := json.Marshal(data)
		if err != nil {
			return errInternal("cannot encode product data: %v", err)
		}
		b = append(b, `,"product_data":`...)
		b = append(b, enc...)
	}
	b = append(b, '}')
	buf.B = b
	r.ctx.SetContentType("application/json")
	writeMaybeJSONP(r.ctx, buf.B)
	return nil
}

// productAttributes returns the named fields of a product ("*" for all).
func productAttributes(p *ingest.Product, attrs []string) map[string]any {
	if p == nil {
		return nil
	}
	b, _ := json.Marshal(p)
	var all map[string]any
	_ = json.Unmarshal(b, &all)
	all["id"] = string(p.ID)
	if slices.Contains(attrs, "*") {
		return all
	}
	out := make(map[string]any, len(attrs)+1)
	out["id"] = string(p.ID)
	for _, a := range attrs {
		if v, ok := all[a]; ok {
			out[a] = v
		}
	}
	return out
}

// appendJSONString appends s as a JSON string, escaping what JSON needs.
func appendJSONString(b []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			simple = false
			break
		}
	}
	if simple {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, _ := json.Marshal(s)
	return append(b, enc...)
}
