package browsertest

// Issue 8's drop boxes through the real pages in Firefox ESR at Tor Browser's security levels:
// a journalist creates a drop, a source submits text and a JPEG with a reply request, the
// journalist reads it once and replies, the source reads the reply once; second reads are
// gone, a read by someone else holding the inbox link shows as a theft warning, and no
// private key or inbox fragment ever reaches the wire.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

type dropApp struct {
	mark int
	v    *vault.Vault
}

// startDropApp serves a fresh sealdrop with drops behind the onion. A fresh server is far from
// half full, so submissions pay no price (the production path when a server has room).
func startDropApp(t *testing.T) dropApp { return startDropAppMax(t, 0) }

// startDropAppMax is startDropApp with a per-drop count cap (0: the default).
func startDropAppMax(t *testing.T, maxPending int) dropApp {
	t.Helper()
	return startDropAppWith(t, appBudget, drop.Config{TTL: 24 * time.Hour, MaxPending: maxPending})
}

// startDropAppWith serves drops made of cfg (its vault filled in) over a vault of budget bytes,
// with featured drops listed on the front page.
func startDropAppWith(t *testing.T, budget int64, cfg drop.Config, featured ...web.FeaturedDrop) dropApp {
	t.Helper()
	v, mark := serveApp(t, pool.Proxy, budget, func(v *vault.Vault) web.Config {
		cfg.Vault = v
		ds, err := drop.New(cfg)
		require.NoError(t, err)
		return web.Config{Vault: v, Drops: ds, FeaturedDrops: featured}
	}, nil)
	return dropApp{mark: mark, v: v}
}

func (a dropApp) submissions() int { return a.v.Stats().Entries[vault.KindSubmission] }

// inboxSecrets are the private scalars of an inbox link (or a reply link): e and a.
func inboxSecrets(t *testing.T, link string) [][]byte {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	require.Equal(t, pool.Proxy.Host(), u.Host)
	require.True(t, strings.HasPrefix(u.Path, "/i/") || strings.HasPrefix(u.Path, "/r/"), link)
	b, err := base64.RawURLEncoding.DecodeString(u.Fragment)
	require.NoError(t, err)
	require.Len(t, b, 196)
	return [][]byte{b[2:34], b[34:66]}
}

// createDrop makes a drop on /drop and returns (drop link, inbox link).
func createDrop(t *testing.T, tab *Tab, shots bool) (string, string) {
	t.Helper()
	return createNamedDrop(t, tab, "", shots)
}

// createNamedDrop makes a drop on /drop whose page shows name ("" for none; the page trims
// the spaces around it).
func createNamedDrop(t *testing.T, tab *Tab, name string, shots bool) (string, string) {
	t.Helper()
	ctx := ctxT(t, 3*pageTimeout)
	mark := pool.Proxy.Mark()
	require.NoError(t, tab.Navigate(ctx, pool.Proxy.Origin()+"/drop"))
	waitAny(t, tab, pageTimeout, "make")
	require.NoError(t, tab.SetValue(ctx, "#drop-name", name))
	require.NoError(t, tab.Click(ctx, "#make"))
	require.Equal(t, "result", waitAny(t, tab, pageTimeout, "result", "error"))
	focusOn(t, tab, "result-heading", "making a drop box")
	ok, err := tab.Visible(ctx, "#qr svg")
	require.NoError(t, err)
	assert.True(t, ok, "QR code drawn")
	if shots {
		screenshot(t, tab, "drop-created")
	}
	dropLink, inbox := value(t, tab, "drop-link"), value(t, tab, "inbox-link")
	assert.Contains(t, text(t, tab, "result"), "password manager", "advice on keeping the inbox link")
	assert.Contains(t, text(t, tab, "result"), "sealdrop inbox", "the CLI is recommended")
	for _, r := range pool.Proxy.RecordsSince(mark) {
		assert.NotContains(t, r.URL, "/api/", "creating a drop sends nothing: %s %s", r.Method, r.URL)
	}
	u, err := url.Parse(dropLink)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(u.Path, "/d/"), dropLink)
	keys, named, _ := strings.Cut(u.Fragment, ".")
	require.Len(t, keys, 176)
	if name != "" {
		raw, err := base64.RawURLEncoding.DecodeString(named)
		require.NoError(t, err)
		require.Equal(t, strings.TrimSpace(name), string(raw), "the drop link's fragment carries the name, trimmed")
	} else {
		require.Empty(t, named, "no name, nothing after the keys")
	}
	return dropLink, inbox
}

