package browsertest

// The Chromium checks (off with SEALDROP_CHROMIUM=0): the core note flow in a second engine.
// Chromium is NOT Tor-like (see chromium.go); these tests use their own proxy and browser, so
// they share nothing with the Firefox pool.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const chromiumStep = 60 * time.Second

// stepTimer records how long each check took, for the report.
type stepTimer struct {
	mu    sync.Mutex
	steps []string
}

func (s *stepTimer) time(t *testing.T, name string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	d := time.Since(start).Round(time.Millisecond)
	s.mu.Lock()
	s.steps = append(s.steps, fmt.Sprintf("%s=%v", name, d))
	s.mu.Unlock()
	t.Logf("timing %s: %v", name, d)
}

func (s *stepTimer) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.steps, " ")
}

type chromiumEnv struct {
	proxy *FakeOnionProxy
	br    *Chromium
	dir   string
}

// startChromium starts a proxy and a Chromium that treats the proxy's onion as a secure
// origin; both are stopped when the test ends, and the test then checks no process is left.
func startChromium(t *testing.T, secure bool) *chromiumEnv {
	t.Helper()
	RequireChromium(t)
	p, err := NewFakeOnionProxy("", nil)
	require.NoError(t, err)
	e := &chromiumEnv{proxy: p, dir: t.TempDir()}
	o := ChromiumOptions{ProxyAddr: p.Addr(), TempRoot: e.dir}
	if secure {
		o.SecureOrigins = []string{p.Origin()}
	}
	start := time.Now()
	e.br, err = LaunchChromium(ctxT(t, ChromiumLaunchTimeout), o)
	if err != nil {
		_ = p.Close()
		t.Fatalf("launch chromium: %v", err)
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium output tail:\n%s", e.br.DiagTail())
		}
		e.br.Close()
		_ = p.Close()
		assertNoChromiumLeft(t, e.dir, e.br.PID())
	})
	return e
}

// assertNoChromiumLeft checks with pgrep (and /proc) that no process of the browser whose
// directory is under dir is alive, and that its process group is empty.
func assertNoChromiumLeft(t *testing.T, dir string, pgid int) {
	t.Helper()
	assert.Empty(t, ProcessesUsing(dir, false), "chromium processes left (by command line)")
	if pg, err := exec.LookPath("pgrep"); err == nil {
		out, err := exec.Command(pg, "-f", dir).Output()
		var live []string
		if err == nil {
			// pgrep also lists zombies still waiting for a parent; only live ones count.
			for _, f := range strings.Fields(string(out)) {
				if st, err := os.ReadFile("/proc/" + f + "/stat"); err == nil && !bytes.Contains(st, []byte(") Z ")) {
					live = append(live, f)
				}
			}
		}
		assert.Empty(t, live, "pgrep -f %s still finds chromium", dir)
	}
	if pgid > 0 {
		assert.ErrorIs(t, syscall.Kill(-pgid, 0), syscall.ESRCH, "chromium's process group must be empty")
	}
}

func (e *chromiumEnv) app(t *testing.T) int {
	t.Helper()
	_, mark := serveApp(t, e.proxy, appBudget, notesApp, nil)
	return mark
}

func (e *chromiumEnv) person(t *testing.T) *ChromiumTab {
	t.Helper()
	tab, err := e.br.NewPerson(ctxT(t, chromiumStep))
	require.NoError(t, err)
	t.Cleanup(tab.Close)
	return tab
}

// engine is the Chromium run's proxy and timeouts for the steps it shares with Firefox's.
func (e *chromiumEnv) engine() engine {
	return engine{proxy: e.proxy, step: chromiumStep, read: chromiumStep, slow: 2 * chromiumStep}
}

func (e *chromiumEnv) text(t *testing.T, tab *ChromiumTab, id string) string {
	t.Helper()
	return e.engine().text(t, tab, id)
}

func (e *chromiumEnv) createNote(t *testing.T, tab *ChromiumTab, in noteInput) created {
	t.Helper()
	return e.engine().createNote(t, tab, in, nil)
}

// openNote loads a link; nothing may reach the API before Reveal, and the key must leave the
// address bar.
func (e *chromiumEnv) openNote(t *testing.T, tab *ChromiumTab, link string) {
	t.Helper()
	e.engine().openUnused(t, tab, link, "reveal")
}

