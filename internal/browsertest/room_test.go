package browsertest

// Issue 20's one-time group rooms through the real page in Firefox ESR at Tor Browser's
// security levels: a creator and members in separate user contexts (pool.Person), each its
// own person with its own cookies and storage. Each test owns the vault and room server it
// hands to web.New.

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

	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/room"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

type roomApp struct {
	mark int
	v    *vault.Vault
	rs   *room.Server
}

func startRoomApp(t *testing.T) roomApp {
	t.Helper()
	var rs *room.Server
	v, mark := serveApp(t, pool.Proxy, appBudget, func(v *vault.Vault) web.Config {
		var err error
		rs, err = room.New(room.Config{Vault: v})
		require.NoError(t, err)
		t.Cleanup(rs.Close)
		return web.Config{Vault: v, Room: rs}
	}, nil)
	return roomApp{mark: mark, v: v, rs: rs}
}

// assertNothingKept: the vault holds no room record and nothing at all once the room ended.
func (a roomApp) assertNothingKept(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := a.v.Stats()
		if (st.Entries[vault.KindRoomFrame] == 0 && st.Used == 0) || time.Now().After(deadline) {
			assert.Zero(t, st.Entries[vault.KindRoomFrame], "room records in the vault")
			assert.Zero(t, st.Used, "bytes in use in the vault")
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type createdRoom struct {
	invites []string // seat 2 … n
	keys    [][]byte // Kr and every K_s of the invites, and Km
}

// createRoom fills in the create page as a person would: n seats, the creator's name, and
// when pin is set, the PIN under "More options". It returns the invite links.
func createRoom(t *testing.T, tab *Tab, n int, name, pin string, shots bool) createdRoom {
	t.Helper()
	return createRoomWith(t, tab, n, name, pin, "", shots)
}

// createRoomWith is createRoom with a destruct PIN too (under "More options", beside the PIN).
func createRoomWith(t *testing.T, tab *Tab, n int, name, pin, dpin string, shots bool) createdRoom {
	t.Helper()
	ctx := ctxT(t, 3*pageTimeout)
	require.NoError(t, tab.Navigate(ctx, pool.Proxy.Origin()+"/room"))
	waitAny(t, tab, pageTimeout, "create")
	var open bool
	require.NoError(t, tab.Eval(ctx, `document.getElementById('more-options').open`, &open))
	assert.False(t, open, "the PIN and the time limit are behind More options, folded")
	if shots {
		screenshot(t, tab, "room-create")
	}
	require.NoError(t, tab.SetValue(ctx, "#seats", fmt.Sprint(n)))
	require.NoError(t, tab.SetValue(ctx, "#create-name", name))
	if pin != "" {
		require.NoError(t, tab.Click(ctx, "#more-options summary"))
		require.NoError(t, tab.SetValue(ctx, "#pin", pin))
		if dpin != "" {
			require.NoError(t, tab.SetValue(ctx, "#dpin", dpin))
		}
	}
	require.NoError(t, tab.Click(ctx, "#create-button"))
	got := waitAny(t, tab, 3*pageTimeout, "invites", "error")
	require.Equal(t, "invites", got, "create failed: %s", text(t, tab, "error"))
	focusOn(t, tab, "invites-heading", "creating a room")
	u0, err := tab.URL(ctx)
	require.NoError(t, err)
	assert.NotContains(t, u0, "#", "the creator's address bar must not keep a key")
	assert.Contains(t, text(t, tab, "invites"), "Why one link per person", "the page says why")
	var c createdRoom
	var kr []byte
	for s := 2; s <= n; s++ {
		link := value(t, tab, fmt.Sprintf("invite-%d", s))
		vis, err := tab.Visible(ctx, fmt.Sprintf("#invite-list li:nth-child(%d) .qr svg", s-1))
		require.NoError(t, err)
		assert.True(t, vis, "the QR code of invite %d is drawn", s)
		u, err := url.Parse(link)
		require.NoError(t, err)
		require.Equal(t, pool.Proxy.Host(), u.Host)
		require.Regexp(t, `^/g/[A-Za-z0-9_-]{22}$`, u.Path)
		frag, err := base64.RawURLEncoding.DecodeString(u.Fragment)
		require.NoError(t, err, "fragment %q", u.Fragment)
		require.Len(t, frag, 67)
		require.Equal(t, byte(s), frag[2], "invite %d names its seat", s)
		if kr == nil {
			kr = frag[35:]
		}
		require.Equal(t, kr, frag[35:], "every invite carries the one room key")
		c.invites = append(c.invites, link)
		c.keys = append(c.keys, frag[3:35])
	}
	if shots {
		screenshot(t, tab, "room-invites")
	}
	var P []byte
	if pin != "" {
		P = protocol.RoomStretchPIN(kr, pin)
	}
	c.keys = append(c.keys, kr, protocol.RoomMACKey(kr, P))
	require.NoError(t, tab.Click(ctx, "#invites-done"))
	focusOn(t, tab, "room-heading", "Go to the room")
	return c
}

// joinRoom opens an invite (nothing reaches the API before Join), types the name and joins;
// shot, when set, names a screenshot of the join view.
func joinRoom(t *testing.T, tab *Tab, link, name, shot string) string {
	t.Helper()
	firefox().openUnused(t, tab, link, "join")
	if shot != "" {
		screenshot(t, tab, shot)
	}
	ctx := ctxT(t, 3*pageTimeout)
	require.NoError(t, tab.SetValue(ctx, "#join-name", name))
	require.NoError(t, tab.Click(ctx, "#join-button"))
	got := waitAny(t, tab, 3*pageTimeout, "room", "gone", "error")
	if got == "room" {
		focusOn(t, tab, "room-heading", "Join")
	}
	return got
}

// members is the member list as shown: one line per seat.
func members(t *testing.T, tab *Tab) []string {
	t.Helper()
	var out []string
	require.NoError(t, tab.CallFunction(ctxT(t, pageTimeout), `() => [...document.querySelectorAll('#members li')].map((li) => li.textContent)`, &out))
	return out
}

// roomSettle waits until every tab shows the same safety code and the "ready" status, with want
// (the member lines, in seat order) as its list, and returns the code.
func roomSettle(t *testing.T, want []string, tabs ...*Tab) string {
	t.Helper()
	wants := make([][]string, len(tabs))
	for i := range wants {
		wants[i] = want
	}
	return roomSettleEach(t, wants, tabs...)
}

// roomSettleEach is roomSettle with the list each tab must show (a late joiner never saw who
// left before it came).
func roomSettleEach(t *testing.T, wants [][]string, tabs ...*Tab) string {
	t.Helper()
	deadline := time.Now().Add(2 * pageTimeout)
	for {
		codes := map[string]bool{}
		ok := true
		var last []string
		for i, tab := range tabs {
			want := wants[i]
			code := text(t, tab, "safety")
			codes[code] = true
			last = members(t, tab)
			ready := strings.HasPrefix(text(t, tab, "status"), "Ready.")
			ok = ok && safetyRE.MatchString(code) && ready && equalLines(last, want, tab)
		}
		if ok && len(codes) == 1 {
			for c := range codes {
				return c
			}
		}
		if time.Now().After(deadline) {
			for i, tab := range tabs {
				t.Logf("tab %d: status %q, safety %q, members %q, error %q, log %q, console %v", i, text(t, tab, "status"), text(t, tab, "safety"), members(t, tab), text(t, tab, "error"), text(t, tab, "log"), tab.Errors())
			}
			t.Fatalf("the members did not settle on the lists %q and one safety code", wants)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// equalLines compares the member lines, with " (you)" allowed on the tab's own line.
func equalLines(got, want []string, _ *Tab) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g := strings.Replace(got[i], " (you)", "", 1)
		if g != want[i] {
			return false
		}
	}
	return true
}

// roomSay sends a text from one tab and waits until each of to shows it with the sender's
// name and seat.
func roomSay(t *testing.T, from *Tab, sender, msg string, to ...*Tab) {
	t.Helper()
	ctx := ctxT(t, 3*pageTimeout)
	require.NoError(t, from.SetValue(ctx, "#message", msg))
	require.NoError(t, from.Click(ctx, "#send"))
	want := sender + ": " + msg
	for _, tab := range to {
		err := tab.WaitFor(ctx, `[...document.querySelectorAll('#log li.them')].some((li) => li.textContent === `+jsString(want)+`)`, 3*pageTimeout)
		require.NoError(t, err, "message %q did not arrive (error %q, log %q)", want, text(t, tab, "error"), text(t, tab, "log"))
	}
	err := from.WaitFor(ctx, `[...document.querySelectorAll('#log li.me')].some((li) => li.textContent === `+jsString("You: "+msg)+`)`, pageTimeout)
	require.NoError(t, err, "the sender's log must show %q", msg)
}

// neverShows: none of the tabs' documents holds s.
func neverShows(t *testing.T, s, why string, tabs ...*Tab) {
	t.Helper()
	for _, tab := range tabs {
		var has bool
		require.NoError(t, tab.CallFunction(ctxT(t, pageTimeout), `(s) => document.body.textContent.includes(s)`, &has, s))
		assert.False(t, has, "%s: %q", why, s)
	}
}

// roomFile sends a file through the privacy filter to everyone; each of to saves it and the
// bytes are compared on disk.
func roomFile(t *testing.T, from *Tab, name string, data []byte, to ...*Tab) {
	t.Helper()
	ctx := ctxT(t, 6*pageTimeout)
	path := writeFile(t, t.TempDir(), name, data)
	require.NoError(t, from.SetFiles(ctx, "#file", []string{path}))
	require.NoError(t, from.WaitFor(ctx, `!document.querySelector('#file-review').hidden && !document.querySelector('#file-send').disabled`, pageTimeout), "the file report must appear")
	require.NoError(t, from.Click(ctx, "#file-send"))
	focusOn(t, from, "message", "sending a file (its review closes)")
	sel := fmt.Sprintf(`#log a[download=%q]`, name)
	for _, tab := range to {
		err := tab.WaitFor(ctx, `document.querySelector(`+jsString(sel)+`) !== null`, 4*pageTimeout)
		require.NoError(t, err, "file %s did not arrive (error %q)", name, text(t, tab, "error"))
		got, err := tab.Download(ctx, sel, name, pageTimeout)
		require.NoError(t, err)
		b, err := os.ReadFile(got)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, b), "file %s must arrive byte-identical (%d bytes sent, %d saved)", name, len(data), len(b))
	}
	err := from.WaitFor(ctx, `[...document.querySelectorAll('#log li.me')].some((li) => li.textContent.includes(`+jsString(name)+`) && li.textContent.endsWith('sent'))`, 2*pageTimeout)
	assert.NoError(t, err, "the sender's log must say the file was sent")
}

// leaveRoom: Leave asks first with the focus on "No, stay", so Enter twice leaves nothing;
// then "Yes, leave" shows the ended view with its reason.
func leaveRoom(t *testing.T, tab *Tab) {
	t.Helper()
	ctx := ctxT(t, 2*pageTimeout)
	require.NoError(t, tab.Focus(ctx, "#leave"))
	require.NoError(t, tab.Press(ctx, KeyEnter))
	waitAny(t, tab, pageTimeout, "leave-confirm")
	focusOn(t, tab, "leave-cancel", `Enter on "Leave the room"`)
	require.NoError(t, tab.Press(ctx, KeyEnter))
	require.NoError(t, tab.WaitFor(ctx, `document.getElementById('leave-confirm').hidden`, pageTimeout), "Enter on No closes the question")
	focusOn(t, tab, "leave", "No, stay in the room")
	assert.True(t, visible(t, tab, "room"), "still in the room")
	require.NoError(t, tab.Click(ctx, "#leave"))
	waitAny(t, tab, pageTimeout, "leave-yes")
	require.NoError(t, tab.Click(ctx, "#leave-yes"))
	assert.Equal(t, "ended", waitAny(t, tab, pageTimeout, "ended"))
	focusOn(t, tab, "ended-heading", "Leave")
	assert.Equal(t, "You left the room.", text(t, tab, "ended-reason"))
}

// endForAll: the creator ends the room (asked first); every other tab shows the ended view.
func endForAll(t *testing.T, creator *Tab, others ...*Tab) {
	t.Helper()
	ctx := ctxT(t, 2*pageTimeout)
	require.NoError(t, creator.Click(ctx, "#end-all"))
	waitAny(t, creator, pageTimeout, "end-confirm")
	focusOn(t, creator, "end-cancel", `"End the room for everyone"`)
	require.NoError(t, creator.Click(ctx, "#end-yes"))
	assert.Equal(t, "ended", waitAny(t, creator, pageTimeout, "ended"))
	for _, tab := range others {
		assert.Equal(t, "ended", waitAny(t, tab, 2*pageTimeout, "ended"))
		assert.Equal(t, "The room was ended for everyone.", text(t, tab, "ended-reason"))
	}
}

// Three members in a room of four: names, messages and a file to all, one member list and one
// safety code; one leaves and reads nothing after; a late joiner reads nothing from before;
// the creator ends the room; the server keeps nothing; no key on the wire, no console error.
func TestRoomThreeMembers(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		app := startRoomApp(t)
		a := pool.Person(t, l)
		b := pool.Person(t, l)
		c := pool.Person(t, l)
		shots := l == Safer
		r := createRoom(t, a, 4, "Alice", "", shots)
		shot := ""
		if shots {
			shot = "room-join"
		}
		require.Equal(t, "room", joinRoom(t, b, r.invites[0], "Bob", shot))
		require.Equal(t, "room", joinRoom(t, c, r.invites[1], "Carol", ""))

		three := []string{"Alice (place 1)", "Bob (place 2)", "Carol (place 3)"}
		code := roomSettle(t, three, a, b, c)
		assert.Contains(t, text(t, a, "members"), "Alice (place 1) (you)")
		id := uniq(t)
		early := "before Dave " + id
		roomSay(t, a, "Alice (place 1)", early, b, c)
		roomSay(t, b, "Bob (place 2)", "hello from Bob "+id+" <b>not bold</b> ✓", a, c)
		roomFile(t, c, "c-to-all-"+id+".bin", randomBytes(t, 150<<10), a, b) // three pieces
		if shots {
			screenshot(t, a, "room-talk-creator")
		}
		screenshot(t, b, "room-talk-member") // at Standard too: the README shows one of each

		leaveRoom(t, b)
		if shots {
			screenshot(t, b, "room-left")
		}
		for _, tab := range []*Tab{a, c} {
			require.NoError(t, tab.WaitFor(ctxT(t, 2*pageTimeout), `document.getElementById('log').textContent.includes('Bob (place 2) left the room.')`, 2*pageTimeout), "the others see the signed goodbye")
		}
		two := []string{"Alice (place 1)", "Bob (place 2) (left the room)", "Carol (place 3)"}
		code2 := roomSettle(t, two, a, c)
		assert.NotEqual(t, code, code2, "the safety code changes with the members")
		assert.True(t, visible(t, a, "safety-changed"), "the page asks to compare the code again")
		after := "after Bob left " + id
		roomSay(t, a, "Alice (place 1)", after, c)
		neverShows(t, after, "a member who left reads nothing after", b)

		dave := pool.Person(t, l)
		require.Equal(t, "room", joinRoom(t, dave, r.invites[2], "Dave", ""))
		four := []string{"Alice (place 1)", "Bob (place 2) (left the room)", "Carol (place 3)", "Dave (place 4)"}
		late := []string{"Alice (place 1)", "Carol (place 3)", "Dave (place 4)"} // Bob left before Dave came
		roomSettleEach(t, [][]string{four, four, late}, a, c, dave)
		later := "with Dave " + id
		roomSay(t, c, "Carol (place 3)", later, a, dave)
		neverShows(t, early, "a late joiner reads nothing from before", dave)
		neverShows(t, after, "a late joiner reads nothing from before", dave)
		// Keys carry the previous version and its count: through three versions with an honest
		// relay nobody is told that messages did not arrive (a late joiner counts none from before
		// it came, a member none of a version whose records all came).
		neverShows(t, "did not arrive", "no missing-messages note when nothing was held back", a, c, dave)
		if shots {
			screenshot(t, dave, "room-late-joiner")
		}

		endForAll(t, a, c, dave)
		if shots {
			screenshot(t, c, "room-ended")
		}
		app.assertNothingKept(t)
		assertClean(t, app.mark, r.keys, nil, a, b, c, dave)
	})
}

