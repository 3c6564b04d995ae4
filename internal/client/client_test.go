package client_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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

// faults lets a test break the first open body or lose the first append's or upload's answer,
// and counts the requests by route.
type faults struct {
	mu          sync.Mutex
	cutOpenAt   int64 // cut the first open answer after this many bytes (0: never)
	loseAppend  bool  // lose the answer of the first append that reached the server
	loseUpload  bool  // lose the answer of the first upload that reached the server
	loseCommit  bool  // lose the first answer of an append that says the note is committed
	openOffsets []int64
	appends     int
	uploads     int
	routes      []string // the last path element of every request
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
	if upload := strings.HasSuffix(req.URL.Path, "/upload"); upload || strings.HasSuffix(req.URL.Path, "/data") {
		res, err := t.rt.RoundTrip(req)
		f.mu.Lock()
		defer f.mu.Unlock()
		lose := &f.loseAppend
		if upload {
			f.uploads++
			lose = &f.loseUpload
		} else {
			f.appends++
		}
		if err == nil && !upload && f.loseCommit && res.StatusCode == http.StatusOK {
			b, rerr := io.ReadAll(res.Body)
			res.Body.Close()
			if rerr != nil {
				return nil, rerr
			}
			res.Body = io.NopCloser(bytes.NewReader(b))
			if bytes.Contains(b, []byte(`"committed":true`)) {
				f.loseCommit = false
				return nil, errors.New("test: answer lost")
			}
		}
		if err == nil && *lose {
			*lose = false
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return nil, errors.New("test: answer lost")
		}
		return res, err
	}
	return t.rt.RoundTrip(req)
}

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
	// 300 KB in pieces of 64 KiB: the upload with the first, an append for each other, the
	// last one committing; nothing else after the limits.
	assert.Equal(t, 1, f.uploads)
	assert.Equal(t, 4, f.appends, "uploaded in pieces of max_append")
	assert.Equal(t, []string{"limits", "upload", "data", "data", "data", "data"}, f.routes)
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
	f.loseAppend = true
	made, err := c.CreateNote(ctx, "t", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
	require.NoError(t, err)
	n, err := c.OpenNote(ctx, made.NoteURL, "")
	require.NoError(t, err)
	assert.Equal(t, data, n.Files[0].Data)
}

// The answer of the append that committed the note is lost: the client sends that append
// again, which the server answers as it did; the note is made once and opens, and no commit
// request follows.
func TestResumeLostCommittingAppend(t *testing.T) {
	ctx := t.Context()
	c, f, v, _ := newServer(t, 2<<20, 64<<10)
	data := randBytes(200_000)
	f.loseCommit = true
	made, err := c.CreateNote(ctx, "t", []client.File{{Name: "x", Size: int64(len(data)), R: bytes.NewReader(data)}}, "", "", 0)
	require.NoError(t, err)
	require.False(t, f.loseCommit, "the committing append's answer was lost")
	assert.Equal(t, []string{"limits", "upload", "data", "data", "data", "data"}, f.routes, "the last append again, nothing else")
	require.Equal(t, 1, v.Stats().Entries[vault.KindNote], "one note")
	n, err := c.OpenNote(ctx, made.NoteURL, "")
	require.NoError(t, err)
	assert.Equal(t, data, n.Files[0].Data)
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
	h, err := web.New(web.Config{Vault: v, Price: p})
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
