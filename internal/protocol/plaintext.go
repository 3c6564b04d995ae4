package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// ManifestVersion is the "v" of every manifest of protocol version 1.
const ManifestVersion = 1

// File describes one attached file inside the encrypted manifest.
type File struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

// Manifest is the JSON head of a note's plaintext.
type Manifest struct {
	V     int    `json:"v"`
	Text  string `json:"text"`
	Files []File `json:"files"`
}

// FileInput is a file to seal: exactly Size bytes are read from R.
type FileInput struct {
	Name, Type string
	Size       int64
	R          io.Reader
}

// Limits a manifest must respect (SECURITY.md, "Plaintext"). Writers refuse to exceed them
// and readers refuse a manifest that does, so a hostile note cannot make a reader buffer an
// unbounded manifest or create an unbounded number of files.
const (
	// MaxManifest is the largest manifest in bytes (it holds the note's text).
	MaxManifest = 64 << 20
	// MaxFiles is the largest number of files in one note.
	MaxFiles = 1000
)

// encodeManifest writes the manifest the way the browser's JSON.stringify does (no HTML
// escaping, files always an array), so both implementations produce the same bytes for the
// vectors. Go still escapes U+2028 and U+2029, which protocol.js does too.
func encodeManifest(text string, files []File) ([]byte, error) {
	if files == nil {
		files = []File{}
	}
	if len(files) > MaxFiles {
		return nil, fmt.Errorf("protocol: %d files, at most %d: %w", len(files), MaxFiles, ErrLength)
	}
	for _, f := range files {
		if f.Size < 0 || f.Size > maxSafeInt {
			return nil, fmt.Errorf("protocol: file %q: size %d: %w", f.Name, f.Size, ErrLength)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Manifest{V: ManifestVersion, Text: text, Files: files}); err != nil {
		return nil, fmt.Errorf("protocol: manifest: %w", err)
	}
	m := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(m) > MaxManifest {
		return nil, fmt.Errorf("protocol: manifest of %d bytes, at most %d: %w", len(m), MaxManifest, ErrLength)
	}
	return m, nil
}

func unpaddedLen(manifest []byte, files []File) (int64, error) {
	n := int64(4 + len(manifest))
	for _, f := range files {
		if f.Size > math.MaxInt64/2-n {
			return 0, fmt.Errorf("protocol: sizes overflow: %w", ErrLength)
		}
		n += f.Size
	}
	return n, nil
}

// PlaintextLen is the padded plaintext length of a note with this text and these files.
func PlaintextLen(text string, files []File) (int64, error) {
	m, err := encodeManifest(text, files)
	if err != nil {
		return 0, err
	}
	n, err := unpaddedLen(m, files)
	if err != nil {
		return 0, err
	}
	return Padme(n), nil
}

// PlaintextReader streams u32 len ‖ manifest ‖ file bytes ‖ zero padding to Padmé and
// returns its exact length. A file reader that yields fewer or more than its Size bytes
// makes the stream fail with ErrLength instead of shifting every later byte.
func PlaintextReader(text string, files []FileInput) (io.Reader, int64, error) {
	meta := make([]File, len(files))
	for i, f := range files {
		meta[i] = File{Name: f.Name, Type: f.Type, Size: f.Size}
	}
	m, err := encodeManifest(text, meta)
	if err != nil {
		return nil, 0, err
	}
	n, err := unpaddedLen(m, meta)
	if err != nil {
		return nil, 0, err
	}
	padded := Padme(n)
	head := make([]byte, 4+len(m))
	binary.BigEndian.PutUint32(head, uint32(len(m)))
	copy(head[4:], m)
	parts := []io.Reader{bytes.NewReader(head)}
	for _, f := range files {
		parts = append(parts, &exactReader{r: f.R, left: f.Size})
	}
	parts = append(parts, io.LimitReader(zeroReader{}, padded-n))
	return io.MultiReader(parts...), padded, nil
}

type exactReader struct {
	r    io.Reader
	left int64
	done bool
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		if !e.done {
			e.done = true
			var one [1]byte
			if n, _ := io.ReadFull(e.r, one[:]); n != 0 {
				return 0, fmt.Errorf("protocol: file longer than its size: %w", ErrLength)
			}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) {
		if e.left > 0 {
			return n, fmt.Errorf("protocol: file shorter than its size: %w", ErrLength)
		}
		err = nil
	}
	return n, err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// strictObject decodes a JSON object whose keys must be exactly want (case-sensitive, no
// nulls), so the Go and browser readers accept the same manifests.
func strictObject(b []byte, want ...string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, ErrFormat
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrFormat
	}
	if len(obj) != len(want) {
		return nil, ErrFormat
	}
	for _, k := range want {
		v, ok := obj[k]
		if !ok || string(v) == "null" { // audit:ok the manifest's own JSON syntax, after decryption
			return nil, ErrFormat
		}
	}
	return obj, nil
}

// maxSafeInt is the largest integer a browser's JSON numbers hold exactly.
const maxSafeInt = 1<<53 - 1

// safeInteger reads a JSON number the way the browser does: JSON.parse rounds the literal to
// the nearest double (as strconv.ParseFloat does), and Number.isSafeInteger then asks for an
// integral value of magnitude at most 2^53-1. So 1.0, 1e0 and 3.0 are integers here as there;
// 1.5, 2^53 and 1e400 are not. Decoding into an int instead would refuse 1.0, which the
// browser accepts, and the two readers would disagree about one authenticated plaintext.
func safeInteger(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false // a string, boolean, array or object, never coerced
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	if math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > maxSafeInt {
		return 0, false
	}
	return int64(f), true
}

// hasLoneSurrogate reports whether the JSON text b escapes a UTF-16 surrogate that is not
// half of a pair (like "\ud800"). Go's decoder turns one into U+FFFD and JSON.parse keeps it,
// so the two clients would show different text: both refuse it instead. Backslashes occur in
// valid JSON only as escapes inside strings, so scanning escapes in order is exact; invalid
// JSON is refused by the decoder anyway.
func hasLoneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 < len(b) && b[i+1] != 'u' {
			i++ // a two-character escape, possibly an escaped backslash
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			return false
		}
		i += 5
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return true
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := hex4(b, i+3)
			if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' || !ok || lo < 0xdc00 || lo > 0xdfff {
				return true
			}
			i += 6
		}
	}
	return false
}

