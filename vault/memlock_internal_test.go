//go:build linux

package vault

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// In the low-limit child of TestLowMemlock: a lock that memguard cannot take becomes an error,
// not a panic (memguard panics after purging every buffer).
func TestLockBufferRecoversChild(t *testing.T) {
	if os.Getenv("SEALDROP_VAULT_MEMLOCK_CHILD") == "" {
		t.Skip("run by TestLowMemlock")
	}
	limit, err := strconv.ParseInt(os.Getenv("SEALDROP_VAULT_LIMIT"), 10, 64)
	require.NoError(t, err)
	buf, err := lockBuffer(int(4 * limit))
	require.ErrorIs(t, err, ErrMemlock)
	require.Nil(t, buf)
	require.Contains(t, err.Error(), "LimitMEMLOCK=")
}

func TestParseStatus(t *testing.T) {
	locked, capEff := parseStatus([]byte("Name:\tx\nVmLck:\t     132 kB\nCapEff:\t0000000000004000\n"))
	require.EqualValues(t, 132<<10, locked)
	require.EqualValues(t, 1<<capIPCLock, capEff)
	m := memlock{soft: 8 << 20, locked: 132 << 10}
	b, err := m.defaultBudget()
	require.NoError(t, err)
	require.EqualValues(t, 8<<20-132<<10-MemlockReserve, b)
	b, err = memlock{unlimited: true}.defaultBudget()
	require.NoError(t, err)
	require.Equal(t, DefaultCap, b)
	_, err = memlock{soft: 200 << 10}.defaultBudget()
	require.ErrorIs(t, err, ErrMemlock)
}
