package main

import (
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/sealdrop/sealdrop/onion"
)

// progressLine shows tor's bootstrap progress on one updating stderr line, on a terminal only:
// a person starting serve by hand sees that tor is connecting, and where it stops. Redirected
// stderr (a systemd journal, a file) gets nothing: the startup lines stay the only output.
// It says nothing about visitors: only tor's own phase.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer // nil: not a terminal
	width int
	shown bool
}

func newProgressLine(stderr io.Writer) *progressLine {
	f, ok := stderr.(*os.File)
	if !ok || !isTerminal(f) {
		return &progressLine{}
	}
	width := 80
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col >= 20 {
		width = int(ws.Col)
	}
	return &progressLine{w: f, width: width}
}

// isTerminal reports whether f is a terminal (it answers TCGETS).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// progressText is the line for b, at most width-1 runes so that it never wraps (a wrapped line
// could not be overwritten with a carriage return).
func progressText(b onion.Bootstrap, width int) string {
	s := "tor: connecting to the Tor network, " + b.String()
	if b.Percent == 100 {
		s = "tor: connected; publishing the onion service"
	}
	s = strings.Map(func(r rune) rune { // tor's words only, no terminal controls
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > width-1 {
		s = string([]rune(s)[:width-2]) + "…"
	}
	return s
}

func (p *progressLine) show(b onion.Bootstrap) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil {
		return
	}
	_, _ = io.WriteString(p.w, "\r\x1b[K"+progressText(b, p.width))
	p.shown = true
}

// clear removes the line, leaving the cursor at the start of an empty line.
func (p *progressLine) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil && p.shown {
		_, _ = io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
}
