package meta

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/sibylhq/sibyl/cluster/placement"
	"github.com/sibylhq/sibyl/shard/statemachine"
)

// OpSetPlacement commits a new placement table. Its body is a
// placement.Table whose Version must be exactly one more than the
// committed one: a compare-and-set, so a table computed by a deposed meta
// leader from an old view is rejected instead of undoing newer moves.
const OpSetPlacement = "placement.set"

// ErrStalePlacement is the result of a placement.set whose version does not
// follow the committed table's. The caller re-reads the table and
// reconciles again.
var ErrStalePlacement = errors.New("stale placement version")

const placementKey = "placement/table"

// PlacementState is the placement half of the meta group's state: the
// committed shard -> replica nodes table. It is a second small state
// machine next to Registry; Machine routes commands between the two.
type PlacementState struct {
	mu      sync.RWMutex
	table   placement.Table
	changed chan struct{} // closed and replaced on every change
}

// NewPlacementState returns an empty placement (version 0, no shards).
func NewPlacementState() *PlacementState {
	return &PlacementState{changed: make(chan struct{})}
}

// Table returns a copy of the committed table.
func (p *PlacementState) Table() placement.Table {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.table.Clone()
}

// Version returns the committed table's version (0 before the first).
func (p *PlacementState) Version() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.table.Version
}

// Changed returns a channel closed at the next table change (apply or
// load). Callers re-read Table and call Changed again, etcd-watch style.
func (p *PlacementState) Changed() <-chan struct{} {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.changed
}

// NewSetPlacementCommand builds the command that commits t. t.Version must
// be the committed version plus one. The id is random so that two leaders
// proposing the same version are not mistaken for a retry of one command.
func NewSetPlacementCommand(t placement.Table, nowMillis int64) (*statemachine.Command, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("cannot encode placement v%d: %w", t.Version, err)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS is broken
	}
	return &statemachine.Command{
		ID:   fmt.Sprintf("placement-v%d-%s", t.Version, hex.EncodeToString(id)),
		Op:   OpSetPlacement,
		Time: nowMillis,
		Body: body,
	}, nil
}

// IsPlacementOp reports whether op belongs to PlacementState.
func IsPlacementOp(op string) bool { return strings.HasPrefix(op, "placement.") }

// Apply implements statemachine.StateMachine for placement ops. It returns the
// committed placement.Table, or an error value (ErrStalePlacement,
// placement.ErrBadTable, placement.ErrShardCount) for a rejected command.
func (p *PlacementState) Apply(w statemachine.Writer, cmd *statemachine.Command) any {
	if cmd.Op != OpSetPlacement {
		return fmt.Errorf("unknown placement op %q", cmd.Op)
	}
	var t placement.Table
	if err := json.Unmarshal(cmd.Body, &t); err != nil {
		return fmt.Errorf("%w: %v", placement.ErrBadTable, err)
	}
	if err := t.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.Version != p.table.Version+1 {
		return fmt.Errorf("%w: got v%d, committed v%d", ErrStalePlacement, t.Version, p.table.Version)
	}
	if n := len(p.table.Shards); n != 0 && n != len(t.Shards) {
		return fmt.Errorf("%w: table has %d shards, cluster has %d", placement.ErrShardCount, len(t.Shards), n)
	}
	if err := w.Set([]byte(placementKey), cmd.Body); err != nil {
		return fmt.Errorf("cannot store placement v%d: %w", t.Version, err)
	}
	p.setLocked(t)
	return t.Clone()
}

func (p *PlacementState) setLocked(t placement.Table) {
	p.table = t
	close(p.changed)
	p.changed = make(chan struct{})
}

// Load implements statemachine.StateMachine.
func (p *PlacementState) Load(r statemachine.Reader) error {
	var t placement.Table
	b, err := r.Get([]byte(placementKey))
	switch {
	case errors.Is(err, statemachine.ErrNotFound):
	case err != nil:
		return fmt.Errorf("cannot read placement: %w", err)
	default:
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("bad placement record: %w", err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setLocked(t)
	return nil
}

// Machine is the meta group's whole state machine: placement ops go to
// Placement, everything else to Registry. The node hands a Machine (not the
// bare Registry) to the meta Raft group.
type Machine struct {
	Registry  *Registry
	Placement *PlacementState
}

// NewMachine joins a registry and a placement state.
func NewMachine(r *Registry, p *PlacementState) *Machine {
	return &Machine{Registry: r, Placement: p}
}

// Apply implements statemachine.StateMachine.
func (m *Machine) Apply(w statemachine.Writer, cmd *statemachine.Command) any {
	if IsPlacementOp(cmd.Op) {
		// Legacy key records are rewritten at the first command of any
		// kind (see Registry.migrateLocked).
		m.Registry.migrate(w)
		return m.Placement.Apply(w, cmd)
	}
	return m.Registry.Apply(w, cmd)
}

// Load implements statemachine.StateMachine.
func (m *Machine) Load(r statemachine.Reader) error {
	if err := m.Registry.Load(r); err != nil {
		return err
	}
	return m.Placement.Load(r)
}
