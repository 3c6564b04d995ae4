package protocol

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Envelope layout (SECURITY.md, "Envelope: one stream per note").
const (
	HeaderSize = 25    // version ‖ kind ‖ entry nonce (16) ‖ nonce prefix (7)
	ChunkSize  = 65536 // plaintext bytes in every chunk but the last
	TagSize    = 16    // AES-GCM tag per chunk

	KindNote       = 1
	KindChatFrame  = 2
	KindSubmission = 3

	sealedChunk = ChunkSize + TagSize
	nonceSize   = 12
	prefixSize  = 7
)

// SealedLen is the envelope length for paddedLen plaintext bytes (paddedLen ≥ 1).
func SealedLen(paddedLen int64) int64 {
	chunks := (paddedLen + ChunkSize - 1) / ChunkSize
	return HeaderSize + paddedLen + chunks*TagSize
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, ErrKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("protocol: %w", err)
	}
	return cipher.NewGCM(block)
}

func chunkNonce(nonce *[nonceSize]byte, header []byte, i uint32, last bool) {
	copy(nonce[:prefixSize], header[HeaderSize-prefixSize:HeaderSize])
	binary.BigEndian.PutUint32(nonce[prefixSize:], i)
	nonce[nonceSize-1] = 0
	if last {
		nonce[nonceSize-1] = 1
	}
}

// Seal encrypts exactly paddedLen bytes read from r into w as one envelope of the given kind,
// with a fresh random entry nonce and nonce prefix. It holds one chunk in memory at a time.
// paddedLen must be at least 1: there is always at least one non-empty chunk.
func Seal(w io.Writer, key []byte, kind byte, r io.Reader, paddedLen int64) error {
	var rnd [16 + prefixSize]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("protocol: random: %w", err)
	}
	var entry [16]byte
	var prefix [prefixSize]byte
	copy(entry[:], rnd[:16])
	copy(prefix[:], rnd[16:])
	return sealWith(w, key, kind, entry, prefix, r, paddedLen)
}

// sealWith is Seal with a caller-chosen entry nonce and prefix. Reusing a prefix under the
// same key repeats GCM nonces and destroys confidentiality, so it is not exported: only Seal
// (fresh randomness every call) and the package's own vector tests reach it.
func sealWith(w io.Writer, key []byte, kind byte, entryNonce [16]byte, prefix [7]byte, r io.Reader, paddedLen int64) error {
	if paddedLen < 1 || (paddedLen-1)/ChunkSize >= math.MaxUint32 {
		return fmt.Errorf("protocol: seal: padded length %d: %w", paddedLen, ErrLength)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return err
	}
	header := make([]byte, HeaderSize)
	header[0], header[1] = Version, kind
	copy(header[2:18], entryNonce[:])
	copy(header[18:], prefix[:])
	if _, err := w.Write(header); err != nil {
		return err
	}
	pt := make([]byte, ChunkSize)
	ct := make([]byte, 0, sealedChunk)
	defer clear(pt)
	var nonce [nonceSize]byte
	left := paddedLen
	for i := uint32(0); left > 0; i++ {
		n := int64(ChunkSize)
		if left < n {
			n = left
		}
		if _, err := io.ReadFull(r, pt[:n]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("protocol: seal: input shorter than declared: %w", ErrLength)
			}
			return fmt.Errorf("protocol: seal: %w", err)
		}
		left -= n
		chunkNonce(&nonce, header, i, left == 0)
		ct = aead.Seal(ct[:0], nonce[:], pt[:n], header)
		if _, err := w.Write(ct); err != nil {
			return err
		}
	}
	// A longer input means the declared length was wrong; the envelope would silently
	// drop data, so refuse.
	var one [1]byte
	if n, _ := io.ReadFull(r, one[:]); n != 0 {
		return fmt.Errorf("protocol: seal: input longer than declared: %w", ErrLength)
	}
	return nil
}

// Open decrypts an envelope of the expected kind from r and writes the plaintext to w chunk
// by chunk, holding one chunk in memory at a time. It returns an error (ErrAuth,
// ErrTruncated or ErrFormat, possibly wrapped) on any tampering: a cut, swapped, replayed or
// reordered chunk, a truncated or extended stream, another version or kind, trailing bytes.
//
// A streaming decryptor must emit the chunks it has verified before it can see a later one
// fail: on error, callers MUST discard everything written to w.
func Open(w io.Writer, key []byte, kind byte, r io.Reader) error {
	aead, err := newAEAD(key)
	if err != nil {
		return err
	}
	header := make([]byte, HeaderSize)
	if _, err := io.ReadFull(r, header); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("protocol: open: header: %w", ErrTruncated)
		}
		return fmt.Errorf("protocol: open: %w", err)
	}
	if header[0] != Version {
		return fmt.Errorf("protocol: open: %w", ErrVersion)
	}
	if header[1] != kind {
		return fmt.Errorf("protocol: open: %w", ErrKind)
	}
	// One byte beyond a full chunk is read ahead to know whether this chunk is the last.
	buf := make([]byte, sealedChunk+1)
	pt := make([]byte, 0, ChunkSize)
	defer clear(pt[:cap(pt)])
	var nonce [nonceSize]byte
	carry := 0
	for i := uint32(0); ; i++ {
		m, err := io.ReadFull(r, buf[carry:])
		n := carry + m
		last := false
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			last = true
		default:
			return fmt.Errorf("protocol: open: %w", err)
		}
		chunk := buf[:n]
		if !last {
			chunk = buf[:sealedChunk]
		}
		if len(chunk) < TagSize+1 {
			return fmt.Errorf("protocol: open: chunk %d: %w", i, ErrTruncated)
		}
		chunkNonce(&nonce, header, i, last)
		pt, err = aead.Open(pt[:0], nonce[:], chunk, header)
		if err != nil {
			// Tell a clean cut (or an extension) from tampering: a chunk that
			// authenticates with the other last flag was moved to or from the end.
			chunkNonce(&nonce, header, i, !last)
			if _, err2 := aead.Open(pt[:0], nonce[:], chunk, header); err2 == nil {
				if last {
					return fmt.Errorf("protocol: open: no last chunk: %w", ErrTruncated)
				}
				return fmt.Errorf("protocol: open: %w", ErrTrailing)
			}
			return fmt.Errorf("protocol: open: chunk %d: %w", i, ErrAuth)
		}
		if _, err := w.Write(pt); err != nil {
			return err
		}
		if last {
			return nil
		}
		if i == math.MaxUint32 {
			return fmt.Errorf("protocol: open: too many chunks: %w", ErrFormat)
		}
		buf[0] = buf[sealedChunk]
		carry = 1
	}
}
