package web

import (
	"fmt"
	"html/template"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/sealdrop/sealdrop/static"
	"github.com/sealdrop/sealdrop/templates"
)

func realCatalog(t *testing.T) catalog {
	t.Helper()
	src, err := fs.ReadFile(static.FS, catalogFile)
	require.NoError(t, err)
	c, err := parseCatalog(src)
	require.NoError(t, err)
	require.NotEmpty(t, c)
	return c
}

// sources returns the named files of fsys whose names end in ext, by name.
func sources(t *testing.T, fsys fs.FS, ext string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ext) {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		out[p] = string(b)
		return err
	}))
	return out
}

// scripts are the modules whose texts go through t: every module but the catalogs and the
// privacy filter (js/clean/, whose findings are its own words, shown inside the report's texts).
func scripts(t *testing.T) map[string]string {
	out := sources(t, static.FS, ".js")
	for p := range out {
		if strings.HasPrefix(p, "i18n/") || strings.HasPrefix(p, "js/clean/") || strings.HasPrefix(p, "vendor/") {
			delete(out, p)
		}
	}
	require.Contains(t, out, "js/chat.js")
	return out
}

func pageSources(t *testing.T) map[string]string {
	out := sources(t, templates.FS, ".html")
	require.Len(t, out, 13, "eleven pages, the layout and the Safest form (safest.html)")
	return out
}

// ---- the catalog itself ----

func TestParseCatalogReadsTheModuleAsJSON(t *testing.T) {
	c, err := parseCatalog([]byte("// a comment that quotes\n// export default {\nexport default {\n  // group\n" +
		`  "a": "A {x}",` + "\n" + `  "b_html": "<strong>B</strong>",` + "\n" +
		`  "n": {"one": "{count} thing", "other": "{count} things"}` + "\n};\n"))
	require.NoError(t, err)
	assert.Equal(t, catalog{
		"a":      {text: "A {x}"},
		"b_html": {text: "<strong>B</strong>"},
		"n":      {forms: map[string]string{"one": "{count} thing", "other": "{count} things"}},
	}, c)
}

func TestParseCatalogRefusesWhatTheScriptsWouldReadOtherwise(t *testing.T) {
	for name, src := range map[string]string{
		"no object":          "export const x = 1;\n",
		"a key twice":        "export default {\n\"a\": \"1\",\n\"a\": \"2\"\n};\n",
		"a number":           "export default {\n\"a\": 1\n};\n",
		"forms, no other":    "export default {\n\"a\": {\"one\": \"x\"}\n};\n",
		"code after":         "export default {\n\"a\": \"1\"\n};\nconsole.log(1);\n",
		"not JSON inside":    "export default {\n a: '1'\n};\n",
		"a trailing comment": "export default {\n\"a\": \"1\" // no\n};\n",
	} {
		_, err := parseCatalog([]byte(src))
		assert.Error(t, err, name)
	}
}

func TestTextFunction(t *testing.T) {
	c := catalog{
		"plain":     {text: "Contact {name}"},
		"rich_html": {text: "<strong>{who}</strong> wrote"},
		"many":      {forms: map[string]string{"other": "{count} things"}},
	}
	got, err := c.t("plain", "name", "The <Daily>")
	require.NoError(t, err)
	assert.Equal(t, "Contact The <Daily>", got, "a plain text is a string: the template escapes it")
	got, err = c.t("rich_html", "who", "<script>")
	require.NoError(t, err)
	assert.Equal(t, template.HTML("<strong>&lt;script&gt;</strong> wrote"), got, "markup is the catalog's; values are escaped")
	for name, call := range map[string]func() (any, error){
		"missing key":         func() (any, error) { return c.t("nope") },
		"missing value":       func() (any, error) { return c.t("plain") },
		"plural in a page":    func() (any, error) { return c.t("many", "count", 2) },
		"odd values":          func() (any, error) { return c.t("plain", "name") },
		"a name not a string": func() (any, error) { return c.t("plain", 1, "x") },
	} {
		_, err := call()
		assert.Error(t, err, name)
	}
}

