// Package chatclient is a Go client of sealdrop's one-time chat (SECURITY.md, "One-time
// chat"): it starts or joins a chat over the HTTP API, relays records over the WebSocket and
// runs the handshake and record layer of internal/protocol. The future CLI builds on it.
//
// What it protects: K, Km, the PIN, the resume secret, the traffic keys and every message stay
// in this process; the server gets only the tokens and hashes of the spec and opaque records.
// A relay that swaps keys, forges, drops, reorders, replays or reflects records is detected
// (the errors are returned by Receive; nothing of such a record is delivered).
//
// What it does not protect: it trusts the dialer and *http.Client it is given to reach the
// right server (over Tor, a SOCKS transport); received messages are ordinary Go memory.
package chatclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// Sentinel errors.
var (
	ErrGone     = errors.New("chatclient: gone")
	ErrFull     = errors.New("chatclient: the server is full")
	ErrWrongPIN = errors.New("chatclient: wrong PIN")
	ErrLink     = errors.New("chatclient: not a chat link of this server")
	ErrProtocol = errors.New("chatclient: unexpected answer from the server")
	ErrEnded    = errors.New("chatclient: the chat has ended")
)

// WrongPINError carries the tries left.
type WrongPINError struct{ TriesLeft int }

func (e *WrongPINError) Error() string {
	return fmt.Sprintf("chatclient: wrong PIN, %d tries left", e.TriesLeft)
}
func (e *WrongPINError) Unwrap() error { return ErrWrongPIN }

