package query

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/search"
	"github.com/valyala/fasthttp"
)

// Merchandising endpoints (private key): /v2/synonyms, /v2/redirects,
// /v2/customized_search and /v2/merchandising in Clerk's shapes, and
// Sibyl's /v2/search/settings. GET reads the local replica; POST, PATCH
// and DELETE are validated here (so a bad record is a 400 before any
// replication) and proposed as engine commands, which validate again.

// merchStore is what these endpoints read of a store; *engine.Store has
// it. It is not part of StoreReader so that test fakes need not grow.
type merchStore interface {
	Merch() *search.Merch
	SearchSettings() search.Settings
	Synonyms(queries []string) []search.Synonym
	Redirects(urls []string) []search.Redirect
	CustomizedSearches(queries []string) []search.Customization
	Campaigns(ids []string) []search.Campaign
	MerchCount(kind ingest.Kind) int
}

var _ merchStore = (*engine.Store)(nil)

// merchOf returns the store's merchandising, nil when the store has no
// data yet or the backend's stores do not keep it.
func merchOf(st StoreReader) merchStore {
	m, _ := st.(merchStore)
	return m
}

// merchKind describes one keyed kind's endpoint: the list parameter and
// body field (Clerk's names), how a record names itself, and how to read
// the stored ones.
type merchKind[T any] struct {
	kind  ingest.Kind
	field string
	max   func() int
	read  func(m merchStore, names []string) []T
	// mint fills in what the server assigns before validation (a
	// campaign's id); nil for the kinds the client names.
	mint func(*T) string
}

type merchRecordPtr[T any] interface {
	*T
	Key() string
	Validate(search.MerchLimits) error
}

var (
	synonymsKind = merchKind[search.Synonym]{kind: engine.KindSynonyms, field: "synonyms",
		max:  func() int { return engine.MerchLimits.MaxSynonymRules },
		read: func(m merchStore, n []string) []search.Synonym { return m.Synonyms(n) }}
	redirectsKind = merchKind[search.Redirect]{kind: engine.KindRedirects, field: "redirects",
		max:  func() int { return engine.MerchLimits.MaxRedirects },
		read: func(m merchStore, n []string) []search.Redirect { return m.Redirects(n) }}
	customKind = merchKind[search.Customization]{kind: engine.KindCustomizedSearch, field: "rules",
		max:  func() int { return engine.MerchLimits.MaxCustomizations },
		read: func(m merchStore, n []string) []search.Customization { return m.CustomizedSearches(n) }}
	campaignsKind = merchKind[search.Campaign]{kind: engine.KindMerchandising, field: "campaigns",
		max:  func() int { return engine.MerchLimits.MaxCampaigns },
		read: func(m merchStore, n []string) []search.Campaign { return m.Campaigns(n) },
		mint: func(c *search.Campaign) string {
			if c.ID == "" {
				c.ID = newCampaignID()
			}
			return c.ID
		}}
)

// newCampaignID mints a campaign id (Clerk's POST takes campaigns
// without ids and answers theirs). It is minted before proposing, so
// every replica stores the same one.
func newCampaignID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "mc_" + hex.EncodeToString(b[:])
}

// merchHandler serves a keyed kind: GET by names or all, POST upsert,
// PATCH change fields, DELETE by names.
func merchHandler[T any, P merchRecordPtr[T]](s *Server, k merchKind[T]) func(*request) error {
	return func(r *request) error {
		switch {
		case r.ctx.IsGet() || r.ctx.IsHead():
			return s.getMerch(r, k.field, func(m merchStore, names []string) any { return k.read(m, names) })
		case r.ctx.IsPost() || r.ctx.IsPut():
			return upsertMerch[T, P](s, r, k)
		case r.ctx.IsPatch():
			return patchMerch(s, r, k.kind, k.field, k.max())
		case r.ctx.IsDelete():
			return s.deleteMerch(r, k.kind, k.field, k.max())
		}
		return &APIError{Status: fasthttp.StatusMethodNotAllowed, Type: ErrTypeMethod, Message: "use GET, POST, PATCH or DELETE"}
	}
}

