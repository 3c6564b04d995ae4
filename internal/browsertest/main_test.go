package browsertest

import (
	"fmt"
	"os"
	"testing"

	"github.com/sealdrop/sealdrop/internal/netns"
)

// pool is shared by every test in the binary: one Firefox per level, started lazily.
var pool *Pool

func TestMain(m *testing.M) {
	netns.Enter() // the browsers run in a loopback-only network namespace of this binary's own
	var err error
	pool, err = NewPool()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := pool.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
