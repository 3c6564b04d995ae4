package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/servertest"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "65536": 65536, "512K": 512 << 10, "64M": 64 << 20, "1G": 1 << 30,
		"64MiB": 64 << 20, "2gb": 2 << 30, "1k": 1024, "5B": 5, " 7kib ": 7 << 10} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "+5", "-0", "5I", "5iB", "5BI", "KB", "1T", "M", "1.5M", "99999999999999G", "0x10"} {
		_, err := parseSize(in)
		assert.Error(t, err, in)
	}
}

// TestSizeFlagShowsItsGrammar: -h prints a size default as it would be typed ("256M", not
// "268435456"), and what it prints reads back to the same number.
func TestSizeFlagShowsItsGrammar(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 5: "5", 1023: "1023", 1 << 10: "1K", 1536: "1536", 256 << 20: "256M",
		3 << 30: "3G", 1<<30 + 1<<20: "1025M", 1<<62 - 1: "4611686018427387903"} {
		f := sizeFlag(n)
		assert.Equal(t, want, f.String(), n)
		back, err := parseSize(f.String())
		require.NoError(t, err, n)
		assert.Equal(t, n, back, n)
	}
}

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.168.1.10:8080", "10.0.0.1:80", ":8080", "localhost:8080", "example.com:80", "127.0.0.1"} {
		ln, _, err := listen(addr, 0o660)
		if ln != nil {
			ln.Close()
		}
		assert.Error(t, err, addr)
	}
	_, _, err := listen("0.0.0.0:0", 0o660)
	assert.ErrorContains(t, err, "non-loopback")
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, shown, err := listen(addr, 0o660)
		if err != nil && strings.Contains(addr, "::1") {
			t.Logf("no IPv6 loopback here: %v", err)
			continue
		}
		require.NoError(t, err, addr)
		assert.True(t, strings.HasPrefix(shown, "http://"))
		ln.Close()
	}
}

func TestListenUnix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "http.sock")

	// A regular file in the way is never removed.
	require.NoError(t, os.WriteFile(path, []byte("keep"), 0o600))
	_, _, err := listen("unix:"+path, 0o660)
	require.ErrorContains(t, err, "not a socket")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(b))
	require.NoError(t, os.Remove(path))

	// A stale socket from an earlier run is replaced.
	old, err := net.Listen("unix", path)
	require.NoError(t, err)
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close()
	for _, mode := range []os.FileMode{0o660, 0o600} {
		ln, shown, err := listen("unix:"+path, mode)
		require.NoError(t, err)
		assert.Equal(t, "unix:"+path, shown)
		fi, err := os.Lstat(path)
		require.NoError(t, err)
		assert.Equal(t, os.ModeSocket, fi.Mode().Type())
		assert.Equal(t, mode, fi.Mode().Perm())
		ln.Close()
	}
}

// startServe runs "sealdrop serve" in-process until the returned stop is called; it waits
// for the startup lines.
func startServe(t *testing.T, args ...string) (stdout, stderr *servertest.Buffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &servertest.Buffer{}, &servertest.Buffer{}
	exited := make(chan struct{})
	var runErr error
	go func() { runErr = run(ctx, append([]string{"serve"}, args...), stdout, stderr); close(exited) }()
	// Startup takes well under a second; 60 s bounds it on a 2-core machine under -race with
	// other suites (and CPU burners) beside it, where 20 s once ran out.
	if _, err := servertest.AwaitStartup(stdout, exited, 60*time.Second); err != nil {
		if errors.Is(err, servertest.ErrExited) {
			err = fmt.Errorf("%w: %v", err, runErr) // runErr is set before exited closes
		}
		cancel()
		t.Fatalf("serve: %v; stderr %q", err, stderr)
	}
	return stdout, stderr, func() error {
		cancel()
		select {
		case <-exited:
			return runErr
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return nil
		}
	}
}

func TestServeLifecycle(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	for _, listenArg := range []string{"127.0.0.1:0", "unix:" + sock} {
		stdout, stderr, stop := startServe(t, "--listen", listenArg, "--budget", "4M", "--max-ttl", "24h")
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		require.Len(t, lines, 2)
		addr := strings.TrimPrefix(lines[0], "listening on ")
		assert.Equal(t, "capacity 4194304 bytes (4 MiB)", lines[1])

		tr := &http.Transport{}
		base := addr
		if p, ok := strings.CutPrefix(addr, "unix:"); ok {
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", p)
			}
			base = "http://sealdrop.test"
		}
		hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		res, err := hc.Get(base + "/api/v1/limits")
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, 200, res.StatusCode)
		assert.Contains(t, string(body), `"max_ttl":86400`)
		assert.Contains(t, string(body), `"max_entry":1572864`, "a note fits in the notes' 3/8 of the 4 MiB budget")
		assert.Empty(t, res.Header.Values("Date"))
		// A few requests, good and bad, print nothing.
		for _, p := range []string{"/", "/nope", "/api/v1/notes/x/open"} {
			res, err := hc.Get(base + p)
			require.NoError(t, err)
			res.Body.Close()
		}
		tr.CloseIdleConnections()

		require.NoError(t, stop())
		assert.Len(t, strings.Split(strings.TrimSpace(stdout.String()), "\n"), 2, "nothing printed after start")
		assert.Empty(t, stderr.String())
		if p, ok := strings.CutPrefix(addr, "unix:"); ok {
			_, err := os.Lstat(p)
			assert.True(t, os.IsNotExist(err), "socket removed at exit")
		}
	}
}

