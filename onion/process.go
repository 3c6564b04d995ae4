package onion

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/cretz/bine/process"
)

// controlPortWait bounds how long a starting tor may take to open its
// control port. bine polls the port file for only 2 s, which a loaded machine
// (or tor loading its GeoIP files) can exceed; our Process.Start waits
// instead, so bine finds the file ready.
const controlPortWait = 60 * time.Second

// creator is a bine process.Creator that, unlike bine's default, does not
// connect tor's stdout and stderr to ours (tor's notices must not reach the
// server's output unless asked for), and that returns from Start only once
// tor has written its control port file.
type creator struct {
	path     string
	out      io.Writer
	startCtx context.Context
	started  *torProcess
}

func (c *creator) New(ctx context.Context, args ...string) (process.Process, error) {
	cmd := exec.CommandContext(ctx, c.path, args...)
	if c.out != nil {
		cmd.Stdout, cmd.Stderr = c.out, c.out
	} // nil: /dev/null
	p := &torProcess{cmd: cmd, startCtx: c.startCtx, done: make(chan struct{})}
	for i, a := range args {
		if a == "--ControlPortWriteToFile" && i+1 < len(args) {
			p.portFile = args[i+1]
		}
	}
	c.started = p
	return p, nil
}

// torProcess is the managed tor. Wait may be called any number of times.
type torProcess struct {
	cmd      *exec.Cmd
	startCtx context.Context
	portFile string

	done    chan struct{}
	waitErr error
}

func (p *torProcess) Start() error {
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("onion: start tor: %w", err)
	}
	go func() {
		defer close(p.done)
		defer func() { _ = recover() }() // nothing may print; done still closes
		p.waitErr = p.cmd.Wait()
	}()
	if p.portFile == "" {
		return nil
	}
	deadline := time.NewTimer(controlPortWait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(p.portFile); err == nil && strings.HasPrefix(string(b), "PORT=") && strings.HasSuffix(string(b), "\n") {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w during start (%v); run again with --tor-output to see why", ErrTorExited, p.waitErr)
		case <-p.startCtx.Done():
			return fmt.Errorf("onion: waiting for tor's control port: %w", p.startCtx.Err())
		case <-deadline.C:
			return fmt.Errorf("onion: tor opened no control port within %v", controlPortWait)
		case <-tick.C:
		}
	}
}

func (p *torProcess) Wait() error {
	<-p.done
	return p.waitErr
}

func (p *torProcess) EmbeddedControlConn() (net.Conn, error) {
	return nil, process.ErrControlConnUnsupported
}

// exited reports whether tor has ended.
func (p *torProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