// TestDropNameShownToSource: the source's page says who will read the message. A drop that
// this server's front page lists shows the listed name; any other name is what the link
// claims, shown in a <bdi> with the caution that anyone can write one, and a loud warning
// when it copies a listed name on another drop; a link that names nobody says so. A name with
// a hidden character (a right-to-left override that would show "Jane Doe" as something else)
// is refused on the create page, and the server never sees a name.
func TestDropNameShownToSource(t *testing.T) {
	RequireBrowser(t)
	listed, err := protocol.NewDropKeys(0)
	require.NoError(t, err)
	listedName := "Investigations Desk " + uniq(t)
	pub := listed.Public()
	pub.Name = listedName
	listedLink := "/d/" + pub.RouteID() + "#" + pub.Fragment()
	app := startDropAppWith(t, appBudget, drop.Config{TTL: time.Hour}, web.FeaturedDrop{Name: listedName, Link: listedLink})
	journalist := pool.Person(t, Safer)
	source := pool.Person(t, Safer)
	ctx := ctxT(t, 8*pageTimeout)
	openDrop := func(link string) {
		t.Helper()
		require.NoError(t, source.Navigate(ctx, link))
		if waitAny(t, source, pageTimeout, "send", "gone") == "send" {
			// The page shows the size limit from the limits it came with (or, without them,
			// once it has asked for them): wait for it, so that such a request is not counted
			// as the next drop creation's.
			require.NoError(t, source.WaitFor(ctx, `document.getElementById('limit').textContent !== ''`, pageTimeout))
		}
	}
	shown := func(id string) (text, tag string) {
		t.Helper()
		var r struct{ Text, Tag string }
		require.NoError(t, source.Eval(ctx, fmt.Sprintf(`(() => { const e = document.getElementById(%q);
			return { text: e.textContent, tag: e.tagName }; })()`, id), &r))
		return r.Text, r.Tag
	}

	// Listed on the front page: the server's name, no caution.
	openDrop(pool.Proxy.Origin() + listedLink)
	assert.True(t, visible(t, source, "recipient"))
	assert.False(t, visible(t, source, "claimed"))
	assert.False(t, visible(t, source, "no-recipient"))
	name, tag := shown("recipient-name")
	assert.Equal(t, listedName, name)
	assert.Equal(t, "BDI", tag, "isolated for bidirectional text")

	// Named by its maker, not listed: a claim, with the caution.
	claim := "محمد أحمد (The Daily " + uniq(t) + ")"
	mark := pool.Proxy.Mark()
	claimed, _ := createNamedDrop(t, journalist, "  "+claim+" ", false) // the page trims it
	openDrop(claimed)
	assert.False(t, visible(t, source, "recipient"))
	assert.True(t, visible(t, source, "claimed"))
	assert.False(t, visible(t, source, "impostor"))
	name, tag = shown("claimed-name")
	assert.Equal(t, claim, name, "the name as typed, without the spaces around it")
	assert.Equal(t, "BDI", tag)
	assert.Contains(t, text(t, source, "claimed"), "Anyone can make a link that says this")
	for _, r := range pool.Proxy.RecordsSince(mark) {
		assert.NotContains(t, r.URL, base64.RawURLEncoding.EncodeToString([]byte(claim)), "the name stays in the fragment")
		assert.NotContains(t, r.URL, url.PathEscape(claim), "the name stays in the fragment")
	}

	// Another drop that copies the listed name: the warning.
	impostor, _ := createNamedDrop(t, journalist, strings.ToUpper(listedName), false)
	openDrop(impostor)
	assert.True(t, visible(t, source, "claimed"))
	assert.True(t, visible(t, source, "impostor"), "a copied listed name is called out")
	assert.Contains(t, text(t, source, "impostor"), "not the drop box that this server")

	// No name: the page says the link does not say.
	plain, _ := createDrop(t, journalist, false)
	openDrop(plain)
	assert.False(t, visible(t, source, "recipient"))
	assert.False(t, visible(t, source, "claimed"))
	assert.True(t, visible(t, source, "no-recipient"))
	assert.Contains(t, text(t, source, "no-recipient"), "does not say who will read")

	require.NoError(t, journalist.Navigate(ctx, pool.Proxy.Origin()+"/drop"))
	waitAny(t, journalist, pageTimeout, "make")
	require.NoError(t, journalist.SetValue(ctx, "#drop-name", "Jane \u202eeoD"))
	require.NoError(t, journalist.Click(ctx, "#make"))
	require.Equal(t, "error", waitAny(t, journalist, pageTimeout, "result", "error"))
	assert.Contains(t, text(t, journalist, "error"), "invisible characters")
	assert.False(t, visible(t, journalist, "result"), "no drop was made")
	var focused string
	require.NoError(t, journalist.Eval(ctx, `document.activeElement && document.activeElement.id`, &focused))
	assert.Equal(t, "drop-name", focused, "focus goes back to the name")
	assert.Zero(t, app.submissions())
}

