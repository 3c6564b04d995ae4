package browsertest

// Issue 17, requirement 1: the round trips a person waits for over Tor after a page has
// loaded. Each action runs in Firefox ESR at Safer against a fresh app behind the proxy; the
// proxy records every request and connection, and CriticalPath finds the requests in sequence
// between the click and the moment the page showed its result. The counts are today's, asserted
// exactly, so that a change to the wire (issue 17, requirement 2) updates them knowingly; the
// README's table "Round trips per action" lists them.
//
// When the result showed: a MutationObserver in the harness's sandbox notes the page's clock
// the first time the action's condition holds. Firefox with privacy.resistFingerprinting (as
// Tor Browser) rounds that clock to 16.67 ms, with jitter either way, so during an action the
// proxy holds every request rttLatency before the app sees it: a request the result waited
// for then arrived at least rttLatency before the result showed, far more than the clock's
// error, while a request the page sends after showing it (a note's confirm) arrives after.

import (
	"fmt"
	"math/bits"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memlocktest"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

const (
	// rttLatency is how long the proxy holds each request during a measured action.
	rttLatency = 100 * time.Millisecond
	// rttClock is the page clock's error: Firefox's resistFingerprinting precision (16.67 ms),
	// rounded up.
	rttClock = 20 * time.Millisecond
)

// trips is an action's expected critical path.
type trips struct{ requests, newConns int }

// settle waits until every request since mark has been answered (WebSockets aside) and
// nothing new came for a moment: what the page fetches while it loads (an inbox's list, say)
// is not part of the action measured next.
func settle(t *testing.T, mark int) {
	t.Helper()
	deadline := time.Now().Add(pageTimeout)
	quietSince, seen := time.Now(), -1
	for time.Now().Before(deadline) {
		recs := pool.Proxy.RecordsSince(mark)
		busy := false
		for _, r := range recs {
			if !r.Refused && r.End.IsZero() && r.Header.Get("Upgrade") == "" {
				busy = true
			}
		}
		if busy || len(recs) != seen {
			quietSince, seen = time.Now(), len(recs)
		} else if time.Since(quietSince) > 300*time.Millisecond {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("requests still running %v after the page loaded", pageTimeout)
}

// measureAction runs act (which clicks) and waits until cond (a JavaScript expression over
// the page's DOM, with vis(id) for "element shown") holds in tab; it returns the critical
// path between the two. cond must not hold before act.
func measureAction(t *testing.T, name string, tab *Tab, cond string, act func()) Path {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	var at int64
	require.NoError(t, tab.CallFunction(ctx, `() => { `+visJS+`
		const w = { at: 0 };
		window.__rtt = w;
		const look = () => { if (!w.at && (`+cond+`)) { w.at = Date.now(); mo.disconnect(); } };
		const mo = new MutationObserver(look);
		mo.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
		look();
		return w.at; }`, &at))
	require.Zero(t, at, "%s: the result condition holds before the action", name)
	pool.Proxy.SetLatency(rttLatency)
	defer pool.Proxy.SetLatency(0)
	from := time.Now()
	act()
	deadline := time.Now().Add(8 * pageTimeout)
	for at == 0 {
		require.True(t, time.Now().Before(deadline), "%s: no result after %v (#error: %q)", name, 8*pageTimeout, text(t, tab, "error"))
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, tab.CallFunction(ctxT(t, 30*time.Second), `() => window.__rtt.at`, &at))
	}
	pool.Proxy.SetLatency(0)
	until := time.UnixMilli(at).Add(-rttClock)
	if !until.After(from) {
		// The result showed within one tick of the page's clock (Safer rounds it to 16.67 ms)
		// of the click: no request was waited for, since the proxy holds each one rttLatency.
		// A chat message sent on the open WebSocket does this.
		until = from
	}
	time.Sleep(300 * time.Millisecond) // the last answers' ends are recorded as their handlers return
	p := CriticalPath(pool.Proxy.Records(), from, until)
	t.Logf("ROUNDTRIPS %s: %s (result after %v)", name, p, time.UnixMilli(at).Sub(from).Round(time.Millisecond))
	return p
}

// apiAtLoad lists the API requests ("METHOD /path") made since mark: those of a page that
// loaded, when called after settle.
func apiAtLoad(mark int) []string {
	var out []string
	for _, r := range pool.Proxy.RecordsSince(mark) {
		if r.Refused {
			continue
		}
		if u, err := url.Parse(r.URL); err == nil && strings.HasPrefix(u.Path, "/api/") {
			out = append(out, r.Method+" "+u.Path)
		}
	}
	return out
}

func assertTrips(t *testing.T, name string, want trips, got Path) {
	t.Helper()
	assert.Equal(t, want, trips{got.Requests, got.NewConns}, "%s: requests in sequence, new connections on the path: %s", name, got)
}

const shownOrError = `vis('%s') || vis('error')`

// noError fails when the page shows its error box.
func noError(t *testing.T, tab *Tab, name string) {
	t.Helper()
	require.False(t, visible(t, tab, "error"), "%s failed: %s", name, text(t, tab, "error"))
}

// largestNote is the size of the largest file, up to 25 MiB and in whole 64 KiB chunks, whose
// note the create page is offered room for on a vault of budget bytes (the free space /limits
// reports is the vault's rounded down to a power of two; 4 KiB is kept for what the browser's
// manifest may add).
func largestNote(t *testing.T, name string, budget int64) int64 {
	t.Helper()
	offered := int64(1) << (bits.Len64(uint64(budget)) - 1)
	size := int64(25 << 20)
	for ; size > 0; size -= 64 << 10 {
		sealed, err := protocol.SealedNoteLen("", []protocol.File{{Name: name, Type: "application/octet-stream", Size: size}})
		require.NoError(t, err)
		if sealed <= offered-4<<10 {
			return size
		}
	}
	t.Fatalf("no file fits a vault of %s", memlocktest.Size(budget))
	return 0
}

// createMeasured fills the create page and measures the click on Create.
func createMeasured(t *testing.T, name string, tab *Tab, msg string, files []string) (Path, string) {
	t.Helper()
	ctx := ctxT(t, 3*pageTimeout)
	mark := pool.Proxy.Mark()
	require.NoError(t, tab.Navigate(ctx, pool.Proxy.Origin()+"/"))
	waitAny(t, tab, pageTimeout, "create")
	require.NoError(t, tab.SetValue(ctx, "#text", msg))
	if len(files) > 0 {
		require.NoError(t, tab.SetFiles(ctx, "#files", files))
		waitAny(t, tab, pageTimeout, "strip-report")
	}
	settle(t, mark)
	assert.Empty(t, apiAtLoad(mark), "%s: the create page asks nothing at load (its limits come in its HTML)", name)
	p := measureAction(t, name, tab, fmt.Sprintf(shownOrError, "result"), func() {
		require.NoError(t, tab.Click(ctx, "#create"))
	})
	noError(t, tab, name)
	return p, value(t, tab, "link")
}

// openMeasured loads a note link and measures the click on Reveal.
func openMeasured(t *testing.T, name string, tab *Tab, link string) Path {
	t.Helper()
	mark := pool.Proxy.Mark()
	openNote(t, tab, link, "")
	settle(t, mark)
	p := measureAction(t, name, tab, `vis('note') || vis('gone') || vis('error')`, func() {
		require.NoError(t, tab.Click(ctxT(t, 10*time.Second), "#reveal"))
	})
	require.True(t, visible(t, tab, "note"), "%s: the note must open (#error %q)", name, text(t, tab, "error"))
	return p
}

func TestRoundTripsSafer(t *testing.T) {
	RequireBrowser(t)
	t.Run("notes", func(t *testing.T) {
		mark := startAppBudget(t, 4<<20)
		sender := pool.Person(t, Safer)
		msg := "round trips " + uniq(t)
		p, link := createMeasured(t, "create note (text)", sender, msg, nil)
		// One request: the create carries the ciphertext and commits it (issue 17, requirement
		// 2), on a connection the page already has: its requests go with credentials
		// "same-origin", so Firefox puts them on the page's own connections (with "omit" it
		// kept them apart, and the create opened one: 1 new connection).
		assertTrips(t, "create note (text)", trips{1, 0}, p)
		manage := value(t, sender, "manage-link")

		oneMiB := writeFile(t, t.TempDir(), "one-"+uniq(t)+".bin", randomBytes(t, 1<<20))
		p, bigLink := createMeasured(t, "create note (1 MiB file)", pool.Person(t, Safer), "", []string{oneMiB})
		// Just over 1 MiB sealed: the create with the first MiB and, beside it at once, the rest,
		// which the server holds until the first is stored and which commits (SECURITY.md,
		// "Pipelined pieces"): nothing waits for the first answer, and with credentials
		// "same-origin" both go on connections the page already has.
		assert.Equal(t, 2, p.All, "one request per piece, nothing else")
		assertTrips(t, "create note (1 MiB file)", trips{1, 0}, p)

		reader := pool.Person(t, Safer)
		p = openMeasured(t, "open note (text)", reader, link)
		assertTrips(t, "open note (text)", trips{1, 0}, p)
		assert.Equal(t, msg, text(t, reader, "note-text"))
		p = openMeasured(t, "open note (1 MiB file)", pool.Person(t, Safer), bigLink)
		assertTrips(t, "open note (1 MiB file)", trips{1, 0}, p)

		// The manage page after the reader's confirm: Refresh asks for the status once.
		ctx := ctxT(t, 2*pageTimeout)
		m := pool.Proxy.Mark()
		require.NoError(t, sender.Navigate(ctx, manage))
		manageState(t, sender, "opened")
		settle(t, m)
		p = measureAction(t, "manage status", sender,
			`(() => { const b = document.getElementById('refresh'); if (b.disabled) window.__rttBusy = true; return window.__rttBusy && !b.disabled; })()`,
			func() { require.NoError(t, sender.Click(ctx, "#refresh")) })
		noError(t, sender, "manage status")
		assertTrips(t, "manage status", trips{1, 0}, p)
		manageState(t, sender, "opened")
		assertClean(t, mark, nil, nil, sender, reader)
	})

	t.Run("large note", func(t *testing.T) {
		budget := memlocktest.Budget(t, 32<<20, 4<<20)
		name := "big-" + uniq(t) + ".bin"
		size := largestNote(t, name, budget)
		label := "create note (25 MiB file)"
		if size < 25<<20 {
			label = fmt.Sprintf("create note (%.2f MiB file, the largest a vault of %s is offered room for)", float64(size)/(1<<20), memlocktest.Size(budget))
		}
		startAppBudget(t, budget)
		path := writeFile(t, t.TempDir(), name, randomBytes(t, int(size)))
		p, _ := createMeasured(t, label, pool.Person(t, Safer), "", []string{path})
		// One request per MiB of ciphertext (max_append), all to the upload route, two in
		// flight: each piece goes out while the one before it is still on its way (SECURITY.md,
		// "Pipelined pieces"), so the path holds every second piece. Every piece closes its
		// connection: they go on the connections the page opened while it loaded, and once
		// those are used up each needs a new one, set up beside the piece before it. How many
		// the page had open varies with the load's timing.
		uploads := 0
		for _, s := range p.Steps {
			if strings.HasSuffix(s.URL, "/notes/upload") {
				uploads++
			}
		}
		sealed, err := protocol.SealedNoteLen("", []protocol.File{{Name: name, Type: "application/octet-stream", Size: size}})
		require.NoError(t, err)
		pieces := int((sealed + 1<<20 - 1) >> 20)
		assert.Equal(t, pieces, p.All, "one request per piece of a %d-byte ciphertext, nothing else", sealed)
		assert.Equal(t, len(p.Steps), uploads, "every piece to the upload route")
		// Every second piece is on the path when the page reads each answer before the next
		// one arrives. The page sends a piece when it has read the answer two pieces back; on a
		// busy machine (Safer has no JIT, and -race slows the server beside it) it may read
		// one after the answer behind it came, and the path then runs through both: measured
		// 14 instead of 13 for 26 pieces in one such run. Allowed: one such step per 8 pieces.
		half := (pieces + 1) / 2
		assert.GreaterOrEqual(t, p.Requests, half, "%s: requests in sequence: %s", label, p)
		assert.LessOrEqual(t, p.Requests, half+pieces/8, "%s: requests in sequence (two in flight, every second piece on the path): %s", label, p)
		assert.LessOrEqual(t, p.NewConns, pieces/2, "%s: new connections on the path: %s", label, p)
		require.GreaterOrEqual(t, len(p.NewConn), 1)
		assert.False(t, p.NewConn[0], "%s: the create goes on the page's connection: %s", label, p)
	})

	t.Run("chat", func(t *testing.T) {
		app := startChatApp(t, nil)
		creator := pool.Person(t, Safer)
		joiner := pool.Person(t, Safer)
		ctx := ctxT(t, 3*pageTimeout)
		m := pool.Proxy.Mark()
		require.NoError(t, creator.Navigate(ctx, pool.Proxy.Origin()+"/chat"))
		waitAny(t, creator, pageTimeout, "start")
		settle(t, m)
		p := measureAction(t, "chat create", creator, fmt.Sprintf(shownOrError, "invite"), func() {
			require.NoError(t, creator.Click(ctx, "#start-button"))
		})
		noError(t, creator, "chat create")
		assertTrips(t, "chat create", trips{1, 0}, p)
		link := value(t, creator, "chat-link")

		m = pool.Proxy.Mark()
		openChat(t, joiner, link)
		settle(t, m)
		p = measureAction(t, "chat join", joiner,
			`/^\d{4}( \d{4}){5}$/.test(document.getElementById('safety').textContent) || vis('error') || vis('gone')`,
			func() { require.NoError(t, joiner.Click(ctx, "#join-button")) })
		noError(t, joiner, "chat join")
		assertTrips(t, "chat join", trips{2, 1}, p)
		require.Equal(t, waitSafety(t, creator), waitSafety(t, joiner), "the same safety code on both sides")

		msg := "first " + uniq(t)
		require.NoError(t, creator.SetValue(ctx, "#message", msg))
		p = measureAction(t, "chat first message", joiner,
			`[...document.querySelectorAll('#log li.them')].some((li) => li.textContent === `+jsString("Them: "+msg)+`)`,
			func() { require.NoError(t, creator.Click(ctx, "#send")) })
		assertTrips(t, "chat first message", trips{0, 0}, p)
		assertClean(t, app.mark, nil, nil, creator, joiner)
	})

	t.Run("drop", func(t *testing.T) {
		app := startDropApp(t)
		journalist := pool.Person(t, Safer)
		dropLink, inbox := createDrop(t, journalist, false)
		ctx := ctxT(t, 4*pageTimeout)
		for _, reply := range []bool{false, true} {
			name := "drop submit"
			if reply {
				name += " with a reply box"
			}
			source := pool.Person(t, Safer)
			m := pool.Proxy.Mark()
			require.NoError(t, source.Navigate(ctx, dropLink))
			waitAny(t, source, pageTimeout, "send", "gone")
			require.NoError(t, source.SetValue(ctx, "#text", name+" "+uniq(t)))
			if reply {
				require.NoError(t, source.Click(ctx, "#want-reply"))
			}
			settle(t, m)
			assert.Empty(t, apiAtLoad(m), "%s: the drop page asks nothing at load (its limits come in its HTML)", name)
			p := measureAction(t, name, source, `vis('sent') || vis('error') || vis('gone')`, func() {
				require.NoError(t, source.Click(ctx, "#send"))
			})
			require.True(t, visible(t, source, "sent"), "%s: %s", name, text(t, source, "error"))
			assert.Equal(t, reply, visible(t, source, "reply-box"))
			// One request, on one of the page's own connections.
			assertTrips(t, name, trips{1, 0}, p)
		}
		require.Equal(t, 2, app.submissions())

		m := pool.Proxy.Mark()
		openInbox(t, journalist, inbox)
		require.Equal(t, 2, listed(t, journalist))
		settle(t, m)
		assert.NotContains(t, apiAtLoad(m), "GET /api/v1/limits", "the inbox's limits (for a reply) come in its HTML")
		require.NoError(t, journalist.CallFunction(ctx, `() => { for (const li of document.querySelectorAll('#list li')) li.dataset.rttOld = '1'; }`, nil))
		p := measureAction(t, "inbox list", journalist,
			`(document.querySelector('#list li') !== null && document.querySelector('#list li[data-rtt-old]') === null) || vis('error')`,
			func() { require.NoError(t, journalist.Click(ctx, "#refresh")) })
		noError(t, journalist, "inbox list")
		assertTrips(t, "inbox list", trips{2, 0}, p)
		require.Equal(t, 2, listed(t, journalist))

		settle(t, m)
		p = measureAction(t, "inbox fetch", journalist, fmt.Sprintf(shownOrError, "reader"), func() {
			require.NoError(t, journalist.Click(ctx, "#list button.read"))
		})
		noError(t, journalist, "inbox fetch")
		assertTrips(t, "inbox fetch", trips{4, 0}, p)
		assert.Equal(t, 1, app.submissions(), "the fetched submission is wiped")
		assertClean(t, app.mark, nil, nil, journalist)
	})
}
