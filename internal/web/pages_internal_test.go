package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// The limits go into an attribute: whatever they hold, they stay its value. The JSON here is
// hostile (the real answer holds numbers and base64url only): quotes, angle brackets, an
// entity and a script; the page around it must parse as before, the attribute must read back
// as the JSON itself, and no element may come out of it.
func TestWriteLimitsPageEscapes(t *testing.T) {
	p, err := newPage([]byte(`<!doctype html><html><head><meta name="sealdrop-limits" content="` + limitsMarker +
		`"></head><body><p id="after">after</p></body></html>`))
	require.NoError(t, err)
	require.True(t, p.limits)
	for _, js := range []string{
		`{"version":1}`,
		`{"a":"\"><script>alert(1)</script><p id='x'>&amp;&#34;","b":"' onload='x()"}`,
		`"></meta><style>p{}</style><!--`,
	} {
		rec := httptest.NewRecorder()
		writeLimitsPage(rec, http.StatusOK, p, []byte(js))
		body := rec.Body.Bytes()
		assert.Equal(t, strconv.Itoa(len(body)), rec.Header().Get("Content-Length"))
		var content []string
		var elems []string
		z := html.NewTokenizer(bytes.NewReader(body))
		for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
			if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
				continue
			}
			tok := z.Token()
			elems = append(elems, tok.Data)
			for _, a := range tok.Attr {
				if tok.Data == "meta" && a.Key == "content" {
					content = append(content, a.Val)
				}
				assert.False(t, strings.HasPrefix(a.Key, "on"), "%q: an event handler attribute came out", js)
			}
		}
		assert.Equal(t, []string{js}, content, "the attribute reads back as the JSON")
		assert.Equal(t, []string{"html", "head", "meta", "body", "p"}, elems, "%q: no element came out of the JSON", js)
	}
}

// A rendered page holds the marker once (split there) or not at all (whole); twice is an
// error, since the answer could fill only one.
func TestNewPageMarker(t *testing.T) {
	p, err := newPage([]byte("<p>no limits</p>"))
	require.NoError(t, err)
	assert.False(t, p.limits)
	assert.Equal(t, "<p>no limits</p>", string(p.before))
	assert.Equal(t, "<p>no limits</p>", string(p.rendered()))

	p, err = newPage([]byte("a" + limitsMarker + "b"))
	require.NoError(t, err)
	assert.True(t, p.limits)
	assert.Equal(t, "a", string(p.before))
	assert.Equal(t, "b", string(p.after))
	assert.Equal(t, "a"+limitsMarker+"b", string(p.rendered()))

	_, err = newPage([]byte(limitsMarker + limitsMarker))
	assert.Error(t, err)
}