// Safest: the create page and an invite show the noscript panel and burn nothing; the invite
// still works at Safer afterwards.
func TestRoomSafestNoscript(t *testing.T) {
	RequireBrowser(t)
	app := startRoomApp(t)
	a := pool.Person(t, Safer)
	r := createRoom(t, a, 2, "Alice", "", false)
	safest := pool.Person(t, Safest)
	ctx := ctxT(t, 5*pageTimeout)
	for _, p := range []struct{ name, url string }{{"room-create", pool.Proxy.Origin() + "/room"}, {"room-invite", r.invites[0]}} {
		assertNoscriptPanel(t, ctx, safest, p.name, p.url, "The invite link still works", "noscript-"+p.name)
	}
	b := pool.Person(t, Safer)
	require.Equal(t, "room", joinRoom(t, b, r.invites[0], "Bob", ""), "the invite still works after Safest")
	roomSettle(t, []string{"Alice (place 1)", "Bob (place 2)"}, a, b)
	endForAll(t, a, b)
	app.assertNothingKept(t)
	assertClean(t, app.mark, r.keys, nil, a, safest, b)
}

// roomJoinPIN types the PIN and the name into an invite's join form and clicks Join; it
// answers the view that answered ("room", "gone" or "error"). The error box may already show
// an earlier wrong PIN: it waits for the button to be usable again and for a new answer.
func roomJoinPIN(t *testing.T, tab *Tab, pin, name string) string {
	t.Helper()
	ctx := ctxT(t, 4*pageTimeout)
	require.NoError(t, tab.SetValue(ctx, "#join-pin", pin))
	require.NoError(t, tab.SetValue(ctx, "#join-name", name))
	before := text(t, tab, "error")
	require.NoError(t, tab.Click(ctx, "#join-button"))
	deadline := time.Now().Add(3 * pageTimeout)
	for time.Now().Before(deadline) {
		got := waitAny(t, tab, 3*pageTimeout, "room", "gone", "error")
		var busy bool
		require.NoError(t, tab.Eval(ctx, `document.getElementById('join-button').disabled`, &busy))
		if got != "error" || (!busy && text(t, tab, "error") != before) {
			target := map[string]string{"room": "room-heading", "gone": "gone-heading", "error": "error"}[got]
			focusOn(t, tab, target, "Join")
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no answer to Join")
	return ""
}

// roomJoinView is what the person at an invite's join form sees and can reach: which parts
// show, every word on the screen, the fields' contents (the PIN field: whether it still holds
// what was typed) and where the focus is.
type roomJoinView struct {
	Visible   []string
	Text      string
	PINKept   bool
	Name      string
	Focus     string
	ButtonOff bool
}

func readRoomJoinView(t *testing.T, tab *Tab, typed string) roomJoinView {
	t.Helper()
	var v roomJoinView
	require.NoError(t, tab.CallFunction(ctxT(t, pageTimeout), `(typed) => { `+visJS+`
		const ids = ['create', 'invites', 'join', 'join-pin-field', 'room', 'ended', 'gone', 'error'];
		return { Visible: ids.filter(vis), Text: document.body.innerText,
			PINKept: document.getElementById('join-pin').value === typed, Name: document.getElementById('join-name').value,
			Focus: document.activeElement ? document.activeElement.id : '',
			ButtonOff: document.getElementById('join-button').disabled }; }`, &v, typed))
	return v
}

// PIN rooms: a wrong PIN counts down and does not join, the right one joins. In a second room
// the destruct PIN shows the person typing it exactly what a typo shows (the same words, the
// same tries left, the same fields and focus), while the members inside see the room end for
// everyone; the destroyed room's invite then never joins, and ends in the gone view.
func TestRoomPINAndDestruct(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		app := startRoomApp(t)
		const pin, dpin, typo = "246813", "864200", "111111"
		id := uniq(t)

		// Room 1: a typo, then the right PIN.
		a := pool.Person(t, l)
		r1 := createRoomWith(t, a, 3, "Alice", pin, dpin, false)
		b := pool.Person(t, l)
		firefox().openUnused(t, b, r1.invites[0], "join")
		assert.True(t, visible(t, b, "join-pin-field"), "the invite says a PIN is needed")
		require.Equal(t, "error", roomJoinPIN(t, b, typo, "Bob"))
		assert.Equal(t, "Wrong PIN. 4 tries left.", text(t, b, "error"))
		assert.True(t, visible(t, b, "join"), "a wrong PIN leaves the join form")
		assert.False(t, visible(t, b, "room"), "a wrong PIN joins nothing")
		if l == Safer {
			screenshot(t, b, "room-join-pin-wrong")
		}
		require.Equal(t, "room", roomJoinPIN(t, b, pin, "Bob"))
		roomSettle(t, []string{"Alice (place 1)", "Bob (place 2)"}, a, b)
		roomSay(t, b, "Bob (place 2)", "joined with a PIN "+id, a)

		// Room 2, as room 1: Alice and Bob inside, place 3 free.
		a2 := pool.Person(t, l)
		r2 := createRoomWith(t, a2, 3, "Alice", pin, dpin, false)
		b2 := pool.Person(t, l)
		firefox().openUnused(t, b2, r2.invites[0], "join")
		require.Equal(t, "room", roomJoinPIN(t, b2, pin, "Bob"))
		roomSettle(t, []string{"Alice (place 1)", "Bob (place 2)"}, a2, b2)

		// The same step at place 3 of each room: a typo in room 1, the destruct PIN in room 2.
		typist := pool.Person(t, l)
		firefox().openUnused(t, typist, r1.invites[1], "join")
		require.Equal(t, "error", roomJoinPIN(t, typist, typo, "Carol"))
		coerced := pool.Person(t, l)
		firefox().openUnused(t, coerced, r2.invites[1], "join")
		require.Equal(t, "error", roomJoinPIN(t, coerced, dpin, "Carol"))
		// Give the destruct time to show anywhere it would (the members see it at once).
		for _, tab := range []*Tab{a2, b2} {
			assert.Equal(t, "ended", waitAny(t, tab, 2*pageTimeout, "ended"), "a destruct PIN ends the room for the members inside")
			assert.Equal(t, "The room was ended for everyone.", text(t, tab, "ended-reason"))
			focusOn(t, tab, "ended-heading", "the room ended")
		}
		typoView, destructView := readRoomJoinView(t, typist, typo), readRoomJoinView(t, coerced, dpin)
		assert.Equal(t, typoView, destructView, "the destruct PIN must look exactly like a typo to the person typing it")
		assert.Contains(t, destructView.Text, "Wrong PIN. 4 tries left.")
		assert.Equal(t, []string{"join", "join-pin-field", "error"}, destructView.Visible)
		assert.False(t, destructView.PINKept, "the PIN typed is not left on screen for someone beside the reader")
		pinFieldHidden(t, coerced)
		if l == Safer {
			screenshot(t, coerced, "room-join-destruct")
		}

		// Room 1 goes on: the typist's right PIN joins, and all three see one another.
		require.Equal(t, "room", roomJoinPIN(t, typist, pin, "Carol"))
		roomSettle(t, []string{"Alice (place 1)", "Bob (place 2)", "Carol (place 3)"}, a, b, typist)

		// Room 2 is gone: its invite never joins again, even with the right PIN, and its
		// countdown ends in the gone view.
		later := pool.Person(t, l)
		firefox().openUnused(t, later, r2.invites[1], "join")
		final := ""
		var answers []string
		for i := 0; i < 5 && final != "gone"; i++ {
			final = roomJoinPIN(t, later, pin, "Carol")
			require.NotEqual(t, "room", final, "a destroyed room never admits anyone")
			if final == "error" {
				answers = append(answers, text(t, later, "error"))
			} else {
				answers = append(answers, final)
			}
		}
		assert.Equal(t, "gone", final, "a destroyed room's invite ends in the gone view")
		t.Logf("the right PIN at the destroyed room's place 3, try by try: %q", answers)
		neverShows(t, "joined with a PIN "+id, "nothing of room 1 reaches room 2", a2, b2, coerced, later)

		endForAll(t, a, b, typist)
		app.assertNothingKept(t)
		keys := append(append([][]byte{}, r1.keys...), r2.keys...)
		assertClean(t, app.mark, keys, []string{pin, dpin, typo}, a, b, a2, b2, typist, coerced, later)
	})
}

