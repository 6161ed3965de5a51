// Package demo locates the data sets tests read: the bundled UCI Online
// Retail file (demo/online-retail.csv.gz, part of the repository, so a test
// reading it never skips) and the shared folder ../shared/data next to the
// module root (MovieLens, not redistributed), which a test may only skip
// when it is missing and CI is not set.
package demo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// OnlineRetailFile is the bundled file's path relative to the module root.
const OnlineRetailFile = "demo/online-retail.csv.gz"

// ModuleRoot is the directory holding go.mod, found by walking up from the
// working directory (a test's working directory is its package's).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot find the module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// OnlineRetail is the path of the bundled Online Retail file. It fails the
// test when the file is missing: it is part of the repository.
func OnlineRetail(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, OnlineRetailFile)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the bundled Online Retail file is missing (it is part of the repository): %v", err)
	}
	return p
}

// InCI reports whether the CI environment variable is set (.ci/run sets
// CI=true, as most CI services do).
func InCI() bool { return os.Getenv("CI") != "" }

// SharedMissing is what a test does when data under ../shared/data is
// absent: in CI it fails (numbers CI reports must not silently vanish),
// elsewhere it skips with the reason.
func SharedMissing(t testing.TB, what string, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is missing and CI is set: put ../shared/data next to the module root (or set SIBYL_DATA): %v", what, err)
	}
	t.Skipf("%s is missing (want ../shared/data next to the module root, or SIBYL_DATA; in CI this fails): %v", what, err)
}
