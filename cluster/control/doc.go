// Package control runs the reconciler on the meta leader: every Interval
// (or sooner, after Kick) it gathers the inputs through small interfaces —
// Members, Meta, Shards — asks reconcile.Next for the steps and executes
// them. Its only state is when this node became meta leader, which the
// reconciler uses to give nodes missing from the view a grace period.
//
// # Wiring into the node
//
// This is what node/ is expected to call, and when. hashicorp/raft stays
// behind shard/; memberlist behind cluster/membership.
//
//  1. Open: after the Raft mux listens, start gossip with
//     membership.New(Config{NodeID, BindAddr: --gossip-addr, HTTPAddr and
//     RaftAddr: the advertised ones, Seeds: --join}).
//  2. The meta group's state machine is meta.NewMachine(registry,
//     placementState) instead of the bare Registry.
//  3. Bootstrap: a node with no --join (or whose own gossip address is the
//     first seed) bootstraps the meta group alone; other nodes bootstrap
//     nothing and wait to be added as non-voters. The first table (v1) then
//     lists only the bootstrapping node and its shard groups bootstrap
//     alone, as a single node does today; every later placement is a move.
//  4. Table watch: loop on placementState.Changed(). For every shard the
//     table lists for this node, make sure the group is open (without
//     bootstrap: the leader adds it). Close a group and drop its data only
//     once this node is no longer in the group's Raft configuration.
//     Install the table in the route.Router.
//  5. Membership watch: on membership.Subscribe() signals, call
//     router.SetPeers (Up = alive and not in the last plan's Unhealthy) and
//     controller.Kick().
//  6. Controller: control.New(cfg, control.MembersOf(membership), meta,
//     shards), `go c.Run(ctx)`, cancel and wait on shutdown. Meta:
//     IsLeader = the meta group's Raft state; Table = placementState.Table;
//     CommitTable = propose meta.NewSetPlacementCommand(t, now) and return
//     the apply result if it is an error. Shards, per shard (and
//     reconcile.MetaShard for the meta group), on the shard's leader — a
//     local call when this node leads it, an internal HTTP call otherwise:
//     Status = the group's configuration (raft GetConfiguration) plus, for
//     each non-voter, CaughtUp = its applied index (asked from its node)
//     is within a small lag of the leader's commit index; AddNonVoter =
//     raft AddNonvoter(id, raft address from membership); Promote = raft
//     AddVoter on the same id; TransferLeadership = raft
//     LeadershipTransferToServer; RemoveReplica = raft RemoveServer. Each
//     must fail with the shard's ErrNotLeader on a node that does not lead.
//  7. Shutdown: stop the controller and stop gossip without a leave (a
//     stop is usually a restart: the others wait out the grace period).
//     Leaving for good (`sibyl cluster leave`, or serve's
//     --leave-on-terminate) calls membership.SetDraining(true), waits until
//     the table and the meta group no longer list the node, then shuts down
//     with membership.Leave so that the others record it as left.
package control