// roomNamesIsolated checks, in one tab, that every name the page shows (the member list, the
// senders of messages, the notes) sits alone in a <bdi> followed, outside it, by its place:
// the place number is never part of a name, and no name's text stands outside a <bdi>.
// names maps each seat to the name it chose.
func roomNamesIsolated(t *testing.T, tab *Tab, names map[int]string) {
	t.Helper()
	byName := map[string]int{}
	var all []string
	for s, n := range names {
		byName[n] = s
		all = append(all, n)
	}
	var got struct {
		Bdis  []struct{ Name, After, Seat string }
		Loose []string
	}
	require.NoError(t, tab.CallFunction(ctxT(t, pageTimeout), `(names) => {
		const scopes = [...document.querySelectorAll('#members li, #log li > strong, #log li.note')];
		const bdis = [];
		const loose = [];
		for (const scope of scopes) {
			for (const b of scope.querySelectorAll('bdi')) {
				const li = b.closest('li');
				bdis.push({ Name: b.textContent, After: b.nextSibling && b.nextSibling.nodeType === 3 ? b.nextSibling.textContent : '',
					Seat: li && !li.classList.contains('note') ? li.dataset.seat : '' });
			}
			const w = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
			for (let n = w.nextNode(); n; n = w.nextNode()) {
				if (n.parentElement.closest('bdi')) continue;
				for (const name of names) if (n.textContent.includes(name)) loose.push(n.textContent);
			}
		}
		return { Bdis: bdis, Loose: loose };
	}`, &got, all))
	assert.Empty(t, got.Loose, "a name shown outside a <bdi>")
	require.NotEmpty(t, got.Bdis)
	for _, b := range got.Bdis {
		s, ok := byName[b.Name]
		if !assert.True(t, ok, "a <bdi> holds exactly one member's name, got %q", b.Name) {
			continue
		}
		assert.True(t, strings.HasPrefix(b.After, fmt.Sprintf(" (place %d)", s)), "%q must be followed, outside its <bdi>, by its place %d: got %q", b.Name, s, b.After)
		if b.Seat != "" {
			assert.Equal(t, fmt.Sprint(s), b.Seat, "the line of %q is its own seat's", b.Name)
		}
	}
}

