package protocol

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"
	"unicode"
)

// One-time group rooms (SECURITY.md, "One-time group rooms"): up to 8 seats, sender keys with a
// fresh epoch at every membership version. Every record a member sends through the relay
// starts with a type byte:
//
//	hello = 0x01 ‖ V (4) ‖ seat (1) ‖ X (65) ‖ Σ (65) ‖ ECDSA signature (64) ‖ HMAC (32)       232 bytes
//	keys  = 0x02 ‖ V (4) ‖ seat (1) ‖ previous version (4) ‖ previous count (8) ‖
//	        chain commitment (32) ‖ count (1) ‖
//	        count × (seat (1) ‖ AES-GCM (48)) ‖ ECDSA (64)
//	data  = 0x03 ‖ V (4) ‖ seat (1) ‖ seq (8) ‖ AES-GCM ciphertext ‖ ECDSA (64)
//
// X is the member's ephemeral ECDH P-256 key of version V, Σ its ECDSA P-256 signing key for the
// seat's life; signatures are raw r ‖ s (64 bytes), as WebCrypto makes them.
const (
	RoomRecordHello byte = 1
	RoomRecordKeys  byte = 2
	RoomRecordData  byte = 3

	RoomMinSeats = 2
	RoomMaxSeats = 8
	RoomIDSize   = 16

	roomPoint = 65 // an uncompressed P-256 point
	roomSig   = 64 // an ECDSA P-256 signature, r ‖ s

	RoomHelloHeader = 1 + 4 + 1 + roomPoint + roomPoint // 136: what the hello's signature covers
	RoomHelloSize   = RoomHelloHeader + roomSig + 32    // 232
	RoomKeysHeader  = 1 + 4 + 1 + 4 + 8 + 32 + 1        // 51
	RoomKeysEntry   = 1 + KeySize + TagSize             // 49
	RoomDataHeader  = 1 + 4 + 1 + 8                     // 14

	// RoomMaxSeq bounds a sender's sequence number in one version (what a JS number counts
	// exactly; a chain never gets near it).
	RoomMaxSeq = 1<<53 - 1

	// RoomMsgName is the inner message type that carries the sender's display name (UTF-8,
	// CheckRoomName); the other types are the chat's (ChatMsgText … ChatMsgBye).
	RoomMsgName byte = 5
	// RoomNameMax is the most characters a member's name may have.
	RoomNameMax = 40

	// RoomInviteLen is the length of an invite fragment: base64url of version ‖ flags ‖ seat ‖
	// K_s ‖ Kr (67 bytes).
	RoomInviteLen = 90

	// RoomEraseAfter bounds how long a member keeps its ephemeral key of a version (after its
	// hello) and the previous version's receiving chains (after it took the member list).
	RoomEraseAfter = 60 * time.Second
	// RoomMaxGap is how far ahead of the next expected one a data record may be and still be
	// accepted (with the gap shown).
	RoomMaxGap = 1024
	// RoomByeSize is the body of a room's bye: the count of data records the sender sealed in
	// the version before the bye (big-endian), which is the bye's own seq.
	RoomByeSize = 8
)

const (
	labelRoomPINSalt  = "sealdrop/v1 room pin-salt"
	labelRoomGate     = "sealdrop/v1 room gate"
	labelRoomOpen     = "sealdrop/v1 room open"
	labelRoomDestruct = "sealdrop/v1 room destruct"
	labelRoomMAC      = "sealdrop/v1 room mac"
	labelRoomHello    = "sealdrop/v1 room hello"
	labelRoomKeys     = "sealdrop/v1 room keys"
	labelRoomData     = "sealdrop/v1 room data"
	labelRoomChain    = "sealdrop/v1 room chain"
	labelRoomPair     = "sealdrop/v1 room pair"
	labelRoomSafety   = "sealdrop/v1 room safety"
	roomTranscript    = "sealdrop/v1 room"
)

// Room errors, beside ErrAuth and ErrFormat. The browser module reports the same classes
// (error.code "reflect", "epoch", "ghost", "replay", "order", "view", "handshake", "auth",
// "format"; "wait" for a seal before this member's keys went out).
var (
	// ErrRoomReflect: a record of this member's own seat, or one whose seat is not the seat the
	// relay stamped it with.
	ErrRoomReflect = errors.New("protocol: room: reflected or misattributed record")
	// ErrRoomEpoch: a record of a membership version this member holds no keys of (after it
	// left, a version it was left out of, or the previous version once the current one is
	// complete, its sender's hello of the current one came, or 60 s passed), a hello or keys
	// record after this member erased its ephemeral key of the version (60 s after its hello), a
	// member list of a version not above every one seen, or one that leaves this member out.
	ErrRoomEpoch = errors.New("protocol: room: record of another membership version")
	// ErrRoomGhost: a record from a seat that is not a member of its version.
	ErrRoomGhost = errors.New("protocol: room: record from a seat that is not a member")
	// ErrRoomReplay: a second, different hello or keys record of a seat in a version (a
	// byte-identical one is ignored), or a data record whose sequence number was accepted.
	ErrRoomReplay = errors.New("protocol: room: replayed record")
	// ErrRoomOrder: a record ahead of what must come first: a data record more than RoomMaxGap
	// beyond the sender's next, or before its keys; a keys record before every hello of its
	// version. (A record at most RoomMaxGap ahead is accepted, its gap shown: RoomOpened.Gap.)
	ErrRoomOrder = errors.New("protocol: room: record out of order or missing")
	// ErrRoomView: a keys record that does not open under this member's transcript of the
	// version (the relay, or its sender, showed members different member lists or hellos), or
	// that counts fewer records of its previous version than this member accepted from it, or
	// names an earlier previous version than the last whose keys from it this member took; a
	// member list that brings back a seat that ended or whose signed bye came.
	ErrRoomView = errors.New("protocol: room: members were shown different rooms")
	// ErrRoomHandshake: a hello without a valid MAC (not made with the room key and PIN), with
	// a bad signature, or with another signing key than the seat's earlier hellos.
	ErrRoomHandshake = errors.New("protocol: room: hello not from a member")
	// ErrRoomWait: nothing can be sealed yet (this member's keys for the version are not out).
	ErrRoomWait = errors.New("protocol: room: keys of this version not sent yet")
	// ErrRoomName: a display name that breaks the name rules (message suitable for users).
	ErrRoomName = errors.New("protocol: room: bad name")
)

