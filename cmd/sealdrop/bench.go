package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

const benchUsage = `usage: sealdrop bench [flags]

Measures create+open pairs per second over loopback TCP against three servers in one run,
their short rounds alternating in ABBA order, and prints sealdrop's ratio to the other two:

  sealdrop   the note API (vault and all); a pair is the upload (the create with the
             first MiB, committing when that is all), the appends of the rest (the last
             committing), open (the whole ciphertext) and confirm: one request per MiB,
             then two
  null       a net/http server that answers sealdrop's own request sequence byte for byte,
             Connection: close on the ciphertext routes included, and stores nothing:
             what sealdrop's protocol costs in net/http alone
  keepalive  a plain net/http server that stores a body once on POST and returns it once on
             GET, over kept-alive connections: two requests per pair, no closes; the limit
             for any one-time store over HTTP

Ciphertext is random bytes of a sealed note's length: the client's encryption is not
measured. Nothing leaves the machine. With --cpuprofile, samples carry the label "side"
(sealdrop, null, keepalive or client): "go tool pprof -tagfocus side=sealdrop -top FILE"
shows sealdrop's server alone.

Flags:
`

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	dur := fs.Duration("duration", 3*time.Second, "how long each point runs against each server")
	sizesFlag := fs.String("sizes", "1K,1M", "note sizes (plaintext file bytes), comma-separated")
	concFlag := fs.String("concurrency", "1,32", "concurrent clients, comma-separated")
	budget := sizeFlag(256 << 20)
	fs.Var(&budget, "budget", "vault budget for the run, a `SIZE` such as 256M")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (both servers and the clients) to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var sizes []int64
	for _, s := range strings.Split(*sizesFlag, ",") {
		n, err := parseSize(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("bench: --sizes: %q", s)
		}
		sizes = append(sizes, n)
	}
	var concs []int
	for _, s := range strings.Split(*concFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || n > 256 {
			return fmt.Errorf("bench: --concurrency: %q", s)
		}
		concs = append(concs, n)
	}

	v, err := vault.New(vault.Config{Budget: int64(budget)})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer v.Close()
	if *cpuProfile != "" {
		f, err := os.OpenFile(*cpuProfile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	h, err := web.New(web.Config{Vault: v})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	lim := web.DefaultMaxAppend
	null := &nullServer{}
	keep := &keepAliveServer{max: 64 << 20, stored: map[string][]byte{}}
	targets := []struct {
		name string
		srv  *http.Server
		pair pairFunc
	}{
		{"sealdrop", web.NewServer(h), notePair},
		{"null", web.NewServer(null), notePair},
		// net/http's defaults: keep-alive, no closes, no limits beyond the body's.
		{"keepalive", &http.Server{Handler: keep, ReadHeaderTimeout: web.ReadHeaderTimeout, ErrorLog: log.New(io.Discard, "", 0)}, keepAlivePair},
	}
	urls := make([]string, len(targets))
	for i, t := range targets {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		// Every goroutine a server starts inherits its label, so a profile splits by server.
		go pprof.Do(ctx, pprof.Labels("side", t.name), func(context.Context) { _ = t.srv.Serve(ln) })
		defer t.srv.Close()
		urls[i] = "http://" + ln.Addr().String()
	}

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tconcurrency\tsealdrop pairs/s\tnull pairs/s\tratio\tkeepalive pairs/s\tratio\t")
	for _, size := range sizes {
		length, err := protocol.SealedNoteLen("", []protocol.File{{Name: "f", Size: size}})
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		payload := make([]byte, length)
		_, _ = rand.Read(payload)
		null.payload.Store(&payload)
		for _, conc := range concs {
			// Alternate short rounds, in ABBA order, so that drift in the machine's load hits
			// all alike and none always runs first.
			const rounds = 12
			rates := make([]float64, len(targets))
			for round := range rounds {
				for k := range targets {
					i := k
					if round%2 == 1 {
						i = len(targets) - 1 - k
					}
					r, err := runPoint(ctx, targets[i].pair, urls[i], payload, int64(lim), conc, *dur/rounds)
					if err != nil {
						return fmt.Errorf("bench: %s size %d concurrency %d: %w", targets[i].name, size, conc, err)
					}
					rates[i] += r / rounds
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.2f\t%.1f\t%.2f\t\n", human(size), conc,
				rates[0], rates[1], rates[0]/rates[1], rates[2], rates[0]/rates[2])
		}
	}
	return tw.Flush()
}

// A pairFunc stores payload once and reads it once on the server at base.
type pairFunc func(ctx context.Context, hc *http.Client, base string, payload []byte, piece int64) error

// runPoint runs conc workers doing pairs until d has passed and returns pairs per second.
func runPoint(ctx context.Context, pair pairFunc, base string, payload []byte, piece int64, conc int, d time.Duration) (float64, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var done atomic.Int64
	var once sync.Once
	var firstErr error
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := pair(ctx, hc, base, payload, piece); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

var b64 = base64.RawURLEncoding

func random32() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func hash64(b []byte) string { h := sha256.Sum256(b); return b64.EncodeToString(h[:]) }

// notePair is one upload (the create with the first piece, committing when that is the
// whole), the appends of the rest (the last committing), open and confirm: the page's own
// sequence (SECURITY.md, "One request per note").
func notePair(ctx context.Context, hc *http.Client, base string, payload []byte, piece int64) error {
	gate, manage, nonce := random32(), random32(), random32()
	length := int64(len(payload))
	first := min(piece, length)
	up := api.UploadNote{Length: length, GateHash: hash64(gate), DestructHash: hash64(random32()), Manage: b64.EncodeToString(manage)}
	var done api.Uploaded
	for tries := 0; ; tries++ {
		// The upload carries the price token (its id is bound to it), as the page does with the
		// one its limits gave; the bench learns it from the first 402 and again when it expires.
		if tok, ok := benchTokens.Load(base); ok {
			up.PriceToken = tok.(string)
		}
		hdr := http.Header{}
		up.SetHeader(hdr)
		err := call(ctx, hc, base+api.NoteUpload, api.Binary, payload[:first], hdr, http.StatusOK, &done, nil)
		var se *statusError
		if tries == 0 && errors.As(err, &se) && se.status == http.StatusPaymentRequired {
			var pa api.PriceAnswer
			if json.Unmarshal(se.body, &pa) == nil && pa.Bits == 0 && pa.Token != "" {
				benchTokens.Store(base, pa.Token)
				continue
			}
		}
		if err != nil {
			return err
		}
		break
	}
	note := func(action string) string { return base + api.NotePath(done.ID, action) }
	for off := first; off < length; off += piece {
		end := min(off+piece, length)
		hdr := http.Header{}
		hdr.Set(api.HeaderManage, up.Manage)
		hdr.Set(api.HeaderOffset, strconv.FormatInt(off, 10))
		if end == length {
			hdr.Set(api.HeaderCommit, api.CommitYes)
		}
		if err := call(ctx, hc, note(api.NoteData), api.Binary, payload[off:end], hdr, http.StatusOK, &done, nil); err != nil {
			return err
		}
	}
	if !done.Committed || done.Received != length {
		return fmt.Errorf("the upload ended uncommitted at %d of %d bytes", done.Received, length)
	}
	var n int64
	if err := call(ctx, hc, note(api.NoteOpen), api.JSON, jsonBody(api.OpenNote{Gate: b64.EncodeToString(gate), Claim: hash64(nonce)}), nil, http.StatusOK, nil, &n); err != nil {
		return err
	}
	if n != length {
		return fmt.Errorf("open answered %d bytes, want %d", n, length)
	}
	return call(ctx, hc, note(api.NoteConfirm), api.JSON, jsonBody(api.ConfirmNote{Gate: b64.EncodeToString(gate), Nonce: b64.EncodeToString(nonce)}), nil, http.StatusNoContent, nil, nil)
}

func jsonBody(v any) []byte { b, _ := json.Marshal(v); return b }

// call POSTs body and checks the status; it decodes JSON into v, or counts a raw answer's
// bytes into n.
// statusError is an answer with another status than the one wanted.
type statusError struct {
	url    string
	status int
	body   []byte
}

func (e *statusError) Error() string { return fmt.Sprintf("%s: %d %s", e.url, e.status, e.body) }

// benchTokens holds the price token each server under test gave last (notePair).
var benchTokens sync.Map

func call(ctx context.Context, hc *http.Client, url, ctype string, body []byte, hdr http.Header, want int, v any, n *int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, vals := range hdr {
		req.Header[k] = vals
	}
	req.Header.Set("Content-Type", ctype)
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return &statusError{url: url, status: res.StatusCode, body: b}
	}
	if n != nil {
		*n, err = io.Copy(io.Discard, res.Body)
		return err
	}
	if v != nil {
		return json.NewDecoder(res.Body).Decode(v)
	}
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

// The null server's fixed answers, as sealdrop writes them.
const (
	nullID  = "AAAAAAAAAAAAAAAAAAAAAA"
	nullTTL = 604800
)

var nullGone = string(api.Gone.Body(""))

// nullServer answers the bench's request sequence with the same statuses and bytes as
// sealdrop, storing nothing: the baseline of what net/http itself costs.
type nullServer struct {
	payload atomic.Pointer[[]byte]
}

func (s *nullServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	web.SetHeaders(w.Header())
	reply := func(status int, body string) {
		w.Header().Set("Content-Type", api.JSON)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
	switch {
	case p == api.NoteUpload, strings.HasSuffix(p, "/"+api.NoteData):
		// sealdrop's ciphertext routes answer with Connection: close (the connection is taken
		// from net/http so that no ciphertext stays in its pooled buffers): same bytes here, so
		// the client redials after these answers for both servers alike.
		w.Header().Set("Connection", "close")
		off, _ := strconv.ParseInt(r.Header.Get(api.HeaderOffset), 10, 64)
		n, _ := io.Copy(io.Discard, r.Body)
		length := off + n
		if p == api.NoteUpload {
			length, _ = strconv.ParseInt(r.Header.Get(api.HeaderLength), 10, 64)
		}
		if p == api.NoteUpload || r.Header.Get(api.HeaderCommit) == api.CommitYes {
			up := api.Uploaded{ID: nullID, Received: off + n, ExpiresIn: nullTTL}
			up.Committed = up.Received == length
			reply(http.StatusOK, string(jsonBody(up)))
			return
		}
		reply(http.StatusOK, string(jsonBody(api.Received{Received: off + n})))
	case strings.HasSuffix(p, "/"+api.NoteOpen):
		_, _ = io.Copy(io.Discard, r.Body)
		b := *s.payload.Load()
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Disposition", "attachment")
		w.Header().Set("Content-Security-Policy", "sandbox")
		w.Header().Set(api.HeaderSize, strconv.Itoa(len(b)))
		w.Header().Set("Content-Type", api.Binary)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	case strings.HasSuffix(p, "/"+api.NoteConfirm):
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	default:
		reply(api.Gone.Status, nullGone)
	}
}

// keepAliveServer is the plain one-time store: POST /k stores the body and answers its id,
// GET /k/ID answers the body once and forgets it. Nothing else: no JSON, no capabilities, no
// locked memory, no closes.
type keepAliveServer struct {
	max    int64
	mu     sync.Mutex
	stored map[string][]byte
}

func (s *keepAliveServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/k":
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.max))
		if err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		id := b64.EncodeToString(random32()[:16])
		s.mu.Lock()
		s.stored[id] = b
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, id)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/k/"):
		id := strings.TrimPrefix(r.URL.Path, "/k/")
		s.mu.Lock()
		b, ok := s.stored[id]
		delete(s.stored, id)
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", api.Binary)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

// keepAlivePair is one POST and one GET against keepAliveServer, each answer read to its end
// so that the connection goes back to the pool.
func keepAlivePair(ctx context.Context, hc *http.Client, base string, payload []byte, _ int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/k", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", api.Binary)
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	id, err := io.ReadAll(io.LimitReader(res.Body, 64))
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("keepalive store: %d", res.StatusCode)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/k/"+string(id), nil)
	if err != nil {
		return err
	}
	res, err = hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || n != int64(len(payload)) {
		return fmt.Errorf("keepalive read: %d, %d bytes, want %d", res.StatusCode, n, len(payload))
	}
	return nil
}
