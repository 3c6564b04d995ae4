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
	mu   sync.Mutex // attach mode: the watcher replaces conn and nc after tor restarts
	id   string     // set by Start and never changed: a re-publish must give the same address
	conn *control.Conn

	// managed mode only
	tor        *tor.Tor
	proc       *torProcess
	serviceDir string // the HiddenServiceDir holding tor's copy of the key; "" when ephemeral

	// attach mode only
	nc       net.Conn // the control connection under conn, for deadlines; nil while tor is away
	cfg      Config
	seed     []byte          // an ephemeral service's key, to publish the same address again
	stop     context.Context // ended by Close: calls off the watcher and a re-publish under way
	stopNow  context.CancelFunc
	watching sync.WaitGroup
	gone     chan struct{} // closed by Close, or when the service could not be published again
	goneOnce sync.Once
	goneErr  error // why gone closed on its own; written before it closes

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// An attached service watches its tor: the system tor may be restarted (an upgrade, a
// reload gone wrong), and a restarted tor has forgotten the service sealdrop added. The
// watcher asks tor something every watchEvery; when that fails it dials the control socket
// again, with backoff, and publishes the same address, for up to ReattachFor. Only then does
// Done close, and the server exit so that systemd restarts it.
const ReattachFor = 10 * time.Minute

