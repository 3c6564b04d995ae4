package circuit

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveLimited serves, on a loopback listener wrapped by Listen, a handler that answers 201 when
// Allow lets the request create and 429 otherwise, and returns the address.
func serveLimited(t *testing.T, lim *Limiter, wrap bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var l net.Listener = ln
	if wrap {
		l = Listen(ln, lim)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ok, wait := Allow(r.Context()); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusCreated)
		}),
		ConnContext:       ConnContext,
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dialCircuit opens a connection that starts with tor's header for circuit id (header "" sends
// none) and returns it with a reader for answers.
func dialCircuit(t *testing.T, addr, header string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if header != "" {
		if _, err := io.WriteString(c, header); err != nil {
			t.Fatal(err)
		}
	}
	return c, bufio.NewReader(c)
}

// post sends one request on c and returns the answer's status.
func post(t *testing.T, c net.Conn, br *bufio.Reader) int {
	t.Helper()
	if _, err := io.WriteString(c, "POST /create HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func TestListenerLimitsPerCircuit(t *testing.T) {
	lim, _ := newTestLimiter(t, Config{Burst: 3})
	addr := serveLimited(t, lim, true)
	a, ra := dialCircuit(t, addr, torLine(0x10001, 80))
	for i := range 3 {
		if got := post(t, a, ra); got != http.StatusCreated {
			t.Fatalf("create %d on circuit A: %d", i, got)
		}
	}
	if got := post(t, a, ra); got != http.StatusTooManyRequests {
		t.Fatalf("create 4 on circuit A: %d, want 429", got)
	}
	// Another connection of the same circuit shares its bucket; another circuit has its own.
	a2, ra2 := dialCircuit(t, addr, torLine(0x10001, 80))
	if got := post(t, a2, ra2); got != http.StatusTooManyRequests {
		t.Fatalf("a second stream of circuit A: %d, want 429", got)
	}
	b, rb := dialCircuit(t, addr, torLine(0x10002, 80))
	if got := post(t, b, rb); got != http.StatusCreated {
		t.Fatalf("circuit B: %d", got)
	}
	if n := lim.size(); n != 2 {
		t.Fatalf("%d circuits remembered, want 2", n)
	}
	// Closing the connections makes the records idle; nothing else is kept.
	a.Close()
	a2.Close()
	b.Close()
	waitUntil(t, func() bool {
		lim.mu.Lock()
		defer lim.mu.Unlock()
		return lim.active.Len() == 0 && lim.idle.Len() == 2
	})
}

func TestListenerWithoutWrapIsUnlimited(t *testing.T) {
	lim, _ := newTestLimiter(t, Config{Burst: 1})
	addr := serveLimited(t, lim, false)
	c, br := dialCircuit(t, addr, "")
	for i := range 5 {
		if got := post(t, c, br); got != http.StatusCreated {
			t.Fatalf("create %d without circuit ids: %d", i, got)
		}
	}
	if ok, _ := Allow(context.Background()); !ok {
		t.Fatal("a context without a circuit is limited")
	}
}

// A tor that exports no circuit ids: every request is refused, with a 400 that says why.
func TestListenerNoHeaderExplains(t *testing.T) {
	lim, _ := newTestLimiter(t, Config{})
	addr := serveLimited(t, lim, true)
	c, br := dialCircuit(t, addr, "")
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HiddenServiceExportCircuitID haproxy") || !strings.Contains(string(body), "--circuit-ids") {
		t.Fatalf("%d %q", res.StatusCode, body)
	}
	if res.Header.Get("Date") != "" {
		t.Error("the answer carries the server's clock")
	}
	if _, err := br.ReadByte(); !closedErr(err) {
		t.Fatalf("connection still open after the refusal: %v", err)
	}
	if lim.size() != 0 {
		t.Fatal("a refused connection was counted")
	}
}

