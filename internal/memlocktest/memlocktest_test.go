package memlocktest_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealdrop/sealdrop/internal/memlocktest"
	"github.com/sealdrop/sealdrop/vault"
)

// recorder is a testing.TB that records Fatalf and Logf instead of acting on them.
type recorder struct {
	testing.TB
	fatal, logs []string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = append(r.fatal, fmt.Sprintf(f, args...)) }
func (r *recorder) Logf(f string, args ...any)   { r.logs = append(r.logs, fmt.Sprintf(f, args...)) }

// A budget that fits is given as asked, silently; one that does not is cut to what may be
// locked (and a vault of that size is created), and logged; one whose least does not fit
// fails the test with the limit's name.
func TestBudget(t *testing.T) {
	r := &recorder{TB: t}
	require.EqualValues(t, 64<<10, memlocktest.Budget(r, 64<<10, 64<<10))
	require.Empty(t, r.logs)
	require.Empty(t, r.fatal)

	avail := memlocktest.Lockable(t)
	got := memlocktest.Budget(r, avail+(1<<20), 64<<10)
	require.Empty(t, r.fatal)
	require.LessOrEqual(t, got, avail)
	require.Greater(t, got, avail-(1<<10))
	require.Zero(t, got%(1<<10), "whole blocks")
	require.Len(t, r.logs, 1)
	require.Contains(t, r.logs[0], "instead of")
	v, err := vault.New(vault.Config{Budget: got, SweepEvery: -1})
	require.NoError(t, err, "the budget Budget gives can be locked")
	require.Equal(t, got, v.Stats().Budget)
	require.NoError(t, v.Close())

	r = &recorder{TB: t}
	memlocktest.Budget(r, avail+(2<<20), avail+(1<<20))
	require.Len(t, r.fatal, 1)
	require.Contains(t, r.fatal[0], "RLIMIT_MEMLOCK")
}

func TestSize(t *testing.T) {
	require.Equal(t, "512 bytes", memlocktest.Size(512))
	require.Equal(t, "65536 bytes (64.0 KiB)", memlocktest.Size(64<<10))
	require.Equal(t, "8126464 bytes (7.75 MiB)", memlocktest.Size(8126464))
	require.Equal(t, "8126464", memlocktest.Flag(8126464))
}
