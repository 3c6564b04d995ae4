package clean

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const fixtures = "../../static/test/fixtures"

// planted are the values static/test/fixtures/make-fixtures.sh plants (clean-helpers.js,
// PLANTED) that the image fixtures carry.
var planted = []string{"Jane Source", "CanonSecret", "EOS-Leak-5D", "SN123456789", "LeakyCam", "safehouse",
	"Hiddenville", "secret place", "2024:03:01", "2024-03-01"}

func run(t testing.TB, b []byte) (*Result, []byte, error) {
	t.Helper()
	sc := NewScratch(make([]byte, ScratchFor(len(b))))
	r, err := Clean(b, sc)
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	for _, p := range r.Pieces {
		out.Write(p)
	}
	require.Equal(t, r.Size(), out.Len())
	return r, out.Bytes(), nil
}

// canon is clean-vectors.test.js's canon: a PNG's iCCP chunks with their profile inflated.
func canon(t testing.TB, b []byte) []byte {
	if len(b) < 8 || b[0] != 0x89 {
		return b
	}
	out := bytes.Clone(b[:8])
	for i := 8; i+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		if string(b[i+4:i+8]) == "iCCP" {
			d := b[i+8 : i+8+n]
			z := bytes.IndexByte(d, 0)
			zr, err := zlib.NewReader(bytes.NewReader(d[z+2:]))
			require.NoError(t, err)
			prof, err := io.ReadAll(zr)
			require.NoError(t, err)
			out = append(append(append(out, "iCCP"...), d[:z+2]...), prof...)
		} else {
			out = append(out, b[i:i+12+n]...)
		}
		i += 12 + n
	}
	return out
}

// TestSharedVectors runs the browser filter's vectors (static/test/clean-vectors.json, which
// static/test/clean-vectors.test.js checks against the JS) through the Go port: the same
// kind, status, findings in the same words and order, and the same cleaned file; every kind
// the port does not clean is refused; and every file the browser filter could not check
// ("damaged") is refused for the same reason.
func TestSharedVectors(t *testing.T) {
	raw, err := os.ReadFile("../../static/test/clean-vectors.json")
	require.NoError(t, err)
	var v struct {
		Vectors []struct {
			File, Go, Kind, Status, Sha256, Damaged string
			Removed                                 []string
		}
	}
	require.NoError(t, json.Unmarshal(raw, &v))
	same, damaged := 0, 0
	for _, c := range v.Vectors {
		b, err := os.ReadFile(filepath.Join(fixtures, c.File))
		require.NoError(t, err)
		r, out, err := run(t, b)
		if c.Go == "refused" {
			var ref *Refusal
			require.ErrorAs(t, err, &ref, c.File)
			continue
		}
		if c.Go == "damaged" {
			var ref *Refusal
			require.ErrorAs(t, err, &ref, c.File)
			require.NotEmpty(t, c.Damaged, c.File)
			require.Contains(t, ref.Why, "could not be checked ("+c.Damaged+")", c.File)
			damaged++
			continue
		}
		require.NoError(t, err, c.File)
		require.Equal(t, c.Kind, r.Kind, c.File)
		require.Equal(t, c.Status, r.Status, c.File)
		require.Equal(t, c.Removed, r.Removed, c.File)
		sum := sha256.Sum256(canon(t, out))
		require.Equal(t, c.Sha256, hex.EncodeToString(sum[:]), c.File)
		for _, p := range planted {
			require.NotContains(t, string(out), p, c.File)
		}
		same++
	}
	require.GreaterOrEqual(t, same, 4)
	require.GreaterOrEqual(t, damaged, 8)
}

