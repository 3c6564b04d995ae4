package protocol

import (
	"fmt"
	"strings"
)

// Version is the protocol version, carried in fragments and envelope headers.
const Version = 1

// FlagPIN in a note fragment tells the open page to ask for a PIN before contacting the server.
const FlagPIN = 0x01

// KeySize is the size of K, M and every derived token.
const KeySize = 32

// fragmentLen is the encoded length of version ‖ flags ‖ 32-byte secret.
const fragmentLen = 46

// Fragment is the part of a link after '#': it never reaches the server.
type Fragment struct {
	Version, Flags byte
	Secret         [32]byte
}

// String encodes f as the 46 characters that follow '#'.
func (f Fragment) String() string {
	var b [2 + KeySize]byte
	b[0], b[1] = f.Version, f.Flags
	copy(b[2:], f.Secret[:])
	return B64Encode(b[:])
}

// ParseFragment parses a fragment with or without its leading '#'. It refuses another length,
// another version and unknown flag bits, so a future format cannot be misread as this one.
func ParseFragment(s string) (Fragment, error) {
	b, err := parseHead(s, fragmentLen, func(f byte) bool { return f&^FlagPIN == 0 }, ErrFragment)
	if err != nil {
		return Fragment{}, err
	}
	f := Fragment{Version: b[0], Flags: b[1]}
	copy(f.Secret[:], b[2:])
	return f, nil
}

// parseHead decodes a fragment (with or without its '#') of exactly want characters whose
// first byte is Version and second byte flags that validFlags accepts; its errors wrap
// sentinel. Notes', drops' and rooms' links share it.
func parseHead(s string, want int, validFlags func(byte) bool, sentinel error) ([]byte, error) {
	s = strings.TrimPrefix(s, "#")
	if len(s) != want {
		return nil, fmt.Errorf("%w: length", sentinel)
	}
	b, err := B64Decode(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sentinel, err)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: version", sentinel)
	}
	if !validFlags(b[1]) {
		return nil, fmt.Errorf("%w: flags", sentinel)
	}
	return b, nil
}

// ParseManageFragment parses a manage link's fragment: ParseFragment, and the flags must be
// zero. A manage secret never carries the PIN flag, so a fragment with it is a note link
// pasted in the wrong place, and its secret K must not be sent to the server as M.
func ParseManageFragment(s string) (Fragment, error) {
	f, err := ParseFragment(s)
	if err != nil {
		return Fragment{}, err
	}
	if f.Flags != 0 {
		return Fragment{}, fmt.Errorf("%w: flags of a manage link", ErrFragment)
	}
	return f, nil
}
