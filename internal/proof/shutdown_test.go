//go:build linux

package proof

import (
	"bytes"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memscan"
)

const (
	ptraceSeize      = 0x4206
	ptraceOTraceExit = 0x40
	ptraceEventExit  = 6
)

// scanAtExit sends sig to the server and, by tracing it with PTRACE_O_TRACEEXIT, stops it at
// the moment it exits, after its last instruction of its own and before the kernel frees its
// memory: the scan sees what a seizure at that instant would. It returns the canary hits at
// exit and the exit code.
func scanAtExit(t *testing.T, s *server, sig syscall.Signal, canaries [][]byte) (hits []int, code int) {
	t.Helper()
	pid := s.cmd.Process.Pid
	done := make(chan struct{})
	var ferr error
	go func() {
		defer close(done)
		// ptrace requests must come from the thread that attached.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if _, _, e := syscall.RawSyscall6(syscall.SYS_PTRACE, ptraceSeize, uintptr(pid), 0, ptraceOTraceExit, 0, 0); e != 0 {
			ferr = e
			return
		}
		if err := syscall.Kill(pid, sig); err != nil {
			ferr = err
			return
		}
		for {
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
				ferr = err
				return
			}
			switch {
			case ws.Exited():
				code = ws.ExitStatus()
				return
			case ws.Signaled():
				code = -int(ws.Signal())
				return
			case ws.Stopped() && ws.TrapCause() == ptraceEventExit:
				// The last needle is a control: text of the program, readable while the
				// process's memory still exists.
				var err error
				hits, _, _, err = memscan.TryScanPID(pid, append(canaries, []byte("capacity %d bytes (%s)")))
				if err != nil {
					ferr = err // reported once the process is reaped
				}
				if err := syscall.PtraceCont(pid, 0); err != nil {
					ferr = err
					return
				}
			case ws.Stopped():
				// A signal on its way to the tracee (SIGTERM, the runtime's SIGURG): pass it on.
				sg := ws.StopSignal()
				if sg == syscall.SIGTRAP {
					sg = 0
				}
				if err := syscall.PtraceCont(pid, int(sg)); err != nil {
					ferr = err
					return
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the traced server did not exit within 30s")
	}
	require.NoError(t, ferr)
	require.NotNil(t, hits, "the exit stop was never seen")
	close(s.waited) // reaped here, not by cmd.Wait
	require.GreaterOrEqual(t, hits[len(hits)-1], 1, "control: the memory was still readable at the exit stop")
	return hits[:len(hits)-1], code
}

// TestSignalsWipeAndExit0 (T17): SIGTERM and SIGINT wipe every note and exit 0; at the instant
// of exit none of a live note's canaries is left in the process's memory (a control scan
// just before the signal finds them all), and nothing is printed after the startup lines.
func TestSignalsWipeAndExit0(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			s := start(t, startOpts{args: []string{"--budget", "4M"}, noWait: true})
			n := newCanaryNote(2*cipherChunk, false)
			s.upload(n.note, piece)
			s.hc.CloseIdleConnections()
			before, _, _ := memscan.ScanPID(t, s.cmd.Process.Pid, n.canaries)
			for i, h := range before {
				require.GreaterOrEqual(t, h, 1, "control: canary %d in memory before the signal", i)
			}
			stdout := s.stdout.String()
			hits, code := scanAtExit(t, s, sig, n.canaries)
			assert.Equal(t, 0, code, "exit code after %v", sig)
			assert.Zero(t, memscan.Total(hits), "canaries at exit after %v: %v", sig, hits)
			assert.Equal(t, stdout, s.stdout.String(), "nothing printed on stdout after the startup lines")
			assert.Empty(t, s.stderr.String(), "nothing on stderr")
		})
	}
}

// TestPanicsSilent (T17): a handler panic is answered with the uniform 500 and the header
// contract, a recovered panic in a background goroutine changes nothing, nothing is printed,
// and stored notes still open correctly.
func TestPanicsSilent(t *testing.T) {
	s := start(t, startOpts{args: []string{"--budget", "4M"}})
	n := newNote(100000, true)
	s.upload(n, piece)
	stdout := s.stdout.String()
	// The routes are outside /api, so the answer is the uniform error page, byte for byte the
	// 404 page.
	notFound := s.mustDo(http.MethodGet, "/nope", "", nil, nil)
	require.Equal(t, http.StatusNotFound, notFound.status)
	for range 3 {
		a := s.postJSON("/__test/panic", map[string]any{})
		assert.Equal(t, http.StatusInternalServerError, a.status)
		assert.Equal(t, string(notFound.body), string(a.body))
		assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
		assert.Empty(t, a.header.Values("Date"))
		a = s.postJSON("/__test/gopanic", map[string]any{})
		assert.Equal(t, http.StatusNoContent, a.status)
	}
	raw := s.raw([]byte("POST /__test/panic HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"))
	assert.True(t, bytes.HasPrefix(raw, []byte("HTTP/1.1 500 ")), "%q", raw)
	assert.NotContains(t, string(raw), "zq7")
	assert.NotContains(t, string(raw), "goroutine")
	// The note is intact and opens once.
	wrong := rand32()
	a := s.openNote(n, &wrong)
	require.Equal(t, http.StatusForbidden, a.status)
	a = s.openNote(n, &n.open)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, n.body, a.body)
	require.Equal(t, http.StatusNoContent, s.confirm(n).status)
	// Alive, and silent.
	require.Equal(t, http.StatusOK, s.mustDo(http.MethodGet, "/api/v1/limits", "", nil, nil).status)
	assert.Equal(t, stdout, s.stdout.String(), "nothing printed on stdout after the startup lines")
	assert.Empty(t, s.stderr.String(), "nothing on stderr")
}

// TestDefaultBuildHasNoTestRoutes: the release build answers the prooftest routes like any
// unknown path, and its binary holds no trace of them; the prooftest build (control) does.
func TestDefaultBuildHasNoTestRoutes(t *testing.T) {
	prooftest, release := binaries(t)
	rel, err := os.ReadFile(release)
	require.NoError(t, err)
	pt, err := os.ReadFile(prooftest)
	require.NoError(t, err)
	for _, needle := range []string{"/__test/gc", "/__test/panic", "/__test/gopanic", "zq7handlerpanic"} {
		assert.True(t, bytes.Contains(pt, []byte(needle)), "control: the prooftest build has %q", needle)
		assert.False(t, bytes.Contains(rel, []byte(needle)), "the release build has %q", needle)
	}
	s := start(t, startOpts{bin: release, args: []string{"--budget", "1M"}})
	notFound := s.mustDo(http.MethodPost, "/nope", "application/json", []byte("{}"), nil)
	for _, p := range []string{"/__test/gc", "/__test/panic", "/__test/gopanic"} {
		a := s.mustDo(http.MethodPost, p, "application/json", []byte("{}"), nil)
		assert.Equal(t, notFound.status, a.status, p)
		assert.Equal(t, string(notFound.body), string(a.body), p)
	}
	assert.True(t, strings.HasPrefix(s.stdout.String(), "listening on unix:"))
}
