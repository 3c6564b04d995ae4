package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
)

// A chat's owner goroutine (run) alone reads and writes its chatState. Everything else talks
// to it through Chat.do: the public methods, the socket's reader, the transports' writers,
// the fallback's poll loop and the busy-retry timers each hand it a function to run and wait
// until it ran. The owner never blocks on any of them: it hands records to a transport's
// writer from its own select loop, answers waiting callers on buffered channels, and drops
// events that nobody reads.

// chatState is what the owner holds.
type chatState struct {
	ch *Chat

	hs     *protocol.ChatHandshake
	peerOf *protocol.ChatHandshake // the handshake that has taken a peer hello
	sess   *protocol.ChatSession
	resume []byte
	epoch  uint32
	code   string // the safety code of the last session

	lastSeq  int64                // the highest sequence number received (-1: none)
	files    fileParts            // files being received on this connection
	sendq    []*outMsg            // messages to send, in order; the first may be on the wire
	tr       *transport           // the live connection (nil: none)
	ready    chan struct{}        // closed when this connection's handshake completed
	closed   chan struct{}        // closed when this connection closed
	shut     bool                 // closed is closed
	closeErr error                // why it closed (nil: ErrEnded)
	retries  map[*outMsg]struct{} // messages waiting out a busy answer

	// The POST fallback (SECURITY.md, "Transport"): used once the socket failed WSFailures
	// times in a row, or from the start by ConnectPoll.
	poll       bool
	wsFailures int
	openedAt   time.Time

	over bool // the chat ended: the owner stops
}

// chatView is what a caller may read of the state: a copy, taken by the owner; after the
// owner stopped, its last one (Chat.final).
type chatView struct {
	err           error // why the connection closed: an *EndedError once the chat ended, else ErrEnded
	code          string
	epoch         uint32
	poll          bool
	ready, closed chan struct{}
}

func (st *chatState) view() chatView {
	return chatView{err: st.err(), code: st.code, epoch: st.epoch, poll: st.poll, ready: st.ready, closed: st.closed}
}

// view reads the state through the owner, or its last view once the chat ended.
func (ch *Chat) view() chatView {
	var v chatView
	if !ch.do(func(st *chatState) { v = st.view() }) {
		return ch.final
	}
	return v
}

// do runs f on the owner and waits until it ran. It reports false, without running f, once
// the chat ended and the owner stopped; ch.final answers then.
func (ch *Chat) do(f func(*chatState)) bool {
	ch.start.Do(func() { go ch.run() })
	done := make(chan struct{})
	select {
	case ch.ops <- func(st *chatState) { f(st); close(done) }:
		<-done // the owner runs each op to its end before it can stop
		return true
	case <-ch.finished:
		return false
	}
}

// run is the owner.
func (ch *Chat) run() {
	st := &chatState{ch: ch, lastSeq: -1, ready: make(chan struct{}), closed: make(chan struct{}),
		files: fileParts{}, retries: map[*outMsg]struct{}{}}
	for !st.over {
		var out chan<- wireJob
		var next wireJob
		t := st.tr
		if t != nil && len(t.queue) > 0 {
			out, next = t.out, t.queue[0]
		}
		select {
		case f := <-ch.ops:
			f(st)
		case out <- next:
			t.queue = t.queue[1:]
		}
	}
	ch.final = st.view()
	close(ch.finished)
}

func (st *chatState) err() error {
	if st.closeErr != nil {
		return st.closeErr
	}
	return ErrEnded
}

func (st *chatState) emit(e ChatEvent) {
	select {
	case st.ch.events <- e:
	default: // a caller that never reads loses events, not the connection
	}
}

// connectPlan counts a socket that dropped soon after opening and reports whether Connect
// should use the fallback.
func (st *chatState) connectPlan() bool {
	if !st.openedAt.IsZero() && time.Since(st.openedAt) < dropWindow {
		st.wsFailures++
	}
	st.openedAt = time.Time{}
	return st.poll || st.wsFailures >= WSFailures
}

// socketFailed counts a socket that could not be opened and reports whether Connect should
// use the fallback now.
func (st *chatState) socketFailed() bool {
	st.wsFailures++
	return st.wsFailures >= WSFailures
}

