package web

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/static"
	"github.com/sealdrop/sealdrop/templates"
	"github.com/sealdrop/sealdrop/vault"
)

// server holds what New prepared once: configuration, rendered pages, static files and the
// fixed answers.
type server struct {
	cfg          Config
	v            *vault.Vault
	pages        map[string]page // rendered once (pages.go)
	errorPage    []byte
	tor2webPage  []byte
	static       map[string]*staticFile
	goneBody     []byte
	internalBody []byte
	ttls         map[int64]bool
	lim          Limits
	ttlMessage   string
	appends      runningAppends
	price        *price.Pricer
	idKey        [32]byte     // derives the id of an upload's note or drop submission (note_upload.go, drop_upload.go)
	safest       *safestWork  // messages at Safest (safest.go); nil when off
	safestPages  *safestPages // their pages
}

// New validates cfg and returns the handler for the whole site: API v1, pages and static
// files, wrapped in the security headers and the outermost recover.
func New(cfg Config) (http.Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, v: cfg.Vault, ttls: map[int64]bool{}, price: cfg.Price}
	if _, err := rand.Read(s.idKey[:]); err != nil {
		return nil, err
	}
	var secs []string
	lim := Limits{
		MaxEntry:   cfg.Vault.MaxEntry(),
		MaxAppend:  cfg.MaxAppend,
		MaxTTL:     int64(cfg.MaxTTL / time.Second),
		DefaultTTL: int64(cfg.DefaultTTL / time.Second),
	}
	for _, t := range cfg.TTLChoices {
		sec := int64(t / time.Second)
		s.ttls[sec] = true
		lim.TTLs = append(lim.TTLs, sec)
		secs = append(secs, strconv.FormatInt(sec, 10))
	}
	s.ttlMessage = "ttl must be one of " + strings.Join(secs, ", ") + " seconds"
	s.lim = lim

	sfs, tfs := cfg.static, cfg.templates
	if sfs == nil {
		sfs = static.FS
	}
	if tfs == nil {
		tfs = templates.FS
	}
	if s.static, err = loadStatic(sfs); err != nil {
		return nil, err
	}
	rendered, err := renderPages(tfs, s.static, pageData{Limits: lim, Featured: cfg.FeaturedDrops, Safest: cfg.Drops != nil && cfg.SafestMaxBody > 0})
	if err != nil {
		return nil, err
	}
	s.pages = map[string]page{}
	for name, b := range rendered {
		if s.pages[name], err = newPage(b); err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
	}
	// The error pages are written whole, by many routes: they read no limits.
	for _, name := range []string{pageError, pageTor2web} {
		if s.pages[name].limits {
			return nil, fmt.Errorf("web: template %s: an error page may not read the limits", name)
		}
	}
	s.errorPage = s.pages[pageError].before
	if s.tor2webPage = s.pages[pageTor2web].before; s.tor2webPage == nil {
		s.tor2webPage = s.errorPage // a test's template set without it
	}
	s.goneBody = api.Gone.Body("")
	s.internalBody = api.Internal.Body("the server could not answer this request")

	cop := http.NewCrossOriginProtection()
	// The refusals made before a route takes the connection over close a connection whose
	// request carries a body, unread (refuseTaken, hijack.go).
	deny := s.taken(func(w http.ResponseWriter, r *http.Request) {
		s.refuse(w, api.CrossOrigin, "cross-origin requests are refused")
	})
	cop.SetDenyHandler(deny)
	post := func(h http.HandlerFunc) http.Handler { return cop.Handler(h) }

	// No path cleaning: a cleaned path would answer a redirect, one more kind of reply, and
	// "/api/v1/notes/./open" is simply a malformed id.
	m := mux.NewRouter().SkipClean(true)
	m.NotFoundHandler = s.taken(s.notFound)
	m.MethodNotAllowedHandler = s.taken(s.methodNotAllowed)
	m.Handle(api.Limits, http.HandlerFunc(s.limits)).Methods(http.MethodGet, http.MethodHead)
	notes := &notesRouter{cop: cop, deny: deny, create: post(s.create), upload: post(s.upload), next: m, actions: map[string]idHandler{
		api.NoteData: s.appendData(vault.KindNote, nil), api.NoteCommit: s.commit, api.NoteOpen: s.open,
		api.NoteConfirm: s.confirm, api.NoteStatus: s.status, api.NoteRevoke: s.revoke,
	}}
	m.Handle(api.Notes, notes.create).Methods(http.MethodPost)
	m.Handle(api.NoteUpload, notes.upload).Methods(http.MethodPost)
	for a, h := range notes.actions { // disjoint patterns: their order does not matter
		m.Handle(api.NotePath("{id}", a), post(byID(h))).Methods(http.MethodPost)
	}
	m.Handle("/", s.servePage(pageCreate)).Methods(http.MethodGet, http.MethodHead)
	m.Handle(api.PageNote+"{id}", s.servePage(pageOpen)).Methods(http.MethodGet, http.MethodHead)
	m.Handle(api.PageManage+"{id}", s.servePage(pageManage)).Methods(http.MethodGet, http.MethodHead)
	m.PathPrefix("/static/").HandlerFunc(s.serveStatic).Methods(http.MethodGet, http.MethodHead)
	if err := s.mountChat(m, post); err != nil {
		return nil, err
	}
	if err := s.mountSafest(m, post, tfs); err != nil {
		return nil, err
	}
	s.mountDrops(m, post)
	if err := s.mountRoom(m, post); err != nil {
		return nil, err
	}
	for p, h := range cfg.extra {
		m.Handle(p, h)
	}
	if testRoutes != nil { // prooftest builds only (prooftest.go)
		for p, h := range testRoutes(s) {
			m.Handle(p, h)
		}
	}
	if cfg.routed != nil {
		cfg.routed(m)
	}
	if cfg.muxOnly {
		return s.wrap(m), nil
	}
	return s.wrap(notes), nil
}