// ---- invite links and derivations ----

// RoomInvite is an invite link's fragment: /g/<room id>#base64url(0x01 ‖ flags ‖ seat ‖ K_s ‖ Kr).
type RoomInvite struct {
	Flags   byte // FlagPIN or 0
	Seat    byte // 1 … RoomMaxSeats
	SeatKey [KeySize]byte
	RoomKey [KeySize]byte
}

// String encodes the invite as the 90 characters that follow '#'.
func (r RoomInvite) String() string {
	b := make([]byte, 0, 3+2*KeySize)
	b = append(b, Version, r.Flags, r.Seat)
	b = append(b, r.SeatKey[:]...)
	return B64Encode(append(b, r.RoomKey[:]...))
}

// ParseRoomInvite parses an invite fragment with or without its '#'. It refuses another length,
// another version, unknown flag bits and a seat outside 1 … 8, as ParseFragment does.
func ParseRoomInvite(s string) (RoomInvite, error) {
	b, err := parseHead(s, RoomInviteLen, func(f byte) bool { return f&^FlagPIN == 0 }, ErrFragment)
	if err != nil {
		return RoomInvite{}, err
	}
	if !validSeat(b[2]) {
		return RoomInvite{}, fmt.Errorf("%w: seat", ErrFragment)
	}
	r := RoomInvite{Flags: b[1], Seat: b[2]}
	copy(r.SeatKey[:], b[3:])
	copy(r.RoomKey[:], b[3+KeySize:])
	return r, nil
}

func validSeat(s byte) bool { return s >= 1 && s <= RoomMaxSeats }

// RoomPINSalt is HKDF(Kr, "", "sealdrop/v1 room pin-salt", 16): every seat stretches a PIN
// with the room's salt, so one stretch serves the seat's tokens and the room's MAC key.
func RoomPINSalt(Kr []byte) []byte { return derive(Kr, nil, labelRoomPINSalt, 16) }

// RoomStretchPIN is P = PBKDF2-HMAC-SHA-256(pin, RoomPINSalt(Kr), 300000, 32), digits mapped
// as for a note.
func RoomStretchPIN(Kr []byte, pin string) []byte { return stretchPIN(pin, RoomPINSalt(Kr)) }

// RoomGateToken is G_s = HKDF(K_s, "", "sealdrop/v1 room gate", 32).
func RoomGateToken(Ks []byte) []byte { return derive(Ks, nil, labelRoomGate, KeySize) }

// RoomOpenToken is O_s = HKDF(K_s, P, "sealdrop/v1 room open", 32).
func RoomOpenToken(Ks, P []byte) []byte { return derive(Ks, P, labelRoomOpen, KeySize) }

// RoomDestructToken is D_s = HKDF(K_s, P, "sealdrop/v1 room destruct", 32).
func RoomDestructToken(Ks, P []byte) []byte { return derive(Ks, P, labelRoomDestruct, KeySize) }

// RoomMACKey is Km = HKDF(Kr, P or "", "sealdrop/v1 room mac", 32): it authenticates every
// hello, so the relay (which never has Kr) cannot add a member.
func RoomMACKey(Kr, P []byte) []byte { return derive(Kr, P, labelRoomMAC, KeySize) }

// CheckRoomName checks a member's display name: the rules of a drop's name (CheckDropName),
// at most RoomNameMax characters.
func CheckRoomName(name string) error { return checkName(name, RoomNameMax, ErrRoomName) }

// RoomNameKey is what two names are compared by to mark duplicates: every character of General
// Category M (marks) or Cf (format) left out, the fullwidth forms U+FF01 … U+FF5E taken as
// U+0021 … U+007E, and every other character lowercased by Unicode's simple mapping
// (unicode.ToLower; the page takes the first code point of toLowerCase, which is the same).
// Not NFKC (the standard library has no normalisation; SECURITY.md says what this catches and
// misses): the seat number beside every name is what tells members apart.
func RoomNameKey(name string) string {
	out := make([]rune, 0, len(name))
	for _, c := range name {
		switch {
		case unicode.In(c, unicode.M, unicode.Cf):
			continue
		case c >= 0xff01 && c <= 0xff5e:
			c -= 0xfee0
		}
		out = append(out, unicode.ToLower(c))
	}
	return string(out)
}

// EncodeRoomMessage is the chat's inner message encoding (EncodeChatMessage) with one more
// type, RoomMsgName, whose body must pass CheckRoomName; a bye's body is its count
// (RoomByeSize bytes; RoomMember.Bye makes it).
func EncodeRoomMessage(typ byte, body []byte) ([]byte, error) {
	switch {
	case typ == RoomMsgName:
		if err := CheckRoomName(string(body)); err != nil {
			return nil, err
		}
	case typ == ChatMsgBye && len(body) != RoomByeSize:
		return nil, fmt.Errorf("protocol: room: bye: %w", ErrFormat)
	}
	return encodeInner(typ, RoomMsgName, body)
}

// DecodeRoomMessage parses an inner message of a room; a name that breaks the name rules, or a
// bye without its 8-byte count, is ErrFormat, as any other malformed message.
func DecodeRoomMessage(p []byte) (byte, []byte, error) {
	typ, body, err := decodeInner(p, RoomMsgName)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case typ == RoomMsgName && CheckRoomName(string(body)) != nil:
		return 0, nil, fmt.Errorf("protocol: room: name: %w", ErrFormat)
	case typ == ChatMsgBye && len(body) != RoomByeSize:
		return 0, nil, fmt.Errorf("protocol: room: bye: %w", ErrFormat)
	}
	return typ, body, nil
}

// ---- a member's state ----

