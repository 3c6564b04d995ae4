package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sealdrop/sealdrop/internal/admin"
	"github.com/sealdrop/sealdrop/internal/deploy"
)

// adminTimeout bounds one admin call; a wipe of a large vault zeroes hundreds of MiB first.
const adminTimeout = 2 * time.Minute

const statusUsage = `usage: sealdrop status [--admin-socket PATH]

Asks the running server, through its admin socket, for its onion address, capacity, bytes used
and free, how many entries of each kind it holds, and its uptime (to the minute). Never
anything about a single entry. Run it as the server's user or root.
Exit status: 0 on success, 1 with a message on stderr otherwise.

Flags:
`

func status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("status", statusUsage, stderr)
	path := fset.String("admin-socket", deploy.AdminSocket, "the server's admin socket (serve --admin-socket)")
	if done, err := parse(fset, args); done || err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("status: unexpected argument %q", fset.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	st, err := admin.GetStatus(ctx, *path)
	if err != nil {
		return fmt.Errorf("status: %w", adminHint(err))
	}
	_, err = st.WriteTo(stdout)
	return err
}

const wipeUsage = `usage: sealdrop wipe [--exit] [--admin-socket PATH]

Panic button: the running server ends every chat and group room and zeroes every note, chat
frame, room frame and submission at once, through its admin socket, and answers only when done. The server keeps running (empty) unless --exit is
given; then it shuts down and exits 0, so systemd's Restart=on-failure leaves it stopped.
Run it as the server's user or root.
Exit status: 0 once the wipe is confirmed, 1 with a message on stderr otherwise.

Flags:
`

func wipe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("wipe", wipeUsage, stderr)
	path := fset.String("admin-socket", deploy.AdminSocket, "the server's admin socket (serve --admin-socket)")
	exit := fset.Bool("exit", false, "after the wipe, stop the server (exit status 0: not restarted)")
	if done, err := parse(fset, args); done || err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("wipe: unexpected argument %q", fset.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	if err := admin.Wipe(ctx, *path, *exit); err != nil {
		return fmt.Errorf("wipe: %w", adminHint(err))
	}
	if *exit {
		fmt.Fprintln(stdout, "wiped; the server is shutting down")
	} else {
		fmt.Fprintln(stdout, "wiped")
	}
	return nil
}

// adminHint adds the usual fix to the admin client's errors.
func adminHint(err error) error {
	if errors.Is(err, admin.ErrNotRunning) {
		return fmt.Errorf("%w (is sealdrop running with --admin-socket set to this path?)", err)
	}
	return err
}
