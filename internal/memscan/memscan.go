package memscan

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// Size is a canary's length in bytes.
const Size = 32

// chunk is how much of a mapping is read at once, from one multiple of chunk (an address) to
// the next; each read also takes the needle's length minus one more, so a needle across a chunk
// edge is found, and a hit counts only if it starts inside the chunk proper, so the overlap is
// not counted twice.
const chunk = 1 << 20

// hugeMapping is the size above which Canary.Count skips a mapping of this process (the race
// detector's shadow).
const hugeMapping = 4 << 30

// Canary is a random 32-byte value held only as two random halves whose XOR it is.
type Canary struct{ a, b [Size]byte }

// NewCanary returns a fresh random canary.
func NewCanary(t testing.TB) Canary {
	t.Helper()
	var c Canary
	_, err := rand.Read(c.a[:])
	require.NoError(t, err)
	_, err = rand.Read(c.b[:])
	require.NoError(t, err)
	return c
}

// Xor is the canary with pad XORed into it, byte by byte: what the canary looks like after a
// known transformation (a WebSocket mask). The result is again held as two halves.
func (c Canary) Xor(pad [Size]byte) Canary {
	var d Canary
	for i := range Size {
		d.a[i] = c.a[i] ^ pad[i]
		d.b[i] = c.b[i]
	}
	return d
}

// At is the canary's byte i (0 <= i < Size), computed, never stored.
func (c Canary) At(i int) byte { return c.a[i] ^ c.b[i] }

// WriteInto writes the canary into p[:Size].
func (c Canary) WriteInto(p []byte) {
	for i := range Size {
		p[i] = c.a[i] ^ c.b[i]
	}
}

func (c Canary) matches(p []byte) bool {
	for i := range Size {
		if p[i] != c.a[i]^c.b[i] {
			return false
		}
	}
	return true
}

// Count is the number of copies of the canary in this process's readable memory.
func (c Canary) Count(t testing.TB) int {
	t.Helper()
	hits := 0
	c.find(t, func(uint64, string) { hits++ })
	return hits
}

// Where lists the addresses in this process's readable memory where the canary starts, with
// the name of the mapping that holds each: for finding where a copy a test counted lives.
func (c Canary) Where(t testing.TB) []string {
	t.Helper()
	var out []string
	c.find(t, func(addr uint64, mapping string) { out = append(out, fmt.Sprintf("%#x %s", addr, mapping)) })
	return out
}

// find calls found with the address, and the name of the mapping, of each copy of the canary
// in this process's readable memory.
func (c Canary) find(t testing.TB, found func(addr uint64, mapping string)) {
	t.Helper()
	first := c.a[0] ^ c.b[0]
	_, _, err := walkAt("self", hugeMapping, Size, func(base uint64, name string, p []byte, proper int) {
		for i := 0; ; i++ {
			j := bytes.IndexByte(p[i:], first)
			if j < 0 {
				return
			}
			i += j
			if i+Size > len(p) {
				return
			}
			if i < proper && c.matches(p[i:]) {
				found(base+uint64(i), name)
			}
		}
	})
	require.NoError(t, err)
}

// ScanPID counts, for each needle, its occurrences in every readable mapping of process pid,
// which must not be this one (the needles themselves are here). It also returns the bytes
// scanned and the number of mappings the kernel refused to read.
func ScanPID(t testing.TB, pid int, needles [][]byte) (hits []int, scanned int64, skipped int) {
	t.Helper()
	hits, scanned, skipped, err := TryScanPID(pid, needles)
	require.NoError(t, err)
	return hits, scanned, skipped
}

// TryScanPID is ScanPID for a goroutine other than the test's (one that must stay on the
// thread that attached to pid with ptrace, say), where a failed require would not stop the
// test: it returns what went wrong instead.
func TryScanPID(pid int, needles [][]byte) (hits []int, scanned int64, skipped int, err error) {
	if pid == os.Getpid() {
		return nil, 0, 0, fmt.Errorf("memscan: ScanPID would find its own needles; use Canary.Count")
	}
	longest := 1
	for _, n := range needles {
		if len(n) == 0 {
			return nil, 0, 0, fmt.Errorf("memscan: empty needle")
		}
		longest = max(longest, len(n))
	}
	hits = make([]int, len(needles))
	scanned, skipped, err = walkAt(strconv.Itoa(pid), 0, longest, func(_ uint64, _ string, p []byte, proper int) {
		for i, nd := range needles {
			for j := 0; ; {
				k := bytes.Index(p[j:], nd)
				if k < 0 {
					break
				}
				if j+k < proper {
					hits[i]++
				}
				j += k + 1
			}
		}
	})
	return hits, scanned, skipped, err
}

// Total is the sum of hits.
func Total(hits []int) int {
	s := 0
	for _, h := range hits {
		s += h
	}
	return s
}

// walkAt hands visit each chunk of each readable mapping of /proc/proc, with its address, its
// mapping's name, longest-1 bytes of the next chunk after it and the length of the chunk
// proper, and clears the buffer after each (it may hold what is searched for). Mappings larger
// than limit are passed over when limit is not zero. In this process the read buffer itself is
// passed over: reading a range that holds it would copy the range's first part into it while
// the kernel is still copying from it, and find the same bytes twice. It returns what went
// wrong instead of failing a test.
func walkAt(proc string, limit uint64, longest int, visit func(base uint64, name string, p []byte, proper int)) (scanned int64, skipped int, err error) {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%s/maps", proc))
	if err != nil {
		return 0, 0, err
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%s/mem", proc))
	if err != nil {
		return 0, 0, err
	}
	defer mem.Close()
	buf := make([]byte, chunk+longest-1)
	defer clear(buf)
	var own [2]uint64 // the read buffer's pages, in this process
	if proc == "self" {
		own[0] = uint64(uintptr(unsafe.Pointer(&buf[0])))
		own[1] = own[0] + uint64(len(buf))
	}
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[1][0] != 'r' {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err := strconv.ParseUint(lo, 16, 64)
		if err != nil {
			return scanned, skipped, err
		}
		end, err := strconv.ParseUint(hi, 16, 64)
		if err != nil {
			return scanned, skipped, err
		}
		if limit != 0 && end-start > limit {
			continue
		}
		segs := [][2]uint64{{start, end}}
		if own[0] < end && own[1] > start {
			segs = [][2]uint64{{start, max(start, own[0])}, {min(end, own[1]), end}}
		}
		for _, r := range segs {
			for off := r[0]; off < r[1]; {
				next := min(r[1], (off/chunk+1)*chunk)
				n, err := mem.ReadAt(buf[:min(uint64(len(buf)), r[1]-off)], int64(off))
				if n == 0 && err != nil {
					skipped++
					break
				}
				proper := min(n, int(next-off))
				name := ""
				if len(f) >= 6 {
					name = f[5]
				}
				visit(off, name, buf[:n], proper)
				clear(buf[:n])
				scanned += int64(proper)
				off = next
			}
		}
	}
	return scanned, skipped, sc.Err()
}
