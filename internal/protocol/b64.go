package protocol

import (
	"encoding/base64"
	"fmt"
)

var b64 = base64.RawURLEncoding.Strict()

// B64Encode writes b as base64url without padding, the only binary encoding the protocol
// uses in URLs, headers and JSON bodies.
func B64Encode(b []byte) string { return b64.EncodeToString(b) }

// B64Decode parses strict base64url without padding. Go's decoder silently skips '\r' and
// '\n' even in strict mode, so the result is re-encoded and compared: exactly one spelling of
// every value is accepted, which keeps hashes of tokens and ids canonical.
func B64Decode(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, fmt.Errorf("protocol: base64url: %w", ErrEncoding)
	}
	return b, nil
}
