package onion

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigNormalize(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	base := Config{DataDir: dir, KeyFile: key, Target: "unix:/run/sealdrop/http.sock", TorPath: "/bin/true"}
	with := func(f func(*Config)) Config { c := base; f(&c); return c }

	for _, tc := range []struct {
		name    string
		cfg     Config
		mention string // "" means valid
	}{
		{"managed ok", base, ""},
		{"attach ok", Config{Control: "unix:/run/tor/control", KeyFile: key, Target: "unix:/run/s/http.sock"}, ""},
		{"attach tcp ok", Config{Control: "127.0.0.1:9051", Ephemeral: true, Target: "127.0.0.1:8080"}, ""},
		{"no key choice", with(func(c *Config) { c.KeyFile = "" }), "KeyFile"},
		{"both key choices", with(func(c *Config) { c.Ephemeral = true }), "exclusive"},
		{"no target", with(func(c *Config) { c.Target = "" }), "Target"},
		{"relative unix", with(func(c *Config) { c.Target = "unix:http.sock" }), "absolute"},
		{"unix with space", with(func(c *Config) { c.Target = "unix:/run/a b.sock" }), "space"},
		{"unix with comma", with(func(c *Config) { c.Target = "unix:/run/a,Port=1" }), "comma"},
		{"remote tcp", with(func(c *Config) { c.Target = "10.0.0.1:80" }), "loopback"},
		{"hostname tcp", with(func(c *Config) { c.Target = "localhost:80" }), "Target"},
		{"bad vport", with(func(c *Config) { c.VirtualPort = 70000 }), "VirtualPort"},
		{"bad maxstreams", with(func(c *Config) { c.MaxStreams = -1 }), "MaxStreams"},
		{"negative timeout", with(func(c *Config) { c.PublishTimeout = -time.Second }), "PublishTimeout"},
		{"no datadir", with(func(c *Config) { c.DataDir = "" }), "DataDir"},
		{"torrc newline", with(func(c *Config) { c.TorrcLines = []string{"Nickname a\nSocksPort 9050"} }), "line break"},
		{"torrc owned socks", with(func(c *Config) { c.TorrcLines = []string{"SocksPort 9050"} }), "SocksPort"},
		{"torrc owned singlehop", with(func(c *Config) { c.TorrcLines = []string{"hiddenservicesinglehopmode 1"} }), "hiddenservicesinglehopmode"},
		{"torrc owned log", with(func(c *Config) { c.TorrcLines = []string{"Log debug file /tmp/x"} }), "Log"},
		{"attach with datadir", Config{Control: "unix:/run/tor/control", DataDir: dir, Ephemeral: true, Target: "unix:/s"}, "managed mode"},
		{"attach remote", Config{Control: "192.0.2.1:9051", Ephemeral: true, Target: "unix:/s"}, "loopback"},
		{"attach relative", Config{Control: "unix:control", Ephemeral: true, Target: "unix:/s"}, "absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.cfg.normalize()
			if tc.mention == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("normalize: %v, want ErrConfig mentioning %q (got %+v)", err, tc.mention, c)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{DataDir: "rel/dir", Ephemeral: true, Target: "unix:/s", TorPath: "/bin/true"}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if c.VirtualPort != 80 || c.MaxStreams != DefaultMaxStreams || c.PublishTimeout != DefaultPublishTimeout {
		t.Errorf("defaults: %+v", c)
	}
	if !filepath.IsAbs(c.DataDir) {
		t.Errorf("DataDir %q not made absolute", c.DataDir)
	}
}

func TestTorMissing(t *testing.T) {
	_, err := Config{DataDir: t.TempDir(), Ephemeral: true, Target: "unix:/s", TorPath: "/nonexistent/tor"}.normalize()
	if !errors.Is(err, ErrTorNotFound) || !strings.Contains(err.Error(), "apt-get install tor") {
		t.Fatalf("%v, want ErrTorNotFound naming apt-get install tor", err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err = Config{DataDir: t.TempDir(), Ephemeral: true, Target: "unix:/s"}.normalize()
	if !errors.Is(err, ErrTorNotFound) {
		t.Fatalf("no tor in PATH: %v, want ErrTorNotFound", err)
	}
}

func TestAddOnionCommand(t *testing.T) {
	seed := make([]byte, 32)
	c, err := Config{Control: "unix:/c", Ephemeral: true, Target: "unix:/run/sealdrop/http.sock"}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	cmd := addOnionCommand(c, seed)
	for _, want := range []string{
		"ADD_ONION ED25519-V3:", " Flags=DiscardPK,MaxStreamsCloseCircuit", " MaxStreams=32",
		" PoWDefensesEnabled=1", " Port=80,unix:/run/sealdrop/http.sock",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("ADD_ONION lacks %q", want)
		}
	}
	c.DisablePoW = true
	if strings.Contains(addOnionCommand(c, seed), "PoW") {
		t.Error("DisablePoW still sends PoW keywords")
	}
}

func TestTorrcHardeningComesLast(t *testing.T) {
	c := Config{TorrcLines: []string{"TestingTorNetwork 1", "Nickname x"}}
	got := torrc(c, "")
	last := strings.Index(got, "Nickname x")
	for _, l := range []string{"SocksPort 0\n", "SafeLogging 1\n", "HiddenServiceNonAnonymousMode 0\n", "HiddenServiceSingleHopMode 0\n", "__OwningControllerProcess "} {
		i := strings.Index(got, l)
		if i < 0 || i < last {
			t.Errorf("%q missing or before the caller's lines", l)
		}
	}
	if strings.Contains(got, "Log ") {
		t.Error("tor logs although no TorOutput was asked for")
	}
}

func TestAttachErrorsNameTheFix(t *testing.T) {
	_, err := Start(t.Context(), Config{Control: "unix:" + filepath.Join(t.TempDir(), "none"), Ephemeral: true, Target: "unix:/s"})
	if err == nil || !strings.Contains(err.Error(), "torrc.example") {
		t.Errorf("missing control socket: %v, want a pointer to torrc.example", err)
	}
	err = controlDialError("unix:/run/tor/control", &os.PathError{Op: "dial", Path: "/run/tor/control", Err: fs.ErrPermission})
	if !errors.Is(err, ErrControlPermission) || !strings.Contains(err.Error(), "debian-tor") {
		t.Errorf("permission denied: %v, want ErrControlPermission naming the debian-tor group", err)
	}
}
