package testclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/internal/testclock"
	"github.com/stretchr/testify/assert"
)

func TestClockMovesOnlyByAdd(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := testclock.New(start)
	assert.Equal(t, start, c.Now())
	time.Sleep(2 * time.Millisecond)
	assert.Equal(t, start, c.Now(), "real time does not move it")
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Add(time.Second); _ = c.Now() }()
	}
	wg.Wait()
	assert.Equal(t, start.Add(100*time.Second), c.Now(), "concurrent Adds all count")
}
