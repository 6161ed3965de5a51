package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// Store is one tenant's state, composed of four parts, each with its own
// lock and, where it caches, its own named cache:
//
//   - catalog (catalog.go, embedded): products, categories, customers,
//     pages, the item index and the data version; its views (sorted ids,
//     the newest list, text indexes, Derived values) per version.
//   - sales (sales.go): orders, the buyer index and the live statistics;
//     the ranked lists and the seeded answers they serve.
//   - sessions (sessions.go, labels.go): visitors' sessions, the latest
//     views, label attribution (and node-local impressions).
//   - models (models.go): the trained model, the retrain bookkeeping and
//     the visitor answers it serves.
//
// Lock order. A goroutine takes at most one cache lock (catalog.views.mu,
// sales.lists.mu, sales.seeded.mu, models.visitor.mu) and only before any
// data lock; then data locks in the order catalog.mu, sales.mu,
// sessions.mu, sessions.impMu, skipping those it does not need; it never
// takes a read lock it already holds. A read that spans parts takes each
// part's read lock in that order (Get of orders, CustomerHistory,
// snapshot, Audience) or one after the other, releasing each before the
// next (the seeded logics: sales, then catalog). Engine.Apply is the
// only writer: a data command holds the catalog write-locked, and for
// orders the sales part too; a tracking command holds the catalog and
// sales read-locked (item index; the co-view counts lock themselves) and
// the sessions write-locked. A stale-statistics recount (freshStats)
// takes the catalog read, sales write, sessions read locks. The models
// part has no data lock (an atomic pointer and atomic counters).
//
// The catalog is embedded, so s.mu, s.version, s.products and s.views
// (engine/text.go uses them) are the catalog's.
type Store struct {
	ID  string
	cfg Config

	catalog
	sales    sales
	sessions sessions
	models   models
	// merch (merch.go) holds the store's merchandising records; its lock
	// is a leaf, taken after catalog.mu when both are.
	merch merchPart
	// sync (sync.go) holds the store's Data Sync configuration and
	// runs; its lock is a leaf.
	sync syncPart
	// health (health.go) counts what the data health checks read; its
	// lock is a leaf.
	health storeHealth

	// attached holds other layers' values kept for the store's
	// lifetime (changes.go).
	attached attachments
}

func newStore(id string, cfg Config) *Store {
	return &Store{
		ID:       id,
		cfg:      cfg,
		catalog:  newCatalog(),
		sales:    newSales(cfg),
		sessions: newSessions(),
	}
}

// lockData takes the write locks a data command of kind needs (see
// Store); unlockData releases them.
func (s *Store) lockData(kind ingest.Kind) {
	s.catalog.mu.Lock()
	if kind == ingest.KindOrders {
		s.sales.mu.Lock()
	}
}

func (s *Store) unlockData(kind ingest.Kind) {
	if kind == ingest.KindOrders {
		s.sales.mu.Unlock()
	}
	s.catalog.mu.Unlock()
}

// lockEvents takes the locks a tracking command needs (see Store).
func (s *Store) lockEvents() {
	s.catalog.mu.RLock()
	s.sales.mu.RLock()
	s.sessions.mu.Lock()
}

