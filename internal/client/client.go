// Package client is the Go client of sealdrop's HTTP API v1 (SECURITY.md): one-time notes,
// drop boxes and one-time chats, on one HTTP core (client.go: the base URL, the
// *http.Client, the headers every request carries, and the mapping of the server's error
// answers to this package's errors). It seals notes and submissions with internal/protocol
// before a byte leaves the process and opens them after the whole ciphertext has arrived, and
// runs a chat's handshake and record layer itself, so it never loads or trusts the server's
// JavaScript.
//
// What it protects: K, the PINs, the payload key, a chat's Km, resume secret and traffic keys,
// and the plaintext never reach the server; only the tokens and hashes of SECURITY.md and
// opaque records do. Uploads resume after a broken connection (409 with "received"),
// downloads resume at a chunk boundary with the same claim nonce. A relay that swaps a chat's
// keys, forges, drops, reorders, replays or reflects records is detected (ChatEvent.Err;
// nothing of such a record is delivered).
//
// What it does not protect: it trusts the *http.Client it is given to reach the right server
// (over Tor, a SOCKS transport; a chat's WebSocket goes the same way, see Chat.Connect);
// decrypted notes and received messages are held in ordinary Go memory and are the caller's
// to handle.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// Sentinel errors, for notes, drops and chats alike. Whatever was read, expired, revoked,
// destroyed or never existed is ErrGone: the server does not say which.
var (
	ErrGone        = errors.New("client: gone")
	ErrFull        = errors.New("client: the server is full")
	ErrTooLarge    = errors.New("client: too large for this server")
	ErrLink        = errors.New("client: not a sealdrop link of this server")
	ErrPINRequired = errors.New("client: this link needs its PIN")
	ErrWrongPIN    = errors.New("client: wrong PIN")
	ErrProtocol    = errors.New("client: unexpected answer from the server")
	ErrEnded       = errors.New("client: the chat or room has ended")
)

// WrongPINError is a refused PIN. TriesLeft is 0 on the last one; after it the note or chat
// is gone. It is ErrWrongPIN for errors.Is.
type WrongPINError struct{ TriesLeft int }

func (e *WrongPINError) Error() string {
	return fmt.Sprintf("client: wrong PIN, %d tries left", e.TriesLeft)
}
func (e *WrongPINError) Unwrap() error { return ErrWrongPIN }

// APIError is any other error answer of the API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("client: server answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Retries bound how often one append or one download is retried after a network error.
const maxRetries = 5

// maxAnswer bounds a JSON answer (and an error answer's body) the client reads.
const maxAnswer = 64 << 10

// Client talks to one sealdrop server: notes, drops and chats.
type Client struct {
	base   *url.URL
	origin string
	hc     *http.Client

	now    func() time.Time // time.Now; tests move it
	kept   *keptLimits      // shared by the copies WithUploadWindow makes: the same server
	window int              // pieces of an upload on their way at once; 0: DefaultUploadWindow
}

// keptLimits are the limits a create was last sealed and priced by (createLimits).
type keptLimits struct {
	mu  sync.Mutex
	lim *Limits   // nil: none kept
	end time.Time // when lim's price token stops being accepted
}

// New returns a client for the server at baseURL ("http://xyz.onion" or a loopback URL)
// that sends its requests through hc (nil: http.DefaultClient). A chat's WebSocket is dialled
// through hc's transport too (see Chat.Connect).
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, origin: u.Scheme + "://" + u.Host, hc: hc, now: time.Now, kept: &keptLimits{}}, nil
}

// url is the URL of an API path or a page on this server.
func (c *Client) url(path string) string { return c.origin + c.base.Path + path }

// request is a POST of body (of media type contentType) to u, with the headers every request
// of this client carries: the Origin of the server, as its own pages send it.
func (c *Client) request(ctx context.Context, u, contentType string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, err
	}
	req.Header = c.header()
	req.Header.Set("Content-Type", contentType)
	return req, nil
}

// header is what every request (and a chat's WebSocket upgrade) carries.
func (c *Client) header() http.Header { return http.Header{"Origin": {c.origin}} }

// postTo is a POST of the JSON of body to u.
func (c *Client) postTo(ctx context.Context, u string, body any) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return c.request(ctx, u, api.JSON, bytes.NewReader(b))
}

// call posts the JSON of in to an API path and decodes the answer with status want into out
// (out may be nil).
func (c *Client) call(ctx context.Context, path string, in any, want int, out any) error {
	req, err := c.postTo(ctx, c.url(path), in)
	if err != nil {
		return err
	}
	return c.doJSON(req, want, out)
}

// doJSON sends req and decodes a JSON answer with status want into v (v may be nil).
func (c *Client) doJSON(req *http.Request, want int, v any) error {
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return answerError(res.StatusCode, b)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return nil
}

// answerError turns an error answer into the package's typed errors.
func answerError(status int, body []byte) error {
	e := api.ReadError(status, body)
	switch {
	case e.Matches(api.Unpaid) && e.Bits != nil:
		return &PriceError{Bits: *e.Bits, Token: e.Token}
	case e.Matches(api.Gone):
		return ErrGone
	case e.Matches(api.WrongPIN) && e.TriesLeft != nil:
		return &WrongPINError{TriesLeft: *e.TriesLeft}
	case status == api.Full.Status:
		return ErrFull
	case status == api.TooLarge.Status:
		return ErrTooLarge
	case e.Matches(api.Offset) && e.Received != nil:
		return &offsetError{received: *e.Received}
	}
	return &APIError{Status: status, Code: e.Code, Message: e.Message}
}

