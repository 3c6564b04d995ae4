package client

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/vault"
)

// Inbox reads a drop's submissions with its inbox link. Every action asks the server for a
// fresh challenge and answers it with a MAC under the inbox-auth key: no request can be
// replayed, and no bearer token exists.
type Inbox struct {
	c    *Client
	keys *protocol.DropKeys
}

// OpenInbox parses an inbox link of this server (checking that its route matches its keys),
// or a reply box's reply link (api.PageReply). Close wipes the copy of the private scalars it
// holds.
func (c *Client) OpenInbox(inboxLink string) (*Inbox, error) {
	route, frag, err := c.splitLink(inboxLink, api.PageInbox)
	reply := false
	if err != nil {
		var err2 error
		if route, frag, err2 = c.splitLink(inboxLink, api.PageReply); err2 != nil {
			return nil, err
		}
		reply = true
	}
	k, err := protocol.ParseInboxFragment(frag)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLink, err)
	}
	if reply && !k.IsReply() {
		k.Wipe()
		return nil, fmt.Errorf("%w: a reply link holds a reply box's keys", ErrLink)
	}
	if k.RouteID() != route {
		k.Wipe()
		return nil, fmt.Errorf("%w: the route does not match the keys", ErrLink)
	}
	return &Inbox{c: c, keys: k}, nil
}

// Close forgets the keys.
func (ib *Inbox) Close() { ib.keys.Wipe() }

// Route is the drop's route id.
func (ib *Inbox) Route() string { return ib.keys.RouteID() }

// DropLink is the drop link of this inbox (to publish again).
func (ib *Inbox) DropLink() string { return ib.c.dropLink(ib.keys.Public()) }

// proof asks for a challenge and returns the request body proving action on id with arg.
func (ib *Inbox) proof(ctx context.Context, action byte, id vault.ID, arg [32]byte) (*api.InboxRequest, error) {
	c := ib.c
	req, err := c.postTo(ctx, c.url(api.DropPath(ib.Route(), api.DropChallenge)), dropKey(&ib.keys.DropPublic))
	if err != nil {
		return nil, err
	}
	var ch api.Challenge
	if err := c.doJSON(req, http.StatusOK, &ch); err != nil {
		return nil, fmt.Errorf("client: challenge: %w", err)
	}
	n, err1 := protocol.B64Decode(ch.Challenge)
	sk, err2 := protocol.B64Decode(ch.ServerKey)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: challenge", ErrProtocol)
	}
	mac, err := ib.keys.InboxMAC(n, sk, action, id, arg)
	if err != nil {
		return nil, fmt.Errorf("%w: challenge: %w", ErrProtocol, err)
	}
	return &api.InboxRequest{DropKey: dropKey(&ib.keys.DropPublic), Challenge: ch.Challenge, MAC: protocol.B64Encode(mac)}, nil
}

// Pending is one submission waiting in the inbox.
type Pending struct {
	ID  string
	Age time.Duration // whole hours
	// Size is the ciphertext length rounded up to a power of two.
	Size int64
}

// Visit is one UTC day on which someone holding the inbox link listed it, and how many
// submissions were read after it (until the next visit).
type Visit struct {
	Day     string // "2006-01-02", UTC
	Fetched int
}

// Listing is the inbox's view. Visits is the theft signal: a day you did not visit, or more
// read after a visit than you read, means someone else holds the inbox link. Only a server
// restart clears it.
type Listing struct {
	Pending []Pending
	Waiting int  // submissions waiting in all (Pending may be one page of them)
	More    bool // more follow the last of Pending (ListAfter its id)
	Visits  []Visit
	// FetchedSinceList counts submissions someone claimed since the previous list from the
	// start; anyone's list resets it, so Visits is the signal to trust.
	FetchedSinceList int
	FetchedTotal     int
	ListsTotal       int
}

// List shows the first page (up to 100) of the submissions waiting, oldest first.
func (ib *Inbox) List(ctx context.Context) (*Listing, error) { return ib.ListAfter(ctx, "") }

// ListAfter shows the page of waiting submissions that follows the submission after ("" for
// the first page). An after that is no longer waiting lists from the oldest again.
func (ib *Inbox) ListAfter(ctx context.Context, after string) (*Listing, error) {
	var cursor vault.ID
	if after != "" {
		var err error
		if cursor, err = vault.ParseID(after); err != nil {
			return nil, fmt.Errorf("client: list: cursor: %w", ErrProtocol)
		}
	}
	body, err := ib.proof(ctx, protocol.DropActionList, cursor, [32]byte{})
	if err != nil {
		return nil, err
	}
	body.After = after // "": absent
	req, err := ib.c.postTo(ctx, ib.c.url(api.DropPath(ib.Route(), api.DropList)), body)
	if err != nil {
		return nil, err
	}
	var v api.Listing
	if err := ib.c.doJSON(req, http.StatusOK, &v); err != nil {
		return nil, fmt.Errorf("client: list: %w", err)
	}
	l := &Listing{Waiting: v.Pending, More: v.More, FetchedSinceList: v.FetchedSinceList, FetchedTotal: v.FetchedTotal, ListsTotal: v.ListsTotal}
	for _, s := range v.Submissions {
		l.Pending = append(l.Pending, Pending{ID: s.ID, Age: time.Duration(s.AgeHours) * time.Hour, Size: s.Size})
	}
	for _, x := range v.Visits {
		l.Visits = append(l.Visits, Visit{Day: x.Day, Fetched: x.Fetched})
	}
	return l, nil
}

