package web

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Page templates, each rendered once at New. The pages are the same for every id: they never
// touch an entry, so a preview bot learns nothing and burns nothing. A page whose script reads
// the limits carries the limits answer of the instant it is served (page, writePage): what
// GET /api/v1/limits says to anyone then, so that the script spends no request on it at load.
const (
	pageCreate = "create.html"
	pageOpen   = "open.html"
	pageManage = "manage.html"
	pageError  = "error.html"
	// pageTor2web answers requests relayed by a Tor2web gateway (headers.go).
	pageTor2web = "tor2web.html"

	// The drop pages (drop_routes.go), served when a drop server is configured.
	pageDrop       = "drop.html"
	pageDropSubmit = "dropsubmit.html"
	pageInbox      = "inbox.html"
	pageReply      = "reply.html" // the source's reply box: read the one reply, once

	// The one-time chat page (chat_routes.go), served when a chat server is configured.
	pageChat = "chat.html"

	// The group room page (room_routes.go), served when a room server is configured.
	pageRoom = "room.html"
)

// optionalPages are rendered when their template exists, so a test's template set may leave
// them out; the embedded set has them all.
var optionalPages = []string{pageDrop, pageDropSubmit, pageInbox, pageReply, pageChat, pageRoom, pageTor2web}

func isPage(name string) bool {
	switch name {
	case pageCreate, pageOpen, pageManage, pageError, pageTor2web, pageDrop, pageDropSubmit, pageInbox, pageReply, pageChat, pageRoom:
		return true
	}
	return false
}

// staticFile is one served file, read once at New.
type staticFile struct {
	body        []byte
	contentType string
	sri         string
}