// roomChain is a sender's chain key in one version and the sequence number it is at. An erased
// chain keeps its next (the count the previous-count check needs) and drops its key.
type roomChain struct {
	ck   []byte
	next uint64
}

func (c *roomChain) wipe() { clear(c.ck); c.ck = nil }

// roomLast is a count of one seat's data records in one version.
type roomLast struct {
	v    uint32
	next uint64
}

// roomVersion is what a member holds of one membership version.
type roomVersion struct {
	v       uint32
	members []byte // `in`, ascending
	hellos  map[byte][]byte
	keys    map[byte][]byte // the keys records taken, for the byte-identical re-send
	pubs    map[byte]*ecdh.PublicKey
	priv    *ecdh.PrivateKey // this member's X; nil once erased
	th      []byte           // nil until every member's hello is in
	recv    map[byte]*roomChain
	done    bool      // every other member's keys opened (or nobody else)
	closed  bool      // (as the previous version) its chains are erased: no record of it opens
	taken   time.Time // when this member took the member list (and sent its hello)
}

func (v *roomVersion) member(s byte) bool { _, ok := slices.BinarySearch(v.members, s); return ok }

// close erases the receiving chains (their counts stay) and the ephemeral key.
func (v *roomVersion) close() {
	for _, c := range v.recv {
		c.wipe()
	}
	v.closed = true
	v.priv = nil
}

// roomFixed pins what is normally random, for the vector tests only: the signing scalar, the
// ephemeral scalar and chain key of each version, and deterministic (RFC 6979) signatures.
// Reused in two rooms it would repeat keys, so it is not exported.
type roomFixed struct {
	Sign      []byte
	Ephemeral map[uint32][]byte
	Chain     map[uint32][]byte
}

// fixedEphemeral is the pinned ephemeral scalar of version v, or nil (then it is random).
func (m *RoomMember) fixedEphemeral(v uint32) []byte {
	if m.fixed == nil {
		return nil
	}
	return m.fixed.Ephemeral[v]
}

// RoomMember is one member's side of a room: its signing key, the signing keys and names pinned
// for every seat seen, the seats that ended, the current membership version and the previous
// one (its chains until the current one is complete or 60 s passed). A refused record changes
// nothing. Not safe for concurrent use; nothing here is ever written anywhere.
type RoomMember struct {
	id       [RoomIDSize]byte
	seat     byte
	km       []byte
	sign     *ecdsa.PrivateKey
	signPub  []byte
	sigma    map[byte][]byte // seat → Σ, pinned at its first hello
	names    map[byte]string // seat → its first name
	byes     map[byte]bool   // seats whose signed bye came
	listed   []byte          // in ∪ out of the last list taken
	ended    map[byte]bool   // seats that left a list taken: they never come back
	floor    uint32          // the highest version of any list taken or left out of
	first    uint32          // the first version this member took
	cur      *roomVersion
	prev     *roomVersion
	send     *roomChain        // this member's chain in cur once its keys went out
	sentPrev roomLast          // the last version before cur in which this member held a sending chain, and its count
	last     map[byte]roomLast // seat → the last version in which this member held its receiving chain, and how many of its records it accepted (counts, no keys)
	fixed    *roomFixed
	now      func() time.Time
}

// RoomOpened is what an accepted record gives.
type RoomOpened struct {
	Type    byte   // RoomRecordHello, RoomRecordKeys or RoomRecordData
	Seat    byte   // the sender, as its verified record says
	Version uint32 // the record's membership version
	// Ignored: a byte-identical re-send of a hello or keys already taken, or a record of a
	// version before this member's first (a late joiner gets records sent before the others saw
	// it join): nothing changed, nothing to show.
	Ignored bool
	// Gap (data): records of this sender that did not arrive before this one (shown as order:
	// "n messages from seat s did not arrive"); the chain advanced past them, no key kept.
	Gap uint64
	// Missing (keys): records of the sender's previous version it counts and this member never
	// got (shown as order: held back just before the change, or sent in a version whose keys
	// from it never reached this member).
	Missing  uint64
	Message  []byte // a data record's inner message, as sealed
	Inner    byte   // its type (DecodeRoomMessage)
	Body     []byte // its body
	Renamed  bool   // a name other than the seat's first: not taken (shown)
	Send     []byte // a keys record to send now (the last hello of the version came in), or nil
	Complete bool   // the version became complete with this record
}

// RoomSeats is what taking a member list gives.
type RoomSeats struct {
	Hello   []byte // this member's hello of the version to send, nil when it is alone
	Left    []byte // seats that ended after a signed bye
	Removed []byte // seats that ended without one: "removed by the server" (or connection lost)
}

// NewRoomMember makes the member of seat in room id, with a fresh signing key; km is RoomMACKey.
func NewRoomMember(id [RoomIDSize]byte, seat byte, km []byte) (*RoomMember, error) {
	return newRoomMemberWith(id, seat, km, nil, time.Now)
}

func newRoomMemberWith(id [RoomIDSize]byte, seat byte, km []byte, fixed *roomFixed, now func() time.Time) (*RoomMember, error) {
	if !validSeat(seat) {
		return nil, fmt.Errorf("protocol: room: seat %d: %w", seat, ErrFormat)
	}
	if len(km) != KeySize {
		return nil, ErrKey
	}
	m := &RoomMember{id: id, seat: seat, km: bytes.Clone(km), sigma: map[byte][]byte{}, names: map[byte]string{},
		byes: map[byte]bool{}, ended: map[byte]bool{}, last: map[byte]roomLast{}, fixed: fixed, now: now}
	var err error
	if fixed != nil {
		m.sign, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), fixed.Sign)
	} else {
		m.sign, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("protocol: room: signing key: %w", err)
	}
	if m.signPub, err = m.sign.PublicKey.Bytes(); err != nil {
		return nil, fmt.Errorf("protocol: room: signing key: %w", err)
	}
	return m, nil
}

// Seat is this member's seat.
func (m *RoomMember) Seat() byte { return m.seat }

// SigningKey is Σ, this member's public signing key (65 bytes).
func (m *RoomMember) SigningKey() []byte { return bytes.Clone(m.signPub) }