// TestExiftoolFindsNothing: exiftool (when installed) reads no planted value in the cleaned
// fixtures, and no GPS, make or model tag at all.
func TestExiftoolFindsNothing(t *testing.T) {
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool not installed (Debian: libimage-exiftool-perl)")
	}
	for _, f := range []string{"gps.jpg", "prog.jpg", "prog-ff00.jpg", "gps.png"} {
		b, err := os.ReadFile(filepath.Join(fixtures, f))
		require.NoError(t, err)
		_, out, err := run(t, b)
		require.NoError(t, err)
		p := filepath.Join(t.TempDir(), f)
		require.NoError(t, os.WriteFile(p, out, 0o600))
		got, err := exec.Command("exiftool", "-a", "-G1", "-u", "-ee", p).Output()
		require.NoError(t, err)
		for _, v := range append(planted, "GPS", "Make", "Camera Model", "Serial") {
			require.NotContains(t, string(got), v, f)
		}
		require.Contains(t, string(got), "Image Width", f) // still a picture exiftool reads
	}
}

func TestText(t *testing.T) {
	for _, ok := range []string{"hello\r\nworld\n", "a < b and 2 > 1\n", "price: 10 EUR (not a header)", "\xef\xbb\xbfBOM text", "Subjects: none"} {
		r, out, err := run(t, []byte(ok))
		require.NoError(t, err, ok)
		require.Equal(t, "text", r.Kind)
		require.Equal(t, "clean", r.Status)
		require.Equal(t, ok, string(out))
	}
	for _, bad := range []string{"<html><body>x", "text then <!-- comment -->", "<?xml version=\"1.0\"?><a/>",
		"{\\rtf1 x}", "%!PS-Adobe", "From: someone\r\nTo: x\r\n", "Received: from x\r\n", "subject: hi", "X-Mailer: y", "a { color: red }",
		"/* c */ p{x:y}", "@media screen {}", "\xff\xfeh\x00i\x00", "bin\x00ary", "ok\n" + strings.Repeat("x", 70000) + "\x00",
		"\xff\xd8\xff not a jpeg", "", "%PDF-1.4\n% text-like\n", "%!PS-Adobe-3.0\n", "P3\n2 2\n", "BM is a car",
		"\n%PDF-1.4\n1 0 obj << /Author (Jane Source) >> endobj\n", "junk line\r\n%FDF-1.2\n"} {
		_, _, err := run(t, []byte(bad))
		var ref *Refusal
		require.ErrorAs(t, err, &ref, "%q", bad)
		require.NotEmpty(t, ref.Why)
	}
}

// TestDamagedIsRefused: a JPEG or PNG the filter cannot read is refused in plain words, never
// passed on.
func TestDamagedIsRefused(t *testing.T) {
	for _, f := range []string{"gps.jpg", "gps.png", "prog-ff00.jpg"} {
		b, err := os.ReadFile(filepath.Join(fixtures, f))
		require.NoError(t, err)
		for _, cut := range []int{len(b) / 2, len(b) - 1, 20} {
			_, _, err := run(t, b[:cut])
			var ref *Refusal
			require.ErrorAs(t, err, &ref, "%s cut at %d", f, cut)
			require.Contains(t, ref.Why, "could not be checked")
		}
	}
}

func TestScratchTooSmall(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures, "gps.jpg"))
	require.NoError(t, err)
	_, err = Clean(b, NewScratch(make([]byte, 100)))
	require.True(t, errors.Is(err, ErrScratch))
}

// TestInflaterWiped: after a PNG's profile is inflated, the inflater's window holds none of it.
func TestInflaterWiped(t *testing.T) {
	prof := bytes.Repeat([]byte("PROFILE-CANARY-"), 2000)
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	_, _ = w.Write(prof)
	_ = w.Close()
	zr, err := zlib.NewReader(bytes.NewReader(z.Bytes()))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, zr)
	wipeInflater(zr)
	// The window is internal; inflating zeros through the same reader again must give zeros,
	// which it does only if a Reset reuses the window (checked by the memory scan in
	// internal/web's TestSafestNoResidue for the whole path).
	require.NoError(t, zr.(zlib.Resetter).Reset(bytes.NewReader(zeroStream()), nil))
	all, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, make([]byte, 64<<10), all)
}

