package browsertest

// Issue 19's proof: axe-core runs on every page state the phone tests reach, at Safer, at the
// phone's 360×740 and once per page at the browser's own desktop size, and finds nothing.
// axe is vendored, unmodified, under testdata (test-only: the server never serves it; see its
// README.md), and pinned here by hash.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// axeFile is axe-core's package/axe.min.js from the npm tarball, axeSHA256 its hash (also in
// the README.md beside it).
var (
	axeFile   = filepath.Join("testdata", "axe-core-4.14.1", "axe.min.js")
	axeSHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
)

// axeTags are the rule sets run: WCAG 2.0 and 2.1, A and AA, and axe's best practices (which
// hold the heading rules, page-has-heading-one and heading-order, and the landmark rules).
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"}

var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(axeFile)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != axeSHA256 {
		return "", fmt.Errorf("%s has SHA-256 %s, want the published %s", axeFile, got, axeSHA256)
	}
	return string(b), nil
})

// TestAxeCoreIsPinned: the vendored axe is byte for byte the published file, its note states
// the hash, and its licence travels with it.
func TestAxeCoreIsPinned(t *testing.T) {
	_, err := axeSource()
	require.NoError(t, err)
	dir := filepath.Dir(axeFile)
	note, err := os.ReadFile(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	assert.Contains(t, string(note), axeSHA256)
	lic, err := os.ReadFile(filepath.Join(dir, "LICENSE"))
	require.NoError(t, err)
	assert.Contains(t, string(lic), "Mozilla Public License")
}

// axeViolation is one failed rule as axeRunJS reports it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

func (v axeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		t, _ := json.Marshal(n.Target)
		fmt.Fprintf(&b, "\n\t\t%s: %s", t, strings.ReplaceAll(n.Summary, "\n", " "))
	}
	return b.String()
}

// axeRunJS runs axe on the whole document (in the page's realm, where the injected axe is)
// and returns its violations, trimmed to what a failure message needs.
const axeRunJS = `(tags) => axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
	.then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary || '' })) })))`

// injectAxe evaluates axe.min.js in the page's realm unless this document already has it.
// The evaluation is the automation protocol's (WebDriver BiDi script.evaluate), which the
// page's Content-Security-Policy does not govern: the CSP stays as the server sends it, and
// the tests' CSP-violation checks still see the page's own loads.
func injectAxe(ctx context.Context, tab *Tab) error {
	src, err := axeSource()
	if err != nil {
		return err
	}
	var has bool
	if err := tab.EvalPage(ctx, `typeof window.axe === 'object'`, &has); err != nil {
		return err
	}
	if has {
		return nil
	}
	var r evalResult
	if err := tab.b.Call(ctx, "script.evaluate", map[string]any{
		"expression":   src + "\n;void 0",
		"target":       tab.target(true),
		"awaitPromise": false,
	}, &r); err != nil {
		return err
	}
	if r.Type == "exception" {
		msg := "?"
		if r.ExceptionDetails != nil {
			msg = r.ExceptionDetails.Text
		}
		return fmt.Errorf("%w: injecting axe: %s", ErrScript, msg)
	}
	return nil
}

// axeTotal adds up the time spent in axe, for the log.
var axeTotal struct {
	sync.Mutex
	d time.Duration
	n int
}

// axeViolations runs axe on tab's current state.
func axeViolations(t *testing.T, tab *Tab, state string) []axeViolation {
	t.Helper()
	ctx := ctxT(t, pageTimeout+20*time.Second)
	require.NoError(t, injectAxe(ctx, tab), "%s: axe", state)
	var vs []axeViolation
	require.NoError(t, tab.EvalPage(ctx, "("+axeRunJS+")("+jsString(strings.Join(axeTags, ","))+".split(','))", &vs), "%s: axe.run", state)
	return vs
}

// assertAxeCatches is the control for assertAxe's zeros: in tab's current (clean) state it
// plants a skipped heading level, an image without alt and an unlabelled field, and hides
// every h1; axe must report each (so the heading rules run), and nothing once they are undone.
func assertAxeCatches(t *testing.T, tab *Tab) {
	t.Helper()
	ctx := ctxT(t, pageTimeout)
	const plant = `() => { const d = document.createElement('div'); d.id = 'axe-control';
		d.innerHTML = '<h2>level 2</h2><h4>skipped</h4><img src="data:," width="10" height="10"><input type="text">';
		document.querySelector('main').append(d);
		for (const h of document.querySelectorAll('h1')) h.hidden = !h.hidden; return true; }`
	const undo = `() => { document.getElementById('axe-control').remove();
		for (const h of document.querySelectorAll('h1')) h.hidden = !h.hidden; return true; }`
	require.NoError(t, tab.EvalPage(ctx, "("+plant+")()", nil))
	ids := map[string]bool{}
	for _, v := range axeViolations(t, tab, "control") {
		ids[v.ID] = true
	}
	for _, id := range []string{"heading-order", "page-has-heading-one", "image-alt", "label"} {
		assert.True(t, ids[id], "control: axe reports %s, got %v", id, ids)
	}
	require.NoError(t, tab.EvalPage(ctx, "("+undo+")()", nil))
	assert.Empty(t, axeViolations(t, tab, "control undone"), "control: the page is clean again")
}

// assertAxe runs axe on tab's current state and fails on any violation, listing each rule
// with its impact and the selectors of the elements that break it.
func assertAxe(t *testing.T, tab *Tab, state string) {
	t.Helper()
	start := time.Now()
	vs := axeViolations(t, tab, state)
	d := time.Since(start)
	axeTotal.Lock()
	axeTotal.d += d
	axeTotal.n++
	total, n := axeTotal.d, axeTotal.n
	axeTotal.Unlock()
	if len(vs) > 0 {
		lines := make([]string, len(vs))
		for i, v := range vs {
			lines[i] = "\t" + v.String()
		}
		assert.Fail(t, fmt.Sprintf("%s: %d axe violations:\n%s", state, len(vs), strings.Join(lines, "\n")))
	}
	t.Logf("%s: axe %v, 0 violations expected, %d found (axe so far: %d runs, %v)", state, d.Round(time.Millisecond), len(vs), n, total.Round(time.Millisecond))
}

// assertAxeDesktop runs assertAxe at the browser's own window size (1280 wide), then puts the
// phone's viewport back.
func assertAxeDesktop(t *testing.T, tab *Tab, state string) {
	t.Helper()
	ctx := ctxT(t, pageTimeout)
	require.NoError(t, tab.b.Call(ctx, "browsingContext.setViewport", map[string]any{"context": tab.ID, "viewport": nil}, nil))
	var w float64
	require.NoError(t, tab.Eval(ctx, `window.innerWidth`, &w))
	assert.Greater(t, w, float64(phoneWidth), "%s: the desktop viewport is wider than a phone's", state)
	assertAxe(t, tab, state+" (desktop)")
	require.NoError(t, tab.SetViewport(ctx, phoneWidth, phoneHeight))
}
