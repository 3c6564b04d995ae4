package protocol

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Drops and replies (SECURITY.md, "Drops and replies"). A drop is two P-256 key pairs made on
// the journalist's side: E, that submissions are sealed to, and A, that proves the inbox. The
// drop link carries both public keys; the route the server files submissions under is a hash
// of A's public key and the flags, so the server keeps no drop record and cannot swap a key
// without the submitting client noticing.
const (
	// DropFlagReply marks a reply box: a drop that accepts exactly one submission.
	DropFlagReply = 0x01

	DropPublicSize  = 65 // uncompressed P-256 point
	DropScalarSize  = 32 // P-256 private scalar
	DropRouteSize   = 16 // route id bytes (22 characters, like an entry id)
	DropNonceSize   = 32 // inbox challenge nonce
	dropPublicLen   = 2 + 2*DropPublicSize
	dropInboxLen    = 2 + 2*DropScalarSize + 2*DropPublicSize
	DropFragmentLen = 176 // base64url of 132 bytes
	DropInboxLen    = 262 // base64url of 196 bytes

	// DropActionList and the others name what an inbox request does; the MAC covers it.
	DropActionList    byte = 1
	DropActionFetch   byte = 2
	DropActionConfirm byte = 3
	DropActionWipe    byte = 4

	// ReplyBoxName and ReplyBoxType mark the first file of a submission's plaintext as the
	// source's reply box: its bytes are the reply box's drop fragment.
	ReplyBoxName = "sealdrop-reply-box"
	ReplyBoxType = "application/vnd.sealdrop.reply-box"
)

const (
	labelDropRoute = "sealdrop/v1 drop route"
	labelDropSeal  = "sealdrop/v1 drop seal"
	labelDropInbox = "sealdrop/v1 drop inbox"
)

// ErrDrop: a drop or inbox fragment of the wrong length, version, flags or key.
var ErrDrop = errors.New("protocol: bad drop link")

// DropPublic is what a drop link carries: the flags, both public keys and, optionally, the
// name of who receives the submissions.
type DropPublic struct {
	Flags byte
	Enc   [DropPublicSize]byte // submissions are sealed to this key
	Auth  [DropPublicSize]byte // the inbox proves this key's private half
	// Name is who receives what is sent to the drop, as the journalist wrote it ("" when the
	// link names nobody). It travels after the keys in the fragment, so the server never sees
	// it, and it is not bound to the keys: it is what the link says, no more (SECURITY.md,
	// "Who receives it").
	Name string
}

// DropNameMax is the most characters (code points) a drop's name may have.
const DropNameMax = 80

// dropNameEncMax is the longest base64url a name of DropNameMax characters can take (4 bytes
// each): a parser refuses anything longer before decoding it.
const dropNameEncMax = (DropNameMax*4*8 + 5) / 6

// dropNameMarksMax bounds the combining marks on one character: enough for every script's
// spelling, too few to stack over the text around the name.
const dropNameMarksMax = 4

// dropNameSep separates the keys from the name in a drop link's fragment; base64url never
// uses it.
const dropNameSep = "."

// dropNameHidden are assigned characters that show as nothing or as blank space yet are not
// format characters: Hangul fillers, the combining grapheme joiner, the blank Braille
// pattern, and the variation selectors (one, U+FE0F, is allowed after a symbol: emoji).
var dropNameHidden = &unicode.RangeTable{R16: []unicode.Range16{
	{Lo: 0x034f, Hi: 0x034f, Stride: 1},
	{Lo: 0x115f, Hi: 0x1160, Stride: 1},
	{Lo: 0x2800, Hi: 0x2800, Stride: 1},
	{Lo: 0x3164, Hi: 0x3164, Stride: 1},
	{Lo: 0xfe00, Hi: 0xfe0f, Stride: 1},
	{Lo: 0xffa0, Hi: 0xffa0, Stride: 1},
}, R32: []unicode.Range32{
	{Lo: 0xe0100, Hi: 0xe01ef, Stride: 1},
}}

