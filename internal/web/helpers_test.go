package web_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/testclock"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// clock is a settable clock shared by the vault and the web layer.
type clock = testclock.Clock

// fakeTemplates and fakeStatic stand in for the real pages in API tests, which test the API
// and not the pages (the page tests use the embedded files).
var fakeStatic = fstest.MapFS{
	"js/app.js":  {Data: []byte("import { x } from './dep.js';\nx();\n")},
	"js/dep.js":  {Data: []byte("export function x() {}\n")},
	"css/a.css":  {Data: []byte("body { margin: 0 }\n")},
	"js/skip.md": {Data: []byte("not served")},
}

const fakePage = `<!doctype html><html><head><title>t</title>
<link rel="stylesheet" href="{{asset "css/a.css"}}" integrity="{{sri "css/a.css"}}">
<link rel="modulepreload" href="{{asset "js/dep.js"}}" integrity="{{sri "js/dep.js"}}">
<script type="module" src="{{asset "js/app.js"}}" integrity="{{sri "js/app.js"}}"></script>
</head><body><p>{{.Limits.MaxEntry}}</p></body></html>`

var fakeTemplates = fstest.MapFS{
	"create.html": {Data: []byte(fakePage)},
	"open.html":   {Data: []byte(fakePage)},
	"manage.html": {Data: []byte(fakePage)},
	"error.html":  {Data: []byte(`<!doctype html><title>Not available</title><p>This is not available.</p>`)},
}

type env struct {
	t   testing.TB
	srv *httptest.Server
	v   *vault.Vault
	clk *clock
	hc  *http.Client
	cfg web.Config
}

// token is the price token the limits give now, which an upload's create carries.
func (e *env) token() string {
	t, _ := e.cfg.Price.TokenAfter(e.v.Retired())
	return b64(t[:])
}

// withToken gives n the token its upload carries (the limits' now), unless it has one.
func (e *env) withToken(n *note) *note {
	if n.token == "" {
		n.token = e.token()
	}
	return n
}

type envOpt func(*vault.Config, *web.Config)

func withBudget(n int64) envOpt {
	return func(vc *vault.Config, _ *web.Config) { vc.Budget = n }
}

func withRealPages() envOpt {
	return func(_ *vault.Config, wc *web.Config) { *wc = web.WithFS(*wc, nil, nil) }
}

func withRoute(path string, h http.HandlerFunc) envOpt {
	return func(_ *vault.Config, wc *web.Config) { *wc = web.WithRoute(*wc, path, h) }
}

func withWeb(f func(*web.Config)) envOpt {
	return func(_ *vault.Config, wc *web.Config) { f(wc) }
}

// newEnv starts a vault with a small budget (2 MiB unless withBudget says otherwise: a test
// process must stay inside an ordinary user's 8 MiB memlock limit) and a site over a real
// (loopback) http.Server configured by web.NewServer.
func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	clk := testclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	vc := vault.Config{Budget: 2 << 20, Now: clk.Now, SweepEvery: -1}
	wc := web.WithFS(web.Config{Now: clk.Now}, fakeTemplates, fakeStatic)
	for _, o := range opts {
		o(&vc, &wc)
	}
	v, err := vault.New(vc)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	wc.Vault = v
	if wc.Price == nil { // the tests' uploads take their token from it (env.token)
		wc.Price, err = price.New(price.Config{Now: clk.Now})
		require.NoError(t, err)
	}
	h, err := web.New(wc)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = web.NewServer(h)
	srv.Start()
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return &env{t: t, srv: srv, v: v, clk: clk, hc: hc, cfg: wc}
}

type resp struct {
	status int
	header http.Header
	body   []byte
	close  bool // the answer said Connection: close
}

func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body %q", r.body)
	return m
}

// do sends one request and reads the whole answer.
func (e *env) do(method, path, ctype string, body []byte, hdr map[string]string) *resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.hc.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return &resp{status: res.StatusCode, header: res.Header, body: b, close: res.Close}
}

func (e *env) postJSON(path string, v any) *resp {
	e.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(e.t, err)
	return e.do(http.MethodPost, path, "application/json", b, nil)
}

// raw sends request bytes over a fresh TCP connection and returns every byte of the answer.
func (e *env) raw(req string) []byte {
	e.t.Helper()
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(e.t, err)
	defer c.Close()
	require.NoError(e.t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(c, req)
	require.NoError(e.t, err)
	b, err := io.ReadAll(c)
	require.NoError(e.t, err)
	return b
}

// rawPost builds a raw POST with a JSON body that closes the connection after the answer.
func rawPost(path, ctype string, body []byte) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: sealdrop.test\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		path, ctype, len(body), body)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// randomID is a well-formed id that almost surely names nothing.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return b64(b[:])
}

