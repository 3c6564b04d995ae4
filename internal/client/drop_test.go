package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

type dropSite struct {
	c   *client.Client
	f   *dropFaults
	url string
	v   *vault.Vault
}

// dropFaults cuts the answer of the next request to a path suffix after some bytes, and
// captures the body of the next request to a suffix.
type dropFaults struct {
	mu      sync.Mutex
	cut     map[string]int64
	capture map[string]*[]byte
	seen    []string // every request's path, in order
	rt      http.RoundTripper
}

func (f *dropFaults) set(suffix string, n int64) { f.mu.Lock(); f.cut[suffix] = n; f.mu.Unlock() }

func (f *dropFaults) captureNext(suffix string, into *[]byte) {
	f.mu.Lock()
	f.capture[suffix] = into
	f.mu.Unlock()
}

func (f *dropFaults) RoundTrip(req *http.Request) (*http.Response, error) {
	var cut int64
	f.mu.Lock()
	f.seen = append(f.seen, req.URL.Path)
	for suf, n := range f.cut {
		if strings.HasSuffix(req.URL.Path, suf) {
			cut = n
			delete(f.cut, suf)
		}
	}
	for suf, into := range f.capture {
		if strings.HasSuffix(req.URL.Path, suf) && req.Body != nil {
			b, _ := io.ReadAll(req.Body)
			*into = b
			req.Body = io.NopCloser(bytes.NewReader(b))
			delete(f.capture, suf)
		}
	}
	f.mu.Unlock()
	res, err := f.rt.RoundTrip(req)
	if err == nil && cut > 0 && res.StatusCode == 200 {
		res.Body = &cutBody{rc: res.Body, left: cut}
	}
	return res, err
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newDropSite is a whole server (vault, drop server, web handler) on loopback. A restart is a
// second site: the same links, moved to its origin. Its vault is 2 MiB (the largest
// submission is 300 KB), so the two of TestDropRestart fit an ordinary user's 8 MiB memlock limit.
func newDropSite(t testing.TB, maxAppend int64) *dropSite {
	t.Helper()
	v, err := vault.New(vault.Config{Budget: 2 << 20, MaxTTL: 14 * 24 * time.Hour, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	ds, err := drop.New(drop.Config{Vault: v})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, MaxAppend: maxAppend, Drops: ds})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	f := &dropFaults{cut: map[string]int64{}, capture: map[string]*[]byte{}, rt: tr}
	c, err := client.New(srv.URL, &http.Client{Transport: f, Timeout: time.Minute})
	require.NoError(t, err)
	return &dropSite{c: c, f: f, url: srv.URL, v: v}
}

func TestDropEndToEnd(t *testing.T) {
	ctx := context.Background()
	s := newDropSite(t, 64<<10)
	d, err := s.c.CreateDrop(false)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(d.DropLink, s.url+"/d/"+d.Route+"#"))
	require.True(t, strings.HasPrefix(d.InboxLink, s.url+"/i/"+d.Route+"#"))

	// A source submits text and a file and asks for a reply.
	file := randBytes(200000)
	sub, err := s.c.Submit(ctx, d.DropLink, "documents attached", []client.File{{Name: "a.pdf", Type: "application/pdf", Size: int64(len(file)), R: bytes.NewReader(file)}}, true)
	require.NoError(t, err)
	require.NotEmpty(t, sub.ReplyInboxLink)

	ib, err := s.c.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	defer ib.Close()
	l, err := ib.List(ctx)
	require.NoError(t, err)
	require.Len(t, l.Pending, 1)
	require.Equal(t, sub.ID, l.Pending[0].ID)

	got, err := ib.Fetch(ctx, sub.ID)
	require.NoError(t, err)
	require.Equal(t, "documents attached", got.Text)
	require.Len(t, got.Files, 1)
	require.Equal(t, file, got.Files[0].Data)
	require.NotNil(t, got.ReplyBox)
	_, err = ib.Fetch(ctx, sub.ID)
	require.ErrorIs(t, err, client.ErrGone, "read once")

	// The journalist replies once; a second reply is gone.
	require.NoError(t, s.c.Reply(ctx, got.ReplyBox, "thank you", nil))
	require.ErrorIs(t, s.c.Reply(ctx, got.ReplyBox, "again", nil), client.ErrGone)

	// The source reads the reply with its reply inbox link, once.
	rib, err := s.c.OpenInbox(sub.ReplyInboxLink)
	require.NoError(t, err)
	rl, err := rib.List(ctx)
	require.NoError(t, err)
	require.Len(t, rl.Pending, 1)
	reply, err := rib.Fetch(ctx, rl.Pending[0].ID)
	require.NoError(t, err)
	require.Equal(t, "thank you", reply.Text)
	require.Nil(t, reply.ReplyBox)
	_, err = rib.Fetch(ctx, rl.Pending[0].ID)
	require.ErrorIs(t, err, client.ErrGone)

	l, err = ib.List(ctx)
	require.NoError(t, err)
	require.Empty(t, l.Pending)
	require.Equal(t, 1, l.FetchedSinceList)
	today := time.Now().UTC().Format(time.DateOnly)
	require.Equal(t, []client.Visit{{Day: today, Fetched: 1}}, l.Visits, "both lists were today's visit, one read after it")
}