// joinerOK says whether a zero-width non-joiner or joiner (U+200C, U+200D) between prev and
// next is spelling, not hiding: after a letter or mark of a script beyond Latin (Persian,
// Arabic and the Indic scripts need them inside words) or after a symbol (emoji sequences),
// and before a character that is not a space or another hidden one.
func joinerOK(prev, next rune) bool {
	after := (prev > 0x24f && unicode.In(prev, unicode.L, unicode.M)) || unicode.Is(unicode.So, prev)
	before := next > 0 && !unicode.IsSpace(next) && !unicode.In(next, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
	return after && before
}

// CheckDropName checks a drop's name: 1 to DropNameMax characters of valid UTF-8, no space at
// either end, and nothing that hides or reorders text: no controls (Cc), format characters
// (Cf: bidirectional embeddings, overrides, isolates and marks, zero-width spaces, the
// byte-order mark, the soft hyphen), separators (Zl, Zp), private-use or unassigned code
// points (Co, Cn, noncharacters), blank fillers (dropNameHidden), nor more than
// dropNameMarksMax combining marks on one character. The zero-width non-joiner and joiner are
// allowed where spelling needs them (joinerOK). Shown in a <bdi>, what passes cannot turn the
// sentence around it; it can still look like another name (confusable letters), which is why
// a name is only what the link says (SECURITY.md, "Who receives it").
func CheckDropName(name string) error { return checkName(name, DropNameMax, ErrDrop) }

// checkName is CheckDropName's rules with at most maxChars characters; its errors wrap
// sentinel. A drop's name and a room member's name (CheckRoomName) share it.
func checkName(name string, maxChars int, sentinel error) error {
	if name == "" || !utf8.ValidString(name) {
		return fmt.Errorf("%w: the name is empty or not UTF-8", sentinel)
	}
	if n := utf8.RuneCountInString(name); n > maxChars {
		return fmt.Errorf("%w: the name has %d characters, at most %d", sentinel, n, maxChars)
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("%w: the name starts or ends with a space", sentinel)
	}
	rs := []rune(name)
	marks := 0
	for i, c := range rs {
		var prev, next rune
		if i > 0 {
			prev = rs[i-1]
		}
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		switch {
		case c == 0x200c || c == 0x200d:
			if !joinerOK(prev, next) {
				return fmt.Errorf("%w: the name has a joiner (U+%04X) where no script needs one", sentinel, c)
			}
		case c == 0xfe0f && unicode.Is(unicode.So, prev):
			// an emoji's presentation selector
		case unicode.In(c, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co, dropNameHidden),
			!unicode.In(c, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs):
			return fmt.Errorf("%w: the name has a hidden or unassigned character (U+%04X)", sentinel, c)
		}
		if unicode.Is(unicode.M, c) {
			if marks++; marks > dropNameMarksMax {
				return fmt.Errorf("%w: the name stacks more than %d marks on one character", sentinel, dropNameMarksMax)
			}
		} else {
			marks = 0
		}
	}
	return nil
}

// DropRoute is the route id of a drop: the first 16 bytes of
// SHA-256("sealdrop/v1 drop route" ‖ version ‖ flags ‖ A). The flags are bound in, so the
// server learns "reply box" from the request that proves it and no client can make an
// ordinary drop's route take only one submission.
func DropRoute(flags byte, auth []byte) [DropRouteSize]byte {
	h := sha256.New()
	h.Write([]byte(labelDropRoute))
	h.Write([]byte{Version, flags})
	h.Write(auth)
	var r [DropRouteSize]byte
	copy(r[:], h.Sum(nil))
	return r
}

// Route is DropRoute of d.
func (d *DropPublic) Route() [DropRouteSize]byte { return DropRoute(d.Flags, d.Auth[:]) }

// RouteID is the route as it appears in URLs: 22 characters of base64url.
func (d *DropPublic) RouteID() string {
	r := d.Route()
	return B64Encode(r[:])
}

// IsReply reports whether d is a reply box.
func (d *DropPublic) IsReply() bool { return d.Flags&DropFlagReply != 0 }

// Fragment encodes the drop link's fragment: base64url(version ‖ flags ‖ E ‖ A), 176
// characters, then, when the drop has a name, "." and base64url of the name's UTF-8.
func (d *DropPublic) Fragment() string {
	b := make([]byte, 0, dropPublicLen)
	b = append(b, Version, d.Flags)
	b = append(b, d.Enc[:]...)
	b = append(b, d.Auth[:]...)
	if d.Name == "" {
		return B64Encode(b)
	}
	return B64Encode(b) + dropNameSep + B64Encode([]byte(d.Name))
}

func checkPoint(p []byte) error {
	if _, err := ecdh.P256().NewPublicKey(p); err != nil {
		return fmt.Errorf("%w: not a P-256 point", ErrDrop)
	}
	return nil
}

func parseDropHead(s string, want int) ([]byte, error) {
	return parseHead(s, want, ValidDropFlags, ErrDrop)
}

// ParseDropFragment parses a drop link's fragment (with or without '#'). It refuses another
// length, version, unknown flags, public keys that are not P-256 points, and a name that
// CheckDropName refuses (or a name on a reply box, whose link nobody publishes).
func ParseDropFragment(s string) (*DropPublic, error) {
	keys, enc, named := strings.Cut(strings.TrimPrefix(s, "#"), dropNameSep)
	if strings.HasPrefix(keys, "#") {
		return nil, fmt.Errorf("%w: length", ErrDrop)
	}
	b, err := parseDropHead(keys, DropFragmentLen)
	if err != nil {
		return nil, err
	}
	d := &DropPublic{Flags: b[1]}
	if named {
		if d.Flags&DropFlagReply != 0 {
			return nil, fmt.Errorf("%w: a reply box has no name", ErrDrop)
		}
		if len(enc) > dropNameEncMax {
			return nil, fmt.Errorf("%w: the name is too long", ErrDrop)
		}
		raw, err := B64Decode(enc)
		if err != nil {
			return nil, fmt.Errorf("%w: the name is not base64url", ErrDrop)
		}
		if err := CheckDropName(string(raw)); err != nil {
			return nil, err
		}
		d.Name = string(raw)
	}
	if err := d.setKeys(b[2:]); err != nil {
		return nil, err
	}
	return d, nil
}

// setKeys takes the sealing key and the auth key, in that order, from b (a link's public
// part after its version and flags bytes) and checks that both are points on the curve.
func (d *DropPublic) setKeys(b []byte) error {
	copy(d.Enc[:], b)
	copy(d.Auth[:], b[DropPublicSize:])
	if err := checkPoint(d.Enc[:]); err != nil {
		return err
	}
	return checkPoint(d.Auth[:])
}

// DropKeys are a drop's private keys with its public part: what the inbox link carries.
type DropKeys struct {
	DropPublic
	encPriv, authPriv *ecdh.PrivateKey
	encD, authD       [DropScalarSize]byte
}

// NewDropKeys makes the two key pairs of a new drop (flags 0) or reply box (DropFlagReply).
func NewDropKeys(flags byte) (*DropKeys, error) {
	if !ValidDropFlags(flags) {
		return nil, fmt.Errorf("%w: flags", ErrDrop)
	}
	e, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("protocol: drop key: %w", err)
	}
	a, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("protocol: drop key: %w", err)
	}
	return dropKeysFrom(flags, e, a), nil
}

