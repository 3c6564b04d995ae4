package browsertest

// Issue 5's scenarios for one-time notes, driven through the real pages in Firefox ESR at Tor
// Browser's security levels. Each test gets a fresh vault and app behind the shared proxy.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"math/bits"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memlocktest"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// pageTimeout bounds one page step; Safer (no JIT) on a busy two-core machine is slow.
const pageTimeout = 90 * time.Second

// appBudget is the vault of each app the scenarios start: 2 MiB holds the largest note,
// submission or chat file they send (300 KB; the create page offers the vault's free space
// rounded down to a power of two), and the three apps TestQRCodesDecodeToTheirLinks keeps
// alive stay inside an ordinary user's 8 MiB memlock limit. TestLargeFileSafer and
// TestDropPoWProgressAndFetchResumeSafer size their own.
const appBudget = 2 << 20

// startApp serves a fresh sealdrop (own vault of appBudget) behind the onion and returns the
// proxy mark from which this test's requests are recorded.
func startApp(t *testing.T) int {
	t.Helper()
	return startAppBudget(t, appBudget)
}

// startAppBudget is startApp with a vault of budget bytes.
func startAppBudget(t *testing.T, budget int64) int {
	t.Helper()
	_, mark := serveApp(t, pool.Proxy, budget, notesApp, nil)
	return mark
}

var (
	shotsOnce sync.Once
	shotsDir  string
)

// screenshot saves a PNG of the tab into $SEALDROP_SCREENSHOTS (default: a temporary
// directory that is kept and logged).
func screenshot(t *testing.T, tab *Tab, name string) {
	t.Helper()
	shotsOnce.Do(func() {
		shotsDir = os.Getenv("SEALDROP_SCREENSHOTS")
		if shotsDir == "" {
			shotsDir, _ = os.MkdirTemp("", "sealdrop-screenshots-")
		}
		_ = os.MkdirAll(shotsDir, 0o755)
	})
	p := filepath.Join(shotsDir, tab.Browser().Level.String()+"-"+name+".png")
	require.NoError(t, tab.Screenshot(ctxT(t, 30*time.Second), p))
	t.Logf("screenshot %s", p)
}

const visJS = `const vis = (id) => { const e = document.getElementById(id);
	if (!e || e.closest('[hidden]')) return false; const r = e.getBoundingClientRect();
	return r.width > 0 && r.height > 0; };`