// TestSubmitOneRequest: a submission up to max_append is one request after the limits (the
// upload route creates, stores and commits it); a larger one is one request per piece. An
// answer lost on its way back is asked again and makes no second submission.
func TestSubmitOneRequest(t *testing.T) {
	ctx := context.Background()
	s := newDropSite(t, 64<<10)
	d, err := s.c.CreateDrop(false)
	require.NoError(t, err)
	upload := "/api/v1/drops/" + d.Route + "/upload"
	requests := func(f func()) []string {
		s.f.mu.Lock()
		s.f.seen = nil
		s.f.mu.Unlock()
		f()
		s.f.mu.Lock()
		defer s.f.mu.Unlock()
		return s.f.seen
	}
	var ids []string
	got := requests(func() {
		sub, err := s.c.Submit(ctx, d.DropLink, "one request", nil, false)
		require.NoError(t, err)
		ids = append(ids, sub.ID)
	})
	require.Equal(t, []string{"/api/v1/limits", upload}, got)
	file := randBytes(150000)
	got = requests(func() {
		sub, err := s.c.Submit(ctx, d.DropLink, "three pieces", []client.File{{Name: "a.bin", Size: int64(len(file)), R: bytes.NewReader(file)}}, false)
		require.NoError(t, err)
		ids = append(ids, sub.ID)
	})
	// The limits of the first submission, and their price token, serve the next ones.
	require.Equal(t, []string{upload, upload, upload}, got)
	// The answer of the upload is cut: the client sends it again and learns it committed.
	s.f.set("/upload", 5)
	got = requests(func() {
		sub, err := s.c.Submit(ctx, d.DropLink, "the answer is lost", nil, false)
		require.NoError(t, err)
		ids = append(ids, sub.ID)
	})
	require.Equal(t, []string{upload, upload}, got)
	require.Equal(t, 3, s.v.Stats().Entries[vault.KindSubmission], "one submission each")

	ib, err := s.c.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	defer ib.Close()
	l, err := ib.List(ctx)
	require.NoError(t, err)
	require.Len(t, l.Pending, 3)
	var listed []string
	for _, p := range l.Pending {
		listed = append(listed, p.ID)
	}
	require.ElementsMatch(t, ids, listed) // arrivals in the same second list in id order
	for i, text := range []string{"one request", "three pieces", "the answer is lost"} {
		got, err := ib.Fetch(ctx, ids[i])
		require.NoError(t, err)
		require.Equal(t, text, got.Text)
	}
}

// TestDropListPages: a list answers 100 at a time after a cursor the proof binds; ListAll
// pages through everything once, oldest first.
// TestNamedDrop: a drop link may name who receives it; the name stays in the fragment (the
// server sees none of it), a submission to such a link arrives, and a name with a character
// that reorders text is refused before any key is made.
func TestNamedDrop(t *testing.T) {
	ctx := context.Background()
	s := newDropSite(t, 64<<10)
	d, err := s.c.CreateNamedDrop("Investigations Desk")
	require.NoError(t, err)
	pub, err := s.c.ParseDropLink(d.DropLink)
	require.NoError(t, err)
	require.Equal(t, "Investigations Desk", pub.Name)
	require.Equal(t, d.Route, pub.RouteID(), "the name is not part of the route")
	_, err = s.c.Submit(ctx, d.DropLink, "to the desk", nil, false)
	require.NoError(t, err)
	ib, err := s.c.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	defer ib.Close()
	l, err := ib.List(ctx)
	require.NoError(t, err)
	require.Len(t, l.Pending, 1)

	for _, bad := range []string{"", " Desk", "Desk\u202e", "Desk\u200b", strings.Repeat("x", 81)} {
		_, err := s.c.CreateNamedDrop(bad)
		require.ErrorIs(t, err, client.ErrLink, "%q", bad)
	}
}

