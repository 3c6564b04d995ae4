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
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// One-time group rooms (SECURITY.md, "One-time group rooms"). CreateRoom and JoinRoom go over
// the HTTP core like chats; then a Room relays records over the WebSocket (the chat's dialling,
// Client.dialSocket) and drives a protocol.RoomMember: its hello when the relay announces a
// member list, its keys when the last hello of the version came in, its name after each keys,
// and messages sealed only once its keys of the version are out (before that they wait).
// Refused records and lists, gaps and missing records reach the caller as RoomAlarm events
// with their class; the room goes on.
//
// A Room's state is guarded by one mutex; a socket has a reader goroutine (records, member
// lists, answers) and a sender goroutine that writes the queued records one at a time, each
// after the relay stored the one before it (a busy answer sends the same record again), so
// that the relay stores a member's records in the order they were sealed.

// roomDefaultTTL is a room's lifetime when CreateRoom asks none (the relay's default and most).
const roomDefaultTTL = 24 * time.Hour

// roomBusyPause is how long a record the relay answered busy waits before it is sent again.
const roomBusyPause = 200 * time.Millisecond

// RoomOptions configure a new room.
type RoomOptions struct {
	Seats            int // 2 … 8, the creator's seat included
	PIN, DestructPIN string
	TTL              time.Duration // the room's lifetime, 60 s … 24 h; 0: 24 h
	Name             string        // the creator's display name; "" sends none
}

// RoomEvent is what Room.Receive returns: a message from a member (text, a whole file or its
// name), a member list taken, an alarm, or the end.
type RoomEvent struct {
	Seat int    // the sender of a message, from its verified signature (1 … 8)
	Name string // the sender's name as this member shows it ("" before it sent one)
	Text string
	File *ReceivedFile
	// NameSet is the name a seat gave itself with this message (shown only once per seat;
	// a different later one comes as an alarm, Renamed).
	NameSet string
	Seats   *RoomSeats // a member list was taken
	Alarm   *RoomAlarm // something to show: a refused record or list, a gap, a rename
	Ended   string     // the relay's reason, once the room ended for this member
}

// RoomSeats is a member list this member took: the version, the seats in its keys and those
// left out because they were away, and the seats that ended since the list before: Left after
// their signed bye, Removed without one ("removed by the server", or a connection lost).
type RoomSeats struct {
	Version       uint32
	In, Out       []int
	Left, Removed []int
}

// RoomAlarm is what a member must be shown: a record or member list refused (Accepted false,
// Err the refusal), or accepted with something wrong around it (N records of Seat that did
// not arrive, N records of the previous version it counts and this member never got, or a
// second name). Class is protocol.RoomErrClass's name ("order", "replay", "auth", "view", …).
type RoomAlarm struct {
	Class    string
	Seat     int // the seat the relay said sent it; 0 for a member list
	Accepted bool
	N        uint64
	Renamed  bool
	Err      error
}

func (a *RoomAlarm) Error() string {
	if a.Err != nil {
		return fmt.Sprintf("client: room: seat %d: %s: %v", a.Seat, a.Class, a.Err)
	}
	return fmt.Sprintf("client: room: seat %d: %s (%d)", a.Seat, a.Class, a.N)
}

func (a *RoomAlarm) Unwrap() error { return a.Err }

// Room is one member's side of a room. Its methods are safe for concurrent use.
type Room struct {
	c       *Client
	ID      string
	Seat    int
	Invites []string // the creator's: the invite links of seats 2 … n, in seat order

	id     [16]byte
	token  []byte
	manage []byte // the creator's manage secret; nil for the others
	name   string

	events chan RoomEvent // to Receive; a caller that never reads loses events, not the room

	mu      sync.Mutex
	m       *protocol.RoomMember
	conn    *websocket.Conn
	wmu     sync.Mutex    // one writer on conn at a time
	queue   []*roomOut    // sealed records to send, in order; the first may be on the wire
	waiting []*roomOut    // messages waiting for this member's keys of the version
	kick    chan struct{} // wakes the sender
	replies chan api.Control
	files   fileParts
	err     error         // why the connection closed (an *EndedError once the room ended)
	done    chan struct{} // closed when the connection closed
	expire  *time.Timer
}

// roomOut is one record to send: an inner message sealed when this member may, or a record as
// it is (hello, keys, or a test's).
type roomOut struct {
	pt   []byte
	rec  []byte
	done chan sendResult // buffered; nil for a handshake record
}

