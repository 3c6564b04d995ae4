package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Routes of the admin API (HTTP/1.1 over the unix socket; the Host header is ignored).
const (
	pathStatus = "/v1/status" // GET: Status as JSON
	pathWipe   = "/v1/wipe"   // POST: wipe; ?exit=1: then exit
)

// Config wires the server to the process. All three functions are required.
type Config struct {
	// Status reports the current counters. The server rounds Uptime down to the minute.
	Status func() Status
	// Wipe zeroes every entry (a panic button, e.g. vault.Wipe). It returns when done.
	Wipe func()
	// Exit is called after a `wipe --exit` has wiped and its reply has been sent. It should
	// start the process's normal shutdown (which wipes again and exits 0, so that systemd's
	// Restart=on-failure leaves it down) and return promptly.
	Exit func()
}

// Server serves the admin API. Create it with New.
type Server struct {
	cfg  Config
	uid  uint32
	http *http.Server
	exit sync.Once
}

type credKey struct{}

// New validates cfg and returns a Server that accepts peers with this process's effective uid,
// or root.
func New(cfg Config) (*Server, error) {
	if cfg.Status == nil || cfg.Wipe == nil || cfg.Exit == nil {
		return nil, fmt.Errorf("%w: Status, Wipe and Exit are required", ErrConfig)
	}
	s := &Server{cfg: cfg, uid: uint32(os.Geteuid())}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathStatus, s.status)
	mux.HandleFunc("POST "+pathWipe, s.wipe)
	s.http = &http.Server{
		Handler:           s.guard(mux),
		ConnContext:       connContext,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// A wipe of a large vault zeroes hundreds of MiB before replying.
		WriteTimeout:   time.Minute,
		IdleTimeout:    30 * time.Second,
		MaxHeaderBytes: 4 << 10,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	return s, nil
}

// Serve answers on ln until Close; like http.Server.Serve it returns http.ErrServerClosed
// after Close. ln should come from Listen: peers that are not unix sockets are refused.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return http.ErrServerClosed
	}
	return fmt.Errorf("admin: serve: %w", err)
}

// Close stops the server and closes its listener (which, from Listen, removes the socket).
func (s *Server) Close() error { return s.http.Close() }

// Shutdown stops the server gracefully, letting a running wipe finish, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

// connContext records the peer's uid, read once per connection from SO_PEERCRED (the
// credentials the kernel captured at connect time).
func connContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return ctx
	}
	return context.WithValue(ctx, credKey{}, cred)
}

// peerAllowed is the whole access rule: the server's own uid, or root.
func peerAllowed(cred *unix.Ucred, self uint32) bool {
	return cred != nil && (cred.Uid == self || cred.Uid == 0)
}

func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, _ := r.Context().Value(credKey{}).(*unix.Ucred)
		if !peerAllowed(cred, s.uid) {
			reply(w, http.StatusForbidden, errorBody{ErrPermission.Error()})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type errorBody struct {
	Error string `json:"error"`
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	reply(w, http.StatusOK, s.cfg.Status().coarse())
}

type wipeReply struct {
	Wiped   bool `json:"wiped"`
	Exiting bool `json:"exiting"`
}

func (s *Server) wipe(w http.ResponseWriter, r *http.Request) {
	exit := false
	switch r.URL.Query().Get("exit") {
	case "", "0":
	case "1":
		exit = true
	default:
		reply(w, http.StatusBadRequest, errorBody{"admin: exit must be 0 or 1"})
		return
	}
	s.cfg.Wipe()
	reply(w, http.StatusOK, wipeReply{Wiped: true, Exiting: exit})
	if exit {
		// The reply must reach the operator before the process goes away.
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		s.exit.Do(func() { go s.cfg.Exit() })
	}
}