// allowedMarkup is the markup an "_html" text may hold: what the English one holds.
var allowedMarkup = regexp.MustCompile(`^</?(strong|em|code)>$|^<a href="/(chat|room|drop)"( id="(start-chat|start-room|create-drop)")?>$|^</a>$|^<span id="expires"></span>$`)

var tagRE = regexp.MustCompile(`<span id="expires"></span>|<[^>]*>`)

// TestCatalogMarkupIsTheCatalogsOwn: only "_html" texts hold markup, and only the few tags the
// pages need; a plain text holds none (the page would show it as text), nor do plural forms.
func TestCatalogMarkupIsTheCatalogsOwn(t *testing.T) {
	for key, m := range realCatalog(t) {
		texts := []string{m.text}
		for _, f := range m.forms {
			texts = append(texts, f)
		}
		for _, s := range texts {
			if !strings.HasSuffix(key, "_html") || m.forms != nil {
				assert.NotContains(t, s, "<", "%s: markup in a plain text", key)
				continue
			}
			for _, tag := range tagRE.FindAllString(s, -1) {
				assert.Regexp(t, allowedMarkup, tag, "%s: markup the pages do not use", key)
			}
			assert.NotContains(t, tagRE.ReplaceAllString(s, ""), "<", key)
		}
		assert.NotEmpty(t, strings.TrimSpace(m.text+strings.Join(texts, "")), "%s is empty", key)
	}
}

// ---- every key used, every use defined ----

var (
	templateKeyRE = regexp.MustCompile(`\bt\s+"([^"]+)"`)
	scriptKeyRE   = regexp.MustCompile(`\b(?:t|textWithNode)\('([^'\\]+)'`)
	scriptTCallRE = regexp.MustCompile(`(?:^|[^\w.$])t\(`)
)

// textKeys returns the keys the pages and scripts look up, each with where, and the places
// that call t with a key that is not a literal (which no check could follow).
func textKeys(pages, scripts map[string]string) (used map[string][]string, dynamic []string) {
	used = map[string][]string{}
	for name, src := range pages {
		for _, m := range templateKeyRE.FindAllStringSubmatch(templateCommentRE.ReplaceAllString(src, ""), -1) {
			used[m[1]] = append(used[m[1]], name)
		}
	}
	for name, src := range scripts {
		code, lits := jsScan(src)
		for _, m := range scriptKeyRE.FindAllStringSubmatch(restore(code, lits), -1) {
			used[m[1]] = append(used[m[1]], name)
		}
		for _, loc := range scriptTCallRE.FindAllStringIndex(code, -1) {
			rest := code[loc[1]:]
			if name == "js/ui.js" && strings.HasPrefix(strings.TrimSpace(rest), "key,") {
				continue // textWithNode forwards its key, a literal at each caller (scriptKeyRE)
			}
			if !literalKeyRE.MatchString(rest) && !strings.HasSuffix(strings.TrimSpace(code[:loc[0]+1]), "function") {
				dynamic = append(dynamic, fmt.Sprintf("%s: t(%.30s", name, rest))
			}
		}
	}
	return used, dynamic
}

// restore puts single-quoted literals back into scanned code (comments stay out).
func restore(code string, lits []jsLiteral) string {
	return markRE.ReplaceAllStringFunc(code, func(m string) string {
		n, _ := strconv.Atoi(m[1 : len(m)-1])
		return "'" + lits[n].text + "'"
	})
}

var markRE = regexp.MustCompile("\x00[0-9]+\x00")

// literalKeyRE matches the code after "t(" when its first argument is one plain literal.
var literalKeyRE = regexp.MustCompile("^\\s*\x00[0-9]+\x00\\s*[,)]")

