package query

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// HTTPSConfig is the API's optional TLS listener, beside the plain HTTP
// one (which a deployment may bind to loopback or a private network).
type HTTPSConfig struct {
	// Addr is the HTTPS address; used only with CertFile and KeyFile.
	Addr string
	// CertFile (PEM, the chain, leaf first) and KeyFile (PEM) are the
	// server's certificate and key, e.g. from a public CA.
	CertFile, KeyFile string
}

// Enabled reports whether HTTPS is configured.
func (c HTTPSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

func (c HTTPSConfig) validate() error {
	if !c.Enabled() {
		return nil
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return errors.New("HTTPS needs both a certificate (--https-cert) and its key (--https-key)")
	}
	if c.Addr == "" {
		return errors.New("HTTPS needs an address (--https-addr)")
	}
	return nil
}

// startHTTPS serves the API over TLS on HTTPS.Addr, with the same handler
// and limits as plain HTTP.
func (s *Server) startHTTPS() error {
	c := s.cfg.HTTPS
	if !c.Enabled() {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return fmt.Errorf("cannot load the HTTPS certificate: %w", err)
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen for HTTPS on %s: %w", c.Addr, err)
	}
	s.httpsLn = ln
	// The edge listener (connections per IP, 414/431 from the request's
	// line ends) wraps the TLS one so that it sees plain text.
	tlsLn := newEdgeListener(tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}), s.cfg.Rate.MaxConnsPerIP)
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		if err := s.srv.Serve(tlsLn); err != nil {
			s.log.Error("https server stopped", "err", err)
		}
	}()
	return nil
}

// HTTPSAddr is the HTTPS listener's address, "" without HTTPS.
func (s *Server) HTTPSAddr() string {
	if s.httpsLn == nil {
		return ""
	}
	return s.httpsLn.Addr().String()
}
