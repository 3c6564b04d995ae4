package onion

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The attach-mode watcher against a fake tor, so that its corner cases (a Close during a
// re-publish, a tor that hangs, a changed key file) run in seconds and without the private
// network. TestAttachSurvivesTorRestart does the same restart with a real tor.

// fakeTor speaks just enough of tor's control protocol on a unix socket: PROTOCOLINFO (NULL
// authentication), AUTHENTICATE, GETCONF, SETEVENTS, ADD_ONION (answering the id registered
// for its key, then reporting the descriptor uploaded), GETINFO, DEL_ONION and QUIT. As with
// tor and no Flags=Detach, a service lives as long as the connection that added it.
type fakeTor struct {
	t    *testing.T
	path string
	ids  map[string]string // ADD_ONION's key argument -> the service id to answer

	mu     sync.Mutex
	ln     net.Listener
	mode   fakeMode
	frozen bool // answer nothing more on any connection
	conns  map[net.Conn]bool
	onions map[string]net.Conn // published id -> the connection that added it
	keys   []string            // the key argument of every ADD_ONION received
	added  chan struct{}       // one value per ADD_ONION received
}

type fakeMode int

const (
	fakeOK        fakeMode = iota
	fakeSingleHop          // GETCONF reports HiddenServiceSingleHopMode 1
	fakeHangAdd            // ADD_ONION is never answered
)

func newFakeTor(t *testing.T) *fakeTor {
	dir, err := os.MkdirTemp("", "ft") // unix socket paths are short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeTor{t: t, path: filepath.Join(dir, "control"), ids: map[string]string{},
		conns: map[net.Conn]bool{}, onions: map[string]net.Conn{}, added: make(chan struct{}, 100)}
	f.start(fakeOK)
	t.Cleanup(f.stop)
	return f
}

// key makes a key file and registers its id; it returns the path and the id.
func (f *fakeTor) key(path string) string {
	f.t.Helper()
	if err := GenerateKey(path); err != nil {
		f.t.Fatal(err)
	}
	seed, err := readKey(path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids[keyBlob(seed)] = serviceID(seed)
	return serviceID(seed)
}

// start is a (re)started tor: it listens on the same control socket.
func (f *fakeTor) start(m fakeMode) {
	f.t.Helper()
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.ln, f.mode, f.frozen = ln, m, false
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns[c] = true
			f.mu.Unlock()
			go f.serve(c)
		}
	}()
}

// stop is tor exiting: the socket and every connection close, and every service is gone.
func (f *fakeTor) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		f.ln.Close() // removes the socket file
		f.ln = nil
	}
	for c := range f.conns {
		c.Close()
	}
	clear(f.onions)
}

func (f *fakeTor) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frozen = true
}

func (f *fakeTor) published(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.onions[id] != nil
}

func (f *fakeTor) open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

func (f *fakeTor) received(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k == key {
			return true
		}
	}
	return false
}

func (f *fakeTor) serve(c net.Conn) {
	defer func() {
		c.Close()
		f.mu.Lock()
		delete(f.conns, c)
		for id, owner := range f.onions {
			if owner == c {
				delete(f.onions, id)
			}
		}
		f.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		f.mu.Lock()
		reply, quit := f.answer(c, fields)
		f.mu.Unlock()
		if reply != "" {
			if _, err := c.Write([]byte(reply)); err != nil {
				return
			}
		}
		if quit {
			return
		}
	}
}

