package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var updateRoom = flag.Bool("update-room", false, "rewrite testdata/room-vectors.json from the implementation")

const roomVectorsPath = "testdata/room-vectors.json"

// The room vector file is read by static/test/room-protocol.test.js too; SECURITY.md ("Room test
// vectors") describes it. Signatures are RFC 6979 here (the test-only fixed member), so the file
// is the same on every run; the browser cannot make RFC 6979 signatures, so it checks everything
// else byte for byte and verifies these signatures.
type roomVectors struct {
	About          string         `json:"about"`
	Derivations    []rvDerive     `json:"derivations"`
	Invites        []rvInvite     `json:"invites"`
	InvitesInvalid []rvBadInvite  `json:"invites_invalid"`
	Room           rvRoom         `json:"room"`
	Tamper         []rvTamper     `json:"tamper"`
	Seats          []rvSeats      `json:"seats"`
	NameKeys       []rvNameKey    `json:"name_keys"`
	Messages       []cvMessage    `json:"messages"`
	BadMsgs        []cvBadMessage `json:"messages_invalid"`
}

type rvDerive struct {
	KrHex       string `json:"kr_hex"`
	KsHex       string `json:"ks_hex"`
	PIN         string `json:"pin"`
	DPIN        string `json:"dpin"`
	PinSaltHex  string `json:"pin_salt_hex"`
	PHex        string `json:"p_hex"`
	DPHex       string `json:"dp_hex"`
	GateHex     string `json:"gate_hex"`
	OpenHex     string `json:"open_hex"`
	DestructHex string `json:"destruct_hex"`
	KmHex       string `json:"km_hex"`
}

type rvInvite struct {
	Flags   byte   `json:"flags"`
	Seat    byte   `json:"seat"`
	KsHex   string `json:"ks_hex"`
	KrHex   string `json:"kr_hex"`
	Encoded string `json:"encoded"`
}

type rvBadInvite struct {
	Input string `json:"input"`
	Why   string `json:"why"`
}

type rvKey struct {
	PrivHex string `json:"priv_hex"`
	PubHex  string `json:"pub_hex"`
}

type rvMember struct {
	Seat      byte              `json:"seat"`
	Sign      rvKey             `json:"sign"`
	Ephemeral map[string]rvKey  `json:"ephemeral"` // by version
	ChainHex  map[string]string `json:"chain_hex"` // by version
}

type rvSent struct {
	Seat      byte   `json:"seat"`
	RecordHex string `json:"record_hex"`
}

type rvVersion struct {
	V          uint32     `json:"v"`
	Members    []int      `json:"members"` // the list's in
	Out        []int      `json:"out"`
	Left       []int      `json:"left"`    // ended with a signed bye, as members of the version before see it
	Removed    []int      `json:"removed"` // ended without one
	Hellos     []rvSent   `json:"hellos"`
	THHex      string     `json:"th_hex"`
	Keys       []rvSent   `json:"keys"`
	Records    []cvRecord `json:"records"`
	Late       []cvRecord `json:"late_records"`
	SafetyCode string     `json:"safety_code"`
}

type rvRoom struct {
	IDHex    string      `json:"id_hex"`
	KmHex    string      `json:"km_hex"`
	Members  []rvMember  `json:"members"`
	Versions []rvVersion `json:"versions"`
}

type rvFeed struct {
	Stamp     byte   `json:"stamp"`
	RecordHex string `json:"record_hex"`
	Wait      int    `json:"wait_s,omitempty"` // seconds the receiver's clock moves on before this record
}

type rvTamper struct {
	Name     string    `json:"name"`
	Receiver byte      `json:"receiver"`
	Version  int       `json:"version"`
	After    string    `json:"after"`
	Lists    []rvTList `json:"lists,omitempty"` // member lists given before the records
	Records  []rvFeed  `json:"records"`
	Results  []string  `json:"results"`
	// Made (with Lists): every hello and keys record the receiver makes in the case (its hellos
	// of the lists, its keys at the last hello), in order: the browser takes their signatures.
	Made []string `json:"made,omitempty"`
}

// rvTList is a member list a tamper case's receiver takes (or refuses: Result) first.
type rvTList struct {
	V      uint32 `json:"v"`
	In     []int  `json:"in"`
	Out    []int  `json:"out"`
	Result string `json:"result"`
}

// rvSeats: member lists given in turn to a receiver replayed to the end of version index
// Version; each gives Result ("ok" or a class); a refused one leaves the version as it was.
type rvSeats struct {
	Name     string   `json:"name"`
	Receiver byte     `json:"receiver"`
	Version  int      `json:"version"`
	Lists    []rvList `json:"lists"`
}

// rvList is a member list of a seats sequence: a tamper case's list (its fields come first in
// the JSON), and the seats that left (with a signed bye) and were removed, as the receiver sees
// them when it takes the list.
type rvList struct {
	rvTList
	Left    []int `json:"left"`
	Removed []int `json:"removed"`
}

type rvNameKey struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// roomOutcome names what Open gave the way the tamper vectors do: an error's class, or for an
// accepted record "ok", "ignored", "gap n", "missing n" or "renamed".
func roomOutcome(o RoomOpened, err error) string {
	switch {
	case err != nil:
		return roomErrClass(err)
	case o.Ignored:
		return "ignored"
	case o.Gap > 0:
		return fmt.Sprintf("gap %d", o.Gap)
	case o.Missing > 0:
		return fmt.Sprintf("missing %d", o.Missing)
	case o.Renamed:
		return "renamed"
	}
	return "ok"
}

// testClock is a member's injected clock in the vectors: every member starts at the same
// instant; tamper cases move it on.
type testClock struct{ t time.Time }

