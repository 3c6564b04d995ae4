package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// File is an attachment to send: Size bytes are read once from R.
type File = protocol.FileInput

// Created is what CreateNote hands back: the two links and how long the note lives.
type Created struct {
	NoteURL   string // the reader's link: /n/<id>#<K, flags>
	ManageURL string // the sender's link: /m/<id>#<M>
	ExpiresIn time.Duration
}

// CreateNote seals text and files (with an optional PIN and duress PIN) and uploads the
// ciphertext as appends of the server's max_append, resuming after a broken connection.
// ttl 0 asks for the server's default.
func (c *Client) CreateNote(ctx context.Context, text string, files []File, pin, dpin string, ttl time.Duration) (*Created, error) {
	s, err := protocol.NewNoteSecrets(pin, dpin)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer s.Wipe() // the links returned below are the only copies the caller needs
	meta := make([]protocol.File, len(files))
	for i, f := range files {
		meta[i] = protocol.File{Name: f.Name, Type: f.Type, Size: f.Size}
	}
	length, err := protocol.SealedNoteLen(text, meta)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	lim, err := c.createLimits(ctx)
	if err != nil {
		return nil, err
	}
	if length > lim.MaxEntry {
		return nil, fmt.Errorf("%w: %d bytes sealed, the server takes %d", ErrTooLarge, length, lim.MaxEntry)
	}

	h := s.Hashes()
	up := &noteUpload{paidUpload: paidUpload{c: c, url: c.url(api.NoteUpload),
		price: protocol.PriceRequest{Kind: protocol.PriceNote, Manage: h.Manage, Length: length, TTL: priceTTL(ttl, lim.DefaultTTL)},
		token: lim.Price.Token}, manage: s.M[:], head: api.UploadNote{Length: length, GateHash: protocol.B64Encode(h.Gate[:]),
		DestructHash: protocol.B64Encode(h.Destruct[:]), Manage: protocol.B64Encode(s.M[:])}}
	up.bits = levelBits(lim.Price, api.PriceKindNote, length, up.price.TTL)
	up.setHead = func(off int64, hdr http.Header) { up.head.Offset = off; up.head.SetHeader(hdr) }
	up.payer = &up.head
	if h.PIN {
		up.head.OpenHash = protocol.B64Encode(h.Open[:])
	}
	if ttl != 0 {
		secs := int64(ttl / time.Second)
		up.head.TTL = &secs
	}

	// Seal straight into the upload: one piece of max_append is held until acknowledged.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(protocol.SealNote(pw, s, text, files)) }()
	defer pr.Close()
	if err := c.uploadWith(ctx, pr, length, lim.MaxAppend, up.send); err != nil {
		return nil, err
	}
	done := up.last
	if !done.Committed { // a server that did not commit with the last piece: ask it to
		req, err := c.post(ctx, up.id, api.NoteCommit, api.Manage{Manage: protocol.B64Encode(s.M[:])})
		if err != nil {
			return nil, fmt.Errorf("client: commit: %w", err)
		}
		var created api.Created
		if err := c.doJSON(req, http.StatusOK, &created); err != nil {
			return nil, fmt.Errorf("client: commit: %w", err)
		}
		done.ExpiresIn = created.ExpiresIn
	}
	return &Created{
		NoteURL:   c.url(api.PageNote+up.id) + "#" + s.Fragment().String(),
		ManageURL: c.url(api.PageManage+up.id) + "#" + s.ManageFragment().String(),
		ExpiresIn: expiresIn(done.ExpiresIn),
	}, nil
}

// paidUpload sends pieces to a route that creates its entry with the first one (a note's
// upload, a drop submission's), each with the create's headers (setHead) and, until the entry
// exists, the payment: the price the limits named, and again what a 402 asks (twice at
// most). Every piece to the upload route carries the token, paid or not: the server binds the
// entry's id to it and to the manage secret, so that a retry after a cut (the same route, the
// same token) finds the entry, and a copy sent after the token's window makes nothing.
type paidUpload struct {
	c       *Client
	url     string
	payer   api.Payer                      // the headers' payment
	setHead func(off int64, h http.Header) // writes the headers of a piece at off
	price   protocol.PriceRequest
	bits    int
	token   string
	id      string       // once the server named it
	last    api.Uploaded // the last answer
}

// send sends the piece b at off and returns what the server holds then.
func (u *paidUpload) send(ctx context.Context, off int64, b []byte) (int64, error) {
	for tries := 0; ; tries++ {
		if err := pay(ctx, u.payer, u.token, u.price, u.bits); err != nil {
			return 0, err
		}
		if u.bits <= 0 { // the token goes unpaid: the upload's id is bound to it
			u.payer.Pay(u.token, "")
		}
		hdr := http.Header{}
		u.setHead(off, hdr)
		received, err := u.c.sendPiece(ctx, u.url, hdr, off, b, &u.last)
		var pe *PriceError
		if errors.As(err, &pe) {
			u.c.forgetLimits() // the price they named is no longer the server's
		}
		if pe != nil && tries < 2 {
			u.bits, u.token = pe.Bits, pe.Token
			continue
		}
		if err == nil {
			if id, perr := protocol.B64Decode(u.last.ID); perr != nil || len(id) != 16 || (u.id != "" && u.last.ID != u.id) {
				return 0, fmt.Errorf("%w: upload answered the id %q", ErrProtocol, u.last.ID)
			}
			u.id = u.last.ID
			u.bits = 0 // the entry exists: a later piece or retry pays nothing
		}
		return received, err
	}
}

