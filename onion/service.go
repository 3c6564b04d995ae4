package onion

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cretz/bine/control"
	"github.com/cretz/bine/tor"
)

// stopWait bounds how long Close waits for the managed tor to exit after
// SIGNAL HALT before killing it.
const stopWait = 10 * time.Second

// torrcName is the torrc this package writes into DataDir on every start.
const torrcName = "sealdrop-torrc"

// Service is a published onion service. Close removes it (and, in managed
// mode, stops tor).
type Service struct {
	mu   sync.Mutex // attach mode: the watcher swaps conn, nc and id after tor restarts
	id   string
	conn *control.Conn

	// managed mode only
	tor  *tor.Tor
	proc *torProcess

	// attach mode only
	nc       net.Conn // the control connection under conn, for deadlines
	cfg      Config
	seed     []byte // an ephemeral service's key, to publish the same address again
	stop     chan struct{}
	watching sync.WaitGroup
	gone     chan struct{} // closed by Close, or when tor stayed away for ReattachFor
	goneOnce sync.Once

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// An attached service watches its tor: the system tor may be restarted (an upgrade, a
// reload gone wrong), and a restarted tor has forgotten the service sealdrop added. The
// watcher asks tor something every watchEvery; when that fails it dials the control socket
// again, with backoff, and publishes the same address, for up to ReattachFor. Only then does
// Done close, and the server exit so that systemd restarts it.
const (
	watchEvery   = 5 * time.Second
	watchTimeout = 10 * time.Second
	ReattachFor  = 10 * time.Minute
)

// Start publishes the onion service described by cfg and returns once tor
// reports the first descriptor upload, so the address is reachable when Start
// returns. With cfg.Control empty it runs its own tor (managed mode);
// otherwise it attaches to the tor at cfg.Control. ctx bounds the start only.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	var seed []byte
	if c.Ephemeral {
		seed = make([]byte, seedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, fmt.Errorf("onion: ephemeral key: %w", err)
		}
	} else if seed, err = loadOrCreateKey(c.KeyFile); err != nil {
		return nil, err
	}
	defer clear(seed)
	if c.Control != "" {
		return attach(ctx, c, seed)
	}
	return managed(ctx, c, seed)
}

// torrc is the managed tor's configuration: the caller's lines first, then
// ours, so that ours win. SocksPort 0 is repeated on the command line, where
// it overrides any torrc.
func torrc(c Config) string {
	var b strings.Builder
	b.WriteString("# Written by sealdrop at every start; edits are overwritten.\n")
	for _, l := range c.TorrcLines {
		b.WriteString(l + "\n")
	}
	for _, l := range []string{
		"SocksPort 0",   // this tor serves the onion only; no client port for anyone to use
		"SafeLogging 1", // scrub addresses from anything tor does log
		"AvoidDiskWrites 1",
		"HiddenServiceNonAnonymousMode 0", // never a single-hop, location-revealing service
		"HiddenServiceSingleHopMode 0",
		"__OwningControllerProcess " + strconv.Itoa(os.Getpid()), // tor exits when we do, however we die
	} {
		b.WriteString(l + "\n")
	}
	if c.TorOutput != nil {
		// Only when an operator asked to see tor's output; otherwise tor logs
		// warnings to a stdout that goes nowhere, and writes no log file.
		b.WriteString("Log notice stdout\n")
	}
	return b.String()
}

