package onion

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sealdrop/sealdrop/internal/testnet"
)

func readTorrcExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "torrc.example"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// activeLines are the torrc.example lines tor reads (no comments, no blanks).
func activeLines(torrc string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(torrc, "\n") {
		l = strings.Join(strings.Fields(l), " ")
		if l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}

func TestTorrcExampleSecurityLines(t *testing.T) {
	lines := activeLines(readTorrcExample(t))
	for _, want := range []string{
		"SocksPort 0",
		"SafeLogging 1",
		"HiddenServiceNonAnonymousMode 0",
		"HiddenServiceSingleHopMode 0",
		"HiddenServiceVersion 3",
		"HiddenServicePort 80 unix:/run/sealdrop/http.sock",
		"HiddenServicePoWDefensesEnabled 1",
		"HiddenServiceMaxStreams " + strconv.Itoa(DefaultMaxStreams),
		"HiddenServiceMaxStreamsCloseCircuit 1",
		"HiddenServiceEnableIntroDoSDefense 1",
		"HiddenServiceExportCircuitID haproxy",
		"ControlSocket /run/tor/control",
		"CookieAuthentication 1",
	} {
		if !lines[want] {
			t.Errorf("torrc.example lacks active line %q", want)
		}
	}
	// Route A's service has every option managed mode gives its own (the same defences, the
	// same limits, circuit ids), whatever the paths.
	c, err := Config{DataDir: "/var/lib/sealdrop/tor", KeyFile: "/k", Target: "unix:/run/sealdrop/http.sock", TorPath: "/bin/true", CircuitIDs: true}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range serviceDirLines(c, "/var/lib/tor/sealdrop/") {
		if !strings.HasPrefix(l, "HiddenServiceDir ") && !lines[l] {
			t.Errorf("managed mode's service sets %q, torrc.example's Route A does not", l)
		}
	}
	for l := range lines {
		if strings.HasPrefix(l, "SocksPort ") && l != "SocksPort 0" {
			t.Errorf("torrc.example opens a SOCKS port: %q", l)
		}
		if strings.HasPrefix(l, "ControlPort ") {
			t.Errorf("torrc.example opens a TCP control port: %q (use the ControlSocket)", l)
		}
	}
}

// verifyConfig runs tor --verify-config on torrc text whose system paths
// were moved into a temporary directory (the file itself is not weakened).
func verifyConfig(t *testing.T, torrc string) ([]byte, error) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdvc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := strings.NewReplacer(
		"/var/lib/tor/sealdrop/", filepath.Join(dir, "hs")+"/",
		"/run/sealdrop/", filepath.Join(dir, "run-sealdrop")+"/",
		"/run/tor/", filepath.Join(dir, "run-tor")+"/",
	)
	path := filepath.Join(dir, "torrc")
	if err := os.WriteFile(path, []byte(r.Replace(torrc)), 0o600); err != nil {
		t.Fatal(err)
	}
	torPath, _, err := testnet.Tools()
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(torPath, "--verify-config", "-f", path, "--defaults-torrc", os.DevNull,
		"--DataDirectory", filepath.Join(dir, "data")).CombinedOutput()
}

func TestTorrcExampleParses(t *testing.T) {
	testnet.RequireOffline(t)
	torrc := readTorrcExample(t)
	if out, err := verifyConfig(t, torrc); err != nil || !strings.Contains(string(out), "Configuration was valid") {
		t.Fatalf("tor --verify-config rejects torrc.example: %v\n%s", err, out)
	}
	// Control: the check can fail.
	if out, err := verifyConfig(t, torrc+"\nHiddenServiceMaxStreams lots\n"); err == nil {
		t.Fatalf("tor --verify-config accepted a broken torrc:\n%s", out)
	}
}
