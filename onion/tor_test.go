package onion

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/testnet"
)

// One private network for this test binary, started by the first tor test.
var tn testnet.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	tn.Close()
	os.Exit(code)
}

// syncBuffer collects tor's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	proxy, _ := url.Parse("socks5://" + n.SocksAddr())
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
	out := &syncBuffer{}
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

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
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
	if body, _ := fetch(t, n, s2.Address()); body != "hello from the onion" {
		t.Fatalf("body after restart %q", body)
	}
	t.Logf("MEASURE restart: reachable %.1fs", time.Since(start).Seconds())
}
