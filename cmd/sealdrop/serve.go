package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// shutdownGrace is how long running requests get to finish after SIGINT/SIGTERM before the
// vault is wiped regardless.
const shutdownGrace = 10 * time.Second

const serveUsage = `usage: sealdrop serve --listen ADDR [flags]

Serves the pages and API v1 over plain HTTP on ADDR. It does not start tor: point your own
tor's HiddenServicePort at ADDR (a unix socket is best). Prints the listen address and the
capacity at start, and nothing else, ever. SIGINT or SIGTERM wipes every note and exits.

Flags:
`

type serveFlags struct {
	listen     string
	socketMode string
	budget     sizeFlag
	maxEntry   sizeFlag
	maxTTL     time.Duration
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.listen, "listen", "", "where to serve HTTP: `unix:PATH` (recommended; tor forwards to it), or a loopback\n127.0.0.1:PORT or [::1]:PORT for development. Any other address is refused.")
	fs.StringVar(&f.socketMode, "socket-mode", "0660", "permissions of the unix socket: 0660 (tor in the socket's group) or 0600")
	fs.Var(&f.budget, "budget", "bytes of locked memory for notes, e.g. 256M or 1G (suffixes K, M, G are powers of 1024).\n0 derives it from RLIMIT_MEMLOCK")
	fs.Var(&f.maxEntry, "max-entry", "largest note in ciphertext bytes, e.g. 64M; 0: min(64M, budget)")
	fs.DurationVar(&f.maxTTL, "max-ttl", web.DefaultMaxTTL, "longest lifetime a note may ask for (the offered TTLs above it are dropped)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if f.listen == "" {
		return errors.New("serve: managed onion mode not built yet; use --listen")
	}
	mode, err := strconv.ParseUint(f.socketMode, 8, 32)
	if err != nil || (mode != 0o660 && mode != 0o600) {
		return fmt.Errorf("serve: --socket-mode %q: want 0660 or 0600", f.socketMode)
	}

	v, err := vault.New(vault.Config{Budget: int64(f.budget), MaxEntry: int64(f.maxEntry), MaxTTL: f.maxTTL})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer v.Close() // wipes; also on every error path below
	h, err := web.New(web.Config{Vault: v, MaxEntry: int64(f.maxEntry), MaxTTL: f.maxTTL})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ln, shown, err := listen(f.listen, os.FileMode(mode))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv := web.NewServer(h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	st := v.Stats()
	fmt.Fprintf(stdout, "listening on %s\ncapacity %d bytes (%s)\n", shown, st.Budget, human(st.Budget))

	select {
	case err = <-served:
		// Serve only returns on a listener failure.
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		if serr := srv.Shutdown(sctx); serr != nil {
			_ = srv.Close()
		}
		cancel()
		if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = fmt.Errorf("serve: %w", serr)
		}
	}
	if cerr := v.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("serve: wipe: %w", cerr)
	}
	return err
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
				return nil, "", fmt.Errorf("--listen %s: exists and is not a socket; refusing to remove it", addr)
			}
			if err := os.Remove(path); err != nil {
				return nil, "", fmt.Errorf("--listen %s: removing the stale socket: %w", addr, err)
			}
		}
		ln, err := listenUnix(path, mode)
		if err != nil {
			return nil, "", fmt.Errorf("--listen %s: %w", addr, err)
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
