package browsertest

// Issue 19, requirement 5: keys in the chat box. Where the focus goes after each step is
// asserted in the steps themselves (engine.assertFocus through focusOn, in the note, chat and
// drop scenarios); this file drives the chat box's keys with real key input.

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// enterEvent dispatches a synthetic keydown of Enter on #message in the page's realm, with
// init's extra fields (isComposing, keyCode), and reports whether the page took it (called
// preventDefault). A synthetic key event inserts nothing by itself: only the page's handler
// can act on it.
const enterEvent = `(init) => { const m = document.getElementById('message');
	const ev = new KeyboardEvent('keydown', Object.assign({ key: 'Enter', code: 'Enter', bubbles: true, cancelable: true }, init));
	m.dispatchEvent(ev); return ev.defaultPrevented; }`

// pressSynthetic runs enterEvent in the page's realm (as the page's own code would dispatch
// it) and returns whether the page took the Enter.
func pressSynthetic(t *testing.T, tab *Tab, init string) bool {
	t.Helper()
	var took bool
	require.NoError(t, tab.EvalPage(ctxT(t, pageTimeout), "("+enterEvent+")("+init+")", &took))
	return took
}

// In the chat box Enter sends and Shift+Enter starts a new line; an Enter that ends an IME
// composition (isComposing, or keyCode 229 where a browser reports it so) sends nothing.
func TestChatKeysSafer(t *testing.T) {
	RequireBrowser(t)
	app := startChatApp(t, nil)
	a := pool.Person(t, Safer)
	b := pool.Person(t, Safer)
	c := startChat(t, a, "", "", false)
	openChat(t, b, c.link)
	require.Equal(t, "talk", join(t, b, ""))
	require.Equal(t, waitSafety(t, a), waitSafety(t, b))
	ctx := ctxT(t, 4*pageTimeout)

	// Shift+Enter: a new line in the box, nothing sent.
	require.NoError(t, b.Type(ctx, "#message", "first line"))
	require.NoError(t, b.Press(ctx, KeyEnter, KeyShift))
	assert.Equal(t, "first line\n", value(t, b, "message"), "Shift+Enter adds a line")
	var mine int
	require.NoError(t, b.CallFunction(ctx, `() => document.querySelectorAll('#log li.me').length`, &mine))
	assert.Zero(t, mine, "Shift+Enter sends nothing")

	// Enter: the two lines go as one message; the box is emptied and keeps the focus.
	require.NoError(t, b.Type(ctx, "#message", "second line"))
	require.NoError(t, b.Press(ctx, KeyEnter))
	require.NoError(t, b.WaitFor(ctx, `document.getElementById('message').value === ''`, pageTimeout),
		"Enter sends the message and empties the box (it holds %q)", value(t, b, "message"))
	first := "Them: first line\nsecond line"
	require.NoError(t, a.WaitFor(ctx, `[...document.querySelectorAll('#log li.them')].some((li) => li.textContent === `+jsString(first)+`)`, 3*pageTimeout),
		"the message sent by Enter must arrive")
	focusOn(t, b, "message", "Enter in the chat box")

	// IME: Enter during a composition sends nothing. The control, the same synthetic Enter
	// without a composition, does send: so the event reaches the page's handler.
	require.NoError(t, b.Type(ctx, "#message", "ime"))
	assert.False(t, pressSynthetic(t, b, `{isComposing: true}`), "an Enter that ends a composition is the IME's")
	assert.False(t, pressSynthetic(t, b, `{keyCode: 229}`), "keyCode 229 is a composition's key")
	require.NoError(t, b.Type(ctx, "#message", " done"))
	assert.True(t, pressSynthetic(t, b, `{}`), "control: a plain Enter is taken and sends")
	require.NoError(t, a.WaitFor(ctx, `[...document.querySelectorAll('#log li.them')].some((li) => li.textContent === 'Them: ime done')`, 3*pageTimeout),
		"the control message must arrive")
	var theirs []string
	require.NoError(t, a.CallFunction(ctx, `() => [...document.querySelectorAll('#log li.them')].map((li) => li.textContent)`, &theirs))
	assert.Equal(t, []string{first, "Them: ime done"}, theirs, "nothing was sent during the composition")

	endChat(t, a, b)
	app.assertNothingKept(t)
	assertClean(t, app.mark, [][]byte{c.key, c.km}, nil, a, b)
}