// waitReport waits until the privacy filter's report on the picked files is complete (its
// list of files, shown after "Checking your files…") and fails on a read error. The report
// grows when it completes: a click on a control below it is sent after that, not while the
// control moves.
func waitReport(t *testing.T, tab page, timeout time.Duration) {
	t.Helper()
	ctx := ctxT(t, timeout+10*time.Second)
	deadline := time.Now().Add(timeout)
	for {
		var got string
		require.NoError(t, tab.CallFunction(ctx, `() => { `+visJS+`
			if (vis('error')) return 'error';
			return vis('strip-report') && document.querySelector('#strip-report ul') ? 'report' : ''; }`, &got))
		if got == "report" {
			return
		}
		if got == "error" || time.Now().After(deadline) {
			errText, _ := tab.Text(ctx, "#error")
			t.Fatalf("the file report is not complete after %v (#error: %q)", timeout, errText)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAny waits until one of the elements is visible and returns its id.
func waitAny(t *testing.T, tab page, timeout time.Duration, ids ...string) string {
	t.Helper()
	ctx := ctxT(t, timeout+10*time.Second)
	var got string
	deadline := time.Now().Add(timeout)
	for {
		err := tab.CallFunction(ctx, `(ids) => { `+visJS+` return ids.find(vis) || ''; }`, &got, ids)
		require.NoError(t, err)
		if got != "" {
			return got
		}
		if time.Now().After(deadline) {
			errText, _ := tab.Text(ctx, "#error")
			t.Fatalf("none of %v visible after %v (#error: %q)", ids, timeout, errText)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func visible(t *testing.T, tab *Tab, id string) bool {
	t.Helper()
	ok, err := tab.Visible(ctxT(t, 30*time.Second), "#"+id)
	require.NoError(t, err)
	return ok
}

// focusOn checks that after step the focus is on #id (engine.assertFocus).
func focusOn(t *testing.T, tab *Tab, id, step string) {
	t.Helper()
	firefox().assertFocus(t, tab, id, step)
}

func text(t *testing.T, tab *Tab, id string) string {
	t.Helper()
	return firefox().text(t, tab, id)
}

func value(t *testing.T, tab *Tab, id string) string {
	t.Helper()
	return firefox().value(t, tab, id)
}

type noteInput struct {
	text  string
	files []string
	pin   string
	dpin  string
	shots bool // save screenshots of the create page
}

type created struct {
	link, manage string
	key          []byte // K, from the link's fragment
}

// createNote fills in the create page as a person would and returns the two links.
func createNote(t *testing.T, tab *Tab, in noteInput) created {
	t.Helper()
	var shot func(string)
	if in.shots {
		shot = func(name string) { screenshot(t, tab, name) }
	}
	return firefox().createNote(t, tab, in, shot)
}

// openNote loads a note link and checks that nothing happened before Reveal: the key is out of
// the address bar and no API request was sent.
func openNote(t *testing.T, tab *Tab, link, shot string) {
	t.Helper()
	firefox().openUnused(t, tab, link, "reveal")
	if shot != "" {
		screenshot(t, tab, shot)
	}
}

// enterPIN types a PIN into the prompt and submits it; returns which element answered.
func enterPIN(t *testing.T, tab *Tab, pin string, before string) string {
	t.Helper()
	return firefox().enterPIN(t, tab, pin, before)
}

// pageState is what a person (or someone watching their screen) can see on the open page.
type pageState struct {
	Visible []string
	Tries   string
	Error   string
	Input   string
}

func readState(t *testing.T, tab *Tab) pageState {
	t.Helper()
	var s pageState
	require.NoError(t, tab.CallFunction(ctxT(t, 30*time.Second), `() => { `+visJS+`
		const ids = ['intro', 'pin-prompt', 'tries-left', 'progress-box', 'error', 'note', 'gone'];
		return { Visible: ids.filter(vis), Tries: document.getElementById('tries-left').textContent,
			Error: document.getElementById('error').textContent, Input: document.getElementById('pin-input').value }; }`, &s))
	return s
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func uniq(t *testing.T) string { return hex.EncodeToString(randomBytes(t, 4)) }

// jpegScan returns a JPEG's entropy-coded data: from the first SOS marker to the end.
func jpegScan(t *testing.T, b []byte) []byte {
	t.Helper()
	i := bytes.Index(b, []byte{0xff, 0xda})
	require.Greater(t, i, 0, "no SOS marker")
	return b[i:]
}

// keyNeedles are the encodings of the read key that must never be on the wire: raw, hex, and
// base64 and base64url at each of the three alignments it can have inside a longer encoding.
func keyNeedles(k []byte) [][]byte {
	out := [][]byte{k, []byte(hex.EncodeToString(k)), []byte(strings.ToUpper(hex.EncodeToString(k)))}
	for shift := 0; shift < 3; shift++ {
		in := append(make([]byte, shift), k...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			s := enc.EncodeToString(in)
			// Drop the characters that also depend on the prefix or on what follows.
			start := (shift*8 + 5) / 6
			end := (len(in) * 8) / 6
			out = append(out, []byte(s[start:end]))
		}
	}
	return out
}

// assertClean is scenario 6 for the requests since mark: nothing left the onion origin, and
// no URL, header or body carries the read key in any encoding, nor the PIN in a URL, header or
// JSON body. It also asserts that the tabs logged no error and no CSP violation.
func assertClean(t *testing.T, mark int, keys [][]byte, pins []string, tabs ...*Tab) {
	t.Helper()
	recs := pool.Proxy.RecordsSince(mark)
	assert.Empty(t, Foreign(recs, pool.Proxy.Host()), "requests that left the onion origin")
	assertNoSecretsSent(t, recs, keys, pins)
	for _, tab := range tabs {
		assertRequestsOnOrigin(t, pool.Proxy.Origin(), tab.Requests(), keys)
		assert.Empty(t, tab.Errors(), "console errors (JavaScript errors, CSP violations)")
	}
}

func levelsUnder(t *testing.T, levels []Level, f func(t *testing.T, l Level)) {
	for _, l := range levels {
		t.Run(l.String(), func(t *testing.T) {
			RequireBrowser(t)
			start := time.Now()
			f(t, l)
			t.Logf("%s %s took %v", t.Name(), l, time.Since(start).Round(time.Millisecond))
		})
	}
}

var scripted = []Level{Standard, Safer}

func fixture(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "static", "test", "fixtures", name))
	require.NoError(t, err)
	_, err = os.Stat(p)
	require.NoError(t, err, "fixture %s (made by the pages helper)", name)
	return p
}

// Scenario 1: text and two files, one a JPEG with GPS and camera tags → second person opens
// once → the text and the plain file are byte-identical, the JPEG's picture is intact and its
// tags gone → reload and the link itself both show the gone page.
func TestNoteTextAndFiles(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		mark := startApp(t)
		sender := pool.Person(t, l)
		reader := pool.Person(t, l)
		dir := t.TempDir()
		id := uniq(t)
		jpegOrig, err := os.ReadFile(fixture(t, "gps.jpg"))
		require.NoError(t, err)
		jpegName := "photo-" + id + ".jpg"
		binName := "report-" + id + ".bin"
		bin := randomBytes(t, 300<<10)
		msg := "Meet at the usual place.\nÜnïcødé ✓ <b>not bold</b> " + id
		c := createNote(t, sender, noteInput{
			text:  msg,
			files: []string{writeFile(t, dir, jpegName, jpegOrig), writeFile(t, dir, binName, bin)},
			shots: true,
		})
		report := text(t, sender, "strip-report")
		assert.Contains(t, report, jpegName)
		assert.Contains(t, strings.ToLower(report), "gps", "the report must say the location was removed")
		visQR, err := sender.Visible(ctxT(t, 10*time.Second), "#qr svg")
		require.NoError(t, err)
		assert.True(t, visQR, "QR code drawn")

		openNote(t, reader, c.link, "open")
		require.NoError(t, reader.Click(ctxT(t, 10*time.Second), "#reveal"))
		require.Equal(t, "note", waitAny(t, reader, 3*pageTimeout, "note", "gone", "error"))
		focusOn(t, reader, "note-heading", "opening the note")
		screenshot(t, reader, "open-note")
		assert.Equal(t, msg, text(t, reader, "note-text"))
		files := text(t, reader, "note-files")
		assert.Contains(t, files, jpegName)
		assert.Contains(t, files, binName)

		ctx := ctxT(t, 2*pageTimeout)
		gotBin, err := reader.Download(ctx, fmt.Sprintf(`#note-files a[download=%q]`, binName), binName, pageTimeout)
		require.NoError(t, err)
		b, err := os.ReadFile(gotBin)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(bin, b), "the plain file must arrive byte-identical")
		gotJPEG, err := reader.Download(ctx, fmt.Sprintf(`#note-files a[download=%q]`, jpegName), jpegName, pageTimeout)
		require.NoError(t, err)
		exif := assertJPEGStripped(t, jpegOrig, gotJPEG, "CanonSecret", "EOS-Leak", "SN123456789", "Jane Source", "Hiddenville", "safehouse", "LeakyCam")
		assert.NotContains(t, exif, "[IFD0]", "exiftool still finds EXIF camera tags")

		require.NoError(t, reader.Reload(ctxT(t, pageTimeout)))
		assert.Equal(t, "gone", waitAny(t, reader, pageTimeout, "gone", "reveal", "error"))
		focusOn(t, reader, "gone-heading", "reloading an opened note")
		screenshot(t, reader, "gone")
		// The link itself, key included, in another person's context: gone on the server.
		other := pool.Person(t, l)
		openNote(t, other, c.link, "")
		require.NoError(t, other.Click(ctxT(t, 10*time.Second), "#reveal"))
		assert.Equal(t, "gone", waitAny(t, other, 3*pageTimeout, "note", "gone", "error"))
		focusOn(t, other, "gone-heading", "Reveal on an opened note")

		assertClean(t, mark, [][]byte{c.key}, nil, sender, reader, other)
	})
}

// Scenario 2: two wrong PINs show the tries left; the right PIN opens.
func TestNotePIN(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		mark := startApp(t)
		sender := pool.Person(t, l)
		reader := pool.Person(t, l)
		msg := "pin-protected " + uniq(t)
		c := createNote(t, sender, noteInput{text: msg, pin: "246813"})
		assert.True(t, visible(t, sender, "pin-reminder"))
		openNote(t, reader, c.link, "")
		require.NoError(t, reader.Click(ctxT(t, 10*time.Second), "#reveal"))
		waitAny(t, reader, pageTimeout, "pin-prompt")
		focusOn(t, reader, "pin-input", "Reveal on a note with a PIN")
		screenshot(t, reader, "pin-prompt")
		for i, want := range []string{"4", "3"} {
			before := ""
			if i > 0 {
				before = text(t, reader, "tries-left")
			}
			require.Equal(t, "tries-left", enterPIN(t, reader, "111111", before))
			assert.Contains(t, text(t, reader, "tries-left"), want)
		}
		screenshot(t, reader, "pin-wrong")
		require.Equal(t, "note", enterPIN(t, reader, "246813", text(t, reader, "tries-left")))
		assert.Equal(t, msg, text(t, reader, "note-text"))
		assertClean(t, mark, [][]byte{c.key}, []string{"246813", "111111"}, sender, reader)
	})
}