// The watcher's timings; variables only so that tests against a fake tor run in seconds.
var (
	watchEvery   = 5 * time.Second  // how often the watcher asks tor
	watchTimeout = 10 * time.Second // how long tor has to answer it, or a Close's DEL_ONION
	retryFirst   = time.Second      // the first wait before dialing again; doubles up to retryMax
	retryMax     = 30 * time.Second
	reattachFor  = ReattachFor
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
// ours, so that ours win, then the service's own lines when it is published
// from serviceDir (not empty). SocksPort 0 is repeated on the command line,
// where it overrides any torrc.
func torrc(c Config, serviceDir string) string {
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
	if serviceDir != "" {
		for _, l := range serviceDirLines(c, serviceDir) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// managed runs tor and publishes the service on it. With a key file the service is defined in
// the torrc, from a HiddenServiceDir in DataDir that holds the key in tor's format: only such
// a service gets the intro points' DoS defence and the circuit ids (CircuitIDs). tor then
// starts with its network off, so that publish is listening for the upload before tor can
// make it. An ephemeral service is added with ADD_ONION, its key never written.
func managed(ctx context.Context, c Config, seed []byte) (*Service, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("onion: DataDir: %w", err)
	}
	// tor refuses a DataDirectory readable by others; tighten ours rather than fail.
	if err := os.Chmod(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("onion: DataDir: %w", err)
	}
	dir := filepath.Join(c.DataDir, serviceDirName)
	if c.Ephemeral {
		// An ephemeral address must leave no key behind, not even an earlier run's.
		if err := removeServiceDir(dir); err != nil {
			return nil, err
		}
		dir = ""
	} else if err := writeServiceDir(dir, seed); err != nil {
		return nil, err
	}
	fail := func(err error) (*Service, error) {
		if dir != "" {
			_ = removeServiceDir(dir)
		}
		return nil, err
	}
	torrcPath := filepath.Join(c.DataDir, torrcName)
	if err := os.WriteFile(torrcPath, []byte(torrc(c, dir)), 0o600); err != nil {
		return fail(fmt.Errorf("onion: write torrc: %w", err))
	}
	cr := &creator{path: c.TorPath, out: c.TorOutput, startCtx: ctx}
	// The process context must outlive ctx: bine kills tor when it ends.
	t, err := tor.Start(context.WithoutCancel(ctx), &tor.StartConf{
		ProcessCreator:  cr,
		DataDir:         c.DataDir,
		TorrcFile:       torrcPath,
		EnableNetwork:   dir == "", // a torrc service: publish enables it once it listens
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
			return fail(err)
		}
		return fail(fmt.Errorf("onion: start tor: %w", err))
	}
	s := &Service{conn: t.Control, tor: t, proc: cr.started, serviceDir: dir, closed: make(chan struct{})}
	if dir != "" {
		s.id, err = publishTorrc(ctx, s.conn, c, seed, dir, c.Progress, c.StallTimeout)
		// Enabling the network made tor apply its options again, which writes the control
		// port file anew.
		if p := cr.started; p != nil && p.portFile != "" {
			_ = os.Remove(p.portFile)
		}
	} else {
		s.id, err = publish(ctx, s.conn, c, seed, c.Progress, c.StallTimeout)
	}
	if err != nil {
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
	// A tor that stops answering during ADD_ONION must not hang Start past ctx either.
	callOff := closeOnDone(ctx, nc)
	s := &Service{conn: conn, nc: nc, cfg: c, closed: make(chan struct{}), gone: make(chan struct{})}
	s.id, err = publish(ctx, conn, c, seed, c.Progress, c.StallTimeout)
	if !callOff() { // ctx ended: the connection is closed, and tor removed the service with it
		err = fmt.Errorf("onion: publish: %w", context.Cause(ctx))
	}
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	if c.Ephemeral {
		s.seed = append([]byte(nil), seed...)
	}
	s.stop, s.stopNow = context.WithCancel(context.Background())
	s.watching.Add(1)
	go s.watch()
	return s, nil
}

// closeOnDone closes nc when ctx ends, until the returned release is called: every read or
// write on it then fails at once, whatever bine was waiting for. release reports false when
// ctx ended first.
func closeOnDone(ctx context.Context, nc net.Conn) (release func() bool) {
	return context.AfterFunc(ctx, func() {
		defer func() { _ = recover() }() // nothing may print
		_ = nc.Close()
	})
}

// dialControl connects to the tor at c.Control, authenticates and checks that it is safe to
// publish on. ctx bounds it: its deadline, and its end (a Close) if that comes first.
func dialControl(ctx context.Context, c Config) (*control.Conn, net.Conn, error) {
	network, addr, _ := controlAddr(c.Control)
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, nil, controlDialError(c.Control, err)
	}
	conn := control.NewConn(textproto.NewConn(nc))
	callOff := closeOnDone(ctx, nc)
	fail := func(err error) (*control.Conn, net.Conn, error) {
		if !callOff() && !errors.Is(err, ErrUnsafeTor) {
			err = fmt.Errorf("onion: connect to tor at %s: %w", c.Control, context.Cause(ctx))
		}
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
	if !callOff() {
		return fail(nil)
	}
	_ = nc.SetDeadline(time.Time{})
	return conn, nc, nil
}

// watch checks the attached tor every watchEvery and publishes the service again after tor
// came back; it gives up (Done closes) when the service cannot be published again.
func (s *Service) watch() {
	defer s.watching.Done()
	defer func() {
		// Nothing may print; a service nobody watches could vanish unnoticed, so Done closes.
		if r := recover(); r != nil && s.stop.Err() == nil {
			s.markGone(errWatcher)
		}
	}()
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop.Done():
			return
		case <-t.C:
		}
		if s.stop.Err() != nil {
			return // both were ready: Close wins
		}
		if s.alive() {
			continue
		}
		if err := s.reattach(); err != nil {
			clear(s.seed) // no longer needed; Close reads it only after this goroutine ended
			s.markGone(err)
			return
		}
	}
}

// errWatcher is Err after a panic in the watcher, reported without printing it.
var errWatcher = errors.New("onion: the watcher of the attached tor failed")

// alive asks tor for its version over the current control connection.
func (s *Service) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc == nil {
		return false
	}
	_ = s.nc.SetDeadline(time.Now().Add(watchTimeout))
	_, err := s.conn.GetInfo("version")
	_ = s.nc.SetDeadline(time.Time{})
	return err == nil
}