// DropKeysFromScalars rebuilds DropKeys from the two private scalars (test vectors, and the
// inbox link's parser).
func DropKeysFromScalars(flags byte, enc, auth []byte) (*DropKeys, error) {
	if !ValidDropFlags(flags) {
		return nil, fmt.Errorf("%w: flags", ErrDrop)
	}
	e, err := ecdh.P256().NewPrivateKey(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: private key", ErrDrop)
	}
	a, err := ecdh.P256().NewPrivateKey(auth)
	if err != nil {
		return nil, fmt.Errorf("%w: private key", ErrDrop)
	}
	return dropKeysFrom(flags, e, a), nil
}

func dropKeysFrom(flags byte, e, a *ecdh.PrivateKey) *DropKeys {
	k := &DropKeys{encPriv: e, authPriv: a}
	k.Flags = flags
	copy(k.Enc[:], e.PublicKey().Bytes())
	copy(k.Auth[:], a.PublicKey().Bytes())
	copy(k.encD[:], e.Bytes())
	copy(k.authD[:], a.Bytes())
	return k
}

// Public is the drop link's part of k.
func (k *DropKeys) Public() *DropPublic { p := k.DropPublic; return &p }

// InboxFragment encodes the inbox link's fragment: base64url(version ‖ flags ‖ e ‖ a ‖ E ‖ A),
// 262 characters. The public keys ride along because WebCrypto imports a P-256 private key only
// as a JWK with d, x and y (or PKCS #8), and cannot compute the public point itself.
func (k *DropKeys) InboxFragment() string {
	b := make([]byte, 0, dropInboxLen)
	b = append(b, Version, k.Flags)
	b = append(b, k.encD[:]...)
	b = append(b, k.authD[:]...)
	b = append(b, k.Enc[:]...)
	b = append(b, k.Auth[:]...)
	s := B64Encode(b)
	clear(b)
	return s
}