// Scenario 3: the destruct PIN looks exactly like a wrong PIN, and the note is gone for
// everyone afterwards; the same steps with a plain wrong PIN leave the note readable (control).
func TestNoteDestructPIN(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		mark := startApp(t)
		sender := pool.Person(t, l)
		in := noteInput{text: "duress " + uniq(t), pin: "135790", dpin: "864200"}
		wrongNote := createNote(t, sender, in)
		destructNote := createNote(t, sender, in)

		try := func(link, pin string) pageState {
			r := pool.Person(t, l)
			openNote(t, r, link, "")
			require.NoError(t, r.Click(ctxT(t, 10*time.Second), "#reveal"))
			waitAny(t, r, pageTimeout, "pin-prompt")
			enterPIN(t, r, pin, "")
			st := readState(t, r)
			assertClean(t, mark, nil, nil, r)
			return st
		}
		wrong := try(wrongNote.link, "999999")
		destruct := try(destructNote.link, "864200")
		assert.Equal(t, wrong, destruct, "a destruct PIN must look exactly like a wrong PIN")
		assert.Contains(t, wrong.Visible, "tries-left")

		// For everyone: the destroyed note never opens again, even with the right PIN (which
		// now counts as a failure, SECURITY.md "Typing a PIN") until the countdown ends in
		// gone; the control note opens with the right PIN.
		r := pool.Person(t, l)
		openNote(t, r, destructNote.link, "")
		require.NoError(t, r.Click(ctxT(t, 10*time.Second), "#reveal"))
		waitAny(t, r, pageTimeout, "pin-prompt")
		final := ""
		for i := 0; i < 5 && final != "gone"; i++ {
			before := ""
			if visible(t, r, "tries-left") {
				before = text(t, r, "tries-left")
			}
			final = enterPIN(t, r, "135790", before)
			require.NotEqual(t, "note", final, "a destroyed note must never open")
		}
		assert.Equal(t, "gone", final, "the countdown must end in gone")
		screenshot(t, r, "destructed-gone")
		ctrl := pool.Person(t, l)
		openNote(t, ctrl, wrongNote.link, "")
		require.NoError(t, ctrl.Click(ctxT(t, 10*time.Second), "#reveal"))
		waitAny(t, ctrl, pageTimeout, "pin-prompt")
		assert.Equal(t, "note", enterPIN(t, ctrl, "135790", ""), "control: the note tried with a plain wrong PIN still opens")
		assertClean(t, mark, [][]byte{wrongNote.key, destructNote.key}, []string{"135790", "864200", "999999"}, sender, r, ctrl)
	})
}

