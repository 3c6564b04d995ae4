package protocol

import (
	"bytes"
	"crypto/rand"
	"errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"io"
	"runtime"
	"strings"
	"testing"
	"unicode"
)

func TestB64RoundTrip(t *testing.T) {
	for n := 0; n < 70; n++ {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		s := B64Encode(b)
		assert.False(t, strings.ContainsAny(s, "+/="), s)
		got, err := B64Decode(s)
		require.NoError(t, err)
		assert.Equal(t, b, got)
	}
}

func TestFragmentRoundTrip(t *testing.T) {
	for _, flags := range []byte{0, FlagPIN} {
		var f Fragment
		f.Version, f.Flags = Version, flags
		_, _ = rand.Read(f.Secret[:])
		s := f.String()
		assert.Len(t, s, 46)
		g, err := ParseFragment("#" + s)
		require.NoError(t, err)
		assert.Equal(t, f, g)
	}
}

// The digit mapping assumes the Nd table is made of whole runs of ten with stride 1; check
// that for the Unicode tables this Go was built with, and that every value is right.
func TestDigitTable(t *testing.T) {
	count := 0
	check := func(lo, hi, stride uint32) {
		assert.Equal(t, uint32(1), stride, "range %x", lo)
		assert.Zero(t, (hi-lo+1)%10, "range %x-%x", lo, hi)
		for r := lo; r <= hi; r++ {
			v, ok := digitValue(rune(r))
			require.True(t, ok)
			assert.Equal(t, byte((r-lo)%10), v)
			count++
		}
	}
	for _, r := range unicode.Nd.R16 {
		check(uint32(r.Lo), uint32(r.Hi), uint32(r.Stride))
	}
	for _, r := range unicode.Nd.R32 {
		check(r.Lo, r.Hi, r.Stride)
	}
	assert.True(t, count > 500, "Nd has hundreds of digits")
	for _, r := range "aZ ½²Ⅻ٫-" {
		_, ok := digitValue(r)
		assert.False(t, ok, "%q", r)
	}
}

// StretchPIN maps digits before PBKDF2 (the vectors check the stretch itself, with a PIN
// typed in Arabic-Indic digits).
func TestStretchMapsDigits(t *testing.T) {
	assert.Equal(t, "123456", mapDigits("１２３４５６"))
	assert.Equal(t, "12a 3", mapDigits("١٢a ३"))
}

func TestPadmeProperties(t *testing.T) {
	prev := int64(0)
	for n := int64(0); n < 1<<16; n++ {
		p := Padme(n)
		require.True(t, p >= n, "padme(%d)=%d", n, p)
		require.True(t, p >= prev, "monotonic at %d", n)
		if n >= 2 {
			// Overhead ≤ 12% for all n beyond the tiny ones (the bound of the Padmé paper).
			assert.True(t, float64(p-n) <= 0.12*float64(n)+1, "overhead at %d", n)
		}
		assert.Equal(t, p, Padme(p), "idempotent at %d", n)
		prev = p
	}
}

func sealBytes(t *testing.T, key []byte, kind byte, pt []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, Seal(&b, key, kind, bytes.NewReader(pt), int64(len(pt))))
	require.EqualValues(t, SealedLen(int64(len(pt))), b.Len())
	return b.Bytes()
}