func (s *Server) getMerch(r *request, field string, read func(merchStore, []string) any) error {
	lim := engine.MerchLimits
	names, err := r.boundedList(field, defaultListMax, max(lim.MaxURLBytes, lim.MaxPhraseBytes, lim.MaxIDBytes))
	if err != nil {
		return err
	}
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	var out any = []struct{}{}
	if m := merchOf(st); m != nil {
		out = read(m, names)
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", field: out})
}

// merchPayload finds a write's list: the body field named for the kind
// (Clerk's {"key": .., "synonyms": [...]}) or a bare JSON list.
func merchPayload(r *request, field string) ([]json.RawMessage, error) {
	body := bytes.TrimSpace(r.ctx.PostBody())
	raw := body
	if len(body) == 0 || body[0] != '[' {
		var ok bool
		if raw, ok = r.p.body[field]; !ok {
			return nil, errBadRequest("send {%q: [...]} or a JSON list", field)
		}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, errBadRequest("%q must be a list of objects: %s", field, clip(jsonErr(err, raw)))
	}
	if len(items) == 0 {
		return nil, errBadRequest("%q is empty: send at least one", field)
	}
	return items, nil
}

func upsertMerch[T any, P merchRecordPtr[T]](s *Server, r *request, k merchKind[T]) error {
	items, err := merchPayload(r, k.field)
	if err != nil {
		return err
	}
	if len(items) > k.max() {
		return errTooLarge("%d %s in one request, at most %d", len(items), k.field, k.max())
	}
	recs := make([]T, len(items))
	var minted []string
	keys := make(map[string]bool, len(items))
	for i, raw := range items {
		if err := decodeStrictJSON(raw, &recs[i]); err != nil {
			return errBadRequest("%s[%d]: %s", k.field, i, clip(err.Error()))
		}
		if k.mint != nil {
			minted = append(minted, k.mint(&recs[i]))
		}
		if err := P(&recs[i]).Validate(engine.MerchLimits); err != nil {
			return errBadRequest("%s[%d]: %v", k.field, i, err)
		}
		keys[P(&recs[i]).Key()] = true
	}
	// The count limit, checked early against this replica (apply checks
	// it again against the state the command meets).
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	if m := merchOf(st); m != nil {
		names := make([]string, 0, len(keys))
		for key := range keys {
			names = append(names, key)
		}
		existing := len(k.read(m, names))
		if n := m.MerchCount(k.kind) + len(keys) - existing; n > k.max() {
			return errBadRequest("the store would have %d %s, at most %d allowed: delete some first", n, k.field, k.max())
		}
	}
	body, err := engine.EncodeMerch(recs)
	if err != nil {
		return errInternal("cannot encode: %v", err)
	}
	var extra map[string]any
	if minted != nil {
		extra = map[string]any{"campaign_ids": minted}
	}
	return s.proposeThen(r, engine.Op(k.kind, engine.ActionUpsert), body, extra)
}

// patchMerch checks a PATCH's shape (objects naming their record by the
// kind's key field) and proposes it: the merge and its validation happen
// at apply, against the record as it is then.
func patchMerch(s *Server, r *request, kind ingest.Kind, field string, maxItems int) error {
	items, err := merchPayload(r, field)
	if err != nil {
		return err
	}
	if len(items) > maxItems {
		return errTooLarge("%d %s in one request, at most %d", len(items), field, maxItems)
	}
	keyField := engine.MerchKeyField(kind)
	for i, raw := range items {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return errBadRequest("%s[%d] must be an object: %s", field, i, clip(err.Error()))
		}
		var name string
		if err := json.Unmarshal(obj[keyField], &name); err != nil || name == "" {
			return errBadRequest("%s[%d]: a patch names its record by %q", field, i, keyField)
		}
	}
	body, err := engine.EncodeMerch(items)
	if err != nil {
		return errInternal("cannot encode: %v", err)
	}
	return s.propose(r, engine.Op(kind, engine.ActionPatch), body)
}