// CreateRoom creates a room of opt.Seats seats and claims seat 1 for the creator; the other
// seats' invite links are in Room.Invites. The room is not connected yet (Connect). It is
// free while the server has room; when the server asks a price (402), CreateRoom pays it.
func (c *Client) CreateRoom(ctx context.Context, opt RoomOptions) (*Room, error) {
	n := opt.Seats
	if n < protocol.RoomMinSeats || n > protocol.RoomMaxSeats {
		return nil, fmt.Errorf("client: a room has %d to %d seats", protocol.RoomMinSeats, protocol.RoomMaxSeats)
	}
	if err := protocol.CheckPINs(opt.PIN, opt.DestructPIN); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if opt.Name != "" {
		if err := protocol.CheckRoomName(opt.Name); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	ttl := opt.TTL
	if ttl == 0 {
		ttl = roomDefaultTTL
	}
	var kr, manage [protocol.KeySize]byte
	seats := make([]protocol.RoomInvite, n)
	for _, b := range [][]byte{kr[:], manage[:]} {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
	}
	defer clear(kr[:])
	var P, DP []byte
	if opt.PIN != "" {
		pin, _ := protocol.NormalizePIN(opt.PIN)
		P = protocol.RoomStretchPIN(kr[:], pin)
		if opt.DestructPIN != "" {
			dpin, _ := protocol.NormalizePIN(opt.DestructPIN)
			DP = protocol.RoomStretchPIN(kr[:], dpin)
		}
	}
	body := &api.CreateRoom{ManageHash: b64Hash(manage[:])}
	secs := int64(ttl / time.Second)
	body.TTL = &secs
	for i := range seats {
		s := &seats[i]
		s.Seat = byte(i + 1)
		s.RoomKey = kr
		if P != nil {
			s.Flags = protocol.FlagPIN
		}
		if _, err := rand.Read(s.SeatKey[:]); err != nil {
			return nil, err
		}
		seat := api.RoomSeat{GateHash: b64Hash(protocol.RoomGateToken(s.SeatKey[:]))}
		if P != nil {
			seat.OpenHash = b64Hash(protocol.RoomOpenToken(s.SeatKey[:], P))
		}
		if DP != nil {
			seat.DestructHash = b64Hash(protocol.RoomDestructToken(s.SeatKey[:], DP))
		}
		body.Seats = append(body.Seats, seat)
	}
	pr := protocol.PriceRequest{Kind: protocol.PriceRoom, Manage: protocol.Hash(manage[:]), Length: roomPriceLength, TTL: ttl}
	var out api.RoomCreated
	if err := c.createPaid(ctx, c.url(api.Rooms), body, pr, 0, "", &out); err != nil {
		return nil, fmt.Errorf("client: create room: %w", err)
	}
	r, err := c.joinSeat(ctx, out.ID, seats[0], P, opt.Name)
	if err != nil {
		return nil, err
	}
	r.manage = bytes.Clone(manage[:])
	for _, s := range seats[1:] {
		r.Invites = append(r.Invites, c.url(api.PageRoom+out.ID)+"#"+s.String())
		clear(s.SeatKey[:])
	}
	return r, nil
}

// roomPriceLength is what a room is priced at, whatever its seats: what it can hold (2 MiB,
// room.PriceLength) for its lifetime.
const roomPriceLength = 2 << 20

func b64Hash(b []byte) string {
	h := protocol.Hash(b)
	return protocol.B64Encode(h[:])
}

// JoinRoom claims the seat of an invite link, with the typed PIN when the link says one is
// needed, and name as this member's display name ("" sends none). A wrong PIN is a
// *WrongPINError (its seat burns after the last); a used or ended invite is ErrGone.
func (c *Client) JoinRoom(ctx context.Context, link, pin, name string) (*Room, error) {
	id, frag, err := c.splitLink(link, api.PageRoom)
	if err != nil {
		return nil, err
	}
	inv, err := protocol.ParseRoomInvite(frag)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLink, err)
	}
	if name != "" {
		if err := protocol.CheckRoomName(name); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	if pin, err = readerPIN(protocol.Fragment{Flags: inv.Flags}, pin); err != nil {
		return nil, err
	}
	var P []byte
	if pin != "" {
		P = protocol.RoomStretchPIN(inv.RoomKey[:], pin)
	}
	return c.joinSeat(ctx, id, inv, P, name)
}

