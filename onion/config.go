package onion

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults for zero Config fields.
const (
	// DefaultVirtualPort is the port visitors use: http://<address>/.
	DefaultVirtualPort = 80
	// DefaultMaxStreams caps concurrent streams per rendezvous circuit. A Tor
	// Browser page load opens up to ~6 streams (page, scripts, styles, a
	// font), a chat adds a long-lived WebSocket, and a reload can overlap the
	// old streams while they close: 32 leaves room for that with a wide
	// margin, while a single circuit still cannot open hundreds of streams to
	// exhaust the server. With MaxStreamsCloseCircuit, a circuit that goes
	// over is torn down rather than merely refused.
	DefaultMaxStreams = 32
	// DefaultPublishTimeout bounds the wait for the first descriptor upload.
	// A fresh tor on the public network needs to bootstrap first (tens of
	// seconds, minutes on a bad link).
	DefaultPublishTimeout = 3 * time.Minute
)

// Config describes one onion service. Zero fields take the documented
// defaults; Start validates the whole Config and names the offending field.
type Config struct {
	// Control selects attach mode: the control socket ("unix:/run/tor/control")
	// or loopback control port ("127.0.0.1:9051") of an already running tor,
	// authenticated with its cookie (SAFECOOKIE). Empty selects managed mode:
	// Start runs its own tor.
	Control string

	// TorPath is the tor binary (managed mode). Default: "tor" looked up in PATH.
	TorPath string

	// DataDir is the managed tor's DataDirectory, created with mode 0700 and
	// kept across restarts so tor keeps its guards. Required in managed mode,
	// refused in attach mode. Besides tor's own state it holds the torrc this
	// package writes on every start ("sealdrop-torrc") and, with a KeyFile, the
	// service's HiddenServiceDir ("onion-service", mode 0700), which holds the
	// key in tor's format while tor runs.
	DataDir string

	// KeyFile holds the service's ed25519 seed (32 bytes, mode 0600). It is
	// created on first start; one with group or other permissions is refused.
	// The same file gives the same address. Exactly one of KeyFile and
	// Ephemeral must be set.
	KeyFile string

	// Ephemeral publishes a one-off address from a key that lives only in
	// memory (and in tor's) for this run.
	Ephemeral bool

	// TorrcLines are appended to the managed tor's torrc before this
	// package's own hardening lines, which therefore win. Production leaves it
	// empty; tests put a private network's TestingTorNetwork and DirAuthority
	// lines here. Lines must not set the options this package owns (ports,
	// DataDirectory, hidden service and logging safety options).
	TorrcLines []string

	// TorOutput receives the managed tor's stdout and stderr. Default:
	// discarded (tor's notices can hold timing details; nothing should keep
	// them unless an operator debugging asks for it).
	TorOutput io.Writer

	// VirtualPort is the port of the onion address. Default 80.
	VirtualPort int

	// Target is where tor forwards connections: "unix:/abs/path" (a unix
	// socket the HTTP server listens on; the production choice, since no
	// other local process can reach it over TCP) or "127.0.0.1:port" for
	// development. Required.
	Target string

	// MaxStreams caps streams per rendezvous circuit; over it the circuit is
	// closed. Default DefaultMaxStreams.
	MaxStreams int

	// CircuitIDs makes tor begin every connection it forwards with a PROXY
	// protocol v1 line that carries the connection's circuit id
	// (HiddenServiceExportCircuitID haproxy); the server at Target must read
	// it (internal/circuit's Listen). Only managed mode with a KeyFile has
	// it: that mode publishes through a torrc HiddenServiceDir, while tor's
	// ADD_ONION (attach mode, Ephemeral) has no such option.
	CircuitIDs bool

	// DisablePoW turns off the proof-of-work defence (on by default; needs
	// tor >= 0.4.8 built with the pow module, as Debian's is).
	DisablePoW bool

	// PublishTimeout bounds Start's wait for the descriptor upload. Default
	// DefaultPublishTimeout.
	PublishTimeout time.Duration

	// StallTimeout ends Start early, with ErrBootstrapStalled, when tor's
	// bootstrap stays at one percentage this long (it is not yet connected to
	// the Tor network). Default DefaultStallTimeout; it only matters when it
	// is shorter than PublishTimeout.
	StallTimeout time.Duration

	// Progress, if set, is called with tor's bootstrap progress while Start
	// waits: once with where tor is when publishing begins, then at every
	// change, the last time with 100%. It is called from Start's goroutine
	// and never after Start returns. A re-publish in attach mode reports
	// nothing.
	Progress func(Bootstrap)
}

// ownedOptions are torrc options this package sets itself; TorrcLines may
// not touch them (lower case), nor any HiddenService* option.
var ownedOptions = map[string]bool{
	"datadirectory": true, "socksport": true, "controlport": true, "controlsocket": true,
	"cookieauthentication": true, "cookieauthfile": true, "hashedcontrolpassword": true,
	"safelogging": true, "log": true, "__owningcontrollerprocess": true,
	"hiddenservicenonanonymousmode": true, "hiddenservicesinglehopmode": true,
	"hiddenservicedir": true, "hiddenserviceport": true, "disablenetwork": true,
}

