package protocol

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// One-time chat (SECURITY.md, "One-time chat"). Every record a chat client sends through the
// relay starts with a type byte:
//
//	hello   = 0x01 ‖ role (1) ‖ epoch proposal (4) ‖ ephemeral P-256 public key (65) ‖ random (32)
//	confirm = 0x02 ‖ role (1) ‖ epoch (4) ‖ HMAC-SHA-256 tag (32)
//	data    = 0x03 ‖ epoch (4) ‖ direction (1) ‖ sequence (8) ‖ AES-256-GCM ciphertext
//
// The relay sees only these records; it cannot finish a handshake without the MAC key derived
// from K (and the PIN), and every data record is bound to the chat id, the epoch, the
// direction and its sequence number.
const (
	ChatRoleCreator byte = 1
	ChatRoleJoiner  byte = 2

	ChatRecordHello   byte = 1
	ChatRecordConfirm byte = 2
	ChatRecordData    byte = 3

	ChatHelloSize   = 1 + 1 + 4 + 65 + 32 // 103
	ChatConfirmSize = 1 + 1 + 4 + 32      // 38
	ChatDataHeader  = 1 + 4 + 1 + 8       // 14
	ChatIDSize      = 16

	// ChatMaxSeq bounds the sequence number: only its low 7 bytes enter the nonce.
	ChatMaxSeq = 1<<56 - 1

	// Inner message types, inside the encryption.
	ChatMsgText      byte = 1 // UTF-8 text
	ChatMsgFileBegin byte = 2 // JSON {"id":N,"name":"…","type":"…","size":N}
	ChatMsgFileChunk byte = 3 // uint32 file id ‖ up to ChatFileChunk bytes
	ChatMsgBye       byte = 4 // the sender ended the chat

	// ChatFileChunk is the file bytes carried by one chunk message.
	ChatFileChunk = 65536
	// ChatMinPadded is the smallest padded plaintext: short texts all look alike.
	ChatMinPadded = 256
	// ChatMaxMessage bounds an inner message body.
	ChatMaxMessage = ChatFileChunk + 4
	// ChatMaxRecord is the largest data record a client makes (a full file chunk, padded).
	ChatMaxRecord = 96 << 10
)

const (
	labelChatMAC     = "sealdrop/v1 chat mac"
	labelChatAuth    = "sealdrop/v1 chat resume auth"
	labelChatConfirm = "sealdrop/v1 chat confirm"
	labelChatKeyC    = "sealdrop/v1 chat key creator"
	labelChatKeyJ    = "sealdrop/v1 chat key joiner"
	labelChatResume  = "sealdrop/v1 chat resume"
	labelChatSafety  = "sealdrop/v1 chat safety"
	chatTranscript   = "sealdrop/v1 chat"
	chatConfirmC     = "sealdrop/v1 chat creator"
	chatConfirmJ     = "sealdrop/v1 chat joiner"
)

// Chat errors, beside ErrAuth and ErrFormat. The browser module reports the same classes
// (error.code "replay", "order", "reflect", "epoch", "handshake", "auth", "format").
var (
	// ErrChatReplay: a data record whose sequence number was already accepted.
	ErrChatReplay = errors.New("protocol: chat: replayed record")
	// ErrChatOrder: a data record ahead of the next expected one (dropped or reordered).
	ErrChatOrder = errors.New("protocol: chat: record out of order or missing")
	// ErrChatReflect: a record that claims this side's own role or direction.
	ErrChatReflect = errors.New("protocol: chat: reflected record")
	// ErrChatEpoch: a record of another epoch (sent before a reconnect).
	ErrChatEpoch = errors.New("protocol: chat: record of another epoch")
	// ErrChatHandshake: the handshake cannot be completed (a wrong confirmation tag, a resume
	// without the resume secret): someone without the link, the PIN or the session sits between.
	ErrChatHandshake = errors.New("protocol: chat: handshake failed")
)

