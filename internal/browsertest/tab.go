package browsertest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrTimeout is returned by WaitFor when the condition never held.
var ErrTimeout = errors.New("browsertest: condition not met in time")

// ErrScript is an exception thrown by evaluated code.
var ErrScript = errors.New("browsertest: script exception")

// ErrNoElement means a selector matched nothing.
var ErrNoElement = errors.New("browsertest: no element matches")

// sandboxName is the BiDi sandbox realm the harness evaluates in. A sandbox sees the page's
// DOM through Xray wrappers but not its JavaScript globals, and it still runs when the page's
// scripts are disabled (Safest), so the same assertions read the DOM at every level.
const sandboxName = "sealdrop-browsertest"

// Tab is one top-level browsing context.
type Tab struct {
	b           *Browser
	ID          string
	UserContext string
}

// Browser returns the tab's browser.
func (t *Tab) Browser() *Browser { return t.b }

// Navigate loads url and waits for the load event.
func (t *Tab) Navigate(ctx context.Context, url string) error {
	return t.b.Call(ctx, "browsingContext.navigate",
		map[string]any{"context": t.ID, "url": url, "wait": "complete"}, nil)
}

// Reload reloads and waits for the load event.
func (t *Tab) Reload(ctx context.Context) error {
	return t.b.Call(ctx, "browsingContext.reload",
		map[string]any{"context": t.ID, "wait": "complete"}, nil)
}

// Close closes the tab.
func (t *Tab) Close(ctx context.Context) error {
	return t.b.Call(ctx, "browsingContext.close", map[string]any{"context": t.ID}, nil)
}

// URL returns the address currently shown for the tab (fragment included).
func (t *Tab) URL(ctx context.Context) (string, error) {
	var r struct {
		Contexts []struct {
			URL string `json:"url"`
		} `json:"contexts"`
	}
	if err := t.b.Call(ctx, "browsingContext.getTree", map[string]any{"root": t.ID, "maxDepth": 0}, &r); err != nil {
		return "", err
	}
	if len(r.Contexts) == 0 {
		return "", fmt.Errorf("browsertest: getTree: no context %s", t.ID)
	}
	return r.Contexts[0].URL, nil
}

type evalResult struct {
	Type             string          `json:"type"`
	Result           json.RawMessage `json:"result"`
	ExceptionDetails *struct {
		Text string `json:"text"`
	} `json:"exceptionDetails"`
}

func (t *Tab) target(page bool) map[string]any {
	if page {
		return map[string]any{"context": t.ID}
	}
	return map[string]any{"context": t.ID, "sandbox": sandboxName}
}

// evalJSON evaluates fn (a function source) with JSON-encoded args and returns its value
// JSON-encoded: serialising inside the browser keeps results plain.
func (t *Tab) evalJSON(ctx context.Context, page bool, fn string, args ...any) (json.RawMessage, error) {
	if args == nil {
		args = []any{}
	}
	aj, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("browsertest: args: %w", err)
	}
	// Not an async function: at Safest the page's job queue never runs, so an awaited promise
	// would never settle; synchronous results come back without one.
	wrapper := "function(fn, args) { const enc = (v) => v === undefined ? 'null' : JSON.stringify(v); " +
		"const v = fn(...JSON.parse(args)); " +
		"return (v !== null && typeof v === 'object' && typeof v.then === 'function') ? v.then(enc) : enc(v); }"
	var r evalResult
	expr := "(" + wrapper + ")((" + fn + "), " + jsString(string(aj)) + ")"
	err = t.b.Call(ctx, "script.evaluate", map[string]any{
		"expression":   expr,
		"target":       t.target(page),
		"awaitPromise": true,
	}, &r)
	if err != nil {
		return nil, err
	}
	if r.Type == "exception" {
		msg := "?"
		if r.ExceptionDetails != nil {
			msg = r.ExceptionDetails.Text
		}
		return nil, fmt.Errorf("%w: %s", ErrScript, msg)
	}
	var s remoteString
	if err := json.Unmarshal(r.Result, &s); err != nil || s.Type != "string" {
		return nil, fmt.Errorf("browsertest: unexpected result %s", string(r.Result))
	}
	return json.RawMessage(s.Value), nil
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Eval evaluates a JavaScript expression in the harness sandbox (works at every level, sees
// the DOM, not the page's globals) and decodes its JSON value into out (nil to discard).
// Promises are awaited.
func (t *Tab) Eval(ctx context.Context, expr string, out any) error {
	return t.CallFunction(ctx, "() => ("+expr+")", out)
}

// EvalPage is Eval in the page's own realm: it sees the page's globals (window.crypto,
// WebAssembly, module state) but needs the page's scripts to be enabled.
func (t *Tab) EvalPage(ctx context.Context, expr string, out any) error {
	raw, err := t.evalJSON(ctx, true, "() => ("+expr+")")
	if err != nil {
		return err
	}
	return decodeInto(raw, out)
}

// CallFunction calls fn (JavaScript function source) with args in the harness sandbox and
// decodes its JSON value into out.
func (t *Tab) CallFunction(ctx context.Context, fn string, out any, args ...any) error {
	raw, err := t.evalJSON(ctx, false, fn, args...)
	if err != nil {
		return err
	}
	return decodeInto(raw, out)
}

func decodeInto(raw json.RawMessage, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("browsertest: decode %.200s: %w", string(raw), err)
	}
	return nil
}