// Names cannot pose as another member: a name with a bidirectional override is refused at
// join; an Arabic name, a name equal to another but for fullwidth letters and case, and a
// name that spells another member's name and place are all shown inside <bdi>, with the place
// number the relay's verified seat gives, outside the <bdi>, everywhere (member list,
// messages, notes); equal names are marked on both.
func TestRoomNames(t *testing.T) {
	levelsUnder(t, scripted, func(t *testing.T, l Level) {
		app := startRoomApp(t)
		a := pool.Person(t, l)
		r := createRoom(t, a, 4, "Alice", "", false)

		const arabic, wide, poser = "علي", "ＡＬＩＣＥ", "Alice (place 1)"
		b := pool.Person(t, l)
		firefox().openUnused(t, b, r.invites[0], "join")
		ctx := ctxT(t, 3*pageTimeout)
		require.NoError(t, b.SetValue(ctx, "#join-name", "\u202eecilA"))
		require.NoError(t, b.Click(ctx, "#join-button"))
		require.Equal(t, "error", waitAny(t, b, pageTimeout, "room", "error"))
		assert.Contains(t, text(t, b, "error"), "This name cannot be used", "a right-to-left override is refused")
		assert.True(t, visible(t, b, "join"), "the join form stays, the invite unused")
		require.NoError(t, b.SetValue(ctx, "#join-name", arabic))
		require.NoError(t, b.Click(ctx, "#join-button"))
		require.Equal(t, "room", waitAny(t, b, 3*pageTimeout, "room"))
		c := pool.Person(t, l)
		require.Equal(t, "room", joinRoom(t, c, r.invites[1], wide, ""))
		d := pool.Person(t, l)
		require.Equal(t, "room", joinRoom(t, d, r.invites[2], poser, ""))

		const dup = " (same name as another person: check the place number)"
		names := map[int]string{1: "Alice", 2: arabic, 3: wide, 4: poser}
		dups := map[int]bool{1: true, 3: true} // "Alice" and "ＡＬＩＣＥ" have one name key
		tabs := []*Tab{a, b, c, d}
		wants := make([][]string, len(tabs))
		for i := range tabs {
			me := i + 1
			for s := 1; s <= 4; s++ {
				line := fmt.Sprintf("%s (place %d)", names[s], s)
				switch {
				case s == me && dups[s]:
					line += " (you; same name as another person: check the place number)"
				case dups[s]:
					line += dup
				}
				wants[i] = append(wants[i], line)
			}
		}
		roomSettleEach(t, wants, tabs...)
		id := uniq(t)
		roomSay(t, d, poser+" (place 4)", "not Alice "+id, a, b, c)
		roomSay(t, b, arabic+" (place 2)", "مرحبا "+id, a, c, d)
		roomSay(t, c, wide+" (place 3)", "hello "+id, a, b, d)
		if l == Safer {
			screenshot(t, a, "room-names")
		}
		leaveRoom(t, b)
		for _, tab := range []*Tab{a, c, d} {
			require.NoError(t, tab.WaitFor(ctxT(t, 2*pageTimeout), `document.getElementById('log').textContent.includes(`+jsString(arabic+" (place 2) left the room.")+`)`, 2*pageTimeout), "the others see the goodbye")
		}
		// A "joined" note comes before the member's name (names follow the keys); the name
		// takes its place in the note when it comes.
		var joined []string
		require.NoError(t, a.CallFunction(ctxT(t, pageTimeout), `() => [...document.querySelectorAll('#log li.note')].filter((li) => li.querySelector('bdi')).map((li) => li.textContent)`, &joined))
		for s := 2; s <= 4; s++ {
			assert.Contains(t, joined, fmt.Sprintf("%s (place %d) joined.", names[s], s), "the creator's note of place %d joining names it once its name came", s)
		}
		for _, tab := range []*Tab{a, c, d} {
			roomNamesIsolated(t, tab, names)
			var note bool
			require.NoError(t, tab.CallFunction(ctxT(t, pageTimeout), `(name) => [...document.querySelectorAll('#log li.note bdi')].some((b) => b.textContent === name)`, &note, arabic))
			assert.True(t, note, "the goodbye's note names the member inside a <bdi>")
		}
		endForAll(t, a, c, d)
		app.assertNothingKept(t)
		assertClean(t, app.mark, r.keys, nil, a, b, c, d)
	})
}