// assertClean: nothing but Chromium's own refused updater call left the onion origin at the
// proxy, every request the tabs made was for the onion (or blob:/data:), no request carries
// the key in any encoding or a PIN, and the tabs logged no error or CSP violation (other than
// the expected API statuses, see unexpectedErrors).
func (e *chromiumEnv) assertClean(t *testing.T, mark int, keys [][]byte, pins []string, apiStatuses []int, tabs ...*ChromiumTab) {
	t.Helper()
	recs := e.proxy.RecordsSince(mark)
	var foreign []string
	for _, r := range Foreign(recs, e.proxy.Host()) {
		if !IsChromiumBackground(r) {
			foreign = append(foreign, r.Method+" "+r.Host+" "+r.URL)
		}
	}
	assert.Empty(t, foreign, "requests that left the onion origin")
	assertNoSecretsSent(t, recs, keys, pins)
	for _, tab := range tabs {
		reqs := tab.Requests()
		assert.NotEmpty(t, reqs, "the request capture must see the tab's requests")
		assertRequestsOnOrigin(t, e.proxy.Origin(), reqs, keys)
		assert.Empty(t, e.unexpectedErrors(tab, apiStatuses...), "console errors (exceptions, CSP violations, failed loads)")
	}
}

// unexpectedErrors is tab.Errors() less Chromium's "Failed to load resource" entries for API
// answers the flow expects (404 for a gone note, 403 for a wrong PIN). Chromium logs every
// non-2xx fetch so, as an error, even when the page handles it; Firefox logs nothing for them.
// Only the API on the onion origin and only the listed statuses are let through: a failed
// page, script or style load still counts.
func (e *chromiumEnv) unexpectedErrors(tab *ChromiumTab, apiStatuses ...int) []LogEntry {
	var out []LogEntry
	for _, l := range tab.Errors() {
		expected := false
		if l.Type == "log:network" && strings.HasSuffix(l.Text, ")") {
			i := strings.LastIndex(l.Text, " (")
			if i > 0 && strings.HasPrefix(l.Text[i+2:], e.proxy.Origin()+"/api/v1/") {
				for _, st := range apiStatuses {
					if strings.HasPrefix(l.Text, fmt.Sprintf("Failed to load resource: the server responded with a status of %d ", st)) {
						expected = true
					}
				}
			}
		}
		if !expected {
			out = append(out, l)
		}
	}
	return out
}

func TestChromiumFlags(t *testing.T) {
	f := ChromiumFlags(ChromiumOptions{ProxyAddr: "127.0.0.1:9", SecureOrigins: []string{"http://x.onion"}, ExtraFlags: map[string]any{"mute-audio": false}})
	for _, k := range []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run", "disable-background-networking",
		"disable-component-update", "disable-sync", "disable-default-apps", "disable-extensions", "metrics-recording-only", "no-default-browser-check"} {
		assert.Equal(t, true, f[k], k)
	}
	assert.Equal(t, "http://127.0.0.1:9", f["proxy-server"])
	assert.Equal(t, "<-loopback>", f["proxy-bypass-list"])
	assert.Equal(t, "http://x.onion", f["unsafely-treat-insecure-origin-as-secure"])
	assert.Contains(t, f["disable-features"], "NetworkTimeServiceQuerying")
	assert.Equal(t, false, f["mute-audio"], "extra flags win")
	_, has := ChromiumFlags(ChromiumOptions{})["unsafely-treat-insecure-origin-as-secure"]
	assert.False(t, has, "no origin is treated as secure unless asked")

	assert.True(t, IsChromiumBackground(ProxyRecord{Method: "CONNECT", Host: "update.googleapis.com:443", Refused: true}))
	assert.True(t, IsChromiumBackground(ProxyRecord{Method: "POST", Host: "update.googleapis.com", URL: "http://update.googleapis.com/service/update2/json?cup2key=x", Refused: true}))
	for _, r := range []ProxyRecord{
		{Method: "POST", Host: "update.googleapis.com", URL: "http://update.googleapis.com/service/update2/json?cup2key=x"}, // served, not refused
		{Method: "GET", Host: "update.googleapis.com", URL: "http://update.googleapis.com/other", Refused: true},
		{Method: "GET", Host: "clients2.google.com", URL: "http://clients2.google.com/time/1/current", Refused: true},
		{Method: "CONNECT", Host: "example.com:443", Refused: true},
	} {
		assert.False(t, IsChromiumBackground(r), "%+v", r)
	}
}

// TestChromiumOnionNotSecureWithoutFlag documents the first difference from Tor Browser:
// Chromium does not count http://*.onion as a secure context, so the pages would have no
// crypto.subtle there; the harness passes --unsafely-treat-insecure-origin-as-secure. If this
// starts failing, Chromium changed and the flag (and this note) can go.
func TestChromiumOnionNotSecureWithoutFlag(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run("flag="+strconv.FormatBool(secure), func(t *testing.T) {
			e := startChromium(t, secure)
			e.proxy.SetHandler(smokeHandler(t))
			tab := e.person(t)
			ctx := ctxT(t, chromiumStep)
			require.NoError(t, tab.Navigate(ctx, e.proxy.Origin()+"/"))
			var r struct {
				Secure bool   `json:"secure"`
				Subtle string `json:"subtle"`
				Origin string `json:"origin"`
			}
			require.NoError(t, tab.Eval(ctx, `({secure: window.isSecureContext, subtle: typeof crypto.subtle, origin: location.origin})`, &r))
			assert.Equal(t, e.proxy.Origin(), r.Origin)
			assert.Equal(t, secure, r.Secure, "isSecureContext")
			if secure {
				assert.Equal(t, "object", r.Subtle)
				require.NoError(t, tab.WaitFor(ctx, `document.getElementById('status').textContent !== 'not run'`, 30*time.Second))
				assert.Equal(t, "done", e.text(t, tab, "status"), "WebCrypto, fetch and ECDH work once the origin is secure")
			} else {
				assert.Equal(t, "undefined", r.Subtle)
			}
		})
	}
}

