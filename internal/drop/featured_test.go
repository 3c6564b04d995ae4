package drop_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/drop"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

func TestParseFeatured(t *testing.T) {
	a, b := keys(t, 0), keys(t, 0)
	reply := keys(t, protocol.DropFlagReply)
	link := func(k *protocol.DropKeys) string { return "/d/" + k.RouteID() + "#" + k.Fragment() }
	file := "# our desks\n\nInvestigations Desk\t" + link(a) + "\n  Jane Doe | http://abc.onion" + link(b) + "\n"
	got, err := drop.ParseFeatured(strings.NewReader(file))
	require.NoError(t, err)
	// A link without a name is given the listed one, so that "Contact <Name>" and the drop page
	// it opens name the same person.
	named := func(k *protocol.DropKeys, name string) string {
		p := k.Public()
		p.Name = name
		return "/d/" + p.RouteID() + "#" + p.Fragment()
	}
	require.Equal(t, []drop.Featured{{Name: "Investigations Desk", Link: named(a, "Investigations Desk")}, {Name: "Jane Doe", Link: "http://abc.onion" + named(b, "Jane Doe")}}, got)
	for _, f := range got {
		d, err := drop.CheckDropLink(f.Link)
		require.NoError(t, err)
		require.Equal(t, f.Name, d.Name)
	}
	got, err = drop.ParseFeatured(strings.NewReader("Jane Doe\t" + named(b, "Jane Doe") + "\n"))
	require.NoError(t, err, "a link that already names the listed name")
	require.Equal(t, []drop.Featured{{Name: "Jane Doe", Link: named(b, "Jane Doe")}}, got)

	// Names a drop link cannot carry (a direction mark in a Hebrew name, say) are listed as
	// before, and their page names nobody; a percent-escaped fragment is written back plain
	// (a browser would not read it: location.hash is not unescaped).
	hebrew := "\u05d9\u05e9\u05e8\u05d0\u05dc\u200e 24"
	got, err = drop.ParseFeatured(strings.NewReader(hebrew + "\t" + link(a) + "\n"))
	require.NoError(t, err)
	require.Equal(t, []drop.Featured{{Name: hebrew, Link: link(a)}}, got)
	require.Equal(t, "AQ", a.Fragment()[:2], "version 1 encodes as AQ")
	got, err = drop.ParseFeatured(strings.NewReader("Desk\t/d/" + a.RouteID() + "#%41" + a.Fragment()[1:] + "\n"))
	require.NoError(t, err)
	require.Equal(t, named(a, "Desk"), got[0].Link)

	for name, c := range map[string]struct {
		line string
		want string
	}{
		"no separator":  {"Desk " + link(a), "line 2:"},
		"empty name":    {"\t" + link(a), "line 2: the name"},
		"swapped route": {"Desk\t/d/" + a.RouteID() + "#" + b.Fragment(), "line 2: the route"},
		"reply box":     {"Desk\t" + link(reply), "line 2: a reply box"},
		"bad fragment":  {"Desk\t/d/" + a.RouteID() + "#abc", "line 2: the fragment"},
		"wrong path":    {"Desk\t/n/" + a.RouteID() + "#" + a.Fragment(), "line 2: the path"},
		"long name":     {strings.Repeat("x", 81) + "\t" + link(a), "line 2: the name"},
		"another name":  {"Jane Doe\t" + named(a, "John Roe"), `line 2: the link names "John Roe" but the line names "Jane Doe"`},
	} {
		_, err := drop.ParseFeatured(strings.NewReader("# ok\n" + c.line + "\n"))
		require.ErrorContains(t, err, c.want, name)
	}
}

// A drop that takes messages at Safest may be listed with its keys in the query, as its link
// has them; no other query passes.
func TestParseFeaturedSafest(t *testing.T) {
	s, plain := keys(t, protocol.DropFlagSafest), keys(t, 0)
	q := func(k *protocol.DropKeys) string { return "?" + protocol.SafestParam + "=" + k.Public().SafestQuery() }
	link := "/d/" + s.RouteID() + q(s) + "#" + s.Fragment()
	got, err := drop.ParseFeatured(strings.NewReader("Desk\t" + link + "\n"))
	require.NoError(t, err)
	p := s.Public()
	p.Name = "Desk"
	require.Equal(t, "/d/"+s.RouteID()+q(s)+"#"+p.Fragment(), got[0].Link, "the query stays, the name goes in the fragment")
	for why, bad := range map[string]string{
		"query on a drop without the flag": "/d/" + plain.RouteID() + q(plain) + "#" + plain.Fragment(),
		"another drop's keys":              "/d/" + s.RouteID() + q(plain) + "#" + s.Fragment(),
		"another parameter":                "/d/" + s.RouteID() + q(s) + "&x=1#" + s.Fragment(),
	} {
		_, err := drop.ParseFeatured(strings.NewReader("Desk\t" + bad + "\n"))
		require.Error(t, err, why)
	}
}