// testRoutes is nil except in binaries built with -tags prooftest, where it adds the routes
// the process-level proofs (internal/proof) need. Production builds have no such route.
var testRoutes func(s *server) map[string]http.HandlerFunc

// isAPI reports whether r is for the API, whose errors are JSON rather than the error page.
func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

// refuse answers the refusal r with message; the gone answer is always the one of gone.
func (s *server) refuse(w http.ResponseWriter, r api.Refusal, message string) {
	if r == api.Gone {
		s.gone(w)
		return
	}
	s.writeJSON(w, r.Status, r.Body(message))
}

// gone is the one answer for every absent state, byte for byte.
func (s *server) gone(w http.ResponseWriter) {
	resetHeaders(w.Header())
	s.writeJSON(w, http.StatusNotFound, s.goneBody)
}

func (s *server) notFoundPage(w http.ResponseWriter, r *http.Request) {
	resetHeaders(w.Header())
	s.writeHTML(w, http.StatusNotFound, s.errorPage)
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		s.gone(w)
		return
	}
	s.notFoundPage(w, r)
}

func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if isAPI(r) {
		s.refuse(w, api.Method, "this method is not allowed here")
		return
	}
	s.writeHTML(w, http.StatusMethodNotAllowed, s.errorPage)
}

func (s *server) marshal(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.writeJSON(w, http.StatusInternalServerError, s.internalBody)
		return
	}
	s.writeJSON(w, status, b)
}

func (s *server) expiresIn(t time.Time) int64 {
	d := t.Sub(s.cfg.Now())
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// floorPow2 coarsens the free space so limits does not reveal exact usage.
func floorPow2(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return 1 << (bits.Len64(uint64(n)) - 1)
}

// limitsNow is the limits answer of this instant: GET /api/v1/limits, and what a page whose
// script reads the limits carries in its head (writePage).
func (s *server) limitsNow() api.LimitsAnswer {
	lim := s.lim
	return api.LimitsAnswer{Version: api.Version, MaxEntry: lim.MaxEntry, MaxAppend: lim.MaxAppend, Free: floorPow2(s.v.Stats().Free),
		TTLs: lim.TTLs, DefaultTTL: lim.DefaultTTL, MaxTTL: lim.MaxTTL, Price: s.priceNow(), Drop: s.dropLimits()}
}

func (s *server) limits(w http.ResponseWriter, r *http.Request) {
	s.marshal(w, http.StatusOK, s.limitsNow())
}

// readJSON checks the content type and decodes a small JSON body, answering the error itself.
func (s *server) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if !hasMediaType(r, api.JSON) {
		s.refuse(w, api.ContentType, "send Content-Type: application/json")
		return false
	}
	switch err := decodeJSON(r.Body, r.ContentLength, v); err {
	case nil:
		return true
	case errBodyLarge:
		w.Header().Set("Connection", "close")
		s.refuse(w, api.TooLarge, "the request body is too large")
	default:
		s.refuse(w, api.BadRequest, "the request body is not the expected JSON object")
	}
	return false
}

func (s *server) badParam(w http.ResponseWriter, name string) {
	s.refuse(w, api.BadParameter, name+" is missing or malformed")
}
