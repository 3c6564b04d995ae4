package web

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Page templates, each rendered once at New. The pages are the same for every id: they never
// touch the vault, so a preview bot learns nothing and burns nothing.
const (
	pageCreate = "create.html"
	pageOpen   = "open.html"
	pageManage = "manage.html"
	pageError  = "error.html"

	// The drop pages (drop_routes.go), served when a drop server is configured.
	pageDrop       = "drop.html"
	pageDropSubmit = "dropsubmit.html"
	pageInbox      = "inbox.html"
)

// optionalPages are rendered when their template exists, so a test's template set may leave
// them out; the embedded set has them all.
var optionalPages = []string{pageDrop, pageDropSubmit, pageInbox}

func isPage(name string) bool {
	switch name {
	case pageCreate, pageOpen, pageManage, pageError, pageDrop, pageDropSubmit, pageInbox:
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

// Limits is what the pages may show before the script asks /api/v1/limits.
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
}

// FeaturedDrop is a drop listed on the front page: a name and its drop link (path and
// fragment, or a whole URL), both checked when the list was read (drop.ParseFeatured).
type FeaturedDrop struct {
	Name string
	Link string
}

// renderPages executes each page template once. A missing template is an error naming it.
func renderPages(tfs fs.FS, files map[string]*staticFile, data pageData) (map[string][]byte, error) {
	funcs := template.FuncMap{
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
	}
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
			if isPage(other) || other == pageChat {
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

// servePage answers a page rendered at start.
func (s *server) servePage(name string) http.HandlerFunc {
	body := s.pages[name]
	return func(w http.ResponseWriter, r *http.Request) {
		s.writeHTML(w, http.StatusOK, body)
	}
}

// serveStatic answers a file of the explicit list, or the uniform error page. No directory
// is ever listed and no path is ever resolved on a file system.
func (s *server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/static/")
	f := s.static[name]
	if !ok || f == nil {
		s.notFoundPage(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.body)
}
