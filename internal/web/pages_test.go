package web_test

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/room"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// importRE finds static and dynamic module specifiers: import x from '...', import '...',
// export ... from '...', import('...').
var importRE = regexp.MustCompile(`(?m)(?:\bimport\s*(?:[\w*{}\s,$]+?\s*from\s*)?|\bexport\s*[\w*{}\s,$]*?\s*from\s*|\bimport\s*\(\s*)['"]([^'"]+)['"]`)

func sri(b []byte) string {
	s := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(s[:])
}

// checkPage returns every way page breaks the strict-CSP and pinning rules (T2). fetch
// returns the bytes the server serves for a same-origin path, or nil.
func checkPage(name string, page []byte, fetch func(string) []byte) []string {
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, name+": "+fmt.Sprintf(f, a...)) }
	preload := map[string]string{} // module path -> integrity
	var entries []string
	z := html.NewTokenizer(bytes.NewReader(page))
	inScript := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		tok := z.Token()
		switch tt {
		case html.TextToken:
			if inScript && strings.TrimSpace(tok.Data) != "" {
				bad("inline script body %q", tok.Data)
			}
		case html.EndTagToken:
			if tok.Data == "script" {
				inScript = false
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				k := strings.ToLower(a.Key)
				attrs[k] = a.Val
				if strings.HasPrefix(k, "on") {
					bad("event handler attribute %s on <%s>", k, tok.Data)
				}
				if k == "style" {
					bad("style attribute on <%s>", tok.Data)
				}
				if strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
					bad("javascript: URL in %s", k)
				}
			}
			switch tok.Data {
			case "style":
				bad("<style> element")
			case "script":
				inScript = tt == html.StartTagToken
				src, ok := attrs["src"]
				if !ok {
					bad("<script> without src")
					continue
				}
				if !sameOrigin(src) {
					bad("script %q is not same-origin", src)
					continue
				}
				body := fetch(src)
				if body == nil {
					bad("script %q is not served", src)
				} else if attrs["integrity"] != sri(body) {
					bad("script %q integrity %q does not match the served bytes", src, attrs["integrity"])
				}
				if attrs["type"] == "module" {
					entries = append(entries, src)
				}
			case "link":
				rel := strings.Fields(strings.ToLower(attrs["rel"]))
				for _, r := range rel {
					if r != "modulepreload" && r != "stylesheet" && r != "preload" && r != "icon" {
						continue
					}
					href := attrs["href"]
					if r == "icon" && href == "data:," {
						continue // an empty icon: stops the browser asking for /favicon.ico
					}
					if !sameOrigin(href) {
						bad("link %q is not same-origin", href)
						continue
					}
					body := fetch(href)
					if body == nil {
						bad("link %q is not served", href)
					} else if integ, ok := attrs["integrity"]; (r == "modulepreload" || ok) && integ != sri(body) {
						bad("link %q integrity %q does not match the served bytes", href, integ)
					}
					if r == "modulepreload" {
						preload[href] = attrs["integrity"]
					}
				}
			}
		}
	}
	// Every module reachable from an entry is pinned by a modulepreload.
	seen := map[string]bool{}
	queue := append([]string(nil), entries...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		src := fetch(p)
		if src == nil {
			continue
		}
		for _, m := range importRE.FindAllSubmatch(src, -1) {
			spec := string(m[1])
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") && !strings.HasPrefix(spec, "/") {
				bad("module %s imports %q, which is not a same-origin path", p, spec)
				continue
			}
			dep := spec
			if !strings.HasPrefix(spec, "/") {
				dep = path.Join(path.Dir(p), spec)
			}
			body := fetch(dep)
			switch integ, ok := preload[dep]; {
			case body == nil:
				bad("module %s imports %s, which is not served", p, dep)
			case !ok:
				bad("module %s (imported by %s) has no modulepreload", dep, p)
			case integ != sri(body):
				bad("module %s preload integrity does not match", dep)
			}
			queue = append(queue, dep)
		}
	}
	return problems
}

func sameOrigin(u string) bool {
	return strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") && !strings.Contains(u, "\\")
}

func (e *env) fetcher() func(string) []byte {
	return func(p string) []byte {
		r := e.do(http.MethodGet, p, "", nil, nil)
		if r.status != http.StatusOK {
			return nil
		}
		return r.body
	}
}

