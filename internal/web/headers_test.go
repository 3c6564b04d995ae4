package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/web"
)

var contract = map[string]string{
	"Content-Security-Policy":      web.CSP,
	"Referrer-Policy":              "no-referrer",
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Cache-Control":                "no-store",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
}

// fingerprints must never appear on any response.
var fingerprints = []string{"Date", "Server", "Etag", "Last-Modified", "X-Powered-By"}

func requireContract(t *testing.T, name string, h http.Header, ciphertext bool) {
	t.Helper()
	for k, want := range contract {
		if ciphertext && k == "Content-Security-Policy" {
			want = "sandbox"
		}
		assert.Equal(t, []string{want}, h.Values(k), "%s: header %s", name, k)
	}
	for _, k := range fingerprints {
		assert.Empty(t, h.Values(k), "%s: fingerprint header %s", name, k)
	}
}

// TestHeaderContract (T1) sends every route, every error that reaches a handler and a panic,
// and checks the full header set on each answer.
func TestHeaderContract(t *testing.T) {
	e := newEnv(t, withRealPages(), withRoute("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") }),
		withRoute("/api/v1/panic", func(http.ResponseWriter, *http.Request) { panic("boom") }),
		withWeb(func(c *web.Config) { c.MaxAppend = 1 << 10 }))
	n := e.createNote(1000, false)
	pinned := e.createNote(100, true)
	m := b64(n.manage[:])
	c := rand32()
	js, oct := "application/json", "application/octet-stream"
	manageBody := []byte(`{"manage":"` + m + `"}`)
	up, up2 := e.withToken(newNoteSecrets(100, false)), e.withToken(newNoteSecrets(100, false))

	type tc struct {
		name         string
		method, path string
		ctype        string
		body         []byte
		hdr          map[string]string
		status       int
		ciphertext   bool
	}
	cases := []tc{
		{"create page", "GET", "/", "", nil, nil, 200, false},
		{"create page HEAD", "HEAD", "/", "", nil, nil, 200, false},
		{"open page", "GET", "/n/" + n.id, "", nil, nil, 200, false},
		{"open page any id", "GET", "/n/whatever", "", nil, nil, 200, false},
		{"manage page", "GET", "/m/" + n.id, "", nil, nil, 200, false},
		{"static js", "GET", "/static/js/protocol.js", "", nil, nil, 200, false},
		{"static css", "GET", "/static/css/sealdrop.css", "", nil, nil, 200, false},
		{"static missing", "GET", "/static/js/nope.js", "", nil, nil, 404, false},
		{"static dir", "GET", "/static/js/", "", nil, nil, 404, false},
		{"static go file", "GET", "/static/static.go", "", nil, nil, 404, false},
		{"limits", "GET", "/api/v1/limits", "", nil, nil, 200, false},
		{"page 404", "GET", "/nope", "", nil, nil, 404, false},
		{"page 405", "POST", "/", "application/json", []byte("{}"), nil, 405, false},
		{"api 404", "GET", "/api/v1/nope", "", nil, nil, 404, false},
		{"api 405", "GET", "/api/v1/notes/" + n.id + "/open", "", nil, nil, 405, false},
		{"create", "POST", "/api/v1/notes", js, mustJSON(newNoteSecrets(64, false).createReq(64, nil)), nil, 201, false},
		{"create 400", "POST", "/api/v1/notes", js, []byte(`{"length":10}`), nil, 400, false},
		{"create bad ttl", "POST", "/api/v1/notes", js, mustJSON(newNoteSecrets(64, false).createReq(64, 7)), nil, 400, false},
		{"create 413", "POST", "/api/v1/notes", js, mustJSON(newNoteSecrets(64, false).createReq(1<<40, nil)), nil, 413, false},
		{"create 415", "POST", "/api/v1/notes", "application/x-www-form-urlencoded", []byte("length=1"), nil, 415, false},
		{"create big json 413", "POST", "/api/v1/notes", js, bytes.Repeat([]byte(" "), 5000), nil, 413, false},
		{"cross origin 403", "POST", "/api/v1/notes", js, []byte("{}"), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, false},
		{"append 413", "POST", "/api/v1/notes/" + n.id + "/data", oct, make([]byte, 2<<10),
			map[string]string{"Sealdrop-Manage": m, "Sealdrop-Offset": "0"}, 413, false},
		{"append gone", "POST", "/api/v1/notes/" + randomID() + "/data", oct, make([]byte, 10),
			map[string]string{"Sealdrop-Manage": m, "Sealdrop-Offset": "0"}, 404, false},
		{"append 415", "POST", "/api/v1/notes/" + n.id + "/data", js, []byte("{}"), nil, 415, false},
		{"upload", "POST", "/api/v1/notes/upload", oct, up.body, up.uploadHeader(100, 0), 200, false},
		{"upload 413", "POST", "/api/v1/notes/upload", oct, make([]byte, 2<<10), up.uploadHeader(4<<10, 0), 413, false},
		{"upload 400", "POST", "/api/v1/notes/upload", oct, up.body, map[string]string{"Sealdrop-Manage": m}, 400, false},
		{"upload gone", "POST", "/api/v1/notes/upload", oct, up.body[50:], up2.uploadHeader(100, 50), 404, false},
		{"upload 415", "POST", "/api/v1/notes/upload", js, []byte("{}"), nil, 415, false},
		{"status", "POST", "/api/v1/notes/" + n.id + "/status", js, manageBody, nil, 200, false},
		{"wrong pin", "POST", "/api/v1/notes/" + pinned.id + "/open", js, mustJSON(pinned.openBody(rand32(), 0, nil)), nil, 403, false},
		{"open", "POST", "/api/v1/notes/" + n.id + "/open", js, mustJSON(n.openBody(c, 0, nil)), nil, 200, true},
		{"confirm", "POST", "/api/v1/notes/" + n.id + "/confirm", js, []byte(`{"gate":"` + b64(n.gate[:]) + `","nonce":"` + b64(c[:]) + `"}`), nil, 204, false},
		{"open gone", "POST", "/api/v1/notes/" + n.id + "/open", js, mustJSON(n.openBody(c, 0, nil)), nil, 404, false},
		{"revoke gone", "POST", "/api/v1/notes/" + n.id + "/revoke", js, manageBody, nil, 404, false},
		{"panic page", "GET", "/panic", "", nil, nil, 500, false},
		{"panic api", "GET", "/api/v1/panic", "", nil, nil, 500, false},
	}
	for _, tc := range cases {
		r := e.do(tc.method, tc.path, tc.ctype, tc.body, tc.hdr)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		requireContract(t, tc.name, r.header, tc.ciphertext)
		if tc.ciphertext {
			assert.Equal(t, "application/octet-stream", r.header.Get("Content-Type"))
			assert.Equal(t, "attachment", r.header.Get("Content-Disposition"))
			assert.Equal(t, n.body, r.body)
		}
		if strings.HasPrefix(tc.path, "/api/") && tc.status != 204 && tc.method != "HEAD" && !tc.ciphertext {
			assert.Equal(t, "application/json", r.header.Get("Content-Type"), tc.name)
		}
		assert.NotContains(t, string(r.body), "boom", tc.name)
		assert.NotContains(t, string(r.body), "goroutine", tc.name)
		assert.NotContains(t, string(r.body), runtime.Version(), tc.name)
	}
	js2 := e.do("GET", "/static/js/protocol.js", "", nil, nil)
	assert.Equal(t, "text/javascript; charset=utf-8", js2.header.Get("Content-Type"))
	css := e.do("GET", "/static/css/sealdrop.css", "", nil, nil)
	assert.Equal(t, "text/css; charset=utf-8", css.header.Get("Content-Type"))
	// The 500 for a page is the uniform error page, byte for byte the 404's body.
	assert.Equal(t, e.do("GET", "/nope", "", nil, nil).body, e.do("GET", "/panic", "", nil, nil).body)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestNetHTTPOwnReplies (T1) lists the answers net/http writes before any handler runs and
