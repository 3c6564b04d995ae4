package room_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/room"
	"github.com/sealdrop/sealdrop/internal/testclock"
	"github.com/sealdrop/sealdrop/internal/wsrelay"
	"github.com/sealdrop/sealdrop/vault"
)

// env is a room server on a vault of its own, with a clock that moves only when told.
type env struct {
	t   *testing.T
	clk *testclock.Clock
	v   *vault.Vault
	s   *room.Server
}

func newEnv(t *testing.T, tweak ...func(*room.Config)) *env {
	t.Helper()
	clk := testclock.New(time.Unix(1_700_000_000, 0))
	v, err := vault.New(vault.Config{Budget: 8 << 20, Now: clk.Now, SweepEvery: -1,
		KindQuota:  map[vault.Kind]int64{vault.KindRoomFrame: 4 << 20},
		OwnerQuota: map[vault.Kind]int64{vault.KindRoomFrame: room.DefaultMaxBytes}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	cfg := room.Config{Vault: v, Now: clk.Now, SweepEvery: -1}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := room.New(cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return &env{t: t, clk: clk, v: v, s: s}
}

func rnd(t *testing.T) []byte {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// invite is one seat's proofs, as its invite link gives them.
type invite struct {
	seat                 int
	gate, open, destruct []byte
}

func (i invite) join() room.JoinRequest {
	return room.JoinRequest{Seat: i.seat, Gate: i.gate, Open: i.open, Destruct: i.destruct}
}

// wrong is a typo: the right gate, another PIN's open and destruct tokens.
func (i invite) wrong(t *testing.T) room.JoinRequest {
	return room.JoinRequest{Seat: i.seat, Gate: i.gate, Open: rnd(t), Destruct: rnd(t)}
}

// duress is the destruct PIN typed: the open token of that PIN does not match, its destruct does.
func (i invite) duress(t *testing.T) room.JoinRequest {
	return room.JoinRequest{Seat: i.seat, Gate: i.gate, Open: rnd(t), Destruct: i.destruct}
}

type made struct {
	id      vault.ID
	manage  []byte
	invites []invite
}

func (e *env) create(n int, pin bool) made {
	e.t.Helper()
	m := made{manage: rnd(e.t)}
	req := room.CreateRequest{Manage: sha256.Sum256(m.manage)}
	for i := range n {
		inv := invite{seat: i + 1, gate: rnd(e.t), destruct: rnd(e.t)}
		c := room.SeatCaps{Gate: sha256.Sum256(inv.gate), Destruct: sha256.Sum256(inv.destruct)}
		if pin {
			inv.open = rnd(e.t)
			c.Open, c.PIN = sha256.Sum256(inv.open), true
		}
		m.invites = append(m.invites, inv)
		req.Seats = append(req.Seats, c)
	}
	req.TTL = room.DefaultTTL
	c, err := e.s.Create(req)
	var unpaid *price.Unpaid
	if errors.As(err, &unpaid) { // past half full: pay
		tok, _ := e.s.Config().Price.Token()
		nonce, serr := protocol.SolvePrice(context.Background(), tok[:], room.PriceRequest(req.TTL, req.Manage), unpaid.Bits)
		require.NoError(e.t, serr)
		req.PriceToken, req.PriceNonce = tok[:], nonce[:]
		c, err = e.s.Create(req)
	}
	require.NoError(e.t, err)
	m.id = c.ID
	return m
}

// member joins seat s (1-based) and attaches its session.
func (e *env) member(m made, s int) *room.Session {
	e.t.Helper()
	tok, err := e.s.Join(m.id, m.invites[s-1].join())
	require.NoError(e.t, err)
	ss, err := e.s.Attach(m.id, tok)
	require.NoError(e.t, err)
	require.Equal(e.t, s, ss.Seat())
	return ss
}

func send(t *testing.T, ss *room.Session, b []byte) uint64 {
	t.Helper()
	seq, err := ss.SendStream(bytes.NewReader(b))
	require.NoError(t, err)
	return seq
}

// take reads the next record for ss from seq from on, or fails when none is waiting.
func take(t *testing.T, ss *room.Session, from uint64) (*room.Delivery, []byte) {
	t.Helper()
	d := ss.PeekNow(from)
	require.NotNil(t, d, "a record is waiting")
	var b bytes.Buffer
	_, err := d.WriteTo(&b)
	require.NoError(t, err)
	return d, b.Bytes()
}

func (e *env) held(m made) int64 {
	_, b := e.v.OwnerUsage(vault.KindRoomFrame, m.id.String())
	return b
}

func ended(t *testing.T, ss *room.Session) string {
	t.Helper()
	return ss.State().Ended
}

// One invite admits one person, once: 100 parallel joins of one seat make one session.
func TestOnePersonPerSeat(t *testing.T) {
	e := newEnv(t)
	m := e.create(3, true)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var toks [][]byte
	gone := 0
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := e.s.Join(m.id, m.invites[1].join())
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				toks = append(toks, tok)
			} else if errors.Is(err, room.ErrGone) {
				gone++
			}
		}()
	}
	wg.Wait()
	require.Len(t, toks, 1, "one session for the seat")
	require.Equal(t, 99, gone, "every other join is gone")
	ss, err := e.s.Attach(m.id, toks[0])
	require.NoError(t, err)
	require.Equal(t, 2, ss.Seat())
	// Another seat's proofs do not open seat 2, nor seat 2's open seat 3.
	other := m.invites[2].join()
	other.Seat = 2
	_, err = e.s.Join(m.id, other)
	require.ErrorIs(t, err, room.ErrGone)
	cross := m.invites[1].join()
	cross.Seat = 3
	_, err = e.s.Join(m.id, cross)
	require.ErrorIs(t, err, room.ErrGone)
	e.member(m, 3)
}

// 100 parallel wrong PINs on one seat are counted 5 times; the seat burns, the others go on.
func TestWrongPINsBurnOneSeat(t *testing.T) {
	e := newEnv(t)
	m := e.create(3, true)
	a := e.member(m, 1)
	v0 := a.State().V
	var wg sync.WaitGroup
	var mu sync.Mutex
	lefts := map[int]int{}
	gone := 0
	for range 100 {
		wrong := m.invites[1].wrong(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.s.Join(m.id, wrong)
			mu.Lock()
			defer mu.Unlock()
			var pe *room.PINError
			switch {
			case errors.As(err, &pe):
				lefts[pe.Left]++
			case errors.Is(err, room.ErrGone):
				gone++
			}
		}()
	}
	wg.Wait()
	require.Equal(t, map[int]int{4: 1, 3: 1, 2: 1, 1: 1, 0: 1}, lefts, "five failures counted, each once")
	require.Equal(t, 95, gone)
	_, err := e.s.Join(m.id, m.invites[1].join())
	require.ErrorIs(t, err, room.ErrGone, "the burned seat is gone, right PIN or not")
	require.Equal(t, v0, a.State().V, "a seat nobody joined burns in the same version")
	require.Empty(t, ended(t, a), "the room goes on")
	c := e.member(m, 3)
	require.Equal(t, []int{1, 3}, a.State().In)
	send(t, c, []byte("still here"))
	_, b := take(t, a, 0)
	require.Equal(t, "still here", string(b))
}

// A destruct PIN ends the room for everyone, and from outside looks like a typo: the same
// answer, the same countdown after it, the same capacity (blocks, slots) until the room would
// have ended after a typo. Seat 3 gets the typo or the destruct PIN; seat 4 is a second invite
// nobody has used.
func TestDestructEndsAllLikeATypo(t *testing.T) {
	e := newEnv(t)
	typo, duress := e.create(4, true), e.create(4, true)
	var members [2][2]*room.Session
	for i, m := range []made{typo, duress} {
		members[i][0], members[i][1] = e.member(m, 1), e.member(m, 2)
		send(t, members[i][0], bytes.Repeat([]byte{byte(i + 1)}, 5000)) // held for seat 2
	}
	_, errT := e.s.Join(typo.id, typo.invites[2].wrong(t))
	_, errD := e.s.Join(duress.id, duress.invites[2].duress(t))
	require.Equal(t, errT, errD, "the same answer")
	require.Equal(t, &room.PINError{Left: 4}, errD)
	require.Empty(t, ended(t, members[0][0]))
	require.Equal(t, room.ReasonRevoked, ended(t, members[1][0]), "every member is told")
	require.Equal(t, room.ReasonRevoked, ended(t, members[1][1]))
	_, err := members[1][0].SendStream(bytes.NewReader([]byte("x")))
	require.ErrorAs(t, err, new(*room.EndedError))
	// Exactly what the creator's revoke tells them.
	revoked := e.create(2, false)
	r1, r2 := e.member(revoked, 1), e.member(revoked, 2)
	require.NoError(t, e.s.Revoke(revoked.id, revoked.manage))
	require.Equal(t, ended(t, r1), ended(t, members[1][0]))
	require.Equal(t, ended(t, r2), ended(t, members[1][1]))
	_, errR := r1.SendStream(bytes.NewReader([]byte("x")))
	require.Equal(t, errR, err)
	// The difference SECURITY.md states: the right PIN (the victim's own, or a second invite's)
	// joins after a typo and counts as wrong after a destruct, with that seat's countdown (a
	// hostile review's R3: a second invite's right PIN answered gone after a destruct).
	_, errT = e.s.Join(typo.id, typo.invites[3].join())
	_, errD = e.s.Join(duress.id, duress.invites[3].join())
	require.NoError(t, errT)
	require.Equal(t, &room.PINError{Left: 4}, errD, "a second invite's right PIN counts as wrong")
	_, errT = e.s.Join(typo.id, typo.invites[2].join())
	_, errD = e.s.Join(duress.id, duress.invites[2].join())
	require.NoError(t, errT)
	require.Equal(t, &room.PINError{Left: 3}, errD)
	for left := 3; left >= 0; left-- { // seat 4 counts down to its end, as after wrong PINs
		_, errD = e.s.Join(duress.id, duress.invites[3].join())
		require.Equal(t, &room.PINError{Left: left}, errD)
	}
	_, errD = e.s.Join(duress.id, duress.invites[3].join())
	require.ErrorIs(t, errD, room.ErrGone, "then burned, as after five typos")
}

// TestDestructCapacityLooksLikeATypo: from outside, a destruct and a typo look alike: the same
// answers (the countdown goes on), the same blocks held, free space, slots, price level, and the same answers to later creates, until the
// room's lifetime, and once a typo room whose members all fell silent ends idle after 30
// minutes, the destroyed room is forgotten at the same sweep.
func TestDestructCapacityLooksLikeATypo(t *testing.T) {
	type view struct {
		used, free int64
		slots      float64
		level      int
		count      int
	}
	look := func(duress bool) (answers []error, views []view, creates []error) {
		e := newEnv(t, func(c *room.Config) { c.MaxSlots = 6 })
		m := e.create(3, true) // 2 of 6 slots
		a, b := e.member(m, 1), e.member(m, 2)
		// Both send their hello and keys (the liveness rule is met); seat 2 then goes quiet
		// without acknowledging, so seat 1's records wait for it.
		send(t, a, []byte("hello 1"))
		send(t, b, []byte("hello 2"))
		send(t, a, []byte("keys 1")) // keys only once every hello is in
		a.AckBelow(send(t, b, []byte("keys 2")) + 1)
		send(t, a, bytes.Repeat([]byte{7}, 5000))
		snap := func() {
			e.v.Settle()
			views = append(views, view{e.v.Stats().Used, e.v.Stats().Free, e.s.SlotFill(), e.s.Level(), e.s.Count()})
		}
		first := m.invites[2].wrong(t)
		if duress {
			first = m.invites[2].duress(t)
		}
		_, err := e.s.Join(m.id, first)
		answers = append(answers, err)
		snap()
		_, err = e.s.Join(m.id, m.invites[2].wrong(t)) // another typo: the countdown goes on alike
		answers = append(answers, err)
		snap()
		e.clk.Add(room.DefaultIdle - time.Second)
		e.s.Sweep()
		snap()
		for range 3 { // later creates of 3 seats: 2 slots each, 4 of them left
			req := room.CreateRequest{Manage: sha256.Sum256(rnd(t)), TTL: time.Hour}
			for range 3 {
				req.Seats = append(req.Seats, room.SeatCaps{Gate: sha256.Sum256(rnd(t))})
			}
			_, err := e.s.Create(req)
			var unpaid *price.Unpaid
			if errors.As(err, &unpaid) {
				err = fmt.Errorf("unpaid %d bits", unpaid.Bits)
			}
			creates = append(creates, err)
		}
		snap()
		e.clk.Add(2 * time.Second) // 30 minutes after the last record
		e.s.Sweep()
		snap()
		e.clk.Add(room.DefaultTTL)
		e.s.Sweep()
		snap()
		return
	}
	aT, vT, cT := look(false)
	aD, vD, cD := look(true)
	require.Equal(t, &room.PINError{Left: 4}, aT[0])
	require.Equal(t, aT[0], aD[0], "the same answer")
	require.Equal(t, aT[1], aD[1], "the countdown goes on alike")
	require.Equal(t, &room.PINError{Left: 3}, aD[1])
	require.Equal(t, vT[:4], vD[:4], "the same blocks, free space, slots, level and count until idle")
	require.Equal(t, cT, cD, "later creates are answered alike")
	require.Error(t, cD[2], "the slots were full")
	require.Equal(t, vT[5], vD[5], "both gone after the lifetime")
	require.Zero(t, vD[5].used)
	// Half an hour after the last record, the silent typo room idled out, and the destroyed
	// room is forgotten with it (a hostile review's F1: it stayed until its lifetime).
	require.Equal(t, vT[4], vD[4], "alike once the typo room idled out")
	require.Equal(t, vD[3].count-1, vD[4].count, "the destroyed room is forgotten (the later creates stay)")
	require.Zero(t, vD[4].used, "its zeroed blocks are given back")
}

// A coercer who holds the victim's invite (or the manage secret) cannot tell a destruct from a
// typo with one request once the room would have idled out (a hostile review's F1): the
// commonest room (the creator waiting alone in seat 1 for one source) sends no record, so a
// typo room ends idle after 30 minutes and every later join or revoke is gone; the destroyed
// room was kept until its lifetime and answered wrong_pin with a countdown, and its first
// revoke 204. It is now forgotten at the same sweep.
func TestDestructAnswersAfterIdleLikeATypo(t *testing.T) {
	look := func(duress bool) []error {
		e := newEnv(t)
		m := e.create(2, true)
		e.member(m, 1) // the creator's page joins seat 1 at once and waits for its source
		first := m.invites[1].wrong(t)
		if duress {
			first = m.invites[1].duress(t)
		}
		_, err := e.s.Join(m.id, first) // the victim, forced, types "a PIN"
		answers := []error{err}
		e.clk.Add(room.DefaultIdle + time.Second) // the coercer waits half an hour
		e.s.Sweep()
		_, err = e.s.Join(m.id, m.invites[1].wrong(t)) // and tries the invite again
		answers = append(answers, err)
		answers = append(answers, e.s.Revoke(m.id, m.manage)) // or the creator's manage link
		return answers
	}
	typo, destruct := look(false), look(true)
	require.Equal(t, &room.PINError{Left: 4}, typo[0])
	require.Equal(t, typo[0], destruct[0], "the first answer is alike")
	require.ErrorIs(t, typo[1], room.ErrGone, "control: the silent typo room idled out")
	require.Equal(t, typo[1:], destruct[1:],
		"half an hour later the same invite and the same revoke must be answered alike")
}

// The creator's revoke does not tell a destruct from a typo either (a hostile review's R4: a
// coercer holding the manage secret revoked after the victim's "wrong PIN" and got gone after a
// destruct, 204 after a typo). The first revoke of a destroyed room with the right manage
// secret is answered as a live room's and forgets it: its zeroed blocks and its slots are
// given back, as the typo room's are; a second revoke is gone for both.
func TestRevokeAfterDestructLikeATypo(t *testing.T) {
	type view struct {
		used, free int64
		slots      float64
		level      int
		count      int
	}
	look := func(duress bool) (answers []error, after view) {
		e := newEnv(t, func(c *room.Config) { c.MaxSlots = 6 })
		m := e.create(3, true)
		a, _ := e.member(m, 1), e.member(m, 2)
		send(t, a, bytes.Repeat([]byte{7}, 5000)) // held for seat 2
		first := m.invites[2].wrong(t)
		if duress {
			first = m.invites[2].duress(t)
		}
		_, err := e.s.Join(m.id, first)
		answers = append(answers, err)
		answers = append(answers, e.s.Revoke(m.id, rnd(t))) // a wrong manage secret
		answers = append(answers, e.s.Revoke(m.id, m.manage))
		e.v.Settle()
		after = view{e.v.Stats().Used, e.v.Stats().Free, e.s.SlotFill(), e.s.Level(), e.s.Count()}
		answers = append(answers, e.s.Revoke(m.id, m.manage))
		_, err = e.s.Join(m.id, m.invites[2].join())
		answers = append(answers, err)
		return answers, after
	}
	aT, vT := look(false)
	aD, vD := look(true)
	require.Equal(t, []error{&room.PINError{Left: 4}, room.ErrGone, nil, room.ErrGone, room.ErrGone}, aT)
	require.Equal(t, aT, aD, "the revoke is answered alike, the first and the second")
	require.Equal(t, vT, vD, "the same blocks, free space, slots, level and count after it")
	require.Zero(t, vD.used, "nothing of the room is held")
	require.Zero(t, vD.count)
}

// Fan-out: one copy per record; every other member receives it stamped with the sender's seat;
// it is wiped once every recipient acknowledged it.
func TestFanOutAndPerMemberAcks(t *testing.T) {
	e := newEnv(t)
	m := e.create(4, false)
	a, b, c := e.member(m, 1), e.member(m, 2), e.member(m, 3)
	rec := bytes.Repeat([]byte("fan-out "), 100)
	seq := send(t, b, rec)
	require.Equal(t, 1, e.v.Stats().Entries[vault.KindRoomFrame], "one copy")
	for _, ss := range []*room.Session{a, c} {
		d, got := take(t, ss, 0)
		require.Equal(t, rec, got)
		require.Equal(t, 2, d.From, "the relay stamps the sending seat")
		require.Equal(t, seq, d.Seq)
	}
	require.Nil(t, b.PeekNow(0), "not to its sender")
	seq2 := send(t, b, []byte("second"))
	a.AckBelow(seq + 1)
	d, _ := take(t, a, 0)
	require.Equal(t, seq2, d.Seq, "next N acknowledges below N only")
	a.AckBelow(seq2 + 1)
	c.AckBelow(seq2)
	d, _ = take(t, c, seq2)
	require.Equal(t, seq2, d.Seq)
	require.Positive(t, e.held(m), "held while seat 3 has not acknowledged")
	require.Nil(t, a.PeekNow(0), "seat 1 has it")
	require.NotNil(t, c.PeekNow(0))
	c.AckBelow(seq2 + 1)
	e.v.Settle()
	require.Zero(t, e.held(m), "wiped once every recipient acknowledged")
	require.Zero(t, e.v.Stats().Entries[vault.KindRoomFrame])
}

// A late joiner receives nothing sent before its join; a member that left receives nothing
// sent after, and what only it still owed is wiped.
func TestLateJoinerAndDepartedMember(t *testing.T) {
	e := newEnv(t)
	m := e.create(3, false)
	a, b := e.member(m, 1), e.member(m, 2)
	before := send(t, a, []byte("before seat 3"))
	c := e.member(m, 3)
	require.Nil(t, c.PeekNow(0), "nothing from before its join")
	after := send(t, a, []byte("after seat 3"))
	d, _ := take(t, c, 0)
	require.Equal(t, after, d.Seq)
	b.Leave()
	require.Equal(t, room.ReasonLeft, ended(t, b))
	_, err := e.s.Attach(m.id, nil)
	require.ErrorIs(t, err, room.ErrGone)
	require.Empty(t, ended(t, a), "the others go on")
	later := send(t, a, []byte("after seat 2 left"))
	require.Nil(t, b.PeekNow(0), "nothing for the member that left")
	d, _ = take(t, c, after+1)
	require.Equal(t, later, d.Seq)
	c.AckBelow(later + 1)
	e.v.Settle()
	require.Zero(t, e.held(m), "the records seat 2 owed went with it: %d, %d", before, after)
	st := a.State()
	require.Equal(t, []int{1, 3}, st.In)
}

func roomGone(t *testing.T, e *env, m made) {
	t.Helper()
	e.v.Settle()
	require.Zero(t, e.s.Count(), "no room held")
	require.Zero(t, e.s.SlotFill(), "no slot held")
	require.Zero(t, e.v.Stats().Used, "no record held")
	require.Zero(t, e.v.Stats().Entries[vault.KindRoomFrame])
	for _, inv := range m.invites {
		_, err := e.s.Join(m.id, inv.join())
		require.ErrorIs(t, err, room.ErrGone)
	}
}

// Each end, for the right members, with the right reason; after a room ends, nothing of it.
func TestEnds(t *testing.T) {
	setup := func(t *testing.T) (*env, made, []*room.Session) {
		e := newEnv(t)
		m := e.create(3, false)
		ss := []*room.Session{e.member(m, 1), e.member(m, 2), e.member(m, 3)}
		send(t, ss[0], []byte("waiting for the others"))
		return e, m, ss
	}
	t.Run("revoke", func(t *testing.T) {
		e, m, ss := setup(t)
		require.ErrorIs(t, e.s.Revoke(m.id, rnd(t)), room.ErrGone, "a wrong manage secret")
		require.NoError(t, e.s.Revoke(m.id, m.manage))
		for _, s := range ss {
			require.Equal(t, room.ReasonRevoked, ended(t, s))
		}
		roomGone(t, e, m)
	})
	t.Run("idle", func(t *testing.T) {
		e, m, ss := setup(t)
		for _, s := range ss[1:] {
			send(t, s, []byte("hello")) // everyone spoke: the liveness rule is met
		}
		e.clk.Add(room.DefaultIdle - time.Second)
		e.s.Sweep()
		require.Empty(t, ended(t, ss[0]))
		e.clk.Add(time.Second)
		e.s.Sweep()
		for _, s := range ss {
			require.Equal(t, room.ReasonIdle, ended(t, s))
		}
		roomGone(t, e, m)
	})
	t.Run("lifetime", func(t *testing.T) {
		e, m, ss := setup(t)
		for range 48 * 2 { // keep talking: 24 h in steps of 15 min
			for _, s := range ss {
				send(t, s, []byte("talk"))
				s.AckBelow(s.State().Pending + 1000)
			}
			e.clk.Add(15 * time.Minute)
			e.s.Sweep()
			if ended(t, ss[0]) != "" {
				break
			}
		}
		for _, s := range ss {
			require.Equal(t, room.ReasonExpired, ended(t, s))
		}
		roomGone(t, e, m)
	})
	t.Run("leave", func(t *testing.T) {
		e, m, ss := setup(t)
		ss[1].Leave()
		require.Equal(t, room.ReasonLeft, ended(t, ss[1]))
		require.Empty(t, ended(t, ss[0]))
		require.Empty(t, ended(t, ss[2]))
		ss[2].Leave()
		ss[0].Leave()
		require.Equal(t, room.ReasonLeft, ended(t, ss[0]))
		roomGone(t, e, m) // no member and no free seat: nothing can happen any more
	})
	// A destroyed room is kept until what would have ended it after a typo, had its members
	// fallen silent: its idle time, or its lifetime when that comes first.
	for name, c := range map[string]struct {
		idle, until time.Duration
	}{
		"destruct, then idle":     {room.DefaultIdle, room.DefaultIdle},
		"destruct, then lifetime": {48 * time.Hour, room.DefaultTTL},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(cfg *room.Config) { cfg.Idle = c.idle })
			m := e.create(3, true)
			a, b := e.member(m, 1), e.member(m, 2)
			_, err := e.s.Join(m.id, m.invites[2].duress(t))
			require.Equal(t, &room.PINError{Left: 4}, err)
			require.Equal(t, room.ReasonRevoked, ended(t, a))
			require.Equal(t, room.ReasonRevoked, ended(t, b))
			for range 4 { // the countdown goes on to its end, then the room is forgotten
				_, err = e.s.Join(m.id, m.invites[2].join())
				require.ErrorAs(t, err, new(*room.PINError))
			}
			e.clk.Add(c.until - time.Second)
			e.s.Sweep()
			require.NotZero(t, e.s.Count(), "kept until it would have ended")
			e.clk.Add(time.Second)
			e.s.Sweep()
			roomGone(t, e, m)
		})
	}
}

