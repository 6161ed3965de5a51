package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sibylhq/sibyl/cluster/meta"
	"github.com/sibylhq/sibyl/engine"
	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/internal/version"
	"github.com/valyala/fasthttp"
)

// dataHandler serves /v2/<kind>: GET by ids or paged, POST/PUT upsert,
// PATCH partial update, DELETE by ids.
func (s *Server) dataHandler(kind ingest.Kind) func(*request) error {
	return func(r *request) error {
		switch {
		case r.ctx.IsGet() || r.ctx.IsHead():
			return s.getRecords(r, kind)
		case r.ctx.IsPost() || r.ctx.IsPut():
			return s.writeRecords(r, kind, engine.ActionUpsert)
		case r.ctx.IsPatch():
			return s.writeRecords(r, kind, engine.ActionPatch)
		case r.ctx.IsDelete():
			return s.deleteRecords(r, kind)
		}
		return &APIError{Status: fasthttp.StatusMethodNotAllowed, Type: ErrTypeMethod, Message: "use GET, POST, PATCH or DELETE"}
	}
}

func (s *Server) getRecords(r *request, kind ingest.Kind) error {
	ids, err := r.p.list(string(kind))
	if err != nil {
		return err
	}
	limit, err := r.p.intParam("limit", 100, 1, 10000)
	if err != nil {
		return err
	}
	offset, err := r.p.intParam("offset", 0, 0, 1<<31-1)
	if err != nil {
		return err
	}
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	res := struct {
		Status string `json:"status"`
		Result []any  `json:"result"`
		Count  int    `json:"count"`
		Total  int    `json:"total,omitempty"`
	}{Status: "ok", Result: []any{}}
	if st != nil {
		if ids != nil {
			res.Result = st.Get(kind, toIDs(ids))
		} else {
			res.Result, res.Total = st.List(kind, offset, limit)
		}
	}
	res.Count = len(res.Result)
	return writeJSON(r.ctx, res)
}

// recordsPayload finds a write's records: a body object's field named for
// the kind (Clerk's form: {"key":..,"private_key":..,"products":[...]}) or
// a bare JSON array.
func recordsPayload(r *request, kind ingest.Kind, action string) (json.RawMessage, *APIError) {
	body := bytes.TrimSpace(r.ctx.PostBody())
	if len(body) == 0 {
		return nil, errBadRequest("the request body is empty: send a JSON list of %s or {\"%s\": [...]}", kind, kind)
	}
	if body[0] == '[' || action != engine.ActionPatch {
		// ingest.Decode reads both the list and the object form.
		return body, nil
	}
	raw, ok := r.p.body[string(kind)]
	if !ok {
		return nil, errBadRequest("the body has no %q field: send {\"%s\": [...]} or a JSON list", kind, kind)
	}
	return raw, nil
}

func (s *Server) writeRecords(r *request, kind ingest.Kind, action string) error {
	raw, aerr := recordsPayload(r, kind, action)
	if aerr != nil {
		return aerr
	}
	var canon []byte
	var err error
	if action == engine.ActionPatch {
		// Partial records are type-checked against the merged record at
		// apply, where the current version is known.
		canon, err = checkPatches(raw, s.cfg.Limits)
	} else {
		canon, err = decodeValid(kind, raw, s.cfg.Limits)
	}
	if err != nil {
		return batchErr(err)
	}
	return s.propose(r, engine.Op(kind, action), canon)
}

func (s *Server) deleteRecords(r *request, kind ingest.Kind) error {
	ids, err := r.p.listN(string(kind), s.cfg.Limits.MaxRecords)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		body := bytes.TrimSpace(r.ctx.PostBody())
		if len(body) > 0 && body[0] == '[' {
			if ids, err = rawList(string(kind), body, s.cfg.Limits.MaxRecords); err != nil {
				return err
			}
		}
	}
	if len(ids) == 0 {
		return errBadRequest("name the %s to delete: %s=[\"id1\",\"id2\"]", kind, kind)
	}
	if len(ids) > s.cfg.Limits.MaxRecords {
		return errTooLarge("at most %d ids per request, got %d", s.cfg.Limits.MaxRecords, len(ids))
	}
	b, _ := json.Marshal(ids)
	return s.propose(r, engine.Op(kind, engine.ActionDelete), b)
}

