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
	lim, err := c.Limits(ctx)
	if err != nil {
		return nil, err
	}
	if length > lim.MaxEntry {
		return nil, fmt.Errorf("%w: %d bytes sealed, the server takes %d", ErrTooLarge, length, lim.MaxEntry)
	}

	h := s.Hashes()
	body := &api.CreateNote{Length: length, GateHash: protocol.B64Encode(h.Gate[:]),
		DestructHash: protocol.B64Encode(h.Destruct[:]), ManageHash: protocol.B64Encode(h.Manage[:])}
	if h.PIN {
		body.OpenHash = protocol.B64Encode(h.Open[:])
	}
	if ttl != 0 {
		secs := int64(ttl / time.Second)
		body.TTL = &secs
	}
	var created api.Created
	price := protocol.PriceRequest{Kind: protocol.PriceNote, Manage: h.Manage, Length: length, TTL: priceTTL(ttl, lim.DefaultTTL)}
	bits := levelBits(lim.Price, api.PriceKindNote, length, price.TTL)
	if err := c.createPaid(ctx, c.note("", ""), body, price, bits, lim.Price.Token, &created); err != nil {
		return nil, fmt.Errorf("client: create: %w", err)
	}
	if created.ID == "" {
		return nil, fmt.Errorf("%w: create answered no id", ErrProtocol)
	}

	// Seal straight into the appends: one piece of max_append is held until acknowledged.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(protocol.SealNote(pw, s, text, files)) }()
	defer pr.Close()
	if err := c.upload(ctx, created.ID, s.M[:], pr, length, lim.MaxAppend); err != nil {
		return nil, err
	}

	req, err := c.post(ctx, created.ID, api.NoteCommit, api.Manage{Manage: protocol.B64Encode(s.M[:])})
	if err != nil {
		return nil, fmt.Errorf("client: commit: %w", err)
	}
	if err := c.doJSON(req, http.StatusOK, &created); err != nil {
		return nil, fmt.Errorf("client: commit: %w", err)
	}
	return &Created{
		NoteURL:   c.url(api.PageNote+created.ID) + "#" + s.Fragment().String(),
		ManageURL: c.url(api.PageManage+created.ID) + "#" + s.ManageFragment().String(),
		ExpiresIn: expiresIn(created.ExpiresIn),
	}, nil
}

// upload sends length bytes of r as appends of at most piece bytes.
func (c *Client) upload(ctx context.Context, id string, manage []byte, r io.Reader, length, piece int64) error {
	return c.uploadTo(ctx, c.note(id, api.NoteData), manage, r, length, piece)
}

// uploadTo is upload to an append URL (a note's or a drop submission's: the same protocol).
func (c *Client) uploadTo(ctx context.Context, dataURL string, manage []byte, r io.Reader, length, piece int64) error {
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
			received, err := c.appendOnce(ctx, dataURL, manage, off, buf[off-start:n])
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
	body := &closeWait{Reader: bytes.NewReader(b), done: make(chan struct{})}
	req, err := c.request(ctx, dataURL, api.Binary, body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = int64(len(b))
	// The transport always closes the body, also on errors; wait for it before b is reused.
	defer func() { <-body.done }()
	req.Header.Set(api.HeaderManage, protocol.B64Encode(manage))
	req.Header.Set(api.HeaderOffset, itoa(off))
	var v api.Received
	if err := c.doJSON(req, http.StatusOK, &v); err != nil {
		return 0, err
	}
	if v.Received <= off || v.Received > off+int64(len(b)) {
		return 0, fmt.Errorf("%w: received %d after appending %d at %d", ErrProtocol, v.Received, len(b), off)
	}
	return v.Received, nil
}
