package protocol

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"
)

// The price of a new entry (SECURITY.md, "What a hostile client may cost"). Whatever occupies
// the server's memory is paid for once the server is more than half full: the client finds a
// nonce whose price hash has enough leading zero bits. Nothing is asked below that, so ordinary
// use costs no work. The price grows with the entry's bytes × lifetime and with how full the
// server is; the challenge comes with the page or the limits answer (no round trip of its own)
// and is bound to the request's own manage hash, so a payment buys exactly one entry.

const (
	// PriceTokenSize is a price token: window (4, big-endian) ‖ seed (16).
	PriceTokenSize = 20
	// PriceNonceSize is the client's nonce.
	PriceNonceSize = 8
	// PriceScopeSize is the scope of a price: a drop's route id, zeros for notes and chats.
	PriceScopeSize = 16
	// MaxPriceLevel is the highest price level (the server is full).
	MaxPriceLevel = 10
	// PriceFree is how many bits of log2(units) a request gets free at level 0.5 × 2: the
	// formula's offset (PriceBits).
	PriceFree = 12

	labelPrice = "sealdrop/v1 price"
)

// Price kinds: what the entry is (the vault kind of what it stores; a chat is priced when
// created).
const (
	PriceNote       byte = 1
	PriceChat       byte = 2
	PriceSubmission byte = 3
	PriceRoom       byte = 4 // a group room (SECURITY.md "One-time group rooms")
)

// PriceRequest is what a payment is bound to.
type PriceRequest struct {
	Kind   byte
	Scope  [PriceScopeSize]byte // a drop submission's route; zeros otherwise
	Manage [32]byte             // SHA-256 of the request's manage secret: one payment, one entry
	Length int64                // declared bytes
	TTL    time.Duration        // whole seconds
}

// PriceMessage is the price hash's input without the nonce:
// "sealdrop/v1 price" ‖ token (20) ‖ kind (1) ‖ scope (16) ‖ manage hash (32) ‖
// length (8, big-endian) ‖ ttl in seconds (4, big-endian).
func PriceMessage(token []byte, r PriceRequest) []byte {
	m := make([]byte, 0, len(labelPrice)+PriceTokenSize+1+PriceScopeSize+32+8+4+PriceNonceSize)
	m = append(m, labelPrice...)
	m = append(m, token...)
	m = append(m, r.Kind)
	m = append(m, r.Scope[:]...)
	m = append(m, r.Manage[:]...)
	m = binary.BigEndian.AppendUint64(m, uint64(r.Length))
	m = binary.BigEndian.AppendUint32(m, uint32(r.TTL/time.Second))
	return m
}

// PriceHash is SHA-256(PriceMessage ‖ nonce). msg must have room for the nonce (PriceMessage
// reserves it) or be copied: it is appended to.
func PriceHash(msg, nonce []byte) [32]byte {
	return sha256.Sum256(append(msg[:len(msg):len(msg)], nonce...))
}

// CheckPrice reports whether nonce pays need bits for token and r.
func CheckPrice(token []byte, r PriceRequest, nonce []byte, need int) bool {
	if need <= 0 {
		return true
	}
	if len(token) != PriceTokenSize || len(nonce) != PriceNonceSize {
		return false
	}
	return LeadingZeroBits(PriceHash(PriceMessage(token, r), nonce)) >= need
}

// SolvePrice finds the smallest nonce (an 8-byte big-endian counter from 0) that pays need
// bits. Expected work: 2^need hashes.
func SolvePrice(ctx context.Context, token []byte, r PriceRequest, need int) ([PriceNonceSize]byte, error) {
	var nonce [PriceNonceSize]byte
	if need < 0 || need > 64 {
		return nonce, fmt.Errorf("protocol: price: %d bits: %w", need, ErrFormat)
	}
	msg := PriceMessage(token, r)
	buf := append(msg, nonce[:]...)
	h := sha256.New()
	var sum [32]byte
	for i := uint64(0); ; i++ {
		binary.BigEndian.PutUint64(buf[len(msg):], i)
		h.Reset()
		h.Write(buf)
		h.Sum(sum[:0])
		if LeadingZeroBits(sum) >= need {
			copy(nonce[:], buf[len(msg):])
			return nonce, nil
		}
		if i&0xffff == 0xffff && ctx.Err() != nil {
			return nonce, ctx.Err()
		}
	}
}

// PriceUnits is what an entry costs the server: its size in KiB times its lifetime in hours,
// each rounded up, at least 1.
func PriceUnits(length int64, ttl time.Duration) uint64 {
	kib := uint64(max(length, 1)+1023) / 1024
	hours := uint64(max(ttl, time.Second)+time.Hour-1) / uint64(time.Hour)
	return max(kib*hours, 1)
}

// PriceBits is the price in leading zero bits of an entry of length bytes kept ttl when the
// server's price level is level: 0 at level 0, else ceil(log2(units)) + 2 × level − PriceFree,
// at least 0. So nothing is asked while the server is less than half full, small entries stay
// cheap as it fills, and each doubling of bytes × lifetime costs twice the work.
func PriceBits(level int, length int64, ttl time.Duration) int {
	if level <= 0 {
		return 0
	}
	level = min(level, MaxPriceLevel)
	u := PriceUnits(length, ttl)
	lg := bits.Len64(u - 1) // ceil(log2(u)); 0 for u = 1
	return max(0, lg+2*level-PriceFree)
}

// PriceLevel is the level for a server whose fullest limit is at fill (0 to 1): 0 below one
// half, then one more for each halving of what is left (1 from 1/2, 2 from 3/4, 3 from 7/8, …),
// MaxPriceLevel when full.
func PriceLevel(fill float64) int {
	switch {
	case !(fill >= 0.5): // NaN too
		return 0
	case fill >= 1:
		return MaxPriceLevel
	}
	l := 0
	for left := 1 - fill; left <= 0.5 && l < MaxPriceLevel; left *= 2 {
		l++
	}
	return l
}
