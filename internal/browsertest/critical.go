package browsertest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Path is the critical path of one user action through the proxy: the longest chain of
// requests in which each starts only after the previous one's answer arrived. Over Tor each
// of them costs a round trip through the circuit, and each that had to wait for a new
// connection (a new stream) one more.
type Path struct {
	Requests int           // requests in sequence
	NewConns int           // of those, the ones that waited for a connection opened on the path
	Steps    []ProxyRecord // the chain, in order
	NewConn  []bool        // per step: it waited for a new connection
	All      int           // requests to the onion in the window, on the path or beside it
}

// Trips is what a person waits for over Tor: one round trip per request in sequence and one
// per new stream on the way.
func (p Path) Trips() int { return p.Requests + p.NewConns }

func (p Path) String() string {
	var parts []string
	for i, s := range p.Steps {
		u := s.URL
		if i := strings.Index(u, "/api/"); i >= 0 {
			u = u[i:]
		}
		mark := ""
		if p.NewConn[i] {
			mark = " (new connection)"
		}
		parts = append(parts, fmt.Sprintf("%s %s%s", s.Method, u, mark))
	}
	return fmt.Sprintf("%d requests in sequence, %d new connections, %d requests in all: %s",
		p.Requests, p.NewConns, p.All, strings.Join(parts, " -> "))
}

// CriticalPath finds, among recs (all the proxy's records, so that it can tell which request
// was the first on its connection), the critical path of an action that began at from and
// whose result the page showed at until: requests to the onion that arrived in [from, until).
// CONNECT is not a request here but the opening of a connection (over Tor, the SOCKS request
// that opens a stream), and refused requests never reached the app. A request waited for a
// new connection when it was the first on its connection and the proxy accepted that
// connection after the previous step's answer (for the first step, after from). Among chains
// of equal length the one with more new connections wins: what matters is the round trips.
func CriticalPath(recs []ProxyRecord, from, until time.Time) Path {
	first := map[uint64]time.Time{} // connection -> arrival of its first real request
	var win []ProxyRecord
	for _, r := range recs {
		if r.Refused || r.Method == http.MethodConnect {
			continue
		}
		if t, ok := first[r.Conn]; !ok || r.Time.Before(t) {
			first[r.Conn] = r.Time
		}
		if !r.Time.Before(from) && r.Time.Before(until) {
			win = append(win, r)
		}
	}
	sort.SliceStable(win, func(i, j int) bool { return win[i].Time.Before(win[j].Time) })
	isNew := func(r ProxyRecord, after time.Time) bool {
		return r.Conn != 0 && first[r.Conn].Equal(r.Time) && r.ConnOpened.After(after)
	}
	type best struct {
		reqs, conns, prev int
		fresh             bool // this step waited for a new connection
	}
	dp := make([]best, len(win))
	top := -1
	better := func(a, b best) bool {
		if a.reqs+a.conns != b.reqs+b.conns {
			return a.reqs+a.conns > b.reqs+b.conns
		}
		return a.reqs > b.reqs
	}
	for i, r := range win {
		b := best{reqs: 1, prev: -1}
		if isNew(r, from) {
			b.conns, b.fresh = 1, true
		}
		for j := 0; j < i; j++ {
			e := win[j].End
			if e.IsZero() || e.After(r.Time) {
				continue // still running when r started: beside it, not before it
			}
			c := best{reqs: dp[j].reqs + 1, conns: dp[j].conns, prev: j}
			if isNew(r, e) {
				c.conns++
				c.fresh = true
			}
			if better(c, b) {
				b = c
			}
		}
		dp[i] = b
		if top < 0 || better(b, dp[top]) {
			top = i
		}
	}
	p := Path{All: len(win)}
	if top < 0 {
		return p
	}
	p.Requests, p.NewConns = dp[top].reqs, dp[top].conns
	for i := top; i >= 0; i = dp[i].prev {
		p.Steps = append([]ProxyRecord{win[i]}, p.Steps...)
		p.NewConn = append([]bool{dp[i].fresh}, p.NewConn...)
	}
	return p
}
