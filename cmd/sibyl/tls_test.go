package main

import (
	"crypto/x509"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sibylhq/sibyl/cluster/tlsconf"
)

// `sibyl tls` makes a CA and node certificates that verify against it
// (and against nothing else), with private keys 0600, and gossip keys of
// 32 random bytes.
func TestTLSCommands(t *testing.T) {
	bin := sibylBinary(t)
	base := t.TempDir()
	ca := filepath.Join(base, "ca")
	runSibyl(t, bin, "tls", "ca", "create", "--out", ca)
	n1 := filepath.Join(base, "n1")
	runSibyl(t, bin, "tls", "cert", "create", "--ca", ca, "--node", "n1", "--ip", "10.0.0.1,127.0.0.1", "--dns", "n1.example", "--out", n1)
	b, err := tlsconf.Load(n1)
	if err != nil {
		t.Fatal(err)
	}
	leaf := b.Cert.Leaf
	if leaf.Subject.CommonName != "n1" || len(leaf.IPAddresses) != 2 || !strings.Contains(strings.Join(leaf.DNSNames, ","), "n1.example") {
		t.Fatalf("certificate names: cn %q ips %v dns %v", leaf.Subject.CommonName, leaf.IPAddresses, leaf.DNSNames)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: b.Roots, DNSName: "n1.example"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(ca, "ca-key.pem"), filepath.Join(n1, "node-key.pem")} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want mode 0600", p, st.Mode().Perm(), err)
		}
	}
	// Another CA's node does not verify against this one.
	ca2 := filepath.Join(base, "ca2")
	runSibyl(t, bin, "tls", "ca", "create", "--out", ca2)
	if err := exec.Command(bin, "tls", "ca", "create", "--out", ca2).Run(); err == nil {
		t.Fatal("tls ca create overwrote an existing CA")
	}
	n2 := filepath.Join(base, "n2")
	runSibyl(t, bin, "tls", "cert", "create", "--ca", ca2, "--node", "n2", "--out", n2)
	b2, err := tlsconf.Load(n2)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlsconf.VerifyPeer([]*x509.Certificate{b2.Cert.Leaf}, b.Roots, x509.ExtKeyUsageClientAuth); err == nil {
		t.Fatal("a certificate of another CA verified")
	}

	k1 := strings.TrimSpace(runSibyl(t, bin, "tls", "gossip-key"))
	k2 := strings.TrimSpace(runSibyl(t, bin, "tls", "gossip-key"))
	raw, err := base64.StdEncoding.DecodeString(k1)
	if err != nil || len(raw) != 32 || k1 == k2 {
		t.Fatalf("gossip keys %q %q: %d bytes, %v", k1, k2, len(raw), err)
	}
}

// `sibyl serve --join` without credentials exits at once with a message
// that names --insecure-cluster.
func TestServeRefusesInsecureCluster(t *testing.T) {
	bin := sibylBinary(t)
	cmd := exec.Command(bin, "serve", "--data-dir", t.TempDir(), "--http-addr", freePort(t), "--raft-addr", freePort(t),
		"--gossip-addr", freePort(t), "--join", "127.0.0.1:1")
	cmd.Env = []string{"SIBYL_ADMIN_TOKEN=" + crashAdminToken}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SIBYL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--insecure-cluster") || !strings.Contains(string(out), "--tls-dir") {
		t.Fatalf("serve without credentials: err %v, output:\n%s", err, out)
	}
}
