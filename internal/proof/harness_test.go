//go:build linux

package proof

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/netns"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/servertest"
	"github.com/sealdrop/sealdrop/internal/testnet"
)

// Environment switches.
const (
	envSlow = "SEALDROP_SLOW_TESTS" // "1": run the slow proofs (CI sets it)
	envSoak = "SEALDROP_SOAK"       // "1m" or "10m": run the soak for that long
	// envBin runs the proofs against another prooftest binary (e.g. one with a defect put
	// back, to see a proof fail).
	envBin = "SEALDROP_PROOF_BIN"
)

func slow(t *testing.T) {
	t.Helper()
	if os.Getenv(envSlow) != "1" {
		t.Skipf("slow proof: set %s=1 to run it (CI does)", envSlow)
	}
}

// tn is the private Tor network of the managed-mode proofs, started by the first that needs it.
var tn testnet.Shared

// TestMain runs the proofs in a loopback-only network namespace, removes the built binaries and
// stops the private network afterwards.
func TestMain(m *testing.M) {
	// The managed-mode proofs start tor: every proof runs in a loopback-only network namespace
	// (the others need only loopback too).
	netns.Enter()
	code := m.Run()
	tn.Close()
	servertest.RemoveBuilds()
	os.Exit(code)
}

// binaries builds sealdrop twice: with -tags prooftest (the test routes) and as released.
func binaries(t *testing.T) (prooftest, release string) {
	t.Helper()
	prooftest, err := servertest.Build("prooftest")
	require.NoError(t, err)
	release, err = servertest.Build("")
	require.NoError(t, err)
	if p := os.Getenv(envBin); p != "" {
		prooftest = p
	}
	return prooftest, release
}

// server is a running sealdrop process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string
	sock   string // unix socket path, or "" for TCP
	addr   string // TCP address, or ""
	stdout *servertest.Buffer
	stderr *servertest.Buffer
	hc     *http.Client
	base   string
	waited chan struct{}
	err    error
	// circuits: the socket expects tor's PROXY line first (managed mode); each connection
	// the harness opens sends one, on a circuit of its own.
	circuits bool
	circuit  atomic.Uint32
}

// proxyLine is tor's PROXY line for a new circuit (HiddenServiceExportCircuitID haproxy).
func (s *server) proxyLine() string {
	id := s.circuit.Add(1)
	return fmt.Sprintf("PROXY TCP6 fc00:dead:beef:4dad::%x:%x ::1 %d 80\r\n", id>>16, id&0xffff, id&0xffff)
}

type startOpts struct {
	bin     string   // default: the prooftest build
	tcp     bool     // --listen 127.0.0.1:0 instead of a unix socket
	args    []string // extra serve flags
	wrap    []string // a command to run the server under (strace, setpriv, prlimit)
	noReady bool     // do not wait for the startup lines (for starts that must fail)
	noWait  bool     // do not reap the process: the test waits for it itself (ptrace)
}

// start runs `sealdrop serve --listen ...` and waits for its startup lines.
func start(t *testing.T, o startOpts) *server {
	t.Helper()
	if o.bin == "" {
		o.bin, _ = binaries(t)
	}
	dir := t.TempDir()
	s := &server{t: t, dir: dir, stdout: &servertest.Buffer{}, stderr: &servertest.Buffer{}, waited: make(chan struct{})}
	listen := "127.0.0.1:0"
	if !o.tcp {
		s.sock = filepath.Join(dir, "http.sock")
		listen = "unix:" + s.sock
	}
	argv := append(append([]string{}, o.wrap...), o.bin, "serve", "--listen", listen)
	if o.tcp {
		// The raw requests of the proofs name the host "x": answer it (web.Hosts), so that
		// they reach the routes rather than the 421 of an unknown name.
		argv = append(argv, "--host", "x")
	}
	argv = append(argv, o.args...)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, s.cmd.Start())
	if !o.noWait {
		go func() { s.err = s.cmd.Wait(); close(s.waited) }()
	}
	t.Cleanup(func() {
		select {
		case <-s.waited:
		default:
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			if o.noWait {
				_, _ = s.cmd.Process.Wait()
			} else {
				<-s.waited
			}
		}
	})
	if o.noReady {
		return s
	}
	line := s.awaitStartup(30 * time.Second)
	tr := &http.Transport{MaxIdleConnsPerHost: 128, DisableCompression: true}
	if o.tcp {
		u, ok := strings.CutPrefix(line, "listening on http://")
		require.True(t, ok, "startup line %q", line)
		s.addr = u
		s.base = "http://" + u
	} else {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.sock)
		}
		s.base = "http://sealdrop.test"
	}
	s.hc = &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	return s
}

// awaitStartup waits for the startup lines and returns the first.
func (s *server) awaitStartup(timeout time.Duration) string {
	s.t.Helper()
	line, err := servertest.AwaitStartup(s.stdout, s.waited, timeout)
	if errors.Is(err, servertest.ErrExited) {
		err = fmt.Errorf("%w: %v", err, s.err) // s.err is set before s.waited closes
	}
	require.NoError(s.t, err, "stdout: %s\nstderr: %s", s.stdout, s.stderr)
	return line
}

