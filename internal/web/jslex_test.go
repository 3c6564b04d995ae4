package web

import (
	"strconv"
	"strings"
)

// jsLiteral is a string or template literal of a script: its text (a template literal's text
// outside its ${…} parts, which are read as code) and where it starts.
type jsLiteral struct {
	text string
	pos  int
}

// jsScan reads a script as far as the text checks need: it finds the string and template
// literals (with their escapes left as written) and returns the code with comments removed
// and every literal replaced by a marker, "\x00" + its index + "\x00", so that calls and
// assignments can be found around them. Regular expression literals are skipped after the
// tokens that can precede one.
func jsScan(src string) (code string, lits []jsLiteral) {
	var out strings.Builder
	// braces counts the open { of each template literal's ${ being read, innermost last.
	var braces []int
	prev := byte(0) // the last significant character of code, for telling / apart
	i := 0
	mark := func(text string, pos int) {
		out.WriteString("\x00" + strconv.Itoa(len(lits)) + "\x00")
		lits = append(lits, jsLiteral{text: text, pos: pos})
		prev = 'a' // a literal ends an expression
	}
	// template reads a template literal's text from i (just after ` or }) up to its end or
	// the next ${; it reports whether a ${ was opened.
	template := func(start int) bool {
		var text strings.Builder
		for i < len(src) {
			c := src[i]
			switch {
			case c == '\\' && i+1 < len(src):
				text.WriteString(src[i : i+2])
				i += 2
			case c == '`':
				i++
				mark(text.String(), start)
				return false
			case c == '$' && i+1 < len(src) && src[i+1] == '{':
				i += 2
				mark(text.String(), start)
				braces = append(braces, 0)
				out.WriteString("(")
				prev = '('
				return true
			default:
				text.WriteByte(c)
				i++
			}
		}
		mark(text.String(), start)
		return false
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				i = len(src)
			} else {
				i += end + 4
			}
			out.WriteByte(' ')
		case c == '\'' || c == '"':
			start := i
			i++
			var text strings.Builder
			for i < len(src) && src[i] != c && src[i] != '\n' {
				if src[i] == '\\' && i+1 < len(src) {
					text.WriteString(src[i : i+2])
					i += 2
					continue
				}
				text.WriteByte(src[i])
				i++
			}
			i++
			mark(text.String(), start)
		case c == '`':
			i++
			template(i - 1)
		case c == '/' && strings.IndexByte("(,=:[!&|?{};+-*%<>~^\x00", prev) >= 0:
			// a regular expression literal: skip it, classes and escapes included
			i++
			inClass := false
			for i < len(src) && src[i] != '\n' {
				if src[i] == '\\' {
					i += 2
					continue
				}
				if src[i] == '[' {
					inClass = true
				} else if src[i] == ']' {
					inClass = false
				} else if src[i] == '/' && !inClass {
					break
				}
				i++
			}
			i++
			for i < len(src) && isIdent(src[i]) {
				i++
			}
			out.WriteString("/re/")
			prev = 'a'
		case c == '{' && len(braces) > 0:
			braces[len(braces)-1]++
			out.WriteByte(c)
			prev = c
			i++
		case c == '}' && len(braces) > 0 && braces[len(braces)-1] == 0:
			// the end of a ${…}: the template literal goes on
			braces = braces[:len(braces)-1]
			out.WriteString(")")
			i++
			template(i)
		case c == '}' && len(braces) > 0:
			braces[len(braces)-1]--
			out.WriteByte(c)
			prev = c
			i++
		default:
			out.WriteByte(c)
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				prev = c
				if isIdent(c) {
					// "return /x/" and "typeof /x/" start a regular expression too
					j := i + 1
					for j < len(src) && isIdent(src[j]) {
						j++
					}
					word := src[i:j]
					out.WriteString(word[1:])
					i = j
					if word == "return" || word == "typeof" {
						prev = '('
					}
					continue
				}
			}
			i++
		}
	}
	return out.String(), lits
}

func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