func managed(ctx context.Context, c Config, seed []byte) (*Service, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("onion: DataDir: %w", err)
	}
	// tor refuses a DataDirectory readable by others; tighten ours rather than fail.
	if err := os.Chmod(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("onion: DataDir: %w", err)
	}
	torrcPath := filepath.Join(c.DataDir, torrcName)
	if err := os.WriteFile(torrcPath, []byte(torrc(c)), 0o600); err != nil {
		return nil, fmt.Errorf("onion: write torrc: %w", err)
	}
	cr := &creator{path: c.TorPath, out: c.TorOutput, startCtx: ctx}
	// The process context must outlive ctx: bine kills tor when it ends.
	t, err := tor.Start(context.WithoutCancel(ctx), &tor.StartConf{
		ProcessCreator:  cr,
		DataDir:         c.DataDir,
		TorrcFile:       torrcPath,
		EnableNetwork:   true,
		NoAutoSocksPort: true,
		ExtraArgs:       []string{"--SocksPort", "0"},
		// DebugWriter stays nil: bine would print ADD_ONION, key included.
	})
	if p := cr.started; p != nil && p.portFile != "" {
		_ = os.Remove(p.portFile) // read by bine already; do not pile them up in DataDir
	}
	if err != nil {
		if p := cr.started; p != nil && !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if errors.Is(err, ErrTorExited) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, fmt.Errorf("onion: start tor: %w", err)
	}
	s := &Service{conn: t.Control, tor: t, proc: cr.started, closed: make(chan struct{})}
	if s.id, err = publish(ctx, s.conn, c, seed); err != nil {
		s.id = ""
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func attach(ctx context.Context, c Config, seed []byte) (*Service, error) {
	conn, nc, err := dialControl(ctx, c)
	if err != nil {
		return nil, err
	}
	s := &Service{conn: conn, nc: nc, cfg: c, closed: make(chan struct{}), stop: make(chan struct{}), gone: make(chan struct{})}
	if s.id, err = publish(ctx, conn, c, seed); err != nil {
		_ = nc.Close()
		return nil, err
	}
	if c.Ephemeral {
		s.seed = append([]byte(nil), seed...)
	}
	s.watching.Add(1)
	go s.watch()
	return s, nil
}

// dialControl connects to the tor at c.Control, authenticates and checks that it is safe to
// publish on. ctx bounds it.
func dialControl(ctx context.Context, c Config) (*control.Conn, net.Conn, error) {
	network, addr, _ := controlAddr(c.Control)
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, nil, controlDialError(c.Control, err)
	}
	conn := control.NewConn(textproto.NewConn(nc))
	fail := func(err error) (*control.Conn, net.Conn, error) {
		_ = nc.Close()
		return nil, nil, err
	}
	// A tor that stops answering must not hang Start.
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if err := conn.Authenticate(""); err != nil {
		if strings.Contains(err.Error(), "permission denied") {
			return fail(fmt.Errorf("%w: cannot read tor's cookie file (%v): add this user to tor's group (Debian: `adduser USER debian-tor`, then log in again)", ErrControlPermission, err))
		}
		return fail(fmt.Errorf("onion: authenticate to tor at %s: %w", c.Control, err))
	}
	if err := checkAnonymous(conn); err != nil {
		return fail(err)
	}
	_ = nc.SetDeadline(time.Time{})
	return conn, nc, nil
}

// watch checks the attached tor every watchEvery and publishes the service again after tor
// came back; it gives up (Done closes) when tor stays away or comes back unsafe.
func (s *Service) watch() {
	defer s.watching.Done()
	defer func() { _ = recover() }() // nothing may print; Close still works without the watcher
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.alive() {
			continue
		}
		if !s.reattach() {
			s.markGone()
			return
		}
	}
}

// alive asks tor for its version over the current control connection.
func (s *Service) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.nc.SetDeadline(time.Now().Add(watchTimeout))
	_, err := s.conn.GetInfo("version")
	_ = s.nc.SetDeadline(time.Time{})
	return err == nil
}

