package shard

import "time"

// RaftApplyForTest appends data to the group's Raft log as it is, past the
// proposer and its size check, as a buggy or hostile proposer could, and
// returns the FSM's response for the entry. For the external tests of
// this package (poison_test.go), which need the engine.
func RaftApplyForTest(g *Group, data []byte, timeout time.Duration) (any, error) {
	f := g.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		return nil, err
	}
	return f.Response(), nil
}

// FSMRejectedForTest is the number of commands the group's FSM rejected.
func FSMRejectedForTest(g *Group) uint64 { return g.fsm.Rejected() }
