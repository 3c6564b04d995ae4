package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/awnumar/memguard"
	"github.com/gorilla/mux"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/clean"
	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/formdata"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// Messages to a drop at Tor Browser's "Safest" level (SECURITY.md, "Messages at Safest").
//
// A drop whose journalist opted in (protocol.DropFlagSafest, bound into the route) has a link
// /d/ROUTE?s=KEYS#FRAGMENT. Opened at Safest, its page shows a plain form instead of the
// "lower the security level" panel, and the form posts to the page's own address, query
// included. The server then:
//
//  1. takes the connection from net/http before a byte of the body is read (hijack.go), so
//     the body never passes through net/http's pooled buffers;
//  2. reads the whole body (bounded by Config.SafestMaxBody) into one locked workspace,
//     allocated once at New (memguard fails by destroying every locked buffer in the process
//     and panicking, so it is never asked for memory per request), and zeroes net/http's
//     connection buffer, which held the body's first bytes;
//  3. parses the form where it lies (internal/formdata), cleans each file where it lies
//     (internal/clean: JPEG, PNG and plain text, everything else refused), writes the
//     plaintext (manifest, files, padding) and seals it to the drop's key E from the query
//     (protocol.SealSubmissionTo), all inside the workspace;
//  4. zeroes everything but the sealed submission, stores that in the vault as the drop's
//     clients do (Submit, append, commit), zeroes the workspace, and only then answers one
//     page and closes the connection.
//
// One message is handled at a time (the workspace is one); another at the same moment gets
// the "busy" page. The plaintext is in the server's memory from the first byte read to the
// zeroing in step 4: that is the trade the page states before anything is typed.

// safestWork is the locked workspace of Safest messages.
type safestWork struct {
	mu      sync.Mutex
	buf     *memguard.LockedBuffer
	maxBody int
	// Regions of buf: the body, the filter's scratch, the plaintext, the sealed submission.
	body, scratch, plain, sealed []byte
}

// safestPlainMax is the largest plaintext for a body of n bytes: the text may grow when
// escaped into the manifest (at most 6 times, \u00XX), the files do not grow but for what the
// filter rewrites, and Padmé adds at most an eighth or so.
func safestPlainMax(n int) int { return 2*n + 64<<10 }

// safestSizes are the workspace's regions for bodies of at most n bytes.
func safestSizes(n int) []int {
	return []int{n, clean.ScratchFor(n), safestPlainMax(n), int(protocol.SealedSubmissionLen(int64(safestPlainMax(n))))}
}

// SafestWorkspace is how much memory Config.SafestMaxBody locks (0 for 0): callers that
// size the vault from RLIMIT_MEMLOCK leave it out.
func SafestWorkspace(maxBody int64) int64 {
	if maxBody <= 0 || maxBody > safestMaxMax {
		return 0
	}
	total := int64(0)
	for _, s := range safestSizes(int(maxBody)) {
		total += int64(s)
	}
	return total
}

// safestMaxMax is the largest SafestMaxBody.
const safestMaxMax = 256 << 20

func newSafestWork(maxBody int64) (w *safestWork, err error) {
	if maxBody <= 0 || maxBody > safestMaxMax {
		return nil, fmt.Errorf("%w: SafestMaxBody %d", ErrConfig, maxBody)
	}
	n := int(maxBody)
	sizes := safestSizes(n)
	total := int(SafestWorkspace(maxBody))
	defer func() {
		if p := recover(); p != nil {
			w, err = nil, fmt.Errorf("%w: locking the %d-byte workspace for messages at Safest failed (%v)", ErrConfig, total, p)
		}
	}()
	buf := memguard.NewBuffer(total)
	if buf.Size() != total {
		return nil, fmt.Errorf("%w: memguard returned no %d-byte workspace for messages at Safest", ErrConfig, total)
	}
	b := buf.Bytes()
	w = &safestWork{buf: buf, maxBody: n}
	regions := []*[]byte{&w.body, &w.scratch, &w.plain, &w.sealed}
	for i, s := range sizes {
		*regions[i] = b[:s:s]
		b = b[s:]
	}
	return w, nil
}