// A room at a phone's size, at Safer, each state measured (no sideways scroll, tap targets,
// field fonts, headings) and checked by axe (assertPhone): the create form, folded and with
// More options open, the invite list with its QR codes, the join form with a PIN and after a
// wrong PIN, the talk view of each member with the longest names, an unbroken long message and
// a file, and the ended view; each page once more at the desktop size.
func TestRoomPhoneSafer(t *testing.T) {
	RequireBrowser(t)
	app := startRoomApp(t)
	a := phoneTab(t, Safer)
	ctx := ctxT(t, 8*pageTimeout)

	require.NoError(t, a.Navigate(ctx, pool.Proxy.Origin()+"/room"))
	waitAny(t, a, pageTimeout, "create")
	assertPhone(t, a, "room: create", "create-button")
	assertAxeDesktop(t, a, "room: create")
	require.NoError(t, a.Click(ctx, "#more-options summary"))
	require.NoError(t, a.WaitFor(ctx, `document.getElementById('more-options').open`, pageTimeout))
	assertPhone(t, a, "room: create, More options open", "")
	require.NoError(t, a.Click(ctx, "#more-options summary")) // createRoom opens it again
	require.NoError(t, a.WaitFor(ctx, `!document.getElementById('more-options').open`, pageTimeout))

	// 40 characters each, with no place to break a line.
	long1 := strings.Repeat("W", 40)
	long2 := strings.Repeat("م", 40)
	long3 := strings.Repeat("x", 39) + "y"
	const pin = "135791"
	// createRoom stops at the invite list's "Go to the room": measure the list on the way.
	r := createRoomWith(t, a, 3, long1, pin, "", false)
	require.NoError(t, a.Click(ctx, "#show-invites"))
	waitAny(t, a, pageTimeout, "invites")
	assertPhone(t, a, "room: the invite links", "")
	assertAxeDesktop(t, a, "room: the invite links")
	require.NoError(t, a.Click(ctx, "#invites-done"))

	b := phoneTab(t, Safer)
	firefox().openUnused(t, b, r.invites[0], "join")
	assertPhone(t, b, "room: join with a PIN", "join-button")
	assertAxeDesktop(t, b, "room: join with a PIN")
	require.Equal(t, "error", roomJoinPIN(t, b, "000000", long2))
	assertPhone(t, b, "room: join, a wrong PIN", "")
	require.Equal(t, "room", roomJoinPIN(t, b, pin, long2))
	c := phoneTab(t, Safer)
	firefox().openUnused(t, c, r.invites[1], "join")
	require.Equal(t, "room", roomJoinPIN(t, c, pin, long3))
	roomSettle(t, []string{long1 + " (place 1)", long2 + " (place 2)", long3 + " (place 3)"}, a, b, c)

	id := uniq(t)
	roomSay(t, a, long1+" (place 1)", "https://example.invalid/"+strings.Repeat("a", 300)+id, b, c)
	roomSay(t, b, long2+" (place 2)", strings.Repeat("ب", 300)+" "+id, a, c)
	roomFile(t, c, strings.Repeat("f", 120)+".bin", randomBytes(t, 2<<10), a, b)
	for i, tab := range []*Tab{a, b, c} {
		assertPhone(t, tab, fmt.Sprintf("room: talk (place %d)", i+1), "")
	}
	assertAxeDesktop(t, b, "room: talk")

	leaveRoom(t, c)
	assertPhone(t, c, "room: ended (left)", "")
	assertAxeDesktop(t, c, "room: ended")
	endForAll(t, a, b)
	assertPhone(t, b, "room: ended for everyone", "")
	app.assertNothingKept(t)
	assertClean(t, app.mark, r.keys, []string{pin}, a, b, c)
}

// pinFieldHidden checks that the join PIN field shows dots, not digits, to someone looking at
// the screen, and holds nothing after a try (as the note page's PIN field).
func pinFieldHidden(t *testing.T, tab *Tab) {
	t.Helper()
	var got struct {
		Type  string
		Value string
	}
	require.NoError(t, tab.CallFunction(ctxT(t, pageTimeout), `() => { const e = document.getElementById('join-pin');
		return { Type: e.type, Value: e.value }; }`, &got))
	assert.Equal(t, "password", got.Type, "the join PIN field hides what is typed")
	assert.Empty(t, got.Value, "the join PIN field is empty after a try")
}