func TestEveryTextKeyIsDefinedAndUsed(t *testing.T) {
	c := realCatalog(t)
	used, dynamic := textKeys(pageSources(t), scripts(t))
	assert.Empty(t, dynamic, "a text's key must be a literal, so that these checks can see it")
	var missing, unused []string
	for key, where := range used {
		if _, ok := c[key]; !ok {
			missing = append(missing, key+" (in "+strings.Join(where, ", ")+")")
		}
	}
	for key := range c {
		if _, ok := used[key]; !ok {
			unused = append(unused, key)
		}
	}
	sort.Strings(missing)
	sort.Strings(unused)
	assert.Empty(t, missing, "keys the pages or scripts use but the catalog lacks")
	assert.Empty(t, unused, "keys of the catalog that nothing uses")
}

func TestTextKeyCheckCatches(t *testing.T) {
	used, dynamic := textKeys(map[string]string{"p.html": `<p>{{t "a.b"}}</p>{{template "x" (page (t "c") "")}}`},
		map[string]string{"s.js": "setText('x', t('d.e', { n: 1 }));\nconst k = 'f';\nt(k);\nt(`g`);\n// t('in.comment')\n" +
			"export function t(key, vars) {}\n"})
	assert.Contains(t, used, "a.b")
	assert.Contains(t, used, "c")
	assert.Contains(t, used, "d.e")
	assert.NotContains(t, used, "in.comment")
	assert.Len(t, dynamic, 1, "t(k) is a key no check can follow; %v", dynamic)
}

// ---- no loose text in the pages ----

// visibleAttrs are the attributes a person reads or hears.
var visibleAttrs = map[string]bool{
	"title": true, "alt": true, "placeholder": true, "aria-label": true, "aria-description": true,
	"aria-placeholder": true, "aria-roledescription": true, "aria-valuetext": true, "label": true,
}

var (
	actionRE          = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	templateCommentRE = regexp.MustCompile(`(?s)\{\{-?\s*/\*.*?\*/\s*-?\}\}`)
)

func hasWords(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}

// looseTemplateText returns the text of a template that does not come from {{t}}: words in
// text nodes (outside script and style) and in the attributes people read, once every
// template action is taken out.
func looseTemplateText(name, src string) []string {
	var problems []string
	src = actionRE.ReplaceAllString(templateCommentRE.ReplaceAllString(src, ""), "")
	z := html.NewTokenizer(strings.NewReader(src))
	raw := ""
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return problems
		case html.TextToken:
			text := string(z.Text())
			switch {
			case raw == "noscript": // read as raw text by the tokenizer: markup for browsers without script
				problems = append(problems, looseTemplateText(name, text)...)
			case raw == "" && hasWords(text):
				problems = append(problems, fmt.Sprintf("%s: text %q", name, strings.TrimSpace(text)))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if tok.Data == "script" || tok.Data == "style" || tok.Data == "noscript" {
				raw = tok.Data
			}
			typ := ""
			for _, a := range tok.Attr {
				if a.Key == "type" {
					typ = a.Val
				}
			}
			for _, a := range tok.Attr {
				button := a.Key == "value" && tok.Data == "input" && (typ == "submit" || typ == "button" || typ == "reset")
				if (visibleAttrs[a.Key] || button) && hasWords(a.Val) {
					problems = append(problems, fmt.Sprintf("%s: <%s %s=%q>", name, tok.Data, a.Key, a.Val))
				}
			}
		case html.EndTagToken:
			if tok := z.Token(); tok.Data == raw {
				raw = ""
			}
		}
	}
}

func TestTemplatesHoldNoLooseText(t *testing.T) {
	for name, src := range pageSources(t) {
		assert.Empty(t, looseTemplateText(name, src))
	}
}