func newTestClock() *testClock      { return &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func (c *testClock) now() time.Time { return c.t }

// roomErrClass names an error the way the browser module's error.code does ("ok" for nil).
func roomErrClass(err error) string {
	if err == nil {
		return "ok"
	}
	if c := RoomErrClass(err); c != "" {
		return c
	}
	return "other: " + err.Error()
}

// Phases of a version a tamper case's receiver has gone through (rvTamper.After).
const (
	afterSeats    = "seats"    // it has the member list and sent its hello
	afterHellos   = "hellos"   // every hello is in, its keys went out
	afterComplete = "complete" // every keys record is in
	afterRecords  = "records"  // every data record of the version is in
)

var roomPhases = map[string]int{afterSeats: 0, afterHellos: 1, afterComplete: 2, afterRecords: 3}

func seatsOf(members []int) []byte {
	out := make([]byte, len(members))
	for i, s := range members {
		out[i] = byte(s)
	}
	return out
}

func intsOf(seats []byte) []int {
	out := make([]int, len(seats), len(seats)+1)
	for i, s := range seats {
		out[i] = int(s)
	}
	return out
}

func (r *rvRoom) id(t testing.TB) (id [RoomIDSize]byte) {
	copy(id[:], chatUnhex(t, r.IDHex))
	return id
}

func (r *rvRoom) fixedFor(t testing.TB, seat byte) *roomFixed {
	for _, m := range r.Members {
		if m.Seat != seat {
			continue
		}
		f := &roomFixed{Sign: chatUnhex(t, m.Sign.PrivHex), Ephemeral: map[uint32][]byte{}, Chain: map[uint32][]byte{}}
		for v, k := range m.Ephemeral {
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			f.Ephemeral[uint32(n)] = chatUnhex(t, k.PrivHex)
		}
		for v, c := range m.ChainHex {
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			f.Chain[uint32(n)] = chatUnhex(t, c)
		}
		return f
	}
	t.Fatalf("no member %d", seat)
	return nil
}

func findSent(list []rvSent, seat byte) string {
	for _, s := range list {
		if s.Seat == seat {
			return s.RecordHex
		}
	}
	return ""
}

// memberAt replays the room for one seat up to a phase of version index vi, checking every
// byte it makes and every record it opens on the way.
func (r *rvRoom) memberAt(t testing.TB, seat byte, vi int, after string) *RoomMember {
	m, _ := r.memberClock(t, seat, vi, after)
	return m
}

func (r *rvRoom) memberClock(t testing.TB, seat byte, vi int, after string) (*RoomMember, *testClock) {
	t.Helper()
	clock := newTestClock()
	m, err := newRoomMemberWith(r.id(t), seat, chatUnhex(t, r.KmHex), r.fixedFor(t, seat), clock.now)
	require.NoError(t, err)
	for i := 0; i <= vi && i < len(r.Versions); i++ {
		ver := r.Versions[i]
		members := seatsOf(ver.Members)
		phase := 3
		if i == vi {
			phase = roomPhases[after]
		}
		if !contains(members, seat) {
			continue
		}
		res, err := m.Seats(ver.V, members, seatsOf(ver.Out))
		require.NoError(t, err)
		require.Equal(t, findSent(ver.Hellos, seat), hex.EncodeToString(res.Hello), "hello of seat %d, v %d", seat, ver.V)
		if i > 0 && contains(seatsOf(r.Versions[i-1].Members), seat) {
			require.Equal(t, ver.Left, intsOf(res.Left), "left, v %d", ver.V)
			require.Equal(t, ver.Removed, intsOf(res.Removed), "removed, v %d", ver.V)
		}
		if phase < 1 {
			break
		}
		var keys []byte
		for _, h := range ver.Hellos {
			if h.Seat == seat {
				continue
			}
			got, err := m.Open(h.Seat, chatUnhex(t, h.RecordHex))
			require.NoError(t, err, "hello of seat %d to seat %d, v %d", h.Seat, seat, ver.V)
			if got.Send != nil {
				keys = got.Send
			}
		}
		if len(members) > 1 {
			require.Equal(t, ver.THHex, hex.EncodeToString(m.cur.th))
			require.Equal(t, findSent(ver.Keys, seat), hex.EncodeToString(keys), "keys of seat %d, v %d", seat, ver.V)
		}
		code, err := m.SafetyCode()
		require.NoError(t, err)
		require.Equal(t, ver.SafetyCode, code)
		if phase < 2 {
			break
		}
		for _, k := range ver.Keys {
			if k.Seat == seat {
				continue
			}
			_, err := m.Open(k.Seat, chatUnhex(t, k.RecordHex))
			require.NoError(t, err, "keys of seat %d to seat %d, v %d", k.Seat, seat, ver.V)
		}
		require.True(t, m.Complete())
		if phase < 3 {
			break
		}
		for _, rec := range ver.Records {
			if rec.From == seat {
				got, err := m.Seal(chatUnhex(t, rec.PlaintextHex))
				require.NoError(t, err)
				require.Equal(t, rec.RecordHex, hex.EncodeToString(got), "record %d of seat %d, v %d", rec.Seq, seat, ver.V)
				continue
			}
			got, err := m.Open(rec.From, chatUnhex(t, rec.RecordHex))
			require.NoError(t, err)
			require.Equal(t, rec.PlaintextHex, hex.EncodeToString(got.Message))
		}
		for _, rec := range ver.Late {
			if rec.From == seat {
				got, err := m.Seal(chatUnhex(t, rec.PlaintextHex))
				require.NoError(t, err)
				require.Equal(t, rec.RecordHex, hex.EncodeToString(got))
			}
		}
	}
	return m, clock
}

func contains(s []byte, b byte) bool {
	for _, x := range s {
		if x == b {
			return true
		}
	}
	return false
}

func roomScalar(seed byte) []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = seed ^ byte(i*13)
	}
	b[0] = 0x21 // well below the P-256 order
	return b
}

func roomKeyPair(t testing.TB, priv []byte) rvKey {
	p, err := newRoomMemberWith([RoomIDSize]byte{}, 1, make([]byte, 32), &roomFixed{Sign: priv}, time.Now)
	require.NoError(t, err)
	return rvKey{PrivHex: hex.EncodeToString(priv), PubHex: hex.EncodeToString(p.signPub)}
}

func ecdhPair(t testing.TB, priv []byte) rvKey {
	m, err := newRoomMemberWith([RoomIDSize]byte{}, 1, make([]byte, 32), &roomFixed{Sign: priv, Ephemeral: map[uint32][]byte{1: priv}}, time.Now)
	require.NoError(t, err)
	_, err = m.Seats(1, []byte{1, 2}, nil)
	require.NoError(t, err)
	return rvKey{PrivHex: hex.EncodeToString(priv), PubHex: hex.EncodeToString(m.cur.priv.PublicKey().Bytes())}
}

