package protocol

// Review tests (protocol review). The tests that showed confirmed defects (once named
// TestReviewDefect*) pass since the fixes and stay as regression tests; every other test here
// is a characterisation test that pins behaviour the review checked.

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"runtime"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reviewPlain builds u32 len ‖ manifest ‖ tail, zero-padded to the canonical Padmé length.
func reviewPlain(manifest []byte, tail ...byte) []byte { return canonical(string(manifest), tail...) }

// Regression (review L1): JSON.parse in the browser reads 1.0, 1e0 and 3.0 as the integers 1
// and 3, so protocol.js accepts these manifests (static/test/review.test.js pins that). Go's
// encoding/json refused to put "1.0" into an int, so the two readers disagreed about one
// authenticated plaintext. Go now reads numbers as the browser does (safeInteger); the forms
// are in the plaintext_accepted vectors.
func TestManifestNumberFormsAgreeWithBrowser(t *testing.T) {
	for _, c := range []struct {
		name, manifest string
		tail           []byte
	}{
		{"v as 1.0", `{"v":1.0,"text":"","files":[]}`, nil},
		{"v as 1e0", `{"v":1e0,"text":"","files":[]}`, nil},
		{"size as 3.0", `{"v":1,"text":"","files":[{"name":"a","type":"b","size":3.0}]}`, []byte{1, 2, 3}},
		{"size as 3e0", `{"v":1,"text":"","files":[{"name":"a","type":"b","size":3e0}]}`, []byte{1, 2, 3}},
	} {
		p := reviewPlain([]byte(c.manifest), c.tail...)
		m, _, err := ParsePlaintext(p)
		require.NoError(t, err, "%s: protocol.js accepts this manifest", c.name)
		assert.Equal(t, 1, m.V)
		m2, err := ReadPlaintext(bytes.NewReader(p), func(File) (io.Writer, error) { return io.Discard, nil })
		require.NoError(t, err, c.name)
		assert.Equal(t, m, m2)
		if c.tail != nil {
			assert.EqualValues(t, 3, m.Files[0].Size)
		}
	}
}

// Regression (review L2): a UTF-8 byte order mark before the manifest JSON is refused by both
// readers (the browser's TextDecoder used to strip it silently; review.test.js has the twin).
func TestManifestBOMRefused(t *testing.T) {
	m := append([]byte{0xef, 0xbb, 0xbf}, `{"v":1,"text":"bom","files":[]}`...)
	_, _, err := ParsePlaintext(reviewPlain(m))
	assert.ErrorIs(t, err, ErrFormat)
	_, err = ReadPlaintext(bytes.NewReader(reviewPlain(m)), func(File) (io.Writer, error) { return io.Discard, nil })
	assert.ErrorIs(t, err, ErrFormat)
}

// Regression (review nit, fixed with L2): both readers used to accept invalid UTF-8 and
// unpaired surrogate escapes in the manifest but decode them differently (Go: two U+FFFD for
// E2 82 and U+FFFD for "\ud800"; the browser: one U+FFFD and a lone surrogate), so one note
// showed different text in the two clients. Both refuse them now.
func TestManifestInvalidUTF8AndLoneSurrogatesRefused(t *testing.T) {
	for _, m := range [][]byte{
		append(append([]byte(`{"v":1,"text":"`), 0xe2, 0x82), `","files":[]}`...),
		[]byte(`{"v":1,"text":"\ud800","files":[]}`),
		[]byte(`{"v":1,"text":"\udfff\ud800","files":[]}`),
		[]byte(`{"v":1,"text":"x\ud800\\udc00","files":[]}`), // the second is an escaped backslash
	} {
		_, _, err := ParsePlaintext(reviewPlain(m))
		assert.ErrorIs(t, err, ErrFormat, "%q", m)
		_, err = ReadPlaintext(bytes.NewReader(reviewPlain(m)), func(File) (io.Writer, error) { return io.Discard, nil })
		assert.ErrorIs(t, err, ErrFormat, "%q", m)
	}
	got, _, err := ParsePlaintext(reviewPlain([]byte(`{"v":1,"text":"\ud83d\ude00 \\ud800","files":[]}`)))
	require.NoError(t, err)
	assert.Equal(t, "😀 \\ud800", got.Text, "a pair, and an escaped backslash before u")
}