// wipe zeroes the whole workspace.
func (w *safestWork) wipe() { w.buf.Wipe() }

// Outcomes of a Safest message, each answered by its own page (rendered once at New).
const (
	safestSent     = "sent"
	safestSentText = "sent_text" // sent, and no file had hidden details to remove
	safestKind     = "kind"
	safestDamaged  = "damaged"
	safestEmpty    = "empty"
	safestTooLarge = "too_large"
	safestTooMany  = "too_many" // more files, or longer file names, than the form parser takes
	safestBusy     = "busy"
)

// safestPages are the rendered pages of the Safest path.
type safestPages struct {
	drop     page              // the drop page with the form as its noscript panel
	featured map[string]page   // the same, per featured drop's route, naming its listed name
	answers  map[string][]byte // by outcome
}

// sizeWords is a size in the units the pages use.
func sizeWords(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d KB", max(1, n>>10))
}

// renderSafest renders the form (spliced into the drop page in place of its noscript panel)
// and the answers.
func (s *server) renderSafest(tfs fs.FS, maxBody int64) (*safestPages, error) {
	texts, err := loadCatalog(s.static)
	if err != nil {
		return nil, err
	}
	set := template.New("safest").Funcs(pageFuncs(s.static, texts))
	all, err := fs.Glob(tfs, "*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range all {
		if !isPage(name) {
			if _, err := set.ParseFS(tfs, name); err != nil {
				return nil, fmt.Errorf("web: template %s: %w", name, err)
			}
		}
	}
	base := s.pages[pageDropSubmit].rendered()
	open, end := bytes.Index(base, []byte("<noscript>")), bytes.Index(base, []byte("</noscript>"))
	if open < 0 || end < open {
		return nil, errors.New("web: the drop page has no noscript panel to replace")
	}
	end += len("</noscript>")
	// The page's footer says the message is encrypted on the source's own device: true of the
	// script's page, not of the form. The Safest variant has none (the panel says what is true).
	tail := base[end:]
	if f0 := bytes.Index(tail, []byte(`<footer class="bottom`)); f0 >= 0 {
		if f1 := bytes.Index(tail[f0:], []byte("</footer>")); f1 >= 0 {
			cut := f0 + f1 + len("</footer>")
			if cut < len(tail) && tail[cut] == '\n' {
				cut++
			}
			tail = append(append([]byte{}, tail[:f0]...), tail[cut:]...)
		}
	}
	size := sizeWords(maxBody)
	// The variants keep the page's head, and with it the limits its script reads where
	// scripts run (writePage).
	panel := func(listed string) (page, error) {
		var b bytes.Buffer
		b.Write(base[:open])
		if err := set.ExecuteTemplate(&b, "safest-panel", map[string]any{"Listed": listed, "Size": size}); err != nil {
			return page{}, fmt.Errorf("web: template safest.html: %w", err)
		}
		b.Write(tail)
		p, err := newPage(b.Bytes())
		if err != nil {
			return page{}, fmt.Errorf("web: template safest.html: %w", err)
		}
		return p, nil
	}
	p := &safestPages{featured: map[string]page{}, answers: map[string][]byte{}}
	if p.drop, err = panel(""); err != nil {
		return nil, err
	}
	for _, f := range s.cfg.FeaturedDrops {
		u, err := url.Parse(f.Link)
		if err != nil {
			continue
		}
		route, ok := strings.CutPrefix(u.Path, api.PageDrop)
		if !ok {
			continue
		}
		if p.featured[route], err = panel(f.Name); err != nil {
			return nil, err
		}
	}
	for _, v := range []string{safestSent, safestSentText, safestKind, safestDamaged, safestEmpty, safestTooLarge, safestTooMany, safestBusy} {
		var b bytes.Buffer
		if err := set.ExecuteTemplate(&b, "safest-answer", map[string]any{"Variant": v, "Size": size}); err != nil {
			return nil, fmt.Errorf("web: template safest.html: %w", err)
		}
		p.answers[v] = b.Bytes()
	}
	return p, nil
}