// answer is the reply to one command; f.mu is held.
func (f *fakeTor) answer(c net.Conn, fields []string) (reply string, quit bool) {
	if fields[0] == "ADD_ONION" && len(fields) > 1 {
		f.keys = append(f.keys, fields[1])
		f.added <- struct{}{}
	}
	if f.frozen {
		return "", false
	}
	switch fields[0] {
	case "PROTOCOLINFO":
		return "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250-VERSION Tor=\"0.4.8.0\"\r\n250 OK\r\n", false
	case "AUTHENTICATE", "SETEVENTS":
		return "250 OK\r\n", false
	case "GETCONF":
		v := "0"
		if f.mode == fakeSingleHop {
			v = "1"
		}
		return "250-HiddenServiceSingleHopMode=" + v + "\r\n250 HiddenServiceNonAnonymousMode=" + v + "\r\n", false
	case "GETINFO":
		return "250-version=0.4.8.0\r\n250 OK\r\n", false
	case "ADD_ONION":
		if f.mode == fakeHangAdd {
			return "", false
		}
		id, ok := f.ids[fields[1]]
		if !ok {
			return "513 Invalid key\r\n", false
		}
		if f.onions[id] != nil {
			return "550 Onion address collision\r\n", false
		}
		f.onions[id] = c
		return "250-ServiceID=" + id + "\r\n250 OK\r\n" +
			"650 HS_DESC UPLOAD " + id + " UNKNOWN $AAAA~fake\r\n" +
			"650 HS_DESC UPLOADED " + id + " UNKNOWN $AAAA~fake\r\n", false
	case "DEL_ONION":
		if len(fields) > 1 && f.onions[fields[1]] == c {
			delete(f.onions, fields[1])
			return "250 OK\r\n", false
		}
		return "552 Unknown Onion Service id\r\n", false
	case "QUIT":
		return "250 closing connection\r\n", true
	}
	return "510 Unrecognized command\r\n", false
}

// fastWatch shortens the watcher's timings for the test.
func fastWatch(t *testing.T) {
	old := [...]time.Duration{watchEvery, watchTimeout, retryFirst, retryMax, reattachFor}
	watchEvery, watchTimeout, retryFirst, retryMax, reattachFor = 50*time.Millisecond, time.Second, 20*time.Millisecond, 200*time.Millisecond, time.Minute
	t.Cleanup(func() {
		watchEvery, watchTimeout, retryFirst, retryMax, reattachFor = old[0], old[1], old[2], old[3], old[4]
	})
}

// startFake publishes a key-file service on f.
func startFake(t *testing.T, f *fakeTor) (*Service, string) {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "onion.key")
	id := f.key(keyFile)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, Config{Control: "unix:" + f.path, KeyFile: keyFile, Target: "unix:/run/sealdrop/http.sock", PublishTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t.Cleanup(f.stop) // first: a Close that a test found hanging can then return
	if s.ServiceID() != id || !f.published(id) {
		t.Fatalf("ServiceID %s, want %s published", s.ServiceID(), id)
	}
	return s, keyFile
}

// waitFor polls cond for up to 20 s (generous: the shared machine may be busy).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20 s: %s", what)
		}
	}
}

// closeWithin runs Close and fails the test if it has not returned in 20 s, when the
// watcher's bounds here are a second or less.
func closeWithin(t *testing.T, s *Service) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return within 20 s")
		return nil
	}
}

