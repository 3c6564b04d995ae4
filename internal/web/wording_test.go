package web

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/static"
)

// The source's path is read by people under stress, often through a translation tool: its
// texts use plain words (issue 19, requirement 4). These tests keep the words a translation
// tool mangles, or that a source cannot be expected to know, off that path, and keep the
// translators' glossary (static/i18n/GLOSSARY.md) in step with the terms the pages use.

// sourcePages are the templates a source sees: the drop page, the reply page, the note's page,
// the chat page (a source may be the one who joins), the error page and the Tor2web refusal.
// The layout is in every page, with the "Safest" panel and the progress and compose parts.
var sourcePages = []string{"dropsubmit.html", "reply.html", "open.html", "chat.html", "room.html", "error.html", "tor2web.html", "layout.html", "safest.html"}

// sourceEntries are the modules of the source's pages: the texts of every module they import
// (the privacy filter's report, the API's error messages, the shared helpers) reach the source.
var sourceEntries = []string{"js/submit.js", "js/reply.js", "js/open.js", "js/chat.js", "js/room.js"}

// jargon is what the source's path must not say, each with the reason and what to say instead.
var jargon = []struct {
	re  *regexp.Regexp
	why string
}{
	{regexp.MustCompile(`(?i)end[- ]to[- ]end|\be2ee?\b`), "a technical term: say who can read it (only you and the other person)"},
	{regexp.MustCompile(`(?i)\b(exif|iptc|xmp)\b`), "a file format's name: say \"hidden details\" and what they hold (GPS location, camera, author)"},
	{regexp.MustCompile(`(?i)meta-?data`), "a technical term: say \"hidden details\""},
	{regexp.MustCompile(`(?i)claim(ed)? window`), "the protocol's name: say what happens and when"},
	{regexp.MustCompile(`(?i)\bflood`), "a metaphor that translates badly: say \"fill with useless messages\""},
	{regexp.MustCompile(`(?i)\bbytes?\b`), "a unit nobody counts: give a size, or say what is too long"},
	{regexp.MustCompile(`(?i)\bchannel\b|\btrusted\b`), "\"a channel you trust\" is jargon: name a concrete way (a private message, in person)"},
	{regexp.MustCompile(`(?i)\bwip(e|ed|es|ing)\b`), "an idiom: say \"delete\""},
	{regexp.MustCompile(`(?i)in the middle`), "an idiom (man in the middle): say that someone else may read or change the messages"},
	{regexp.MustCompile(`(?i)\bus(e|es|ed|ing) (it )?up\b`), "a phrasal verb that translates badly: say that the link stops working"},
	{regexp.MustCompile(`(?i)\bsubmissions?\b|\bsubmit`), "an office word: say \"message\" and \"send\""},
	{regexp.MustCompile(`(?i)\bciphertext|\bplaintext|\bpayload|\bnonce|\bhash(es)?\b|proof[- ]of[- ]work|\bPoW\b|\bTTL\b|\brevok`), "a technical term the source cannot be expected to know"},
	{regexp.MustCompile(`(?i)\bUTC\b|\bcheaply\b|\bon the way\b`), "an abbreviation or idiom: say it in plain words"},
}

// jargonAllowed are the source-facing texts a deny-list word may stay in, with the reason.
var jargonAllowed = map[string]string{
	// ui.js's size(): a file's size shown in the unit that fits it, next to KB, MB and GB; a
	// file under 1 KB is some bytes. Not a limit for a person to count.
	"size.bytes": `\bbytes?\b`,
}

// sourceKeys returns the catalog keys the source's pages and their modules use, each with
// where it is used.
func sourceKeys(t *testing.T) map[string][]string {
	t.Helper()
	pages := pageSources(t)
	mine := map[string]string{}
	for _, name := range sourcePages {
		src, ok := pages[name]
		require.True(t, ok, "no template %s", name)
		mine[name] = src
	}
	files, err := loadStatic(static.FS)
	require.NoError(t, err)
	all := scripts(t)
	mods := map[string]string{}
	for _, entry := range sourceEntries {
		deps, err := moduleGraph(files, entry)
		require.NoError(t, err)
		for _, p := range append(deps, entry) {
			if src, ok := all[p]; ok {
				mods[p] = src
			}
		}
	}
	for _, must := range []string{"js/filereport.js", "js/ui.js", "js/drop-api.js", "js/api.js", "js/http.js"} {
		require.Contains(t, mods, must, "the source's modules")
	}
	used, _ := textKeys(mine, mods)
	return used
}

