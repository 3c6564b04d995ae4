package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sealdrop/sealdrop/internal/admin"
	"github.com/sealdrop/sealdrop/internal/chat"
	"github.com/sealdrop/sealdrop/internal/circuit"
	"github.com/sealdrop/sealdrop/internal/deploy"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/room"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/onion"
	"github.com/sealdrop/sealdrop/vault"
)

// shutdownGrace is how long running requests get to finish after SIGINT/SIGTERM (or
// `sealdrop wipe --exit`) before the vault is wiped regardless. With the vault's own two
// seconds for in-flight reads it stays under the unit's TimeoutStopSec=15, so the wipe always
// runs before systemd would resort to SIGKILL.
const shutdownGrace = 10 * time.Second

// Defaults of managed mode: the state directory of the systemd unit (deploy) and its runtime
// directory for the sockets.
var (
	defaultKeyFile    = deploy.DefaultStateDirectory + "/" + deploy.DefaultKeyName
	defaultTorDataDir = deploy.DefaultStateDirectory + "/" + deploy.DefaultTorDataName
)

const serveUsage = `usage: sealdrop serve [flags]

Serves the pages and API v1 and keeps every note in locked memory only. Three ways to reach Tor:

  managed (default)  sealdrop starts its own tor (Debian's "tor" package), publishes a v3 onion
                     service with the key in --key-file (created on first start, mode 0600) and
                     forwards it to a unix socket in --tor-data-dir (or --http-socket). tor's
                     state stays in --tor-data-dir so its guards persist. In a censored
                     network, give tor bridges with --tor-config.
                       sealdrop serve --key-file ./onion.key --tor-data-dir ./tor-data
  attach             --tor-control: publish through an already running tor's control socket
                     or port (cookie authentication), with the same key and hardening.
                       sealdrop serve --tor-control unix:/run/tor/control
  listen             --listen: no tor at all; serve plain HTTP on a unix socket for the
                     system tor's HiddenServicePort (torrc.example, Route A, which exports
                     circuit ids: hence --circuit-ids).
                       sealdrop serve --listen unix:/run/sealdrop/http.sock --circuit-ids

Circuit ids: an onion service sees no client addresses, but tor can say which circuit each
connection came over. Managed mode with a key file publishes through a HiddenServiceDir in
--tor-data-dir that makes tor do so (the key then also sits there, in tor's format, while tor
runs), and sealdrop limits what one circuit may create: 10 notes, chats or drop submissions at
once, then one per 10 s (429 "busy" over that). In listen mode, --circuit-ids does the same
for a system tor whose torrc exports them. The ids stay in memory for 100 s after a circuit's
last connection, and are never written, printed or tied to what was created.

At start it prints the onion address (http://<address>.onion/), or with --listen the listen
address, and the capacity; then nothing else, ever. While tor connects, a terminal shows its
progress on one stderr line, removed when the address is printed (nothing when stderr is not a
terminal). If tor's progress stops for 2 minutes (no network, a wrong clock, a blocked guard, a
censored network that needs bridges) serve says where it stopped and exits 1. SIGINT, SIGTERM and "sealdrop wipe --exit"
wipe every note and exit 0. If the managed tor dies, sealdrop wipes and exits 1. In attach
mode a restarted tor gets the service back at the same address, for up to 10 minutes; after
that sealdrop wipes and exits 1.

Flags:
`

type serveFlags struct {
	listen         string
	socketMode     string
	budget         sizeFlag
	maxEntry       sizeFlag
	maxTTL         time.Duration
	keyFile        string
	ephemeral      bool
	torDataDir     string
	torPath        string
	torControl     string
	torOutput      bool
	httpSocket     string
	adminSocket    string
	publishTimeout time.Duration
	dropTTL        time.Duration
	featuredDrops  string
	safestMaxBody  sizeFlag
	torConfig      string
	circuitIDs     bool
	hosts          hostsFlag
}

// hostsFlag is --host, given once per name.
type hostsFlag []string

func (h *hostsFlag) String() string { return strings.Join(*h, ",") }

