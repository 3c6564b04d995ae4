package browsertest

// Issue 19, requirement 6: the pages on a phone. Tor Browser for Android shows a page 360 CSS
// px wide and about 740 tall; each page state is checked there, as it shows after the step
// that leads to it: nothing wider than the screen, every tap target at least 44×44 CSS px
// (WCAG 2.5.5's size; a checkbox counts with its label, which toggles it), every text field at
// 16 px or more (mobile browsers zoom the page on focus below 16 px), exactly one visible h1
// and no heading level skipped (axe's page-has-heading-one and heading-order), and on the
// create page the main button within the first screen, the options folded behind "More
// options". At Safer each state is also checked by axe-core (axe_test.go), and each page once
// more at the desktop size.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A phone's viewport in CSS px: Tor Browser for Android on a common 360-wide screen.
const phoneWidth, phoneHeight = 360, 740

// minTarget is WCAG 2.5.5's target size, in CSS px; minFieldFont the size under which mobile
// browsers zoom into a focused field.
const minTarget, minFieldFont = 44.0, 16.0

// phoneLayout is what layoutJS measures in one page state.
type phoneLayout struct {
	ScrollWidth  float64  `json:"scrollWidth"`
	Width        float64  `json:"width"`
	LayoutWidth  float64  `json:"layoutWidth"`
	Wide         []string `json:"wide"`     // elements reaching outside the viewport's width
	Small        []string `json:"small"`    // tap targets under minTarget in width or height
	Smallest     string   `json:"smallest"` // the smallest tap target, for the log
	Fonts        []string `json:"fonts"`    // text fields under minFieldFont
	MinFont      float64  `json:"minFont"`
	Targets      int      `json:"targets"`
	Fields       int      `json:"fields"`
	Headings     []string `json:"headings"`
	H1           int      `json:"h1"`
	Skips        []string `json:"skips"`
	MainTop      float64  `json:"mainTop"`    // document y of the main control's top; -1 without one
	MainBottom   float64  `json:"mainBottom"` // and of its bottom
	ViewportSeen float64  `json:"innerHeight"`
}

// shownJS tells whether the element with id is rendered (as layoutJS's shown).
const shownJS = `(id) => { const e = document.getElementById(id);
	return !!e && !e.closest('[hidden]') && e.checkVisibility({ visibilityProperty: true }) && e.getBoundingClientRect().height > 0; }`