// ChatMACKey is Km = HKDF(K, P or "", "sealdrop/v1 chat mac", 32): it authenticates the
// handshake. With a PIN it depends on the stretched PIN, so a leaked link alone cannot sit in
// the middle.
func ChatMACKey(K, P []byte) []byte { return derive(K, P, labelChatMAC, KeySize) }

func otherRole(role byte) byte {
	if role == ChatRoleCreator {
		return ChatRoleJoiner
	}
	return ChatRoleCreator
}

func validRole(role byte) bool { return role == ChatRoleCreator || role == ChatRoleJoiner }

// ChatHandshake is one side's half of a handshake. It is not safe for concurrent use.
type ChatHandshake struct {
	id       [ChatIDSize]byte
	role     byte
	km       []byte
	resume   []byte // nil on the first handshake
	proposal uint32
	priv     *ecdh.PrivateKey
	hello    []byte

	// set once the peer's hello is in
	epoch     uint32
	th        [32]byte
	kc        []byte
	ikm       []byte
	peerHello []byte
}

// chatHandshakeParams fixes what is normally random: only the vector tests may use it. A fixed
// ephemeral scalar and random reused in two chats would repeat a handshake's keys and nonces,
// so it is not exported.
type chatHandshakeParams struct {
	Private []byte   // P-256 scalar, 32 bytes
	Random  [32]byte // the hello's random field
}

// NewChatHandshake starts a handshake for chat id in role, authenticated by km (ChatMACKey)
// and, when resuming, by the resume secret of the chat's first handshake; lastEpoch is the
// last epoch this side completed (0 if none). It returns the hello record to send.
func NewChatHandshake(id [ChatIDSize]byte, role byte, km, resume []byte, lastEpoch uint32) (*ChatHandshake, []byte, error) {
	return newChatHandshakeWith(id, role, km, resume, lastEpoch, nil)
}