// setHeaderTimeout sets headerTimeout to d for the test.
func setHeaderTimeout(t *testing.T, d time.Duration) {
	old := headerTimeout
	headerTimeout = d
	t.Cleanup(func() { headerTimeout = old })
}

func TestListenerRefusesBadHeaders(t *testing.T) {
	setHeaderTimeout(t, 300*time.Millisecond)
	lim, _ := newTestLimiter(t, Config{})
	addr := serveLimited(t, lim, true)
	for _, tc := range []struct{ name, send string }{
		{"another PROXY line", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"id 0", "PROXY TCP6 fc00:dead:beef:4dad::0:0 ::1 0 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"endless line", "PROXY TCP6 " + strings.Repeat("1", 300)},
		{"binary", "\x16\x03\x01\x00\x05hello"},
		{"silent", ""},
		{"half a header", "PROXY TCP6 fc00:dead:beef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dialCircuit(t, addr, "")
			io.WriteString(c, tc.send)
			start := time.Now()
			b, err := br.ReadByte()
			if !closedErr(err) {
				t.Fatalf("got %q, %v; want the connection closed without an answer", b, err)
			}
			if waited := time.Since(start); waited > 5*time.Second {
				t.Fatalf("closed after %v", waited)
			}
		})
	}
	if lim.size() != 0 {
		t.Fatal("a refused connection was counted")
	}
}

// The header's deadline ends with the header: a kept-alive connection then has the server's
// own timeouts, not HeaderTimeout.
func TestListenerRestoresDeadline(t *testing.T) {
	setHeaderTimeout(t, 200*time.Millisecond)
	lim, _ := newTestLimiter(t, Config{})
	addr := serveLimited(t, lim, true)
	c, br := dialCircuit(t, addr, torLine(9, 80))
	if got := post(t, c, br); got != http.StatusCreated {
		t.Fatal(got)
	}
	time.Sleep(3 * headerTimeout)
	if got := post(t, c, br); got != http.StatusCreated {
		t.Fatalf("second request after the header timeout: %d", got)
	}
}

// A connection closed (by the server's connection cap) while its header is on its way is
// never counted.
func TestConnClosedBeforeHeader(t *testing.T) {
	lim, _ := newTestLimiter(t, Config{})
	server, client := net.Pipe()
	c := &Conn{Conn: server, lim: lim}
	c.Close()
	go func() { io.WriteString(client, torLine(3, 80)) }()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a closed connection")
	}
	if lim.size() != 0 {
		t.Fatal("counted a closed connection")
	}
	client.Close()
}

// closedErr: the server closed (an EOF, or a reset where it closed with our bytes unread).
func closedErr(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET)
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5 s")
}

func TestListenWithoutLimiter(t *testing.T) {
	addr := serveLimited(t, nil, true)
	c, br := dialCircuit(t, addr, torLine(4, 80))
	for range 3 {
		if got := post(t, c, br); got != http.StatusCreated {
			t.Fatalf("without a limiter: %d", got)
		}
	}
	c2, br2 := dialCircuit(t, addr, "")
	io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(br2, nil)
	if err != nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("the header is still required: %v, %v", res, err)
	}
}

// A Conn half-closes like the socket it wraps (the web layer's refused uploads rely on it);
// one over a connection that cannot says so.
func TestConnCloseWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l := Listen(ln, nil)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	io.WriteString(client, torLine(1, 80)+"x")
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil || b[0] != 'x' {
		t.Fatalf("read %q, %v", b, err)
	}
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		t.Fatal("no half-close through the Conn")
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(b); err != io.EOF {
		t.Fatalf("the peer sees %v, want EOF after the half-close", err)
	}
	if _, err := io.WriteString(client, "still open for reading"); err != nil {
		t.Fatal(err)
	}

	a, _ := net.Pipe()
	defer a.Close()
	if err := (&Conn{Conn: a}).CloseWrite(); err == nil {
		t.Error("a pipe cannot half-close, yet no error")
	}
}
