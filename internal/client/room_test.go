package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/room"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// roomEnv serves the room relay over a 4 MiB vault (room records' quota 2 MiB), with the web
// layer in front, as sealdrop serve does.
type roomEnv struct {
	rs  *room.Server
	url string
	cl  *client.Client
}

func newRoomEnv(t *testing.T) roomEnv {
	t.Helper()
	v, err := vault.New(vault.Config{Budget: 4 << 20, OwnerQuota: map[vault.Kind]int64{vault.KindRoomFrame: room.DefaultMaxBytes}})
	require.NoError(t, err)
	rs, err := room.New(room.Config{Vault: v})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, Room: rs, Price: rs.Config().Price})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		rs.Close()
		_ = v.Close()
	})
	cl, err := client.New(srv.URL, srv.Client())
	require.NoError(t, err)
	return roomEnv{rs, srv.URL, cl}
}

// roomNext returns r's next event that is not a member list or a name.
func roomNext(t *testing.T, r *client.Room) client.RoomEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		e, err := r.Receive(ctx)
		require.NoError(t, err, "seat %d: no event", r.Seat)
		if e.Seats == nil && e.NameSet == "" {
			return e
		}
	}
}

// waitRoom waits until every member holds version v complete (each has every other's keys).
func waitRoom(t *testing.T, v uint32, rs ...*client.Room) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, r := range rs {
			if r.Version() != v || !r.Ready() {
				return false
			}
		}
		return true
	}, time.Minute, 10*time.Millisecond, "version %d complete for all", v)
}

// openRoom creates a room of n seats through cl (names "m1" …), joins and connects every seat,
// and waits until the last version is complete.
func openRoom(t *testing.T, cl *client.Client, n int, pin string) []*client.Room {
	t.Helper()
	ctx := ctxT(t)
	a, err := cl.CreateRoom(ctx, client.RoomOptions{Seats: n, PIN: pin, Name: "m1"})
	require.NoError(t, err)
	require.Len(t, a.Invites, n-1)
	require.NoError(t, a.Connect(ctx))
	rs := []*client.Room{a}
	for i, link := range a.Invites {
		r, err := cl.JoinRoom(ctx, link, pin, fmt.Sprintf("m%d", i+2))
		require.NoError(t, err)
		require.Equal(t, i+2, r.Seat)
		require.NoError(t, r.Connect(ctx))
		rs = append(rs, r)
	}
	waitRoom(t, uint32(n), rs...)
	for _, r := range rs {
		drain(r)
	}
	return rs
}

// drain discards the events r holds now: while members join one after another, a version can
// be replaced before it completes for everyone, and a name sealed in it is then refused
// ("order": no keys of that version) by a member that never completed it; that member gets the
// name again in the next version.
func drain(r *client.Room) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := r.Receive(ctx)
		cancel()
		if err != nil {
			return
		}
	}
}

// TestRoomThreeMembers: three members; each one's text reaches the two others with its seat and
// name, and a file reaches both, byte-identical; the safety codes agree and the invites have the
// spec's form.
func TestRoomThreeMembers(t *testing.T) {
	e := newRoomEnv(t)
	ctx := ctxT(t)
	rs := openRoom(t, e.cl, 3, "")
	for _, link := range rs[0].Invites {
		_, frag, ok := strings.Cut(link, "#")
		require.True(t, ok)
		require.True(t, strings.HasPrefix(link, e.url+"/g/"+rs[0].ID+"#"), link)
		require.Len(t, frag, protocol.RoomInviteLen)
	}
	code, err := rs[0].SafetyCode()
	require.NoError(t, err)
	for _, r := range rs[1:] {
		c, err := r.SafetyCode()
		require.NoError(t, err)
		require.Equal(t, code, c, "the same safety code")
	}
	for _, from := range rs {
		text := fmt.Sprintf("hello from seat %d", from.Seat)
		_, err := from.SendText(ctx, text)
		require.NoError(t, err)
		for _, to := range rs {
			if to == from {
				continue
			}
			ev := roomNext(t, to)
			require.Nil(t, ev.Alarm)
			require.Equal(t, text, ev.Text)
			require.Equal(t, from.Seat, ev.Seat)
			require.Equal(t, fmt.Sprintf("m%d", from.Seat), ev.Name)
		}
	}
	data := make([]byte, 100_000)
	_, _ = rand.Read(data)
	require.NoError(t, rs[1].SendFile(ctx, "a.bin", "application/octet-stream", data, nil))
	for _, to := range []*client.Room{rs[0], rs[2]} {
		ev := roomNext(t, to)
		require.NotNil(t, ev.File)
		require.Equal(t, "a.bin", ev.File.Name)
		require.True(t, bytes.Equal(data, ev.File.Data))
		require.Equal(t, 2, ev.Seat)
	}
}