type submission struct {
	text      string
	files     []string
	wantReply bool
}

// submit sends on a drop link and returns the reply inbox link (empty without a reply).
func submit(t *testing.T, tab *Tab, link string, s submission, shots bool) string {
	t.Helper()
	ctx := ctxT(t, 4*pageTimeout)
	require.NoError(t, tab.Navigate(ctx, link))
	waitAny(t, tab, pageTimeout, "send", "gone")
	u, err := tab.URL(ctx)
	require.NoError(t, err)
	assert.NotContains(t, u, "#", "the fragment leaves the address bar")
	require.NoError(t, tab.SetValue(ctx, "#text", s.text))
	if len(s.files) > 0 {
		require.NoError(t, tab.SetFiles(ctx, "#files", s.files))
		waitReport(t, tab, pageTimeout)
	}
	if s.wantReply {
		require.NoError(t, tab.Click(ctx, "#want-reply"))
	}
	if shots {
		screenshot(t, tab, "drop-submit")
	}
	require.NoError(t, tab.Click(ctx, "#send"))
	got := waitAny(t, tab, 4*pageTimeout, "sent", "error", "gone")
	require.Equal(t, "sent", got, "submit failed: %s", text(t, tab, "error"))
	focusOn(t, tab, "sent-heading", "sending on a drop link")
	if shots {
		screenshot(t, tab, "drop-sent")
	}
	if !s.wantReply {
		assert.False(t, visible(t, tab, "reply-box"))
		return ""
	}
	require.True(t, visible(t, tab, "reply-box"))
	return value(t, tab, "reply-link")
}

// openReply loads a source's reply link and waits for the reply page's state want ("ready"
// or "waiting"): the key leaves the address bar, and none of the journalist's tools (list,
// visit log, wipe, command-line advice) is on the page.
func openReply(t *testing.T, tab *Tab, link, want string) {
	t.Helper()
	ctx := ctxT(t, 2*pageTimeout)
	require.NoError(t, tab.Navigate(ctx, link))
	require.Equal(t, want, waitAny(t, tab, 2*pageTimeout, "ready", "waiting", "gone", "error"), "reply page: %s", text(t, tab, "error"))
	focusOn(t, tab, want+"-heading", "opening a reply link")
	u, err := tab.URL(ctx)
	require.NoError(t, err)
	assert.NotContains(t, u, "#", "the reply key leaves the address bar")
	for _, tool := range []string{"list", "visits-box", "wipe", "refresh", "inbox-heading"} {
		ok, err := tab.Exists(ctx, "#"+tool)
		require.NoError(t, err)
		assert.False(t, ok, "the reply page has no #%s", tool)
	}
	var page string
	require.NoError(t, tab.Eval(ctx, `document.body.innerText`, &page))
	for _, word := range []string{"inbox", "Wipe", "sealdrop inbox", "UTC"} {
		assert.NotContains(t, page, word, "nothing of the journalist's tools on the source's page")
	}
}