// ParseInboxFragment parses an inbox link's fragment. It refuses everything ParseDropFragment
// refuses, invalid scalars, and public keys that are not the scalars' own.
func ParseInboxFragment(s string) (*DropKeys, error) {
	b, err := parseDropHead(s, DropInboxLen)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	k, err := DropKeysFromScalars(b[1], b[2:2+DropScalarSize], b[2+DropScalarSize:2+2*DropScalarSize])
	if err != nil {
		return nil, err
	}
	pubs := b[2+2*DropScalarSize:]
	if subtle.ConstantTimeCompare(pubs[:DropPublicSize], k.Enc[:]) != 1 || subtle.ConstantTimeCompare(pubs[DropPublicSize:], k.Auth[:]) != 1 {
		k.Wipe()
		return nil, fmt.Errorf("%w: public keys do not match the private keys", ErrDrop)
	}
	return k, nil
}

// Wipe zeroes the copies of the private scalars k holds. crypto/ecdh keeps its own copy
// inside the key values, which Go cannot zero; dropping k lets the collector reclaim it.
func (k *DropKeys) Wipe() {
	clear(k.encD[:])
	clear(k.authD[:])
	k.encPriv, k.authPriv = nil, nil
}

// ---- sealing a submission ----

// dropSealKey is Ks = HKDF(Z, version ‖ flags ‖ ephemeral ‖ E ‖ A, "sealdrop/v1 drop seal", 32)
// where Z is the ECDH x-coordinate of the ephemeral key and E.
func dropSealKey(z []byte, d *DropPublic, eph []byte) []byte {
	salt := make([]byte, 0, 2+3*DropPublicSize)
	salt = append(salt, Version, d.Flags)
	salt = append(salt, eph...)
	salt = append(salt, d.Enc[:]...)
	salt = append(salt, d.Auth[:]...)
	return derive(z, salt, labelDropSeal, KeySize)
}

// SubmissionPlaintext returns the plaintext reader and length of a submission: a note
// plaintext whose first file, when replyBox is set, is the reply box's drop fragment.
func SubmissionPlaintext(text string, files []FileInput, replyBox *DropPublic) (io.Reader, int64, error) {
	if replyBox != nil {
		if !replyBox.IsReply() {
			return nil, 0, fmt.Errorf("%w: the reply box lacks the reply flag", ErrDrop)
		}
		frag := replyBox.Fragment()
		files = append([]FileInput{{Name: ReplyBoxName, Type: ReplyBoxType, Size: int64(len(frag)), R: strings.NewReader(frag)}}, files...)
	}
	return PlaintextReader(text, files)
}

