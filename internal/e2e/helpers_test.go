package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/proxy"

	"github.com/sealdrop/sealdrop/internal/netns"
	"github.com/sealdrop/sealdrop/internal/servertest"
	"github.com/sealdrop/sealdrop/internal/testnet"
)

// One private network for this test binary, started by the first onion test.
var tn testnet.Shared

func TestMain(m *testing.M) {
	netns.Enter() // every test here runs in a loopback-only network namespace of its own
	code := m.Run()
	tn.Close()
	servertest.RemoveBuilds()
	os.Exit(code)
}

// buildBinary builds sealdrop with the prooftest tag once per test binary. It runs after
// tn.Get, so a skipped run builds nothing.
func buildBinary() (string, error) { return servertest.Build("prooftest") }

// shortDir is a temp dir with a short path: unix socket paths are limited to ~108 bytes.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// torrcFile writes the private network's torrc lines for --testing-torrc.
func torrcFile(t *testing.T, n *testnet.Network) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "testnet-torrc")
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(n.TorrcLines(), "\n")+"\n"), 0o600))
	return p
}

// torOutput (SEALDROP_E2E_TOR_OUTPUT=1, for debugging a failure) adds --tor-output to the
// managed-mode runs, so that a failing test shows the managed tor's notices.
var torOutput = os.Getenv("SEALDROP_E2E_TOR_OUTPUT") == "1"

// sealdrop is one running `sealdrop serve` process.
type sealdrop struct {
	cmd            *exec.Cmd
	stdout, stderr *servertest.Buffer
	first          string // the first startup line
	done           chan struct{}
}

// startSealdrop runs `sealdrop serve args...` and waits (up to 3 minutes) for its two startup
// lines. The process dies with the test (Pdeathsig), and its managed tor with it
// (__OwningControllerProcess).
func startSealdrop(t *testing.T, args ...string) *sealdrop {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	s := &sealdrop{stdout: &servertest.Buffer{}, stderr: &servertest.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, s.cmd.Start())
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		if t.Failed() && s.stderr.String() != "" {
			t.Logf("sealdrop stderr:\n%s", tailString(s.stderr.String()))
		}
	})
	s.first, err = servertest.AwaitStartup(s.stdout, s.done, 3*time.Minute)
	if errors.Is(err, servertest.ErrExited) {
		t.Fatalf("sealdrop serve %v exited %d before its startup lines; stderr:\n%s", args, s.cmd.ProcessState.ExitCode(), s.stderr.String())
	}
	if err != nil {
		t.Fatalf("sealdrop serve %v: %v; stderr:\n%s", args, err, s.stderr.String())
	}
	return s
}

// onionBase is the printed onion URL without the trailing slash, checked for its exact form.
func (s *sealdrop) onionBase(t *testing.T) string {
	t.Helper()
	require.Regexp(t, `^http://[a-z2-7]{56}\.onion/$`, s.first, "the first startup line is exactly the onion URL")
	return strings.TrimSuffix(s.first, "/")
}

// stop sends SIGTERM and asserts a clean exit: status 0, nothing printed after the startup
// lines, nothing on stderr.
func (s *sealdrop) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(40 * time.Second):
		t.Fatal("sealdrop did not exit within 40 s of SIGTERM")
	}
	require.Equal(t, 0, s.cmd.ProcessState.ExitCode(), "exit status after SIGTERM; stderr %q", s.stderr.String())
	require.Equal(t, 2, strings.Count(s.stdout.String(), "\n"), "nothing printed after the startup lines: %q", s.stdout.String())
	if !torOutput {
		require.Empty(t, s.stderr.String())
	}
}

// timing records how long the last successful request of each kind took, from sending it to reading
// the last byte of the answer's body.
type timing struct {
	base http.RoundTripper
	mu   sync.Mutex
	last map[string]time.Duration
}

func kindOf(path string) string {
	switch {
	case strings.HasSuffix(path, "/open"):
		return "open"
	case strings.HasPrefix(path, "/testing-blob/"):
		return "blob"
	}
	return ""
}

func (tm *timing) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := tm.base.RoundTrip(req)
	if err != nil || kindOf(req.URL.Path) == "" || res.StatusCode != http.StatusOK {
		return res, err
	}
	res.Body = &timedBody{ReadCloser: res.Body, done: func() {
		tm.mu.Lock()
		tm.last[kindOf(req.URL.Path)] = time.Since(start)
		tm.mu.Unlock()
	}}
	return res, nil
}

func (tm *timing) take(kind string) time.Duration {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	d := tm.last[kind]
	delete(tm.last, kind)
	return d
}

type timedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(b.done)
	}
	return n, err
}

// clientTor is a tor with a SOCKS port on the private network: a visitor.
type clientTor struct {
	proc  *testnet.Proc
	socks string
}

