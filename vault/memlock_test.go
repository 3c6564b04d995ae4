//go:build linux

package vault_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
)

const childEnv = "SEALDROP_VAULT_MEMLOCK_CHILD"

// Under a low RLIMIT_MEMLOCK and without CAP_IPC_LOCK the vault sizes itself to what is
// lockable, or refuses to start with an error naming the limit; it never panics. The test
// re-runs this test binary under prlimit and setpriv.
func TestLowMemlock(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("parent only")
	}
	prlimit, err1 := exec.LookPath("prlimit")
	setpriv, err2 := exec.LookPath("setpriv")
	if err1 != nil || err2 != nil {
		t.Skip("needs prlimit and setpriv (util-linux) to drop CAP_IPC_LOCK and lower the limit")
	}
	for _, tc := range []struct {
		limit  int64
		expect string
	}{
		{2 << 20, "sized"},
		{128 << 10, "refused"},
	} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			args := []string{fmt.Sprintf("--memlock=%d:%d", tc.limit, tc.limit)}
			if os.Geteuid() == 0 {
				args = append(args, setpriv, "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", "--")
			}
			args = append(args, os.Args[0], "-test.run=^(TestLowMemlockChild|TestLockBufferRecoversChild)$", "-test.v", "-test.count=1")
			cmd := exec.Command(prlimit, args...)
			cmd.Env = append(os.Environ(), childEnv+"="+tc.expect, "SEALDROP_VAULT_LIMIT="+strconv.FormatInt(tc.limit, 10))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "child failed:\n%s", out)
			require.NotContains(t, string(out), "panic:")
			require.Contains(t, string(out), "--- PASS: TestLowMemlockChild")
			require.Contains(t, string(out), "--- PASS: TestLockBufferRecoversChild")
		})
	}
}

func TestLowMemlockChild(t *testing.T) {
	expect := os.Getenv(childEnv)
	if expect == "" {
		t.Skip("run by TestLowMemlock")
	}
	limit, err := strconv.ParseInt(os.Getenv("SEALDROP_VAULT_LIMIT"), 10, 64)
	require.NoError(t, err)
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	if os.Geteuid() == 0 {
		for line := range bytes.Lines(status) {
			if v, ok := bytes.CutPrefix(line, []byte("CapEff:")); ok {
				eff, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64)
				require.NoError(t, err)
				require.Zero(t, eff&(1<<14), "CAP_IPC_LOCK was not dropped")
			}
		}
	}

	switch expect {
	case "sized":
		b, err := vault.DefaultBudget()
		require.NoError(t, err)
		require.Positive(t, b)
		require.LessOrEqual(t, b, limit-vault.MemlockReserve)
		v, err := vault.New(vault.Config{})
		require.NoError(t, err)
		defer v.Close()
		require.Equal(t, b, v.Stats().Budget)
		// Fill it: admission, not mlock, says no.
		s := newSecrets(t, false, false)
		var ids []vault.ID
		for {
			id, _, err := v.Put(vault.CreateRequest{Kind: vault.KindNote, Length: 30000, TTL: time.Hour, Caps: s.caps}, bytes.NewReader(make([]byte, 30000)))
			if err != nil {
				require.ErrorIs(t, err, vault.ErrFull)
				break
			}
			ids = append(ids, id)
		}
		require.NotEmpty(t, ids)
		// A second vault over the limit is refused before anything is locked, so the first
		// one is untouched (memguard would have purged it).
		_, err = vault.New(vault.Config{Budget: 64 << 20})
		require.ErrorIs(t, err, vault.ErrMemlock)
		require.Contains(t, err.Error(), "LimitMEMLOCK=")
		require.Contains(t, err.Error(), "ulimit -l")
		require.Equal(t, make([]byte, 30000), take(t, v, ids[0], s))
	case "refused":
		_, err := vault.DefaultBudget()
		require.ErrorIs(t, err, vault.ErrMemlock)
		_, err = vault.New(vault.Config{})
		require.ErrorIs(t, err, vault.ErrMemlock)
		require.Contains(t, err.Error(), "RLIMIT_MEMLOCK")
		require.Contains(t, err.Error(), "LimitMEMLOCK=")
	}
}