// TestChromiumNotes runs the core note flow, the PIN flow and the console-capture control in
// one Chromium (started once: it is the slow part).
func TestChromiumNotes(t *testing.T) {
	e := startChromium(t, true)
	var timer stepTimer
	defer func() { t.Logf("chromium timings: %s", timer.summary()) }()

	t.Run("CSPViolationIsCaptured", func(t *testing.T) {
		// The control that makes "no CSP violation" meaningful: a blocked inline script
		// must reach the capture.
		timer.time(t, "csp-control", func() {
			e.proxy.SetHandler(smokeHandler(t))
			tab := e.person(t)
			ctx := ctxT(t, chromiumStep)
			require.NoError(t, tab.Navigate(ctx, e.proxy.Origin()+"/csp.html"))
			assert.Equal(t, "inline script blocked", e.text(t, tab, "status"))
			deadline := time.Now().Add(5 * time.Second)
			for len(tab.CSPViolations()) == 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			assert.NotEmpty(t, tab.CSPViolations(), "a CSP violation must reach the console capture")
			assert.NotEmpty(t, tab.Errors())
		})
	})

	t.Run("NoteTextAndFile", func(t *testing.T) {
		mark := e.app(t)
		sender := e.person(t)
		reader := e.person(t)
		id := uniq(t)
		binName := "report-" + id + ".bin"
		bin := randomBytes(t, 300<<10)
		msg := "Meet at the usual place.\nÜnïcødé ✓ <b>not bold</b> " + id
		var c created
		timer.time(t, "create", func() {
			c = e.createNote(t, sender, noteInput{text: msg, files: []string{writeFile(t, t.TempDir(), binName, bin)}})
		})
		assert.Contains(t, e.text(t, sender, "strip-report"), binName)
		timer.time(t, "open+reveal", func() {
			e.openNote(t, reader, c.link)
			require.NoError(t, reader.Click(ctxT(t, chromiumStep), "#reveal"))
			require.Equal(t, "note", waitAny(t, reader, 2*chromiumStep, "note", "gone", "error"))
		})
		assert.Equal(t, msg, e.text(t, reader, "note-text"))
		assert.Contains(t, e.text(t, reader, "note-files"), binName)
		timer.time(t, "download", func() {
			got, err := reader.Download(ctxT(t, 2*chromiumStep), fmt.Sprintf(`#note-files a[download=%q]`, binName), binName, chromiumStep)
			require.NoError(t, err)
			b, err := os.ReadFile(got)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(bin, b), "the file must arrive byte-identical (%d vs %d bytes)", len(b), len(bin))
		})
		timer.time(t, "reload-gone", func() {
			require.NoError(t, reader.Reload(ctxT(t, chromiumStep)))
			assert.Equal(t, "gone", waitAny(t, reader, chromiumStep, "gone", "reveal", "error"))
		})
		timer.time(t, "relink-gone", func() {
			other := e.person(t)
			e.openNote(t, other, c.link)
			require.NoError(t, other.Click(ctxT(t, chromiumStep), "#reveal"))
			assert.Equal(t, "gone", waitAny(t, other, 2*chromiumStep, "note", "gone", "error"))
			e.assertClean(t, mark, [][]byte{c.key}, nil, []int{404}, sender, reader, other)
		})
	})

	t.Run("PIN", func(t *testing.T) {
		mark := e.app(t)
		sender := e.person(t)
		reader := e.person(t)
		msg := "pin-protected " + uniq(t)
		var c created
		timer.time(t, "pin-create", func() {
			c = e.createNote(t, sender, noteInput{text: msg, pin: "246813"})
		})
		timer.time(t, "pin-wrong-wrong-right", func() {
			e.openNote(t, reader, c.link)
			require.NoError(t, reader.Click(ctxT(t, chromiumStep), "#reveal"))
			waitAny(t, reader, chromiumStep, "pin-prompt")
			for i, want := range []string{"4", "3"} {
				before := ""
				if i > 0 {
					before = e.text(t, reader, "tries-left")
				}
				require.Equal(t, "tries-left", e.engine().enterPIN(t, reader, "111111", before))
				assert.Contains(t, e.text(t, reader, "tries-left"), want)
			}
			require.Equal(t, "note", e.engine().enterPIN(t, reader, "246813", e.text(t, reader, "tries-left")))
		})
		assert.Equal(t, msg, e.text(t, reader, "note-text"))
		e.assertClean(t, mark, [][]byte{c.key}, []string{"246813", "111111"}, []int{403}, sender, reader)
	})

	t.Run("NoForeignRequestsAtAll", func(t *testing.T) {
		// Over the whole browser life so far: only the tolerated updater call, and it was
		// refused by the proxy.
		var other []string
		for _, r := range Foreign(e.proxy.Records(), e.proxy.Host()) {
			if IsChromiumBackground(r) {
				t.Logf("chromium's own background request (refused): %s %s", r.Method, r.URL)
				continue
			}
			other = append(other, r.Method+" "+r.URL)
		}
		assert.Empty(t, other)
	})
}

