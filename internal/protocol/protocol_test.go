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

// The frozen digit table: sorted runs of ten that never overlap, each a run of decimal
// digits 0-9 in this Go's Unicode tables (digits are never removed from Unicode, so this holds
// for every later version too), exactly the Nd category when this Go has Unicode 15.0.0, and
// digitValue accepts exactly the table's code points over the whole code space.
func TestDigitTable(t *testing.T) {
	require.Len(t, digitZeros, 68)
	inTable := map[rune]byte{}
	for i, z := range digitZeros {
		if i > 0 {
			require.GreaterOrEqual(t, z, digitZeros[i-1]+10, "sorted, no overlap at %x", z)
		}
		for d := rune(0); d < 10; d++ {
			require.True(t, unicode.Is(unicode.Nd, z+d), "%x is Nd", z+d)
			inTable[z+d] = byte(d)
		}
	}
	if unicode.Version == "15.0.0" {
		nd := map[rune]bool{}
		for r := rune(0); r <= unicode.MaxRune; r++ {
			if unicode.Is(unicode.Nd, r) {
				nd[r] = true
			}
		}
		assert.Len(t, nd, len(inTable), "the table is Unicode 15.0's Nd, no more, no less")
		for r := range nd {
			_, ok := inTable[r]
			assert.True(t, ok, "%x", r)
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		v, ok := digitValue(r)
		want, in := inTable[r]
		if ok != in || v != want {
			t.Fatalf("digitValue(%x) = %d, %v; want %d, %v", r, v, ok, want, in)
		}
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

// Review L6 and L4: writers refuse what readers would refuse, more than MaxFiles files or a
// manifest over MaxManifest bytes; readers refuse a well-formed, canonically padded
// plaintext whose manifest is one byte over the cap.
func TestManifestLimits(t *testing.T) {
	files := make([]FileInput, MaxFiles+1)
	for i := range files {
		files[i] = FileInput{R: strings.NewReader("")}
	}
	_, _, err := PlaintextReader("", files)
	assert.ErrorIs(t, err, ErrLength)
	_, err = SealedNoteLen("", make([]File, MaxFiles+1))
	assert.ErrorIs(t, err, ErrLength)
	_, err = SealedNoteLen("", make([]File, MaxFiles))
	assert.NoError(t, err)
	_, err = PlaintextLen("", []File{{Size: maxSafeInt + 1}})
	assert.ErrorIs(t, err, ErrLength, "a size the browser cannot read exactly")

	empty := len(`{"v":1,"text":"","files":[]}`)
	_, err = PlaintextLen(strings.Repeat("a", MaxManifest-empty), nil)
	assert.NoError(t, err, "exactly MaxManifest")
	_, err = PlaintextLen(strings.Repeat("a", MaxManifest-empty+1), nil)
	assert.ErrorIs(t, err, ErrLength, "one byte over")

	over := canonical(`{"v":1,"text":"` + strings.Repeat("a", MaxManifest-empty+1) + `","files":[]}`)
	_, _, err = ParsePlaintext(over)
	assert.ErrorIs(t, err, ErrFormat)
	_, err = ReadPlaintext(bytes.NewReader(over), func(File) (io.Writer, error) { return io.Discard, nil })
	assert.ErrorIs(t, err, ErrFormat)
}

// Review L5: the padded length must be exactly Padmé of the unpadded length; ReadPlaintext
// reads at most one byte past it, so an endless stream of zeros fails at once.
func TestPaddingLengthIsCanonical(t *testing.T) {
	good := canonical(`{"v":1,"text":"abc","files":[]}`)
	require.Len(t, good, 36)
	_, _, err := ParsePlaintext(good)
	require.NoError(t, err)
	for _, n := range []int{35, 37, 40, 64} {
		p := make([]byte, n)
		copy(p, good)
		_, _, err := ParsePlaintext(p)
		assert.ErrorIs(t, err, ErrFormat, "length %d", n)
		_, err = ReadPlaintext(bytes.NewReader(p), func(File) (io.Writer, error) { return io.Discard, nil })
		assert.ErrorIs(t, err, ErrFormat, "length %d", n)
	}
	counted := &countingReader{r: io.MultiReader(bytes.NewReader(good), zeroReader{})}
	_, err = ReadPlaintext(counted, func(File) (io.Writer, error) { return io.Discard, nil })
	assert.ErrorIs(t, err, ErrFormat)
	assert.EqualValues(t, len(good)+1, counted.n)
}

func TestParseManageFragment(t *testing.T) {
	s, err := NewNoteSecrets("123456", "")
	require.NoError(t, err)
	m, err := ParseManageFragment("#" + s.ManageFragment().String())
	require.NoError(t, err)
	assert.Equal(t, s.M, m.Secret)
	_, err = ParseManageFragment(s.Fragment().String())
	assert.ErrorIs(t, err, ErrFragment, "a note link with a PIN is not a manage link")
	_, err = ParseFragment(s.Fragment().String())
	assert.NoError(t, err)
}

// wipeBuffer zeroes the array it leaves behind each time it grows.
func TestWipeBufferZeroesWhatItLeaves(t *testing.T) {
	var w wipeBuffer
	_, _ = w.Write(bytes.Repeat([]byte{7}, 100))
	old := w.b[:cap(w.b)]
	_, _ = w.Write(bytes.Repeat([]byte{8}, cap(w.b)))
	assert.Equal(t, make([]byte, len(old)), old, "old array zeroed")
	assert.Equal(t, append(bytes.Repeat([]byte{7}, 100), bytes.Repeat([]byte{8}, len(old))...), w.b)
	w.wipe()
	assert.Empty(t, w.b)
	assert.Equal(t, make([]byte, cap(w.b)), w.b[:cap(w.b)])
}

// Review L8: OpenNote sizes its buffer from the envelope once and zeroes it on every error,
// after an authentication failure (chunk 0 was already decrypted into it) and after a
// plaintext that decrypts but does not parse.
func TestOpenNoteWipesOnError(t *testing.T) {
	K := seq(0x41, 32)
	kp := PayloadKey(K, nil)
	pt, _ := notePlaintext(t, strings.Repeat("s", 2*ChunkSize), nil)
	env := sealBytes(t, kp, KindNote, pt)
	tampered := bytes.Clone(env)
	tampered[len(tampered)-1] ^= 1
	badPlain := bytes.Clone(pt)
	badPlain[len(badPlain)-1] = 1 // non-zero padding
	envBad := sealBytes(t, kp, KindNote, badPlain)
	for name, c := range map[string]struct {
		env  []byte
		want error
	}{"auth": {tampered, ErrAuth}, "parse": {envBad, ErrFormat}} {
		var w wipeBuffer
		_, _, err := openNote(&w, bytes.NewReader(c.env), K, "")
		require.ErrorIs(t, err, c.want, name)
		// One allocation of exactly the envelope's length minus the header: the buffer never
		// grew, so no copy was left behind, and the one array is all zeros.
		assert.Equal(t, len(c.env)-HeaderSize, cap(w.b), name)
		assert.Empty(t, w.b, name)
		assert.Equal(t, make([]byte, cap(w.b)), w.b[:cap(w.b)], "%s: buffer zeroed", name)
	}
	_, _, err := OpenNote(bytes.NewReader(env), K, "")
	require.NoError(t, err)
}

func TestNoteSecretsWipe(t *testing.T) {
	s, err := NewNoteSecrets("123456", "654321")
	require.NoError(t, err)
	_ = s.Hashes()
	p, dp, kp := s.p, s.dp, s.PayloadKey()
	require.NotEmpty(t, p)
	s.Wipe()
	zero := make([]byte, KeySize)
	assert.Equal(t, [32]byte{}, s.K)
	assert.Equal(t, [32]byte{}, s.M)
	assert.Equal(t, zero, p)
	assert.Equal(t, zero, dp)
	assert.Equal(t, zero, kp)
	assert.Empty(t, s.PIN)
	assert.Empty(t, s.DPIN)
	assert.Nil(t, s.payloadCache)
}
