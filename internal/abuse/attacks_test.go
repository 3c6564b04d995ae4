package abuse_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// legit checks that an ordinary user still gets a note, a chat and a drop submission through,
// and that what each asked of the user's browser is at most maxBits (0: nothing at all).
func legit(t *testing.T, s *server, maxBits map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := s.limits()
	for kind, max := range maxBits {
		var bits int
		switch kind {
		case "note":
			bits = protocol.PriceBits(l.Price.Levels["note"], 1200, 7*24*time.Hour)
		case "chat":
			bits = protocol.PriceBits(l.Price.Levels["chat"], 1024, 24*time.Hour)
		case "drop":
			bits = protocol.PriceBits(l.Price.Levels["drop"], 1400, 14*24*time.Hour)
		}
		require.LessOrEqual(t, bits, max, "a legitimate %s costs %d bits now (levels %v)", kind, bits, l.Price.Levels)
	}
	c := s.goClient()
	if _, ok := maxBits["note"]; ok {
		n, err := c.CreateNote(ctx, "a legitimate note", nil, "", "", 0)
		require.NoError(t, err, "a legitimate note")
		got, err := c.OpenNote(ctx, n.NoteURL, "")
		require.NoError(t, err)
		require.Equal(t, "a legitimate note", got.Text)
	}
	if _, ok := maxBits["chat"]; ok {
		ch, err := s.goClient().StartChat(ctx, client.ChatOptions{})
		require.NoError(t, err, "a legitimate chat")
		require.NoError(t, ch.Revoke(ctx))
	}
	if _, ok := maxBits["drop"]; ok {
		d, err := c.CreateDrop(false)
		require.NoError(t, err)
		sub, err := c.Submit(ctx, d.DropLink, "a legitimate submission", nil, false)
		require.NoError(t, err, "a legitimate submission")
		ib, err := c.OpenInbox(d.InboxLink)
		require.NoError(t, err)
		defer ib.Close()
		got, err := ib.Fetch(ctx, sub.ID)
		require.NoError(t, err)
		require.Equal(t, "a legitimate submission", got.Text)
	}
}

// Attack 2, first form: creates that declare the largest note and send nothing used to reserve
// the whole vault for a week with four requests. They reserve nothing now, each kind has its
// own pending slots, and each empty one goes after a minute.
func TestBodilessCreatesHoldNothing(t *testing.T) {
	s := start(t, "--budget", "16M")
	before := s.limits()
	var wg sync.WaitGroup
	var created atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				body, _ := noteBody(before.MaxEntry, 604800)
				if a, err := s.tryPost("/api/v1/notes", body); err == nil && a.status == http.StatusCreated {
					created.Add(1)
				}
			}
			_ = w
		}()
	}
	wg.Wait()
	require.EqualValues(t, 2000, created.Load(), "every create was taken (and holds nothing)")
	after := s.limits()
	require.Equal(t, before.Free, after.Free, "2,000 creates of %d bytes each hold no memory", before.MaxEntry)
	require.Equal(t, map[string]int{"note": 0, "chat": 0, "drop": 0, "room": 0}, after.Price.Levels)
	legit(t, s, map[string]int{"note": 0, "chat": 0, "drop": 0})
}

// Attack 2, second form: a declared 4 MiB note fed a kibibyte at a time holds what it was sent,
// not what it declared (and ends at the pending maximum, however often it is fed: vault tests).
func TestTrickleHoldsOnlyWhatItSent(t *testing.T) {
	s := start(t, "--budget", "16M")
	before := s.limits()
	var ids []string
	var manages [][]byte
	for range 16 {
		body, m := noteBody(4<<20, 604800)
		a := s.post("/api/v1/notes", body)
		require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
		var c struct{ ID string }
		require.NoError(t, json.Unmarshal(a.body, &c))
		ids = append(ids, c.ID)
		manages = append(manages, m)
	}
	chunk := make([]byte, 1024)
	for round := range 8 {
		for i, id := range ids {
			_, _ = rand.Read(chunk)
			a := s.append("/api/v1/notes/"+id+"/data", manages[i], int64(round*1024), chunk)
			require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		}
	}
	after := s.limits()
	// 16 × 8 KiB were sent: the free space (a power of two, rounded down) moves by at most one
	// step, where reserving what was declared (64 MiB) would have taken all 16 MiB.
	require.GreaterOrEqual(t, after.Free, before.Free/2)
	legit(t, s, map[string]int{"note": 0, "chat": 0, "drop": 0})
}

