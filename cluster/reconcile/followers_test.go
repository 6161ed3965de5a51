package reconcile

import (
	"slices"
	"testing"
	"time"

	"github.com/sibylhq/sibyl/cluster/placement"
)

// metaFollowersRun applies meta steps until none is left and returns the
// voters and non-voters.
func metaFollowersRun(t *testing.T, cfg Config, members []Member, tab *placement.Table, meta *ShardStatus) (voters, followers []string) {
	t.Helper()
	for range 50 {
		p := Next(cfg, Input{Now: t0, ViewSince: t0.Add(-time.Hour), Members: members, Table: tab.Clone(), Meta: meta})
		if len(p.Steps) == 0 {
			for _, r := range meta.Replicas {
				if r.Voter {
					voters = append(voters, r.Node)
				} else {
					followers = append(followers, r.Node)
				}
			}
			slices.Sort(voters)
			slices.Sort(followers)
			return voters, followers
		}
		for _, s := range p.Steps {
			if s.Kind == CommitTable {
				*tab = s.Table.Clone()
				continue
			}
			i := slices.IndexFunc(meta.Replicas, func(r Replica) bool { return r.Node == s.Node })
			switch s.Kind {
			case AddNonVoter:
				meta.Replicas = append(meta.Replicas, Replica{Node: s.Node, CaughtUp: true})
			case Promote:
				meta.Replicas[i].Voter = true
			case TransferLeadership:
				meta.Leader = s.Node
			case RemoveReplica:
				meta.Replicas = slices.Delete(meta.Replicas, i, i+1)
			}
		}
	}
	t.Fatal("meta group did not converge")
	return nil, nil
}

func TestMetaFollowers(t *testing.T) {
	cfg := testConfig()
	cfg.MetaFollowers = true
	var ms []Member
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		ms = append(ms, member(id, Alive, time.Hour))
	}
	tab := placement.Table{}
	meta := voters(MetaShard, "a")
	v, f := metaFollowersRun(t, cfg, ms, &tab, &meta)
	if len(v) != 3 || len(f) != 2 {
		t.Fatalf("5 nodes: voters %v followers %v, want 3 and 2", v, f)
	}
	// A follower that fails past the grace period leaves the group; the
	// voters stay.
	gone := f[0]
	for i := range ms {
		if ms[i].ID == gone {
			ms[i] = member(gone, Failed, time.Hour)
		}
	}
	v2, f2 := metaFollowersRun(t, cfg, ms, &tab, &meta)
	if !slices.Equal(v, v2) || slices.Contains(f2, gone) || len(f2) != 1 {
		t.Fatalf("after follower %s failed: voters %v -> %v, followers %v", gone, v, v2, f2)
	}
	// Without the option nobody follows.
	cfg.MetaFollowers = false
	meta = voters(MetaShard, "a")
	if _, f := metaFollowersRun(t, cfg, ms, &tab, &meta); len(f) != 0 {
		t.Fatalf("followers %v without MetaFollowers", f)
	}
}
