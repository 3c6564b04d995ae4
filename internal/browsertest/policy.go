package browsertest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"

	"github.com/sealdrop/sealdrop/internal/netns"
)

// DefaultFirefox is where Debian's firefox-esr package installs the browser.
const DefaultFirefox = "/usr/bin/firefox-esr"

// ErrNotOffline means a network interface other than loopback exists.
var ErrNotOffline = errors.New("browsertest: a non-loopback network interface exists")

// ErrNoFirefox means no Firefox binary was found.
var ErrNoFirefox = errors.New("browsertest: firefox-esr not found")

// OfflineCheck reports why a browser may not be started here, or nil. It lists the interfaces
// itself rather than trusting an environment variable: only an interface list with nothing but
// loopback proves the browser cannot reach anything. When there is another interface, the
// error says why the test binary is not in its own loopback-only namespace (netns.Enter in
// TestMain makes one) and what would fix it.
func OfflineCheck() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("browsertest: list interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("%w: %s (%v)", ErrNotOffline, i.Name, netns.Reason())
		}
	}
	return nil
}

// FirefoxPath finds the browser: $SEALDROP_FIREFOX (a path, not a secret), then
// /usr/bin/firefox-esr, then firefox-esr on PATH.
func FirefoxPath() (string, error) {
	if p := os.Getenv("SEALDROP_FIREFOX"); p != "" {
		return p, nil
	}
	if st, err := os.Stat(DefaultFirefox); err == nil && !st.IsDir() {
		return DefaultFirefox, nil
	}
	if p, err := exec.LookPath("firefox-esr"); err == nil {
		return p, nil
	}
	return "", ErrNoFirefox
}

// RequireOffline reports whether the offline suites are mandatory here
// (SEALDROP_REQUIRE_OFFLINE_TESTS=1).
func RequireOffline() bool { return netns.Strict() }

// Precondition returns nil when a browser may be started, else the reason.
func Precondition() error {
	if err := OfflineCheck(); err != nil {
		return err
	}
	if _, err := FirefoxPath(); err != nil {
		return err
	}
	return nil
}

// RequireBrowser fails the test when SEALDROP_REQUIRE_OFFLINE_TESTS=1 and a browser may not be
// started, and skips it with the reason otherwise. Then it takes the lock that keeps the tor and
// browser suites of different test binaries from running at the same time (netns.Lock).
func RequireBrowser(t testing.TB) {
	t.Helper()
	if err := Precondition(); err != nil {
		if RequireOffline() {
			t.Fatalf("SEALDROP_REQUIRE_OFFLINE_TESTS=1 but: %v", err)
		}
		t.Skipf("skipping real-browser test: %v (set SEALDROP_REQUIRE_OFFLINE_TESTS=1 to make this a failure)", err)
	}
	netns.Lock(t)
}
