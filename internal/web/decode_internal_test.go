package web

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDecodeNReturnsNothingOfABadValue: a malformed value gives nil, not the bytes decoded
// before its bad character. The payment paths ignore ok and hand the bytes to the pricer, so
// "AAAAAAAAA+/" (right length, '+' and '/' from the other alphabet) was eight zero bytes: a
// nonce that paid a low price by chance (TestPriceNonceEncoding failed about once in 60 runs).
func TestDecodeNReturnsNothingOfABadValue(t *testing.T) {
	for _, bad := range []string{"AAAAAAAAA+/", "AAAAAAAAAA/", "AAAAAAAA\nA", "AAAAAAAAAAB", "AAAAAAAAAA=", "AAAAAAAAAAAA", ""} {
		b, ok := decodeN(bad, 8)
		assert.False(t, ok, "%q", bad)
		assert.Nil(t, b, "%q", bad)
	}
	b, ok := decodeN("AAAAAAAAAAE", 8)
	assert.True(t, ok)
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 1}, b)
}