// fill sends records of the largest size from ss until the relay refuses one, and returns that
// refusal; after each, ack (if any) acknowledges everything.
func fill(t *testing.T, ss *room.Session, ack ...*room.Session) error {
	t.Helper()
	rec := bytes.Repeat([]byte{9}, room.DefaultMaxRecord)
	for range 100 {
		seq, err := ss.SendStream(bytes.NewReader(rec))
		if err != nil {
			return err
		}
		for _, a := range ack {
			a.AckBelow(seq + 1)
		}
	}
	t.Fatal("never refused")
	return nil
}

// heldFrom is what the vault holds of the room, read through the room's own accounting.
func (e *env) settled(m made) int64 { e.v.Settle(); return e.held(m) }

// The sender's share: one sender holds at most 2 MiB ÷ (members of "in" − 1), then is refused
// busy while the others still send; nobody is dropped for it within 30 s.
func TestHoldShare(t *testing.T) {
	e := newEnv(t)
	m := e.create(4, false)
	a, b, c, d := e.member(m, 1), e.member(m, 2), e.member(m, 3), e.member(m, 4)
	_ = d // seat 4 acknowledges nothing
	require.ErrorIs(t, fill(t, a, b, c), room.ErrBusy)
	share := int64(room.DefaultMaxBytes / 3)
	require.LessOrEqual(t, e.settled(m), share, "one sender holds at most its share")
	require.Greater(t, e.settled(m), share-2*room.DefaultMaxRecord, "and close to it")
	_, err := c.SendStream(bytes.NewReader([]byte("my turn")))
	require.NoError(t, err, "another sender is not starved by the first")
	for _, ss := range []*room.Session{a, b, c, d} {
		require.Empty(t, ended(t, ss), "nobody dropped within 30 s")
	}
}

