package deploy

import (
	_ "embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"text/template"
)

// Mode says how sealdrop reaches Tor.
type Mode string

const (
	// ModeListen: the system tor publishes the onion (torrc.example, Route A) and forwards to
	// HTTPSocket; sealdrop gets no network at all.
	ModeListen Mode = "listen"
	// ModeManaged: sealdrop starts its own tor, whose key and DataDirectory live in the state
	// directory; the service needs IPv4/IPv6 for that tor.
	ModeManaged Mode = "managed"
)

// Fixed paths. systemd creates RuntimeDirectory (RuntimeDirectory=sealdrop) before start and
// removes it after stop; cmd/sealdrop can use the socket paths as its defaults.
const (
	RuntimeDirectory = "/run/sealdrop"
	HTTPSocket       = RuntimeDirectory + "/http.sock"
	AdminSocket      = RuntimeDirectory + "/admin.sock"
)

// Defaults for zero UnitOptions fields.
const (
	DefaultBinary         = "/usr/local/bin/sealdrop"
	DefaultUser           = "sealdrop"
	DefaultStateDirectory = "/var/lib/sealdrop"
	DefaultKeyName        = "onion.key" // in the state directory
	DefaultTorDataName    = "tor"       // in the state directory
	DefaultTorGroup       = "debian-tor"
	// DefaultBudget matches the vault's budget when the kernel does not limit locking
	// (vault.DefaultCap).
	DefaultBudget int64 = 256 << 20
)

// MemlockHeadroom is what LimitMEMLOCK allows beyond the budget and its per-mille slack (see
// MemlockLimit): it covers the vault's MemlockReserve (256 KiB, kept free for memguard's key
// pages) plus whatever memguard has locked before the vault starts, with room to spare.
const MemlockHeadroom int64 = 4 << 20

// vaultMemlockReserve mirrors vault.MemlockReserve (a test keeps them equal) so that rendering
// a unit does not link memguard, which locks and disables core dumps in its init.
const vaultMemlockReserve int64 = 256 << 10

// ErrInvalid is wrapped by Unit for options it cannot render safely.
var ErrInvalid = errors.New("deploy: invalid unit options")

// UnitOptions configures the unit. Zero fields take the documented defaults.
type UnitOptions struct {
	// Binary is the absolute path of the sealdrop executable. Default DefaultBinary.
	Binary string
	// Mode is ModeListen (default) or ModeManaged.
	Mode Mode
	// BudgetBytes is the vault budget passed as --budget (a plain byte count) and sizes
	// LimitMEMLOCK. Default DefaultBudget; at least 1 MiB.
	BudgetBytes int64
	// User and Group run the service. Default DefaultUser for both (Group defaults to User).
	User, Group string
	// StateDirectory holds the onion key and tor's DataDirectory in managed mode. It must be a
	// directory under /var/lib (systemd's StateDirectory=). Default DefaultStateDirectory.
	// Unused in listen mode, where the system tor holds the key.
	StateDirectory string
	// KeyFile is the onion key in managed mode; it must lie in StateDirectory, the only place
	// sealdrop may write (it is created on first start). Default StateDirectory/onion.key.
	KeyFile string
	// TorGroup is the system tor's group, given the socket directory in listen mode.
	// Default DefaultTorGroup (Debian's tor package).
	TorGroup string
}

//go:embed sealdrop.service.tmpl
var unitText string

var unitTemplate = template.Must(template.New("sealdrop.service").Option("missingkey=error").Parse(unitText))

// MemlockLimit is the LimitMEMLOCK value for a budget: the budget plus 1/1024 of it (each
// locked 32 MiB arena can round up by a page; 1/1024 is 8 times that at 4 KiB pages), rounded
// up to a whole MiB, plus MemlockHeadroom.
func MemlockLimit(budget int64) int64 {
	const mib = 1 << 20
	n := budget + budget/1024
	n = (n + mib - 1) / mib * mib
	return n + MemlockHeadroom
}

