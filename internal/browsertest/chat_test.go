package browsertest

// Issue 7's one-time chat through the real page in Firefox ESR at Tor Browser's security
// levels: two fresh user contexts start and join a chat, compare the safety code, send text
// and a file both ways, and end it; afterwards the server's vault holds nothing of the chat.
// Each test owns the vault and chat server it hands to web.New.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

type chatApp struct {
	mark int
	v    *vault.Vault
	cs   *chat.Server
}

// startChatApp serves a fresh sealdrop with chats behind the onion. wrap (may be nil) sits in
// front of the app, to break the WebSocket for the fallback test.
func startChatApp(t *testing.T, wrap func(http.Handler) http.Handler) chatApp {
	t.Helper()
	var cs *chat.Server
	v, mark := serveApp(t, pool.Proxy, appBudget, func(v *vault.Vault) web.Config {
		var err error
		cs, err = chat.New(chat.Config{Vault: v})
		require.NoError(t, err)
		t.Cleanup(cs.Close)
		return web.Config{Vault: v, Chat: cs}
	}, wrap)
	return chatApp{mark: mark, v: v, cs: cs}
}

// assertNothingKept: the chat server holds no chat and the vault no chat record.
func (a chatApp) assertNothingKept(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := a.v.Stats()
		if (a.cs.Count() == 0 && st.Entries[vault.KindChatFrame] == 0) || time.Now().After(deadline) {
			assert.Zero(t, a.cs.Count(), "chats the server still holds")
			assert.Zero(t, st.Entries[vault.KindChatFrame], "chat records in the vault")
			assert.Zero(t, st.Used, "bytes in use in the vault")
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type startedChat struct {
	link string
	key  []byte // K, from the link's fragment
	km   []byte // Km, the handshake's MAC key (with the PIN stretched in, when there is one)
}

// startChat fills in the start page as a person would and returns the chat link.
func startChat(t *testing.T, tab *Tab, pin, dpin string, shots bool) startedChat {
	t.Helper()
	ctx := ctxT(t, 3*pageTimeout)
	require.NoError(t, tab.Navigate(ctx, pool.Proxy.Origin()+"/chat"))
	waitAny(t, tab, pageTimeout, "start")
	if shots {
		screenshot(t, tab, "chat-start")
	}
	if pin != "" {
		require.NoError(t, tab.SetValue(ctx, "#pin", pin))
	}
	if dpin != "" {
		require.NoError(t, tab.SetValue(ctx, "#dpin", dpin))
	}
	require.NoError(t, tab.Click(ctx, "#start-button"))
	got := waitAny(t, tab, 3*pageTimeout, "invite", "error")
	require.Equal(t, "invite", got, "start failed: %s", text(t, tab, "error"))
	focusOn(t, tab, "invite-heading", "starting a chat")
	if shots {
		screenshot(t, tab, "chat-invite")
	}
	visQR, err := tab.Visible(ctx, "#qr svg")
	require.NoError(t, err)
	assert.True(t, visQR, "QR code drawn")
	u0, err := tab.URL(ctx)
	require.NoError(t, err)
	assert.NotContains(t, u0, "#", "the creator's address bar must not keep the key")
	c := startedChat{link: value(t, tab, "chat-link")}
	u, err := url.Parse(c.link)
	require.NoError(t, err)
	require.Equal(t, pool.Proxy.Host(), u.Host)
	require.Regexp(t, `^/c/[A-Za-z0-9_-]{22}$`, u.Path)
	frag, err := base64.RawURLEncoding.DecodeString(u.Fragment)
	require.NoError(t, err, "fragment %q", u.Fragment)
	require.Len(t, frag, 34)
	c.key = frag[2:]
	var P []byte
	if pin != "" {
		P = protocol.StretchPIN(c.key, pin)
	}
	c.km = protocol.ChatMACKey(c.key, P)
	return c
}

// openChat loads a chat link and checks that nothing happened before Join: the key is out of
// the address bar and no API request was sent.
func openChat(t *testing.T, tab *Tab, link string) {
	t.Helper()
	firefox().openUnused(t, tab, link, "join")
}

// join clicks Join (after typing the PIN, if any) and returns which view answered.
func join(t *testing.T, tab *Tab, pin string) string {
	t.Helper()
	ctx := ctxT(t, pageTimeout)
	if pin != "" {
		require.NoError(t, tab.SetValue(ctx, "#join-pin", pin))
	}
	require.NoError(t, tab.Click(ctx, "#join-button"))
	// The error box may already show an earlier wrong PIN: wait for the button to be usable
	// again and for an answer.
	deadline := time.Now().Add(3 * pageTimeout)
	before := text(t, tab, "error")
	for time.Now().Before(deadline) {
		got := waitAny(t, tab, 3*pageTimeout, "talk", "gone", "ended", "error")
		if got != "error" || text(t, tab, "error") != before {
			target := map[string]string{"talk": "talk-heading", "gone": "gone-heading", "ended": "ended-heading", "error": "error"}[got]
			focusOn(t, tab, target, "Join")
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no answer to Join")
	return ""
}

var safetyRE = regexp.MustCompile(`^\d{4}( \d{4}){5}$`)

// waitSafety waits for the handshake and returns the safety code shown.
func waitSafety(t *testing.T, tab *Tab) string {
	t.Helper()
	ctx := ctxT(t, 3*pageTimeout)
	err := tab.WaitFor(ctx, `/^\d{4}( \d{4}){5}$/.test(document.getElementById('safety').textContent)`, 3*pageTimeout)
	require.NoError(t, err, "no safety code (status %q, error %q)", text(t, tab, "status"), text(t, tab, "error"))
	code := text(t, tab, "safety")
	require.Regexp(t, safetyRE, code)
	return code
}

// peerJoined: the creator's page leaves the invitation for the conversation when the other
// person joins, and takes the focus to it (the invitation's controls it had are hidden).
func peerJoined(t *testing.T, creator *Tab) {
	t.Helper()
	waitAny(t, creator, 3*pageTimeout, "talk")
	focusOn(t, creator, "talk-heading", "the other person joining")
}

// say sends a text from one tab and waits until the other shows it.
func say(t *testing.T, from, to *Tab, msg string) {
	t.Helper()
	ctx := ctxT(t, 3*pageTimeout)
	require.NoError(t, from.SetValue(ctx, "#message", msg))
	require.NoError(t, from.Click(ctx, "#send"))
	want := "Them: " + msg
	err := to.WaitFor(ctx, `[...document.querySelectorAll('#log li.them')].some((li) => li.textContent === `+jsString(want)+`)`, 3*pageTimeout)
	require.NoError(t, err, "message %q did not arrive (error %q)", msg, text(t, to, "error"))
	err = from.WaitFor(ctx, `[...document.querySelectorAll('#log li.me')].some((li) => li.textContent === `+jsString("You: "+msg)+`)`, pageTimeout)
	require.NoError(t, err, "the sender's log must show %q", msg)
	assert.Equal(t, "", text(t, from, "message"), "the message box is cleared after sending")
}

// sendFile sends a file from one tab; the other saves it and the bytes are compared on disk.
func sendFile(t *testing.T, from, to *Tab, name string, data []byte) {
	t.Helper()
	ctx := ctxT(t, 6*pageTimeout)
	path := writeFile(t, t.TempDir(), name, data)
	require.NoError(t, from.SetFiles(ctx, "#file", []string{path}))
	// The privacy filter checks the file first; the sender reads the report and sends it.
	require.NoError(t, from.WaitFor(ctx, `!document.querySelector('#file-review').hidden && !document.querySelector('#file-send').disabled`, pageTimeout), "the file report must appear")
	require.NoError(t, from.Click(ctx, "#file-send"))
	focusOn(t, from, "message", "sending a file (its review closes)")
	sel := fmt.Sprintf(`#log a[download=%q]`, name)
	err := to.WaitFor(ctx, `document.querySelector(`+jsString(sel)+`) !== null`, 4*pageTimeout)
	require.NoError(t, err, "file %s did not arrive (error %q)", name, text(t, to, "error"))
	got, err := to.Download(ctx, sel, name, pageTimeout)
	require.NoError(t, err)
	b, err := os.ReadFile(got)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, b), "file %s must arrive byte-identical (%d bytes sent, %d saved)", name, len(data), len(b))
	err = from.WaitFor(ctx, `[...document.querySelectorAll('#log li.me')].some((li) => li.textContent.includes(`+jsString(name)+`) && li.textContent.endsWith('sent'))`, pageTimeout)
	assert.NoError(t, err, "the sender's log must say the file was sent")
}

// endChat ends the chat from one side; both sides show the ended view. End asks first, with
// the focus on the answer that keeps the chat, so Enter twice on End ends nothing: the other
// side still sees a chat (a message sent after it arrives), then "Yes, end the chat" ends it.
func endChat(t *testing.T, by, other *Tab) {
	t.Helper()
	ctx := ctxT(t, 2*pageTimeout)
	require.NoError(t, by.Focus(ctx, "#end"))
	require.NoError(t, by.Press(ctx, KeyEnter))
	waitAny(t, by, pageTimeout, "end-confirm")
	focusOn(t, by, "end-cancel", `Enter on "End chat"`)
	require.NoError(t, by.Press(ctx, KeyEnter))
	require.NoError(t, by.WaitFor(ctx, `document.getElementById('end-confirm').hidden`, pageTimeout), "Enter on No closes the question")
	focusOn(t, by, "end", "No, keep chatting")
	still := "still here " + uniq(t)
	say(t, by, other, still)
	require.NoError(t, by.Click(ctx, "#end"))
	waitAny(t, by, pageTimeout, "end-yes")
	require.NoError(t, by.Click(ctx, "#end-yes"))
	assert.Equal(t, "ended", waitAny(t, by, pageTimeout, "ended"))
	focusOn(t, by, "ended-heading", "End")
	assert.Equal(t, "ended", waitAny(t, other, 2*pageTimeout, "ended"))
	focusOn(t, other, "ended-heading", "the other side's End")
	assert.Contains(t, text(t, other, "ended-reason"), "ended")
}

// Two people chat: start, join, the same safety code, text and a file both ways, End; the
// server keeps nothing; no key on the wire, nothing outside the onion, no console error.
func TestChatTwoPeople(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		app := startChatApp(t, nil)
		a := pool.Person(t, l)
		b := pool.Person(t, l)
		c := startChat(t, a, "", "", true)
		openChat(t, b, c.link)
		screenshot(t, b, "chat-join")
		require.Equal(t, "talk", join(t, b, ""))
		peerJoined(t, a)
		codeA, codeB := waitSafety(t, a), waitSafety(t, b)
		assert.Equal(t, codeA, codeB, "both sides must show the same safety code")
		id := uniq(t)
		say(t, a, b, "hello from A "+id+" <b>not bold</b> ✓")
		say(t, b, a, "hello from B "+id+" Ünïcødé")
		sendFile(t, a, b, "a-to-b-"+id+".bin", randomBytes(t, 150<<10)) // three chunks
		sendFile(t, b, a, "b-to-a-"+id+".txt", []byte("a small file from B "+id+"\n"))
		screenshot(t, a, "chat-talk-creator")
		screenshot(t, b, "chat-talk-joiner")
		endChat(t, a, b)
		screenshot(t, b, "chat-ended")
		app.assertNothingKept(t)
		assertClean(t, app.mark, [][]byte{c.key, c.km}, nil, a, b)
	})
}