func manageState(t *testing.T, tab *Tab, want string) {
	t.Helper()
	ctx := ctxT(t, pageTimeout)
	require.NoError(t, tab.WaitFor(ctx, `document.getElementById('status').dataset.state === `+jsString(want), pageTimeout),
		"manage state %q, have %q", want, text(t, tab, "status-title"))
}

// Scenario 4: the manage link shows waiting, then opened; revoking another note makes it gone
// for its reader.
func TestManageLink(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		mark := startApp(t)
		sender := pool.Person(t, l)
		reader := pool.Person(t, l)
		a := createNote(t, sender, noteInput{text: "managed " + uniq(t)})
		ctx := ctxT(t, 5*pageTimeout)
		require.NoError(t, sender.Navigate(ctx, a.manage))
		manageState(t, sender, "waiting")
		screenshot(t, sender, "manage-waiting")
		openNote(t, reader, a.link, "")
		require.NoError(t, reader.Click(ctx, "#reveal"))
		require.Equal(t, "note", waitAny(t, reader, 3*pageTimeout, "note", "gone", "error"))
		// The reader's confirm is sent in the background after the note shows: poll.
		deadline := time.Now().Add(pageTimeout)
		for {
			require.NoError(t, sender.Click(ctx, "#refresh"))
			var st string
			require.NoError(t, sender.Eval(ctx, `document.getElementById('status').dataset.state`, &st))
			if st == "opened" || time.Now().After(deadline) {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		manageState(t, sender, "opened")
		screenshot(t, sender, "manage-opened")

		b := createNote(t, sender, noteInput{text: "to revoke " + uniq(t)})
		require.NoError(t, sender.Navigate(ctx, b.manage))
		manageState(t, sender, "waiting")
		// By keyboard: Enter on "Delete the note now" asks first, with the focus on the
		// answer that keeps the note, so Enter twice (or thrice) deletes nothing.
		require.NoError(t, sender.Focus(ctx, "#revoke"))
		require.NoError(t, sender.Press(ctx, KeyEnter))
		waitAny(t, sender, pageTimeout, "revoke-confirm")
		focusOn(t, sender, "revoke-cancel", `Enter on "Delete the note now"`)
		require.NoError(t, sender.Press(ctx, KeyEnter))
		require.NoError(t, sender.WaitFor(ctx, `document.getElementById('revoke-confirm').hidden`, pageTimeout), "Enter on Cancel closes the question")
		focusOn(t, sender, "revoke", "Cancel")
		require.NoError(t, sender.Press(ctx, KeyEnter))
		waitAny(t, sender, pageTimeout, "revoke-confirm")
		focusOn(t, sender, "revoke-cancel", `Enter on "Delete the note now" again`)
		// The server still has it: a fresh status says waiting (the click disables Refresh
		// until the answer is shown), and the deletion below is the sender's, not a no-op.
		require.NoError(t, sender.Click(ctx, "#refresh"))
		require.NoError(t, sender.WaitFor(ctx, `!document.getElementById('refresh').disabled`, pageTimeout))
		manageState(t, sender, "waiting")
		require.NoError(t, sender.Click(ctx, "#revoke"))
		waitAny(t, sender, pageTimeout, "revoke-yes")
		require.NoError(t, sender.Click(ctx, "#revoke-yes"))
		manageState(t, sender, "gone")
		focusOn(t, sender, "status-heading", "deleting the note")
		assert.Equal(t, "You deleted the note. Nobody can open it now.", text(t, sender, "status-text"), "the note was still there to delete")
		screenshot(t, sender, "manage-revoked")
		r2 := pool.Person(t, l)
		openNote(t, r2, b.link, "")
		require.NoError(t, r2.Click(ctx, "#reveal"))
		assert.Equal(t, "gone", waitAny(t, r2, 3*pageTimeout, "note", "gone", "error"))
		assertClean(t, mark, [][]byte{a.key, b.key}, nil, sender, reader, r2)
	})
}

