package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sibylhq/sibyl/ingest"
	"github.com/sibylhq/sibyl/search"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// Applying merchandising commands. Every record is decoded (unknown
// fields refused), validated and counted against the store's limits
// before the first one is written: a rejected command changes nothing,
// and no bytes in a command (the API validated them, but a log entry may
// come from anywhere) can panic a replica.

// splitMerchOp recognizes the ops of merchandising kinds: upsert, patch
// and delete of the keyed kinds, upsert of the settings.
func splitMerchOp(op string) (ingest.Kind, string, bool) {
	kind, action, ok := strings.Cut(op, ".")
	if !ok || !IsMerchKind(ingest.Kind(kind)) {
		return "", "", false
	}
	switch action {
	case ActionUpsert:
	case ActionPatch, ActionDelete:
		if ingest.Kind(kind) == KindSearchSettings {
			return "", "", false
		}
	default:
		return "", "", false
	}
	return ingest.Kind(kind), action, true
}

// applyMerch runs a merchandising command. A settings write bumps the
// data version (the search index is built in the store's language);
// the other kinds are read through Merch, which they invalidate.
func (e *Engine) applyMerch(w statemachine.Writer, cmd *statemachine.Command, kind ingest.Kind, action string) any {
	s, created := e.storeForWrite(cmd.Store)
	if kind == KindSearchSettings {
		s.catalog.mu.Lock()
		defer s.catalog.mu.Unlock()
	}
	m := &s.merch
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	res, err := m.apply(w, s.ID, kind, action, cmd.Body)
	if err != nil {
		e.dropIfCreated(s, created)
		return err
	}
	m.compiled.Store(nil)
	if kind == KindSearchSettings {
		s.catalog.version++
		if err := w.Set(recordKey(s.ID, metaKind, "version"), binary.BigEndian.AppendUint64(nil, s.catalog.version)); err != nil {
			return err
		}
	}
	return res
}

// apply runs one command with mu locked.
func (m *merchPart) apply(w statemachine.Writer, store string, kind ingest.Kind, action string, body []byte) (Result, error) {
	lim := MerchLimits
	switch kind {
	case KindSynonyms:
		return applyKeyed(w, store, kind, action, body, m.synonyms, lim.MaxSynonymRules, &m.bytes[kindSlot(kind)])
	case KindRedirects:
		return applyKeyed(w, store, kind, action, body, m.redirects, lim.MaxRedirects, &m.bytes[kindSlot(kind)])
	case KindCustomizedSearch:
		return applyKeyed(w, store, kind, action, body, m.custom, lim.MaxCustomizations, &m.bytes[kindSlot(kind)])
	case KindMerchandising:
		return applyKeyed(w, store, kind, action, body, m.campaigns, lim.MaxCampaigns, &m.bytes[kindSlot(kind)])
	case KindSearchSettings:
		var st search.Settings
		if err := decodeStrict(body, &st); err != nil {
			return Result{}, fmt.Errorf("%w: settings: %v", ErrRejected, err)
		}
		if err := st.Validate(); err != nil {
			return Result{}, fmt.Errorf("%w: settings: %v", ErrRejected, err)
		}
		stored, _ := json.Marshal(st)
		if err := w.Set(recordKey(store, kind, settingsKey), stored); err != nil {
			return Result{}, err
		}
		m.settings = &st
		return Result{Applied: 1}, nil
	}
	return Result{}, fmt.Errorf("%w: unknown merchandising kind %s", ErrRejected, ingest.Quote(string(kind)))
}

// merchRecord is a keyed merchandising record type (*search.Synonym,
// ...).
type merchRecord[T any] interface {
	*T
	Key() string
	Validate(search.MerchLimits) error
}

// MerchKeyField names the field a record of a keyed kind is named by
// (and a patch finds its record by).
func MerchKeyField(kind ingest.Kind) string {
	switch kind {
	case KindSynonyms, KindCustomizedSearch:
		return "query"
	case KindRedirects:
		return "url"
	case KindMerchandising:
		return "id"
	}
	return ""
}