// TestRoomLeave: a member leaves with its signed bye; the others see it "left" (not removed), a
// later message reaches the one who stayed and not the one who left, whose sends now fail.
func TestRoomLeave(t *testing.T) {
	e := newRoomEnv(t)
	ctx := ctxT(t)
	rs := openRoom(t, e.cl, 3, "")
	require.NoError(t, rs[2].Leave(ctx))
	require.ErrorIs(t, rs[2].Err(), client.ErrEnded)
	for _, r := range rs[:2] {
		var seen *client.RoomSeats
		for seen == nil {
			ev, err := r.Receive(ctx)
			require.NoError(t, err)
			seen = ev.Seats
			if seen != nil && seen.Version < 4 {
				seen = nil
			}
		}
		require.Equal(t, []int{3}, seen.Left, "seat 3 left after its signed bye")
		require.Empty(t, seen.Removed)
		require.Equal(t, []int{1, 2}, seen.In)
	}
	waitRoom(t, 4, rs[0], rs[1])
	_, err := rs[0].SendText(ctx, "after the leave")
	require.NoError(t, err)
	require.Equal(t, "after the leave", roomNext(t, rs[1]).Text)
	_, err = rs[2].SendText(ctx, "from the departed")
	require.ErrorIs(t, err, client.ErrEnded)
	require.Equal(t, uint32(3), rs[2].Version(), "the departed member holds no later version")
	for {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		ev, err := rs[2].Receive(c)
		cancel()
		if err != nil {
			break
		}
		require.NotEqual(t, "after the leave", ev.Text, "a message after the leave reached the departed")
	}
}

// twoOfThree creates a room of 3 seats and joins seat 2: version 2 complete, seat 3 free.
func twoOfThree(t *testing.T, cl *client.Client) (*client.Room, *client.Room) {
	t.Helper()
	ctx := ctxT(t)
	a, err := cl.CreateRoom(ctx, client.RoomOptions{Seats: 3})
	require.NoError(t, err)
	require.NoError(t, a.Connect(ctx))
	b, err := cl.JoinRoom(ctx, a.Invites[0], "", "")
	require.NoError(t, err)
	require.NoError(t, b.Connect(ctx))
	waitRoom(t, 2, a, b)
	return a, b
}

// TestRoomLateJoiner: a member who joins after messages were sent gets none of them, and gets
// the next one.
func TestRoomLateJoiner(t *testing.T) {
	e := newRoomEnv(t)
	ctx := ctxT(t)
	a, b := twoOfThree(t, e.cl)
	for i := range 3 {
		_, err := a.SendText(ctx, fmt.Sprintf("early %d", i))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("early %d", i), roomNext(t, b).Text)
	}
	c, err := e.cl.JoinRoom(ctx, a.Invites[1], "", "")
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	waitRoom(t, 3, a, b, c)
	_, err = a.SendText(ctx, "late")
	require.NoError(t, err)
	ev := roomNext(t, c)
	require.Nil(t, ev.Alarm)
	require.Equal(t, "late", ev.Text, "the late joiner's first message is the one after its join")
	require.Equal(t, "late", roomNext(t, b).Text)
}