// Scenario 5: at Safest every page shows its noscript panel, readable, and nothing is
// consumed: the same link opens afterwards at Safer.
func TestSafestNoscript(t *testing.T) {
	RequireBrowser(t)
	mark := startApp(t)
	sender := pool.Person(t, Safer)
	msg := "safest " + uniq(t)
	c := createNote(t, sender, noteInput{text: msg})
	safest := pool.Person(t, Safest)
	ctx := ctxT(t, 5*pageTimeout)
	for _, p := range []struct{ name, url, calm string }{
		{"create", pool.Proxy.Origin() + "/", "Nothing was sent"},
		{"open", c.link, "The note has not been opened"},
		{"manage", c.manage, "Nothing was changed"},
	} {
		assertNoscriptPanel(t, ctx, safest, p.name, p.url, p.calm, p.name)
	}
	// Nothing consumed: the same link still opens, at Safer.
	reader := pool.Person(t, Safer)
	openNote(t, reader, c.link, "")
	require.NoError(t, reader.Click(ctx, "#reveal"))
	require.Equal(t, "note", waitAny(t, reader, 3*pageTimeout, "note", "gone", "error"))
	assert.Equal(t, msg, text(t, reader, "note-text"))
	assertClean(t, mark, [][]byte{c.key}, nil, sender, safest, reader)
}

