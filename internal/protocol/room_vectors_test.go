package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"slices"
	"strconv"
	"testing"

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
	SeatsInvalid   []rvSeats      `json:"seats_invalid"`
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
	Members    []int      `json:"members"`
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
}

type rvTamper struct {
	Name     string   `json:"name"`
	Receiver byte     `json:"receiver"`
	Version  int      `json:"version"`
	After    string   `json:"after"`
	Records  []rvFeed `json:"records"`
	Results  []string `json:"results"`
}

type rvSeats struct {
	Name     string `json:"name"`
	Receiver byte   `json:"receiver"`
	Version  int    `json:"version"`
	V        uint32 `json:"v"`
	Members  []int  `json:"members"`
	Error    string `json:"error"`
}

// roomErrClass names an error the way the browser module's error.code does.
func roomErrClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrRoomReflect):
		return "reflect"
	case errors.Is(err, ErrRoomEpoch):
		return "epoch"
	case errors.Is(err, ErrRoomGhost):
		return "ghost"
	case errors.Is(err, ErrRoomReplay):
		return "replay"
	case errors.Is(err, ErrRoomOrder):
		return "order"
	case errors.Is(err, ErrRoomView):
		return "view"
	case errors.Is(err, ErrRoomHandshake):
		return "handshake"
	case errors.Is(err, ErrRoomWait):
		return "wait"
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrFormat):
		return "format"
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
	out := make([]int, len(seats))
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
	t.Helper()
	m, err := newRoomMemberWith(r.id(t), seat, chatUnhex(t, r.KmHex), r.fixedFor(t, seat))
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
		hello, err := m.Seats(ver.V, members)
		require.NoError(t, err)
		require.Equal(t, findSent(ver.Hellos, seat), hex.EncodeToString(hello), "hello of seat %d, v %d", seat, ver.V)
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
	return m
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
	p, err := newRoomMemberWith([RoomIDSize]byte{}, 1, make([]byte, 32), &roomFixed{Sign: priv})
	require.NoError(t, err)
	return rvKey{PrivHex: hex.EncodeToString(priv), PubHex: hex.EncodeToString(p.signPub)}
}

