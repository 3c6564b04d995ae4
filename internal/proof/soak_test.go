//go:build linux

package proof

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/api"
	"github.com/sealdrop/sealdrop/internal/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// soakClient is a minimal API client for the soak, safe for concurrent use, that reports
// errors instead of failing the test from worker goroutines.
type soakClient struct {
	hc   *http.Client
	base string
	ttl  time.Duration // the server's default lifetime: what an unpriced create's price covers
}

func (c *soakClient) post(path, ctype string, body []byte, hdr map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(res.Body)
	return res.StatusCode, b.Bytes(), err
}

func (c *soakClient) json(path string, v any) (int, []byte, error) {
	b, _ := json.Marshal(v)
	return c.post(path, "application/json", b, nil)
}

func (c *soakClient) upload(n *note) error {
	body := n.createReq()
	st, b, err := c.json("/api/v1/notes", body)
	// Past half full the server asks new notes for a proof of work; a client pays it, as
	// internal/client does, and pays again when the price rose meanwhile (64 writers fill
	// fast). Destructed notes keep their blocks until their TTL (a destruct must look like a
	// typo), so the soak's mix reaches that level.
	for tries := 0; err == nil && st == http.StatusPaymentRequired && tries < 3; tries++ {
		if err := c.pay(body, b, protocol.PriceRequest{Kind: protocol.PriceNote, Manage: sha256.Sum256(n.manage[:]),
			Length: int64(len(n.body)), TTL: c.ttl}); err != nil {
			return err
		}
		st, b, err = c.json("/api/v1/notes", body)
	}
	if err != nil || st != http.StatusCreated {
		return fmt.Errorf("create: %d %s %v", st, b, err)
	}
	var m struct{ ID string }
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	n.id = m.ID
	for off := 0; off < len(n.body); off += piece {
		end := min(off+piece, len(n.body))
		st, b, err := c.post("/api/v1/notes/"+n.id+"/data", "application/octet-stream", n.body[off:end],
			map[string]string{"Sealdrop-Manage": enc(n.manage), "Sealdrop-Offset": strconv.Itoa(off)})
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("append: %d %s %v", st, b, err)
		}
	}
	st, b, err = c.json("/api/v1/notes/"+n.id+"/commit", map[string]any{"manage": enc(n.manage)})
	if err != nil || st != http.StatusOK {
		return fmt.Errorf("commit: %d %s %v", st, b, err)
	}
	return nil
}

// pay solves the 402 answer b's proof of work for pr and adds it to body.
func (c *soakClient) pay(body map[string]any, b []byte, pr protocol.PriceRequest) error {
	var p struct {
		Bits  int
		Token string
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("price: %s: %w", b, err)
	}
	tok, err := base64.RawURLEncoding.DecodeString(p.Token)
	if err != nil {
		return fmt.Errorf("price token: %w", err)
	}
	nonce, err := protocol.SolvePrice(context.Background(), tok, pr, p.Bits)
	if err != nil {
		return err
	}
	body["price_token"], body["price_nonce"] = p.Token, b64.EncodeToString(nonce[:])
	return nil
}

func expect(what string, st int, b []byte, err error, want int) error {
	if err != nil || st != want {
		return fmt.Errorf("%s: got %d (%s) %v, want %d", what, st, b, err, want)
	}
	return nil
}