// progressSampler records the distinct values of progress bars while a step runs.
func progressSampler(t *testing.T, tab *Tab, ids ...string) (stop func() map[string][]float64) {
	t.Helper()
	seen := map[string][]float64{}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var vals []float64
			err := tab.CallFunction(ctx, `(ids) => ids.map((id) => { const e = document.getElementById(id); return e ? e.value / (e.max || 1) : -1; })`, &vals, ids)
			cancel()
			if err != nil {
				continue
			}
			for i, id := range ids {
				s := seen[id]
				if len(s) == 0 || s[len(s)-1] != vals[i] {
					seen[id] = append(s, vals[i])
				}
			}
		}
	}()
	return func() map[string][]float64 {
		close(done)
		<-finished
		return seen
	}
}

// progressRecorder is progressSampler for a step too quick to watch: a MutationObserver in the
// page records each distinct value the page gives the bars, however fast it goes through them.
func progressRecorder(t *testing.T, tab *Tab, ids ...string) (stop func() map[string][]float64) {
	t.Helper()
	require.NoError(t, tab.CallFunction(ctxT(t, 30*time.Second), `(ids) => {
		const seen = {};
		const look = () => {
			for (const id of ids) {
				const e = document.getElementById(id);
				const v = e ? e.value / (e.max || 1) : -1;
				const s = seen[id] || (seen[id] = []);
				if (s.length === 0 || s[s.length - 1] !== v) s.push(v);
			}
		};
		const mo = new MutationObserver(look);
		for (const id of ids) {
			const e = document.getElementById(id);
			if (e) mo.observe(e, { attributes: true, attributeFilter: ['value', 'max'] });
		}
		look();
		window.__progress = { seen, mo };
	}`, nil, ids))
	return func() map[string][]float64 {
		seen := map[string][]float64{}
		require.NoError(t, tab.CallFunction(ctxT(t, 30*time.Second), `() => { window.__progress.mo.disconnect(); return window.__progress.seen; }`, &seen))
		return seen
	}
}

// bars prints what a sampler saw: the values, or their count and ends when there are many.
func bars(seen map[string][]float64) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(seen)) {
		v := seen[id]
		if len(v) > 8 {
			parts = append(parts, fmt.Sprintf("%s: %d values from %.3g to %.3g", id, len(v), v[0], v[len(v)-1]))
		} else {
			parts = append(parts, fmt.Sprintf("%s: %.3g", id, v))
		}
	}
	return strings.Join(parts, "; ")
}

func movedThrough(vals []float64) bool {
	for _, v := range vals {
		if v > 0 && v < 1 {
			return true
		}
	}
	return false
}