// openInbox loads an inbox link and waits for the list.
func openInbox(t *testing.T, tab *Tab, link string) {
	t.Helper()
	ctx := ctxT(t, 2*pageTimeout)
	require.NoError(t, tab.Navigate(ctx, link))
	require.Equal(t, "inbox", waitAny(t, tab, 2*pageTimeout, "inbox", "error"), "inbox: %s", text(t, tab, "error"))
	u, err := tab.URL(ctx)
	require.NoError(t, err)
	assert.NotContains(t, u, "#", "the inbox key leaves the address bar")
}

func listed(t *testing.T, tab *Tab) int {
	t.Helper()
	var n int
	require.NoError(t, tab.CallFunction(ctxT(t, 30*time.Second), `() => document.querySelectorAll('#list button.read').length`, &n))
	return n
}

// readFirst reads the first listed message and waits for it.
func readFirst(t *testing.T, tab *Tab) {
	t.Helper()
	ctx := ctxT(t, 3*pageTimeout)
	require.NoError(t, tab.Click(ctx, "#list button.read"))
	require.Equal(t, "reader", waitAny(t, tab, 3*pageTimeout, "reader", "error"), "read: %s", text(t, tab, "error"))
	focusOn(t, tab, "reader-heading", "Read once")
}

// back returns to the list and waits until it was fetched again.
func back(t *testing.T, tab *Tab) {
	t.Helper()
	ctx := ctxT(t, pageTimeout)
	require.NoError(t, tab.Click(ctx, "#back"))
	waitAny(t, tab, pageTimeout, "inbox")
	focusOn(t, tab, "inbox-heading", `"Back to the inbox"`)
}