// The hold: a record that does not fit drops only the member that acknowledged nothing for
// more than 30 s while records waited for it (told dropped), and is refused busy once (a
// stream is read to its end to learn its length); sent again, it is admitted. A slow member
// that acknowledges is kept; the room never holds more than its 2 MiB.
func TestHoldCap(t *testing.T) {
	e := newEnv(t)
	m := e.create(3, false)
	fast, slow, stuck := e.member(m, 1), e.member(m, 2), e.member(m, 3)
	require.ErrorIs(t, fill(t, fast), room.ErrBusy, "a fast sender is slowed")
	require.LessOrEqual(t, e.settled(m), int64(room.DefaultMaxBytes))
	first := slow.PeekNow(0).Seq
	e.clk.Add(20 * time.Second)
	slow.AckBelow(first + 1) // slow, but it acknowledges
	e.clk.Add(room.DefaultHoldWait - 20*time.Second)
	rec := bytes.Repeat([]byte{9}, room.DefaultMaxRecord)
	_, err := fast.SendStream(bytes.NewReader(rec))
	require.ErrorIs(t, err, room.ErrBusy, "exactly 30 s is not more than 30 s")
	require.Empty(t, ended(t, stuck))
	e.clk.Add(time.Second)
	v := fast.State().V
	_, err = fast.SendStream(bytes.NewReader(rec))
	require.ErrorIs(t, err, room.ErrBusy, "refused once: its length is known only once read")
	require.Equal(t, room.ReasonDropped, ended(t, stuck), "the stuck member is told")
	seq, err := fast.SendStream(bytes.NewReader(rec))
	require.NoError(t, err, "admitted once the stuck member was dropped")
	require.Empty(t, ended(t, slow), "a slow member that acknowledges is kept")
	require.Equal(t, v+1, fast.State().V, "the others see a new version")
	require.Equal(t, []int{1, 2}, fast.State().In)
	require.LessOrEqual(t, e.settled(m), int64(room.DefaultMaxBytes))
	slow.AckBelow(seq + 1)
	require.Zero(t, e.settled(m), "what only the dropped member owed is wiped")
}