// soakOp runs one mixed-workload step; it returns the kind of step and an error for anything
// that did not answer exactly as the API promises.
func soakOp(c *soakClient, r *rand.Rand, expiring chan<- *note) (string, error) {
	p := r.IntN(100)
	// Lengths from the smallest envelope the server accepts (api.MinNote).
	size := api.MinNote + r.IntN(200<<10)
	if p >= 85 || (p >= 65 && p < 75) {
		// Notes left to expire stay small, and so do destructed ones: a destruct keeps its
		// blocks until the TTL, as a typo would (SECURITY.md, "Duress"), so both are held.
		size = api.MinNote + r.IntN(4<<10)
	}
	n := newNote(size, p >= 55 && p < 75)
	if err := c.upload(n); err != nil {
		return "upload", err
	}
	openPath := "/api/v1/notes/" + n.id + "/open"
	switch {
	case p < 55: // open once, confirm; a second open is gone
		st, b, err := c.json(openPath, n.openReq(nil))
		if err := expect("open", st, b, err, http.StatusOK); err != nil {
			return "open", err
		}
		if !bytes.Equal(b, n.body) {
			return "open", fmt.Errorf("open: the note came back different (%d of %d bytes)", len(b), len(n.body))
		}
		st, b, err = c.json("/api/v1/notes/"+n.id+"/confirm", map[string]any{"gate": enc(n.gate), "nonce": enc(n.claim)})
		if err := expect("confirm", st, b, err, http.StatusNoContent); err != nil {
			return "open", err
		}
		n.claim = rand32()
		st, b, err = c.json(openPath, n.openReq(nil))
		return "open", expect("open after confirm", st, b, err, http.StatusNotFound)
	case p < 65: // wrong PINs, then the right one
		for i := range 1 + r.IntN(3) {
			w := rand32()
			st, b, err := c.json(openPath, n.openReq(&w))
			if err := expect("wrong pin", st, b, err, http.StatusForbidden); err != nil {
				return "wrong pin", err
			}
			if want := fmt.Sprintf(`{"error":"wrong_pin","tries_left":%d}`, 4-i); string(b) != want {
				return "wrong pin", fmt.Errorf("wrong pin: %s, want %s", b, want)
			}
		}
		st, b, err := c.json(openPath, n.openReq(&n.open))
		if err := expect("right pin", st, b, err, http.StatusOK); err != nil {
			return "wrong pin", err
		}
		if !bytes.Equal(b, n.body) {
			return "wrong pin", fmt.Errorf("open with PIN: the note came back different")
		}
		// The reader confirms, as the browser does: an unconfirmed claim would hold its blocks
		// (up to 200 KiB) until the TTL, and at a fast machine's step rate those fill the
		// budget past the proof-of-work level within the soak.
		st, b, err = c.json("/api/v1/notes/"+n.id+"/confirm", map[string]any{"gate": enc(n.gate), "nonce": enc(n.claim)})
		return "wrong pin", expect("confirm after the PIN", st, b, err, http.StatusNoContent)
	case p < 75: // the destruct PIN: answered like a wrong one, then nothing opens
		st, b, err := c.json(openPath, n.openReq(&n.destruct))
		if err := expect("destruct", st, b, err, http.StatusForbidden); err != nil {
			return "destruct", err
		}
		st, b, err = c.json(openPath, n.openReq(&n.open))
		return "destruct", expect("open after destruct", st, b, err, http.StatusForbidden)
	case p < 85: // revoke
		st, b, err := c.json("/api/v1/notes/"+n.id+"/revoke", map[string]any{"manage": enc(n.manage)})
		if err := expect("revoke", st, b, err, http.StatusNoContent); err != nil {
			return "revoke", err
		}
		st, b, err = c.json(openPath, n.openReq(nil))
		return "revoke", expect("open after revoke", st, b, err, http.StatusNotFound)
	default: // left to expire
		select {
		case expiring <- n:
		default:
		}
		return "expire", nil
	}
}