func TestDropSubmitReadReply(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		app := startDropApp(t)
		journalist := pool.Person(t, l)
		source := pool.Person(t, l)
		thief := pool.Person(t, l)
		dir := t.TempDir()
		id := uniq(t)
		shots := l == Safer

		dropLink, inbox := createDrop(t, journalist, shots)
		secrets := inboxSecrets(t, inbox)

		jpegOrig, err := os.ReadFile(fixture(t, "gps.jpg"))
		require.NoError(t, err)
		jpegName := "leak-" + id + ".jpg"
		msg := "Documents attached.\nÜnïcødé ✓ <script>alert(1)</script> " + id
		start := time.Now()
		replyInbox := submit(t, source, dropLink, submission{text: msg, files: []string{writeFile(t, dir, jpegName, jpegOrig)}, wantReply: true}, shots)
		t.Logf("%s: submit with a JPEG and a reply box took %v", l, time.Since(start).Round(time.Millisecond))
		report := text(t, source, "strip-report")
		assert.Contains(t, strings.ToLower(report), "gps", "the strip report names the location")
		require.NotEmpty(t, replyInbox)
		replySecrets := inboxSecrets(t, replyInbox)
		assert.Equal(t, 1, app.submissions())
		assert.Contains(t, replyInbox, "/r/", "the source's link opens the reply page, not an inbox")

		// Before the journalist answers, the reply page says there is nothing yet.
		openReply(t, source, replyInbox, "waiting")
		assert.Contains(t, text(t, source, "waiting"), "There is no reply to read yet")

		// The journalist lists: one waiting, no theft warning.
		openInbox(t, journalist, inbox)
		assert.Equal(t, 1, listed(t, journalist))
		assert.False(t, visible(t, journalist, "theft"))
		if shots {
			screenshot(t, journalist, "drop-inbox")
		}

		// The journalist reads it: text as text, the JPEG without its tags.
		start = time.Now()
		readFirst(t, journalist)
		t.Logf("%s: fetch, decrypt and confirm took %v", l, time.Since(start).Round(time.Millisecond))
		if shots {
			screenshot(t, journalist, "drop-read")
		}
		assert.Equal(t, msg, text(t, journalist, "msg-text"))
		var scripts int
		require.NoError(t, journalist.CallFunction(ctxT(t, 10*time.Second), `() => document.querySelectorAll('#msg-text *').length`, &scripts))
		assert.Zero(t, scripts, "the text is rendered as text, not markup")
		assert.NotContains(t, text(t, journalist, "msg-files"), "sealdrop-reply-box", "the reply box is not shown as a file")
		var href string
		require.NoError(t, journalist.CallFunction(ctxT(t, 10*time.Second), `() => { const a = document.querySelector('#msg-files a'); return a.hasAttribute('download') ? a.href : ''; }`, &href))
		assert.True(t, strings.HasPrefix(href, "blob:"), "files are offered as downloads of local blobs: %q", href)
		got, err := journalist.Download(ctxT(t, 2*pageTimeout), fmt.Sprintf(`#msg-files a[download=%q]`, jpegName), jpegName, pageTimeout)
		require.NoError(t, err)
		assertJPEGStripped(t, jpegOrig, got, "CanonSecret", "SN123456789", "Jane Source", "Hiddenville", "LeakyCam")
		assert.Equal(t, 0, app.submissions(), "the read one is wiped on the server")

		// The journalist replies to the reply box that came inside the submission.
		require.True(t, visible(t, journalist, "reply-form"), "a submission with a reply box offers Reply")
		reply := "Thank you. Received " + id + " — <b>stay safe</b>"
		require.NoError(t, journalist.SetValue(ctxT(t, 10*time.Second), "#reply-text", reply))
		require.NoError(t, journalist.Click(ctxT(t, 10*time.Second), "#reply-send"))
		require.Equal(t, "reply-sent", waitAny(t, journalist, 4*pageTimeout, "reply-sent", "error"), "reply: %s", text(t, journalist, "error"))
		// The form is gone: the focus goes to the sentence that says the reply was sent,
		// whose next Tab is "Back to the inbox".
		focusOn(t, journalist, "reply-sent", "sending the reply")
		assert.False(t, visible(t, journalist, "reply-form"), "exactly one reply")
		assert.Equal(t, 1, app.submissions(), "the reply")

		// A second, text-only submission: the one the thief will read.
		submit(t, source, dropLink, submission{text: "second " + id}, false)
		assert.Equal(t, 2, app.submissions())
		// Someone else with the inbox link reads the second submission...
		openInbox(t, thief, inbox)
		require.Equal(t, 1, listed(t, thief))
		readFirst(t, thief)
		assert.Equal(t, "second "+id, text(t, thief, "msg-text"))
		assert.False(t, visible(t, thief, "reply-form"), "no reply box, no Reply")
		// ...and the journalist's next look says so, prominently.
		back(t, journalist)
		require.NoError(t, journalist.WaitVisible(ctxT(t, pageTimeout), "#empty", pageTimeout))
		assert.Equal(t, 0, listed(t, journalist), "every second read is gone: nothing left to read")
		require.True(t, visible(t, journalist, "theft"), "a read by someone else is a theft warning")
		assert.Contains(t, text(t, journalist, "theft-count"), "1 message was read since your last visit")
		if shots {
			screenshot(t, journalist, "drop-theft-warning")
		}

		// The source reads the reply once on the reply page, which has nothing of an inbox.
		openReply(t, source, replyInbox, "ready")
		require.NoError(t, source.Click(ctxT(t, 10*time.Second), "#read"))
		require.Equal(t, "reader", waitAny(t, source, 3*pageTimeout, "reader", "error", "gone"), "read: %s", text(t, source, "error"))
		focusOn(t, source, "reader-heading", "reading the reply")
		if shots {
			screenshot(t, source, "drop-reply-read")
		}
		assert.Equal(t, reply, text(t, source, "msg-text"))
		assert.Equal(t, 0, app.submissions(), "nothing left on the server")

		// A second read: the reply page, reloaded (it asks for the link again) and pasted, says
		// the reply was read already, and who to suspect if it was not the source; the
		// journalist's inbox in a fresh context is empty.
		require.NoError(t, source.Reload(ctxT(t, pageTimeout)))
		require.Equal(t, "paste", waitAny(t, source, pageTimeout, "paste", "ready", "waiting", "gone"), "a reload does not find the key in the address bar")
		require.NoError(t, source.SetValue(ctxT(t, 10*time.Second), "#paste-link", replyInbox))
		require.NoError(t, source.Click(ctxT(t, 10*time.Second), "#paste-open"))
		require.Equal(t, "gone", waitAny(t, source, pageTimeout, "gone", "ready", "waiting", "error"))
		focusOn(t, source, "gone-heading", "opening a pasted reply link")
		assert.Contains(t, text(t, source, "gone-text"), "already been read")
		assert.Contains(t, text(t, source, "gone-text"), "someone else has this link")
		other := pool.Person(t, l)
		openInbox(t, other, inbox)
		require.NoError(t, other.WaitVisible(ctxT(t, pageTimeout), "#empty", pageTimeout))

		assertClean(t, app.mark, append(secrets, replySecrets...), nil, journalist, source, thief, other)
		assertNoFragment(t, app.mark, inbox, replyInbox)
	})
}

