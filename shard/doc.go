// Package shard runs a node's Raft groups: one group per data shard plus
// the cluster's meta group, all sharing two Badger databases and one TCP
// port.
//
// Pieces, bottom up:
//
//   - kv: opens the node's two Badgers with node-sized memory (raft-log with
//     SyncWrites on, state with SyncWrites off) and runs value-log GC.
//   - raftstore: raft.LogStore and raft.StableStore views of the log Badger,
//     keys prefixed by group id.
//   - transport: one listener for every group; a header on each connection
//     names the group (default address transport.DefaultRaftAddr,
//     127.0.0.1:7947, next to memberlist's 7946).
//   - FSM: raft.BatchingFSM over the state Badger. One WriteBatch per apply
//     call holds the state machine's writes, the command ids and the applied
//     index; replays at or below the applied index are skipped and repeated
//     command ids are no-ops (ErrDuplicateCommand) within DedupWindow of
//     command time. Snapshots stream the group's key range from one Badger
//     read transaction.
//   - proposer: group commit on the leader. Concurrent Propose calls are
//     packed into one Raft entry per Linger (1 ms) or MaxCommands/MaxBytes.
//   - Group: one Raft group (bootstrapped only if it has no state; raft's
//     restore-on-start is off because the state is already in Badger).
//   - Manager: opens <data-dir>/raft-log and <data-dir>/state, the port, the
//     meta group and the fixed number of data shards (persisted at first
//     start). ShardFor maps a store to its shard by jump hash.
//
// Errors callers branch on: ErrNotLeader (errors.As *NotLeaderError for the
// leader's raft address), ErrNoQuorum (answer 503; retrying with the same
// command id is safe), ErrShutdown, ErrTooLarge, ErrNotFound.
package shard
