package query

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
)

// okBody is a tracking call's answer (the same bytes as encoding
// {"status":"ok"}, without the encoder).
var okBody = []byte(`{"status":"ok"}`)

// track turns a tracking call (Clerk's log/*) into an event replicated
// through the store's shard: behaviour survives node loss, and the next
// request of the visitor sees it.
func (s *Server) track(kind string) func(*request) error {
	return func(r *request) error {
		e := engine.Event{Kind: kind, Time: time.Now().UnixMilli()}
		visitor, minted, err := visitorParam(r)
		if err != nil {
			return err
		}
		e.Visitor = visitor
		if e.Products, err = productsParam(r); err != nil {
			return err
		}
		customer, err := r.p.str("customer")
		if err != nil {
			return err
		}
		e.Customer = ingest.ID(customer)
		if e.Email, err = r.p.str("email"); err != nil {
			return err
		}
		if e.Labels, err = r.p.listN("labels", r.limits().MaxEventLabels); err != nil {
			return err
		}
		switch kind {
		case engine.EventProduct, engine.EventClick, engine.EventCartAdd, engine.EventCartRemove:
			if len(e.Products) == 0 {
				return errBadRequest("parameter \"product\" is required")
			}
		case engine.EventCategory:
			c, err := r.p.str("category")
			if err != nil {
				return err
			}
			if c == "" {
				return errBadRequest("parameter \"category\" is required")
			}
			e.Category = ingest.ID(c)
		case engine.EventEmail:
			if e.Email == "" {
				return errBadRequest("parameter \"email\" is required")
			}
		case engine.EventSale, engine.EventReturned:
			sale, err := r.p.str("sale")
			if err != nil {
				return err
			}
			if sale == "" {
				return errBadRequest("parameter \"sale\" is required: the order id")
			}
			e.Sale = ingest.ID(sale)
		}
		if kind == engine.EventClick {
			if e.API, err = r.p.str("api"); err != nil {
				return err
			}
			if e.Position, err = r.p.intParam("n", 0, 0, 1<<20); err != nil {
				return err
			}
		}
		if e.Visitor == "" && kind != engine.EventSale && kind != engine.EventReturned {
			return errBadRequest("parameter \"visitor\" is required (an id, or \"auto\" to have one minted)")
		}
		// Every field bounded before the event joins a batch; Apply
		// checks the same again on every replica.
		if err := s.proposeEvent(r, &e); err != nil {
			return err
		}
		if minted {
			return writeJSON(r.ctx, map[string]any{"status": "ok", "visitor": visitor})
		}
		r.ctx.SetContentType("application/json")
		writeMaybeJSONP(r.ctx, okBody)
		return nil
	}
}

// visitorParam reads `visitor`; "auto" mints a new id, returned to the
// caller to keep.
func visitorParam(r *request) (visitor string, minted bool, err error) {
	v, aerr := r.p.str("visitor")
	if aerr != nil {
		return "", false, aerr
	}
	if v == "auto" {
		b := make([]byte, 12)
		rand.Read(b)
		return "v_" + hex.EncodeToString(b), true, nil
	}
	if n := r.limits().MaxVisitorBytes; len(v) > n {
		return "", false, errBadRequest("parameter \"visitor\" is %d bytes, at most %d allowed: %s", len(v), n, quote(v))
	}
	return v, false, nil
}

// productsParam reads `product` (one id) and `products` (ids, or Clerk
// sale lines {"id":..,"quantity":..,"price":..}), at most MaxEventProducts
// (a longer list is refused without decoding the rest).
func productsParam(r *request) ([]ingest.ID, error) {
	maxItems := r.limits().MaxEventProducts
	var out []ingest.ID
	if p, err := r.p.str("product"); err != nil {
		return nil, err
	} else if p != "" {
		out = append(out, ingest.ID(p))
	}
	if raw, ok := r.p.body["products"]; ok && len(raw) > 0 && raw[0] == '[' {
		lines, err := rawItems("products", raw, maxItems)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			var line struct {
				ID ingest.ID `json:"id"`
			}
			if len(l) > 0 && l[0] == '{' {
				if err := json.Unmarshal(l, &line); err != nil {
					return nil, errBadRequest("parameter \"products\": %v", err)
				}
			} else if err := json.Unmarshal(l, &line.ID); err != nil {
				return nil, errBadRequest("parameter \"products\": %v", err)
			}
			if line.ID != "" {
				out = append(out, line.ID)
			}
		}
		return out, nil
	}
	ids, err := r.p.listN("products", maxItems)
	if err != nil {
		return nil, err
	}
	return append(out, toIDs(ids)...), nil
}

// proposeEvent checks an event's fields and adds it to the store's next
// replicated batch; a batch the engine refused is a 400.
func (s *Server) proposeEvent(r *request, e *engine.Event) error {
	if err := r.checkEvent(e); err != nil {
		return err
	}
	res, perr := s.events.add(r.store, e)
	if perr != nil {
		return s.backendErr(perr)
	}
	if err, ok := res.(error); ok {
		return errBadRequest("%v", err)
	}
	return nil
}