// A PIN: a wrong one counts down, the right one joins; a third person opening the link
// afterwards sees the gone view.
func TestChatPINAndThirdPerson(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		app := startChatApp(t, nil)
		a := pool.Person(t, l)
		b := pool.Person(t, l)
		const pin, wrong = "246813", "111111"
		c := startChat(t, a, pin, "", false)
		openChat(t, b, c.link)
		assert.True(t, visible(t, b, "join-pin-field"), "the link says a PIN is needed")
		require.Equal(t, "error", join(t, b, wrong))
		assert.Contains(t, text(t, b, "error"), "4 tries left")
		pinFieldHidden(t, b)
		screenshot(t, b, "chat-pin-wrong")
		require.Equal(t, "talk", join(t, b, pin))
		assert.Equal(t, waitSafety(t, a), waitSafety(t, b))
		say(t, b, a, "joined with a PIN "+uniq(t))

		third := pool.Person(t, l)
		openChat(t, third, c.link)
		assert.Equal(t, "gone", join(t, third, pin), "the link admits nobody after the claim")
		screenshot(t, third, "chat-gone")
		assert.False(t, visible(t, third, "talk"))

		endChat(t, b, a)
		app.assertNothingKept(t)
		assertClean(t, app.mark, [][]byte{c.key, c.km}, []string{pin, wrong}, a, b, third)
	})
}