// pid is the sealdrop process itself (not a wrapper such as strace).
func (s *server) pid() int {
	s.t.Helper()
	p := s.cmd.Process.Pid
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
	if strings.Contains(filepath.Base(exe), "sealdrop") {
		return p
	}
	// A wrapper: the server is its child (or grandchild).
	for range 3 {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p, p))
		f := strings.Fields(string(kids))
		require.NotEmpty(s.t, f, "wrapper %s has no child", exe)
		p, _ = strconv.Atoi(f[0])
		exe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
		if strings.Contains(filepath.Base(exe), "sealdrop") {
			return p
		}
	}
	s.t.Fatalf("no sealdrop process under %d", s.cmd.Process.Pid)
	return 0
}

// dial opens a raw connection to the server.
func (s *server) dial() net.Conn {
	s.t.Helper()
	var c net.Conn
	var err error
	if s.sock != "" {
		c, err = net.Dial("unix", s.sock)
	} else {
		c, err = net.Dial("tcp", s.addr)
	}
	require.NoError(s.t, err)
	if s.circuits {
		_, err = io.WriteString(c, s.proxyLine())
		require.NoError(s.t, err)
	}
	require.NoError(s.t, c.SetDeadline(time.Now().Add(time.Minute)))
	return c
}

// raw sends request bytes on a fresh connection, half-closes and returns the whole answer.
func (s *server) raw(req []byte) []byte {
	s.t.Helper()
	c := s.dial()
	defer c.Close()
	_, _ = c.Write(req)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	b, _ := io.ReadAll(c)
	return b
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (s *server) do(method, path, ctype string, body []byte, hdr map[string]string) (*answer, error) {
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &answer{res.StatusCode, res.Header, b}, nil
}

func (s *server) mustDo(method, path, ctype string, body []byte, hdr map[string]string) *answer {
	s.t.Helper()
	a, err := s.do(method, path, ctype, body, hdr)
	require.NoError(s.t, err)
	return a
}

func (s *server) postJSON(path string, v any) *answer {
	s.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(s.t, err)
	return s.mustDo(http.MethodPost, path, "application/json", b, nil)
}

// gc asks the prooftest build to settle wipes, collect garbage and return memory to the OS.
func (s *server) gc() int {
	s.t.Helper()
	a := s.postJSON("/__test/gc", map[string]any{})
	require.Equal(s.t, http.StatusOK, a.status, "%s", a.body)
	var m struct{ Goroutines int }
	require.NoError(s.t, json.Unmarshal(a.body, &m))
	return m.Goroutines
}

// signal sends sig and waits for the exit; it returns the exit code.
func (s *server) signal(sig syscall.Signal) int {
	s.t.Helper()
	require.NoError(s.t, s.cmd.Process.Signal(sig))
	return s.wait()
}

func (s *server) wait() int {
	s.t.Helper()
	select {
	case <-s.waited:
	case <-time.After(30 * time.Second):
		s.t.Fatal("sealdrop did not exit within 30s")
	}
	return s.cmd.ProcessState.ExitCode()
}

var b64 = base64.RawURLEncoding

func rand32() [32]byte {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return b
}

func hash(b [32]byte) [32]byte { return sha256.Sum256(b[:]) }
func enc(b [32]byte) string    { return b64.EncodeToString(b[:]) }
func hashEnc(b [32]byte) string {
	h := hash(b)
	return enc(h)
}

// note is a note made through the raw API with ciphertext chosen by the test: the server
// does not look inside it.
type note struct {
	id                                  string
	gate, manage, open, destruct, claim [32]byte
	pin                                 bool
	body                                []byte
	token                               string // the limits' price token an upload carries (withToken)
}

func newNote(size int, pin bool) *note {
	n := &note{gate: rand32(), manage: rand32(), open: rand32(), destruct: rand32(), claim: rand32(), pin: pin, body: make([]byte, size)}
	_, _ = rand.Read(n.body)
	return n
}

func (n *note) createReq() map[string]any {
	m := map[string]any{"length": len(n.body), "gate_hash": hashEnc(n.gate), "manage_hash": hashEnc(n.manage), "destruct_hash": hashEnc(n.destruct)}
	if n.pin {
		m["open_hash"] = hashEnc(n.open)
	}
	return m
}

// create declares the note, paying the price when the server asks one (402); it returns the
// status and sets n.id on success.
func (s *server) create(n *note) *answer {
	s.t.Helper()
	body := n.createReq()
	a := s.postJSON("/api/v1/notes", body)
	if a.status == http.StatusPaymentRequired {
		var p struct {
			Bits  int
			Token string
		}
		require.NoError(s.t, json.Unmarshal(a.body, &p))
		tok, err := base64.RawURLEncoding.DecodeString(p.Token)
		require.NoError(s.t, err)
		pr := protocol.PriceRequest{Kind: protocol.PriceNote, Manage: sha256.Sum256(n.manage[:]), Length: int64(len(n.body)), TTL: 7 * 24 * time.Hour}
		nonce, err := protocol.SolvePrice(s.t.Context(), tok, pr, p.Bits)
		require.NoError(s.t, err)
		body["price_token"], body["price_nonce"] = p.Token, b64.EncodeToString(nonce[:])
		a = s.postJSON("/api/v1/notes", body)
	}
	if a.status == http.StatusCreated {
		var m struct{ ID string }
		require.NoError(s.t, json.Unmarshal(a.body, &m))
		n.id = m.ID
	}
	return a
}

func (s *server) appendData(n *note, off int, b []byte) (*answer, error) {
	return s.do(http.MethodPost, "/api/v1/notes/"+n.id+"/data", "application/octet-stream", b,
		map[string]string{"Sealdrop-Manage": enc(n.manage), "Sealdrop-Offset": strconv.Itoa(off)})
}

// upload creates, appends in pieces of piece bytes and commits.
func (s *server) upload(n *note, piece int) {
	s.t.Helper()
	a := s.create(n)
	require.Equal(s.t, http.StatusCreated, a.status, "create: %s", a.body)
	for off := 0; off < len(n.body); off += piece {
		end := min(off+piece, len(n.body))
		a, err := s.appendData(n, off, n.body[off:end])
		require.NoError(s.t, err)
		require.Equal(s.t, http.StatusOK, a.status, "append: %s", a.body)
	}
	a = s.postJSON("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": enc(n.manage)})
	require.Equal(s.t, http.StatusOK, a.status, "commit: %s", a.body)
}

