package onion

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/circuit"
	"github.com/sealdrop/sealdrop/internal/servertest"
)

// circuitBackend serves HTTP on a fresh unix socket behind tor's PROXY line: it reads the line
// of each connection with circuit.ParseHeader, keeps the ids it saw (a test may; the server
// never does), and answers one request per connection. A connection without a valid line is
// counted in bad.
type circuitBackend struct {
	sock string
	mu   sync.Mutex
	ids  []uint32
	bad  int
}

func newCircuitBackend(t *testing.T) *circuitBackend {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b := &circuitBackend{sock: filepath.Join(dir, "http.sock")}
	l, err := net.Listen("unix", b.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

func (b *circuitBackend) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadSlice('\n')
	id, perr := circuit.ParseHeader(line)
	b.mu.Lock()
	if err != nil || perr != nil {
		b.bad++
		b.mu.Unlock()
		return
	}
	b.ids = append(b.ids, id)
	b.mu.Unlock()
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	req.Body.Close()
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
}

func (b *circuitBackend) seen() ([]uint32, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]uint32(nil), b.ids...), b.bad
}

// getAs GETs http://addr/ through socks with SOCKS credentials user: tor isolates streams by
// them (IsolateSOCKSAuth), so another user gets another circuit.
func getAs(t *testing.T, socks, user, addr string) {
	t.Helper()
	proxy := &url.URL{Scheme: "socks5", Host: socks, User: url.UserPassword(user, "x")}
	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy), DisableKeepAlives: true}, Timeout: 30 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for {
		res, err := hc.Get("http://" + addr + "/")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK && string(body) == "ok" {
				return
			}
			err = &url.Error{Op: "GET", URL: addr, Err: io.ErrUnexpectedEOF}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s as %s: %v", addr, user, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// rendCircuits returns tor's service-side rendezvous circuits for id: global circuit id ->
// its circuit-status line.
func rendCircuits(t *testing.T, s *Service) map[uint32]string {
	t.Helper()
	status := getInfo(t, s, "circuit-status")
	out := map[uint32]string{}
	for _, l := range strings.Split(status, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.Contains(l, "PURPOSE=HS_SERVICE_REND") || !strings.Contains(l, "REND_QUERY="+s.ServiceID()) {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 32)
		if err == nil {
			out[uint32(n)] = l
		}
	}
	return out
}

// Managed mode with a key file publishes through a torrc HiddenServiceDir with circuit ids:
// the address tor publishes is the key file's, every connection begins with tor's PROXY line,
// its id is the global id of the rendezvous circuit tor lists for this service, streams of
// one circuit carry one id and another circuit (another SOCKS identity) another.
func TestManagedCircuitIDs(t *testing.T) {
	n := tn.Get(t)
	out := &servertest.Buffer{}
	defer func() {
		if t.Failed() {
			t.Logf("tor output:\n%s", out.String())
		}
	}()
	b := newCircuitBackend(t)
	keyFile := filepath.Join(t.TempDir(), "onion.key")
	cfg := managedConfig(t, n, t.TempDir(), keyFile, b.sock, out)
	cfg.CircuitIDs = true
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want, err := AddressFromKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if s.Address() != want {
		t.Fatalf("Address %q, key file says %q", s.Address(), want)
	}
	host, err := os.ReadFile(filepath.Join(cfg.DataDir, serviceDirName, hostnameName))
	if err != nil || strings.TrimSpace(string(host)) != want {
		t.Fatalf("tor's hostname file: %q, %v; want %s", host, err, want)
	}

	socks := freshClient(t, n)
	getAs(t, socks, "alice", s.Address()) // reachable at the key file's address: tor published it
	getAs(t, socks, "alice", s.Address())
	getAs(t, socks, "bob", s.Address())
	ids, bad := b.seen()
	if bad != 0 {
		t.Fatalf("%d connections without tor's header", bad)
	}
	if len(ids) < 3 {
		t.Fatalf("ids %v", ids)
	}
	// The last three connections were alice, alice, bob (earlier tries, if any, came first).
	alice1, alice2, bob := ids[len(ids)-3], ids[len(ids)-2], ids[len(ids)-1]
	if alice1 != alice2 {
		t.Errorf("two streams of one circuit carried ids %d and %d", alice1, alice2)
	}
	if alice1 == bob {
		t.Errorf("two SOCKS identities (two circuits) carried one id %d", bob)
	}
	rend := rendCircuits(t, s)
	for _, id := range []uint32{alice1, bob} {
		if _, ok := rend[id]; !ok {
			t.Errorf("id %d is none of tor's rendezvous circuits for this service: %v", id, rend)
		}
	}

	// tor runs the service as the torrc says.
	kvs, err := s.conn.GetConf("HiddenServiceOptions")
	if err != nil {
		t.Fatal(err)
	}
	hs := map[string]string{}
	for _, kv := range kvs {
		hs[kv.Key] = kv.Val
	}
	for key, want := range map[string]string{
		"HiddenServiceExportCircuitID":        "haproxy",
		"HiddenServicePoWDefensesEnabled":     "1",
		"HiddenServiceEnableIntroDoSDefense":  "1",
		"HiddenServiceMaxStreams":             "32",
		"HiddenServiceMaxStreamsCloseCircuit": "1",
	} {
		if got := hs[key]; got != want {
			t.Errorf("%s = %q, want %q (%v)", key, got, want, hs)
		}
	}
	// No bine leftovers, though enabling tor's network made tor write its port file again.
	entries, err := os.ReadDir(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "control-port-") {
			t.Errorf("bine leftover in DataDir: %s", e.Name())
		}
	}
	dir := filepath.Join(cfg.DataDir, serviceDirName)
	if fi, err := os.Stat(filepath.Join(dir, secretKeyName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tor's key file: %v, %v", fi, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("tor's copy of the key outlived Close: %v", err)
	}
}
