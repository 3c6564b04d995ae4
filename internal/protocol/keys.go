package protocol

import (
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/sha256"
)

// PBKDF2Iterations is the cost of one PIN guess.
const PBKDF2Iterations = 300000

// HKDF info labels (SECURITY.md, "Capabilities, not identities").
const (
	labelPINSalt  = "sealdrop/v1 pin-salt"
	labelGate     = "sealdrop/v1 gate"
	labelOpen     = "sealdrop/v1 open"
	labelDestruct = "sealdrop/v1 destruct"
	labelPayload  = "sealdrop/v1 payload"
)

// derive is HKDF-SHA-256(ikm, salt, info, n). It cannot fail for these sizes; a failure
// would be a broken standard library, so it panics rather than return a weak key.
func derive(ikm, salt []byte, info string, n int) []byte {
	k, err := hkdf.Key(sha256.New, ikm, salt, info, n)
	if err != nil {
		panic("protocol: hkdf: " + err.Error())
	}
	return k
}

// PINSalt is the PBKDF2 salt of a note: HKDF(K, "", "sealdrop/v1 pin-salt", 16).
func PINSalt(K []byte) []byte { return derive(K, nil, labelPINSalt, 16) }

// StretchPIN is P = PBKDF2-HMAC-SHA-256(pin, PINSalt(K), 300000, 32). Unicode decimal digits
// in pin are mapped to ASCII first; validating the PIN is NormalizePIN's job. It is slow on
// purpose (about a tenth of a second to a second).
func StretchPIN(K []byte, pin string) []byte { return stretchPIN(pin, PINSalt(K)) }

// stretchPIN is PBKDF2-HMAC-SHA-256(pin with its digits mapped to ASCII, salt, 300000, 32): the
// one stretch of every PIN, a note's, a chat's and a room's; only the salt differs.
func stretchPIN(pin string, salt []byte) []byte {
	p, err := pbkdf2.Key(sha256.New, mapDigits(pin), salt, PBKDF2Iterations, KeySize)
	if err != nil {
		panic("protocol: pbkdf2: " + err.Error())
	}
	return p
}

// GateToken is G = HKDF(K, "", "sealdrop/v1 gate", 32): proof that the caller holds the link.
func GateToken(K []byte) []byte { return derive(K, nil, labelGate, KeySize) }

// OpenToken is O = HKDF(K, P, "sealdrop/v1 open", 32): proof of the PIN.
func OpenToken(K, P []byte) []byte { return derive(K, P, labelOpen, KeySize) }

// DestructToken is D = HKDF(K, P, "sealdrop/v1 destruct", 32): the duress proof.
func DestructToken(K, P []byte) []byte { return derive(K, P, labelDestruct, KeySize) }

// PayloadKey is Kp = HKDF(K, P, "sealdrop/v1 payload", 32); P nil or empty means no PIN
// (an empty salt).
func PayloadKey(K, P []byte) []byte { return derive(K, P, labelPayload, KeySize) }

// Hash is SHA-256, what the server stores of every proof.
func Hash(b []byte) [32]byte { return sha256.Sum256(b) }