// generateRoomVectors computes every vector from the implementation.
func generateRoomVectors(t testing.TB) roomVectors {
	var rv roomVectors
	rv.About = "sealdrop protocol v1 one-time group room vectors; generated by `go test ./internal/protocol -run TestRoomVectors -update-room`; layout in SECURITY.md (Room test vectors)"

	Kr, Ks := seqBytes(32, 11), seqBytes(32, 200)
	for _, p := range [][2]string{{"", ""}, {"123456", "654321"}, {"١٢٣٤٥٦٧", ""}} {
		d := rvDerive{KrHex: hex.EncodeToString(Kr), KsHex: hex.EncodeToString(Ks), PIN: p[0], DPIN: p[1],
			PinSaltHex: hex.EncodeToString(RoomPINSalt(Kr)), GateHex: hex.EncodeToString(RoomGateToken(Ks))}
		var P []byte
		if p[0] != "" {
			P = RoomStretchPIN(Kr, p[0])
			d.PHex = hex.EncodeToString(P)
			d.OpenHex = hex.EncodeToString(RoomOpenToken(Ks, P))
		}
		if p[1] != "" {
			dp := RoomStretchPIN(Kr, p[1])
			d.DPHex = hex.EncodeToString(dp)
			d.DestructHex = hex.EncodeToString(RoomDestructToken(Ks, dp))
		}
		d.KmHex = hex.EncodeToString(RoomMACKey(Kr, P))
		rv.Derivations = append(rv.Derivations, d)
	}

	for _, in := range []RoomInvite{{Flags: 0, Seat: 1}, {Flags: FlagPIN, Seat: 2}, {Flags: 0, Seat: 8}} {
		copy(in.SeatKey[:], seqBytes(32, in.Seat*17))
		copy(in.RoomKey[:], Kr)
		rv.Invites = append(rv.Invites, rvInvite{Flags: in.Flags, Seat: in.Seat, KsHex: hex.EncodeToString(in.SeatKey[:]),
			KrHex: hex.EncodeToString(in.RoomKey[:]), Encoded: in.String()})
	}
	raw := func(ver, flags, seat byte, n int) string {
		b := append([]byte{ver, flags, seat}, seqBytes(64, 1)...)
		return B64Encode(b[:n])
	}
	good := rv.Invites[0].Encoded
	rv.InvitesInvalid = []rvBadInvite{
		{"", "empty"},
		{good[:89], "one character short"},
		{good + "A", "one character long"},
		{"##" + good, "two #"},
		{raw(2, 0, 1, 67), "version 2"},
		{raw(0, 0, 1, 67), "version 0"},
		{raw(1, 2, 1, 67), "unknown flag bit 1"},
		{raw(1, 0x81, 1, 67), "unknown flag bit 7 beside the PIN flag"},
		{raw(1, 0, 0, 67), "seat 0"},
		{raw(1, 0, 9, 67), "seat 9"},
		{raw(1, 1, 255, 67), "seat 255"},
		{good[:40] + "+" + good[41:], "not base64url"},
		{good[:89] + "=", "padding"},
		{raw(1, 0, 1, 34) + raw(1, 0, 1, 33)[:44], "a note fragment and more"},
		{raw(1, 0, 1, 34), "a note link's fragment"},
	}

	// The room: seat 1 alone (v 1), seat 2 joins (v 2), seat 3 joins (v 3), seat 2 leaves (v 4).
	var id [RoomIDSize]byte
	copy(id[:], seqBytes(16, 99))
	km := chatUnhex(t, rv.Derivations[0].KmHex)
	room := rvRoom{IDHex: hex.EncodeToString(id[:]), KmHex: hex.EncodeToString(km)}
	plan := []struct {
		v       uint32
		members []byte
	}{{1, []byte{1}}, {2, []byte{1, 2}}, {3, []byte{1, 2, 3}}, {4, []byte{1, 3}}}
	live := map[byte]*RoomMember{}
	clock := newTestClock()
	for seat := byte(1); seat <= 3; seat++ {
		rm := rvMember{Seat: seat, Sign: roomKeyPair(t, roomScalar(seat)), Ephemeral: map[string]rvKey{}, ChainHex: map[string]string{}}
		for _, p := range plan[1:] {
			if contains(p.members, seat) {
				vs := strconv.Itoa(int(p.v))
				rm.Ephemeral[vs] = ecdhPair(t, roomScalar(seat<<4|byte(p.v)))
				rm.ChainHex[vs] = hex.EncodeToString(seqBytes(32, seat*40+byte(p.v)))
			}
		}
		if seat != 2 { // version 5 with seats 1 and 3: the tamper cases' version after a skipped 4
			rm.Ephemeral["5"] = ecdhPair(t, roomScalar(seat<<4|5))
			rm.ChainHex["5"] = hex.EncodeToString(seqBytes(32, seat*40+5))
		}
		room.Members = append(room.Members, rm)
	}
	for _, rm := range room.Members {
		var err error
		live[rm.Seat], err = newRoomMemberWith(id, rm.Seat, km, room.fixedFor(t, rm.Seat), clock.now)
		require.NoError(t, err)
	}
	type msg struct {
		from byte
		typ  byte
		body []byte
	}
	texts := map[uint32][]msg{
		2: {{1, RoomMsgName, []byte("Ana")}, {2, RoomMsgName, []byte("Bo \u05e9\u05dc\u05d5\u05dd")}, {1, ChatMsgText, []byte("hello \u00e9\u2028 room")}, {2, ChatMsgText, []byte("hi")}},
		3: {{1, RoomMsgName, []byte("Ana")}, {2, RoomMsgName, []byte("Bo \u05e9\u05dc\u05d5\u05dd")}, {3, RoomMsgName, []byte("Cy")},
			{3, ChatMsgText, []byte("I could not read what came before")}, {1, ChatMsgFileBegin, []byte(`{"id":1,"name":"a.txt","type":"text/plain","size":300}`)},
			{1, ChatMsgFileChunk, append([]byte{0, 0, 0, 1}, seqBytes(300, 5)...)}, {2, ChatMsgBye, nil /* its count: Seal fills it */}, {1, ChatMsgText, []byte("bye Bo")}},
		4: {{1, RoomMsgName, []byte("Ana")}, {3, RoomMsgName, []byte("Cy")}, {3, ChatMsgText, []byte("Bo cannot read this")}},
	}
	late := map[uint32][]msg{3: {{1, ChatMsgText, []byte("sent just before the change")}}}
	seal := func(ver *rvVersion, m msg) cvRecord {
		if m.typ == ChatMsgBye {
			m.body = binary.BigEndian.AppendUint64(nil, live[m.from].send.next)
		}
		pt, err := EncodeRoomMessage(m.typ, m.body)
		require.NoError(t, err)
		seq := live[m.from].send.next
		rec, err := live[m.from].Seal(pt)
		require.NoError(t, err)
		return cvRecord{From: m.from, Seq: seq, Type: m.typ, BodyHex: hex.EncodeToString(m.body),
			PlaintextHex: hex.EncodeToString(pt), RecordHex: hex.EncodeToString(rec)}
	}
	for _, p := range plan {
		ver := rvVersion{V: p.v, Members: intsOf(p.members), Out: []int{}, Left: []int{}, Removed: []int{}, Hellos: []rvSent{}, Keys: []rvSent{}, Records: []cvRecord{}, Late: []cvRecord{}}
		for _, s := range p.members {
			res, err := live[s].Seats(p.v, p.members, nil)
			require.NoError(t, err)
			if res.Hello != nil {
				ver.Hellos = append(ver.Hellos, rvSent{Seat: s, RecordHex: hex.EncodeToString(res.Hello)})
			}
			if s == p.members[0] {
				ver.Left, ver.Removed = intsOf(res.Left), intsOf(res.Removed)
			}
		}
		for _, h := range ver.Hellos {
			for _, s := range p.members {
				if s == h.Seat {
					continue
				}
				got, err := live[s].Open(h.Seat, chatUnhex(t, h.RecordHex))
				require.NoError(t, err)
				if got.Send != nil {
					ver.Keys = append(ver.Keys, rvSent{Seat: s, RecordHex: hex.EncodeToString(got.Send)})
				}
			}
		}
		sortSent(ver.Keys)
		if len(p.members) > 1 {
			ver.THHex = hex.EncodeToString(live[p.members[0]].cur.th)
		}
		for _, k := range ver.Keys {
			for _, s := range p.members {
				if s != k.Seat {
					_, err := live[s].Open(k.Seat, chatUnhex(t, k.RecordHex))
					require.NoError(t, err)
				}
			}
		}
		code, err := live[p.members[0]].SafetyCode()
		require.NoError(t, err)
		for _, s := range p.members {
			c, err := live[s].SafetyCode()
			require.NoError(t, err)
			require.Equal(t, code, c)
		}
		ver.SafetyCode = code
		for _, m := range texts[p.v] {
			r := seal(&ver, m)
			ver.Records = append(ver.Records, r)
			for _, s := range p.members {
				if s != m.from {
					got, err := live[s].Open(m.from, chatUnhex(t, r.RecordHex))
					require.NoError(t, err)
					require.Equal(t, r.PlaintextHex, hex.EncodeToString(got.Message))
				}
			}
		}
		for _, m := range late[p.v] {
			ver.Late = append(ver.Late, seal(&ver, m))
		}
		room.Versions = append(room.Versions, ver)
	}
	rv.Room = room
	rv.Tamper = roomTamper(t, &rv.Room)
	list := func(v uint32, in, out []int, result string) rvList {
		return rvList{rvTList: rvTList{V: v, In: in, Out: out, Result: result}, Left: []int{}, Removed: []int{}}
	}
	gone := func(l rvList, left, removed []int) rvList { l.Left, l.Removed = left, removed; return l }
	one := func(name string, receiver byte, version int, lists ...rvList) rvSeats {
		return rvSeats{Name: name, Receiver: receiver, Version: version, Lists: lists}
	}
	rv.Seats = []rvSeats{
		one("a version not after the current one", 1, 2, list(3, []int{1, 2, 3}, []int{}, "epoch")),
		one("an older version", 1, 2, list(1, []int{1, 2}, []int{}, "epoch")),
		one("a list without this member", 1, 2, list(9, []int{2, 3}, []int{}, "format")),
		one("seats not ascending", 1, 2, list(9, []int{3, 1}, []int{}, "format")),
		one("a seat twice", 1, 2, list(9, []int{1, 1, 2}, []int{}, "format")),
		one("seat 9", 1, 2, list(9, []int{1, 9}, []int{}, "format")),
		one("a seat both in and out", 1, 2, list(9, []int{1, 2}, []int{2}, "format")),
		one("out not ascending", 1, 2, list(9, []int{1}, []int{3, 2}, "format")),
		one("version 0", 1, 0, list(0, []int{1, 2}, []int{}, "format")),
		one("versions only go up: a list that leaves this member out raises the floor", 2, 2,
			list(5, []int{1, 3}, []int{2}, "epoch"), list(5, []int{1, 2, 3}, []int{}, "epoch"), list(6, []int{1, 2, 3}, []int{}, "ok")),
		one("a seat that ended never comes back, not even as away", 1, 3,
			list(5, []int{1, 2, 3}, []int{}, "view"), list(5, []int{1, 3}, []int{2}, "view"), list(5, []int{1, 3}, []int{}, "ok")),
		one("an unchanged in is taken (a fresh version), a seat moved out is not ended", 1, 1,
			list(3, []int{1, 2}, []int{}, "ok"), list(4, []int{1}, []int{2}, "ok"), list(5, []int{1, 2}, []int{}, "ok")),
		one("a seat that leaves without a signed bye is removed by the server", 1, 1,
			gone(list(3, []int{1}, []int{}, "ok"), []int{}, []int{2})),
		one("a seat that leaves after its signed bye has left", 1, 2,
			gone(list(4, []int{1, 3}, []int{}, "ok"), []int{2}, []int{})),
		one("a seat whose signed bye came has ended: named away or back, the list is refused", 1, 2,
			list(5, []int{1, 3}, []int{2}, "view"), list(5, []int{1, 2, 3}, []int{}, "view"),
			gone(list(5, []int{1, 3}, []int{}, "ok"), []int{2}, []int{})),
	}
	for _, n := range []string{"Ana", "ana", "ＡＮＡ", "A\u0301na", "Ána", "Bo \u05e9\u05dc\u05d5\u05dd", "\u0628\u0647\u200c\u0646\u0627\u0645", "\u0391\u03bd\u03b1", "\u0410\u043d\u0430", "İ", "ΣΑΣ"} {
		rv.NameKeys = append(rv.NameKeys, rvNameKey{Name: n, Key: RoomNameKey(n)})
	}

	for _, m := range []struct {
		typ  byte
		body []byte
	}{{RoomMsgName, []byte("Ana")}, {RoomMsgName, []byte("\u0628\u0647\u200c\u0646\u0627\u0645")}, {RoomMsgName, []byte("0123456789012345678901234567890123456789")}, {ChatMsgText, []byte("x")}, {ChatMsgBye, []byte{0, 0, 0, 0, 0, 0, 0, 3}}} {
		pt, err := EncodeRoomMessage(m.typ, m.body)
		require.NoError(t, err)
		rv.Messages = append(rv.Messages, cvMessage{Type: m.typ, BodyHex: hex.EncodeToString(m.body), PlaintextHex: hex.EncodeToString(pt)})
	}
	badName := func(name, body string) cvBadMessage {
		return cvBadMessage{Name: name, PlaintextHex: hex.EncodeToString(rawInner(RoomMsgName, []byte(body)))}
	}
	rv.BadMsgs = []cvBadMessage{
		{Name: "type 6", PlaintextHex: hex.EncodeToString(rawInner(6, []byte("x")))},
		{Name: "type 0", PlaintextHex: hex.EncodeToString(rawInner(0, []byte("x")))},
		badName("empty name", ""),
		badName("name of 41 characters", "01234567890123456789012345678901234567890"),
		badName("name with a right-to-left override", "Ana\u202e"),
		badName("name starting with a space", " Ana"),
		badName("name with a zero-width space", "A\u200bna"),
		badName("name not UTF-8", "A\xffna"),
		{Name: "a bye without its count", PlaintextHex: hex.EncodeToString(rawInner(ChatMsgBye, nil))},
		{Name: "a bye with a 4-byte count", PlaintextHex: hex.EncodeToString(rawInner(ChatMsgBye, []byte{0, 0, 0, 1}))},
		{Name: "non-zero padding", PlaintextHex: func() string {
			b := rawInner(RoomMsgName, []byte("Ana"))
			b[len(b)-1] = 1
			return hex.EncodeToString(b)
		}()},
	}
	return rv
}