// newChatHandshakeWith is NewChatHandshake with fixed randomness when fixed is non-nil (test
// vectors only; see chatHandshakeParams).
func newChatHandshakeWith(id [ChatIDSize]byte, role byte, km, resume []byte, lastEpoch uint32, fixed *chatHandshakeParams) (*ChatHandshake, []byte, error) {
	if !validRole(role) {
		return nil, nil, fmt.Errorf("protocol: chat: role %d: %w", role, ErrFormat)
	}
	if len(km) != KeySize || (resume != nil && len(resume) != KeySize) {
		return nil, nil, ErrKey
	}
	if lastEpoch >= 1<<32-1 {
		return nil, nil, fmt.Errorf("protocol: chat: epochs exhausted: %w", ErrFormat)
	}
	h := &ChatHandshake{id: id, role: role, km: bytes.Clone(km), resume: bytes.Clone(resume)}
	h.proposal = 1
	if resume != nil {
		h.proposal = max(lastEpoch+1, 2)
	}
	var (
		random [32]byte
		err    error
	)
	if fixed != nil {
		h.priv, err = ecdh.P256().NewPrivateKey(fixed.Private)
		random = fixed.Random
	} else {
		h.priv, err = ecdh.P256().GenerateKey(rand.Reader)
		if err == nil {
			_, err = rand.Read(random[:])
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("protocol: chat: key: %w", err)
	}
	hello := make([]byte, 0, ChatHelloSize)
	hello = append(hello, ChatRecordHello, role)
	hello = binary.BigEndian.AppendUint32(hello, h.proposal)
	hello = append(hello, h.priv.PublicKey().Bytes()...)
	hello = append(hello, random[:]...)
	h.hello = hello
	return h, bytes.Clone(hello), nil
}

// Proposal is the epoch this side proposed.
func (h *ChatHandshake) Proposal() uint32 { return h.proposal }

// ChatRecordType returns a record's type byte, or 0 for an empty record.
func ChatRecordType(rec []byte) byte {
	if len(rec) == 0 {
		return 0
	}
	return rec[0]
}

// ChatHelloEpoch returns the epoch a hello proposes (a side that is resuming ignores hellos
// proposing less than it does: they were queued before the peer reconnected).
func ChatHelloEpoch(rec []byte) (uint32, error) {
	if len(rec) != ChatHelloSize || rec[0] != ChatRecordHello {
		return 0, fmt.Errorf("protocol: chat: hello: %w", ErrFormat)
	}
	return binary.BigEndian.Uint32(rec[2:6]), nil
}

// Peer takes the peer's hello and returns this side's confirm record.
func (h *ChatHandshake) Peer(hello []byte) ([]byte, error) {
	if h.peerHello != nil {
		return nil, fmt.Errorf("protocol: chat: second hello: %w", ErrChatHandshake)
	}
	if len(hello) != ChatHelloSize || hello[0] != ChatRecordHello || !validRole(hello[1]) {
		return nil, fmt.Errorf("protocol: chat: hello: %w", ErrFormat)
	}
	if hello[1] == h.role {
		return nil, ErrChatReflect
	}
	prop := binary.BigEndian.Uint32(hello[2:6])
	if prop == 0 {
		return nil, fmt.Errorf("protocol: chat: hello epoch: %w", ErrFormat)
	}
	pub, err := ecdh.P256().NewPublicKey(hello[6 : 6+65])
	if err != nil {
		return nil, fmt.Errorf("protocol: chat: hello key: %w", ErrFormat)
	}
	// Every refusal comes before the ECDH, so that no path returns with the shared secret
	// unzeroed, and a refused hello changes nothing (a hostile review's I-a).
	epoch := max(h.proposal, prop)
	if epoch > 1 && h.resume == nil {
		return nil, fmt.Errorf("protocol: chat: resume secret missing: %w", ErrChatHandshake)
	}
	z, err := h.priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("protocol: chat: ecdh: %w", ErrFormat)
	}
	h.epoch = epoch
	ka := h.km
	if h.epoch > 1 {
		ka = derive(h.km, h.resume, labelChatAuth, KeySize)
	}
	hc, hj := h.hello, hello
	if h.role == ChatRoleJoiner {
		hc, hj = hello, h.hello
	}
	t := make([]byte, 0, len(chatTranscript)+1+ChatIDSize+4+2*ChatHelloSize)
	t = append(t, chatTranscript...)
	t = append(t, Version)
	t = append(t, h.id[:]...)
	t = binary.BigEndian.AppendUint32(t, h.epoch)
	t = append(t, hc...)
	t = append(t, hj...)
	h.th = sha256.Sum256(t)
	h.ikm = append(append(make([]byte, 0, len(z)+len(ka)), z...), ka...) // its own array: z is cleared on its own
	clear(z)
	if h.epoch > 1 {
		clear(ka) // derived here from the resume secret (km itself stays: later epochs need it)
	}
	h.kc = hkdfKey(h.ikm, h.th[:], labelChatConfirm)
	h.peerHello = bytes.Clone(hello)
	conf := make([]byte, 0, ChatConfirmSize)
	conf = append(conf, ChatRecordConfirm, h.role)
	conf = binary.BigEndian.AppendUint32(conf, h.epoch)
	conf = append(conf, chatConfirmTag(h.kc, h.role, h.th[:])...)
	return conf, nil
}

func hkdfKey(ikm, salt []byte, label string) []byte { return derive(ikm, salt, label, KeySize) }

func chatConfirmTag(kc []byte, role byte, th []byte) []byte {
	m := hmac.New(sha256.New, kc)
	if role == ChatRoleCreator {
		m.Write([]byte(chatConfirmC))
	} else {
		m.Write([]byte(chatConfirmJ))
	}
	m.Write(th)
	return m.Sum(nil)
}