// waitAway waits until the watcher noticed that tor is gone (it drops the connection then).
func waitAway(t *testing.T, s *Service) {
	t.Helper()
	waitFor(t, "the watcher notices that tor is gone", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.nc == nil
	})
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// The fast path of TestAttachSurvivesTorRestart, with Address read all along (a data race
// under -race if the re-publish wrote the id).
func TestReattachFake(t *testing.T) {
	fastWatch(t)
	f := newFakeTor(t)
	s, _ := startFake(t, f)
	id := s.ServiceID()
	stopReading := make(chan struct{})
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		for !isClosed(stopReading) {
			if s.Address() != id+".onion" {
				t.Error("Address changed")
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for range 2 {
		f.stop()
		waitAway(t, s)
		f.start(fakeOK)
		waitFor(t, "published again", func() bool { return f.published(id) })
	}
	close(stopReading)
	<-reading
	if isClosed(s.Done()) || s.Err() != nil {
		t.Fatalf("Done closed (%v) although tor came back", s.Err())
	}
	if err := closeWithin(t, s); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if f.published(id) {
		t.Error("Close left the service on tor")
	}
	if !isClosed(s.Done()) || s.Err() != nil {
		t.Errorf("after Close: Done closed %v, Err %v (want closed, nil)", isClosed(s.Done()), s.Err())
	}
}

// A Close while tor has not answered the re-publish's ADD_ONION returns at once, and the
// half-published service goes with its connection.
func TestCloseCallsOffRepublish(t *testing.T) {
	fastWatch(t)
	f := newFakeTor(t)
	s, _ := startFake(t, f)
	f.stop()
	<-f.added // Start's
	f.start(fakeHangAdd)
	select {
	case <-f.added:
	case <-time.After(20 * time.Second):
		t.Fatal("no re-publish within 20 s")
	}
	if err := closeWithin(t, s); err != nil {
		t.Errorf("Close during a re-publish: %v", err)
	}
	waitFor(t, "the re-publish's connection closed", func() bool { return f.open() == 0 })
	if !isClosed(s.Done()) || s.Err() != nil {
		t.Errorf("after Close: Done closed %v, Err %v (want closed, nil)", isClosed(s.Done()), s.Err())
	}
}

// A Close while tor is away has nothing to remove: the service went with tor.
func TestCloseWhileTorAway(t *testing.T) {
	fastWatch(t)
	f := newFakeTor(t)
	s, _ := startFake(t, f)
	f.stop()
	waitAway(t, s)
	if err := closeWithin(t, s); err != nil {
		t.Errorf("Close while tor is away: %v", err)
	}
}

// A tor that stops answering (but keeps its socket open) cannot hang Close.
func TestCloseHungTor(t *testing.T) {
	fastWatch(t)
	watchEvery = time.Hour // the watcher stays idle: Close meets the hung tor itself
	f := newFakeTor(t)
	s, _ := startFake(t, f)
	f.freeze()
	if err := closeWithin(t, s); err == nil || !strings.Contains(err.Error(), "DEL_ONION") {
		t.Errorf("Close on a hung tor: %v, want a DEL_ONION error", err)
	}
}

// A Start whose ctx ends while tor has not answered ADD_ONION returns then.
func TestStartCanceledDuringAddOnion(t *testing.T) {
	f := newFakeTor(t)
	f.stop()
	f.start(fakeHangAdd)
	keyFile := filepath.Join(t.TempDir(), "onion.key")
	f.key(keyFile)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-f.added
		cancel()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := Start(ctx, Config{Control: "unix:" + f.path, KeyFile: keyFile, Target: "unix:/run/sealdrop/http.sock", PublishTimeout: 2 * time.Minute})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Start: %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Start did not return within 20 s of its ctx ending")
	}
	waitFor(t, "Start's connection closed", func() bool { return f.open() == 0 })
}

// A key file that now holds another key is never sent to tor: the service gives up, naming
// why, instead of publishing an address nobody was given.
func TestReattachRefusesChangedKey(t *testing.T) {
	fastWatch(t)
	f := newFakeTor(t)
	s, keyFile := startFake(t, f)
	f.stop()
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	f.key(keyFile)
	seed, err := readKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	newKey := keyBlob(seed)
	f.start(fakeOK)
	waitFor(t, "Done closes", func() bool { return isClosed(s.Done()) })
	if !errors.Is(s.Err(), ErrBadKey) || !strings.Contains(s.Err().Error(), keyFile) {
		t.Errorf("Err %v, want ErrBadKey naming the key file", s.Err())
	}
	if f.received(newKey) {
		t.Error("the new key was sent to tor")
	}
	if err := closeWithin(t, s); err != nil {
		t.Errorf("Close after giving up: %v", err)
	}
}

// A tor that comes back single-hop is refused at once; one that does not come back within
// reattachFor is given up on. Either way Done closes and Err says why.
func TestReattachGivesUp(t *testing.T) {
	fastWatch(t)
	f := newFakeTor(t)
	s, _ := startFake(t, f)
	f.stop()
	f.start(fakeSingleHop)
	waitFor(t, "Done closes on a single-hop tor", func() bool { return isClosed(s.Done()) })
	if !errors.Is(s.Err(), ErrUnsafeTor) {
		t.Errorf("Err %v, want ErrUnsafeTor", s.Err())
	}

	reattachFor = 300 * time.Millisecond
	f.stop()
	f.start(fakeOK)
	s, _ = startFake(t, f)
	f.stop()
	waitFor(t, "Done closes when tor stays away", func() bool { return isClosed(s.Done()) })
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "did not take the service back") || !strings.Contains(err.Error(), "no tor control") {
		t.Errorf("Err %v, want the time given and the last dial error", err)
	}
	if err := closeWithin(t, s); err != nil {
		t.Errorf("Close after giving up: %v", err)
	}
}