func TestServeErrors(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"serve", "--listen", "0.0.0.0:8080", "--budget", "1M"}, &out, &errb)
	assert.ErrorContains(t, err, "non-loopback")
	err = run(t.Context(), []string{"serve", "--listen", "127.0.0.1:0", "--socket-mode", "0666"}, &out, &errb)
	assert.ErrorContains(t, err, "socket-mode")
	err = run(t.Context(), []string{"nope"}, &out, &errb)
	assert.Error(t, err)
	assert.Empty(t, out.String())
	require.NoError(t, run(t.Context(), []string{"serve", "-h"}, &out, &errb))
	for _, f := range []string{"-listen", "-budget", "-max-entry", "-max-ttl", "-socket-mode"} {
		assert.Contains(t, errb.String(), f)
	}
}

// TestBenchRuns: every point is measured, a note of one request (1 KiB) and one of an upload
// and two committing appends (2 MiB: a pair fails unless its last answer says committed).
func TestBenchRuns(t *testing.T) {
	var out, errb bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"bench", "--duration", "300ms", "--sizes", "1K,2M", "--concurrency", "2", "--budget", "16M"}, &out, &errb))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3, out.String())
	assert.Equal(t, []string{"size", "concurrency", "sealdrop", "pairs/s", "null", "pairs/s", "ratio", "keepalive", "pairs/s", "ratio"}, strings.Fields(lines[0]))
	for i, want := range [][]string{{"1024", "B", "2"}, {"2", "MiB", "2"}} {
		f := strings.Fields(lines[1+i])
		require.Len(t, f, 8, lines[1+i])
		assert.Equal(t, want, f[:3])
		for _, v := range f[3:] {
			x, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, lines[1+i])
			assert.Positive(t, x, "every rate and ratio measured: %s", lines[1+i])
		}
	}
}

// serve --listen --circuit-ids reads tor's PROXY line and limits creates per circuit; a
// connection without the line (a torrc without HiddenServiceExportCircuitID) gets a 400 that
// names the missing line, and nothing more.
func TestServeListenCircuitIDs(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	stdout, stderr, stop := startServe(t, "--listen", "unix:"+sock, "--circuit-ids", "--budget", "4M")
	client := func(header string) *http.Client {
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "unix", sock)
			if err == nil && header != "" {
				_, err = io.WriteString(c, header)
			}
			return c, err
		}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	res, err := client("").Get("http://sealdrop.test/")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Contains(t, string(body), `add "HiddenServiceExportCircuitID haproxy"`)

	hc := client("PROXY TCP6 fc00:dead:beef:4dad::1:2 ::1 2 80\r\n")
	statuses := map[int]int{}
	for range 12 {
		h := func() string {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			return base64.RawURLEncoding.EncodeToString(b)
		}
		body := `{"length":64,"gate_hash":"` + h() + `","manage_hash":"` + h() + `","destruct_hash":"` + h() + `"}`
		req, err := http.NewRequest(http.MethodPost, "http://sealdrop.test/api/v1/notes", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		statuses[res.StatusCode]++
		if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusTooManyRequests {
			t.Logf("%d %s", res.StatusCode, b)
		}
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 10, http.StatusTooManyRequests: 2}, statuses, "one circuit: 10 creates, then 429")

	require.NoError(t, stop())
	assert.Len(t, strings.Split(strings.TrimSpace(stdout.String()), "\n"), 2, "nothing printed after start")
	assert.Empty(t, stderr.String())
}

// TestServeHostAllowList: on a TCP port, serve answers its own address, localhost and the
// --host names, and refuses every other Host with 421 (a DNS rebinding page's name); on a unix
// socket it answers any name unless --host names some, and then only those. --host refuses
// what is not a name.
func TestServeHostAllowList(t *testing.T) {
	status := func(hc *http.Client, url, host string) int {
		req, err := http.NewRequest(http.MethodGet, url+"/api/v1/limits", nil)
		require.NoError(t, err)
		req.Host = host
		res, err := hc.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	stdout, _, stop := startServe(t, "--listen", "127.0.0.1:0", "--budget", "4M", "--host", "front.example", "--host", "x.onion")
	addr := strings.TrimPrefix(strings.Split(stdout.String(), "\n")[0], "listening on ")
	hc := &http.Client{Timeout: 10 * time.Second}
	_, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(addr, "http://"), "/"))
	for host, want := range map[string]int{"127.0.0.1:" + port: 200, "localhost:" + port: 200, "front.example": 200,
		"X.onion": 200, "rebound.example:" + port: 421, "127.0.0.2:" + port: 421} {
		assert.Equal(t, want, status(hc, strings.TrimSuffix(addr, "/"), host), host)
	}
	require.NoError(t, stop())

	dir := t.TempDir()
	for _, tc := range []struct {
		args  []string
		hosts map[string]int
	}{
		{nil, map[string]int{"sealdrop.test": 200, "anything.example": 200}},
		{[]string{"--host", "abc.onion"}, map[string]int{"abc.onion": 200, "sealdrop.test": 421}},
	} {
		sock := filepath.Join(dir, fmt.Sprintf("h%d.sock", len(tc.args)))
		_, _, stop := startServe(t, append([]string{"--listen", "unix:" + sock, "--budget", "4M"}, tc.args...)...)
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}
		hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		for host, want := range tc.hosts {
			assert.Equal(t, want, status(hc, "http://sealdrop.test", host), "%v %s", tc.args, host)
		}
		tr.CloseIdleConnections()
		require.NoError(t, stop())
	}

	for _, bad := range []string{"", "http://x.onion", "x.onion/path", "a b"} {
		err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--host", bad}, io.Discard, io.Discard)
		require.Error(t, err, bad)
	}
}