// mountSafest adds the Safest routes: the drop page with its form, for a GET whose query
// carries the keys, and the form's POST. It runs before mountDrops, so that a GET without the
// query still finds the ordinary drop page.
func (s *server) mountSafest(m *mux.Router, post func(http.HandlerFunc) http.Handler, tfs fs.FS) error {
	if s.cfg.Drops == nil || s.cfg.SafestMaxBody == 0 {
		return nil
	}
	if _, ok := s.pages[pageDropSubmit]; !ok {
		return nil
	}
	var err error
	if s.safest, err = newSafestWork(s.cfg.SafestMaxBody); err != nil {
		return err
	}
	if s.safestPages, err = s.renderSafest(tfs, s.cfg.SafestMaxBody); err != nil {
		return err
	}
	path := api.PageDrop + "{route}"
	m.Handle(path, http.HandlerFunc(s.safestPage)).Methods(http.MethodGet, http.MethodHead).Queries(protocol.SafestParam, "{keys}")
	m.Handle(path, post(s.safestPost)).Methods(http.MethodPost)
	return nil
}

// safestPage is the drop page with the Safest form. Like every page it is the same for every
// drop (but a featured one, whose listed name the server knows anyway); the query is not even
// parsed here.
func (s *server) safestPage(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.safestPages.featured[mux.Vars(r)["route"]]; ok {
		s.writePage(w, http.StatusOK, p)
		return
	}
	s.writePage(w, http.StatusOK, s.safestPages.drop)
}

// safestPost receives a message from the Safest form.
func (s *server) safestPost(w http.ResponseWriter, r *http.Request) {
	// Take the connection before anything can read the body.
	h, ok := hijack(w, r, r.ContentLength)
	if !ok {
		s.writeHTML(w, http.StatusInternalServerError, s.errorPage)
		return
	}
	s.serveHijacked(h, false, func(w http.ResponseWriter) { s.safestReceive(w, r, h) })
}

func (s *server) safestAnswer(w http.ResponseWriter, status int, outcome string) {
	s.writeHTML(w, status, s.safestPages.answers[outcome])
}

func (s *server) safestReceive(w http.ResponseWriter, r *http.Request, h *hijacked) {
	q := r.URL.Query()
	route := mux.Vars(r)["route"]
	keys, ok := q[protocol.SafestParam]
	if !ok || len(keys) != 1 || len(q) != 1 {
		// The drop page posts nowhere at Safest without the query: a drop that did not opt
		// in, or a link without its keys. Its answer is the drop page, whose panel says how
		// to switch to "Safer".
		s.writePage(w, http.StatusForbidden, s.pages[pageDropSubmit])
		return
	}
	d, err := protocol.ParseSafestQuery(keys[0])
	if err != nil {
		if errors.Is(err, protocol.ErrNotSafest) {
			s.writePage(w, http.StatusForbidden, s.pages[pageDropSubmit])
			return
		}
		s.notFoundPage(w, r)
		return
	}
	rt, err := s.cfg.Drops.CheckRoute(route, d.Auth[:], int(d.Flags))
	if err != nil {
		s.notFoundPage(w, r)
		return
	}
	boundary, err := formdata.Boundary(r.Header.Get("Content-Type"))
	if err != nil {
		s.writeHTML(w, http.StatusUnsupportedMediaType, s.errorPage)
		return
	}
	switch n := r.ContentLength; {
	case n <= 0:
		s.writeHTML(w, http.StatusLengthRequired, s.errorPage)
		return
	case n > int64(s.safest.maxBody):
		s.safestAnswer(w, http.StatusRequestEntityTooLarge, safestTooLarge)
		return
	}
	if !s.circuitAllows(discardWriter{h: http.Header{}}, r) {
		s.safestAnswer(w, http.StatusTooManyRequests, safestBusy)
		return
	}
	// The one workspace is taken only once the body has begun to arrive, and kept only while
	// it keeps arriving (safestRead): a sender who declares a body and sends nothing, or a
	// trickle, cannot hold Safest shut for everyone (a hostile review held it 120 s with 200
	// bytes). The first bytes wait in the connection's read buffer, which is zeroed below.
	if _, err := h.peekBody(safestFirstByte); err != nil {
		s.safestAnswer(w, http.StatusRequestTimeout, safestBusy)
		return
	}
	if !s.safest.mu.TryLock() {
		s.safestAnswer(w, http.StatusServiceUnavailable, safestBusy)
		return
	}
	outcome, status := s.safestSealWiped(r, h, d, rt, boundary)
	s.safestAnswer(w, status, outcome)
}

