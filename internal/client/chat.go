package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// One-time chats (SECURITY.md, "One-time chat"). StartChat and JoinChat go over the HTTP
// core like notes and drops; then a Chat relays records over the WebSocket (or the POST
// fallback) and runs the handshake and record layer of internal/protocol. A Chat's state (the
// handshake, the session, the sequence numbers and acknowledgements, the transport and the
// switch to the fallback) belongs to one goroutine, its owner (chat_owner.go); the methods
// below hand their work to it and wait for its answer.

// chatPriceLength is the size a chat is priced at (chat.PriceLength), and chatDefaultTTL the
// lifetime a link is priced at when StartChat asks none (chat.DefaultTTL, the server's
// default).
const (
	chatPriceLength = 8 << 10
	chatDefaultTTL  = 24 * time.Hour
)

// WSFailures is how many failed or quickly dropped sockets in a row make Connect use the
// POST fallback; a socket that lived less than dropWindow counts as failed.
const (
	WSFailures = 2
	dropWindow = 15 * time.Second
)

// ChatOptions configure a new chat.
type ChatOptions struct {
	PIN, DestructPIN string
	TTL              time.Duration // 0: the server's default
}

// ChatEvent is what Receive returns: a text, a whole file, the end, or an error about a
// record that was refused (the chat goes on).
type ChatEvent struct {
	Text  string
	File  *ReceivedFile
	Ended string // the server's reason, once the chat ended
	Err   error  // a refused record: ErrChatReplay, ErrChatOrder, ... of internal/protocol
	Peer  *bool  // the other side connected (true) or left (false)
}

// EndedError is returned once the chat ended; Reason is the server's. It is ErrEnded for
// errors.Is.
type EndedError struct{ Reason string }

func (e *EndedError) Error() string { return "client: it has ended (" + e.Reason + ")" }
func (e *EndedError) Unwrap() error { return ErrEnded }

// Chat is one side of a chat. Its methods are safe for concurrent use. Its goroutine ends
// with the chat (End, the other side's end, the server's); Close alone keeps it, for a later
// Connect.
type Chat struct {
	c    *Client
	ID   string
	Role byte
	Link string // the creator's chat link (with K in the fragment); "" for the joiner

	// Set once by newChat, read-only afterwards.
	id     [16]byte
	token  []byte // the session token
	manage []byte // the creator's manage secret; nil for the joiner
	km     []byte // the handshake's MAC key

	events   chan ChatEvent        // to Receive; the owner never blocks on it
	ops      chan func(*chatState) // work for the owner
	start    sync.Once             // starts the owner on the first op
	finished chan struct{}         // closed when the owner stopped: the chat ended
	final    chatView              // written by the owner before it closes finished
}

// chatCreate is a chat's create that names the lifetime it pays for: a create without a
// lifetime is free while the server has room, and priced at the server's default otherwise.
type chatCreate struct {
	*api.CreateChat
	priced int64 // seconds
}

func (b chatCreate) Pay(token, nonce string) {
	if token != "" && b.TTL == nil {
		b.TTL = &b.priced
	}
	b.CreateChat.Pay(token, nonce)
}

