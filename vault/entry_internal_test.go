package vault

import (
	"bytes"
	"testing"
	"time"
	"unsafe"
)

// TestEntrySize keeps an entry's record at 192 bytes, one of the Go allocator's size classes,
// with its one pointer first (the collector scans a record only up to its last pointer): the
// heap each live entry costs (TestMeasureHeapPerEntry, README) depends on it. A field added to
// entry must take the place of another or justify the next size class.
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n != 192 {
		t.Fatalf("entry is %d bytes, not 192", n)
	}
	if off := unsafe.Offsetof(entry{}.grp); off != 0 {
		t.Fatalf("entry's pointer is at offset %d, not first", off)
	}
}

// An entry whose blocks are more than one run keeps them in the spill map, reads back whole,
// and leaves nothing there once it ends, whichever way: a spilled list left behind would keep
// its record alive for good.
func TestSpilledBlocksLeaveNothingBehind(t *testing.T) {
	v, err := New(Config{Budget: 64 << 10, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	bs := v.ar.bs
	gate, manage := []byte("gate"), []byte("manage")
	caps := Caps{Gate: sum(gate), Manage: sum(manage)}
	put := func(n int) ID {
		t.Helper()
		id, _, err := v.Put(CreateRequest{Kind: KindNote, Length: int64(n), TTL: time.Hour, Caps: caps}, bytes.NewReader(bytes.Repeat([]byte{byte(n)}, n)))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// Fill every block with one-block entries; freeing every other one leaves holes of one
	// block, so that an entry of three blocks can only be three runs.
	var ones []ID
	for range v.ar.total {
		ones = append(ones, put(bs))
	}
	next := 0
	for _, end := range []string{"revoke", "read", "wipe"} {
		for range 3 {
			if err := v.Revoke(KindNote, ones[next], manage); err != nil {
				t.Fatal(err)
			}
			next += 2
		}
		want := bytes.Repeat([]byte{7}, 3*bs)
		id, _, err := v.Put(CreateRequest{Kind: KindNote, Length: int64(len(want)), TTL: time.Hour, Caps: caps}, bytes.NewReader(want))
		if err != nil {
			t.Fatal(err)
		}
		v.mu.Lock()
		spilled, n := v.live[id].has(fSpilled), len(v.spill)
		v.mu.Unlock()
		if !spilled || n != 1 {
			t.Fatalf("%s: a three-run entry: spilled %v, %d in the spill map", end, spilled, n)
		}
		switch end {
		case "revoke":
			if err := v.Revoke(KindNote, id, manage); err != nil {
				t.Fatal(err)
			}
		case "read":
			nonce := []byte("nonce")
			r, err := v.Open(KindNote, id, OpenRequest{Gate: gate, Claim: sum(nonce)})
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := r.WriteTo(&got, 0); err != nil {
				t.Fatal(err)
			}
			if err := v.Confirm(KindNote, id, gate, nonce); err != nil {
				t.Fatal(err)
			}
			r.Close()
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatal("read: the three runs did not read back whole")
			}
		case "wipe":
			v.Wipe()
		}
		v.Settle()
		v.mu.Lock()
		n = len(v.spill)
		v.mu.Unlock()
		if n != 0 {
			t.Fatalf("%s: %d lists left in the spill map", end, n)
		}
	}
	if !FreeBlocksZero(v) {
		t.Fatal("a freed block is not zero")
	}
}
