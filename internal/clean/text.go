package clean

import "bytes"

// isPlainText reports whether b is a text file the browser filter would call plain text
// ("text": sent unchanged) and that carries none of the marks of the kinds it rewrites or warns
// about. It is deliberately stricter than static/js/clean/text.js: every file that the browser
// calls markup, RTF, CSS, PostScript or an e-mail message fails here, and so may some plain
// text (a note that quotes "<b>", a C comment); those are refused at Safest, never passed as
// clean. It works on the bytes where they lie (no copy, no regular expression).
func isPlainText(b []byte) bool {
	// UTF-16 (byte-order marks): the browser filter checks it after decoding; not here.
	if len(b) >= 2 && (b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff) {
		return false
	}
	// The browser's isTextLike: no NUL and at most 1% control characters in the first 64 KiB.
	n := min(len(b), 65536)
	bad := 0
	for _, c := range b[:n] {
		if c == 0 {
			return false
		}
		if c < 0x20 && c != 9 && c != 10 && c != 13 && c != 12 && c != 27 {
			bad++
		}
	}
	if bad*100 > n {
		return false
	}
	// And the same rule for the rest of the file, which the browser does not look at: a
	// binary tail would be sent as text.
	for _, c := range b[n:] {
		if c == 0 {
			return false
		}
	}
	head := bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	start := bytes.TrimLeft(head, " \t\n\v\f\r\xa0")
	switch {
	case bytes.HasPrefix(start, []byte(`{\rtf`)), bytes.HasPrefix(start, []byte("%!PS")),
		bytes.HasPrefix(start, []byte("@")), bytes.HasPrefix(start, []byte("From ")):
		return false
	}
	// A PDF (or FDF) whose header is not at the very start: readers look for it anywhere in
	// the first 1,024 bytes, and its Info dictionary would go out as "plain text".
	if first := head[:min(len(head), 1024)]; bytes.Contains(first, []byte("%PDF-")) || bytes.Contains(first, []byte("%FDF-")) {
		return false
	}
	// Markup anywhere: "<" then a letter, "_", "!", "?" or "/" (tags, comments, doctypes,
	// processing instructions, XMP packets).
	for i := bytes.IndexByte(b, '<'); i >= 0 && i+1 < len(b); {
		c := b[i+1]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '!' || c == '?' || c == '/' {
			return false
		}
		j := bytes.IndexByte(b[i+1:], '<')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	// CSS comments anywhere, and a first line that starts like a rule ("sel { prop:").
	if bytes.Contains(b, []byte("/*")) || looksLikeRule(start) {
		return false
	}
	// E-mail: the browser's first test (a start like "From " or "Subject: "); it also wants a
	// second header line, which this does not.
	if k := bytes.Index(start, []byte(": ")); k > 0 {
		name := start[:k] // compared where it lies: no copy of the text
		for _, h := range []string{"received", "return-path", "delivered-to", "message-id", "mime-version", "from", "to", "subject", "date"} {
			if bytes.EqualFold(name, []byte(h)) {
				return false
			}
		}
		if len(name) > 2 && bytes.EqualFold(name[:2], []byte("x-")) && bytes.IndexFunc(name[2:], func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) < 0 {
			return false
		}
	}
	return true
}

// looksLikeRule: text before the first "{" with none of "{};=" and, after it, an optional
// "--", a property name and ":". A superset of the browser's looksLikeCSS rule test.
func looksLikeRule(s []byte) bool {
	k := bytes.IndexByte(s, '{')
	if k < 0 || bytes.ContainsAny(s[:k], "};=") {
		return false
	}
	t := bytes.TrimLeft(s[k+1:], " \t\n\v\f\r\xa0")
	t = bytes.TrimPrefix(t, []byte("--"))
	i := 0
	for i < len(t) && (t[i] >= 'a' && t[i] <= 'z' || t[i] >= 'A' && t[i] <= 'Z' || t[i] == '-') {
		i++
	}
	if i == 0 {
		return false
	}
	t = bytes.TrimLeft(t[i:], " \t\n\v\f\r\xa0")
	return len(t) > 0 && t[0] == ':'
}
