package node

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/shard"
)

const testAdmin = "test-admin-token-0123456789"

// filesHolding lists the files under dir whose bytes contain s.
func filesHolding(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(s)) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// The private key is nowhere on disk: not in the meta group's state, its
// Raft log (the create command carries the hash) or its snapshot; the
// public key is, which shows the search reads the right files.
func TestPrivateKeysHashedOnDisk(t *testing.T) {
	dir := t.TempDir()
	n := testNode(t, dir)
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "hashed")
	if err := n.shards.Meta().Snapshot(); err != nil {
		t.Fatal(err)
	}
	if len(filesHolding(t, dir, st.Public)) == 0 {
		t.Fatal("the public key is in no file: the search does not see the registry")
	}
	if f := filesHolding(t, dir, st.Private); len(f) > 0 {
		t.Fatalf("the private key is on disk in plain text: %v", f)
	}
	// It still authenticates, and after a restart (registry loaded from
	// disk) too.
	q := "/v2/orders?key=" + st.Public + "&private_key=" + st.Private
	expect(t, c.Do("GET", q, nil), 200, "")
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n2 := testNode(t, dir)
	expect(t, newClient(t, n2.HTTPAddr()).Do("GET", q, nil), 200, "")
}

func TestRotateKeysOverlapThroughAPI(t *testing.T) {
	n := testNode(t, "")
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "rotating")
	rotate := func(overlap string) testStore {
		t.Helper()
		a := c.Do("POST", "/v2/stores/"+st.ID+"/rotate-keys", map[string]string{"overlap": overlap}, "Authorization", "Bearer "+testAdmin)
		expect(t, a, 200, "")
		return testStore{ID: st.ID, Public: a.Body["public_key"].(string), Private: a.Body["private_key"].(string)}
	}
	works := func(k testStore) int {
		return c.Do("GET", "/v2/orders?key="+k.Public+"&private_key="+k.Private, nil).Status
	}
	second := rotate("1h")
	if second.Private == st.Private || second.Public == st.Public {
		t.Fatal("rotation kept a key")
	}
	if works(st) != 200 || works(second) != 200 {
		t.Fatalf("during the overlap: old %d, new %d, want both 200", works(st), works(second))
	}
	// No overlap: the keys being replaced stop at once; the first keys'
	// window is still open.
	third := rotate("0s")
	if got := works(second); got != 401 {
		t.Fatalf("keys replaced without overlap: %d, want 401", got)
	}
	if works(third) != 200 || works(st) != 200 {
		t.Fatalf("newest %d, first (window open) %d", works(third), works(st))
	}
	// Mixing an old public and a new private key is two keys of one
	// store: fine. An unknown store is 404; no admin token is 401.
	expect(t, c.Do("POST", "/v2/stores/st_nope/rotate-keys", map[string]string{}, "Authorization", "Bearer "+testAdmin), 404, "not_found")
	expect(t, c.Do("POST", "/v2/stores/"+st.ID+"/rotate-keys", map[string]string{}), 401, "missing_key")
	expect(t, c.Do("POST", "/v2/stores/"+st.ID+"/rotate-keys", map[string]string{"overlap": "forever"}, "Authorization", "Bearer "+testAdmin), 400, "bad_request")
}

func TestStoreLimitsThroughAPI(t *testing.T) {
	n := testNode(t, "")
	c := newClient(t, n.HTTPAddr())
	st := createStore(c, "limited")
	other := createStore(c, "other")
	set := func(body map[string]any) {
		t.Helper()
		expect(t, c.Do("POST", "/v2/stores/"+st.ID+"/limits", body, "Authorization", "Bearer "+testAdmin), 200, "")
	}
	pop := func(k testStore) answer {
		return c.Do("GET", "/v2/recommendations/popular?key="+k.Public, nil)
	}
	set(map[string]any{"rate": 0.01, "burst": 2})
	expect(t, pop(st), 200, "")
	expect(t, pop(st), 200, "")
	a := pop(st)
	expect(t, a, 429, "rate_limited")
	// Another store is not affected.
	expect(t, pop(other), 200, "")
	set(map[string]any{"clear": true})
	expect(t, pop(st), 200, "")
	expect(t, c.Do("POST", "/v2/stores/"+st.ID+"/limits", map[string]any{"rate": -1}, "Authorization", "Bearer "+testAdmin), 400, "bad_request")
}

func TestDataDirAndFilesPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // whatever the test's umask
	n := testNode(t, dir)
	c := newClient(t, n.HTTPAddr())
	createStore(c, "modes")
	if err := n.shards.Meta().Snapshot(); err != nil {
		t.Fatal(err)
	}
	var checked int
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: open to group or others", path, fi.Mode().Perm())
		}
		checked++
		return nil
	})
	if checked < 5 {
		t.Fatalf("only %d paths under the data dir", checked)
	}
}

// A generated admin token goes to its file (0600), never to stderr or
// the log: container logs are not for secrets.
func TestGeneratedAdminTokenNotPrinted(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir, cfg.HTTPAddr, cfg.RaftAddr = dir, "127.0.0.1:0", "127.0.0.1:0"
	cfg.Shards = 1
	cfg.Group.Timers = shard.FastRaftTimers()
	var logged bytes.Buffer
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Drain the pipe while the node starts: Raft's loggers write to
	// stderr too, and a full pipe would block them.
	var printed []byte
	drained := make(chan struct{})
	go func() { printed, _ = io.ReadAll(r); close(drained) }()
	stderr := os.Stderr
	os.Stderr = w
	n, err := Open(cfg, slog.New(slog.NewTextHandler(&logged, nil)))
	os.Stderr = stderr
	w.Close()
	<-drained
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	path := filepath.Join(dir, "admin.token")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 16 || token != n.AdminToken() {
		t.Fatalf("token file holds %q, node uses %q", token, n.AdminToken())
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %v", fi.Mode().Perm())
	}
	if strings.Contains(string(printed), token) || strings.Contains(logged.String(), token) {
		t.Fatal("the generated admin token was printed")
	}
	if !strings.Contains(logged.String(), path) {
		t.Fatalf("the log does not say where the token is: %s", logged.String())
	}
}
