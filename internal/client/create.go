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
// ciphertext in pieces of the server's max_append, two on their way at once (uploadWith),
// resuming after a broken connection.
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
	head := api.UploadNote{Length: length, GateHash: protocol.B64Encode(h.Gate[:]),
		DestructHash: protocol.B64Encode(h.Destruct[:]), Manage: protocol.B64Encode(s.M[:])}
	if h.PIN {
		head.OpenHash = protocol.B64Encode(h.Open[:])
	}
	if ttl != 0 {
		secs := int64(ttl / time.Second)
		head.TTL = &secs
	}
	// Every piece goes to the upload route with the create's headers (SECURITY.md, "Pipelined
	// pieces"): the server finds the note by the manage secret and the token, and the piece
	// that completes it commits it.
	up := &paidUpload{c: c, url: c.url(api.NoteUpload), payer: &head,
		setHead: func(off int64, hdr http.Header) { head.Offset = off; head.SetHeader(hdr) },
		price:   protocol.PriceRequest{Kind: protocol.PriceNote, Manage: h.Manage, Length: length, TTL: priceTTL(ttl, lim.DefaultTTL)},
		token:   lim.Price.Token}
	up.bits = levelBits(lim.Price, api.PriceKindNote, length, up.price.TTL)

	// Seal straight into the upload: the pieces on their way are held until acknowledged.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(protocol.SealNote(pw, s, text, files)) }()
	defer pr.Close()
	if err := c.uploadWith(ctx, pr, length, lim.MaxAppend, up); err != nil {
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
// upload, a drop submission's), each with the create's headers (setHead), and the piece at
// offset 0 with the payment: the price the limits named, and again what a 402 asks (twice at
// most). Every piece carries the token, paid or not: the server binds the entry's id to it and
// to the manage secret, so that a later piece and a retry after a cut (the same route, the
// same token) find the entry, and a copy sent after the token's window makes nothing. Two
// pieces may be on their way at once (uploadWith): put runs beside the piece before it, so
// what the two share (the headers, the price) is behind mu; header and answered run in order.
type paidUpload struct {
	c       *Client
	url     string
	payer   api.Payer                      // the headers' payment
	setHead func(off int64, h http.Header) // writes the headers of a piece at off
	price   protocol.PriceRequest

	mu    sync.Mutex // bits, token, and the header setHead writes from
	bits  int
	token string

	id   string       // once the server named it
	last api.Uploaded // the last answer, in order
}

// header returns the headers of the piece at off. The payment of a piece at 0 is solved here,
// before the piece goes out, so that the piece sent behind it does not wait on the server for
// the proof of work.
func (u *paidUpload) header(ctx context.Context, off int64) (http.Header, error) {
	u.mu.Lock()
	bits, token := u.bits, u.token
	u.mu.Unlock()
	p := api.Payment{PriceToken: token} // the token always: the upload's id is bound to it
	if off == 0 {
		if err := pay(ctx, &p, token, u.price, bits); err != nil {
			return nil, err
		}
		if p.PriceToken == "" {
			p.PriceToken = token
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.payer.Pay(p.PriceToken, p.PriceNonce)
	hdr := http.Header{}
	u.setHead(off, hdr)
	return hdr, nil
}

// put sends the piece b at off with the headers hdr (of header) and returns the answer. A
// piece at 0 refused as unpaid (402) is paid as asked and sent again, twice at most.
func (u *paidUpload) put(ctx context.Context, hdr http.Header, off int64, b []byte) (api.Uploaded, error) {
	for tries := 0; ; tries++ {
		v, err := u.c.sendPiece(ctx, u.url, hdr, b)
		var pe *PriceError
		if errors.As(err, &pe) {
			u.c.forgetLimits() // the price they named is no longer the server's
		}
		if off != 0 || pe == nil || tries >= 2 {
			return v, err
		}
		u.mu.Lock()
		u.bits, u.token = pe.Bits, pe.Token
		u.mu.Unlock()
		if hdr, err = u.header(ctx, off); err != nil {
			return api.Uploaded{}, err
		}
	}
}

// answered takes a piece's answer, in order: the id it names must be the upload's.
func (u *paidUpload) answered(v api.Uploaded) error {
	if id, err := protocol.B64Decode(v.ID); err != nil || len(id) != 16 || (u.id != "" && v.ID != u.id) {
		return fmt.Errorf("%w: upload answered the id %q", ErrProtocol, v.ID)
	}
	u.id, u.last = v.ID, v
	u.mu.Lock()
	u.bits = 0 // the entry exists: a retry at 0 pays nothing
	u.mu.Unlock()
	return nil
}

// pieceSender is what uploadWith sends an upload's pieces with (paidUpload).
type pieceSender interface {
	// header returns the headers of the piece at off. It is called in order, one piece at a
	// time, before the piece goes out.
	header(ctx context.Context, off int64) (http.Header, error)
	// put sends one piece and returns the server's answer; two may run at once.
	put(ctx context.Context, hdr http.Header, off int64, b []byte) (api.Uploaded, error)
	// answered takes a piece's answer, in order.
	answered(v api.Uploaded) error
}

// DefaultUploadWindow is how many pieces of an upload are on their way at once unless
// WithUploadWindow says otherwise (SECURITY.md, "Pipelined pieces").
const DefaultUploadWindow = 2

// WithUploadWindow returns a copy of c that keeps n pieces of an upload (n ≥ 1) on their way
// at once; 1 sends them one at a time, each after the answer to the one before, as this client
// did before issue 17. Every ciphertext request closes its connection, so over Tor each piece
// pays a new stream's round trip; with 2 the next piece's stream is set up while the piece
// before it is still being sent.
func (c *Client) WithUploadWindow(n int) *Client {
	cc := *c
	cc.window = max(1, n)
	return &cc
}

// uploadWindow is how many pieces c keeps on their way at once.
func (c *Client) uploadWindow() int {
	if c.window > 0 {
		return c.window
	}
	return DefaultUploadWindow
}

// heldPiece is a piece read from the sealer, kept until the server holds all of it.
type heldPiece struct {
	start, end int64
	b          []byte
}

// pieceResult is a piece's request once it ended.
type pieceResult struct {
	v   api.Uploaded
	err error
}

// inFlight is a piece's request on its way.
type inFlight struct {
	start, end int64
	behind     bool // sent while the piece before it was on its way
	cancel     context.CancelFunc
	done       chan pieceResult
}

// uploadWith sends length bytes of r in pieces of at most piece bytes through s, with up to
// c's window of them on their way at once (SECURITY.md, "Pipelined pieces"): each piece is
// sent at the end of the one before, and the answers are read in order. When a piece fails
// (a cut, a 409), the pieces behind it are given up (their requests cancelled) and the upload
// goes on from what the server says it holds, within the pieces still held; a 409 "busy" or a
// cut is waited out with backoff. A refusal of a piece sent behind another is not final (it
// may have come before the one it follows began): it is sent again at the head. Only window
// pieces are held in memory, each until the server holds all of it.
func (c *Client) uploadWith(ctx context.Context, r io.Reader, length, piece int64, s pieceSender) error {
	window := c.uploadWindow()
	size := max(1, min(piece, length))
	free := make([][]byte, window)
	for i := range free {
		free[i] = make([]byte, size)
	}
	defer func() {
		for _, b := range free {
			clear(b)
		}
	}()
	var held []heldPiece // in order, from the piece that holds offset on
	read := int64(0)     // bytes read from r
	offset := int64(0)   // the server holds every byte before it
	var flight []*inFlight
	giveUp := func() {
		for _, f := range flight {
			f.cancel()
		}
		for _, f := range flight {
			<-f.done // its request's body is closed: its bytes may be reused
		}
		flight = nil
	}
	defer giveUp()
	// release hands back the buffers of the pieces the server holds whole.
	release := func() {
		for len(held) > 0 && held[0].end <= offset {
			clear(held[0].b)
			free = append(free, held[0].b[:cap(held[0].b)])
			held = held[1:]
		}
	}
	// pieceAt returns the held piece with the byte at, reading the next one when at is where
	// reading stopped.
	pieceAt := func(at int64) (heldPiece, error) {
		for _, p := range held {
			if p.start <= at && at < p.end {
				return p, nil
			}
		}
		if at != read || len(free) == 0 {
			return heldPiece{}, fmt.Errorf("%w: no piece held at %d", ErrProtocol, at)
		}
		b := free[len(free)-1]
		free = free[:len(free)-1]
		n, err := io.ReadFull(r, b[:min(piece, length-read)])
		if err != nil {
			free = append(free, b)
			return heldPiece{}, fmt.Errorf("client: seal: %w", err)
		}
		p := heldPiece{start: read, end: read + int64(n), b: b[:n]}
		held = append(held, p)
		read = p.end
		return p, nil
	}
	launch := func(at int64) error {
		p, err := pieceAt(at)
		if err != nil {
			return err
		}
		hdr, err := s.header(ctx, at)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithCancel(ctx)
		f := &inFlight{start: at, end: p.end, behind: len(flight) > 0, cancel: cancel, done: make(chan pieceResult, 1)}
		b := p.b[at-p.start:]
		go func() {
			v, err := s.put(rctx, hdr, at, b)
			f.done <- pieceResult{v, err}
		}()
		flight = append(flight, f)
		return nil
	}

	tries := 0
	for offset < length {
		next := offset
		if len(flight) > 0 {
			next = flight[len(flight)-1].end
		}
		for len(flight) < window && next < length {
			if err := launch(next); err != nil {
				return err
			}
			next = flight[len(flight)-1].end
		}
		f := flight[0]
		flight = flight[1:]
		res := <-f.done
		f.cancel()
		var oe *offsetError
		var ae *APIError
		switch err := res.err; {
		case err == nil:
			v := res.v
			// What the server holds now: past this piece's start and within it, or the whole
			// once committed (a retry whose first try's answer was lost, or that found the
			// piece behind it done).
			if !(v.Received > f.start && v.Received <= f.end) && !(v.Committed && v.Received == length) {
				return fmt.Errorf("%w: received %d after sending %d..%d", ErrProtocol, v.Received, f.start, f.end)
			}
			if err := s.answered(v); err != nil {
				return err
			}
			if v.Received != f.end {
				giveUp() // the server holds something else: go on from there
			}
			offset, tries = v.Received, 0
		case errors.As(err, &oe):
			// The server holds another amount (an answer lost on its way, a piece cut
			// mid-way): go on from there, if that is within the pieces still held.
			giveUp()
			if oe.received < offset {
				// What the server holds only grows: a smaller number is an answer made before
				// the piece in front was stored (it came while that one still ran), and the
				// server holds at least offset. Go on from there.
				oe.received = offset
			}
			if len(held) == 0 || oe.received < held[0].start || oe.received > read {
				return fmt.Errorf("%w: server has %d bytes, the pieces held are %d..%d", ErrProtocol, oe.received, offset, read)
			}
			offset = oe.received
			tries++
		case errors.As(err, &ae) && ae.Code == "busy", retryable(ctx, err):
			// An earlier try may still be running on the server, or the request was cut: wait,
			// then send again from where the server stands (a 409 says where that is).
			giveUp()
			tries++
			if tries > maxRetries {
				return fmt.Errorf("client: append: %w", err)
			}
			if err := sleep(ctx, time.Duration(tries)*200*time.Millisecond); err != nil {
				return err
			}
		case f.behind && ctx.Err() == nil:
			// Sent behind another piece, it may have come before that one began: send it
			// again, at the head.
			giveUp()
			tries++
			if tries > maxRetries {
				return fmt.Errorf("client: append: %w", err)
			}
		default:
			return fmt.Errorf("client: append: %w", err)
		}
		if tries > maxRetries {
			return fmt.Errorf("client: append: no progress at offset %d", offset)
		}
		release()
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

// sendPiece posts the ciphertext b to u with the headers hdr and returns the decoded answer.
func (c *Client) sendPiece(ctx context.Context, u string, hdr http.Header, b []byte) (api.Uploaded, error) {
	body := &closeWait{Reader: bytes.NewReader(b), done: make(chan struct{})}
	req, err := c.request(ctx, u, api.Binary, body)
	if err != nil {
		return api.Uploaded{}, err
	}
	req.ContentLength = int64(len(b))
	// The transport always closes the body, also on errors; wait for it before b is reused.
	defer func() { <-body.done }()
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	var v api.Uploaded
	err = c.doJSON(req, http.StatusOK, &v)
	return v, err
}
