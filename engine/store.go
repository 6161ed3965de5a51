package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// Store is one tenant's state. Readers take RLock; Apply holds Lock.
type Store struct {
	ID  string
	cfg Config

	mu sync.RWMutex
	// version counts applied data commands; models record the version they
	// were derived at.
	version uint64

	products   map[ingest.ID]*ingest.Product
	categories map[ingest.ID]*ingest.Category
	customers  map[ingest.ID]*ingest.Customer
	orders     map[ingest.ID]*heldOrder
	pages      map[ingest.ID]*ingest.Page

	// byEmail maps a lower-cased email to the customer id that has it.
	byEmail map[string]ingest.ID
	// buyerOrders maps a buyer (customer id, or "email:" + email when the
	// order has no customer id) to its order ids in time order.
	buyerOrders map[string][]ingest.ID

	// items gives every product id seen (in the catalog or in an order) a
	// dense index for the statistics.
	items *itemIndex
	sales *salesStats
	// sessions holds each visitor's recent behaviour (tracking events).
	sessions map[string]*session
	// watched holds the latest product views of all visitors, oldest
	// first (currently_watched).
	watched []ingest.ID
	// sessionBytes is the encoded size of every session (bounded by
	// sessionBytesPerStore).
	sessionBytes int64
	// labels holds click and sale attribution per recommendation label
	// (replicated through events); impressions are node-local. Both keep
	// at most labelsKept labels.
	labels      labelTable
	labelsDirty bool
	impMu       sync.Mutex
	impressions labelTable

	// unknownProductLines counts order lines that named a product absent
	// from the catalog when applied (data health).
	unknownProductLines int64

	cache readCache

	// The trained model and what decides when to rebuild it.
	model     atomic.Pointer[storeModel]
	modelGen  atomic.Uint64 // bumped at every publish; keys the read cache
	changes   atomic.Int64  // orders applied since the last snapshot
	trainedAt atomic.Int64  // wall clock (unix s) of the last training
	// lastChange is the wall clock (unix ns) of the last applied command:
	// scheduling only, never state (apply stays deterministic).
	lastChange atomic.Int64
}

func newStore(id string, cfg Config) *Store {
	return &Store{
		ID:          id,
		cfg:         cfg,
		products:    make(map[ingest.ID]*ingest.Product),
		categories:  make(map[ingest.ID]*ingest.Category),
		customers:   make(map[ingest.ID]*ingest.Customer),
		orders:      make(map[ingest.ID]*heldOrder),
		pages:       make(map[ingest.ID]*ingest.Page),
		byEmail:     make(map[string]ingest.ID),
		buyerOrders: make(map[string][]ingest.ID),
		items:       newItemIndex(),
		sessions:    make(map[string]*session),
		labels:      newLabelTable(),
		impressions: newLabelTable(),
		sales:       newSalesStats(cfg),
	}
}

// maxRecordBytes bounds one stored record, checked before a command
// touches memory. A record comes from one command (the proposer caps a
// command at 1 MiB by default), so only a command that bypassed the API
// can reach it; it stays well below the state machine Writer's bound
// (shard.MaxValueBytes), so a record is refused here, before memory
// changes, rather than there, after.
const maxRecordBytes = 8 << 20

// checkRecord is the apply-time check of one record about to be stored:
// what makes its key and value, nothing the API's validation decides
// otherwise (an older node's data must still replay alike).
func checkRecord(i int, id ingest.ID, stored []byte) error {
	if id == "" {
		return fmt.Errorf("%w: record %d has no id", ErrRejected, i)
	}
	if len(id) > ApplyLimits.MaxIDBytes {
		return fmt.Errorf("%w: record %d: id is %d bytes, at most %d allowed: %s", ErrRejected, i, len(id), ApplyLimits.MaxIDBytes, ingest.Quote(string(id)))
	}
	if len(stored) > maxRecordBytes {
		return fmt.Errorf("%w: record %d (id %s) is %d bytes, at most %d allowed", ErrRejected, i, ingest.Quote(string(id)), len(stored), maxRecordBytes)
	}
	return nil
}

// pendingRecord is a decoded and checked record waiting to be stored.
type pendingRecord struct {
	rec    any
	id     ingest.ID
	stored []byte
}