// StartChat creates a chat and returns the creator's side, not yet connected. It is free
// while the server has room; when the server asks a price (402), StartChat pays it.
func (c *Client) StartChat(ctx context.Context, opt ChatOptions) (*Chat, error) {
	s, err := protocol.NewNoteSecrets(opt.PIN, opt.DestructPIN)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer s.Wipe() // the link and the manage copy below are all the chat needs
	h := s.Hashes()
	body := &api.CreateChat{GateHash: protocol.B64Encode(h.Gate[:]), DestructHash: protocol.B64Encode(h.Destruct[:]),
		ManageHash: protocol.B64Encode(h.Manage[:])}
	if h.PIN {
		body.OpenHash = protocol.B64Encode(h.Open[:])
	}
	ttl := opt.TTL
	if ttl > 0 {
		secs := int64(ttl / time.Second)
		body.TTL = &secs
	} else {
		ttl = chatDefaultTTL
	}
	pr := protocol.PriceRequest{Kind: protocol.PriceChat, Manage: h.Manage, Length: chatPriceLength, TTL: ttl}
	var out api.ChatCreated
	if err := c.createPaid(ctx, c.url(api.Chats), chatCreate{body, int64(chatDefaultTTL / time.Second)}, pr, 0, "", &out); err != nil {
		return nil, fmt.Errorf("client: start chat: %w", err)
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
	ch.Link = c.url(api.PageChat+out.ID) + "#" + s.Fragment().String()
	return ch, nil
}

// JoinChat claims the chat of link, with the typed PIN when the link says one is needed.
func (c *Client) JoinChat(ctx context.Context, link, pin string) (*Chat, error) {
	id, f, err := c.parseLink(link, api.PageChat)
	if err != nil {
		return nil, err
	}
	if pin, err = readerPIN(f, pin); err != nil {
		return nil, err
	}
	K := f.Secret[:]
	body := api.JoinChat{Gate: protocol.B64Encode(protocol.GateToken(K))}
	var P []byte
	if pin != "" {
		P = protocol.StretchPIN(K, pin)
		body.Open = protocol.B64Encode(protocol.OpenToken(K, P))
		body.Destruct = protocol.B64Encode(protocol.DestructToken(K, P))
	}
	var out api.ChatJoined
	if err := c.call(ctx, api.ChatPath(id, api.ChatJoin), body, http.StatusOK, &out); err != nil {
		return nil, fmt.Errorf("client: join chat: %w", err)
	}
	return c.newChat(id, protocol.ChatRoleJoiner, out.Session, protocol.ChatMACKey(K, P))
}

func (c *Client) newChat(id string, role byte, token string, km []byte) (*Chat, error) {
	raw, err := protocol.B64Decode(id)
	if err != nil || len(raw) != 16 {
		return nil, fmt.Errorf("%w: chat id", ErrProtocol)
	}
	tok, err := protocol.B64Decode(token)
	if err != nil || len(tok) != 32 {
		return nil, fmt.Errorf("%w: session token", ErrProtocol)
	}
	ch := &Chat{c: c, ID: id, Role: role, token: tok, km: km, events: make(chan ChatEvent, 256),
		ops: make(chan func(*chatState)), finished: make(chan struct{})}
	copy(ch.id[:], raw)
	return ch, nil
}

// Revoke ends the creator's chat, joined or not.
func (ch *Chat) Revoke(ctx context.Context) error {
	if ch.manage == nil {
		return fmt.Errorf("%w: only the creator's side can revoke", ErrLink)
	}
	if err := ch.c.call(ctx, api.ChatPath(ch.ID, api.ChatRevoke), api.Manage{Manage: protocol.B64Encode(ch.manage)}, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("client: revoke chat: %w", err)
	}
	return nil
}

// Token is the session token (tests and the CLI's resume).
func (ch *Chat) Token() []byte { return bytes.Clone(ch.token) }

// Connect opens the WebSocket and starts a handshake (a new epoch when this side already
// completed one: a reconnect after a crash or a reload). It returns once the socket is open
// and the hello written; WaitReady waits for the handshake. When the socket cannot be opened
// (or dropped soon after opening) WSFailures times in a row, it uses the POST fallback
// instead, for good.
//
// The socket is dialled the way the client's *http.Client goes: through its transport's
// dialer and proxy (over Tor, the SOCKS port), or those of the *http.Transport it wraps (see
// socketDialer). When no *http.Transport is found the client cannot tell where the socket
// would go, and the chat uses the POST fallback (through the *http.Client itself) rather than a
// socket that might take another path.
func (ch *Chat) Connect(ctx context.Context) error {
	d, canSocket := ch.c.socketDialer()
	var poll bool
	if !ch.do(func(st *chatState) { poll = st.connectPlan() || !canSocket }) {
		return ch.connectEnded(ctx, d, canSocket)
	}
	if poll {
		return ch.ConnectPoll(ctx)
	}
	for {
		err := ch.connectWS(ctx, d)
		if err == nil || errors.Is(err, ErrGone) || ctx.Err() != nil {
			return err
		}
		if !ch.do(func(st *chatState) { poll = st.socketFailed() }) {
			return ch.view().err
		}
		if poll {
			return ch.ConnectPoll(ctx)
		}
	}
}

// connectEnded is Connect after the chat ended: the server is asked all the same, and a
// socket it opens for an ended chat is closed and reported.
func (ch *Chat) connectEnded(ctx context.Context, d websocket.Dialer, canSocket bool) error {
	if ch.final.poll || !canSocket {
		return ch.final.err
	}
	conn, err := ch.dialSocket(ctx, d)
	if err != nil {
		return err
	}
	_ = conn.Close()
	return fmt.Errorf("%w: the server opened a socket for an ended chat", ErrProtocol)
}

// socketDialer is the WebSocket dialer that reaches the server the way c.hc does: its
// transport's dialer, proxy and TLS settings. A transport that wraps another (one that counts
// or traces requests) says which with an Unwrap() http.RoundTripper method. ok is false when
// no *http.Transport is found that way.
func (c *Client) socketDialer() (websocket.Dialer, bool) {
	rt := c.hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	for range 8 {
		w, ok := rt.(interface{ Unwrap() http.RoundTripper })
		if !ok {
			break
		}
		rt = w.Unwrap()
	}
	tr, ok := rt.(*http.Transport)
	if !ok {
		return websocket.Dialer{}, false
	}
	return websocket.Dialer{NetDialContext: tr.DialContext, Proxy: tr.Proxy, TLSClientConfig: tr.TLSClientConfig,
		HandshakeTimeout: 2 * time.Minute}, true
}

// dialSocket opens the chat's WebSocket.
func (ch *Chat) dialSocket(ctx context.Context, d websocket.Dialer) (*websocket.Conn, error) {
	return ch.c.dialSocket(ctx, d, api.ChatPath(ch.ID, api.ChatWS), ch.token)
}

// dialSocket opens the WebSocket at path (a chat's or a room's), with the session token beside
// the subprotocol (never in the URL). A gone answer is ErrGone.
func (c *Client) dialSocket(ctx context.Context, d websocket.Dialer, path string, token []byte) (*websocket.Conn, error) {
	u := *c.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = c.base.Path + path
	d.Subprotocols = []string{api.Subprotocol, api.SubprotocolPrefix + protocol.B64Encode(token)}
	conn, res, err := d.DialContext(ctx, u.String(), c.header())
	if err != nil {
		if res != nil && res.StatusCode == api.Gone.Status {
			return nil, ErrGone
		}
		return nil, fmt.Errorf("client: connect: %w", err)
	}
	return conn, nil
}

func (ch *Chat) connectWS(ctx context.Context, d websocket.Dialer) error {
	conn, err := ch.dialSocket(ctx, d)
	if err != nil {
		return err
	}
	var written chan error
	if !ch.do(func(st *chatState) {
		st.attach(newSocketTransport(conn))
		st.openedAt = time.Now()
		written = st.restart()
	}) {
		_ = conn.Close()
		return fmt.Errorf("%w: the server opened a socket for an ended chat", ErrProtocol)
	}
	return <-written
}

// ConnectPoll starts the POST fallback (send, poll, end) instead of a socket, with a new
// handshake as Connect does.
func (ch *Chat) ConnectPoll(ctx context.Context) error {
	t := newPollTransport()
	var written chan error
	if !ch.do(func(st *chatState) {
		st.poll = true
		st.attach(t)
		written = st.restart()
	}) {
		t.stop()
		return ch.final.err
	}
	err := <-written
	ch.do(func(st *chatState) {
		if err != nil {
			st.down(t, err)
		} else if st.tr == t {
			go ch.pollLoop(t)
		}
	})
	return err
}

// Polling reports whether this side uses the POST fallback.
func (ch *Chat) Polling() bool { return ch.view().poll }

// WaitReady waits until the handshake completed and returns the safety code.
func (ch *Chat) WaitReady(ctx context.Context) (string, error) {
	v := ch.view()
	select {
	case <-v.ready:
		return ch.view().code, nil
	case <-v.closed:
		return "", ch.view().err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Epoch is the current epoch (0 before the first handshake).
func (ch *Chat) Epoch() uint32 { return ch.view().epoch }

// Receive returns the next event.
func (ch *Chat) Receive(ctx context.Context) (ChatEvent, error) {
	select {
	case e := <-ch.events:
		return e, nil
	case <-ctx.Done():
		return ChatEvent{}, ctx.Err()
	}
}

// SendRecord relays one raw record and waits for the server's answer (tests use it to play a
// malicious peer; SendText and SendFile are the normal way). A record the server refuses as
// busy (the other side is behind) is sent again.
func (ch *Chat) SendRecord(ctx context.Context, rec []byte) (uint64, error) {
	return ch.send(ctx, &outMsg{rec: rec})
}

// sendMessage seals and relays one inner message. The owner seals each message when the one
// before it is stored, so records keep their order.
func (ch *Chat) sendMessage(ctx context.Context, typ byte, body []byte) error {
	pt, err := protocol.EncodeChatMessage(typ, body)
	if err != nil {
		return err
	}
	_, err = ch.send(ctx, &outMsg{pt: pt})
	return err
}

// send queues m with the owner and waits for the server's answer to it.
func (ch *Chat) send(ctx context.Context, m *outMsg) (uint64, error) {
	m.done = make(chan sendResult, 1)
	if !ch.do(func(st *chatState) { st.enqueue(m) }) {
		return 0, ch.final.err
	}
	select {
	case r := <-m.done:
		return r.seq, r.err
	case <-ctx.Done():
		ch.do(func(st *chatState) { st.cancel(m) })
		return 0, ctx.Err()
	}
}

// SendText sends a text message.
func (ch *Chat) SendText(ctx context.Context, text string) error {
	return ch.sendMessage(ctx, protocol.ChatMsgText, []byte(text))
}

// fileMeta is the body of a file-begin message (inside the sealed record), a chat's or a
// room's.
type fileMeta struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	Type string `json:"type"`
}

// SendFile sends a file in chunks; progress (may be nil) is called after each chunk.
func (ch *Chat) SendFile(ctx context.Context, name, typ string, data []byte, progress func(done, total int64)) error {
	return sendFileMessages(func(t byte, body []byte) error { return ch.sendMessage(ctx, t, body) }, name, typ, data, progress)
}

// sendFileMessages sends a file as inner messages through send: its begin (fileMeta), then its
// chunks of protocol.ChatFileChunk bytes; progress (may be nil) is called after each chunk.
func sendFileMessages(send func(typ byte, body []byte) error, name, typ string, data []byte, progress func(done, total int64)) error {
	var idb [4]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return err
	}
	id := binary.BigEndian.Uint32(idb[:])
	meta, err := json.Marshal(fileMeta{ID: id, Name: name, Size: int64(len(data)), Type: typ})
	if err != nil {
		return err
	}
	if err := send(protocol.ChatMsgFileBegin, meta); err != nil {
		return err
	}
	for off := 0; off < len(data); off += protocol.ChatFileChunk {
		end := min(off+protocol.ChatFileChunk, len(data))
		if err := send(protocol.ChatMsgFileChunk, append(idb[:], data[off:end]...)); err != nil {
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
	var poll bool
	var written chan error
	if !ch.do(func(st *chatState) {
		poll = st.poll
		if !poll && st.tr != nil {
			written = st.write(st.tr, wireJob{ctrl: &api.Control{T: api.ControlEnd}})
		}
	}) {
		if ch.final.poll {
			return nil // the fallback's end is a POST that finds the chat gone: done
		}
		return ch.final.err
	}
	if !poll {
		if written == nil {
			return ErrEnded
		}
		return <-written
	}
	err := ch.c.call(context.Background(), api.ChatPath(ch.ID, api.ChatEnd), api.ChatSession{Session: protocol.B64Encode(ch.token)}, http.StatusNoContent, nil)
	if err == nil || errors.Is(err, ErrGone) {
		ch.do(func(st *chatState) { st.end("ended") })
		return nil
	}
	return fmt.Errorf("client: end chat: %w", err)
}

// Close drops the connection without ending the chat (a crash or a closed laptop lid).
func (ch *Chat) Close() {
	ch.do(func(st *chatState) { st.down(st.tr, ErrEnded) })
}

// Done is closed when the connection closes.
func (ch *Chat) Done() <-chan struct{} { return ch.view().closed }