func (s *Server) propose(r *request, op string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	res, err := s.backend.Propose(ctx, r.store, op, body)
	if err != nil {
		return s.backendErr(err)
	}
	switch v := res.(type) {
	case error:
		if errors.Is(v, engine.ErrRejected) {
			return errBadRequest("%v", v)
		}
		return errInternal("apply failed: %v", v)
	case engine.Result:
		out := map[string]any{"status": "ok", "applied": v.Applied}
		if v.UnknownProducts > 0 {
			out["unknown_products"] = v.UnknownProducts
		}
		return writeJSON(r.ctx, out)
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok"})
}

// batchErr maps ingest's decode and validation errors to API errors.
func batchErr(err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	if ingest.StatusCode(err) == fasthttp.StatusRequestEntityTooLarge {
		return errTooLarge("%v", err)
	}
	var be *ingest.BatchError
	if errors.As(err, &be) {
		details := make([]recordProblem, len(be.Errors))
		for i, e := range be.Errors {
			// Details echo input too: ids, field names (extra attributes
			// are named by the client) and reasons are quoted short.
			details[i] = recordProblem{Index: e.Index, ID: clip(string(e.ID)), Field: clip(e.Field), Problem: e.Kind.Error(), Reason: capMessage(e.Reason)}
		}
		return &APIError{Status: fasthttp.StatusBadRequest, Type: ErrTypeInvalidRecords, Message: be.Error(), Details: details}
	}
	return errBadRequest("%v", err)
}

func (s *Server) backendErr(err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return errUnavailable("the write could not be replicated: %v", err)
	}
	return errInternal("%v", err)
}

// handleLegacyProductAdd is Clerk's product/add: products in a body
// object or query, upserted.
func (s *Server) handleLegacyProductAdd(r *request) error {
	return s.writeRecords(r, ingest.KindProducts, engine.ActionUpsert)
}

// handleLegacyProductRemove is Clerk's product/remove: `products` ids.
func (s *Server) handleLegacyProductRemove(r *request) error {
	return s.deleteRecords(r, ingest.KindProducts)
}

// handleProductAttributes returns attributes of given products:
// products=[...] and attributes=[...] (default all).
func (s *Server) handleProductAttributes(r *request) error {
	ids, err := r.p.list("products")
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return errBadRequest("parameter \"products\" is required")
	}
	attrs, err := r.p.list("attributes")
	if err != nil {
		return err
	}
	if len(attrs) == 0 {
		attrs = []string{"*"}
	}
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	out := make([]map[string]any, 0, len(ids))
	if st != nil {
		for _, id := range ids {
			if p := st.Product(ingest.ID(id)); engine.Recommendable(p) {
				out = append(out, productAttributes(p, attrs))
			}
		}
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "result": out, "count": len(out)})
}

// handleStores creates a store (POST {"name": N}) or lists them (GET).
func (s *Server) handleStores(r *request) error {
	if r.ctx.IsGet() {
		return errBadRequest("listing stores is not supported yet; POST {\"name\": ...} creates one")
	}
	name, err := r.p.str("name")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	st, cerr := s.backend.CreateStore(ctx, name)
	if errors.Is(cerr, meta.ErrBadStore) {
		return errBadRequest("%v", cerr)
	}
	if cerr != nil {
		return s.backendErr(cerr)
	}
	// The private key is shown here once; the registry keeps its hash.
	return writeJSON(r.ctx, map[string]any{"status": "ok", "id": st.ID, "name": st.Name,
		"public_key": st.PublicKey, "private_key": st.PrivateKey, "created_at": st.CreatedAt})
}

// healthAnswer is /health's answer: the process is up, and which build it
// is (so the nodes of a rolling upgrade can be told apart).
type healthAnswer struct {
	Status  string        `json:"status"`
	Version version.Build `json:"version"`
}

func (s *Server) handleHealth(r *request) error {
	return writeJSON(r.ctx, healthAnswer{Status: "ok", Version: version.Get()})
}

func (s *Server) handleReady(r *request) error {
	if err := s.backend.Ready(); err != nil {
		return errUnavailable("not ready: %v", err)
	}
	return writeJSON(r.ctx, map[string]string{"status": "ok"})
}

// recordProblem is one entry of an invalid_records error's details.
type recordProblem struct {
	Index   int    `json:"index"`
	ID      string `json:"id,omitempty"`
	Field   string `json:"field,omitempty"`
	Problem string `json:"problem"`
	Reason  string `json:"reason,omitempty"`
}