// FuzzClean: whatever the bytes, the filter never panics, and a result it returns is a file
// with none of the planted values that the input did not hold in kept parts.
func FuzzClean(f *testing.F) {
	for _, n := range []string{"gps.jpg", "prog.jpg", "prog-ff00.jpg", "gps.png"} {
		b, err := os.ReadFile(filepath.Join(fixtures, n))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte("plain text"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc := NewScratch(make([]byte, ScratchFor(len(b))))
		r, err := Clean(b, sc)
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				require.ErrorIs(t, err, ErrScratch)
			}
			return
		}
		require.Contains(t, []string{"jpeg", "png", "text"}, r.Kind)
		require.Contains(t, []string{"clean", "cleaned"}, r.Status)
		if r.Kind == "jpeg" || r.Kind == "png" {
			// A cleaned picture cleans to itself: nothing left to remove.
			var out bytes.Buffer
			for _, p := range r.Pieces {
				out.Write(p)
			}
			r2, err := Clean(out.Bytes(), NewScratch(make([]byte, ScratchFor(out.Len()))))
			require.NoError(t, err)
			require.Equal(t, "clean", r2.Status, "removed %q", r2.Removed)
		}
	})
}

// pngChunk is a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(append(out, typ...), data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

// TestKeptPartsShape: kept PNG chunks and JPEG segments of any but their specified shape make
// the file one that could not be checked (review 3), in the words of the browser filter
// (static/test/clean.test.js has the same cases). gps.png is 48x32 RGB, 16 bits.
func TestKeptPartsShape(t *testing.T) {
	png, err := os.ReadFile(filepath.Join(fixtures, "gps.png"))
	require.NoError(t, err)
	ihdr, idat := png[16:29], []byte(nil)
	for i := 8; i < len(png); {
		n := int(binary.BigEndian.Uint32(png[i:]))
		if string(png[i+4:i+8]) == "IDAT" {
			idat = png[i+8 : i+8+n]
		}
		i += 12 + n
	}
	mk := func(extra []byte, data ...[]byte) []byte {
		b := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
		b = append(b, extra...)
		for _, d := range data {
			b = append(b, pngChunk("IDAT", d)...)
		}
		return append(b, pngChunk("IEND", nil)...)
	}
	z := func(n int) []byte {
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		_, _ = w.Write(make([]byte, n))
		_ = w.Close()
		return buf.Bytes()
	}
	c := func(typ string, n int) []byte { return pngChunk(typ, make([]byte, n)) }
	all := bytes.Join([][]byte{c("sRGB", 1), c("gAMA", 4), c("cHRM", 32), c("bKGD", 6), c("sBIT", 3), c("tRNS", 6),
		c("cICP", 4), c("cLLi", 8), c("mDCv", 24), c("acTL", 8), c("fcTL", 26), c("PLTE", 6), c("hIST", 4)}, nil)
	badIHDR := append(bytes.Clone(ihdr[:8]), 3, 2, 0, 0, 0)
	fctl := pngChunk("fcTL", append(make([]byte, 4), append(bytes.Clone(ihdr[:8]), make([]byte, 14)...)...))
	apng := func(withFcTL bool, frame []byte) []byte {
		b := mk(nil, idat)
		if withFcTL {
			b = mk(append(c("acTL", 8), fctl...), idat)
		}
		b = b[:len(b)-12]
		if withFcTL {
			b = append(b, fctl...)
		}
		b = append(b, pngChunk("fdAT", append(make([]byte, 4), frame...))...)
		return append(b, pngChunk("IEND", nil)...)
	}
	jpg, err := os.ReadFile(filepath.Join(fixtures, "prog.jpg"))
	require.NoError(t, err)
	seg := func(m byte, p []byte) []byte {
		return append(append([]byte{0xff, 0xd8, 0xff, m, 0, byte(2 + len(p))}, p...), jpg[2:]...)
	}
	dac := func(p ...byte) []byte { return seg(0xcc, p) }
	for name, want := range map[string]string{
		"every kept chunk, right": "", "IDAT in two": "",
		"bKGD 2":           "the bKGD chunk is damaged (wrong length)",
		"sBIT 4":           "the sBIT chunk is damaged (wrong length)",
		"tRNS 2":           "the tRNS chunk is damaged (wrong length)",
		"PLTE 4":           "the PLTE chunk is damaged (wrong length)",
		"hIST, no PLTE":    "the hIST chunk is damaged (wrong length)",
		"IEND 1":           "the IEND chunk is damaged (wrong length)",
		"two IHDR":         "the picture has two headers",
		"IHDR depth 3":     "the picture header is damaged",
		"no IDAT":          "the picture has no picture data",
		"IDAT too long":    "the picture data is longer than the picture",
		"IDAT just right":  "",
		"IDAT not zlib":    "the picture data is damaged",
		"IDAT cut short":   "the picture data is damaged",
		"APNG frame right": "", "APNG frame tail": "the picture data is damaged", "fdAT before fcTL": "the picture data is damaged",
		"DAC right": "", "DAC L > U": "an arithmetic-coding table is damaged",
		"DAC Kx 0": "an arithmetic-coding table is damaged", "DAC twice": "an arithmetic-coding table is damaged",
		"DAC table 4": "an arithmetic-coding table is damaged", "DAC class 2": "an arithmetic-coding table is damaged",
	} {
		in := map[string][]byte{
			"every kept chunk, right": mk(all, idat),
			"IDAT in two":             mk(nil, idat[:50], idat[50:]),
			"bKGD 2":                  mk(c("bKGD", 2), idat),
			"sBIT 4":                  mk(c("sBIT", 4), idat),
			"tRNS 2":                  mk(c("tRNS", 2), idat),
			"PLTE 4":                  mk(c("PLTE", 4), idat),
			"hIST, no PLTE":           mk(c("hIST", 4), idat),
			"IEND 1":                  append(mk(nil, idat)[:len(mk(nil, idat))-12], c("IEND", 1)...),
			"two IHDR":                mk(pngChunk("IHDR", ihdr), idat),
			"IHDR depth 3":            append(append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", badIHDR)...), mk(nil, idat)[33:]...),
			"no IDAT":                 mk(nil),
			"IDAT too long":           mk(nil, z(32*289+1)),
			"IDAT just right":         mk(nil, z(32*289)),
			"IDAT not zlib":           mk(nil, []byte("Jane Source")),
			"IDAT cut short":          mk(nil, idat[:len(idat)-1]),
			"APNG frame right":        apng(true, idat),
			"APNG frame tail":         apng(true, append(bytes.Clone(idat), "Jane Source"...)),
			"fdAT before fcTL":        apng(false, idat),
			"SOF 5 components":        seg(0xc2, append([]byte{8, 0, 16, 0, 16, 5}, make([]byte, 15)...)),
			"SOS 5 components":        seg(0xda, append([]byte{5}, make([]byte, 13)...)),
			"DAC right":               dac(0x00, 0x10, 0x11, 0x10, 0x10, 5, 0x13, 63),
			"DAC L > U":               dac(0x00, 0x01),
			"DAC Kx 0":                dac(0x10, 0),
			"DAC twice":               dac(0x10, 5, 0x10, 5),
			"DAC table 4":             dac(0x14, 5),
			"DAC class 2":             dac(0x20, 5),
		}[name]
		r, _, err := run(t, in)
		if want == "" {
			require.NoError(t, err, name)
			if bytes.HasPrefix(in, []byte{0xff}) {
				require.Equal(t, "cleaned", r.Status, name) // prog.jpg's EXIF
			} else {
				require.Equal(t, "clean", r.Status, name)
			}
			continue
		}
		var ref *Refusal
		require.ErrorAs(t, err, &ref, name)
		require.Contains(t, ref.Why, "could not be checked ("+want+")", name)
	}
}