// Characterisation: whitespace cannot smuggle a null past the strict key check.
func TestReviewManifestNullWithWhitespaceRefused(t *testing.T) {
	for _, m := range []string{
		`{"v":1,"text": null,"files":[]}`,
		`{"v":1,"text":"","files": null}`,
		`{"v":1,"text":"","files":[{"name": null,"type":"","size":0}]}`,
		`{"v":1,"text":"","files":[{"name":"","type":"","size" :null}]}`,
	} {
		_, _, err := ParsePlaintext(reviewPlain([]byte(m)))
		assert.ErrorIs(t, err, ErrFormat, m)
	}
}

// Regression (review L4): ReadPlaintext used to allocate the declared manifest length (up to
// MaxManifest, 64 MiB) before it knew a single manifest byte existed: four hostile bytes cost
// 64 MiB. It now reads the manifest as it arrives, so memory follows the bytes present.
func TestReadPlaintextMemoryFollowsInput(t *testing.T) {
	hostile := []byte{0x03, 0xff, 0xff, 0xff} // declares a manifest of 64 MiB - 1
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadPlaintext(bytes.NewReader(hostile), func(File) (io.Writer, error) { return io.Discard, nil })
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrFormat)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("ReadPlaintext of a 4-byte input allocated %d KiB", alloc>>10)
	assert.Less(t, alloc, uint64(1<<20), "memory must follow the input, not its length prefix")
}

// padmeRef is the SECURITY.md formula in big integers.
func padmeRef(n int64) *big.Int {
	N := big.NewInt(n)
	if n < 2 {
		return N
	}
	e := N.BitLen() - 1
	s := big.NewInt(int64(e)).BitLen()
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(e-s)), big.NewInt(1))
	r := new(big.Int).Add(N, mask)
	return r.AndNot(r, mask)
}

// Characterisation: Padme matches the spec formula on the whole domain PlaintextLen can
// produce (unpaddedLen caps the sum at MaxInt64/2). Nit for the report: above about
// MaxInt64 - 2^56 the exported Padme overflows and returns a negative number.
func TestReviewPadmeMatchesSpecFormula(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	check := func(n int64) {
		want := padmeRef(n)
		require.True(t, want.IsInt64(), "n=%d", n)
		require.Equal(t, want.Int64(), Padme(n), "n=%d", n)
	}
	for e := 0; e < 62; e++ {
		for _, d := range []int64{-1, 0, 1} {
			if n := int64(1)<<e + d; n >= 0 {
				check(n)
			}
		}
	}
	for range 20000 {
		check(r.Int64N(math.MaxInt64 / 2))
		check(r.Int64N(1 << 30))
	}
	check(math.MaxInt64 / 2)
	assert.Negative(t, Padme(math.MaxInt64), "documented overflow of the exported function")
}

