//go:build prooftest

package web

import (
	"encoding/json"
	"net/http"
	"runtime"
	"runtime/debug"
)

// Routes for the process-level proofs in internal/proof, compiled only with -tags prooftest.
// A production build has none of them (internal/proof checks the default binary answers 404
// and carries no "__test" string).
func init() {
	testRoutes = func(s *server) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{
			// gc collects garbage and returns freed memory to the OS, after every pending wipe,
			// so that a memory scan sees only what is really still referenced or unreclaimed.
			"/__test/gc": func(w http.ResponseWriter, r *http.Request) {
				s.v.Settle()
				runtime.GC()
				debug.FreeOSMemory()
				b, _ := json.Marshal(map[string]int{"goroutines": runtime.NumGoroutine()})
				s.writeJSON(w, http.StatusOK, b)
			},
			// panic is a handler panic: the outer recover must answer the uniform 500 and
			// print nothing.
			"/__test/panic": func(http.ResponseWriter, *http.Request) {
				panic("prooftest zq7handlerpanic /work/secret.go goroutine")
			},
			// gopanic panics in a background goroutine that recovers the way every goroutine
			// of the server must (see internal/audit): nothing printed, the process goes on.
			"/__test/gopanic": func(w http.ResponseWriter, r *http.Request) {
				done := make(chan struct{})
				go func() {
					defer close(done)
					defer func() { _ = recover() }()
					panic("prooftest zq7gopanic /work/secret.go goroutine")
				}()
				<-done
				w.WriteHeader(http.StatusNoContent)
			},
		}
	}
}