// TestPagesStrict (T2) checks the real pages: no inline script or style or handlers, every
// script same-origin and pinned with integrity matching the served bytes, and every module of
// each entry's import graph pinned by a modulepreload.
func TestPagesStrict(t *testing.T) {
	e := newEnv(t, withRealPages())
	for _, p := range []string{"/", "/n/someid", "/m/someid", "/no-such-page"} {
		r := e.do(http.MethodGet, p, "", nil, nil)
		require.Contains(t, []int{200, 404}, r.status)
		assert.Empty(t, checkPage(p, r.body, e.fetcher()))
	}
	// A page for one id is byte for byte the page for any other: it never touches the vault.
	assert.Equal(t, e.do("GET", "/n/AAAAAAAAAAAAAAAAAAAAAA", "", nil, nil).body, e.do("GET", "/n/x", "", nil, nil).body)
	assert.Equal(t, e.do("GET", "/m/AAAAAAAAAAAAAAAAAAAAAA", "", nil, nil).body, e.do("GET", "/m/x", "", nil, nil).body)
}

// TestChatPageStrict (T2) checks the chat pages the same way: /chat (start) and /c/{id}
// (join) pass checkPage, and the page for one id is the page for any other (it never touches
// a chat).
func TestChatPageStrict(t *testing.T) {
	v, err := vault.New(vault.Config{Budget: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	cs, err := chat.New(chat.Config{Vault: v})
	require.NoError(t, err)
	t.Cleanup(cs.Close)
	h, err := web.New(web.WithFS(web.Config{Vault: v, Chat: cs}, nil, nil))
	require.NoError(t, err)
	get, fetch := servePages(t, h)
	for _, p := range []string{"/chat", "/c/AAAAAAAAAAAAAAAAAAAAAA"} {
		st, body := get(p)
		require.Equal(t, http.StatusOK, st, p)
		assert.Empty(t, checkPage(p, body, fetch))
		assert.Contains(t, string(body), `src="/static/js/chat.js"`, "%s: the chat module is the page's entry", p)
		assert.NotContains(t, string(body), "sealdrop-limits", "%s: the chat page reads no limits, so it carries none", p)
	}
	_, one := get("/c/AAAAAAAAAAAAAAAAAAAAAA")
	_, other := get("/c/x")
	assert.Equal(t, one, other)
	assert.Zero(t, cs.Count(), "serving the pages made no chat")
}

// TestRoomPageStrict: the room pages, /room (create) and /g/{id} (an invite), pass checkPage,
// the page for one id is the page for any other, serving them makes no room, and the front page
// links to /room; without a room server neither is served.
func TestRoomPageStrict(t *testing.T) {
	v, err := vault.New(vault.Config{Budget: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	rs, err := room.New(room.Config{Vault: v})
	require.NoError(t, err)
	t.Cleanup(rs.Close)
	h, err := web.New(web.WithFS(web.Config{Vault: v, Room: rs}, nil, nil))
	require.NoError(t, err)
	get, fetch := servePages(t, h)
	for _, p := range []string{"/room", "/g/AAAAAAAAAAAAAAAAAAAAAA"} {
		st, body := get(p)
		require.Equal(t, http.StatusOK, st, p)
		assert.Empty(t, checkPage(p, body, fetch))
		assert.Contains(t, string(body), `src="/static/js/room.js"`, "%s: the room module is the page's entry", p)
		assert.Contains(t, string(body), "<noscript>", "%s: the page explains itself at Safest", p)
	}
	_, one := get("/g/AAAAAAAAAAAAAAAAAAAAAA")
	_, other := get("/g/x")
	assert.Equal(t, one, other)
	assert.Zero(t, rs.Count(), "serving the pages made no room")
	// The front page offers the room beside the chat and the drop box: a visitor finds it there.
	st, front := get("/")
	require.Equal(t, http.StatusOK, st)
	for _, link := range []string{`<a href="/chat" id="start-chat">`, `<a href="/room" id="start-room">`, `<a href="/drop" id="create-drop">`} {
		assert.Contains(t, string(front), link, "the front page links to every kind")
	}

	h2, err := web.New(web.WithFS(web.Config{Vault: v}, nil, nil))
	require.NoError(t, err)
	get2, _ := servePages(t, h2)
	for _, p := range []string{"/room", "/g/AAAAAAAAAAAAAAAAAAAAAA"} {
		st, _ := get2(p)
		assert.NotEqual(t, http.StatusOK, st, "%s without a room server", p)
	}
}

// servePages serves h and returns get, a GET's status and body, and fetch, the body of a GET
// that answered 200 (else nil), as checkPage wants it.
func servePages(t *testing.T, h http.Handler) (get func(path string) (int, []byte), fetch func(path string) []byte) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get = func(p string) (int, []byte) {
		res, err := srv.Client().Get(srv.URL + p)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, b
	}
	fetch = func(p string) []byte {
		if st, b := get(p); st == http.StatusOK {
			return b
		}
		return nil
	}
	return get, fetch
}

// TestPageCheckerCatches shows checkPage is not vacuous: each violation is reported.
func TestPageCheckerCatches(t *testing.T) {
	files := map[string][]byte{
		"/static/js/app.js":  []byte("import { x } from './dep.js';\nimport './side.js';\n"),
		"/static/js/dep.js":  []byte("export const x = 1;\n"),
		"/static/js/side.js": []byte("export {};\n"),
	}
	fetch := func(p string) []byte { return files[p] }
	good := `<script type="module" src="/static/js/app.js" integrity="` + sri(files["/static/js/app.js"]) + `"></script>` +
		`<link rel="modulepreload" href="/static/js/dep.js" integrity="` + sri(files["/static/js/dep.js"]) + `">` +
		`<link rel="modulepreload" href="/static/js/side.js" integrity="` + sri(files["/static/js/side.js"]) + `">`
	require.Empty(t, checkPage("good", []byte(good), fetch))
	for name, page := range map[string]string{
		"inline script":   good + `<script>alert(1)</script>`,
		"style attribute": good + `<p style="color:red">x</p>`,
		"style element":   good + `<style>p{}</style>`,
		"handler":         good + `<button onclick="x()">x</button>`,
		"foreign script":  good + `<script src="https://evil.example/x.js"></script>`,
		"wrong sri":       strings.Replace(good, sri(files["/static/js/app.js"]), sri([]byte("x")), 1),
		"missing preload": strings.Replace(good, `<link rel="modulepreload" href="/static/js/side.js"`, `<link rel="x" href="/static/js/side.js"`, 1),
	} {
		assert.NotEmpty(t, checkPage(name, []byte(page), fetch), name)
	}
}

// TestDropPagesStrict (T2) checks the drop pages the same way: /drop (create), /d/{route}
// (submit) and /i/{route} (inbox) pass checkPage, each has its own entry module, the page for
// one route is the page for any other, and serving them stores nothing. The front page lists
// the featured drops and links to /drop.
func TestDropPagesStrict(t *testing.T) {
	v, err := vault.New(vault.Config{Budget: 4 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	ds, err := drop.New(drop.Config{Vault: v, TTL: 24 * time.Hour})
	require.NoError(t, err)
	featured := []web.FeaturedDrop{{Name: "The <Daily> Ledger", Link: "/d/AAAAAAAAAAAAAAAAAAAAAA#xyz"}}
	h, err := web.New(web.WithFS(web.Config{Vault: v, Drops: ds, FeaturedDrops: featured}, nil, nil))
	require.NoError(t, err)
	get, fetch := servePages(t, h)
	for p, entry := range map[string]string{
		"/drop":                     "drop.js",
		"/d/AAAAAAAAAAAAAAAAAAAAAA": "submit.js",
		"/i/AAAAAAAAAAAAAAAAAAAAAA": "inbox.js",
		"/r/AAAAAAAAAAAAAAAAAAAAAA": "reply.js",
	} {
		st, body := get(p)
		require.Equal(t, http.StatusOK, st, p)
		assert.Empty(t, checkPage(p, body, fetch))
		assert.Contains(t, string(body), `src="/static/js/`+entry+`"`, "%s: entry module", p)
		assert.Contains(t, string(body), `id="noscript"`, "%s: noscript panel", p)
	}
	for _, pre := range []string{"/d/", "/i/", "/r/"} {
		_, one := get(pre + "AAAAAAAAAAAAAAAAAAAAAA")
		_, other := get(pre + "x")
		assert.Equal(t, one, other, pre)
	}
	_, front := get("/")
	assert.Contains(t, string(front), `href="/drop"`)
	assert.Contains(t, string(front), "Contact The &lt;Daily&gt; Ledger", "the name is escaped text")
	assert.Contains(t, string(front), `href="/d/AAAAAAAAAAAAAAAAAAAAAA#xyz"`)
	assert.Zero(t, v.Stats().Used, "serving the pages stored nothing")

	// Without a drop server there are no drop pages.
	h2, err := web.New(web.WithFS(web.Config{Vault: v}, nil, nil))
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h2.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/drop", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
}
