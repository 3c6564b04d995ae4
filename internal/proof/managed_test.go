//go:build linux

package proof

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/servertest"
)

// TestManagedModeNoDiskOneListener (T6, T5, managed mode): sealdrop starts its own tor on the
// private Tor network (in the test binary's loopback-only namespace) and publishes its onion service;
// under strace -f (sealdrop and its tor), the full flow creates or writes no file except the
// onion key on first start, the unix socket and tor's DataDirectory; stdout holds exactly the
// two startup lines and stderr nothing; sealdrop listens on no TCP port (only tor listens, on
// loopback, for its control port); SIGTERM exits 0. tor's copy of the key (in its
// DataDirectory, which managed mode publishes from) is gone after the exit; the HTTP socket
// speaks only after tor's PROXY line with the circuit id.
func TestManagedModeNoDiskOneListener(t *testing.T) {
	n := tn.Get(t) // fails or skips unless offline (SEALDROP_REQUIRE_OFFLINE_TESTS)
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is required for this proof (apt-get install strace)")
	}
	dir, err := os.MkdirTemp("", "sdm") // short: unix socket paths are limited to ~108 bytes
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	torrc := filepath.Join(t.TempDir(), "torrc")
	require.NoError(t, os.WriteFile(torrc, []byte(strings.Join(n.TorrcLines(), "\n")+"\n"), 0o600))
	key, data, sock := filepath.Join(dir, "onion.key"), filepath.Join(dir, "tor"), filepath.Join(dir, "http.sock")
	trace := filepath.Join(t.TempDir(), "trace")
	bin, _ := binaries(t)
	cmd := exec.Command("strace", "-f", "-qq", "-y", "-s", "64", "-e", "signal=none", "-e", "trace="+traced+",execve", "-o", trace,
		bin, "serve", "--key-file", key, "--tor-data-dir", data, "--http-socket", sock, "--tor", n.TorPath(),
		"--testing-torrc", torrc, "--budget", "4M", "--publish-timeout", "3m")
	s := &server{t: t, dir: dir, sock: sock, stdout: &servertest.Buffer{}, stderr: &servertest.Buffer{}, waited: make(chan struct{}), cmd: cmd}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	go func() { s.err = cmd.Wait(); close(s.waited) }()
	t.Cleanup(func() {
		select {
		case <-s.waited:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-s.waited
		}
	})
	s.awaitStartup(4 * time.Minute)
	startup := s.stdout.String()
	require.Regexp(t, `^http://[a-z2-7]{56}\.onion/\ncapacity \d+ bytes`, startup)
	// Managed mode's tor sends each connection's circuit id first (HiddenServiceExportCircuitID
	// haproxy); this client, in tor's place, does the same, each connection on a circuit of its
	// own so that the per-circuit limit stays out of the flow.
	s.circuits = true
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", sock)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(c, s.proxyLine()); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}}
	// Requests name the onion address, as tor's clients do: the server answers no other host
	// in managed mode (web.Hosts).
	onionBase := strings.TrimSuffix(strings.SplitN(startup, "\n", 2)[0], "/")
	s.hc, s.base = &http.Client{Transport: tr, Timeout: time.Minute}, onionBase
	defer tr.CloseIdleConnections()

	fullFlow(t, s)

	// A connection that does not start with tor's line is refused, with a page saying why.
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: sealdrop.test\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	refused, _ := io.ReadAll(c)
	c.Close()
	assert.Contains(t, string(refused), "400 Bad Request")
	assert.Contains(t, string(refused), "HiddenServiceExportCircuitID haproxy")

	// T5: sealdrop's own sockets are unix sockets and its client connection to tor's control
	// port; the only TCP listener in the process tree is tor's, on loopback.
	pid := s.pid()
	for _, l := range inetSockets(t, pid, socketInodes(t, pid)) {
		f := strings.Fields(strings.SplitN(l, ": ", 2)[1])
		assert.NotEqual(t, "0A", f[3], "sealdrop itself listens on TCP: %s", l)
		assert.True(t, strings.HasPrefix(l, "tcp:") && strings.HasPrefix(f[2], "0100007F:"), "sealdrop's only inet socket is to tor's loopback control port: %s", l)
	}
	listeners := 0
	// Children are listed under the thread that started them: read every thread's list.
	var kids []string
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, tk := range tasks {
		b, _ := os.ReadFile(tk)
		kids = append(kids, strings.Fields(string(b))...)
	}
	for _, k := range kids {
		kp, _ := strconv.Atoi(k)
		for _, l := range inetSockets(t, kp, socketInodes(t, kp)) {
			f := strings.Fields(strings.SplitN(l, ": ", 2)[1])
			if f[3] == "0A" {
				assert.True(t, strings.HasPrefix(f[1], "0100007F:"), "tor listens only on loopback: %s", l)
				t.Logf("tor (pid %d) listens: %s", kp, l)
				listeners++
			}
		}
	}

	require.NotEmpty(t, kids, "control: tor runs as sealdrop's child")
	t.Logf("TCP listeners of tor: %d", listeners)
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	assert.Equal(t, 0, s.wait(), "exit code")
	assert.Equal(t, startup, s.stdout.String(), "nothing printed after the startup lines")
	assert.Empty(t, s.stderr.String(), "nothing on stderr")

	f, err := os.Open(trace)
	require.NoError(t, err)
	defer f.Close()
	allowed := func(p string) bool {
		return p == sock || p == key || p == data || strings.HasPrefix(p, data+"/")
	}
	problems, _, calls, err := checkTraceAllow(f, allowed, false)
	require.NoError(t, err)
	require.Greater(t, calls, 100)
	// Control: tor itself was traced, and wrote in its DataDirectory (the allowance was used).
	raw, err := os.ReadFile(trace)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `execve("`+n.TorPath()+`"`, "tor ran under the trace")
	assert.Regexp(t, `openat\([^\n]*"`+regexp.QuoteMeta(data)+`/[^"\n]*", [A-Z_|]*O_(WRONLY|RDWR)`, string(raw), "tor wrote in its DataDirectory")
	assert.Empty(t, problems, "file system activity outside the key, the socket and tor's DataDirectory")
	fi, err := os.Stat(key)
	require.NoError(t, err, "the onion key was created on first start")
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	_, err = os.Lstat(filepath.Join(data, "onion-service"))
	assert.True(t, os.IsNotExist(err), "tor's copy of the key is removed at exit: %v", err)
	t.Logf("%d traced calls checked (sealdrop and its tor)", calls)
}