// newClientTor starts a fresh client tor for one test (or one round of one). The network's
// shared client is not used: on this five-relay network a long-lived client can end up with
// a vanguard (_HSLayer2Nodes) set it cannot build onion paths from ("Could not find a node that
// matches the configured _HSLayer2Nodes set"), after which every onion fetch times out.
func newClientTor(t *testing.T, n *testnet.Network) *clientTor {
	t.Helper()
	// A visitor that has not bootstrapped within a minute is replaced once by a fresh one: on a
	// loaded 2-core machine a client tor of this five-relay network has stopped at "Failed to
	// find node for hop #2" (its first consensus lacked a usable relay) in 1 of about 700 tests.
	// That is tor's start, before any sealdrop code runs; a second failure fails the test.
	for try := 1; ; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		name := fmt.Sprintf("visitor-%d", time.Now().UnixNano())
		p, err := n.StartTor(name, []string{"SocksPort " + addr})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		err = p.WaitLog(ctx, "Bootstrapped 100%")
		cancel()
		if err == nil {
			t.Cleanup(func() { p.Close() })
			return &clientTor{proc: p, socks: addr}
		}
		tail := p.LogTail(3000)
		p.Close()
		if try == 2 {
			t.Fatalf("client tor: %v\n%s", err, tail)
		}
		t.Logf("client tor did not bootstrap in a minute; starting a fresh one: %v\n%s", err, tail)
	}
}

// dialAs dials through ct's SOCKS port as SOCKS user who: tor isolates streams by SOCKS
// credentials, so each name gets circuits of its own, as another person (another Tor Browser)
// would. Onion names go to tor unresolved: x/net/proxy sends host names as they are.
func (ct *clientTor) dialAs(t *testing.T, who string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	t.Helper()
	d, err := proxy.SOCKS5("tcp", ct.socks, &proxy.Auth{User: who, Password: "x"}, proxy.Direct)
	require.NoError(t, err)
	cd, ok := d.(proxy.ContextDialer)
	require.True(t, ok, "x/net/proxy's SOCKS5 dialer dials with a context")
	return cd.DialContext
}

// transportAs is an HTTP transport over dialAs(who), its idle connections closed when the test
// ends.
func (ct *clientTor) transportAs(t *testing.T, who string) *http.Transport {
	t.Helper()
	tr := &http.Transport{DialContext: ct.dialAs(t, who)}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// managedArgs are the `sealdrop serve` flags of a managed-mode run on the private network n:
// the key file (onion.key) and tor's data directory (tor) in state, the HTTP socket in socks
// (a shortDir), a 4 MiB budget, then extra, and --tor-output when torOutput is set.
func managedArgs(t *testing.T, n *testnet.Network, state, socks string, extra ...string) []string {
	t.Helper()
	args := []string{
		"--key-file", filepath.Join(state, "onion.key"), "--tor-data-dir", filepath.Join(state, "tor"), "--tor", n.TorPath(),
		"--http-socket", filepath.Join(socks, "http.sock"), "--budget", "4M", "--testing-torrc", torrcFile(t, n),
	}
	args = append(args, extra...)
	if torOutput {
		args = append(args, "--tor-output")
	}
	return args
}

// torClient is an HTTP client that reaches onion addresses through ct's SOCKS port (tor
// resolves the .onion name), with request timing.
func torClient(t *testing.T, ct *clientTor) (*http.Client, *timing) {
	t.Helper()
	proxy, err := url.Parse("socks5://" + ct.socks)
	require.NoError(t, err)
	tr := &http.Transport{Proxy: http.ProxyURL(proxy), MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	tm := &timing{base: tr, last: map[string]time.Duration{}}
	return &http.Client{Transport: tm, Timeout: 3 * time.Minute}, tm
}

// waitReachable GETs base/api/v1/limits until it answers 200 (the client tor may need the new
// descriptor first), for up to 150 s, and returns when it first did. Each try uses a fresh
// connection, so that a SOCKS request tor is still working on cannot hold up the next try.
func waitReachable(t *testing.T, ct *clientTor, base string) time.Time {
	t.Helper()
	proxy, err := url.Parse("socks5://" + ct.socks)
	require.NoError(t, err)
	tr := &http.Transport{Proxy: http.ProxyURL(proxy), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	deadline := time.Now().Add(150 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		res, err := hc.Get(base + "/api/v1/limits")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Now()
			}
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		last = err
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("the client tor, end of its log:\n%s", ct.proc.LogTail(6000))
	t.Fatalf("%s not reachable through the onion within 150 s: %v", base, last)
	return time.Time{}
}

// fetchBlob GETs n bytes of the test build's static route and returns them.
func fetchBlob(t *testing.T, hc *http.Client, base string, n int64) []byte {
	t.Helper()
	res, err := hc.Get(fmt.Sprintf("%s/testing-blob/%d", base, n))
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Len(t, b, int(n))
	return b
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func secs(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.2f", d.Seconds()))
	}
	return strings.Join(parts, ", ")
}

func tailString(s string) string {
	if len(s) > 6000 {
		s = s[len(s)-6000:]
	}
	return s
}
