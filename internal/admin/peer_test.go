//go:build linux

package admin_test

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/admin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	childSocketEnv = "SEALDROP_ADMIN_CHILD_SOCKET"
	nobody         = "65534"
)

// A real connection from another uid is refused, both by the socket's mode (0600: connect
// fails) and, when the socket is made reachable by mistake, by the SO_PEERCRED check, and
// neither can wipe. The test re-runs its own binary as nobody with setpriv; it needs root.
func TestOtherUIDRefused(t *testing.T) {
	if os.Getenv(childSocketEnv) != "" {
		t.Skip("parent only")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another uid (setpriv --reuid); the rule itself is covered by TestPeerAllowed")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux) to run a client as another uid; the rule itself is covered by TestPeerAllowed")
	}
	// A directory nobody can enter, holding a copy of this test binary and the socket.
	dir, err := os.MkdirTemp("", "sealdrop-admin-peer-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "admin.test")
	copyFile(t, os.Args[0], bin, 0o755)

	f := newFake()
	p := filepath.Join(dir, "admin.sock")
	serve(t, f, p)

	child := func(t *testing.T) string {
		t.Helper()
		cmd := exec.Command(setpriv, "--reuid="+nobody, "--regid="+nobody, "--clear-groups", "--",
			bin, "-test.run=^TestOtherUIDChild$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), childSocketEnv+"="+p)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child failed:\n%s", out)
		require.Contains(t, string(out), "--- PASS: TestOtherUIDChild", "%s", out)
		return string(out)
	}

	t.Run("socket mode", func(t *testing.T) {
		out := child(t)
		assert.Contains(t, out, "refused at connect", "0600 should stop the connection itself")
	})
	t.Run("peer credentials", func(t *testing.T) {
		// Simulate a misconfiguration: anyone may connect. The server must still refuse.
		require.NoError(t, os.Chmod(p, 0o666))
		defer os.Chmod(p, 0o600)
		out := child(t)
		assert.Contains(t, out, "refused by the server", "the connection should reach the SO_PEERCRED check")
	})
	assert.Zero(t, f.wipes.Load(), "another uid wiped the vault")
	select {
	case <-f.exits:
		t.Fatal("another uid made the server exit")
	case <-time.After(50 * time.Millisecond):
	}
	// The owner still can.
	_, err = admin.GetStatus(t.Context(), p)
	require.NoError(t, err)
}

// TestOtherUIDChild runs as nobody: every operation must fail with ErrPermission.
func TestOtherUIDChild(t *testing.T) {
	p := os.Getenv(childSocketEnv)
	if p == "" {
		t.Skip("run by TestOtherUIDRefused")
	}
	require.Equal(t, 65534, os.Getuid())
	_, err := admin.GetStatus(t.Context(), p)
	require.ErrorIs(t, err, admin.ErrPermission)
	require.Contains(t, err.Error(), "permission denied: run as the sealdrop user or root")
	// Which layer refused: the kernel at connect (the error names the path) or the server.
	if strings.Contains(err.Error(), p) {
		t.Log("refused at connect")
	} else {
		t.Log("refused by the server")
	}
	for _, exit := range []bool{false, true} {
		err := admin.Wipe(t.Context(), p, exit)
		require.True(t, errors.Is(err, admin.ErrPermission), "wipe(exit=%v): %v", exit, err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}
