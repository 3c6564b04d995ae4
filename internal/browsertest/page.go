package browsertest

// What Tab (Firefox over WebDriver BiDi) and ChromiumTab (Chromium over DevTools) do the same
// way once each can call a function: the DOM reads and writes, the polling and the log filters.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// functionCaller calls fn (JavaScript function source) with JSON-encoded args and decodes its
// JSON value into out: Tab in its sandbox, ChromiumTab in the page.
type functionCaller interface {
	CallFunction(ctx context.Context, fn string, out any, args ...any) error
}

// textOf returns the textContent of the first element matching selector.
func textOf(ctx context.Context, c functionCaller, selector string) (string, error) {
	var s *string
	if err := c.CallFunction(ctx, `(sel) => { const e = document.querySelector(sel); return e ? e.textContent : null; }`, &s, selector); err != nil {
		return "", err
	}
	if s == nil {
		return "", fmt.Errorf("%w: %s", ErrNoElement, selector)
	}
	return *s, nil
}

// visibleIn reports whether the first element matching selector is rendered: present, not
// hidden, with a non-empty box.
func visibleIn(ctx context.Context, c functionCaller, selector string) (bool, error) {
	var ok bool
	err := c.CallFunction(ctx, `(sel) => {
		const e = document.querySelector(sel);
		if (!e || e.closest('[hidden]')) return false;
		const r = e.getBoundingClientRect();
		const s = window.getComputedStyle(e);
		return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
	}`, &ok, selector)
	return ok, err
}

// scrollIntoView brings the first element matching selector to the centre of the view, the
// step before a real click; it fails when nothing matches.
func scrollIntoView(ctx context.Context, c functionCaller, selector string) error {
	return c.CallFunction(ctx, `(sel) => { const e = document.querySelector(sel); if (!e) throw new Error('no element ' + sel); e.scrollIntoView({block: 'center'}); return true; }`, nil, selector)
}

// setValueIn sets a form control's value and fires input and change events.
func setValueIn(ctx context.Context, c functionCaller, selector, value string) error {
	return c.CallFunction(ctx, `(sel, v) => { const e = document.querySelector(sel); if (!e) throw new Error('no element ' + sel);
		e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true; }`, nil, selector, value)
}

// waitTruthy polls expr through eval every 100 ms until it is truthy, timeout passes (an
// ErrTimeout that carries the last evaluation error) or ctx ends.
func waitTruthy(ctx context.Context, eval func(ctx context.Context, expr string, out any) error, expr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := eval(ctx, "!!("+expr+")", &ok)
		if err == nil && ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrTimeout, expr, err)
			}
			return fmt.Errorf("%w: %s", ErrTimeout, expr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// errorEntries keeps the entries at level "error" and those of type "javascript" (uncaught
// exceptions; Firefox also reports CSP violations so).
func errorEntries(logs []LogEntry) []LogEntry {
	var out []LogEntry
	for _, e := range logs {
		if e.Level == "error" || e.Type == "javascript" {
			out = append(out, e)
		}
	}
	return out
}

// cspEntries keeps the entries that mention the Content Security Policy.
func cspEntries(logs []LogEntry) []LogEntry {
	var out []LogEntry
	for _, e := range logs {
		if strings.Contains(e.Text, "Content-Security-Policy") || strings.Contains(e.Text, "Content Security Policy") {
			out = append(out, e)
		}
	}
	return out
}

// lineTail keeps the last lines a browser wrote, for failure messages only: nothing is printed.
type lineTail struct {
	mu    sync.Mutex
	lines []string
}

// tailKeep is how many lines a lineTail keeps.
const tailKeep = 200

func (l *lineTail) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if len(l.lines) > tailKeep {
		l.lines = l.lines[len(l.lines)-tailKeep:]
	}
}

// last returns the last n lines (fewer when fewer were kept), joined by newlines.
func (l *lineTail) last(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n = min(n, len(l.lines))
	return strings.Join(l.lines[len(l.lines)-n:], "\n")
}
