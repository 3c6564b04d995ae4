package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sealdrop/sealdrop/internal/deploy"
)

const unitUsage = `usage: sealdrop systemd-unit [flags] > /etc/systemd/system/sealdrop.service

Prints a hardened systemd unit for sealdrop: locked memory sized for --budget (LimitMEMLOCK),
no core dumps, no privileges, a read-only system, a system-call allow-list, stdout discarded,
and the admin socket at ` + deploy.AdminSocket + `.

  --mode listen   the system tor publishes the onion from its torrc (torrc.example, Route A)
                  and forwards to ` + deploy.HTTPSocket + `; sealdrop gets no network at all.
  --mode managed  sealdrop starts its own tor; the key and tor's state live in --state-dir,
                  and the unit must allow IPv4/IPv6 for that tor.

Flags:
`

func systemdUnit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("systemd-unit", unitUsage, stderr)
	mode := fset.String("mode", string(deploy.ModeListen), "listen or managed")
	budget := sizeFlag(deploy.DefaultBudget)
	fset.Var(&budget, "budget", "vault budget, a `SIZE` such as 256M or 1G; sizes LimitMEMLOCK")
	binary := fset.String("binary", deploy.DefaultBinary, "absolute path of the sealdrop binary")
	user := fset.String("user", deploy.DefaultUser, "user the service runs as")
	group := fset.String("group", "", "group the service runs as (default: same as --user); never tor's group")
	state := fset.String("state-dir", deploy.DefaultStateDirectory, "managed mode: state directory under /var/lib (key and tor's DataDirectory)")
	key := fset.String("key-file", "", "managed mode: the onion key, inside --state-dir (default: STATE-DIR/"+deploy.DefaultKeyName+")")
	if done, err := parse(fset, args); done || err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("systemd-unit: unexpected argument %q", fset.Arg(0))
	}
	unit, err := deploy.Unit(deploy.UnitOptions{
		Binary:         *binary,
		Mode:           deploy.Mode(*mode),
		BudgetBytes:    int64(budget),
		User:           *user,
		Group:          *group,
		StateDirectory: *state,
		KeyFile:        *key,
	})
	if err != nil {
		return fmt.Errorf("systemd-unit: %w", err)
	}
	_, err = io.WriteString(stdout, unit)
	return err
}
