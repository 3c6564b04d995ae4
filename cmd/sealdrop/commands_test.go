package main

import (
	"bufio"
	"bytes"
	"context"
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

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/deploy"
	"github.com/sealdrop/sealdrop/internal/servertest"
)

// shortDir is a temp dir with a short path: unix socket paths are limited to ~108 bytes and
// t.TempDir can exceed that.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sd")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestHelpListsEveryCommand(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		var out, errb bytes.Buffer
		require.NoError(t, run(t.Context(), []string{arg}, &out, &errb))
		for name := range commands {
			assert.Contains(t, out.String(), "\n  "+name+" ", "%s lists %s", arg, name)
		}
	}
	var out, errb bytes.Buffer
	assert.Error(t, run(t.Context(), nil, &out, &errb))
	assert.Contains(t, errb.String(), "Commands:")
}

// Every command's -h explains each of its flags.
func TestCommandHelp(t *testing.T) {
	want := map[string][]string{
		"serve": {"-listen", "-key-file", "-ephemeral", "-tor-data-dir", "-tor ", "-tor-control", "-tor-output",
			"-http-socket", "-socket-mode", "-admin-socket", "-budget", "-max-entry", "-max-ttl", "-publish-timeout",
			"-drop-ttl", "-featured-drops", "-tor-config", "-circuit-ids", "HiddenServiceExportCircuitID haproxy"},
		"version":       {"usage: sealdrop version", "-tor"},
		"keygen":        {"usage: sealdrop keygen FILE"},
		"address":       {"usage: sealdrop address FILE"},
		"status":        {"-admin-socket", deploy.AdminSocket},
		"wipe":          {"-admin-socket", "-exit"},
		"systemd-unit":  {"-mode", "-budget", "-binary", "-user", "-group", "-state-dir", "-key-file"},
		"bench":         {"-duration", "-sizes", "-concurrency", "-budget"},
		"inbox":         {"usage: sealdrop inbox list|fetch|reply|wipe", "--link FILE", "--socks", "--box FILE", "--out DIR", "sealdrop inbox list -h"},
		"verify-static": {"usage: sealdrop verify-static URL", "-socks"},
	}
	require.Len(t, want, len(commands), "every command has a row")
	for name, flags := range want {
		var out, errb bytes.Buffer
		require.NoError(t, run(t.Context(), []string{name, "-h"}, &out, &errb), name)
		assert.Empty(t, out.String(), name)
		assert.Contains(t, errb.String(), "usage: sealdrop "+name, name)
		for _, f := range flags {
			assert.Contains(t, errb.String(), f, "%s -h explains %s", name, f)
		}
	}
	// The test-build flags never appear in a normal build.
	var out, errb bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"serve", "-h"}, &out, &errb))
	assert.NotContains(t, errb.String(), "testing-")
}

func TestServeFlagValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:0", "--tor-control", "unix:/run/tor/control"}, "exclusive"},
		{[]string{"--ephemeral", "--key-file", "/tmp/k"}, "--ephemeral and --key-file are exclusive"},
		{[]string{"--listen", "127.0.0.1:0", "--key-file", "/tmp/k"}, "--key-file does not apply with --listen"},
		{[]string{"--listen", "127.0.0.1:0", "--ephemeral"}, "--ephemeral does not apply with --listen"},
		{[]string{"--listen", "127.0.0.1:0", "--http-socket", "/tmp/s"}, "--http-socket does not apply with --listen"},
		{[]string{"--listen", "127.0.0.1:0", "--tor-output"}, "--tor-output does not apply with --listen"},
		{[]string{"--tor-control", "unix:/run/tor/control", "--tor", "/usr/sbin/tor"}, "--tor does not apply with --tor-control"},
		{[]string{"--tor-control", "unix:/run/tor/control", "--tor-data-dir", "/tmp/d"}, "--tor-data-dir does not apply with --tor-control"},
		{[]string{"--listen", ""}, "--listen needs an address"},
		{[]string{"--circuit-ids"}, "managed mode with a key file reads circuit ids by itself"},
		{[]string{"--ephemeral", "--circuit-ids"}, "ADD_ONION, which sends no circuit ids"},
		{[]string{"--tor-control", "unix:/run/tor/control", "--circuit-ids"}, "ADD_ONION, which sends no circuit ids"},
		{[]string{"--listen", "127.0.0.1:8080", "--circuit-ids"}, "--circuit-ids needs --listen unix:PATH"},
		{[]string{"--http-socket", "rel/http.sock"}, "absolute"},
		{[]string{"--publish-timeout", "0s"}, "--publish-timeout must be positive"},
		{[]string{"--socket-mode", "0666"}, "--socket-mode"},
		{[]string{"--listen", "127.0.0.1:0", "--socket-mode", "0777"}, "--socket-mode"},
		{[]string{"--budget", "lots"}, "bad size"},
		{[]string{"--listen", "127.0.0.1:0", "stray"}, "unexpected argument"},
		{[]string{"--no-such-flag"}, "not defined"},
	} {
		var out, errb bytes.Buffer
		err := run(t.Context(), append([]string{"serve"}, tc.args...), &out, &errb)
		assert.ErrorContains(t, err, tc.want, "%v", tc.args)
		assert.Empty(t, out.String(), "%v prints nothing on stdout", tc.args)
	}
}

func TestServeModesAndSocketModes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		mode mode
		sock os.FileMode
	}{
		{nil, modeManaged, 0o600},
		{[]string{"--ephemeral"}, modeManaged, 0o600},
		{[]string{"--tor-control", "unix:/run/tor/control"}, modeAttach, 0o660},
		{[]string{"--listen", "unix:/run/sealdrop/http.sock"}, modeListen, 0o660},
		{[]string{"--listen", "unix:/x", "--socket-mode", "0600"}, modeListen, 0o600},
		{[]string{"--socket-mode", "0660"}, modeManaged, 0o660},
	} {
		fset, f := newServeFlags(&bytes.Buffer{})
		require.NoError(t, fset.Parse(tc.args))
		m, sock, err := f.check(setFlags(fset))
		require.NoError(t, err, "%v", tc.args)
		assert.Equal(t, tc.mode, m, "%v", tc.args)
		assert.Equal(t, tc.sock, sock, "%v", tc.args)
	}
	fset, f := newServeFlags(&bytes.Buffer{})
	require.NoError(t, fset.Parse(nil))
	assert.Equal(t, "/var/lib/sealdrop/onion.key", f.keyFile)
	assert.Equal(t, "/var/lib/sealdrop/tor", f.torDataDir)
	assert.Equal(t, "", f.adminSocket, "the admin socket is opt-in")
	// The HTTP socket's default depends on the mode: managed mode's is sealdrop's own, in a
	// directory in tor's data directory; attach mode's is where the system tor may reach it.
	m, _, err := f.check(setFlags(fset))
	require.NoError(t, err)
	assert.Equal(t, modeManaged, m)
	assert.Equal(t, "/var/lib/sealdrop/tor/sealdrop/http.sock", f.httpSocket)
	fset, f = newServeFlags(&bytes.Buffer{})
	require.NoError(t, fset.Parse([]string{"--tor-control", "unix:/run/tor/control"}))
	_, _, err = f.check(setFlags(fset))
	require.NoError(t, err)
	assert.Equal(t, "/run/sealdrop/http.sock", f.httpSocket)
}

// Failures while starting tor name the cause, print nothing on stdout and leave no socket.
func TestServeOnionStartErrors(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "http.sock")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--ephemeral", "--tor", "/nonexistent/tor", "--tor-data-dir", filepath.Join(dir, "tor"), "--http-socket", sock}, "apt-get install tor"},
		{[]string{"--ephemeral", "--tor-control", "unix:" + filepath.Join(dir, "no-control"), "--http-socket", sock}, "no tor control at"},
		{[]string{"--ephemeral", "--tor-control", "192.0.2.1:9051", "--http-socket", sock}, "loopback"},
		{[]string{"--ephemeral", "--http-socket", filepath.Join(dir, "missing", "http.sock")}, "--http-socket"},
	} {
		var out, errb bytes.Buffer
		err := run(t.Context(), append([]string{"serve", "--budget", "1M"}, tc.args...), &out, &errb)
		assert.ErrorContains(t, err, tc.want, "%v", tc.args)
		assert.Empty(t, out.String())
		_, statErr := os.Lstat(sock)
		assert.True(t, os.IsNotExist(statErr), "socket removed after a failed start: %v (%v)", tc.args, err)
	}
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"serve", "--ephemeral", "--budget", "1M", "--http-socket", filepath.Join(dir, "missing", "http.sock")}, &out, &errb)
	assert.ErrorContains(t, err, "create the socket's directory")
}

