// Package clean is the server's media privacy filter for submissions at Tor Browser's "Safest"
// level, where the browser runs no script and cannot clean files itself. It is a Go port of
// the browser filter (static/js/clean/) for what a source most often sends and what is safe to
// claim: JPEG photos and PNG pictures, with the same allow-lists and the same findings in the
// same words, and plain text. Every other kind of file is refused with a plain message (Refusal):
// never called clean when it is not, never passed on uncleaned.
//
// The two filters share their fixtures (static/test/fixtures) and a vector file
// (static/test/clean-vectors.json: per fixture, the kind, status, findings and a hash of the
// cleaned output), which the JS test (static/test/clean-vectors.test.js) and the Go test
// (TestSharedVectors) both check.
//
// Memory: a file is read where it lies (the caller's locked buffer) and the cleaned file is a
// list of pieces: slices of the input and new bytes that the cleaner writes into a Scratch the
// caller provides (locked memory too). Nothing of a file's contents is copied to the ordinary
// heap, with one exception kept small: a PNG's colour profile and image data are inflated by
// compress/zlib (the image data into the Scratch's free space, a piece at a time, to check
// where its stream ends), whose 32 KiB window is then overwritten with zeros (wipeInflater)
// before it is dropped.
package clean

import (
	"bytes"
	"errors"
	"strings"
)

// Refusal is a file the filter does not clean: its message is plain words for the source.
type Refusal struct{ Why string }

func (r *Refusal) Error() string { return r.Why }

// Result is a cleaned (or already clean) file.
type Result struct {
	Kind    string   // "jpeg", "png" or "text" (the browser filter's names)
	Status  string   // "clean" (nothing to remove) or "cleaned"
	Removed []string // what was removed, in the browser filter's words, without repeats
	Pieces  [][]byte // the cleaned file, in order: slices of the input and of the Scratch
}

// Size is the cleaned file's length.
func (r *Result) Size() int {
	n := 0
	for _, p := range r.Pieces {
		n += len(p)
	}
	return n
}

// ErrScratch: the Scratch is too small for what the file needs rewritten.
var ErrScratch = errors.New("clean: scratch space exhausted")

// Scratch hands out pieces of one buffer the caller owns (locked memory): where the filter
// writes the bytes it makes anew (a rebuilt colour profile, a segment header).
type Scratch struct {
	b   []byte
	off int
}

// NewScratch uses b for the new bytes of one or more files.
func NewScratch(b []byte) *Scratch { return &Scratch{b: b} }

// ScratchFor is how much scratch space a file of n bytes may need (a rebuilt colour profile
// is at most a few KiB larger than the original, and a PNG's profile is inflated there).
func ScratchFor(n int) int { return 2*n + 64<<10 }

func (s *Scratch) alloc(n int) ([]byte, error) {
	if n < 0 || n > len(s.b)-s.off {
		return nil, ErrScratch
	}
	p := s.b[s.off : s.off+n : s.off+n]
	clear(p)
	s.off += n
	return p, nil
}

// rest is the unused scratch space (for inflating into), not yet taken.
func (s *Scratch) rest() []byte { return s.b[s.off:] }

// take marks n bytes of rest as used.
func (s *Scratch) take(n int) []byte {
	p := s.b[s.off : s.off+n : s.off+n]
	s.off += n
	return p
}

// cleanError is a file of a kind the filter knows that it could not read: the browser filter's
// CleanError, whose message is plain words.
type cleanError struct{ why string }

func (e *cleanError) Error() string { return e.why }

func fail(why string) error { return &cleanError{why} }

// findings collects removed details without repeats, in order.
type findings struct{ removed []string }

func (f *findings) remove(what string) {
	for _, r := range f.removed {
		if r == what {
			return
		}
	}
	f.removed = append(f.removed, what)
}

// plan is the cleaned file being built: pieces, and positions for later inserts.
type plan struct{ parts [][]byte }

func (p *plan) add(b []byte) {
	if len(b) > 0 {
		p.parts = append(p.parts, b)
	}
}

