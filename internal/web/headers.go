package web

import (
	"net/http"
	"strconv"

	"github.com/sealdrop/sealdrop/internal/api"
)

// CSP is the Content-Security-Policy of every response except ciphertext: no inline code,
// nothing from another origin, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// securityHeaders is the header set of every response.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", CSP},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Cache-Control", "no-store"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
}

// securityValues holds each header's value as the one-element slice an http.Header maps it
// to, made once: every response shares them instead of allocating seven slices twice. Nothing
// writes into a header value in place (Set replaces the slice; Add appends to a slice whose
// capacity is one, which copies), so sharing them is safe.
var securityValues = func() [][]string {
	v := make([][]string, len(securityHeaders))
	for i, kv := range securityHeaders {
		v[i] = []string{kv[1]}
	}
	return v
}()

// resetHeaders replaces whatever a handler set with the security set alone. A nil Date
// entry tells net/http not to add one: the clock of an onion service is a fingerprint.
func resetHeaders(h http.Header) {
	clear(h)
	for i, kv := range securityHeaders {
		h[kv[0]] = securityValues[i]
	}
	h["Date"] = nil
}

// SetHeaders replaces h with the security header set every response carries (and suppresses
// Date). sealdrop bench's null server uses it so that both servers answer the same bytes.
func SetHeaders(h http.Header) { resetHeaders(h) }

// recorder notes whether the header has been sent, so recover knows whether it may still
// answer the uniform 500.
type recorder struct {
	http.ResponseWriter
	wrote bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		// Handlers set headers freely; these must survive whatever they did.
		h := r.ResponseWriter.Header()
		for i, kv := range securityHeaders {
			if kv[0] == "Content-Security-Policy" && h.Get(kv[0]) != "" {
				continue // ciphertext answers tighten it to "sandbox"
			}
			h[kv[0]] = securityValues[i]
		}
		h["Date"] = nil
		delete(h, "Server")
		delete(h, "Etag")
		delete(h, "Last-Modified")
	}
	r.wrote = true
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (write deadlines, flushing).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// wrap is the outermost layer: headers on every response (404 and 405 from the router
// included) and a recover that answers the uniform 500 and prints nothing. Its refusals, like
// every refusal made before a route takes the connection over, close a connection whose
// request carries a body (refuseTaken, hijack.go).
func (s *server) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		resetHeaders(w.Header())
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler || rec.wrote {
				// Too late for a clean answer: cut the connection. ErrAbortHandler is the
				// one panic value net/http does not report (and its ErrorLog is discarded).
				panic(http.ErrAbortHandler)
			}
			resetHeaders(w.Header())
			s.refuseTaken(rec, r, func(w http.ResponseWriter) {
				if isAPI(r) {
					s.writeJSON(w, http.StatusInternalServerError, s.internalBody)
				} else {
					s.writeHTML(w, http.StatusInternalServerError, s.errorPage)
				}
			})
		}()
		if !s.cfg.Hosts.Allows(r.Host) {
			s.refuseTaken(rec, r, refuseHost)
			return
		}
		if _, relayed := r.Header["X-Tor2web"]; relayed {
			s.taken(s.refuseTor2web)(rec, r)
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// refuseTor2web answers a request that a Tor2web gateway relayed (it adds X-Tor2web): such a
// gateway sees the visitor's address and every byte, and could change the pages' scripts, so
// nothing is served through it; the page tells the visitor to use Tor Browser, as SecureDrop
// does. Nothing else about the request is read.
func (s *server) refuseTor2web(w http.ResponseWriter, r *http.Request) {
	resetHeaders(w.Header())
	if isAPI(r) {
		s.refuse(w, api.Tor2web, "requests relayed by a Tor2web gateway are refused: use Tor Browser")
		return
	}
	s.writeHTML(w, api.Tor2web.Status, s.tor2webPage)
}

// writeBody sends a fixed body with an exact Content-Length.
func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *server) writeJSON(w http.ResponseWriter, status int, body []byte) {
	writeBody(w, status, "application/json", body)
}

func (s *server) writeHTML(w http.ResponseWriter, status int, body []byte) {
	writeBody(w, status, "text/html; charset=utf-8", body)
}