// SealedSubmissionLen is the length of a sealed submission: the ephemeral public key and an
// envelope of the padded plaintext.
func SealedSubmissionLen(paddedLen int64) int64 { return DropPublicSize + SealedLen(paddedLen) }

// SealSubmission seals n plaintext bytes from r (SubmissionPlaintext) to the drop d:
// ephemeral public key (65) ‖ envelope of kind 3 under Ks.
func SealSubmission(w io.Writer, d *DropPublic, r io.Reader, n int64) error {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("protocol: drop seal: %w", err)
	}
	var rnd [16 + prefixSize]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("protocol: random: %w", err)
	}
	return sealSubmissionWith(w, d, eph, [16]byte(rnd[:16]), [prefixSize]byte(rnd[16:]), r, n)
}

// dropSealKeyFor is the key a submission to d is sealed with under the ephemeral key eph,
// and eph's public key (the sealed submission's first bytes); the caller clears the key.
func dropSealKeyFor(d *DropPublic, eph *ecdh.PrivateKey) (key, ephPub []byte, err error) {
	pub, err := ecdh.P256().NewPublicKey(d.Enc[:])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: encryption key", ErrDrop)
	}
	z, err := eph.ECDH(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("protocol: drop seal: %w", err)
	}
	ephPub = eph.PublicKey().Bytes()
	key = dropSealKey(z, d, ephPub)
	clear(z)
	return key, ephPub, nil
}

func sealSubmissionWith(w io.Writer, d *DropPublic, eph *ecdh.PrivateKey, entry [16]byte, prefix [prefixSize]byte, r io.Reader, n int64) error {
	key, ephPub, err := dropSealKeyFor(d, eph)
	if err != nil {
		return err
	}
	defer clear(key)
	if _, err := w.Write(ephPub); err != nil {
		return err
	}
	return sealWith(w, key, KindSubmission, entry, prefix, r, n)
}

// Submission is an opened submission. Files do not include the reply box.
type Submission struct {
	Text     string
	Files    []File
	Data     [][]byte    // each file's bytes, aliasing one buffer the caller should clear
	ReplyBox *DropPublic // the source's reply box, when it asked for a reply
}

// OpenSubmission decrypts and parses a whole submission in memory with the drop's keys. On
// any error the decrypted bytes are zeroed. A first file of type ReplyBoxType must be a valid
// reply box fragment, or the submission is refused (ErrFormat).
func OpenSubmission(r io.Reader, k *DropKeys) (*Submission, error) {
	if k.encPriv == nil {
		return nil, ErrKey
	}
	var eph [DropPublicSize]byte
	if _, err := io.ReadFull(r, eph[:]); err != nil {
		return nil, fmt.Errorf("protocol: submission: %w", ErrTruncated)
	}
	pub, err := ecdh.P256().NewPublicKey(eph[:])
	if err != nil {
		return nil, fmt.Errorf("protocol: submission: ephemeral key: %w", ErrFormat)
	}
	z, err := k.encPriv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("protocol: submission: %w", ErrFormat)
	}
	key := dropSealKey(z, &k.DropPublic, eph[:])
	clear(z)
	defer clear(key)
	var buf wipeBuffer
	if l, ok := r.(interface{ Len() int }); ok && l.Len() > HeaderSize {
		buf.grow(l.Len() - HeaderSize)
	}
	if err := Open(&buf, key, KindSubmission, r); err != nil {
		buf.wipe()
		return nil, err
	}
	m, files, err := ParsePlaintext(buf.b)
	if err != nil {
		buf.wipe()
		return nil, err
	}
	s := &Submission{Text: m.Text, Files: m.Files, Data: files}
	if len(m.Files) > 0 && m.Files[0].Type == ReplyBoxType {
		rb, err := ParseDropFragment(string(files[0]))
		if err != nil || !rb.IsReply() {
			buf.wipe()
			return nil, fmt.Errorf("protocol: submission: reply box: %w", ErrFormat)
		}
		s.ReplyBox = rb
		s.Files, s.Data = m.Files[1:], files[1:]
	}
	return s, nil
}

