package onion

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// seedSize is the size of the key file: an RFC 8032 ed25519 seed. Storing the
// seed (not tor's 64-byte expanded key) keeps the file small and lets any
// ed25519 tool derive the same address.
const seedSize = ed25519.SeedSize

// GenerateKey writes a new 32-byte ed25519 seed to path with mode 0600. It
// refuses to overwrite an existing file (ErrKeyExists): losing a key loses
// the published address.
func GenerateKey(path string) error {
	seed := make([]byte, seedSize)
	defer clear(seed)
	if _, err := rand.Read(seed); err != nil {
		return fmt.Errorf("onion: generate key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s (it holds an onion address; move it away first if you really want a new one)", ErrKeyExists, path)
	}
	if err != nil {
		return fmt.Errorf("onion: create key file: %w", err)
	}
	_, err = f.Write(seed)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("onion: write key file: %w", err)
	}
	return nil
}

// AddressFromKey returns the onion address ("<56 chars>.onion") of the key
// file at path, which must pass the same checks as at Start.
func AddressFromKey(path string) (string, error) {
	seed, err := readKey(path)
	if err != nil {
		return "", err
	}
	defer clear(seed)
	return serviceID(seed) + ".onion", nil
}

// readKey reads a seed, refusing anything but a regular file of exactly 32
// bytes with no group or other permission bits. The checks use the opened
// file, so a swapped path cannot slip past them.
func readKey(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO put at the key's path would otherwise wait forever for a
	// writer; it is then refused below as not a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("onion: open key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("onion: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadKey, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; fix it with `chmod 600 %s`", ErrKeyPermissions, path, perm, path)
	}
	if fi.Size() != seedSize {
		return nil, fmt.Errorf("%w: %s holds %d bytes", ErrBadKey, path, fi.Size())
	}
	seed := make([]byte, seedSize)
	if _, err := io.ReadFull(f, seed); err != nil {
		return nil, fmt.Errorf("onion: read key file: %w", err)
	}
	return seed, nil
}

// loadOrCreateKey reads the key at path, creating it first if it does not
// exist (the first start of a new server).
func loadOrCreateKey(path string) ([]byte, error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := GenerateKey(path); err != nil && !errors.Is(err, ErrKeyExists) {
			return nil, err
		}
	}
	return readKey(path)
}

// expandedKey is the 64-byte secret key tor's ADD_ONION ED25519-V3 expects:
// SHA-512 of the seed, clamped as RFC 8032 does. Tor stores keys in this
// form, which is why Go's ed25519.PrivateKey (seed||public) cannot be sent.
func expandedKey(seed []byte) []byte {
	h := sha512.Sum512(seed)
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	out := make([]byte, 64)
	copy(out, h[:])
	clear(h[:])
	return out
}

var onionBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// serviceID is the 56-character v3 onion service id of the seed's public key
// (rend-spec-v3: base32(pubkey || checksum[:2] || version)).
func serviceID(seed []byte) string {
	priv := ed25519.NewKeyFromSeed(seed)
	defer clear(priv)
	return serviceIDFromPublic(ed25519.PublicKey(priv[ed25519.SeedSize:]))
}

func serviceIDFromPublic(pub ed25519.PublicKey) string {
	const version = 3
	h := sha3.New256()
	h.Write([]byte(".onion checksum"))
	h.Write(pub)
	h.Write([]byte{version})
	sum := h.Sum(nil)
	raw := make([]byte, 0, 35)
	raw = append(raw, pub...)
	raw = append(raw, sum[0], sum[1], version)
	return strings.ToLower(onionBase32.EncodeToString(raw))
}

// keyBlob is the ADD_ONION key argument. It holds the secret key: it must
// never reach a log or an error message.
func keyBlob(seed []byte) string {
	k := expandedKey(seed)
	defer clear(k)
	return "ED25519-V3:" + base64.StdEncoding.EncodeToString(k)
}