// Limits is what the server publishes at /api/v1/limits; Drop is present when the server
// has drop boxes.
type Limits = api.LimitsAnswer

// DropLimits are a drop submission's lifetime (seconds) and largest size.
type DropLimits = api.DropLimits

// Limits asks the server for its limits.
func (c *Client) Limits(ctx context.Context) (*Limits, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(api.Limits), nil)
	if err != nil {
		return nil, fmt.Errorf("client: limits: %w", err)
	}
	var l Limits
	if err := c.doJSON(req, http.StatusOK, &l); err != nil {
		return nil, fmt.Errorf("client: limits: %w", err)
	}
	if l.Version != api.Version || l.MaxAppend <= 0 || l.MaxEntry <= 0 {
		return nil, fmt.Errorf("%w: limits %+v", ErrProtocol, l)
	}
	return &l, nil
}

// limitsReuse is how much of its price token's life the limits a create used must have left to
// be used again: a create whose first piece is cut is sent again with the same token, and
// must still find it accepted (the server's windows are 5 minutes, a token lasts 5 to 10).
const limitsReuse = 2 * time.Minute

// createLimits returns the limits a note's or a submission's create is sealed and priced by:
// those fetched last while their price token has limitsReuse left, else fresh ones. Over Tor
// every request in sequence is a round trip through six relays, and the limits request was
// one of the four of a note sent and read (issue 17); the browser has its limits in the page,
// as this has them from the last create. A price that changed meanwhile costs the create a
// 402, which names the price and a fresh token (paidUpload.send), and drops these limits.
func (c *Client) createLimits(ctx context.Context) (*Limits, error) {
	k := c.kept
	k.mu.Lock()
	if k.lim != nil && k.end.Sub(c.now()) >= limitsReuse {
		l := *k.lim
		k.mu.Unlock()
		return &l, nil
	}
	k.mu.Unlock()
	asked := c.now()
	l, err := c.Limits(ctx)
	if err != nil {
		return nil, err
	}
	kept := *l
	k.mu.Lock()
	k.lim, k.end = &kept, asked.Add(time.Duration(l.Price.ExpiresIn)*time.Second)
	k.mu.Unlock()
	return l, nil
}

// forgetLimits drops the limits createLimits keeps: the server asked another price.
func (c *Client) forgetLimits() {
	c.kept.mu.Lock()
	c.kept.lim = nil
	c.kept.mu.Unlock()
}

// note is the URL of action on note id (id "" is the create).
func (c *Client) note(id, action string) string {
	if id == "" {
		return c.url(api.Notes)
	}
	return c.url(api.NotePath(id, action))
}

// post is a POST of the JSON of body to action on note id.
func (c *Client) post(ctx context.Context, id, action string, body any) (*http.Request, error) {
	return c.postTo(ctx, c.note(id, action), body)
}

// offsetError is a 409 from append: the server has received bytes and wants the rest.
type offsetError struct{ received int64 }

func (e *offsetError) Error() string { return fmt.Sprintf("client: server has %d bytes", e.received) }

func expiresIn(s int64) time.Duration { return time.Duration(s) * time.Second }

// splitLink checks that link is of this server (or a path on it) with the page prefix ("/n/",
// "/m/", "/c/", "/d/", "/i/") and returns the id or route after it, and the fragment.
func (c *Client) splitLink(link, prefix string) (string, string, error) {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrLink, err)
	}
	if u.Host != "" && (u.Scheme+"://"+u.Host) != c.origin {
		return "", "", fmt.Errorf("%w: it points to %s", ErrLink, u.Scheme+"://"+u.Host)
	}
	id, ok := strings.CutPrefix(u.Path, c.base.Path+prefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", "", fmt.Errorf("%w: path %q", ErrLink, u.Path)
	}
	return id, u.Fragment, nil
}

// parseLink is splitLink for a link whose fragment is a secret and flags (a note's or a
// chat's) or a manage secret ("/m/"), parsed.
func (c *Client) parseLink(link, prefix string) (string, protocol.Fragment, error) {
	id, frag, err := c.splitLink(link, prefix)
	if err != nil {
		return "", protocol.Fragment{}, err
	}
	parse := protocol.ParseFragment
	if prefix == api.PageManage {
		parse = protocol.ParseManageFragment // a manage link never carries flags
	}
	f, err := parse(frag)
	if err != nil {
		return "", protocol.Fragment{}, fmt.Errorf("%w: %w", ErrLink, err)
	}
	return id, f, nil
}

func randomNonce() ([32]byte, error) {
	var b [32]byte
	_, err := rand.Read(b[:])
	return b, err
}

// retryable reports whether err is a broken connection worth another attempt, rather than
// an answer of the server or a cancelled context.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ae *APIError
	var pe *WrongPINError
	var oe *offsetError
	var price *PriceError
	return !errors.As(err, &ae) && !errors.As(err, &pe) && !errors.As(err, &oe) && !errors.As(err, &price) &&
		!errors.Is(err, ErrGone) && !errors.Is(err, ErrFull) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrProtocol)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
