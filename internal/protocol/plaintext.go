package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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

// encodeManifest writes the manifest the way the browser's JSON.stringify does (no HTML
// escaping, files always an array), so both implementations produce the same bytes for the
// vectors. Go still escapes U+2028 and U+2029, which protocol.js does too.
func encodeManifest(text string, files []File) ([]byte, error) {
	if files == nil {
		files = []File{}
	}
	for _, f := range files {
		if f.Size < 0 {
			return nil, fmt.Errorf("protocol: file %q: negative size: %w", f.Name, ErrLength)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Manifest{V: ManifestVersion, Text: text, Files: files}); err != nil {
		return nil, fmt.Errorf("protocol: manifest: %w", err)
	}
	m := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(m) > math.MaxUint32 {
		return nil, fmt.Errorf("protocol: manifest too large: %w", ErrLength)
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

// MaxManifest bounds the manifest a reader will buffer (it holds the note's text).
const MaxManifest = 64 << 20

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
		if !ok || string(v) == "null" {
			return nil, ErrFormat
		}
	}
	return obj, nil
}

func decodeManifest(b []byte) (Manifest, error) {
	bad := fmt.Errorf("protocol: manifest: %w", ErrFormat)
	obj, err := strictObject(b, "v", "text", "files")
	if err != nil {
		return Manifest{}, bad
	}
	var m Manifest
	var files []json.RawMessage
	if json.Unmarshal(obj["v"], &m.V) != nil || json.Unmarshal(obj["text"], &m.Text) != nil ||
		json.Unmarshal(obj["files"], &files) != nil {
		return Manifest{}, bad
	}
	if m.V != ManifestVersion {
		return Manifest{}, fmt.Errorf("protocol: manifest: %w", ErrVersion)
	}
	m.Files = make([]File, 0, len(files))
	for _, raw := range files {
		fo, err := strictObject(raw, "name", "type", "size")
		if err != nil {
			return Manifest{}, bad
		}
		var f File
		if json.Unmarshal(fo["name"], &f.Name) != nil || json.Unmarshal(fo["type"], &f.Type) != nil ||
			json.Unmarshal(fo["size"], &f.Size) != nil || f.Size < 0 || f.Size > maxSafeInt {
			return Manifest{}, bad
		}
		m.Files = append(m.Files, f)
	}
	return m, nil
}

// maxSafeInt is the largest integer a browser's JSON numbers hold exactly.
const maxSafeInt = 1<<53 - 1

// ReadPlaintext parses a plaintext stream: it decodes the manifest, calls open for each file
// and copies exactly that file's bytes to the writer it returns, then checks that everything
// after the files is zero padding. It refuses sizes that overrun the stream and non-zero
// padding; on error, callers must discard what was written.
func ReadPlaintext(r io.Reader, open func(File) (io.Writer, error)) (Manifest, error) {
	var lenb [4]byte
	if _, err := io.ReadFull(r, lenb[:]); err != nil {
		return Manifest{}, fmt.Errorf("protocol: plaintext: %w", ErrFormat)
	}
	ml := binary.BigEndian.Uint32(lenb[:])
	if ml > MaxManifest {
		return Manifest{}, fmt.Errorf("protocol: plaintext: manifest too large: %w", ErrFormat)
	}
	mb := make([]byte, ml)
	if _, err := io.ReadFull(r, mb); err != nil {
		return Manifest{}, fmt.Errorf("protocol: plaintext: manifest overruns: %w", ErrFormat)
	}
	m, err := decodeManifest(mb)
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
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			if c != 0 {
				return Manifest{}, fmt.Errorf("protocol: plaintext: padding not zero: %w", ErrFormat)
			}
		}
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return Manifest{}, err
		}
	}
}

// ParsePlaintext is ReadPlaintext over bytes in memory; the file slices alias p.
func ParsePlaintext(p []byte) (Manifest, [][]byte, error) {
	if len(p) < 4 {
		return Manifest{}, nil, fmt.Errorf("protocol: plaintext: %w", ErrFormat)
	}
	ml := uint64(binary.BigEndian.Uint32(p))
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
	return m, out, nil
}
