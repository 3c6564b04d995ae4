// Package testclock is the settable clock that tests inject where the code takes a Now
// function (vault, chat, drop, price, circuit, web): time moves only when the test says so,
// so that expiries, windows and refills are checked exactly, never by sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is a time that moves only by Add. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock that reads t until it is moved.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time; pass the method value as a Config's Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
