package protocol

import (
	"crypto/rand"
	"fmt"
	"io"
)

// NoteSecrets are what a sender makes for one note. K goes into the note link, M into the
// manage link; PIN and DPIN are ASCII-normalised. The stretched PINs and the random destruct
// hash are computed once and cached, so a NoteSecrets is not safe for concurrent use.
type NoteSecrets struct {
	K, M      [32]byte
	PIN, DPIN string

	p, dp        []byte
	noDestruct   *[32]byte
	payloadCache []byte
}

// CreateHashes are the hashes a create request carries. Open is meaningful only when PIN.
type CreateHashes struct {
	Gate, Open, Destruct, Manage [32]byte
	PIN                          bool
}

// NewNoteSecrets draws K and M from crypto/rand and checks the PIN rules.
func NewNoteSecrets(pin, dpin string) (*NoteSecrets, error) {
	if err := CheckPINs(pin, dpin); err != nil {
		return nil, err
	}
	s := &NoteSecrets{}
	var err error
	if pin != "" {
		if s.PIN, err = NormalizePIN(pin); err != nil {
			return nil, err
		}
	}
	if dpin != "" {
		if s.DPIN, err = NormalizePIN(dpin); err != nil {
			return nil, err
		}
	}
	if _, err := rand.Read(s.K[:]); err != nil {
		return nil, fmt.Errorf("protocol: random: %w", err)
	}
	if _, err := rand.Read(s.M[:]); err != nil {
		return nil, fmt.Errorf("protocol: random: %w", err)
	}
	return s, nil
}

func (s *NoteSecrets) stretched() []byte {
	if s.PIN == "" {
		return nil
	}
	if s.p == nil {
		s.p = StretchPIN(s.K[:], s.PIN)
	}
	return s.p
}

// Hashes returns the create request's hashes. Without a duress PIN the destruct hash is the
// hash of 32 random bytes (drawn once per NoteSecrets), so a server image does not show
// which notes have one.
func (s *NoteSecrets) Hashes() CreateHashes {
	h := CreateHashes{
		Gate:   Hash(GateToken(s.K[:])),
		Manage: Hash(s.M[:]),
		PIN:    s.PIN != "",
	}
	if h.PIN {
		h.Open = Hash(OpenToken(s.K[:], s.stretched()))
	}
	if s.DPIN != "" {
		if s.dp == nil {
			s.dp = StretchPIN(s.K[:], s.DPIN)
		}
		h.Destruct = Hash(DestructToken(s.K[:], s.dp))
	} else {
		if s.noDestruct == nil {
			var r [32]byte
			if _, err := rand.Read(r[:]); err != nil {
				panic("protocol: random: " + err.Error())
			}
			d := Hash(r[:])
			s.noDestruct = &d
		}
		h.Destruct = *s.noDestruct
	}
	return h
}

// Fragment is the note link's fragment; it carries FlagPIN when a PIN is set.
func (s *NoteSecrets) Fragment() Fragment {
	f := Fragment{Version: Version, Secret: s.K}
	if s.PIN != "" {
		f.Flags = FlagPIN
	}
	return f
}

// ManageFragment is the manage link's fragment.
func (s *NoteSecrets) ManageFragment() Fragment {
	return Fragment{Version: Version, Secret: s.M}
}

// PayloadKey is Kp for this note.
func (s *NoteSecrets) PayloadKey() []byte {
	if s.payloadCache == nil {
		s.payloadCache = PayloadKey(s.K[:], s.stretched())
	}
	return s.payloadCache
}

// SealedNoteLen is the envelope length of a note, known before encrypting, so a client can
// declare it in the create request.
func SealedNoteLen(text string, files []File) (int64, error) {
	n, err := PlaintextLen(text, files)
	if err != nil {
		return 0, err
	}
	return SealedLen(n), nil
}

// SealNote streams the note's envelope to w; it reads each file exactly once.
func SealNote(w io.Writer, s *NoteSecrets, text string, files []FileInput) error {
	r, n, err := PlaintextReader(text, files)
	if err != nil {
		return err
	}
	return Seal(w, s.PayloadKey(), KindNote, r, n)
}

// ReaderTokens are what a reader sends to open: the gate token always, the open and
// destruct tokens derived from the typed PIN when one was typed (nil otherwise).
func ReaderTokens(K []byte, typedPIN string) (gate, open, destruct []byte) {
	gate = GateToken(K)
	if typedPIN == "" {
		return gate, nil, nil
	}
	p := StretchPIN(K, typedPIN)
	return gate, OpenToken(K, p), DestructToken(K, p)
}

// OpenNote decrypts and parses a whole note in memory. typedPIN is "" for a note without PIN.
// The plaintext is held in one buffer, sized up front when r reports its length (as
// *bytes.Reader does) and zeroed as it grows, and zeroed at once on every error, so a failed
// or tampered open leaves no decrypted bytes behind. On success the file slices alias that
// buffer: the caller owns them and should clear them when done.
func OpenNote(r io.Reader, K []byte, typedPIN string) (*Manifest, [][]byte, error) {
	var buf wipeBuffer
	return openNote(&buf, r, K, typedPIN)
}

// openNote is OpenNote into buf, which tests inspect after an error.
func openNote(buf *wipeBuffer, r io.Reader, K []byte, typedPIN string) (*Manifest, [][]byte, error) {
	var p []byte
	if typedPIN != "" {
		p = StretchPIN(K, typedPIN)
	}
	kp := PayloadKey(K, p)
	clear(p)
	defer clear(kp)
	if l, ok := r.(interface{ Len() int }); ok && l.Len() > HeaderSize {
		// The plaintext is shorter than the envelope: one allocation, never a regrowth.
		buf.grow(l.Len() - HeaderSize)
	}
	if err := Open(buf, kp, KindNote, r); err != nil {
		buf.wipe()
		return nil, nil, err
	}
	m, files, err := ParsePlaintext(buf.b)
	if err != nil {
		buf.wipe()
		return nil, nil, err
	}
	return &m, files, nil
}

// Wipe zeroes K, M and every secret derived from them and forgets the PINs. Go strings
// cannot be zeroed, so the normalised PIN strings are only dropped. Call it once the links
// are shown and the note is sealed; s must not be used afterwards.
func (s *NoteSecrets) Wipe() {
	clear(s.K[:])
	clear(s.M[:])
	clear(s.p)
	clear(s.dp)
	clear(s.payloadCache)
	if s.noDestruct != nil {
		clear(s.noDestruct[:])
	}
	s.p, s.dp, s.payloadCache, s.noDestruct = nil, nil, nil, nil
	s.PIN, s.DPIN = "", ""
}