// normalize checks cfg and returns it with defaults filled in.
func (cfg Config) normalize() (Config, error) {
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	switch {
	case cfg.KeyFile == "" && !cfg.Ephemeral:
		return bad("set KeyFile (a stable address) or Ephemeral (a one-off address)")
	case cfg.KeyFile != "" && cfg.Ephemeral:
		return bad("KeyFile and Ephemeral are exclusive")
	}
	if cfg.VirtualPort == 0 {
		cfg.VirtualPort = DefaultVirtualPort
	}
	if cfg.VirtualPort < 1 || cfg.VirtualPort > 65535 {
		return bad("VirtualPort %d out of range", cfg.VirtualPort)
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.MaxStreams < 1 || cfg.MaxStreams > 65535 {
		return bad("MaxStreams %d out of range 1..65535", cfg.MaxStreams)
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.PublishTimeout < 0 {
		return bad("negative PublishTimeout")
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.StallTimeout < 0 {
		return bad("negative StallTimeout")
	}
	target, err := portTarget(cfg.Target)
	if err != nil {
		return bad("Target: %v", err)
	}
	cfg.Target = target
	if cfg.CircuitIDs && (cfg.Control != "" || cfg.Ephemeral) {
		return bad("CircuitIDs needs managed mode with a KeyFile: tor's ADD_ONION (attach mode, Ephemeral) cannot send circuit ids")
	}

	if cfg.Control != "" {
		if cfg.DataDir != "" || cfg.TorPath != "" || len(cfg.TorrcLines) > 0 || cfg.TorOutput != nil {
			return bad("DataDir, TorPath, TorrcLines and TorOutput are for managed mode; attach mode (Control) uses the running tor's own settings")
		}
		if _, _, err := controlAddr(cfg.Control); err != nil {
			return bad("Control: %v", err)
		}
		return cfg, nil
	}

	if cfg.DataDir == "" {
		return bad("DataDir is required in managed mode (a directory tor keeps its state in)")
	}
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return bad("DataDir: %v", err)
	}
	if !cfg.Ephemeral {
		// Both go into the torrc's HiddenServiceDir and HiddenServicePort lines.
		if !torrcSafePath(cfg.DataDir) {
			return bad("DataDir %q: a path with spaces, quotes, backslashes, '#' or control characters cannot go into tor's torrc", cfg.DataDir)
		}
		if !torrcSafePath(cfg.Target) {
			return bad("Target %q: a path with '#' cannot go into tor's torrc", cfg.Target)
		}
	}
	for _, l := range cfg.TorrcLines {
		if strings.ContainsAny(l, "\r\n\x00") {
			return bad("TorrcLines: a line contains a line break")
		}
		key, _, _ := strings.Cut(strings.TrimSpace(l), " ")
		if lk := strings.ToLower(key); ownedOptions[lk] || strings.HasPrefix(lk, "hiddenservice") {
			return bad("TorrcLines: %s is set by this package and may not be overridden", key)
		}
	}
	if cfg.TorPath == "" {
		cfg.TorPath = "tor"
	}
	if cfg.TorPath, err = exec.LookPath(cfg.TorPath); err != nil {
		return Config{}, fmt.Errorf("%w (%v)", ErrTorNotFound, err)
	}
	return cfg, nil
}

// portTarget validates Target and returns it in ADD_ONION's Port= form. Unix
// paths must be absolute and free of the characters that delimit ADD_ONION
// arguments; TCP targets must be loopback, since forwarding to another host
// would carry visitors' traffic off this machine unencrypted.
func portTarget(t string) (string, error) {
	if path, ok := strings.CutPrefix(t, "unix:"); ok {
		if !filepath.IsAbs(path) || filepath.Clean(path) != path {
			return "", fmt.Errorf("unix socket path %q must be absolute and clean", path)
		}
		if strings.ContainsAny(path, " \t\r\n,\"\\=\x00") {
			return "", fmt.Errorf("unix socket path %q contains a space, comma, quote, backslash or '='", path)
		}
		return "unix:" + path, nil
	}
	if t == "" {
		return "", fmt.Errorf("empty; want unix:/path/to/http.sock or 127.0.0.1:port")
	}
	ap, err := netip.ParseAddrPort(t)
	if err != nil {
		return "", fmt.Errorf("%q: want unix:/path/to/http.sock or 127.0.0.1:port", t)
	}
	if !ap.Addr().IsLoopback() || ap.Port() == 0 {
		return "", fmt.Errorf("%q: a TCP target must be a loopback address with a port", t)
	}
	// ParseAddrPort takes any bytes as an IPv6 zone, and the target goes into an ADD_ONION
	// line: a zone could end that command and start another.
	if ap.Addr().Zone() != "" {
		return "", fmt.Errorf("%q: a TCP target may not carry an IPv6 zone", t)
	}
	return ap.String(), nil
}

// controlAddr splits Control into a network and address for net.Dial. TCP
// control ports must be on loopback: the cookie exchange is not encryption.
func controlAddr(c string) (network, addr string, err error) {
	if path, ok := strings.CutPrefix(c, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return "", "", fmt.Errorf("unix socket path %q must be absolute", path)
		}
		return "unix", path, nil
	}
	host, port, err := net.SplitHostPort(c)
	if err != nil {
		return "", "", fmt.Errorf("%q: want unix:/run/tor/control or 127.0.0.1:9051", c)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return "", "", fmt.Errorf("%q: a control port must be on a loopback address", c)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", "", fmt.Errorf("%q: bad port", c)
	}
	return "tcp", c, nil
}