// Version is the current membership version (0 before the first member list).
func (m *RoomMember) Version() uint32 {
	if m.cur == nil {
		return 0
	}
	return m.cur.v
}

// Members are the seats of the current version.
func (m *RoomMember) Members() []byte {
	if m.cur == nil {
		return nil
	}
	return bytes.Clone(m.cur.members)
}

// Complete says whether the current version is complete: every other member's keys opened.
func (m *RoomMember) Complete() bool { return m.cur != nil && m.cur.done }

// Expire erases what the clock says must go: this member's ephemeral key of the current version
// 60 s after its hello, and the previous version's chains 60 s after the current list was taken.
// Every method calls it first; a client also calls it when Deadline comes, so that erasure does
// not wait for the next record.
func (m *RoomMember) Expire() {
	if m.cur == nil || m.now().Before(m.cur.taken.Add(RoomEraseAfter)) {
		return
	}
	m.cur.priv = nil
	if m.prev != nil && !m.prev.closed {
		m.prev.close()
	}
}

// Deadline is when Expire next has something to erase (zero when nothing waits).
func (m *RoomMember) Deadline() time.Time {
	if m.cur == nil || (m.cur.priv == nil && (m.prev == nil || m.prev.closed)) {
		return time.Time{}
	}
	return m.cur.taken.Add(RoomEraseAfter)
}

// RoomName is a seat's name as a member shows it.
type RoomName struct {
	Seat      byte
	Name      string
	Duplicate bool // another seat's name has the same RoomNameKey: all of them are marked
}

// Names are the names of every seat that sent one, ended seats included, in seat order.
func (m *RoomMember) Names() []RoomName {
	keys := map[string]int{}
	for _, n := range m.names {
		keys[RoomNameKey(n)]++
	}
	var out []RoomName
	for s := byte(1); s <= RoomMaxSeats; s++ {
		if n, ok := m.names[s]; ok {
			out = append(out, RoomName{Seat: s, Name: n, Duplicate: keys[RoomNameKey(n)] > 1})
		}
	}
	return out
}

