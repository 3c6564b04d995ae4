package client_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// The window (SECURITY.md, "Pipelined pieces"): two pieces on their way at once, answers read
// in order; when one fails, the one behind it is given up and the upload goes on from where
// the server stands. Pieces of 64 KiB; a 300 KB note is five. Piece numbers count requests in
// the order they start.

// windowNote creates a note of a 300 KB file through c and requires it to open whole, once,
// as the only note in v.
func windowNote(t *testing.T, c *client.Client, v *vault.Vault) {
	t.Helper()
	ctx := t.Context()
	data := randBytes(300_000)
	made, err := c.CreateNote(ctx, "w", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
	require.NoError(t, err)
	require.Equal(t, 1, v.Stats().Entries[vault.KindNote], "one note")
	n, err := c.OpenNote(ctx, made.NoteURL, "")
	require.NoError(t, err)
	require.Equal(t, data, n.Files[0].Data, "byte-identical")
}

// seen is a copy of the pieces the transport saw, in the order they started.
func seen(f *faults) []pieceSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pieceSeen(nil), f.pieces...)
}

// A piece cut mid-way while the next one waits behind it: the server keeps what arrived and
// answers the waiting piece 409; the client gives that one up, is told where the server
// stands, and goes on from there, mid-piece.
func TestUploadWindowCutMidway(t *testing.T) {
	c, f, v, _ := newServer(t, 2<<20, 64<<10)
	f.cutAt = map[int64]int64{131072: 40_000} // the third piece
	windowNote(t, c, v)
	assert.Equal(t, 2, f.mostIn, "two pieces on their way at once")
	ps := seen(f)
	var resumed []int64
	for _, p := range ps {
		if p.offset%65536 != 0 {
			resumed = append(resumed, p.offset)
		}
	}
	require.Len(t, resumed, 1, "the upload went on mid-piece, once: %+v", ps)
	var told bool
	for _, p := range ps {
		told = told || (p.status == http.StatusConflict && p.received == resumed[0])
	}
	assert.True(t, told, "where the server said it stands: %+v", ps)
}

// The answer to a piece is lost after the server stored it, and the piece behind it went on:
// the client gives that one up, sends the lost piece again, is answered 409 with what the
// server holds (beyond that piece) and goes on from there.
func TestUploadWindowOffset(t *testing.T) {
	c, f, v, _ := newServer(t, 2<<20, 64<<10)
	f.loseAt = map[int64]bool{65536: true} // the second piece, with the third behind it
	windowNote(t, c, v)
	assert.Equal(t, 2, f.mostIn, "two pieces on their way at once")
	ps := seen(f)
	// The lost piece and the one behind it are sent again at once, two in flight, so either
	// may reach the transport first: look for the lost piece's own 409.
	i := -1
	for j, p := range ps {
		if j > 1 && p.status == http.StatusConflict && p.offset == 65536 {
			i = j
			break
		}
	}
	require.GreaterOrEqual(t, i, 0, "the lost piece sent again and answered 409: %+v", ps)
	require.Greater(t, ps[i].received, int64(65536), "the server holds more than it: %+v", ps)
	var after []int64
	for _, p := range ps[i+1:] {
		after = append(after, p.offset)
	}
	require.NotEmpty(t, after, "%+v", ps)
	assert.Contains(t, after, ps[i].received, "went on from what the server holds: %+v", ps)
	assert.NotContains(t, after, int64(65536), "the stored piece not sent a third time: %+v", ps)
}

// A piece answered 409 "busy" (an earlier try of it still running on the server): the client
// gives up the piece behind it, waits, and sends both again; the note is made once.
func TestUploadWindowBusy(t *testing.T) {
	c, f, v, _ := newServer(t, 2<<20, 64<<10)
	const busy = 131072
	f.fakeAt = map[int64]fakeAnswer{busy: {http.StatusConflict, `{"error":"busy","message":"test"}`}}
	windowNote(t, c, v)
	assert.Equal(t, 2, f.mostIn, "two pieces on their way at once")
	ps := seen(f)
	var again int
	for _, p := range ps {
		if p.offset == busy {
			again++
		}
	}
	again-- // the first, answered busy
	assert.Equal(t, 1, again, "the busy piece sent again once: %+v", ps)
	assert.Len(t, ps, 5+1+1, "the busy piece and the one behind it again, nothing else: %+v", ps)
}

