package testnet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Authorities is the number of directory authorities. Onion-service paths
// need at least five nodes in the consensus: three fail, four are flaky.
const Authorities = 5

// Time budgets for the phased start (testnet.md: consensus typically 5-14 s,
// client bootstrap 2-3 s).
const (
	consensusTimeout = 90 * time.Second
	bootstrapTimeout = 60 * time.Second
)

// Network is a running private Tor network.
type Network struct {
	dir     string
	torPath string
	lines   []string
	socks   string

	mu    sync.Mutex
	procs []*Proc // authorities, client, and anything from StartTor

	delayed bool
	delay   atomic.Int64 // time.Duration: the delay proxies' one-way delay
	proxies []*delayProxy
	hops    hopStats
}

// Options change how StartWith builds a network. The zero value is Start's network.
type Options struct {
	// Delayed puts a delaying TCP proxy in front of every relay's ORPort, in this process: the
	// relay advertises the proxy's port (tor's ORPort flag NoListen) and listens on another,
	// unadvertised port (NoAdvertise) that the proxy forwards to. Every link of a circuit,
	// client to relay and relay to relay, then crosses exactly one proxy (the one of the relay
	// that accepted the link), which holds each byte HopDelay in each direction: round trips
	// through the onion cost what they cost on the real network, in time.
	Delayed bool
	// HopDelay is the one-way delay per link at start (only with Delayed); SetHopDelay
	// changes it while the network runs, for connections already open too.
	HopDelay time.Duration
}

type authority struct {
	name       string
	dataDir    string
	orPort     int // where tor listens
	advertised int // the delay proxy's port on a delayed network; 0: orPort
	dirPort    int
	v3ident    string
	fingerpr   string
}

// publicORPort is the ORPort the network knows the authority by.
func (a *authority) publicORPort() int {
	if a.advertised != 0 {
		return a.advertised
	}
	return a.orPort
}

// dirAuthLine is the DirAuthority line every node of the network carries.
func (a *authority) dirAuthLine() string {
	return fmt.Sprintf("DirAuthority %s orport=%d no-v2 v3ident=%s 127.0.0.1:%d %s",
		a.name, a.publicORPort(), a.v3ident, a.dirPort, a.fingerpr)
}

// Start builds the network in dir (which must exist and will hold every
// DataDirectory): keys, five authorities, a wait for a consensus listing all
// five, then a client whose SOCKS port is bootstrapped. It refuses to run when
// CheckOffline fails. ctx bounds the start only; Close stops the network.
func Start(ctx context.Context, dir string) (*Network, error) {
	return StartWith(ctx, dir, Options{})
}