// Finish checks the peer's confirm record and returns the established session. Before it
// succeeds no data record can be made or read: key confirmation comes before any data.
func (h *ChatHandshake) Finish(confirm []byte) (*ChatSession, error) {
	if h.peerHello == nil {
		return nil, fmt.Errorf("protocol: chat: confirm before hello: %w", ErrChatHandshake)
	}
	if len(confirm) != ChatConfirmSize || confirm[0] != ChatRecordConfirm || !validRole(confirm[1]) {
		return nil, fmt.Errorf("protocol: chat: confirm: %w", ErrFormat)
	}
	if confirm[1] == h.role {
		return nil, ErrChatReflect
	}
	if binary.BigEndian.Uint32(confirm[2:6]) != h.epoch {
		return nil, ErrChatEpoch
	}
	want := chatConfirmTag(h.kc, confirm[1], h.th[:])
	if !hmac.Equal(want, confirm[6:]) {
		return nil, ErrChatHandshake
	}
	kC := hkdfKey(h.ikm, h.th[:], labelChatKeyC)
	kJ := hkdfKey(h.ikm, h.th[:], labelChatKeyJ)
	resume := h.resume
	if h.epoch == 1 {
		resume = hkdfKey(h.ikm, h.th[:], labelChatResume)
	}
	s := &ChatSession{id: h.id, role: h.role, epoch: h.epoch, resume: resume, th: h.th}
	sendKey, recvKey := kC, kJ
	if h.role == ChatRoleJoiner {
		sendKey, recvKey = kJ, kC
	}
	var err error
	if s.send, err = gcm(sendKey); err != nil {
		return nil, err
	}
	if s.recv, err = gcm(recvKey); err != nil {
		return nil, err
	}
	clear(sendKey)
	clear(recvKey)
	clear(h.ikm)
	clear(h.kc)
	return s, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("protocol: chat: %w", err)
	}
	return cipher.NewGCM(b)
}

// ChatSession holds one epoch's traffic keys and counters. They live only in this value:
// nothing here is ever written anywhere. Not safe for concurrent use.
type ChatSession struct {
	id         [ChatIDSize]byte
	role       byte
	epoch      uint32
	resume     []byte
	th         [32]byte
	send, recv cipher.AEAD
	sendSeq    uint64
	recvSeq    uint64
}

// Epoch is the session's epoch.
func (s *ChatSession) Epoch() uint32 { return s.epoch }

// Resume is the resume secret (from the chat's first handshake) a reconnect authenticates with.
func (s *ChatSession) Resume() []byte { return bytes.Clone(s.resume) }

// SafetyCode is six groups of four digits, the same on both sides of an honest chat and
// stable across reconnects (it comes from the first handshake), to compare out of band.
func (s *ChatSession) SafetyCode() string { return ChatSafetyCode(s.resume) }

// ChatSafetyCode derives the safety code from the resume secret.
func ChatSafetyCode(resume []byte) string {
	return safetyDigits(derive(resume, nil, labelChatSafety, 12))
}

// safetyDigits writes 12 bytes as six big-endian 16-bit numbers, each mod 10000, in groups of
// four digits: the chat's and the room's safety codes.
func safetyDigits(b []byte) string {
	var out []byte
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			out = append(out, ' ')
		}
		out = fmt.Appendf(out, "%04d", binary.BigEndian.Uint16(b[i:])%10000)
	}
	return string(out)
}

func (s *ChatSession) aad(header []byte) []byte {
	a := make([]byte, 0, len(chatTranscript)+1+ChatIDSize+ChatDataHeader)
	a = append(a, chatTranscript...)
	a = append(a, Version)
	a = append(a, s.id[:]...)
	return append(a, header...)
}

func chatNonce(epoch uint32, dir byte, seq uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint32(n, epoch)
	n[4] = dir
	var q [8]byte
	binary.BigEndian.PutUint64(q[:], seq)
	copy(n[5:], q[1:])
	return n
}