// TestRoomPIN: a wrong PIN is refused with the tries left and burns nothing else; no PIN is
// asked for; the right one joins; a destruct PIN is answered as a typo and ends the room for
// everyone ("revoked").
func TestRoomPIN(t *testing.T) {
	e := newRoomEnv(t)
	ctx := ctxT(t)
	a, err := e.cl.CreateRoom(ctx, client.RoomOptions{Seats: 3, PIN: "123456", DestructPIN: "999999"})
	require.NoError(t, err)
	require.NoError(t, a.Connect(ctx))
	_, err = e.cl.JoinRoom(ctx, a.Invites[0], "", "")
	require.ErrorIs(t, err, client.ErrPINRequired)
	_, err = e.cl.JoinRoom(ctx, a.Invites[0], "123457", "")
	var wp *client.WrongPINError
	require.ErrorAs(t, err, &wp)
	require.Equal(t, 4, wp.TriesLeft)
	b, err := e.cl.JoinRoom(ctx, a.Invites[0], "123456", "")
	require.NoError(t, err)
	require.NoError(t, b.Connect(ctx))
	waitRoom(t, 2, a, b)
	_, err = e.cl.JoinRoom(ctx, a.Invites[0], "123456", "")
	require.ErrorIs(t, err, client.ErrGone, "an invite admits one person once")

	_, err = e.cl.JoinRoom(ctx, a.Invites[1], "999999", "")
	require.ErrorAs(t, err, &wp, "a destruct PIN is answered as a wrong one")
	require.Equal(t, 4, wp.TriesLeft)
	for _, r := range []*client.Room{a, b} {
		select {
		case <-r.Done():
		case <-ctx.Done():
			t.Fatal("the room did not end at the destruct PIN")
		}
		var ended *client.EndedError
		require.ErrorAs(t, r.Err(), &ended)
		require.Equal(t, "revoked", ended.Reason)
	}
}

// TestRoomRevoke: the creator's revoke ends the room for every member, told "revoked"; a second
// revoke and the unused invite are gone; a joiner cannot revoke.
func TestRoomRevoke(t *testing.T) {
	e := newRoomEnv(t)
	ctx := ctxT(t)
	a, b := twoOfThree(t, e.cl)
	require.ErrorIs(t, b.Revoke(ctx), client.ErrLink)
	require.NoError(t, a.Revoke(ctx))
	for _, r := range []*client.Room{a, b} {
		<-r.Done()
		require.True(t, errors.Is(r.Err(), client.ErrEnded))
		var ended *client.EndedError
		require.ErrorAs(t, r.Err(), &ended)
		require.Equal(t, "revoked", ended.Reason)
		_, err := r.SendText(ctx, "after")
		require.ErrorIs(t, err, client.ErrEnded)
	}
	require.ErrorIs(t, a.Revoke(ctx), client.ErrGone)
	_, err := e.cl.JoinRoom(ctx, a.Invites[1], "", "")
	require.ErrorIs(t, err, client.ErrGone)
}

// hostileRelay is a proxy in front of the server that hands the server-to-client binary
// messages of the room socket opened n-th (1, 2, …) to tamper, which returns what to deliver
// instead (nil: passed as they are).
type hostileRelay struct {
	mu     sync.Mutex
	conns  int
	tamper func(conn int, msg []byte) [][]byte
}