// Client talks to one server.
type Client struct {
	base   *url.URL
	origin string
	hc     *http.Client
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New returns a client for baseURL; dial (nil: net.Dialer) carries the WebSocket, hc (nil:
// http.DefaultClient) the HTTP calls. Over Tor both go through the SOCKS port.
func New(baseURL string, hc *http.Client, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("chatclient: base URL %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	return &Client{base: u, origin: u.Scheme + "://" + u.Host, hc: hc, dial: dial}, nil
}

func (c *Client) post(ctx context.Context, path string, in, out any) (int, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.origin+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", api.JSON)
	req.Header.Set("Origin", c.origin)
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("chatclient: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode >= 300 {
		return res.StatusCode, answerError(res.StatusCode, body)
	}
	if out != nil && json.Unmarshal(body, out) != nil {
		return res.StatusCode, ErrProtocol
	}
	return res.StatusCode, nil
}

// answerError turns an error answer into the package's errors.
func answerError(status int, body []byte) error {
	e := api.ReadError(status, body)
	switch {
	case status == api.Gone.Status:
		return ErrGone
	case status == api.Full.Status:
		return ErrFull
	case e.Matches(api.WrongPIN):
		return &WrongPINError{TriesLeft: deref(e.TriesLeft)}
	case e.Matches(api.Unpaid) && e.Bits != nil:
		return &PriceError{Bits: *e.Bits, Token: e.Token}
	case status == api.WrongPIN.Status, status == api.Unpaid.Status:
		return fmt.Errorf("%w: %d", ErrProtocol, status)
	}
	return fmt.Errorf("%w: %d %s", ErrProtocol, status, body)
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// PriceError is a create the server refused as unpaid (402): the price it asks now and a token
// to pay it with. Start pays it by itself; this reaches the caller only when the price kept
// rising or was more than maxPriceBits.
type PriceError struct {
	Bits  int
	Token string
}

func (e *PriceError) Error() string {
	return fmt.Sprintf("chatclient: the server asks a proof of work of %d bits", e.Bits)
}

// ChatPriceLength is the size a chat is priced at (chat.PriceLength), and DefaultLinkTTL the
// lifetime a link is priced at when Start asks none (chat.DefaultTTL, the server's default).
const (
	ChatPriceLength = 8 << 10
	DefaultLinkTTL  = 24 * time.Hour
)

// maxPriceBits is the most Start pays by itself (about a minute of native hashing at most).
const maxPriceBits = 30

// StartOptions configure a new chat.
type StartOptions struct {
	PIN, DestructPIN string
	TTL              time.Duration // 0: the server's default
}

// Chat is one side of a chat. Its methods are safe for concurrent use.
type Chat struct {
	c        *Client
	ID       string
	id       [16]byte
	Role     byte
	Link     string // the creator's chat link (with K in the fragment); "" for the joiner
	token    []byte
	manage   []byte
	km       []byte
	resume   []byte
	epoch    uint32
	mu       sync.Mutex
	ws       *websocket.Conn
	wmu      sync.Mutex
	hs       *protocol.ChatHandshake
	peerOf   *protocol.ChatHandshake // the handshake that has taken a peer hello
	sendMu   sync.Mutex
	sess     *protocol.ChatSession
	ready    chan struct{}
	events   chan Event
	lastSeq  int64
	waiters  []chan sendReply // one per record written on the socket, in order (nil: nobody waits)
	closed   chan struct{}
	closeErr error

	// The POST fallback (SECURITY.md, "Transport"): used once the socket failed WSFailures
	// times in a row, or from the start by ConnectPoll.
	poll       bool
	wsFailures int
	openedAt   time.Time
	stopPoll   context.CancelFunc
}

// WSFailures is how many failed or quickly dropped sockets in a row make Connect use the
// POST fallback; a socket that lived less than dropWindow counts as failed.
const (
	WSFailures = 2
	dropWindow = 15 * time.Second
)

type sendReply struct {
	seq uint64
	err string
}

// Event is what Receive returns: a text, a whole file, the end, or an error about a record
// that was refused (the chat goes on).
type Event struct {
	Text  string
	File  *File
	Ended string // the server's reason, once the chat ended
	Err   error  // a refused record: ErrChatReplay, ErrChatOrder, ... of internal/protocol
	Peer  *bool  // the other side connected (true) or left (false)
}

// File is a received file.
type File struct {
	Name, Type string
	Data       []byte
}

// Start creates a chat and returns the creator's side, not yet connected.
func (c *Client) Start(ctx context.Context, opt StartOptions) (*Chat, error) {
	s, err := protocol.NewNoteSecrets(opt.PIN, opt.DestructPIN)
	if err != nil {
		return nil, err
	}
	h := s.Hashes()
	body := api.CreateChat{GateHash: protocol.B64Encode(h.Gate[:]), DestructHash: protocol.B64Encode(h.Destruct[:]),
		ManageHash: protocol.B64Encode(h.Manage[:])}
	if h.PIN {
		body.OpenHash = protocol.B64Encode(h.Open[:])
	}
	if opt.TTL > 0 {
		ttl := int64(opt.TTL / time.Second)
		body.TTL = &ttl
	}
	var out api.ChatCreated
	// Free while the server has room: when it is more than half full its answer says what to
	// pay (for the link's lifetime, the server's default when none is asked), and Start pays.
	for tries := 0; ; tries++ {
		_, err := c.post(ctx, api.Chats, body, &out)
		var pe *PriceError
		if !errors.As(err, &pe) || tries == 2 || pe.Bits > maxPriceBits {
			if err != nil {
				return nil, err
			}
			break
		}
		tok, derr := protocol.B64Decode(pe.Token)
		if derr != nil || len(tok) != protocol.PriceTokenSize {
			return nil, fmt.Errorf("%w: price token", ErrProtocol)
		}
		ttl := opt.TTL
		if ttl <= 0 {
			ttl = DefaultLinkTTL
			secs := int64(ttl / time.Second)
			body.TTL = &secs // the lifetime paid for, named
		}
		pr := protocol.PriceRequest{Kind: protocol.PriceChat, Manage: h.Manage, Length: ChatPriceLength, TTL: ttl}
		nonce, serr := protocol.SolvePrice(ctx, tok, pr, pe.Bits)
		if serr != nil {
			return nil, serr
		}
		body.Pay(pe.Token, protocol.B64Encode(nonce[:]))
	}
	var P []byte
	if s.PIN != "" {
		P = protocol.StretchPIN(s.K[:], s.PIN)
	}
	ch, err := c.newChat(out.ID, protocol.ChatRoleCreator, out.Session, protocol.ChatMACKey(s.K[:], P))
	if err != nil {
		return nil, err
	}
	ch.manage = bytes.Clone(s.M[:])
	ch.Link = c.origin + api.PageChat + out.ID + "#" + s.Fragment().String()
	return ch, nil
}

func (c *Client) newChat(id string, role byte, token string, km []byte) (*Chat, error) {
	raw, err := protocol.B64Decode(id)
	if err != nil || len(raw) != 16 {
		return nil, ErrProtocol
	}
	tok, err := protocol.B64Decode(token)
	if err != nil || len(tok) != 32 {
		return nil, ErrProtocol
	}
	ch := &Chat{c: c, ID: id, Role: role, token: tok, km: km, ready: make(chan struct{}),
		events: make(chan Event, 256), lastSeq: -1, closed: make(chan struct{})}
	copy(ch.id[:], raw)
	return ch, nil
}

// Join claims the chat of link (typed PIN when the link says one is needed).
func (c *Client) Join(ctx context.Context, link, pin string) (*Chat, error) {
	u, err := url.Parse(link)
	if err != nil || u.Scheme+"://"+u.Host != c.origin || !strings.HasPrefix(u.Path, api.PageChat) {
		return nil, ErrLink
	}
	id := strings.TrimPrefix(u.Path, api.PageChat)
	f, err := protocol.ParseFragment(u.Fragment)
	if err != nil {
		return nil, ErrLink
	}
	K := f.Secret[:]
	body := api.JoinChat{Gate: protocol.B64Encode(protocol.GateToken(K))}
	var P []byte
	if f.Flags&protocol.FlagPIN != 0 {
		if pin == "" {
			return nil, &WrongPINError{TriesLeft: -1}
		}
		P = protocol.StretchPIN(K, pin)
		body.Open = protocol.B64Encode(protocol.OpenToken(K, P))
		body.Destruct = protocol.B64Encode(protocol.DestructToken(K, P))
	}
	var out api.ChatJoined
	if _, err := c.post(ctx, api.ChatPath(id, api.ChatJoin), body, &out); err != nil {
		return nil, err
	}
	return c.newChat(id, protocol.ChatRoleJoiner, out.Session, protocol.ChatMACKey(K, P))
}

// Revoke ends the creator's chat, joined or not.
func (ch *Chat) Revoke(ctx context.Context) error {
	if ch.manage == nil {
		return ErrLink
	}
	_, err := ch.c.post(ctx, api.ChatPath(ch.ID, api.ChatRevoke), api.Manage{Manage: protocol.B64Encode(ch.manage)}, nil)
	return err
}

// Token is the session token (tests and the CLI's resume).
func (ch *Chat) Token() []byte { return bytes.Clone(ch.token) }

// Connect opens the WebSocket and starts a handshake (a new epoch when this side already
// completed one: a reconnect after a crash or a reload). It returns once the socket is open;
// WaitReady waits for the handshake. When the socket cannot be opened (or dropped soon after
// opening) WSFailures times in a row, it uses the POST fallback instead, for good.
func (ch *Chat) Connect(ctx context.Context) error {
	ch.mu.Lock()
	if !ch.openedAt.IsZero() && time.Since(ch.openedAt) < dropWindow {
		ch.wsFailures++ // the last socket dropped soon after opening
	}
	ch.openedAt = time.Time{}
	poll := ch.poll || ch.wsFailures >= WSFailures
	ch.mu.Unlock()
	if poll {
		return ch.ConnectPoll(ctx)
	}
	for {
		err := ch.connectWS(ctx)
		if err == nil || errors.Is(err, ErrGone) || ctx.Err() != nil {
			return err
		}
		ch.mu.Lock()
		ch.wsFailures++
		poll = ch.wsFailures >= WSFailures
		ch.mu.Unlock()
		if poll {
			return ch.ConnectPoll(ctx)
		}
	}
}

// Polling reports whether this side uses the POST fallback.
func (ch *Chat) Polling() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.poll
}

func (ch *Chat) connectWS(ctx context.Context) error {
	u := *ch.c.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = api.ChatPath(ch.ID, api.ChatWS)
	d := websocket.Dialer{NetDialContext: ch.c.dial, HandshakeTimeout: 2 * time.Minute,
		Subprotocols: []string{api.Subprotocol, api.SubprotocolPrefix + protocol.B64Encode(ch.token)}}
	hdr := http.Header{"Origin": {ch.c.origin}}
	conn, res, err := d.DialContext(ctx, u.String(), hdr)
	if err != nil {
		if res != nil && res.StatusCode == api.Gone.Status {
			return ErrGone
		}
		return fmt.Errorf("chatclient: connect: %w", err)
	}
	ch.mu.Lock()
	ch.ws = conn
	ch.openedAt = time.Now()
	ch.reset()
	ch.mu.Unlock()
	if err := ch.restart(); err != nil {
		return err
	}
	ch.mu.Lock()
	closed := ch.closed
	ch.mu.Unlock()
	go ch.readLoop(conn, closed)
	return nil
}

// reset forgets the last connection's handshake and session. Called with ch.mu held.
func (ch *Chat) reset() {
	ch.sess = nil
	ch.hs = nil
	ch.ready = make(chan struct{})
	ch.closed = make(chan struct{})
	ch.closeErr = nil
	ch.waiters = nil
}

// ConnectPoll starts the POST fallback (send, poll, end) instead of a socket, with a new
// handshake as Connect does.
func (ch *Chat) ConnectPoll(ctx context.Context) error {
	pctx, cancel := context.WithCancel(context.Background())
	ch.mu.Lock()
	if ch.stopPoll != nil {
		ch.stopPoll()
	}
	ch.poll = true
	ch.stopPoll = cancel
	ch.reset()
	closed := ch.closed
	ch.mu.Unlock()
	if err := ch.restart(); err != nil {
		cancel()
		return err
	}
	go ch.pollLoop(pctx, closed)
	return nil
}

// restart begins a new handshake and sends its hello. Called without ch.mu.
func (ch *Chat) restart() error {
	ch.mu.Lock()
	hs, hello, err := protocol.NewChatHandshake(ch.id, ch.Role, ch.km, ch.resume, ch.epoch)
	if err == nil {
		ch.hs = hs
	}
	ch.mu.Unlock()
	if err != nil {
		return err
	}
	return ch.writeBinary(hello)
}

// writeBinary relays a handshake record without waiting for the server's answer.
func (ch *Chat) writeBinary(b []byte) error {
	_, err := ch.writeRecord(context.Background(), b, nil)
	return err
}

// writeRecord relays one record. On the socket the server's answer comes later, to reply (in
// the order of writes); on the fallback it is the POST's answer, returned at once.
func (ch *Chat) writeRecord(ctx context.Context, b []byte, reply chan sendReply) (*sendReply, error) {
	ch.wmu.Lock()
	defer ch.wmu.Unlock()
	ch.mu.Lock()
	ws, poll := ch.ws, ch.poll
	if !poll && ws != nil {
		ch.waiters = append(ch.waiters, reply)
	}
	ch.mu.Unlock()
	if poll {
		r, err := ch.postRecord(ctx, b)
		return &r, err
	}
	if ws == nil {
		return nil, ErrEnded
	}
	_ = ws.SetWriteDeadline(time.Now().Add(time.Minute))
	return nil, ws.WriteMessage(websocket.BinaryMessage, b)
}

// postRecord is the fallback's send: the server's answer as the socket would give it.
func (ch *Chat) postRecord(ctx context.Context, b []byte) (sendReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ch.c.origin+api.ChatPath(ch.ID, api.ChatSend), bytes.NewReader(b))
	if err != nil {
		return sendReply{}, err
	}
	req.Header.Set("Content-Type", api.Binary)
	req.Header.Set(api.HeaderSession, protocol.B64Encode(ch.token))
	req.Header.Set("Origin", ch.c.origin)
	res, err := ch.c.hc.Do(req)
	if err != nil {
		return sendReply{}, fmt.Errorf("chatclient: send: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	switch res.StatusCode {
	case http.StatusOK:
		var out api.ChatSent
		if json.Unmarshal(body, &out) != nil {
			return sendReply{}, ErrProtocol
		}
		return sendReply{seq: out.Seq}, nil
	case api.Gone.Status:
		ch.endPoll("ended")
		return sendReply{}, ch.err()
	case api.TooMany.Status:
		return sendReply{err: api.CodeBusy}, nil
	case api.Full.Status:
		return sendReply{err: api.CodeFull}, nil
	case api.TooLarge.Status:
		return sendReply{err: api.CodeTooLarge}, nil
	}
	return sendReply{}, fmt.Errorf("%w: %d", ErrProtocol, res.StatusCode)
}

// endPoll closes the fallback: the chat is gone (the fallback does not say why).
func (ch *Chat) endPoll(reason string) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	select {
	case <-ch.closed:
		return
	default:
	}
	if ch.closeErr == nil {
		ch.closeErr = &EndedError{Reason: reason}
	}
	close(ch.closed)
	if ch.stopPoll != nil {
		ch.stopPoll()
	}
}

// pollLoop is the fallback's receive side: each poll acknowledges what arrived and waits
// for the next record.
func (ch *Chat) pollLoop(ctx context.Context, closed chan struct{}) {
	files := map[uint32]*fileIn{}
	var peer *bool
	failures := 0
	for ctx.Err() == nil {
		body := api.ChatSession{Session: protocol.B64Encode(ch.token), Wait: true}
		if ch.lastSeq >= 0 {
			ack := uint64(ch.lastSeq)
			body.Ack = &ack
		}
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ch.c.origin+api.ChatPath(ch.ID, api.ChatPoll), bytes.NewReader(b))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", api.JSON)
		req.Header.Set("Origin", ch.c.origin)
		res, err := ch.c.hc.Do(req)
		if err != nil {
			if failures++; failures > 5 || ctx.Err() != nil {
				ch.closeWith(closed, fmt.Errorf("chatclient: poll: %w", err))
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		failures = 0
		rec, rerr := io.ReadAll(io.LimitReader(res.Body, protocol.ChatMaxRecord+1))
		res.Body.Close()
		switch res.StatusCode {
		case api.Gone.Status:
			ch.emit(Event{Ended: "ended"})
			ch.endPoll("ended")
			return
		case http.StatusOK, http.StatusNoContent:
		default:
			ch.closeWith(closed, fmt.Errorf("%w: poll %d", ErrProtocol, res.StatusCode))
			return
		}
		if p := res.Header.Get(api.HeaderPeer) == "1"; peer == nil || *peer != p {
			peer = &p
			ch.emit(Event{Peer: &p})
		}
		if res.StatusCode == http.StatusNoContent || rerr != nil {
			continue
		}
		seq, err := strconv.ParseInt(res.Header.Get(api.HeaderSeq), 10, 64)
		if err != nil || seq < 0 {
			ch.closeWith(closed, ErrProtocol)
			return
		}
		if seq > ch.lastSeq {
			ch.lastSeq = seq
			ch.handle(rec, files)
		}
	}
}

// closeWith ends a transport that failed (not the chat): a later Connect may try again.
func (ch *Chat) closeWith(closed chan struct{}, err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.closed != closed {
		return
	}
	select {
	case <-closed:
		return
	default:
	}
	if ch.closeErr == nil {
		ch.closeErr = err
	}
	close(closed)
}

func (ch *Chat) writeJSON(v any) error {
	ch.wmu.Lock()
	defer ch.wmu.Unlock()
	ch.mu.Lock()
	ws := ch.ws
	ch.mu.Unlock()
	if ws == nil {
		return ErrEnded
	}
	_ = ws.SetWriteDeadline(time.Now().Add(time.Minute))
	return ws.WriteJSON(v)
}

// WaitReady waits until the handshake completed and returns the safety code.
func (ch *Chat) WaitReady(ctx context.Context) (string, error) {
	ch.mu.Lock()
	ready, closed := ch.ready, ch.closed
	ch.mu.Unlock()
	select {
	case <-ready:
		return protocol.ChatSafetyCode(ch.resume), nil
	case <-closed:
		return "", ch.err()
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (ch *Chat) err() error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.closeErr != nil {
		return ch.closeErr
	}
	return ErrEnded
}

// Epoch is the current epoch (0 before the first handshake).
func (ch *Chat) Epoch() uint32 {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.epoch
}

type control = api.Control

// fileMeta is the body of a chat's file-begin message (inside the sealed record).
type fileMeta struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	Type string `json:"type"`
}

func (ch *Chat) emit(e Event) {
	select {
	case ch.events <- e:
	default: // a caller that never reads loses events, not the connection
	}
}

type fileIn struct {
	name, typ string
	size      int64
	data      []byte
}

func (ch *Chat) readLoop(conn *websocket.Conn, closed chan struct{}) {
	files := map[uint32]*fileIn{}
	defer func() {
		ch.mu.Lock()
		if ch.ws == conn {
			ch.ws = nil
		}
		select {
		case <-closed:
		default:
			close(closed)
		}
		ch.mu.Unlock()
		_ = conn.Close()
	}()
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if typ == websocket.TextMessage {
			var m control
			if json.Unmarshal(msg, &m) != nil {
				continue
			}
			switch m.T {
			case api.ControlPeer, api.ControlNoPeer:
				p := m.T == api.ControlPeer
				ch.emit(Event{Peer: &p})
			case api.ControlSent, api.ControlError:
				r := sendReply{err: m.Error}
				if m.T == api.ControlSent {
					if m.Seq == nil {
						continue
					}
					r = sendReply{seq: *m.Seq}
				}
				ch.mu.Lock()
				var w chan sendReply
				if len(ch.waiters) > 0 {
					w, ch.waiters = ch.waiters[0], ch.waiters[1:]
				}
				ch.mu.Unlock()
				if w != nil {
					w <- r // buffered: SendRecord may have given up waiting
				}
			case api.ControlEnd:
				ch.mu.Lock()
				ch.closeErr = &EndedError{Reason: m.Reason}
				ch.mu.Unlock()
				ch.emit(Event{Ended: m.Reason})
				return
			}
			continue
		}
		if len(msg) < 8 {
			continue
		}
		seq := int64(binary.BigEndian.Uint64(msg))
		rec := msg[8:]
		if seq > ch.lastSeq {
			ch.lastSeq = seq
			ch.handle(rec, files)
		}
		s := uint64(seq)
		_ = ch.writeJSON(control{T: api.ControlAck, Seq: &s})
	}
}

// EndedError is returned once the chat ended; Reason is the server's.
type EndedError struct{ Reason string }

func (e *EndedError) Error() string { return "chatclient: the chat has ended (" + e.Reason + ")" }
func (e *EndedError) Unwrap() error { return ErrEnded }

func (ch *Chat) handle(rec []byte, files map[uint32]*fileIn) {
	switch protocol.ChatRecordType(rec) {
	case protocol.ChatRecordHello:
		ch.mu.Lock()
		hs := ch.hs
		ch.mu.Unlock()
		if e, err := protocol.ChatHelloEpoch(rec); err != nil || (hs != nil && ch.resume != nil && e < hs.Proposal() && ch.sessNil()) {
			return // queued before the other side reconnected
		}
		if hs == nil || ch.peered(hs) {
			if err := ch.restart(); err != nil {
				return
			}
		}
		ch.mu.Lock()
		hs = ch.hs
		ch.mu.Unlock()
		conf, err := hs.Peer(rec)
		if err != nil {
			ch.emit(Event{Err: err})
			return
		}
		ch.mu.Lock()
		ch.peerOf = hs
		ch.mu.Unlock()
		_ = ch.writeBinary(conf)
	case protocol.ChatRecordConfirm:
		ch.mu.Lock()
		hs := ch.hs
		ch.mu.Unlock()
		if hs == nil || !ch.peered(hs) {
			return // a confirm of a handshake this side already left
		}
		s, err := hs.Finish(rec)
		if err != nil {
			ch.emit(Event{Err: err}) // a relay in the middle, or a stale confirm: no session
			return
		}
		ch.mu.Lock()
		ch.sess = s
		ch.resume = s.Resume()
		ch.epoch = s.Epoch()
		ch.hs = nil
		select {
		case <-ch.ready:
		default:
			close(ch.ready)
		}
		ch.mu.Unlock()
	case protocol.ChatRecordData:
		ch.mu.Lock()
		s := ch.sess
		ch.mu.Unlock()
		if s == nil {
			ch.emit(Event{Err: protocol.ErrChatEpoch})
			return
		}
		pt, err := s.Open(rec)
		if err != nil {
			ch.emit(Event{Err: err})
			return
		}
		ch.deliver(pt, files)
	default:
		ch.emit(Event{Err: protocol.ErrFormat})
	}
}

func (ch *Chat) sessNil() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.sess == nil
}

func (ch *Chat) peered(hs *protocol.ChatHandshake) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.peerOf == hs
}