// Seal encrypts one inner message (see EncodeChatMessage) as the next data record.
func (s *ChatSession) Seal(plaintext []byte) ([]byte, error) {
	if s.sendSeq > ChatMaxSeq {
		return nil, fmt.Errorf("protocol: chat: sequence exhausted: %w", ErrFormat)
	}
	rec := make([]byte, ChatDataHeader, ChatDataHeader+len(plaintext)+TagSize)
	rec[0] = ChatRecordData
	binary.BigEndian.PutUint32(rec[1:], s.epoch)
	rec[5] = s.role
	binary.BigEndian.PutUint64(rec[6:], s.sendSeq)
	rec = s.send.Seal(rec, chatNonce(s.epoch, s.role, s.sendSeq), plaintext, s.aad(rec[:ChatDataHeader]))
	s.sendSeq++
	return rec, nil
}

// Open checks and decrypts the next data record from the peer. A record of another epoch,
// of this side's own direction, already seen, ahead of the next expected one, or failing
// authentication is refused with its error class and changes nothing.
func (s *ChatSession) Open(rec []byte) ([]byte, error) {
	if len(rec) < ChatDataHeader+TagSize || rec[0] != ChatRecordData {
		return nil, fmt.Errorf("protocol: chat: record: %w", ErrFormat)
	}
	if binary.BigEndian.Uint32(rec[1:]) != s.epoch {
		return nil, ErrChatEpoch
	}
	dir := rec[5]
	if dir == s.role {
		return nil, ErrChatReflect
	}
	if dir != otherRole(s.role) {
		return nil, fmt.Errorf("protocol: chat: direction: %w", ErrFormat)
	}
	seq := binary.BigEndian.Uint64(rec[6:])
	switch {
	case seq < s.recvSeq:
		return nil, ErrChatReplay
	case seq > s.recvSeq:
		return nil, ErrChatOrder
	}
	pt, err := s.recv.Open(nil, chatNonce(s.epoch, dir, seq), rec[ChatDataHeader:], s.aad(rec[:ChatDataHeader]))
	if err != nil {
		return nil, ErrAuth
	}
	s.recvSeq++
	return pt, nil
}

// ChatPadded is the padded length of an inner message of n bytes (type and length included):
// Padmé, but at least ChatMinPadded.
func ChatPadded(n int) int { return max(ChatMinPadded, int(Padme(int64(n)))) }

// EncodeChatMessage is type (1) ‖ uint32 big-endian len(body) ‖ body ‖ zero padding.
func EncodeChatMessage(typ byte, body []byte) ([]byte, error) {
	return encodeInner(typ, ChatMsgBye, body)
}

// DecodeChatMessage parses an inner message, refusing unknown types, overruns and non-zero or
// wrong-sized padding.
func DecodeChatMessage(p []byte) (byte, []byte, error) { return decodeInner(p, ChatMsgBye) }

// encodeInner writes an inner message of a type from ChatMsgText to maxType: a chat's and a
// room's (which adds RoomMsgName) share the encoding and its padding.
func encodeInner(typ, maxType byte, body []byte) ([]byte, error) {
	if typ < ChatMsgText || typ > maxType || len(body) > ChatMaxMessage {
		return nil, fmt.Errorf("protocol: message: %w", ErrFormat)
	}
	n := 5 + len(body)
	out := make([]byte, ChatPadded(n))
	out[0] = typ
	binary.BigEndian.PutUint32(out[1:], uint32(len(body)))
	copy(out[5:], body)
	return out, nil
}

// decodeInner parses an inner message of a type from ChatMsgText to maxType.
func decodeInner(p []byte, maxType byte) (byte, []byte, error) {
	if len(p) < 5 {
		return 0, nil, fmt.Errorf("protocol: message: %w", ErrFormat)
	}
	typ := p[0]
	n := binary.BigEndian.Uint32(p[1:])
	if typ < ChatMsgText || typ > maxType || n > ChatMaxMessage || int(n) > len(p)-5 || len(p) != ChatPadded(5+int(n)) {
		return 0, nil, fmt.Errorf("protocol: message: %w", ErrFormat)
	}
	for _, b := range p[5+n:] {
		if b != 0 {
			return 0, nil, fmt.Errorf("protocol: message padding: %w", ErrFormat)
		}
	}
	return typ, p[5 : 5+n], nil
}
