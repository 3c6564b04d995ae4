package web

import (
	"io"
	"log"
	"net/http"
	"time"
)

// Server timeouts, sized for Tor: a round trip through an onion circuit takes around a second
// and a slow circuit moves a few tens of KiB per second.
const (
	// ReadHeaderTimeout bounds how long a client may take to send its headers (slowloris).
	ReadHeaderTimeout = 30 * time.Second
	// ReadTimeout bounds a whole request, body included: a 1 MiB append at 10 KiB/s.
	ReadTimeout = 120 * time.Second
	// WriteTimeout bounds every answer except a download, whose handler extends its own
	// deadline by one second per 64 KiB chunk on top of two minutes (a 64 MiB note: about
	// 19 minutes); a broken download resumes from its last chunk.
	WriteTimeout = 2 * time.Minute
	// IdleTimeout closes kept-alive connections nobody uses.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes caps request headers; sealdrop's own requests need well under 2 KiB.
	MaxHeaderBytes = 16 << 10
)

// NewServer returns an http.Server for h with Tor-sized timeouts, small header limits and a
// discarded error log: net/http must not print anything about a request either.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
}
