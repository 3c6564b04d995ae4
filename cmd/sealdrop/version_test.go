package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/onion"
)

// fakeTor is a script that answers --version the way Debian's tor does (no real tor is started
// outside a loopback-only namespace; internal/e2e checks the real one).
func fakeTor(t *testing.T, out string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tor")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\nprintf '"+out+"'\n"), 0o755))
	return p
}

func TestVersion(t *testing.T) {
	saved := readBuildInfo
	t.Cleanup(func() { readBuildInfo = saved })
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/sealdrop/sealdrop", Version: "v0.0.0-20261207024500-0903e5a1b2c3+dirty"},
			Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"},
				{Key: "vcs.revision", Value: "0903e5a1b2c3d4e5f60718293a4b5c6d7e8f9012"}, {Key: "vcs.time", Value: "2026-12-07T02:45:00Z"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	tor := fakeTor(t, "Tor version 0.4.9.11.\\nThis build of Tor is covered by the GNU General Public License\\n")
	var out, errb bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"version", "--tor", tor}, &out, &errb))
	assert.Equal(t, "sealdrop v0.0.0-20261207024500-0903e5a1b2c3+dirty\n"+
		"revision 0903e5a1b2c3d4e5f60718293a4b5c6d7e8f9012 (committed 2026-12-07T02:45:00Z)\n"+
		"modified yes: built from a tree with uncommitted changes\n"+
		"go go1.26.8 linux/amd64\n"+
		"tor 0.4.9.11 ("+tor+")\n", out.String())
	assert.Empty(t, errb.String())

	// --version is the same command.
	var out2 bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"--version", "--tor", tor}, &out2, &errb))
	assert.Equal(t, out.String(), out2.String())

	// A build without VCS stamping says so, and a missing tor says how to get one.
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true
	}
	out.Reset()
	require.NoError(t, run(t.Context(), []string{"version", "--tor", filepath.Join(t.TempDir(), "no-tor")}, &out, &errb))
	assert.Contains(t, out.String(), "sealdrop (devel)\nrevision unknown (built without VCS information")
	assert.Contains(t, out.String(), "go go1.26.8 "+runtime.GOOS+"/"+runtime.GOARCH+"\n")
	assert.Contains(t, out.String(), "tor not found (")
	assert.Contains(t, out.String(), "apt-get install tor")

	// A tor that prints something else is reported as such, not as a version.
	out.Reset()
	require.NoError(t, run(t.Context(), []string{"version", "--tor", fakeTor(t, "hello\\n")}, &out, &errb))
	assert.Contains(t, out.String(), "printed no version line")

	assert.Error(t, run(t.Context(), []string{"version", "extra"}, &out, &errb))
}

// Managed mode's default HTTP socket is in a 0700 directory sealdrop makes in --tor-data-dir, so
// the README's command works for any user; it refuses a symlink or a path too long for a socket.
func TestManagedDefaultSocket(t *testing.T) {
	dir := shortDir(t)
	data := filepath.Join(dir, "tor-data")
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"serve", "--ephemeral", "--budget", "1M", "--tor-data-dir", data, "--tor", filepath.Join(dir, "no-tor")}, &out, &errb)
	require.ErrorIs(t, err, onion.ErrTorNotFound, "got as far as starting tor: the socket could be made")
	fi, err := os.Lstat(filepath.Join(data, managedSocketDir))
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	_, err = os.Lstat(filepath.Join(data, managedSocketDir, "http.sock"))
	assert.True(t, os.IsNotExist(err), "socket removed after the failed start: %v", err)
	assert.Empty(t, out.String())

	// A looser directory is tightened; a symlink is refused, not followed.
	require.NoError(t, os.Chmod(filepath.Join(data, managedSocketDir), 0o755))
	err = run(t.Context(), []string{"serve", "--ephemeral", "--budget", "1M", "--tor-data-dir", data, "--tor", filepath.Join(dir, "no-tor")}, &out, &errb)
	require.ErrorIs(t, err, onion.ErrTorNotFound)
	fi, err = os.Lstat(filepath.Join(data, managedSocketDir))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	other := filepath.Join(dir, "other")
	require.NoError(t, os.Mkdir(other, 0o700))
	data2 := filepath.Join(dir, "tor2")
	require.NoError(t, os.Mkdir(data2, 0o700))
	require.NoError(t, os.Symlink(other, filepath.Join(data2, managedSocketDir)))
	err = run(t.Context(), []string{"serve", "--ephemeral", "--budget", "1M", "--tor-data-dir", data2}, &out, &errb)
	assert.ErrorContains(t, err, "not a directory")

	long := filepath.Join(dir, strings.Repeat("d", 100))
	err = run(t.Context(), []string{"serve", "--ephemeral", "--budget", "1M", "--tor-data-dir", long}, &out, &errb)
	assert.ErrorContains(t, err, "longer than the 107")
	_, err = os.Lstat(long)
	assert.True(t, os.IsNotExist(err), "nothing made for a refused path")
	err = run(t.Context(), []string{"serve", "--ephemeral", "--budget", "1M", "--http-socket", "/" + strings.Repeat("s", 110)}, &out, &errb)
	assert.ErrorContains(t, err, "longer than the 107")
	assert.Empty(t, out.String())
}

func TestTorConfigFlag(t *testing.T) {
	dir := shortDir(t)
	bad := filepath.Join(dir, "bad.torrc")
	require.NoError(t, os.WriteFile(bad, []byte("UseBridges 1\nHiddenServiceSingleHopMode 1\n"), 0o600))
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"serve", "--ephemeral", "--budget", "1M", "--tor-data-dir", filepath.Join(dir, "tor"), "--tor-config", bad}, &out, &errb)
	assert.ErrorContains(t, err, "--tor-config")
	assert.ErrorContains(t, err, "bad.torrc:2")
	_, statErr := os.Lstat(filepath.Join(dir, "tor"))
	assert.True(t, os.IsNotExist(statErr), "a refused --tor-config stops the start before anything is made")

	err = run(t.Context(), []string{"serve", "--ephemeral", "--tor-control", "unix:/run/tor/control", "--tor-config", bad}, &out, &errb)
	assert.ErrorContains(t, err, "--tor-config does not apply with --tor-control")
	assert.Empty(t, out.String())
}

func TestProgressText(t *testing.T) {
	b := onion.Bootstrap{Percent: 45, Tag: "requesting_descriptors", Summary: "Asking for relay descriptors"}
	assert.Equal(t, "tor: connecting to the Tor network, 45% Asking for relay descriptors", progressText(b, 80))
	assert.Equal(t, "tor: connected; publishing the onion service", progressText(onion.Bootstrap{Percent: 100, Summary: "Done"}, 80))
	short := progressText(b, 30)
	assert.Equal(t, 29, len([]rune(short)), "never as wide as the terminal: it would wrap")
	assert.True(t, strings.HasSuffix(short, "…"))
	assert.NotContains(t, progressText(onion.Bootstrap{Percent: 5, Summary: "x\x1b[2Jy\r"}, 80), "\x1b", "tor's words cannot carry terminal controls")
	// Not a terminal: nothing at all.
	var buf bytes.Buffer
	p := newProgressLine(&buf)
	p.show(b)
	p.clear()
	assert.Empty(t, buf.String())
}
