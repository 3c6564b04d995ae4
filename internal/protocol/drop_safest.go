package protocol

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Submissions at Tor Browser's "Safest" level (SECURITY.md, "Submissions at Safest"). A
// journalist may let a drop take submissions from a browser that runs no JavaScript: the
// server then receives the source's text and files over the onion connection, cleans and
// seals them to E in locked memory, and wipes the plaintext before it answers. The opt-in is
// a flag bit bound into the route, and such a drop's link carries its public keys a second
// time in the query, where the server can read them.

// DropFlagSafest marks a drop that accepts submissions sealed by the server for a browser
// without JavaScript. It is bound into the route like every flag, so nobody can turn it on
// for a drop whose journalist did not: another flag is another route, whose inbox nobody reads.
// A reply box never has it (its one reply is sent by the journalist's own client).
const DropFlagSafest = 0x02

// ValidDropFlags reports whether flags are a drop's or a reply box's: the reply bit, or the
// Safest bit, or neither.
func ValidDropFlags(flags byte) bool {
	return flags&^(DropFlagReply|DropFlagSafest) == 0 && flags != DropFlagReply|DropFlagSafest
}

// AcceptsSafest reports whether the drop opted in to submissions from browsers without
// JavaScript.
func (d *DropPublic) AcceptsSafest() bool { return d.Flags&DropFlagSafest != 0 }

// ErrNotSafest: a well-formed drop link whose drop did not opt in to messages at Safest.
var ErrNotSafest = fmt.Errorf("%w: the drop does not accept submissions at Safest", ErrDrop)

// SafestParam is the query parameter of a drop link that carries the drop's public keys for
// the server: /d/<route>?s=<base64url(version ‖ flags ‖ E ‖ A)>#<fragment>.
const SafestParam = "s"

// SafestQuery is the value of SafestParam for d: the fragment's keys, never its name (the
// name stays in the fragment, which the server never sees).
func (d *DropPublic) SafestQuery() string {
	b := make([]byte, 0, dropPublicLen)
	b = append(b, Version, d.Flags)
	b = append(b, d.Enc[:]...)
	b = append(b, d.Auth[:]...)
	return B64Encode(b)
}

// ParseSafestQuery parses the SafestParam of a drop link: exactly the 176 characters of the
// keys, the Safest flag set, both keys P-256 points. It carries no name.
func ParseSafestQuery(s string) (*DropPublic, error) {
	if strings.HasPrefix(s, "#") {
		return nil, fmt.Errorf("%w: length", ErrDrop)
	}
	b, err := parseDropHead(s, DropFragmentLen)
	if err != nil {
		return nil, err
	}
	d := &DropPublic{Flags: b[1]}
	if !d.AcceptsSafest() {
		return nil, ErrNotSafest
	}
	if err := d.setKeys(b[2:]); err != nil {
		return nil, err
	}
	return d, nil
}

// ---- building a plaintext in place ----

// ManifestJSONLen is the length of the manifest AppendManifest writes for text and files, so
// that a caller can size a locked buffer before it writes anything. text must be valid UTF-8.
func ManifestJSONLen(text []byte, files []File) (int, error) {
	n, err := appendManifest(nil, text, files, false)
	return n, err
}

// AppendManifest writes the manifest of text and files into dst[:0], which must have room for
// ManifestJSONLen bytes (it never grows dst: the caller's buffer may be locked memory, and a
// new array would be ordinary heap). The bytes are exactly encodeManifest's (the browser's
// JSON.stringify), checked by TestAppendManifestMatches. text must be valid UTF-8.
func AppendManifest(dst []byte, text []byte, files []File) (int, error) {
	return appendManifest(dst, text, files, true)
}

// manifestWriter counts, or writes into a fixed buffer.
type manifestWriter struct {
	b     []byte
	n     int
	write bool
	short bool
}

func (w *manifestWriter) byte1(c byte) {
	if w.write {
		if w.n >= len(w.b) {
			w.short = true
			return
		}
		w.b[w.n] = c
	}
	w.n++
}

func (w *manifestWriter) str(s string) {
	for i := 0; i < len(s); i++ {
		w.byte1(s[i])
	}
}

const hexDigits = "0123456789abcdef"

// jsonString writes s quoted the way encoding/json does with SetEscapeHTML(false).
func (w *manifestWriter) jsonString(s []byte) {
	w.byte1('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				w.byte1('\\')
				w.byte1(c)
			case c >= 0x20:
				w.byte1(c)
			case c == '\n':
				w.str(`\n`)
			case c == '\r':
				w.str(`\r`)
			case c == '\t':
				w.str(`\t`)
			case c == '\b':
				w.str(`\b`)
			case c == '\f':
				w.str(`\f`)
			default:
				w.str(`\u00`)
				w.byte1(hexDigits[c>>4])
				w.byte1(hexDigits[c&15])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == '\u2028' || r == '\u2029' {
			w.str(`\u202`)
			w.byte1(hexDigits[r&15])
		} else {
			for k := range size {
				w.byte1(s[i+k])
			}
		}
		i += size
	}
	w.byte1('"')
}