// Attack 2, third form: filling the notes' share with notes that are paid for natively. The
// other kinds are untouched (their shares do not overlap), and what a legitimate note costs a
// browser at the fill the attacker reached is recorded, not asserted: proof of work cannot
// keep a native attacker out (SECURITY.md gives the measured ratio).
func TestNoteFloodLeavesOtherKindsAlone(t *testing.T) {
	s := start(t, "--budget", "16M")
	began := time.Now()
	deadline := began.Add(20 * time.Second)
	var notes, refused int
	var hashes uint64
	size := int64(256 << 10)
	data := make([]byte, size)
	for time.Now().Before(deadline) {
		body, m := noteBody(size, 604800)
		r := protocol.PriceRequest{Kind: protocol.PriceNote, Manage: [32]byte(hash(m)), Length: size, TTL: 7 * 24 * time.Hour}
		a, spent := createPaid(t, s, "/api/v1/notes", body, r)
		hashes += spent
		if a.status != http.StatusCreated {
			require.Contains(t, []int{http.StatusInsufficientStorage, http.StatusPaymentRequired}, a.status, "%s", a.body)
			refused++
			if refused > 3 {
				break
			}
			continue
		}
		var c struct{ ID string }
		require.NoError(t, json.Unmarshal(a.body, &c))
		_, _ = rand.Read(data)
		for off := int64(0); off < size; off += 1 << 20 {
			a := s.append("/api/v1/notes/"+c.ID+"/data", m, off, data[off:min(size, off+1<<20)])
			require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		}
		require.Equal(t, http.StatusOK, s.post("/api/v1/notes/"+c.ID+"/commit", map[string]any{"manage": b64(m)}).status)
		notes++
	}
	l := s.limits()
	require.Positive(t, l.Price.Levels["note"], "the attacker filled the notes' share past half")
	t.Logf("MEASURE note flood: %d notes of %d KiB held for 7 days, taken in %v for %d hashes of native work; note level now %d; a legitimate 1 KiB note for 7 days would cost %d bits",
		notes, size>>10, time.Since(began).Round(time.Millisecond), hashes, l.Price.Levels["note"], protocol.PriceBits(l.Price.Levels["note"], 1200, 7*24*time.Hour))
	legit(t, s, map[string]int{"chat": 0, "drop": 0})
}

// Attack 3: chat creates used to take every one of 1,024 slots for a week. With 8,192 slots,
// each priced as its share of the chat records' quota (8 KiB) for the link's lifetime plus a
// session, the attacker pays for what it holds, and notes and drops are untouched. It still
// takes every slot over loopback, where nothing limits its requests (over Tor the per-circuit
// limits do): the test records what that costs and that a legitimate chat is then refused.
func TestChatSlotFloodLeavesOtherKindsAlone(t *testing.T) {
	s := start(t, "--budget", "16M")
	began := time.Now()
	deadline := began.Add(30 * time.Second)
	var chats, refused int
	var hashes uint64
	for time.Now().Before(deadline) && refused < 3 {
		m := rand32()
		body := map[string]any{"ttl": 604800, "gate_hash": b64(hash(rand32())), "destruct_hash": b64(hash(rand32())), "manage_hash": b64(hash(m))}
		r := protocol.PriceRequest{Kind: protocol.PriceChat, Manage: [32]byte(hash(m)), Length: 8 << 10, TTL: 7 * 24 * time.Hour}
		a, spent := createPaid(t, s, "/api/v1/chats", body, r)
		hashes += spent
		if a.status != http.StatusCreated {
			require.Contains(t, []int{http.StatusInsufficientStorage, http.StatusPaymentRequired}, a.status, "%s", a.body)
			refused++
			continue
		}
		chats++
	}
	l := s.limits()
	_, err := s.goClient().StartChat(context.Background(), client.ChatOptions{})
	t.Logf("MEASURE chat flood: %d chat links held for 7 days, taken in %v for %d hashes of native work; chat level now %d; a legitimate chat now: %v",
		chats, time.Since(began).Round(time.Millisecond), hashes, l.Price.Levels["chat"], err)
	require.Greater(t, chats, 1024, "more than the old cap")
	legit(t, s, map[string]int{"note": 0, "drop": 0})
}