// StartWith is Start with options (a delayed network).
func StartWith(ctx context.Context, dir string, o Options) (*Network, error) {
	if o.HopDelay < 0 || (o.HopDelay > 0 && !o.Delayed) {
		return nil, fmt.Errorf("testnet: a hop delay of %v needs Options.Delayed", o.HopDelay)
	}
	if err := CheckOffline(); err != nil {
		return nil, err
	}
	torPath, gencert, err := Tools()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	// An empty GeoIP file saves ~3 CPU-seconds and ~35 MB per tor.
	geoip := filepath.Join(dir, "geoip-empty")
	if err := os.WriteFile(geoip, nil, 0o600); err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	ports, err := freePorts(2*Authorities + 1)
	if err != nil {
		return nil, err
	}

	auths := make([]*authority, Authorities)
	errs := make([]error, Authorities)
	var wg sync.WaitGroup
	for i := range auths {
		a := &authority{
			name:    fmt.Sprintf("auth%d", i),
			dataDir: filepath.Join(dir, fmt.Sprintf("auth%d", i)),
			orPort:  ports[2*i],
			dirPort: ports[2*i+1],
		}
		auths[i] = a
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.makeKeys(ctx, torPath, gencert)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	n := &Network{dir: dir, torPath: torPath, socks: "127.0.0.1:" + strconv.Itoa(ports[2*Authorities]), delayed: o.Delayed}
	n.delay.Store(int64(o.HopDelay))
	ok := false
	defer func() {
		if !ok {
			_ = n.Close()
		}
	}()
	if o.Delayed {
		for _, a := range auths {
			p, err := newDelayProxy(fmt.Sprintf("127.0.0.1:%d", a.orPort), &n.delay, &n.hops)
			if err != nil {
				return nil, fmt.Errorf("testnet: delay proxy: %w", err)
			}
			n.proxies = append(n.proxies, p)
			a.advertised = p.port()
		}
	}
	n.lines = []string{
		"TestingTorNetwork 1",
		"PathsNeededToBuildCircuits 0.67",
		"GeoIPFile " + geoip,
		"GeoIPv6File " + geoip,
	}
	for _, a := range auths {
		n.lines = append(n.lines, a.dirAuthLine())
	}
	for _, a := range auths {
		p, err := startTor(torPath, a.name, a.dataDir, append(n.nodeLines(a.name, a.dataDir), a.options()...))
		if err != nil {
			return nil, err
		}
		n.add(p)
	}
	cctx, cancel := context.WithTimeout(ctx, consensusTimeout)
	defer cancel()
	if err := n.waitConsensus(cctx); err != nil {
		return nil, err
	}
	clientDir := filepath.Join(dir, "client")
	client, err := startTor(torPath, "client", clientDir, append(n.nodeLines("client", clientDir), "SocksPort "+n.socks))
	if err != nil {
		return nil, err
	}
	n.add(client)
	bctx, cancel2 := context.WithTimeout(ctx, bootstrapTimeout)
	defer cancel2()
	if err := client.WaitLog(bctx, "Bootstrapped 100%"); err != nil {
		return nil, err
	}
	ok = true
	return n, nil
}

// TorrcLines are the options any other tor needs to join this network
// (TestingTorNetwork 1, the five DirAuthority lines, PathsNeededToBuildCircuits
// and empty GeoIP files). Hand them to onion.Config.TorrcLines.
func (n *Network) TorrcLines() []string { return append([]string(nil), n.lines...) }

// SocksAddr is the client's SOCKS5 address, host:port on 127.0.0.1.
func (n *Network) SocksAddr() string { return n.socks }

// TorPath is the tor binary the network runs.
func (n *Network) TorPath() string { return n.torPath }

// Dir is the directory holding every DataDirectory of the network.
func (n *Network) Dir() string { return n.dir }

// StartTor starts one more tor on this network with the network's lines, a
// DataDirectory dir/name, a notice log, __OwningControllerProcess and the
// extra options (e.g. a ControlSocket for attach-mode tests). It waits for
// nothing; the caller waits with the Proc's methods. Close stops it.
func (n *Network) StartTor(name string, extra []string) (*Proc, error) {
	dataDir := filepath.Join(n.dir, name)
	p, err := startTor(n.torPath, name, dataDir, append(n.nodeLines(name, dataDir), extra...))
	if err != nil {
		return nil, err
	}
	n.add(p)
	return p, nil
}

// Close stops every tor of the network (SIGTERM, then SIGKILL after 10 s).
func (n *Network) Close() error {
	n.mu.Lock()
	procs := n.procs
	n.procs = nil
	n.mu.Unlock()
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Close()
		}()
	}
	wg.Wait()
	n.mu.Lock()
	proxies := n.proxies
	n.proxies = nil
	n.mu.Unlock()
	for _, p := range proxies {
		p.close()
	}
	return errors.Join(errs...)
}

// SetHopDelay sets the one-way delay of every link of a Delayed network, for the connections
// already open as well as new ones (0 forwards at once).
func (n *Network) SetHopDelay(d time.Duration) error {
	if !n.delayed {
		return errors.New("testnet: SetHopDelay on a network started without Options.Delayed")
	}
	if d < 0 {
		return fmt.Errorf("testnet: negative hop delay %v", d)
	}
	n.delay.Store(int64(d))
	return nil
}

// HopDelay is the delay SetHopDelay (or Options.HopDelay) set; 0 on an undelayed network.
func (n *Network) HopDelay() time.Duration { return time.Duration(n.delay.Load()) }

// HopTraffic is what the delay proxies carried so far: the links they forwarded and the bytes
// they delivered, both directions. On an undelayed network both are 0.
func (n *Network) HopTraffic() (links, bytes int64) { return n.hops.conns.Load(), n.hops.bytes.Load() }

func (n *Network) add(p *Proc) {
	n.mu.Lock()
	n.procs = append(n.procs, p)
	n.mu.Unlock()
}

// nodeLines are the options every node of the network carries.
func (n *Network) nodeLines(name, dataDir string) []string {
	return append([]string{
		"DataDirectory " + dataDir,
		"Nickname " + nickname(name),
		"Log notice file " + filepath.Join(dataDir, "notice.log"),
		"__OwningControllerProcess " + strconv.Itoa(os.Getpid()),
		"SafeLogging 1",
	}, n.lines...)
}

// nickname makes a valid tor nickname (1-19 letters and digits) of name.
func nickname(name string) string {
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 19 {
		s = s[len(s)-19:]
	}
	if s == "" {
		s = "node"
	}
	return s
}

