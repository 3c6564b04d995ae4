package onion

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cretz/bine/control"

	"github.com/sealdrop/sealdrop/internal/netns"
	"github.com/sealdrop/sealdrop/internal/servertest"
	"github.com/sealdrop/sealdrop/internal/testnet"
)

// One private network for this test binary, started by the first tor test.
var tn testnet.Shared

func TestMain(m *testing.M) {
	netns.Enter() // the tor tests run in a loopback-only network namespace of their own
	code := m.Run()
	tn.Close()
	os.Exit(code)
}

// backend serves body on a fresh unix socket, the way sealdrop's HTTP server
// listens, and returns the socket path.
func backend(t *testing.T, body string) string {
	t.Helper()
	// Unix socket paths are limited to ~108 bytes; t.TempDir can exceed that.
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "http.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// managedConfig is the production managed-mode Config, pointed at the private
// network: only TorrcLines differ from what cmd/sealdrop uses.
func managedConfig(t *testing.T, n *testnet.Network, dataDir, keyFile, sock string, out io.Writer) Config {
	return Config{
		TorPath:    n.TorPath(),
		DataDir:    dataDir,
		KeyFile:    keyFile,
		TorrcLines: n.TorrcLines(),
		TorOutput:  out,
		Target:     "unix:" + sock,
	}
}

// fetch GETs http://addr/ through the network's SOCKS port, retrying for up
// to a minute (the client may need the new descriptor first).
func fetch(t *testing.T, n *testnet.Network, addr string) (string, time.Duration) {
	t.Helper()
	return fetchVia(t, n.SocksAddr(), addr)
}

// freshClient starts a client tor of its own on the network and returns its SOCKS address. A
// client that already talked to a service keeps that instance's descriptor and circuits for
// a while, so after a restart the shared client can fail to reach the new instance for more
// than a minute (seen in CI); a real visitor after a restart has no such state either.
func freshClient(t *testing.T, n *testnet.Network) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	startTor(t, n, fmt.Sprintf("visitor-%d", time.Now().UnixNano()), []string{"SocksPort " + addr})
	return addr
}

// startTor starts a tor called name on the network, with extraLines in its torrc, and waits
// until it has bootstrapped; the test's cleanup stops it.
func startTor(t *testing.T, n *testnet.Network, name string, extraLines []string) *testnet.Proc {
	t.Helper()
	p, err := n.StartTor(name, extraLines)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := p.WaitLog(ctx, "Bootstrapped 100%"); err != nil {
		t.Fatalf("tor %s: %v\n%s", name, err, p.LogTail(3000))
	}
	return p
}

// fetchVia is fetch through the SOCKS port at socks.
func fetchVia(t *testing.T, socks, addr string) (string, time.Duration) {
	t.Helper()
	proxy, _ := url.Parse("socks5://" + socks)
	client := &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyURL(proxy), DisableKeepAlives: true},
		Timeout:   30 * time.Second,
	}
	deadline := time.Now().Add(60 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		start := time.Now()
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return string(b), time.Since(start)
			}
			lastErr = fmt.Errorf("status %d, read %v", resp.StatusCode, err)
		} else {
			lastErr = err
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no answer from %s within 60 s: %v", addr, lastErr)
	return "", 0
}

func TestManagedPublishFetchRestart(t *testing.T) {
	n := tn.Get(t)
	out := &servertest.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("tor output:\n%s", out.String())
		}
	}()
	dataDir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "onion.key")
	sock := backend(t, "hello from the onion")
	cfg := managedConfig(t, n, dataDir, keyFile, sock, out)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	published := time.Since(start)
	want, err := AddressFromKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if s.Address() != want {
		t.Fatalf("Address %q, key file says %q", s.Address(), want)
	}
	body, _ := fetch(t, n, s.Address())
	reachable := time.Since(start)
	if body != "hello from the onion" {
		t.Fatalf("body %q", body)
	}
	_, rtt := fetch(t, n, s.Address())
	t.Logf("MEASURE managed: published %.1fs, reachable %.1fs, fetch %.0fms", published.Seconds(), reachable.Seconds(), rtt.Seconds()*1000)

	closeStart := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("MEASURE managed: Close %.1fs", time.Since(closeStart).Seconds())
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Close")
	}

	// Restart with the same key file and DataDir: same address, reachable again.
	start = time.Now()
	s2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Address() != want {
		t.Fatalf("restart changed the address: %q, want %q", s2.Address(), want)
	}
	if body, _ := fetchVia(t, freshClient(t, n), s2.Address()); body != "hello from the onion" {
		t.Fatalf("body after restart %q", body)
	}
	t.Logf("MEASURE restart: reachable %.1fs", time.Since(start).Seconds())
}

func getConf(t *testing.T, s *Service, key string) string {
	t.Helper()
	kvs, err := s.conn.GetConf(key)
	return values(t, "GETCONF "+key, kvs, err)
}