func hex4(b []byte, at int) (rune, bool) {
	if at < 0 || at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// decodeManifest applies the reader's rules of SECURITY.md ("Plaintext"): valid UTF-8 (so a
// byte order mark is a JSON syntax error), no lone surrogate escapes, exactly the keys v,
// text and files, v = 1, at most MaxFiles files of exactly name, type and size, sizes safe
// integers ≥ 0.
func decodeManifest(b []byte) (Manifest, error) {
	bad := fmt.Errorf("protocol: manifest: %w", ErrFormat)
	if !utf8.Valid(b) || hasLoneSurrogate(b) {
		return Manifest{}, bad
	}
	obj, err := strictObject(b, "v", "text", "files")
	if err != nil {
		return Manifest{}, bad
	}
	var m Manifest
	var files []json.RawMessage
	v, ok := safeInteger(obj["v"])
	if !ok || json.Unmarshal(obj["text"], &m.Text) != nil || json.Unmarshal(obj["files"], &files) != nil {
		return Manifest{}, bad
	}
	if v != ManifestVersion {
		return Manifest{}, fmt.Errorf("protocol: manifest: %w", ErrVersion)
	}
	m.V = int(v)
	if len(files) > MaxFiles {
		return Manifest{}, fmt.Errorf("protocol: manifest: more than %d files: %w", MaxFiles, ErrFormat)
	}
	m.Files = make([]File, 0, len(files))
	for _, raw := range files {
		fo, err := strictObject(raw, "name", "type", "size")
		if err != nil {
			return Manifest{}, bad
		}
		var f File
		var ok bool
		f.Size, ok = safeInteger(fo["size"])
		if !ok || f.Size < 0 || json.Unmarshal(fo["name"], &f.Name) != nil || json.Unmarshal(fo["type"], &f.Type) != nil {
			return Manifest{}, bad
		}
		m.Files = append(m.Files, f)
	}
	return m, nil
}

// padTo returns the canonical plaintext length of a manifest of ml bytes and these files:
// Padmé of the unpadded length. Sizes are at most 2^53-1 and there are at most MaxFiles of
// them, so the sum cannot overflow.
func padTo(ml int, files []File) (unpadded, padded int64) {
	unpadded = int64(4 + ml)
	for _, f := range files {
		unpadded += f.Size
	}
	return unpadded, Padme(unpadded)
}

// ReadPlaintext parses a plaintext stream: it decodes the manifest, calls open for each file
// and copies exactly that file's bytes to the writer it returns, then checks that exactly
// Padmé(unpadded length) minus the unpadded length zero bytes follow and nothing else. It
// refuses sizes that overrun the stream, non-zero padding and a non-canonical padded length;
// on error, callers must discard what was written. Memory follows the bytes actually
// present: a length prefix alone allocates nothing large.
func ReadPlaintext(r io.Reader, open func(File) (io.Writer, error)) (Manifest, error) {
	var lenb [4]byte
	if _, err := io.ReadFull(r, lenb[:]); err != nil {
		return Manifest{}, fmt.Errorf("protocol: plaintext: %w", ErrFormat)
	}
	ml := binary.BigEndian.Uint32(lenb[:])
	if ml > MaxManifest {
		return Manifest{}, fmt.Errorf("protocol: plaintext: manifest too large: %w", ErrFormat)
	}
	var mb wipeBuffer
	defer mb.wipe()
	if _, err := mb.ReadFrom(io.LimitReader(r, int64(ml))); err != nil {
		return Manifest{}, fmt.Errorf("protocol: plaintext: %w", err)
	}
	if len(mb.b) != int(ml) {
		return Manifest{}, fmt.Errorf("protocol: plaintext: manifest overruns: %w", ErrFormat)
	}
	m, err := decodeManifest(mb.b)
	if err != nil {
		return Manifest{}, err
	}
	for _, f := range m.Files {
		w, err := open(f)
		if err != nil {
			return Manifest{}, err
		}
		n, err := io.Copy(w, io.LimitReader(r, f.Size))
		if err != nil {
			return Manifest{}, err
		}
		if n != f.Size {
			return Manifest{}, fmt.Errorf("protocol: plaintext: file overruns: %w", ErrFormat)
		}
	}
	unpadded, padded := padTo(int(ml), m.Files)
	// One byte more than the padding is read, to see a longer stream without reading all of it.
	want := padded - unpadded
	pad := io.LimitReader(r, want+1)
	buf := make([]byte, 32<<10)
	var got int64
	for {
		n, err := pad.Read(buf)
		got += int64(n)
		for _, c := range buf[:n] {
			if c != 0 {
				return Manifest{}, fmt.Errorf("protocol: plaintext: padding not zero: %w", ErrFormat)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Manifest{}, err
		}
	}
	if got != want {
		return Manifest{}, fmt.Errorf("protocol: plaintext: padded length is not Padmé: %w", ErrFormat)
	}
	return m, nil
}

// ParsePlaintext is ReadPlaintext over bytes in memory; the file slices alias p.
func ParsePlaintext(p []byte) (Manifest, [][]byte, error) {
	if len(p) < 4 {
		return Manifest{}, nil, fmt.Errorf("protocol: plaintext: %w", ErrFormat)
	}
	ml := uint64(binary.BigEndian.Uint32(p))
	if ml > MaxManifest {
		return Manifest{}, nil, fmt.Errorf("protocol: plaintext: manifest too large: %w", ErrFormat)
	}
	if ml > uint64(len(p)-4) {
		return Manifest{}, nil, fmt.Errorf("protocol: plaintext: manifest overruns: %w", ErrFormat)
	}
	m, err := decodeManifest(p[4 : 4+ml])
	if err != nil {
		return Manifest{}, nil, err
	}
	rest := p[4+ml:]
	out := make([][]byte, 0, len(m.Files))
	for _, f := range m.Files {
		if uint64(f.Size) > uint64(len(rest)) {
			return Manifest{}, nil, fmt.Errorf("protocol: plaintext: file overruns: %w", ErrFormat)
		}
		out = append(out, rest[:f.Size:f.Size])
		rest = rest[f.Size:]
	}
	for _, c := range rest {
		if c != 0 {
			return Manifest{}, nil, fmt.Errorf("protocol: plaintext: padding not zero: %w", ErrFormat)
		}
	}
	if _, padded := padTo(int(ml), m.Files); int64(len(p)) != padded {
		return Manifest{}, nil, fmt.Errorf("protocol: plaintext: padded length is not Padmé: %w", ErrFormat)
	}
	return m, out, nil
}
