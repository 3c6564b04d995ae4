package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"regexp"
	"strings"
)

// catalogFile is the catalog of the pages' texts, among the static files: the scripts import
// the same file (static/js/i18n.js), so the pages and the scripts have one source. It is a
// JavaScript module whose object is JSON (with whole-line comments).
const catalogFile = "i18n/en.js"

// message is one text of the catalog: a string, or plural forms (for the scripts only).
type message struct {
	text  string
	forms map[string]string
}

// catalog maps keys to texts.
type catalog map[string]message

// placeholderRE finds the {name} placeholders of a text.
var placeholderRE = regexp.MustCompile(`\{(\w+)\}`)

// parseCatalog reads a catalog module: the line "export default {", JSON entries, "};". A key given
// twice, a value that is neither a string nor an object of strings, or anything else after the
// object is an error.
func parseCatalog(src []byte) (catalog, error) {
	// The object starts at the line "export default {" (comments before it may quote it).
	const open = "export default {"
	i := bytes.Index(src, []byte("\n"+open+"\n"))
	if bytes.HasPrefix(src, []byte(open+"\n")) {
		i = -1
	} else if i < 0 {
		return nil, errors.New(`no line "export default {"`)
	}
	body := src[i+1+len(open)-1:]
	j := bytes.LastIndex(body, []byte("};"))
	if j < 0 || len(bytes.TrimSpace(body[j+2:])) != 0 {
		return nil, errors.New(`the object must end the file with "};"`)
	}
	body = body[:j+1]
	// Whole-line comments are the only non-JSON allowed inside.
	var js bytes.Buffer
	for _, line := range bytes.Split(body, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("//")) {
			continue
		}
		js.Write(line)
		js.WriteByte('\n')
	}
	dec := json.NewDecoder(&js)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("the catalog is not a JSON object")
	}
	c := catalog{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string)
		if _, dup := c[key]; dup {
			return nil, fmt.Errorf("key %q is given twice", key)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		var m message
		if err := json.Unmarshal(raw, &m.text); err != nil {
			if err := json.Unmarshal(raw, &m.forms); err != nil || len(m.forms) == 0 || m.forms["other"] == "" {
				return nil, fmt.Errorf("key %q: a text is a string or plural forms with \"other\"", key)
			}
		}
		c[key] = m
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("text after the catalog's object")
	}
	return c, nil
}

// loadCatalog parses the catalog among the static files; without one (a test's file set),
// every lookup fails, so only pages that use no text render.
func loadCatalog(files map[string]*staticFile) (catalog, error) {
	f, ok := files[catalogFile]
	if !ok {
		return catalog{}, nil
	}
	c, err := parseCatalog(f.body)
	if err != nil {
		return nil, fmt.Errorf("web: catalog %s: %w", catalogFile, err)
	}
	return c, nil
}

// t is the template function {{t "key" "name" value …}}: the text of key with its {name}
// placeholders filled. A key ending in "_html" holds markup of the catalog's own and gives
// template.HTML, with the values escaped; any other gives a string, which the template
// escapes. A missing key, a plural text or a placeholder without its value is an error, so a
// page that would show one does not render.
func (c catalog) t(key string, vars ...any) (any, error) {
	m, ok := c[key]
	switch {
	case !ok:
		return nil, fmt.Errorf("no text %q in the catalog", key)
	case m.forms != nil:
		return nil, fmt.Errorf("text %q has plural forms: only scripts show it", key)
	case len(vars)%2 != 0:
		return nil, fmt.Errorf("text %q: values come in name, value pairs", key)
	}
	isHTML := strings.HasSuffix(key, "_html")
	values := map[string]string{}
	for i := 0; i < len(vars); i += 2 {
		name, ok := vars[i].(string)
		if !ok {
			return nil, fmt.Errorf("text %q: a value's name must be a string", key)
		}
		v := fmt.Sprint(vars[i+1])
		if isHTML {
			v = template.HTMLEscapeString(v)
		}
		values[name] = v
	}
	var missing []string
	text := placeholderRE.ReplaceAllStringFunc(m.text, func(p string) string {
		v, ok := values[p[1:len(p)-1]]
		if !ok {
			missing = append(missing, p)
			return p
		}
		return v
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("text %q: no value for %s", key, strings.Join(missing, ", "))
	}
	if isHTML {
		return template.HTML(text), nil // #nosec G203 -- the catalog's own markup; values escaped above
	}
	return text, nil
}
