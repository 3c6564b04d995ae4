// Package deploy renders the hardened systemd unit that runs sealdrop on a server.
//
// What the unit protects: it keeps the vault's locked memory from being refused (LimitMEMLOCK is
// sized from the budget, see MemlockLimit), keeps it off disk (LimitCORE=0, no core dumps), and
// confines a compromised sealdrop process: no capabilities, no new privileges, a read-only
// system, no home directories, private /tmp and /dev, no writable-and-executable memory, a
// system-call allow-list, and, in listen mode, no network at all (unix sockets only, in a
// private network namespace). Only its runtime directory (the sockets) and, in managed mode,
// its state directory (onion key, tor's DataDirectory) are writable. Standard output goes
// nowhere, so nothing sealdrop prints reaches the journal; standard error carries startup
// errors only.
//
// What it does not protect: the unit cannot stop root, the operator, or anyone controlling
// systemd from reading the process's memory; it does not configure the system tor (see
// torrc.example at the repository root) or its AppArmor profile; and it cannot make the onion
// key in the state directory safe from someone who images the disk.
package deploy