// layoutJS measures the rendered page: what is shown (not inside [hidden], a closed <details>
// or an unrendered <noscript>, with a box). main is the id of the control that must be in the
// first screen ("" for none).
const layoutJS = `(main) => {
	// The layout width: the viewport less a classic scrollbar (a phone's overlays the page).
	const W = document.documentElement.clientWidth;
	const shown = (e) => {
		if (e.closest('[hidden]')) return false;
		// Inside a closed <details> an element keeps a box but is not rendered (skipped content).
		if (!e.checkVisibility({ visibilityProperty: true })) return false;
		const s = getComputedStyle(e);
		if (s.display === 'none' || s.visibility === 'hidden') return false;
		const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0;
	};
	const name = (e) => {
		let n = e.tagName.toLowerCase();
		if (e.id) n += '#' + e.id;
		if (e.tagName === 'INPUT') n += '[' + e.type + ']';
		const words = (e.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
		if (!e.id && words) n += ' "' + words + '"';
		return n;
	};
	const size = (r) => Math.round(r.width * 10) / 10 + '×' + Math.round(r.height * 10) / 10;
	const out = { scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth, layoutWidth: W, innerHeight: window.innerHeight,
		wide: [], small: [], smallest: '', fonts: [], minFont: 0, targets: 0, fields: 0,
		headings: [], h1: 0, skips: [], mainTop: -1, mainBottom: -1 };
	for (const e of document.body.querySelectorAll('*')) {
		if (!shown(e)) continue;
		const r = e.getBoundingClientRect();
		if (r.left < -0.5 || r.right > W + 0.5) out.wide.push(name(e) + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
	}
	let least = Infinity;
	for (const e of document.querySelectorAll('a[href], button, input:not([type="hidden"]), select, textarea, summary')) {
		if (!shown(e)) continue;
		out.targets++;
		// A checkbox or radio button is toggled by its label too: the larger box is the target.
		let boxes = [e.getBoundingClientRect()];
		if (e.type === 'checkbox' || e.type === 'radio') boxes = boxes.concat([...e.labels].filter(shown).map((l) => l.getBoundingClientRect()));
		const r = boxes.reduce((a, b) => Math.min(b.width, b.height) > Math.min(a.width, a.height) ? b : a);
		const side = Math.min(r.width, r.height);
		if (side < least) { least = side; out.smallest = name(e) + ' ' + size(r); }
		if (r.width < ` + "${minTarget}" + ` - 0.01 || r.height < ` + "${minTarget}" + ` - 0.01) out.small.push(name(e) + ' ' + size(r));
	}
	let minFont = Infinity;
	for (const e of document.querySelectorAll('input:not([type="hidden"]):not([type="checkbox"]):not([type="radio"]), textarea, select')) {
		if (!shown(e)) continue;
		out.fields++;
		const f = parseFloat(getComputedStyle(e).fontSize);
		minFont = Math.min(minFont, f);
		if (f < ` + "${minFieldFont}" + ` - 0.01) out.fonts.push(name(e) + ' ' + f + 'px');
	}
	out.minFont = minFont === Infinity ? 0 : minFont;
	let prev = 0;
	for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
		if (!shown(h)) continue;
		const n = Number(h.tagName[1]);
		const label = h.tagName.toLowerCase() + (h.id ? '#' + h.id : '') + ' "' + h.textContent.trim().slice(0, 40) + '"';
		out.headings.push(label);
		if (n === 1) out.h1++;
		if (n > prev + 1) out.skips.push(label + ' after h' + prev);
		prev = n;
	}
	if (main) {
		const m = document.getElementById(main);
		if (m && shown(m)) {
			const r = m.getBoundingClientRect();
			out.mainTop = r.top + window.scrollY;
			out.mainBottom = r.bottom + window.scrollY;
		}
	}
	return out;
}`

// phoneTab opens a person's tab at level l with a phone's viewport.
func phoneTab(t *testing.T, l Level) *Tab {
	t.Helper()
	tab := pool.Person(t, l)
	ctx := ctxT(t, pageTimeout)
	require.NoError(t, tab.SetViewport(ctx, phoneWidth, phoneHeight))
	return tab
}

// measure returns the layout of tab's current state.
func measure(t *testing.T, tab *Tab, main string) phoneLayout {
	t.Helper()
	js := strings.NewReplacer("${minTarget}", fmt.Sprint(minTarget), "${minFieldFont}", fmt.Sprint(minFieldFont)).Replace(layoutJS)
	var r phoneLayout
	require.NoError(t, tab.CallFunction(ctxT(t, pageTimeout), js, &r, main))
	return r
}

// waitLimit waits until the page's script has written the size limit under the file button
// (#limit, empty until the script has read the limits the page came with): the line moves
// what is below it, the create button among them, so a page measured before it is not the
// page the person sees.
func waitLimit(t *testing.T, tab *Tab) {
	t.Helper()
	require.NoError(t, tab.WaitFor(ctxT(t, pageTimeout+10*time.Second),
		`document.getElementById('limit').textContent.trim() !== ''`, pageTimeout), "the size limit is shown")
}