// joinSeat claims inv's seat of room id with the stretched PIN P (nil: none).
func (c *Client) joinSeat(ctx context.Context, id string, inv protocol.RoomInvite, P []byte, name string) (*Room, error) {
	raw, err := protocol.B64Decode(id)
	if err != nil || len(raw) != protocol.RoomIDSize {
		return nil, fmt.Errorf("%w: room id", ErrLink)
	}
	body := api.JoinRoom{Seat: int(inv.Seat), Gate: protocol.B64Encode(protocol.RoomGateToken(inv.SeatKey[:]))}
	if P != nil {
		body.Open = protocol.B64Encode(protocol.RoomOpenToken(inv.SeatKey[:], P))
		body.Destruct = protocol.B64Encode(protocol.RoomDestructToken(inv.SeatKey[:], P))
	}
	var out api.ChatJoined
	if err := c.call(ctx, api.RoomPath(id, api.RoomJoin), body, http.StatusOK, &out); err != nil {
		return nil, fmt.Errorf("client: join room: %w", err)
	}
	tok, err := protocol.B64Decode(out.Session)
	if err != nil || len(tok) != 32 {
		return nil, fmt.Errorf("%w: session token", ErrProtocol)
	}
	r := &Room{c: c, ID: id, Seat: int(inv.Seat), token: tok, name: name, events: make(chan RoomEvent, 1024),
		kick: make(chan struct{}, 1), replies: make(chan api.Control, 16), files: fileParts{}, done: make(chan struct{})}
	copy(r.id[:], raw)
	km := protocol.RoomMACKey(inv.RoomKey[:], P)
	defer clear(km)
	if r.m, err = protocol.NewRoomMember(r.id, inv.Seat, km); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return r, nil
}

// Connect opens the room's WebSocket, dialled the way the client's *http.Client goes (over
// Tor, its SOCKS port; see Chat.Connect). It returns once the socket is open; the relay's
// member list then starts the handshake. Once connected, a room does not connect again: a
// closed socket is the end of this Room (Done, Err).
func (r *Room) Connect(ctx context.Context) error {
	d, ok := r.c.socketDialer()
	if !ok {
		return fmt.Errorf("%w: the client's transport cannot carry a room's socket", ErrProtocol)
	}
	r.mu.Lock()
	if r.conn != nil || r.err != nil {
		r.mu.Unlock()
		return fmt.Errorf("client: room: connected already")
	}
	r.mu.Unlock()
	conn, err := r.c.dialSocket(ctx, d, api.RoomPath(r.ID, api.RoomWS), r.token)
	if err != nil {
		return err
	}
	conn.SetReadLimit(int64(protocol.ChatMaxRecord) + 64)
	r.mu.Lock()
	r.conn = conn
	r.mu.Unlock()
	go r.readLoop(conn)
	go r.sendLoop(conn)
	return nil
}

// Receive returns the next event.
func (r *Room) Receive(ctx context.Context) (RoomEvent, error) {
	select {
	case e := <-r.events:
		return e, nil
	case <-ctx.Done():
		return RoomEvent{}, ctx.Err()
	}
}

// Done is closed when the connection closed; Err says why.
func (r *Room) Done() <-chan struct{} { return r.done }

// Err is why the connection closed: an *EndedError (ErrEnded) with the relay's reason once the
// room ended for this member; nil while it is open.
func (r *Room) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Version is the membership version this member holds (0 before the first list).
func (r *Room) Version() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.Version()
}

// Members are the seats of the current version.
func (r *Room) Members() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ints(r.m.Members())
}

// Ready reports whether the current version is complete: every other member's keys opened.
func (r *Room) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.Complete()
}

// SafetyCode is the room's safety code for the current version (protocol.ErrRoomWait until
// every member's hello is in).
func (r *Room) SafetyCode() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.SafetyCode()
}

// Names are the names of every seat that sent one, with duplicates marked.
func (r *Room) Names() []protocol.RoomName {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.Names()
}

func ints(b []byte) []int {
	out := make([]int, len(b))
	for i, s := range b {
		out[i] = int(s)
	}
	return out
}

func seatBytes(s []int) []byte {
	out := make([]byte, len(s))
	for i, n := range s {
		if n < 1 || n > protocol.RoomMaxSeats {
			return nil
		}
		out[i] = byte(n)
	}
	return out
}