// A piece sent behind another and refused (it came before the one it follows began, say) is
// sent again alone, and goes through; a refusal of the first piece, with none in front of it,
// is final.
func TestUploadWindowBehindRefused(t *testing.T) {
	c, f, v, _ := newServer(t, 2<<20, 64<<10)
	f.fakeAt = map[int64]fakeAnswer{65536: {http.StatusNotFound, `{"error":"gone","message":"test"}`}}
	windowNote(t, c, v)
	assert.Equal(t, 2, f.mostIn, "two pieces on their way at once")
	ps := seen(f)
	var again int
	for _, p := range ps {
		if p.offset == 65536 && p.status == http.StatusOK {
			again++
		}
	}
	assert.Equal(t, 1, again, "the refused piece sent again, and stored: %+v", ps)

	c, f, _, _ = newServer(t, 2<<20, 64<<10)
	f.fakeAt = map[int64]fakeAnswer{0: {http.StatusNotFound, `{"error":"gone","message":"test"}`}}
	data := randBytes(300_000)
	_, err := c.CreateNote(t.Context(), "w", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
	require.ErrorIs(t, err, client.ErrGone, "the first piece's refusal is final")
	var first int
	for _, p := range seen(f) {
		if p.offset == 0 {
			first++
		}
	}
	assert.Equal(t, 1, first, "the first piece not sent again: %+v", seen(f))
}

// With a window of 1 the pieces go one at a time, as before issue 17.
func TestUploadWindowOne(t *testing.T) {
	c, f, v, _ := newServer(t, 2<<20, 64<<10)
	windowNote(t, c.WithUploadWindow(1), v)
	assert.Equal(t, 1, f.mostIn, "one piece at a time")
	assert.Equal(t, []int64{0, 65536, 2 * 65536, 3 * 65536, 4 * 65536}, pieceOffsets(f))
}

// A drop submission goes through the same window.
func TestSubmitWindow(t *testing.T) {
	ctx := t.Context()
	v, err := vault.New(vault.Config{Budget: 2 << 20, MaxTTL: 14 * 24 * time.Hour, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	ds, err := drop.New(drop.Config{Vault: v})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, MaxAppend: 64 << 10, Drops: ds})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	f := &faults{}
	c, err := client.New(srv.URL, &http.Client{Transport: &faultyTransport{f: f, rt: tr}, Timeout: time.Minute})
	require.NoError(t, err)
	d, err := c.CreateDrop(false)
	require.NoError(t, err)
	f.cutAt = map[int64]int64{131072: 40_000}
	data := randBytes(300_000)
	_, err = c.Submit(ctx, d.DropLink, "tip", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, false)
	require.NoError(t, err)
	assert.Equal(t, 2, f.mostIn, "two pieces on their way at once")
	ib, err := c.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	defer ib.Close()
	l, err := ib.List(ctx)
	require.NoError(t, err)
	require.Len(t, l.Pending, 1)
	got, err := ib.Fetch(ctx, l.Pending[0].ID)
	require.NoError(t, err)
	require.Len(t, got.Files, 1)
	assert.Equal(t, data, got.Files[0].Data)
	var resumed bool
	for _, p := range seen(f) {
		resumed = resumed || p.offset%65536 != 0
	}
	assert.True(t, resumed, "the cut piece went on mid-piece: %+v", seen(f))
}

// A 409 that names less than the client knows the server holds (an answer made while the
// piece in front still ran, and read after that piece's own answer) is taken as what the
// client knows: the upload goes on from there. Before, it ended the upload with "server has
// 65536 bytes, the pieces held are 131072..": CI's TestDropEndToEnd met it once.
func TestUploadWindowStaleOffset(t *testing.T) {
	c, f, v, _ := newServer(t, 2<<20, 64<<10)
	f.fakeAt = map[int64]fakeAnswer{131072: {http.StatusConflict, `{"error":"offset","message":"test","received":65536}`}}
	windowNote(t, c, v)
	var again int
	for _, p := range seen(f) {
		if p.offset == 131072 && p.status == http.StatusOK {
			again++
		}
	}
	assert.Equal(t, 1, again, "the piece answered with the stale number sent again, and stored: %+v", seen(f))
}