// noteUpload is a note's upload in progress (SECURITY.md, "HTTP API v1"): its pieces go to
// the upload route, which creates the note with the first, until the server names the id;
// then to the note's append route, each asking to commit, so that the last one commits it.
// A note of one piece is one request.
type noteUpload struct {
	paidUpload
	head   api.UploadNote
	manage []byte
}

// send sends the piece b at off and returns what the server holds then.
func (u *noteUpload) send(ctx context.Context, off int64, b []byte) (int64, error) {
	if u.id == "" {
		return u.paidUpload.send(ctx, off, b)
	}
	hdr := http.Header{}
	hdr.Set(api.HeaderManage, u.head.Manage)
	hdr.Set(api.HeaderOffset, itoa(off))
	hdr.Set(api.HeaderCommit, api.CommitYes)
	return u.c.sendPiece(ctx, u.c.note(u.id, api.NoteData), hdr, off, b, &u.last)
}

// upload sends length bytes of r as appends of at most piece bytes.
func (c *Client) upload(ctx context.Context, id string, manage []byte, r io.Reader, length, piece int64) error {
	return c.uploadTo(ctx, c.note(id, api.NoteData), manage, r, length, piece)
}

// uploadTo is upload to an append URL (a note's or a drop submission's: the same protocol).
func (c *Client) uploadTo(ctx context.Context, dataURL string, manage []byte, r io.Reader, length, piece int64) error {
	return c.uploadWith(ctx, r, length, piece, func(ctx context.Context, off int64, b []byte) (int64, error) {
		return c.appendOnce(ctx, dataURL, manage, off, b)
	})
}

// uploadWith sends length bytes of r in pieces of at most piece bytes, each through send (one
// request: the bytes b start at off; it returns what the server holds then), resuming after a
// broken connection from what the server says it holds.
func (c *Client) uploadWith(ctx context.Context, r io.Reader, length, piece int64, send func(ctx context.Context, off int64, b []byte) (int64, error)) error {
	buf := make([]byte, min(piece, length))
	defer clear(buf)
	for start := int64(0); start < length; {
		n, err := io.ReadFull(r, buf[:min(piece, length-start)])
		if err != nil {
			return fmt.Errorf("client: seal: %w", err)
		}
		end := start + int64(n)
		off, tries := start, 0
		for off < end {
			received, err := send(ctx, off, buf[off-start:n])
			var oe *offsetError
			var ae *APIError
			switch {
			case err == nil:
				off = received
			case errors.As(err, &oe):
				// The server has a different amount, e.g. a lost answer to an append that
				// arrived: continue from what it has, if that is within this piece.
				if oe.received < start || oe.received > end {
					return fmt.Errorf("%w: server has %d bytes, piece is %d..%d", ErrProtocol, oe.received, start, end)
				}
				off = oe.received
				tries++
			case errors.As(err, &ae) && ae.Code == "busy", retryable(ctx, err):
				// An earlier attempt may still be running on the server: wait, then retry.
				tries++
				if tries > maxRetries {
					return fmt.Errorf("client: append: %w", err)
				}
				if err := sleep(ctx, time.Duration(tries)*200*time.Millisecond); err != nil {
					return err
				}
			default:
				return fmt.Errorf("client: append: %w", err)
			}
			if tries > maxRetries {
				return fmt.Errorf("client: append: no progress at offset %d", off)
			}
		}
		start = end
	}
	// The sealer must have produced exactly the declared length.
	if n, _ := io.ReadFull(r, make([]byte, 1)); n != 0 {
		return fmt.Errorf("%w: sealed more than the declared length", ErrProtocol)
	}
	return nil
}

// closeWait is a request body that says when the transport is done with it. net/http may
// still be reading a body after Do returns (a lost or early answer): the caller must not
// reuse the bytes under it before Close.
type closeWait struct {
	*bytes.Reader
	once sync.Once
	done chan struct{}
}

func (w *closeWait) Close() error { w.once.Do(func() { close(w.done) }); return nil }

func (c *Client) appendOnce(ctx context.Context, dataURL string, manage []byte, off int64, b []byte) (int64, error) {
	hdr := http.Header{}
	hdr.Set(api.HeaderManage, protocol.B64Encode(manage))
	hdr.Set(api.HeaderOffset, itoa(off))
	var v api.Uploaded
	return c.sendPiece(ctx, dataURL, hdr, off, b, &v)
}

// sendPiece posts the ciphertext b, which starts at off, to u with the headers hdr, decodes
// the answer into v and returns what the server holds now.
func (c *Client) sendPiece(ctx context.Context, u string, hdr http.Header, off int64, b []byte, v *api.Uploaded) (int64, error) {
	body := &closeWait{Reader: bytes.NewReader(b), done: make(chan struct{})}
	req, err := c.request(ctx, u, api.Binary, body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = int64(len(b))
	// The transport always closes the body, also on errors; wait for it before b is reused.
	defer func() { <-body.done }()
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	*v = api.Uploaded{}
	if err := c.doJSON(req, http.StatusOK, v); err != nil {
		return 0, err
	}
	if v.Received <= off || v.Received > off+int64(len(b)) {
		return 0, fmt.Errorf("%w: received %d after sending %d at %d", ErrProtocol, v.Received, len(b), off)
	}
	return v.Received, nil
}