// rawInner encodes an inner message without checking its type or body.
func rawInner(typ byte, body []byte) []byte {
	out, err := encodeInner(1, 1, body)
	if err != nil {
		panic(err)
	}
	out[0] = typ
	return out
}

func sortSent(s []rvSent) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j].Seat < s[i].Seat {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

// roomTamper builds the cases a relay (or a member with it) can try, fed to one member.
func roomTamper(t testing.TB, r *rvRoom) []rvTamper {
	id := r.id(t)
	km := chatUnhex(t, r.KmHex)
	v2, v3, v4 := &r.Versions[1], &r.Versions[2], &r.Versions[3]
	rec := func(v *rvVersion, i int) rvFeed {
		return rvFeed{Stamp: v.Records[i].From, RecordHex: v.Records[i].RecordHex}
	}
	hello := func(v *rvVersion, seat byte) rvFeed { return rvFeed{Stamp: seat, RecordHex: findSent(v.Hellos, seat)} }
	keys := func(v *rvVersion, seat byte) rvFeed { return rvFeed{Stamp: seat, RecordHex: findSent(v.Keys, seat)} }
	mut := func(f rvFeed, fn func([]byte)) rvFeed {
		b := chatUnhex(t, f.RecordHex)
		fn(b)
		return rvFeed{Stamp: f.Stamp, RecordHex: hex.EncodeToString(b)}
	}
	stamp := func(f rvFeed, s byte) rvFeed { return rvFeed{Stamp: s, RecordHex: f.RecordHex} }
	// A helper with Km (a member) re-MACs a hello after changing it.
	mac := &RoomMember{id: id, km: km}
	remac := func(f rvFeed, fn func([]byte)) rvFeed {
		return mut(f, func(b []byte) {
			fn(b)
			copy(b[RoomHelloHeader+roomSig:], mac.helloMAC(b[:RoomHelloHeader+roomSig]))
		})
	}
	// A ghost: someone with Km (a member colluding with the relay) makes a hello for seat 5.
	ghost, err := newRoomMemberWith(id, 5, km, &roomFixed{Sign: roomScalar(0x55), Ephemeral: map[uint32][]byte{2: roomScalar(0x56)}}, time.Now)
	require.NoError(t, err)
	gh, err := ghost.Seats(2, []byte{1, 2, 5}, nil)
	require.NoError(t, err)
	ghostHello := gh.Hello
	ghostData := mut(rec(v2, 3), func(b []byte) { b[5] = 5 })
	ghostData.Stamp = 5
	// Another holder of seat 2's invite (another signing key) in version 3.
	impostor, err := newRoomMemberWith(id, 2, km, &roomFixed{Sign: roomScalar(0x66), Ephemeral: map[uint32][]byte{3: roomScalar(0x67)}}, time.Now)
	require.NoError(t, err)
	ih, err := impostor.Seats(3, []byte{1, 2, 3}, nil)
	require.NoError(t, err)
	impHello := ih.Hello
	// Other views of version 3: seat 1 is shown only seats 1 and 2; or seat 3 shows seat 1 another
	// hello than seat 2 (an equivocating member: the relay alone cannot make one).
	narrow := r.memberAt(t, 1, 1, afterRecords)
	_, err = narrow.Seats(3, []byte{1, 2}, nil)
	require.NoError(t, err)
	got, err := narrow.Open(2, chatUnhex(t, findSent(v3.Hellos, 2)))
	require.NoError(t, err)
	narrowKeys := rvFeed{Stamp: 1, RecordHex: hex.EncodeToString(got.Send)}
	eq, err := newRoomMemberWith(id, 3, km, &roomFixed{Sign: roomScalar(3), Ephemeral: map[uint32][]byte{3: roomScalar(0x77)}}, time.Now)
	require.NoError(t, err)
	eh, err := eq.Seats(3, []byte{1, 2, 3}, nil)
	require.NoError(t, err)
	eqHello := eh.Hello
	other := r.memberAt(t, 1, 2, afterSeats)
	_, err = other.Open(2, chatUnhex(t, findSent(v3.Hellos, 2)))
	require.NoError(t, err)
	got, err = other.Open(3, eqHello)
	require.NoError(t, err)
	otherKeys := rvFeed{Stamp: 1, RecordHex: hex.EncodeToString(got.Send)}
	// Seat 1 itself (its keys) making keys records that withhold its chain from seat 3, or give
	// seat 2 a key that does not open.
	seat1, err := newRoomMemberWith(id, 1, km, r.fixedFor(t, 1), time.Now)
	require.NoError(t, err)
	th3, th4 := chatUnhex(t, v3.THHex), chatUnhex(t, v4.THHex)
	// resignWith: seat 1 (it holds Σ_1) signs a changed record of its own; signed gives what the
	// signature covers.
	resignWith := func(f rvFeed, fn func([]byte) []byte, signed func([]byte) []byte) rvFeed {
		return mut(f, func(b []byte) {
			body := fn(bytes.Clone(b[:len(b)-roomSig]))
			sig, err := seat1.signRaw(signed(body))
			require.NoError(t, err)
			copy(b, append(body, sig...))
		})
	}
	keysSigned := func(th []byte) func([]byte) []byte {
		return func(body []byte) []byte { return seat1.signed(labelRoomKeys, th, body) }
	}
	resign := func(f rvFeed, fn func([]byte) []byte) rvFeed { return resignWith(f, fn, keysSigned(th3)) }
	same := func(b []byte) []byte { return b }
	// Seat 1's keys of version 3 committing to another chain key than the one sealed.
	badCommit := resign(keys(v3, 1), func(b []byte) []byte { b[18] ^= 1; return b })
	// Seat 1's keys of version 4 counting 3 records of version 3 (it sealed 5; seat 3 got 4).
	undercount := resignWith(keys(v4, 1), func(b []byte) []byte { binary.BigEndian.PutUint64(b[10:], 3); return b }, keysSigned(th4))
	// The signatures of the first design (no label): a keys record over th_V ‖ record, a data
	// record over id ‖ record.
	keysNoLabel := resignWith(keys(v3, 1), same, func(body []byte) []byte { return slices.Concat(th3, body) })
	dataNoLabel := resignWith(rec(v3, 0), same, func(body []byte) []byte { return slices.Concat(id[:], body) })
	// Seat 2 (which holds its keys) after its name in version 3: a bye whose count is not its
	// seq, and a second name.
	s2 := r.memberAt(t, 2, 2, afterComplete)
	_, err = s2.Seal(chatUnhex(t, v3.Records[1].PlaintextHex))
	require.NoError(t, err)
	sealRaw := func(m *RoomMember, typ byte, body []byte) rvFeed {
		pt, err := EncodeRoomMessage(typ, body)
		require.NoError(t, err)
		b, err := m.Seal(pt)
		require.NoError(t, err)
		return rvFeed{Stamp: m.seat, RecordHex: hex.EncodeToString(b)}
	}
	s2b := *s2
	s2b.send = &roomChain{ck: bytes.Clone(s2.send.ck), next: s2.send.next}
	wrongBye := sealRaw(&s2b, ChatMsgBye, []byte{0, 0, 0, 0, 0, 0, 0, 5})
	renamed := sealRaw(s2, RoomMsgName, []byte("Ana"))
	// A departed seat 2 (it still holds Km and Σ_2) makes a hello for version 4.
	d2, err := newRoomMemberWith(id, 2, km, &roomFixed{Sign: roomScalar(2), Ephemeral: map[uint32][]byte{4: roomScalar(0x24)}}, time.Now)
	require.NoError(t, err)
	dh, err := d2.Seats(4, []byte{1, 2, 3}, nil)
	require.NoError(t, err)
	departedHello := rvFeed{Stamp: 2, RecordHex: hex.EncodeToString(dh.Hello)}
	late := rvFeed{Stamp: 1, RecordHex: v3.Late[0].RecordHex}
	wait := func(f rvFeed, s int) rvFeed { f.Wait = s; return f }
	far := mut(rec(v3, 5), func(b []byte) { binary.BigEndian.PutUint64(b[6:], 2+RoomMaxGap) })
	w := r.memberAt(t, 1, 2, afterHellos)
	wv := *w.cur
	wv.members = []byte{1, 2}
	wk, _, err := w.keysRecord(&wv, w.cur.th, w.cur.pubs)
	require.NoError(t, err)
	withheld := rvFeed{Stamp: 1, RecordHex: hex.EncodeToString(wk)}
	badEntry := resign(keys(v3, 1), func(b []byte) []byte { b[RoomKeysHeader+5] ^= 1; return b })
	flipLast := func(b []byte) { b[len(b)-1] ^= 1 }
	// Version 5 of seats 1 and 3 after version 3 (seat 2 said bye): the relay skipped 4 for seat 1,
	// and shows seat 3 a version 4 of its choosing first. Seat 1 sealed 5 records in version 3,
	// seat 3 took 4 (the late one was held back).
	sender5 := func() (*RoomMember, []byte) {
		s1 := r.memberAt(t, 1, 2, afterRecords)
		h, err := s1.Seats(5, []byte{1, 3}, nil)
		require.NoError(t, err)
		return s1, h.Hello
	}
	_, h15 := sender5()
	hello5 := rvFeed{Stamp: 1, RecordHex: hex.EncodeToString(h15)}
	// v5 gives seat 3 (replayed to a phase of version index vi) lists, then seat 1's hello of
	// version 5: seat 1's keys of version 5, what seat 3 made, and th_5.
	v5 := func(vi int, after string, lists ...rvTList) (rvFeed, []string, []byte) {
		m := r.memberAt(t, 3, vi, after)
		made := giveLists(t, m, lists, "version 5")
		require.NotEmpty(t, made, "seat 3 made no hello of version 5")
		h3 := chatUnhex(t, made[len(made)-1])
		got, err := m.Open(1, h15)
		require.NoError(t, err)
		made = append(made, hex.EncodeToString(got.Send))
		s1, _ := sender5()
		k, err := s1.Open(3, h3)
		require.NoError(t, err)
		return rvFeed{Stamp: 1, RecordHex: hex.EncodeToString(k.Send)}, made, m.cur.th
	}
	tl := func(v uint32, in, out []int, result string) rvTList {
		return rvTList{V: v, In: in, Out: out, Result: result}
	}
	to5 := tl(5, []int{1, 3}, []int{}, "ok")
	keys5, made5, th5 := v5(2, afterRecords, to5)
	keys5a, made5a, _ := v5(2, afterRecords, tl(4, []int{1}, []int{3}, "epoch"), to5)
	keys5b, made5b, _ := v5(2, afterRecords, tl(4, []int{3}, []int{1}, "ok"), to5)
	keys5c, made5c, _ := v5(2, afterHellos, to5)
	require.Equal(t, keys5, keys5a)
	require.Equal(t, keys5, keys5b)
	require.Equal(t, keys5, keys5c)
	earlier := resignWith(keys5, func(b []byte) []byte { binary.BigEndian.PutUint32(b[6:], 2); return b }, keysSigned(th5))
	maxCount := resignWith(keys(v4, 1), func(b []byte) []byte { binary.BigEndian.PutUint64(b[10:], RoomMaxSeq); return b }, keysSigned(th4))
	sigAt := func(b []byte) { b[len(b)-40] ^= 1 }

	return []rvTamper{
		{Name: "in order", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 0), rec(v3, 2), rec(v3, 3), rec(v3, 4)}, Results: []string{"ok", "ok", "ok", "ok"}},
		{Name: "forged data signature", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{mut(rec(v3, 0), sigAt), rec(v3, 0)}, Results: []string{"auth", "ok"}},
		{Name: "forged data ciphertext", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{mut(rec(v3, 0), func(b []byte) { b[RoomDataHeader+3] ^= 1 }), rec(v3, 0)}, Results: []string{"auth", "ok"}},
		{Name: "forged data sequence", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 0), mut(rec(v3, 5), func(b []byte) { b[13] = 1 }), rec(v3, 4)}, Results: []string{"ok", "auth", "ok"}},
		{Name: "replayed data", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 0), rec(v3, 0), rec(v3, 4)}, Results: []string{"ok", "replay", "ok"}},
		{Name: "reordered data: the later record shows the gap, the earlier one is then a replay", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 4), rec(v3, 0), rec(v3, 4), rec(v3, 5)}, Results: []string{"gap 1", "replay", "replay", "ok"}},
		{Name: "dropped data, shown at the sender's next record, which opens", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 0), rec(v3, 5), rec(v3, 4), rec(v3, 7)}, Results: []string{"ok", "gap 1", "replay", "ok"}},
		{Name: "data more than 1,024 ahead is refused; 1,024 ahead is checked", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 0), far, mut(far, func(b []byte) { binary.BigEndian.PutUint64(b[6:], 1+RoomMaxGap) }), rec(v3, 4)},
			Results: []string{"ok", "order", "auth", "ok"}},
		{Name: "data signed without its label (the first design's signature)", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{dataNoLabel, rec(v3, 0)}, Results: []string{"auth", "ok"}},
		{Name: "a bye whose count is not its seq", Receiver: 1, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 1), wrongBye, rec(v3, 6)}, Results: []string{"ok", "format", "ok"}},
		{Name: "a seat's second, different name is not taken", Receiver: 1, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 1), renamed}, Results: []string{"ok", "renamed"}},
		{Name: "reflected data", Receiver: 1, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 0), rec(v3, 2)}, Results: []string{"reflect", "ok"}},
		{Name: "wrong relay stamp on data", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{stamp(rec(v3, 2), 1), stamp(rec(v3, 0), 3), rec(v3, 0)}, Results: []string{"reflect", "reflect", "ok"}},
		{Name: "data relabelled to another seat", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{mut(stamp(rec(v3, 0), 3), func(b []byte) { b[5] = 3 }), rec(v3, 0)}, Results: []string{"auth", "ok"}},
		{Name: "data before its sender's keys", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{rec(v3, 0), keys(v3, 1), rec(v3, 0)}, Results: []string{"order", "ok", "ok"}},
		{Name: "truncated data", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{{Stamp: 1, RecordHex: rec(v3, 0).RecordHex[:2*(RoomDataHeader+TagSize+roomSig-1)]}, rec(v3, 0)}, Results: []string{"format", "ok"}},
		{Name: "unknown record type", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{mut(rec(v3, 0), func(b []byte) { b[0] = 4 }), {Stamp: 1}, rec(v3, 0)}, Results: []string{"format", "format", "ok"}},
		{Name: "a ghost seat's hello and data", Receiver: 1, Version: 1, After: afterSeats,
			Records: []rvFeed{{Stamp: 5, RecordHex: hex.EncodeToString(ghostHello)}, hello(v2, 2), keys(v2, 2), ghostData}, Results: []string{"ghost", "ok", "ok", "ghost"}},
		{Name: "forged hello MAC", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{mut(hello(v3, 2), flipLast), hello(v3, 2)}, Results: []string{"handshake", "ok"}},
		{Name: "hello with its key swapped (the relay cannot re-MAC)", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{mut(hello(v3, 2), func(b []byte) { copy(b[6:6+roomPoint], chatUnhex(t, findSent(v3.Hellos, 3))[6:6+roomPoint]) }), hello(v3, 2)},
			Results: []string{"handshake", "ok"}},
		{Name: "hello whose key is not a P-256 point", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{remac(hello(v3, 2), func(b []byte) { copy(b[6:6+roomPoint], append([]byte{4}, make([]byte, 64)...)) }),
				remac(hello(v3, 2), func(b []byte) { b[6+roomPoint] = 2 }), hello(v3, 2)}, Results: []string{"format", "format", "ok"}},
		{Name: "forged hello signature under a valid MAC", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{remac(hello(v3, 2), func(b []byte) { b[RoomHelloHeader+5] ^= 1 }), hello(v3, 2)}, Results: []string{"handshake", "ok"}},
		{Name: "seat 2's signing key changed", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{{Stamp: 2, RecordHex: hex.EncodeToString(impHello)}, hello(v3, 2)}, Results: []string{"handshake", "ok"}},
		{Name: "wrong relay stamp on a hello", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{stamp(hello(v3, 2), 3), hello(v3, 2)}, Results: []string{"reflect", "ok"}},
		{Name: "reflected hello and keys", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{hello(v3, 2), keys(v3, 2), keys(v3, 1)}, Results: []string{"reflect", "reflect", "ok"}},
		{Name: "hello and keys sent again byte-identical are ignored", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{hello(v3, 1), keys(v3, 1), keys(v3, 1)}, Results: []string{"ignored", "ok", "ignored"}},
		{Name: "a second, different hello of a seat in a version", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{hello(v3, 2), {Stamp: 2, RecordHex: hex.EncodeToString(impHello)}, hello(v3, 2)}, Results: []string{"ok", "replay", "ignored"}},
		{Name: "a second, different keys of a seat in a version", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{keys(v3, 1), badEntry, keys(v3, 1)}, Results: []string{"ok", "replay", "ignored"}},
		{Name: "a hello of the previous version", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{hello(v2, 2), hello(v3, 2)}, Results: []string{"epoch", "ok"}},
		{Name: "a hello of the next version before its list", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{hello(v4, 3), hello(v3, 2)}, Results: []string{"epoch", "ok"}},
		{Name: "a seat that ended never comes back: its hello", Receiver: 1, Version: 3, After: afterSeats,
			Records: []rvFeed{departedHello, hello(v4, 3)}, Results: []string{"ghost", "ok"}},
		{Name: "a hello more than 60 s after this member's (its ephemeral key is erased)", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{wait(hello(v3, 2), 61)}, Results: []string{"epoch"}},
		{Name: "keys within 60 s of this member's hello", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{wait(keys(v3, 1), 59)}, Results: []string{"ok"}},
		{Name: "keys more than 60 s after this member's hello (its ephemeral key is erased)", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{wait(keys(v3, 1), 61), keys(v3, 1)}, Results: []string{"epoch", "epoch"}},
		{Name: "keys committing to another chain key than the one sealed", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{badCommit, keys(v3, 1)}, Results: []string{"auth", "ok"}},
		{Name: "keys signed without their label (the first design's signature)", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{keysNoLabel, keys(v3, 1)}, Results: []string{"view", "ok"}},
		{Name: "keys counting a record of the previous version held back just before the change", Receiver: 3, Version: 3, After: afterHellos,
			Records: []rvFeed{keys(v4, 1)}, Results: []string{"missing 1"}},
		{Name: "keys counting fewer previous records than came", Receiver: 3, Version: 3, After: afterHellos,
			Records: []rvFeed{undercount, keys(v4, 1)}, Results: []string{"view", "missing 1"}},
		{Name: "the relay shows seat 3 alone a version 4 leaving it out, then everyone version 5: the count of version 3 is still checked", Receiver: 3, Version: 2, After: afterRecords,
			Lists: []rvTList{tl(4, []int{1}, []int{3}, "epoch"), to5}, Records: []rvFeed{hello5, keys5}, Results: []string{"ok", "missing 1"}, Made: made5a},
		{Name: "the relay shows seat 3 alone a version 4 leaving the sender out, then everyone version 5: the count of version 3 is still checked", Receiver: 3, Version: 2, After: afterRecords,
			Lists: []rvTList{tl(4, []int{3}, []int{1}, "ok"), to5}, Records: []rvFeed{hello5, keys5}, Results: []string{"ok", "missing 1"}, Made: made5b},
		{Name: "keys counting a version whose keys from the sender never came here: every record missing", Receiver: 3, Version: 2, After: afterHellos,
			Lists: []rvTList{to5}, Records: []rvFeed{hello5, keys5}, Results: []string{"ok", "missing 5"}, Made: made5c},
		{Name: "keys naming an earlier previous version than the last whose keys came from the sender", Receiver: 3, Version: 2, After: afterRecords,
			Lists: []rvTList{to5}, Records: []rvFeed{hello5, earlier, keys5}, Results: []string{"ok", "view", "missing 1"}, Made: made5},
		{Name: "keys with a previous count above the largest sequence number, a previous version not below V, or a count without a version", Receiver: 3, Version: 3, After: afterHellos,
			Records: []rvFeed{mut(keys(v4, 1), func(b []byte) { binary.BigEndian.PutUint64(b[10:], RoomMaxSeq+1) }),
				mut(keys(v4, 1), func(b []byte) { binary.BigEndian.PutUint32(b[6:], 4) }),
				mut(keys(v4, 1), func(b []byte) { binary.BigEndian.PutUint32(b[6:], 0) }), keys(v4, 1)},
			Results: []string{"format", "format", "format", "missing 1"}},
		{Name: "keys with a previous count of the largest sequence number", Receiver: 3, Version: 3, After: afterHellos,
			Records: []rvFeed{maxCount}, Results: []string{fmt.Sprintf("missing %d", RoomMaxSeq-4)}},
		{Name: "keys before every hello", Receiver: 3, Version: 2, After: afterSeats,
			Records: []rvFeed{keys(v3, 1), hello(v3, 1), hello(v3, 2), keys(v3, 1)}, Results: []string{"order", "ok", "ok", "ok"}},
		{Name: "keys under another view: seat 1 was shown seats 1 and 2 only", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{narrowKeys, keys(v3, 1)}, Results: []string{"view", "ok"}},
		{Name: "keys under another view: seat 1 was shown another hello of seat 3", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{otherKeys, keys(v3, 1)}, Results: []string{"view", "ok"}},
		{Name: "keys with a forged sealed key", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{mut(keys(v3, 1), func(b []byte) { b[RoomKeysHeader+3] ^= 1 }), keys(v3, 1)}, Results: []string{"view", "ok"}},
		{Name: "keys with a forged signature", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{mut(keys(v3, 1), flipLast), keys(v3, 1)}, Results: []string{"view", "ok"}},
		{Name: "keys signed by their sender but withheld from seat 3", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{withheld, keys(v3, 1)}, Results: []string{"view", "ok"}},
		{Name: "keys signed by their sender with a key for seat 2 that does not open", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{badEntry, keys(v3, 1)}, Results: []string{"view", "ok"}},
		{Name: "keys relabelled to another version", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{mut(keys(v2, 1), func(b []byte) { b[4] = 3 }), keys(v3, 1)}, Results: []string{"view", "ok"}},
		{Name: "a record of the previous version before its sender's hello of the new one, within 60 s", Receiver: 3, Version: 3, After: afterSeats,
			Records: []rvFeed{wait(late, 59), rec(v3, 0), hello(v4, 1), keys(v4, 1)}, Results: []string{"ok", "replay", "ok", "ok"}},
		{Name: "a record of the previous version after its sender's hello of the new one", Receiver: 3, Version: 3, After: afterSeats,
			Records: []rvFeed{hello(v4, 1), late}, Results: []string{"ok", "epoch"}},
		{Name: "a record of the previous version more than 60 s after the new list", Receiver: 3, Version: 3, After: afterSeats,
			Records: []rvFeed{wait(late, 61)}, Results: []string{"epoch"}},
		{Name: "a record two versions old while the new one is incomplete", Receiver: 1, Version: 3, After: afterSeats,
			Records: []rvFeed{rec(v2, 3)}, Results: []string{"epoch"}},
		{Name: "an old-version record after the new version completed", Receiver: 3, Version: 3, After: afterComplete,
			Records: []rvFeed{late, rec(v4, 0)}, Results: []string{"epoch", "ok"}},
		{Name: "a late joiner fed records of a version before its first: ignored (it cannot read back)", Receiver: 3, Version: 2, After: afterRecords,
			Records: []rvFeed{rec(v2, 0), rec(v2, 2), hello(v2, 1)}, Results: []string{"ignored", "ignored", "ignored"}},
		{Name: "a departed member fed the next version (cannot read on)", Receiver: 2, Version: 3, After: afterRecords,
			Records: []rvFeed{hello(v4, 1), keys(v4, 1), rec(v4, 0), rec(v4, 2)}, Results: []string{"epoch", "epoch", "epoch", "epoch"}},
	}
}