func (h *hostsFlag) Set(v string) error {
	if v == "" || strings.ContainsAny(v, "/ \t@?#") || strings.Contains(v, "://") {
		return fmt.Errorf("%q is not a host name (give the name alone, e.g. example.onion)", v)
	}
	*h = append(*h, v)
	return nil
}

// Test-build hooks. Production binaries leave them empty: only files built with the
// "prooftest" tag (never shipped) fill them in init. They are how the end-to-end tests point the
// managed tor at a private Tor network (its torrc lines are not secret, but a production flag
// that redirects tor's directory authorities must not exist) and add test-only routes.
var (
	// testFlags registers extra serve flags.
	testFlags []func(fs *flag.FlagSet)
	// testTorrcLines returns extra torrc lines for the managed tor (onion.Config.TorrcLines).
	testTorrcLines func() ([]string, error)
	// testHandlers wrap the site handler, in order.
	testHandlers []func(http.Handler) http.Handler
)

// mode is how serve reaches Tor.
type mode int

const (
	modeManaged mode = iota
	modeAttach
	modeListen
)

// newServeFlags returns serve's flag set, bound to a fresh serveFlags.
func newServeFlags(stderr io.Writer) (*flag.FlagSet, *serveFlags) {
	f := &serveFlags{}
	fset := newFlagSet("serve", serveUsage, stderr)
	fset.StringVar(&f.listen, "listen", "", "listen mode: serve HTTP on `ADDR` and start no tor: unix:PATH (recommended; the system\ntor forwards to it), or a loopback 127.0.0.1:PORT or [::1]:PORT for development.\nAny other address is refused")
	fset.StringVar(&f.keyFile, "key-file", defaultKeyFile, "managed/attach mode: the onion service's ed25519 key (32-byte seed); created with\nmode 0600 on first start, refused if group or others may access it. Same file, same address")
	fset.BoolVar(&f.ephemeral, "ephemeral", false, "managed/attach mode: publish a one-off address whose key never touches disk\n(excludes --key-file)")
	fset.StringVar(&f.torDataDir, "tor-data-dir", defaultTorDataDir, "managed mode: the `DIR` tor keeps its state in (mode 0700; kept so tor's guards persist)")
	fset.StringVar(&f.torPath, "tor", "", "managed mode: the tor binary (`PATH`); default: \"tor\" from $PATH")
	fset.StringVar(&f.torControl, "tor-control", "", "attach mode: a running tor's control `ADDR`, unix:PATH or 127.0.0.1:PORT, with\ncookie authentication (Debian: unix:/run/tor/control; this user must be in group debian-tor)")
	fset.BoolVar(&f.torOutput, "tor-output", false, "managed mode, debugging only: copy tor's own notices to stderr (otherwise discarded)")
	fset.StringVar(&f.httpSocket, "http-socket", "", "managed/attach mode: the unix socket `PATH` the HTTP server listens on and tor forwards\nto. Default: managed, DIR/"+managedSocketDir+"/http.sock in --tor-data-dir (a 0700 directory\nsealdrop makes); attach, "+deploy.HTTPSocket)
	fset.StringVar(&f.torConfig, "tor-config", "", "managed mode: a `FILE` of extra torrc lines for censored networks and firewalls: bridges\n(UseBridges 1, Bridge ..., ClientTransportPlugin ...), proxies, ReachableAddresses.\nAny other option is refused; the file must not be writable by group or others")
	fset.BoolVar(&f.circuitIDs, "circuit-ids", false, "listen mode on unix:PATH: read the circuit id tor puts before every connection and limit new notes,\nchats and drop submissions per circuit. Only for a torrc service with the line\n\"HiddenServiceExportCircuitID haproxy\" (torrc.example, Route A): without it every\nconnection is refused, with a page saying so. Managed mode with a key file does this by\nitself; attach mode and --ephemeral cannot (tor's ADD_ONION sends no circuit ids)")
	fset.StringVar(&f.socketMode, "socket-mode", "", "permissions of the HTTP unix socket, 0660 or 0600. Default: 0600 in managed mode (tor\nruns as this user), 0660 with --listen unix: and --tor-control (the system tor reaches it\nthrough the socket directory's group)")
	fset.StringVar(&f.adminSocket, "admin-socket", "", "serve the operator API (sealdrop status, sealdrop wipe) on this unix socket `PATH`,\nmode 0600, e.g. "+deploy.AdminSocket+". Default: none")
	fset.Var(&f.budget, "budget", "locked memory for notes, a `SIZE` such as 256M or 1G (suffixes K, M, G are powers of 1024).\n0 derives it from RLIMIT_MEMLOCK")
	fset.Var(&f.maxEntry, "max-entry", "largest note in ciphertext bytes, a `SIZE` such as 64M; 0: min(64M, budget)")
	fset.DurationVar(&f.maxTTL, "max-ttl", web.DefaultMaxTTL, "longest lifetime a note may ask for (the offered TTLs above it are dropped)")
	fset.DurationVar(&f.dropTTL, "drop-ttl", drop.DefaultTTL, "how long a drop submission or reply waits to be read before it is wiped")
	fset.Var(&f.safestMaxBody, "safest-max-body", "let drops that opted in take messages from Tor Browser at \"Safest\" (no JavaScript; the server\nsees them for a moment: SECURITY.md), each form at most `SIZE`; 0: off. About 5.5 times SIZE is locked for it,\ntaken from the budget when the budget comes from RLIMIT_MEMLOCK")
	fset.StringVar(&f.featuredDrops, "featured-drops", "", "a `FILE` of drops to list on the front page as \"Contact …\": one \"Name<TAB>drop link\"\n(or \"Name|drop link\") per line, # comments; a bad line stops the start")
	fset.Var(&f.hosts, "host", "also answer requests for this host `NAME` (repeat for more): the onion address in listen\nmode (Route A, which does not know it), a frontend's name. Every other Host is refused with\n421 (against DNS rebinding): serve answers only the onion address once it is published, the\n--listen address and localhost on a TCP port, and these names. On a unix socket without\n--host any name is answered (only tor or a frontend reaches it)")
	fset.DurationVar(&f.publishTimeout, "publish-timeout", onion.DefaultPublishTimeout, "managed/attach mode: how long to wait for tor to publish the onion service")
	for _, add := range testFlags {
		add(fset)
	}
	return fset, f
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset, f := newServeFlags(stderr)
	if done, err := parse(fset, args); done || err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fset.Arg(0))
	}
	m, sockMode, err := f.check(setFlags(fset))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	var torrcLines []string
	if m == modeManaged && testTorrcLines != nil {
		if torrcLines, err = testTorrcLines(); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	if f.torConfig != "" {
		extra, err := onion.ReadOperatorTorrc(f.torConfig)
		if err != nil {
			return fmt.Errorf("serve: --tor-config: %w", err)
		}
		torrcLines = append(torrcLines, extra...)
	}
	if m == modeManaged && !setFlags(fset)["http-socket"] {
		if err := makeSocketDir(f.httpSocket); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}

	started := time.Now()
	vcfg, err := vaultConfig(f)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	v, err := vault.New(vcfg)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer v.Close() // wipes; also on every error path below
	pricer, err := price.New(price.Config{})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ccfg, err := chatConfig(v)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ccfg.Price = pricer
	cs, err := chat.New(ccfg)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer cs.Close() // ends every chat; runs before v.Close
	rcfg, err := roomConfig(v)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	rcfg.Price = pricer
	rs, err := room.New(rcfg)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer rs.Close() // ends every room; runs before v.Close
	featured, err := loadFeatured(f.featuredDrops)
	if err != nil {
		return fmt.Errorf("serve: --featured-drops: %w", err)
	}
	ds, err := dropServer(v, f, pricer)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	var h http.Handler
	hosts := &web.Hosts{}
	if h, err = web.New(web.Config{Vault: v, Chat: cs, Room: rs, Drops: ds, Price: pricer, FeaturedDrops: featured, MaxTTL: f.maxTTL, Hosts: hosts, SafestMaxBody: int64(f.safestMaxBody)}); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	for _, wrap := range testHandlers {
		h = wrap(h)
	}

	listenAddr := f.listen
	if m != modeListen {
		listenAddr = "unix:" + f.httpSocket
	}
	ln, shown, err := listen(listenAddr, sockMode)
	if err != nil {
		return fmt.Errorf("serve: %w", listenError(m, listenAddr, err))
	}
	// The Host names answered (web.Hosts, against DNS rebinding): a TCP port's own address and
	// localhost; a unix socket only what --host names, until the onion address is known.
	switch {
	case m == modeListen && !strings.HasPrefix(listenAddr, "unix:"):
		hosts.Set(append([]string{listenAddr, "localhost"}, f.hosts...)...)
	case len(f.hosts) > 0:
		hosts.Set(f.hosts...)
	}
	// Managed mode with a key file has its tor send circuit ids; listen mode when asked to.
	torCircuits := m == modeManaged && !f.ephemeral
	if torCircuits || (m == modeListen && f.circuitIDs) {
		lim, err := circuit.NewLimiter(circuit.Config{})
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("serve: %w", err)
		}
		ln = circuit.Listen(ln, lim)
	}
	srv := web.NewServer(h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(web.Listener(ln)) }() // web.Listener: no Date header even on net/http's own answers
	// Until the wait below owns the shutdown, an early return must stop serving. The listener
	// is closed here too (which removes a unix socket at once): Serve closes it only when its
	// goroutine gets to run, after this function may have returned.
	stopHTTP := func() { _ = srv.Close(); _ = ln.Close() }

	var svc *onion.Service
	if m != modeListen {
		cfg := onion.Config{
			Control:        f.torControl,
			KeyFile:        f.keyFile,
			Ephemeral:      f.ephemeral,
			Target:         "unix:" + f.httpSocket,
			PublishTimeout: f.publishTimeout,
			CircuitIDs:     torCircuits,
		}
		if f.ephemeral {
			cfg.KeyFile = ""
		}
		if m == modeManaged {
			cfg.DataDir, cfg.TorPath, cfg.TorrcLines = f.torDataDir, f.torPath, torrcLines
			if f.torOutput {
				cfg.TorOutput = stderr
			}
		}
		line := newProgressLine(stderr)
		cfg.Progress = line.show
		svc, err = onion.Start(ctx, cfg)
		line.clear()
		if err != nil {
			stopHTTP()
			if ctx.Err() != nil {
				return nil // stopped by a signal while publishing: a normal shutdown, nothing stored yet
			}
			if errors.Is(err, onion.ErrBootstrapStalled) && m == modeManaged {
				return fmt.Errorf("serve: %w (in a censored network, give tor bridges with --tor-config FILE; see the README)", err)
			}
			return fmt.Errorf("serve: %w", err)
		}
		defer svc.Close()
		shown = "http://" + svc.Address() + "/"
		hosts.Set(append([]string{svc.Address()}, f.hosts...)...)
	}
	onionAddr := ""
	if svc != nil {
		onionAddr = svc.Address()
	}

	adminExit := make(chan struct{})
	if f.adminSocket != "" {
		aln, err := admin.Listen(f.adminSocket)
		if err != nil {
			stopHTTP()
			return fmt.Errorf("serve: --admin-socket: %w", err)
		}
		var exitOnce sync.Once
		asrv, err := admin.New(admin.Config{
			Status: func() admin.Status { return admin.FromStats(v.Stats(), started, time.Now(), onionAddr) },
			Wipe:   func() { cs.EndAll(); rs.EndAll(); v.Wipe() }, // chats and rooms are told they ended, then every entry is zeroed
			Exit:   func() { exitOnce.Do(func() { close(adminExit) }) },
		})
		if err != nil {
			aln.Close()
			stopHTTP()
			return fmt.Errorf("serve: %w", err)
		}
		go func() { _ = asrv.Serve(aln) }()
		defer asrv.Close() // closes the listener, which removes the socket
	}

	st := v.Stats()
	if m == modeListen {
		fmt.Fprintf(stdout, "listening on %s\n", shown)
	} else {
		fmt.Fprintf(stdout, "%s\n", shown)
	}
	fmt.Fprintf(stdout, "capacity %d bytes (%s)\n", st.Budget, human(st.Budget))

	var torGone <-chan struct{}
	if svc != nil {
		torGone = svc.Done()
	}
	select {
	case err = <-served:
		// Serve only returns on a listener failure.
		err = fmt.Errorf("serve: %w", err)
	case <-torGone:
		// The address is unreachable now; exit non-zero so that systemd restarts us.
		stopHTTP()
		if m == modeAttach {
			// Err says why: tor stayed away for onion.ReattachFor, came back unsafe, or the
			// key file changed.
			err = fmt.Errorf("serve: the onion service is gone: %w", svc.Err())
		} else {
			err = errors.New("serve: tor exited; the onion service is gone (run with --tor-output to see why)")
		}
	case <-ctx.Done():
		err = shutdown(srv, served)
	case <-adminExit:
		err = shutdown(srv, served)
	}
	// Wipe before stopping tor: closing tor may take seconds, and the wipe must not wait on it.
	cs.Close() // tells both sides of every chat it ended, and wipes its records
	rs.Close() // and every room's members
	if cerr := v.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("serve: wipe: %w", cerr)
	}
	if svc != nil {
		if cerr := svc.Close(); cerr != nil && err == nil && m == modeAttach {
			// In attach mode the tor is someone else's: a DEL_ONION it did not answer is reported
			// (exit 1). The service still goes with the control connection Close closes (it was
			// added without Detach), but the operator should know that tor stopped answering.
			err = fmt.Errorf("serve: %w", cerr)
		}
	}
	return err
}

