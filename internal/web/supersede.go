package web

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sealdrop/sealdrop/vault"
)

// A Tor circuit that dies in the middle of an append often leaves the server's end of the
// stream open: the server keeps waiting for the rest of the body until its read timeout (two
// minutes), and the vault answers every other append to that entry "busy" meanwhile. The
// client's retry, on a new circuit, would be refused until then and the upload would fail. So
// an append that finds the entry busy cuts the connection of the append still running (its
// read ends at once, keeping what it received) and tries again. Only the holder of the
// manage secret gets as far as "busy", so nobody else can cut an upload.
//
// Pipelined pieces (issue 17): every ciphertext request closes its connection, and over Tor a
// new connection is a new stream, one more round trip. So a client sends the next piece of a
// large upload on a new connection while the piece before it is still arriving, and the
// stream's setup hides behind that transfer. A piece whose offset is exactly where a running
// append to the same entry ends (its offset plus its Content-Length) is its successor, not a
// retry: it waits, without reading a byte of its body, until the running one ends, then goes
// on when the entry holds its offset, and is answered 409 "offset" with what the entry holds
// when not (the running piece broke off). A piece at or before the running one's start is a
// retry after a dead circuit and cuts it, as before. A piece that arrives before its
// predecessor began (two streams race to the server) waits for it, a short while
// (pieceEarlyWait). Bounds: one waiting piece per entry (a second one for the same offset is a
// retry and replaces it; one for another offset is answered at once; a piece beyond the end of
// the running one, not next to it, is answered 409 and cuts nobody), a waiting piece holds no
// block of the vault and no byte of its body, and only the holder of the manage secret gets
// this far (the vault checks the secret before it says "busy" or "offset").

const (
	supersedeTries = 40                    // tries after the first "busy"
	supersedeWait  = 50 * time.Millisecond // between tries: two seconds in all
)

var (
	// pieceEarlyWait bounds how long a piece waits for the append it follows to begin (or,
	// on an upload route, for the entry to be made by the upload's first piece).
	pieceEarlyWait = 5 * time.Second
	// pieceFollowWait bounds how long a piece waits behind the running append it follows; that
	// one's own read deadline ends it sooner.
	pieceFollowWait = ReadTimeout
)

// runningAppends are the appends in progress, and the pieces waiting for them, per entry.
type runningAppends struct {
	mu sync.Mutex
	m  map[vault.ID]*appendLine
}

// appendLine is one entry's appends now running and its one waiting piece.
type appendLine struct {
	running []runningAppend
	waiter  net.Conn      // the piece waiting for its turn; nil: none
	waitOff int64         // the waiting piece's offset
	changed chan struct{} // closed and replaced at every change
	users   int           // appends and waiting pieces that use the line
}

// runningAppend is one append in the vault: its connection and the bytes it brings.
type runningAppend struct {
	conn        net.Conn
	offset, end int64
}

// lineOf returns id's line, made if need be, counted as used once more. Called with a.mu held.
func (a *runningAppends) lineOf(id vault.ID) *appendLine {
	if a.m == nil {
		a.m = make(map[vault.ID]*appendLine)
	}
	l := a.m[id]
	if l == nil {
		l = &appendLine{changed: make(chan struct{})}
		a.m[id] = l
	}
	l.users++
	return l
}

// release drops one use of id's line. Called with a.mu held.
func (a *runningAppends) release(id vault.ID, l *appendLine) {
	if l.users--; l.users == 0 {
		delete(a.m, id)
	}
}

// signal wakes every piece waiting on l. Called with a.mu held.
func (l *appendLine) signal() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// start records that conn appends [offset, end) to id.
func (a *runningAppends) start(id vault.ID, c net.Conn, offset, end int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.lineOf(id)
	l.running = append(l.running, runningAppend{conn: c, offset: offset, end: end})
	l.signal()
}

// stop records that conn's append to id ended.
func (a *runningAppends) stop(id vault.ID, c net.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.m[id]
	if l == nil {
		return
	}
	for i, x := range l.running {
		if x.conn == c {
			l.running = append(l.running[:i], l.running[i+1:]...)
			break
		}
	}
	l.signal()
	a.release(id, l)
}

// cut ends the reads of every append to id now running except self's.
func (a *runningAppends) cut(id vault.ID, self net.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.m[id]; l != nil {
		for _, x := range l.running {
			if x.conn != self {
				_ = x.conn.SetReadDeadline(time.Now())
			}
		}
	}
}

// predecessor returns the connection of a running append to id (not self's) that ends where
// a piece at offset begins, and whether there is one.
func (a *runningAppends) predecessor(id vault.ID, self net.Conn, offset int64) (net.Conn, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.m[id]; l != nil {
		for _, x := range l.running {
			if x.conn != self && x.end == offset && x.offset < offset {
				return x.conn, true
			}
		}
	}
	return nil, false
}

