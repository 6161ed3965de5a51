package bench

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// nullBody is a small, Clerk-shaped answer, so the ceiling pays for about
// the same response size as an empty recommendation.
var nullBody = []byte(`{"status":"ok","result":[]}`)

// NullServerConfig configures a NullServer.
type NullServerConfig struct {
	// Delay is slept before answering; zero (the ceiling) answers at once.
	// Tests use a fixed delay to check the load generator's timing.
	Delay time.Duration
	// ServerTiming makes it report its own time in a Server-Timing
	// header, as Sibyl does (tests of server-side latency).
	ServerTiming bool
}

// NullServer is a do-nothing fasthttp server on a random loopback port: it
// answers every request with a fixed small JSON body. Measured on the same
// machine with the same settings as a real run, it is the ceiling that
// makes results from different machines comparable.
type NullServer struct {
	srv      *fasthttp.Server
	ln       net.Listener
	served   chan error
	requests atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// StartNullServer listens on 127.0.0.1:0 and serves until Close.
func StartNullServer(cfg NullServerConfig) (*NullServer, error) {
	if cfg.Delay < 0 {
		return nil, fmt.Errorf("%w: null server delay %v < 0", ErrInvalidConfig, cfg.Delay)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot listen for the null server: %w", err)
	}
	s := &NullServer{ln: ln, served: make(chan error, 1)}
	s.srv = &fasthttp.Server{
		Name: "sibyl-null",
		Handler: func(ctx *fasthttp.RequestCtx) {
			s.requests.Add(1)
			start := time.Now()
			if cfg.Delay > 0 {
				time.Sleep(cfg.Delay)
			}
			if cfg.ServerTiming {
				ctx.Response.Header.Set("Server-Timing", fmt.Sprintf("app;dur=%.3f", float64(time.Since(start).Microseconds())/1000))
			}
			ctx.SetContentType("application/json")
			ctx.SetBody(nullBody)
		},
		NoDefaultDate:         true,
		NoDefaultServerHeader: true,
		IdleTimeout:           30 * time.Second,
		// Short, so that the worker pool's cleaner goroutine ends within
		// a second of Close.
		MaxIdleWorkerDuration: time.Second,
	}
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

// URL is the server's base URL.
func (s *NullServer) URL() string { return "http://" + s.ln.Addr().String() }

// Requests is the number of requests answered (or being answered).
func (s *NullServer) Requests() int64 { return s.requests.Load() }

// Close stops the server and waits for its serving goroutine to return.
// Later calls return the first call's result.
func (s *NullServer) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *NullServer) close() error {
	shutdownErr := s.srv.Shutdown()
	// Shutdown only closes listeners Serve has registered; if Serve has not
	// got that far yet, closing ours is what makes it return.
	_ = s.ln.Close()
	serveErr := <-s.served
	if shutdownErr != nil {
		return fmt.Errorf("cannot shut down the null server: %w", shutdownErr)
	}
	if serveErr != nil && !errors.Is(serveErr, net.ErrClosed) {
		return fmt.Errorf("null server stopped with: %w", serveErr)
	}
	return nil
}
