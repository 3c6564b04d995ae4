package client

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// Drops (SECURITY.md, "Drops and replies"). The Go client makes drop keys locally, seals
// submissions to the public key in the drop link after checking that the link's route is the
// hash of its keys, solves the proof of work natively, and proves the inbox key by
// challenge-response for every inbox action.

// NewDrop is a freshly made drop: the link to publish and the inbox link to keep secret.
type NewDrop struct {
	DropLink  string // /d/<route>#<E, A, flags>: publish it
	InboxLink string // /i/<route>#<private keys>: keep it secret, it reads everything
	Route     string
}

// CreateDrop makes a drop's two key pairs locally; the server learns nothing until the first
// submission. reply makes a reply box (one submission only).
func (c *Client) CreateDrop(reply bool) (*NewDrop, error) {
	var flags byte
	if reply {
		flags = protocol.DropFlagReply
	}
	return c.createDrop(flags, "")
}

// CreateNamedDrop makes a drop whose link names who receives the submissions (the drop page
// shows it; protocol.CheckDropName says what a name may hold). The name is in the link's
// fragment only: the server never sees it.
func (c *Client) CreateNamedDrop(name string) (*NewDrop, error) {
	if err := protocol.CheckDropName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLink, err)
	}
	return c.createDrop(0, name)
}

func (c *Client) createDrop(flags byte, name string) (*NewDrop, error) {
	k, err := protocol.NewDropKeys(flags)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer k.Wipe()
	k.Name = name
	return &NewDrop{DropLink: c.dropLink(k.Public()), InboxLink: c.inboxLink(k), Route: k.RouteID()}, nil
}

func (c *Client) dropLink(d *protocol.DropPublic) string {
	if d.AcceptsSafest() {
		return c.safestDropLink(d)
	}
	return c.url(api.PageDrop+d.RouteID()) + "#" + d.Fragment()
}

func (c *Client) inboxLink(k *protocol.DropKeys) string {
	return c.url(api.PageInbox+k.RouteID()) + "#" + k.InboxFragment()
}

// replyLink is a reply box's link for the source: the reply page (api.PageReply), which
// reads the one reply and shows nothing of an inbox's tools. OpenInbox takes it too.
func (c *Client) replyLink(k *protocol.DropKeys) string {
	return c.url(api.PageReply+k.RouteID()) + "#" + k.InboxFragment()
}

// ParseDropLink parses a drop link of this server and checks that its route is the hash of
// its keys and flags, so that neither the server nor a mangled link can pair a route with
// other keys.
func (c *Client) ParseDropLink(link string) (*protocol.DropPublic, error) {
	route, frag, err := c.splitLink(link, api.PageDrop)
	if err != nil {
		return nil, err
	}
	d, err := protocol.ParseDropFragment(frag)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLink, err)
	}
	if d.RouteID() != route {
		return nil, fmt.Errorf("%w: the route does not match the keys", ErrLink)
	}
	return d, nil
}

func dropKey(d *protocol.DropPublic) api.DropKey {
	flags := int(d.Flags)
	return api.DropKey{Auth: protocol.B64Encode(d.Auth[:]), Flags: &flags}
}

// Submitted is what Submit hands back.
type Submitted struct {
	ID        string
	ExpiresIn time.Duration
	// ReplyInboxLink is the inbox link of the reply box when a reply was asked for: show it to
	// the source once; it is the only way to read the reply.
	ReplyInboxLink string
}

// Submit seals text and files to the drop behind dropLink and uploads them, with a proof of
// work. wantReply makes a reply box whose drop link travels inside the sealed submission.
func (c *Client) Submit(ctx context.Context, dropLink, text string, files []File, wantReply bool) (*Submitted, error) {
	d, err := c.ParseDropLink(dropLink)
	if err != nil {
		return nil, err
	}
	var reply *protocol.DropKeys
	if wantReply {
		if reply, err = protocol.NewDropKeys(protocol.DropFlagReply); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		defer reply.Wipe()
	}
	var rb *protocol.DropPublic
	if reply != nil {
		rb = reply.Public()
	}
	id, exp, err := c.submitTo(ctx, d, text, files, rb)
	if err != nil {
		return nil, err
	}
	s := &Submitted{ID: id, ExpiresIn: exp}
	if reply != nil {
		s.ReplyInboxLink = c.replyLink(reply)
	}
	return s, nil
}

// Reply sends a one-time reply to the reply box a submission carried.
func (c *Client) Reply(ctx context.Context, box *protocol.DropPublic, text string, files []File) error {
	if box == nil || !box.IsReply() {
		return fmt.Errorf("%w: not a reply box", ErrLink)
	}
	_, _, err := c.submitTo(ctx, box, text, files, nil)
	return err
}

func (c *Client) submitTo(ctx context.Context, d *protocol.DropPublic, text string, files []File, reply *protocol.DropPublic) (string, time.Duration, error) {
	route := d.RouteID()
	r, n, err := protocol.SubmissionPlaintext(text, files, reply)
	if err != nil {
		return "", 0, fmt.Errorf("client: %w", err)
	}
	length := protocol.SealedSubmissionLen(n)
	lim, err := c.createLimits(ctx)
	if err != nil {
		return "", 0, err
	}
	var manage [32]byte
	if _, err := rand.Read(manage[:]); err != nil {
		return "", 0, fmt.Errorf("client: random: %w", err)
	}
	defer clear(manage[:])
	mh := protocol.Hash(manage[:])

	if lim.Drop == nil {
		return "", 0, fmt.Errorf("%w: this server has no drop boxes", ErrProtocol)
	}
	if length > lim.Drop.MaxEntry {
		return "", 0, fmt.Errorf("%w: %d bytes sealed, the drop takes %d", ErrTooLarge, length, lim.Drop.MaxEntry)
	}
	// One request up to max_append (SECURITY.md, "HTTP API for drops"): the upload route
	// creates the submission with its first piece, takes every later one at its offset and
	// commits it with the last.
	head := api.UploadSubmission{DropKey: dropKey(d), Length: length, Manage: protocol.B64Encode(manage[:])}
	up := &paidUpload{c: c, url: c.url(api.DropPath(route, api.DropUpload)), payer: &head,
		setHead: func(off int64, h http.Header) { head.Offset = off; head.SetHeader(h) },
		price:   protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: d.Route(), Manage: mh, Length: length, TTL: time.Duration(lim.Drop.TTL) * time.Second},
		token:   lim.Price.Token}
	// A submission is priced at the drop's floor at least.
	up.bits = levelBits(lim.Price, api.PriceKindDrop, max(length, lim.Drop.PriceFloor), up.price.TTL)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(protocol.SealSubmission(pw, d, r, n)) }()
	defer pr.Close()
	if err := c.uploadWith(ctx, pr, length, lim.MaxAppend, up); err != nil {
		return "", 0, fmt.Errorf("client: submit: %w", err)
	}
	if !up.last.Committed {
		return "", 0, fmt.Errorf("%w: the upload's last piece did not commit the submission", ErrProtocol)
	}
	return up.id, expiresIn(up.last.ExpiresIn), nil
}