// SendText sends a text to every other member of the current version; it returns the relay's
// sequence number once the relay stored it. Before this member's keys of the version are out
// (just after a member list), the message waits for them.
func (r *Room) SendText(ctx context.Context, text string) (uint64, error) {
	return r.sendMessage(ctx, protocol.ChatMsgText, []byte(text))
}

// SendFile sends a file in chunks to every member; progress (may be nil) is called after each.
// The caller passes files through the media privacy filter first, as the page does.
func (r *Room) SendFile(ctx context.Context, name, typ string, data []byte, progress func(done, total int64)) error {
	return sendFileMessages(func(t byte, body []byte) error {
		_, err := r.sendMessage(ctx, t, body)
		return err
	}, name, typ, data, progress)
}

// SendRecord relays one raw record as it is (tests play a hostile member with it).
func (r *Room) SendRecord(ctx context.Context, rec []byte) (uint64, error) {
	return r.send(ctx, &roomOut{rec: bytes.Clone(rec)})
}

func (r *Room) sendMessage(ctx context.Context, typ byte, body []byte) (uint64, error) {
	pt, err := protocol.EncodeRoomMessage(typ, body)
	if err != nil {
		return 0, err
	}
	return r.send(ctx, &roomOut{pt: pt})
}

// send queues o (sealed now when this member may, else when its keys are out) and waits for
// the relay's answer.
func (r *Room) send(ctx context.Context, o *roomOut) (uint64, error) {
	o.done = make(chan sendResult, 1)
	r.mu.Lock()
	if r.err != nil || r.conn == nil {
		err := r.err
		r.mu.Unlock()
		if err == nil {
			err = fmt.Errorf("client: room: not connected")
		}
		return 0, err
	}
	if o.rec != nil {
		r.enqueueLocked(o)
	} else {
		r.waiting = append(r.waiting, o)
		r.flushLocked()
	}
	r.mu.Unlock()
	select {
	case res := <-o.done:
		return res.seq, res.err
	case <-ctx.Done():
		r.mu.Lock()
		r.waiting = slices.DeleteFunc(r.waiting, func(w *roomOut) bool { return w == o })
		r.mu.Unlock()
		return 0, ctx.Err() // a record already sealed goes out all the same: the chain moved on
	}
}