// assertNoFragment: the inbox links' fragments, as strings, are in no request.
func assertNoFragment(t *testing.T, mark int, links ...string) {
	t.Helper()
	for _, l := range links {
		_, frag, _ := strings.Cut(l, "#")
		require.Len(t, frag, 262)
		for _, r := range pool.Proxy.RecordsSince(mark) {
			assert.NotContains(t, r.URL, frag[:40])
			assert.False(t, bytes.Contains(r.Body, []byte(frag[:40])), "inbox fragment in the body of %s %s", r.Method, r.URL)
			for _, vs := range r.Header {
				for _, v := range vs {
					assert.NotContains(t, v, frag[:40])
				}
			}
		}
	}
}

// At Safest the three drop pages show their noscript panel and send nothing but GETs; the
// waiting submission is still there afterwards.
func TestDropSafestNoscript(t *testing.T) {
	RequireBrowser(t)
	app := startDropApp(t)
	journalist := pool.Person(t, Safer)
	dropLink, inbox := createDrop(t, journalist, false)
	source := pool.Person(t, Safer)
	submit(t, source, dropLink, submission{text: "before safest " + uniq(t)}, false)
	require.Equal(t, 1, app.submissions())
	safest := pool.Person(t, Safest)
	ctx := ctxT(t, 5*pageTimeout)
	for _, p := range []struct{ name, url, calm string }{
		{"drop-create", pool.Proxy.Origin() + "/drop", "Nothing was made or sent"},
		{"drop-submit", dropLink, "Nothing was sent"},
		{"drop-inbox", inbox, "Nothing was read or deleted"},
	} {
		assertNoscriptPanel(t, ctx, safest, p.name, p.url, p.calm, "noscript-"+p.name)
	}
	assert.Equal(t, 1, app.submissions(), "nothing burned at Safest")
	openInbox(t, journalist, inbox)
	require.Equal(t, 1, listed(t, journalist))
	// Delete all waiting messages asks first; Cancel keeps everything, Yes deletes it unread.
	// By keyboard, Enter on "Delete all waiting messages" and Enter again cancel: the question takes the focus
	// to Cancel, and Cancel gives it back to "Delete all waiting messages".
	require.NoError(t, journalist.Focus(ctx, "#wipe"))
	require.NoError(t, journalist.Press(ctx, KeyEnter))
	waitAny(t, journalist, pageTimeout, "wipe-confirm")
	focusOn(t, journalist, "wipe-no", `Enter on "Delete all waiting messages"`)
	require.NoError(t, journalist.Press(ctx, KeyEnter))
	require.NoError(t, journalist.WaitFor(ctx, `document.getElementById('wipe-confirm').hidden`, pageTimeout), "Enter on Cancel closes the question")
	focusOn(t, journalist, "wipe", "Cancel")
	assert.Equal(t, 1, app.submissions(), "cancel keeps it")
	require.NoError(t, journalist.Click(ctx, "#wipe"))
	waitAny(t, journalist, pageTimeout, "wipe-confirm")
	focusOn(t, journalist, "wipe-no", `clicking "Delete all waiting messages"`)
	require.NoError(t, journalist.Click(ctx, "#wipe-no"))
	assert.False(t, visible(t, journalist, "wipe-confirm"))
	focusOn(t, journalist, "wipe", "clicking Cancel")
	assert.Equal(t, 1, app.submissions(), "cancel keeps it")
	require.NoError(t, journalist.Click(ctx, "#wipe"))
	waitAny(t, journalist, pageTimeout, "wipe-confirm")
	screenshot(t, journalist, "drop-wipe-confirm")
	require.NoError(t, journalist.Click(ctx, "#wipe-yes"))
	require.Equal(t, "wiped", waitAny(t, journalist, pageTimeout, "wiped", "error"))
	focusOn(t, journalist, "inbox-heading", "Delete all waiting messages")
	assert.Contains(t, text(t, journalist, "wiped"), "Deleted 1 waiting message")
	assert.Equal(t, 0, listed(t, journalist))
	assert.Equal(t, 0, app.submissions(), "wiped on the server")
	assertClean(t, app.mark, inboxSecrets(t, inbox), nil, journalist, source, safest)
}

