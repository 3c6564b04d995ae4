package protocol

import (
	"errors"
	"fmt"
)

// Sentinel errors. The envelope errors fall in three classes that the browser module
// reports too (error.code "auth", "truncated", "format"), checked by the shared vectors.
var (
	// ErrAuth: a chunk failed authentication (wrong key or PIN, or tampered bytes).
	ErrAuth = errors.New("protocol: authentication failed")
	// ErrTruncated: the stream ended early (short header, no chunk, short chunk, or no chunk
	// carrying the last flag).
	ErrTruncated = errors.New("protocol: truncated")
	// ErrFormat: the bytes are not a well-formed value of this protocol version.
	ErrFormat = errors.New("protocol: malformed")

	// ErrVersion, ErrKind and ErrTrailing are ErrFormat with more detail.
	ErrVersion  = fmt.Errorf("%w: unknown version", ErrFormat)
	ErrKind     = fmt.Errorf("%w: unexpected kind", ErrFormat)
	ErrTrailing = fmt.Errorf("%w: bytes after the last chunk", ErrFormat)

	// ErrEncoding: not strict base64url without padding.
	ErrEncoding = errors.New("protocol: bad encoding")
	// ErrFragment: a fragment of the wrong length, version or flags.
	ErrFragment = errors.New("protocol: bad fragment")
	// ErrPIN: a PIN that breaks the PIN rules (message suitable for users).
	ErrPIN = errors.New("protocol: bad PIN")
	// ErrLength: the plaintext reader did not deliver the declared number of bytes.
	ErrLength = errors.New("protocol: plaintext length mismatch")
	// ErrKey: a key of the wrong size.
	ErrKey = errors.New("protocol: key must be 32 bytes")
)