// ahead reports whether appends other than self's run on id and a piece at offset begins
// beyond the end of each of them.
func (a *runningAppends) ahead(id vault.ID, self net.Conn, offset int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.m[id]
	if l == nil {
		return false
	}
	others := false
	for _, x := range l.running {
		if x.conn != self {
			if offset < x.end {
				return false
			}
			others = true
		}
	}
	return others
}

// errNoTurn: the piece may not wait (another piece waits for another offset), or it waited
// and was replaced by a retry of itself, or its wait ran out.
var errNoTurn = errors.New("web: no turn to wait")

// await makes conn id's one waiting piece, at offset, until ready() holds (checked at every
// change of the line), the wait runs out, or a retry of the same piece replaces it.
func (a *runningAppends) await(id vault.ID, c net.Conn, offset int64, wait time.Duration, ready func() bool) error {
	a.mu.Lock()
	l := a.lineOf(id)
	switch {
	case l.waiter == nil:
	case l.waitOff == offset:
		// A retry of the waiting piece (its connection is likely dead): it takes the place,
		// and the one it replaces is answered "busy".
	default:
		a.release(id, l)
		a.mu.Unlock()
		return errNoTurn
	}
	l.waiter, l.waitOff = c, offset
	l.signal()
	defer func() {
		a.mu.Lock()
		if l.waiter == c {
			l.waiter = nil
		}
		a.release(id, l)
		a.mu.Unlock()
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		ch := l.changed
		kicked := l.waiter != c
		a.mu.Unlock()
		if kicked {
			return errNoTurn
		}
		if ready() {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return errNoTurn
		}
		a.mu.Lock()
	}
}

// renewer is a hijacked connection whose read and write deadlines start again (after a piece
// waited for its turn, so that its own body gets the whole read timeout).
type renewer interface{ renew() }

// appendSuperseding is the vault's Append, except that an append that finds another one
// running on the same entry cuts that one off and retries, for up to two seconds, and that a
// piece that follows the running one, or comes before the one it follows began, waits for
// its turn (above). Without a connection (no hijack) it is Append.
func (s *server) appendSuperseding(kind vault.Kind, owner *string, id vault.ID, manage []byte, offset, n int64, body io.Reader, conn net.Conn) (int64, error) {
	appendOnce := func() (int64, error) {
		if owner != nil {
			return s.v.AppendOwned(kind, *owner, id, manage, offset, n, body)
		}
		return s.v.Append(kind, id, manage, offset, n, body)
	}
	if conn == nil {
		return appendOnce()
	}
	early := time.Now().Add(pieceEarlyWait)
	followed := false // this piece waited for a predecessor, which has ended
	for try := 0; ; {
		s.appends.start(id, conn, offset, offset+n)
		received, err := appendOnce()
		s.appends.stop(id, conn)
		switch {
		case errors.Is(err, vault.ErrBusy) && followed:
			// The piece it followed ended and another append runs (a retry of that piece):
			// this one goes on from what the entry holds, as the client asks next.
			return received, vault.ErrOffset
		case errors.Is(err, vault.ErrBusy):
			if prev, ok := s.appends.predecessor(id, conn, offset); ok {
				// The successor of the running piece: wait for it to end.
				if werr := s.appends.await(id, conn, offset, pieceFollowWait, func() bool {
					_, still := s.appends.predecessor(id, conn, offset)
					return !still || !s.appends.running(id, prev)
				}); werr != nil {
					return received, vault.ErrBusy
				}
				followed = true
				renew(body)
				continue
			}
			if s.appends.ahead(id, conn, offset) {
				// Beyond the end of every running append, and not next to one: no retry of
				// it, and no turn to wait for. It cuts nobody.
				return received, vault.ErrOffset
			}
			if try == supersedeTries {
				return received, err
			}
			try++
			s.appends.cut(id, conn)
			time.Sleep(supersedeWait)
		case errors.Is(err, vault.ErrOffset) && offset > received && !followed && time.Now().Before(early):
			// Ahead of the entry: the piece before it may not have begun yet.
			if werr := s.appends.await(id, conn, offset, time.Until(early), func() bool {
				if _, ok := s.appends.predecessor(id, conn, offset); ok {
					return true
				}
				st, _, rcv, serr := s.v.StatusReceived(kind, id, manage)
				return serr != nil || st != vault.StatePending || rcv >= offset
			}); werr != nil {
				// Answer what the entry holds now, not what it held when this piece came: the
				// piece before it may have been stored meanwhile (the client goes on from the
				// number it is told, and a stale smaller one is below what it already knows).
				if _, _, rcv, serr := s.v.StatusReceived(kind, id, manage); serr == nil {
					received = rcv
				}
				return received, err
			}
			renew(body)
		default:
			return received, err
		}
	}
}

// running reports whether c is appending to id.
func (a *runningAppends) running(id vault.ID, c net.Conn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.m[id]; l != nil {
		for _, x := range l.running {
			if x.conn == c {
				return true
			}
		}
	}
	return false
}

// renew gives body, a hijacked connection, its read and write timeouts afresh.
func renew(body io.Reader) {
	if r, ok := body.(renewer); ok {
		r.renew()
	}
}