func getInfo(t *testing.T, s *Service, key string) string {
	t.Helper()
	kvs, err := s.conn.GetInfo(key)
	return values(t, "GETINFO "+key, kvs, err)
}

// values joins the values of a GETCONF or GETINFO answer with commas.
func values(t *testing.T, what string, kvs []*control.KeyVal, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var vals []string
	for _, kv := range kvs {
		vals = append(vals, kv.Val)
	}
	return strings.Join(vals, ",")
}

// TestManagedSettings asserts the hardening the managed tor actually runs
// with, asking tor itself rather than reading our torrc.
func TestManagedSettings(t *testing.T) {
	n := tn.Get(t)
	sock := backend(t, "x")
	cfg := managedConfig(t, n, t.TempDir(), "", sock, nil)
	cfg.KeyFile, cfg.Ephemeral = "", true
	// An earlier run with a key file left tor's copy of its key behind (a crash): an
	// ephemeral start must not leave it, nor publish it.
	leftover := filepath.Join(cfg.DataDir, serviceDirName)
	if err := writeServiceDir(leftover, bytes.Repeat([]byte{5}, seedSize)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Lstat(leftover); !os.IsNotExist(err) {
		t.Errorf("an ephemeral start left an earlier key in %s: %v", leftover, err)
	}
	if got := getConf(t, s, "HiddenServiceOptions"); got != "" {
		t.Errorf("an ephemeral service runs a torrc service too: %q", got)
	}

	for key, want := range map[string]string{
		"HiddenServiceSingleHopMode":    "0",
		"HiddenServiceNonAnonymousMode": "0",
		"SafeLogging":                   "1",
		"__OwningControllerProcess":     strconv.Itoa(os.Getpid()),
	} {
		if got := getConf(t, s, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	// SocksPort 0 means no SOCKS listener at all.
	if got := getInfo(t, s, "net/listeners/socks"); got != "" {
		t.Errorf("managed tor listens for SOCKS on %q", got)
	}
	if got := getConf(t, s, "SocksPort"); got != "0" {
		t.Errorf("SocksPort = %q, want 0", got)
	}
	// No log file anywhere: tor's only log goes to its (discarded) stdout.
	if got := getConf(t, s, "Log"); strings.Contains(got, "file") {
		t.Errorf("tor logs to a file: %q", got)
	}
	if got := getInfo(t, s, "onions/current"); !strings.Contains(got, s.ServiceID()) {
		t.Errorf("onions/current = %q, want it to list %s", got, s.ServiceID())
	}

	// ADD_ONION with PoWDefensesEnabled=1 was accepted (Start succeeded). Show
	// that tor validates these keywords rather than ignoring them: a bad value
	// and an unknown keyword are both refused.
	seed := make([]byte, seedSize)
	seed[0] = 1
	for _, tc := range []struct{ name, extra string }{
		{"bad PoW value", "PoWDefensesEnabled=2"},
		{"unknown keyword", "NoSuchKeyword=1"},
	} {
		cmd := "ADD_ONION " + keyBlob(seed) + " " + tc.extra + " Port=80,unix:" + sock
		if _, err := s.conn.SendRequest("%s", cmd); err == nil {
			t.Errorf("%s: tor accepted %s", tc.name, tc.extra)
		}
	}
	// And the PoW keyword is accepted on its own for another key, so the
	// refusal above is about the value, not the keyword.
	cmd := "ADD_ONION " + keyBlob(seed) + " Flags=DiscardPK PoWDefensesEnabled=1 Port=80,unix:" + sock
	if _, err := s.conn.SendRequest("%s", cmd); err != nil {
		t.Errorf("tor refused PoWDefensesEnabled=1: %v", err)
	} else if err := s.conn.DelOnion(serviceID(seed)); err != nil {
		t.Error(err)
	}

	// Only our files in DataDir besides tor's: no control-port-* leftovers.
	entries, err := os.ReadDir(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "control-port-") || strings.HasPrefix(e.Name(), "torrc-") {
			t.Errorf("bine leftover in DataDir: %s", e.Name())
		}
	}
	fi, err := os.Stat(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("DataDir mode %04o, want 0700", perm)
	}
}

// attachTor starts a tor the way torrc.example's attach section configures
// the system tor, and returns its control socket.
func attachTor(t *testing.T, n *testnet.Network) string {
	t.Helper()
	name := fmt.Sprintf("attach-%d", time.Now().UnixNano())
	sock := filepath.Join(n.Dir(), name, "control")
	startTor(t, n, name, attachLines(sock))
	return sock
}

// attachLines are torrc.example's attach section: no SOCKS port, a ControlSocket, cookie
// authentication.
func attachLines(control string) []string {
	return []string{
		"SocksPort 0",
		"ControlSocket " + control,
		"ControlSocketsGroupWritable 1",
		"CookieAuthentication 1",
		"CookieAuthFileGroupReadable 1",
	}
}

// A restarted system tor has forgotten the service sealdrop added: the attached service
// notices, dials the control socket again and publishes the same address, and the server
// stays up with everything it holds. Done stays open throughout.
func TestAttachSurvivesTorRestart(t *testing.T) {
	n := tn.Get(t)
	name := fmt.Sprintf("attach-%d", time.Now().UnixNano())
	control := filepath.Join(n.Dir(), name, "control")
	first := startTor(t, n, name, attachLines(control))
	sock := backend(t, "still here")
	keyFile := filepath.Join(t.TempDir(), "onion.key")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Config{Control: "unix:" + control, KeyFile: keyFile, Target: "unix:" + sock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if body, _ := fetch(t, n, s.Address()); body != "still here" {
		t.Fatalf("before the restart: body %q", body)
	}

	if err := first.Close(); err != nil {
		t.Logf("stopping the first tor: %v", err)
	}
	<-first.Exited()
	stopped := time.Now()
	s.mu.Lock()
	oldConn := s.conn
	s.mu.Unlock()
	startTor(t, n, name, attachLines(control))
	// The watcher notices within watchEvery, then dials with backoff until the new tor
	// answers, and publishes again (conn is nil while tor is away).
	reattached := false
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		s.mu.Lock()
		reattached = s.conn != nil && s.conn != oldConn
		s.mu.Unlock()
		if reattached {
			break
		}
	}
	if !reattached {
		t.Fatal("not published again within 2 minutes of the new tor")
	}
	t.Logf("MEASURE attach: published again %.1fs after tor stopped", time.Since(stopped).Seconds())
	if body, _ := fetchVia(t, freshClient(t, n), s.Address()); body != "still here" {
		t.Fatalf("after the restart: body %q", body)
	}
	t.Logf("MEASURE attach: reachable again %.1fs after tor stopped", time.Since(stopped).Seconds())
	select {
	case <-s.Done():
		t.Fatal("Done closed although tor came back")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after the re-attach: %v", err)
	}
	<-s.Done()
}

func TestAttachPublishFetch(t *testing.T) {
	n := tn.Get(t)
	control := attachTor(t, n)
	sock := backend(t, "attached")
	keyFile := filepath.Join(t.TempDir(), "onion.key")
	cfg := Config{Control: "unix:" + control, KeyFile: keyFile, Target: "unix:" + sock}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := AddressFromKey(keyFile)
	if s.Address() != want {
		t.Fatalf("Address %q, key file says %q", s.Address(), want)
	}
	if body, _ := fetch(t, n, s.Address()); body != "attached" {
		t.Fatalf("body %q", body)
	}
	t.Logf("MEASURE attach: reachable %.1fs", time.Since(start).Seconds())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed after Close")
	}

	// The service is gone from tor: the same key can be added again (tor
	// answers 550 collision while it still exists), and the attached tor is
	// still running (Close must not stop a tor it does not own).
	s2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("re-adding after Close: %v", err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	// Two services with the same key on one tor: the second is refused with
	// a clear error, not a hang.
	s3, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	_, err = Start(ctx, cfg)
	if !errors.Is(err, ErrTorRefused) || !strings.Contains(err.Error(), "another sealdrop") {
		t.Errorf("second Start with the same key: %v, want ErrTorRefused naming the cause", err)
	}
}

func TestAttachEphemeral(t *testing.T) {
	n := tn.Get(t)
	control := attachTor(t, n)
	sock := backend(t, "one-off")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cfg := Config{Control: "unix:" + control, Ephemeral: true, Target: "unix:" + sock}
	start := time.Now()
	s1, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s1.Address() == s2.Address() {
		t.Error("two ephemeral services share an address")
	}
	published := time.Since(start)
	if body, _ := fetch(t, n, s2.Address()); body != "one-off" {
		t.Fatalf("body %q", body)
	}
	t.Logf("MEASURE attach ephemeral x2: published %.1fs, reachable %.1fs", published.Seconds(), time.Since(start).Seconds())
}

func TestAttachRefusesSingleHopTor(t *testing.T) {
	n := tn.Get(t)
	name := fmt.Sprintf("singlehop-%d", time.Now().UnixNano())
	control := filepath.Join(n.Dir(), name, "control")
	p, err := n.StartTor(name, []string{
		"SocksPort 0", "ControlSocket " + control, "CookieAuthentication 1",
		"HiddenServiceSingleHopMode 1", "HiddenServiceNonAnonymousMode 1",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := p.WaitFile(ctx, control); err != nil {
		t.Fatal(err)
	}
	_, err = Start(ctx, Config{Control: "unix:" + control, Ephemeral: true, Target: "unix:/run/sealdrop/http.sock"})
	if !errors.Is(err, ErrUnsafeTor) {
		t.Fatalf("Start on a single-hop tor: %v, want ErrUnsafeTor", err)
	}
}
