// Package version says which build of Sibyl is running: `sibyl version`
// prints it and /health answers it, so an operator can tell the nodes of a
// rolling upgrade apart.
//
// Everything comes from the build information the Go toolchain embeds
// (module version, VCS revision and time), so no build step has to stamp
// it; a tagged `go install` shows its tag, a build in a git checkout its
// commit.
package version

import (
	"runtime/debug"
	"strings"
	"sync"
)

// Build describes the running binary.
type Build struct {
	// Version is the module version ("v1.2.0"), or "devel" for a build
	// from a checkout.
	Version string `json:"version"`
	// Revision is the VCS commit (12 hex digits), "" when unknown.
	Revision string `json:"revision,omitempty"`
	// Time is the commit time (RFC 3339), "" when unknown.
	Time string `json:"time,omitempty"`
	// Modified: the working tree had uncommitted changes.
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// Get returns the running binary's build, read once.
var Get = sync.OnceValue(func() Build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Build{Version: "devel", Go: "unknown"}
	}
	return fromBuildInfo(info)
})

func fromBuildInfo(info *debug.BuildInfo) Build {
	b := Build{Version: info.Main.Version, Go: info.GoVersion}
	if b.Version == "" || b.Version == "(devel)" {
		b.Version = "devel"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value[:min(12, len(s.Value))]
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one-line form: "devel 9f1be9d0a1b2 2026-12-07T18:00:00Z
// (modified) go1.26.0".
func (b Build) String() string {
	parts := []string{b.Version}
	if b.Revision != "" {
		parts = append(parts, b.Revision)
	}
	if b.Time != "" {
		parts = append(parts, b.Time)
	}
	if b.Modified {
		parts = append(parts, "(modified)")
	}
	return strings.Join(append(parts, b.Go), " ")
}