func (m *RoomMember) signRaw(msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	out := make([]byte, roomSig)
	if m.fixed != nil { // RFC 6979: the same vectors every run
		der, err := m.sign.Sign(nil, h[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			return nil, err
		}
		rs.R.FillBytes(out[:32])
		rs.S.FillBytes(out[32:])
		return out, nil
	}
	r, s, err := ecdsa.Sign(rand.Reader, m.sign, h[:])
	if err != nil {
		return nil, err
	}
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// roomVerify checks a raw r ‖ s signature of msg by the uncompressed public key pub.
func roomVerify(pub, msg, sig []byte) bool {
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub)
	if err != nil || len(sig) != roomSig {
		return false
	}
	h := sha256.Sum256(msg)
	return ecdsa.Verify(k, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func (m *RoomMember) helloMAC(headerAndSig []byte) []byte {
	mac := hmac.New(sha256.New, m.km)
	mac.Write([]byte(labelRoomHello))
	mac.Write(m.id[:])
	mac.Write(headerAndSig)
	return mac.Sum(nil)
}

// signed is what a signature covers: label ‖ room id ‖ parts (for keys: th_V ‖ the record).
func (m *RoomMember) signed(label string, parts ...[]byte) []byte {
	return slices.Concat(append([][]byte{[]byte(label), m.id[:]}, parts...)...)
}

// aad is "sealdrop/v1 room" ‖ 0x01 ‖ room id ‖ parts.
func (m *RoomMember) aad(parts ...[]byte) []byte {
	return slices.Concat(append([][]byte{[]byte(roomTranscript), {Version}, m.id[:]}, parts...)...)
}

// chainCommit is SHA-256("sealdrop/v1 room chain" ‖ CK).
func chainCommit(ck []byte) []byte {
	h := sha256.Sum256(slices.Concat([]byte(labelRoomChain), ck))
	return h[:]
}

func checkSeatList(list []byte, empty bool) bool {
	if len(list) > RoomMaxSeats || (!empty && len(list) == 0) {
		return false
	}
	for i, s := range list {
		if !validSeat(s) || (i > 0 && s <= list[i-1]) {
			return false
		}
	}
	return true
}

// Seats takes the relay's member list {"t":"seats","v":v,"in":in,"out":out} and returns this
// member's hello of v (nil when it is alone) and the seats that ended since the last list. In
// order: ErrFormat (in or out not ascending seats 1 … 8, in empty, a seat in both, this member
// in neither), ErrRoomEpoch (v not above every list seen; or this member in out: it remembers
// v, so that no list at or below it is taken later, and changes nothing else), ErrRoomView (a
// seat that ended listed again). A list whose in is unchanged is taken (a new version with
// fresh keys; SECURITY.md says why). Taking it erases this member's own chain of the current
// version, which becomes the previous one (its receiving chains kept until v is complete or
// 60 s), and what was before it.
func (m *RoomMember) Seats(v uint32, in, out []byte) (RoomSeats, error) {
	m.Expire()
	if v == 0 || !checkSeatList(in, false) || !checkSeatList(out, true) || len(in)+len(out) > RoomMaxSeats {
		return RoomSeats{}, fmt.Errorf("protocol: room: member list: %w", ErrFormat)
	}
	for _, s := range out {
		if slices.Contains(in, s) {
			return RoomSeats{}, fmt.Errorf("protocol: room: member list: %w", ErrFormat)
		}
	}
	if !slices.Contains(in, m.seat) && !slices.Contains(out, m.seat) {
		return RoomSeats{}, fmt.Errorf("protocol: room: member list without this member: %w", ErrFormat)
	}
	if v <= m.floor {
		return RoomSeats{}, ErrRoomEpoch
	}
	for _, s := range slices.Concat(in, out) {
		if m.ended[s] || m.byes[s] { // a verified bye ends the seat as a list leaving it out would
			return RoomSeats{}, fmt.Errorf("%w: seat %d ended and is listed again", ErrRoomView, s)
		}
	}
	if slices.Contains(out, m.seat) {
		m.floor = v
		return RoomSeats{}, fmt.Errorf("%w: this member is left out of version %d", ErrRoomEpoch, v)
	}
	nv := &roomVersion{v: v, members: bytes.Clone(in), hellos: map[byte][]byte{}, keys: map[byte][]byte{},
		pubs: map[byte]*ecdh.PublicKey{}, recv: map[byte]*roomChain{}, taken: m.now()}
	var res RoomSeats
	if len(in) > 1 {
		var err error
		if k := m.fixedEphemeral(v); k != nil {
			nv.priv, err = ecdh.P256().NewPrivateKey(k)
		} else {
			nv.priv, err = ecdh.P256().GenerateKey(rand.Reader)
		}
		if err != nil {
			return RoomSeats{}, fmt.Errorf("protocol: room: ephemeral key: %w", err)
		}
		header := make([]byte, 0, RoomHelloSize)
		header = append(header, RoomRecordHello)
		header = binary.BigEndian.AppendUint32(header, v)
		header = append(header, m.seat)
		header = append(header, nv.priv.PublicKey().Bytes()...)
		header = append(header, m.signPub...)
		sig, err := m.signRaw(m.signed(labelRoomHello, header))
		if err != nil {
			return RoomSeats{}, fmt.Errorf("protocol: room: sign: %w", err)
		}
		res.Hello = append(header, sig...)
		res.Hello = append(res.Hello, m.helloMAC(res.Hello)...)
		nv.hellos[m.seat] = res.Hello
	} else {
		nv.done = true
	}
	// Accepted: from here on the state changes.
	all := slices.Concat(in, out)
	for _, s := range m.listed {
		if !slices.Contains(all, s) {
			m.ended[s] = true
			if m.byes[s] {
				res.Left = append(res.Left, s)
			} else {
				res.Removed = append(res.Removed, s)
			}
		}
	}
	m.listed = all
	if m.prev != nil {
		m.prev.close()
	}
	m.prev = nil
	if m.send != nil { // this member's own chain of the version before goes at its hello
		m.sentPrev = roomLast{v: m.cur.v, next: m.send.next}
		m.send.wipe()
		m.send = nil
	}
	if m.cur != nil {
		m.cur.priv = nil
		m.prev = m.cur
		if nv.done {
			m.prev.close()
		}
	}
	if m.first == 0 {
		m.first = v
	}
	m.floor = v
	m.cur = nv
	return res, nil
}

// Open checks one record the relay delivered with stamp, the seat the relay says sent it, and
// returns what it gives. Refusals change nothing; their order is in SECURITY.md ("Checks, in
// order") and in openHello, openKeys and openData.
func (m *RoomMember) Open(stamp byte, rec []byte) (RoomOpened, error) {
	m.Expire()
	if len(rec) == 0 {
		return RoomOpened{}, fmt.Errorf("protocol: room: empty record: %w", ErrFormat)
	}
	switch rec[0] {
	case RoomRecordHello:
		return m.openHello(stamp, rec)
	case RoomRecordKeys:
		return m.openKeys(stamp, rec)
	case RoomRecordData:
		return m.openData(stamp, rec)
	}
	return RoomOpened{}, fmt.Errorf("protocol: room: record type: %w", ErrFormat)
}

// sender checks what every record shares after its format: the seat is not this member's and is
// the relay's stamp (reflect). ignore says the record is of a version before this member's first.
func (m *RoomMember) sender(stamp byte, rec []byte) (v uint32, s byte, ignore bool, err error) {
	v, s = binary.BigEndian.Uint32(rec[1:]), rec[5]
	if s == m.seat || s != stamp {
		return 0, 0, false, ErrRoomReflect
	}
	return v, s, m.first != 0 && v < m.first, nil
}

// once checks a record a seat sends once per version (a hello, a keys record): of the current
// version (epoch), from one of its members (ghost), the first of its kind from that seat or a
// byte-identical copy of it (ignore; anything else is replay), while this member still holds
// its ephemeral key of the version (epoch: more than 60 s after its hello).
func (m *RoomMember) once(v uint32, s byte, rec []byte, taken func(*roomVersion) []byte) (*roomVersion, bool, error) {
	switch {
	case m.cur == nil || v != m.cur.v:
		return nil, false, ErrRoomEpoch
	case !m.cur.member(s):
		return nil, false, ErrRoomGhost
	}
	if old := taken(m.cur); old != nil {
		if bytes.Equal(old, rec) { // audit:ok public records
			return nil, true, nil
		}
		return nil, false, ErrRoomReplay
	}
	if m.cur.priv == nil {
		return nil, false, fmt.Errorf("%w: this member's ephemeral key of version %d is erased", ErrRoomEpoch, v)
	}
	return m.cur, false, nil
}

// openHello: ErrFormat (length, seat byte, X or Σ not a P-256 point), ErrRoomReflect, (a
// version before the first: ignored), ErrRoomEpoch (not the current version), ErrRoomGhost,
// ErrRoomReplay (or ignored), ErrRoomEpoch (ephemeral erased), ErrRoomHandshake (MAC, then a
// changed Σ, then the signature).
func (m *RoomMember) openHello(stamp byte, rec []byte) (RoomOpened, error) {
	if len(rec) != RoomHelloSize || !validSeat(rec[5]) {
		return RoomOpened{}, fmt.Errorf("protocol: room: hello: %w", ErrFormat)
	}
	x, err := ecdh.P256().NewPublicKey(rec[6 : 6+roomPoint])
	if err != nil {
		return RoomOpened{}, fmt.Errorf("protocol: room: hello key: %w", ErrFormat)
	}
	sigma := rec[6+roomPoint : RoomHelloHeader]
	if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), sigma); err != nil {
		return RoomOpened{}, fmt.Errorf("protocol: room: hello signing key: %w", ErrFormat)
	}
	v, s, ignore, err := m.sender(stamp, rec)
	if err != nil || ignore {
		return RoomOpened{Type: RoomRecordHello, Seat: s, Version: v, Ignored: ignore}, err
	}
	cur, ignore, err := m.once(v, s, rec, func(c *roomVersion) []byte { return c.hellos[s] })
	if err != nil || ignore {
		return RoomOpened{Type: RoomRecordHello, Seat: s, Version: v, Ignored: ignore}, err
	}
	if !hmac.Equal(m.helloMAC(rec[:RoomHelloHeader+roomSig]), rec[RoomHelloHeader+roomSig:]) {
		return RoomOpened{}, fmt.Errorf("%w: MAC", ErrRoomHandshake)
	}
	if pinned := m.sigma[s]; pinned != nil && !bytes.Equal(pinned, sigma) { // audit:ok public keys
		return RoomOpened{}, fmt.Errorf("%w: seat %d's signing key changed", ErrRoomHandshake, s)
	}
	if !roomVerify(sigma, m.signed(labelRoomHello, rec[:RoomHelloHeader]), rec[RoomHelloHeader:RoomHelloHeader+roomSig]) {
		return RoomOpened{}, fmt.Errorf("%w: signature", ErrRoomHandshake)
	}
	out := RoomOpened{Type: RoomRecordHello, Seat: s, Version: v}
	var th []byte
	var send *roomChain
	if len(cur.hellos)+1 == len(cur.members) { // the last hello: make this member's keys
		hellos, pubs := maps.Clone(cur.hellos), maps.Clone(cur.pubs)
		hellos[s], pubs[s] = rec, x
		th = m.transcript(cur.v, cur.members, hellos)
		out.Send, send, err = m.keysRecord(cur, th, pubs)
		if err != nil {
			return RoomOpened{}, err
		}
	}
	// Accepted: from here on the state changes.
	cur.hellos[s] = bytes.Clone(rec)
	cur.pubs[s] = x
	if m.sigma[s] == nil {
		m.sigma[s] = bytes.Clone(sigma)
	}
	if th != nil {
		cur.th = th
		m.send = send
	}
	return out, nil
}

// transcript is th_V = SHA-256("sealdrop/v1 room" ‖ 0x01 ‖ room id ‖ V ‖ the members' hellos of
// V in seat order).
func (m *RoomMember) transcript(v uint32, members []byte, hellos map[byte][]byte) []byte {
	h := sha256.New()
	h.Write([]byte(roomTranscript))
	h.Write([]byte{Version})
	h.Write(m.id[:])
	h.Write(binary.BigEndian.AppendUint32(nil, v))
	for _, s := range members {
		h.Write(hellos[s])
	}
	return h.Sum(nil)
}

// pairKey is k_s→t = HKDF(ECDH(X_s, X_t) ‖ Km, th_V, "sealdrop/v1 room pair" ‖ s ‖ t, 32).
func (m *RoomMember) pairKey(priv *ecdh.PrivateKey, pub *ecdh.PublicKey, th []byte, s, t byte) ([]byte, error) {
	z, err := priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("protocol: room: ecdh: %w", ErrFormat)
	}
	ikm := append(z, m.km...)
	k := derive(ikm, th, labelRoomPair+string([]byte{s, t}), KeySize)
	clear(ikm)
	return k, nil
}

