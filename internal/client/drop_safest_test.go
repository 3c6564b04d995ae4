package client

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/protocol"
)

func TestCreateSafestDrop(t *testing.T) {
	c, err := New("http://example.onion/", nil)
	require.NoError(t, err)
	nd, err := c.CreateSafestDrop("Ana's desk")
	require.NoError(t, err)
	u, err := url.Parse(nd.DropLink)
	require.NoError(t, err)
	require.Equal(t, "/d/"+nd.Route, u.Path)
	q, err := protocol.ParseSafestQuery(u.Query().Get(protocol.SafestParam))
	require.NoError(t, err)
	require.Equal(t, nd.Route, q.RouteID())
	require.NotContains(t, u.RawQuery, protocol.B64Encode([]byte("Ana's desk")), "the name never reaches the server")
	d, err := c.ParseDropLink(nd.DropLink)
	require.NoError(t, err)
	require.True(t, d.AcceptsSafest())
	require.Equal(t, "Ana's desk", d.Name)
	require.True(t, strings.HasPrefix(u.Fragment, u.Query().Get(protocol.SafestParam)))
	_, err = c.CreateSafestDrop("\u202e")
	require.Error(t, err)
}