func TestKeygenAddressRoundTrip(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "onion.key")
	var out, errb bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"keygen", key}, &out, &errb))
	printed := strings.TrimSpace(out.String())
	assert.Regexp(t, `^http://[a-z2-7]{56}\.onion/$`, printed)
	fi, err := os.Stat(key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.EqualValues(t, 32, fi.Size())
	seed, err := os.ReadFile(key)
	require.NoError(t, err)

	out.Reset()
	require.NoError(t, run(t.Context(), []string{"address", key}, &out, &errb))
	assert.Equal(t, printed, strings.TrimSpace(out.String()))

	// A second keygen never replaces the key (that would lose the address).
	out.Reset()
	err = run(t.Context(), []string{"keygen", key}, &out, &errb)
	assert.ErrorContains(t, err, "already exists")
	again, _ := os.ReadFile(key)
	assert.Equal(t, seed, again)

	// Two keys, two addresses.
	out.Reset()
	require.NoError(t, run(t.Context(), []string{"keygen", filepath.Join(dir, "other.key")}, &out, &errb))
	assert.NotEqual(t, printed, strings.TrimSpace(out.String()))

	// A key others may read is refused, with the fix.
	require.NoError(t, os.Chmod(key, 0o644))
	err = run(t.Context(), []string{"address", key}, &out, &errb)
	assert.ErrorContains(t, err, "chmod 600")

	for _, args := range [][]string{{"keygen"}, {"address"}, {"keygen", "a", "b"}, {"address", filepath.Join(dir, "missing")}} {
		assert.Error(t, run(t.Context(), args, &out, &errb), "%v", args)
	}
}

// unixClient is an API client that reaches the server's unix socket.
func unixClient(t *testing.T, sock string) *client.Client {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := client.New("http://sealdrop.test", &http.Client{Transport: tr, Timeout: 30 * time.Second})
	require.NoError(t, err)
	return c
}