func ecdhPair(t testing.TB, priv []byte) rvKey {
	m, err := newRoomMemberWith([RoomIDSize]byte{}, 1, make([]byte, 32), &roomFixed{Sign: priv, Ephemeral: map[uint32][]byte{1: priv}})
	require.NoError(t, err)
	_, err = m.Seats(1, []byte{1, 2})
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
	for seat := byte(1); seat <= 3; seat++ {
		rm := rvMember{Seat: seat, Sign: roomKeyPair(t, roomScalar(seat)), Ephemeral: map[string]rvKey{}, ChainHex: map[string]string{}}
		for _, p := range plan[1:] {
			if contains(p.members, seat) {
				vs := strconv.Itoa(int(p.v))
				rm.Ephemeral[vs] = ecdhPair(t, roomScalar(seat<<4|byte(p.v)))
				rm.ChainHex[vs] = hex.EncodeToString(seqBytes(32, seat*40+byte(p.v)))
			}
		}
		room.Members = append(room.Members, rm)
	}
	for _, rm := range room.Members {
		var err error
		live[rm.Seat], err = newRoomMemberWith(id, rm.Seat, km, room.fixedFor(t, rm.Seat))
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
			{1, ChatMsgFileChunk, append([]byte{0, 0, 0, 1}, seqBytes(300, 5)...)}, {2, ChatMsgBye, nil}, {1, ChatMsgText, []byte("bye Bo")}},
		4: {{1, RoomMsgName, []byte("Ana")}, {3, RoomMsgName, []byte("Cy")}, {3, ChatMsgText, []byte("Bo cannot read this")}},
	}
	late := map[uint32][]msg{3: {{1, ChatMsgText, []byte("sent just before the change")}}}
	seal := func(ver *rvVersion, m msg) cvRecord {
		pt, err := EncodeRoomMessage(m.typ, m.body)
		require.NoError(t, err)
		seq := live[m.from].send.next
		rec, err := live[m.from].Seal(pt)
		require.NoError(t, err)
		return cvRecord{From: m.from, Seq: seq, Type: m.typ, BodyHex: hex.EncodeToString(m.body),
			PlaintextHex: hex.EncodeToString(pt), RecordHex: hex.EncodeToString(rec)}
	}
	for _, p := range plan {
		ver := rvVersion{V: p.v, Members: intsOf(p.members), Hellos: []rvSent{}, Keys: []rvSent{}, Records: []cvRecord{}, Late: []cvRecord{}}
		for _, s := range p.members {
			hello, err := live[s].Seats(p.v, p.members)
			require.NoError(t, err)
			if hello != nil {
				ver.Hellos = append(ver.Hellos, rvSent{Seat: s, RecordHex: hex.EncodeToString(hello)})
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
	rv.SeatsInvalid = []rvSeats{
		{Name: "a version not after the current one", Receiver: 1, Version: 2, V: 2, Members: []int{1, 2, 3}, Error: "epoch"},
		{Name: "an older version", Receiver: 1, Version: 2, V: 1, Members: []int{1, 2}, Error: "epoch"},
		{Name: "a list without this member", Receiver: 1, Version: 2, V: 9, Members: []int{2, 3}, Error: "format"},
		{Name: "seats not ascending", Receiver: 1, Version: 2, V: 9, Members: []int{3, 1}, Error: "format"},
		{Name: "a seat twice", Receiver: 1, Version: 2, V: 9, Members: []int{1, 1, 2}, Error: "format"},
		{Name: "seat 9", Receiver: 1, Version: 2, V: 9, Members: []int{1, 9}, Error: "format"},
		{Name: "version 0", Receiver: 1, Version: 0, V: 0, Members: []int{1, 2}, Error: "format"},
	}

	for _, m := range []struct {
		typ  byte
		body []byte
	}{{RoomMsgName, []byte("Ana")}, {RoomMsgName, []byte("\u0628\u0647\u200c\u0646\u0627\u0645")}, {RoomMsgName, []byte("0123456789012345678901234567890123456789")}, {ChatMsgText, []byte("x")}, {ChatMsgBye, nil}} {
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
	ghost, err := newRoomMemberWith(id, 5, km, &roomFixed{Sign: roomScalar(0x55), Ephemeral: map[uint32][]byte{2: roomScalar(0x56)}})
	require.NoError(t, err)
	ghostHello, err := ghost.Seats(2, []byte{1, 2, 5})
	require.NoError(t, err)
	ghostData := mut(rec(v2, 3), func(b []byte) { b[5] = 5 })
	ghostData.Stamp = 5
	// Another holder of seat 2's invite (another signing key) in version 3.
	impostor, err := newRoomMemberWith(id, 2, km, &roomFixed{Sign: roomScalar(0x66), Ephemeral: map[uint32][]byte{3: roomScalar(0x67)}})
	require.NoError(t, err)
	impHello, err := impostor.Seats(3, []byte{1, 2, 3})
	require.NoError(t, err)
	// Other views of version 3: seat 1 is shown only seats 1 and 2; or seat 3 shows seat 1 another
	// hello than seat 2 (an equivocating member: the relay alone cannot make one).
	narrow := r.memberAt(t, 1, 1, afterRecords)
	_, err = narrow.Seats(3, []byte{1, 2})
	require.NoError(t, err)
	got, err := narrow.Open(2, chatUnhex(t, findSent(v3.Hellos, 2)))
	require.NoError(t, err)
	narrowKeys := rvFeed{Stamp: 1, RecordHex: hex.EncodeToString(got.Send)}
	eq, err := newRoomMemberWith(id, 3, km, &roomFixed{Sign: roomScalar(3), Ephemeral: map[uint32][]byte{3: roomScalar(0x77)}})
	require.NoError(t, err)
	eqHello, err := eq.Seats(3, []byte{1, 2, 3})
	require.NoError(t, err)
	other := r.memberAt(t, 1, 2, afterSeats)
	_, err = other.Open(2, chatUnhex(t, findSent(v3.Hellos, 2)))
	require.NoError(t, err)
	got, err = other.Open(3, eqHello)
	require.NoError(t, err)
	otherKeys := rvFeed{Stamp: 1, RecordHex: hex.EncodeToString(got.Send)}
	// Seat 1 itself (its keys) making keys records that withhold its chain from seat 3, or give
	// seat 2 a key that does not open.
	seat1, err := newRoomMemberWith(id, 1, km, r.fixedFor(t, 1))
	require.NoError(t, err)
	th3 := chatUnhex(t, v3.THHex)
	resign := func(f rvFeed, fn func([]byte) []byte) rvFeed {
		return mut(f, func(b []byte) {
			body := fn(bytes.Clone(b[:len(b)-roomSig]))
			sig, err := seat1.signRaw(slices.Concat(th3, body))
			require.NoError(t, err)
			copy(b, append(body, sig...))
		})
	}
	w := r.memberAt(t, 1, 2, afterHellos)
	wv := *w.cur
	wv.members = []byte{1, 2}
	wk, _, err := w.keysRecord(&wv, w.cur.th, w.cur.pubs)
	require.NoError(t, err)
	withheld := rvFeed{Stamp: 1, RecordHex: hex.EncodeToString(wk)}
	badEntry := resign(keys(v3, 1), func(b []byte) []byte { b[RoomKeysHeader+5] ^= 1; return b })
	flipLast := func(b []byte) { b[len(b)-1] ^= 1 }
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
		{Name: "reordered data", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 4), rec(v3, 0), rec(v3, 4)}, Results: []string{"order", "ok", "ok"}},
		{Name: "dropped data, caught at the sender's next record", Receiver: 2, Version: 2, After: afterComplete,
			Records: []rvFeed{rec(v3, 0), rec(v3, 5)}, Results: []string{"ok", "order"}},
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
		{Name: "replayed hello and keys", Receiver: 2, Version: 2, After: afterHellos,
			Records: []rvFeed{hello(v3, 1), keys(v3, 1), keys(v3, 1)}, Results: []string{"replay", "ok", "replay"}},
		{Name: "a hello of the previous version", Receiver: 1, Version: 2, After: afterSeats,
			Records: []rvFeed{hello(v2, 2), hello(v3, 2)}, Results: []string{"epoch", "ok"}},
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
		{Name: "a record of the previous version while the new one is incomplete", Receiver: 3, Version: 3, After: afterHellos,
			Records: []rvFeed{{Stamp: 1, RecordHex: v3.Late[0].RecordHex}, rec(v3, 0)}, Results: []string{"ok", "replay"}},
		{Name: "a record two versions old while the new one is incomplete", Receiver: 3, Version: 3, After: afterHellos,
			Records: []rvFeed{rec(v2, 0), rec(v2, 2)}, Results: []string{"epoch", "epoch"}},
		{Name: "an old-version record after the new version completed", Receiver: 3, Version: 3, After: afterComplete,
			Records: []rvFeed{{Stamp: 1, RecordHex: v3.Late[0].RecordHex}, rec(v4, 0)}, Results: []string{"epoch", "ok"}},
		{Name: "a late joiner fed a record of an earlier version (cannot read back)", Receiver: 3, Version: 2, After: afterRecords,
			Records: []rvFeed{rec(v2, 0), rec(v2, 2), hello(v2, 1)}, Results: []string{"epoch", "epoch", "epoch"}},
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
		m := r.memberAt(t, tv.Receiver, tv.Version, tv.After)
		require.Len(t, tv.Results, len(tv.Records), tv.Name)
		for i, f := range tv.Records {
			_, err := m.Open(f.Stamp, chatUnhex(t, f.RecordHex))
			require.Equal(t, tv.Results[i], roomErrClass(err), "%s #%d", tv.Name, i)
		}
	}
	for _, s := range rv.SeatsInvalid {
		m := r.memberAt(t, s.Receiver, s.Version, afterRecords)
		before := m.Version()
		_, err := m.Seats(s.V, seatsOf(s.Members))
		require.Equal(t, s.Error, roomErrClass(err), s.Name)
		require.Equal(t, before, m.Version(), s.Name)
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