// shows they carry no server data: no Date, no Server, no version, no echo of the request.
func TestNetHTTPOwnReplies(t *testing.T) {
	e := newEnv(t)
	addr := e.srv.Listener.Addr().String()
	secret := "zq7secretpathzq7"
	cases := []struct {
		name   string
		req    string
		status string
	}{
		{"bad request line", "GARBAGE " + secret + "\r\n\r\n", "400"},
		{"bad version", "GET /" + secret + " HTTP/9.9\r\nHost: x\r\n\r\n", "505"},
		{"no host", "GET /" + secret + " HTTP/1.1\r\n\r\n", "400"},
		{"bad host", "GET /" + secret + " HTTP/1.1\r\nHost: a b" + secret + "\r\n\r\n", "400"},
		{"huge header", "GET /" + secret + " HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", web.MaxHeaderBytes+8192) + "\r\n\r\n", "431"},
		{"bad transfer-encoding", "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "501"},
		{"bad header line", "GET / HTTP/1.1\r\nHost: x\r\n" + secret + "\r\n\r\n", "400"},
	}
	for _, tc := range cases {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
		_, _ = c.Write([]byte(tc.req))
		var out bytes.Buffer
		_, _ = out.ReadFrom(bufio.NewReader(c))
		c.Close()
		s := out.String()
		require.True(t, strings.HasPrefix(s, "HTTP/1.1 "+tc.status), "%s: got %q", tc.name, s)
		head, _, _ := strings.Cut(s, "\r\n\r\n")
		for _, f := range fingerprints {
			assert.NotContains(t, strings.ToLower(head), "\r\n"+strings.ToLower(f)+":", "%s", tc.name)
		}
		assert.NotContains(t, s, secret, tc.name)
		assert.NotContains(t, s, "go1.", tc.name)
		assert.NotContains(t, s, "127.0.0.1", tc.name)
		assert.Less(t, len(s), 300, "%s: %q", tc.name, s)
	}
}