// A WebSocket record drops a stuck member only when the record it actually is does not fit,
// not as if every record were 96 KiB (a hostile review's R7: in a room of 8, a sender holding
// about 200 KiB of its 299 KiB share that sent a 10-byte text got a stuck member dropped).
// A record that truly does not fit is refused busy once, having read it to its end, and drops
// the stuck member its records wait for, only that one; sent again, it is admitted.
func TestHoldDropsOnlyForTheRecordSent(t *testing.T) {
	e := newEnv(t)
	m := e.create(8, false)
	var ss []*room.Session
	for s := 1; s <= 8; s++ {
		ss = append(ss, e.member(m, s))
	}
	a, slow, stuck := ss[0], ss[1], ss[7]
	ackers := ss[2:7]
	sendAcked := func(b []byte) (uint64, error) {
		seq, err := a.SendStream(bytes.NewReader(b))
		if err == nil {
			for _, o := range ackers {
				o.AckBelow(seq + 1)
			}
		}
		return seq, err
	}
	for _, n := range []int{room.DefaultMaxRecord, room.DefaultMaxRecord, 8 << 10} { // 200 KiB
		_, err := sendAcked(bytes.Repeat([]byte{1}, n))
		require.NoError(t, err)
	}
	share := int64(room.DefaultMaxBytes / 7)
	require.Equal(t, int64(200<<10), e.settled(m), "about 200 KiB of a %d-byte share held, waiting for seats 2 and 8", share)
	first := slow.PeekNow(0).Seq
	e.clk.Add(20 * time.Second)
	slow.AckBelow(first + 1) // slow, but it acknowledges
	e.clk.Add(room.DefaultHoldWait)
	v := a.State().V
	_, err := sendAcked([]byte("ten bytes!"))
	require.NoError(t, err, "a 10-byte text fits the share")
	for _, o := range ss {
		require.Empty(t, ended(t, o), "nobody is dropped for a record that fits")
	}
	require.Equal(t, v, a.State().V)
	// A record that does not fit: refused once, the stuck member dropped, admitted when sent again.
	big := bytes.Repeat([]byte{2}, room.DefaultMaxRecord)
	_, err = sendAcked(big)
	require.ErrorIs(t, err, room.ErrBusy, "read to its end, it did not fit")
	require.Equal(t, room.ReasonDropped, ended(t, stuck), "the stuck member is dropped for it")
	require.Empty(t, ended(t, slow), "a slow member that acknowledges is kept")
	require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7}, a.State().In)
	_, err = sendAcked(big)
	require.NoError(t, err, "sent again, it is admitted")
	require.LessOrEqual(t, e.settled(m), int64(room.DefaultMaxBytes/6))
}