// transport is one connection: a WebSocket or the POST fallback. Its writer goroutine sends
// what the owner hands it, in order.
type transport struct {
	ws      *websocket.Conn // nil: the POST fallback
	ctx     context.Context // the fallback's requests; done when the transport stops
	stop    context.CancelFunc
	out     chan wireJob // to the writer
	queue   []wireJob    // what the owner has yet to hand to the writer
	waiters []*outMsg    // socket: one per record written, in order (nil: a handshake record)
}

func newSocketTransport(conn *websocket.Conn) *transport {
	t := newPollTransport()
	t.ws = conn
	return t
}

func newPollTransport() *transport {
	ctx, stop := context.WithCancel(context.Background())
	return &transport{ctx: ctx, stop: stop, out: make(chan wireJob)}
}

// wireJob is one write: a record, or a control message on the socket.
type wireJob struct {
	rec     []byte
	ctrl    *api.Control
	msg     *outMsg    // the message the record carries (nil: a handshake record)
	written chan error // told once written (socket) or answered (fallback); may be nil
}

func tell(c chan error, err error) {
	if c != nil {
		select {
		case c <- err:
		default:
		}
	}
}

// outMsg is a message waiting to be sent: an inner message sealed when its turn comes, or a
// record as it is.
type outMsg struct {
	pt       []byte
	rec      []byte
	done     chan sendResult // buffered: the caller may have given up
	onWire   bool            // written, its answer not yet in
	given    bool            // the caller gave up while it was on the wire
	retrying bool            // answered busy: sent again after a pause
}

type sendResult struct {
	seq uint64
	err error
}

// sendReply is the server's answer to a record: its sequence number or an error code.
type sendReply struct {
	seq uint64
	err string
}

// attach makes t the connection: the previous one is closed, and a new handshake starts on
// t (the caller's restart).
func (st *chatState) attach(t *transport) {
	st.down(st.tr, ErrEnded)
	st.sess, st.hs = nil, nil
	st.ready, st.closed, st.shut, st.closeErr = make(chan struct{}), make(chan struct{}), false, nil
	st.files = fileParts{}
	st.tr = t
	go st.ch.writeLoop(t)
	if t.ws != nil {
		go st.ch.readSocket(t)
	}
}

// down closes t if it is the connection, for err (nil: ErrEnded), and fails what waits on it.
func (st *chatState) down(t *transport, err error) {
	if t == nil || t != st.tr {
		return
	}
	st.tr = nil
	t.stop()
	if t.ws != nil {
		_ = t.ws.Close()
	}
	if st.closeErr == nil {
		st.closeErr = err
	}
	st.shutClosed()
	for _, j := range t.queue {
		tell(j.written, st.err())
	}
	t.queue = nil
	st.failSends(st.err())
}

func (st *chatState) shutClosed() {
	if !st.shut {
		st.shut = true
		close(st.closed)
	}
}

func (st *chatState) failSends(err error) {
	for _, m := range st.sendq {
		m.done <- sendResult{err: err}
		delete(st.retries, m)
	}
	st.sendq = nil
}

// end ends the chat for good (the server's end, or gone), and the owner with it.
func (st *chatState) end(reason string) {
	if _, ok := st.closeErr.(*EndedError); !ok {
		st.closeErr = &EndedError{Reason: reason}
	}
	st.down(st.tr, nil)
	st.shutClosed()
	st.failSends(st.err())
	st.over = true
}

// write queues j on t (for the writer); a record on the socket expects an answer in order.
func (st *chatState) write(t *transport, j wireJob) chan error {
	if j.written == nil {
		j.written = make(chan error, 1)
	}
	if j.rec != nil && t.ws != nil {
		t.waiters = append(t.waiters, j.msg)
	}
	t.queue = append(t.queue, j)
	return j.written
}

// restart begins a new handshake and writes its hello.
func (st *chatState) restart() chan error {
	ch := st.ch
	hs, hello, err := protocol.NewChatHandshake(ch.id, ch.Role, ch.km, st.resume, st.epoch)
	if err != nil || st.tr == nil {
		written := make(chan error, 1)
		if err == nil {
			err = st.err()
		}
		written <- err
		return written
	}
	st.hs = hs
	return st.write(st.tr, wireJob{rec: hello})
}

// enqueue adds m to the messages to send.
func (st *chatState) enqueue(m *outMsg) {
	st.sendq = append(st.sendq, m)
	st.pump()
}

