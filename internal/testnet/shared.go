package testnet

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds building a shared network (keys, consensus, client).
const startTimeout = 3 * time.Minute

// Shared is one network per test binary, started by the first test that asks
// for it and stopped by TestMain:
//
//	var tn testnet.Shared
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		tn.Close()
//		os.Exit(code)
//	}
//
//	func TestOnion(t *testing.T) {
//		n := tn.Get(t) // fails or skips per RequireOffline
//		...
//	}
//
// Starting lazily keeps the binary's unit tests free of tor, so they run
// anywhere.
type Shared struct {
	once sync.Once
	dir  string
	net  *Network
	err  error
}

// Get calls RequireOffline, starts the network on first use, and fails the
// test if the network could not start (then and for every later caller).
func (s *Shared) Get(tb testing.TB) *Network {
	tb.Helper()
	RequireOffline(tb)
	s.once.Do(func() {
		s.dir, s.err = os.MkdirTemp("", "sealdrop-testnet-")
		if s.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		s.net, s.err = Start(ctx, s.dir)
	})
	if s.err != nil {
		tb.Fatalf("private tor network: %v", s.err)
	}
	return s.net
}

// Close stops the network, if one was started, and removes its directory.
func (s *Shared) Close() {
	if s.net != nil {
		_ = s.net.Close()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