func (p *plan) anchor() int { return len(p.parts) }

func (p *plan) insert(at int, bs ...[]byte) {
	tail := append([][]byte{}, p.parts[at:]...)
	p.parts = append(append(p.parts[:at], bs...), tail...)
}

// Names of kinds in plain words (static/js/clean/index.js, KIND_NAMES).
var kindNames = map[string]string{"jpeg": "JPEG photo", "png": "PNG picture", "text": "text file"}

// Clean removes hidden details from the file b (which it never modifies), writing new bytes
// into sc. A *Refusal says, in plain words, why the file cannot be sent at Safest.
func Clean(b []byte, sc *Scratch) (*Result, error) {
	kind := detect(b)
	r := &Result{Kind: kind}
	var f findings
	var p plan
	var err error
	switch kind {
	case "jpeg":
		err = cleanJPEG(b, &p, &f, sc)
	case "png":
		err = cleanPNG(b, &p, &f, sc)
	case "text":
		p.add(b)
	case "empty":
		return nil, &Refusal{"This file is empty."}
	default:
		return nil, &Refusal{RefuseKind}
	}
	if err != nil {
		var ce *cleanError
		if errors.As(err, &ce) {
			return nil, &Refusal{"This " + kindNames[kind] + " could not be checked (" + ce.why + "), so hidden details such as names, dates or places may remain. At the Safest level it cannot be sent."}
		}
		return nil, err
	}
	r.Removed = f.removed
	if len(f.removed) == 0 {
		r.Status = "clean"
		r.Pieces = [][]byte{b} // the browser filter sends the original when nothing was removed
	} else {
		r.Status = "cleaned"
		r.Pieces = p.parts
	}
	return r, nil
}

// RefuseKind is the answer for every kind of file but JPEG, PNG and plain text.
const RefuseKind = "At the Safest level, sealdrop can send only photos (JPEG), pictures (PNG) and plain text files, because only those can be checked for hidden details here. To send this file, switch Tor Browser to Safer: then your own device removes hidden details and locks the file before it leaves."

// detect is the browser filter's detect, for the kinds this filter cleans; everything else is
// "other". Text is judged by textOK, which refuses more than the browser's textKind: whatever
// that calls markup, RTF, CSS, PostScript or e-mail, and some plain text besides.
func detect(b []byte) string {
	switch {
	case len(b) == 0:
		return "empty"
	case len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff:
		return "jpeg"
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		return "png"
	case otherSignature(b):
		return "other"
	case isPlainText(b):
		return "text"
	}
	return "other"
}

// otherSignature reports whether b starts like a kind the browser's detect names before it
// looks for text (a PDF or a PostScript file is text-like, yet not text).
func otherSignature(b []byte) bool {
	has := func(sig string) bool { return bytes.HasPrefix(b, []byte(sig)) }
	for _, sig := range []string{"GIF87a", "GIF89a", "RIFF", "RF64", "BW64", "FORM", "II*\x00", "MM\x00*", "II+\x00", "MM\x00+",
		"IIRO", "IIU\x00", "FUJIFILMCCD-RAW", "\x1a\x45\xdf\xa3", "\x30\x26\xb2\x75", "FLV", "%PDF-",
		"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "PK\x03\x04", "PK\x05\x06", "fLaC", "OggS", "ID3", "8BPS", "BM",
		"\xc5\xd0\xd3\xc6", "\xff\xfe", "\xfe\xff"} {
		if has(sig) {
			return true
		}
	}
	switch {
	case len(b) >= 8 && string(b[4:8]) == "ftyp": // ISO media (MP4, MOV, HEIC, M4A)
		return true
	case len(b) >= 2 && b[0] == 0xff && b[1]&0xe0 == 0xe0: // an MPEG audio frame
		return true
	case len(b) >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && strings.IndexByte(" \t\n\r#", b[2]) >= 0: // Netpbm
		return true
	}
	return false
}