func TestTemplateTextCheckCatches(t *testing.T) {
	for want, src := range map[string]string{
		`text "Hello"`:     `<p>Hello</p>`,
		`text "0%"`:        `<progress>0%</progress>`,
		`text "Copy"`:      `<button>{{t "x"}}</button><button>Copy</button>`,
		`aria-label="QR"`:  `<div aria-label="QR"></div>`,
		`title="Help"`:     `<a title="Help">{{t "x"}}</a>`,
		`placeholder="PIN`: `<input placeholder="PIN">`,
		`value="Send"`:     `<input type="submit" value="Send">`,
		`text "Safer"`:     `<noscript><section><h1>Safer</h1></section></noscript>`,
	} {
		got := strings.Join(looseTemplateText("p", src), "\n")
		assert.Contains(t, got, want, src)
	}
	assert.Empty(t, looseTemplateText("p", `<p class="x" id="a1">{{t "x"}} {{.Name}}</p><input type="text" value="{{.V}}">`+
		`<script type="module" src="{{asset "js/a.js"}}"></script>{{/* a comment with words */}}<!-- words -->`))
}

// ---- no loose text in the scripts ----

// textSinks are where a script puts text on the page, with the argument that is the text:
// -1 for an assignment (the text is what follows "=") or an object property.
var textSinks = []struct {
	re  *regexp.Regexp
	arg int
}{
	{regexp.MustCompile(`\bsetText\(`), 1},
	{regexp.MustCompile(`\bshowError\(`), 0},
	{regexp.MustCompile(`\bstatus\(`), 0},
	{regexp.MustCompile(`\bline\(`), 1},
	{regexp.MustCompile(`\bgone\(`), 0},
	{regexp.MustCompile(`\bfailPending\(`), 0},
	{regexp.MustCompile(`\bcreateTextNode\(`), 0},
	{regexp.MustCompile(`\bnew (?:Gone)?Error\(`), 0},
	{regexp.MustCompile(`\bnew (?:Api|WrongPin)Error\(`), 1},
	{regexp.MustCompile(`\b(?:fail|new ProtocolError)\(\x00[0-9]+\x00,`), -2}, // (code, text): checked below
	{regexp.MustCompile(`\.(?:textContent|innerText|title|placeholder|alt)\s*=[^=]`), -1},
	{regexp.MustCompile(`\bsetAttribute\(\x00[0-9]+\x00,`), -3},
	{regexp.MustCompile(`[{,]\s*(?:title|message|label|text)\s*:`), -1},
}