func applyKeyed[T any, P merchRecord[T]](w statemachine.Writer, store string, kind ingest.Kind, action string, body []byte, table map[string]T, maxCount int, size *int) (Result, error) {
	lim := MerchLimits
	if action == ActionDelete {
		var names []string
		if err := json.Unmarshal(body, &names); err != nil {
			return Result{}, fmt.Errorf("%w: a delete of %s is a JSON list of names: %v", ErrRejected, kind, err)
		}
		if len(names) > maxCount {
			return Result{}, fmt.Errorf("%w: %d names, at most %d per command", ErrRejected, len(names), maxCount)
		}
		n := 0
		for _, name := range names {
			k := MerchKey(kind, name)
			if _, ok := table[k]; !ok || k == "" {
				continue
			}
			if err := w.Delete(recordKey(store, kind, ingest.ID(k))); err != nil {
				return Result{Applied: n}, err
			}
			*size -= encodedSize(table[k])
			delete(table, k)
			n++
		}
		return Result{Applied: n}, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return Result{}, fmt.Errorf("%w: %s: a JSON list of records: %v", ErrRejected, kind, err)
	}
	if len(raws) == 0 {
		return Result{}, fmt.Errorf("%w: %s: the list is empty", ErrRejected, kind)
	}
	if len(raws) > maxCount {
		return Result{}, fmt.Errorf("%w: %d %s in one command, at most %d", ErrRejected, len(raws), kind, maxCount)
	}
	type pending struct {
		key    string
		rec    T
		stored []byte
	}
	batch := make([]pending, 0, len(raws))
	at := make(map[string]int, len(raws)) // key -> place in batch
	for i, raw := range raws {
		if action == ActionPatch {
			merged, err := mergePatch(kind, raw, func(k string) (T, bool) {
				if j, ok := at[k]; ok {
					return batch[j].rec, true
				}
				r, ok := table[k]
				return r, ok
			})
			if err != nil {
				return Result{}, fmt.Errorf("%w: %s %d: %v", ErrRejected, kind, i, err)
			}
			raw = merged
		}
		var rec T
		if err := decodeStrict(raw, &rec); err != nil {
			return Result{}, fmt.Errorf("%w: %s %d: %v", ErrRejected, kind, i, err)
		}
		if err := P(&rec).Validate(lim); err != nil {
			return Result{}, fmt.Errorf("%w: %s %d: %v", ErrRejected, kind, i, err)
		}
		key := P(&rec).Key()
		stored, err := json.Marshal(rec)
		if err != nil {
			return Result{}, fmt.Errorf("%w: %s %d: %v", ErrRejected, kind, i, err)
		}
		if err := checkRecord(i, ingest.ID(key), stored); err != nil {
			return Result{}, err
		}
		if j, ok := at[key]; ok {
			batch[j] = pending{key, rec, stored} // the later one wins, as for products
			continue
		}
		at[key] = len(batch)
		batch = append(batch, pending{key, rec, stored})
	}
	added := 0
	for _, p := range batch {
		if _, ok := table[p.key]; !ok {
			added++
		}
	}
	if len(table)+added > maxCount {
		return Result{}, fmt.Errorf("%w: the store would have %d %s, at most %d allowed", ErrRejected, len(table)+added, kind, maxCount)
	}
	total := *size
	for _, p := range batch {
		total += len(p.stored)
		if r, ok := table[p.key]; ok {
			total -= encodedSize(r)
		}
	}
	if total > lim.MaxKindBytes {
		return Result{}, fmt.Errorf("%w: the store's %s would take %d bytes, at most %d allowed", ErrRejected, kind, total, lim.MaxKindBytes)
	}
	for _, p := range batch {
		if err := w.Set(recordKey(store, kind, ingest.ID(p.key)), p.stored); err != nil {
			return Result{}, err
		}
		table[p.key] = p.rec
	}
	*size = total
	return Result{Applied: len(batch)}, nil
}

// mergePatch overlays a partial record on the one it names (by its key
// field), which must exist; the key field may be restated but not
// changed.
func mergePatch[T any](kind ingest.Kind, raw json.RawMessage, current func(string) (T, bool)) (json.RawMessage, error) {
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(raw, &patch); err != nil {
		return nil, fmt.Errorf("a patch is a JSON object: %v", err)
	}
	field := MerchKeyField(kind)
	var name string
	if err := json.Unmarshal(patch[field], &name); err != nil || name == "" {
		return nil, fmt.Errorf("a patch names its record by %q", field)
	}
	cur, ok := current(MerchKey(kind, name))
	if !ok {
		return nil, fmt.Errorf("no %s record %s to patch", kind, ingest.Quote(name))
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(b, &merged); err != nil {
		return nil, err
	}
	for k, v := range patch {
		if k == field {
			continue // the stored spelling stays; the key is the same
		}
		merged[k] = v
	}
	return json.Marshal(merged)
}

// decodeStrict decodes one JSON value, refusing unknown fields (a typo
// such as "directed_synonym" must not be dropped silently) and trailing
// data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the record")
	}
	return nil
}

// load reads one merchandising record back from Badger.
func (m *merchPart) load(kind ingest.Kind, key ingest.ID, value []byte) error {
	m.init()
	var err error
	switch kind {
	case KindSynonyms:
		err = loadKeyed(m.synonyms, key, value)
	case KindRedirects:
		err = loadKeyed(m.redirects, key, value)
	case KindCustomizedSearch:
		err = loadKeyed(m.custom, key, value)
	case KindMerchandising:
		err = loadKeyed(m.campaigns, key, value)
	}
	if err == nil && kind != KindSearchSettings {
		m.bytes[kindSlot(kind)] += len(value)
	}
	switch kind {
	case KindSearchSettings:
		var st search.Settings
		if err = json.Unmarshal(value, &st); err == nil {
			m.settings = &st
		}
	}
	if err != nil {
		return fmt.Errorf("bad %s record %s: %w", kind, ingest.Quote(string(key)), err)
	}
	return nil
}

// encodedSize is a record's stored size: records are stored as
// json.Marshal encodes them, so the size is found again by encoding.
func encodedSize[T any](r T) int {
	b, _ := json.Marshal(r)
	return len(b)
}

func loadKeyed[T any](table map[string]T, key ingest.ID, value []byte) error {
	var rec T
	if err := json.Unmarshal(value, &rec); err != nil {
		return err
	}
	table[string(key)] = rec
	return nil
}
