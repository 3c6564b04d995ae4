package circuit

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestLimiter(t testing.TB, cfg Config) (*Limiter, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	l, err := NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, clk
}

// allowN spends n creates of id and reports how many were allowed.
func allowN(l *Limiter, id uint32, n int) int {
	ok := 0
	for range n {
		if a, _ := l.allow(id); a {
			ok++
		}
	}
	return ok
}

func TestLimiterBurstAndRefill(t *testing.T) {
	l, clk := newTestLimiter(t, Config{})
	l.opened(7)
	if got := allowN(l, 7, 15); got != DefaultBurst {
		t.Fatalf("a fresh circuit made %d creates at once, want the burst %d", got, DefaultBurst)
	}
	ok, wait := l.allow(7)
	if ok || wait != DefaultEvery {
		t.Fatalf("over the burst: %v, wait %v; want refused, %v", ok, wait, DefaultEvery)
	}
	clk.Add(DefaultEvery - time.Millisecond)
	if ok, _ := l.allow(7); ok {
		t.Fatal("allowed before a create was earned")
	}
	clk.Add(time.Millisecond)
	if ok, _ := l.allow(7); !ok {
		t.Fatal("refused after Every")
	}
	if ok, _ := l.allow(7); ok {
		t.Fatal("one create per Every, not two")
	}
	// A minute: six more, no more.
	clk.Add(time.Minute)
	if got := allowN(l, 7, 10); got != 6 {
		t.Fatalf("after a minute %d creates, want 6", got)
	}
	// Another circuit is not affected.
	l.opened(8)
	if got := allowN(l, 8, 10); got != DefaultBurst {
		t.Fatalf("a second circuit made %d, want %d", got, DefaultBurst)
	}
}

func TestLimiterConfig(t *testing.T) {
	for _, cfg := range []Config{{Burst: -1}, {Every: -time.Second}, {Every: time.Nanosecond}, {MaxRecords: -5}} {
		if _, err := NewLimiter(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	l, _ := newTestLimiter(t, Config{Burst: 2, Every: time.Minute})
	l.opened(1)
	if got := allowN(l, 1, 5); got != 2 {
		t.Errorf("Burst 2: %d creates", got)
	}
}

// A record stays while its circuit has a connection, and goes Burst×Every after the last one
// closed, when its bucket is full again: leaving and coming back on the same circuit gains
// nothing.
func TestLimiterExpiry(t *testing.T) {
	l, clk := newTestLimiter(t, Config{})
	linger := DefaultBurst * DefaultEvery
	l.opened(1)
	l.opened(1)
	allowN(l, 1, DefaultBurst)
	l.closed(1)
	clk.Add(time.Hour) // one connection still open: kept, however long
	if l.size() != 1 {
		t.Fatal("a circuit with an open connection was forgotten")
	}
	allowN(l, 1, DefaultBurst) // spend everything again, then close the last connection
	l.closed(1)
	clk.Add(linger - time.Second)
	l.sweep(clk.Now())
	if l.size() != 1 {
		t.Fatal("dropped before its bucket was full again")
	}
	// Still remembered: a connection on the same circuit finds the bucket where it was.
	l.opened(1)
	if got := allowN(l, 1, DefaultBurst); got != DefaultBurst-1 {
		t.Fatalf("coming back after %v: %d creates, want %d (what refilled)", linger-time.Second, got, DefaultBurst-1)
	}
	l.closed(1)
	clk.Add(linger)
	l.opened(2) // any call sweeps
	if l.size() != 1 {
		t.Fatalf("%d records; the idle one should have gone", l.size())
	}
	l.closed(2)
	clk.Add(linger)
	l.sweep(clk.Now())
	if l.size() != 0 {
		t.Fatalf("%d records left after every circuit went", l.size())
	}
}

// Never more than MaxRecords: the longest idle records go first, then, with none idle, the
// circuit whose connection opened longest ago.
func TestLimiterBounded(t *testing.T) {
	const max = 100
	l, clk := newTestLimiter(t, Config{MaxRecords: max})
	for id := uint32(1); id <= max; id++ {
		l.opened(id)
		allowN(l, id, DefaultBurst)
		l.closed(id)
		clk.Add(time.Millisecond)
	}
	l.opened(1000) // room is made by dropping circuit 1, idle longest
	if l.size() != max {
		t.Fatalf("%d records, want %d", l.size(), max)
	}
	if _, kept := l.recs[1]; kept {
		t.Fatal("the longest idle record was kept")
	}
	if _, kept := l.recs[2]; !kept {
		t.Fatal("a more recent idle record was dropped first")
	}
	// Fill with open circuits: none idle, so the oldest open one goes.
	for id := uint32(2000); id < 2000+max; id++ {
		l.opened(id)
	}
	if l.size() != max {
		t.Fatalf("%d records, want %d", l.size(), max)
	}
	if _, kept := l.recs[1000]; kept {
		t.Fatal("the oldest open circuit was kept over newer ones")
	}
	// Its connection closing later is harmless, and so is a create from it.
	l.closed(1000)
	if ok, _ := l.allow(1000); !ok || l.size() != max {
		t.Fatalf("a forgotten circuit: allowed %v, %d records", ok, l.size())
	}

	// A flood of one-shot circuits keeps memory flat.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for id := uint32(1 << 20); id < 1<<20+50*max; id++ {
		l.opened(id)
		l.allow(id)
		l.closed(id)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if l.size() > max {
		t.Fatalf("%d records after a flood, cap %d", l.size(), max)
	}
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 64<<10 {
		t.Errorf("the heap grew %d bytes for a limiter of %d records", grew, max)
	}
}

func TestLimiterCountsConnections(t *testing.T) {
	l, clk := newTestLimiter(t, Config{})
	l.opened(5)
	l.opened(5)
	l.closed(5)
	l.closed(5)
	l.closed(5) // one close too many (a record made again after eviction) is ignored
	clk.Add(DefaultBurst*DefaultEvery + time.Second)
	l.sweep(clk.Now())
	if l.size() != 0 {
		t.Fatal("kept after all connections closed and the linger passed")
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l, _ := newTestLimiter(t, Config{MaxRecords: 64})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				id := uint32(i%200 + 1)
				l.opened(id)
				l.allow(id)
				l.closed(id)
			}
		}()
	}
	wg.Wait()
	if l.size() > 64 {
		t.Fatalf("%d records over the cap", l.size())
	}
}
