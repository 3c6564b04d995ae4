package client_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// faults lets a test break the first open body, lose the answer of an upload piece, cut a
// piece's body mid-way or answer a piece itself, and counts the requests by route. Upload
// pieces are numbered in the order their requests start (0 the first).
type faults struct {
	mu          sync.Mutex
	cutOpenAt   int64 // cut the first open answer after this many bytes (0: never)
	loseUpload  bool  // lose the answer of the first upload piece that reached the server
	loseCommit  bool  // lose the first answer of a piece that says the note is committed
	openOffsets []int64
	uploads     int
	routes      []string // the last path element of every request

	// The window: for the first piece sent at an offset (pieces race each other to the
	// transport, so their order is not a piece's name), its body cut after so many bytes, its
	// answer lost after the server gave it, or an answer of the test's in place of the server's.
	cutAt    map[int64]int64
	loseAt   map[int64]bool
	fakeAt   map[int64]fakeAnswer
	pieces   []pieceSeen // every upload piece, in the order they started
	inFlight int         // pieces on their way now
	mostIn   int         // the most pieces on their way at once
}

// fakeAnswer is an error answer the transport gives in place of the server's.
type fakeAnswer struct {
	status int
	body   string
}

// pieceSeen is an upload piece as the transport saw it.
type pieceSeen struct {
	offset   int64
	paid     bool  // it carried a price nonce
	declared bool  // it carried the create's headers (the length)
	status   int   // the answer's status (the server's, or the test's in its place); 0: none came
	received int64 // the answer's "received", when it had one
}

type faultyTransport struct {
	f  *faults
	rt http.RoundTripper
}

func (t *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f := t.f
	if strings.HasSuffix(req.URL.Path, "/open") {
		b, _ := io.ReadAll(req.Body)
		var v struct {
			Offset int64 `json:"offset"`
		}
		_ = json.Unmarshal(b, &v)
		req.Body = io.NopCloser(bytes.NewReader(b))
		f.mu.Lock()
		f.openOffsets = append(f.openOffsets, v.Offset)
		cut := f.cutOpenAt
		f.cutOpenAt = 0
		f.mu.Unlock()
		res, err := t.rt.RoundTrip(req)
		if err == nil && cut > 0 && res.StatusCode == 200 {
			res.Body = &cutBody{rc: res.Body, left: cut}
		}
		return res, err
	}
	f.mu.Lock()
	f.routes = append(f.routes, req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:])
	f.mu.Unlock()
	if strings.HasSuffix(req.URL.Path, "/upload") {
		return t.piece(req)
	}
	return t.rt.RoundTrip(req)
}

// piece sends an upload piece, with the faults the test asked for it.
func (t *faultyTransport) piece(req *http.Request) (*http.Response, error) {
	f := t.f
	off, _ := strconv.ParseInt(req.Header.Get("Sealdrop-Offset"), 10, 64)
	f.mu.Lock()
	i := len(f.pieces)
	f.pieces = append(f.pieces, pieceSeen{offset: off, paid: req.Header.Get("Sealdrop-Price-Nonce") != "",
		declared: req.Header.Get("Sealdrop-Length") != ""})
	f.uploads++
	f.inFlight++
	f.mostIn = max(f.mostIn, f.inFlight)
	cut := f.cutAt[off]
	fake, faked := f.fakeAt[off]
	loseThis := f.loseAt[off]
	delete(f.cutAt, off)
	delete(f.fakeAt, off)
	delete(f.loseAt, off)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	seen := func(status int, b []byte) {
		var v struct {
			Received int64 `json:"received"`
		}
		_ = json.Unmarshal(b, &v)
		f.mu.Lock()
		f.pieces[i].status, f.pieces[i].received = status, v.Received
		f.mu.Unlock()
	}
	if faked {
		req.Body.Close()
		seen(fake.status, nil)
		return &http.Response{StatusCode: fake.status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(fake.body)), Request: req}, nil
	}
	if cut > 0 {
		req.Body = &cutRequest{rc: req.Body, left: cut}
	}
	res, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	seen(res.StatusCode, b)
	res.Body = io.NopCloser(bytes.NewReader(b))
	f.mu.Lock()
	defer f.mu.Unlock()
	lose := loseThis || f.loseUpload
	f.loseUpload = false
	if f.loseCommit && res.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`"committed":true`)) {
		f.loseCommit, lose = false, true
	}
	if lose {
		return nil, errors.New("test: answer lost")
	}
	return res, nil
}

