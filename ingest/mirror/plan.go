package mirror

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/sibylhq/sibyl/ingest"
)

// Config tunes Plan's safety valve.
type Config struct {
	// MaxDeleteShare is the largest share (0-1) of a kind's records one
	// sync may delete.
	MaxDeleteShare float64
	// DeleteFloor is how many records of a kind a sync may always
	// delete, whatever their share: a store of 3 products can drop 1.
	DeleteFloor int
	// AllowMassDelete turns the valve off, for the one sync after which
	// the shop really did remove a large part of its catalog.
	AllowMassDelete bool
}

// DefaultConfig refuses to delete more than 30% of a kind, beyond 10
// records.
func DefaultConfig() Config { return Config{MaxDeleteShare: 0.30, DeleteFloor: 10} }

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if math.IsNaN(c.MaxDeleteShare) || c.MaxDeleteShare < 0 || c.MaxDeleteShare > 1 {
		return fmt.Errorf("mirror: max delete share must be between 0 and 1, got %v", c.MaxDeleteShare)
	}
	if c.DeleteFloor < 0 {
		return fmt.Errorf("mirror: delete floor must not be negative, got %d", c.DeleteFloor)
	}
	return nil
}

// Existing lists a store's ids of one kind: it calls yield for each id,
// once, and stops when yield returns false (the shape of iter.Seq, with
// the kind first).
type Existing func(kind ingest.Kind, yield func(id ingest.ID) bool)

// Deletes is what a complete sync deletes.
type Deletes struct {
	// IDs lists the ids to delete per kind, in the order Existing gave
	// them; a kind with nothing to delete is absent.
	IDs map[ingest.Kind][]ingest.ID
	// Existing counts the store's records per kind compared, before the
	// deletions: the kinds read completely, orders excepted.
	Existing map[ingest.Kind]int
}

// Len is the number of records to delete, all kinds.
func (d Deletes) Len() int {
	n := 0
	for _, ids := range d.IDs {
		n += len(ids)
	}
	return n
}

// RefusedError is Plan's refusal to delete too large a share of a kind.
type RefusedError struct {
	Kind        ingest.Kind
	Existing    int
	WouldDelete int
	// Share is WouldDelete / Existing; Max is Config.MaxDeleteShare.
	Share float64
	Max   float64
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("mirror: refusing to delete %d of %d %s (%.1f%%, more than the %.1f%% allowed): "+
		"nothing was applied; a source cut short or an API key that sees only part of the shop look like this. "+
		"If the shop really removed them, run the sync once with AllowMassDelete (allow_mass_delete) set",
		e.WouldDelete, e.Existing, e.Kind, 100*e.Share, 100*e.Max)
}

// Plan lists, for each kind in complete, the store's records (existing)
// the sync did not see. Kinds not in complete delete nothing, nor do
// orders, ever. If any kind would lose more than cfg.MaxDeleteShare of its
// records and more than cfg.DeleteFloor of them, Plan returns a
// *RefusedError (the first such kind in ingest.Kinds order) and no
// deletes, unless cfg.AllowMassDelete.
//
// Call Plan only after a read that ended well, with the Seen of that
// whole read and the kinds it read in full (source.Result.Kinds): a sync
// that failed half-way, or read incrementally, must not call Plan at all,
// since everything it did not get to would look deleted.
func Plan(existing Existing, seen *Seen, complete []ingest.Kind, cfg Config) (Deletes, error) {
	if err := cfg.Validate(); err != nil {
		return Deletes{}, err
	}
	if existing == nil || seen == nil {
		return Deletes{}, errors.New("mirror: Plan needs the existing ids and the seen set")
	}
	for _, kind := range complete {
		if !slices.Contains(ingest.Kinds, kind) {
			return Deletes{}, fmt.Errorf("mirror: unknown kind %s", ingest.Quote(string(kind)))
		}
	}
	plan := Deletes{IDs: map[ingest.Kind][]ingest.ID{}, Existing: map[ingest.Kind]int{}}
	for _, kind := range ingest.Kinds {
		if kind == ingest.KindOrders || !slices.Contains(complete, kind) {
			continue
		}
		var gone []ingest.ID
		n := 0
		existing(kind, func(id ingest.ID) bool {
			n++
			if !seen.Has(kind, id) {
				gone = append(gone, id)
			}
			return true
		})
		plan.Existing[kind] = n
		if len(gone) == 0 {
			continue
		}
		share := float64(len(gone)) / float64(n)
		if !cfg.AllowMassDelete && len(gone) > cfg.DeleteFloor && share > cfg.MaxDeleteShare {
			return Deletes{}, &RefusedError{Kind: kind, Existing: n, WouldDelete: len(gone), Share: share, Max: cfg.MaxDeleteShare}
		}
		plan.IDs[kind] = gone
	}
	return plan, nil
}