// pump puts the first message on the wire when nothing is: sealed only now, so that the
// session's record numbers follow the order in which the server stores them.
func (st *chatState) pump() {
	for len(st.sendq) > 0 {
		m := st.sendq[0]
		if m.onWire || m.retrying {
			return
		}
		if m.rec == nil {
			if st.sess == nil {
				st.finishSend(sendResult{err: fmt.Errorf("client: no session yet: %w", protocol.ErrChatHandshake)})
				continue
			}
			rec, err := st.sess.Seal(m.pt)
			clear(m.pt)
			if err != nil {
				st.finishSend(sendResult{err: err})
				continue
			}
			m.rec = rec
		}
		if st.tr == nil {
			st.finishSend(sendResult{err: st.err()})
			continue
		}
		m.onWire = true
		st.write(st.tr, wireJob{rec: m.rec, msg: m})
		return
	}
}

// finishSend answers the first message and removes it.
func (st *chatState) finishSend(r sendResult) {
	m := st.sendq[0]
	st.sendq = st.sendq[1:]
	m.done <- r
}

// answered takes the server's answer (or the fallback's error) to message m.
func (st *chatState) answered(m *outMsg, r sendReply, err error) {
	if len(st.sendq) == 0 || st.sendq[0] != m {
		return // failed or given up meanwhile
	}
	m.onWire = false
	switch {
	case err != nil:
		st.finishSend(sendResult{err: err})
	case r.err == "":
		st.finishSend(sendResult{seq: r.seq})
	case r.err == api.CodeBusy && !m.given:
		// The other side is behind: the record was not stored; send it again.
		m.retrying = true
		st.retries[m] = struct{}{}
		ch := st.ch
		time.AfterFunc(200*time.Millisecond, func() { ch.do(func(st *chatState) { st.retry(m) }) })
	case r.err == api.CodeFull:
		st.finishSend(sendResult{err: ErrFull})
	default:
		st.finishSend(sendResult{err: fmt.Errorf("%w: %s", ErrProtocol, r.err)})
	}
	st.pump()
}

func (st *chatState) retry(m *outMsg) {
	if _, ok := st.retries[m]; !ok {
		return
	}
	delete(st.retries, m)
	m.retrying = false
	st.pump()
}

// cancel forgets m, whose caller gave up; a record already on the wire runs its course.
func (st *chatState) cancel(m *outMsg) {
	for i, q := range st.sendq {
		if q != m {
			continue
		}
		if m.onWire {
			m.given = true
			return
		}
		delete(st.retries, m)
		st.sendq = append(st.sendq[:i], st.sendq[i+1:]...)
		st.pump()
		return
	}
}

// writeLoop is t's writer.
func (ch *Chat) writeLoop(t *transport) {
	for {
		var j wireJob
		select {
		case <-t.ctx.Done():
			return
		case j = <-t.out:
		}
		if t.ws != nil {
			_ = t.ws.SetWriteDeadline(time.Now().Add(time.Minute))
			var err error
			if j.ctrl != nil {
				err = t.ws.WriteJSON(j.ctrl)
			} else {
				err = t.ws.WriteMessage(websocket.BinaryMessage, j.rec)
			}
			tell(j.written, err)
			if err != nil {
				_ = t.ws.Close() // the reader sees it and reports the connection down
				return
			}
			continue
		}
		r, err := ch.postRecord(t.ctx, j.rec)
		if !ch.do(func(st *chatState) { err = st.posted(t, j, r, err) }) {
			err = ch.final.err
		}
		tell(j.written, err)
	}
}

// posted takes the fallback's answer to j and returns the error its writer reports.
func (st *chatState) posted(t *transport, j wireJob, r sendReply, err error) error {
	if t != st.tr {
		return st.err()
	}
	if errors.Is(err, ErrGone) {
		st.end("ended") // the fallback does not say why
		err = st.err()
	}
	if j.msg != nil {
		st.answered(j.msg, r, err)
	}
	return err
}