func (r *Room) enqueueLocked(o *roomOut) {
	r.queue = append(r.queue, o)
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// flushLocked seals the waiting messages once this member's keys of the version are out.
func (r *Room) flushLocked() {
	for len(r.waiting) > 0 {
		o := r.waiting[0]
		rec, err := r.m.Seal(o.pt)
		if errors.Is(err, protocol.ErrRoomWait) {
			return
		}
		r.waiting = r.waiting[1:]
		clear(o.pt)
		if err != nil {
			o.done <- sendResult{err: err}
			continue
		}
		o.rec = rec
		r.enqueueLocked(o)
	}
}

// Leave leaves the room: the signed bye first (when this member's keys are out), then
// {"t":"leave"}; it returns when the relay said the member left (or ctx ends).
func (r *Room) Leave(ctx context.Context) error {
	r.mu.Lock()
	bye, err := r.m.Bye()
	if err == nil {
		o := &roomOut{rec: bye, done: make(chan sendResult, 1)}
		r.enqueueLocked(o)
		r.mu.Unlock()
		select {
		case res := <-o.done:
			if res.err != nil {
				return res.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		r.mu.Unlock()
	}
	if err := r.writeControl(api.Control{T: api.ControlLeave}); err != nil {
		return err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if e := r.Err(); e != nil && !isEnded(e, "left") {
		return e
	}
	return nil
}

func isEnded(err error, reason string) bool {
	var e *EndedError
	return errors.As(err, &e) && e.Reason == reason
}

// Revoke ends the creator's room for everyone (they are told "revoked").
func (r *Room) Revoke(ctx context.Context) error {
	if r.manage == nil {
		return fmt.Errorf("%w: only the creator's side can revoke", ErrLink)
	}
	if err := r.c.call(ctx, api.RoomPath(r.ID, api.RoomRevoke), api.Manage{Manage: protocol.B64Encode(r.manage)}, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("client: revoke room: %w", err)
	}
	return nil
}

// Close drops the connection without leaving (the seat is kept until the room ends).
func (r *Room) Close() {
	r.mu.Lock()
	r.downLocked(ErrEnded)
	r.mu.Unlock()
}

// write sends one message on conn (one writer at a time).
func (r *Room) write(conn *websocket.Conn, typ int, b []byte) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_ = conn.SetWriteDeadline(time.Now().Add(time.Minute))
	return conn.WriteMessage(typ, b)
}

func (r *Room) writeControl(m api.Control) error {
	r.mu.Lock()
	conn, err := r.conn, r.err
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if conn == nil {
		return fmt.Errorf("client: room: not connected")
	}
	b, _ := json.Marshal(m)
	return r.write(conn, websocket.TextMessage, b)
}

// downLocked closes the connection for err (the first reason stays) and fails what waits.
func (r *Room) downLocked(err error) {
	if r.err != nil {
		return
	}
	r.err = err
	if r.conn != nil {
		_ = r.conn.Close()
	}
	if r.expire != nil {
		r.expire.Stop()
	}
	for _, o := range slices.Concat(r.queue, r.waiting) {
		if o.done != nil {
			o.done <- sendResult{err: err}
		}
	}
	r.queue, r.waiting = nil, nil
	close(r.done)
}

func (r *Room) emit(e RoomEvent) {
	select {
	case r.events <- e:
	default:
	}
}

// sendLoop writes the queued records one at a time, each once the relay answered the one
// before it.
func (r *Room) sendLoop(conn *websocket.Conn) {
	for {
		r.mu.Lock()
		var head *roomOut
		if len(r.queue) > 0 {
			head = r.queue[0]
		}
		r.mu.Unlock()
		if head == nil {
			select {
			case <-r.kick:
				continue
			case <-r.done:
				return
			}
		}
		if err := r.write(conn, websocket.BinaryMessage, head.rec); err != nil {
			r.mu.Lock()
			r.downLocked(fmt.Errorf("client: room: %w", err))
			r.mu.Unlock()
			return
		}
		var rep api.Control
		select {
		case rep = <-r.replies:
		case <-r.done:
			return
		}
		if rep.T == api.ControlError && rep.Error == api.CodeBusy {
			select { // the same record again, after a pause: nothing of it was stored
			case <-time.After(roomBusyPause):
				continue
			case <-r.done:
				return
			}
		}
		res := sendResult{}
		switch {
		case rep.T == api.ControlSent && rep.Seq != nil:
			res.seq = *rep.Seq
		case rep.Error == api.CodeFull:
			res.err = ErrFull
		case rep.Error == api.CodeTooLarge:
			res.err = ErrTooLarge
		default:
			res.err = fmt.Errorf("%w: %s", ErrProtocol, rep.Error)
		}
		r.mu.Lock()
		popped := len(r.queue) > 0 && r.queue[0] == head // else downLocked answered it already
		if popped {
			r.queue = r.queue[1:]
		}
		r.mu.Unlock()
		if popped && head.done != nil {
			head.done <- res
		}
	}
}

// readLoop reads the relay's messages until the socket closes.
func (r *Room) readLoop(conn *websocket.Conn) {
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			r.mu.Lock()
			r.downLocked(fmt.Errorf("%w: the connection closed: %v", ErrEnded, err))
			r.mu.Unlock()
			return
		}
		if typ == websocket.TextMessage {
			r.control(msg)
			continue
		}
		if len(msg) < 9 {
			continue
		}
		seq := binary.BigEndian.Uint64(msg)
		r.mu.Lock()
		r.record(msg[8], msg[9:])
		r.armLocked()
		r.mu.Unlock()
		next := seq + 1
		_ = r.write(conn, websocket.TextMessage, mustJSON(api.Control{T: api.ControlAck, Next: &next}))
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// control takes a text message: the member list, an answer to a record, or the end.
func (r *Room) control(msg []byte) {
	var m struct {
		api.Control
		V   uint32 `json:"v"`
		In  []int  `json:"in"`
		Out []int  `json:"out"`
	}
	if json.Unmarshal(msg, &m) != nil {
		return
	}
	switch m.T {
	case api.ControlSent, api.ControlError:
		select {
		case r.replies <- m.Control:
		default: // an answer nobody asked for
		}
	case api.ControlSeats:
		r.mu.Lock()
		r.seats(m.V, m.In, m.Out)
		r.armLocked()
		r.mu.Unlock()
	case api.ControlEnd:
		r.emit(RoomEvent{Ended: m.Reason})
		r.mu.Lock()
		r.downLocked(&EndedError{Reason: m.Reason})
		r.mu.Unlock()
	}
}

// seats takes a member list: this member's hello goes out, the seats that ended are told.
func (r *Room) seats(v uint32, in, out []int) {
	bi, bo := seatBytes(in), seatBytes(out)
	if bi == nil && len(in) > 0 || bo == nil && len(out) > 0 {
		r.emit(RoomEvent{Alarm: &RoomAlarm{Class: "format", Err: protocol.ErrFormat}})
		return
	}
	res, err := r.m.Seats(v, bi, bo)
	if err != nil {
		r.emit(RoomEvent{Alarm: &RoomAlarm{Class: protocol.RoomErrClass(err), Err: err}})
		return
	}
	if res.Hello != nil {
		r.enqueueLocked(&roomOut{rec: res.Hello})
	}
	r.emit(RoomEvent{Seats: &RoomSeats{Version: v, In: slices.Clone(in), Out: slices.Clone(out),
		Left: ints(res.Left), Removed: ints(res.Removed)}})
}

// record opens one relayed record stamped with seat from.
func (r *Room) record(from byte, rec []byte) {
	o, err := r.m.Open(from, rec)
	if err != nil && stale(rec, r.m.Version()) && errors.Is(err, protocol.ErrRoomEpoch) {
		return // a hello or keys of a version the relay has already replaced: nothing to show
	}
	if err != nil {
		r.emit(RoomEvent{Alarm: &RoomAlarm{Class: protocol.RoomErrClass(err), Seat: int(from), Err: err}})
		return
	}
	if o.Ignored {
		return
	}
	if o.Send != nil { // this member's keys of the version, then its name, then what waited
		r.enqueueLocked(&roomOut{rec: o.Send})
		if r.name != "" {
			if pt, err := protocol.EncodeRoomMessage(protocol.RoomMsgName, []byte(r.name)); err == nil {
				if named, err := r.m.Seal(pt); err == nil {
					r.enqueueLocked(&roomOut{rec: named})
				}
			}
		}
		r.flushLocked()
	}
	seat := int(o.Seat)
	if o.Missing > 0 {
		r.emit(RoomEvent{Alarm: &RoomAlarm{Class: "order", Seat: seat, Accepted: true, N: o.Missing}})
	}
	if o.Type != protocol.RoomRecordData {
		return
	}
	ev := RoomEvent{Seat: seat, Name: r.nameOf(o.Seat)}
	if o.Gap > 0 {
		ev.Alarm = &RoomAlarm{Class: "order", Seat: seat, Accepted: true, N: o.Gap}
	}
	switch o.Inner {
	case protocol.ChatMsgText:
		ev.Text = string(o.Body)
	case protocol.RoomMsgName:
		if o.Renamed {
			ev.Alarm = &RoomAlarm{Class: "order", Seat: seat, Accepted: true, Renamed: true, N: o.Gap}
		} else {
			ev.NameSet = string(o.Body)
		}
	case protocol.ChatMsgFileBegin, protocol.ChatMsgFileChunk:
		f, err := r.files.take(o.Inner, o.Body)
		if err != nil {
			ev.Alarm = &RoomAlarm{Class: "format", Seat: seat, Accepted: true, Err: err}
		}
		ev.File = f
	}
	if ev.Text != "" || ev.File != nil || ev.NameSet != "" || ev.Alarm != nil {
		r.emit(ev)
	}
}

// stale reports whether rec is a hello or keys record of a version below v: one that crossed
// the next member list (lists can follow each other faster than a handshake completes).
func stale(rec []byte, v uint32) bool {
	return len(rec) >= 5 && (rec[0] == protocol.RoomRecordHello || rec[0] == protocol.RoomRecordKeys) &&
		binary.BigEndian.Uint32(rec[1:]) < v
}

func (r *Room) nameOf(seat byte) string {
	for _, n := range r.m.Names() {
		if n.Seat == seat {
			return n.Name
		}
	}
	return ""
}

// armLocked sets the timer that calls the member's Expire at its Deadline, so that erasure
// does not wait for the next record.
func (r *Room) armLocked() {
	d := r.m.Deadline()
	if r.expire != nil {
		r.expire.Stop()
		r.expire = nil
	}
	if d.IsZero() || r.err != nil {
		return
	}
	r.expire = time.AfterFunc(time.Until(d), func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.m.Expire()
		r.armLocked()
	})
}