// TestReplyLinkIsForAReplyBox: the reply page's link (/r/) opens in the Go client like an
// inbox link, but only with a reply box's keys; a drop's inbox keys under /r/ are refused.
func TestReplyLinkIsForAReplyBox(t *testing.T) {
	s := newDropSite(t, 64<<10)
	d, err := s.c.CreateDrop(false)
	require.NoError(t, err)
	_, err = s.c.OpenInbox(strings.Replace(d.InboxLink, "/i/", "/r/", 1))
	require.ErrorIs(t, err, client.ErrLink)
	r, err := s.c.CreateDrop(true)
	require.NoError(t, err)
	ib, err := s.c.OpenInbox(strings.Replace(r.InboxLink, "/i/", "/r/", 1))
	require.NoError(t, err)
	ib.Close()
}

func TestDropListPages(t *testing.T) {
	ctx := context.Background()
	s := newDropSite(t, 64<<10)
	d, err := s.c.CreateDrop(false)
	require.NoError(t, err)
	const n = drop.ListPage + 7
	for i := range n {
		_, err := s.c.Submit(ctx, d.DropLink, strings.Repeat("x", i+1), nil, false)
		require.NoError(t, err)
	}
	ib, err := s.c.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	defer ib.Close()
	first, err := ib.List(ctx)
	require.NoError(t, err)
	require.Len(t, first.Pending, drop.ListPage)
	require.Equal(t, n, first.Waiting)
	require.True(t, first.More)

	var captured []byte
	s.f.captureNext("/list", &captured)
	rest, err := ib.ListAfter(ctx, first.Pending[drop.ListPage-1].ID)
	require.NoError(t, err)
	require.Len(t, rest.Pending, n-drop.ListPage)
	require.False(t, rest.More)

	all, err := ib.ListAll(ctx)
	require.NoError(t, err)
	require.Equal(t, append(first.Pending, rest.Pending...), all.Pending)
	require.Equal(t, n, all.Waiting)

	var body map[string]any
	require.NoError(t, json.Unmarshal(captured, &body))
	require.Equal(t, first.Pending[drop.ListPage-1].ID, body["after"], "the cursor is sent")

	// The cursor is in the MAC: a fresh proof for one cursor does not list after another, or
	// from the start.
	cursor := first.Pending[drop.ListPage-1].ID
	for name, alter := range map[string]func(map[string]any){
		"other cursor": func(b map[string]any) { b["after"] = first.Pending[0].ID },
		"no cursor":    func(b map[string]any) { delete(b, "after") },
		"as proved":    func(map[string]any) {},
	} {
		fresh := proveList(t, s, d.InboxLink, cursor)
		alter(fresh)
		code := postStatus(t, s.url+"/api/v1/drops/"+d.Route+"/list", fresh)
		if name == "as proved" {
			require.Equal(t, http.StatusOK, code, "the proof itself is good")
		} else {
			require.Equal(t, http.StatusNotFound, code, name)
		}
	}
	_, err = ib.ListAfter(ctx, "not-an-id")
	require.ErrorIs(t, err, client.ErrProtocol)
}

func TestDropFetchResumes(t *testing.T) {
	ctx := context.Background()
	s := newDropSite(t, 64<<10)
	d, err := s.c.CreateDrop(false)
	require.NoError(t, err)
	file := randBytes(300000)
	sub, err := s.c.Submit(ctx, d.DropLink, "", []client.File{{Name: "x", Size: int64(len(file)), R: bytes.NewReader(file)}}, false)
	require.NoError(t, err)
	ib, err := s.c.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	s.f.set("/fetch", 150000) // cut the first download after 150,000 bytes
	got, err := ib.Fetch(ctx, sub.ID)
	require.NoError(t, err)
	require.Equal(t, file, got.Files[0].Data)
	l, err := ib.List(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, l.FetchedSinceList, "a resumed fetch counts once")
}

// TestDropRestart: a drop link from before a restart (new vault, drop server and handler)
// accepts submissions after it.
func TestDropRestart(t *testing.T) {
	ctx := context.Background()
	s1 := newDropSite(t, 1<<20)
	d, err := s1.c.CreateDrop(false)
	require.NoError(t, err)
	_, err = s1.c.Submit(ctx, d.DropLink, "before", nil, false)
	require.NoError(t, err)
	s2 := newDropSite(t, 1<<20)
	moved := func(link string) string { return strings.Replace(link, s1.url, s2.url, 1) }
	sub, err := s2.c.Submit(ctx, moved(d.DropLink), "after", nil, false)
	require.NoError(t, err)
	ib, err := s2.c.OpenInbox(moved(d.InboxLink))
	require.NoError(t, err)
	got, err := ib.Fetch(ctx, sub.ID)
	require.NoError(t, err)
	require.Equal(t, "after", got.Text)
}

