package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// Note is an opened note.
type Note struct {
	Text  string
	Files []ReceivedFile
}

// ReceivedFile is a file of an opened note or submission, or one received in a chat. Name and
// Type are the sender's claims, shown as text and never trusted as a path or a type to
// execute.
type ReceivedFile struct {
	Name, Type string
	Data       []byte
}

// readerPIN is the PIN a reader's tokens use for a link with frag: "" when the link has no
// PIN (one typed anyway changes nothing), else the typed one normalised as the sender's was.
func readerPIN(frag protocol.Fragment, typed string) (string, error) {
	if frag.Flags&protocol.FlagPIN == 0 {
		return "", nil
	}
	if typed == "" {
		return "", ErrPINRequired
	}
	pin, err := protocol.NormalizePIN(typed)
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	return pin, nil
}

// aligned is the longest prefix of n received bytes that ends on a chunk boundary.
func aligned(n int64) int64 {
	if n < protocol.HeaderSize {
		return 0
	}
	return api.EnvelopeHeader + (n-api.EnvelopeHeader)/api.CipherChunk*api.CipherChunk
}

// OpenNote opens the note behind noteURL once: it claims it with a fresh nonce, downloads the
// ciphertext (resuming at a chunk boundary with the same claim after a broken connection),
// decrypts it, and confirms, which wipes it on the server. pin is "" for a note without PIN.
func (c *Client) OpenNote(ctx context.Context, noteURL, pin string) (*Note, error) {
	id, frag, err := c.parseLink(noteURL, api.PageNote)
	if err != nil {
		return nil, err
	}
	if pin, err = readerPIN(frag, pin); err != nil {
		return nil, err
	}
	K := frag.Secret[:]
	gate, open, destruct := protocol.ReaderTokens(K, pin)
	nonce, err := randomNonce()
	if err != nil {
		return nil, fmt.Errorf("client: random: %w", err)
	}
	claim := protocol.Hash(nonce[:])
	body := api.OpenNote{Gate: protocol.B64Encode(gate), Claim: protocol.B64Encode(claim[:])}
	if open != nil {
		body.Open = protocol.B64Encode(open)
		body.Destruct = protocol.B64Encode(destruct)
	}

	var buf bytes.Buffer
	defer func() { clear(buf.Bytes()) }()
	if err := downloadResuming(ctx, "open", &buf, aligned, func(have int64) (int64, error) {
		body.Offset = have // 0: absent
		return c.download(ctx, id, body, have, &buf)
	}); err != nil {
		return nil, err
	}

	m, files, err := protocol.OpenNote(bytes.NewReader(buf.Bytes()), K, pin)
	if err != nil {
		return nil, fmt.Errorf("client: decrypt: %w", err)
	}
	n := &Note{Text: m.Text}
	for i, f := range m.Files {
		n.Files = append(n.Files, ReceivedFile{Name: f.Name, Type: f.Type, Data: files[i]})
	}

	// Confirm only after everything decrypted: until then the claim may still resume.
	confirm := api.ConfirmNote{Gate: protocol.B64Encode(gate), Nonce: protocol.B64Encode(nonce[:])}
	return n, confirmRetrying(ctx, func() error {
		req, err := c.post(ctx, id, api.NoteConfirm, confirm)
		if err != nil {
			return err
		}
		return c.doJSON(req, http.StatusNoContent, nil)
	})
}

// downloadResuming downloads a claimed ciphertext into buf: attempt(have) asks for it from
// byte have on and appends what arrives; after a broken connection it asks again from the
// longest prefix that aligned keeps (a chunk boundary), with the same claim. what names the
// action in the error.
func downloadResuming(ctx context.Context, what string, buf *bytes.Buffer, aligned func(int64) int64, attempt func(have int64) (total int64, err error)) error {
	size := int64(-1)
	for tries := 0; ; tries++ {
		have := aligned(int64(buf.Len()))
		buf.Truncate(int(have))
		total, err := attempt(have)
		if err == nil {
			if size >= 0 && total != size {
				return fmt.Errorf("%w: size changed from %d to %d", ErrProtocol, size, total)
			}
			return nil
		}
		if total > 0 {
			size = total
		}
		if !retryable(ctx, err) || tries >= maxRetries {
			return fmt.Errorf("client: %s: %w", what, err)
		}
		if err := sleep(ctx, time.Duration(tries)*200*time.Millisecond); err != nil {
			return err
		}
	}
}

