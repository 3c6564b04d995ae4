package drop_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

func visit(day string, fetched int) drop.Visit { return drop.Visit{Day: day, Fetched: fetched} }

// A thief who holds the inbox link reads a message and lists again to reset the old
// "fetched since the last list" counter: the journalist's next list still shows the thief's
// day and read.
func TestVisitLogShowsAThief(t *testing.T) {
	e := newEnv(t, drop.Config{}) // the clock starts 2030-01-02 03:04 UTC
	k := keys(t, 0)
	var ids []vault.ID
	for _, text := range []string{"one", "two", "three"} {
		id, err := e.submit(t, k, seal(t, k, text))
		require.NoError(t, err)
		ids = append(ids, id)
	}

	// The journalist visits and reads one.
	l := e.list(t, k)
	require.Equal(t, []drop.Visit{visit("2030-01-02", 0)}, l.Visits, "the last record is this visit, nothing read yet")
	_, err := e.read(t, k, ids[0])
	require.NoError(t, err)

	// Two days later the thief lists, reads one, and lists again to cover it up.
	e.clk.Add(48 * time.Hour)
	e.list(t, k)
	_, err = e.read(t, k, ids[1])
	require.NoError(t, err)
	require.Equal(t, 1, e.list(t, k).FetchedSinceList)
	require.Zero(t, e.list(t, k).FetchedSinceList, "the old counter is reset by the thief's list")

	// The journalist comes back a week later: the thief's day and read are still there.
	e.clk.Add(7 * 24 * time.Hour)
	l = e.list(t, k)
	require.Zero(t, l.FetchedSinceList)
	require.Equal(t, []drop.Visit{visit("2030-01-02", 1), visit("2030-01-04", 1), visit("2030-01-11", 0)}, l.Visits)
	require.Equal(t, 2, l.FetchedTotal)
	require.Len(t, l.Items, 1)
}

// Lists on one UTC day are one record; the day changes at midnight UTC.
func TestVisitLogDays(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	ids := e.submitN(t, k, 3)
	// 2030-01-02 03:04:05 → 23:59:30 the same day.
	e.clk.Add(20*time.Hour + 55*time.Minute + 25*time.Second)
	e.list(t, k)
	_, err := e.read(t, k, ids[0])
	require.NoError(t, err)
	e.list(t, k)
	_, err = e.read(t, k, ids[1])
	require.NoError(t, err)
	require.Equal(t, []drop.Visit{visit("2030-01-02", 2)}, e.list(t, k).Visits, "three lists on one day are one record")

	e.clk.Add(time.Minute) // 00:00:30 the next day
	_, err = e.read(t, k, ids[2])
	require.NoError(t, err)
	require.Equal(t, []drop.Visit{visit("2030-01-02", 3)}, e.list(t, k).Visits[:1],
		"a read before the next day's first list counts against the previous visit")
	require.Equal(t, []drop.Visit{visit("2030-01-02", 3), visit("2030-01-03", 0)}, e.list(t, k).Visits)
}

// The log keeps the newest MaxVisits days.
func TestVisitLogBounded(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	start := e.clk.Now()
	var l *drop.Listing
	for range 20 {
		l = e.list(t, k)
		e.clk.Add(24 * time.Hour)
	}
	require.Len(t, l.Visits, drop.MaxVisits)
	for i, v := range l.Visits {
		require.Equal(t, start.AddDate(0, 0, 20-drop.MaxVisits+i).Format(time.DateOnly), v.Day)
	}
	require.Equal(t, 20, l.ListsTotal)
}

// A route's log survives its own wipe-all and refusals; a wrong proof adds no visit.
func TestVisitLogNotClearedByRequests(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	e.list(t, k)
	e.clk.Add(24 * time.Hour)
	mustWipe(t, e, k)
	p := e.prove(t, k, protocol.DropActionWipe, vault.ID{}, [32]byte{})
	_, err := e.s.List(route(t, e.s, k), p, vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)
	e.clk.Add(24 * time.Hour)
	require.Equal(t, []drop.Visit{visit("2030-01-02", 0), visit("2030-01-04", 0)}, e.list(t, k).Visits)
}

