//go:build linux

package web_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memscan"
	"github.com/sealdrop/sealdrop/internal/room"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// residueRoom is a site with rooms and a room of three seats, each joined.
type residueRoom struct {
	e        *env
	rs       *room.Server
	id       string
	manage   [32]byte
	sessions []string
}

func newResidueRoom(t *testing.T) *residueRoom { return newRoomSite(t, 3) }

// newRoomSite is a site with rooms and a room of n seats, each joined.
func newRoomSite(t testing.TB, n int) *residueRoom {
	t.Helper()
	e := newEnv(t, withBudget(4<<20), withRealPages(), func(vc *vault.Config, wc *web.Config) {
		vc.SweepEvery = -1
		vc.OwnerQuota = map[vault.Kind]int64{vault.KindRoomFrame: room.DefaultMaxBytes}
	})
	// As the chat's residue test: a read timeout beyond the memory scans.
	rs, err := room.New(room.Config{Vault: e.v, Now: e.clk.Now, SweepEvery: -1, ReadTimeout: 15 * time.Minute})
	require.NoError(t, err)
	t.Cleanup(rs.Close)
	cfg := e.cfg
	cfg.Room = rs
	cfg.Price = rs.Config().Price
	h, err := web.New(cfg)
	require.NoError(t, err)
	e.srv.Config.Handler = h
	rr := &residueRoom{e: e, rs: rs, manage: rand32()}
	var gates [][32]byte
	var seats []map[string]any
	for range n {
		g := rand32()
		gates = append(gates, g)
		gh := sha256.Sum256(g[:])
		seats = append(seats, map[string]any{"gate_hash": b64(gh[:])})
	}
	mh := sha256.Sum256(rr.manage[:])
	r := e.postJSON("/api/v1/rooms", map[string]any{"seats": seats, "manage_hash": b64(mh[:]), "ttl": 3600})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	rr.id = r.json(t)["id"].(string)
	for i, g := range gates {
		r = e.postJSON("/api/v1/rooms/"+rr.id+"/join", map[string]any{"seat": i + 1, "gate": b64(g[:])})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		rr.sessions = append(rr.sessions, r.json(t)["session"].(string))
		r = e.postJSON("/api/v1/rooms/"+rr.id+"/join", map[string]any{"seat": i + 1, "gate": b64(g[:])})
		require.Equal(t, http.StatusNotFound, r.status, "a seat admits one person once")
	}
	return rr
}

func (rr *residueRoom) dial(t testing.TB, seat int, mask [4]byte) *wsConn {
	return dialWSPath(t, rr.e.srv.URL, "/api/v1/rooms/"+rr.id+"/ws", rr.sessions[seat-1], mask)
}

// text reads messages until a text message containing want, and returns it decoded.
func (w *wsConn) text(want string) map[string]any {
	w.t.Helper()
	for i := 0; ; i++ {
		op, text, _ := w.next()
		require.Less(w.t, i, 1000, "no %s among 1,000 messages; the last: op %d %q", want, op, text)
		if op == 1 && strings.Contains(string(text), want) {
			var m map[string]any
			require.NoError(w.t, json.Unmarshal(text, &m))
			return m
		}
	}
}