// apply runs a data command. Every record is decoded and checked before
// the first one touches memory or the Writer: a rejected command changes
// nothing, so memory and disk agree on every replica.
func (s *Store) apply(w statemachine.Writer, kind ingest.Kind, action string, cmd *statemachine.Command) (Result, error) {
	switch action {
	case ActionDelete:
		ids, err := decodeList[ingest.ID](cmd.Body)
		if err != nil {
			return Result{}, err
		}
		if len(ids) > ApplyLimits.MaxRecords {
			return Result{}, fmt.Errorf("%w: %d ids, at most %d allowed", ErrRejected, len(ids), ApplyLimits.MaxRecords)
		}
		for i, id := range ids {
			if err := checkRecord(i, id, nil); err != nil {
				return Result{}, err
			}
		}
		n := 0
		for _, id := range ids {
			if !s.has(kind, id) {
				continue
			}
			if err := w.Delete(recordKey(s.ID, kind, id)); err != nil {
				return Result{}, err
			}
			s.remove(kind, id)
			n++
		}
		return Result{Applied: n}, nil
	case ActionPatch:
		patches, err := decodeList[map[string]json.RawMessage](cmd.Body)
		if err != nil {
			return Result{}, err
		}
		if len(patches) > ApplyLimits.MaxRecords {
			return Result{}, fmt.Errorf("%w: %d patches, at most %d allowed", ErrRejected, len(patches), ApplyLimits.MaxRecords)
		}
		// Check every patch first so that a batch is all or nothing.
		pending := make([]pendingRecord, len(patches))
		for i, p := range patches {
			var id ingest.ID
			if err := json.Unmarshal(p["id"], &id); err != nil || id == "" {
				return Result{}, fmt.Errorf("%w: patch %d has no valid id", ErrRejected, i)
			}
			if err := checkRecord(i, id, nil); err != nil {
				return Result{}, err
			}
			cur, ok := s.recordJSON(kind, id)
			if !ok {
				return Result{}, fmt.Errorf("%w: patch %d: %s %s does not exist", ErrRejected, i, strings.TrimSuffix(string(kind), "s"), ingest.Quote(string(id)))
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(cur, &obj); err != nil {
				return Result{}, err
			}
			for k, v := range p {
				if string(v) == "null" {
					delete(obj, k)
				} else {
					obj[k] = v
				}
			}
			b, err := json.Marshal(obj)
			if err != nil {
				return Result{}, err
			}
			if err := validateMerged(kind, b); err != nil {
				return Result{}, fmt.Errorf("%w: patch %d (id %s): %v", ErrRejected, i, ingest.Quote(string(id)), err)
			}
			if pending[i], err = decodePending(i, kind, b); err != nil {
				return Result{}, err
			}
		}
		return s.storeAll(w, kind, pending)
	default: // upsert
		var pending []pendingRecord
		if kind == ingest.KindOrders {
			i := 0
			err := splitOrders(cmd.Body, func(one []byte) error {
				o, err := decodeOrder(one)
				if err != nil {
					return fmt.Errorf("%w: order %d: %v", ErrRejected, i, err)
				}
				if err := checkRecord(i, o.ID, one); err != nil {
					return err
				}
				pending = append(pending, pendingRecord{o, o.ID, one})
				i++
				return nil
			})
			if err != nil {
				if !errors.Is(err, ErrRejected) {
					err = fmt.Errorf("%w: %v", ErrRejected, err)
				}
				return Result{}, err
			}
			return s.storeAll(w, kind, pending)
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(cmd.Body, &raw); err != nil {
			return Result{}, fmt.Errorf("%w: malformed body: %v", ErrRejected, err)
		}
		if len(raw) > ApplyLimits.MaxRecords {
			return Result{}, fmt.Errorf("%w: %d records, at most %d allowed", ErrRejected, len(raw), ApplyLimits.MaxRecords)
		}
		pending = make([]pendingRecord, len(raw))
		for i, b := range raw {
			var err error
			if pending[i], err = decodePending(i, kind, b); err != nil {
				return Result{}, err
			}
		}
		return s.storeAll(w, kind, pending)
	}
}

// decodePending decodes one canonical record and checks it. The stored
// encoding is the canonical one, so that memory and disk agree after a
// restart.
func decodePending(i int, kind ingest.Kind, b []byte) (pendingRecord, error) {
	rec, id, err := decodeRecord(kind, b)
	if err != nil {
		return pendingRecord{}, fmt.Errorf("%w: record %d: %v", ErrRejected, i, err)
	}
	var canon []byte
	if o, ok := rec.(*ingest.Order); ok {
		canon = appendOrder(nil, o)
	} else if canon, err = json.Marshal(rec); err != nil {
		return pendingRecord{}, fmt.Errorf("%w: record %d: %v", ErrRejected, i, err)
	}
	if err := checkRecord(i, id, canon); err != nil {
		return pendingRecord{}, err
	}
	return pendingRecord{rec, id, canon}, nil
}

// storeAll stores checked records. It returns the number of order lines
// naming unknown products in the result.
func (s *Store) storeAll(w statemachine.Writer, kind ingest.Kind, pending []pendingRecord) (Result, error) {
	var res Result
	for _, p := range pending {
		unknown, err := s.store(w, kind, p.rec, p.id, p.stored)
		if err != nil {
			return Result{}, err
		}
		res.Applied++
		res.UnknownProducts += unknown
	}
	return res, nil
}

// store writes one decoded record with its stored encoding and indexes it.
func (s *Store) store(w statemachine.Writer, kind ingest.Kind, rec any, id ingest.ID, stored []byte) (int, error) {
	if err := w.Set(recordKey(s.ID, kind, id), stored); err != nil {
		return 0, err
	}
	if kind == ingest.KindOrders {
		if prev := s.orders[id]; prev != nil && s.sameItems(prev, rec.(*ingest.Order)) {
			// A re-import of the same order: swap the record, keep the
			// statistics (they would come out the same).
			s.orders[id] = s.holdOrder(rec.(*ingest.Order))
			return 0, nil
		}
	}
	if s.has(kind, id) {
		s.remove(kind, id)
	}
	return s.index(kind, rec), nil
}

func decodeRecord(kind ingest.Kind, b []byte) (any, ingest.ID, error) {
	switch kind {
	case ingest.KindProducts:
		var r ingest.Product
		err := json.Unmarshal(b, &r)
		return &r, r.ID, err
	case ingest.KindCategories:
		var r ingest.Category
		err := json.Unmarshal(b, &r)
		return &r, r.ID, err
	case ingest.KindCustomers:
		var r ingest.Customer
		err := json.Unmarshal(b, &r)
		return &r, r.ID, err
	case ingest.KindOrders:
		var r ingest.Order
		err := json.Unmarshal(b, &r)
		return &r, r.ID, err
	case ingest.KindPages:
		var r ingest.Page
		err := json.Unmarshal(b, &r)
		return &r, r.ID, err
	}
	return nil, "", fmt.Errorf("unknown kind %q", kind)
}

// load indexes one record read back from Badger. Records arrive in key
// order (orders before products), so the statistics are counted once at
// the end, in time order, by finishLoad.
func (s *Store) load(kind ingest.Kind, value []byte) error {
	var rec any
	var err error
	if kind == ingest.KindOrders {
		rec, err = decodeOrder(value)
	} else {
		rec, _, err = decodeRecord(kind, value)
	}
	if err != nil {
		return fmt.Errorf("store %s: bad %s record: %w", s.ID, kind, err)
	}
	s.sales.stale = true
	s.index(kind, rec)
	return nil
}

// finishLoad completes a Load: buyer order lists sorted by time, the
// statistics counted, and the unknown-product counter taken against the
// loaded catalog.
func (s *Store) finishLoad() {
	s.unknownProductLines = 0
	for _, o := range s.orders {
		for _, i := range o.items() {
			if _, ok := s.products[s.items.ids[i]]; !ok {
				s.unknownProductLines++
			}
		}
	}
	s.rebuildSales()
	for buyer, ids := range s.buyerOrders {
		sort.SliceStable(ids, func(i, j int) bool {
			a, b := s.orders[ids[i]], s.orders[ids[j]]
			if a.Time != b.Time {
				return a.Time < b.Time
			}
			return a.ID < b.ID
		})
		s.buyerOrders[buyer] = ids
	}
}

func (s *Store) has(kind ingest.Kind, id ingest.ID) bool { return s.record(kind, id) != nil }

func (s *Store) recordJSON(kind ingest.Kind, id ingest.ID) ([]byte, bool) {
	v := s.record(kind, id)
	if v == nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	return b, err == nil
}

// index adds a decoded record to memory; the caller has removed any
// previous version. It returns the order lines naming unknown products.
func (s *Store) index(kind ingest.Kind, rec any) int {
	switch r := rec.(type) {
	case *ingest.Product:
		s.products[r.ID] = r
		s.items.add(r.ID)
	case *ingest.Category:
		s.categories[r.ID] = r
	case *ingest.Customer:
		s.customers[r.ID] = r
		if r.Email != "" {
			s.byEmail[strings.ToLower(r.Email)] = r.ID
		}
	case *ingest.Page:
		s.pages[r.ID] = r
	case *ingest.Order:
		h := s.holdOrder(r)
		s.orders[r.ID] = h
		buyer := buyerKey(h)
		if buyer != "" {
			s.buyerOrders[buyer] = insertByTime(s.buyerOrders[buyer], h, s.orders)
		}
		unknown := 0
		for _, l := range r.Products {
			if _, ok := s.products[l.ID]; !ok {
				unknown++
			}
		}
		s.unknownProductLines += int64(unknown)
		s.changes.Add(1)
		if !s.sales.stale {
			s.sales.addOrder(h)
		}
		return unknown
	}
	return 0
}

func (s *Store) remove(kind ingest.Kind, id ingest.ID) {
	switch kind {
	case ingest.KindProducts:
		delete(s.products, id)
	case ingest.KindCategories:
		delete(s.categories, id)
	case ingest.KindCustomers:
		if c := s.customers[id]; c != nil && c.Email != "" {
			delete(s.byEmail, strings.ToLower(c.Email))
		}
		delete(s.customers, id)
	case ingest.KindPages:
		delete(s.pages, id)
	case ingest.KindOrders:
		o := s.orders[id]
		if o == nil {
			return
		}
		delete(s.orders, id)
		if buyer := buyerKey(o); buyer != "" {
			list := s.buyerOrders[buyer]
			for i, oid := range list {
				if oid == id {
					list = append(list[:i:i], list[i+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(s.buyerOrders, buyer)
			} else {
				s.buyerOrders[buyer] = list
			}
		}
		// The statistics only add; recount before the next read.
		s.sales.stale = true
	}
}

func buyerKey(o *heldOrder) string {
	if o.Customer != "" {
		return string(o.Customer)
	}
	if o.Email != "" {
		return "email:" + strings.ToLower(o.Email)
	}
	return ""
}

// insertByTime keeps a buyer's order list sorted by (time, id); orders
// mostly arrive in time order, so this is an append.
func insertByTime(list []ingest.ID, o *heldOrder, orders map[ingest.ID]*heldOrder) []ingest.ID {
	less := func(a *heldOrder) bool { // a sorts after o
		return a.Time > o.Time || (a.Time == o.Time && a.ID > o.ID)
	}
	i := len(list)
	for i > 0 && less(orders[list[i-1]]) {
		i--
	}
	list = append(list, "")
	copy(list[i+1:], list[i:])
	list[i] = o.ID
	return list
}

// itemIndex maps product ids to dense indices and back. Indices are never
// reused, so statistics keyed by index stay valid when products come and go.
type itemIndex struct {
	idx map[ingest.ID]int32
	ids []ingest.ID
}

func newItemIndex() *itemIndex { return &itemIndex{idx: make(map[ingest.ID]int32)} }

func (x *itemIndex) add(id ingest.ID) int32 {
	if i, ok := x.idx[id]; ok {
		return i
	}
	i := int32(len(x.ids))
	x.idx[id] = i
	x.ids = append(x.ids, id)
	return i
}

func (x *itemIndex) lookup(id ingest.ID) (int32, bool) {
	i, ok := x.idx[id]
	return i, ok
}

// validateMerged checks a patched record as the API checks a new one: the
// patch was only checked for shape, the merged record must be valid.
func validateMerged(kind ingest.Kind, b []byte) error {
	switch kind {
	case ingest.KindProducts:
		return validateOne[ingest.Product](b)
	case ingest.KindCategories:
		return validateOne[ingest.Category](b)
	case ingest.KindCustomers:
		return validateOne[ingest.Customer](b)
	case ingest.KindOrders:
		return validateOne[ingest.Order](b)
	case ingest.KindPages:
		return validateOne[ingest.Page](b)
	}
	return fmt.Errorf("unknown kind %q", kind)
}

func validateOne[T ingest.Record](b []byte) error {
	var r T
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if errs := ingest.Validate([]T{r}, ingest.DefaultLimits()); len(errs) > 0 {
		return errs[0]
	}
	return nil
}
