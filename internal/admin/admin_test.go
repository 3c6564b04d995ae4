package admin_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/admin"
	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake is a server wired to counters.
type fake struct {
	status atomic.Pointer[admin.Status]
	wipes  atomic.Int32
	exits  chan struct{}
}

func newFake() *fake {
	f := &fake{exits: make(chan struct{}, 4)}
	f.status.Store(&admin.Status{})
	return f
}

func (f *fake) config() admin.Config {
	return admin.Config{
		Status: func() admin.Status { return *f.status.Load() },
		Wipe:   func() { f.wipes.Add(1) },
		Exit:   func() { f.exits <- struct{}{} },
	}
}

// serve starts a server for f on path and stops it when the test ends.
func serve(t *testing.T, f *fake, path string) {
	t.Helper()
	ln, err := admin.Listen(path)
	require.NoError(t, err)
	srv, err := admin.New(f.config())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
}

func sockPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "admin.sock")
}

func TestStatusOverSocket(t *testing.T) {
	f := newFake()
	want := admin.Status{
		Budget: 256 << 20, Used: 3 << 20, Free: 253 << 20,
		Notes: 7, ChatFrames: 2, Submissions: 1, RoomFrames: 9,
		Uptime: 2*time.Hour + 3*time.Minute + 45*time.Second + 12*time.Millisecond,
		Onion:  "sealdropexampleaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion",
	}
	f.status.Store(&want)
	p := sockPath(t)
	serve(t, f, p)

	got, err := admin.GetStatus(t.Context(), p)
	require.NoError(t, err)
	want.Uptime = 2*time.Hour + 3*time.Minute // the wire carries whole minutes only
	assert.Equal(t, want, got)

	// Numbers change between calls: they are read live, not cached.
	next := want
	next.Used, next.Free, next.Notes = 0, 256<<20, 0
	f.status.Store(&next)
	got, err = admin.GetStatus(t.Context(), p)
	require.NoError(t, err)
	assert.Equal(t, next, got)
	assert.Zero(t, f.wipes.Load(), "status must not wipe")
}

// Status is capacity only; a new field must be reviewed (and added here) on purpose.
func TestStatusHasNoPerEntryFields(t *testing.T) {
	var names []string
	typ := reflect.TypeFor[admin.Status]()
	for i := range typ.NumField() {
		names = append(names, typ.Field(i).Name)
	}
	assert.Equal(t, []string{"Budget", "Used", "Free", "Notes", "ChatFrames", "Submissions", "RoomFrames", "Uptime", "Onion"}, names)
}

func TestWipe(t *testing.T) {
	f := newFake()
	p := sockPath(t)
	serve(t, f, p)

	require.NoError(t, admin.Wipe(t.Context(), p, false))
	assert.EqualValues(t, 1, f.wipes.Load())
	select {
	case <-f.exits:
		t.Fatal("wipe without --exit called Exit")
	case <-time.After(100 * time.Millisecond):
	}

	require.NoError(t, admin.Wipe(t.Context(), p, true))
	assert.EqualValues(t, 2, f.wipes.Load())
	select {
	case <-f.exits:
	case <-time.After(10 * time.Second):
		t.Fatal("wipe --exit did not call Exit")
	}
}

// A wipe needs POST: nothing that merely reads (GET, HEAD) can trigger it.
func TestWipeNeedsPost(t *testing.T) {
	f := newFake()
	p := sockPath(t)
	serve(t, f, p)
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", p)
	}}}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete} {
		req, err := http.NewRequestWithContext(t.Context(), m, "http://admin/v1/wipe?exit=1", nil)
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, m)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://admin/v1/wipe?exit=yes", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Zero(t, f.wipes.Load())
	assert.Empty(t, f.exits)
}

func TestSocketMode(t *testing.T) {
	// Even with a permissive umask the socket is never more than 0600.
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	p := sockPath(t)
	ln, err := admin.Listen(p)
	require.NoError(t, err)
	fi, err := os.Lstat(p)
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	// Nothing else is left in the directory (the private bind directory is gone).
	ents, err := os.ReadDir(filepath.Dir(p))
	require.NoError(t, err)
	require.Len(t, ents, 1)

	require.NoError(t, ln.Close())
	_, err = os.Lstat(p)
	require.ErrorIs(t, err, os.ErrNotExist, "Close removes the socket")
}