// Attack 4: challenge requests on made-up routes used to fill one global table, and every
// journalist's inbox answered 503. Challenges are stateless now.
func TestChallengeFloodLocksNoInboxOut(t *testing.T) {
	s := start(t, "--budget", "16M")
	c := s.goClient()
	d, err := c.CreateDrop(false)
	require.NoError(t, err)
	ctx := context.Background()
	sub, err := c.Submit(ctx, d.DropLink, "for the journalist", nil, false)
	require.NoError(t, err)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := protocol.NewDropKeys(0)
			if err != nil {
				return
			}
			body := map[string]any{"auth": b64(k.Auth[:]), "flags": 0}
			for range 1000 {
				if a, err := s.tryPost("/api/v1/drops/"+k.RouteID()+"/challenge", body); err == nil && a.status == http.StatusOK {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 8000, ok.Load(), "every challenge was answered (nothing is stored for them)")
	ib, err := c.OpenInbox(d.InboxLink)
	require.NoError(t, err)
	defer ib.Close()
	l, err := ib.List(ctx)
	require.NoError(t, err, "the journalist's inbox answers")
	require.Len(t, l.Pending, 1)
	got, err := ib.Fetch(ctx, sub.ID)
	require.NoError(t, err)
	require.Equal(t, "for the journalist", got.Text)
}

// Finding 5: a reply box took more than one submission, because the note routes committed
// entries of any kind (a reply committed through them was never marked used).
func TestNoteRoutesRefuseASubmission(t *testing.T) {
	s := start(t, "--budget", "16M")
	k, err := protocol.NewDropKeys(protocol.DropFlagReply)
	require.NoError(t, err)
	m := rand32()
	body := map[string]any{"auth": b64(k.Auth[:]), "flags": 1, "length": 100, "manage_hash": b64(hash(m))}
	a := s.post("/api/v1/drops/"+k.RouteID()+"/submissions", body)
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	var c struct{ ID string }
	require.NoError(t, json.Unmarshal(a.body, &c))
	// The note routes, with the submission's own manage secret, answer gone.
	require.Equal(t, http.StatusNotFound, s.append("/api/v1/notes/"+c.ID+"/data", m, 0, make([]byte, 100)).status)
	require.Equal(t, http.StatusOK, s.append("/api/v1/drops/"+k.RouteID()+"/submissions/"+c.ID+"/data", m, 0, make([]byte, 100)).status)
	for _, action := range []string{"commit", "status", "revoke"} {
		a := s.post("/api/v1/notes/"+c.ID+"/"+action, map[string]any{"manage": b64(m)})
		require.Equal(t, http.StatusNotFound, a.status, "%s: %s", action, a.body)
		require.JSONEq(t, `{"error":"gone"}`, string(a.body))
	}
	// Committed as a reply, the box takes no second one, even once the first is read.
	a = s.post("/api/v1/drops/"+k.RouteID()+"/submissions/"+c.ID+"/commit", map[string]any{"auth": b64(k.Auth[:]), "flags": 1, "manage": b64(m)})
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	body["manage_hash"] = b64(hash(rand32()))
	require.Equal(t, http.StatusNotFound, s.post("/api/v1/drops/"+k.RouteID()+"/submissions", body).status)
}

// Finding 6: a proof-of-work token fetched while a drop was empty paid for a whole flood. A
// payment is now spent once, and checked against the price when the submission arrives.
func TestPaymentSpentOnceAtThePriceOfTheMoment(t *testing.T) {
	s := start(t, "--budget", "16M")
	k, err := protocol.NewDropKeys(0)
	require.NoError(t, err)
	route := k.RouteID()
	submit := func(length int64, m []byte, pay map[string]any) answer {
		body := map[string]any{"auth": b64(k.Auth[:]), "flags": 0, "length": length, "manage_hash": b64(hash(m))}
		for key, v := range pay {
			body[key] = v
		}
		return s.post("/api/v1/drops/"+route+"/submissions", body)
	}
	// Fill the drop past half its count cap with tiny free submissions.
	for i := range drop.DefaultMaxPending/2 + 1 {
		a := submit(100, rand32(), nil)
		require.Equal(t, http.StatusCreated, a.status, "submission %d: %s", i, a.body)
	}
	// A large one is priced now; pay it once.
	m := rand32()
	size := int64(1 << 20)
	a := submit(size, m, nil)
	require.Equal(t, http.StatusPaymentRequired, a.status, "%s", a.body)
	payment := map[string]any{}
	r := protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: [16]byte(k.Route()), Manage: [32]byte(hash(m)), Length: size, TTL: 14 * 24 * time.Hour}
	pay(t, payment, a, r)
	require.Equal(t, http.StatusCreated, submit(size, m, payment).status)
	a = submit(size, m, payment)
	require.Equal(t, http.StatusPaymentRequired, a.status, "the same payment twice: %s", a.body)
	// A payment made at this level does not pay a higher one. Level 2 starts at three quarters
	// of the count cap: a payment for level 1 that does not happen to pay level 2 as well (three
	// in four do not) is made now, and offered once the drop is that full.
	want := protocol.PriceBits(2, size, r.TTL)
	var asked struct{ Bits int }
	var m2 []byte
	early := map[string]any{}
	for {
		m2 = rand32()
		r.Manage = [32]byte(hash(m2))
		a = submit(size, m2, nil)
		require.Equal(t, http.StatusPaymentRequired, a.status)
		require.NoError(t, json.Unmarshal(a.body, &asked))
		pay(t, early, a, r)
		tok, _ := enc.DecodeString(early["price_token"].(string))
		nonce, _ := enc.DecodeString(early["price_nonce"].(string))
		if !protocol.CheckPrice(tok, r, nonce, want) {
			break
		}
	}
	require.Greater(t, want, asked.Bits)
	for range drop.DefaultMaxPending / 4 { // small ones, paying what they are asked (a bit or two)
		m := rand32()
		a := submit(100, m, nil)
		if a.status == http.StatusPaymentRequired {
			p := map[string]any{}
			pay(t, p, a, protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: [16]byte(k.Route()), Manage: [32]byte(hash(m)), Length: 100, TTL: 14 * 24 * time.Hour})
			a = submit(100, m, p)
		}
		require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	}
	a = submit(size, m2, early)
	require.Equal(t, http.StatusPaymentRequired, a.status, "a payment for the emptier drop: %s", a.body)
	var now struct{ Bits int }
	require.NoError(t, json.Unmarshal(a.body, &now))
	require.Equal(t, want, now.Bits, "the price of the fill when it arrives")
}