// confirmRetrying confirms a read (which wipes it on the server) with attempt, again after a
// broken connection. Gone on a retry means the answer to an earlier confirm was lost, and it
// wiped. A confirm that fails leaves the entry to the end of its claim window.
func confirmRetrying(ctx context.Context, attempt func() error) error {
	for tries := 0; ; tries++ {
		err := attempt()
		if err == nil || (tries > 0 && errors.Is(err, ErrGone)) {
			return nil
		}
		if !retryable(ctx, err) || tries >= maxRetries {
			return fmt.Errorf("client: confirm: %w", err)
		}
		if err := sleep(ctx, time.Duration(tries+1)*200*time.Millisecond); err != nil {
			return err
		}
	}
}

// download asks for the ciphertext from offset and appends what arrives to buf. It returns
// the total size the server announced and an error if the body broke off.
func (c *Client) download(ctx context.Context, id string, body api.OpenNote, offset int64, buf *bytes.Buffer) (int64, error) {
	req, err := c.post(ctx, id, api.NoteOpen, body)
	if err != nil {
		return 0, err
	}
	return c.receive(req, offset, buf)
}

// receive sends a request whose answer is ciphertext from offset (a note's open, a
// submission's fetch) and appends it to buf; see download.
func (c *Client) receive(req *http.Request, offset int64, buf *bytes.Buffer) (int64, error) {
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
		return 0, answerError(res.StatusCode, b)
	}
	total, err := strconv.ParseInt(res.Header.Get(api.HeaderSize), 10, 64)
	if err != nil || total < offset || res.ContentLength != total-offset {
		return 0, fmt.Errorf("%w: size %q, length %d, offset %d", ErrProtocol, res.Header.Get(api.HeaderSize), res.ContentLength, offset)
	}
	buf.Grow(int(total - offset))
	n, err := io.Copy(buf, res.Body)
	if err == nil && n != total-offset {
		err = io.ErrUnexpectedEOF
	}
	return total, err
}

// State is what the manage link may learn.
type State struct {
	State     string // "pending", "waiting", "opened" or "gone"
	ExpiresIn time.Duration
}

// Status asks how the note behind manageURL is doing.
func (c *Client) Status(ctx context.Context, manageURL string) (*State, error) {
	id, frag, err := c.parseLink(manageURL, api.PageManage)
	if err != nil {
		return nil, err
	}
	req, err := c.post(ctx, id, api.NoteStatus, api.Manage{Manage: protocol.B64Encode(frag.Secret[:])})
	if err != nil {
		return nil, fmt.Errorf("client: status: %w", err)
	}
	var v api.NoteState
	if err := c.doJSON(req, http.StatusOK, &v); err != nil {
		return nil, fmt.Errorf("client: status: %w", err)
	}
	return &State{State: v.State, ExpiresIn: expiresIn(v.ExpiresIn)}, nil
}

// Revoke wipes the note behind manageURL.
func (c *Client) Revoke(ctx context.Context, manageURL string) error {
	id, frag, err := c.parseLink(manageURL, api.PageManage)
	if err != nil {
		return err
	}
	req, err := c.post(ctx, id, api.NoteRevoke, api.Manage{Manage: protocol.B64Encode(frag.Secret[:])})
	if err != nil {
		return fmt.Errorf("client: revoke: %w", err)
	}
	if err := c.doJSON(req, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("client: revoke: %w", err)
	}
	return nil
}
