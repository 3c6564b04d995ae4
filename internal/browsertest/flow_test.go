package browsertest

// The steps and checks that the Firefox scenarios (Tab) and the Chromium checks (ChromiumTab)
// share: each engine passes its proxy and its timeouts, the logic is one.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveApp serves a fresh sealdrop behind proxy: a vault of budget bytes, closed when the test
// ends, and the app web.New makes of cfg(v), with wrap (a middlebox) in front when not nil. It
// returns the vault and the proxy mark from which this test's requests are recorded.
func serveApp(t *testing.T, proxy *FakeOnionProxy, budget int64, cfg func(v *vault.Vault) web.Config, wrap func(http.Handler) http.Handler) (*vault.Vault, int) {
	t.Helper()
	v, err := vault.New(vault.Config{Budget: budget})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	h, err := web.New(cfg(v))
	require.NoError(t, err)
	var hh http.Handler = h
	if wrap != nil {
		hh = wrap(h)
	}
	proxy.SetHandler(hh)
	mark := proxy.Mark()
	t.Cleanup(func() {
		if t.Failed() {
			logRequests(t, proxy.RecordsSince(mark))
		}
	})
	return v, mark
}

// logRequests logs what the app was asked since a test began (its last 80 requests: when each
// came, on which connection, the offset of a piece, its body's size, and when its answer went
// out or that none did), so that a failed test shows where a flow stood.
func logRequests(t *testing.T, recs []ProxyRecord) {
	t.Helper()
	if len(recs) == 0 {
		return
	}
	t0 := recs[0].Time
	from := max(0, len(recs)-80)
	var b strings.Builder
	fmt.Fprintf(&b, "the app's requests (%d; the last %d), in ms from the first:\n", len(recs), len(recs)-from)
	for _, r := range recs[from:] {
		end := "no answer"
		if !r.End.IsZero() {
			end = fmt.Sprintf("answered %d", r.End.Sub(t0).Milliseconds())
		}
		path := r.URL
		if u, err := url.Parse(r.URL); err == nil {
			path = u.Path
		}
		fmt.Fprintf(&b, "  %7d conn %3d %s %s offset=%q body=%d %s\n", r.Time.Sub(t0).Milliseconds(), r.Conn,
			r.Method, path, r.Header.Get("Sealdrop-Offset"), len(r.Body), end)
	}
	t.Log(b.String())
}

// notesApp is the app with notes only.
func notesApp(v *vault.Vault) web.Config { return web.Config{Vault: v} }

// page is what the shared steps need from a tab of either engine.
type page interface {
	Navigate(ctx context.Context, url string) error
	URL(ctx context.Context) (string, error)
	CallFunction(ctx context.Context, fn string, out any, args ...any) error
	Text(ctx context.Context, selector string) (string, error)
	SetValue(ctx context.Context, selector, value string) error
	SetFiles(ctx context.Context, selector string, paths []string) error
	Click(ctx context.Context, selector string) error
}

// engine is what differs between one engine's runs of the same flow.
type engine struct {
	proxy *FakeOnionProxy
	step  time.Duration // one page load, or the wait for one view to show
	read  time.Duration // one DOM read
	slow  time.Duration // the wait for work in the page: the created links, a PIN's answer
}

// firefox is the engine of the Firefox scenarios (the shared pool). Safer (no JIT) on a busy
// two-core machine is slow.
func firefox() engine {
	return engine{proxy: pool.Proxy, step: pageTimeout, read: 30 * time.Second, slow: 4 * pageTimeout}
}

// text returns the textContent of #id.
func (g engine) text(t *testing.T, tab page, id string) string {
	t.Helper()
	s, err := tab.Text(ctxT(t, g.read), "#"+id)
	require.NoError(t, err)
	return s
}

// value returns the value of the form control #id.
func (g engine) value(t *testing.T, tab page, id string) string {
	t.Helper()
	var s string
	require.NoError(t, tab.CallFunction(ctxT(t, g.read), `(id) => document.getElementById(id).value`, &s, id))
	return s
}

// focusWait bounds the wait for the focus to arrive once a step's view shows: the pages move
// it in the same task that shows the view, or right after.
const focusWait = 15 * time.Second

// focused describes document.activeElement: "#id", its tag name when it has no id, or "none".
func (g engine) focused(t *testing.T, tab page) string {
	t.Helper()
	var s string
	require.NoError(t, tab.CallFunction(ctxT(t, g.read), `() => { const e = document.activeElement;
		return !e ? 'none' : e.id ? '#' + e.id : e.tagName.toLowerCase(); }`, &s))
	return s
}