// shutdown stops the HTTP server gracefully, giving running requests shutdownGrace.
func shutdown(srv *http.Server, served <-chan error) error {
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// check validates the flag combination and returns the mode and the HTTP socket's mode. set
// names the flags given explicitly: a flag of another mode is refused rather than ignored, so
// that an operator never believes a setting is in force when it is not.
func (f *serveFlags) check(set map[string]bool) (mode, os.FileMode, error) {
	m := modeManaged
	switch {
	case set["listen"] && set["tor-control"]:
		return 0, 0, errors.New("--listen and --tor-control are exclusive: with --listen the system tor publishes the onion itself")
	case set["listen"]:
		m = modeListen
	case set["tor-control"]:
		m = modeAttach
	}
	only := func(name string, modes ...mode) error {
		if !set[name] {
			return nil
		}
		for _, ok := range modes {
			if m == ok {
				return nil
			}
		}
		switch m {
		case modeListen:
			return fmt.Errorf("--%s does not apply with --listen (no tor is started or attached)", name)
		case modeAttach:
			return fmt.Errorf("--%s does not apply with --tor-control (the running tor uses its own settings)", name)
		}
		return fmt.Errorf("--%s applies only with --tor-control", name)
	}
	for _, name := range []string{"key-file", "ephemeral", "http-socket", "publish-timeout"} {
		if err := only(name, modeManaged, modeAttach); err != nil {
			return 0, 0, err
		}
	}
	for _, name := range []string{"tor-data-dir", "tor", "tor-output", "tor-config"} {
		if err := only(name, modeManaged); err != nil {
			return 0, 0, err
		}
	}
	if set["circuit-ids"] && m != modeListen {
		if m == modeManaged && !f.ephemeral {
			return 0, 0, errors.New("--circuit-ids is for --listen: managed mode with a key file reads circuit ids by itself")
		}
		return 0, 0, errors.New("--circuit-ids is for --listen: attach mode and --ephemeral publish with tor's ADD_ONION, which sends no circuit ids")
	}
	if f.ephemeral && set["key-file"] {
		return 0, 0, errors.New("--ephemeral and --key-file are exclusive: an ephemeral address has no key file")
	}
	if m == modeListen && f.listen == "" {
		return 0, 0, errors.New("--listen needs an address")
	}
	if f.circuitIDs && m == modeListen && !strings.HasPrefix(f.listen, "unix:") {
		// On a TCP port any local process could write the PROXY line, with any circuit id.
		return 0, 0, errors.New("--circuit-ids needs --listen unix:PATH: on a TCP port any local process could claim any circuit id")
	}
	if m != modeListen && f.httpSocket == "" {
		f.httpSocket = deploy.HTTPSocket
		if m == modeManaged {
			dir, err := filepath.Abs(f.torDataDir)
			if err != nil {
				return 0, 0, fmt.Errorf("--tor-data-dir: %w", err)
			}
			f.httpSocket = filepath.Join(dir, managedSocketDir, "http.sock")
			if len(f.httpSocket) > maxSocketPath {
				return 0, 0, fmt.Errorf("the HTTP socket in --tor-data-dir, %s, is %d bytes, longer than the %d a unix socket path may have: use a shorter --tor-data-dir, or give --http-socket a short path in a directory only you can write", f.httpSocket, len(f.httpSocket), maxSocketPath)
			}
		}
	}
	if m != modeListen {
		if !strings.HasPrefix(f.httpSocket, "/") {
			return 0, 0, fmt.Errorf("--http-socket %q: want an absolute path", f.httpSocket)
		}
		if len(f.httpSocket) > maxSocketPath {
			return 0, 0, fmt.Errorf("--http-socket %s is %d bytes, longer than the %d a unix socket path may have", f.httpSocket, len(f.httpSocket), maxSocketPath)
		}
		if f.publishTimeout <= 0 {
			return 0, 0, errors.New("--publish-timeout must be positive")
		}
	}

	sockMode := uint64(0o660)
	if m == modeManaged {
		sockMode = 0o600 // the managed tor runs as this user
	}
	if f.socketMode != "" {
		var err error
		sockMode, err = strconv.ParseUint(f.socketMode, 8, 32)
		if err != nil || (sockMode != 0o660 && sockMode != 0o600) {
			return 0, 0, fmt.Errorf("--socket-mode %q: want 0660 or 0600", f.socketMode)
		}
	}
	return m, os.FileMode(sockMode), nil
}

// managedSocketDir is the directory in --tor-data-dir that holds managed mode's HTTP socket.
const managedSocketDir = "sealdrop"

// maxSocketPath is the longest unix socket path Linux takes (sun_path is 108 bytes, with its
// terminating NUL).
const maxSocketPath = 107

// makeSocketDir creates the directory of managed mode's default HTTP socket: tor's data
// directory and in it a directory that only this user may enter (0700). A symlink or another
// user's directory there is refused rather than followed or used.
func makeSocketDir(sock string) error {
	dir := filepath.Dir(sock)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("--tor-data-dir: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("the HTTP socket's directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("the HTTP socket's directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: exists and is not a directory; refusing to use it for the HTTP socket", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s: belongs to uid %d, not to this user; refusing to put the HTTP socket there", dir, st.Uid)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("the HTTP socket's directory: %w", err)
	}
	return nil
}

