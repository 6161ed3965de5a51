package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func mustCA(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	if err := CreateCA(dir, 0); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustNode(t *testing.T, ca, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := CreateNodeCert(ca, NodeCert{Node: name, IPs: []net.IP{net.ParseIP("127.0.0.1")}, DNS: []string{"localhost"}}, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCreatedCertsVerifyAndKeysArePrivate(t *testing.T) {
	ca := mustCA(t)
	dir := mustNode(t, ca, "n1")
	for _, p := range []string{filepath.Join(ca, CAKeyFile), filepath.Join(dir, NodeKeyFile)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, st.Mode().Perm())
		}
	}
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf := b.Cert.Leaf
	if leaf.Subject.CommonName != "n1" || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Fatalf("subject %v ips %v", leaf.Subject, leaf.IPAddresses)
	}
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if err := VerifyPeer([]*x509.Certificate{leaf}, b.Roots, u); err != nil {
			t.Errorf("usage %v: %v", u, err)
		}
	}
	// Standard verification with the name works too (for other tools).
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: b.Roots, DNSName: "localhost"}); err != nil {
		t.Fatal(err)
	}
	// A certificate of another CA does not verify.
	other := mustNode(t, mustCA(t), "n1")
	ob, err := Load(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyPeer([]*x509.Certificate{ob.Cert.Leaf}, b.Roots, x509.ExtKeyUsageClientAuth); err == nil {
		t.Fatal("a certificate of a foreign CA verified")
	}
}

func TestNeverOverwritesAndRefusesLooseKey(t *testing.T) {
	ca := mustCA(t)
	if err := CreateCA(ca, 0); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateCA: %v, want ErrExists", err)
	}
	dir := mustNode(t, ca, "n1")
	if err := CreateNodeCert(ca, NodeCert{Node: "n1"}, dir); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateNodeCert: %v, want ErrExists", err)
	}
	if err := os.Chmod(filepath.Join(dir, NodeKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil {
		t.Fatal("a world-readable node key was accepted")
	}
	// A node directory has no CA key to sign with.
	if err := CreateNodeCert(dir, NodeCert{Node: "x"}, t.TempDir()); err == nil {
		t.Fatal("signed with a node directory")
	}
}

// The two configurations complete a mutual TLS 1.3 handshake, and a
// client of another CA is refused by the server.
func TestMutualHandshake(t *testing.T) {
	ca := mustCA(t)
	a, err := Load(mustNode(t, ca, "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(mustNode(t, ca, "b"))
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := Load(mustNode(t, mustCA(t), "s"))
	if err != nil {
		t.Fatal(err)
	}
	handshake := func(client *tls.Config) (error, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		srvErr := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				srvErr <- err
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			s := tls.Server(c, a.ServerConfig())
			err = s.Handshake()
			if err == nil {
				// TLS 1.3: the server has checked the client's
				// certificate once its handshake returns.
				_, err = s.Read(make([]byte, 1))
			}
			s.Close()
			srvErr <- err
		}()
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		c := tls.Client(raw, client)
		cerr := c.Handshake()
		if cerr == nil {
			_, cerr = c.Write([]byte{1})
		}
		if cerr == nil {
			// The server's verdict on our certificate arrives as an alert.
			_, cerr = c.Read(make([]byte, 1))
			if errors.Is(cerr, io.EOF) {
				cerr = nil
			}
		}
		c.Close()
		return cerr, <-srvErr
	}
	if cerr, serr := handshake(b.ClientConfig()); cerr != nil || serr != nil {
		t.Fatalf("cluster peers: client %v, server %v", cerr, serr)
	}
	if _, serr := handshake(stranger.ClientConfig()); serr == nil {
		t.Fatal("server accepted a client of another CA")
	}
	noCert := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	if _, serr := handshake(noCert); serr == nil {
		t.Fatal("server accepted a client without a certificate")
	}
}
