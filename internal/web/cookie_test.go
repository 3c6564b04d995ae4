package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/web"
)

// wireTap keeps every byte a client read from the server, and the route of every request it
// wrote (matched against the site's own router).
type wireTap struct {
	mu     sync.Mutex
	read   bytes.Buffer
	router *mux.Router
	routes map[string]bool
}

// routeKey names a route: its methods' one and its path and query templates.
func routeKey(method string, r *mux.Route) string {
	p, err := r.GetPathTemplate()
	if err != nil {
		p = "?"
	}
	if q, err := r.GetQueriesTemplates(); err == nil && len(q) > 0 {
		p += "?" + strings.Join(q, "&")
	}
	return method + " " + p
}

// wrote notes the route of a request whose bytes begin p (a request's head is written at
// once, at the start of a write).
func (w *wireTap) wrote(p []byte) {
	line, _, ok := bytes.Cut(p, []byte("\r\n"))
	if !ok {
		return
	}
	f := strings.Fields(string(line))
	if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/") {
		return
	}
	u, err := url.ParseRequestURI(f[1])
	if err != nil {
		return
	}
	var m mux.RouteMatch
	if w.router.Match(&http.Request{Method: f[0], URL: u}, &m) && m.Route != nil {
		w.mu.Lock()
		w.routes[routeKey(f[0], m.Route)] = true
		w.mu.Unlock()
	}
}

type tapConn struct {
	net.Conn
	w *wireTap
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.mu.Lock()
	c.w.read.Write(p[:n])
	c.w.mu.Unlock()
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.w.wrote(p)
	return c.Conn.Write(p)
}

// cookieRT sends a cookie with every request and refuses an answer that sets one.
type cookieRT struct {
	t      *testing.T
	next   *http.Transport
	cookie string
}

func (rt *cookieRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Cookie", rt.cookie)
	res, err := rt.next.RoundTrip(r)
	if err == nil {
		assert.Empty(rt.t, res.Header.Values("Set-Cookie"), "%s %s", r.Method, r.URL.Path)
		assert.Empty(rt.t, res.Header.Values("Set-Cookie2"), "%s %s", r.Method, r.URL.Path)
	}
	return res, err
}

// Unwrap lets the client dial its chat sockets through the tapped transport.
func (rt *cookieRT) Unwrap() http.RoundTripper { return rt.next }