// decodeValid decodes and validates a batch of one kind and returns it
// re-encoded canonically, ready to be replicated.
func decodeValid(kind ingest.Kind, body []byte, lim ingest.Limits) ([]byte, error) {
	switch kind {
	case ingest.KindProducts:
		return decodeValidOf[ingest.Product](body, lim)
	case ingest.KindCategories:
		return decodeValidOf[ingest.Category](body, lim)
	case ingest.KindCustomers:
		return decodeValidOf[ingest.Customer](body, lim)
	case ingest.KindOrders:
		return decodeValidOf[ingest.Order](body, lim)
	case ingest.KindPages:
		return decodeValidOf[ingest.Page](body, lim)
	}
	return nil, fmt.Errorf("unknown kind %s", quote(string(kind)))
}

func decodeValidOf[T ingest.Record](body []byte, lim ingest.Limits) ([]byte, error) {
	batch, err := ingest.Decode[T](body, lim)
	if err != nil {
		return nil, err
	}
	if len(batch.Records) == 0 {
		return nil, errBadRequest("the batch is empty: send at least one %s", ingest.KindOf[T]())
	}
	if errs := ingest.Validate(batch.Records, lim); len(errs) > 0 {
		return nil, &ingest.BatchError{Kind: ingest.KindOf[T](), Errors: errs}
	}
	return engine.EncodeUpsert(ingest.KindOf[T](), batch.Records)
}

// checkPatches checks a PATCH body's shape: a list of objects with ids.
func checkPatches(body []byte, lim ingest.Limits) ([]byte, error) {
	if int64(len(body)) > lim.MaxBodyBytes {
		return nil, errTooLarge("body of %d bytes, at most %d allowed", len(body), lim.MaxBodyBytes)
	}
	var patches []map[string]json.RawMessage
	if err := json.Unmarshal(body, &patches); err != nil {
		return nil, errBadRequest("a PATCH body is a list of partial records with ids: %v", err)
	}
	if len(patches) == 0 {
		return nil, errBadRequest("the batch is empty")
	}
	if len(patches) > lim.MaxRecords {
		return nil, errTooLarge("%d records, at most %d per batch", len(patches), lim.MaxRecords)
	}
	seen := make(map[ingest.ID]bool, len(patches))
	for i, p := range patches {
		var id ingest.ID
		if err := json.Unmarshal(p["id"], &id); err != nil || id == "" {
			return nil, errBadRequest("record %d: a patch needs an id", i)
		}
		if seen[id] {
			return nil, errBadRequest("record %d: id %s appears twice in the batch", i, quote(string(id)))
		}
		seen[id] = true
	}
	return json.Marshal(patches)
}

// handleAudience answers "which customers should get an offer on these
// products": interest=<product id or list>, limit (default 100), best
// first, leaving out customers who just bought them.
func (s *Server) handleAudience(r *request) error {
	interest, err := r.seedsParam("interest")
	if err != nil {
		return err
	}
	if len(interest) == 0 {
		return errBadRequest("parameter \"interest\" is required: a product id or a list of them")
	}
	limit, err := r.p.intParam("limit", 100, 1, 100000)
	if err != nil {
		return err
	}
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	var out []string
	if st != nil {
		out = st.Audience(toIDs(interest), limit)
	}
	if out == nil {
		out = []string{}
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "result": out, "count": len(out)})
}

// handleLabelStats answers GET /v2/stats/labels: per recommendation label,
// impressions, clicks and the sales of products clicked from it earlier
// in the same session. The answer is a page (limit, default 100, at most
// 1,000; offset) of the labels sorted busiest first: "labels" maps each
// label of the page to its counts, "order" lists them in rank order,
// "total" is the number of labels counted and "other" the counts of
// labels displaced from the store's bounded tables (see engine.labelTable).
func (s *Server) handleLabelStats(r *request) error {
	limit, offset, err := statsPage(r)
	if err != nil {
		return err
	}
	st, serr := s.backend.StoreData(r.store)
	if serr != nil {
		return s.backendErr(serr)
	}
	out := map[string]engine.LabelStats{}
	order := []string{}
	total := 0
	var other engine.LabelStats
	if st != nil {
		var rows []engine.LabelRow
		rows, total, other = st.LabelsPage(offset, limit)
		for _, row := range rows {
			out[row.Label] = row.LabelStats
			order = append(order, row.Label)
		}
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "labels": out, "order": order, "total": total,
		"offset": offset, "limit": limit, "other": other})
}

// storeIDValue is the request's user value holding the store id of a
// /v2/stores/{id}/<action> path (set by the router).
const storeIDValue = pathParamPrefix + "id"

