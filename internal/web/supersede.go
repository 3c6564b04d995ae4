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

const (
	supersedeTries = 40                    // tries after the first "busy"
	supersedeWait  = 50 * time.Millisecond // between tries: two seconds in all
)

// runningAppends are the connections of the appends in progress, per entry.
type runningAppends struct {
	mu sync.Mutex
	m  map[vault.ID][]net.Conn
}

func (a *runningAppends) add(id vault.ID, c net.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = make(map[vault.ID][]net.Conn)
	}
	a.m[id] = append(a.m[id], c)
}

func (a *runningAppends) remove(id vault.ID, c net.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cs := a.m[id]
	for i, x := range cs {
		if x == c {
			cs = append(cs[:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(a.m, id)
	} else {
		a.m[id] = cs
	}
}

// cut ends the reads of every append to id except self's.
func (a *runningAppends) cut(id vault.ID, self net.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.m[id] {
		if c != self {
			_ = c.SetReadDeadline(time.Now())
		}
	}
}

// appendSuperseding is the vault's Append, except that an append that finds another one
// running on the same entry cuts that one off and retries, for up to two seconds. Without a
// connection (no hijack) it is Append.
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
	s.appends.add(id, conn)
	defer s.appends.remove(id, conn)
	for try := 0; ; try++ {
		received, err := appendOnce()
		if !errors.Is(err, vault.ErrBusy) || try == supersedeTries {
			return received, err
		}
		s.appends.cut(id, conn)
		time.Sleep(supersedeWait)
	}
}
