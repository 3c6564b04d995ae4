package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
)

// Issue 17, requirement 2: what a page needs at load comes inside the HTML. The pages whose
// scripts read the limits (create, drop submit, inbox) carry the limits answer of the instant
// they were served in <meta name="sealdrop-limits" content="…">; the others carry none.

// limitsMetas returns the content of every <meta name="sealdrop-limits"> of page, as a browser
// reads it (entities decoded).
func limitsMetas(t *testing.T, page []byte) []string {
	t.Helper()
	var out []string
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if tok.Data != "meta" {
			continue
		}
		name, content, has := "", "", false
		for _, a := range tok.Attr {
			switch a.Key {
			case "name":
				name = a.Val
			case "content":
				content, has = a.Val, true
			}
		}
		if name == "sealdrop-limits" {
			require.True(t, has, "the limits meta has a content attribute")
			out = append(out, content)
		}
	}
}

// pageToken is the price token in the limits a page carries.
func pageToken(t *testing.T, page []byte) string {
	t.Helper()
	metas := limitsMetas(t, page)
	require.Len(t, metas, 1)
	var l struct {
		Price struct {
			Token string `json:"token"`
		} `json:"price"`
	}
	require.NoError(t, json.Unmarshal([]byte(metas[0]), &l))
	require.NotEmpty(t, l.Price.Token)
	return l.Price.Token
}

// requirePageHeaders checks what keeps a page's limits from being served again from a cache,
// and that the page's policy is the one of every response.
func requirePageHeaders(t *testing.T, p string, r *resp) {
	t.Helper()
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"), p)
	for _, h := range []string{"Etag", "Last-Modified", "Date", "Expires", "Age", "Vary"} {
		assert.Empty(t, r.header.Values(h), "%s: %s", p, h)
	}
	assert.Equal(t, web.CSP, r.header.Get("Content-Security-Policy"), p)
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"), p)
	assert.Equal(t, strconv.Itoa(len(r.body)), r.header.Get("Content-Length"), "%s: the length counts the limits", p)
}

// TestPagesCarryTheLimits: each page whose script reads the limits carries, at any instant,
// exactly the answer GET /api/v1/limits gives at that instant (the clocks are the test's, so
// both are asked at the same one), as the one content of its limits meta; after the window
// changes and the vault fills, both change together. The other pages carry none. Every page
// stays strict (no inline script or style: checkPage), no-store, without ETag or
// Last-Modified, and under the one CSP.
func TestPagesCarryTheLimits(t *testing.T) {
	d := newDropSite(t, 0, withRealPages(), withBudget(4<<20), withWeb(func(c *web.Config) { c.SafestMaxBody = 64 << 10 }))
	route := "AAAAAAAAAAAAAAAAAAAAAA"
	carry := []string{"/", "/d/" + route, "/i/" + route, "/d/" + route + "?" + protocol.SafestParam + "=x"}
	none := []string{"/n/" + route, "/m/" + route, "/drop", "/r/" + route, "/no-such-page"}
	check := func() string {
		lim := d.do(http.MethodGet, "/api/v1/limits", "", nil, nil)
		require.Equal(t, http.StatusOK, lim.status)
		for _, p := range carry {
			r := d.do(http.MethodGet, p, "", nil, nil)
			require.Equal(t, http.StatusOK, r.status, p)
			metas := limitsMetas(t, r.body)
			require.Len(t, metas, 1, "%s: one limits meta", p)
			assert.Equal(t, string(lim.body), metas[0], "%s: the limits answer of the same instant, byte for byte", p)
			assert.NotContains(t, string(r.body), "sealdrop-limits-of-this-answer", "%s: no marker left", p)
			requirePageHeaders(t, p, r)
			assert.Empty(t, checkPage(p, r.body, d.fetcher()))
		}
		for _, p := range none {
			r := d.do(http.MethodGet, p, "", nil, nil)
			assert.Empty(t, limitsMetas(t, r.body), "%s reads no limits: it carries none", p)
			assert.NotContains(t, string(r.body), "sealdrop-limits", p)
			requirePageHeaders(t, p, r)
		}
		return string(lim.body)
	}
	first := check()
	require.Contains(t, first, `"drop":{`, "the drop limits are part of it")

	// The next window, and a vault that is no longer empty: new token, less free space.
	d.clk.Add(price.DefaultWindow)
	n := newNoteSecrets(2<<20, false)
	r := d.env.upload(n, 0, 1<<20, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	second := check()
	assert.NotEqual(t, first, second, "the page's limits are those of the instant it is served")
}

// TestPageTokenPaysTheUpload: the token a page carries is one the upload accepts; two loads
// in different windows carry different tokens; and a page left open past its token's life
// still sends its note: the upload's 402 names a fresh token, which the upload then accepts.
func TestPageTokenPaysTheUpload(t *testing.T) {
	e := newEnv(t, withRealPages())
	load := func() string {
		r := e.do(http.MethodGet, "/", "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		return pageToken(t, r.body)
	}
	send := func(token string) *resp {
		n := newNoteSecrets(3000, false)
		n.token = token
		return e.upload(n, 0, len(n.body), nil)
	}
	old := load()
	r := send(old)
	require.Equal(t, http.StatusOK, r.status, "the page's token pays: %s", r.body)
	require.Equal(t, true, r.json(t)["committed"])

	e.clk.Add(price.DefaultWindow)
	newer := load()
	assert.NotEqual(t, old, newer, "a load in the next window carries the next token")
	r = send(newer)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)

	// The old page, open past its token's life (its window and the next).
	e.clk.Add(price.DefaultWindow)
	r = send(old)
	require.Equal(t, http.StatusPaymentRequired, r.status, "an expired token is refused: %s", r.body)
	a := r.json(t)
	fresh, _ := a["token"].(string)
	require.NotEmpty(t, fresh, "the 402 names a fresh token")
	assert.NotEqual(t, old, fresh)
	assert.EqualValues(t, 0, a["bits"], "nothing to pay on an empty server")
	r = send(fresh)
	require.Equal(t, http.StatusOK, r.status, "the 402's token pays: %s", r.body)
	require.Equal(t, true, r.json(t)["committed"])
	assert.Equal(t, load(), fresh, "the token the 402 named is the one a page loaded now carries")
}

// TestLimitsPageHead: a HEAD of a page that carries the limits answers the length its GET
// would (no body), and the page for one route is the page for any other at the same instant.
func TestLimitsPageHead(t *testing.T) {
	d := newDropSite(t, 0, withRealPages())
	get := d.do(http.MethodGet, "/d/AAAAAAAAAAAAAAAAAAAAAA", "", nil, nil)
	head := d.do(http.MethodHead, "/d/AAAAAAAAAAAAAAAAAAAAAA", "", nil, nil)
	require.Equal(t, http.StatusOK, head.status)
	assert.Empty(t, head.body)
	assert.Equal(t, strconv.Itoa(len(get.body)), head.header.Get("Content-Length"))
	other := d.do(http.MethodGet, "/d/x", "", nil, nil)
	assert.Equal(t, string(get.body), string(other.body))
	assert.True(t, strings.HasPrefix(string(get.body), "<!doctype html>"))
}
