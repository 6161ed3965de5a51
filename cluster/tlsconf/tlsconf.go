// Package tlsconf makes and loads the cluster's certificates: a cluster CA
// (ECDSA P-256), node certificates it signs, and the TLS 1.3 configurations
// of the Raft/control port, where every connection is mutually
// authenticated against the CA.
//
// A directory made by CreateNodeCert holds what `sibyl serve --tls-dir`
// reads: ca.pem (the CA certificates the node trusts, one or several during
// a CA rotation), node.pem and node-key.pem. The CA's own key (ca-key.pem)
// stays in the CA directory, which should not be on any node.
package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names in a CA directory and in a node's TLS directory.
const (
	CAFile      = "ca.pem"
	CAKeyFile   = "ca-key.pem"
	NodeFile    = "node.pem"
	NodeKeyFile = "node-key.pem"
)

// Default validity periods: the CA outlives many node certificates.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultCertValidity = 2 * 365 * 24 * time.Hour
)

// ErrExists is returned instead of overwriting a key or certificate.
var ErrExists = errors.New("file exists; refusing to overwrite it")

// CreateCA makes a new cluster CA in dir: ca.pem and ca-key.pem (0600).
func CreateCA(dir string, validity time.Duration) error {
	if validity <= 0 {
		validity = DefaultCAValidity
	}
	if err := noneExist(dir, CAFile, CAKeyFile); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("cannot generate the CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Sibyl cluster CA " + now.UTC().Format("2006-01-02"), Organization: []string{"Sibyl"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // signs node certificates only
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("cannot sign the CA certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), key); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, CAFile), "CERTIFICATE", der, 0o644)
}

// NodeCert describes a node certificate to issue.
type NodeCert struct {
	// Node is the node's id; it is the certificate's common name.
	Node string
	// IPs and DNS are extra subject alternative names, for tools that
	// check them (Sibyl's own peers check the CA, not the names).
	IPs      []net.IP
	DNS      []string
	Validity time.Duration
}

// CreateNodeCert signs a certificate for one node with the CA in caDir
// and writes node.pem, node-key.pem (0600) and a copy of ca.pem to outDir:
// the directory `sibyl serve --tls-dir` takes.
func CreateNodeCert(caDir string, nc NodeCert, outDir string) error {
	if nc.Node == "" {
		return errors.New("a node certificate needs the node's name")
	}
	if nc.Validity <= 0 {
		nc.Validity = DefaultCertValidity
	}
	caCert, caKey, err := loadCA(caDir)
	if err != nil {
		return err
	}
	if err := noneExist(outDir, NodeFile, NodeKeyFile); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("cannot generate the node key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	now := time.Now()
	notAfter := now.Add(nc.Validity)
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter // a chain is only valid while its CA is
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nc.Node, Organization: []string{"Sibyl"}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Every node is both a server (accepting peers) and a client
		// (dialling them) on the Raft port.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: nc.IPs,
		DNSNames:    append([]string{nc.Node}, nc.DNS...),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("cannot sign the node certificate: %w", err)
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", outDir, err)
	}
	if err := writeKey(filepath.Join(outDir, NodeKeyFile), key); err != nil {
		return err
	}
	if err := writePEM(filepath.Join(outDir, NodeFile), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	caPEM, err := os.ReadFile(filepath.Join(caDir, CAFile))
	if err != nil {
		return err
	}
	if filepath.Clean(caDir) == filepath.Clean(outDir) {
		return nil
	}
	return os.WriteFile(filepath.Join(outDir, CAFile), caPEM, 0o644)
}

// Bundle is a node's loaded TLS material.
type Bundle struct {
	Roots *x509.CertPool
	Cert  tls.Certificate
}

// Load reads ca.pem, node.pem and node-key.pem from dir. It refuses a key
// file that others than its owner can read, as ssh does.
func Load(dir string) (*Bundle, error) {
	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, fmt.Errorf("cannot read the cluster CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no PEM certificate", filepath.Join(dir, CAFile))
	}
	keyPath := filepath.Join(dir, NodeKeyFile)
	st, err := os.Stat(keyPath)
	if err != nil {
		return nil, fmt.Errorf("cannot read the node key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %v): chmod 600 it", keyPath, st.Mode().Perm())
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, NodeFile), keyPath)
	if err != nil {
		return nil, fmt.Errorf("cannot load the node certificate from %s: %w", dir, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s: %w", filepath.Join(dir, NodeFile), err)
	}
	// Fail at start, not at the first peer's handshake.
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("%s does not verify against %s: %w", filepath.Join(dir, NodeFile), filepath.Join(dir, CAFile), err)
	}
	cert.Leaf = leaf
	return &Bundle{Roots: roots, Cert: cert}, nil
}

// ServerConfig accepts only peers presenting a certificate signed by the
// cluster CA.
func (b *Bundle) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{b.Cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    b.Roots,
	}
}

// ClientConfig presents the node certificate and accepts a server whose
// certificate chains to the cluster CA. Peers are dialled by Raft address,
// which the certificate need not name (containers get new addresses), so
// the check is the chain, done in VerifyConnection: every certificate the
// cluster CA signed is a cluster node.
func (b *Bundle) ClientConfig() *tls.Config {
	roots := b.Roots
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{b.Cert},
		// Hostname verification is replaced by VerifyConnection below,
		// which still verifies the whole chain.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return VerifyPeer(cs.PeerCertificates, roots, x509.ExtKeyUsageServerAuth)
		},
	}
}

// VerifyPeer checks that certs (leaf first) chain to roots for usage.
func VerifyPeer(certs []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	if len(certs) == 0 {
		return errors.New("the peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return fmt.Errorf("the peer's certificate is not signed by the cluster CA: %w", err)
	}
	return nil
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the CA key (the CA directory, not a node's): %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM block", filepath.Join(dir, CAFile))
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot parse the CA certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM block", filepath.Join(dir, CAKeyFile))
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot parse the CA key: %w", err)
	}
	if !cert.IsCA {
		return nil, nil, fmt.Errorf("%s is not a CA certificate", filepath.Join(dir, CAFile))
	}
	return cert, key, nil
}

func noneExist(dir string, names ...string) error {
	for _, n := range names {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s: %w", p, ErrExists)
		}
	}
	return nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("cannot encode the key: %w", err)
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	// The umask may have cleared bits but never adds any; be exact.
	return os.Chmod(path, mode)
}

func serialNumber() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("cannot draw a serial number: %w", err)
	}
	return s, nil
}