// keysEntryAAD is the AAD of the chain key s seals to t: "sealdrop/v1 room" ‖ 0x01 ‖ room id ‖
// V ‖ s ‖ t ‖ th_V.
func (m *RoomMember) keysEntryAAD(v uint32, s, t byte, th []byte) []byte {
	return m.aad(binary.BigEndian.AppendUint32(nil, v), []byte{s, t}, th)
}

// keysRecord draws this member's chain key of version cur and seals it to every other member.
func (m *RoomMember) keysRecord(cur *roomVersion, th []byte, pubs map[byte]*ecdh.PublicKey) ([]byte, *roomChain, error) {
	ck := make([]byte, KeySize)
	if m.fixed != nil && m.fixed.Chain[cur.v] != nil {
		if len(m.fixed.Chain[cur.v]) != KeySize {
			return nil, nil, ErrKey
		}
		copy(ck, m.fixed.Chain[cur.v])
	} else if _, err := rand.Read(ck); err != nil {
		return nil, nil, err
	}
	n := len(cur.members) - 1
	rec := make([]byte, 0, RoomKeysHeader+n*RoomKeysEntry+roomSig)
	rec = append(rec, RoomRecordKeys)
	rec = binary.BigEndian.AppendUint32(rec, cur.v)
	rec = append(rec, m.seat)
	rec = binary.BigEndian.AppendUint32(rec, m.sentPrev.v)
	rec = binary.BigEndian.AppendUint64(rec, m.sentPrev.next)
	rec = append(rec, chainCommit(ck)...)
	rec = append(rec, byte(n))
	for _, t := range cur.members {
		if t == m.seat {
			continue
		}
		k, err := m.pairKey(cur.priv, pubs[t], th, m.seat, t)
		if err != nil {
			return nil, nil, err
		}
		aead, err := gcm(k)
		clear(k)
		if err != nil {
			return nil, nil, err
		}
		rec = append(rec, t)
		rec = aead.Seal(rec, make([]byte, 12), ck, m.keysEntryAAD(cur.v, m.seat, t, th))
	}
	sig, err := m.signRaw(m.signed(labelRoomKeys, th, rec))
	if err != nil {
		return nil, nil, fmt.Errorf("protocol: room: sign: %w", err)
	}
	return append(rec, sig...), &roomChain{ck: ck}, nil
}