// uploadHeader is the header of n's one-request upload (POST /api/v1/notes/upload) of its
// whole body from off, at the server's default lifetime.
func (n *note) uploadHeader(off int) string {
	h := fmt.Sprintf("Sealdrop-Manage: %s\r\nSealdrop-Length: %d\r\nSealdrop-Offset: %d\r\nSealdrop-Gate-Hash: %s\r\nSealdrop-Destruct-Hash: %s\r\n",
		enc(n.manage), len(n.body), off, hashEnc(n.gate), hashEnc(n.destruct))
	if n.pin {
		h += "Sealdrop-Open-Hash: " + hashEnc(n.open) + "\r\n"
	}
	if n.token != "" {
		h += "Sealdrop-Price-Token: " + n.token + "\r\n"
	}
	return h
}

// withToken gives n the price token of the server's limits, which every upload carries
// (SECURITY.md, "One request per note"), unless it has one.
func (s *server) withToken(n *note) *note {
	s.t.Helper()
	if n.token == "" {
		a := s.mustDo(http.MethodGet, "/api/v1/limits", "", nil, nil)
		require.Equal(s.t, http.StatusOK, a.status, "limits: %s", a.body)
		var l struct{ Price struct{ Token string } }
		require.NoError(s.t, json.Unmarshal(a.body, &l))
		require.NotEmpty(s.t, l.Price.Token, "limits: %s", a.body)
		n.token = l.Price.Token
	}
	return n
}

// uploadOne sends n in one request (the create carries the ciphertext and commits it).
func (s *server) uploadOne(n *note) {
	s.t.Helper()
	a, err := s.do(http.MethodPost, "/api/v1/notes/upload", "application/octet-stream", n.body, headerMap(s.withToken(n).uploadHeader(0)))
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, a.status, "upload: %s", a.body)
	var m struct {
		ID        string
		Committed bool
	}
	require.NoError(s.t, json.Unmarshal(a.body, &m))
	require.True(s.t, m.Committed, "one request: %s", a.body)
	n.id = m.ID
}

// headerMap splits "Name: value\r\n" lines.
func headerMap(h string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(h), "\r\n") {
		k, v, _ := strings.Cut(l, ": ")
		m[k] = v
	}
	return m
}

func (n *note) openReq(typed *[32]byte) map[string]any {
	m := map[string]any{"gate": enc(n.gate), "claim": hashEnc(n.claim)}
	if n.pin {
		t := rand32()
		if typed != nil {
			t = *typed
		}
		m["open"], m["destruct"] = enc(t), enc(t)
	}
	return m
}

func (s *server) openNote(n *note, typed *[32]byte) *answer {
	s.t.Helper()
	return s.postJSON("/api/v1/notes/"+n.id+"/open", n.openReq(typed))
}

func (s *server) confirm(n *note) *answer {
	s.t.Helper()
	return s.postJSON("/api/v1/notes/"+n.id+"/confirm", map[string]any{"gate": enc(n.gate), "nonce": enc(n.claim)})
}

func (s *server) revoke(n *note) *answer {
	s.t.Helper()
	return s.postJSON("/api/v1/notes/"+n.id+"/revoke", map[string]any{"manage": enc(n.manage)})
}

// procStatus returns a field of /proc/PID/status in kB (VmRSS, VmLck, Threads...).
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