// TestSoak runs a bounded mixed workload (creates, opens, wrong PINs, destruct PINs, revokes,
// expiries) at concurrency 64 against the built binary over loopback TCP for SEALDROP_SOAK
// (e.g. 1m in CI, 10m for the README figures): no errors, no lost notes, VmLck constant and
// VmRSS flat. Flat: after a forced GC, the final RSS is within 50% of the RSS after the
// warm-up (the first fifth of the run), or within 16 MiB of it, whichever is larger.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv(envSoak))
	if err != nil || d <= 0 {
		t.Skipf("soak: set %s=1m (CI) or 10m (README figures)", envSoak)
	}
	const conc = 64
	ttl := 30 * time.Second
	s := start(t, startOpts{tcp: true, args: []string{"--budget", "256M", "--max-ttl", ttl.String()}})
	pid := s.pid()
	idle := s.gc() // the server's own goroutines, before any soak connection
	c := &soakClient{hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, DisableCompression: true}, Timeout: time.Minute}, base: s.base}
	var lim0 struct {
		DefaultTTL int64 `json:"default_ttl"`
	}
	require.NoError(t, json.Unmarshal(s.mustDo(http.MethodGet, "/api/v1/limits", "", nil, nil).body, &lim0))
	require.Positive(t, lim0.DefaultTTL)
	c.ttl = time.Duration(lim0.DefaultTTL) * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu       sync.Mutex
		errs     []string
		counts   = map[string]int{}
		ops      atomic.Int64
		expiring = make(chan *note, 100000)
	)
	type sample struct {
		at        time.Duration
		rss, lck  int64
		gcRSS     int64
		goroutine int
	}
	var samples []sample
	begin := time.Now()
	warm := d / 5
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				kind, err := soakOp(c, r, expiring)
				ops.Add(1)
				mu.Lock()
				counts[kind]++
				if err != nil && len(errs) < 20 {
					errs = append(errs, err.Error())
				}
				if err != nil {
					counts["errors"]++
				}
				mu.Unlock()
			}
		}()
	}
	tick := time.NewTicker(max(d/20, 2*time.Second))
	var warmRSS int64
	sampling := true
	for sampling {
		select {
		case <-ctx.Done():
			sampling = false
		case <-tick.C:
			at := time.Since(begin)
			smp := sample{at: at, rss: procStatus(t, pid, "VmRSS"), lck: procStatus(t, pid, "VmLck")}
			if warmRSS == 0 && at >= warm {
				smp.goroutine = s.gc()
				smp.gcRSS = procStatus(t, pid, "VmRSS")
				warmRSS = smp.gcRSS
			}
			samples = append(samples, smp)
		}
	}
	tick.Stop()
	wg.Wait()
	// The soak's kept-alive connections (up to conc, each a server goroutine until the server's
	// 2-minute idle timeout) are closed here, so that the count below is the server's own.
	c.hc.CloseIdleConnections()
	elapsed := time.Since(begin)
	// Every note left to expire is gone once its TTL has passed.
	close(expiring)
	time.Sleep(ttl + 2*time.Second)
	expired := 0
	for n := range expiring {
		st, b, err := c.json("/api/v1/notes/"+n.id+"/open", n.openReq(nil))
		if st != http.StatusNotFound || err != nil {
			counts["errors"]++
			errs = append(errs, fmt.Sprintf("expired note answered %d %s %v", st, b, err))
		}
		expired++
	}
	// A closed connection's goroutine ends once the server reads its EOF: wait for that, bounded.
	goroutines := s.gc()
	for end := time.Now().Add(10 * time.Second); goroutines > idle+8 && time.Now().Before(end); {
		time.Sleep(200 * time.Millisecond)
		goroutines = s.gc()
	}
	finalRSS := procStatus(t, pid, "VmRSS")
	finalLck := procStatus(t, pid, "VmLck")
	var lim struct{ Free int64 }
	a := s.mustDo(http.MethodGet, "/api/v1/limits", "", nil, nil)
	require.NoError(t, json.Unmarshal(a.body, &lim))

	t.Logf("soak %v at concurrency %d: %d steps (%.1f/s): %v; %d expired notes checked", elapsed.Round(time.Second), conc, ops.Load(),
		float64(ops.Load())/elapsed.Seconds(), counts, expired)
	for _, smp := range samples {
		t.Logf("  t=%-6v VmRSS %6d kB  VmLck %6d kB%s", smp.at.Round(time.Second), smp.rss, smp.lck,
			map[bool]string{true: fmt.Sprintf("  (after GC: VmRSS %d kB, %d goroutines)", smp.gcRSS, smp.goroutine), false: ""}[smp.gcRSS != 0])
	}
	t.Logf("  end: after GC VmRSS %d kB, VmLck %d kB, %d goroutines, free %d bytes (coarse)", finalRSS, finalLck, goroutines, lim.Free)

	assert.Zero(t, counts["errors"], "errors: %v", errs)
	require.NotZero(t, warmRSS, "a warm-up sample was taken")
	for _, smp := range samples {
		assert.Equal(t, samples[0].lck, smp.lck, "VmLck constant (the budget is locked up front)")
	}
	assert.Equal(t, samples[0].lck, finalLck)
	assert.LessOrEqual(t, finalRSS, max(warmRSS*3/2, warmRSS+16<<10), "VmRSS flat: final %d kB vs %d kB after warm-up", finalRSS, warmRSS)
	assert.LessOrEqual(t, goroutines, idle+8, "goroutines back to idle (%d before the soak; 8 of slack for the harness's own connections)", idle)
	assert.Equal(t, int64(256<<20), lim.Free, "every byte of the 256 MiB budget free again")
}