// StoreAdmin is implemented by a Backend that can rotate a store's keys
// and set its rate limit (both go through the meta group).
type StoreAdmin interface {
	// RotateKeys gives store new keys; the old ones work until
	// overlapUntil. The answer holds the new private key, once.
	RotateKeys(ctx context.Context, store string, overlapUntil time.Time) (meta.StoreInfo, error)
	// SetStoreLimits sets (nil: clears) a store's rate limit override.
	SetStoreLimits(ctx context.Context, store string, l *meta.RateLimit) (meta.StoreInfo, error)
}

// storeAdmin returns the backend's StoreAdmin and the path's store id
// (the bool, always false, is kept for the handlers' signature: the call
// is forwarded to the meta group's leader before the handler runs).
func (s *Server) storeAdmin(r *request) (StoreAdmin, string, bool, error) {
	sa, ok := s.backend.(StoreAdmin)
	if !ok {
		return nil, "", false, errNotFound("this node does not administer stores")
	}
	if !r.ctx.IsPost() && !r.ctx.IsPut() {
		return nil, "", false, &APIError{Status: fasthttp.StatusMethodNotAllowed, Type: ErrTypeMethod, Message: "use POST"}
	}
	// serve() has sent the call to the meta leader (the route table
	// marks these operations MetaWrite) unless this node is it.
	id, _ := r.ctx.UserValue(storeIDValue).(string)
	return sa, id, false, nil
}

// handleRotateKeys is POST /v2/stores/<id>/rotate-keys {"overlap": "24h"}.
func (s *Server) handleRotateKeys(r *request) error {
	sa, id, fwd, err := s.storeAdmin(r)
	if fwd || err != nil {
		return err
	}
	overlap := 24 * time.Hour
	if o, err := r.p.str("overlap"); err != nil {
		return err
	} else if o != "" {
		d, perr := time.ParseDuration(o)
		if perr != nil || d < 0 || d > 90*24*time.Hour {
			return errBadRequest("overlap must be a duration between 0 and 2160h, e.g. 24h; got %s", quote(o))
		}
		overlap = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	st, cerr := sa.RotateKeys(ctx, id, time.Now().Add(overlap))
	if cerr != nil {
		return s.storeAdminErr(cerr, id)
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "id": st.ID, "name": st.Name,
		"public_key": st.PublicKey, "private_key": st.PrivateKey, "old_keys_valid_until": time.Now().Add(overlap).UTC().Format(time.RFC3339)})
}

// handleStoreLimits is POST /v2/stores/<id>/limits {"rate": R, "burst": B}
// or {"clear": true}.
func (s *Server) handleStoreLimits(r *request) error {
	sa, id, fwd, err := s.storeAdmin(r)
	if fwd || err != nil {
		return err
	}
	clear, err := r.p.boolParam("clear", false)
	if err != nil {
		return err
	}
	var lim *meta.RateLimit
	if !clear {
		rs, err := r.p.str("rate")
		if err != nil {
			return err
		}
		rate, perr := strconv.ParseFloat(rs, 64)
		if perr != nil {
			return errBadRequest("rate must be a number of requests per second (0 = unlimited), got %s", quote(rs))
		}
		burst, err := r.p.intParam("burst", max(1, int(2*rate)), 1, 1<<24)
		if err != nil {
			return err
		}
		lim = &meta.RateLimit{Rate: rate, Burst: burst}
		if verr := lim.Validate(); verr != nil {
			return errBadRequest("%v", verr)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	st, cerr := sa.SetStoreLimits(ctx, id, lim)
	if cerr != nil {
		return s.storeAdminErr(cerr, id)
	}
	return writeJSON(r.ctx, map[string]any{"status": "ok", "id": st.ID, "limits": st.Limits})
}

func (s *Server) storeAdminErr(err error, id string) error {
	switch {
	case errors.Is(err, meta.ErrNoStore):
		return errNotFound("no store %s", quote(id))
	case errors.Is(err, meta.ErrBadStore):
		return errBadRequest("%v", err)
	}
	return s.backendErr(err)
}

// statsPage reads a stats page: limit (default 100, at most 1,000) and
// offset.
func statsPage(r *request) (limit, offset int, err error) {
	if limit, err = r.p.intParam("limit", 100, 0, 1000); err != nil {
		return 0, 0, err
	}
	offset, err = r.p.intParam("offset", 0, 0, 1<<20)
	return limit, offset, err
}
