// Package admin is sealdrop's operator interface: a small HTTP API on a unix socket, and the
// client that `sealdrop status` and `sealdrop wipe` use.
//
// What it protects: only the server's own user and root may use it. The socket is created mode
// 0600 (atomically: it is bound in a private directory and renamed into place, so no other user
// can ever connect to it), and every connection's SO_PEERCRED must show the same uid or root,
// so that a socket made reachable by mistake still answers only "permission denied". It reveals
// capacity only: the budget, bytes used and free, how many entries of each kind exist, the
// uptime rounded down to the minute, and the onion address; the Status type has no field that
// could carry anything about a single entry. It writes no log; net/http's error log is
// discarded.
//
// What it does not protect: anyone with the server's uid or root can wipe the vault (that is
// the point) and can read the process's memory anyway; the onion address it reports is not
// secret to them.
package admin

import "errors"

// Sentinel errors. The client returns ErrPermission both when the socket refuses the connection
// (mode 0600) and when the server refuses the peer (SO_PEERCRED).
var (
	ErrPermission = errors.New("admin: permission denied: run as the sealdrop user or root")
	ErrNotRunning = errors.New("admin: sealdrop is not running (no admin socket)")
	ErrNotSocket  = errors.New("admin: the admin socket path exists and is not a socket; refusing to replace it")
	ErrInUse      = errors.New("admin: another process is serving this admin socket")
	ErrConfig     = errors.New("admin: invalid config")
	ErrProtocol   = errors.New("admin: unexpected reply from the admin socket")
)
