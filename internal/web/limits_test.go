package web_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

func TestLimits(t *testing.T) {
	e := newEnv(t, withBudget(4<<20), withWeb(func(c *web.Config) { c.MaxTTL = 2 * 24 * time.Hour }))
	r := e.do(http.MethodGet, "/api/v1/limits", "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	var l struct {
		Version    int     `json:"version"`
		MaxEntry   int64   `json:"max_entry"`
		MaxAppend  int64   `json:"max_append"`
		Free       int64   `json:"free"`
		TTLs       []int64 `json:"ttls"`
		DefaultTTL int64   `json:"default_ttl"`
		MaxTTL     int64   `json:"max_ttl"`
		Price      struct {
			Token     string         `json:"token"`
			ExpiresIn int64          `json:"expires_in"`
			Levels    map[string]int `json:"levels"`
		} `json:"price"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&l))
	assert.Equal(t, 1, l.Version)
	assert.EqualValues(t, 4<<20, l.MaxEntry)
	assert.EqualValues(t, 1<<20, l.MaxAppend)
	assert.Equal(t, []int64{300, 3600, 86400, 172800}, l.TTLs)
	assert.EqualValues(t, 172800, l.DefaultTTL)
	assert.EqualValues(t, 172800, l.MaxTTL)
	assert.Positive(t, l.Free)
	assert.Zero(t, l.Free&(l.Free-1), "free %d is a power of two", l.Free)
	assert.LessOrEqual(t, l.Free, e.v.Stats().Free)
	tok, err := base64.RawURLEncoding.DecodeString(l.Price.Token)
	require.NoError(t, err)
	assert.Len(t, tok, 20)
	assert.GreaterOrEqual(t, l.Price.ExpiresIn, int64(300), "a token is good for one window at least")
	assert.Equal(t, map[string]int{"note": 0}, l.Price.Levels, "an empty server asks nothing (and offers no chats or drops here)")
}

// The largest note is the vault's own: limits publish the MaxEntry the vault was given, and
// create refuses a length over it before anything is stored.
func TestMaxEntryIsTheVaults(t *testing.T) {
	e := newEnv(t, withBudget(4<<20), func(vc *vault.Config, _ *web.Config) { vc.MaxEntry = 1 << 20 })
	r := e.do(http.MethodGet, "/api/v1/limits", "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.EqualValues(t, 1<<20, r.json(t)["max_entry"])
	n := newNoteSecrets(64, true)
	r = e.do(http.MethodPost, "/api/v1/notes", "application/json", mustJSON(n.createReq(1<<20+1, nil)), nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s", r.body)
	assert.Equal(t, "too_large", r.json(t)["error"])
	assert.Zero(t, e.v.Stats().Entries[vault.KindNote])
	r = e.do(http.MethodPost, "/api/v1/notes", "application/json", mustJSON(n.createReq(1<<20, nil)), nil)
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, withWeb(func(c *web.Config) { c.MaxTTL = 24 * time.Hour }))
	n := newNoteSecrets(64, true)
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"ttl not a choice", string(mustJSON(n.createReq(64, 7))), 400, "bad_ttl"},
		{"ttl over max", string(mustJSON(n.createReq(64, 604800))), 400, "bad_ttl"},
		{"ttl negative", string(mustJSON(n.createReq(64, -300))), 400, "bad_ttl"},
		{"ttl fraction", string(mustJSON(n.createReq(64, 300.5))), 400, "bad_request"},
		{"ttl string", string(mustJSON(n.createReq(64, "300"))), 400, "bad_request"},
		{"length zero", string(mustJSON(n.createReq(0, nil))), 400, "bad_parameter"},
		{"length over", string(mustJSON(n.createReq(9<<20, nil))), 413, "too_large"},
		{"unknown field", `{"length":1,"x":1}`, 400, "bad_request"},
		{"two objects", string(mustJSON(n.createReq(64, nil))) + "{}", 400, "bad_request"},
		{"not an object", `[1]`, 400, "bad_request"},
		{"no gate", `{"length":10,"manage_hash":"` + hash(rand32()) + `"}`, 400, "bad_parameter"},
		{"padded hash", strings.Replace(string(mustJSON(n.createReq(64, nil))), `","length"`, `=","length"`, 1), 400, "bad_parameter"},
		{"short hash", `{"length":10,"gate_hash":"AAAA","manage_hash":"` + hash(rand32()) + `"}`, 400, "bad_parameter"},
		{"std alphabet", `{"length":10,"gate_hash":"` + strings.Repeat("+", 43) + `","manage_hash":"` + hash(rand32()) + `"}`, 400, "bad_parameter"},
	} {
		r := e.do(http.MethodPost, "/api/v1/notes", "application/json", []byte(tc.body), nil)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		m := r.json(t)
		assert.Equal(t, tc.code, m["error"], tc.name)
		assert.NotEmpty(t, m["message"], tc.name)
	}
	r := e.do(http.MethodPost, "/api/v1/notes", "application/json", mustJSON(n.createReq(64, 3600)), nil)
	require.Equal(t, http.StatusCreated, r.status)
	assert.EqualValues(t, 3600, r.json(t)["expires_in"])
	r = e.do(http.MethodPost, "/api/v1/notes", "application/json", mustJSON(n.createReq(64, nil)), nil)
	require.Equal(t, http.StatusCreated, r.status)
	assert.EqualValues(t, 86400, r.json(t)["expires_in"], "default TTL clamped to the max")
}

// countingReader records whether the handler read any of a request body.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	for i := range p {
		p[i] = 0
	}
	return len(p), nil
}

// TestOversizeUnread (T19): an append over max_append, or beyond the note's declared length,
// is refused with 413 before one byte of its body is read; one without a length gets 411.
func TestOversizeUnread(t *testing.T) {
	e := newEnv(t)
	h := e.srv.Config.Handler
	n := newNoteSecrets(64, false)
	r := e.postJSON("/api/v1/notes", n.createReq(1000, nil))
	require.Equal(t, http.StatusCreated, r.status)
	n.id = r.json(t)["id"].(string)

	send := func(length int64, offset string) (*httptest.ResponseRecorder, int64) {
		body := &countingReader{}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/notes/"+n.id+"/data", io.NopCloser(body))
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Sealdrop-Manage", b64(n.manage[:]))
		req.Header.Set("Sealdrop-Offset", offset)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec, body.n.Load()
	}
	rec, read := send(1<<20+1, "0")
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Zero(t, read)
	rec, read = send(1001, "0")
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	assert.Zero(t, read)
	rec, read = send(100, "500")
	assert.Equal(t, http.StatusConflict, rec.Code, rec.Body.String())
	assert.Zero(t, read)
	assert.JSONEq(t, `{"error":"offset","received":0}`, rec.Body.String())
	rec, read = send(-1, "0")
	assert.Equal(t, http.StatusLengthRequired, rec.Code)
	assert.Zero(t, read)
	// Nothing stored was touched: the whole note still uploads and opens.
	n.body = bytes.Repeat([]byte{7}, 1000)
	require.Equal(t, http.StatusOK, e.appendData(n, 0, n.body).status)
	require.Equal(t, http.StatusOK, e.postJSON("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": b64(n.manage[:])}).status)
	r = e.open(n, rand32(), 0, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, n.body, r.body)
}

// TestFullVault (T19): when the vault is full, create answers 507 and every earlier note is
// intact.
func TestFullVault(t *testing.T) {
	e := newEnv(t, withBudget(4<<20))
	var notes []*note
	full := false
	for i := 0; i < 10 && !full; i++ {
		n := newNoteSecrets(1<<20, false)
		r := e.createPaid(n, 1<<20, nil)
		switch r.status {
		case http.StatusCreated:
			n.id = r.json(t)["id"].(string)
			require.Equal(t, http.StatusOK, e.appendData(n, 0, n.body).status)
			require.Equal(t, http.StatusOK, e.postJSON("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": b64(n.manage[:])}).status)
			notes = append(notes, n)
		case http.StatusInsufficientStorage:
			assert.Equal(t, "full", r.json(t)["error"])
			full = true
		default:
			t.Fatalf("create: %d %s", r.status, r.body)
		}
	}
	require.True(t, full, "the vault never filled up")
	require.NotEmpty(t, notes)
	for _, n := range notes {
		r := e.open(n, rand32(), 0, nil)
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, n.body, r.body)
	}
}

// TestNoteLengthAtLeastAnEnvelope: a note's create and its one-request upload refuse a length
// below api.MinNote (the envelope header and one sealed byte, which no reader could decrypt),
// as bad_parameter with a message that names the smallest length, before anything is stored;
// api.MinNote itself is taken. (Item 3 of issue 18: 24 was accepted.)
func TestNoteLengthAtLeastAnEnvelope(t *testing.T) {
	require.Equal(t, 42, api.MinNote)
	e := newEnv(t)
	for _, length := range []int64{1, 24, api.MinNote - 1} {
		n := newNoteSecrets(int(length), false)
		r := e.postJSON("/api/v1/notes", n.createReq(length, nil))
		require.Equal(t, http.StatusBadRequest, r.status, "create of %d: %s", length, r.body)
		require.Equal(t, "bad_parameter", r.json(t)["error"])
		require.Contains(t, r.json(t)["message"], "42")
		r = e.upload(n, 0, len(n.body), nil)
		require.Equal(t, http.StatusBadRequest, r.status, "upload of %d: %s", length, r.body)
		require.Equal(t, "bad_parameter", r.json(t)["error"])
		require.Contains(t, r.json(t)["message"], "42")
		require.Equal(t, 0, e.noteCount())
	}
	n := newNoteSecrets(api.MinNote, false)
	r := e.postJSON("/api/v1/notes", n.createReq(api.MinNote, nil))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	n = newNoteSecrets(api.MinNote, false)
	r = e.upload(n, 0, len(n.body), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, true, r.json(t)["committed"])
}