// argEnd returns the end of the expression that starts at i: the first , ) ] } ; at depth 0.
func argEnd(code string, i int) int {
	depth := 0
	for ; i < len(code); i++ {
		switch code[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth == 0 {
				return i
			}
			depth--
		case ',', ';':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// isProse tells words for people from the names, codes, labels, paths and selectors a script
// uses: three words or more; two, or one before sentence punctuation, that start with a
// capital; two before punctuation.
func isProse(s string) bool {
	if strings.ContainsAny(s, "/#[") {
		return false
	}
	var words []string
	for _, f := range strings.FieldsFunc(s, unicode.IsSpace) {
		if strings.IndexFunc(f, unicode.IsLetter) >= 0 {
			words = append(words, f)
		}
	}
	if len(words) == 0 {
		return false
	}
	capital := unicode.IsUpper([]rune(words[0])[0])
	ends := strings.IndexAny(strings.TrimSpace(s)[len(strings.TrimSpace(s))-1:], ".!?:") == 0 || strings.HasSuffix(strings.TrimSpace(s), "…")
	return len(words) >= 3 || capital && (len(words) >= 2 || ends) || len(words) >= 2 && ends
}

// valueParts splits an expression at its top-level ? and : and drops the conditions (the parts
// before a ?), so that the literals a value is compared with are not taken for the value.
func valueParts(expr string) string {
	var parts []string
	depth, from := 0, 0
	keep := func(to int, sep byte) {
		if sep != '?' {
			parts = append(parts, expr[from:to])
		}
		from = to + 1
	}
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case '?', ':':
			if depth == 0 && !(expr[i] == '?' && i+1 < len(expr) && (expr[i+1] == '?' || expr[i+1] == '.')) {
				keep(i, expr[i])
			}
		}
	}
	keep(len(expr), 0)
	return strings.Join(parts, " ")
}

// looseScriptText returns the texts a script shows that do not come from t: literals given to
// the places that put text on a page (textSinks), and, outside the protocol modules (whose
// other messages are diagnostics), any literal worded like a sentence.
func looseScriptText(name, src string, protocol bool) []string {
	code, lits := jsScan(src)
	isKey := map[int]bool{} // the first argument of t, and of ui.js textWithNode (a key, then a node put in its {name})
	for _, m := range regexp.MustCompile("\\b(?:t|textWithNode)\\(\\s*\x00([0-9]+)\x00").FindAllStringSubmatch(code, -1) {
		n, _ := strconv.Atoi(m[1])
		isKey[n] = true
	}
	var problems []string
	report := func(n int, why string) {
		if !isKey[n] && hasWords(lits[n].text) {
			problems = append(problems, fmt.Sprintf("%s: %s %q", name, why, lits[n].text))
		}
	}
	for _, s := range textSinks {
		for _, loc := range s.re.FindAllStringIndex(code, -1) {
			start := loc[1]
			switch s.arg {
			case -2: // fail(code, text): the text is for people when the code is "pin"
				n, _ := strconv.Atoi(strings.Trim(markRE.FindString(code[loc[0]:]), "\x00"))
				if lits[n].text != "pin" && lits[n].text != "too_dear" {
					continue
				}
			case -3: // setAttribute(name, text) of an attribute people read
				n, _ := strconv.Atoi(strings.Trim(markRE.FindString(code[loc[0]:]), "\x00"))
				if !visibleAttrs[lits[n].text] {
					continue
				}
			case -1:
				if code[start-1] != '=' && code[start-1] != ':' {
					start-- // the [^=] of an assignment
				}
			default:
				for k := 0; k < s.arg; k++ {
					start = argEnd(code, start) + 1
				}
			}
			end := argEnd(code, start)
			if s.arg == -1 && strings.Contains(s.re.String(), "textContent") {
				// an assignment's value may be a conditional: up to the end of the statement
				if semi := strings.IndexAny(code[start:], ";\n"); semi >= 0 {
					end = max(end, start+semi)
				}
			}
			for _, m := range markRE.FindAllString(valueParts(code[start:min(end, len(code))]), -1) {
				n, _ := strconv.Atoi(strings.Trim(m, "\x00"))
				report(n, "text put on the page:")
			}
		}
	}
	if !protocol {
		for n, l := range lits {
			if isProse(l.text) {
				report(n, "words for people:")
			}
		}
	}
	sort.Strings(problems)
	return compact(problems)
}

func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// protocolModules hold diagnostics (error messages for developers and tests) besides the few
// messages meant for people, which the sinks check.
var protocolModules = map[string]bool{
	"js/protocol.js": true, "js/chat-protocol.js": true, "js/drop-protocol.js": true, "js/room-protocol.js": true, "js/bytes.js": true, "js/webcrypto.js": true,
}

func TestScriptsHoldNoLooseText(t *testing.T) {
	for name, src := range scripts(t) {
		assert.Empty(t, looseScriptText(name, src, protocolModules[name]))
	}
}

func TestScriptTextCheckCatches(t *testing.T) {
	for want, src := range map[string]string{
		`"Copied"`:                              "button.textContent = ok ? 'Copied' : t('copy.manual');",
		`"Save"`:                                "a.textContent = 'Save';",
		`"Checking…"`:                           "setText('status', 'Checking…');",
		`"Could not read: "`:                    "showError(`Could not read: ${why}`);",
		`"sent"`:                                "bar.replaceWith(document.createTextNode('sent'));",
		`"Wrong PIN."`:                          "throw new Error('Wrong PIN.');",
		`"too short"`:                           "fail('pin', 'too short');",
		`"QR code of the link"`:                 "toSVG(document, qr, { title: 'QR code of the link' });",
		`"less than an hour ago"`:               "function age() { return 'less than an hour ago'; }",
		`"Them: "`:                              "line('them', 'Them: ');",
		`"Show"`:                                "el.setAttribute('aria-label', 'Show');",
		`"An English value"`:                    "t('key', { v: 'An English value' });",
		`"Received "`:                           "desc.textContent = `Received ${age}, up to ${size}`;",
		`"File "`:                               "const li = line('me', `File ${name} `);",
		`"The connection was lost."`:            "failPending('The connection was lost.');",
		`"Deleted 1 message."`:                  "const x = 'Deleted 1 message.';",
		`"Use its own name"`:                    "const label = e.neutral ? 'Use its own name' : other;",
		`"This text is too long for a QR code"`: "const m = 'This text is too long for a QR code';",
		`"Loading…"`:                            "function f() { return 'Loading…'; }",
		`"The note is gone."`:                   "throw new GoneError('The note is gone.');",
		`"Wrong PIN, 2 left."`:                  "throw new WrongPinError(2, 'Wrong PIN, 2 left.');",
		`"Too dear."`:                           "throw new ProtocolError('too_dear', 'Too dear.');",
		`"Deleted."`:                            "status(ok ? t('x') : 'Deleted.');",
	} {
		got := strings.Join(looseScriptText("s.js", src, false), "\n")
		assert.Contains(t, got, want, src)
	}
	clean := `import { t } from './i18n.js'; // 'Words in a comment.'
/* Words in a block comment. */
setText('progress-label', t('open.downloading'));
b.className = 'primary read';
const sel = ` + "`#list button[data-id=\"${CSS.escape(id)}\"]`" + `;
line('them', ` + "`${t('chat.file', { name: m.name })} `" + `);
fail('format', 'bad hello'); const re = /a b c./g;
el.setAttribute('role', 'img'); const h = { 'Content-Type': 'application/json' };
s.textContent = ` + "` ${t('download.size', { size: size(n) })}`" + `;`
	assert.Empty(t, looseScriptText("s.js", clean, false))
	assert.Contains(t, strings.Join(looseScriptText("p.js", "fail('pin', 'A PIN needs digits.'); fail('auth', 'the data was altered');", true), "\n"),
		"A PIN needs digits.", "a protocol module's message for people is checked")
	assert.Empty(t, looseScriptText("p.js", "fail('auth', 'the data was altered or the key is wrong.');", true),
		"a protocol module's diagnostics are not")
}

// TestPagesShareTheHead: every page opens with the catalog's language and direction, its own
// title from the catalog, and the one top bar.
func TestPagesShareTheHead(t *testing.T) {
	files, err := loadStatic(static.FS)
	require.NoError(t, err)
	pages, err := renderPages(templates.FS, files, pageData{})
	require.NoError(t, err)
	c := realCatalog(t)
	require.Len(t, pages, 11)
	titles := map[string]bool{}
	for name, b := range pages {
		s := string(b)
		assert.True(t, strings.HasPrefix(s, "<!doctype html>\n<html lang=\""+c["meta.lang"].text+"\" dir=\""+c["meta.dir"].text+"\">\n<head>\n<meta charset=\"utf-8\">"), name)
		title := regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(s)
		require.NotNil(t, title, name)
		key := strings.TrimSuffix(name, ".html")
		if key == "dropsubmit" {
			key = "submit"
		}
		assert.Equal(t, c[key+".title"].text, html.UnescapeString(title[1]), name)
		titles[title[1]] = true
		assert.Equal(t, 1, strings.Count(s, `<header class="top"><a class="brand" href="/">`), name)
		assert.Equal(t, 1, strings.Count(s, "<body>"), name)
	}
	assert.Len(t, titles, 11, "each page has its own title")
}
