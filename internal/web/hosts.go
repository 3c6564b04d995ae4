package web

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// Hosts is the allow-list of names the site answers for in the Host header, against DNS
// rebinding: a page of another site whose name an attacker points at 127.0.0.1 is, to the
// browser, of that other origin, so it may read what a loopback development server answers
// it, and it sends the attacker's name as Host. A request for a name not on the list gets
// 421 and reaches no handler. serve fills it: the onion address once it is known, the listen
// address and localhost for a TCP listener, and the operator's --host names (SECURITY.md,
// "Host names").
//
// The zero value, and a list never Set, allow every name: a unix socket that only tor (or
// the operator's frontend) reaches, before the onion address is known. Names are compared
// without a port, without a final dot and case-insensitively.
type Hosts struct {
	names atomic.Pointer[map[string]bool]
}

// Set makes names the whole list (replacing what was set before); from then on only they are
// answered.
func (h *Hosts) Set(names ...string) {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		if n = hostName(n); n != "" {
			m[n] = true
		}
	}
	h.names.Store(&m)
}

// Allows reports whether a request with this Host header is answered.
func (h *Hosts) Allows(host string) bool {
	if h == nil {
		return true
	}
	m := h.names.Load()
	if m == nil {
		return true
	}
	n := hostName(host)
	return n != "" && (*m)[n]
}

// hostName is the name of a Host header or a listen address: lower case, without a port,
// brackets or a final dot.
func hostName(h string) string {
	if name, _, err := net.SplitHostPort(h); err == nil {
		h = name
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// misdirectedBody is the answer to a request for a name not on the list.
var misdirectedBody = []byte("421 misdirected request: this server does not answer for that host name " +
	"(an operator adds a name with serve --host)\n")

// refuseHost answers a request whose Host is not on the list; nothing else of it is read.
func refuseHost(w http.ResponseWriter) {
	resetHeaders(w.Header())
	w.Header().Set("Connection", "close")
	writeBody(w, http.StatusMisdirectedRequest, "text/plain; charset=utf-8", misdirectedBody)
}
