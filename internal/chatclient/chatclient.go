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
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

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
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", c.origin)
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("chatclient: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	switch {
	case res.StatusCode == http.StatusNotFound:
		return res.StatusCode, ErrGone
	case res.StatusCode == http.StatusInsufficientStorage:
		return res.StatusCode, ErrFull
	case res.StatusCode == http.StatusForbidden:
		var pe struct {
			Error     string `json:"error"`
			TriesLeft int    `json:"tries_left"`
		}
		if json.Unmarshal(body, &pe) == nil && pe.Error == "wrong_pin" {
			return res.StatusCode, &WrongPINError{pe.TriesLeft}
		}
		return res.StatusCode, fmt.Errorf("%w: %d", ErrProtocol, res.StatusCode)
	case res.StatusCode >= 300:
		return res.StatusCode, fmt.Errorf("%w: %d %s", ErrProtocol, res.StatusCode, body)
	}
	if out != nil && json.Unmarshal(body, out) != nil {
		return res.StatusCode, ErrProtocol
	}
	return res.StatusCode, nil
}

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
	sent     chan sendReply
	closed   chan struct{}
	closeErr error
}

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
	body := map[string]any{
		"gate_hash": protocol.B64Encode(h.Gate[:]), "destruct_hash": protocol.B64Encode(h.Destruct[:]),
		"manage_hash": protocol.B64Encode(h.Manage[:]),
	}
	if h.PIN {
		body["open_hash"] = protocol.B64Encode(h.Open[:])
	}
	if opt.TTL > 0 {
		body["ttl"] = int64(opt.TTL / time.Second)
	}
	var out struct {
		ID        string `json:"id"`
		Session   string `json:"session"`
		ExpiresIn int64  `json:"expires_in"`
	}
	if _, err := c.post(ctx, "/api/v1/chats", body, &out); err != nil {
		return nil, err
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
	ch.Link = c.origin + "/c/" + out.ID + "#" + s.Fragment().String()
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
		events: make(chan Event, 256), lastSeq: -1, sent: make(chan sendReply, 64), closed: make(chan struct{})}
	copy(ch.id[:], raw)
	return ch, nil
}

// Join claims the chat of link (typed PIN when the link says one is needed).
func (c *Client) Join(ctx context.Context, link, pin string) (*Chat, error) {
	u, err := url.Parse(link)
	if err != nil || u.Scheme+"://"+u.Host != c.origin || !strings.HasPrefix(u.Path, "/c/") {
		return nil, ErrLink
	}
	id := strings.TrimPrefix(u.Path, "/c/")
	f, err := protocol.ParseFragment(u.Fragment)
	if err != nil {
		return nil, ErrLink
	}
	K := f.Secret[:]
	body := map[string]any{"gate": protocol.B64Encode(protocol.GateToken(K))}
	var P []byte
	if f.Flags&protocol.FlagPIN != 0 {
		if pin == "" {
			return nil, &WrongPINError{TriesLeft: -1}
		}
		P = protocol.StretchPIN(K, pin)
		body["open"] = protocol.B64Encode(protocol.OpenToken(K, P))
		body["destruct"] = protocol.B64Encode(protocol.DestructToken(K, P))
	}
	var out struct {
		Session string `json:"session"`
	}
	if _, err := c.post(ctx, "/api/v1/chats/"+id+"/join", body, &out); err != nil {
		return nil, err
	}
	return c.newChat(id, protocol.ChatRoleJoiner, out.Session, protocol.ChatMACKey(K, P))
}

// Revoke ends the creator's chat, joined or not.
func (ch *Chat) Revoke(ctx context.Context) error {
	if ch.manage == nil {
		return ErrLink
	}
	_, err := ch.c.post(ctx, "/api/v1/chats/"+ch.ID+"/revoke", map[string]string{"manage": protocol.B64Encode(ch.manage)}, nil)
	return err
}

// Token is the session token (tests and the CLI's resume).
func (ch *Chat) Token() []byte { return bytes.Clone(ch.token) }

// Connect opens the WebSocket and starts a handshake (a new epoch when this side already
// completed one: a reconnect after a crash or a reload). It returns once the socket is open;
// WaitReady waits for the handshake.
func (ch *Chat) Connect(ctx context.Context) error {
	u := *ch.c.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = "/api/v1/chats/" + ch.ID + "/ws"
	d := websocket.Dialer{NetDialContext: ch.c.dial, HandshakeTimeout: 2 * time.Minute,
		Subprotocols: []string{"sealdrop.v1", "sealdrop.v1." + protocol.B64Encode(ch.token)}}
	hdr := http.Header{"Origin": {ch.c.origin}}
	conn, res, err := d.DialContext(ctx, u.String(), hdr)
	if err != nil {
		if res != nil && res.StatusCode == http.StatusNotFound {
			return ErrGone
		}
		return fmt.Errorf("chatclient: connect: %w", err)
	}
	ch.mu.Lock()
	ch.ws = conn
	ch.sess = nil
	ch.hs = nil
	ch.ready = make(chan struct{})
	ch.closed = make(chan struct{})
	ch.closeErr = nil
	ch.mu.Unlock()
	if err := ch.restart(); err != nil {
		return err
	}
	go ch.readLoop(conn)
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

func (ch *Chat) writeBinary(b []byte) error {
	ch.wmu.Lock()
	defer ch.wmu.Unlock()
	ch.mu.Lock()
	ws := ch.ws
	ch.mu.Unlock()
	if ws == nil {
		return ErrEnded
	}
	_ = ws.SetWriteDeadline(time.Now().Add(time.Minute))
	return ws.WriteMessage(websocket.BinaryMessage, b)
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

type control struct {
	T      string  `json:"t"`
	Seq    *uint64 `json:"seq,omitempty"`
	Error  string  `json:"error,omitempty"`
	Reason string  `json:"reason,omitempty"`
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

func (ch *Chat) readLoop(conn *websocket.Conn) {
	files := map[uint32]*fileIn{}
	defer func() {
		ch.mu.Lock()
		if ch.ws == conn {
			ch.ws = nil
		}
		close(ch.closed)
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
			case "peer", "nopeer":
				p := m.T == "peer"
				ch.emit(Event{Peer: &p})
			case "sent":
				ch.sent <- sendReply{seq: *m.Seq}
			case "error":
				ch.sent <- sendReply{err: m.Error}
			case "end":
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
		_ = ch.writeJSON(control{T: "ack", Seq: &s})
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
		var m struct {
			ID   uint32 `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
			Size int64  `json:"size"`
		}
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
		if err := ch.writeBinary(rec); err != nil {
			return 0, err
		}
		select {
		case r := <-ch.sent:
			switch r.err {
			case "":
				return r.seq, nil
			case "busy": // the other side is behind: the record was not stored, send it again
				select {
				case <-time.After(200 * time.Millisecond):
				case <-ctx.Done():
					return 0, ctx.Err()
				}
				continue
			case "full":
				return 0, ErrFull
			}
			return 0, fmt.Errorf("%w: %s", ErrProtocol, r.err)
		case <-ch.closed:
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
	meta, err := json.Marshal(map[string]any{"id": id, "name": name, "type": typ, "size": len(data)})
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
func (ch *Chat) End() error { return ch.writeJSON(control{T: "end"}) }

// Close drops the socket without ending the chat (a crash or a closed laptop lid).
func (ch *Chat) Close() {
	ch.mu.Lock()
	ws := ch.ws
	ch.mu.Unlock()
	if ws != nil {
		_ = ws.Close()
	}
}

// Done is closed when the socket closes.
func (ch *Chat) Done() <-chan struct{} {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.closed
}
