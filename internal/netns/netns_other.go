//go:build !linux

package netns

import (
	"errors"
	"os"
	"testing"
)

// EnvRequire: see the Linux file.
const EnvRequire = "SEALDROP_REQUIRE_OFFLINE_TESTS"

var (
	// ErrNotOffline means a network interface other than lo exists.
	ErrNotOffline = errors.New("netns: a network interface other than lo exists")
	// ErrUnavailable means no loopback-only namespace could be made here.
	ErrUnavailable = errors.New("netns: no loopback-only network namespace: network namespaces need Linux")
)

// Enter does nothing: only Linux has network namespaces.
func Enter() {}

// Check reports that this system cannot be made loopback-only.
func Check() error { return ErrUnavailable }

// Reason is always ErrUnavailable here.
func Reason() error { return ErrUnavailable }

// Strict reports whether SEALDROP_REQUIRE_OFFLINE_TESTS=1.
func Strict() bool { return os.Getenv(EnvRequire) == "1" }

// Require skips (or, strict, fails) every test that needs the namespace.
func Require(tb testing.TB) {
	tb.Helper()
	if Strict() {
		tb.Fatalf("%v\n%s=1 requires this test to run", ErrUnavailable, EnvRequire)
	}
	tb.Skipf("skipping: %v", ErrUnavailable)
}

// Lock does nothing: no suite that needs it runs here.
func Lock(testing.TB) {}