// assertPhone checks one page state at the phone's size (see the file's comment) and logs
// its numbers; main ("" for none) is the control that must be in the first screen.
func assertPhone(t *testing.T, tab *Tab, state, main string) phoneLayout {
	t.Helper()
	r := measure(t, tab, main)
	require.Equal(t, float64(phoneWidth), r.Width, "%s: the viewport is a phone's", state)
	require.Equal(t, float64(phoneHeight), r.ViewportSeen, "%s: the viewport is a phone's", state)
	assert.LessOrEqual(t, r.ScrollWidth, r.LayoutWidth, "%s: the page scrolls sideways", state)
	assert.Empty(t, r.Wide, "%s: elements wider than the screen", state)
	assert.NotZero(t, r.Targets, "%s: control: the page has tap targets", state)
	assert.Empty(t, r.Small, "%s: tap targets under %v×%v CSS px", state, minTarget, minTarget)
	assert.Empty(t, r.Fonts, "%s: text fields under %v px (the browser zooms on focus)", state, minFieldFont)
	assert.Equal(t, 1, r.H1, "%s: exactly one visible h1, headings %q", state, r.Headings)
	assert.Empty(t, r.Skips, "%s: skipped heading levels, headings %q", state, r.Headings)
	if main != "" {
		require.GreaterOrEqual(t, r.MainTop, 0.0, "%s: #%s is shown", state, main)
		// The whole control, top and bottom, within the first screen (measured at 348 px of
		// layout width, a classic scrollbar's 12 px less than a phone's, which only makes the
		// text longer): the log says how much room is left below it.
		assert.LessOrEqual(t, r.MainBottom, float64(phoneHeight), "%s: #%s within the first screen (top %.0f, bottom %.0f)", state, main, r.MainTop, r.MainBottom)
		assert.Greater(t, r.MainBottom, r.MainTop, "%s: #%s has a height", state, main)
		t.Logf("%s: #%s top %.0f, bottom %.0f: %.0f px of the first screen left below it", state, main, r.MainTop, r.MainBottom, float64(phoneHeight)-r.MainBottom)
	}
	t.Logf("%s: scrollWidth %.0f; %d targets, smallest %s; %d fields, smallest font %.1fpx; headings %q",
		state, r.ScrollWidth, r.Targets, r.Smallest, r.Fields, r.MinFont, r.Headings)
	// axe needs the page's scripts (it runs in the page's realm): at Safest they are off.
	if tab.b.Level != Safest {
		assertAxe(t, tab, state)
	}
	return r
}