// openKeys: ErrFormat (length = 51 + 49 × count + 64, count < 8, seat bytes; the previous version
// not below V, a previous count above RoomMaxSeq, or a count without a version), ErrRoomReflect,
// (before the first version: ignored), ErrRoomEpoch, ErrRoomGhost, ErrRoomReplay (or ignored),
// ErrRoomEpoch (ephemeral erased), ErrRoomOrder (not every hello in), ErrRoomView (the entries
// are not exactly the other members; the signature under this member's th_V; this member's
// entry does not open; fewer records of the previous version than this member accepted, or an
// earlier previous version than the last of which this member took s's keys), ErrAuth (the opened
// chain key is not the one committed to).
func (m *RoomMember) openKeys(stamp byte, rec []byte) (RoomOpened, error) {
	if len(rec) < RoomKeysHeader+roomSig || !validSeat(rec[5]) {
		return RoomOpened{}, fmt.Errorf("protocol: room: keys: %w", ErrFormat)
	}
	count := int(rec[RoomKeysHeader-1])
	if count >= RoomMaxSeats || len(rec) != RoomKeysHeader+count*RoomKeysEntry+roomSig {
		return RoomOpened{}, fmt.Errorf("protocol: room: keys: %w", ErrFormat)
	}
	// The previous version is before V, a count above RoomMaxSeq was never sealed, and no count
	// comes without a version.
	prevV, sent := binary.BigEndian.Uint32(rec[6:]), binary.BigEndian.Uint64(rec[10:])
	if prevV >= binary.BigEndian.Uint32(rec[1:]) || sent > RoomMaxSeq || prevV == 0 && sent != 0 {
		return RoomOpened{}, fmt.Errorf("protocol: room: keys: previous version or count: %w", ErrFormat)
	}
	entries := make([]byte, count)
	for i := range count {
		if entries[i] = rec[RoomKeysHeader+i*RoomKeysEntry]; !validSeat(entries[i]) {
			return RoomOpened{}, fmt.Errorf("protocol: room: keys: %w", ErrFormat)
		}
	}
	v, s, ignore, err := m.sender(stamp, rec)
	if err != nil || ignore {
		return RoomOpened{Type: RoomRecordKeys, Seat: s, Version: v, Ignored: ignore}, err
	}
	cur, ignore, err := m.once(v, s, rec, func(c *roomVersion) []byte { return c.keys[s] })
	if err != nil || ignore {
		return RoomOpened{Type: RoomRecordKeys, Seat: s, Version: v, Ignored: ignore}, err
	}
	if cur.th == nil {
		return RoomOpened{}, ErrRoomOrder
	}
	others := slices.DeleteFunc(bytes.Clone(cur.members), func(t byte) bool { return t == s })
	if !bytes.Equal(entries, others) { // audit:ok seat numbers, public
		return RoomOpened{}, fmt.Errorf("%w: the keys name other members", ErrRoomView)
	}
	body := rec[:len(rec)-roomSig]
	if !roomVerify(m.sigma[s], m.signed(labelRoomKeys, cur.th, body), rec[len(body):]) {
		return RoomOpened{}, fmt.Errorf("%w: signature under this transcript", ErrRoomView)
	}
	i := slices.Index(entries, m.seat)
	k, err := m.pairKey(cur.priv, cur.pubs[s], cur.th, s, m.seat)
	if err != nil {
		return RoomOpened{}, err
	}
	aead, err := gcm(k)
	clear(k)
	if err != nil {
		return RoomOpened{}, err
	}
	at := RoomKeysHeader + i*RoomKeysEntry + 1
	ck, err := aead.Open(nil, make([]byte, 12), rec[at:at+KeySize+TagSize], m.keysEntryAAD(v, s, m.seat, cur.th))
	if err != nil {
		return RoomOpened{}, fmt.Errorf("%w: the chain key does not open", ErrRoomView)
	}
	if !hmac.Equal(chainCommit(ck), rec[18:50]) {
		clear(ck)
		return RoomOpened{}, fmt.Errorf("%w: seat %d sealed another chain key than it committed to", ErrAuth, s)
	}
	out := RoomOpened{Type: RoomRecordKeys, Seat: s, Version: v}
	// The previous count, against what this member accepted from s in the last version in which
	// it held s's receiving chain: the same version, compared; a later one (which never reached
	// this member, or whose keys from s did not), every record missing unless it came before this
	// member's first version; an earlier one is a lie, as s sent keys of that later version.
	switch l := m.last[s]; {
	case prevV == l.v && sent < l.next:
		clear(ck)
		return RoomOpened{}, fmt.Errorf("%w: seat %d counts %d records of version %d, %d came", ErrRoomView, s, sent, prevV, l.next)
	case prevV == l.v:
		out.Missing = sent - l.next
	case prevV < l.v:
		clear(ck)
		return RoomOpened{}, fmt.Errorf("%w: seat %d counts version %d, its keys of version %d came", ErrRoomView, s, prevV, l.v)
	case prevV >= m.first:
		out.Missing = sent
	}
	// Accepted: from here on the state changes.
	cur.keys[s] = bytes.Clone(rec)
	cur.recv[s] = &roomChain{ck: ck}
	m.last[s] = roomLast{v: v}
	if len(cur.recv) == len(cur.members)-1 {
		// Complete: the ephemeral key and the previous version's chains go.
		cur.done, out.Complete = true, true
		cur.priv, cur.pubs = nil, nil
		if m.prev != nil {
			m.prev.close()
		}
	}
	return out, nil
}

// messageKey is mk = HMAC(CK, 0x01); next is HMAC(CK, 0x02).
func messageKey(ck []byte) []byte { return roomStep(ck, 1) }

func roomStep(ck []byte, b byte) []byte {
	mac := hmac.New(sha256.New, ck)
	mac.Write([]byte{b})
	return mac.Sum(nil)
}