// Scenario 7: a 25 MiB file at Safer (no JIT): the progress bars move and it arrives intact.
//
// The page sends a note only when its sealed size (the plaintext padded, then the envelope)
// fits in the free space /limits reports, the vault's rounded down to a power of two: the
// 25 MiB file needs a 32 MiB vault. Where this process may not lock that much (an ordinary
// user's 8 MiB memlock limit allows a 7.75 MiB vault, so the page is offered 4 MiB), the file
// is the largest whose note the page is offered room for, in whole 64 KiB chunks (3.88 MiB
// under 8 MiB: 62 chunks, four appends), and the test logs its size. Such a file is encrypted,
// sent, fetched and decrypted over loopback in a few frames each, too quickly for a person, or
// a poll every 50 ms, to see a bar move: at that size the test records every value the page
// gives the bars and checks that they pass between 0 and 1 (the page reports each chunk and
// append), and says so; the 25 MiB file's bars must be seen moving. Below a 4 MiB vault the
// test fails, as the file would be under 2 MiB.
func TestLargeFileSafer(t *testing.T) {
	RequireBrowser(t)
	budget := memlocktest.Budget(t, 32<<20, 4<<20)
	offered := int64(1) << (bits.Len64(uint64(budget)) - 1) // the free space the page is told
	name := "big-" + uniq(t) + ".bin"
	size := int64(25 << 20)
	for ; ; size -= 64 << 10 {
		sealed, err := protocol.SealedNoteLen("", []protocol.File{{Name: name, Type: "application/octet-stream", Size: size}})
		require.NoError(t, err)
		if sealed <= offered-4<<10 { // 4 KiB for what the browser's manifest may add
			break
		}
	}
	mib := fmt.Sprintf("%.2f MiB", float64(size)/(1<<20))
	if size < 25<<20 {
		t.Logf("a file of %s (%d bytes) instead of 25 MiB: the vault is %s", mib, size, memlocktest.Size(budget))
	}
	watch := progressSampler // what a person watching would see: polled every 50 ms
	if size < 25<<20 {
		watch = progressRecorder
		t.Logf("a %s file goes through in a few frames, too quickly to watch its bars move: the test checks that the page moves them through values between 0 and 1 (every value it sets is recorded)", mib)
	}
	mark := startAppBudget(t, budget)
	sender := pool.Person(t, Safer)
	reader := pool.Person(t, Safer)
	big := randomBytes(t, int(size))
	path := writeFile(t, t.TempDir(), name, big)
	ctx := ctxT(t, 10*pageTimeout)

	require.NoError(t, sender.Navigate(ctx, pool.Proxy.Origin()+"/"))
	waitAny(t, sender, pageTimeout, "create")
	require.NoError(t, sender.SetFiles(ctx, "#files", []string{path}))
	waitAny(t, sender, pageTimeout, "strip-report")
	start := time.Now()
	stop := watch(t, sender, "progress-encrypt", "progress-upload")
	require.NoError(t, sender.Click(ctx, "#create"))
	got := waitAny(t, sender, 8*pageTimeout, "result", "error")
	seen := stop()
	require.Equal(t, "result", got, "create failed: %s", text(t, sender, "error"))
	t.Logf("%s at Safer: encrypt+upload %v; progress seen %s", mib, time.Since(start).Round(time.Millisecond), bars(seen))
	assert.True(t, movedThrough(seen["progress-encrypt"]), "encrypt progress must move: %v", seen["progress-encrypt"])
	assert.True(t, movedThrough(seen["progress-upload"]), "upload progress must move: %v", seen["progress-upload"])
	link := value(t, sender, "link")
	u, err := url.Parse(link)
	require.NoError(t, err)
	frag, err := base64.RawURLEncoding.DecodeString(u.Fragment)
	require.NoError(t, err)

	openNote(t, reader, link, "")
	start = time.Now()
	stop = watch(t, reader, "progress-download", "progress-decrypt")
	require.NoError(t, reader.Click(ctx, "#reveal"))
	got = waitAny(t, reader, 8*pageTimeout, "note", "gone", "error")
	seen = stop()
	require.Equal(t, "note", got, "open failed: %s", text(t, reader, "error"))
	t.Logf("%s at Safer: download+decrypt %v; progress seen %s", mib, time.Since(start).Round(time.Millisecond), bars(seen))
	assert.True(t, movedThrough(seen["progress-download"]) || movedThrough(seen["progress-decrypt"]), "reader progress must move: %v", seen)
	start = time.Now()
	p, err := reader.Download(ctx, fmt.Sprintf(`#note-files a[download=%q]`, name), name, 2*pageTimeout)
	require.NoError(t, err)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	t.Logf("%s at Safer: save %v", mib, time.Since(start).Round(time.Millisecond))
	assert.Equal(t, sha256.Sum256(big), sha256.Sum256(b), "the %s file must arrive intact", mib)
	assertClean(t, mark, [][]byte{frag[2:]}, nil, sender, reader)
}
