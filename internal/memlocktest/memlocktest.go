// Package memlocktest sizes the vaults that tests create, and the budgets of the sealdrop
// servers they start, to what the test process may lock.
//
// A vault locks its whole budget when it is created (see vault.New), and RLIMIT_MEMLOCK
// limits each process: Debian gives an ordinary user 8 MiB, soft and hard, while root (with
// CAP_IPC_LOCK) is not limited. Most tests need only a small vault and ask for a fixed small
// budget. A test whose point needs a large one (a 25 MiB file, 100,000 entries) asks Budget for
// the size it wants and the least size at which it still proves its point; it gets the full
// size where the process may lock it, a smaller one (logged) under a low limit, and fails,
// saying why, where not even the least size fits. It never skips.
//
// It imports the vault, and with it memguard, whose init sets the process's core-dump limit to
// 0, soft and hard, so that no child of the test binary can raise it. A test binary that only
// starts servers, and checks how they treat a core limit it gives them (internal/proof's
// TestMemoryPosture), must not import this package.
package memlocktest

import (
	"fmt"
	"testing"

	"github.com/sealdrop/sealdrop/vault"
)

// Lockable is how many bytes a vault created now in this process may lock:
// vault.DefaultBudget, that is RLIMIT_MEMLOCK minus what the process has already locked minus
// vault.MemlockReserve, rounded down to a page; vault.DefaultCap (256 MiB) where the kernel does
// not limit this process. A sealdrop server started now inherits the limit and has locked
// nothing yet, so it may lock at least as much. The test fails when nothing may be locked.
func Lockable(tb testing.TB) int64 {
	tb.Helper()
	n, err := vault.DefaultBudget()
	if err != nil {
		tb.Fatalf("memlocktest: %v", err)
	}
	return n
}

// Budget is the budget of a vault, or of a server's vault, that a test wants to be want bytes
// and that still proves the test's point at least bytes: want where this process may lock it
// (Lockable), otherwise as much as it may lock, rounded down to whole KiB (the vault's default
// block size) and logged. Where even least does not fit, the test fails and names the limit.
func Budget(tb testing.TB, want, least int64) int64 {
	tb.Helper()
	if least > want {
		tb.Fatalf("memlocktest: least %d over want %d", least, want)
	}
	avail := Lockable(tb)
	if avail >= want {
		return want
	}
	if avail < least {
		tb.Fatalf("memlocktest: this test needs a vault of at least %s to prove its point, but this "+
			"process may lock only %s more (RLIMIT_MEMLOCK, `ulimit -l`); raise the limit or run as root",
			Size(least), Size(avail))
	}
	got := avail &^ (1<<10 - 1)
	tb.Logf("locked memory is limited here: a vault of %s instead of %s", Size(got), Size(want))
	return got
}

// Flag is n as a value for sealdrop's --budget flag (bytes).
func Flag(n int64) string { return fmt.Sprint(n) }

// Size is n in bytes, with KiB or MiB when that is exact enough to read.
func Size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d bytes (%.2f MiB)", n, float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d bytes (%.1f KiB)", n, float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