// The submit page's refusals: a link whose keys do not hash to its route is refused before
// anything is sent; a full drop says so and stores nothing more.
func TestDropRefusals(t *testing.T) {
	RequireBrowser(t)
	app := startDropAppMax(t, 1)
	journalist := pool.Person(t, Safer)
	dropLink, _ := createDrop(t, journalist, false)
	source := pool.Person(t, Safer)
	ctx := ctxT(t, 3*pageTimeout)

	// Another route with these keys: the page refuses without a single API call.
	path, frag, _ := strings.Cut(dropLink, "#")
	route := path[strings.LastIndex(path, "/")+1:]
	other := []byte(route)
	other[0] = map[bool]byte{true: 'B', false: 'A'}[other[0] == 'A']
	mark := pool.Proxy.Mark()
	require.NoError(t, source.Navigate(ctx, strings.TrimSuffix(path, route)+string(other)+"#"+frag))
	require.Equal(t, "gone", waitAny(t, source, pageTimeout, "gone", "send"))
	assert.Contains(t, text(t, source, "gone-text"), "incomplete or damaged")
	for _, r := range pool.Proxy.RecordsSince(mark) {
		assert.NotContains(t, r.URL, "/api/", "a mismatched link sends nothing: %s %s", r.Method, r.URL)
	}

	submit(t, source, dropLink, submission{text: "fills it " + uniq(t)}, false)
	require.Equal(t, 1, app.submissions())
	require.NoError(t, source.Navigate(ctx, dropLink))
	waitAny(t, source, pageTimeout, "send")
	require.NoError(t, source.SetValue(ctx, "#text", "one too many"))
	require.NoError(t, source.Click(ctx, "#send"))
	require.Equal(t, "error", waitAny(t, source, 2*pageTimeout, "sent", "error", "gone"))
	assert.Contains(t, text(t, source, "error"), "full right now")
	assert.True(t, visible(t, source, "compose"), "the message stays, to send later")
	assert.Equal(t, "one too many", value(t, source, "text"))
	screenshot(t, source, "drop-full")
	assert.Equal(t, 1, app.submissions(), "a full drop stores nothing more")
	assertClean(t, app.mark, nil, nil, journalist, source)
}
