//go:build !unix

package node

// restrictFileModes is a no-op where there is no umask.
func restrictFileModes() {}