func rand32() [32]byte {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return b
}

func hash(b [32]byte) string {
	h := sha256.Sum256(b[:])
	return b64(h[:])
}

// note is a note made through the API, with every secret a reader or sender would hold.
type note struct {
	id                           string
	gate, manage, open, destruct [32]byte
	pin                          bool
	body                         []byte
	token                        string // the price token its upload carries (env.withToken)
}

// createReq is the create body for n.
func (n *note) createReq(length int64, ttl any) map[string]any {
	m := map[string]any{"length": length, "gate_hash": hash(n.gate), "manage_hash": hash(n.manage),
		"destruct_hash": hash(n.destruct)}
	if ttl != nil {
		m["ttl"] = ttl
	}
	if n.pin {
		m["open_hash"] = hash(n.open)
	}
	return m
}

// createPaid posts a note's create and, when the server answers that the note must pay (402),
// pays what it asks and posts again. ttl is in seconds (nil: the server's default of 7 days).
func (e *env) createPaid(n *note, length int64, ttl any) *resp {
	e.t.Helper()
	body := n.createReq(length, ttl)
	r := e.postJSON("/api/v1/notes", body)
	if r.status != http.StatusPaymentRequired {
		return r
	}
	a := r.json(e.t)
	secs := int64(7 * 24 * 3600)
	if ttl != nil {
		secs = int64(ttl.(int))
	}
	tok, err := base64.RawURLEncoding.DecodeString(a["token"].(string))
	require.NoError(e.t, err)
	pr := protocol.PriceRequest{Kind: protocol.PriceNote, Manage: sha256.Sum256(n.manage[:]), Length: length, TTL: time.Duration(secs) * time.Second}
	nonce, err := protocol.SolvePrice(e.t.Context(), tok, pr, int(a["bits"].(float64)))
	require.NoError(e.t, err)
	body["price_token"], body["price_nonce"] = a["token"], b64(nonce[:])
	return e.postJSON("/api/v1/notes", body)
}

func newNoteSecrets(size int, pin bool) *note {
	n := &note{gate: rand32(), manage: rand32(), open: rand32(), destruct: rand32(), pin: pin, body: make([]byte, size)}
	_, _ = rand.Read(n.body)
	return n
}

// createNote makes a committed note of size random bytes, uploaded in pieces of piece bytes.
func (e *env) createNote(size int, pin bool) *note {
	e.t.Helper()
	n := newNoteSecrets(size, pin)
	r := e.createPaid(n, int64(size), nil)
	require.Equal(e.t, http.StatusCreated, r.status, "create: %s", r.body)
	n.id = r.json(e.t)["id"].(string)
	const piece = 256 << 10
	for off := 0; off < size; off += piece {
		end := min(off+piece, size)
		r := e.appendData(n, int64(off), n.body[off:end])
		require.Equal(e.t, http.StatusOK, r.status, "append: %s", r.body)
		require.EqualValues(e.t, end, r.json(e.t)["received"])
	}
	r = e.postJSON("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": b64(n.manage[:])})
	require.Equal(e.t, http.StatusOK, r.status, "commit: %s", r.body)
	return n
}

func (e *env) appendData(n *note, off int64, b []byte) *resp {
	e.t.Helper()
	return e.do(http.MethodPost, "/api/v1/notes/"+n.id+"/data", "application/octet-stream", b,
		map[string]string{"Sealdrop-Manage": b64(n.manage[:]), "Sealdrop-Offset": strconv.FormatInt(off, 10)})
}

// openBody is the open request for n with claim nonce c; pin selects the typed token: the open
// token, the destruct token or (nil) a wrong one.
func (n *note) openBody(c [32]byte, offset int64, typed *[32]byte) map[string]any {
	m := map[string]any{"gate": b64(n.gate[:]), "claim": hash(c)}
	if n.pin {
		t := rand32()
		if typed != nil {
			t = *typed
		}
		// A typed PIN yields both tokens; only one of them can match.
		m["open"] = b64(t[:])
		m["destruct"] = b64(t[:])
	}
	if offset != 0 {
		m["offset"] = offset
	}
	return m
}

func (e *env) open(n *note, c [32]byte, offset int64, typed *[32]byte) *resp {
	e.t.Helper()
	return e.postJSON("/api/v1/notes/"+n.id+"/open", n.openBody(c, offset, typed))
}

func (e *env) confirm(n *note, c [32]byte) *resp {
	e.t.Helper()
	return e.postJSON("/api/v1/notes/"+n.id+"/confirm", map[string]any{"gate": b64(n.gate[:]), "nonce": b64(c[:])})
}

// requireGone asserts the canonical gone answer.
func requireGone(t *testing.T, r *resp) {
	t.Helper()
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, `{"error":"gone"}`, string(r.body))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
}
