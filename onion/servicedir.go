package onion

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// serviceDirName is managed mode's HiddenServiceDir, in DataDir.
const serviceDirName = "onion-service"

// Tor's file names in a HiddenServiceDir.
const (
	secretKeyName = "hs_ed25519_secret_key"
	publicKeyName = "hs_ed25519_public_key"
	hostnameName  = "hostname"
)

// secretKeyHeader starts tor's hs_ed25519_secret_key: "== ed25519v1-secret: type0 ==" padded
// with NULs to 32 bytes (tor's crypto_write_tagged_contents_to_file), followed by the
// 64-byte expanded key.
var secretKeyHeader = func() [32]byte {
	var h [32]byte
	copy(h[:], "== ed25519v1-secret: type0 ==")
	return h
}()

// The intro points' rate limit on INTRODUCE2 cells for this service (torrc.example's values,
// tor's defaults): only a torrc-defined service can ask for it.
const (
	introDoSRate  = 25
	introDoSBurst = 200
)

// secretKeyFile is the content of tor's hs_ed25519_secret_key for seed. It holds the secret
// key: the caller clears it.
func secretKeyFile(seed []byte) []byte {
	k := expandedKey(seed)
	defer clear(k)
	out := make([]byte, 0, len(secretKeyHeader)+len(k))
	out = append(out, secretKeyHeader[:]...)
	return append(out, k...)
}

// serviceDirLines are the torrc lines that publish the service from dir: the same limits
// ADD_ONION sets, plus what only a torrc service can have, the intro points' DoS defence and,
// with CircuitIDs, the circuit id on every connection. Version 3 only.
func serviceDirLines(c Config, dir string) []string {
	lines := []string{
		"HiddenServiceDir " + dir,
		"HiddenServiceVersion 3",
		"HiddenServicePort " + strconv.Itoa(c.VirtualPort) + " " + c.Target,
		"HiddenServiceMaxStreams " + strconv.Itoa(c.MaxStreams),
		"HiddenServiceMaxStreamsCloseCircuit 1",
		"HiddenServiceEnableIntroDoSDefense 1",
		"HiddenServiceEnableIntroDoSRatePerSec " + strconv.Itoa(introDoSRate),
		"HiddenServiceEnableIntroDoSBurstPerSec " + strconv.Itoa(introDoSBurst),
	}
	if !c.DisablePoW {
		lines = append(lines, "HiddenServicePoWDefensesEnabled 1")
	}
	if c.CircuitIDs {
		lines = append(lines, "HiddenServiceExportCircuitID haproxy")
	}
	return lines
}

// writeServiceDir makes dir (0700, this user's, not a symlink) and writes seed's key into it
// in tor's format, replacing what was there; tor writes the public key and hostname files
// itself from it, so stale ones (of another key) are removed first.
func writeServiceDir(dir string, seed []byte) error {
	if err := privateDir(dir); err != nil {
		return err
	}
	for _, name := range []string{publicKeyName, hostnameName} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("onion: %s: %w", dir, err)
		}
	}
	content := secretKeyFile(seed)
	defer clear(content)
	return writeFileAtomic(filepath.Join(dir, secretKeyName), content)
}

// privateDir creates dir with mode 0700, or checks that an existing one is a directory of
// this user (not a symlink) and tightens it to 0700.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("onion: %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("onion: %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s exists and is not a directory; refusing to put the onion key there", ErrConfig, dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s belongs to uid %d, not to this user; refusing to put the onion key there", ErrConfig, dir, st.Uid)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("onion: %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic writes b to path (mode 0600) through a new file in the same directory that
// is synced and renamed over path, so that path holds either the old content or all of b.
func writeFileAtomic(path string, b []byte) error {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return fmt.Errorf("onion: %w", err)
	}
	tmp := path + ".tmp-" + hex.EncodeToString(r[:])
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("onion: write %s: %w", filepath.Base(path), err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("onion: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// removeServiceDir removes managed mode's HiddenServiceDir and the key in it: an ephemeral
// start leaves no key on disk, and Close takes tor's copy of the key away once tor has
// stopped (onion.key stays the one copy). A symlink there is removed, never followed.
func removeServiceDir(dir string) error {
	if fi, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err == nil && !fi.IsDir() {
		return os.Remove(dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("onion: remove %s: %w", dir, err)
	}
	return nil
}

// checkHostname compares the address tor wrote to dir/hostname, from the key file this
// package wrote, with want: the proof that tor publishes the key's address.
func checkHostname(dir, want string) error {
	b, err := os.ReadFile(filepath.Join(dir, hostnameName))
	if err != nil {
		return fmt.Errorf("onion: tor wrote no %s in %s (%v); run again with --tor-output to see why", hostnameName, dir, err)
	}
	if got := strings.TrimSpace(string(b)); got != want+".onion" {
		return fmt.Errorf("%w: tor publishes %q from the key in %s, not %s.onion", ErrBadKey, got, dir, want)
	}
	return nil
}

// torrcSafePath reports whether p can be written into a torrc as it is: no whitespace,
// quotes, backslashes, '#' or control characters, which tor's parser would read differently.
func torrcSafePath(p string) bool {
	return !strings.ContainsFunc(p, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '"' || r == '\\' || r == '#'
	})
}