// List pages: at most ListPage items after the cursor, oldest first, the cursor bound in the
// proof.
func TestListPages(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	const n = 2*drop.ListPage + 5
	for i := range n {
		_, err := e.submit(t, k, seal(t, k, fmt.Sprint(i)))
		require.NoError(t, err)
		if i%7 == 0 {
			e.clk.Add(time.Minute) // several arrivals share a minute: the id breaks the tie
		}
	}
	all := e.v.List(vault.KindSubmission, route(t, e.s, k).String())
	require.Len(t, all, n)

	var got []vault.ID
	after := vault.ID{}
	for page := 0; ; page++ {
		require.Less(t, page, 3)
		l := e.listAfter(t, k, after)
		require.Equal(t, n, l.Pending)
		require.LessOrEqual(t, len(l.Items), drop.ListPage)
		for _, it := range l.Items {
			got = append(got, it.ID)
		}
		if !l.More {
			break
		}
		after = l.Items[len(l.Items)-1].ID
	}
	want := make([]vault.ID, 0, n)
	for _, in := range all {
		want = append(want, in.ID)
	}
	require.Equal(t, want, got, "the pages are the whole list, in order, once")

	// The last page: exactly the remainder.
	l := e.listAfter(t, k, want[2*drop.ListPage-1])
	require.Len(t, l.Items, 5)
	require.False(t, l.More)
	// A cursor after the last item: nothing more.
	l = e.listAfter(t, k, want[n-1])
	require.Empty(t, l.Items)
	require.False(t, l.More)

	// The cursor is bound in the proof: a proof for another cursor (or none) is gone.
	r := route(t, e.s, k)
	_, err := e.s.List(r, e.prove(t, k, protocol.DropActionList, vault.ID{}, [32]byte{}), want[9])
	require.ErrorIs(t, err, drop.ErrGone)
	_, err = e.s.List(r, e.prove(t, k, protocol.DropActionList, want[9], [32]byte{}), vault.ID{})
	require.ErrorIs(t, err, drop.ErrGone)

	// A cursor that is no longer pending lists from the oldest.
	_, err = e.read(t, k, want[0])
	require.NoError(t, err)
	l = e.listAfter(t, k, want[0])
	require.Equal(t, n-1, l.Pending)
	require.Equal(t, want[1], l.Items[0].ID)
	require.True(t, l.More)
}

// Paging lists do not reset the old counter: only a list from the start does.
func TestListPagesKeepFetchedSinceList(t *testing.T) {
	e := newEnv(t, drop.Config{})
	k := keys(t, 0)
	ids := e.submitN(t, k, 3)
	e.list(t, k)
	_, err := e.read(t, k, ids[0])
	require.NoError(t, err)
	require.Equal(t, 1, e.listAfter(t, k, ids[1]).FetchedSinceList)
	require.Equal(t, 1, e.list(t, k).FetchedSinceList)
	require.Zero(t, e.list(t, k).FetchedSinceList)
}

// When too many routes are counted, the routes that hold nothing and had nothing read go
// first: a flood of fresh routes does not push out the log of a drop a thief emptied.
func TestVisitLogSurvivesARouteFlood(t *testing.T) {
	e := newEnv(t, drop.Config{MaxCounters: 4})
	victim := keys(t, 0)
	id, err := e.submit(t, victim, seal(t, victim, "secret"))
	require.NoError(t, err)
	e.list(t, victim)
	_, err = e.read(t, victim, id) // the thief empties the drop
	require.NoError(t, err)
	for range 10 {
		e.list(t, keys(t, 0))
	}
	l := e.list(t, victim)
	require.Equal(t, []drop.Visit{visit("2030-01-02", 1)}, l.Visits)
	require.Equal(t, 1, l.FetchedTotal)
}

// When every counted route still holds a submission, nothing can be dropped: the scan for
// routes to drop then runs at most once a second, not on every new route (each scan visits
// every counted route under the server's lock), and the counters of the new routes are kept.
func TestCounterScansSpaced(t *testing.T) {
	e := newEnv(t, drop.Config{MaxCounters: 2})
	var ks []*protocol.DropKeys
	for i := range 6 {
		k := keys(t, 0)
		_, err := e.submit(t, k, seal(t, k, fmt.Sprint(i)))
		require.NoError(t, err)
		ks = append(ks, k)
	}
	for _, k := range ks[:2] {
		e.list(t, k)
	}
	require.Zero(t, drop.CountScans(e.s), "below the cap: no scan")
	for _, k := range ks[2:5] {
		l := e.list(t, k)
		require.Len(t, l.Visits, 1, "a new route is counted even past the cap")
	}
	require.Equal(t, 1, drop.CountScans(e.s), "one scan in this second, not one per new route")
	e.clk.Add(time.Second)
	e.list(t, ks[5])
	require.Equal(t, 2, drop.CountScans(e.s))
	// Nothing was dropped: every route still holds its submission and keeps its log.
	for _, k := range ks {
		require.Len(t, e.list(t, k).Visits, 1)
	}
}

// submitN submits n small notes "0", "1", ... to k's drop and returns their ids in order.
func (e *env) submitN(t *testing.T, k *protocol.DropKeys, n int) []vault.ID {
	t.Helper()
	ids := make([]vault.ID, n)
	for i := range n {
		id, err := e.submit(t, k, seal(t, k, fmt.Sprint(i)))
		require.NoError(t, err)
		ids[i] = id
	}
	return ids
}
