//go:build linux

package proof

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// socketInodes returns the inodes of every socket process pid holds.
func socketInodes(t *testing.T, pid int) map[string]bool {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	out := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(l, "socket:["); ok {
			out[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return out
}

// inetSockets returns, for the process's network namespace, the lines of its TCP and UDP
// tables (IPv4 and IPv6) whose inode is in inodes.
func inetSockets(t *testing.T, pid int, inodes map[string]bool) []string {
	t.Helper()
	var found []string
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6", "raw", "raw6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) >= 10 && inodes[f[9]] {
				found = append(found, table+": "+line)
			}
		}
	}
	return found
}

// TestListenerPosture (T5): with --listen unix:, the process holds no TCP, UDP or raw socket
// at all, only unix sockets; the control, a --listen 127.0.0.1:0 server, is found listening
// in the TCP table by the same method.
func TestListenerPosture(t *testing.T) {
	_, release := binaries(t)
	s := start(t, startOpts{bin: release, args: []string{"--budget", "1M"}})
	// Exercise it first, so that any socket made lazily exists.
	require.Equal(t, 200, s.mustDo("GET", "/api/v1/limits", "", nil, nil).status)
	pid := s.pid()
	inodes := socketInodes(t, pid)
	require.NotEmpty(t, inodes, "the unix listener is a socket")
	assert.Empty(t, inetSockets(t, pid, inodes), "sockets other than unix ones")
	unix, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/unix", pid))
	require.NoError(t, err)
	var listening bool
	for _, line := range strings.Split(string(unix), "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 && inodes[f[6]] && f[len(f)-1] == s.sock {
			listening = true
		}
	}
	assert.True(t, listening, "the unix socket %s is the process's listener", s.sock)

	ctl := start(t, startOpts{bin: release, tcp: true, args: []string{"--budget", "1M"}})
	cpid := ctl.pid()
	found := inetSockets(t, cpid, socketInodes(t, cpid))
	require.NotEmpty(t, found, "control: a TCP listener is seen")
	var listen bool
	for _, l := range found {
		f := strings.Fields(strings.SplitN(l, ": ", 2)[1])
		listen = listen || (strings.HasPrefix(l, "tcp:") && f[3] == "0A" && strings.HasPrefix(f[1], "0100007F:"))
	}
	assert.True(t, listen, "control: listening on 127.0.0.1 only: %v", found)
}
