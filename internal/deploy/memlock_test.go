//go:build linux

package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/sealdrop/sealdrop/internal/deploy"
	"github.com/sealdrop/sealdrop/vault"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const childEnv = "SEALDROP_DEPLOY_MEMLOCK_BUDGET"

func TestHeadroomCoversVaultReserve(t *testing.T) {
	require.Greater(t, deploy.MemlockHeadroom, vault.MemlockReserve)
	// The unit's comment names the reserve; the package keeps its own copy.
	text, err := deploy.Unit(deploy.UnitOptions{})
	require.NoError(t, err)
	require.Contains(t, text, fmt.Sprintf("the %d KiB the vault keeps free", vault.MemlockReserve>>10))
}

// The LimitMEMLOCK the unit sets admits the --budget it passes: the test re-runs itself under
// exactly that RLIMIT_MEMLOCK, without CAP_IPC_LOCK, and locks a vault of that budget. As a
// control, the child also shows that a budget as large as the whole limit is refused, so the
// limit really binds.
func TestUnitLimitAdmitsBudget(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("parent only")
	}
	prlimit, err1 := exec.LookPath("prlimit")
	setpriv, err2 := exec.LookPath("setpriv")
	if err1 != nil || err2 != nil {
		t.Skip("needs prlimit and setpriv (util-linux) to set the limit and drop CAP_IPC_LOCK")
	}
	var hard syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(unix.RLIMIT_MEMLOCK, &hard))
	// 40 MiB + 1 KiB spans two arenas and an odd tail.
	for _, budget := range []int64{1 << 20, 3 << 20, 8 << 20, 40<<20 + 1024} {
		t.Run(strconv.FormatInt(budget, 10), func(t *testing.T) {
			limit := deploy.MemlockLimit(budget)
			if hard.Max != unix.RLIM_INFINITY && uint64(limit) > hard.Max && !hasCap(t, unix.CAP_SYS_RESOURCE) {
				t.Skipf("the hard RLIMIT_MEMLOCK here is %d bytes and raising it needs CAP_SYS_RESOURCE; "+
					"budget %d needs %d", hard.Max, budget, limit)
			}
			args := []string{fmt.Sprintf("--memlock=%d:%d", limit, limit)}
			if os.Geteuid() == 0 {
				args = append(args, setpriv, "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", "--")
			}
			args = append(args, os.Args[0], "-test.run=^TestUnitLimitAdmitsBudgetChild$", "-test.v", "-test.count=1")
			cmd := exec.Command(prlimit, args...)
			cmd.Env = append(os.Environ(), childEnv+"="+strconv.FormatInt(budget, 10))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "child failed:\n%s", out)
			require.Contains(t, string(out), "--- PASS: TestUnitLimitAdmitsBudgetChild")
		})
	}
}

func TestUnitLimitAdmitsBudgetChild(t *testing.T) {
	s := os.Getenv(childEnv)
	if s == "" {
		t.Skip("run by TestUnitLimitAdmitsBudget")
	}
	budget, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	require.False(t, hasCap(t, unix.CAP_IPC_LOCK), "CAP_IPC_LOCK was not dropped")
	// Refused before anything is locked, so it cannot disturb the next vault.
	_, err = vault.New(vault.Config{Budget: deploy.MemlockLimit(budget), SweepEvery: -1})
	require.ErrorIs(t, err, vault.ErrMemlock, "the limit does not bind")

	v, err := vault.New(vault.Config{Budget: budget, SweepEvery: -1})
	require.NoError(t, err)
	defer v.Close()
	require.Equal(t, budget/1024*1024, v.Stats().Budget)
}

// hasCap reports whether capability c is in this process's effective set.
func hasCap(t *testing.T, c int) bool {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("CapEff:")); ok {
			eff, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64)
			require.NoError(t, err)
			return eff&(1<<c) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}
