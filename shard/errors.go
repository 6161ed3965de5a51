package shard

import (
	"errors"
	"fmt"
)

var (
	// ErrNotLeader: this node does not lead the group; send the write to
	// the leader (errors.As a *NotLeaderError for its address).
	ErrNotLeader = errors.New("not the raft leader")
	// ErrNoQuorum: the write was not confirmed in time (no quorum, lost
	// leadership, or a full queue). It may still be applied; retrying with
	// the same command id is safe. The API answers 503.
	ErrNoQuorum = errors.New("no raft quorum")
	// ErrShutdown: the group or manager is shutting down.
	ErrShutdown = errors.New("shard is shut down")
	// ErrTooLarge: a single command is larger than a Raft entry may be.
	ErrTooLarge = errors.New("command too large")
)

// NotLeaderError carries the current leader, if known. It matches
// ErrNotLeader with errors.Is.
type NotLeaderError struct {
	Group      string
	LeaderID   string // "" when unknown
	LeaderAddr string // raft address; "" when unknown
}

func (e *NotLeaderError) Error() string {
	if e.LeaderAddr == "" {
		return fmt.Sprintf("group %s: not the raft leader, leader unknown", e.Group)
	}
	return fmt.Sprintf("group %s: not the raft leader, leader is %s at %s", e.Group, e.LeaderID, e.LeaderAddr)
}

func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }
