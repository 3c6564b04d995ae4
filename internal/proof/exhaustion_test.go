//go:build linux

package proof

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFullVault (T19): with the budget used up, create answers 507 and every stored note is
// intact and opens once.
func TestFullVault(t *testing.T) {
	s := start(t, startOpts{args: []string{"--budget", "4M"}}) // notes may use 3/8 of it: 1.5 MiB
	var notes []*note
	for {
		n := newNote(100<<10, false)
		a := s.create(n)
		if a.status == http.StatusInsufficientStorage {
			assert.Contains(t, string(a.body), `"error":"full"`)
			break
		}
		require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
		for off := 0; off < len(n.body); off += piece {
			a, err := s.appendData(n, off, n.body[off:min(off+piece, len(n.body))])
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, a.status)
		}
		require.Equal(t, http.StatusOK, s.postJSON("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": enc(n.manage)}).status)
		notes = append(notes, n)
		require.Less(t, len(notes), 20, "the notes' 1.5 MiB cannot hold 20 notes of 100 KiB")
	}
	require.GreaterOrEqual(t, len(notes), 8)
	for _, n := range notes {
		a := s.openNote(n, nil)
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, n.body, a.body, "nothing lost")
		require.Equal(t, http.StatusNoContent, s.confirm(n).status)
	}
	// The room is back once the wipes done off the request path have finished.
	s.gc()
	n := newNote(100<<10, false)
	a := s.create(n)
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
}

// TestOversizeNotRead (T19): an append declaring more than max_append is answered 413 while
// the client has sent only its headers, and the server closes the connection.
func TestOversizeNotRead(t *testing.T) {
	s := start(t, startOpts{args: []string{"--budget", "4M"}})
	n := newNote(1000, false)
	require.Equal(t, http.StatusCreated, s.create(n).status)
	for _, cl := range []int64{1<<20 + 1, 1 << 40} {
		c := s.dial()
		_, err := fmt.Fprintf(c, "POST /api/v1/notes/%s/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"+
			"Sealdrop-Manage: %s\r\nSealdrop-Offset: 0\r\nContent-Length: %d\r\n\r\n", n.id, enc(n.manage), cl)
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err, "the answer came without the body being sent")
		require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
		_, _ = io.Copy(io.Discard, res.Body)
		_, err = c.Read(make([]byte, 1))
		require.Error(t, err, "the server closed the connection")
		c.Close()
	}
	// A JSON body over its cap too.
	c := s.dial()
	_, err := fmt.Fprintf(c, "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 1<<30)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	c.Close()
}

// TestSlowlorisRealTimeout (T19): against the real binary and its real 30 s header timeout, a
// client trickling header bytes is cut off. (internal/web's TestSlowClientsCutOff covers
// headers, bodies and idle connections in seconds with shortened timeouts.)
func TestSlowlorisRealTimeout(t *testing.T) {
	slow(t)
	s := start(t, startOpts{args: []string{"--budget", "1M"}})
	c := s.dial()
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(2*time.Minute)))
	_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	require.NoError(t, err)
	begin := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				if _, err := io.WriteString(c, "X-A: b\r\n"); err != nil {
					return
				}
			}
		}
	}()
	_, _ = io.Copy(io.Discard, c)
	d := time.Since(begin)
	assert.Greater(t, d, 25*time.Second)
	assert.Less(t, d, 45*time.Second, "cut off near the 30 s header timeout")
	t.Logf("slowloris cut off after %v", d.Round(100*time.Millisecond))
}

// TestIdleConnectionsBounded (T19): 10,000 idle TCP connections leave the server's memory and
// goroutines bounded by its connection cap (web.MaxConns = 1024: the oldest idle ones are
// closed), and a real request still succeeds.
//
// Bound: each held connection costs about 20 KiB (goroutine stack, net/http's 4 KiB read and
// write buffers, conn state); 1024 of them are about 20 MiB. The test allows 48 MiB of growth
// over the idle server's RSS, and goroutines at most the cap plus 64.
func TestIdleConnectionsBounded(t *testing.T) {
	slow(t)
	const conns = 10000
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur < conns+500 {
		lim.Cur = min(lim.Max, conns+1000)
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	}
	if lim.Cur < conns+500 {
		t.Skipf("RLIMIT_NOFILE hard limit %d is below %d: raise it (ulimit -Hn) to run this proof", lim.Max, conns+500)
	}
	s := start(t, startOpts{tcp: true, args: []string{"--budget", "4M"}})
	pid := s.pid()
	s.gc()
	rss0 := procStatus(t, pid, "VmRSS")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range conns {
		c, err := net.Dial("tcp", s.addr)
		require.NoError(t, err)
		held = append(held, c)
	}
	time.Sleep(time.Second)
	peakRSS := procStatus(t, pid, "VmRSS")
	goroutines := s.gc()
	// A real note still goes through.
	n := newNote(50000, false)
	s.upload(n, piece)
	a := s.openNote(n, nil)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, n.body, a.body)
	rss := procStatus(t, pid, "VmRSS")
	open := 0
	for _, c := range held {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			open++
		}
	}
	t.Logf("idle server RSS %d kB; with %d idle connections: RSS %d kB (after the request %d kB), %d goroutines, %d connections still open",
		rss0, conns, peakRSS, rss, goroutines, open)
	assert.Less(t, max(peakRSS, rss)-rss0, int64(48<<10), "RSS growth in kB")
	assert.Less(t, goroutines, 1024+64, "goroutines")
	assert.LessOrEqual(t, open, 1024+16, "connections the server still holds")
}

// TestLowMemlockStart (T19): started unprivileged (no capability at all: as uid nobody when
// the test runs as root, as the test's own uid otherwise) under a small RLIMIT_MEMLOCK,
// sealdrop either derives a smaller budget and serves, or refuses to start with a clear
// message and exit code 1; it never panics.
func TestLowMemlockStart(t *testing.T) {
	slow(t)
	for _, tool := range []string{"setpriv", "prlimit"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s (util-linux) is required for this proof", tool)
		}
	}
	_, release := binaries(t)
	// nobody must be able to run the binary and make its socket.
	require.NoError(t, os.Chmod(filepath.Dir(release), 0o755))
	dir, err := os.MkdirTemp("", "sealdrop-memlock-")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	require.NoError(t, os.Chmod(dir, 0o777))
	run := func(memlock int64, extra ...string) (stdout, stderr string, code int, srv *server) {
		wrap := []string{"prlimit", "--memlock=" + strconv.FormatInt(memlock, 10), "--"}
		if os.Geteuid() == 0 {
			// An ordinary user's test is unprivileged already (and may not change its uid).
			wrap = append(wrap, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--")
		}
		s := start(t, startOpts{bin: release, wrap: wrap, args: extra, noReady: true})
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-s.waited:
				return s.stdout.String(), s.stderr.String(), s.cmd.ProcessState.ExitCode(), nil
			default:
			}
			if strings.Contains(s.stdout.String(), "capacity ") {
				return s.stdout.String(), s.stderr.String(), -1, s
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("neither started nor exited")
		return
	}
	sock := func(name string) string { return "unix:" + filepath.Join(dir, name) }

	// 2 MiB of memlock, no budget asked: it derives one (the limit minus a reserve) and serves.
	out, errOut, code, s := run(2<<20, "--listen", sock("a.sock"))
	require.NotNil(t, s, "did not start: code %d, stderr %q", code, errOut)
	m := strings.Fields(strings.SplitN(strings.SplitN(out, "capacity ", 2)[1], "\n", 2)[0])
	budget, err := strconv.ParseInt(m[0], 10, 64)
	require.NoError(t, err)
	assert.Greater(t, budget, int64(1<<20))
	assert.LessOrEqual(t, budget, int64(2<<20))
	s.sock = filepath.Join(dir, "a.sock")
	s.t = t
	pid := s.pid()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^CapEff:\s+0+$`, string(status), "the server holds no capability (so no CAP_IPC_LOCK)")
	assert.Greater(t, procStatus(t, pid, "VmLck"), int64(0))
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	assert.Equal(t, 0, s.wait())
	t.Logf("memlock 2 MiB, unprivileged: budget %d bytes", budget)

	// A budget over the limit, and a limit too small for any budget: a clear refusal.
	for _, c := range []struct {
		memlock int64
		args    []string
	}{{2 << 20, []string{"--budget", "64M"}}, {128 << 10, nil}} {
		_, errOut, code, s := run(c.memlock, append([]string{"--listen", sock("b.sock")}, c.args...)...)
		require.Nil(t, s, "started with memlock %d and %v", c.memlock, c.args)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "RLIMIT_MEMLOCK")
		assert.Contains(t, errOut, "raise the limit")
		assert.NotContains(t, errOut, "panic")
		assert.NotContains(t, errOut, "goroutine")
		t.Logf("memlock %d, %v: %s", c.memlock, c.args, strings.TrimSpace(errOut))
	}
}
