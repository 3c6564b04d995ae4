package web_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// dropSite is an env whose site has drop boxes (on the env's vault), and their pricer.
type dropSite struct {
	*env
	ds *drop.Server
	p  *price.Pricer
}

// newDropSite builds the env's site again with drop boxes; floor is the price floor.
func newDropSite(t testing.TB, floor int, opts ...envOpt) *dropSite {
	t.Helper()
	e := newEnv(t, opts...)
	p, err := price.New(price.Config{Floor: floor, Now: e.clk.Now})
	require.NoError(t, err)
	ds, err := drop.New(drop.Config{Vault: e.v, Now: e.clk.Now, TTL: 24 * time.Hour, Price: p})
	require.NoError(t, err)
	cfg := e.cfg
	cfg.Drops, cfg.Price = ds, p
	h, err := web.New(cfg)
	require.NoError(t, err)
	e.srv.Config.Handler = h
	e.cfg = cfg
	return &dropSite{env: e, ds: ds, p: p}
}

// sub is a submission on its way to a drop: the drop's keys, the submitter's manage secret
// and the sealed bytes (random: the server cannot tell).
type sub struct {
	k      *protocol.DropKeys
	manage [32]byte
	body   []byte
	id     string
	token  string // the price token its upload carries (dropSite.withToken)
}

// withToken gives s the token its upload carries (the limits' now), unless it has one.
func (d *dropSite) withToken(s *sub) *sub { return d.withSubToken(s) }

// withSubToken gives s the token its upload carries (the limits' now), unless it has one.
func (e *env) withSubToken(s *sub) *sub {
	if s.token == "" {
		s.token = e.token()
	}
	return s
}

func newSub(t testing.TB, k *protocol.DropKeys, size int) *sub {
	s := &sub{k: k, manage: rand32(), body: make([]byte, size)}
	_, _ = rand.Read(s.body)
	return s
}

func dropKeys(t testing.TB, flags byte) *protocol.DropKeys {
	t.Helper()
	k, err := protocol.NewDropKeys(flags)
	require.NoError(t, err)
	t.Cleanup(k.Wipe)
	return k
}

// header is the upload's header for the body from off.
func (s *sub) header(off int) map[string]string {
	return map[string]string{
		"Sealdrop-Drop-Auth": b64(s.k.Auth[:]), "Sealdrop-Drop-Flags": strconv.Itoa(int(s.k.Flags)),
		"Sealdrop-Manage": b64(s.manage[:]), "Sealdrop-Length": strconv.Itoa(len(s.body)),
		"Sealdrop-Offset": strconv.Itoa(off), "Sealdrop-Price-Token": s.token,
	}
}

func (s *sub) path() string { return "/api/v1/drops/" + s.k.RouteID() + "/upload" }

// rawHeader is the upload's raw request header (the caller sends the body), with extra lines.
func (s *sub) rawHeader(off, contentLength int, extra string) string {
	return rawBinaryHeader(s.path(), s.header(off), contentLength, extra)
}

// upload sends the bytes of s.body from off to end, with hdr's changes (empty deletes).
func (d *dropSite) upload(s *sub, off, end int, hdr map[string]string) *resp {
	d.t.Helper()
	h := d.withToken(s).header(off)
	changeHeader(h, hdr)
	return d.do(http.MethodPost, s.path(), "application/octet-stream", s.body[off:end], h)
}

// submissions is how many submissions the vault holds, of any state.
func (d *dropSite) submissions() int { return d.v.Stats().Entries[vault.KindSubmission] }

func (d *dropSite) route(t testing.TB, k *protocol.DropKeys) drop.Route {
	t.Helper()
	r, err := d.ds.CheckRoute(k.RouteID(), k.Auth[:], int(k.Flags))
	require.NoError(t, err)
	return r
}

