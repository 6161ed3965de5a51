package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoReplicationDeps keeps the domain core and the API free of the
// replication stack: they speak in statemachine.Command, and linking
// hashicorp/raft or Badger from here would mean a layer leaked.
func TestNoReplicationDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sibylhq/sibyl/engine", "github.com/sibylhq/sibyl/query").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "hashicorp/raft") || strings.Contains(dep, "dgraph-io/badger") {
			t.Errorf("engine or query links %s", dep)
		}
	}
	if !strings.Contains(string(out), "github.com/sibylhq/sibyl/shard/statemachine") {
		t.Errorf("go list output does not name shard/statemachine; the check reads the wrong thing:\n%s", out)
	}
}