// openData: ErrFormat (shorter than 14 + 16 + 64, seat byte), ErrRoomReflect, (before the
// first version: ignored), ErrRoomEpoch (neither the current version nor an open previous one,
// or the previous one after its sender's hello of the current one), ErrRoomGhost,
// ErrRoomOrder (no keys of the sender yet), ErrRoomReplay (seq below the next), ErrRoomOrder
// (more than RoomMaxGap ahead), ErrAuth (signature, then tag), ErrFormat (the inner message;
// a bye whose count is not its seq).
func (m *RoomMember) openData(stamp byte, rec []byte) (RoomOpened, error) {
	if len(rec) < RoomDataHeader+TagSize+roomSig || !validSeat(rec[5]) {
		return RoomOpened{}, fmt.Errorf("protocol: room: data: %w", ErrFormat)
	}
	v, s, ignore, err := m.sender(stamp, rec)
	if err != nil || ignore {
		return RoomOpened{Type: RoomRecordData, Seat: s, Version: v, Ignored: ignore}, err
	}
	var ver *roomVersion
	switch {
	case m.cur != nil && v == m.cur.v:
		ver = m.cur
	case m.prev != nil && v == m.prev.v && !m.prev.closed:
		if m.cur.hellos[s] != nil {
			return RoomOpened{}, fmt.Errorf("%w: seat %d moved on to version %d", ErrRoomEpoch, s, m.cur.v)
		}
		ver = m.prev // until the current version is complete, 60 s, or the sender's hello of it
	default:
		return RoomOpened{}, ErrRoomEpoch
	}
	if !ver.member(s) {
		return RoomOpened{}, ErrRoomGhost
	}
	seq := binary.BigEndian.Uint64(rec[6:])
	ch := ver.recv[s]
	switch {
	case ch == nil:
		return RoomOpened{}, fmt.Errorf("%w: no keys of seat %d yet", ErrRoomOrder, s)
	case seq < ch.next:
		return RoomOpened{}, ErrRoomReplay
	case seq-ch.next > RoomMaxGap:
		return RoomOpened{}, fmt.Errorf("%w: %d records ahead", ErrRoomOrder, seq-ch.next)
	}
	body := rec[:len(rec)-roomSig]
	if !roomVerify(m.sigma[s], m.signed(labelRoomData, body), rec[len(body):]) {
		return RoomOpened{}, fmt.Errorf("%w: signature", ErrAuth)
	}
	ck := bytes.Clone(ch.ck)
	for range seq - ch.next { // past a gap: no skipped key is kept
		next := roomStep(ck, 2)
		clear(ck)
		ck = next
	}
	mk := messageKey(ck)
	aead, err := gcm(mk)
	clear(mk)
	if err != nil {
		clear(ck)
		return RoomOpened{}, err
	}
	pt, err := aead.Open(nil, make([]byte, 12), body[RoomDataHeader:], m.aad(rec[:RoomDataHeader]))
	if err != nil {
		clear(ck)
		return RoomOpened{}, ErrAuth
	}
	typ, msg, err := DecodeRoomMessage(pt)
	if err == nil && typ == ChatMsgBye && binary.BigEndian.Uint64(msg) != seq {
		err = fmt.Errorf("protocol: room: a bye whose count is not its seq: %w", ErrFormat)
	}
	if err != nil {
		clear(ck)
		return RoomOpened{}, err
	}
	out := RoomOpened{Type: RoomRecordData, Seat: s, Version: v, Gap: seq - ch.next, Message: pt, Inner: typ, Body: msg}
	// Accepted: from here on the state changes.
	switch {
	case typ == RoomMsgName && m.names[s] == "":
		m.names[s] = string(msg)
	case typ == RoomMsgName && m.names[s] != string(msg): // audit:ok names this member reads anyway
		out.Renamed = true
	case typ == ChatMsgBye:
		m.byes[s] = true
	}
	ch.wipe()
	ch.ck, ch.next = roomStep(ck, 2), seq+1
	if m.last[s].v == v {
		m.last[s] = roomLast{v: v, next: seq + 1}
	}
	clear(ck)
	return out, nil
}

// Seal encrypts one inner message (EncodeRoomMessage) as this member's next data record of the
// current version; before its keys of the version went out it is ErrRoomWait.
func (m *RoomMember) Seal(inner []byte) ([]byte, error) {
	m.Expire()
	if m.send == nil {
		return nil, ErrRoomWait
	}
	if m.send.next > RoomMaxSeq {
		return nil, fmt.Errorf("protocol: room: sequence exhausted: %w", ErrFormat)
	}
	rec := make([]byte, RoomDataHeader, RoomDataHeader+len(inner)+TagSize+roomSig)
	rec[0] = RoomRecordData
	binary.BigEndian.PutUint32(rec[1:], m.cur.v)
	rec[5] = m.seat
	binary.BigEndian.PutUint64(rec[6:], m.send.next)
	mk := messageKey(m.send.ck)
	aead, err := gcm(mk)
	clear(mk)
	if err != nil {
		return nil, err
	}
	rec = aead.Seal(rec, make([]byte, 12), inner, m.aad(rec[:RoomDataHeader]))
	sig, err := m.signRaw(m.signed(labelRoomData, rec))
	if err != nil {
		return nil, fmt.Errorf("protocol: room: sign: %w", err)
	}
	next := roomStep(m.send.ck, 2)
	m.send.wipe()
	m.send.ck, m.send.next = next, m.send.next+1
	return append(rec, sig...), nil
}

// Bye seals this member's signed bye of the current version, carrying its count of data
// records sealed in the version before it; the client sends it before {"t":"leave"}.
func (m *RoomMember) Bye() ([]byte, error) {
	if m.send == nil {
		return nil, ErrRoomWait
	}
	inner, err := EncodeRoomMessage(ChatMsgBye, binary.BigEndian.AppendUint64(nil, m.send.next))
	if err != nil {
		return nil, err
	}
	return m.Seal(inner)
}

// SafetyCode is HKDF(SHA-256(seat ‖ Σ for each member of the current version in seat order),
// "", "sealdrop/v1 room safety", 12) as six groups of four digits: equal for members who see the
// same members with the same signing keys. ErrRoomWait until every member's hello is in.
func (m *RoomMember) SafetyCode() (string, error) {
	if m.cur == nil || len(m.cur.hellos) < len(m.cur.members) && len(m.cur.members) > 1 {
		return "", ErrRoomWait
	}
	h := sha256.New()
	for _, s := range m.cur.members {
		h.Write([]byte{s})
		if s == m.seat {
			h.Write(m.signPub)
		} else {
			h.Write(m.sigma[s])
		}
	}
	return safetyDigits(derive(h.Sum(nil), nil, labelRoomSafety, 12)), nil
}
