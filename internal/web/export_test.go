package web

import (
	"crypto/sha256"
	"io/fs"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

// WithFS replaces the embedded templates and static files (tests only).
func WithFS(cfg Config, templates, static fs.FS) Config {
	cfg.templates, cfg.static = templates, static
	return cfg
}

// WithRoute adds a route inside the outer wrapper (tests only: e.g. one that panics).
func WithRoute(cfg Config, path string, h http.HandlerFunc) Config {
	m := map[string]http.HandlerFunc{}
	for k, v := range cfg.extra {
		m[k] = v
	}
	m[path] = h
	cfg.extra = m
	return cfg
}

// WithMuxOnly routes every request through gorilla/mux, without the note API's fast path.
func WithMuxOnly(cfg Config) Config {
	cfg.muxOnly = true
	return cfg
}

func sha(b [32]byte) [32]byte { return sha256.Sum256(b[:]) }

// NewServerCounted is NewServer with a function that reads how many connections its cap
// counts now.
func NewServerCounted(h http.Handler, opts ...ServerOption) (*http.Server, func() int) {
	srv, c := newServer(h, opts...)
	return srv, c.count
}

// SetSafestWaits shortens how long a Safest body may take to begin and to send each piece,
// until the test ends.
func SetSafestWaits(t interface{ Cleanup(func()) }, first, piece time.Duration) {
	f, p := safestFirstByte, safestPieceWait
	safestFirstByte, safestPieceWait = first, piece
	t.Cleanup(func() { safestFirstByte, safestPieceWait = f, p })
}

// WithRouted gives f the finished router of the site New builds (its routes, to check that a
// test reaches every one).
func WithRouted(cfg Config, f func(*mux.Router)) Config {
	cfg.routed = f
	return cfg
}

// SetPieceWaits shortens how long a pipelined piece waits for the piece it follows to begin
// and to end, until the test ends.
func SetPieceWaits(t interface{ Cleanup(func()) }, early, follow time.Duration) {
	e, f := pieceEarlyWait, pieceFollowWait
	pieceEarlyWait, pieceFollowWait = early, follow
	t.Cleanup(func() { pieceEarlyWait, pieceFollowWait = e, f })
}