// Safest: the chat link shows the noscript panel and burns nothing; a later join at Safer works.
func TestChatSafestNoscript(t *testing.T) {
	RequireBrowser(t)
	app := startChatApp(t, nil)
	a := pool.Person(t, Safer)
	c := startChat(t, a, "", "", false)
	safest := pool.Person(t, Safest)
	ctx := ctxT(t, 5*pageTimeout)
	for _, p := range []struct{ name, url string }{{"chat-start", pool.Proxy.Origin() + "/chat"}, {"chat-link", c.link}} {
		assertNoscriptPanel(t, ctx, safest, p.name, p.url, "The chat link still works", "noscript-"+p.name)
	}
	b := pool.Person(t, Safer)
	openChat(t, b, c.link)
	require.Equal(t, "talk", join(t, b, ""), "the link still works after Safest")
	assert.Equal(t, waitSafety(t, a), waitSafety(t, b))
	endChat(t, a, b)
	app.assertNothingKept(t)
	assertClean(t, app.mark, [][]byte{c.key, c.km}, nil, a, safest, b)
}

// The fallback: when the WebSocket cannot be opened at all, both pages move to the POST
// send/poll transport and the chat works the same.
func TestChatFallbackSafer(t *testing.T) {
	RequireBrowser(t)
	var refused atomic.Int32
	app := startChatApp(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/ws") {
				refused.Add(1) // a middlebox that breaks upgrades
				http.Error(w, "no sockets here", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	a := pool.Person(t, Safer)
	b := pool.Person(t, Safer)
	c := startChat(t, a, "", "", false)
	openChat(t, b, c.link)
	require.Equal(t, "talk", join(t, b, ""))
	peerJoined(t, a)
	assert.Equal(t, waitSafety(t, a), waitSafety(t, b))
	id := uniq(t)
	say(t, a, b, "over the fallback "+id)
	say(t, b, a, "back over the fallback "+id)
	sendFile(t, b, a, "fallback-"+id+".bin", randomBytes(t, 70<<10))
	endChat(t, a, b)
	app.assertNothingKept(t)
	assert.GreaterOrEqual(t, refused.Load(), int32(4), "both pages tried the socket twice first")
	// The refused upgrades are the only console errors allowed: the page itself raised none.
	for _, tab := range []*Tab{a, b} {
		for _, e := range tab.Errors() {
			assert.Contains(t, e.Text, "/ws", "console error other than the refused socket: %s", e)
		}
	}
	assertClean(t, app.mark, [][]byte{c.key, c.km}, nil)
}
