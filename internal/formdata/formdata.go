// Package formdata parses a multipart/form-data body (RFC 7578) in place: the parts it returns
// are slices of the caller's buffer, never copies, so a body read into locked memory stays
// there (mime/multipart copies every part through its own bufio.Reader and heap buffers).
//
// It is small and strict, for the one form sealdrop serves (a drop's submission page at Tor
// Browser's "Safest" level) and what browsers send for it: CRLF line ends, no preamble, a
// Content-Disposition of form-data with a name on every part, at most a few headers, and
// nothing after the closing delimiter but one CRLF. Everything else is refused, and every
// count and length is bounded (Limits), so that a hostile body costs no more than its own
// bytes, which the caller has bounded already.
package formdata

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ErrForm: the body is not a form this parser accepts.
var ErrForm = errors.New("formdata: malformed form")

// ErrLimits: the body is a form with more parts, or longer part headers (a long file name),
// than Limits allow. It is also an ErrForm.
var ErrLimits = fmt.Errorf("%w: over the limits", ErrForm)

// Limits bound what one body may hold.
type Limits struct {
	MaxParts       int // parts in the body
	MaxHeaderBytes int // one part's header block, CRLFs included
	MaxHeaders     int // header lines of one part
}

// DefaultLimits fit the Safest submission form: a text field and a few files.
var DefaultLimits = Limits{MaxParts: 16, MaxHeaderBytes: 1024, MaxHeaders: 4}

// maxName is the longest field name accepted (the form's names are short ASCII words).
const maxName = 32

// Part is one field of the form. Data is a slice of the body passed to Parse.
type Part struct {
	Name   string // the field's name (ASCII letters, digits, '-' and '_')
	IsFile bool   // the part had a filename parameter (whose value is never kept: it may name the sender)
	Data   []byte
}

// Boundary returns the boundary parameter of a multipart/form-data Content-Type value, checked
// against RFC 2046's rules (1 to 70 characters of its set, not ending in a space).
func Boundary(contentType string) (string, error) {
	mt, params, _ := strings.Cut(contentType, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "multipart/form-data") {
		return "", ErrForm
	}
	var boundary string
	found := false
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(k, "boundary") || found {
			if ok && strings.EqualFold(k, "boundary") {
				return "", ErrForm // twice
			}
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		boundary, found = v, true
	}
	if !found || !validBoundary(boundary) {
		return "", ErrForm
	}
	return boundary, nil
}

func validBoundary(b string) bool {
	if len(b) < 1 || len(b) > 70 || b[len(b)-1] == ' ' {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("'()+_,-./:=? ", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// Parse splits body, a multipart/form-data body with this boundary, into its parts, in order.
// The parts' Data are slices of body.
func Parse(body []byte, boundary string, lim Limits) ([]Part, error) {
	if !validBoundary(boundary) {
		return nil, ErrForm
	}
	// Delimiters: the first one opens the body; each later one follows a CRLF.
	first := []byte("--" + boundary)
	delim := []byte("\r\n--" + boundary)
	if !bytes.HasPrefix(body, first) {
		return nil, ErrForm
	}
	rest := body[len(first):]
	var parts []Part
	for {
		// After a delimiter: "--" closes the body, CRLF opens a part.
		if bytes.HasPrefix(rest, []byte("--")) {
			tail := rest[2:]
			if len(tail) != 0 && !bytes.Equal(tail, []byte("\r\n")) {
				return nil, ErrForm
			}
			return parts, nil
		}
		if !bytes.HasPrefix(rest, []byte("\r\n")) {
			return nil, ErrForm
		}
		rest = rest[2:]
		if len(parts) == lim.MaxParts {
			return nil, ErrLimits
		}
		end := bytes.Index(rest, []byte("\r\n\r\n"))
		if end >= 0 && end+4 > lim.MaxHeaderBytes {
			return nil, ErrLimits
		}
		if end < 0 {
			// No header block: an empty block is end == -2 for us, which the blank line
			// itself cannot be (a part needs a header).
			return nil, ErrForm
		}
		p, err := parseHeaders(rest[:end], lim)
		if err != nil {
			return nil, err
		}
		rest = rest[end+4:]
		n := bytes.Index(rest, delim)
		if n < 0 {
			return nil, ErrForm
		}
		p.Data = rest[:n:n]
		parts = append(parts, p)
		rest = rest[n+len(delim):]
	}
}

// parseHeaders reads a part's header lines: a Content-Disposition of form-data with a name
// (and perhaps a filename), perhaps a Content-Type (ignored: sealdrop judges a file by its
// bytes) and nothing else.
func parseHeaders(block []byte, lim Limits) (Part, error) {
	var p Part
	lines := 0
	disposition, ctype := false, false
	for line := range bytes.SplitSeq(block, []byte("\r\n")) {
		lines++
		if lines > lim.MaxHeaders {
			return Part{}, ErrForm
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return Part{}, ErrForm
		}
		for _, c := range line {
			if c < 0x20 && c != '\t' || c == 0x7f {
				return Part{}, ErrForm
			}
		}
		switch strings.ToLower(string(k)) {
		case "content-disposition":
			if disposition {
				return Part{}, ErrForm
			}
			disposition = true
			var err error
			if p.Name, p.IsFile, err = parseDisposition(bytes.TrimSpace(v)); err != nil {
				return Part{}, err
			}
		case "content-type":
			// Ignored (a file is judged by its bytes), but at most once.
			if ctype {
				return Part{}, ErrForm
			}
			ctype = true
		default:
			return Part{}, ErrForm
		}
	}
	if !disposition {
		return Part{}, ErrForm
	}
	return p, nil
}

// parseDisposition reads `form-data; name="x"; filename="y"`: parameters quoted, without
// backslash escapes (browsers percent-encode quotes and line ends in names), each once.
func parseDisposition(v []byte) (name string, isFile bool, err error) {
	rest, ok := bytes.CutPrefix(v, []byte("form-data"))
	if !ok {
		return "", false, ErrForm
	}
	haveName := false
	for len(rest) > 0 {
		rest = bytes.TrimLeft(rest, " \t")
		if len(rest) == 0 {
			break
		}
		if rest[0] != ';' {
			return "", false, ErrForm
		}
		rest = bytes.TrimLeft(rest[1:], " \t")
		eq := bytes.IndexByte(rest, '=')
		if eq < 1 || eq+1 >= len(rest) || rest[eq+1] != '"' {
			return "", false, ErrForm
		}
		key := strings.ToLower(string(rest[:eq]))
		closing := bytes.IndexByte(rest[eq+2:], '"')
		if closing < 0 {
			return "", false, ErrForm
		}
		val := rest[eq+2 : eq+2+closing]
		rest = rest[eq+2+closing+1:]
		switch key {
		case "name":
			if haveName || !validName(val) {
				return "", false, ErrForm
			}
			haveName, name = true, string(val)
		case "filename":
			if isFile {
				return "", false, ErrForm
			}
			isFile = true // its value is never looked at, nor kept
		default:
			return "", false, ErrForm
		}
	}
	if !haveName {
		return "", false, ErrForm
	}
	return name, isFile, nil
}

func validName(b []byte) bool {
	if len(b) == 0 || len(b) > maxName {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
