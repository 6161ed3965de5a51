package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// The ceiling's null server runs in a process of its own when
// Config.CeilingCommand is set (sibyl bench does: a hidden `sibyl bench
// null-server`), as the measured server does: inside the load generator's
// process it would share the generator's scheduler and garbage collector,
// which no real server does. Tests, whose binary has no such command, run
// it in process.

// ceilingServer is a running null server, in process or not.
type ceilingServer interface {
	URL() string
	Close() error
}

// NullProcess is a null server in a child process.
type NullProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	done  chan error
}

// StartNullServerProcess runs argv, which must serve a NullServer (see
// ServeNullServer): print its URL as the first line of standard output,
// then serve until standard input closes.
func StartNullServerProcess(argv []string) (*NullProcess, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%w: empty null server command", ErrInvalidConfig)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start the null server process: %w", err)
	}
	p := &NullProcess{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
		p.done <- cmd.Wait()
	}()
	select {
	case u, ok := <-line:
		if ok && strings.HasPrefix(u, "http://") {
			p.url = u
			return p, nil
		}
		p.Close()
		return nil, fmt.Errorf("the null server process printed %q, want its URL (stderr: %s)", u, stderr.String())
	case <-time.After(10 * time.Second):
		p.Close()
		return nil, fmt.Errorf("the null server process printed no URL within 10s (stderr: %s)", stderr.String())
	}
}

// URL is the server's base URL.
func (p *NullProcess) URL() string { return p.url }

// Close ends the child (closing its standard input; killing it if it has
// not exited within 5 s) and waits for it.
func (p *NullProcess) Close() error {
	p.stdin.Close()
	select {
	case err := <-p.done:
		return err
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return errors.New("the null server process did not exit within 5s of its stdin closing: killed")
	}
}

// ServeNullServer is the child's side: it starts a NullServer, writes its
// URL and a newline to out, and serves until in reaches EOF.
func ServeNullServer(in io.Reader, out io.Writer) error {
	ns, err := StartNullServer(NullServerConfig{})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, ns.URL()); err != nil {
		ns.Close()
		return err
	}
	io.Copy(io.Discard, in)
	return ns.Close()
}