// cutRequest is a request body that breaks off after left bytes, like a circuit that died
// while the piece was on its way.
type cutRequest struct {
	rc   io.ReadCloser
	left int64
}

func (c *cutRequest) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("test: circuit cut")
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutRequest) Close() error { return c.rc.Close() }

// cutBody delivers left bytes, then fails like a broken circuit.
type cutBody struct {
	rc   io.ReadCloser
	left int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutBody) Close() error { return c.rc.Close() }

func newServer(t *testing.T, budget, maxAppend int64) (*client.Client, *faults, *vault.Vault, string) {
	t.Helper()
	v, err := vault.New(vault.Config{Budget: budget, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	h, err := web.New(web.Config{Vault: v, MaxAppend: maxAppend})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f := &faults{}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := client.New(srv.URL, &http.Client{Transport: &faultyTransport{f: f, rt: tr}, Timeout: time.Minute})
	require.NoError(t, err)
	return c, f, v, srv.URL
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestRoundTrip(t *testing.T) {
	ctx := t.Context()
	c, f, _, _ := newServer(t, 2<<20, 64<<10)
	a, b := randBytes(300_000), randBytes(10)
	made, err := c.CreateNote(ctx, "hello ünïcode", []client.File{
		{Name: "a.bin", Type: "application/octet-stream", Size: int64(len(a)), R: bytes.NewReader(a)},
		{Name: "<b>.html", Type: "text/html", Size: int64(len(b)), R: bytes.NewReader(b)},
	}, "", "", time.Hour)
	require.NoError(t, err)
	assert.Equal(t, time.Hour, made.ExpiresIn)
	// 300 KB in pieces of 64 KiB, every one to the upload route with the create's headers,
	// two on their way at once, the last one committing; nothing else after the limits.
	assert.Equal(t, []string{"limits", "upload", "upload", "upload", "upload", "upload"}, f.routes)
	assert.ElementsMatch(t, []int64{0, 1 * 65536, 2 * 65536, 3 * 65536, 4 * 65536}, pieceOffsets(f), "in pieces of max_append, none sent twice")
	for _, p := range f.pieces {
		assert.True(t, p.declared, "every piece carries the create's headers")
		assert.Equal(t, http.StatusOK, p.status)
	}
	assert.Equal(t, 2, f.mostIn, "two pieces on their way at once")
	assert.Contains(t, made.NoteURL, "/n/")
	assert.Contains(t, made.ManageURL, "/m/")

	st, err := c.Status(ctx, made.ManageURL)
	require.NoError(t, err)
	assert.Equal(t, "waiting", st.State)

	n, err := c.OpenNote(ctx, made.NoteURL, "")
	require.NoError(t, err)
	assert.Equal(t, "hello ünïcode", n.Text)
	require.Len(t, n.Files, 2)
	assert.Equal(t, "a.bin", n.Files[0].Name)
	assert.Equal(t, a, n.Files[0].Data)
	assert.Equal(t, "<b>.html", n.Files[1].Name)
	assert.Equal(t, b, n.Files[1].Data)

	_, err = c.OpenNote(ctx, made.NoteURL, "")
	assert.ErrorIs(t, err, client.ErrGone)
}

func TestPINs(t *testing.T) {
	ctx := t.Context()
	c, _, _, _ := newServer(t, 2<<20, 0)
	made, err := c.CreateNote(ctx, "secret", nil, "123456", "654321", 0)
	require.NoError(t, err)
	_, err = c.OpenNote(ctx, made.NoteURL, "")
	assert.ErrorIs(t, err, client.ErrPINRequired)
	_, err = c.OpenNote(ctx, made.NoteURL, "000000")
	var pe *client.WrongPINError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 4, pe.TriesLeft)
	n, err := c.OpenNote(ctx, made.NoteURL, "١٢٣٤٥٦") // Arabic-Indic digits normalise to 123456
	require.NoError(t, err)
	assert.Equal(t, "secret", n.Text)

	// The duress PIN answers like a wrong one, and then the right PIN no longer works.
	made, err = c.CreateNote(ctx, "secret", nil, "123456", "654321", 0)
	require.NoError(t, err)
	_, err = c.OpenNote(ctx, made.NoteURL, "654321")
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 4, pe.TriesLeft)
	_, err = c.OpenNote(ctx, made.NoteURL, "123456")
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 3, pe.TriesLeft)

	_, err = c.CreateNote(ctx, "x", nil, "123456", "123456", 0)
	assert.Error(t, err, "a duress PIN equal to the PIN is refused")
}

