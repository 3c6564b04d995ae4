package client_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/client"
	"github.com/sealdrop/sealdrop/internal/price"
	"github.com/sealdrop/sealdrop/internal/web"
	"github.com/sealdrop/sealdrop/vault"
)

// clock is a time a test moves.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) now() time.Time       { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration)  { c.ns.Add(int64(d)) }
func (c *clock) fn() func() time.Time { return c.now }
func routesOf(f *faults) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.routes...)
}
func resetRoutes(f *faults) { f.mu.Lock(); f.routes = nil; f.mu.Unlock() }

// pricedServer is a server whose price tokens follow serverClock, with a client whose own
// clock is clientClock.
func pricedServer(t *testing.T, serverClock, clientClock *clock, floor int) (*client.Client, *faults, *vault.Vault) {
	t.Helper()
	v, err := vault.New(vault.Config{Budget: 2 << 20, SweepEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	p, err := price.New(price.Config{Floor: floor, Now: serverClock.fn()})
	require.NoError(t, err)
	h, err := web.New(web.Config{Vault: v, Price: p})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f := &faults{}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := client.New(srv.URL, &http.Client{Transport: &faultyTransport{f: f, rt: tr}, Timeout: time.Minute})
	require.NoError(t, err)
	client.SetClock(c, clientClock.fn())
	return c, f, v
}

// A note after the first is one request: the limits (and their price token) of the last create
// serve while the token has two minutes left, then they are asked again.
func TestLimitsKeptWhileTheTokenLasts(t *testing.T) {
	ctx := t.Context()
	for _, floor := range []int{0, 6} { // unpaid; paid with the kept token
		server, local := newClock(), newClock()
		c, f, v := pricedServer(t, server, local, floor)
		_, err := c.CreateNote(ctx, "first", nil, "", "", 0)
		require.NoError(t, err)
		assert.Equal(t, []string{"limits", "upload"}, routesOf(f), "floor %d", floor)
		resetRoutes(f)
		_, err = c.CreateNote(ctx, "second", nil, "", "", 0)
		require.NoError(t, err)
		assert.Equal(t, []string{"upload"}, routesOf(f), "floor %d: the kept limits", floor)
		// A token lasts 5 to 10 minutes; 8 minutes on, less than two are left of any.
		server.add(8 * time.Minute)
		local.add(8 * time.Minute)
		resetRoutes(f)
		_, err = c.CreateNote(ctx, "third", nil, "", "", 0)
		require.NoError(t, err)
		assert.Equal(t, []string{"limits", "upload"}, routesOf(f), "floor %d: asked again near the token's end", floor)
		assert.Equal(t, 3, v.Stats().Entries[vault.KindNote])
	}
}

// A kept token the server no longer takes (its clock ran ahead of the client's) costs the
// create one 402, whose fresh token it goes on with; the kept limits are dropped, so the next
// create asks for them.
func TestKeptLimitsStaleTokenOne402(t *testing.T) {
	ctx := t.Context()
	for _, floor := range []int{0, 6} {
		server, local := newClock(), newClock()
		c, f, v := pricedServer(t, server, local, floor)
		_, err := c.CreateNote(ctx, "first", nil, "", "", 0)
		require.NoError(t, err)
		server.add(20 * time.Minute)
		resetRoutes(f)
		made, err := c.CreateNote(ctx, "second", nil, "", "", 0)
		require.NoError(t, err, "floor %d", floor)
		assert.Equal(t, []string{"upload", "upload"}, routesOf(f), "floor %d: refused once (402), then made", floor)
		resetRoutes(f)
		_, err = c.CreateNote(ctx, "third", nil, "", "", 0)
		require.NoError(t, err)
		assert.Equal(t, []string{"limits", "upload"}, routesOf(f), "floor %d: the limits asked again after a 402", floor)
		n, err := c.OpenNote(ctx, made.NoteURL, "")
		require.NoError(t, err)
		assert.Equal(t, "second", n.Text)
		assert.Equal(t, 2, v.Stats().Entries[vault.KindNote], "floor %d: the first and the third (the second was read)", floor)
	}
}

// One client shared by goroutines creating at once: every note is made, and the limits are
// asked at most once per goroutine (those that found none kept), not once per note.
func TestKeptLimitsConcurrent(t *testing.T) {
	ctx := t.Context()
	server := newClock()
	c, f, v := pricedServer(t, server, server, 0)
	const workers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := c.CreateNote(ctx, "concurrent", nil, "", "", 0); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	limits := 0
	for _, r := range routesOf(f) {
		if r == "limits" {
			limits++
		}
	}
	assert.GreaterOrEqual(t, limits, 1)
	assert.LessOrEqual(t, limits, workers)
	assert.Equal(t, workers*each, v.Stats().Entries[vault.KindNote])
}