// TestNoCookieOnAnyRoute: the server never sets a cookie (and so the pages may send their
// requests with credentials "same-origin", static/js/http.js). Every route of a site with
// notes, chats, drops and Safest messages is sent a request, each with a cookie the server
// must ignore, through a client that keeps every byte it read off the wire (the answers of
// the routes that take the connection over and of the chat socket's upgrade included); the
// router's own list of routes says none was left out. No answer carries Set-Cookie, and none
// repeats the cookie sent.
func TestNoCookieOnAnyRoute(t *testing.T) {
	tap := &wireTap{routes: map[string]bool{}}
	e := newEnv(t, withRealPages(), withWeb(func(wc *web.Config) {
		wc.MaxAppend = 64 << 10
		wc.SafestMaxBody = 64 << 10
		*wc = web.WithRouted(*wc, func(m *mux.Router) { tap.router = m })
	}))
	// The chats and drops need the env's vault: build the site again around it.
	p, err := price.New(price.Config{Now: e.clk.Now})
	require.NoError(t, err)
	ds, err := drop.New(drop.Config{Vault: e.v, Now: e.clk.Now, TTL: 24 * time.Hour, Price: p})
	require.NoError(t, err)
	cs, err := chat.New(chat.Config{Vault: e.v, Now: e.clk.Now, SweepEvery: -1, Price: p})
	require.NoError(t, err)
	t.Cleanup(cs.Close)
	cfg := e.cfg
	cfg.Drops, cfg.Chat, cfg.Price = ds, cs, p
	h, err := web.New(cfg)
	require.NoError(t, err)
	e.srv.Config.Handler = h
	e.cfg = cfg

	probe := make([]byte, 18)
	_, _ = rand.Read(probe)
	cookie := "sealdrop_probe=" + b64(probe)
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &tapConn{Conn: c, w: tap}, nil
	}}
	e.hc = &http.Client{Transport: &cookieRT{t: t, next: tr, cookie: cookie}, Timeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := client.New(e.srv.URL+"/", e.hc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// Notes: the Go client's create (upload, appends), status, open and confirm, revoke; the
	// separate create and commit routes through the tests' own helper.
	_, err = c.Limits(ctx)
	require.NoError(t, err)
	file := make([]byte, 150<<10)
	_, _ = rand.Read(file)
	created, err := c.CreateNote(ctx, "no cookies", []client.File{{Name: "a.bin", Type: "application/octet-stream",
		Size: int64(len(file)), R: bytes.NewReader(file)}}, "", "", 0)
	require.NoError(t, err)
	_, err = c.Status(ctx, created.ManageURL)
	require.NoError(t, err)
	got, err := c.OpenNote(ctx, created.NoteURL, "")
	require.NoError(t, err)
	require.Equal(t, "no cookies", got.Text)
	other, err := c.CreateNote(ctx, "revoked", nil, "", "", 0)
	require.NoError(t, err)
	require.NoError(t, c.Revoke(ctx, other.ManageURL))
	e.createNote(1000, false)

	// Pages (GET and HEAD), static files, the limits' HEAD, a 404 page and API answer.
	id := randomID()
	k := dropKeys(t, 0)
	for _, path := range []string{"/", api.PageNote + id, api.PageManage + id, "/chat", api.PageChat + id, "/drop",
		api.PageDrop + k.RouteID(), api.PageInbox + k.RouteID(), api.PageReply + k.RouteID(),
		"/static/js/http.js", "/static/css/sealdrop.css", api.Limits} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			r := e.do(m, path, "", nil, nil)
			require.Equal(t, http.StatusOK, r.status, "%s %s", m, path)
		}
	}
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/nope", "", nil, nil).status)
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/api/v1/nope", "", nil, nil).status)

	// Chats: start, join, one side on the socket and the other on the POST fallback (send,
	// poll), a message, the end, a revoke.
	creator, err := c.StartChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	defer creator.Close()
	joiner, err := c.JoinChat(ctx, creator.Link, "")
	require.NoError(t, err)
	defer joiner.Close()
	require.NoError(t, creator.Connect(ctx))
	require.NoError(t, joiner.ConnectPoll(ctx))
	a, err := creator.WaitReady(ctx)
	require.NoError(t, err)
	b, err := joiner.WaitReady(ctx)
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.NoError(t, joiner.SendText(ctx, "hello"))
	for {
		ev, err := creator.Receive(ctx)
		require.NoError(t, err)
		if ev.Text == "hello" {
			break
		}
	}
	require.NoError(t, joiner.End())
	revoked, err := c.StartChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	defer revoked.Close()
	require.NoError(t, revoked.Revoke(ctx))

	// Drops: a submission in one upload, one through the separate create, append and commit
	// routes, the inbox's list (challenge), fetch and confirm, and its wipe.
	nd, err := c.CreateDrop(false)
	require.NoError(t, err)
	one, err := c.Submit(ctx, nd.DropLink, "one upload", nil, false)
	require.NoError(t, err)
	dk, err := c.ParseDropLink(nd.DropLink)
	require.NoError(t, err)
	s := &sub{manage: rand32(), body: make([]byte, 1000)}
	mh := sha256.Sum256(s.manage[:])
	base := api.DropPath(nd.Route, api.DropSubmissions)
	r := e.postJSON(base, map[string]any{"auth": b64(dk.Auth[:]), "flags": 0, "length": len(s.body), "manage_hash": b64(mh[:])})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	s.id = r.json(t)["id"].(string)
	r = e.do(http.MethodPost, api.SubmissionPath(nd.Route, s.id, api.SubmissionData), "application/octet-stream", s.body,
		map[string]string{"Sealdrop-Manage": b64(s.manage[:]), "Sealdrop-Offset": "0"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.postJSON(api.SubmissionPath(nd.Route, s.id, api.SubmissionCommit), map[string]any{"auth": b64(dk.Auth[:]), "flags": 0, "manage": b64(s.manage[:])})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	ib, err := c.OpenInbox(nd.InboxLink)
	require.NoError(t, err)
	l, err := ib.List(ctx)
	require.NoError(t, err)
	require.Len(t, l.Pending, 2)
	rec, err := ib.Fetch(ctx, one.ID)
	require.NoError(t, err)
	require.Equal(t, "one upload", rec.Text)
	wiped, err := ib.WipeAll(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, wiped)

	// Safest: the form page and a message sent with it.
	sd, err := c.CreateSafestDrop("")
	require.NoError(t, err)
	u, err := url.Parse(sd.DropLink)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, u.RequestURI(), "", nil, nil).status)
	require.Equal(t, http.StatusOK, e.do(http.MethodHead, u.RequestURI(), "", nil, nil).status)
	form, _ := formBody([]formPart{{name: "text", data: []byte("at Safest")}})
	r = e.do(http.MethodPost, u.RequestURI(), "multipart/form-data; boundary="+safestBoundary, form, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	// Every route of the router was sent a request.
	want := map[string]bool{}
	require.NoError(t, tap.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		methods, err := route.GetMethods()
		require.NoError(t, err, "every route names its methods")
		for _, m := range methods {
			want[routeKey(m, route)] = true
		}
		return nil
	}))
	require.Greater(t, len(want), 30, "the router's routes were not found")
	tap.mu.Lock()
	defer tap.mu.Unlock()
	var missed []string
	for k := range want {
		if !tap.routes[k] {
			missed = append(missed, k)
		}
	}
	sort.Strings(missed)
	require.Empty(t, missed, "routes this test sent no request to")

	// On the wire: no header line sets a cookie, and the cookie sent comes back nowhere.
	wire := tap.read.Bytes()
	require.Greater(t, len(wire), len(file), "the answers were read through the tap")
	require.Contains(t, string(wire), "\r\nUpgrade: websocket\r\n", "the socket's upgrade was read through the tap")
	for _, bad := range []*regexp.Regexp{regexp.MustCompile(`(?i)\r\nset-cookie2?:`), regexp.MustCompile(regexp.QuoteMeta(b64(probe)))} {
		if at := bad.FindIndex(wire); at != nil {
			t.Errorf("an answer carries %q (a cookie set, or the one sent repeated): …%q…", bad, wire[max(0, at[0]-200):min(len(wire), at[1]+100)])
		}
	}
	t.Logf("%d routes, %d bytes of answers read", len(want), len(wire))
}
