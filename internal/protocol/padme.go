package protocol

import "math/bits"

// Padme returns the padded length of n (Nikitin et al., "Reducing Metadata Leakage from
// Encrypted Files and Communication with PURBs"): at most about 12% larger, and the padded
// sizes leak only O(log log n) bits. n < 2 (and negative n) are returned unchanged.
func Padme(n int64) int64 {
	if n < 2 {
		return n
	}
	e := bits.Len64(uint64(n)) - 1 // floor(log2 n)
	s := bits.Len64(uint64(e))     // floor(log2 e) + 1 (0 when e == 0, never here)
	mask := int64(1)<<(e-s) - 1
	return (n + mask) &^ mask
}