func (s *Store) unlockEvents() {
	s.sessions.mu.Unlock()
	s.sales.mu.RUnlock()
	s.catalog.mu.RUnlock()
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

// apply runs a data command, with the locks of lockData(kind) held. Every
// record is decoded and checked before the first one touches memory or
// the Writer: a rejected command changes nothing, so memory and disk
// agree on every replica.
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
			switch kind {
			case ingest.KindProducts:
				s.catalog.changes.productChanged(id)
			case ingest.KindCategories, ingest.KindPages:
				s.catalog.changes.otherChanged()
			}
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
		if prev := s.sales.orders[id]; prev != nil && s.catalog.items.sameItems(prev, rec.(*ingest.Order)) {
			// A re-import of the same order: swap the record, keep the
			// statistics (they would come out the same).
			s.sales.orders[id] = s.catalog.items.hold(rec.(*ingest.Order))
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
	s.sales.stats.stale = true
	s.index(kind, rec)
	return nil
}

// finishLoad completes a Load: buyer order lists sorted by time, the
// statistics counted, and the unknown-product counter taken against the
// loaded catalog.
func (s *Store) finishLoad() {
	c, sl := &s.catalog, &s.sales
	sl.unknownProductLines = 0
	for _, o := range sl.orders {
		for _, i := range o.items() {
			if _, ok := c.products[c.items.ids[i]]; !ok {
				sl.unknownProductLines++
			}
		}
	}
	s.rebuildStatsLocked()
	for buyer, ids := range sl.buyerOrders {
		sort.SliceStable(ids, func(i, j int) bool {
			a, b := sl.orders[ids[i]], sl.orders[ids[j]]
			if a.Time != b.Time {
				return a.Time < b.Time
			}
			return a.ID < b.ID
		})
		sl.buyerOrders[buyer] = ids
	}
}

func (s *Store) has(kind ingest.Kind, id ingest.ID) bool { return s.recordLocked(kind, id) != nil }

func (s *Store) recordJSON(kind ingest.Kind, id ingest.ID) ([]byte, bool) {
	v := s.recordLocked(kind, id)
	if v == nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	return b, err == nil
}

// index adds a decoded record to memory; the caller has removed any
// previous version. It returns the order lines naming unknown products.
func (s *Store) index(kind ingest.Kind, rec any) int {
	c := &s.catalog
	switch r := rec.(type) {
	case *ingest.Product:
		c.products[r.ID] = r
		s.health.productAdded(r, c.items.add(r.ID))
		c.changes.productChanged(r.ID)
	case *ingest.Category:
		c.categories[r.ID] = r
		c.changes.otherChanged()
	case *ingest.Customer:
		c.customers[r.ID] = r
		if r.Email != "" {
			c.byEmail[strings.ToLower(r.Email)] = r.ID
		}
	case *ingest.Page:
		c.pages[r.ID] = r
		c.changes.otherChanged()
	case *ingest.Order:
		sl := &s.sales
		h := c.items.hold(r)
		sl.orders[r.ID] = h
		buyer := buyerKey(h)
		if buyer != "" {
			sl.buyerOrders[buyer] = insertByTime(sl.buyerOrders[buyer], h, sl.orders)
		}
		unknown := 0
		for _, l := range r.Products {
			if _, ok := c.products[l.ID]; !ok {
				unknown++
			}
		}
		sl.unknownProductLines += int64(unknown)
		s.health.order(h, 1, c.isProduct)
		s.models.changes.Add(1)
		if !sl.stats.stale {
			sl.stats.addOrder(h)
		}
		return unknown
	}
	return 0
}

func (s *Store) remove(kind ingest.Kind, id ingest.ID) {
	c := &s.catalog
	switch kind {
	case ingest.KindProducts:
		s.health.productRemoved(c, id)
		delete(c.products, id)
	case ingest.KindCategories:
		delete(c.categories, id)
	case ingest.KindCustomers:
		if cu := c.customers[id]; cu != nil && cu.Email != "" {
			delete(c.byEmail, strings.ToLower(cu.Email))
		}
		delete(c.customers, id)
	case ingest.KindPages:
		delete(c.pages, id)
	case ingest.KindOrders:
		sl := &s.sales
		o := sl.orders[id]
		if o == nil {
			return
		}
		delete(sl.orders, id)
		s.health.order(o, -1, c.isProduct)
		if buyer := buyerKey(o); buyer != "" {
			list := sl.buyerOrders[buyer]
			for i, oid := range list {
				if oid == id {
					list = append(list[:i:i], list[i+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(sl.buyerOrders, buyer)
			} else {
				sl.buyerOrders[buyer] = list
			}
		}
		// The statistics only add; recount before the next read.
		sl.stats.stale = true
	}
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
