package protocol

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// liveRoom runs members with real randomness through a version: member lists, hellos and keys
// delivered to everyone, in the order a relay would.
type liveRoom struct {
	id      [RoomIDSize]byte
	km      []byte
	members map[byte]*RoomMember
}

func newLiveRoom(t *testing.T) *liveRoom {
	r := &liveRoom{km: randKey(t), members: map[byte]*RoomMember{}}
	copy(r.id[:], randKey(t))
	return r
}

func (r *liveRoom) version(t *testing.T, v uint32, seats ...byte) {
	t.Helper()
	hellos := map[byte][]byte{}
	for _, s := range seats {
		if r.members[s] == nil {
			m, err := NewRoomMember(r.id, s, r.km)
			require.NoError(t, err)
			r.members[s] = m
		}
		h, err := r.members[s].Seats(v, seats, nil)
		require.NoError(t, err)
		hellos[s] = h.Hello
	}
	keys := map[byte][]byte{}
	for _, from := range seats {
		for _, to := range seats {
			if from != to {
				got, err := r.members[to].Open(from, hellos[from])
				require.NoError(t, err)
				if got.Send != nil {
					keys[to] = got.Send
				}
			}
		}
	}
	for _, from := range seats {
		for _, to := range seats {
			if from != to {
				_, err := r.members[to].Open(from, keys[from])
				require.NoError(t, err)
			}
		}
	}
	for _, s := range seats {
		require.True(t, r.members[s].Complete())
	}
}

func (r *liveRoom) say(t *testing.T, from byte, text string) []byte {
	t.Helper()
	pt, err := EncodeRoomMessage(ChatMsgText, []byte(text))
	require.NoError(t, err)
	rec, err := r.members[from].Seal(pt)
	require.NoError(t, err)
	return rec
}

func TestRoomLiveMembershipChanges(t *testing.T) {
	r := newLiveRoom(t)
	r.version(t, 1, 1, 2)
	early := r.say(t, 1, "before the join")
	_, err := r.members[2].Open(1, early)
	require.NoError(t, err)
	r.version(t, 2, 1, 2, 3)
	code, err := r.members[1].SafetyCode()
	require.NoError(t, err)
	for _, s := range []byte{2, 3} {
		c, err := r.members[s].SafetyCode()
		require.NoError(t, err)
		require.Equal(t, code, c)
	}
	// The late joiner cannot read back: a record of a version before its first is ignored.
	got, err := r.members[3].Open(1, early)
	require.NoError(t, err)
	require.True(t, got.Ignored)
	require.Nil(t, got.Message)
	mid := r.say(t, 2, "all three")
	for _, s := range []byte{1, 3} {
		got, err := r.members[s].Open(2, mid)
		require.NoError(t, err)
		typ, body, err := DecodeRoomMessage(got.Message)
		require.NoError(t, err)
		require.Equal(t, ChatMsgText, typ)
		require.Equal(t, "all three", string(body))
	}
	// Seat 2 leaves: it cannot read on.
	r.version(t, 3, 1, 3)
	after := r.say(t, 1, "after the leave")
	_, err = r.members[2].Open(1, after)
	require.ErrorIs(t, err, ErrRoomEpoch)
	_, err = r.members[3].Open(1, after)
	require.NoError(t, err)
	// The safety code changes with the members and is the same for the two left.
	c1, _ := r.members[1].SafetyCode()
	c3, _ := r.members[3].SafetyCode()
	require.Equal(t, c1, c3)
	require.NotEqual(t, code, c1)
}