// ListAll pages through every waiting submission, oldest first; the visit log and counters
// are the first page's. It stops when the server says no more follow or a page brings nothing
// new (a cursor read meanwhile restarts from the oldest, and ids already seen are skipped).
func (ib *Inbox) ListAll(ctx context.Context) (*Listing, error) {
	l, err := ib.List(ctx)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(l.Pending))
	for _, p := range l.Pending {
		seen[p.ID] = true
	}
	for more := l.More && len(l.Pending) > 0; more; {
		next, err := ib.ListAfter(ctx, l.Pending[len(l.Pending)-1].ID)
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, p := range next.Pending {
			if !seen[p.ID] {
				seen[p.ID] = true
				l.Pending = append(l.Pending, p)
				fresh++
			}
		}
		l.Waiting = next.Waiting
		more = next.More && fresh > 0
	}
	l.More = false
	return l, nil
}

// Received is an opened submission.
type Received struct {
	Text  string
	Files []ReceivedFile
	// ReplyBox is set when the source asked for a reply: pass it to Client.Reply.
	ReplyBox *protocol.DropPublic
}

// submissionAligned is the longest prefix of n received bytes that a fetch may resume after:
// the ephemeral key and envelope header, then whole chunks.
func submissionAligned(n int64) int64 {
	if n < api.SubmissionHead {
		return 0
	}
	return api.SubmissionHead + (n-api.SubmissionHead)/api.CipherChunk*api.CipherChunk
}

// Fetch reads submission id once: it claims it with a fresh nonce, downloads it (resuming at a
// chunk boundary with the same claim and a new challenge after a broken connection), decrypts
// it and confirms, which wipes it on the server.
func (ib *Inbox) Fetch(ctx context.Context, id string) (*Received, error) {
	vid, err := vault.ParseID(id)
	if err != nil {
		return nil, ErrGone
	}
	nonce, err := randomNonce()
	if err != nil {
		return nil, fmt.Errorf("client: random: %w", err)
	}
	claim := protocol.Hash(nonce[:])
	var buf bytes.Buffer
	defer func() { clear(buf.Bytes()) }()
	if err := downloadResuming(ctx, "fetch", &buf, submissionAligned, func(have int64) (int64, error) {
		// Each attempt proves the inbox key on a fresh challenge.
		body, err := ib.proof(ctx, protocol.DropActionFetch, vid, claim)
		if err != nil {
			return 0, err
		}
		body.Claim = protocol.B64Encode(claim[:])
		body.Offset = have // 0: absent
		req, err := ib.c.postTo(ctx, ib.c.url(api.SubmissionPath(ib.Route(), id, api.SubmissionFetch)), body)
		if err != nil {
			return 0, err
		}
		return ib.c.receive(req, have, &buf)
	}); err != nil {
		return nil, err
	}
	sub, err := protocol.OpenSubmission(bytes.NewReader(buf.Bytes()), ib.keys)
	if err != nil {
		return nil, fmt.Errorf("client: decrypt: %w", err)
	}
	rec := &Received{Text: sub.Text, ReplyBox: sub.ReplyBox}
	for i, f := range sub.Files {
		rec.Files = append(rec.Files, ReceivedFile{Name: f.Name, Type: f.Type, Data: sub.Data[i]})
	}
	// Confirm only after everything decrypted: until then the claim may still resume.
	return rec, confirmRetrying(ctx, func() error {
		body, err := ib.proof(ctx, protocol.DropActionConfirm, vid, claim)
		if err != nil {
			return err
		}
		body.Nonce = protocol.B64Encode(nonce[:])
		req, err := ib.c.postTo(ctx, ib.c.url(api.SubmissionPath(ib.Route(), id, api.SubmissionAck)), body)
		if err != nil {
			return err
		}
		return ib.c.doJSON(req, http.StatusNoContent, nil)
	})
}

// WipeAll wipes every submission of the drop (an emergency): it returns how many.
func (ib *Inbox) WipeAll(ctx context.Context) (int, error) {
	body, err := ib.proof(ctx, protocol.DropActionWipe, vault.ID{}, [32]byte{})
	if err != nil {
		return 0, err
	}
	req, err := ib.c.postTo(ctx, ib.c.url(api.DropPath(ib.Route(), api.DropWipe)), body)
	if err != nil {
		return 0, err
	}
	var v api.Wiped
	if err := ib.c.doJSON(req, http.StatusOK, &v); err != nil {
		return 0, fmt.Errorf("client: wipe: %w", err)
	}
	return v.Wiped, nil
}

// ReplyLink is the drop link of a reply box on this inbox's server (to save it for Reply).
func (ib *Inbox) ReplyLink(box *protocol.DropPublic) string { return ib.c.dropLink(box) }
