package abuse_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/servertest"
)

// The suite runs the real binary, as released, over loopback TCP, and attacks it with what a
// stranger with a script can send. Every attack is bounded in count and time.

func TestMain(m *testing.M) {
	code := m.Run()
	servertest.RemoveBuilds()
	os.Exit(code)
}

// server is a running `sealdrop serve --listen 127.0.0.1:0`.
type server struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func start(t *testing.T, args ...string) *server {
	t.Helper()
	bin, err := servertest.Build("")
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	out := &servertest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	line, err := servertest.AwaitStartup(out, done, 30*time.Second)
	require.NoError(t, err, "output: %q", out)
	addr, ok := strings.CutPrefix(line, "listening on ")
	require.True(t, ok, "startup line %q", line)
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	t.Cleanup(tr.CloseIdleConnections)
	return &server{t: t, base: strings.TrimSuffix(addr, "/"), hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (s *server) post(path string, v any) answer {
	s.t.Helper()
	a, err := s.tryPost(path, v)
	require.NoError(s.t, err)
	return a
}

func (s *server) tryPost(path string, v any) (answer, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return answer{}, err
	}
	req, err := http.NewRequest(http.MethodPost, s.base+path, bytes.NewReader(b))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, body}, err
}

func (s *server) append(path string, manage []byte, off int64, body []byte) answer {
	s.t.Helper()
	a, err := s.tryAppend(path, manage, off, body)
	require.NoError(s.t, err)
	return a
}

// tryAppend is append that returns its error, for a goroutine other than the test's.
func (s *server) tryAppend(path string, manage []byte, off int64, body []byte) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, s.base+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Sealdrop-Manage", b64(manage))
	req.Header.Set("Sealdrop-Offset", fmt.Sprint(off))
	res, err := s.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, b}, nil
}

// limits is the server's /api/v1/limits.
type limits struct {
	MaxEntry int64 `json:"max_entry"`
	Free     int64 `json:"free"`
	Price    struct {
		Token     string         `json:"token"`
		ExpiresIn int64          `json:"expires_in"`
		Levels    map[string]int `json:"levels"`
	} `json:"price"`
	raw map[string]any
}

func (s *server) limits() limits {
	s.t.Helper()
	res, err := s.hc.Get(s.base + "/api/v1/limits")
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	var l limits
	require.NoError(s.t, json.Unmarshal(b, &l))
	require.NoError(s.t, json.Unmarshal(b, &l.raw))
	return l
}

// goClient is the Go client (notes, drops and chats) of this server.
func (s *server) goClient() *client.Client {
	c, err := client.New(s.base, s.hc)
	require.NoError(s.t, err)
	return c
}

var enc = base64.RawURLEncoding

func b64(b []byte) string { return enc.EncodeToString(b) }

func rand32() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func hash(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

// noteBody is a note create for length bytes kept ttl seconds, with fresh capabilities; it
// returns the body and the manage secret.
func noteBody(length int64, ttl int64) (map[string]any, []byte) {
	m := rand32()
	return map[string]any{"length": length, "ttl": ttl, "gate_hash": b64(hash(rand32())), "destruct_hash": b64(hash(rand32())),
		"manage_hash": b64(hash(m))}, m
}

// pay adds what a 402 answer asks to body, solving natively as an attacker would, and returns
// how many hashes that took.
func pay(t *testing.T, body map[string]any, a answer, r protocol.PriceRequest) uint64 {
	t.Helper()
	n, err := tryPay(body, a, r)
	require.NoError(t, err)
	return n
}

// tryPay is pay that returns its error, for a goroutine other than the test's.
func tryPay(body map[string]any, a answer, r protocol.PriceRequest) (uint64, error) {
	var p struct {
		Bits  int
		Token string
	}
	if err := json.Unmarshal(a.body, &p); err != nil {
		return 0, fmt.Errorf("a 402 answer %q: %w", a.body, err)
	}
	tok, err := enc.DecodeString(p.Token)
	if err != nil {
		return 0, err
	}
	nonce, err := protocol.SolvePrice(context.Background(), tok, r, p.Bits)
	if err != nil {
		return 0, err
	}
	body["price_token"], body["price_nonce"] = p.Token, b64(nonce[:])
	var n uint64
	for _, b := range nonce {
		n = n<<8 | uint64(b)
	}
	return n + 1, nil
}

// createPaid posts a create, paying when asked (once or twice, as the price may rise); it
// returns the final answer and the hashes spent.
func createPaid(t *testing.T, s *server, path string, body map[string]any, r protocol.PriceRequest) (answer, uint64) {
	t.Helper()
	a, spent, err := tryCreatePaid(s, path, body, r)
	require.NoError(t, err)
	return a, spent
}

// tryCreatePaid is createPaid that returns its error, for a goroutine other than the test's.
func tryCreatePaid(s *server, path string, body map[string]any, r protocol.PriceRequest) (answer, uint64, error) {
	var spent uint64
	for range 3 {
		a, err := s.tryPost(path, body)
		if err != nil || a.status != http.StatusPaymentRequired {
			return a, spent, err
		}
		n, err := tryPay(body, a, r)
		if err != nil {
			return a, spent, err
		}
		spent += n
	}
	a, err := s.tryPost(path, body)
	return a, spent, err
}
