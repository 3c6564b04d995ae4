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
)

// One-time group rooms (SECURITY.md, "One-time group rooms"): up to 8 seats, sender keys with a
// fresh epoch at every membership version. Every record a member sends through the relay
// starts with a type byte:
//
//	hello = 0x01 ‖ V (4) ‖ seat (1) ‖ X (65) ‖ Σ (65) ‖ ECDSA signature (64) ‖ HMAC (32)       232 bytes
//	keys  = 0x02 ‖ V (4) ‖ seat (1) ‖ count (1) ‖ count × (seat (1) ‖ AES-GCM (48)) ‖ ECDSA (64)
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
	RoomKeysHeader  = 1 + 4 + 1 + 1                     // 7
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
)

const (
	labelRoomPINSalt  = "sealdrop/v1 room pin-salt"
	labelRoomGate     = "sealdrop/v1 room gate"
	labelRoomOpen     = "sealdrop/v1 room open"
	labelRoomDestruct = "sealdrop/v1 room destruct"
	labelRoomMAC      = "sealdrop/v1 room mac"
	labelRoomHello    = "sealdrop/v1 room hello"
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
	// ErrRoomEpoch: a record of a membership version this member holds no keys of (before it
	// joined, after it left, or the previous version once the current one is complete), or a
	// member list of a version not after the current one.
	ErrRoomEpoch = errors.New("protocol: room: record of another membership version")
	// ErrRoomGhost: a record from a seat that is not a member of its version.
	ErrRoomGhost = errors.New("protocol: room: record from a seat that is not a member")
	// ErrRoomReplay: a hello or keys record already taken from that seat in that version, or a
	// data record whose sequence number was already accepted.
	ErrRoomReplay = errors.New("protocol: room: replayed record")
	// ErrRoomOrder: a record ahead of what must come first: a data record beyond the sender's
	// next, or before its keys; a keys record before every hello of its version.
	ErrRoomOrder = errors.New("protocol: room: record out of order or missing")
	// ErrRoomView: a keys record that does not open under this member's transcript of the
	// version: the relay showed members different member lists or different hellos.
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

// EncodeRoomMessage is the chat's inner message encoding (EncodeChatMessage) with one more
// type, RoomMsgName, whose body must pass CheckRoomName.
func EncodeRoomMessage(typ byte, body []byte) ([]byte, error) {
	if typ == RoomMsgName {
		if err := CheckRoomName(string(body)); err != nil {
			return nil, err
		}
	}
	return encodeInner(typ, RoomMsgName, body)
}

// DecodeRoomMessage parses an inner message of a room; a name that breaks the name rules is
// ErrFormat, as any other malformed message.
func DecodeRoomMessage(p []byte) (byte, []byte, error) {
	typ, body, err := decodeInner(p, RoomMsgName)
	if err == nil && typ == RoomMsgName {
		if e := CheckRoomName(string(body)); e != nil {
			return 0, nil, fmt.Errorf("protocol: room: name: %w", ErrFormat)
		}
	}
	return typ, body, err
}

// ---- a member's state ----

// roomChain is a sender's chain key in one version and the sequence number it is at.
type roomChain struct {
	ck   []byte
	next uint64
}

func (c *roomChain) wipe() { clear(c.ck) }

// roomVersion is what a member holds of one membership version.
type roomVersion struct {
	v       uint32
	members []byte // ascending
	hellos  map[byte][]byte
	pubs    map[byte]*ecdh.PublicKey
	priv    *ecdh.PrivateKey // this member's X; nil once erased
	th      []byte           // nil until every member's hello is in
	recv    map[byte]*roomChain
	done    bool // every other member's keys opened (or nobody else)
}

func (v *roomVersion) member(s byte) bool { _, ok := slices.BinarySearch(v.members, s); return ok }

func (v *roomVersion) wipe() {
	for _, c := range v.recv {
		c.wipe()
	}
	v.recv = nil
	v.priv = nil
	v.pubs = nil
}

// roomFixed pins what is normally random, for the vector tests only: the signing scalar, the
// ephemeral scalar and chain key of each version, and deterministic (RFC 6979) signatures.
// Reused in two rooms it would repeat keys, so it is not exported.
type roomFixed struct {
	Sign      []byte
	Ephemeral map[uint32][]byte
	Chain     map[uint32][]byte
}

// RoomMember is one member's side of a room: its signing key, the signing keys pinned for
// every seat seen, the current membership version and, until that one is complete, the
// previous one. A refused record changes nothing. Not safe for concurrent use; nothing here is
// ever written anywhere.
type RoomMember struct {
	id      [RoomIDSize]byte
	seat    byte
	km      []byte
	sign    *ecdsa.PrivateKey
	signPub []byte
	sigma   map[byte][]byte // seat → Σ, pinned at its first hello
	cur     *roomVersion
	prev    *roomVersion
	send    *roomChain // this member's chain in cur once its keys went out
	fixed   *roomFixed
}

// RoomOpened is what an accepted record gives.
type RoomOpened struct {
	Type     byte   // RoomRecordHello, RoomRecordKeys or RoomRecordData
	Seat     byte   // the sender, as its verified record says
	Version  uint32 // the record's membership version
	Message  []byte // a data record's inner message (DecodeRoomMessage)
	Send     []byte // a keys record to send now (the last hello of the version came in), or nil
	Complete bool   // the version became complete with this record
}

// NewRoomMember makes the member of seat in room id, with a fresh signing key; km is RoomMACKey.
func NewRoomMember(id [RoomIDSize]byte, seat byte, km []byte) (*RoomMember, error) {
	return newRoomMemberWith(id, seat, km, nil)
}

func newRoomMemberWith(id [RoomIDSize]byte, seat byte, km []byte, fixed *roomFixed) (*RoomMember, error) {
	if !validSeat(seat) {
		return nil, fmt.Errorf("protocol: room: seat %d: %w", seat, ErrFormat)
	}
	if len(km) != KeySize {
		return nil, ErrKey
	}
	m := &RoomMember{id: id, seat: seat, km: bytes.Clone(km), sigma: map[byte][]byte{}, fixed: fixed}
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

func (m *RoomMember) helloSigned(header []byte) []byte {
	return slices.Concat([]byte(labelRoomHello), m.id[:], header)
}

// aad is "sealdrop/v1 room" ‖ 0x01 ‖ room id ‖ header.
func (m *RoomMember) aad(header ...[]byte) []byte {
	return slices.Concat(append([][]byte{[]byte(roomTranscript), {Version}, m.id[:]}, header...)...)
}

// Seats takes the relay's member list of version v (the seats here and away, this member's
// among them) and returns this member's hello of v to send, or nil when it is alone. A version
// not after the current one is ErrRoomEpoch; a list that is not ascending seats 1 … 8 with this
// member's is ErrFormat. The previous version's receiving chains are kept until v is complete;
// older ones, and the previous ephemeral key and sending chain, are erased.
func (m *RoomMember) Seats(v uint32, members []byte) ([]byte, error) {
	if v == 0 || len(members) == 0 || len(members) > RoomMaxSeats || !slices.Contains(members, m.seat) {
		return nil, fmt.Errorf("protocol: room: member list: %w", ErrFormat)
	}
	for i, s := range members {
		if !validSeat(s) || (i > 0 && s <= members[i-1]) {
			return nil, fmt.Errorf("protocol: room: member list: %w", ErrFormat)
		}
	}
	if m.cur != nil && v <= m.cur.v {
		return nil, ErrRoomEpoch
	}
	nv := &roomVersion{v: v, members: bytes.Clone(members), hellos: map[byte][]byte{},
		pubs: map[byte]*ecdh.PublicKey{}, recv: map[byte]*roomChain{}}
	var hello []byte
	if len(members) > 1 {
		var err error
		if m.fixed != nil {
			nv.priv, err = ecdh.P256().NewPrivateKey(m.fixed.Ephemeral[v])
		} else {
			nv.priv, err = ecdh.P256().GenerateKey(rand.Reader)
		}
		if err != nil {
			return nil, fmt.Errorf("protocol: room: ephemeral key: %w", err)
		}
		header := make([]byte, 0, RoomHelloSize)
		header = append(header, RoomRecordHello)
		header = binary.BigEndian.AppendUint32(header, v)
		header = append(header, m.seat)
		header = append(header, nv.priv.PublicKey().Bytes()...)
		header = append(header, m.signPub...)
		sig, err := m.signRaw(m.helloSigned(header))
		if err != nil {
			return nil, fmt.Errorf("protocol: room: sign: %w", err)
		}
		hello = append(header, sig...)
		hello = append(hello, m.helloMAC(hello)...)
		nv.hellos[m.seat] = hello
	} else {
		nv.done = true
	}
	if m.prev != nil {
		m.prev.wipe()
	}
	m.prev = nil
	if m.cur != nil {
		m.cur.priv = nil
		m.cur.pubs = nil
		m.prev = m.cur
	}
	if nv.done && m.prev != nil {
		m.prev.wipe()
		m.prev = nil
	}
	if m.send != nil {
		m.send.wipe()
		m.send = nil
	}
	m.cur = nv
	return bytes.Clone(hello), nil
}

// Open checks one record the relay delivered with stamp, the seat the relay says sent it, and
// returns what it gives. Refusals, in this order, change nothing: ErrFormat, ErrRoomReflect,
// ErrRoomEpoch, ErrRoomGhost, ErrRoomReplay, ErrRoomOrder, then ErrRoomHandshake (hello),
// ErrRoomView (keys) or ErrAuth (data).
func (m *RoomMember) Open(stamp byte, rec []byte) (RoomOpened, error) {
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
// the relay's stamp (reflect), and the record's version is the current one (epoch).
func (m *RoomMember) sender(stamp byte, rec []byte) (uint32, byte, error) {
	v, s := binary.BigEndian.Uint32(rec[1:]), rec[5]
	if s == m.seat || s != stamp {
		return 0, 0, ErrRoomReflect
	}
	return v, s, nil
}

// once checks a record a seat sends once per version (a hello, a keys record): of the current
// version (epoch), from one of its members (ghost), the first of its kind from that seat (replay).
func (m *RoomMember) once(v uint32, s byte, taken func(*roomVersion) bool) (*roomVersion, error) {
	switch {
	case m.cur == nil || v != m.cur.v:
		return nil, ErrRoomEpoch
	case !m.cur.member(s):
		return nil, ErrRoomGhost
	case taken(m.cur):
		return nil, ErrRoomReplay
	}
	return m.cur, nil
}

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
	v, s, err := m.sender(stamp, rec)
	if err != nil {
		return RoomOpened{}, err
	}
	cur, err := m.once(v, s, func(c *roomVersion) bool { return c.hellos[s] != nil })
	if err != nil {
		return RoomOpened{}, err
	}
	if !hmac.Equal(m.helloMAC(rec[:RoomHelloHeader+roomSig]), rec[RoomHelloHeader+roomSig:]) {
		return RoomOpened{}, fmt.Errorf("%w: MAC", ErrRoomHandshake)
	}
	if pinned := m.sigma[s]; pinned != nil && !bytes.Equal(pinned, sigma) { // audit:ok public keys
		return RoomOpened{}, fmt.Errorf("%w: seat %d's signing key changed", ErrRoomHandshake, s)
	}
	if !roomVerify(sigma, m.helloSigned(rec[:RoomHelloHeader]), rec[RoomHelloHeader:RoomHelloHeader+roomSig]) {
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

// keysEntryAAD is the AAD of one sealed chain key: the keys record's header and the recipient.
func (m *RoomMember) keysEntryAAD(header []byte, t byte) []byte { return m.aad(header, []byte{t}) }

// keysRecord draws this member's chain key of version cur and seals it to every other member.
func (m *RoomMember) keysRecord(cur *roomVersion, th []byte, pubs map[byte]*ecdh.PublicKey) ([]byte, *roomChain, error) {
	ck := make([]byte, KeySize)
	if m.fixed != nil {
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
	rec = append(rec, m.seat, byte(n))
	header := bytes.Clone(rec)
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
		rec = aead.Seal(rec, make([]byte, 12), ck, m.keysEntryAAD(header, t))
	}
	sig, err := m.signRaw(slices.Concat(th, rec))
	if err != nil {
		return nil, nil, fmt.Errorf("protocol: room: sign: %w", err)
	}
	return append(rec, sig...), &roomChain{ck: ck}, nil
}

func (m *RoomMember) openKeys(stamp byte, rec []byte) (RoomOpened, error) {
	if len(rec) < RoomKeysHeader+roomSig || !validSeat(rec[5]) ||
		len(rec) != RoomKeysHeader+int(rec[6])*RoomKeysEntry+roomSig || int(rec[6]) >= RoomMaxSeats {
		return RoomOpened{}, fmt.Errorf("protocol: room: keys: %w", ErrFormat)
	}
	count := int(rec[6])
	entries := make([]byte, count)
	for i := range count {
		if entries[i] = rec[RoomKeysHeader+i*RoomKeysEntry]; !validSeat(entries[i]) {
			return RoomOpened{}, fmt.Errorf("protocol: room: keys: %w", ErrFormat)
		}
	}
	v, s, err := m.sender(stamp, rec)
	if err != nil {
		return RoomOpened{}, err
	}
	cur, err := m.once(v, s, func(c *roomVersion) bool { return c.recv[s] != nil })
	if err != nil {
		return RoomOpened{}, err
	}
	if cur.th == nil {
		return RoomOpened{}, ErrRoomOrder
	}
	others := slices.DeleteFunc(bytes.Clone(cur.members), func(t byte) bool { return t == s })
	if !bytes.Equal(entries, others) { // audit:ok seat numbers, public
		return RoomOpened{}, fmt.Errorf("%w: the keys name other members", ErrRoomView)
	}
	body := rec[:len(rec)-roomSig]
	if !roomVerify(m.sigma[s], slices.Concat(cur.th, body), rec[len(body):]) {
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
	ck, err := aead.Open(nil, make([]byte, 12), rec[at:at+KeySize+TagSize], m.keysEntryAAD(rec[:RoomKeysHeader], m.seat))
	if err != nil {
		return RoomOpened{}, fmt.Errorf("%w: the chain key does not open", ErrRoomView)
	}
	cur.recv[s] = &roomChain{ck: ck}
	out := RoomOpened{Type: RoomRecordKeys, Seat: s, Version: v}
	if len(cur.recv) == len(cur.members)-1 {
		// Complete: the ephemeral key and the previous version's chains go.
		cur.done, out.Complete = true, true
		cur.priv, cur.pubs = nil, nil
		if m.prev != nil {
			m.prev.wipe()
			m.prev = nil
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

func (m *RoomMember) openData(stamp byte, rec []byte) (RoomOpened, error) {
	if len(rec) < RoomDataHeader+TagSize+roomSig || !validSeat(rec[5]) {
		return RoomOpened{}, fmt.Errorf("protocol: room: data: %w", ErrFormat)
	}
	v, s, err := m.sender(stamp, rec)
	if err != nil {
		return RoomOpened{}, err
	}
	var ver *roomVersion
	switch {
	case m.cur != nil && v == m.cur.v:
		ver = m.cur
	case m.prev != nil && v == m.prev.v:
		ver = m.prev // kept only while the current version is incomplete
	default:
		return RoomOpened{}, ErrRoomEpoch
	}
	if !ver.member(s) {
		return RoomOpened{}, ErrRoomGhost
	}
	seq := binary.BigEndian.Uint64(rec[6:])
	ch := ver.recv[s]
	switch {
	case ch != nil && seq < ch.next:
		return RoomOpened{}, ErrRoomReplay
	case ch == nil || seq > ch.next:
		return RoomOpened{}, ErrRoomOrder
	}
	body := rec[:len(rec)-roomSig]
	if !roomVerify(m.sigma[s], slices.Concat(m.id[:], body), rec[len(body):]) {
		return RoomOpened{}, fmt.Errorf("%w: signature", ErrAuth)
	}
	mk := messageKey(ch.ck)
	aead, err := gcm(mk)
	clear(mk)
	if err != nil {
		return RoomOpened{}, err
	}
	pt, err := aead.Open(nil, make([]byte, 12), body[RoomDataHeader:], m.aad(rec[:RoomDataHeader]))
	if err != nil {
		return RoomOpened{}, ErrAuth
	}
	next := roomStep(ch.ck, 2)
	ch.wipe()
	ch.ck, ch.next = next, ch.next+1
	return RoomOpened{Type: RoomRecordData, Seat: s, Version: v, Message: pt}, nil
}

// Seal encrypts one inner message (EncodeRoomMessage) as this member's next data record of the
// current version; before its keys of the version went out it is ErrRoomWait.
func (m *RoomMember) Seal(inner []byte) ([]byte, error) {
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
	sig, err := m.signRaw(slices.Concat(m.id[:], rec))
	if err != nil {
		return nil, fmt.Errorf("protocol: room: sign: %w", err)
	}
	next := roomStep(m.send.ck, 2)
	m.send.wipe()
	m.send.ck, m.send.next = next, m.send.next+1
	return append(rec, sig...), nil
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