// A fallback record (its length declared) drops the stuck member as needed for it to be
// admitted: the drop counts what admission counts (its whole blocks and the one the vault
// keeps), so a record that fills the last blocks exactly is not refused busy, again and again,
// with nobody dropped (the drop counted the blocks alone).
func TestHoldFallbackDropsAsAdmissionCounts(t *testing.T) {
	e := newEnv(t)
	m := e.create(2, false)
	a, stuck := e.member(m, 1), e.member(m, 2)
	for range 21 { // 21 × 96 KiB held for seat 2: 32 KiB of the room's 2 MiB left
		send(t, a, bytes.Repeat([]byte{1}, room.DefaultMaxRecord))
	}
	require.Equal(t, int64(room.DefaultMaxBytes-32<<10), e.settled(m))
	e.clk.Add(room.DefaultHoldWait + time.Second)
	n := int64(32<<10 - 100) // its blocks are exactly what is left
	_, err := a.Send(bytes.NewReader(make([]byte, n)), n)
	require.NoError(t, err, "admitted, the stuck member dropped for it")
	require.Equal(t, room.ReasonDropped, ended(t, stuck))
	require.Zero(t, e.settled(m), "what only the dropped member owed is wiped")
}

// A full vault answers full and drops nobody: a stranger who fills the rooms' share with rooms
// of their own cannot get a member of an honest room dropped.
func TestFullVaultDropsNobody(t *testing.T) {
	e := newEnv(t) // rooms' share 4 MiB, one room 2 MiB
	honest := e.create(3, false)
	a, stuck, c := e.member(honest, 1), e.member(honest, 2), e.member(honest, 3)
	seq := send(t, a, []byte("waits for seat 2"))
	c.AckBelow(seq + 1)
	var full error
	for range 4 { // the stranger's rooms, each a sender and a partner that acknowledges nothing
		r := e.create(2, false)
		s1, _ := e.member(r, 1), e.member(r, 2)
		if full = fill(t, s1); errors.Is(full, room.ErrFull) {
			break
		}
	}
	require.ErrorIs(t, full, room.ErrFull, "the stranger filled the rooms' share")
	e.clk.Add(room.DefaultHoldWait + time.Second) // seat 2 has acknowledged nothing for 31 s
	v := a.State().V
	_, err := a.SendStream(bytes.NewReader(bytes.Repeat([]byte{1}, 20000)))
	require.ErrorIs(t, err, room.ErrFull, "a full vault answers full")
	require.Empty(t, ended(t, stuck), "and drops nobody")
	require.Equal(t, v, a.State().V)
	require.Equal(t, []int{1, 2, 3}, a.State().In)
}

// peer is a member driven as its client drives it: a real protocol.RoomMember behind a relay
// session, taking the relay's lists and records in the socket's order (the records stored
// before a version, then its list, then the rest), sending the hello and keys it makes.
type peer struct {
	t      *testing.T
	ss     *room.Session
	m      *protocol.RoomMember
	v      uint32 // the last list taken or refused
	next   uint64 // the next record to read
	opened []protocol.RoomOpened
}

func peers(t *testing.T, ss ...*room.Session) []*peer {
	var id [protocol.RoomIDSize]byte
	copy(id[:], rnd(t))
	km := protocol.RoomMACKey(rnd(t), nil)
	var ps []*peer
	for _, s := range ss {
		m, err := protocol.NewRoomMember(id, byte(s.Seat()), km)
		require.NoError(t, err)
		ps = append(ps, &peer{t: t, ss: s, m: m})
	}
	return ps
}

func seatBytes(seats []int) []byte {
	var b []byte
	for _, s := range seats {
		b = append(b, byte(s))
	}
	return b
}

// list takes the relay's current list only, and sends this member's hello (a tab that got its
// list and then was throttled: it opens nothing more).
func (p *peer) list() {
	p.t.Helper()
	st := p.ss.State()
	if st.V == p.v {
		return
	}
	p.v = st.V
	res, err := p.m.Seats(st.V, seatBytes(st.In), seatBytes(st.Out))
	if errors.Is(err, protocol.ErrRoomEpoch) && slices.Contains(st.Out, p.ss.Seat()) {
		return // left out: it waits
	}
	require.NoError(p.t, err, "seat %d takes the list of version %d", p.ss.Seat(), st.V)
	if res.Hello != nil {
		send(p.t, p.ss, res.Hello)
	}
}

// pump takes everything the relay has for p, until nothing waits; every record must open.
func (p *peer) pump() {
	p.t.Helper()
	for {
		st := p.ss.State()
		d := p.ss.PeekNow(p.next)
		switch {
		case d != nil && (st.V == p.v || d.Seq < st.VFrom):
			var b bytes.Buffer
			_, err := d.WriteTo(&b)
			require.NoError(p.t, err)
			o, err := p.m.Open(byte(d.From), b.Bytes())
			require.NoError(p.t, err, "seat %d opens seq %d from seat %d", p.ss.Seat(), d.Seq, d.From)
			p.opened = append(p.opened, o)
			p.ss.AckBelow(d.Seq + 1)
			p.next = d.Seq + 1
			if o.Send != nil {
				send(p.t, p.ss, o.Send)
			}
		case st.V != p.v:
			p.list()
		default:
			return
		}
	}
}

// settle pumps every peer until none has anything left.
func settle(ps ...*peer) {
	for range 8 {
		for _, p := range ps {
			p.pump()
		}
	}
}

func (p *peer) say(text string) {
	p.t.Helper()
	inner, err := protocol.EncodeRoomMessage(protocol.ChatMsgText, []byte(text))
	require.NoError(p.t, err)
	rec, err := p.m.Seal(inner)
	require.NoError(p.t, err)
	send(p.t, p.ss, rec)
}

// heard is the texts p opened, in order.
func (p *peer) heard() []string {
	var out []string
	for _, o := range p.opened {
		if o.Type == protocol.RoomRecordData && o.Inner == protocol.ChatMsgText {
			out = append(out, string(o.Body))
		}
	}
	return out
}