// Text returns the textContent of the first element matching selector.
func (t *Tab) Text(ctx context.Context, selector string) (string, error) {
	return textOf(ctx, t, selector)
}

// Exists reports whether selector matches an element.
func (t *Tab) Exists(ctx context.Context, selector string) (bool, error) {
	var ok bool
	err := t.CallFunction(ctx, `(sel) => document.querySelector(sel) !== null`, &ok, selector)
	return ok, err
}

// Visible reports whether the first element matching selector is rendered: present, not
// hidden, with a non-empty box.
func (t *Tab) Visible(ctx context.Context, selector string) (bool, error) {
	return visibleIn(ctx, t, selector)
}

// WaitFor polls a JavaScript expression in the sandbox until it is truthy.
func (t *Tab) WaitFor(ctx context.Context, expr string, timeout time.Duration) error {
	return waitTruthy(ctx, t.Eval, expr, timeout)
}

// WaitVisible waits until selector is rendered.
func (t *Tab) WaitVisible(ctx context.Context, selector string, timeout time.Duration) error {
	return t.WaitFor(ctx, `(() => { const e = document.querySelector(`+jsString(selector)+`);
		if (!e || e.closest('[hidden]')) return false; const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0; })()`, timeout)
}

// node returns the BiDi shared reference of the first element matching selector.
func (t *Tab) node(ctx context.Context, selector string) (map[string]any, error) {
	var r struct {
		Nodes []struct {
			SharedID string `json:"sharedId"`
		} `json:"nodes"`
	}
	if err := t.b.Call(ctx, "browsingContext.locateNodes", map[string]any{
		"context": t.ID, "locator": map[string]any{"type": "css", "value": selector}, "maxNodeCount": 1,
	}, &r); err != nil {
		return nil, err
	}
	if len(r.Nodes) == 0 || r.Nodes[0].SharedID == "" {
		return nil, fmt.Errorf("%w: %s", ErrNoElement, selector)
	}
	return map[string]any{"sharedId": r.Nodes[0].SharedID}, nil
}

// Click scrolls the element into view and clicks its centre with real pointer input, so the
// page sees a trusted event with user activation (as a person's click). The pointer goes to
// where the element is when the click is sent: if the page moved it out of the viewport in
// between (a report growing above it), the browser answers "move target out of bounds" and
// Click scrolls and clicks once more; a second such answer, or any other error, is returned.
func (t *Tab) Click(ctx context.Context, selector string) error {
	return clickInView(func() error { return scrollIntoView(ctx, t, selector) }, func() error { return t.pointerClick(ctx, selector) })
}

// clickInView runs scroll then click, and both once more when click answers that its target
// was outside the viewport.
func clickInView(scroll, click func() error) error {
	var err error
	for try := 0; try < 2; try++ {
		if err = scroll(); err != nil {
			return err
		}
		err = click()
		var ce *CommandError
		if !errors.As(err, &ce) || ce.Code != codeMoveOutOfBounds {
			return err
		}
	}
	return err
}

// codeMoveOutOfBounds is WebDriver's error code for a pointer moved outside the viewport.
const codeMoveOutOfBounds = "move target out of bounds"

// pointerClick presses and releases the mouse at the centre of the element as it is now.
func (t *Tab) pointerClick(ctx context.Context, selector string) error {
	n, err := t.node(ctx, selector)
	if err != nil {
		return err
	}
	return t.b.Call(ctx, "input.performActions", map[string]any{
		"context": t.ID,
		"actions": []any{map[string]any{
			"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"},
			"actions": []any{
				map[string]any{"type": "pointerMove", "x": 0, "y": 0, "origin": map[string]any{"type": "element", "element": n}},
				map[string]any{"type": "pointerDown", "button": 0},
				map[string]any{"type": "pointerUp", "button": 0},
			},
		}},
	}, nil)
}

// Type focuses the element and types text with real key input.
func (t *Tab) Type(ctx context.Context, selector, text string) error {
	if err := t.Focus(ctx, selector); err != nil {
		return err
	}
	acts := make([]any, 0, 2*len(text))
	for _, r := range text {
		acts = append(acts, map[string]any{"type": "keyDown", "value": string(r)}, map[string]any{"type": "keyUp", "value": string(r)})
	}
	return t.b.Call(ctx, "input.performActions", map[string]any{
		"context": t.ID,
		"actions": []any{map[string]any{"type": "key", "id": "keyboard", "actions": acts}},
	}, nil)
}