// safestSealWiped is safestSeal holding the workspace, which it zeroes and gives back however
// safestSeal ends (a panic included: serveHijacked answers it).
func (s *server) safestSealWiped(r *http.Request, h *hijacked, d *protocol.DropPublic, rt drop.Route, boundary string) (string, int) {
	defer s.safest.mu.Unlock()
	defer s.safest.wipe()
	return s.safestSeal(r, h, d, rt, boundary)
}

// How a Safest body must arrive: its first bytes within safestFirstByte of the headers
// (before the workspace is taken), then each safestPiece within safestPieceWait, at least
// 12.8 KiB/s, which a Tor circuit beats many times over; the server's read timeout still
// bounds the whole.
const safestPiece = 64 << 10

// Variables for the tests (SetSafestWaits) only.
var (
	safestFirstByte = 10 * time.Second
	safestPieceWait = 5 * time.Second
)

// safestRead fills body from h, each piece within safestPieceWait.
func safestRead(h *hijacked, body []byte) error {
	end := time.Now().Add(h.read)
	for off := 0; off < len(body); {
		_ = h.conn.SetReadDeadline(minTime(end, time.Now().Add(safestPieceWait)))
		n, err := io.ReadFull(h, body[off:min(off+safestPiece, len(body))])
		off += n
		if err != nil {
			return err
		}
	}
	_ = h.conn.SetReadDeadline(end)
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// discardWriter swallows circuitAllows' JSON refusal, so that the Safest path answers its own
// page instead.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

// safestSeal reads, cleans, seals and stores one message; the caller zeroes the workspace.
func (s *server) safestSeal(r *http.Request, h *hijacked, d *protocol.DropPublic, rt drop.Route, boundary string) (string, int) {
	ws := s.safest
	n := int(r.ContentLength)
	body := ws.body[:n]
	err := safestRead(h, body)
	// The connection's read buffer held the body's first bytes: zero it now, not at the close.
	wipeReader(h.br)
	if err != nil {
		return safestBusy, http.StatusBadRequest
	}
	parts, err := formdata.Parse(body, boundary, formdata.DefaultLimits)
	if errors.Is(err, formdata.ErrLimits) {
		return safestTooMany, http.StatusRequestEntityTooLarge
	}
	if err != nil {
		return safestEmpty, http.StatusBadRequest
	}
	var text []byte
	var files [][]byte
	for _, p := range parts {
		switch {
		case p.Name == "text" && !p.IsFile && text == nil:
			text = p.Data
		case p.Name == "files" && p.IsFile:
			if len(p.Data) > 0 { // an empty file input sends an empty part
				files = append(files, p.Data)
			}
		default:
			return safestEmpty, http.StatusBadRequest
		}
	}
	text = crlfToLF(text)
	if len(text) == 0 && len(files) == 0 {
		return safestEmpty, http.StatusBadRequest
	}
	// Clean every file where it lies; new bytes go to the scratch region.
	sc := clean.NewScratch(ws.scratch)
	cleaned := make([]*clean.Result, len(files))
	meta := make([]protocol.File, len(files))
	for i, f := range files {
		res, err := clean.Clean(f, sc)
		var ref *clean.Refusal
		switch {
		case errors.As(err, &ref) && strings.Contains(ref.Why, "could not be checked"):
			return safestDamaged, http.StatusUnprocessableEntity
		case errors.As(err, &ref):
			return safestKind, http.StatusUnprocessableEntity
		case err != nil:
			return safestTooLarge, http.StatusRequestEntityTooLarge
		}
		cleaned[i] = res
		meta[i] = protocol.File{Name: neutralName(res.Kind, i+1), Type: safestTypes[res.Kind], Size: int64(res.Size())}
	}
	// The plaintext: u32 length ‖ manifest ‖ files ‖ zeros to Padmé, written into its region.
	m, err := protocol.ManifestJSONLen(text, meta)
	if err != nil {
		return safestEmpty, http.StatusBadRequest
	}
	unpadded := int64(4 + m)
	for _, f := range meta {
		unpadded += f.Size
	}
	padded := protocol.Padme(unpadded)
	if padded > int64(len(ws.plain)) {
		return safestTooLarge, http.StatusRequestEntityTooLarge
	}
	pt := ws.plain[:padded]
	protocol.PutPlaintextHead(pt, m)
	if _, err := protocol.AppendManifest(pt[4:4+m], text, meta); err != nil {
		return safestEmpty, http.StatusBadRequest
	}
	o := 4 + m
	for _, res := range cleaned {
		for _, piece := range res.Pieces {
			o += copy(pt[o:], piece)
		}
	}
	clear(pt[o:]) // Padmé's zeros (the region is zero already; this says so)
	sealedLen := protocol.SealedSubmissionLen(padded)
	sealed := ws.sealed[:sealedLen]
	if err := protocol.SealSubmissionTo(sealed, d, pt); err != nil {
		return safestBusy, http.StatusInternalServerError
	}
	// The plaintext is no longer needed: zero the body, the scratch and the plaintext before
	// the vault is even asked for room.
	clear(ws.body)
	clear(ws.scratch)
	clear(ws.plain)
	// Store it as a client would: a submission, its one append, its commit.
	var manage [32]byte
	if _, err := rand.Read(manage[:]); err != nil {
		return safestBusy, http.StatusInternalServerError
	}
	defer clear(manage[:])
	id, _, err := s.cfg.Drops.Submit(rt, drop.SubmitRequest{Length: sealedLen, Manage: sha256.Sum256(manage[:])})
	switch {
	case errors.Is(err, drop.ErrTooLarge):
		return safestTooLarge, http.StatusRequestEntityTooLarge
	case err != nil: // full, or a price is due (a page without script cannot pay it)
		return safestBusy, http.StatusServiceUnavailable
	}
	if _, err := s.v.AppendOwned(vault.KindSubmission, rt.String(), id, manage[:], 0, sealedLen, bytes.NewReader(sealed)); err != nil {
		return safestBusy, http.StatusServiceUnavailable
	}
	if _, err := s.cfg.Drops.Commit(rt, id, manage[:]); err != nil {
		return safestBusy, http.StatusServiceUnavailable
	}
	for _, res := range cleaned {
		if len(res.Removed) > 0 { // the page says hidden details were removed only when some were
			return safestSent, http.StatusOK
		}
	}
	return safestSentText, http.StatusOK
}

// crlfToLF turns the CRLF line ends browsers send a textarea's text with into LF, as the
// script's page sends it, in place.
func crlfToLF(b []byte) []byte {
	o := 0
	for i := 0; i < len(b); i++ {
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			continue
		}
		b[o] = b[i]
		o++
	}
	clear(b[o:])
	return b[:o]
}

// The neutral names and types of cleaned files (static/js/clean/index.js: neutralName, MIME).
var (
	safestTypes  = map[string]string{"jpeg": "image/jpeg", "png": "image/png", "text": "text/plain"}
	safestGroups = map[string]string{"jpeg": "photo", "png": "picture", "text": "text"}
	safestExts   = map[string]string{"jpeg": "jpg", "png": "png", "text": "txt"}
)

func neutralName(kind string, n int) string {
	return fmt.Sprintf("%s-%d.%s", safestGroups[kind], n, safestExts[kind])
}
