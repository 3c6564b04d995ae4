package onion

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cretz/bine/control"
	"github.com/cretz/bine/tor"
)

// stopWait bounds how long Close waits for the managed tor to exit after
// SIGNAL HALT before killing it.
const stopWait = 10 * time.Second

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