// contentTypes lists the only extensions served under /static/; nothing else is.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// loadStatic reads every .js and .css file of fsys into memory, keyed by its path inside
// fsys ("js/create.js"). The map is the explicit list of what /static/ serves.
func loadStatic(fsys fs.FS) (map[string]*staticFile, error) {
	files := map[string]*staticFile{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if d.IsDir() || !ok {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha512.Sum384(b)
		files[p] = &staticFile{body: b, contentType: ct, sri: "sha384-" + base64.StdEncoding.EncodeToString(sum[:])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	return files, nil
}

// limitsModule is the module that reads the limits a page carries: a page whose scripts
// import it, directly or not, gets the limits meta in its head (templates/layout.html).
const limitsModule = "js/limits.js"

// limitsMarker is the content of the limits meta as rendered: each answer writes the limits of
// its instant in its place (writePage). Letters and hyphens only, so that html/template writes
// it as it is; a rendered page holds it once or not at all (newPage).
const limitsMarker = "sealdrop-limits-of-this-answer"

// page is one rendered page. A page that carries the limits is kept in the two parts around
// the marker, so that rendering stays a cost paid once at New and an answer only adds the
// limits; any other page is before alone.
type page struct {
	before, after []byte
	limits        bool
}

// newPage splits a rendered page at the limits marker, if it has one.
func newPage(b []byte) (page, error) {
	switch bytes.Count(b, []byte(limitsMarker)) {
	case 0:
		return page{before: b}, nil
	case 1:
		i := bytes.Index(b, []byte(limitsMarker))
		return page{before: b[:i], after: b[i+len(limitsMarker):], limits: true}, nil
	}
	return page{}, errors.New("the limits marker is there more than once")
}

// rendered is the page as rendered, marker included: what a variant is cut from (safest.go).
func (p page) rendered() []byte {
	if !p.limits {
		return p.before
	}
	return slices.Concat(p.before, []byte(limitsMarker), p.after)
}

// Limits is what the page templates get at New (they may show it without the script).
type Limits struct {
	MaxEntry   int64
	MaxAppend  int64
	MaxTTL     int64   // seconds
	DefaultTTL int64   // seconds
	TTLs       []int64 // seconds
}

// pageData is the data every template gets.
type pageData struct {
	Limits   Limits
	Featured []FeaturedDrop // the front page's "Contact …" links
	Safest   bool           // drops may take messages at Safest (Config.SafestMaxBody, safest.go)
}

// FeaturedDrop is a drop listed on the front page: a name and its drop link (path and
// fragment, or a whole URL), both checked when the list was read (drop.ParseFeatured).
type FeaturedDrop struct {
	Name string
	Link string
}

// pageHead is what the shared head (templates/layout.html, {{define "head"}}) needs of a
// page: its title, its entry module ("" for a page without script) and its "Safest" panel.
type pageHead struct {
	Title any // a text of the catalog
	Entry string
	Panel *noscriptPanel // for a page with a script: what it says where scripts do not run
}

// pageFoot is what the shared end of a page (templates/layout.html, {{define "foot"}}) needs:
// the footer's text (none when empty) and the footer's classes besides "bottom".
type pageFoot struct {
	Text    any
	Classes []string
}

// composeFields labels the message and files fields of a page that sends (templates/layout.html,
// {{define "compose"}}).
type composeFields struct {
	Label, Hint any
}

// noscriptPanel is what the panel shown at Tor Browser's "Safest" level says on one page
// (templates/layout.html, {{define "noscript"}}): why the page needs JavaScript, the steps to
// take, and what did not happen. Each is a text of the catalog.
type noscriptPanel struct {
	Why, Calm any
	Steps     []any
}

// renderPages executes each page template once. A missing template is an error naming it.
// Every page shares the partials (any *.html that is not a page), among them the head. A page
// whose script reads the limits holds limitsMarker where each answer puts them (newPage).
func renderPages(tfs fs.FS, files map[string]*staticFile, data pageData) (map[string][]byte, error) {
	texts, err := loadCatalog(files)
	if err != nil {
		return nil, err
	}
	funcs := pageFuncs(files, texts)
	// Partials (any other *.html) are parsed with each page so pages may share a layout.
	all, err := fs.Glob(tfs, "*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	pages := map[string][]byte{}
	names := []string{pageCreate, pageOpen, pageManage, pageError}
	for _, name := range optionalPages {
		if _, err := fs.Stat(tfs, name); err == nil {
			names = append(names, name)
		}
	}
	for _, name := range names {
		if _, err := fs.Stat(tfs, name); err != nil {
			return nil, fmt.Errorf("web: template %s is missing: %w", name, err)
		}
		set := template.New(name).Funcs(funcs)
		for _, other := range all {
			if isPage(other) {
				continue
			}
			if _, err := set.ParseFS(tfs, other); err != nil {
				return nil, fmt.Errorf("web: template %s: %w", other, err)
			}
		}
		if _, err := set.ParseFS(tfs, name); err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := set.ExecuteTemplate(&buf, name, data); err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		pages[name] = buf.Bytes()
	}
	return pages, nil
}

// importRE finds the module specifiers of a script's static imports (import … from '…',
// import '…', export … from '…', each at the start of a line, so that comments are not read)
// and of dynamic ones (import('…')).
var importRE = regexp.MustCompile(`(?m)^[ \t]*(?:import[ \t\n]*(?:[^;'"()]*?[ \t\n}*]from[ \t\n]*)?|export[^;'"()]*?[ \t\n}*]from[ \t\n]*)['"]([^'"]+)['"]|\bimport[ \t\n]*\([ \t\n]*['"]([^'"]+)['"]`)

// moduleGraph returns, sorted, every static file the module entry imports, directly or through
// others. An import that is not a relative path to a served file is an error: the page could
// not pin it.
func moduleGraph(files map[string]*staticFile, entry string) ([]string, error) {
	if _, ok := files[entry]; !ok {
		return nil, fmt.Errorf("no static file %q", entry)
	}
	seen := map[string]bool{entry: true}
	queue := []string{entry}
	var out []string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, m := range importRE.FindAllStringSubmatch(string(files[p].body), -1) {
			spec := m[1] + m[2]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				return nil, fmt.Errorf("%s imports %q, which is not a relative path", p, spec)
			}
			dep := path.Join(path.Dir(p), spec)
			if _, ok := files[dep]; !ok {
				return nil, fmt.Errorf("%s imports %q, which is not a static file", p, spec)
			}
			if !seen[dep] {
				seen[dep] = true
				out = append(out, dep)
				queue = append(queue, dep)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// servePage answers a page rendered at start (with the limits of now, when it carries them).
func (s *server) servePage(name string) http.HandlerFunc {
	p := s.pages[name]
	return func(w http.ResponseWriter, r *http.Request) {
		s.writePage(w, http.StatusOK, p)
	}
}

// writePage answers p. A page that carries the limits gets the limits answer of this instant,
// byte for byte what GET /api/v1/limits would answer now, escaped for the meta's content
// attribute. Nothing of the request is read. The answer is no-store and carries no ETag or
// Last-Modified (headers.go), so that no cache hands out an old token.
func (s *server) writePage(w http.ResponseWriter, status int, p page) {
	if !p.limits {
		s.writeHTML(w, status, p.before)
		return
	}
	b, err := json.Marshal(s.limitsNow())
	if err != nil {
		s.writeHTML(w, http.StatusInternalServerError, s.errorPage)
		return
	}
	writeLimitsPage(w, status, p, b)
}

// writeLimitsPage answers p with the limits answer b in the limits meta's content attribute.
func writeLimitsPage(w http.ResponseWriter, status int, p page, b []byte) {
	esc := html.EscapeString(string(b))
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(p.before)+len(esc)+len(p.after)))
	w.WriteHeader(status)
	_, _ = w.Write(p.before)
	_, _ = io.WriteString(w, esc)
	_, _ = w.Write(p.after)
}

// serveStatic answers a file of the explicit list, or the uniform error page. No directory
// is ever listed and no path is ever resolved on a file system.
func (s *server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/static/")
	f := s.static[name]
	if !ok || f == nil {
		s.taken(s.notFoundPage)(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.body)
}

// pageFuncs are the functions every template may call (layout.html says how).
func pageFuncs(files map[string]*staticFile, texts catalog) template.FuncMap {
	return template.FuncMap{
		// t is every text a page shows: {{t "key"}}, or {{t "key" "name" value}} to fill {name}.
		"t": texts.t,
		"asset": func(name string) (string, error) {
			if _, ok := files[name]; !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return "/static/" + name, nil
		},
		"sri": func(name string) (string, error) {
			f, ok := files[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return f.sri, nil
		},
		// page gives the head its title and entry module.
		"page": func(title any, entry string, panel ...noscriptPanel) (pageHead, error) {
			h := pageHead{Title: title, Entry: entry}
			switch {
			case len(panel) > 1:
				return h, errors.New("page: one panel at most")
			case len(panel) == 1:
				h.Panel = &panel[0]
			}
			return h, nil
		},
		"foot":    func(text any, classes ...string) pageFoot { return pageFoot{Text: text, Classes: classes} },
		"compose": func(label, hint any) composeFields { return composeFields{Label: label, Hint: hint} },
		// noscript gives the "Safest" panel its texts: why, what did not happen, the steps.
		"noscript": func(why, calm any, steps ...any) noscriptPanel {
			return noscriptPanel{Why: why, Calm: calm, Steps: steps}
		},
		// modules lists every module the entry imports, directly or not, so the head pins
		// each with a modulepreload and its integrity.
		"modules": func(entry string) ([]string, error) { return moduleGraph(files, entry) },
		// readsLimits: the entry imports limitsModule, directly or not, so the page carries
		// the limits (limitsHere in its meta's content).
		"readsLimits": func(entry string) (bool, error) {
			deps, err := moduleGraph(files, entry)
			return slices.Contains(deps, limitsModule), err
		},
		"limitsHere": func() string { return limitsMarker },
	}
}