func TestDropLinkChecks(t *testing.T) {
	s := newDropSite(t, 1<<20)
	a, err := s.c.CreateDrop(false)
	require.NoError(t, err)
	b, err := s.c.CreateDrop(false)
	require.NoError(t, err)
	// A route paired with other keys is refused before anything is sent.
	swapped := s.url + "/d/" + a.Route + "#" + strings.SplitN(b.DropLink, "#", 2)[1]
	_, err = s.c.Submit(context.Background(), swapped, "x", nil, false)
	require.ErrorIs(t, err, client.ErrLink)
	_, err = s.c.OpenInbox(strings.Replace(a.InboxLink, "/i/", "/d/", 1))
	require.ErrorIs(t, err, client.ErrLink)
	_, err = s.c.OpenInbox(a.DropLink)
	require.ErrorIs(t, err, client.ErrLink)
}

// TestDropHTTPGone: wrong routes, keys, proofs and replays all get the one gone answer.
func TestDropHTTPGone(t *testing.T) {
	ctx := context.Background()
	s := newDropSite(t, 1<<20)
	d, err := s.c.CreateDrop(false)
	require.NoError(t, err)
	_, err = s.c.Submit(ctx, d.DropLink, "x", nil, false)
	require.NoError(t, err)
	post := func(path string, body any) (int, string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(out)
	}
	frag := strings.SplitN(d.DropLink, "#", 2)[1]
	pub, err := s.c.ParseDropLink(d.DropLink)
	require.NoError(t, err)
	_ = frag
	auth := b64(pub.Auth[:])
	goneCode, goneBody := http.StatusNotFound, `{"error":"gone"}`
	for name, c := range map[string]struct {
		path string
		body any
	}{
		// There is no /pow route (the token comes with limits): gone, with good keys too.
		"removed pow route":    {"/api/v1/drops/" + d.Route + "/pow", map[string]any{"auth": auth, "flags": 0}},
		"removed pow, other":   {"/api/v1/drops/AAAAAAAAAAAAAAAAAAAAAA/pow", map[string]any{"auth": auth, "flags": 0}},
		"challenge bad flags":  {"/api/v1/drops/" + d.Route + "/challenge", map[string]any{"auth": auth, "flags": 1}},
		"challenge no flags":   {"/api/v1/drops/" + d.Route + "/challenge", map[string]any{"auth": auth}},
		"challenge bad route":  {"/api/v1/drops/xx/challenge", map[string]any{"auth": auth, "flags": 0}},
		"list made-up proof":   {"/api/v1/drops/" + d.Route + "/list", map[string]any{"auth": auth, "flags": 0, "challenge": b64(make([]byte, 32)), "mac": b64(make([]byte, 32))}},
		"wipe malformed proof": {"/api/v1/drops/" + d.Route + "/wipe", map[string]any{"auth": auth, "flags": 0, "challenge": "x", "mac": "y"}},
	} {
		code, body := post(c.path, c.body)
		require.Equal(t, goneCode, code, name)
		require.Equal(t, goneBody, body, name)
	}
	// A captured list request replayed verbatim is gone.
	ib, err := s.c.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	var captured []byte
	s.f.captureNext("/list", &captured)
	_, err = ib.List(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, captured)
	var body map[string]any
	require.NoError(t, json.Unmarshal(captured, &body))
	code, out := post("/api/v1/drops/"+d.Route+"/list", body)
	require.Equal(t, goneCode, code)
	require.Equal(t, goneBody, out)
}

// proveList answers a fresh list challenge for cursor as the inbox link would, outside the
// client, and returns the request body (with the cursor in "after").
func proveList(t *testing.T, s *dropSite, inboxLink, cursor string) map[string]any {
	t.Helper()
	k, err := protocol.ParseInboxFragment(strings.SplitN(inboxLink, "#", 2)[1])
	require.NoError(t, err)
	defer k.Wipe()
	who := map[string]any{"auth": b64(k.Auth[:]), "flags": int(k.Flags)}
	b, _ := json.Marshal(who)
	res, err := http.Post(s.url+"/api/v1/drops/"+k.RouteID()+"/challenge", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer res.Body.Close()
	var ch struct {
		Challenge string `json:"challenge"`
		ServerKey string `json:"server_key"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&ch))
	n, err := protocol.B64Decode(ch.Challenge)
	require.NoError(t, err)
	sk, err := protocol.B64Decode(ch.ServerKey)
	require.NoError(t, err)
	id, err := vault.ParseID(cursor)
	require.NoError(t, err)
	mac, err := k.InboxMAC(n, sk, protocol.DropActionList, id, [32]byte{})
	require.NoError(t, err)
	who["challenge"], who["mac"], who["after"] = ch.Challenge, b64(mac), cursor
	return who
}

func postStatus(t *testing.T, url string, body any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