// The room's wire as SECURITY.md gives it, and custody: a room's records exist only in the
// vault's locked memory, also on their way through the sockets; once delivered to every member,
// and once the room ended, the process holds no copy of any canary, masked or not.
func TestRoomRecordsLeaveNoResidueWebSocket(t *testing.T) {
	rr := newResidueRoom(t)
	mask := [4]byte{0x3c, 0x81, 0x5e, 0x27}
	var records, needles []memscan.Canary
	for _, r := range residueRecords {
		c := memscan.NewCanary(t)
		records = append(records, c)
		needles = append(needles, c, maskedCanary(c, mask, r.at))
	}
	a := rr.dial(t, 1, mask)
	b := rr.dial(t, 2, [4]byte{1, 2, 3, 4})
	c := rr.dial(t, 3, [4]byte{5, 6, 7, 8})
	seats := a.text(`"seats"`)
	require.EqualValues(t, 3, seats["v"], "three joins: version 3")
	require.Equal(t, []any{1.0, 2.0, 3.0}, seats["in"])
	require.Equal(t, []any{}, seats["out"])
	for i, r := range residueRecords {
		a.sendRecord(records[i], r)
		m := a.text(`"t":"sent"`)
		require.EqualValues(t, i, m["seq"])
	}
	for i := range records {
		require.GreaterOrEqual(t, records[i].Count(t), 1, "control: record %d is held", i)
	}
	require.Equal(t, len(residueRecords), rr.e.v.Stats().Entries[vault.KindRoomFrame], "one copy per record")
	for _, w := range []*wsConn{b, c} {
		for got := 0; got < len(residueRecords); {
			op, _, seq := w.next()
			if op == 2 {
				require.EqualValues(t, got, seq)
				require.EqualValues(t, 1, w.from, "stamped with the sender's seat")
				got++
				w.sendText(map[string]any{"t": "ack", "next": seq + 1})
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for rr.e.v.Stats().Entries[vault.KindRoomFrame] > 0 {
		require.True(t, time.Now().Before(deadline), "the acknowledged records were not wiped")
		time.Sleep(10 * time.Millisecond)
	}
	for _, w := range []*wsConn{b, c} { // the test's own copies go; the sockets go on
		for w.br.Buffered() > 0 { // the socket's keep-alive ping (every 30 s) on a slow run
			op, _, _ := w.next()
			require.EqualValues(t, 9, op, "nothing unread but a ping")
		}
		wipeClient(w.br)
		w.br.Reset(w.c)
	}
	check := func(what string) {
		settle()
		for i, n := range needles {
			require.Zero(t, n.Count(t), "needle %d left in memory %s, at %v", i, what, n.Where(t))
		}
	}
	check("once delivered, while the room goes on")
	// Seat 3 leaves: it is told, the others see the seats change.
	c.sendText(map[string]any{"t": "leave"})
	require.Equal(t, "left", c.text(`"end"`)["reason"])
	require.EqualValues(t, 4, a.text(`"seats"`)["v"])
	// The creator's revoke ends it for the others.
	r := rr.e.postJSON("/api/v1/rooms/"+rr.id+"/revoke", map[string]any{"manage": b64(rr.manage[:])})
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, "revoked", a.text(`"end"`)["reason"])
	require.Equal(t, "revoked", b.text(`"end"`)["reason"])
	for _, w := range []*wsConn{a, b, c} {
		w.c.Close()
		wipeClient(w.br)
	}
	check("after the room ended")
	require.Zero(t, rr.rs.Count(), "no room, no seat, no session hash")
	require.Zero(t, rr.e.v.Stats().Used, "no record")
	r = rr.e.postJSON("/api/v1/rooms/"+rr.id+"/leave", map[string]any{"session": rr.sessions[0]})
	require.Equal(t, http.StatusNotFound, r.status)
}

// The fallback: send, poll (with the seats in headers) and leave, each taken over and closed;
// a forged session is the uniform gone answer; the socket refuses a foreign origin.
func TestRoomFallbackAndRefusals(t *testing.T) {
	rr := newResidueRoom(t)
	send := func(session string, body []byte) *resp {
		return rr.e.do(http.MethodPost, "/api/v1/rooms/"+rr.id+"/send", "application/octet-stream", body, map[string]string{"Sealdrop-Session": session})
	}
	r := send(rr.sessions[1], []byte("from seat 2"))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"seq":0}`, string(r.body))
	forged := b64(func() []byte { x := rand32(); return x[:] }())
	for _, s := range []string{forged, rr.sessions[0] + "A", ""} {
		r = send(s, []byte("x"))
		require.Equal(t, http.StatusNotFound, r.status)
		require.JSONEq(t, `{"error":"gone"}`, string(r.body))
	}
	r = rr.e.postJSON("/api/v1/rooms/"+rr.id+"/poll", map[string]any{"session": rr.sessions[0]})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "from seat 2", string(r.body))
	require.Equal(t, "0", r.header.Get("Sealdrop-Seq"))
	require.Equal(t, "2", r.header.Get("Sealdrop-From"))
	require.Equal(t, "3", r.header.Get("Sealdrop-Version"))
	requireRecordAnswer(t, r)
	r = rr.e.postJSON("/api/v1/rooms/"+rr.id+"/poll", map[string]any{"session": rr.sessions[0], "next": 1})
	require.Equal(t, http.StatusNoContent, r.status)
	r = rr.e.postJSON("/api/v1/rooms/"+rr.id+"/leave", map[string]any{"session": rr.sessions[2]})
	require.Equal(t, http.StatusNoContent, r.status)
	r = rr.e.postJSON("/api/v1/rooms/"+rr.id+"/poll", map[string]any{"session": rr.sessions[2]})
	require.Equal(t, http.StatusNotFound, r.status, "a member that left is gone")
	r = rr.e.postJSON("/api/v1/rooms/"+rr.id+"/poll", map[string]any{"session": rr.sessions[1], "next": 0})
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, "4", r.header.Get("Sealdrop-Version"))
	require.Equal(t, "1,2", r.header.Get("Sealdrop-In"))
	require.Equal(t, "", r.header.Get("Sealdrop-Out"))
	_, present := r.header["Sealdrop-Out"]
	require.True(t, present, "out is always present, even empty")
	// A foreign origin never reaches the token check.
	req, err := http.NewRequest(http.MethodGet, rr.e.srv.URL+"/api/v1/rooms/"+rr.id+"/ws", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-WebSocket-Protocol", "sealdrop.v1, sealdrop.v1."+rr.sessions[0])
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	// Create refusals: a seat count out of range, a ttl out of range.
	r = rr.e.postJSON("/api/v1/rooms", map[string]any{"seats": []any{}, "manage_hash": b64(rr.manage[:])})
	require.Equal(t, http.StatusBadRequest, r.status)
	gh := sha256.Sum256([]byte("g"))
	two := []any{map[string]any{"gate_hash": b64(gh[:])}, map[string]any{"gate_hash": b64(gh[:])}}
	r = rr.e.postJSON("/api/v1/rooms", map[string]any{"seats": two, "manage_hash": b64(rr.manage[:]), "ttl": 59})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), "bad_ttl")
	// Every seat has a PIN or none (a hostile review's F2: a PIN-less seat's link told a destruct
	// at another seat from a typo).
	oh := sha256.Sum256([]byte("o"))
	mixed := []any{map[string]any{"gate_hash": b64(gh[:]), "open_hash": b64(oh[:])}, map[string]any{"gate_hash": b64(gh[:])}}
	r = rr.e.postJSON("/api/v1/rooms", map[string]any{"seats": mixed, "manage_hash": b64(rr.manage[:])})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "bad_parameter", r.json(t)["error"], "%s", r.body)
}

// The fallback's custody: records sent by the fallback's send and delivered by its poll (each
// on a connection taken over from net/http and closed) leave no copy of any canary in the
// process once every member acknowledged them, and none once the room ended.
func TestRoomRecordsLeaveNoResidueFallback(t *testing.T) {
	rr := newResidueRoom(t)
	host := strings.TrimPrefix(rr.e.srv.URL, "http://")
	post := func(path, session string, body []byte) (*http.Response, []byte) {
		return rawHTTP(t, host, fmt.Sprintf("POST /api/v1/rooms/%s/%s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			rr.id, path, host, host, len(body), body), nil)
	}
	var records []memscan.Canary
	for i, r := range residueRecords {
		c := memscan.NewCanary(t)
		records = append(records, c)
		res, body := rawHTTP(t, host, fmt.Sprintf("POST /api/v1/rooms/%s/send HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nContent-Type: application/octet-stream\r\n"+
			"Sealdrop-Session: %s\r\nContent-Length: %d\r\n\r\n", rr.id, host, host, rr.sessions[0], r.size),
			func(w io.Writer) error {
				return pieces(records[i], r, nil, func(p []byte) error { _, err := w.Write(p); return err })
			})
		require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	}
	for i := range records {
		require.GreaterOrEqual(t, records[i].Count(t), 1, "control: record %d is held", i)
	}
	for _, session := range rr.sessions[1:] { // seats 2 and 3 poll every record, acknowledging the one before
		var next uint64
		for got := 0; got < len(residueRecords); got++ {
			res, _ := post("poll", session, fmt.Appendf(nil, `{"session":%q,"next":%d}`, session, next))
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Equal(t, "1", res.Header.Get("Sealdrop-From"))
			seq, err := strconv.ParseUint(res.Header.Get("Sealdrop-Seq"), 10, 64)
			require.NoError(t, err)
			require.Equal(t, next, seq)
			next = seq + 1
		}
		res, _ := post("poll", session, fmt.Appendf(nil, `{"session":%q,"next":%d}`, session, next))
		require.Equal(t, http.StatusNoContent, res.StatusCode, "all acknowledged")
	}
	deadline := time.Now().Add(10 * time.Second)
	for rr.e.v.Stats().Entries[vault.KindRoomFrame] > 0 {
		require.True(t, time.Now().Before(deadline), "the acknowledged records were not wiped")
		time.Sleep(10 * time.Millisecond)
	}
	check := func(what string) {
		settle()
		for i, c := range records {
			require.Zero(t, c.Count(t), "canary %d left in memory %s, at %v", i, what, c.Where(t))
		}
	}
	check("once delivered, while the room goes on")
	res, _ := post("revoke", "", fmt.Appendf(nil, `{"manage":%q}`, b64(rr.manage[:])))
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	check("after the room ended")
	require.Zero(t, rr.rs.Count())
}

// sendBinary sends b as one masked binary frame (b is masked in place).
func (w *wsConn) sendBinary(b []byte) {
	for i := range b {
		b[i] ^= w.mask[i%4]
	}
	_, err := w.c.Write(append(w.header(2, len(b)), b...))
	require.NoError(w.t, err)
}

// BenchmarkRoomFanOut is one record of 1 KiB from one member to the others of a room, on
// loopback: the sender's socket, the relay (one copy in the vault), a socket out to each other
// member, and each one's acknowledgement, until all have it. to7 is the room of 8; to1,
// a room of 2, is the same path to one member, for a ratio within one run. ns/op is the whole
// round; allocs/op counts the process (the server and the test's clients alike: each ack is a
// json.Marshal of the client).
func BenchmarkRoomFanOut(b *testing.B) {
	for _, n := range []int{2, 8} {
		b.Run(fmt.Sprintf("to%d", n-1), func(b *testing.B) { benchFanOut(b, n) })
	}
}

func benchFanOut(b *testing.B, n int) {
	rr := newRoomSite(b, n)
	var ws []*wsConn
	for seat := 1; seat <= n; seat++ {
		ws = append(ws, rr.dial(b, seat, [4]byte{byte(seat), 2, 3, 4}))
	}
	rec := make([]byte, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for range b.N {
		clear(rec)
		ws[0].sendBinary(rec)
		for {
			if op, text, _ := ws[0].next(); op == 1 && strings.Contains(string(text), `"t":"sent"`) {
				break
			}
		}
		for _, w := range ws[1:] {
			for {
				op, _, seq := w.next()
				if op == 2 {
					w.sendText(map[string]any{"t": "ack", "next": seq + 1})
					break
				}
			}
		}
	}
	b.StopTimer()
	require.LessOrEqual(b, rr.e.v.Stats().Entries[vault.KindRoomFrame], 1, "acknowledged records are wiped")
}