func (d *dropSite) prove(t testing.TB, k *protocol.DropKeys, action byte, id vault.ID, arg [32]byte) drop.Proof {
	t.Helper()
	n, pub, _, err := d.ds.Challenge(d.route(t, k))
	require.NoError(t, err)
	mac, err := k.InboxMAC(n[:], pub, action, id, arg)
	require.NoError(t, err)
	return drop.Proof{Challenge: n[:], MAC: mac}
}

// listed is the ids the inbox lists.
func (d *dropSite) listed(t testing.TB, k *protocol.DropKeys) []string {
	t.Helper()
	l, err := d.ds.List(d.route(t, k), d.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{}), vault.ID{})
	require.NoError(t, err)
	var ids []string
	for _, it := range l.Items {
		ids = append(ids, it.ID.String())
	}
	return ids
}

// fetch reads submission id of k once and confirms it, through w (nil: the bytes are
// returned).
func (d *dropSite) fetch(t testing.TB, k *protocol.DropKeys, id string, w io.Writer) []byte {
	t.Helper()
	vid, err := vault.ParseID(id)
	require.NoError(t, err)
	nonce := rand32()
	claim := sha256.Sum256(nonce[:])
	rd, err := d.ds.Fetch(d.route(t, k), vid, d.prove(t, k, protocol.DropActionFetch, vid, claim), claim)
	require.NoError(t, err)
	var b bytes.Buffer
	if w == nil {
		w = &b
	}
	_, err = rd.WriteTo(w, 0)
	require.NoError(t, err)
	rd.Close()
	require.NoError(t, d.ds.Confirm(d.route(t, k), vid, d.prove(t, k, protocol.DropActionConfirm, vid, claim), nonce[:]))
	return b.Bytes()
}

// requireCommitted requires r to be the answer of an upload that committed s whole.
func requireCommitted(t testing.TB, r *resp, s *sub) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.True(t, r.close, "the ciphertext route closes its connection")
	a := r.json(t)
	require.Equal(t, true, a["committed"], "%s", r.body)
	require.EqualValues(t, len(s.body), a["received"])
	require.EqualValues(t, 24*3600, a["expires_in"])
	if s.id == "" {
		s.id = a["id"].(string)
	}
	require.Equal(t, s.id, a["id"])
}

// A submission up to max_append is created, stored and committed by one request; the inbox
// lists it and reads it whole. The three-request routes of older clients still work.
func TestDropUploadOneRequest(t *testing.T) {
	d := newDropSite(t, 0)
	k := dropKeys(t, 0)
	s := newSub(t, k, 3000)
	requireCommitted(t, d.upload(s, 0, len(s.body), nil), s)
	_, err := vault.ParseID(s.id)
	require.NoError(t, err)
	require.Equal(t, []string{s.id}, d.listed(t, k))
	// A lifetime in the header; the offset may be left out.
	short := newSub(t, k, 10)
	r := d.upload(short, 0, 10, map[string]string{"Sealdrop-Ttl": "300", "Sealdrop-Offset": ""})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.EqualValues(t, 300, r.json(t)["expires_in"])
	require.Equal(t, s.body, d.fetch(t, k, s.id, nil))

	// The old routes: create, append, commit.
	old := newSub(t, k, 1000)
	mh := sha256.Sum256(old.manage[:])
	r = d.postJSON("/api/v1/drops/"+k.RouteID()+"/submissions", map[string]any{"auth": b64(k.Auth[:]), "flags": 0, "length": 1000, "manage_hash": b64(mh[:])})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	old.id = r.json(t)["id"].(string)
	r = d.do(http.MethodPost, "/api/v1/drops/"+k.RouteID()+"/submissions/"+old.id+"/data", "application/octet-stream", old.body,
		map[string]string{"Sealdrop-Manage": b64(old.manage[:]), "Sealdrop-Offset": "0"})
	require.JSONEq(t, `{"received":1000}`, string(r.body))
	r = d.postJSON("/api/v1/drops/"+k.RouteID()+"/submissions/"+old.id+"/commit", map[string]any{"auth": b64(k.Auth[:]), "flags": 0, "manage": b64(old.manage[:])})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, old.body, d.fetch(t, k, old.id, nil))
}

