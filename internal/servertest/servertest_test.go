package servertest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBufferConcurrentCopy: io.Copy into a Buffer goes through its locked Write (a Buffer
// lends no ReadFrom), so a copy and a reader running together lose nothing and race not.
func TestBufferConcurrentCopy(t *testing.T) {
	_, lendsReadFrom := any(&Buffer{}).(io.ReaderFrom)
	require.False(t, lendsReadFrom, "a ReadFrom would let io.Copy bypass the lock")
	var b Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			_, _ = io.Copy(&b, strings.NewReader(strings.Repeat(fmt.Sprint(i), 1000)))
		})
	}
	for range 100 {
		_ = b.String()
	}
	wg.Wait()
	assert.Len(t, b.String(), 4000)
}

func TestAwaitStartup(t *testing.T) {
	t.Run("both lines", func(t *testing.T) {
		var b Buffer
		go func() {
			time.Sleep(50 * time.Millisecond)
			_, _ = b.Write([]byte("listening on http://127.0.0.1:1234/\n"))
			time.Sleep(50 * time.Millisecond)
			_, _ = b.Write([]byte("capacity 4194304 bytes (4 MiB)\n"))
		}()
		line, err := AwaitStartup(&b, nil, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, "listening on http://127.0.0.1:1234/", line)
	})
	t.Run("one line is not enough", func(t *testing.T) {
		var b Buffer
		_, _ = b.Write([]byte("listening on http://127.0.0.1:1234/\ncapacity 4"))
		_, err := AwaitStartup(&b, nil, 100*time.Millisecond)
		assert.ErrorContains(t, err, "no startup lines")
	})
	t.Run("exit first", func(t *testing.T) {
		var b Buffer
		_, _ = b.Write([]byte("listening on http://127.0.0.1:1234/\n"))
		exited := make(chan struct{})
		close(exited)
		_, err := AwaitStartup(&b, exited, time.Minute)
		assert.True(t, errors.Is(err, ErrExited), "%v", err)
	})
	t.Run("exit after the lines", func(t *testing.T) {
		var b Buffer
		_, _ = b.Write([]byte("http://x.onion/\ncapacity 1 bytes\n"))
		exited := make(chan struct{})
		close(exited)
		line, err := AwaitStartup(&b, exited, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, "http://x.onion/", line)
	})
}

// TestBuild builds the release binary once: a second call returns the same path without
// building again, and RemoveBuilds removes it.
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds sealdrop")
	}
	bin, err := Build("")
	require.NoError(t, err)
	again, err := Build("")
	require.NoError(t, err)
	assert.Equal(t, bin, again)
	require.FileExists(t, bin)
	RemoveBuilds()
	assert.NoFileExists(t, bin)
}
