package onion

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cretz/bine/tor"
)

// torrcName is the torrc this package writes into DataDir on every start.
const torrcName = "sealdrop-torrc"

// torrc is the managed tor's configuration: the caller's lines first, then
// ours, so that ours win, then the service's own lines when it is published
// from serviceDir (not empty). SocksPort 0 is repeated on the command line,
// where it overrides any torrc.
func torrc(c Config, serviceDir string) string {
	var b strings.Builder
	b.WriteString("# Written by sealdrop at every start; edits are overwritten.\n")
	for _, l := range c.TorrcLines {
		b.WriteString(l + "\n")
	}
	for _, l := range []string{
		"SocksPort 0",   // this tor serves the onion only; no client port for anyone to use
		"SafeLogging 1", // scrub addresses from anything tor does log
		"AvoidDiskWrites 1",
		"HiddenServiceNonAnonymousMode 0", // never a single-hop, location-revealing service
		"HiddenServiceSingleHopMode 0",
		"__OwningControllerProcess " + strconv.Itoa(os.Getpid()), // tor exits when we do, however we die
	} {
		b.WriteString(l + "\n")
	}
	if c.TorOutput != nil {
		// Only when an operator asked to see tor's output; otherwise tor logs
		// warnings to a stdout that goes nowhere, and writes no log file.
		b.WriteString("Log notice stdout\n")
	}
	if serviceDir != "" {
		for _, l := range serviceDirLines(c, serviceDir) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// managed runs tor and publishes the service on it. With a key file the service is defined in
// the torrc, from a HiddenServiceDir in DataDir that holds the key in tor's format: only such
// a service gets the intro points' DoS defence and the circuit ids (CircuitIDs). tor then
// starts with its network off, so that publish is listening for the upload before tor can
// make it. An ephemeral service is added with ADD_ONION, its key never written.
func managed(ctx context.Context, c Config, seed []byte) (*Service, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("onion: DataDir: %w", err)
	}
	// tor refuses a DataDirectory readable by others; tighten ours rather than fail.
	if err := os.Chmod(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("onion: DataDir: %w", err)
	}
	dir := filepath.Join(c.DataDir, serviceDirName)
	if c.Ephemeral {
		// An ephemeral address must leave no key behind, not even an earlier run's.
		if err := removeServiceDir(dir); err != nil {
			return nil, err
		}
		dir = ""
	} else if err := writeServiceDir(dir, seed); err != nil {
		return nil, err
	}
	fail := func(err error) (*Service, error) {
		if dir != "" {
			_ = removeServiceDir(dir)
		}
		return nil, err
	}
	torrcPath := filepath.Join(c.DataDir, torrcName)
	if err := os.WriteFile(torrcPath, []byte(torrc(c, dir)), 0o600); err != nil {
		return fail(fmt.Errorf("onion: write torrc: %w", err))
	}
	cr := &creator{path: c.TorPath, out: c.TorOutput, startCtx: ctx}
	// The process context must outlive ctx: bine kills tor when it ends.
	t, err := tor.Start(context.WithoutCancel(ctx), &tor.StartConf{
		ProcessCreator:  cr,
		DataDir:         c.DataDir,
		TorrcFile:       torrcPath,
		EnableNetwork:   dir == "", // a torrc service: publish enables it once it listens
		NoAutoSocksPort: true,
		ExtraArgs:       []string{"--SocksPort", "0"},
		// DebugWriter stays nil: bine would print ADD_ONION, key included.
	})
	if p := cr.started; p != nil && p.portFile != "" {
		_ = os.Remove(p.portFile) // read by bine already; do not pile them up in DataDir
	}
	if err != nil {
		if p := cr.started; p != nil && !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if errors.Is(err, ErrTorExited) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fail(err)
		}
		return fail(fmt.Errorf("onion: start tor: %w", err))
	}
	s := &Service{conn: t.Control, tor: t, proc: cr.started, serviceDir: dir, closed: make(chan struct{})}
	if dir != "" {
		s.id, err = publishTorrc(ctx, s.conn, c, seed, dir, c.Progress, c.StallTimeout)
		// Enabling the network made tor apply its options again, which writes the control
		// port file anew.
		if p := cr.started; p != nil && p.portFile != "" {
			_ = os.Remove(p.portFile)
		}
	} else {
		s.id, err = publish(ctx, s.conn, c, seed, c.Progress, c.StallTimeout)
	}
	if err != nil {
		s.id = ""
		_ = s.Close()
		return nil, err
	}
	return s, nil
}