// A larger submission: every piece goes to the upload route with its offset, the one that
// completes it commits it; nothing is readable before.
func TestDropUploadInPieces(t *testing.T) {
	d := newDropSite(t, 0, withWeb(func(c *web.Config) { c.MaxAppend = 4096 }))
	k := dropKeys(t, 0)
	s := newSub(t, k, 10000)
	r := d.upload(s, 0, 4096, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	a := r.json(t)
	require.EqualValues(t, 4096, a["received"])
	require.NotContains(t, a, "committed")
	s.id = a["id"].(string)
	require.Empty(t, d.listed(t, k), "pending: not listed")
	r = d.upload(s, 4096, 8192, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, s.id, r.json(t)["id"])
	requireCommitted(t, d.upload(s, 8192, 10000, nil), s)
	require.Equal(t, []string{s.id}, d.listed(t, k))
	require.Equal(t, 1, d.submissions())
	require.Equal(t, s.body, d.fetch(t, k, s.id, nil))
}

// A cut upload keeps what arrived; the same request sent again learns it (409 with
// received) without knowing the id and completes it; the whole upload sent again after its
// answer was lost answers as the commit did and makes no second submission; once read, it is
// gone.
func TestDropUploadResumesAfterCut(t *testing.T) {
	d := newDropSite(t, 0)
	k := dropKeys(t, 0)
	s := newSub(t, k, 200000)
	c, err := net.Dial("tcp", d.srv.Listener.Addr().String())
	require.NoError(t, err)
	_, err = io.WriteString(c, d.withToken(s).rawHeader(0, len(s.body), ""))
	require.NoError(t, err)
	_, err = c.Write(s.body[:70000])
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, c.Close())
	var received float64
	require.Eventually(t, func() bool {
		r := d.upload(s, 0, len(s.body), nil)
		if r.status == http.StatusConflict {
			require.Equal(t, "offset", r.json(t)["error"], "%s", r.body)
			received = r.json(t)["received"].(float64)
		}
		return received == 70000
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, d.submissions(), "one submission, not one per try")
	requireCommitted(t, d.upload(s, 70000, len(s.body), nil), s)
	// The answer was lost: the whole upload again.
	used := d.v.Stats().Used
	requireCommitted(t, d.upload(s, 0, len(s.body), nil), s)
	require.Equal(t, used, d.v.Stats().Used)
	require.Equal(t, []string{s.id}, d.listed(t, k))
	require.Equal(t, s.body, d.fetch(t, k, s.id, nil))
	requireGone(t, d.upload(s, 0, len(s.body), nil))
	require.Empty(t, d.listed(t, k))

	// The same manage secret to another drop is another submission with another id; a resume
	// there finds nothing of the first.
	other := dropKeys(t, 0)
	s2 := &sub{k: other, manage: s.manage, body: s.body[:100]}
	requireGone(t, d.upload(s2, 50, 100, nil))
	requireCommitted(t, d.upload(s2, 0, 100, nil), s2)
	require.NotEqual(t, s.id, s2.id)
}

// A reply box takes one submission: its upload sent again answers as before; another
// submission, by one request or by the old routes, is gone, and nothing is stored.
func TestDropUploadReplyBoxTakesOne(t *testing.T) {
	d := newDropSite(t, 0)
	k := dropKeys(t, protocol.DropFlagReply)
	s := newSub(t, k, 500)
	requireCommitted(t, d.upload(s, 0, len(s.body), nil), s)
	requireCommitted(t, d.upload(s, 0, len(s.body), nil), s)
	used := d.v.Stats().Used
	second := newSub(t, k, 500)
	requireGone(t, d.upload(second, 0, len(second.body), nil))
	mh := sha256.Sum256(second.manage[:])
	requireGone(t, d.postJSON("/api/v1/drops/"+k.RouteID()+"/submissions", map[string]any{"auth": b64(k.Auth[:]), "flags": protocol.DropFlagReply, "length": 500, "manage_hash": b64(mh[:])}))
	require.Equal(t, 1, d.submissions())
	require.Equal(t, used, d.v.Stats().Used)
	// Read: the box stays used.
	require.Equal(t, s.body, d.fetch(t, k, s.id, nil))
	requireGone(t, d.upload(second, 0, len(second.body), nil))
	requireGone(t, d.upload(s, 0, len(s.body), nil))
	require.Equal(t, 0, d.submissions())

	// While one submission is pending in a reply box, another is gone; the first completes.
	k2 := dropKeys(t, protocol.DropFlagReply)
	a, b := newSub(t, k2, 300), newSub(t, k2, 300)
	ra := d.upload(a, 0, 100, nil) // pending, holding the box
	require.Equal(t, http.StatusOK, ra.status, "%s", ra.body)
	requireGone(t, d.upload(b, 0, len(b.body), nil))
	a.id = ra.json(t)["id"].(string)
	requireCommitted(t, d.upload(a, 100, 300, nil), a)
}

// A submission that must pay gets its 402 before a byte is stored; paid, it goes through,
// and the payment is spent once: a retry of the same upload (cut, or whose answer was lost)
// pays nothing and makes nothing more; the payment cannot make a second submission.
func TestDropUploadPriceBeforeStoring(t *testing.T) {
	d := newDropSite(t, 8)
	k := dropKeys(t, 0)
	s := newSub(t, k, 3000)
	out := d.raw(d.withToken(s).rawHeader(0, len(s.body), "Expect: 100-continue\r\n"))
	require.Regexp(t, `^HTTP/1.1 402 Payment Required\r\n`, string(out))
	require.NotContains(t, string(out), "100 Continue")
	r := d.upload(s, 0, len(s.body), nil)
	require.Equal(t, http.StatusPaymentRequired, r.status, "%s", r.body)
	require.True(t, r.close)
	a := r.json(t)
	require.Equal(t, "price", a["error"])
	require.Equal(t, 0, d.submissions())
	require.Zero(t, d.v.Stats().Used)

	tok, err := base64.RawURLEncoding.DecodeString(a["token"].(string))
	require.NoError(t, err)
	pr := protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: d.route(t, k).ID(), Manage: sha256.Sum256(s.manage[:]), Length: 3000, TTL: 24 * time.Hour}
	nonce, err := protocol.SolvePrice(t.Context(), tok, pr, int(a["bits"].(float64)))
	require.NoError(t, err)
	paid := map[string]string{"Sealdrop-Price-Token": a["token"].(string), "Sealdrop-Price-Nonce": b64(nonce[:])}
	// The payment is bound to the drop: another drop's upload with it is unpaid.
	other := &sub{k: dropKeys(t, 0), manage: s.manage, body: s.body}
	r = d.upload(other, 0, len(other.body), paid)
	require.Equal(t, http.StatusPaymentRequired, r.status, "%s", r.body)
	require.Equal(t, 0, d.submissions())

	// Paid, cut after 1000 bytes, resumed with the spent payment and then without any.
	c, err := net.Dial("tcp", d.srv.Listener.Addr().String())
	require.NoError(t, err)
	s.token = paid["Sealdrop-Price-Token"]
	_, err = io.WriteString(c, s.rawHeader(0, 3000, "Sealdrop-Price-Nonce: "+paid["Sealdrop-Price-Nonce"]+"\r\n"))
	require.NoError(t, err)
	_, err = c.Write(s.body[:1000])
	require.NoError(t, err)
	require.Eventually(t, func() bool { return d.v.Stats().Used > 0 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, c.Close())
	spent := d.p.Spent()
	require.Equal(t, 1, spent)
	var got float64
	require.Eventually(t, func() bool {
		r := d.upload(s, 0, 3000, paid)
		if r.status == http.StatusConflict {
			got = r.json(t)["received"].(float64)
		}
		return got == 1000
	}, 5*time.Second, 20*time.Millisecond)
	requireCommitted(t, d.upload(s, 1000, 3000, nil), s)
	requireCommitted(t, d.upload(s, 0, 3000, paid), s)
	require.Equal(t, 1, d.submissions())
	require.Equal(t, spent, d.p.Spent(), "the payment was spent once")
	require.Equal(t, s.body, d.fetch(t, k, s.id, nil))
	// Read and confirmed: the same paid request again is gone, not a second submission.
	requireGone(t, d.upload(s, 0, 3000, paid))
	require.Equal(t, 0, d.submissions())
}

// Every malformed, oversized or misaddressed upload is refused before a byte is stored; a
// wrong drop key is the one gone answer, byte for byte.
func TestDropUploadRefusals(t *testing.T) {
	d := newDropSite(t, 0)
	k := dropKeys(t, 0)
	s := newSub(t, k, 1000)
	otherKey := dropKeys(t, 0)
	cases := []struct {
		name   string
		hdr    map[string]string
		body   []byte
		status int
		code   string
	}{
		{"no drop key", map[string]string{"Sealdrop-Drop-Auth": ""}, nil, 404, "gone"},
		{"another drop's key", map[string]string{"Sealdrop-Drop-Auth": b64(otherKey.Auth[:])}, nil, 404, "gone"},
		{"reply flag on a drop", map[string]string{"Sealdrop-Drop-Flags": "1"}, nil, 404, "gone"},
		{"malformed flags", map[string]string{"Sealdrop-Drop-Flags": "00"}, nil, 404, "gone"},
		{"no manage", map[string]string{"Sealdrop-Manage": ""}, nil, 400, "bad_parameter"},
		{"no length", map[string]string{"Sealdrop-Length": ""}, nil, 400, "bad_parameter"},
		{"length over the drop's max_entry", map[string]string{"Sealdrop-Length": strconv.FormatInt(d.ds.Config().MaxEntry+1, 10)}, nil, 413, "too_large"},
		{"body longer than the length", map[string]string{"Sealdrop-Length": "999"}, nil, 413, "too_large"},
		{"ttl over the drop's", map[string]string{"Sealdrop-Ttl": strconv.Itoa(24*3600 + 1)}, nil, 400, "bad_parameter"},
		{"zero ttl", map[string]string{"Sealdrop-Ttl": "0"}, nil, 400, "bad_parameter"},
		{"empty body", nil, []byte{}, 400, "bad_parameter"},
		{"form content type", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, nil, 415, "content_type"},
		{"cross-origin", map[string]string{"Sec-Fetch-Site": "cross-site"}, nil, 403, "cross_origin"},
		{"resume of nothing", map[string]string{"Sealdrop-Offset": "500", "Sealdrop-Length": "1500"}, nil, 404, "gone"},
	}
	for _, tc := range cases {
		h := s.header(0)
		ctype := changeHeader(h, tc.hdr)
		body := s.body
		if tc.body != nil {
			body = tc.body
		}
		r := d.do(http.MethodPost, s.path(), ctype, body, h)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		require.Equal(t, tc.code, r.json(t)["error"], tc.name)
		require.Equal(t, 0, d.submissions(), "%s: nothing stored", tc.name)
		require.Zero(t, d.v.Stats().Used, tc.name)
	}
	want := d.raw(rawPost("/api/v1/notes/"+randomID()+"/open", "application/json", []byte(`{"gate":"`+hash(rand32())+`","claim":"`+hash(rand32())+`"}`)))
	wrong := &sub{k: k, manage: s.manage, body: s.body}
	hdr := wrong.rawHeader(0, len(s.body), "Connection: close\r\n")
	hdr = strings.Replace(hdr, b64(k.Auth[:]), b64(otherKey.Auth[:]), 1)
	require.Equal(t, string(want), string(d.raw(hdr+string(s.body))), "a wrong key is the one gone")
	require.Equal(t, string(want), string(d.raw(s.rawHeader(500, 500, "Connection: close\r\n")+string(s.body[500:]))), "a resume of nothing too")
}
