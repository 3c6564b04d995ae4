package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrExited means a tor process ended while the harness was waiting for it.
var ErrExited = errors.New("testnet: tor exited")

// Proc is one tor process of the private network (or started with
// Network.StartTor). Its notice log is DataDir()/notice.log.
type Proc struct {
	name    string
	dataDir string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// startTor writes torrc (one option per line) into dataDir and starts tor on
// it with no defaults file, so nothing from /etc/tor leaks in.
func startTor(torPath, name, dataDir string, lines []string) (*Proc, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", name, err)
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", name, err)
	}
	torrc := filepath.Join(dataDir, "torrc")
	if err := os.WriteFile(torrc, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", name, err)
	}
	cmd := exec.Command(torPath, "-f", torrc, "--defaults-torrc", os.DevNull)
	// notice.log has everything once tor has parsed its torrc; stdout has
	// what came before (a rejected option), for failure messages.
	stdout, err := os.Create(filepath.Join(dataDir, "stdout.log"))
	if err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", name, err)
	}
	defer stdout.Close()
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testnet: start %s: %w", name, err)
	}
	p := &Proc{name: name, dataDir: dataDir, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// DataDir is tor's DataDirectory.
func (p *Proc) DataDir() string { return p.dataDir }

// Pid is the tor process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// LogTail returns the last n bytes of the notice log, for failure messages.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(p.dataDir, "notice.log"))
	if err != nil {
		b, _ = os.ReadFile(filepath.Join(p.dataDir, "stdout.log"))
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// WaitLog waits until the notice log contains substr.
func (p *Proc) WaitLog(ctx context.Context, substr string) error {
	return p.waitFor(ctx, func() bool {
		b, _ := os.ReadFile(filepath.Join(p.dataDir, "notice.log"))
		return bytes.Contains(b, []byte(substr))
	}, fmt.Sprintf("%q in its log", substr))
}

// WaitFile waits until path exists (a control socket, a cookie file).
func (p *Proc) WaitFile(ctx context.Context, path string) error {
	return p.waitFor(ctx, func() bool {
		_, err := os.Stat(path)
		return err == nil
	}, path)
}

func (p *Proc) waitFor(ctx context.Context, ok func() bool, what string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testnet: %s: waiting for %s: %w\n%s", p.name, what, ctx.Err(), p.LogTail(2000))
		case <-p.done:
			return fmt.Errorf("%w: %s while waiting for %s (%v)\n%s", ErrExited, p.name, what, p.waitErr, p.LogTail(2000))
		case <-tick.C:
		}
	}
}

// Close stops tor: SIGTERM (a clean, immediate exit even for relays), then
// SIGKILL if it has not exited within 10 s.
func (p *Proc) Close() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("testnet: %s ignored SIGTERM for 10 s and was killed", p.name)
}