// The relay has no Kr: a hello it makes with its best guess of Km is refused, so it cannot add
// a member; and a keys record only opens under the receiver's own transcript.
func TestRoomRelayCannotAddAMember(t *testing.T) {
	r := newLiveRoom(t)
	r.version(t, 1, 1, 2)
	ghost, err := NewRoomMember(r.id, 3, randKey(t))
	require.NoError(t, err)
	h, err := ghost.Seats(2, []byte{1, 2, 3}, nil)
	require.NoError(t, err)
	_, err = r.members[1].Seats(2, []byte{1, 2, 3}, nil)
	require.NoError(t, err)
	_, err = r.members[1].Open(3, h.Hello)
	require.ErrorIs(t, err, ErrRoomHandshake)
	// Nothing seals while the version is open, and the refused hello left it so.
	_, err = r.members[1].Seal(make([]byte, ChatMinPadded))
	require.ErrorIs(t, err, ErrRoomWait)
	_, err = r.members[1].SafetyCode()
	require.ErrorIs(t, err, ErrRoomWait)
}

// Ephemeral private keys go once the version is complete, the previous version's chains are
// zeroed then, and a sending chain key is replaced (and zeroed) at every record.
func TestRoomErasesKeys(t *testing.T) {
	r := newLiveRoom(t)
	r.version(t, 1, 1, 2)
	m := r.members[2]
	require.Nil(t, m.cur.priv)
	old := m.cur.recv[1].ck
	oldSend := m.send.ck
	r.say(t, 2, "x")
	require.Equal(t, make([]byte, KeySize), oldSend, "the sending chain key is zeroed as it advances")
	require.NotEqual(t, make([]byte, KeySize), old)
	hello, err := m.Seats(2, []byte{1, 2}, nil)
	require.NoError(t, err)
	require.NotNil(t, m.cur.priv)
	require.NotNil(t, m.prev, "the previous chains are kept until the new version is complete")
	h1, err := r.members[1].Seats(2, []byte{1, 2}, nil)
	require.NoError(t, err)
	k1, err := r.members[1].Open(2, hello.Hello)
	require.NoError(t, err)
	k2, err := m.Open(1, h1.Hello)
	require.NoError(t, err)
	_, err = r.members[1].Open(2, k2.Send)
	require.NoError(t, err)
	got, err := m.Open(1, k1.Send)
	require.NoError(t, err)
	require.True(t, got.Complete)
	require.Nil(t, m.cur.priv)
	require.True(t, m.prev.closed)
	require.Equal(t, make([]byte, KeySize), old, "the previous version's chain key is zeroed")
}

func TestRoomInviteRoundTrip(t *testing.T) {
	var in RoomInvite
	in.Flags, in.Seat = FlagPIN, 8
	copy(in.SeatKey[:], randKey(t))
	copy(in.RoomKey[:], randKey(t))
	s := in.String()
	require.Len(t, s, RoomInviteLen)
	got, err := ParseRoomInvite(s)
	require.NoError(t, err)
	require.Equal(t, in, got)
	_, err = NewRoomMember([RoomIDSize]byte{}, 9, randKey(t))
	require.ErrorIs(t, err, ErrFormat)
	_, err = NewRoomMember([RoomIDSize]byte{}, 1, make([]byte, 31))
	require.ErrorIs(t, err, ErrKey)
	_, err = EncodeRoomMessage(RoomMsgName, []byte("Ana\u202e"))
	require.ErrorIs(t, err, ErrRoomName)
	_, err = EncodeRoomMessage(6, nil)
	require.ErrorIs(t, err, ErrFormat)
}