func TestResumeDownload(t *testing.T) {
	ctx := t.Context()
	c, f, _, _ := newServer(t, 2<<20, 0)
	data := randBytes(400_000)
	made, err := c.CreateNote(ctx, "", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
	require.NoError(t, err)
	f.cutOpenAt = 200_000
	n, err := c.OpenNote(ctx, made.NoteURL, "")
	require.NoError(t, err)
	assert.Equal(t, data, n.Files[0].Data)
	require.Len(t, f.openOffsets, 2)
	assert.Equal(t, []int64{0, 25 + 3*65552}, f.openOffsets, "resumed at the last whole chunk")
	_, err = c.OpenNote(ctx, made.NoteURL, "")
	assert.ErrorIs(t, err, client.ErrGone)
}

func TestResumeUpload(t *testing.T) {
	ctx := t.Context()
	c, f, _, _ := newServer(t, 2<<20, 64<<10)
	data := randBytes(200_000)
	f.loseAt = map[int64]bool{65536: true} // the second piece's answer
	made, err := c.CreateNote(ctx, "t", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
	require.NoError(t, err)
	n, err := c.OpenNote(ctx, made.NoteURL, "")
	require.NoError(t, err)
	assert.Equal(t, data, n.Files[0].Data)
}

// The answer of the piece that committed the note is lost: the client sends that piece again,
// which the server answers as it did; the note is made once and opens, and no commit request
// follows.
func TestResumeLostCommittingAppend(t *testing.T) {
	ctx := t.Context()
	c, f, v, _ := newServer(t, 2<<20, 64<<10)
	data := randBytes(200_000)
	f.loseCommit = true
	made, err := c.CreateNote(ctx, "t", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
	require.NoError(t, err)
	require.False(t, f.loseCommit, "the committing piece's answer was lost")
	assert.Equal(t, []string{"limits", "upload", "upload", "upload", "upload", "upload"}, f.routes, "the last piece again, nothing else")
	last := 3 * int64(65536)
	assert.ElementsMatch(t, []int64{0, 65536, 2 * 65536, last, last}, pieceOffsets(f))
	require.Equal(t, 1, v.Stats().Entries[vault.KindNote], "one note")
	n, err := c.OpenNote(ctx, made.NoteURL, "")
	require.NoError(t, err)
	assert.Equal(t, data, n.Files[0].Data)
}

// pieceOffsets are the offsets of the upload pieces, in the order they started.
func pieceOffsets(f *faults) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var o []int64
	for _, p := range f.pieces {
		o = append(o, p.offset)
	}
	return o
}

// A note up to max_append is one request after the limits: the upload, which commits it.
func TestOneRequestNote(t *testing.T) {
	ctx := t.Context()
	c, f, _, _ := newServer(t, 2<<20, 64<<10)
	made, err := c.CreateNote(ctx, "one request", nil, "123456", "", time.Hour)
	require.NoError(t, err)
	assert.Equal(t, []string{"limits", "upload"}, f.routes)
	assert.Equal(t, time.Hour, made.ExpiresIn)
	n, err := c.OpenNote(ctx, made.NoteURL, "123456")
	require.NoError(t, err)
	assert.Equal(t, "one request", n.Text)
}

// The upload's answer is lost: the client sends it again, and the server, which has the note
// by its manage secret, answers what it holds; the note is whole and made once.
func TestResumeLostUpload(t *testing.T) {
	ctx := t.Context()
	for _, size := range []int{1000, 200_000} { // one piece; four
		c, f, v, _ := newServer(t, 2<<20, 64<<10)
		data := randBytes(size)
		f.loseUpload = true
		made, err := c.CreateNote(ctx, "t", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
		require.NoError(t, err, "%d bytes", size)
		require.Equal(t, 1, v.Stats().Entries[vault.KindNote], "one note")
		assert.GreaterOrEqual(t, f.uploads, 2, "the upload again")
		assert.NotContains(t, f.routes, "commit", "committed by the last piece")
		n, err := c.OpenNote(ctx, made.NoteURL, "")
		require.NoError(t, err)
		assert.Equal(t, data, n.Files[0].Data)
	}
}

// A server past half full asks a price: the client pays what the limits named, or what a 402
// names, with the upload.
func TestUploadPays(t *testing.T) {
	ctx := t.Context()
	v, err := vault.New(vault.Config{Budget: 2 << 20, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	p, err := price.New(price.Config{Floor: 6})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, Price: p, MaxAppend: 64 << 10})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f := &faults{}
	c, err := client.New(srv.URL, &http.Client{Transport: &faultyTransport{f: f, rt: &http.Transport{}}})
	require.NoError(t, err)
	made, err := c.CreateNote(ctx, "paid", nil, "", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"limits", "upload"}, f.routes, "the price from the limits, paid with the upload")
	n, err := c.OpenNote(ctx, made.NoteURL, "")
	require.NoError(t, err)
	assert.Equal(t, "paid", n.Text)

	// A note of several pieces: only the piece at 0 pays; every piece carries the token.
	data := randBytes(200_000)
	f.pieces = nil
	made, err = c.CreateNote(ctx, "", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
	require.NoError(t, err)
	ps := seen(f)
	require.Len(t, ps, 4)
	for _, p := range ps {
		assert.Equal(t, p.offset == 0, p.paid, "the nonce with the piece at 0 only: %+v", ps)
		assert.Equal(t, http.StatusOK, p.status, "%+v", ps)
	}
	n, err = c.OpenNote(ctx, made.NoteURL, "")
	require.NoError(t, err)
	assert.Equal(t, data, n.Files[0].Data)
}

func TestErrors(t *testing.T) {
	ctx := t.Context()
	c, _, _, base := newServer(t, 4<<20, 0)
	big := randBytes(5 << 20)
	_, err := c.CreateNote(ctx, "", []client.File{{Name: "big", Size: int64(len(big)), R: bytes.NewReader(big)}}, "", "", 0)
	assert.ErrorIs(t, err, client.ErrTooLarge)

	_, err = c.CreateNote(ctx, "x", nil, "", "", 7*time.Second)
	var ae *client.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 400, ae.Status)
	assert.Equal(t, "bad_ttl", ae.Code)

	made, err := c.CreateNote(ctx, "x", nil, "", "", 0)
	require.NoError(t, err)
	require.NoError(t, c.Revoke(ctx, made.ManageURL))
	_, err = c.OpenNote(ctx, made.NoteURL, "")
	assert.ErrorIs(t, err, client.ErrGone)
	assert.ErrorIs(t, c.Revoke(ctx, made.ManageURL), client.ErrGone)

	_, err = c.OpenNote(ctx, strings.Replace(made.NoteURL, base, "http://other.example", 1), "")
	assert.ErrorIs(t, err, client.ErrLink)
	_, err = c.OpenNote(ctx, made.ManageURL, "")
	assert.ErrorIs(t, err, client.ErrLink)
	_, err = c.OpenNote(ctx, made.NoteURL[:len(made.NoteURL)-1], "")
	assert.ErrorIs(t, err, client.ErrLink)

	// Fill the vault: 507 becomes ErrFull.
	one := randBytes(1 << 20)
	for i := 0; ; i++ {
		require.Less(t, i, 10, "the vault never filled up")
		_, err = c.CreateNote(ctx, "", []client.File{{Name: "f", Size: int64(len(one)), R: bytes.NewReader(one)}}, "", "", 0)
		if err != nil {
			break
		}
	}
	assert.ErrorIs(t, err, client.ErrFull)
}
