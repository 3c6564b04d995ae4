package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTor2webRefused: a request relayed by a Tor2web gateway (which adds X-Tor2web, with any
// value) gets a page that sends the visitor to Tor Browser, on every path: pages, scripts and
// the API alike; it reads nothing and consumes nothing (the same open without the header
// still succeeds), as SecureDrop does.
func TestTor2webRefused(t *testing.T) {
	e := newEnv(t, withRealPages())
	n := e.createNote(1000, false)
	relayed := map[string]string{"X-Tor2web": "encrypted"}
	for _, path := range []string{"/", "/n/" + n.id, "/static/js/create.js", "/no/such/page"} {
		r := e.do(http.MethodGet, path, "", nil, relayed)
		assert.Equal(t, http.StatusForbidden, r.status, path)
		assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"), path)
		assert.Contains(t, string(r.body), "Open this page in Tor Browser", path)
		assert.NotContains(t, string(r.body), "<script", path)
	}
	for _, value := range []string{"encrypted", "", "1"} {
		b, err := json.Marshal(n.openBody(rand32(), 0, nil))
		require.NoError(t, err)
		r := e.do(http.MethodPost, "/api/v1/notes/"+n.id+"/open", "application/json", b, map[string]string{"X-Tor2web": value})
		assert.Equal(t, http.StatusForbidden, r.status, "value %q", value)
		assert.Equal(t, "tor2web", r.json(t)["error"])
		r = e.do(http.MethodGet, "/api/v1/limits", "", nil, map[string]string{"X-Tor2web": value})
		assert.Equal(t, http.StatusForbidden, r.status)
	}
	// Nothing was consumed: the reader's own open, without the gateway, gets the note.
	c := rand32()
	r := e.open(n, c, 0, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, n.body, r.body)
	// Without the header, pages are served as always.
	r = e.do(http.MethodGet, "/", "", nil, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.False(t, strings.Contains(string(r.body), "Open this page in Tor Browser"))
}
