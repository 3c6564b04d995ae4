package memscan

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A canary written into a buffer is found exactly as often as it was written, including a copy
// that straddles the edge between two read chunks; after the buffer is cleared it is found no
// more; a canary never written is never found.
func TestCountFindsWrittenAndNotWiped(t *testing.T) {
	c := NewCanary(t)
	never := NewCanary(t)
	buf := make([]byte, 3*chunk) // a large object: its own span in one heap mapping
	base := uintptr(unsafe.Pointer(&buf[0]))
	// The first chunk edge inside the buffer with room for a canary across it (the scan reads
	// from one multiple of chunk to the next).
	edge := (base + Size + chunk - 1) / chunk * chunk
	require.Less(t, edge+Size, base+uintptr(len(buf)))
	across := int(edge-base) - Size/2
	at := []int{0, across, len(buf) - Size}
	for _, o := range at {
		c.WriteInto(buf[o:])
	}

	require.Equal(t, len(at), c.Count(t), "every copy once, the one across the chunk edge too")
	require.Zero(t, never.Count(t), "a canary that was never written")
	var want []string
	for _, o := range at {
		want = append(want, fmt.Sprintf("%#x ", base+uintptr(o)))
	}
	where := c.Where(t)
	require.Len(t, where, len(at), "Where lists what Count counts: %v", where)
	for i, w := range where {
		assert.True(t, strings.HasPrefix(w, want[i]), "copy %d at %s, written at %s", i, w, want[i])
	}

	clear(buf[across : across+Size])
	require.Equal(t, len(at)-1, c.Count(t), "the cleared copy is gone, the others stay")
	clear(buf)
	require.Zero(t, c.Count(t), "every copy cleared")
	runtime.KeepAlive(buf)
}

// heap keeps a buffer off the goroutine stack: a stack that grows is copied, and the old copy,
// not cleared, would be a second hit.
var heap []byte

// Count does not find the canary in its own halves or in its read buffer from an earlier scan.
func TestCountFindsNoCopyOfItsOwn(t *testing.T) {
	c := NewCanary(t)
	heap = make([]byte, Size)
	t.Cleanup(func() { heap = nil })
	c.WriteInto(heap)
	require.Equal(t, 1, c.Count(t))
	require.Equal(t, 1, c.Count(t), "the first scan left no copy behind")
	clear(heap)
	require.Zero(t, c.Count(t))
}

// ScanPID finds a needle in another process (in its environment, on its stack) and not one
// that process never had.
func TestScanPIDFindsNeedleInChild(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	have, never := make([]byte, 16), make([]byte, 16)
	h, n := NewCanary(t), NewCanary(t)
	for i := range have {
		have[i], never[i] = h.At(i), n.At(i)
	}
	arg := "memscan-" + hex.EncodeToString(have)
	cmd := exec.Command(sleep, "30")
	cmd.Env = []string{"MEMSCAN_PROBE=" + arg}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// Until exec, the child is a forked copy of this process, with both needles in it.
	require.Eventually(t, func() bool {
		line, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cmdline")
		return err == nil && bytes.Equal(line, []byte(sleep+"\x0030\x00"))
	}, 10*time.Second, 10*time.Millisecond)

	hits, scanned, _ := ScanPID(t, cmd.Process.Pid, [][]byte{[]byte(arg), []byte("memscan-" + hex.EncodeToString(never))})
	require.GreaterOrEqual(t, hits[0], 1, "the argument is in the child's memory")
	require.Zero(t, hits[1], "a needle the child never had")
	require.Positive(t, scanned)
	require.Equal(t, hits[0], Total(hits))
}