func TestEnvelopeRoundTrip(t *testing.T) {
	key := seq(1, 32)
	for _, n := range []int{1, 2, 100, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2 * ChunkSize, 2*ChunkSize + 1, 5*ChunkSize + 77} {
		pt := make([]byte, n)
		_, _ = rand.Read(pt)
		env := sealBytes(t, key, KindNote, pt)
		var out bytes.Buffer
		require.NoError(t, Open(&out, key, KindNote, bytes.NewReader(env)), "n=%d", n)
		assert.Equal(t, pt, out.Bytes(), "n=%d", n)
		// One-byte reads exercise the look-ahead across short reads.
		out.Reset()
		require.NoError(t, Open(&out, key, KindNote, io.LimitReader(oneByteReader{bytes.NewReader(env)}, 1<<40)))
		assert.Equal(t, pt, out.Bytes())
		env2 := sealBytes(t, key, KindNote, pt)
		assert.False(t, bytes.Equal(env[:HeaderSize], env2[:HeaderSize]), "fresh entry nonce and prefix")
	}
	err := Seal(io.Discard, key, KindNote, bytes.NewReader(nil), 0)
	assert.ErrorIs(t, err, ErrLength)
	err = Seal(io.Discard, key, KindNote, bytes.NewReader(make([]byte, 9)), 10)
	assert.ErrorIs(t, err, ErrLength)
	err = Seal(io.Discard, key, KindNote, bytes.NewReader(make([]byte, 11)), 10)
	assert.ErrorIs(t, err, ErrLength)
	assert.ErrorIs(t, Seal(io.Discard, key[:16], KindNote, bytes.NewReader(make([]byte, 1)), 1), ErrKey)
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func TestEnvelopeTamper(t *testing.T) {
	key := seq(1, 32)
	pt := make([]byte, 3*ChunkSize+5)
	env := sealBytes(t, key, KindNote, pt)
	h, c := HeaderSize, sealedChunk
	c0, c1, c2 := env[h:h+c], env[h+c:h+2*c], env[h+2*c:h+3*c]
	c3 := env[h+3*c:]
	other := sealBytes(t, key, KindNote, pt)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	flip := func(at int) []byte { b := bytes.Clone(env); b[at] ^= 1; return b }
	for _, tc := range []struct {
		name string
		env  []byte
		kind byte
		want error
	}{
		{"flip body", flip(h + 10), KindNote, ErrAuth},
		{"flip header", flip(5), KindNote, ErrAuth},
		{"flip last tag", flip(len(env) - 1), KindNote, ErrAuth},
		{"version", append([]byte{2}, env[1:]...), KindNote, ErrVersion},
		{"kind", env, KindChatFrame, ErrKind},
		{"swap", cat(env[:h], c1, c0, c2, c3), KindNote, ErrAuth},
		{"replay", cat(env[:h], c0, c0, c2, c3), KindNote, ErrAuth},
		{"reorder", cat(env[:h], c0, c2, c1, c3), KindNote, ErrAuth},
		{"drop middle", cat(env[:h], c0, c2, c3), KindNote, ErrAuth},
		{"truncate at boundary", cat(env[:h], c0, c1, c2), KindNote, ErrTruncated},
		{"truncate mid-chunk", env[:len(env)-3], KindNote, ErrAuth},
		{"truncate tag", env[:h+2*c+16], KindNote, ErrTruncated},
		{"header only", env[:h], KindNote, ErrTruncated},
		{"short header", env[:h-1], KindNote, ErrTruncated},
		{"extend", cat(env, c3), KindNote, ErrAuth},
		{"splice other envelope", cat(env[:h], other[h:h+c], c1, c2, c3), KindNote, ErrAuth},
		{"other header", cat(other[:h], env[h:]), KindNote, ErrAuth},
	} {
		err := Open(io.Discard, key, tc.kind, bytes.NewReader(tc.env))
		assert.ErrorIs(t, err, tc.want, tc.name)
	}
	// A full last chunk followed by anything is trailing data.
	full := sealBytes(t, key, KindNote, make([]byte, ChunkSize))
	assert.ErrorIs(t, Open(io.Discard, key, KindNote, bytes.NewReader(append(full, 0))), ErrTrailing)
	assert.ErrorIs(t, Open(io.Discard, seq(2, 32), KindNote, bytes.NewReader(full)), ErrAuth)
}

// The envelope streams: sealing and opening 25 MiB must not allocate anything near 25 MiB.
func TestEnvelopeStreamsInConstantMemory(t *testing.T) {
	const n = 25 << 20
	key := seq(3, 32)
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(Seal(pw, key, KindNote, io.LimitReader(zeroReader{}, n), n))
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cw := &countWriter{}
	require.NoError(t, Open(cw, key, KindNote, pr))
	runtime.ReadMemStats(&after)
	assert.EqualValues(t, n, cw.n)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB to seal and open %d MiB", alloc>>10, n>>20)
	assert.True(t, alloc < 4<<20, "allocated %d bytes", alloc)
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func TestPlaintextReaderChecksFileSizes(t *testing.T) {
	read := func(files []FileInput) error {
		r, _, err := PlaintextReader("t", files)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, r)
		return err
	}
	assert.ErrorIs(t, read([]FileInput{{Name: "a", Size: 5, R: strings.NewReader("abcd")}}), ErrLength)
	assert.ErrorIs(t, read([]FileInput{{Name: "a", Size: 3, R: strings.NewReader("abcd")}}), ErrLength)
	assert.NoError(t, read([]FileInput{{Name: "a", Size: 4, R: strings.NewReader("abcd")}}))
	_, _, err := PlaintextReader("t", []FileInput{{Name: "a", Size: -1, R: strings.NewReader("")}})
	assert.ErrorIs(t, err, ErrLength)
}

func TestNoteRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		files []FileInput
	}{
		{"empty", "", nil},
		{"text", "héllo <b>&", nil},
		{"files spanning chunks", "x", []FileInput{
			{Name: "big.bin", Type: "application/octet-stream", Size: 150000, R: io.LimitReader(zeroReader{}, 150000)},
			{Name: "empty", Type: "", Size: 0, R: strings.NewReader("")},
			{Name: "s.txt", Type: "text/plain", Size: 3, R: strings.NewReader("abc")},
		}},
	} {
		s, err := NewNoteSecrets("", "")
		require.NoError(t, err)
		meta := make([]File, len(tc.files))
		for i, f := range tc.files {
			meta[i] = File{f.Name, f.Type, f.Size}
		}
		want, err := SealedNoteLen(tc.text, meta)
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, SealNote(&b, s, tc.text, tc.files))
		assert.EqualValues(t, want, b.Len(), tc.name)
		f, err := ParseFragment(s.Fragment().String())
		require.NoError(t, err)
		assert.Zero(t, f.Flags)
		m, data, err := OpenNote(bytes.NewReader(b.Bytes()), f.Secret[:], "")
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.text, m.Text)
		require.Len(t, data, len(tc.files))
		for i := range meta {
			assert.Equal(t, meta[i], m.Files[i])
			assert.EqualValues(t, meta[i].Size, len(data[i]))
		}
		if len(data) == 3 {
			assert.Equal(t, []byte("abc"), data[2])
		}
		h := s.Hashes()
		assert.False(t, h.PIN)
		assert.Equal(t, h.Destruct, s.Hashes().Destruct, "destruct hash is stable per note")
		s2, _ := NewNoteSecrets("", "")
		assert.False(t, h.Destruct == s2.Hashes().Destruct, "random per note")
	}
}