// reattach dials tor again until it answers and takes the service back, for up to
// reattachFor. It returns nil when the service is published again or Close called it off,
// and otherwise why it gave up.
func (s *Service) reattach() error {
	// The service belongs to the control connection that added it (no Detach flag): closing
	// the old connection removes it from a tor that is still there but stopped answering, so
	// that adding it again is not refused as a collision.
	s.mu.Lock()
	if s.nc != nil {
		_ = s.nc.Close()
	}
	s.conn, s.nc = nil, nil
	s.mu.Unlock()
	deadline := time.Now().Add(reattachFor)
	wait := retryFirst
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.stop.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
		ctx, cancel := context.WithTimeout(s.stop, s.cfg.PublishTimeout+time.Minute)
		final, err := s.republish(ctx)
		cancel()
		if err == nil || s.stop.Err() != nil {
			return nil
		}
		if final {
			return err
		}
		last = err
	}
	return fmt.Errorf("onion: tor at %s did not take the service back within %v: %w", s.cfg.Control, reattachFor, last)
}

// republish is one attempt of reattach. final is set when trying again cannot help (the tor
// that came back is unsafe, or the key file cannot be read or holds another key).
func (s *Service) republish(ctx context.Context) (final bool, err error) {
	conn, nc, err := dialControl(ctx, s.cfg)
	if err != nil {
		return errors.Is(err, ErrUnsafeTor), err
	}
	// Close calls off a publish under way: the connection closes, and tor removes a service
	// with the connection that added it.
	callOff := closeOnDone(ctx, nc)
	fail := func(final bool, err error) (bool, error) {
		callOff()
		_ = nc.Close()
		return final, err
	}
	seed := s.seed
	if seed == nil {
		if seed, err = readKey(s.cfg.KeyFile); err != nil {
			return fail(true, err)
		}
		defer clear(seed)
		if serviceID(seed) != s.id {
			return fail(true, fmt.Errorf("%w: %s holds the key of another address now; sealdrop publishes only the address it started with", ErrBadKey, s.cfg.KeyFile))
		}
	}
	// Nothing may be printed once serving: no progress reports. reattachFor bounds the wait.
	if _, err := publish(ctx, conn, s.cfg, seed, nil, 0); err != nil {
		return fail(false, err)
	}
	if !callOff() {
		return fail(false, fmt.Errorf("onion: publish: %w", context.Cause(ctx)))
	}
	s.mu.Lock()
	s.conn, s.nc = conn, nc
	s.mu.Unlock()
	return false, nil
}

// markGone closes Done; err is what Err reports (nil after Close).
func (s *Service) markGone(err error) {
	s.goneOnce.Do(func() {
		s.goneErr = err
		close(s.gone)
	})
}

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

// Err reports why Done closed without a Close: in attach mode, why the service could not be
// published again (tor stayed away for ReattachFor, came back unsafe, or the key file
// changed). It is nil while Done is open, when Close closed it, and in managed mode.
func (s *Service) Err() error {
	if s.gone == nil {
		return nil
	}
	select {
	case <-s.gone:
		return s.goneErr
	default:
		return nil
	}
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
		s.stopNow()
		s.watching.Wait() // a publish under way is called off (and its service removed) first
		defer s.markGone(nil)
		clear(s.seed)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.nc == nil {
			return nil // tor is away: the service went with the connection that added it
		}
		// A tor that stopped answering must not hang Close (bine's Close waits for QUIT's answer).
		_ = s.nc.SetDeadline(time.Now().Add(watchTimeout))
		if err := s.conn.DelOnion(s.id); err != nil {
			errs = append(errs, fmt.Errorf("onion: DEL_ONION: %w", err))
		}
		if err := s.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("onion: close control connection: %w", err))
		}
		return errors.Join(errs...)
	}
	if !s.proc.exited() {
		if s.id != "" && s.serviceDir == "" { // a torrc service goes with tor
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
	if s.serviceDir != "" {
		// tor has stopped: its copy of the key goes (the key file stays the one copy).
		if err := removeServiceDir(s.serviceDir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
