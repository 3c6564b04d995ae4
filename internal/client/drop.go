package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
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
	k, err := protocol.NewDropKeys(flags)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer k.Wipe()
	return &NewDrop{DropLink: c.dropLink(k.Public()), InboxLink: c.inboxLink(k), Route: k.RouteID()}, nil
}

func (c *Client) dropLink(d *protocol.DropPublic) string {
	return c.origin + c.base.Path + api.PageDrop + d.RouteID() + "#" + d.Fragment()
}

func (c *Client) inboxLink(k *protocol.DropKeys) string {
	return c.origin + c.base.Path + api.PageInbox + k.RouteID() + "#" + k.InboxFragment()
}

// splitLink checks that link is of this server with the page prefix and returns the route
// and the fragment.
func (c *Client) splitLink(link, prefix string) (string, string, error) {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrLink, err)
	}
	if u.Host != "" && (u.Scheme+"://"+u.Host) != c.origin {
		return "", "", fmt.Errorf("%w: it points to %s", ErrLink, u.Scheme+"://"+u.Host)
	}
	route, ok := strings.CutPrefix(u.Path, c.base.Path+prefix)
	if !ok || route == "" || strings.Contains(route, "/") {
		return "", "", fmt.Errorf("%w: path %q", ErrLink, u.Path)
	}
	return route, u.Fragment, nil
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

// dropAPI is the URL of a drop's path (api.DropPath, api.SubmissionPath).
func (c *Client) dropAPI(path string) string { return c.origin + c.base.Path + path }

// postTo sends a JSON body to a full URL.
func (c *Client) postTo(ctx context.Context, u string, body any) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", api.JSON)
	req.Header.Set("Origin", c.origin)
	return req, nil
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
		s.ReplyInboxLink = c.inboxLink(reply)
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
	lim, err := c.Limits(ctx)
	if err != nil {
		return "", 0, err
	}
	var manage [32]byte
	if _, err := rand.Read(manage[:]); err != nil {
		return "", 0, fmt.Errorf("client: random: %w", err)
	}
	defer clear(manage[:])
	mh := protocol.Hash(manage[:])

	var created api.Created
	if lim.Drop == nil {
		return "", 0, fmt.Errorf("%w: this server has no drop boxes", ErrProtocol)
	}
	if length > lim.Drop.MaxEntry {
		return "", 0, fmt.Errorf("%w: %d bytes sealed, the drop takes %d", ErrTooLarge, length, lim.Drop.MaxEntry)
	}
	body := &api.SubmitDrop{DropKey: dropKey(d), Length: length, ManageHash: protocol.B64Encode(mh[:])}
	price := protocol.PriceRequest{Kind: protocol.PriceSubmission, Scope: d.Route(), Manage: mh, Length: length, TTL: time.Duration(lim.Drop.TTL) * time.Second}
	if err := c.createPaid(ctx, c.dropAPI(api.DropPath(route, api.DropSubmissions)), body, price, lim.Drop.PriceFloor, lim.Price, api.PriceKindDrop, &created); err != nil {
		return "", 0, fmt.Errorf("client: submit: %w", err)
	}
	if created.ID == "" {
		return "", 0, fmt.Errorf("%w: submit answered no id", ErrProtocol)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(protocol.SealSubmission(pw, d, r, n)) }()
	defer pr.Close()
	if err := c.uploadTo(ctx, c.dropAPI(api.SubmissionPath(route, created.ID, api.SubmissionData)), manage[:], pr, length, lim.MaxAppend); err != nil {
		return "", 0, err
	}
	commit := api.CommitSubmission{DropKey: dropKey(d), Manage: protocol.B64Encode(manage[:])}
	req, err := c.postTo(ctx, c.dropAPI(api.SubmissionPath(route, created.ID, api.SubmissionCommit)), commit)
	if err != nil {
		return "", 0, fmt.Errorf("client: commit: %w", err)
	}
	if err := c.doJSON(req, http.StatusOK, &created); err != nil {
		return "", 0, fmt.Errorf("client: commit: %w", err)
	}
	return created.ID, expiresIn(created.ExpiresIn), nil
}