func TestNoteWithPINs(t *testing.T) {
	t.Parallel() // PBKDF2 is slow under -race; overlap with TestVectors
	_, err := NewNoteSecrets("", "123456")
	assert.ErrorIs(t, err, ErrPIN)
	_, err = NewNoteSecrets("123456", "１２３４５６")
	assert.ErrorIs(t, err, ErrPIN)
	s, err := NewNoteSecrets("١٢٣٤٥٦", "654321")
	require.NoError(t, err)
	assert.Equal(t, "123456", s.PIN)
	assert.Equal(t, byte(FlagPIN), s.Fragment().Flags)
	assert.Zero(t, s.ManageFragment().Flags)
	var b bytes.Buffer
	require.NoError(t, SealNote(&b, s, "secret", nil))
	h := s.Hashes()
	require.True(t, h.PIN)
	assert.Equal(t, Hash(s.M[:]), h.Manage)

	g, o, d := ReaderTokens(s.K[:], "123456")
	assert.Equal(t, h.Gate, Hash(g))
	assert.Equal(t, h.Open, Hash(o))
	assert.False(t, h.Destruct == Hash(d))
	_, o2, d2 := ReaderTokens(s.K[:], "654321")
	assert.Equal(t, h.Destruct, Hash(d2), "duress PIN matches the destruct hash")
	assert.False(t, h.Open == Hash(o2))
	_, o3, d3 := ReaderTokens(s.K[:], "")
	assert.True(t, o3 == nil && d3 == nil)

	m, _, err := OpenNote(bytes.NewReader(b.Bytes()), s.K[:], "123456")
	require.NoError(t, err)
	assert.Equal(t, "secret", m.Text)
	_, _, err = OpenNote(bytes.NewReader(b.Bytes()), s.K[:], "")
	assert.ErrorIs(t, err, ErrAuth, "the link without the PIN cannot decrypt")
}

func TestErrorsAreClassified(t *testing.T) {
	for _, e := range []error{ErrVersion, ErrKind, ErrTrailing} {
		assert.True(t, errors.Is(e, ErrFormat), e.Error())
	}
}