// postRecord is the fallback's send: the server's answer as the socket would give it.
func (ch *Chat) postRecord(ctx context.Context, b []byte) (sendReply, error) {
	req, err := ch.c.request(ctx, ch.c.url(api.ChatPath(ch.ID, api.ChatSend)), api.Binary, bytes.NewReader(b))
	if err != nil {
		return sendReply{}, err
	}
	req.Header.Set(api.HeaderSession, protocol.B64Encode(ch.token))
	res, err := ch.c.hc.Do(req)
	if err != nil {
		return sendReply{}, fmt.Errorf("client: send: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	switch res.StatusCode {
	case http.StatusOK:
		var out api.ChatSent
		if json.Unmarshal(body, &out) != nil {
			return sendReply{}, fmt.Errorf("%w: send answer", ErrProtocol)
		}
		return sendReply{seq: out.Seq}, nil
	case api.Gone.Status:
		return sendReply{}, ErrGone
	case api.TooMany.Status:
		return sendReply{err: api.CodeBusy}, nil
	case api.Full.Status:
		return sendReply{err: api.CodeFull}, nil
	case api.TooLarge.Status:
		return sendReply{err: api.CodeTooLarge}, nil
	}
	return sendReply{}, fmt.Errorf("%w: %d", ErrProtocol, res.StatusCode)
}

// readSocket is the socket's reader: it hands each message to the owner.
func (ch *Chat) readSocket(t *transport) {
	for {
		typ, msg, err := t.ws.ReadMessage()
		if err != nil {
			ch.do(func(st *chatState) { st.down(t, nil) })
			return
		}
		if !ch.do(func(st *chatState) { st.socketMessage(t, typ, msg) }) {
			return
		}
	}
}

func (st *chatState) socketMessage(t *transport, typ int, msg []byte) {
	if t != st.tr {
		return // a connection this side has left
	}
	if typ == websocket.TextMessage {
		var m api.Control
		if json.Unmarshal(msg, &m) != nil {
			return
		}
		switch m.T {
		case api.ControlPeer, api.ControlNoPeer:
			p := m.T == api.ControlPeer
			st.emit(ChatEvent{Peer: &p})
		case api.ControlSent, api.ControlError:
			r := sendReply{err: m.Error}
			if m.T == api.ControlSent {
				if m.Seq == nil {
					return
				}
				r = sendReply{seq: *m.Seq}
			}
			if len(t.waiters) == 0 {
				return
			}
			w := t.waiters[0]
			t.waiters = t.waiters[1:]
			if w != nil {
				st.answered(w, r, nil)
			}
		case api.ControlEnd:
			st.closeErr = &EndedError{Reason: m.Reason}
			st.emit(ChatEvent{Ended: m.Reason})
			st.end(m.Reason)
		}
		return
	}
	if len(msg) < 8 {
		return
	}
	seq := int64(binary.BigEndian.Uint64(msg))
	st.receive(seq, msg[8:])
	if st.tr == t {
		s := uint64(seq)
		st.write(t, wireJob{ctrl: &api.Control{T: api.ControlAck, Seq: &s}})
	}
}

// pollLoop is the fallback's receive side: each poll acknowledges what arrived and waits
// for the next record.
func (ch *Chat) pollLoop(t *transport) {
	ctx := t.ctx
	var peer *bool
	failures := 0
	for ctx.Err() == nil {
		body := api.ChatSession{Session: protocol.B64Encode(ch.token), Wait: true}
		var last int64
		if !ch.do(func(st *chatState) { last = st.lastSeq }) {
			return
		}
		if last >= 0 {
			ack := uint64(last)
			body.Ack = &ack
		}
		req, err := ch.c.postTo(ctx, ch.c.url(api.ChatPath(ch.ID, api.ChatPoll)), body)
		if err != nil {
			return
		}
		res, err := ch.c.hc.Do(req)
		if err != nil {
			if failures++; failures > 5 || ctx.Err() != nil {
				ch.do(func(st *chatState) { st.down(t, fmt.Errorf("client: poll: %w", err)) })
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
			ch.do(func(st *chatState) {
				if st.tr == t {
					st.emit(ChatEvent{Ended: "ended"})
					st.end("ended")
				}
			})
			return
		case http.StatusOK, http.StatusNoContent:
		default:
			ch.do(func(st *chatState) { st.down(t, fmt.Errorf("%w: poll %d", ErrProtocol, res.StatusCode)) })
			return
		}
		if p := res.Header.Get(api.HeaderPeer) == "1"; peer == nil || *peer != p {
			peer = &p
			ch.do(func(st *chatState) {
				if st.tr == t {
					st.emit(ChatEvent{Peer: &p})
				}
			})
		}
		if res.StatusCode == http.StatusNoContent || rerr != nil {
			continue
		}
		seq, err := strconv.ParseInt(res.Header.Get(api.HeaderSeq), 10, 64)
		if err != nil || seq < 0 {
			ch.do(func(st *chatState) { st.down(t, fmt.Errorf("%w: poll sequence number", ErrProtocol)) })
			return
		}
		ch.do(func(st *chatState) {
			if st.tr == t {
				st.receive(seq, rec)
			}
		})
	}
}

// receive handles a relayed record once: a sequence number at or below the last one is a
// record delivered before (resent after a lost acknowledgement).
func (st *chatState) receive(seq int64, rec []byte) {
	if seq <= st.lastSeq {
		return
	}
	st.lastSeq = seq
	st.handle(rec)
}

func (st *chatState) handle(rec []byte) {
	switch protocol.ChatRecordType(rec) {
	case protocol.ChatRecordHello:
		hs := st.hs
		if e, err := protocol.ChatHelloEpoch(rec); err != nil || (hs != nil && st.resume != nil && e < hs.Proposal() && st.sess == nil) {
			return // queued before the other side reconnected
		}
		if hs == nil || st.peerOf == hs {
			st.restart()
			if st.hs == hs {
				return // no new handshake could start
			}
		}
		conf, err := st.hs.Peer(rec)
		if err != nil {
			st.emit(ChatEvent{Err: err})
			return
		}
		st.peerOf = st.hs
		if st.tr != nil {
			st.write(st.tr, wireJob{rec: conf})
		}
	case protocol.ChatRecordConfirm:
		hs := st.hs
		if hs == nil || st.peerOf != hs {
			return // a confirm of a handshake this side already left
		}
		s, err := hs.Finish(rec)
		if err != nil {
			st.emit(ChatEvent{Err: err}) // a relay in the middle, or a stale confirm: no session
			return
		}
		st.sess = s
		st.resume = s.Resume()
		st.epoch = s.Epoch()
		st.code = s.SafetyCode()
		st.hs = nil
		select {
		case <-st.ready:
		default:
			close(st.ready)
		}
		st.pump()
	case protocol.ChatRecordData:
		if st.sess == nil {
			st.emit(ChatEvent{Err: protocol.ErrChatEpoch})
			return
		}
		pt, err := st.sess.Open(rec)
		if err != nil {
			st.emit(ChatEvent{Err: err})
			return
		}
		st.deliver(pt)
	default:
		st.emit(ChatEvent{Err: protocol.ErrFormat})
	}
}

type fileIn struct {
	name, typ string
	size      int64
	data      []byte
}

// fileParts puts files back together from their begin and chunk messages (a chat's or a
// room's); the key is the file's id.
type fileParts map[uint32]*fileIn

// take adds a file message; it returns the file once whole, and ErrFormat for a malformed
// begin or a chunk of no file begun, or past its size.
func (fs fileParts) take(typ byte, body []byte) (*ReceivedFile, error) {
	switch typ {
	case protocol.ChatMsgFileBegin:
		var m fileMeta
		if json.Unmarshal(body, &m) != nil || m.Size < 0 || m.Size > 1<<30 {
			return nil, protocol.ErrFormat
		}
		if m.Size == 0 {
			delete(fs, m.ID)
			return &ReceivedFile{Name: m.Name, Type: m.Type}, nil
		}
		fs[m.ID] = &fileIn{name: m.Name, typ: m.Type, size: m.Size}
	case protocol.ChatMsgFileChunk:
		if len(body) < 4 {
			return nil, protocol.ErrFormat
		}
		id := binary.BigEndian.Uint32(body)
		f := fs[id]
		if f == nil || int64(len(f.data)+len(body)-4) > f.size {
			return nil, protocol.ErrFormat
		}
		f.data = append(f.data, body[4:]...)
		if int64(len(f.data)) == f.size {
			delete(fs, id)
			return &ReceivedFile{Name: f.name, Type: f.typ, Data: f.data}, nil
		}
	}
	return nil, nil
}

func (st *chatState) deliver(pt []byte) {
	typ, body, err := protocol.DecodeChatMessage(pt)
	if err != nil {
		st.emit(ChatEvent{Err: err})
		return
	}
	switch typ {
	case protocol.ChatMsgText:
		st.emit(ChatEvent{Text: string(body)})
	case protocol.ChatMsgFileBegin, protocol.ChatMsgFileChunk:
		f, err := st.files.take(typ, body)
		switch {
		case err != nil:
			st.emit(ChatEvent{Err: err})
		case f != nil:
			st.emit(ChatEvent{File: f})
		}
	case protocol.ChatMsgBye:
	}
}
