// Command sealdrop serves one-time end-to-end encrypted notes, meant to be reached only as a
// Tor onion service. See the README for the flags and SECURITY.md for the protocol.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// A crash must not print goroutines, paths or anything a request carried.
	debug.SetTraceback("none")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sealdrop:", err)
		os.Exit(1)
	}
}

const usage = `usage: sealdrop <command> [flags]

Commands:
  serve         serve notes; by default publishes its own onion service through tor
                (sealdrop serve), or serves plain HTTP for the system tor (--listen)
  keygen        create an onion key file (sealdrop keygen /var/lib/sealdrop/onion.key)
  address       print the onion address of a key file (sealdrop address FILE)
  status        ask a running server for capacity, use and its onion address
  wipe          wipe every entry of a running server now, optionally then stop it
  systemd-unit  print a hardened systemd unit for this server
  bench         measure create+open pairs/s against a null server, over loopback
  inbox         read a drop's inbox over Tor without the server's JavaScript (list, fetch,
                reply, wipe); the inbox link is read from a file
  verify-static compare the server's JavaScript and CSS with the copies built into this binary
  version       print the version, git revision, Go and tor versions (also: sealdrop --version)
  help          show this help; "sealdrop <command> -h" shows a command's flags
`

// commands maps each command to its function. main stays a switchboard: every command parses
// its own flags and prints its own help.
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"serve":         serve,
	"keygen":        keygen,
	"address":       address,
	"status":        status,
	"wipe":          wipe,
	"systemd-unit":  systemdUnit,
	"bench":         bench,
	"inbox":         inbox,
	"verify-static": verifyStatic,
	"version":       version,
}

// run is the whole program: main only adds the signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "--version", "-version":
		return version(ctx, args[1:], stdout, stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

// newFlagSet returns a flag set whose -h prints text and then each flag.
func newFlagSet(name, text string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, text)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; done is true after -h (help printed, nothing else to do).
func parse(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, err
	}
	return false, nil
}

// setFlags names the flags given on the command line (not those left at their default).
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