// listenError names the flag behind a failed listen and, for a missing directory, the fix.
func listenError(m mode, addr string, err error) error {
	if !strings.HasPrefix(addr, "unix:") {
		return err // already names --listen
	}
	flagName := "--http-socket"
	if m == modeListen {
		flagName = "--listen"
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %w (create the socket's directory, or run under the systemd unit, which creates %s)", flagName, err, deploy.RuntimeDirectory)
	}
	return fmt.Errorf("%s %w", flagName, err)
}

// listen opens addr: a unix socket with the given mode, or a loopback TCP address. It
// returns the listener and how to name it to the operator.
func listen(addr string, mode os.FileMode) (net.Listener, string, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, "", errors.New("--listen unix: needs a path")
		}
		// Remove a stale socket from an earlier run, but never anything else.
		if fi, err := os.Lstat(path); err == nil {
			if fi.Mode().Type() != os.ModeSocket {
				return nil, "", fmt.Errorf("%s: exists and is not a socket; refusing to remove it", addr)
			}
			if err := os.Remove(path); err != nil {
				return nil, "", fmt.Errorf("%s: removing the stale socket: %w", addr, err)
			}
		}
		ln, err := listenUnix(path, mode)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", addr, err)
		}
		return ln, "unix:" + path, nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("--listen %q: want unix:PATH, 127.0.0.1:PORT or [::1]:PORT", addr)
	}
	if !ap.Addr().IsLoopback() {
		return nil, "", fmt.Errorf("--listen %s: refusing a non-loopback address: sealdrop must be reachable only through tor", addr)
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return nil, "", fmt.Errorf("--listen %s: %w", addr, err)
	}
	return ln, "http://" + ln.Addr().String(), nil
}

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) + " MiB"
	default:
		return strconv.FormatInt(n, 10) + " B"
	}
}
