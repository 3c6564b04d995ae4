// Package client is a Go client of sealdrop's HTTP API v1 (SECURITY.md). It seals notes
// with internal/protocol before a byte leaves the process and opens them after the whole
// ciphertext has arrived, so it never loads or trusts the server's JavaScript.
//
// What it protects: K, the PINs, the payload key and the plaintext never reach the server;
// only the tokens and hashes of SECURITY.md do. Uploads resume after a broken connection
// (409 with "received"), downloads resume at a chunk boundary with the same claim nonce.
//
// What it does not protect: it trusts the *http.Client it is given to reach the right server
// (over Tor, a SOCKS transport); decrypted notes are held in ordinary Go memory and are the
// caller's to handle.
package client

import (
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
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// Sentinel errors. A note that was read, expired, revoked, destroyed or never existed is
// ErrGone: the server does not say which.
var (
	ErrGone        = errors.New("client: gone")
	ErrFull        = errors.New("client: the server is full")
	ErrTooLarge    = errors.New("client: too large for this server")
	ErrLink        = errors.New("client: not a sealdrop link of this server")
	ErrPINRequired = errors.New("client: this note needs its PIN")
	ErrProtocol    = errors.New("client: unexpected answer from the server")
)

// WrongPINError is a refused PIN. TriesLeft is 0 on the last one; after it the note is gone.
type WrongPINError struct{ TriesLeft int }

func (e *WrongPINError) Error() string {
	return fmt.Sprintf("client: wrong PIN, %d tries left", e.TriesLeft)
}

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

// Client talks to one sealdrop server.
type Client struct {
	base   *url.URL
	origin string
	hc     *http.Client
}

// New returns a client for the server at baseURL ("http://xyz.onion" or a loopback URL)
// that sends its requests through hc (nil: http.DefaultClient).
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, origin: u.Scheme + "://" + u.Host, hc: hc}, nil
}

// Limits is what the server publishes at /api/v1/limits; Drop is present when the server
// has drop boxes.
type Limits = api.LimitsAnswer

// DropLimits are a drop submission's lifetime (seconds) and largest size.
type DropLimits = api.DropLimits

// Limits asks the server for its limits.
func (c *Client) Limits(ctx context.Context) (*Limits, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.origin+c.base.Path+api.Limits, nil)
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

// note is the URL of action on note id (id "" is the create).
func (c *Client) note(id, action string) string {
	if id == "" {
		return c.origin + c.base.Path + api.Notes
	}
	return c.origin + c.base.Path + api.NotePath(id, action)
}

// post sends a JSON body to an API path.
func (c *Client) post(ctx context.Context, id, action string, body any) (*http.Request, error) {
	return c.postTo(ctx, c.note(id, action), body)
}

// doJSON sends req and decodes a JSON answer with status want into v (v may be nil).
func (c *Client) doJSON(req *http.Request, want int, v any) error {
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
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

// offsetError is a 409 from append: the server has received bytes and wants the rest.
type offsetError struct{ received int64 }

func (e *offsetError) Error() string { return fmt.Sprintf("client: server has %d bytes", e.received) }

func expiresIn(s int64) time.Duration { return time.Duration(s) * time.Second }

// parseLink checks that link belongs to this server and has the given page prefix ("/n/"
// or "/m/"), and returns its id and fragment.
func (c *Client) parseLink(link, prefix string) (string, protocol.Fragment, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", protocol.Fragment{}, fmt.Errorf("%w: %v", ErrLink, err)
	}
	if u.Host != "" && (u.Scheme+"://"+u.Host) != c.origin {
		return "", protocol.Fragment{}, fmt.Errorf("%w: it points to %s", ErrLink, u.Scheme+"://"+u.Host)
	}
	id, ok := strings.CutPrefix(u.Path, c.base.Path+prefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", protocol.Fragment{}, fmt.Errorf("%w: path %q", ErrLink, u.Path)
	}
	parse := protocol.ParseFragment
	if prefix == api.PageManage {
		parse = protocol.ParseManageFragment // a manage link never carries flags
	}
	f, err := parse(u.Fragment)
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
