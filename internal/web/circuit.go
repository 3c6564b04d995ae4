package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sealdrop/sealdrop/internal/circuit"
)

// circuitAllows spends one create of the Tor circuit the request came over (package circuit:
// managed mode, or listen mode with --circuit-ids) and answers 429 "busy" when that circuit
// has created too much lately. The create routes call it before anything is priced or
// stored. A request without a circuit id always passes.
func (s *server) circuitAllows(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := circuit.Allow(r.Context())
	if ok {
		return true
	}
	w.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	s.writeError(w, http.StatusTooManyRequests, "busy",
		"this connection has made many new notes, chats or drop submissions in a short time; wait a minute and try again")
	return false
}