func TestRoomVectors(t *testing.T) {
	got := generateRoomVectors(t)
	enc, err := json.MarshalIndent(got, "", " ")
	require.NoError(t, err)
	enc = append(enc, '\n')
	if *updateRoom {
		require.NoError(t, os.WriteFile(roomVectorsPath, enc, 0o644))
	}
	want, err := os.ReadFile(roomVectorsPath)
	require.NoError(t, err, "run with -update-room to create it")
	require.Equal(t, string(want), string(enc), "the implementation no longer matches the stored vectors")
	var rv roomVectors
	require.NoError(t, json.Unmarshal(want, &rv))
	checkRoomVectors(t, rv)
}

// giveLists gives m the member lists in turn, each answered as its Result says (name labels the
// case), and returns the hellos m made of them, in hex and in order.
func giveLists(t testing.TB, m *RoomMember, lists []rvTList, name string) []string {
	var made []string
	for i, l := range lists {
		res, err := m.Seats(l.V, seatsOf(l.In), seatsOf(l.Out))
		require.Equal(t, l.Result, roomErrClass(err), "%s: list #%d", name, i)
		if res.Hello != nil {
			made = append(made, hex.EncodeToString(res.Hello))
		}
	}
	return made
}

// checkRoomVectors checks the stored vectors against fresh members, independently of how they
// were generated.
func checkRoomVectors(t *testing.T, rv roomVectors) {
	for _, d := range rv.Derivations {
		Kr, Ks := chatUnhex(t, d.KrHex), chatUnhex(t, d.KsHex)
		require.Equal(t, d.PinSaltHex, hex.EncodeToString(RoomPINSalt(Kr)))
		require.Equal(t, d.GateHex, hex.EncodeToString(RoomGateToken(Ks)))
		var P []byte
		if d.PIN != "" {
			P = RoomStretchPIN(Kr, d.PIN)
			require.Equal(t, d.PHex, hex.EncodeToString(P))
			require.Equal(t, d.OpenHex, hex.EncodeToString(RoomOpenToken(Ks, P)))
		}
		if d.DPIN != "" {
			dp := RoomStretchPIN(Kr, d.DPIN)
			require.Equal(t, d.DPHex, hex.EncodeToString(dp))
			require.Equal(t, d.DestructHex, hex.EncodeToString(RoomDestructToken(Ks, dp)))
		}
		require.Equal(t, d.KmHex, hex.EncodeToString(RoomMACKey(Kr, P)))
	}
	for _, in := range rv.Invites {
		for _, s := range []string{in.Encoded, "#" + in.Encoded} {
			got, err := ParseRoomInvite(s)
			require.NoError(t, err)
			require.Equal(t, in.Flags, got.Flags)
			require.Equal(t, in.Seat, got.Seat)
			require.Equal(t, in.KsHex, hex.EncodeToString(got.SeatKey[:]))
			require.Equal(t, in.KrHex, hex.EncodeToString(got.RoomKey[:]))
			require.Equal(t, in.Encoded, got.String())
		}
	}
	for _, in := range rv.InvitesInvalid {
		_, err := ParseRoomInvite(in.Input)
		require.ErrorIs(t, err, ErrFragment, in.Why)
	}
	r := &rv.Room
	last := len(r.Versions) - 1
	for _, m := range r.Members {
		// Each member replays the whole room, checking every byte it makes and opens.
		r.memberAt(t, m.Seat, last, afterRecords)
		require.Equal(t, m.Sign.PubHex, hex.EncodeToString(r.memberAt(t, m.Seat, 0, afterSeats).signPub))
	}
	for _, tv := range rv.Tamper {
		m, clock := r.memberClock(t, tv.Receiver, tv.Version, tv.After)
		require.Len(t, tv.Results, len(tv.Records), tv.Name)
		made := giveLists(t, m, tv.Lists, tv.Name)
		for i, f := range tv.Records {
			clock.t = clock.t.Add(time.Duration(f.Wait) * time.Second)
			got, err := m.Open(f.Stamp, chatUnhex(t, f.RecordHex))
			require.Equal(t, tv.Results[i], roomOutcome(got, err), "%s #%d", tv.Name, i)
			if got.Send != nil {
				made = append(made, hex.EncodeToString(got.Send))
			}
		}
		if len(tv.Lists) > 0 { // beyond the room's versions: what the receiver made is in the case
			require.Equal(t, tv.Made, made, tv.Name)
		}
	}
	for _, s := range rv.Seats {
		m := r.memberAt(t, s.Receiver, s.Version, afterRecords)
		for i, l := range s.Lists {
			before := m.Version()
			res, err := m.Seats(l.V, seatsOf(l.In), seatsOf(l.Out))
			require.Equal(t, l.Result, roomErrClass(err), "%s #%d", s.Name, i)
			if err != nil {
				require.Equal(t, before, m.Version(), s.Name)
				continue
			}
			require.Equal(t, l.V, m.Version(), s.Name)
			require.Equal(t, l.Left, intsOf(res.Left), s.Name)
			require.Equal(t, l.Removed, intsOf(res.Removed), s.Name)
		}
	}
	for _, n := range rv.NameKeys {
		require.Equal(t, n.Key, RoomNameKey(n.Name), n.Name)
	}
	for _, m := range rv.Messages {
		typ, body, err := DecodeRoomMessage(chatUnhex(t, m.PlaintextHex))
		require.NoError(t, err)
		require.Equal(t, m.Type, typ)
		require.Equal(t, m.BodyHex, hex.EncodeToString(body))
		pt, err := EncodeRoomMessage(m.Type, body)
		require.NoError(t, err)
		require.Equal(t, m.PlaintextHex, hex.EncodeToString(pt))
	}
	for _, m := range rv.BadMsgs {
		_, _, err := DecodeRoomMessage(chatUnhex(t, m.PlaintextHex))
		require.Equal(t, "format", roomErrClass(err), m.Name)
	}
}
