package protocol

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// exchange delivers the hellos and keys of version v among seats (each has taken its list),
// and returns what each receiver got from each sender's keys.
func reviewExchange(t *testing.T, r *liveRoom, seats []byte, hellos map[byte][]byte) map[[2]byte]RoomOpened {
	t.Helper()
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
	out := map[[2]byte]RoomOpened{}
	for _, from := range seats {
		for _, to := range seats {
			if from != to {
				got, err := r.members[to].Open(from, keys[from])
				require.NoError(t, err)
				out[[2]byte{from, to}] = got
			}
		}
	}
	return out
}

// tailDrop: seats 1, 2, 3 in version 1; seat 1 says three things; the relay gives seat 2 only
// the first.
func reviewTailDrop(t *testing.T) *liveRoom {
	r := newLiveRoom(t)
	r.version(t, 1, 1, 2, 3)
	var recs [][]byte
	for _, s := range []string{"one", "two", "three"} {
		recs = append(recs, r.say(t, 1, s))
	}
	for _, rec := range recs {
		_, err := r.members[3].Open(1, rec)
		require.NoError(t, err)
	}
	_, err := r.members[2].Open(1, recs[0])
	require.NoError(t, err)
	return r
}

func reviewNext(t *testing.T, r *liveRoom, v uint32, all []byte, lists map[byte][2][]byte) map[[2]byte]RoomOpened {
	hellos := map[byte][]byte{}
	for _, s := range all {
		in, out := all, []byte(nil)
		if l, ok := lists[s]; ok {
			in, out = l[0], l[1]
		}
		h, err := r.members[s].Seats(v, in, out)
		require.NoError(t, err)
		hellos[s] = h.Hello
	}
	return reviewExchange(t, r, all, hellos)
}

// Control: without a trick, the previous count shows the two records held back.
func TestReviewTailDropShownControl(t *testing.T) {
	r := reviewTailDrop(t)
	got := reviewNext(t, r, 2, []byte{1, 2, 3}, nil)
	require.EqualValues(t, 2, got[[2]byte{1, 2}].Missing)
}

// R2a (a hostile review of issue 20): the relay first shows seat 2 alone a list that leaves seat 2
// out (refused, but it raises the floor); everybody else goes straight to version 3. Seat 1's
// keys(3) count version 1, the last in which seat 2 held seat 1's chain: the two records held
// back are shown.
func TestReviewTailDropHiddenByAFakeOutList(t *testing.T) {
	r := reviewTailDrop(t)
	_, err := r.members[2].Seats(2, []byte{1, 3}, []byte{2})
	require.ErrorIs(t, err, ErrRoomEpoch) // what a legitimately away member also sees
	got := reviewNext(t, r, 3, []byte{1, 2, 3}, nil)
	require.EqualValues(t, 2, got[[2]byte{1, 2}].Missing, "the two records held back must be shown")
}

// R2b: the relay shows seat 2 (only) a version 2 in which the sender, seat 1, is "out" (away,
// not ended: nothing is shown), then version 3 with everyone. Seat 1 never saw version 2; its
// keys(3) count its 3 records of version 1, which seat 2 compares with what it took of version 1.
func TestReviewTailDropHiddenBySenderOut(t *testing.T) {
	r := reviewTailDrop(t)
	res, err := r.members[2].Seats(2, []byte{2, 3}, []byte{1})
	require.NoError(t, err)
	require.Empty(t, res.Removed)
	require.Empty(t, res.Left)
	got := reviewNext(t, r, 3, []byte{1, 2, 3}, nil)
	require.EqualValues(t, 2, got[[2]byte{1, 2}].Missing, "the two records held back must be shown")
}

// R6: a seat whose signed bye came counts as ended: a list naming it in "out" (away) or in
// "in" (back) is refused as view, and the list leaving it out shows it as left.
func TestReviewByeSeatComesBack(t *testing.T) {
	r := newLiveRoom(t)
	r.version(t, 1, 1, 2, 3)
	bye, err := r.members[2].Bye()
	require.NoError(t, err)
	for _, s := range []byte{1, 3} {
		_, err := r.members[s].Open(2, bye)
		require.NoError(t, err)
	}
	_, err = r.members[1].Seats(2, []byte{1, 3}, []byte{2})
	require.ErrorIs(t, err, ErrRoomView, "a seat that said bye is not away")
	_, err = r.members[1].Seats(3, []byte{1, 2, 3}, nil)
	require.ErrorIs(t, err, ErrRoomView, "a seat that said bye must not come back")
	res, err := r.members[1].Seats(3, []byte{1, 3}, nil)
	require.NoError(t, err)
	require.Equal(t, []byte{2}, res.Left)
}