var _ = client.ErrGone

// A coercer standing next to the reader fills the server until a create is refused, makes the
// reader type "the PIN", and looks: at the answer, at every header, at the limits (free space
// and price levels), at whether a create is taken now, and again after each later try. Two
// servers go through the same steps, one reader mistyping and one typing the duress PIN:
// everything the coercer can see must be the same.
func TestDuressAndTypoLookAlikeFromOutside(t *testing.T) {
	trace := func(duress bool) []string {
		s := start(t, "--budget", "4M")
		ctx := context.Background()
		c := s.goClient()
		n, err := c.CreateNote(ctx, "the real note", nil, "246810", "135799", time.Hour)
		require.NoError(t, err)
		// Fill the notes' share (3/8 of 4 MiB) with notes of 64 KiB until a create is refused.
		for {
			body, m := noteBody(64<<10, 3600)
			r := protocol.PriceRequest{Kind: protocol.PriceNote, Manage: [32]byte(hash(m)), Length: 64 << 10, TTL: time.Hour}
			a, _ := createPaid(t, s, "/api/v1/notes", body, r)
			if a.status != http.StatusCreated {
				require.Equal(t, http.StatusInsufficientStorage, a.status, "%s", a.body)
				break
			}
			var cr struct{ ID string }
			require.NoError(t, json.Unmarshal(a.body, &cr))
			require.Equal(t, http.StatusOK, s.append("/api/v1/notes/"+cr.ID+"/data", m, 0, make([]byte, 64<<10)).status)
			require.Equal(t, http.StatusOK, s.post("/api/v1/notes/"+cr.ID+"/commit", map[string]any{"manage": b64(m)}).status)
		}
		u, _ := strings.CutPrefix(n.NoteURL, s.base+"/n/")
		id, fragment, _ := strings.Cut(u, "#")
		f, err := protocol.ParseFragment(fragment)
		require.NoError(t, err)
		var out []string
		look := func(step string, a answer) {
			h := a.header.Clone()
			l := s.limits()
			delete(l.raw, "price")
			lim, _ := json.Marshal(l.raw)
			body, m := noteBody(64<<10, 3600)
			cr, _ := createPaid(t, s, "/api/v1/notes", body, protocol.PriceRequest{Kind: protocol.PriceNote, Manage: [32]byte(hash(m)), Length: 64 << 10, TTL: time.Hour})
			out = append(out, fmt.Sprintf("%s: %d %v %s | limits %s levels %v | a create now: %d", step, a.status, h, a.body, lim, l.Price.Levels, cr.status))
		}
		typed := "999999"
		if duress {
			typed = "135799"
		}
		for try := range 5 {
			gate, open, destruct := protocol.ReaderTokens(f.Secret[:], typed)
			claim := rand32()
			a := s.post("/api/v1/notes/"+id+"/open", map[string]any{"gate": b64(gate), "open": b64(open), "destruct": b64(destruct), "claim": b64(hash(claim))})
			look(fmt.Sprintf("try %d", try), a)
			typed = "999999"
		}
		gate, open, destruct := protocol.ReaderTokens(f.Secret[:], "246810")
		a := s.post("/api/v1/notes/"+id+"/open", map[string]any{"gate": b64(gate), "open": b64(open), "destruct": b64(destruct), "claim": b64(hash(rand32()))})
		look("the right PIN afterwards", a)
		return out
	}
	typo, duress := trace(false), trace(true)
	require.Equal(t, typo, duress)
	require.Contains(t, typo[0], "a create now: 507", "the coercer's oracle needs a full server")
	require.Contains(t, typo[0], `"tries_left":4`)
	require.NotContains(t, typo[4], "a create now: 507", "the fifth failure frees the note")
}

