package onion

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOperatorTorrcAccepts(t *testing.T) {
	in := "# bridges from bridges.torproject.org\n\nusebridges 1\n" +
		"Bridge obfs4 192.0.2.3:443 0123456789ABCDEF0123456789ABCDEF01234567 cert=abc iat-mode=0\n" +
		"ClientTransportPlugin obfs4 exec /usr/bin/lyrebird\n  ReachableAddresses   accept *:443  \n"
	got, err := parseOperatorTorrc(strings.NewReader(in), "x")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"UseBridges 1",
		"Bridge obfs4 192.0.2.3:443 0123456789ABCDEF0123456789ABCDEF01234567 cert=abc iat-mode=0",
		"ClientTransportPlugin obfs4 exec /usr/bin/lyrebird",
		"ReachableAddresses accept *:443",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	// Whatever the file says, the hardening lines come after it in the torrc, so they win.
	c := Config{TorrcLines: got}
	rc := torrc(c, "")
	if strings.Index(rc, "UseBridges 1") > strings.Index(rc, "HiddenServiceSingleHopMode 0") {
		t.Errorf("operator lines after the hardening lines:\n%s", rc)
	}
}

// Every option that could weaken the service, leave the Tor network or make the server a relay
// is refused, with the line number.
func TestOperatorTorrcRefuses(t *testing.T) {
	for _, l := range []string{
		"HiddenServiceSingleHopMode 1", "HiddenServiceNonAnonymousMode 1", "SocksPort 9050",
		"ControlPort 9051", "DirAuthority x 127.0.0.1:1 AAAA", "AlternateDirAuthority x", "FallbackDir 1.2.3.4:80",
		"TestingTorNetwork 1", "ORPort 9001", "ExitRelay 1", "PublishServerDescriptor 1", "Log notice stdout",
		"SafeLogging 0", "%include /etc/passwd", "UseEntryGuards 0", "EntryNodes $AAAA", "DataDirectory /tmp",
		"__OwningControllerProcess 1", "HiddenServiceDir /tmp/x", "DisableNetwork 1", "Bridge", "UseBridges 1 \\",
	} {
		_, err := parseOperatorTorrc(strings.NewReader("# ok\nUseBridges 1\n"+l+"\n"), "extra.torrc")
		if err == nil {
			t.Errorf("%q accepted", l)
			continue
		}
		if !strings.Contains(err.Error(), "extra.torrc:3:") {
			t.Errorf("%q: %v: the error should name line 3", l, err)
		}
	}
}

func TestReadOperatorTorrcFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "extra.torrc")
	if err := os.WriteFile(p, []byte("UseBridges 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if lines, err := ReadOperatorTorrc(p); err != nil || len(lines) != 1 {
		t.Fatalf("ReadOperatorTorrc = %q, %v", lines, err)
	}
	if err := os.Chmod(p, 0o622); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadOperatorTorrc(p); err == nil || !strings.Contains(err.Error(), "may write") {
		t.Errorf("a group-writable file: %v", err)
	}
	if _, err := ReadOperatorTorrc(dir); err == nil {
		t.Error("a directory was accepted")
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("# comment line\n", 80000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadOperatorTorrc(big); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a file over 1 MiB: %v", err)
	}
}
