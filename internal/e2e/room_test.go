package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
)

// roomRounds is how many times every member of the room sends one message (8 × 13 = 104).
const roomRounds = 13

// TestRoomOverOnion is issue 20's onion proof: sealdrop in managed mode on the private
// network, a room of 8 Go clients, each on circuits of its own (its own SOCKS identity) to the
// onion, its HTTP calls and its WebSocket alike. Every member sends roomRounds 1 KiB texts (all
// eight at once in each round); every other member must get every one, in order per sender,
// with nothing refused. It logs the one-way latency of a message (its send until every other
// member has opened it, and until the first has) and asserts no speed.
func TestRoomOverOnion(t *testing.T) {
	n := tn.Get(t)
	visitor := newClientTor(t, n)
	s := startSealdrop(t, managedArgs(t, n, t.TempDir(), shortDir(t))...)
	base := s.onionBase(t)
	waitReachable(t, visitor, base)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()

	const seats = 8
	tag := time.Now().UnixNano()
	person := func(i int) *client.Client {
		c, _ := chatPerson(t, visitor, base, fmt.Sprintf("room-%d-seat-%d", tag, i))
		return c
	}
	start := time.Now()
	creator, err := person(1).CreateRoom(ctx, client.RoomOptions{Seats: seats, Name: "seat 1"})
	require.NoError(t, err)
	require.Len(t, creator.Invites, seats-1)
	require.True(t, strings.HasPrefix(creator.Invites[0], base+"/g/"+creator.ID+"#"), "the invite is on the onion: %q", creator.Invites[0])
	require.NoError(t, creator.Connect(ctx))
	rs := []*client.Room{creator}
	for i, link := range creator.Invites {
		r, err := person(i+2).JoinRoom(ctx, link, "", fmt.Sprintf("seat %d", i+2))
		require.NoError(t, err)
		require.NoError(t, r.Connect(ctx))
		rs = append(rs, r)
	}
	all := []int{1, 2, 3, 4, 5, 6, 7, 8}
	require.Eventually(t, func() bool {
		v := rs[0].Version()
		for _, r := range rs {
			if r.Version() != v || !r.Ready() || !slices.Equal(r.Members(), all) {
				return false
			}
		}
		return true
	}, 5*time.Minute, 50*time.Millisecond, "all eight in one complete version")
	joined := time.Since(start)
	code, err := rs[0].SafetyCode()
	require.NoError(t, err)
	for _, r := range rs[1:] {
		c, err := r.SafetyCode()
		require.NoError(t, err)
		require.Equal(t, code, c, "seat %d's safety code", r.Seat)
	}

	// Each member's receiver: every text with its sender and when it was opened; an alarm is
	// kept and fails the test (nothing on this path forges, drops or reorders).
	type got struct {
		from int
		text string
		at   time.Time
	}
	var mu sync.Mutex
	received := make([][]got, seats)
	var alarms []string
	want := (seats - 1) * roomRounds
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				done := len(received[i]) == want
				mu.Unlock()
				if done {
					return
				}
				ev, err := r.Receive(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				switch {
				case ev.Alarm != nil:
					alarms = append(alarms, fmt.Sprintf("seat %d: %v", r.Seat, ev.Alarm))
				case ev.Text != "":
					received[i] = append(received[i], got{ev.Seat, ev.Text, time.Now()})
				}
				mu.Unlock()
			}
		}()
	}

	sentAt := map[string]time.Time{}
	pad := strings.Repeat("x", 1019)
	for round := range roomRounds {
		var sw sync.WaitGroup
		for _, r := range rs {
			text := fmt.Sprintf("%d/%02d/%s", r.Seat, round, pad)[:1019]
			mu.Lock()
			sentAt[text] = time.Now()
			mu.Unlock()
			sw.Add(1)
			go func() {
				defer sw.Done()
				if _, err := r.SendText(ctx, text); err != nil {
					mu.Lock()
					alarms = append(alarms, fmt.Sprintf("seat %d: send: %v", r.Seat, err))
					mu.Unlock()
				}
			}()
		}
		sw.Wait()
		// the round is over when every member has every text of it
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for i := range rs {
				if len(received[i]) < (seats-1)*(round+1) {
					return false
				}
			}
			return true
		}, 3*time.Minute, 5*time.Millisecond, "round %d delivered to all", round)
	}
	wg.Wait()
	require.Empty(t, alarms)

	// Correctness: every member has every other member's texts, in order per sender; and the
	// one-way latencies.
	lastAt := map[string]time.Time{}
	firstAt := map[string]time.Time{}
	for i, r := range rs {
		require.Len(t, received[i], want, "seat %d", r.Seat)
		next := map[int]int{}
		for _, g := range received[i] {
			require.NotEqual(t, r.Seat, g.from, "seat %d got its own text", r.Seat)
			require.Equal(t, fmt.Sprintf("%d/%02d/", g.from, next[g.from]), g.text[:5], "seat %d: seat %d's texts in order", r.Seat, g.from)
			next[g.from]++
			if g.at.After(lastAt[g.text]) {
				lastAt[g.text] = g.at
			}
			if f, ok := firstAt[g.text]; !ok || g.at.Before(f) {
				firstAt[g.text] = g.at
			}
		}
	}
	var toAll, toFirst []time.Duration
	for text, at := range sentAt {
		toAll = append(toAll, lastAt[text].Sub(at))
		toFirst = append(toFirst, firstAt[text].Sub(at))
	}
	require.Len(t, toAll, seats*roomRounds)

	require.NoError(t, creator.Revoke(ctx))
	for _, r := range rs {
		select {
		case <-r.Done():
		case <-ctx.Done():
			t.Fatalf("seat %d not told of the revoke", r.Seat)
		}
		require.ErrorIs(t, r.Err(), client.ErrEnded)
	}
	t.Logf("MEASURE room over the onion, %d members each on its own circuits, 1 KiB text, all %d sending at once in each of %d rounds: "+
		"one-way (send until every other member opened it) p50 %s p99 %s over %d; to the first member p50 %s p99 %s; "+
		"create and %d joins until one complete version %.1f s",
		seats, seats, roomRounds, ms(pctl(toAll, 50)), ms(pctl(toAll, 99)), len(toAll),
		ms(pctl(toFirst, 50)), ms(pctl(toFirst, 99)), seats-1, joined.Seconds())
	s.stop(t)
}
