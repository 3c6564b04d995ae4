package vault

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// ID is an entry's 128-bit identifier from crypto/rand.
type ID [16]byte

// idLen is the length of an ID in base64url without padding.
const idLen = 22

var idEncoding = base64.RawURLEncoding.Strict()

// NewID returns a fresh random ID.
func NewID() (ID, error) {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		return ID{}, fmt.Errorf("vault: id: %w", err)
	}
	return id, nil
}

// String returns the ID as 22 characters of base64url without padding.
func (id ID) String() string { return idEncoding.EncodeToString(id[:]) }

// ParseID accepts exactly the form String produces: 22 characters of the URL-safe alphabet
// whose decoding re-encodes to the same string. Anything else is ErrGone, because a malformed
// id must be answered like one that is gone.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != idLen {
		return ID{}, ErrGone
	}
	n, err := idEncoding.Decode(id[:], []byte(s))
	if err != nil || n != len(id) || id.String() != s {
		return ID{}, ErrGone
	}
	return id, nil
}