func TestStaleSocketReplaced(t *testing.T) {
	p := sockPath(t)
	// A socket left behind by a crash: bound, never unlinked, nobody listening.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	require.NoError(t, err)
	old.SetUnlinkOnClose(false)
	require.NoError(t, old.Close())
	_, err = admin.GetStatus(t.Context(), p)
	require.ErrorIs(t, err, admin.ErrNotRunning)

	f := newFake()
	f.status.Store(&admin.Status{Notes: 3})
	serve(t, f, p)
	st, err := admin.GetStatus(t.Context(), p)
	require.NoError(t, err)
	assert.Equal(t, 3, st.Notes)
}

func TestLiveSocketRefused(t *testing.T) {
	f := newFake()
	p := sockPath(t)
	serve(t, f, p)
	_, err := admin.Listen(p)
	require.ErrorIs(t, err, admin.ErrInUse)
	// The running server is untouched.
	_, err = admin.GetStatus(t.Context(), p)
	require.NoError(t, err)
}

func TestNonSocketRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, p string)
	}{
		{"regular file", func(t *testing.T, p string) { require.NoError(t, os.WriteFile(p, []byte("keep me"), 0o600)) }},
		{"directory", func(t *testing.T, p string) { require.NoError(t, os.Mkdir(p, 0o700)) }},
		{"symlink to a file", func(t *testing.T, p string) {
			target := filepath.Join(filepath.Dir(p), "target")
			require.NoError(t, os.WriteFile(target, []byte("keep me"), 0o600))
			require.NoError(t, os.Symlink(target, p))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := sockPath(t)
			tc.make(t, p)
			before, err := os.Lstat(p)
			require.NoError(t, err)
			_, err = admin.Listen(p)
			require.ErrorIs(t, err, admin.ErrNotSocket)
			after, err := os.Lstat(p)
			require.NoError(t, err, "the path must be left alone")
			assert.True(t, os.SameFile(before, after))
			if before.Mode().IsRegular() {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				assert.Equal(t, "keep me", string(b))
			}
		})
	}
}

func TestListenRelativePath(t *testing.T) {
	_, err := admin.Listen("admin.sock")
	require.ErrorIs(t, err, admin.ErrConfig)
}

func TestNotRunning(t *testing.T) {
	p := sockPath(t)
	_, err := admin.GetStatus(t.Context(), p)
	require.ErrorIs(t, err, admin.ErrNotRunning)
	require.ErrorIs(t, admin.Wipe(t.Context(), p, false), admin.ErrNotRunning)
}

func TestNewRequiresFuncs(t *testing.T) {
	full := newFake().config()
	for _, c := range []admin.Config{
		{}, {Status: full.Status, Wipe: full.Wipe}, {Status: full.Status, Exit: full.Exit}, {Wipe: full.Wipe, Exit: full.Exit},
	} {
		_, err := admin.New(c)
		require.ErrorIs(t, err, admin.ErrConfig)
	}
}

func TestFromStats(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := admin.FromStats(vault.Stats{
		Budget: 100, Used: 60, Free: 40,
		Entries: map[vault.Kind]int{vault.KindNote: 4, vault.KindChatFrame: 5, vault.KindSubmission: 6, vault.KindRoomFrame: 3},
	}, start, start.Add(90*time.Second), "x.onion")
	assert.Equal(t, admin.Status{Budget: 100, Used: 60, Free: 40, Notes: 4, ChatFrames: 5, Submissions: 6,
		RoomFrames: 3, Uptime: 90 * time.Second, Onion: "x.onion"}, st)
}

func TestStatusText(t *testing.T) {
	st := admin.Status{Budget: 256 << 20, Used: 64 << 20, Free: 192 << 20, Notes: 1, ChatFrames: 0, Submissions: 12,
		RoomFrames: 1, Uptime: 26*time.Hour + 5*time.Minute + 59*time.Second, Onion: "abc.onion"}
	want := "onion address: abc.onion\n" +
		"capacity:      256.0 MiB\n" +
		"used:          64.0 MiB (25.0%)\n" +
		"free:          192.0 MiB\n" +
		"entries:       1 note, 0 chat frames, 1 room frame, 12 submissions\n" +
		"uptime:        1d 2h 5m\n"
	assert.Equal(t, want, st.String())
	st.Onion, st.Uptime, st.Budget, st.Used, st.Free = "", 59*time.Second, 0, 0, 500
	assert.Contains(t, st.String(), "onion address: (published by the system tor")
	assert.Contains(t, st.String(), "uptime:        0m\n")
	assert.Contains(t, st.String(), "free:          500 B\n")
	assert.Contains(t, st.String(), "used:          0 B (0.0%)\n")
}

func TestErrorsAreClear(t *testing.T) {
	assert.Equal(t, "admin: permission denied: run as the sealdrop user or root", admin.ErrPermission.Error())
}