// The create page at a phone's size: the button within the first screen, the options folded
// behind "More options" (a native disclosure that the keyboard opens), then the result.
// Notes: open (Reveal), the PIN prompt, the note, and gone.
func TestPhoneNotesSafer(t *testing.T) {
	RequireBrowser(t)
	mark := startApp(t)
	sender := phoneTab(t, Safer)
	ctx := ctxT(t, 8*pageTimeout)

	require.NoError(t, sender.Navigate(ctx, pool.Proxy.Origin()+"/"))
	waitAny(t, sender, pageTimeout, "create")
	waitLimit(t, sender)
	assertPhone(t, sender, "create", "create")
	assertAxeDesktop(t, sender, "create")
	assertAxeCatches(t, sender)
	screenshot(t, sender, "phone-create")
	shownNow := func(id string) bool {
		t.Helper()
		var ok bool
		require.NoError(t, sender.CallFunction(ctx, shownJS, &ok, id))
		return ok
	}
	assert.True(t, shownNow("create"), "control: shownJS sees the button")
	for _, id := range []string{"ttl", "pin", "dpin"} {
		assert.False(t, shownNow(id), "#%s is folded behind More options", id)
	}
	// By keyboard: Enter on the disclosure's summary opens it; every option is then shown,
	// labelled, and measured like the rest.
	require.NoError(t, sender.Focus(ctx, "#more-options > summary"))
	require.NoError(t, sender.Press(ctx, KeyEnter))
	require.NoError(t, sender.WaitFor(ctx, `document.getElementById('more-options').open`, pageTimeout), "Enter opens More options")
	for _, id := range []string{"ttl", "pin", "dpin"} {
		assert.True(t, shownNow(id), "#%s is shown once More options is open", id)
		var labelled bool
		require.NoError(t, sender.CallFunction(ctx, `(id) => [...document.getElementById(id).labels].some((l) => l.textContent.trim() !== '')`, &labelled, id))
		assert.True(t, labelled, "#%s has a label", id)
	}
	assertPhone(t, sender, "create, More options open", "")

	c := createNote(t, sender, noteInput{text: "phone " + uniq(t), pin: "246810"})
	assertPhone(t, sender, "create: the links", "")

	reader := phoneTab(t, Safer)
	openNote(t, reader, c.link, "")
	assertPhone(t, reader, "open: Reveal", "reveal")
	assertAxeDesktop(t, reader, "open: Reveal")
	screenshot(t, reader, "phone-open")
	require.NoError(t, reader.Click(ctx, "#reveal"))
	require.Equal(t, "pin-prompt", waitAny(t, reader, 3*pageTimeout, "pin-prompt", "note", "error"))
	assertPhone(t, reader, "open: the PIN prompt", "")
	require.Equal(t, "tries-left", enterPIN(t, reader, "111111", ""))
	assertPhone(t, reader, "open: a wrong PIN", "")
	require.Equal(t, "note", enterPIN(t, reader, "246810", text(t, reader, "tries-left")))
	assertPhone(t, reader, "open: the note", "")
	screenshot(t, reader, "phone-open-note")

	// The link again, in the same tab (a fresh load: the page took the key out of its address).
	require.NoError(t, reader.Navigate(ctx, "about:blank"))
	openNote(t, reader, c.link, "")
	require.NoError(t, reader.Click(ctx, "#reveal"))
	// A PIN note asks for its PIN before the server can say it is gone.
	require.Equal(t, "pin-prompt", waitAny(t, reader, 3*pageTimeout, "gone", "pin-prompt", "note", "error"))
	require.Equal(t, "gone", enterPIN(t, reader, "246810", ""))
	assertPhone(t, reader, "open: gone", "")
	assertClean(t, mark, [][]byte{c.key}, []string{"246810"}, sender, reader)
}

// The source's path through a drop box at a phone's size: the submit page (with the reply
// checkbox), sent with the reply link, the reply page waiting, ready, read, asked for its link
// again, and gone; and the journalist's pages on the way (making the drop, the inbox, the
// message), for their headings and sizes.
func TestPhoneDropSafer(t *testing.T) {
	RequireBrowser(t)
	app := startDropApp(t)
	journalist := phoneTab(t, Safer)
	source := phoneTab(t, Safer)
	ctx := ctxT(t, 12*pageTimeout)

	require.NoError(t, journalist.Navigate(ctx, pool.Proxy.Origin()+"/drop"))
	waitAny(t, journalist, pageTimeout, "make")
	assertPhone(t, journalist, "drop: make", "")
	assertAxeDesktop(t, journalist, "drop: make")
	dropLink, inbox := createDrop(t, journalist, false)
	assertPhone(t, journalist, "drop: made", "")

	require.NoError(t, source.Navigate(ctx, dropLink))
	require.Equal(t, "send", waitAny(t, source, pageTimeout, "send", "gone"))
	waitLimit(t, source)
	assertPhone(t, source, "submit", "")
	assertAxeDesktop(t, source, "submit")
	screenshot(t, source, "phone-drop-submit")
	// submit loads the link afresh: leave, or the same link would only move to its fragment.
	require.NoError(t, source.Navigate(ctx, "about:blank"))
	id := uniq(t)
	replyLink := submit(t, source, dropLink, submission{text: "phone " + id, wantReply: true}, false)
	require.NotEmpty(t, replyLink)
	assertPhone(t, source, "submit: sent, with the reply link", "")
	screenshot(t, source, "phone-drop-sent")

	openReply(t, source, replyLink, "waiting")
	assertPhone(t, source, "reply: waiting", "check")
	assertAxeDesktop(t, source, "reply: waiting")
	screenshot(t, source, "phone-reply-waiting")

	openInbox(t, journalist, inbox)
	assertPhone(t, journalist, "inbox", "")
	assertAxeDesktop(t, journalist, "inbox")
	readFirst(t, journalist)
	assertPhone(t, journalist, "inbox: the message", "")
	reply := "phone reply " + id
	require.NoError(t, journalist.SetValue(ctx, "#reply-text", reply))
	require.NoError(t, journalist.Click(ctx, "#reply-send"))
	require.Equal(t, "reply-sent", waitAny(t, journalist, 4*pageTimeout, "reply-sent", "error"), "reply: %s", text(t, journalist, "error"))
	assertPhone(t, journalist, "inbox: reply sent", "")

	require.NoError(t, source.Navigate(ctx, "about:blank")) // as above: a fresh load of the link
	openReply(t, source, replyLink, "ready")
	assertPhone(t, source, "reply: ready", "read")
	require.NoError(t, source.Click(ctx, "#read"))
	require.Equal(t, "reader", waitAny(t, source, 3*pageTimeout, "reader", "error", "gone"), "read: %s", text(t, source, "error"))
	assert.Equal(t, reply, text(t, source, "msg-text"))
	assertPhone(t, source, "reply: read", "")
	screenshot(t, source, "phone-reply-read")

	require.NoError(t, source.Reload(ctx))
	require.Equal(t, "paste", waitAny(t, source, pageTimeout, "paste", "ready", "waiting", "gone"))
	assertPhone(t, source, "reply: paste the link", "paste-open")
	require.NoError(t, source.SetValue(ctx, "#paste-link", replyLink))
	require.NoError(t, source.Click(ctx, "#paste-open"))
	require.Equal(t, "gone", waitAny(t, source, pageTimeout, "gone", "ready", "waiting", "error"))
	assertPhone(t, source, "reply: gone", "")

	assertClean(t, app.mark, append(inboxSecrets(t, inbox), inboxSecrets(t, replyLink)...), nil, journalist, source)
}

