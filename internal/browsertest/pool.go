package browsertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// LaunchTimeout bounds one Firefox start; a busy two-core machine needs several seconds.
var LaunchTimeout = 90 * time.Second

// Pool shares one Firefox per security level across a test binary, all pointed at one
// FakeOnionProxy. Create it in TestMain and Close it there: browsers start lazily, on the first
// test that asks for their level.
type Pool struct {
	Proxy *FakeOnionProxy

	mu       sync.Mutex
	browsers map[Level]*Browser
	errs     map[Level]error
}

// NewPool starts the proxy (serving nothing until SetHandler).
func NewPool() (*Pool, error) {
	p, err := NewFakeOnionProxy("", nil)
	if err != nil {
		return nil, err
	}
	return &Pool{Proxy: p, browsers: map[Level]*Browser{}, errs: map[Level]error{}}, nil
}

// Browser returns the level's Firefox, starting it if needed. It applies RequireBrowser first,
// and fails the test if the browser cannot start (a start failure is remembered, so the next
// tests fail fast rather than each waiting for a timeout).
func (p *Pool) Browser(t testing.TB, l Level) *Browser {
	t.Helper()
	RequireBrowser(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.browsers[l]; b != nil {
		return b
	}
	if err := p.errs[l]; err != nil {
		t.Fatalf("firefox at %s did not start earlier: %v", l, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), LaunchTimeout)
	defer cancel()
	start := time.Now()
	b, err := Launch(ctx, Options{Level: l, ProxyAddr: p.Proxy.Addr()})
	if err != nil {
		p.errs[l] = err
		t.Fatalf("launch firefox at %s: %v", l, err)
	}
	t.Logf("firefox %s started in %v", l, time.Since(start).Round(time.Millisecond))
	p.browsers[l] = b
	return b
}

// Person opens a tab in a fresh user context (its own cookies and storage) of the level's
// browser; the context is removed when the test ends.
func (p *Pool) Person(t testing.TB, l Level) *Tab {
	t.Helper()
	b := p.Browser(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uc, err := b.NewUserContext(ctx)
	if err != nil {
		t.Fatalf("user context: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.RemoveUserContext(ctx, uc)
	})
	tab, err := b.NewTab(ctx, uc)
	if err != nil {
		t.Fatalf("tab: %v", err)
	}
	return tab
}

// Close kills every browser and stops the proxy.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l, b := range p.browsers {
		b.Close()
		delete(p.browsers, l)
	}
	if err := p.Proxy.Close(); err != nil {
		return fmt.Errorf("browsertest: close proxy: %w", err)
	}
	return nil
}
