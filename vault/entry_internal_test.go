package vault

import (
	"testing"
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