func newHostileRelay(t *testing.T, upstream string) (*hostileRelay, string) {
	t.Helper()
	u, err := url.Parse(upstream)
	require.NoError(t, err)
	hr := &hostileRelay{}
	rp := httputil.NewSingleHostReverseProxy(u)
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			rp.ServeHTTP(w, r)
			return
		}
		protos := websocket.Subprotocols(r)
		d := websocket.Dialer{Subprotocols: protos}
		back, _, err := d.Dial("ws"+strings.TrimPrefix(upstream, "http")+r.URL.Path, http.Header{"Origin": {upstream}})
		if err != nil {
			http.Error(w, "upstream", http.StatusNotFound)
			return
		}
		front, err := up.Upgrade(w, r, http.Header{"Sec-WebSocket-Protocol": {back.Subprotocol()}})
		if err != nil {
			_ = back.Close()
			return
		}
		hr.mu.Lock()
		hr.conns++
		n := hr.conns
		hr.mu.Unlock()
		go func() { // client to server, as it is
			defer back.Close()
			for {
				typ, m, err := front.ReadMessage()
				if err != nil || back.WriteMessage(typ, m) != nil {
					return
				}
			}
		}()
		defer front.Close()
		for {
			typ, m, err := back.ReadMessage()
			if err != nil {
				return
			}
			var out [][]byte
			hr.mu.Lock()
			if typ == websocket.BinaryMessage && hr.tamper != nil {
				out = hr.tamper(n, m)
			}
			hr.mu.Unlock()
			if out == nil {
				out = [][]byte{m}
			}
			for _, o := range out {
				if o != nil && front.WriteMessage(typ, o) != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return hr, srv.URL
}

// TestRoomHostileRelay: a relay that flips a byte of one record for one member, drops one
// record for one member, or replays one, is reported to that member with the class of what it
// did (auth; a gap, shown as order, at the sender's next record; replay), and the room goes on;
// the member next to it, whose copy was not touched, sees nothing wrong.
func TestRoomHostileRelay(t *testing.T) {
	e := newRoomEnv(t)
	hr, front := newHostileRelay(t, e.url)
	cl, err := client.New(front, nil)
	require.NoError(t, err)
	ctx := ctxT(t)
	rs := openRoom(t, cl, 3, "")
	a, b, c := rs[0], rs[1], rs[2]
	cases := []struct {
		name  string
		apply func(m []byte) [][]byte
		check func(t *testing.T, r *client.Room)
	}{
		{"flip", func(m []byte) [][]byte {
			f := bytes.Clone(m)
			f[9+protocol.RoomDataHeader+1] ^= 1 // in the ciphertext
			return [][]byte{f}
		}, func(t *testing.T, r *client.Room) {
			ev := roomNext(t, r)
			require.NotNil(t, ev.Alarm, "a flipped byte is shown")
			require.Equal(t, "auth", ev.Alarm.Class)
			require.False(t, ev.Alarm.Accepted)
			require.Empty(t, ev.Text)
			ev = roomNext(t, r)
			require.Equal(t, "next", ev.Text, "the next record opens; the refused one is a gap")
			require.NotNil(t, ev.Alarm)
			require.Equal(t, "order", ev.Alarm.Class)
			require.EqualValues(t, 1, ev.Alarm.N)
		}},
		{"drop", func(m []byte) [][]byte { return [][]byte{nil} }, func(t *testing.T, r *client.Room) {
			ev := roomNext(t, r)
			require.Equal(t, "next", ev.Text)
			require.NotNil(t, ev.Alarm, "a dropped record is shown at the sender's next")
			require.Equal(t, "order", ev.Alarm.Class)
			require.True(t, ev.Alarm.Accepted)
			require.EqualValues(t, 1, ev.Alarm.N)
		}},
		{"replay", func(m []byte) [][]byte { return [][]byte{m, m} }, func(t *testing.T, r *client.Room) {
			ev := roomNext(t, r)
			require.Equal(t, "tampered", ev.Text)
			require.Nil(t, ev.Alarm)
			ev = roomNext(t, r)
			require.NotNil(t, ev.Alarm, "a replayed record is shown")
			require.Equal(t, "replay", ev.Alarm.Class)
			require.False(t, ev.Alarm.Accepted)
			ev = roomNext(t, r)
			require.Equal(t, "next", ev.Text)
			require.Nil(t, ev.Alarm)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			armed := true
			hr.mu.Lock()
			hr.tamper = func(conn int, m []byte) [][]byte {
				// seat 3's socket (opened third), seat 1's first data record from now on
				if conn != 3 || !armed || len(m) < 9+protocol.RoomDataHeader || m[8] != 1 || m[9] != protocol.RoomRecordData {
					return nil
				}
				armed = false
				return tc.apply(m)
			}
			hr.mu.Unlock()
			_, err := a.SendText(ctx, "tampered")
			require.NoError(t, err)
			_, err = a.SendText(ctx, "next")
			require.NoError(t, err)
			tc.check(t, c)
			for _, want := range []string{"tampered", "next"} {
				ev := roomNext(t, b)
				require.Nil(t, ev.Alarm, "seat 2's copies were not touched")
				require.Equal(t, want, ev.Text)
			}
			hr.mu.Lock()
			require.False(t, armed, "the relay tampered with a record")
			hr.tamper = nil
			hr.mu.Unlock()
		})
	}
}
