package client

import (
	"fmt"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// CreateSafestDrop makes a drop that also accepts submissions from browsers that run no
// JavaScript (Tor Browser at "Safest"): the server receives those in the clear over the onion
// connection, removes hidden details from the files, seals them to the drop's key and wipes
// them before it answers (SECURITY.md, "Submissions at Safest"). Its link carries the public
// keys twice: in the query, where the server reads them, and in the fragment as every drop
// link does; a name (optional, "" for none) stays in the fragment only.
func (c *Client) CreateSafestDrop(name string) (*NewDrop, error) {
	if name != "" {
		if err := protocol.CheckDropName(name); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrLink, err)
		}
	}
	k, err := protocol.NewDropKeys(protocol.DropFlagSafest)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer k.Wipe()
	k.Name = name
	d := k.Public()
	return &NewDrop{DropLink: c.dropLink(d), InboxLink: c.inboxLink(k), Route: k.RouteID()}, nil
}

// safestDropLink is /d/<route>?s=<keys>#<fragment>: the query for the server, the fragment
// for the page's script and the Go client (which never trust the query).
func (c *Client) safestDropLink(d *protocol.DropPublic) string {
	return c.url(api.PageDrop+d.RouteID()) + "?" + protocol.SafestParam + "=" + d.SafestQuery() + "#" + d.Fragment()
}