// Liveness, with real members (a hostile review's I4: the test fed keys before every hello,
// which no member can send): a member of "in" that has not sent two records (hello and keys)
// within 60 s of a new version is moved to "out" (its seat kept, nothing held for it) and the
// next version announced; the others complete that version and talk; it comes back in, in a
// new version, when it connects again after its wait (TestBackInBackOff). A member silent since
// the version holds the others at their hello (keys need every hello): it alone goes out.
func TestLivenessOut(t *testing.T) {
	e := newEnv(t)
	m := e.create(3, false)
	a, b := e.member(m, 1), e.member(m, 2)
	c := e.member(m, 3)
	ps := peers(t, a, b, c)
	pa, pb, pc := ps[0], ps[1], ps[2]
	v := a.State().V
	require.Equal(t, []int{1, 2, 3}, a.State().In)
	pa.pump() // hello 1
	e.clk.Add(30 * time.Second)
	pb.list() // hello 2, and then seat 2's tab sleeps: its keys never come
	pc.pump() // hello 3, and with every hello, keys 3
	pa.pump() // keys 1
	pc.pump()
	require.False(t, pa.m.Complete(), "seat 2's keys are missing")
	e.clk.Add(29 * time.Second)
	e.s.Sweep()
	require.Equal(t, v, a.State().V, "59 s is within the minute")
	e.clk.Add(time.Second)
	e.s.Sweep()
	st := a.State()
	require.Equal(t, v+1, st.V, "the next version is announced")
	require.Equal(t, []int{1, 3}, st.In)
	require.Equal(t, []int{2}, st.Out, "its seat is kept")
	require.Empty(t, ended(t, b), "not dropped")
	require.Nil(t, b.PeekNow(0), "nothing is held for a member of out")
	settle(pa, pc)
	require.True(t, pa.m.Complete(), "seats 1 and 3 complete the version without seat 2")
	require.True(t, pc.m.Complete())
	pa.say("while seat 2 is out")
	pc.pump()
	require.Equal(t, []string{"while seat 2 is out"}, pc.heard())
	require.Nil(t, b.PeekNow(0), "recipients are in at send time, minus the sender")

	b.Connected(1) // it connects again at once: it waits its first minute out (BackInFirst)
	require.Equal(t, v+1, a.State().V)
	e.clk.Add(room.BackInFirst)
	e.s.Sweep()
	st = a.State()
	require.Equal(t, v+2, st.V, "back in, in a new version")
	require.Equal(t, []int{1, 2, 3}, st.In)
	require.Empty(t, st.Out)
	// Seat 3's phone sleeps now: seats 1 and 2 send their hellos and cannot make keys.
	settle(pa, pb)
	_, err := pa.m.Seal([]byte{protocol.ChatMsgText, 0})
	require.ErrorIs(t, err, protocol.ErrRoomWait, "every message waits for seat 3's hello")
	e.clk.Add(time.Minute)
	e.s.Sweep()
	st = a.State()
	require.Equal(t, v+3, st.V)
	require.Equal(t, []int{1, 2}, st.In, "seat 3 sent nothing since: it alone goes out")
	require.Equal(t, []int{3}, st.Out)
	settle(pa, pb)
	require.True(t, pa.m.Complete())
	pa.say("seat 2 is back")
	pb.pump()
	require.Equal(t, []string{"seat 2 is back"}, pb.heard())

	c.Connected(1) // seat 3 wakes: after its wait, back in with everyone
	e.clk.Add(room.BackInFirst)
	e.s.Sweep()
	require.Equal(t, []int{1, 2, 3}, a.State().In)
	settle(pa, pb, pc)
	codes := map[string]bool{}
	for _, p := range ps {
		require.True(t, p.m.Complete(), "seat %d", p.ss.Seat())
		code, err := p.m.SafetyCode()
		require.NoError(t, err)
		codes[code] = true
	}
	require.Len(t, codes, 1, "one safety code")
	var missing uint64
	for _, o := range pc.opened {
		if o.Type == protocol.RoomRecordKeys && o.Seat == 1 {
			missing = o.Missing
		}
	}
	require.EqualValues(t, 1, missing, "seat 3 is told it missed seat 1's message of the version it was out of")
	for _, ss := range []*room.Session{a, b, c} {
		require.Empty(t, ended(t, ss))
	}
}

// One member that sends nothing holds every other at its hello (keys need every hello): only
// the silent one goes out, not the members who sent their hello (a hostile review's R1: all
// three went out and "in" was empty). When every member is silent, nobody goes out.
func TestLivenessSilentMemberAloneGoesOut(t *testing.T) {
	e := newEnv(t)
	m := e.create(3, false)
	a, b := e.member(m, 1), e.member(m, 2)
	e.member(m, 3)
	v := a.State().V
	send(t, a, []byte("hello(V) of seat 1"))
	send(t, b, []byte("hello(V) of seat 2"))
	e.clk.Add(time.Minute)
	e.s.Sweep()
	st := a.State()
	require.Equal(t, v+1, st.V)
	require.Equal(t, []int{3}, st.Out, "only the member that sent nothing is left out")
	require.Equal(t, []int{1, 2}, st.In, "the members who sent their hello stay in")

	m2 := e.create(3, false)
	a2 := e.member(m2, 1)
	e.member(m2, 2)
	e.member(m2, 3)
	v2 := a2.State().V
	e.clk.Add(time.Minute)
	e.s.Sweep()
	require.Equal(t, v2, a2.State().V, "all silent: nobody goes out, in is never emptied")
	require.Equal(t, []int{1, 2, 3}, a2.State().In)
}

// Coming back in is rate-limited per seat (a hostile review's R8: a member that came back in
// at once, sent its hello at 59 s and never its keys stalled every other member's messages
// about 60 s of every minute). The k-th time liveness moves a seat out, it comes back in no
// sooner than min(2^(k−1), 16) minutes later: a socket, poll or send before that is remembered,
// and the sweep brings it back in when its wait is over; without one it stays out.
func TestBackInBackOff(t *testing.T) {
	e := newEnv(t)
	m := e.create(3, false)
	a, b := e.member(m, 1), e.member(m, 2)
	c := e.member(m, 3) // the member that stalls the room
	stall := func() {
		t.Helper()
		v := a.State().V
		require.Equal(t, []int{1, 2, 3}, a.State().In)
		send(t, a, []byte("hello 1"))
		send(t, b, []byte("hello 2"))
		e.clk.Add(59 * time.Second)
		send(t, c, []byte("hello 3, at 59 s"))
		send(t, a, []byte("keys 1"))
		send(t, b, []byte("keys 2"))
		e.clk.Add(time.Second)
		e.s.Sweep()
		require.Equal(t, v+1, a.State().V)
		require.Equal(t, []int{3}, a.State().Out, "no keys from seat 3: out")
	}
	for k, wait := range []time.Duration{1, 2, 4, 8, 16, 16, 16} {
		wait *= time.Minute
		stall()
		v := a.State().V
		c.Polled() // it asks at once, and again: nothing moves before its wait is over
		c.Connected(1)
		c.Connected(-1)
		send(t, c, []byte("a record while it waits"))
		e.clk.Add(wait - time.Second)
		e.s.Sweep()
		c.Polled()
		st := a.State()
		require.Equal(t, v, st.V, "cycle %d: out for less than %v", k+1, wait)
		require.Equal(t, []int{1, 2}, st.In)
		e.clk.Add(time.Second)
		e.s.Sweep()
		st = a.State()
		require.Equal(t, v+1, st.V, "cycle %d: back in after %v, as it asked", k+1, wait)
		require.Equal(t, []int{1, 2, 3}, st.In)
	}
	// A seat that does not ask is not brought back; one that asks after its wait comes back at once.
	stall()
	e.clk.Add(room.BackInMax + time.Minute) // within the 30 idle minutes
	e.s.Sweep()
	require.Equal(t, []int{3}, a.State().Out, "it did not ask: it stays out")
	c.Connected(1)
	require.Equal(t, []int{1, 2, 3}, a.State().In)
	for _, ss := range []*room.Session{a, b, c} {
		require.Empty(t, ended(t, ss))
	}
}