// jargonIn returns, for each text of c among keys, the deny-list words it holds.
func jargonIn(c catalog, keys map[string][]string) []string {
	var problems []string
	for key, where := range keys {
		m, ok := c[key]
		if !ok {
			continue // TestEveryTextKeyIsDefinedAndUsed reports it
		}
		texts := []string{m.text}
		for _, f := range m.forms {
			texts = append(texts, f)
		}
		for _, s := range texts {
			for _, j := range jargon {
				for _, w := range j.re.FindAllString(s, -1) {
					if allowed, ok := jargonAllowed[key]; ok && regexp.MustCompile("(?i)"+allowed).MatchString(w) {
						continue
					}
					problems = append(problems, fmt.Sprintf("%s (%s): %q in %q: %s", key, strings.Join(compact(sortedCopy(where)), ", "), w, s, j.why))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestSourcePathSpeaksPlainly: no text the source can see holds a word of the deny-list.
func TestSourcePathSpeaksPlainly(t *testing.T) {
	keys := sourceKeys(t)
	for _, must := range []string{"submit.files_hint", "submit.pow", "chat.connected", "reply.paste_text", "open.lead_html", "noscript.copy_link_html", "noscript.heading", "drop.error_gone", "report.heading", "error.network", "tor2web.text"} {
		require.Contains(t, keys, must, "a text of the source's path")
	}
	assert.Empty(t, jargonIn(realCatalog(t), keys), "plain words on the source's path")
}

func TestJargonCheckCatches(t *testing.T) {
	keys := map[string][]string{"a": {"p.html"}, "b": {"q.js"}, "size.bytes": {"js/ui.js"}, "report.plain_text": {"js/filereport.js"}, "c": {"r.js"}}
	c := catalog{
		"a":                 {text: "Messages are end-to-end encrypted. Send it over a channel you trust, up to 256 bytes."},
		"b":                 {forms: map[string]string{"one": "Wiped {count} message.", "other": "EXIF and XMP metadata removed; nobody can flood it."}},
		"size.bytes":        {text: "{n} bytes"},
		"report.plain_text": {text: "Plain text: nothing hidden to remove."},
		"c":                 {text: "Do not trust what the server sends as plaintext; the claim window ends."},
		"unused":            {text: "end-to-end"},
	}
	got := strings.Join(jargonIn(c, keys), "\n")
	for _, want := range []string{`"end-to-end"`, `"channel"`, `"bytes" in "Messages`, `"Wiped"`, `"EXIF"`, `"XMP"`, `"metadata"`, `"flood"`, `"plaintext"`, `"claim window"`} {
		assert.Contains(t, got, want)
	}
	assert.NotContains(t, got, "size.bytes", "a file's size may be in bytes")
	assert.NotContains(t, got, "report.plain_text", "a file of plain text is a kind of file")
	assert.NotContains(t, got, `"trust"`, "trusting is a plain word; a trusted channel is not")
	assert.NotContains(t, got, "unused", "only the source's keys are checked")
	assert.Empty(t, jargonIn(catalog{"a": {text: "Only you and the other person can read the messages."}}, keys))
}

// glossaryFile is the translators' glossary, beside the catalogs (not served: static.FS holds
// only the catalogs' .js files).
const glossaryFile = "../../static/i18n/GLOSSARY.md"

// glossaryTerms are the terms the pages use for sealdrop's things and steps, which a translator
// must translate the same way everywhere (or keep, for names): each has its entry, a heading
// "### term", in the glossary.
var glossaryTerms = []string{
	"sealdrop", "Tor Browser", "security level", "Safer", "Safest", "JavaScript", "address bar",
	"one-time note", "one-time chat", "drop box", "drop link", "inbox link", "inbox", "reply link",
	"reply box", "manage link", "chat link", "front page", "source", "owner of the drop box",
	"PIN", "destruct PIN", "safety code", "hidden details", "encrypt", "decrypt", "server",
	"anti-spam check", "QR code", "password manager", "sealdrop inbox",
	"one-time group room", "invite link", "place", "name in the room", "not connected",
	"removed by the server",
}

var glossaryHeadingRE = regexp.MustCompile(`(?m)^### (.+?)\s*$`)

// glossaryProblems returns what is wrong between a glossary and a catalog: a term without its
// entry, an entry for a term not in the list, a term the catalog never uses.
func glossaryProblems(glossary string, c catalog, terms []string) []string {
	entries := map[string]bool{}
	for _, m := range glossaryHeadingRE.FindAllStringSubmatch(glossary, -1) {
		entries[m[1]] = true
	}
	var all strings.Builder
	for _, m := range c {
		all.WriteString(m.text + "\n")
		for _, f := range m.forms {
			all.WriteString(f + "\n")
		}
	}
	texts := strings.ToLower(all.String())
	var problems []string
	listed := map[string]bool{}
	for _, term := range terms {
		listed[term] = true
		if !entries[term] {
			problems = append(problems, fmt.Sprintf("%q has no entry (### %s) in the glossary", term, term))
		}
		if !strings.Contains(texts, strings.ToLower(term)) {
			problems = append(problems, fmt.Sprintf("%q is not used by the catalog: drop it from the glossary", term))
		}
	}
	for e := range entries {
		if !listed[e] {
			problems = append(problems, fmt.Sprintf("the glossary's entry %q is not among glossaryTerms", e))
		}
	}
	sort.Strings(problems)
	return problems
}

// TestGlossaryHasEveryTerm: every term the pages use has its entry in GLOSSARY.md, and every
// entry is a term the catalog uses.
func TestGlossaryHasEveryTerm(t *testing.T) {
	b, err := os.ReadFile(glossaryFile)
	require.NoError(t, err, "the translators' glossary")
	assert.Empty(t, glossaryProblems(string(b), realCatalog(t), glossaryTerms))
}

func TestGlossaryCheckCatches(t *testing.T) {
	c := catalog{"a": {text: "Open the drop box with your PIN."}}
	got := strings.Join(glossaryProblems("# Glossary\n### drop box\nA box.\n### extra\n", c, []string{"drop box", "PIN", "safety code"}), "\n")
	assert.Contains(t, got, `"PIN" has no entry`)
	assert.Contains(t, got, `"safety code" is not used by the catalog`)
	assert.Contains(t, got, `entry "extra" is not among`)
	assert.NotContains(t, got, `"drop box"`)
	assert.Empty(t, glossaryProblems("### drop box\n### PIN\n", c, []string{"drop box", "PIN"}))
}