// TestChromiumKilledOnTimeoutAndClose: a start that times out leaves nothing behind, and Close
// after use kills the whole tree (checked with pgrep on the browser's own directory).
func TestChromiumKilledOnTimeoutAndClose(t *testing.T) {
	RequireChromium(t)
	p, err := NewFakeOnionProxy("", nil)
	require.NoError(t, err)
	defer p.Close()

	t.Run("launch-timeout", func(t *testing.T) {
		dir := t.TempDir()
		// Long enough for the process to exist, far too short for DevTools to answer.
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		c, err := LaunchChromium(ctx, ChromiumOptions{ProxyAddr: p.Addr(), TempRoot: dir})
		if err == nil {
			c.Close()
			t.Skip("chromium started within 150ms: the timeout path was not exercised")
		}
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assertNoChromiumLeft(t, dir, 0)
		entries, _ := os.ReadDir(dir)
		assert.Empty(t, entries, "the temporary profile is removed")
	})

	t.Run("close-after-use", func(t *testing.T) {
		dir := t.TempDir()
		c, err := LaunchChromium(ctxT(t, ChromiumLaunchTimeout), ChromiumOptions{ProxyAddr: p.Addr(), TempRoot: dir})
		require.NoError(t, err)
		tab, err := c.NewPerson(ctxT(t, chromiumStep))
		require.NoError(t, err)
		// A step that times out must not take the browser down by itself...
		short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		time.Sleep(2 * time.Millisecond)
		assert.Error(t, tab.WaitFor(short, "false", time.Second))
		cancel()
		require.NoError(t, tab.Navigate(ctxT(t, chromiumStep), "about:blank"), "the browser survives a timed-out step")
		// ...while Close must take everything.
		live := ProcessesUsing(dir, false)
		require.NotEmpty(t, live, "control: the scan finds the running browser")
		t.Logf("chromium ran %d processes", len(live))
		pgid := c.PID()
		require.NoError(t, syscall.Kill(-pgid, 0), "the group exists while running")
		start := time.Now()
		c.Close()
		c.Close() // idempotent
		t.Logf("close took %v", time.Since(start).Round(time.Millisecond))
		assertNoChromiumLeft(t, dir, pgid)
		_, err = os.Stat(c.Dir())
		assert.ErrorIs(t, err, os.ErrNotExist, "the temporary directory is removed")
		assert.NoDirExists(t, filepath.Join(c.Dir(), "profile"))
	})
}

// The filter for Chromium's failed-load entries must let through only the listed API statuses.
func TestChromiumUnexpectedErrorsFilter(t *testing.T) {
	p, err := NewFakeOnionProxy("", nil)
	require.NoError(t, err)
	defer p.Close()
	e := &chromiumEnv{proxy: p}
	failed := func(st int, u string) LogEntry {
		return LogEntry{Type: "log:network", Level: "error", Text: fmt.Sprintf("Failed to load resource: the server responded with a status of %d (X) (%s)", st, u)}
	}
	api := p.Origin() + "/api/v1/notes/abc/open"
	tab := &ChromiumTab{logs: []LogEntry{
		failed(404, api), // expected
		failed(500, api), // wrong status
		failed(404, p.Origin()+"/static/js/open.js"), // not the API
		failed(404, "http://other.onion/api/v1/notes/abc/open"),
		{Type: "javascript", Level: "error", Text: "TypeError: x"},
		{Type: "log:security", Level: "error", Text: "Refused to execute inline script because it violates the following Content Security Policy directive"},
		{Type: "console", Level: "info", Text: "fine"},
	}}
	got := e.unexpectedErrors(tab, 404)
	assert.Len(t, got, 5)
	for _, l := range got {
		assert.NotEqual(t, failed(404, api).Text, l.Text)
	}
	assert.Len(t, e.unexpectedErrors(tab), 6, "nothing is expected unless listed")
}