// One member that sends garbage as its hello and keys must not lock the honest members out (a
// hostile review's F3). The relay counts records and cannot check them: the honest members,
// whose keys need the garbage hello to open, stay at one record each while the sender has two.
// Moving the short majority out charged them a back-off growing at each cycle (1, 2, 4…
// minutes) while the sender stayed in. Now nobody moves while the short seats are as many as
// the complete ones or more. The same holds when the garbage is one record (every seat short).
func TestLivenessGarbageLocksNoHonestOut(t *testing.T) {
	for _, garbage := range [][]string{{"garbage hello", "garbage keys"}, {"garbage hello"}} {
		e := newEnv(t)
		m := e.create(3, false)
		a, b, evil := e.member(m, 1), e.member(m, 2), e.member(m, 3)
		ps := peers(t, a, b)
		v := a.State().V
		// refuse takes every record waiting for p: the garbage does not open (the client refuses
		// it and acknowledges it, as the page would), real ones do.
		refuse := func(p *peer) {
			t.Helper()
			for {
				d := p.ss.PeekNow(p.next)
				if d == nil {
					return
				}
				var buf bytes.Buffer
				_, err := d.WriteTo(&buf)
				require.NoError(t, err)
				o, err := p.m.Open(byte(d.From), buf.Bytes())
				if d.From == evil.Seat() {
					require.Error(t, err, "the garbage does not open")
				} else {
					require.NoError(t, err, "an honest member's record opens")
					if o.Send != nil {
						send(t, p.ss, o.Send)
					}
				}
				p.ss.AckBelow(d.Seq + 1)
				p.next = d.Seq + 1
			}
		}
		for _, p := range ps {
			p.list() // its real hello
		}
		for _, g := range garbage {
			send(t, evil, []byte(g))
		}
		for minute := 1; minute <= 20; minute++ {
			for _, p := range ps {
				refuse(p)
				_, err := p.m.Seal([]byte{protocol.ChatMsgText, 0})
				require.ErrorIs(t, err, protocol.ErrRoomWait, "seat %d cannot talk: no valid hello from seat 3", p.ss.Seat())
				p.ss.Polled() // an honest page polls on
			}
			e.clk.Add(room.DefaultLiveness)
			e.s.Sweep()
			st := a.State()
			require.Equal(t, []int{1, 2, 3}, st.In, "%d garbage records, minute %d: no honest seat is moved out", len(garbage), minute)
			require.Empty(t, st.Out)
			require.Equal(t, v, st.V, "nobody moved")
		}
	}
}

// Who liveness blames is re-checked every sweep while the version lasts: a member that sends
// its hello just before the deadline (a hostile review's R8) leaves most honest members short of
// their keys at the deadline. The one honest member whose keys came first is not the one to
// go out (a short majority blames nobody); once the others' keys arrive, the late member is the
// short minority and goes out, charged its back-off.
func TestLivenessLateHelloBlamesTheLateSeat(t *testing.T) {
	e := newEnv(t)
	m := e.create(4, false)
	a, b, c := e.member(m, 1), e.member(m, 2), e.member(m, 3)
	late := e.member(m, 4)
	v := a.State().V
	for _, ss := range []*room.Session{a, b, c} {
		send(t, ss, []byte("hello"))
	}
	e.clk.Add(room.DefaultLiveness - 100*time.Millisecond)
	send(t, late, []byte("hello 4, at 59.9 s"))
	send(t, a, []byte("keys 1")) // seat 1's keys come first; seats 2 and 3 are slower
	e.clk.Add(100 * time.Millisecond)
	e.s.Sweep()
	st := a.State()
	require.Equal(t, v, st.V, "at the deadline three seats are short and one complete: nobody moves")
	require.Equal(t, []int{1, 2, 3, 4}, st.In)
	send(t, b, []byte("keys 2"))
	send(t, c, []byte("keys 3"))
	e.clk.Add(time.Second)
	e.s.Sweep()
	st = a.State()
	require.Equal(t, v+1, st.V)
	require.Equal(t, []int{1, 2, 3}, st.In)
	require.Equal(t, []int{4}, st.Out, "the late seat, now the short minority, goes out")
	late.Polled()
	e.clk.Add(room.BackInFirst - time.Second)
	e.s.Sweep()
	require.Equal(t, []int{4}, a.State().Out, "charged its back-off")
	e.clk.Add(time.Second)
	e.s.Sweep()
	require.Equal(t, []int{1, 2, 3, 4}, a.State().In)
}

// A member alone is never dropped for silence: the rule is for the key exchange of two or more.
func TestLivenessNotAlone(t *testing.T) {
	e := newEnv(t)
	m := e.create(2, false)
	a := e.member(m, 1)
	e.clk.Add(10 * time.Minute)
	e.s.Sweep()
	require.Empty(t, ended(t, a))
}

// Forged or foreign session tokens get the uniform gone answer.
func TestForgedSessionGone(t *testing.T) {
	e := newEnv(t)
	m, other := e.create(2, false), e.create(2, false)
	tok, err := e.s.Join(m.id, m.invites[0].join())
	require.NoError(t, err)
	for _, c := range []struct {
		id  vault.ID
		tok []byte
	}{{m.id, rnd(t)}, {other.id, tok}, {vault.ID{1}, tok}, {m.id, nil}, {m.id, make([]byte, 32)}} {
		_, err := e.s.Attach(c.id, c.tok)
		require.ErrorIs(t, err, room.ErrGone)
	}
	_, err = e.s.Attach(m.id, tok)
	require.NoError(t, err)
}

// The relay reads nothing of a record, not even its first byte: a record that starts as a
// hello is relayed like any other, and a second one does not drop the first.
func TestRelayReadsNothing(t *testing.T) {
	e := newEnv(t)
	m := e.create(2, false)
	a, b := e.member(m, 1), e.member(m, 2)
	s1 := send(t, a, []byte{1, 1, 1})
	s2 := send(t, a, []byte{1, 2, 2})
	d, _ := take(t, b, 0)
	require.Equal(t, s1, d.Seq)
	d, _ = take(t, b, s1+1)
	require.Equal(t, s2, d.Seq)
}