// reattach dials tor again until it answers and takes the service back, for up to
// ReattachFor. It reports false when it gave up; true when the service is published again or
// Close stopped it.
func (s *Service) reattach() bool {
	// The service belongs to the control connection that added it (no Detach flag): closing
	// the old connection removes it from a tor that is still there but stopped answering, so
	// that adding it again is not refused as a collision.
	s.mu.Lock()
	_ = s.nc.Close()
	s.mu.Unlock()
	deadline := time.Now().Add(ReattachFor)
	wait := time.Second
	for time.Now().Before(deadline) {
		select {
		case <-s.stop:
			return true
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PublishTimeout+time.Minute)
		go func() {
			defer func() { _ = recover() }() // nothing may print
			select {
			case <-s.stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		ok, final := s.republish(ctx)
		cancel()
		if ok || final {
			return ok
		}
	}
	return false
}

// republish is one attempt of reattach. final is set when trying again cannot help (the tor
// that came back is unsafe, or the key cannot be read).
func (s *Service) republish(ctx context.Context) (ok, final bool) {
	conn, nc, err := dialControl(ctx, s.cfg)
	if err != nil {
		return false, errors.Is(err, ErrUnsafeTor)
	}
	seed := s.seed
	if seed == nil {
		if seed, err = readKey(s.cfg.KeyFile); err != nil {
			_ = nc.Close()
			return false, true
		}
		defer clear(seed)
	}
	id, err := publish(ctx, conn, s.cfg, seed)
	if err != nil {
		_ = nc.Close()
		return false, false
	}
	s.mu.Lock()
	old := s.nc
	s.conn, s.nc, s.id = conn, nc, id
	s.mu.Unlock()
	_ = old.Close()
	return true, false
}

func (s *Service) markGone() { s.goneOnce.Do(func() { close(s.gone) }) }

// checkAnonymous refuses a tor configured for single-hop (non-anonymous)
// onion services: every service on it would reveal the server's location.
func checkAnonymous(conn *control.Conn) error {
	vals, err := conn.GetConf("HiddenServiceSingleHopMode", "HiddenServiceNonAnonymousMode")
	if err != nil {
		return fmt.Errorf("onion: GETCONF: %w", err)
	}
	for _, kv := range vals {
		if kv.Val == "1" {
			return fmt.Errorf("%w (%s is 1): remove it from the torrc", ErrUnsafeTor, kv.Key)
		}
	}
	return nil
}

func controlDialError(control string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %s: add this user to tor's group (Debian: `adduser USER debian-tor`, then log in again): %v", ErrControlPermission, control, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("onion: no tor control at %s (is tor running with the ControlSocket/ControlPort of torrc.example?): %w", control, err)
	}
	return fmt.Errorf("onion: connect to tor at %s: %w", control, err)
}

// ServiceID is the 56-character v3 service id (the address without ".onion").
func (s *Service) ServiceID() string { return s.id }

// Address is the service's host name, "<ServiceID>.onion".
func (s *Service) Address() string { return s.id + ".onion" }

// Done is closed when the service has stopped: after Close; in managed mode
// when tor exits on its own; in attach mode when tor stopped answering and did
// not take the service back within ReattachFor (a restarted tor that comes
// back in time gets it again, at the same address). The server should then
// shut down, since it is no longer reachable.
func (s *Service) Done() <-chan struct{} {
	if s.proc != nil {
		return s.proc.done
	}
	return s.gone
}

// Close removes the service from tor (DEL_ONION) and, in managed mode, stops
// tor (SIGNAL HALT, then a kill after 10 s). It is safe to call more than once.
func (s *Service) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Service) close() error {
	defer close(s.closed)
	var errs []error
	if s.proc == nil { // attach mode: the tor is not ours, so remove our service explicitly
		close(s.stop)
		s.watching.Wait() // a publish under way is called off (and its service removed) first
		defer s.markGone()
		clear(s.seed)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.id != "" {
			if err := s.conn.DelOnion(s.id); err != nil {
				errs = append(errs, fmt.Errorf("onion: DEL_ONION: %w", err))
			}
		}
		if err := s.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("onion: close control connection: %w", err))
		}
		return errors.Join(errs...)
	}
	if !s.proc.exited() {
		if s.id != "" {
			_ = s.conn.DelOnion(s.id)
		}
		_ = s.conn.Signal("HALT")
	}
	_ = s.conn.Close()
	select {
	case <-s.proc.done:
	case <-time.After(stopWait):
		s.tor.ProcessCancelFunc() // SIGKILL through exec.CommandContext
		<-s.proc.done
		errs = append(errs, fmt.Errorf("onion: tor did not stop within %v and was killed", stopWait))
	}
	s.tor.ProcessCancelFunc()
	return errors.Join(errs...)
}
