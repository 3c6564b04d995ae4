package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPreviewsNeverConsume (T10): GET and HEAD on every path of a note, from link-preview bot
// user agents, and form or text POSTs (what an HTML form or a "simple" cross-site request can
// send) never consume it: the note opens afterwards with its full body.
func TestPreviewsNeverConsume(t *testing.T) {
	e := newEnv(t)
	n := e.createNote(70000, true)
	agents := []string{"", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
		"facebookexternalhit/1.1", "Twitterbot/1.0", "TelegramBot (like TwitterBot)", "WhatsApp/2.23",
		"Mozilla/5.0 (compatible; Discordbot/2.0)", "curl/8.0"}
	paths := []string{"/n/" + n.id, "/m/" + n.id, "/api/v1/notes/" + n.id, "/api/v1/notes/" + n.id + "/open",
		"/api/v1/notes/" + n.id + "/confirm", "/api/v1/notes/" + n.id + "/data", "/api/v1/notes/" + n.id + "/commit",
		"/api/v1/notes/" + n.id + "/status", "/api/v1/notes/" + n.id + "/revoke", "/api/v1/limits", "/"}
	for _, ua := range agents {
		for _, p := range paths {
			for _, m := range []string{http.MethodGet, http.MethodHead} {
				r := e.do(m, p+"?gate="+b64(n.gate[:]), "", nil, map[string]string{"User-Agent": ua})
				assert.NotEqual(t, http.StatusInternalServerError, r.status)
			}
		}
	}
	// Form posts carrying every right the note has: refused before the vault.
	form := url.Values{"gate": {b64(n.gate[:])}, "claim": {hash(rand32())}, "open": {b64(n.open[:])},
		"manage": {b64(n.manage[:])}}.Encode()
	for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "", "application/json; charset=latin1", "application/jsonx"} {
		for _, action := range []string{"open", "revoke", "confirm", "commit"} {
			r := e.do(http.MethodPost, "/api/v1/notes/"+n.id+"/"+action, ct, []byte(form), nil)
			assert.Equal(t, http.StatusUnsupportedMediaType, r.status, "%s %q", action, ct)
		}
	}
	// A cross-site browser request with the right content type is refused too.
	good := mustJSON(n.openBody(rand32(), 0, &n.open))
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://evil.example"},
	} {
		r := e.do(http.MethodPost, "/api/v1/notes/"+n.id+"/open", "application/json", good, h)
		assert.Equal(t, http.StatusForbidden, r.status, "%v", h)
		assert.True(t, strings.Contains(string(r.body), "cross_origin"))
	}
	// The PIN countdown is untouched: the first wrong PIN still has 4 tries left.
	r := e.open(n, rand32(), 0, nil)
	require.Equal(t, http.StatusForbidden, r.status)
	require.EqualValues(t, 4, r.json(t)["tries_left"])
	// Still there and still whole.
	c := rand32()
	r = e.open(n, c, 0, &n.open)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, n.body, r.body)
	require.Equal(t, http.StatusNoContent, e.confirm(n, c).status)
}