func appendManifest(dst []byte, text []byte, files []File, write bool) (int, error) {
	if !utf8.Valid(text) {
		return 0, fmt.Errorf("protocol: the text is not UTF-8: %w", ErrLength)
	}
	if len(files) > MaxFiles {
		return 0, fmt.Errorf("protocol: %d files, at most %d: %w", len(files), MaxFiles, ErrLength)
	}
	w := &manifestWriter{b: dst, write: write}
	w.str(`{"v":1,"text":`)
	w.jsonString(text)
	w.str(`,"files":[`)
	var num [20]byte
	for i, f := range files {
		if f.Size < 0 || f.Size > maxSafeInt || !utf8.ValidString(f.Name) || !utf8.ValidString(f.Type) {
			return 0, fmt.Errorf("protocol: file %d: %w", i, ErrLength)
		}
		if i > 0 {
			w.byte1(',')
		}
		w.str(`{"name":`)
		w.jsonString([]byte(f.Name))
		w.str(`,"type":`)
		w.jsonString([]byte(f.Type))
		w.str(`,"size":`)
		w.str(string(strconv.AppendInt(num[:0], f.Size, 10)))
		w.byte1('}')
	}
	w.str(`]}`)
	if w.short {
		return 0, fmt.Errorf("protocol: manifest buffer too small: %w", ErrLength)
	}
	if w.n > MaxManifest {
		return 0, fmt.Errorf("protocol: manifest of %d bytes, at most %d: %w", w.n, MaxManifest, ErrLength)
	}
	return w.n, nil
}

// PutPlaintextHead writes the plaintext's 4-byte manifest length before a manifest of m bytes.
func PutPlaintextHead(dst []byte, m int) { binary.BigEndian.PutUint32(dst, uint32(m)) }

// ---- sealing in place ----

// SealSubmissionTo seals plaintext (already padded: u32 length ‖ manifest ‖ files ‖ zeros to
// Padmé) to the drop d into out, which must be exactly SealedSubmissionLen(len(plaintext))
// bytes: ephemeral public key ‖ envelope of kind 3. It is SealSubmission for a caller that
// holds the whole plaintext in locked memory: every chunk is sealed from where it lies straight
// into out, so no plaintext byte is copied anywhere else (SealSubmission reads through a heap
// chunk buffer). The output is byte for byte what SealSubmission writes with the same
// randomness (TestSealSubmissionToMatches).
func SealSubmissionTo(out []byte, d *DropPublic, plaintext []byte) error {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("protocol: drop seal: %w", err)
	}
	var rnd [16 + prefixSize]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("protocol: random: %w", err)
	}
	return sealSubmissionToWith(out, d, eph, [16]byte(rnd[:16]), [prefixSize]byte(rnd[16:]), plaintext)
}

func sealSubmissionToWith(out []byte, d *DropPublic, eph *ecdh.PrivateKey, entry [16]byte, prefix [prefixSize]byte, pt []byte) error {
	n := int64(len(pt))
	if n < 1 || (n-1)/ChunkSize >= 1<<32-1 {
		return fmt.Errorf("protocol: seal: padded length %d: %w", n, ErrLength)
	}
	if int64(len(out)) != SealedSubmissionLen(n) {
		return fmt.Errorf("protocol: seal: output of %d bytes, want %d: %w", len(out), SealedSubmissionLen(n), ErrLength)
	}
	key, ephPub, err := dropSealKeyFor(d, eph)
	if err != nil {
		return err
	}
	defer clear(key)
	aead, err := newAEAD(key)
	if err != nil {
		return err
	}
	o := copy(out, ephPub)
	header := out[o : o+HeaderSize]
	header[0], header[1] = Version, KindSubmission
	copy(header[2:18], entry[:])
	copy(header[18:], prefix[:])
	o += HeaderSize
	var nonce [nonceSize]byte
	for i, off := uint32(0), 0; off < len(pt); i++ {
		end := min(off+ChunkSize, len(pt))
		chunkNonce(&nonce, header, i, end == len(pt))
		// Seal into out itself: dst has exactly the room the chunk needs, so nothing is allocated.
		sealed := aead.Seal(out[o:o:o+end-off+TagSize], nonce[:], pt[off:end], header)
		o += len(sealed)
		off = end
	}
	return nil
}