// assertFocus checks that after step the focus is on #id (a heading with tabindex="-1", or
// the next control), not left on the page body or on a control that was hidden: it waits up
// to focusWait for it, and names what has the focus instead.
func (g engine) assertFocus(t *testing.T, tab page, id, step string) {
	t.Helper()
	deadline := time.Now().Add(focusWait)
	for {
		got := g.focused(t, tab)
		if got == "#"+id {
			return
		}
		if time.Now().After(deadline) {
			assert.Failf(t, "focus", "after %s the focus must be on #%s, it is on %s", step, id, got)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createNote fills in the create page as a person would and returns the two links; shot, when
// not nil, is called with a name where a screenshot is worth taking.
func (g engine) createNote(t *testing.T, tab page, in noteInput, shot func(name string)) created {
	t.Helper()
	if shot == nil {
		shot = func(string) {}
	}
	ctx := ctxT(t, 3*g.step)
	require.NoError(t, tab.Navigate(ctx, g.proxy.Origin()+"/"))
	waitAny(t, tab, g.step, "create")
	shot("create")
	require.NoError(t, tab.SetValue(ctx, "#text", in.text))
	if len(in.files) > 0 {
		require.NoError(t, tab.SetFiles(ctx, "#files", in.files))
		waitReport(t, tab, g.step)
	}
	if in.pin != "" {
		require.NoError(t, tab.SetValue(ctx, "#pin", in.pin))
	}
	if in.dpin != "" {
		require.NoError(t, tab.SetValue(ctx, "#dpin", in.dpin))
	}
	require.NoError(t, tab.Click(ctx, "#create"))
	got := waitAny(t, tab, g.slow, "result", "error")
	require.Equal(t, "result", got, "create failed: %s", g.text(t, tab, "error"))
	shot("create-result")
	g.assertFocus(t, tab, "result-heading", "creating a note")
	c := created{link: g.value(t, tab, "link"), manage: g.value(t, tab, "manage-link")}
	u, err := url.Parse(c.link)
	require.NoError(t, err)
	require.Equal(t, g.proxy.Host(), u.Host)
	frag, err := base64.RawURLEncoding.DecodeString(u.Fragment)
	require.NoError(t, err, "fragment %q", u.Fragment)
	require.Len(t, frag, 34)
	c.key = frag[2:]
	return c
}

// openUnused loads a one-time link and checks that nothing happened before the person clicks
// #button: the key is out of the address bar and no API request was sent.
func (g engine) openUnused(t *testing.T, tab page, link, button string) {
	t.Helper()
	ctx := ctxT(t, g.step)
	mark := g.proxy.Mark()
	require.NoError(t, tab.Navigate(ctx, link))
	waitAny(t, tab, g.step, button)
	u, err := tab.URL(ctx)
	require.NoError(t, err)
	assert.NotContains(t, u, "#", "the key must leave the address bar (history.replaceState)")
	for _, r := range g.proxy.RecordsSince(mark) {
		assert.NotContains(t, r.URL, "/api/", "nothing may reach the API before #%s: %s %s", button, r.Method, r.URL)
	}
}

// enterPIN types a PIN into the prompt and submits it; returns which element answered.
func (g engine) enterPIN(t *testing.T, tab page, pin string, before string) string {
	t.Helper()
	ctx := ctxT(t, g.step)
	require.NoError(t, tab.SetValue(ctx, "#pin-input", pin))
	require.NoError(t, tab.Click(ctx, "#pin-submit"))
	// tries-left is already visible after the first wrong PIN: wait for its text to change.
	deadline := time.Now().Add(g.slow)
	for time.Now().Before(deadline) {
		got := waitAny(t, tab, g.slow, "note", "gone", "error", "tries-left")
		if got != "tries-left" || g.text(t, tab, "tries-left") != before {
			// Each answer takes the focus to what comes next: the note's heading, the
			// gone heading, the error, or the emptied PIN box for another try.
			target := map[string]string{"note": "note-heading", "gone": "gone-heading", "error": "error", "tries-left": "pin-input"}[got]
			g.assertFocus(t, tab, target, "PIN "+pin)
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no answer to PIN %s", pin)
	return ""
}

// assertNoSecretsSent: no URL, header or body among recs carries a key in any encoding, nor a
// PIN in a URL, header or JSON body.
func assertNoSecretsSent(t *testing.T, recs []ProxyRecord, keys [][]byte, pins []string) {
	t.Helper()
	for _, r := range recs {
		var meta bytes.Buffer
		meta.WriteString(r.Method + " " + r.URL + "\n")
		for k, vs := range r.Header {
			for _, v := range vs {
				fmt.Fprintf(&meta, "%s: %s\n", k, v)
			}
		}
		for _, k := range keys {
			for _, n := range keyNeedles(k) {
				assert.False(t, bytes.Contains(meta.Bytes(), n), "key in %s %s (headers or URL)", r.Method, r.URL)
				assert.False(t, bytes.Contains(r.Body, n), "key in the body of %s %s", r.Method, r.URL)
			}
		}
		// Random ciphertext contains six given digits by chance about once per 30 MiB, so
		// the PIN is looked for in the text parts only.
		isJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
		for _, p := range pins {
			assert.NotContains(t, meta.String(), p, "PIN in %s %s", r.Method, r.URL)
			if isJSON {
				assert.NotContains(t, string(r.Body), p, "PIN in the JSON body of %s %s", r.Method, r.URL)
			}
		}
	}
}

// assertRequestsOnOrigin: every request a tab announced is for origin (or blob:/data:), and
// none of their URLs carries a key.
func assertRequestsOnOrigin(t *testing.T, origin string, reqs []NetRequest, keys [][]byte) {
	t.Helper()
	for _, r := range reqs {
		ok := strings.HasPrefix(r.URL, origin+"/") || strings.HasPrefix(r.URL, "blob:") || strings.HasPrefix(r.URL, "data:")
		assert.True(t, ok, "request outside the onion origin: %s", r.URL)
		// The browser reports the document URL with its fragment, which never goes on the
		// wire (the proxy records prove what does).
		wire, _, _ := strings.Cut(r.URL, "#")
		for _, k := range keys {
			for _, n := range keyNeedles(k) {
				assert.NotContains(t, wire, string(n), "key in a URL the browser requested")
			}
		}
	}
}

// assertJPEGStripped reads the downloaded picture at path and checks that its picture data is
// orig's and that none of secrets (each a control: orig carries it) is left; it returns what
// exiftool lists (empty without exiftool), after checking it names no GPS tag.
func assertJPEGStripped(t *testing.T, orig []byte, path string, secrets ...string) string {
	t.Helper()
	j, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, jpegScan(t, orig), jpegScan(t, j), "the picture data must be untouched")
	for _, secret := range secrets {
		assert.True(t, bytes.Contains(orig, []byte(secret)), "control: fixture carries %s", secret)
		assert.False(t, bytes.Contains(j, []byte(secret)), "%s must be stripped", secret)
	}
	et, err := exec.LookPath("exiftool")
	if err != nil {
		return ""
	}
	out, err := exec.Command(et, "-a", "-G1", "-s", path).Output()
	require.NoError(t, err)
	assert.NotContains(t, string(out), "GPS", "exiftool still finds GPS tags")
	return string(out)
}

// assertNoscriptPanel loads url in a tab at Safest and checks what a person sees there: the
// noscript panel, readable, naming Safer and saying calm, the app hidden; and that only GETs
// and no API call went out. ctx bounds the load.
func assertNoscriptPanel(t *testing.T, ctx context.Context, safest *Tab, name, url, calm, shot string) {
	t.Helper()
	before := pool.Proxy.Mark()
	require.NoError(t, safest.Navigate(ctx, url))
	assert.True(t, visible(t, safest, "noscript"), "%s: noscript panel visible", name)
	panel := text(t, safest, "noscript")
	assert.Contains(t, panel, "Safer", name)
	assert.Contains(t, panel, calm, name)
	assert.False(t, visible(t, safest, "app"), "%s: the app stays hidden without scripts", name)
	screenshot(t, safest, shot)
	for _, r := range pool.Proxy.RecordsSince(before) {
		if r.Method == http.MethodConnect && r.Refused {
			continue // Firefox's https attempt before plain http; refused, nothing sent
		}
		assert.Equal(t, http.MethodGet, r.Method, "%s: only GETs at Safest, got %s %s", name, r.Method, r.URL)
		assert.NotContains(t, r.URL, "/api/", "%s: no API call at Safest", name)
	}
}
