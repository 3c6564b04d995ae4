package onion

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// addOnionDelims are the bytes that end or split an ADD_ONION argument (and the control-protocol
// line): a Port= target carrying one could change the command tor runs.
const addOnionDelims = " \t\r\n,\"\\=\x00"

// FuzzPortTarget: an accepted Target is a clean absolute unix path or a loopback address with a
// port, in a form that survives a second pass unchanged and carries no byte that would split the
// ADD_ONION command; a refused one gets an error that quotes what was wrong or says it is empty.
func FuzzPortTarget(f *testing.F) {
	for _, s := range []string{
		"unix:/run/sealdrop/http.sock", "unix:relative.sock", "unix:/a/../b", "unix:/a//b", "unix:/",
		"unix:", "unix:/a b", "unix:/a,b", "unix:/a=b", "unix:/a\"b", "unix:/a\\b", "unix:/a\nb",
		"unix:/a\x00b", "127.0.0.1:8080", "127.1.2.3:1", "127.0.0.1:0", "127.0.0.1:65535",
		"127.0.0.1:65536", "127.0.0.1:080", "127.0.0.1", "[::1]:80", "::1:80", "[::ffff:127.0.0.1]:80",
		"0.0.0.0:80", "10.0.0.1:80", "[::]:80", "localhost:80", ":80", "", " 127.0.0.1:80", "UNIX:/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := portTarget(in)
		if err != nil {
			if out != "" {
				t.Fatalf("%q: refused (%v) but returned %q", in, err, out)
			}
			path, isUnix := strings.CutPrefix(in, "unix:")
			msg := err.Error()
			if !strings.Contains(msg, strconv.Quote(in)) && !(isUnix && strings.Contains(msg, strconv.Quote(path))) &&
				!(in == "" && strings.Contains(msg, "empty")) {
				t.Fatalf("%q: the error does not name the input: %v", in, err)
			}
			return
		}
		if i := strings.IndexAny(out, addOnionDelims); i >= 0 {
			t.Fatalf("%q: accepted as %q, which holds %q, an ADD_ONION delimiter", in, out, out[i])
		}
		if again, err := portTarget(out); err != nil || again != out {
			t.Fatalf("%q: accepted as %q, which a second pass turns into %q, %v", in, out, again, err)
		}
		if path, ok := strings.CutPrefix(in, "unix:"); ok {
			if out != in || !filepath.IsAbs(path) || filepath.Clean(path) != path {
				t.Fatalf("%q: accepted as %q: not the same clean absolute path", in, out)
			}
			return
		}
		ap, err := netip.ParseAddrPort(out)
		if err != nil || !ap.Addr().IsLoopback() || ap.Port() == 0 {
			t.Fatalf("%q: accepted as %q, not a loopback address with a port (%v)", in, out, err)
		}
		if want := netip.MustParseAddrPort(in); ap != want {
			t.Fatalf("%q: accepted as %q, another address than %v", in, out, want)
		}
	})
}

// FuzzControlAddr: an accepted Control is an absolute unix path, or a loopback host with a port
// in 1..65535 handed to net.Dial unchanged; a refused one gets an error that quotes it.
func FuzzControlAddr(f *testing.F) {
	for _, s := range []string{
		"unix:/run/tor/control", "unix:run/tor/control", "unix:", "unix:/", "127.0.0.1:9051",
		"127.0.0.1:0", "127.0.0.1:65535", "127.0.0.1:65536", "127.0.0.1:+9051", "127.0.0.1:-1",
		"127.0.0.1:09051", "127.0.0.1:http", "127.0.0.1", "[::1]:9051", "::1:9051", "[::ffff:127.0.0.1]:9051",
		"localhost:9051", "0.0.0.0:9051", "192.168.0.1:9051", "[::]:9051", ":9051", "", "[127.0.0.1]:9051",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		network, addr, err := controlAddr(in)
		if err != nil {
			if network != "" || addr != "" {
				t.Fatalf("%q: refused (%v) but returned %q %q", in, err, network, addr)
			}
			path, isUnix := strings.CutPrefix(in, "unix:")
			if msg := err.Error(); !strings.Contains(msg, strconv.Quote(in)) && !(isUnix && strings.Contains(msg, strconv.Quote(path))) {
				t.Fatalf("%q: the error does not name the input: %v", in, err)
			}
			return
		}
		if path, ok := strings.CutPrefix(in, "unix:"); ok {
			if network != "unix" || addr != path || !filepath.IsAbs(addr) {
				t.Fatalf("%q: accepted as %s %q, not the absolute path", in, network, addr)
			}
			return
		}
		if network != "tcp" || addr != in {
			t.Fatalf("%q: accepted as %s %q, want tcp and the input", in, network, addr)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%q: accepted, but net.Dial could not split it: %v", in, err)
		}
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
			t.Fatalf("%q: accepted with a host that is not a loopback address (%v)", in, err)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			t.Fatalf("%q: accepted with port %q outside 1..65535", in, port)
		}
	})
}

