package onion

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/textproto"
	"strings"
	"syscall"
	"time"

	"github.com/cretz/bine/control"
)

// An attached service watches its tor: the system tor may be restarted (an upgrade, a
// reload gone wrong), and a restarted tor has forgotten the service sealdrop added. The
// watcher asks tor something every watchEvery; when that fails it dials the control socket
// again, with backoff, and publishes the same address, for up to ReattachFor. Only then does
// Done close, and the server exit so that systemd restarts it.
const ReattachFor = 10 * time.Minute

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