func FuzzRoomOpen(f *testing.F) {
	f.Add(byte(1), []byte{3, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(byte(2), bytes.Repeat([]byte{1}, RoomHelloSize))
	f.Add(byte(2), append([]byte{2, 0, 0, 0, 1, 2, 1, 1}, make([]byte, 48+64)...))
	var id [RoomIDSize]byte
	km := make([]byte, 32)
	f.Fuzz(func(t *testing.T, stamp byte, rec []byte) {
		a, _ := NewRoomMember(id, 1, km)
		b, _ := NewRoomMember(id, 2, km)
		ha, _ := a.Seats(1, []byte{1, 2}, nil)
		hb, _ := b.Seats(1, []byte{1, 2}, nil)
		ka, _ := a.Open(2, hb.Hello)
		kb, _ := b.Open(1, ha.Hello)
		if _, err := a.Open(2, kb.Send); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Open(1, ka.Send); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Open(stamp, rec); err == nil && !got.Ignored {
			t.Fatal("a record nobody made was accepted")
		}
		_, _, _ = DecodeRoomMessage(rec)
	})
}

// The sender's own chain of the version before goes at its hello of the next one, and erasure
// is bounded in time by the injected clock: the ephemeral key 60 s after the hello, the previous
// version's chains 60 s after the list, whether or not anyone else answers.
func TestRoomErasureIsBoundedInTime(t *testing.T) {
	r := newLiveRoom(t)
	r.version(t, 1, 1, 2)
	clock := newTestClock()
	m := r.members[2]
	m.now = clock.now
	r.say(t, 1, "x")
	own := m.send.ck
	prevChain := m.cur.recv[1].ck
	require.True(t, m.Deadline().IsZero(), "nothing waits for erasure in a complete version")
	_, err := m.Seats(2, []byte{1, 2}, nil)
	require.NoError(t, err)
	require.Equal(t, make([]byte, KeySize), own, "the sender's own chain of version 1 goes at its hello of version 2")
	require.Nil(t, m.send)
	require.NotNil(t, m.cur.priv)
	require.Equal(t, clock.t.Add(RoomEraseAfter), m.Deadline())
	clock.t = clock.t.Add(RoomEraseAfter - time.Second)
	m.Expire()
	require.NotNil(t, m.cur.priv)
	require.NotEqual(t, make([]byte, KeySize), prevChain)
	clock.t = clock.t.Add(time.Second) // seat 1 never answered
	m.Expire()
	require.Nil(t, m.cur.priv, "the ephemeral key goes 60 s after the hello")
	require.Equal(t, make([]byte, KeySize), prevChain, "the previous version's chains go 60 s after the list")
	require.True(t, m.Deadline().IsZero())
}

// A bye carries its count; the seat then leaves as "left", another as "removed by the server".
// Names are final per seat, and equal keys are marked on every seat that has them.
func TestRoomByeAndNames(t *testing.T) {
	r := newLiveRoom(t)
	r.version(t, 1, 1, 2, 3)
	name := func(s byte, n string) []byte {
		pt, err := EncodeRoomMessage(RoomMsgName, []byte(n))
		require.NoError(t, err)
		rec, err := r.members[s].Seal(pt)
		require.NoError(t, err)
		return rec
	}
	for s, n := range map[byte]string{1: "Ana", 2: "Bo", 3: "ＡＮＡ"} {
		rec := name(s, n)
		for _, to := range []byte{1, 2, 3} {
			if to != s {
				got, err := r.members[to].Open(s, rec)
				require.NoError(t, err)
				require.False(t, got.Renamed)
			}
		}
	}
	got, err := r.members[1].Open(2, name(2, "Cy"))
	require.NoError(t, err)
	require.True(t, got.Renamed)
	require.Equal(t, []RoomName{{Seat: 2, Name: "Bo"}, {Seat: 3, Name: "ＡＮＡ"}}, r.members[1].Names())
	require.Equal(t, []RoomName{{Seat: 1, Name: "Ana", Duplicate: true}, {Seat: 3, Name: "ＡＮＡ", Duplicate: true}}, r.members[2].Names())
	r.say(t, 2, "x")
	bye, err := r.members[2].Bye()
	require.NoError(t, err)
	got, err = r.members[1].Open(2, bye)
	require.NoError(t, err)
	require.Equal(t, ChatMsgBye, got.Inner)
	require.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 3}, got.Body)
	res, err := r.members[1].Seats(2, []byte{1, 3}, nil)
	require.NoError(t, err)
	require.Equal(t, []byte{2}, res.Left)
	require.Empty(t, res.Removed)
	res, err = r.members[3].Seats(2, []byte{1, 3}, nil)
	require.NoError(t, err)
	require.Empty(t, res.Left)
	require.Equal(t, []byte{2}, res.Removed, "seat 3 never got seat 2's bye")
}
