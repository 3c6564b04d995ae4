package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// ErrClosed is returned by every call made after the BiDi connection has closed.
var ErrClosed = errors.New("browsertest: bidi connection closed")

// CommandError is a WebDriver BiDi error answer.
type CommandError struct {
	Method  string
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("browsertest: %s: %s: %s", e.Method, e.Code, e.Message)
}

type bidiMessage struct {
	Type    string          `json:"type"`
	ID      int64           `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// bidiConn is a minimal WebDriver BiDi client: numbered commands with one waiter each, and
// events handed to one callback from the reading goroutine (which must not block on a command).
type bidiConn struct {
	ws      *websocket.Conn
	writeMu sync.Mutex
	nextID  atomic.Int64

	mu      sync.Mutex
	pending map[int64]chan bidiMessage
	closed  bool

	onEvent func(method string, params json.RawMessage)
	done    chan struct{}
}

func dialBiDi(ctx context.Context, url string, onEvent func(string, json.RawMessage)) (*bidiConn, error) {
	d := websocket.Dialer{ReadBufferSize: 1 << 16, WriteBufferSize: 1 << 16}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("browsertest: dial %s: %w", url, err)
	}
	// Screenshots and large evaluation results arrive as single messages.
	ws.SetReadLimit(256 << 20)
	c := &bidiConn{ws: ws, pending: map[int64]chan bidiMessage{}, onEvent: onEvent, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *bidiConn) readLoop() {
	defer close(c.done)
	for {
		var m bidiMessage
		if err := c.ws.ReadJSON(&m); err != nil {
			c.mu.Lock()
			c.closed = true
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		switch m.Type {
		case "event":
			if c.onEvent != nil {
				c.onEvent(m.Method, m.Params)
			}
		default:
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}
}

// call sends one command and decodes its result into out (which may be nil).
func (c *bidiConn) call(ctx context.Context, method string, params any, out any) error {
	if params == nil {
		params = struct{}{}
	}
	id := c.nextID.Add(1)
	ch := make(chan bidiMessage, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.pending[id] = ch
	c.mu.Unlock()
	c.writeMu.Lock()
	err := c.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params})
	c.writeMu.Unlock()
	if err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("browsertest: %s: write: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return ErrClosed
		}
		if m.Type == "error" {
			return &CommandError{Method: method, Code: m.Error, Message: m.Message}
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				return fmt.Errorf("browsertest: %s: decode: %w", method, err)
			}
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("browsertest: %s: %w", method, ctx.Err())
	}
}

func (c *bidiConn) close() {
	_ = c.ws.Close()
	<-c.done
}