// Kinds of path FuzzReadKey puts at the key path.
const (
	keyRegular = iota
	keyDir
	keySymlink  // to a regular file with the fuzzed content and mode
	keyDangling // a symlink to nothing
	keyMissing
	keyDevice // a symlink to /dev/null: a character device
	keyKinds
)

// FuzzReadKey: readKey returns exactly the file's 32 bytes when the path leads to a regular file
// of 32 bytes with no group or other permission bits, and otherwise refuses with the sentinel
// for the problem (ErrKeyPermissions with the mode, ErrBadKey) and the path in the message.
// (A FIFO is left out: os.Open blocks on one until a writer comes, so readKey would wait.)
func FuzzReadKey(f *testing.F) {
	seed := bytes.Repeat([]byte{7}, seedSize)
	for _, c := range []struct {
		content []byte
		perm    uint16
		kind    uint8
	}{
		{seed, 0o600, keyRegular}, {seed, 0o400, keyRegular}, {seed, 0o640, keyRegular},
		{seed, 0o604, keyRegular}, {seed, 0o601, keyRegular}, {seed, 0o700, keyRegular},
		{seed, 0o000, keyRegular}, {seed[:31], 0o600, keyRegular}, {append(seed, 0), 0o600, keyRegular},
		{nil, 0o600, keyRegular}, {make([]byte, 64), 0o600, keyRegular}, {seed, 0o700, keyDir},
		{seed, 0o600, keySymlink}, {seed, 0o644, keySymlink}, {seed, 0o600, keyDangling},
		{seed, 0o600, keyMissing}, {seed, 0o600, keyDevice},
	} {
		f.Add(c.content, c.perm, c.kind)
	}
	root := os.Geteuid() == 0
	f.Fuzz(func(t *testing.T, content []byte, perm uint16, kind uint8) {
		if len(content) > 4096 {
			content = content[:4096]
		}
		mode := os.FileMode(perm) & 0o777
		kind %= keyKinds
		dir := t.TempDir()
		path := filepath.Join(dir, "onion.key")
		file := path
		switch kind {
		case keyDir:
			if err := os.Mkdir(path, mode|0o700); err != nil {
				t.Fatal(err)
			}
		case keySymlink:
			file = filepath.Join(dir, "target")
			if err := os.Symlink(file, path); err != nil {
				t.Fatal(err)
			}
		case keyDangling:
			if err := os.Symlink(filepath.Join(dir, "nothing"), path); err != nil {
				t.Fatal(err)
			}
		case keyDevice:
			if err := os.Symlink(os.DevNull, path); err != nil {
				t.Fatal(err)
			}
		}
		if kind == keyRegular || kind == keySymlink {
			if err := os.WriteFile(file, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, mode); err != nil { // WriteFile's mode passes through the umask
				t.Fatal(err)
			}
		}

		got, err := readKey(path)
		if err == nil {
			if (kind != keyRegular && kind != keySymlink) || mode&0o077 != 0 || !bytes.Equal(got, content) || len(got) != seedSize {
				t.Fatalf("kind %d, mode %04o, %d bytes: accepted as %d bytes", kind, mode, len(content), len(got))
			}
			return
		}
		if got != nil {
			t.Fatalf("refused (%v) but returned %d bytes", err, len(got))
		}
		msg := err.Error()
		switch {
		case kind == keyMissing || kind == keyDangling:
			if !errors.Is(err, os.ErrNotExist) || !strings.Contains(msg, "open key file") {
				t.Fatalf("kind %d: %v, want a not-exist error on opening", kind, err)
			}
		case kind == keyDir || kind == keyDevice:
			if !errors.Is(err, ErrBadKey) || !strings.Contains(msg, "not a regular file") || !strings.Contains(msg, path) {
				t.Fatalf("kind %d: %v, want ErrBadKey naming %s", kind, err, path)
			}
		case !root && mode&0o400 == 0:
			if !errors.Is(err, os.ErrPermission) {
				t.Fatalf("unreadable file: %v, want a permission error", err)
			}
		case mode&0o077 != 0:
			if !errors.Is(err, ErrKeyPermissions) || !strings.Contains(msg, path) || !strings.Contains(msg, "0"+strconv.FormatUint(uint64(mode), 8)) {
				t.Fatalf("mode %04o: %v, want ErrKeyPermissions naming the path and mode", mode, err)
			}
		case len(content) != seedSize:
			if !errors.Is(err, ErrBadKey) || !strings.Contains(msg, strconv.Itoa(len(content))+" bytes") || !strings.Contains(msg, path) {
				t.Fatalf("%d bytes: %v, want ErrBadKey naming the path and size", len(content), err)
			}
		default:
			t.Fatalf("kind %d, mode %04o, %d bytes: refused: %v", kind, mode, len(content), err)
		}
	})
}