func (a *authority) options() []string {
	orPorts := []string{fmt.Sprintf("ORPort 127.0.0.1:%d", a.orPort)}
	if a.advertised != 0 {
		// Advertise the delay proxy's port without listening on it; listen on the real one
		// without advertising it.
		orPorts = []string{
			fmt.Sprintf("ORPort 127.0.0.1:%d NoListen", a.advertised),
			fmt.Sprintf("ORPort 127.0.0.1:%d NoAdvertise", a.orPort),
		}
	}
	return append(orPorts,
		"AuthoritativeDirectory 1",
		"V3AuthoritativeDirectory 1",
		"AssumeReachable 1",
		"Address 127.0.0.1",
		fmt.Sprintf("DirPort 127.0.0.1:%d", a.dirPort),
		"SocksPort 0",
		"ExitRelay 0",
		"ExitPolicy reject *:*",
		"TestingDirAuthVoteGuard *",
		"TestingDirAuthVoteHSDir *",
		"TestingDirAuthVoteExit *",
		"TestingMinExitFlagThreshold 0",
		"V3AuthNIntervalsValid 2",
		// Without fast voting the first consensus takes ~163 s instead of 5-14 s.
		"TestingV3AuthInitialVotingInterval 5",
		"TestingV3AuthInitialVoteDelay 2", // 1 is rejected
		"TestingV3AuthInitialDistDelay 2",
		"V3AuthVotingInterval 10",
		"V3AuthVoteDelay 2",
		"V3AuthDistDelay 2",
	)
}

// makeKeys creates the authority's identity, signing key and certificate,
// reads its v3ident from the certificate and its relay fingerprint from tor.
func (a *authority) makeKeys(ctx context.Context, torPath, gencert string) error {
	keys := filepath.Join(a.dataDir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return fmt.Errorf("testnet: %s: %w", a.name, err)
	}
	if err := os.Chmod(a.dataDir, 0o700); err != nil {
		return fmt.Errorf("testnet: %s: %w", a.name, err)
	}
	cert := filepath.Join(keys, "authority_certificate")
	cmd := exec.CommandContext(ctx, gencert, "--create-identity-key", "--passphrase-fd", "0", "-m", "12",
		"-i", filepath.Join(keys, "authority_identity_key"),
		"-s", filepath.Join(keys, "authority_signing_key"),
		"-c", cert,
		"-a", fmt.Sprintf("127.0.0.1:%d", a.dirPort))
	cmd.Stdin = strings.NewReader("\n") // empty passphrase
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testnet: %s: tor-gencert: %w: %s", a.name, err, out)
	}
	certText, err := os.ReadFile(cert)
	if err != nil {
		return fmt.Errorf("testnet: %s: %w", a.name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(certText))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "fingerprint" {
			a.v3ident = f[1]
		}
	}
	if len(a.v3ident) != 40 {
		return fmt.Errorf("testnet: %s: no fingerprint line in the authority certificate", a.name)
	}

	// --list-fingerprint creates the relay identity key as a side effect. The
	// throwaway torrc holds one DirAuthority line so that tor never considers
	// the public authorities, even for this offline command.
	dummy := filepath.Join(a.dataDir, "torrc-fingerprint")
	line := fmt.Sprintf("DirAuthority dummy orport=1 no-v2 v3ident=%s 127.0.0.1:1 %s\n", a.v3ident, strings.Repeat("0", 40))
	if err := os.WriteFile(dummy, []byte(line), 0o600); err != nil {
		return fmt.Errorf("testnet: %s: %w", a.name, err)
	}
	cmd = exec.CommandContext(ctx, torPath, "--ignore-missing-torrc", "-f", dummy, "--defaults-torrc", os.DevNull,
		"--DataDirectory", a.dataDir, "--ORPort", "1", "--list-fingerprint", "--quiet")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("testnet: %s: tor --list-fingerprint: %w: %s", a.name, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.Fields(lines[len(lines)-1])
	if len(last) < 2 {
		return fmt.Errorf("testnet: %s: unexpected --list-fingerprint output %q", a.name, out)
	}
	// "nickname AAAA BBBB ..." (spaced) or "nickname AAAABBBB...": join all but the nickname.
	a.fingerpr = strings.Join(last[1:], "")
	if len(a.fingerpr) != 40 {
		return fmt.Errorf("testnet: %s: unexpected fingerprint %q", a.name, a.fingerpr)
	}
	return nil
}

// waitConsensus waits until an authority's cached microdescriptor consensus
// lists every authority. A client or service started on a partial first
// consensus can end up unable to build onion paths at all.
func (n *Network) waitConsensus(ctx context.Context) error {
	n.mu.Lock()
	auths := append([]*Proc(nil), n.procs...)
	n.mu.Unlock()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range auths {
			b, _ := os.ReadFile(filepath.Join(p.DataDir(), "cached-microdesc-consensus"))
			if countRouters(b) >= Authorities {
				return nil
			}
		}
		for _, p := range auths {
			select {
			case <-p.Exited():
				return fmt.Errorf("%w: %s before the first consensus\n%s", ErrExited, p.name, p.LogTail(2000))
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testnet: no consensus with %d nodes: %w\n%s", Authorities, ctx.Err(), auths[0].LogTail(2000))
		case <-tick.C:
		}
	}
}

func countRouters(consensus []byte) int {
	n := 0
	for line := range bytes.Lines(consensus) {
		if bytes.HasPrefix(line, []byte("r ")) {
			n++
		}
	}
	return n
}

// freePorts reserves n distinct loopback ports by holding them open together,
// then releases them for tor. Inside a fresh namespace nothing else competes.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testnet: reserve port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