// TestDuressAndTypoLookAlikeFromOutsideRoom is TestDuressAndTypoLookAlikeFromOutside for a group
// room, against the running binary: a member holds a record for another, a stranger filled the
// rooms' share with rooms of their own, and then seat 3's invite is tried five times, the first
// with the destruct PIN or with a typo. From outside, every answer, the limits (free space and
// levels), a stranger's record and a new room's create are the same after either, and so is the
// right PIN afterwards (the seat has burned in both). What still differs is in SECURITY.md.
func TestDuressAndTypoLookAlikeFromOutsideRoom(t *testing.T) {
	trace := func(duress bool) []string {
		s := start(t, "--budget", "4M")
		type seat struct{ gate, open, destruct []byte }
		create := func(n int) (string, []seat) {
			var seats []seat
			var caps []any
			for range n {
				st := seat{rand32(), rand32(), rand32()}
				seats = append(seats, st)
				caps = append(caps, map[string]any{"gate_hash": b64(hash(st.gate)), "open_hash": b64(hash(st.open)), "destruct_hash": b64(hash(st.destruct))})
			}
			m := rand32()
			body := map[string]any{"seats": caps, "manage_hash": b64(hash(m)), "ttl": 3600}
			a, _ := createPaid(t, s, "/api/v1/rooms", body, protocol.PriceRequest{Kind: protocol.PriceRoom, Manage: [32]byte(hash(m)), Length: 2 << 20, TTL: time.Hour})
			require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
			var cr struct{ ID string }
			require.NoError(t, json.Unmarshal(a.body, &cr))
			return cr.ID, seats
		}
		join := func(id string, i int, st seat) answer {
			return s.post("/api/v1/rooms/"+id+"/join", map[string]any{"seat": i, "gate": b64(st.gate), "open": b64(st.open), "destruct": b64(st.destruct)})
		}
		session := func(id string, i int, st seat) string {
			a := join(id, i, st)
			require.Equal(t, http.StatusOK, a.status, "%s", a.body)
			var j struct{ Session string }
			require.NoError(t, json.Unmarshal(a.body, &j))
			return j.Session
		}
		send := func(id, session string, n int) int {
			req, err := http.NewRequest(http.MethodPost, s.base+"/api/v1/rooms/"+id+"/send", bytes.NewReader(make([]byte, n)))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Sealdrop-Session", session)
			res, err := s.hc.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode
		}
		id, seats := create(3)
		a1 := session(id, 1, seats[0])
		session(id, 2, seats[1])
		require.Equal(t, http.StatusOK, send(id, a1, 1024), "held for seat 2")
		// The stranger fills the rooms' share (1/16 of 4 MiB) with a room whose second member
		// acknowledges nothing.
		sid, sseats := create(2)
		ss := session(sid, 1, sseats[0])
		session(sid, 2, sseats[1])
		for _, size := range []int{64 << 10, 1024} { // to the last block
			for i := 0; ; i++ {
				code := send(sid, ss, size)
				if code != http.StatusOK {
					require.Equal(t, http.StatusInsufficientStorage, code, "the rooms' share is full")
					break
				}
				require.Less(t, i, 300)
			}
		}
		var out []string
		look := func(step string, a answer) {
			l := s.limits()
			delete(l.raw, "price")
			lim, _ := json.Marshal(l.raw)
			newRoom, _ := create(2)
			out = append(out, fmt.Sprintf("%s: %d %v %s | limits %s levels %v | a stranger's record now: %d | a room created: %t",
				step, a.status, a.header, a.body, lim, l.Price.Levels, send(sid, ss, 1024), newRoom != ""))
		}
		for try := range 5 {
			st := seat{seats[2].gate, rand32(), rand32()} // a typo
			if duress && try == 0 {
				st.destruct = seats[2].destruct // the destruct PIN
			}
			look(fmt.Sprintf("try %d", try), join(id, 3, st))
		}
		look("the right PIN afterwards", join(id, 3, seats[2]))
		return out
	}
	typo, duress := trace(false), trace(true)
	require.Equal(t, typo, duress)
	require.Contains(t, typo[0], "a stranger's record now: 507", "the coercer's oracle needs a full share")
	require.Contains(t, typo[0], `"tries_left":4`)
	require.Contains(t, typo[5], "404", "the seat burned after five failures in both")
}
