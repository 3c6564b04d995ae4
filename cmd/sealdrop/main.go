// Command sealdrop serves one-time end-to-end encrypted notes, meant to be reached only as a
// Tor onion service. See the README for the flags and SECURITY.md for the protocol.
package main

import (
	"context"
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
  serve   serve notes (sealdrop serve --listen unix:/run/sealdrop/http.sock)
  bench   measure create+open pairs/s against a null server, over loopback
  help    show this help; "sealdrop <command> -h" shows a command's flags
`

// run is the whole program: main only adds the signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