func TestStatusAndWipeThroughAdminSocket(t *testing.T) {
	dir := shortDir(t)
	sock, adm := filepath.Join(dir, "http.sock"), filepath.Join(dir, "admin.sock")
	stdout, stderr, stop := startServe(t, "--listen", "unix:"+sock, "--admin-socket", adm, "--budget", "4M")
	stopped := false
	defer func() {
		if !stopped {
			_ = stop()
		}
	}()
	fi, err := os.Lstat(adm)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "admin socket 0600")

	statusOut := func() string {
		var out, errb bytes.Buffer
		require.NoError(t, run(t.Context(), []string{"status", "--admin-socket", adm}, &out, &errb))
		return out.String()
	}
	empty := statusOut()
	assert.Contains(t, empty, "capacity:      4.0 MiB")
	assert.Contains(t, empty, "used:          0 B")
	assert.Contains(t, empty, "0 notes")
	assert.Contains(t, empty, "published by the system tor", "listen mode knows no onion address")

	c := unixClient(t, sock)
	ctx := t.Context()
	data := bytes.Repeat([]byte("sealdrop"), 4096)
	created, err := c.CreateNote(ctx, "kept until wiped", []client.File{{Name: "f.bin", Type: "application/octet-stream", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
	require.NoError(t, err)
	full := statusOut()
	assert.Contains(t, full, "1 note,")
	assert.NotContains(t, full, "used:          0 B")
	assert.NotContains(t, full, created.NoteURL[strings.Index(created.NoteURL, "/n/")+3:][:8], "status shows nothing about an entry")

	var out, errb bytes.Buffer
	require.NoError(t, run(ctx, []string{"wipe", "--admin-socket", adm}, &out, &errb))
	assert.Equal(t, "wiped\n", out.String())
	_, err = c.OpenNote(ctx, created.NoteURL, "")
	assert.ErrorIs(t, err, client.ErrGone, "a wiped note is gone")
	assert.Contains(t, statusOut(), "0 notes")

	// The server still works after a wipe without --exit.
	again, err := c.CreateNote(ctx, "after the wipe", nil, "", "", 0)
	require.NoError(t, err)
	n, err := c.OpenNote(ctx, again.NoteURL, "")
	require.NoError(t, err)
	assert.Equal(t, "after the wipe", n.Text)

	// wipe --exit: the server shuts down on its own with a nil error (exit 0).
	_, err = c.CreateNote(ctx, "wiped at exit", nil, "", "", 0)
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, run(ctx, []string{"wipe", "--exit", "--admin-socket", adm}, &out, &errb))
	assert.Contains(t, out.String(), "shutting down")
	stopped = true
	require.NoError(t, stop(), "wipe --exit ends serve without an error")
	assert.Len(t, strings.Split(strings.TrimSpace(stdout.String()), "\n"), 2, "nothing printed after start")
	assert.Empty(t, stderr.String())
	for _, p := range []string{adm, sock} {
		_, err := os.Lstat(p)
		assert.True(t, os.IsNotExist(err), "%s removed at exit", p)
	}

	// No server: a clear error, exit status 1 in main.
	err = run(ctx, []string{"status", "--admin-socket", adm}, &out, &errb)
	assert.ErrorContains(t, err, "not running")
	err = run(ctx, []string{"wipe", "--admin-socket", adm}, &out, &errb)
	assert.ErrorContains(t, err, "not running")
	assert.Error(t, run(ctx, []string{"status", "--admin-socket", "relative.sock"}, &out, &errb))
}

func TestMain(m *testing.M) {
	code := m.Run()
	servertest.RemoveBuilds()
	os.Exit(code)
}

// startProcess runs the built binary's serve and waits for its two startup lines; exited is
// closed when the process has ended.
func startProcess(t *testing.T, args ...string) (cmd *exec.Cmd, exited <-chan struct{}, stdout, stderr *servertest.Buffer) {
	t.Helper()
	bin, err := servertest.Build("")
	require.NoError(t, err)
	cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	stdout, stderr = &servertest.Buffer{}, &servertest.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	_, err = servertest.AwaitStartup(stdout, done, 20*time.Second)
	require.NoError(t, err, "stderr %q", stderr)
	return cmd, done, stdout, stderr
}

// waitExit waits for the process to end and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd, exited <-chan struct{}) int {
	t.Helper()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("sealdrop did not exit")
	}
	return cmd.ProcessState.ExitCode()
}

// SIGTERM, SIGINT and wipe --exit all wipe and exit 0, so that systemd's Restart=on-failure
// leaves a deliberately stopped server down; nothing is printed after the startup lines.
func TestProcessExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, how := range []string{"SIGTERM", "SIGINT", "wipe --exit"} {
		t.Run(how, func(t *testing.T) {
			dir := shortDir(t)
			sock, adm := filepath.Join(dir, "http.sock"), filepath.Join(dir, "admin.sock")
			cmd, exited, stdout, stderr := startProcess(t, "--listen", "unix:"+sock, "--admin-socket", adm, "--budget", "4M")
			c := unixClient(t, sock)
			_, err := c.CreateNote(t.Context(), "held at shutdown", nil, "", "", 0)
			require.NoError(t, err)
			switch how {
			case "SIGTERM":
				require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			case "SIGINT":
				require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
			default:
				var out, errb bytes.Buffer
				require.NoError(t, run(t.Context(), []string{"wipe", "--exit", "--admin-socket", adm}, &out, &errb))
			}
			assert.Equal(t, 0, waitExit(t, cmd, exited), "exit status; stderr %q", stderr.String())
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			assert.Len(t, lines, 2)
			assert.Equal(t, "listening on unix:"+sock, lines[0])
			assert.Empty(t, stderr.String())
			for _, p := range []string{adm, sock} {
				_, err := os.Lstat(p)
				assert.True(t, os.IsNotExist(err), "%s removed at exit", p)
			}
		})
	}
}

