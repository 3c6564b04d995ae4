package testnet

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/sealdrop/sealdrop/internal/netns"
)

// EnvRequireOffline names the variable that turns a missing loopback-only
// namespace (or a missing tor) from a skip into a failure. CI sets it to 1 so
// that the onion tests can never silently not run.
const EnvRequireOffline = netns.EnvRequire

var (
	// ErrNotOffline means an interface other than lo exists, so tor could
	// reach the public network.
	ErrNotOffline = errors.New("testnet: a network interface other than lo exists; call netns.Enter in the test binary's TestMain")
	// ErrToolMissing means tor or tor-gencert is not installed.
	ErrToolMissing = errors.New("testnet: tor or tor-gencert not found in PATH; install them with apt-get install tor")
)

// CheckOffline reports ErrNotOffline when any network interface other than
// "lo" exists. It asks the kernel (net.Interfaces) rather than trusting an
// environment variable set by a wrapper.
func CheckOffline() error {
	ifaces, err := interfaces()
	if err != nil {
		return fmt.Errorf("testnet: list interfaces: %w", err)
	}
	var others []string
	for _, ifc := range ifaces {
		if ifc.Name != "lo" {
			others = append(others, ifc.Name)
		}
	}
	if len(others) > 0 {
		return fmt.Errorf("%w (found %s)", ErrNotOffline, strings.Join(others, ", "))
	}
	return nil
}

// interfaces lists the network interfaces; a variable so that a test can show
// the refusal inside the namespace, where only lo exists.
var interfaces = net.Interfaces

// Tools returns the paths of tor and tor-gencert, or ErrToolMissing.
func Tools() (torPath, gencertPath string, err error) {
	torPath, err = exec.LookPath("tor")
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrToolMissing, err)
	}
	gencertPath, err = exec.LookPath("tor-gencert")
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrToolMissing, err)
	}
	return torPath, gencertPath, nil
}

// Ready reports why tor tests cannot run here (not offline, tools missing), or
// nil. It starts nothing.
func Ready() error {
	if err := netns.Reason(); err != nil {
		return err
	}
	if err := CheckOffline(); err != nil {
		return err
	}
	_, _, err := Tools()
	return err
}

// RequireOffline stops the calling test before it starts any tor unless this
// process runs in a loopback-only namespace (netns.Enter in TestMain makes
// one) with tor and tor-gencert installed. With
// SEALDROP_REQUIRE_OFFLINE_TESTS=1 it fails the test loudly; otherwise it
// skips with the reason. Then it takes the lock that keeps tor and browser
// suites from running at the same time (netns.Lock).
func RequireOffline(tb testing.TB) {
	tb.Helper()
	if err := Ready(); err != nil {
		if netns.Strict() {
			tb.Fatalf("%v\n%s=1 requires the offline tor tests to run", err, EnvRequireOffline)
		}
		tb.Skipf("skipping tor test: %v (set %s=1 to make this a failure)", err, EnvRequireOffline)
	}
	netns.Lock(tb)
}
