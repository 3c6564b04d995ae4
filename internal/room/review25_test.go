package room_test

// Hostile review 25 of the fixes merged in 8fb1f3a (R3, R4, R7, R8). Each test here states
// what a user is promised and fails today; see /work/notes/room25-review.md.

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/room"
)

// F3: R8's back-off lets one member lock the honest members out with a growing wait. The relay
// counts records, not their validity: a member that sends two records of garbage (its "hello"
// and "keys") holds every honest member at its real hello (keys need every hello, and the
// garbage hello does not open), so at the liveness deadline nobody is silent, the honest
// members are the ones "short" of two records, and they are moved out, each move raising their
// own back-off (1, 2, 4, 8, 16 minutes), while the attacker stays in. Before R8 they came back
// at once; now each cycle keeps them out longer.
func TestReview25GarbageHelloLocksHonestOut(t *testing.T) {
	e := newEnv(t)
	m := e.create(3, false)
	a, b, evil := e.member(m, 1), e.member(m, 2), e.member(m, 3)
	ps := peers(t, a, b)
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
			} else if err == nil && o.Send != nil {
				send(t, p.ss, o.Send)
			}
			p.ss.AckBelow(d.Seq + 1)
			p.next = d.Seq + 1
		}
	}
	for cycle := 1; cycle <= 3; cycle++ {
		st := a.State()
		require.Equal(t, []int{1, 2, 3}, st.In, "cycle %d: everyone in", cycle)
		for _, p := range ps {
			p.list() // its real hello
		}
		send(t, evil, []byte("garbage hello"))
		send(t, evil, []byte("garbage keys"))
		for _, p := range ps {
			refuse(p)
			_, err := p.m.Seal([]byte{protocol.ChatMsgText, 0})
			require.ErrorIs(t, err, protocol.ErrRoomWait, "cycle %d: seat %d cannot talk: no valid hello from seat 3", cycle, p.ss.Seat())
		}
		e.clk.Add(room.DefaultLiveness)
		e.s.Sweep()
		out := a.State().Out
		if len(out) == 0 {
			continue
		}
		// Whoever went out asks to come back at once; an honest member must not be held out
		// longer than the first wait because of another member's garbage.
		for _, ss := range []*room.Session{a, b, evil} {
			ss.Polled()
		}
		e.clk.Add(room.BackInFirst)
		e.s.Sweep()
		st = a.State()
		require.Equal(t, []int{1, 2, 3}, st.In,
			"cycle %d: seats %v went out on seat 3's garbage; an honest seat must be back after %v (today it waits %v)",
			cycle, out, room.BackInFirst, room.BackInFirst<<(cycle-1))
	}
}