// A failed start exits 1 with one line on stderr.
func TestProcessExitsOneOnError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := servertest.Build("")
	require.NoError(t, err)
	cmd := exec.Command(bin, "serve", "--listen", "0.0.0.0:1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	require.Error(t, err)
	assert.Equal(t, 1, cmd.ProcessState.ExitCode())
	assert.Empty(t, out.String())
	assert.Equal(t, 1, strings.Count(errb.String(), "\n"))
	assert.Contains(t, errb.String(), "non-loopback")
}

// parseUnit reads a systemd unit: sections and Key=Value lines, comments skipped.
func parseUnit(t *testing.T, text string) map[string]map[string][]string {
	t.Helper()
	sections := map[string]map[string][]string{}
	var cur map[string][]string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			cur = map[string][]string{}
			sections[l[1:len(l)-1]] = cur
		default:
			k, v, ok := strings.Cut(l, "=")
			require.True(t, ok && cur != nil, "line %q is neither a section nor Key=Value", l)
			cur[k] = append(cur[k], v)
		}
	}
	return sections
}

func TestSystemdUnit(t *testing.T) {
	for _, tc := range []struct {
		args []string
		mode mode
	}{
		{nil, modeListen},
		{[]string{"--mode", "listen", "--budget", "1G", "--user", "drop"}, modeListen},
		{[]string{"--mode", "managed", "--budget", "64M", "--state-dir", "/var/lib/drop", "--key-file", "/var/lib/drop/k.key"}, modeManaged},
		{[]string{"--mode", "managed", "--binary", "/opt/sealdrop/bin/sealdrop"}, modeManaged},
	} {
		var out, errb bytes.Buffer
		require.NoError(t, run(t.Context(), append([]string{"systemd-unit"}, tc.args...), &out, &errb), "%v", tc.args)
		u := parseUnit(t, out.String())
		require.Contains(t, u, "Unit")
		require.Contains(t, u, "Service")
		require.Contains(t, u, "Install")
		svc := u["Service"]
		require.Len(t, svc["ExecStart"], 1)

		// The unit's command line is one this binary accepts, in the intended mode.
		words := strings.Fields(svc["ExecStart"][0])
		require.GreaterOrEqual(t, len(words), 2)
		assert.Equal(t, "serve", words[1])
		fset, f := newServeFlags(&bytes.Buffer{})
		require.NoError(t, fset.Parse(words[2:]), "ExecStart flags parse")
		m, _, err := f.check(setFlags(fset))
		require.NoError(t, err)
		assert.Equal(t, tc.mode, m)
		assert.Equal(t, deploy.AdminSocket, f.adminSocket)
		assert.Equal(t, strconv.FormatInt(deploy.MemlockLimit(int64(f.budget)), 10), svc["LimitMEMLOCK"][0])
		assert.Equal(t, []string{"0"}, svc["LimitCORE"])
		if m == modeManaged {
			keyIdx := strings.Index(svc["ExecStart"][0], "--key-file ")
			require.Positive(t, keyIdx)
			assert.Equal(t, deploy.HTTPSocket, f.httpSocket, "the managed unit puts the HTTP socket in its RuntimeDirectory")
		}
	}
	var out, errb bytes.Buffer
	assert.ErrorContains(t, run(t.Context(), []string{"systemd-unit", "--mode", "attach"}, &out, &errb), "mode")
	assert.Error(t, run(t.Context(), []string{"systemd-unit", "--mode", "managed", "--key-file", "/etc/k"}, &out, &errb))
	assert.Error(t, run(t.Context(), []string{"systemd-unit", "--budget", "1K"}, &out, &errb))
	assert.Empty(t, out.String())
}