// names: what useradd accepts on Debian without --badname, and nothing systemd would expand.
var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// safePath refuses what a unit file would reinterpret: specifiers (%), quoting, escapes,
// variables, whitespace and control characters. "." and ".." components are refused by
// requiring a clean path.
func safePath(p string) bool {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return false
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`%\"'$;`+"`", r) {
			return false
		}
	}
	return true
}

type unitData struct {
	UnitOptions
	StateName, TorDataDir                     string
	RuntimeDirectory, HTTPSocket, AdminSocket string
	MemlockLimit                              int64
	MemlockFormula                            string
	ReserveKiB                                int64
}

// Unit renders the systemd unit for opts, validating every field first.
func Unit(opts UnitOptions) (string, error) {
	bad := func(format string, a ...any) (string, error) {
		return "", fmt.Errorf("deploy: %s: %w", fmt.Sprintf(format, a...), ErrInvalid)
	}
	o := opts
	if o.Binary == "" {
		o.Binary = DefaultBinary
	}
	if o.Mode == "" {
		o.Mode = ModeListen
	}
	if o.BudgetBytes == 0 {
		o.BudgetBytes = DefaultBudget
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.Group == "" {
		o.Group = o.User
	}
	if o.StateDirectory == "" {
		o.StateDirectory = DefaultStateDirectory
	}
	if o.KeyFile == "" {
		o.KeyFile = path.Join(o.StateDirectory, DefaultKeyName)
	}
	if o.TorGroup == "" {
		o.TorGroup = DefaultTorGroup
	}

	if o.Mode != ModeListen && o.Mode != ModeManaged {
		return bad("mode %q: want %q or %q", o.Mode, ModeListen, ModeManaged)
	}
	if !safePath(o.Binary) {
		return bad("binary %q: want a clean absolute path without spaces, quotes or %%", o.Binary)
	}
	// Over 1<<50 the arithmetic in MemlockLimit could approach overflow; no server locks a PiB.
	if o.BudgetBytes < 1<<20 || o.BudgetBytes > 1<<50 {
		return bad("budget %d bytes: want 1 MiB to 1 PiB", o.BudgetBytes)
	}
	for _, n := range []struct{ what, v string }{{"user", o.User}, {"group", o.Group}, {"tor group", o.TorGroup}} {
		if !nameRE.MatchString(n.v) {
			return bad("%s %q: want a plain system name", n.what, n.v)
		}
	}
	if o.Mode == ModeListen && o.Group == o.TorGroup {
		return bad("group %q is tor's group: sealdrop would gain tor's control socket", o.Group)
	}
	state, ok := strings.CutPrefix(o.StateDirectory, "/var/lib/")
	if !safePath(o.StateDirectory) || !ok || state == "" {
		return bad("state directory %q: want a directory under /var/lib", o.StateDirectory)
	}
	if !safePath(o.KeyFile) || !strings.HasPrefix(o.KeyFile, o.StateDirectory+"/") {
		return bad("key file %q: want a path inside the state directory %s, the only place sealdrop may write",
			o.KeyFile, o.StateDirectory)
	}
	torData := path.Join(o.StateDirectory, DefaultTorDataName)
	if o.KeyFile == torData || strings.HasPrefix(o.KeyFile, torData+"/") {
		return bad("key file %q: must not be inside tor's DataDirectory %s", o.KeyFile, torData)
	}

	d := unitData{
		UnitOptions:      o,
		StateName:        state,
		TorDataDir:       torData,
		RuntimeDirectory: RuntimeDirectory,
		HTTPSocket:       HTTPSocket,
		AdminSocket:      AdminSocket,
		MemlockLimit:     MemlockLimit(o.BudgetBytes),
		MemlockFormula: fmt.Sprintf("ceil_MiB(budget + budget/1024) + %d MiB = ceil_MiB(%d + %d) + %d MiB = %d",
			MemlockHeadroom>>20, o.BudgetBytes, o.BudgetBytes/1024, MemlockHeadroom>>20, MemlockLimit(o.BudgetBytes)),
		ReserveKiB: vaultMemlockReserve >> 10,
	}
	var b strings.Builder
	if err := unitTemplate.Execute(&b, d); err != nil {
		return "", fmt.Errorf("deploy: rendering the unit: %w", err)
	}
	return b.String(), nil
}