// ---- inbox proofs ----

// DropInboxKey is Km = HKDF(Z, challenge, "sealdrop/v1 drop inbox", 32), Z the ECDH
// x-coordinate of the inbox-auth key and the server's ephemeral challenge key.
func dropInboxKey(z, challenge []byte) []byte { return derive(z, challenge, labelDropInbox, KeySize) }

// dropInboxMessage is "sealdrop/v1 drop inbox" ‖ version ‖ route (16) ‖ challenge (32) ‖
// server key (65) ‖ action (1) ‖ submission id (16: the submission for fetch and confirm, the
// cursor for a list that starts after one, zeros otherwise) ‖ arg (32, the claim hash for
// fetch and confirm, zeros otherwise).
func dropInboxMessage(route [DropRouteSize]byte, challenge, serverKey []byte, action byte, id [16]byte, arg [32]byte) []byte {
	m := make([]byte, 0, len(labelDropInbox)+1+DropRouteSize+DropNonceSize+DropPublicSize+1+16+32)
	m = append(m, labelDropInbox...)
	m = append(m, Version)
	m = append(m, route[:]...)
	m = append(m, challenge...)
	m = append(m, serverKey...)
	m = append(m, action)
	m = append(m, id[:]...)
	m = append(m, arg[:]...)
	return m
}

func validAction(a byte) bool { return a >= DropActionList && a <= DropActionWipe }

// InboxMAC proves the inbox-auth key for one action on one challenge of the server:
// HMAC-SHA-256(Km, message). challenge is 32 bytes, serverKey the server's 65-byte ephemeral
// public key.
func (k *DropKeys) InboxMAC(challenge, serverKey []byte, action byte, id [16]byte, arg [32]byte) ([]byte, error) {
	if k.authPriv == nil {
		return nil, ErrKey
	}
	if len(challenge) != DropNonceSize || !validAction(action) {
		return nil, fmt.Errorf("protocol: inbox: %w", ErrFormat)
	}
	sk, err := ecdh.P256().NewPublicKey(serverKey)
	if err != nil {
		return nil, fmt.Errorf("protocol: inbox: server key: %w", ErrFormat)
	}
	z, err := k.authPriv.ECDH(sk)
	if err != nil {
		return nil, fmt.Errorf("protocol: inbox: %w", ErrFormat)
	}
	return inboxTag(z, k.Route(), challenge, serverKey, action, id, arg), nil
}

func inboxTag(z []byte, route [DropRouteSize]byte, challenge, serverKey []byte, action byte, id [16]byte, arg [32]byte) []byte {
	km := dropInboxKey(z, challenge)
	clear(z)
	mac := hmac.New(sha256.New, km)
	mac.Write(dropInboxMessage(route, challenge, serverKey, action, id, arg))
	clear(km)
	return mac.Sum(nil)
}

// VerifyInboxMAC is the server's check: serverPriv is the challenge's ephemeral key, auth the
// inbox-auth public key the request names (already checked against the route). It compares in
// constant time.
func VerifyInboxMAC(serverPriv *ecdh.PrivateKey, auth []byte, route [DropRouteSize]byte, challenge []byte, action byte, id [16]byte, arg [32]byte, tag []byte) bool {
	pub, err := ecdh.P256().NewPublicKey(auth)
	if err != nil || len(challenge) != DropNonceSize || !validAction(action) {
		return false
	}
	z, err := serverPriv.ECDH(pub)
	if err != nil {
		return false
	}
	want := inboxTag(z, route, challenge, serverPriv.PublicKey().Bytes(), action, id, arg)
	return subtle.ConstantTimeCompare(want, tag) == 1
}

// ---- proof of work ----

// LeadingZeroBits counts the leading zero bits of h.
func LeadingZeroBits(h [32]byte) int {
	n := 0
	for _, b := range h {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}
