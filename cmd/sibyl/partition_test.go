package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The partition test runs against the compose cluster (`make
// test-cluster` starts it): node 3 is moved off the cluster network with
// `docker network disconnect` (and onto a network of its own, so that the
// test still reaches it). The minority side must refuse writes with 503
// while the majority keeps accepting them and both keep answering reads;
// after healing, node 3 must converge to every acknowledged write.

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// composeCommand is Compose's command line: SIBYL_COMPOSE (the Makefile
// passes the one it started the cluster with), else the v2 plugin
// (`docker compose`) when it answers, else `docker-compose`.
func composeCommand() []string {
	if c := strings.Fields(os.Getenv("SIBYL_COMPOSE")); len(c) > 0 {
		return c
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	return []string{"docker-compose"}
}

func compose(args ...string) *exec.Cmd {
	c := composeCommand()
	return exec.Command(c[0], append(c[1:], args...)...)
}

// keepComposeLogs makes a failed test keep the containers' logs (they go
// with the containers at `make test-cluster`'s `down -v`): `compose ps`
// and `compose logs --timestamps` of every service, in a file under
// SIBYL_ARTIFACTS (default: a new directory under the system's temp
// dir, left in place), named in the failure output.
func keepComposeLogs(t *testing.T) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dir := os.Getenv("SIBYL_ARTIFACTS")
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp("", "sibyl-compose-artifacts-"); err != nil {
				t.Logf("cannot keep the containers' logs: %v", err)
				return
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Logf("cannot keep the containers' logs: %v", err)
			return
		}
		path := filepath.Join(dir, t.Name()+"-"+time.Now().UTC().Format("20060102T150405Z")+".log")
		ps, _ := compose("ps", "-a").CombinedOutput()
		logs, err := compose("logs", "--no-color", "--timestamps").CombinedOutput()
		out := append(append([]byte("$ compose ps -a\n"), ps...), "\n$ compose logs --no-color --timestamps\n"...)
		out = append(out, logs...)
		if err != nil {
			out = append(out, fmt.Sprintf("\n(compose logs: %v)\n", err)...)
		}
		if werr := os.WriteFile(path, out, 0o644); werr != nil {
			t.Logf("cannot keep the containers' logs: %v", werr)
			return
		}
		t.Logf("containers' logs kept in %s", path)
	})
}

func TestComposePartition(t *testing.T) {
	if os.Getenv("SIBYL_CLUSTER_COMPOSE") == "" {
		t.Skip("needs the compose cluster: run `make test-cluster`")
	}
	keepComposeLogs(t)
	token := os.Getenv("SIBYL_ADMIN_TOKEN")
	if token == "" {
		token = "change-me-admin-token"
	}
	// The container is looked up right before it is partitioned.
	container := func() string {
		cmd := compose("ps", "-q", "sibyl-3")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || len(strings.TrimSpace(string(out))) == 0 {
			t.Fatalf("cannot find the sibyl-3 container (is the cluster up?): %v %s", err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(out))
	}
	container()
	nodes := []string{"http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8083"}

	waitFor(t, 3*time.Minute, func() error {
		for _, n := range nodes {
			if _, status, err := getJSON(n+"/ready", ""); err != nil || status != 200 {
				return fmt.Errorf("%s not ready: %d %v", n, status, err)
			}
		}
		st, status, err := getJSON(nodes[0]+"/v2/cluster/status", token)
		if err != nil || status != 200 {
			return fmt.Errorf("status %d %v", status, err)
		}
		for _, s := range st["shards"].([]any) {
			if reps := s.(map[string]any)["replicas"].([]any); len(reps) != 3 {
				return fmt.Errorf("shard on %v, want 3 replicas", reps)
			}
		}
		return nil
	})
	var keys storeKeys
	waitFor(t, time.Minute, func() error {
		res, status, err := post(nodes[0], "/v2/stores", map[string]string{"name": "partition"}, token)
		if err != nil || status != 200 {
			return fmt.Errorf("create store: %d %v %v", status, err, res)
		}
		keys = storeKeys{res["public_key"].(string), res["private_key"].(string)}
		return nil
	})
	order := func(id string) map[string]any {
		return map[string]any{"orders": []map[string]any{{"id": id, "time": 1700000000, "customer": "c1",
			"products": []map[string]any{{"id": "p1", "quantity": 1, "price": 3}}}}}
	}
	var acked []string
	write := func(base, id string) int {
		_, status, err := post(base, "/v2/orders"+keys.q(), order(id), "")
		if err != nil {
			return -1
		}
		if status == 200 {
			acked = append(acked, id)
		}
		return status
	}
	for i := range 3 {
		id := fmt.Sprintf("before-%d", i)
		waitFor(t, 30*time.Second, func() error {
			if s := write(nodes[i], id); s != 200 {
				return fmt.Errorf("write %s: %d", id, s)
			}
			return nil
		})
	}

	// Partition: node 3 alone on a network of its own.
	c3 := container()
	network := docker(t, "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", c3)
	part := "sibyl-partition-test"
	exec.Command("docker", "network", "create", part).Run() // exists already: fine
	docker(t, "network", "disconnect", network, c3)
	healed := false
	heal := func() {
		if healed {
			return
		}
		healed = true
		exec.Command("docker", "network", "disconnect", part, c3).Run()
		docker(t, "network", "connect", "--ip", "10.89.7.13", network, c3)
	}
	t.Cleanup(func() {
		heal()
		exec.Command("docker", "network", "rm", part).Run()
	})
	docker(t, "network", "connect", part, c3)
	ip := docker(t, "inspect", "-f", "{{(index .NetworkSettings.Networks \""+part+"\").IPAddress}}", c3)
	minority := "http://" + ip + ":8080"

	// The minority refuses writes with 503 (once its leaders' leases ran
	// out) ...
	waitFor(t, time.Minute, func() error {
		if s := write(minority, fmt.Sprintf("minority-%d", time.Now().UnixNano())); s != 503 {
			return fmt.Errorf("minority write answered %d, want 503", s)
		}
		return nil
	})
	for i := range 3 {
		if s := write(minority, fmt.Sprintf("minority-late-%d", i)); s != 503 {
			t.Fatalf("minority write %d answered %d, want 503", i, s)
		}
	}
	// ... and still answers reads from its replica.
	if _, status, err := getJSON(minority+"/v2/orders"+keys.q(), ""); err != nil || status != 200 {
		t.Fatalf("minority read: %d %v", status, err)
	}
	// The majority accepts writes (after re-electing the leaders node 3 had).
	for i := range 5 {
		id := fmt.Sprintf("majority-%d", i)
		waitFor(t, time.Minute, func() error {
			if s := write(nodes[i%2], id); s != 200 {
				return fmt.Errorf("majority write %s: %d", id, s)
			}
			return nil
		})
	}

	heal()
	for _, n := range nodes {
		waitFor(t, 2*time.Minute, func() error {
			res, status, err := getJSON(n+"/v2/orders"+keys.q()+"&limit=10000", "")
			if err != nil || status != 200 {
				return fmt.Errorf("read via %s: %d %v", n, status, err)
			}
			seen := map[string]bool{}
			for _, o := range res["result"].([]any) {
				seen[fmt.Sprint(o.(map[string]any)["id"])] = true
			}
			for _, id := range acked {
				if !seen[id] {
					return fmt.Errorf("%s lacks acknowledged order %s", n, id)
				}
			}
			for id := range seen {
				if strings.HasPrefix(id, "minority-") {
					return fmt.Errorf("%s has %s, which the minority refused", n, id)
				}
			}
			return nil
		})
	}
}
