package onion

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/testnet"
)

func TestSecretKeyFileFormat(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, seedSize)
	b := secretKeyFile(seed)
	if len(b) != 96 {
		t.Fatalf("%d bytes, want tor's 32-byte header and 64-byte key", len(b))
	}
	if want := "== ed25519v1-secret: type0 ==\x00\x00\x00"; string(b[:32]) != want {
		t.Fatalf("header %q, want %q", b[:32], want)
	}
	if !bytes.Equal(b[32:], expandedKey(seed)) {
		t.Fatal("the key is not ADD_ONION's expanded key")
	}
}

func TestServiceDirLines(t *testing.T) {
	c, err := Config{DataDir: t.TempDir(), KeyFile: "/k", Target: "unix:/run/s/http.sock", TorPath: "/bin/true", CircuitIDs: true}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(serviceDirLines(c, "/d/onion-service"), "\n")
	for _, want := range []string{
		"HiddenServiceDir /d/onion-service\n", "HiddenServiceVersion 3\n",
		"HiddenServicePort 80 unix:/run/s/http.sock\n", "HiddenServiceMaxStreams 32\n",
		"HiddenServiceMaxStreamsCloseCircuit 1\n", "HiddenServicePoWDefensesEnabled 1\n",
		"HiddenServiceEnableIntroDoSDefense 1\n", "HiddenServiceEnableIntroDoSRatePerSec 25\n",
		"HiddenServiceEnableIntroDoSBurstPerSec 200\n", "HiddenServiceExportCircuitID haproxy",
	} {
		if !strings.Contains(got+"\n", want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, "HiddenServiceDir ") {
		t.Error("the service's options must follow its HiddenServiceDir")
	}
	c.CircuitIDs, c.DisablePoW = false, true
	got = strings.Join(serviceDirLines(c, "/d"), "\n")
	if strings.Contains(got, "ExportCircuitID") || strings.Contains(got, "PoW") {
		t.Errorf("circuit ids or PoW not asked for, but set:\n%s", got)
	}
	// The service block comes after the hardening lines, and only with a service dir.
	rc := torrc(c, "/d")
	if strings.Index(rc, "HiddenServiceDir /d") < strings.Index(rc, "HiddenServiceSingleHopMode 0") {
		t.Errorf("service lines before the hardening lines:\n%s", rc)
	}
	if strings.Contains(torrc(c, ""), "HiddenServiceDir") {
		t.Error("an ADD_ONION service gets a HiddenServiceDir")
	}
}

func TestConfigCircuitIDs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		cfg     Config
		mention string
	}{
		{"managed key file", Config{DataDir: dir, KeyFile: "/k", Target: "unix:/s", TorPath: "/bin/true", CircuitIDs: true}, ""},
		{"ephemeral", Config{DataDir: dir, Ephemeral: true, Target: "unix:/s", TorPath: "/bin/true", CircuitIDs: true}, "ADD_ONION"},
		{"attach", Config{Control: "unix:/c", KeyFile: "/k", Target: "unix:/s", CircuitIDs: true}, "ADD_ONION"},
		{"data dir with a space", Config{DataDir: filepath.Join(dir, "a b"), KeyFile: "/k", Target: "unix:/s", TorPath: "/bin/true"}, "DataDir"},
		{"data dir with a quote", Config{DataDir: filepath.Join(dir, `a"b`), KeyFile: "/k", Target: "unix:/s", TorPath: "/bin/true"}, "DataDir"},
		{"target with a hash", Config{DataDir: dir, KeyFile: "/k", Target: "unix:/s#x", TorPath: "/bin/true"}, "Target"},
		{"torrc hidden service line", Config{DataDir: dir, KeyFile: "/k", Target: "unix:/s", TorPath: "/bin/true", TorrcLines: []string{"HiddenServiceExportCircuitID haproxy"}}, "HiddenServiceExportCircuitID"},
		{"torrc onionbalance", Config{DataDir: dir, KeyFile: "/k", Target: "unix:/s", TorPath: "/bin/true", TorrcLines: []string{"hiddenserviceonionbalanceinstance 1"}}, "hiddenserviceonionbalanceinstance"},
		// An ephemeral service's key never goes into a torrc: any DataDir tor takes will do.
		{"ephemeral data dir with a space", Config{DataDir: filepath.Join(dir, "a b"), Ephemeral: true, Target: "unix:/s", TorPath: "/bin/true"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.normalize()
			if tc.mention == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("%v, want ErrConfig mentioning %q", err, tc.mention)
			}
		})
	}
}

func TestWriteServiceDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), serviceDirName)
	seed := bytes.Repeat([]byte{1}, seedSize)
	if err := writeServiceDir(dir, seed); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir: %v, %v; want mode 0700", fi, err)
	}
	key := filepath.Join(dir, secretKeyName)
	fi, err = os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key: %v, %v; want mode 0600", fi, err)
	}
	// Files of another key go; the key is replaced; a looser directory is tightened.
	for _, name := range []string{publicKeyName, hostnameName} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("stale"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{2}, seedSize)
	if err := writeServiceDir(dir, other); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{publicKeyName, hostnameName} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("stale %s kept: %v", name, err)
		}
	}
	if b, _ := os.ReadFile(key); !bytes.Equal(b, secretKeyFile(other)) {
		t.Error("the key was not replaced")
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %04o, want 0700", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left in the dir: %v", entries)
	}
	if err := removeServiceDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("removeServiceDir left %v", err)
	}
	if err := removeServiceDir(dir); err != nil {
		t.Fatalf("removing nothing: %v", err)
	}

	// A symlink or a file where the directory should be is refused, never followed.
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, dir); err != nil {
		t.Fatal(err)
	}
	if err := writeServiceDir(dir, seed); !errors.Is(err, ErrConfig) {
		t.Fatalf("symlinked dir: %v", err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatal("wrote through the symlink")
	}
	if err := removeServiceDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(elsewhere); err != nil {
		t.Fatal("removing the symlink removed its target")
	}
}

func TestCheckHostname(t *testing.T) {
	dir := t.TempDir()
	seed := bytes.Repeat([]byte{3}, seedSize)
	id := serviceID(seed)
	if err := checkHostname(dir, id); err == nil || !strings.Contains(err.Error(), "hostname") {
		t.Fatalf("no hostname file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, hostnameName), []byte(serviceID(bytes.Repeat([]byte{4}, seedSize))+".onion\n"), 0o600)
	if err := checkHostname(dir, id); !errors.Is(err, ErrBadKey) {
		t.Fatalf("another address: %v", err)
	}
	os.WriteFile(filepath.Join(dir, hostnameName), []byte(id+".onion\n"), 0o600)
	if err := checkHostname(dir, id); err != nil {
		t.Fatal(err)
	}
}

// runOfflineTor runs tor with its network disabled (and, in this test binary, inside a
// loopback-only namespace as well) with a HiddenServiceDir at dir, until tor has written
// dir/hostname; then it stops tor.
func runOfflineTor(t *testing.T, dir string) {
	t.Helper()
	torPath, _, err := testnet.Tools()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	torrc := filepath.Join(data, "torrc")
	if err := os.WriteFile(torrc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, torPath, "--defaults-torrc", os.DevNull, "-f", torrc,
		"--DataDirectory", data, "--DisableNetwork", "1", "--SocksPort", "0",
		"--__OwningControllerProcess", strconv.Itoa(os.Getpid()),
		"--HiddenServiceDir", dir, "--HiddenServicePort", "80 127.0.0.1:9")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	for {
		if _, err := os.Stat(filepath.Join(dir, hostnameName)); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tor wrote no hostname in %s:\n%s", dir, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// The key file this package writes is the one tor writes and reads: tor's own
// hs_ed25519_secret_key has the same header and size, and tor, given ours, derives the key
// file's address from it. (Publishing it on a private network is TestManagedCircuitIDs.)
func TestServiceKeyAgainstTor(t *testing.T) {
	testnet.RequireOffline(t)
	theirs := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	runOfflineTor(t, theirs)
	b, err := os.ReadFile(filepath.Join(theirs, secretKeyName))
	if err != nil {
		t.Fatal(err)
	}
	mine := secretKeyFile(bytes.Repeat([]byte{9}, seedSize))
	if len(b) != len(mine) || !bytes.Equal(b[:32], mine[:32]) {
		t.Fatalf("tor's key file: %d bytes, header %q; ours: %d bytes, header %q", len(b), b[:min(32, len(b))], len(mine), mine[:32])
	}

	keyFile := filepath.Join(t.TempDir(), "onion.key")
	if err := GenerateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	seed, err := readKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ours := filepath.Join(t.TempDir(), serviceDirName)
	if err := writeServiceDir(ours, seed); err != nil {
		t.Fatal(err)
	}
	runOfflineTor(t, ours)
	want, err := AddressFromKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(ours, hostnameName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != want {
		t.Fatalf("tor derived %q from our key file, the key file's address is %q", got, want)
	}
	if err := checkHostname(ours, serviceID(seed)); err != nil {
		t.Fatal(err)
	}
}