// Characterisation: the encryptor refuses 2^32 chunks or more before reading anything (the
// counter would wrap and repeat nonces); one chunk fewer is accepted.
func TestReviewSealChunkCounterBound(t *testing.T) {
	key := seq(9, 32)
	errStop := errors.New("stop")
	stop := readerFunc(func([]byte) (int, error) { return 0, errStop })
	err := Seal(io.Discard, key, KindNote, stop, int64(math.MaxUint32)*ChunkSize+1)
	assert.ErrorIs(t, err, ErrLength, "2^32 chunks")
	err = Seal(io.Discard, key, KindNote, stop, int64(math.MaxUint32)*ChunkSize)
	assert.ErrorIs(t, err, errStop, "2^32-1 chunks are allowed")
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// chunkyReader returns at most k bytes per Read, to move chunk boundaries across reads.
type chunkyReader struct {
	r io.Reader
	k int
}

func (c chunkyReader) Read(p []byte) (int, error) {
	if len(p) > c.k {
		p = p[:c.k]
	}
	return c.r.Read(p)
}

// Characterisation of the chunk boundaries of SECURITY.md: exact multiples of 65,536, one
// more and one less, read through odd read sizes; what follows the last chunk.
func TestReviewEnvelopeBoundaries(t *testing.T) {
	key := seq(4, 32)
	for _, n := range []int{1, 16, 17, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2*ChunkSize - 1, 2 * ChunkSize, 2*ChunkSize + 1} {
		pt := make([]byte, n)
		_, _ = rand.Read(pt)
		env := sealBytes(t, key, KindNote, pt)
		for _, k := range []int{7, sealedChunk - 1, sealedChunk, sealedChunk + 1, 1 << 20} {
			var out bytes.Buffer
			require.NoError(t, Open(&out, key, KindNote, chunkyReader{bytes.NewReader(env), k}), "n=%d k=%d", n, k)
			require.Equal(t, pt, out.Bytes(), "n=%d k=%d", n, k)
		}
	}

	full := sealBytes(t, key, KindNote, make([]byte, 2*ChunkSize))
	for k := 1; k <= TagSize+2; k++ {
		tail := make([]byte, k)
		err := Open(io.Discard, key, KindNote, bytes.NewReader(append(bytes.Clone(full), tail...)))
		assert.ErrorIs(t, err, ErrTrailing, "%d bytes after a full last chunk", k)
	}
	oneChunk := full[:HeaderSize+sealedChunk] // chunk 0 sealed as not-last
	for k := 0; k <= TagSize+1; k++ {
		err := Open(io.Discard, key, KindNote, bytes.NewReader(append(bytes.Clone(oneChunk), make([]byte, k)...)))
		switch {
		case k == 0:
			assert.ErrorIs(t, err, ErrTruncated, "no last chunk")
		case k <= TagSize:
			assert.ErrorIs(t, err, ErrTruncated, "%d-byte last chunk", k)
		default:
			assert.ErrorIs(t, err, ErrAuth, "%d-byte forged last chunk", k)
		}
	}
}

// Characterisation: Open writes only authenticated chunks. When chunk 1 of 3 is damaged, the
// writer receives exactly chunk 0's plaintext and nothing of chunk 1.
func TestReviewOpenReleasesOnlyAuthenticatedChunks(t *testing.T) {
	key := seq(5, 32)
	pt := make([]byte, 2*ChunkSize+100)
	_, _ = rand.Read(pt)
	env := sealBytes(t, key, KindNote, pt)
	for _, at := range []int{HeaderSize + sealedChunk, HeaderSize + sealedChunk + 1000, HeaderSize + 2*sealedChunk - 1} {
		bad := bytes.Clone(env)
		bad[at] ^= 0x40
		var out bytes.Buffer
		err := Open(&out, key, KindNote, bytes.NewReader(bad))
		require.ErrorIs(t, err, ErrAuth)
		assert.Equal(t, pt[:ChunkSize], out.Bytes(), "flip at %d", at)
	}
}

// Characterisation: hostile input (an endless stream of garbage after a valid header) fails
// on the first chunk in bounded memory and reads at most one chunk plus one byte.
func TestReviewOpenHostileStreamBounded(t *testing.T) {
	key := seq(6, 32)
	header := []byte{Version, KindNote}
	header = append(header, make([]byte, HeaderSize-2)...)
	counted := &countingReader{r: io.MultiReader(bytes.NewReader(header), zeroReader{})}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := Open(io.Discard, key, KindNote, counted)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrAuth)
	assert.EqualValues(t, HeaderSize+sealedChunk+1, counted.n)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Regression (review L3): the PIN digit table used to be the Unicode version of the Go
// toolchain while protocol.js used the browser's ICU, so digits added in Unicode 16 (Sunuwar
// U+11BF0, Garay U+10D40, Outlined U+1CCF0, Kirat Rai U+16D70) were accepted by one client and
// refused by the other. Both now use the frozen Unicode 15.0 table (digitZeros, published as
// pin.digit_zeros), whatever Unicode version the toolchain or browser has.
func TestPINDigitTableIsFrozen(t *testing.T) {
	t.Logf("Go unicode.Version = %s; the PIN table stays Unicode 15.0", unicode.Version)
	for _, zero := range []rune{0x11BF0, 0x10D40, 0x1CCF0, 0x16D70} {
		pin := string([]rune{zero + 1, zero + 2, zero + 3, zero + 4, zero + 5, zero + 6})
		_, err := NormalizePIN(pin)
		assert.ErrorIs(t, err, ErrPIN, "%x", zero)
		assert.Equal(t, pin, mapDigits(pin), "not mapped before stretching either")
	}
}

// Characterisation: the PIN rules refuse every non-Nd lookalike a keyboard or paste may
// produce: other numeric categories, signs, whitespace, combining marks, keycaps, joiners.
func TestReviewPINRefusesLookalikes(t *testing.T) {
	for _, s := range []string{
		"12345\u0661\u0301", // combining acute on a digit
		"1\u20e323456",      // combining enclosing keycap
		"1\ufe0f23456",      // variation selector
		"123\u200d456",      // zero-width joiner
		"123\u00a0456",      // no-break space
		"\ufeff123456",      // BOM from a paste
		"+123456", "-123456", "１２３４５６\u3000",
		"①②③④⑤⑥",     // circled digits, No
		"〡〢〣〤〥〦",     // Hangzhou numerals, Nl
		"一二三四五六",     // CJK ideographs, Lo
		"\xff123456", // invalid UTF-8
	} {
		_, err := NormalizePIN(s)
		assert.ErrorIs(t, err, ErrPIN, "%q", s)
	}
}
