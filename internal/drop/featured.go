package drop

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sealdrop/sealdrop/internal/protocol"
)

// Featured is a drop shown on the front page.
type Featured struct {
	Name string // shown as "Contact <Name>"
	Link string // the drop link as written: a path "/d/<route>#…" or a whole URL
}

// MaxFeaturedName bounds a featured drop's name (protocol.DropNameMax, so that every listed
// name a drop link can carry fits).
const MaxFeaturedName = protocol.DropNameMax

// ParseFeatured reads a featured-drops file: one "Name<TAB>drop link" or "Name|drop link" per
// line; blank lines and lines starting with '#' are ignored. A drop link must have the path
// /d/<route> and a fragment whose keys hash to that route; an ordinary drop, not a reply box.
// The first bad line stops it with an error naming the line.
func ParseFeatured(r io.Reader) ([]Featured, error) {
	var out []Featured
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("featured drops: line %d: %s", n, why) }
		name, link, ok := strings.Cut(line, "\t")
		if !ok {
			name, link, ok = strings.Cut(line, "|")
		}
		if !ok {
			return nil, bad(`want "Name<TAB>drop link" or "Name|drop link"`)
		}
		name, link = strings.TrimSpace(name), strings.TrimSpace(link)
		if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxFeaturedName {
			return nil, bad(fmt.Sprintf("the name must be 1 to %d characters", MaxFeaturedName))
		}
		for _, c := range name {
			if unicode.IsControl(c) {
				return nil, bad("the name has a control character")
			}
		}
		d, err := CheckDropLink(link)
		if err != nil {
			return nil, bad(err.Error())
		}
		// The drop page shows the name its link carries: the front page's link carries the
		// listed one, so that "Contact <Name>" and the page it opens say the same. A listed
		// name that a drop link cannot carry (protocol.CheckDropName: a direction mark, say)
		// is still listed, and its page names nobody. The link is written back in its one
		// canonical spelling (a percent-escaped fragment would not parse in a browser).
		switch {
		case d.Name == "":
			if protocol.CheckDropName(name) == nil {
				d.Name = name
			}
		case d.Name != name:
			return nil, bad(fmt.Sprintf("the link names %+q but the line names %+q", d.Name, name))
		}
		base, _, _ := strings.Cut(link, "#")
		link = base + "#" + d.Fragment()
		out = append(out, Featured{Name: name, Link: link})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("featured drops: %w", err)
	}
	return out, nil
}

// CheckDropLink checks a drop link: path /d/<route>, a fragment that parses, whose keys and
// flags hash to the route, without the reply flag. It returns what the fragment holds.
func CheckDropLink(link string) (*protocol.DropPublic, error) {
	u, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("not a drop link")
	}
	if u.Host != "" && u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("a drop link is http:// or a path")
	}
	route, ok := strings.CutPrefix(u.Path, "/d/")
	if !ok || route == "" || strings.Contains(route, "/") {
		return nil, fmt.Errorf("the path must be /d/<route>")
	}
	d, err := protocol.ParseDropFragment(u.Fragment)
	if err != nil {
		return nil, fmt.Errorf("the fragment is not a drop's: %v", err)
	}
	if d.RouteID() != route {
		return nil, fmt.Errorf("the route does not match the link's keys")
	}
	if d.IsReply() {
		return nil, fmt.Errorf("a reply box cannot be featured")
	}
	// A drop that takes messages at Safest may carry its keys in the query, exactly as its
	// link does (SECURITY.md, "Messages at Safest"); no other query.
	if u.RawQuery != "" && (!d.AcceptsSafest() || u.RawQuery != protocol.SafestParam+"="+d.SafestQuery()) {
		return nil, fmt.Errorf("not a drop link: a query is only the keys of a drop that takes messages at Safest")
	}
	return d, nil
}