func (ch *Chat) deliver(pt []byte, files map[uint32]*fileIn) {
	typ, body, err := protocol.DecodeChatMessage(pt)
	if err != nil {
		ch.emit(Event{Err: err})
		return
	}
	switch typ {
	case protocol.ChatMsgText:
		ch.emit(Event{Text: string(body)})
	case protocol.ChatMsgFileBegin:
		var m fileMeta
		if json.Unmarshal(body, &m) != nil || m.Size < 0 || m.Size > 1<<30 {
			ch.emit(Event{Err: protocol.ErrFormat})
			return
		}
		files[m.ID] = &fileIn{name: m.Name, typ: m.Type, size: m.Size}
		if m.Size == 0 {
			delete(files, m.ID)
			ch.emit(Event{File: &File{Name: m.Name, Type: m.Type}})
		}
	case protocol.ChatMsgFileChunk:
		if len(body) < 4 {
			ch.emit(Event{Err: protocol.ErrFormat})
			return
		}
		f := files[binary.BigEndian.Uint32(body)]
		if f == nil || int64(len(f.data)+len(body)-4) > f.size {
			ch.emit(Event{Err: protocol.ErrFormat})
			return
		}
		f.data = append(f.data, body[4:]...)
		if int64(len(f.data)) == f.size {
			delete(files, binary.BigEndian.Uint32(body))
			ch.emit(Event{File: &File{Name: f.name, Type: f.typ, Data: f.data}})
		}
	case protocol.ChatMsgBye:
	}
}

// Receive returns the next event.
func (ch *Chat) Receive(ctx context.Context) (Event, error) {
	select {
	case e := <-ch.events:
		return e, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// SendRecord relays one raw record and waits for the server's answer (tests use it to play a
// malicious peer; SendText and SendFile are the normal way).
func (ch *Chat) SendRecord(ctx context.Context, rec []byte) (uint64, error) {
	for {
		ch.mu.Lock()
		closed := ch.closed
		ch.mu.Unlock()
		reply := make(chan sendReply, 1)
		now, err := ch.writeRecord(ctx, rec, reply)
		if err != nil {
			return 0, err
		}
		if now != nil {
			reply <- *now
		}
		select {
		case r := <-reply:
			switch r.err {
			case "":
				return r.seq, nil
			case api.CodeBusy: // the other side is behind: the record was not stored, send it again
				select {
				case <-time.After(200 * time.Millisecond):
				case <-ctx.Done():
					return 0, ctx.Err()
				}
				continue
			case api.CodeFull:
				return 0, ErrFull
			}
			return 0, fmt.Errorf("%w: %s", ErrProtocol, r.err)
		case <-closed:
			return 0, ch.err()
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// sendMessage seals and relays one inner message. Sends are serialised so records keep
// their order.
func (ch *Chat) sendMessage(ctx context.Context, typ byte, body []byte) error {
	ch.sendMu.Lock()
	defer ch.sendMu.Unlock()
	ch.mu.Lock()
	s := ch.sess
	ch.mu.Unlock()
	if s == nil {
		return fmt.Errorf("chatclient: no session yet: %w", protocol.ErrChatHandshake)
	}
	pt, err := protocol.EncodeChatMessage(typ, body)
	if err != nil {
		return err
	}
	rec, err := s.Seal(pt)
	if err != nil {
		return err
	}
	_, err = ch.SendRecord(ctx, rec)
	return err
}

// SendText sends a text message.
func (ch *Chat) SendText(ctx context.Context, text string) error {
	return ch.sendMessage(ctx, protocol.ChatMsgText, []byte(text))
}

// SendFile sends a file in chunks; progress (may be nil) is called after each chunk.
func (ch *Chat) SendFile(ctx context.Context, name, typ string, data []byte, progress func(done, total int64)) error {
	var idb [4]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return err
	}
	id := binary.BigEndian.Uint32(idb[:])
	meta, err := json.Marshal(fileMeta{ID: id, Name: name, Size: int64(len(data)), Type: typ})
	if err != nil {
		return err
	}
	if err := ch.sendMessage(ctx, protocol.ChatMsgFileBegin, meta); err != nil {
		return err
	}
	for off := 0; off < len(data); off += protocol.ChatFileChunk {
		end := min(off+protocol.ChatFileChunk, len(data))
		if err := ch.sendMessage(ctx, protocol.ChatMsgFileChunk, append(idb[:], data[off:end]...)); err != nil {
			return err
		}
		if progress != nil {
			progress(int64(end), int64(len(data)))
		}
	}
	return nil
}

// End ends the chat for both sides.
func (ch *Chat) End() error {
	if !ch.Polling() {
		return ch.writeJSON(control{T: api.ControlEnd})
	}
	_, err := ch.c.post(context.Background(), api.ChatPath(ch.ID, api.ChatEnd), api.ChatSession{Session: protocol.B64Encode(ch.token)}, nil)
	if err == nil || errors.Is(err, ErrGone) {
		ch.endPoll("ended")
		return nil
	}
	return err
}

// Close drops the connection without ending the chat (a crash or a closed laptop lid).
func (ch *Chat) Close() {
	ch.mu.Lock()
	ws := ch.ws
	stop := ch.stopPoll
	closed := ch.closed
	ch.mu.Unlock()
	if ws != nil {
		_ = ws.Close()
	}
	if stop != nil {
		stop()
		ch.closeWith(closed, ErrEnded)
	}
}

// Done is closed when the socket closes.
func (ch *Chat) Done() <-chan struct{} {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.closed
}