func (s *Server) deleteMerch(r *request, kind ingest.Kind, field string, maxItems int) error {
	lim := engine.MerchLimits
	names, err := r.boundedList(field, maxItems, max(lim.MaxURLBytes, lim.MaxPhraseBytes, lim.MaxIDBytes))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		if body := bytes.TrimSpace(r.ctx.PostBody()); len(body) > 0 && body[0] == '[' {
			if names, err = rawList(field, body, maxItems); err != nil {
				return err
			}
		}
	}
	if len(names) == 0 {
		return errBadRequest("name the %s to delete: %s=[...]", field, field)
	}
	body, err := engine.EncodeMerch(names)
	if err != nil {
		return errInternal("cannot encode: %v", err)
	}
	return s.propose(r, engine.Op(kind, engine.ActionDelete), body)
}

// handleSearchSettings is GET and POST /v2/search/settings: the store's
// language and field weights. A POST changes the fields it names.
func (s *Server) handleSearchSettings(r *request) error {
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	cur := search.DefaultSettings()
	if m := merchOf(st); m != nil {
		cur = m.SearchSettings()
	}
	if r.ctx.IsGet() || r.ctx.IsHead() {
		return writeJSON(r.ctx, map[string]any{"status": "ok", "settings": cur})
	}
	next := cur
	if raw, ok := r.p.body["language"]; ok {
		if err := json.Unmarshal(raw, &next.Language); err != nil {
			return errBadRequest("language must be a string: a language name or ISO 639-1 code, \"\" for no stemming")
		}
	} else if r.p.args.Has("language") {
		next.Language = string(r.p.args.Peek("language"))
	}
	if raw, ok := r.p.body["weights"]; ok {
		var w map[string]float64
		if err := json.Unmarshal(raw, &w); err != nil {
			return errBadRequest("weights must be an object of field names to numbers: %s", clip(err.Error()))
		}
		for name, v := range w {
			p := weightField(&next.Weights, name)
			if p == nil {
				return errBadRequest("weights: unknown field %s (name, keywords, categories, brand, description)", quote(name))
			}
			*p = v
		}
	}
	if err := next.Validate(); err != nil {
		return errBadRequest("%v", err)
	}
	body, err := engine.EncodeMerch(next)
	if err != nil {
		return errInternal("cannot encode: %v", err)
	}
	return s.proposeThen(r, engine.Op(engine.KindSearchSettings, engine.ActionUpsert), body, map[string]any{"settings": next})
}

func weightField(w *search.FieldWeights, name string) *float64 {
	switch name {
	case "name":
		return &w.Name
	case "keywords":
		return &w.Keywords
	case "categories":
		return &w.Categories
	case "brand":
		return &w.Brand
	case "description":
		return &w.Description
	}
	return nil
}

// proposeThen proposes like propose and, when the command is applied,
// answers with extra fields beside status and applied (a POST's minted
// campaign ids, the settings now in force).
func (s *Server) proposeThen(r *request, op string, body []byte, extra map[string]any) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	res, err := s.backend.Propose(ctx, r.store, op, body)
	if err != nil {
		return s.backendErr(err)
	}
	out := map[string]any{"status": "ok"}
	switch v := res.(type) {
	case error:
		if errors.Is(v, engine.ErrRejected) {
			return errBadRequest("%v", v)
		}
		return errInternal("apply failed: %v", v)
	case engine.Result:
		out["applied"] = v.Applied
	}
	for k, v := range extra {
		out[k] = v
	}
	return writeJSON(r.ctx, out)
}

// decodeStrictJSON decodes one JSON object refusing unknown fields, so a
// misspelt field ("directed_synonym") is a 400, not silently dropped.
func decodeStrictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}