// A chat at a phone's size: start, the invitation, join, the conversation (with a message
// each way), and the end.
func TestPhoneChatSafer(t *testing.T) {
	RequireBrowser(t)
	app := startChatApp(t, nil)
	a := phoneTab(t, Safer)
	b := phoneTab(t, Safer)
	ctx := ctxT(t, 8*pageTimeout)

	require.NoError(t, a.Navigate(ctx, pool.Proxy.Origin()+"/chat"))
	waitAny(t, a, pageTimeout, "start")
	assertPhone(t, a, "chat: start", "")
	assertAxeDesktop(t, a, "chat: start")
	c := startChat(t, a, "", "", false)
	assertPhone(t, a, "chat: the invitation", "")

	openChat(t, b, c.link)
	assertPhone(t, b, "chat: join", "join-button")
	assertAxeDesktop(t, b, "chat: join")
	screenshot(t, b, "phone-chat-join")
	require.Equal(t, "talk", join(t, b, ""))
	require.Equal(t, waitSafety(t, a), waitSafety(t, b))
	peerJoined(t, a)
	say(t, a, b, "hello "+uniq(t))
	say(t, b, a, "hi "+uniq(t))
	assertPhone(t, b, "chat: talk (joiner)", "")
	assertPhone(t, a, "chat: talk (starter)", "")
	endChat(t, b, a)
	assertPhone(t, b, "chat: ended", "")
	app.assertNothingKept(t)
	assertClean(t, app.mark, [][]byte{c.key, c.km}, nil, a, b)
}

// At Safest the pages show their noscript panel: it too has one h1 and fits a phone.
func TestPhoneSafest(t *testing.T) {
	RequireBrowser(t)
	startApp(t)
	tab := phoneTab(t, Safest)
	ctx := ctxT(t, 2*pageTimeout)
	require.NoError(t, tab.Navigate(ctx, pool.Proxy.Origin()+"/"))
	require.True(t, visible(t, tab, "noscript"))
	assertPhone(t, tab, "create at Safest", "")
}
