package vault

import (
	"fmt"
	"math/bits"
	"os"

	"github.com/awnumar/memguard"
)

// maxArena is the largest single locked buffer. A few large buffers instead of one per entry:
// memguard gives every buffer its own mapping with guard pages (~90 µs and 8 KiB resident for a
// 1 KiB payload, and at most ~32,700 of them per process), while a block inside a pre-locked
// arena costs a copy.
const maxArena = 32 << 20

// extent is a run of consecutive blocks inside one arena, by global block index.
type extent struct{ start, n uint32 }

// arenas is the locked budget carved into blocks, with a bitmap of the blocks in use. It is not
// safe for concurrent use: the vault's mutex guards the bitmap; block contents are touched
// outside the mutex only by whoever owns the blocks.
type arenas struct {
	bs       int // bytes per block
	perArena int // blocks per arena (the last one may hold fewer)
	total    int // blocks
	free     int // blocks not in use
	bufs     []*memguard.LockedBuffer
	mem      [][]byte // each arena's bytes
	used     []uint64 // bitmap: 1 = in use (bits past total are set for good)
	cursor   int      // word where the next search starts: at or before the lowest freed block
}

func pageRound(n int64) int64 {
	p := int64(os.Getpagesize())
	return (n + p - 1) &^ (p - 1)
}

// arenaSizes splits a budget of whole blocks into arena sizes in bytes.
func arenaSizes(blocks, bs int) []int {
	per := maxArena / bs
	var sizes []int
	for blocks > 0 {
		n := min(blocks, per)
		sizes = append(sizes, n*bs)
		blocks -= n
	}
	return sizes
}

// lockedBytes is what arenas of these sizes count against RLIMIT_MEMLOCK.
func lockedBytes(sizes []int) int64 {
	var sum int64
	for _, s := range sizes {
		sum += pageRound(int64(s))
	}
	return sum
}

func newArenas(blocks, bs int) (*arenas, error) {
	a := &arenas{bs: bs, perArena: maxArena / bs, total: blocks, free: blocks}
	for _, size := range arenaSizes(blocks, bs) {
		buf, err := lockBuffer(size)
		if err != nil {
			a.destroy()
			return nil, err
		}
		a.bufs = append(a.bufs, buf)
		a.mem = append(a.mem, buf.Bytes())
	}
	words := (blocks + 63) / 64
	a.used = make([]uint64, words)
	if r := blocks % 64; r != 0 {
		a.used[words-1] = ^uint64(0) << r
	}
	return a, nil
}

// lockBuffer allocates one locked arena. memguard reports a failed mmap or mlock by destroying
// every locked buffer in the process and panicking; New checks the limit first so that this
// should not happen, and turns it into an error if it does anyway.
func lockBuffer(size int) (buf *memguard.LockedBuffer, err error) {
	defer func() {
		if p := recover(); p != nil {
			buf = nil
			err = fmt.Errorf("%w: locking a %d-byte arena failed (%v); raise RLIMIT_MEMLOCK "+
				"(`ulimit -l`, LimitMEMLOCK= in a systemd unit) or grant CAP_IPC_LOCK, or ask for "+
				"a smaller budget", ErrMemlock, size, p)
		}
	}()
	buf = memguard.NewBuffer(size)
	if buf.Size() != size {
		return nil, fmt.Errorf("%w: memguard returned no buffer for %d bytes", ErrMemlock, size)
	}
	return buf, nil
}

// alloc takes n blocks and appends their extents to out; the caller has checked that
// a.free >= n.
func (a *arenas) alloc(out []extent, n int) []extent {
	a.free -= n
	w := a.cursor
	for n > 0 {
		word := a.used[w]
		for word != ^uint64(0) && n > 0 {
			bit := bits.TrailingZeros64(^word)
			run := bits.TrailingZeros64(^(^word >> bit)) // free blocks from bit on
			run = min(run, n)
			word |= (^uint64(0) >> (64 - run)) << bit
			out = a.appendRun(out, w*64+bit, run)
			n -= run
		}
		a.used[w] = word
		if n > 0 {
			w++
			if w == len(a.used) {
				w = 0
			}
		}
	}
	a.cursor = w
	return out
}

// appendRun adds blocks [start, start+n) to out, merging with the last run and splitting at
// arena boundaries, so that every extent is one contiguous slice of one arena.
func (a *arenas) appendRun(out []extent, start, n int) []extent {
	for n > 0 {
		room := a.perArena - start%a.perArena
		k := min(n, room)
		if l := len(out) - 1; l >= 0 && int(out[l].start+out[l].n) == start && start%a.perArena != 0 {
			out[l].n += uint32(k)
		} else {
			out = append(out, extent{uint32(start), uint32(k)})
		}
		start += k
		n -= k
	}
	return out
}

// release marks zeroed blocks free again, and moves the search back to them: the next entry
// reuses the blocks freed last, which are still in the CPU's caches (a fresh 1 MiB of the
// arena costs a cold write, a cold read and a cold clear), and the arena fills from the
// bottom, so a freed run is usually one contiguous hole for the next entry of its size.
func (a *arenas) release(ext []extent) {
	for _, e := range ext {
		a.cursor = min(a.cursor, int(e.start)/64)
		for b := int(e.start); b < int(e.start+e.n); b++ {
			a.used[b/64] &^= 1 << (b % 64)
		}
		a.free += int(e.n)
	}
}

// span is the locked memory of one extent.
func (a *arenas) span(e extent) []byte {
	i := int(e.start) / a.perArena
	off := (int(e.start) % a.perArena) * a.bs
	return a.mem[i][off : off+int(e.n)*a.bs : off+int(e.n)*a.bs]
}

// zero overwrites the blocks with zeros. clear compiles to a memory clear the compiler cannot
// drop: the memory outlives the call.
func (a *arenas) zero(ext []extent) {
	for _, e := range ext {
		clear(a.span(e))
	}
}

func (a *arenas) zeroAll() {
	for _, m := range a.mem {
		clear(m)
	}
}

// destroy wipes and unmaps every arena. A failed memguard sanity check panics after purging;
// the memory is wiped either way, so the panic is swallowed.
func (a *arenas) destroy() {
	for _, b := range a.bufs {
		func() {
			defer func() { _ = recover() }()
			b.Destroy()
		}()
	}
	a.bufs, a.mem = nil, nil
}

// blocksOf counts the blocks in ext.
func blocksOf(ext []extent) int {
	n := 0
	for _, e := range ext {
		n += int(e.n)
	}
	return n
}
