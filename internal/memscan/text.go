package memscan

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// NewTextCanary returns a canary of lowercase ASCII letters, for text that passes through
// encoders which keep letters as they are (a form's text field, a JSON manifest). Like every
// canary it is never held whole: each letter is made from a random byte as its half is written.
func NewTextCanary(t testing.TB) Canary {
	t.Helper()
	var c Canary
	var r [Size]byte
	_, err := rand.Read(c.a[:])
	require.NoError(t, err)
	_, err = rand.Read(r[:])
	require.NoError(t, err)
	for i := range Size {
		c.b[i] = c.a[i] ^ ('a' + r[i]%26)
	}
	clear(r[:])
	return c
}

// NewCanaryWithout returns a canary none of whose bytes is b (a JPEG scan's data may hold
// no 0xFF that is not a marker).
func NewCanaryWithout(t testing.TB, b byte) Canary {
	t.Helper()
	for {
		c := NewCanary(t)
		ok := true
		for i := range Size {
			if c.At(i) == b {
				ok = false
				break
			}
		}
		if ok {
			return c
		}
	}
}