// Rooms are priced: past half of the room slots, a room pays; the payment binds kind 4, the
// seats beyond the first, the TTL and the manage hash.
func TestRoomsPriced(t *testing.T) {
	e := newEnv(t, func(c *room.Config) { c.MaxSlots = 16 })
	e.create(8, false) // 7 of 16 slots
	require.Zero(t, e.s.Level())
	e.create(2, false) // 8 of 16: half
	require.Positive(t, e.s.Level())
	manage := rnd(t)
	req := room.CreateRequest{Manage: sha256.Sum256(manage), TTL: 24 * time.Hour}
	for range 8 {
		req.Seats = append(req.Seats, room.SeatCaps{Gate: sha256.Sum256(rnd(t))})
	}
	_, err := e.s.Create(req)
	var unpaid *price.Unpaid
	require.ErrorAs(t, err, &unpaid, "unpaid past half full")
	require.Positive(t, unpaid.Bits)
	// Priced for what a room can hold, 2 MiB for its lifetime, as a note of 2 MiB for that TTL,
	// whatever its seats.
	note, err := e.s.Config().Price.Bits(e.s.Level(), protocol.PriceRequest{Kind: protocol.PriceNote, Length: 2 << 20, TTL: req.TTL})
	require.NoError(t, err)
	require.Equal(t, note, unpaid.Bits)
	two := room.CreateRequest{Manage: sha256.Sum256(rnd(t)), TTL: req.TTL, Seats: req.Seats[:2]}
	_, err = e.s.Create(two)
	var unpaid2 *price.Unpaid
	require.ErrorAs(t, err, &unpaid2)
	require.Equal(t, unpaid.Bits, unpaid2.Bits, "two seats hold as much as eight")
	tok, _ := e.s.Config().Price.Token()
	nonce, err := protocol.SolvePrice(context.Background(), tok[:], room.PriceRequest(req.TTL, req.Manage), unpaid.Bits)
	require.NoError(t, err)
	req.PriceToken, req.PriceNonce = tok[:], nonce[:]
	_, err = e.s.Create(req)
	require.NoError(t, err, "paid")
	// The same payment does not pay again (the slots are full by now anyway).
	_, err = e.s.Create(req)
	require.ErrorAs(t, err, &unpaid)
	// Full: a room that needs more slots than are left.
	for range 10 {
		if _, err = e.s.Create(room.CreateRequest{Manage: sha256.Sum256(rnd(t)), Seats: req.Seats}); errors.Is(err, room.ErrFull) {
			break
		}
	}
	require.True(t, errors.Is(err, room.ErrFull) || errors.Is(err, price.ErrPrice), "%v", err)
}

// Create refuses what is not a room.
func TestCreateRefusals(t *testing.T) {
	e := newEnv(t)
	seat := room.SeatCaps{Gate: sha256.Sum256(rnd(t))}
	for name, req := range map[string]room.CreateRequest{
		"one seat":    {Seats: []room.SeatCaps{seat}, Manage: sha256.Sum256(rnd(t))},
		"nine seats":  {Seats: []room.SeatCaps{seat, seat, seat, seat, seat, seat, seat, seat, seat}, Manage: sha256.Sum256(rnd(t))},
		"no manage":   {Seats: []room.SeatCaps{seat, seat}},
		"no gate":     {Seats: []room.SeatCaps{seat, {}}, Manage: sha256.Sum256(rnd(t))},
		"short ttl":   {Seats: []room.SeatCaps{seat, seat}, Manage: sha256.Sum256(rnd(t)), TTL: 59 * time.Second},
		"long ttl":    {Seats: []room.SeatCaps{seat, seat}, Manage: sha256.Sum256(rnd(t)), TTL: 24*time.Hour + time.Second},
		"pin no open": {Seats: []room.SeatCaps{{Gate: seat.Gate, PIN: true, Open: sha256.Sum256(rnd(t))}, {Gate: seat.Gate, PIN: true}}, Manage: sha256.Sum256(rnd(t))},
		"mixed PINs":  {Seats: []room.SeatCaps{seat, {Gate: seat.Gate, PIN: true, Open: sha256.Sum256(rnd(t))}}, Manage: sha256.Sum256(rnd(t))},
	} {
		_, err := e.s.Create(req)
		require.ErrorIs(t, err, room.ErrInvalid, name)
	}
	require.Zero(t, e.s.Count())
}

// A seat without a PIN would tell a destruct at another seat from a typo (a hostile review's
// F2): after a typo its link joins, after a destruct the room has ended and it is gone, and its
// link needs no PIN to try. So a room's seats have a PIN every one or none: a mixed room is
// refused, and in a room without PINs no destruct exists.
func TestMixedPINsRefused(t *testing.T) {
	e := newEnv(t)
	m := e.create(2, true)
	req := room.CreateRequest{Manage: sha256.Sum256(m.manage), TTL: room.DefaultTTL}
	for _, i := range m.invites {
		req.Seats = append(req.Seats, room.SeatCaps{Gate: sha256.Sum256(i.gate), Open: sha256.Sum256(i.open), Destruct: sha256.Sum256(i.destruct), PIN: true})
	}
	_, err := e.s.Create(req)
	require.NoError(t, err, "control: every seat with a PIN")
	req.Seats = append(req.Seats, room.SeatCaps{Gate: sha256.Sum256(rnd(t))}) // seat 3, no PIN
	before := e.s.Count()
	_, err = e.s.Create(req)
	require.ErrorIs(t, err, room.ErrInvalid, "a seat without a PIN beside seats with one")
	require.Equal(t, before, e.s.Count(), "nothing made")
	// Without any PIN, a destruct token is no PIN: the seat joins.
	plain := e.create(2, false)
	_, err = e.s.Join(plain.id, plain.invites[1].duress(t))
	require.NoError(t, err)
}

// A record too large is refused and changes nothing.
func TestRecordTooLarge(t *testing.T) {
	e := newEnv(t)
	m := e.create(2, false)
	a, _ := e.member(m, 1), e.member(m, 2)
	_, err := a.SendStream(io.LimitReader(zeroes{}, room.DefaultMaxRecord+1))
	require.ErrorIs(t, err, room.ErrTooLarge)
	_, err = a.Send(bytes.NewReader(nil), room.DefaultMaxRecord+1)
	require.ErrorIs(t, err, room.ErrTooLarge)
	e.v.Settle()
	require.Zero(t, e.v.Stats().Used)
}

// The answer to a record does not depend on who else is in (a hostile review's F5): a member
// alone in "in", whose records are read through and kept nowhere, gets too_large for a stream
// over MaxRecord, as it would with a recipient, and a fallback record shorter than it declared
// is invalid; neither takes a sequence number.
func TestRecordTooLargeWhenAlone(t *testing.T) {
	e := newEnv(t)
	m := e.create(2, false)
	a := e.member(m, 1) // seat 2 not joined yet: nobody to deliver to
	first := send(t, a, []byte("hello, to nobody yet"))
	_, err := a.SendStream(io.LimitReader(zeroes{}, room.DefaultMaxRecord+1))
	require.ErrorIs(t, err, room.ErrTooLarge, "over MaxRecord is too large, alone or not")
	_, err = a.Send(bytes.NewReader([]byte("short")), 10)
	require.ErrorIs(t, err, room.ErrInvalid, "fewer bytes than declared")
	seq, err := a.SendStream(io.LimitReader(zeroes{}, room.DefaultMaxRecord))
	require.NoError(t, err, "exactly MaxRecord is a record")
	require.Equal(t, first+1, seq, "the refused records took no number")
	e.v.Settle()
	require.Zero(t, e.v.Stats().Used, "kept nowhere")
}

type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// One session holds at most wsrelay.MaxSockets sockets (a reload's new one beside the old):
// one more is refused and counts nothing, and once one closes another may open (a hostile
// review's R5: 64 sockets were served for one session).
func TestSocketsPerSessionCapped(t *testing.T) {
	e := newEnv(t)
	m := e.create(2, false)
	a := e.member(m, 1)
	for range wsrelay.MaxSockets {
		require.True(t, a.Connected(1))
	}
	require.False(t, a.Connected(1), "one socket more than the cap")
	require.False(t, a.Connected(1), "and again: the refused one counted nothing")
	require.True(t, a.Connected(-1))
	require.True(t, a.Connected(1), "a socket closed: another may open")
}