// SetValue sets a form control's value and fires input and change events, for fields where
// typing character by character would only cost time (long texts, selects).
func (t *Tab) SetValue(ctx context.Context, selector, value string) error {
	return setValueIn(ctx, t, selector, value)
}

// SetFiles puts local files into an <input type=file>, as a person choosing them would.
func (t *Tab) SetFiles(ctx context.Context, selector string, paths []string) error {
	n, err := t.node(ctx, selector)
	if err != nil {
		return err
	}
	return t.b.Call(ctx, "input.setFiles", map[string]any{"context": t.ID, "element": n, "files": paths}, nil)
}

// Screenshot saves a PNG of the whole document.
func (t *Tab) Screenshot(ctx context.Context, path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := t.b.Call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": t.ID, "origin": "document"}, &r); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	return nil
}

// Logs returns the console entries and JavaScript errors of this tab.
func (t *Tab) Logs() []LogEntry {
	var out []LogEntry
	for _, e := range t.b.Logs() {
		if e.Context == t.ID {
			out = append(out, e)
		}
	}
	return out
}

// Errors returns the tab's entries at level "error" or of type "javascript" (CSP violations
// and uncaught exceptions are both reported so).
func (t *Tab) Errors() []LogEntry { return errorEntries(t.Logs()) }

// Requests returns the requests this tab announced.
func (t *Tab) Requests() []NetRequest {
	var out []NetRequest
	for _, r := range t.b.Requests() {
		if r.Context == t.ID {
			out = append(out, r)
		}
	}
	return out
}

// CSPViolations returns the tab's entries that mention the Content Security Policy.
func (t *Tab) CSPViolations() []LogEntry { return cspEntries(t.Logs()) }

// Download clicks a download link and waits until the file name (as the browser will save
// it) is complete in the browser's download directory, then returns its path. Names must be
// unique per browser: Firefox renames a second file of the same name.
func (t *Tab) Download(ctx context.Context, selector, name string, timeout time.Duration) (string, error) {
	path := filepath.Join(t.b.DownloadDir(), name)
	if err := t.Click(ctx, selector); err != nil {
		return "", err
	}
	deadline := time.Now().Add(timeout)
	last := int64(-1)
	var since time.Time
	for {
		st, err := os.Stat(path)
		_, perr := os.Stat(path + ".part")
		if err == nil && errors.Is(perr, os.ErrNotExist) {
			// Firefox may create the final name, empty, before the bytes land (a large blob
			// under load can take seconds to start): wait for the size to settle, and give an
			// empty file longer before believing it.
			if st.Size() != last {
				last, since = st.Size(), time.Now()
			} else if settle := time.Since(since); settle >= 400*time.Millisecond && (last > 0 || settle >= 5*time.Second) {
				return path, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w: download %s", ErrTimeout, name)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WebDriver's values for keys that type no character, for Press.
const (
	KeyEnter = "\uE007"
	KeyShift = "\uE008"
)

// Activate brings the tab to the front of its window: key input goes to the front tab only.
func (t *Tab) Activate(ctx context.Context) error {
	return t.b.Call(ctx, "browsingContext.activate", map[string]any{"context": t.ID}, nil)
}

// Focus brings the tab to the front and moves the focus to the element, as Tab would: nothing
// is clicked.
func (t *Tab) Focus(ctx context.Context, selector string) error {
	if err := t.Activate(ctx); err != nil {
		return err
	}
	return t.CallFunction(ctx, `(sel) => { const e = document.querySelector(sel); if (!e) throw new Error('no element ' + sel); e.scrollIntoView({block: 'center'}); e.focus(); return true; }`, nil, selector)
}

// Press presses key once with real key input, into whatever has the focus, with modifiers
// (KeyShift, …) held down around it.
func (t *Tab) Press(ctx context.Context, key string, modifiers ...string) error {
	acts := make([]any, 0, 2*len(modifiers)+2)
	for _, m := range modifiers {
		acts = append(acts, map[string]any{"type": "keyDown", "value": m})
	}
	acts = append(acts, map[string]any{"type": "keyDown", "value": key}, map[string]any{"type": "keyUp", "value": key})
	for i := len(modifiers) - 1; i >= 0; i-- {
		acts = append(acts, map[string]any{"type": "keyUp", "value": modifiers[i]})
	}
	return t.b.Call(ctx, "input.performActions", map[string]any{
		"context": t.ID,
		"actions": []any{map[string]any{"type": "key", "id": "keyboard", "actions": acts}},
	}, nil)
}

// SetViewport sizes the tab's viewport in CSS pixels, as a phone's screen would (the layout
// width that media queries and innerWidth see).
func (t *Tab) SetViewport(ctx context.Context, width, height int) error {
	return t.b.Call(ctx, "browsingContext.setViewport", map[string]any{
		"context": t.ID, "viewport": map[string]any{"width": width, "height": height},
	}, nil)
}
