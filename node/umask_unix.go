//go:build unix

package node

import "syscall"

// restrictFileModes makes every file and directory the process creates
// private to its user (umask 077). Sibyl's own files are opened 0600/0700,
// but hashicorp/raft's FileSnapshotStore writes snapshots 0755/0644 and
// Badger its LOCK file 0666, with no option to change that; the meta
// group's snapshots hold the store registry. A server process has no
// reason to create anything others can read.
func restrictFileModes() { syscall.Umask(0o077) }
