package vault

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

const (
	// DefaultCap is the budget chosen when the kernel does not limit this process's locked
	// memory (CAP_IPC_LOCK, or RLIMIT_MEMLOCK unlimited): 256 MiB.
	DefaultCap int64 = 256 << 20
	// MemlockReserve is left unlocked out of RLIMIT_MEMLOCK for memguard's own key pages and
	// other small locked buffers in the process: 256 KiB.
	MemlockReserve int64 = 256 << 10
	// minBudget is the smallest derived budget worth starting with.
	minBudget int64 = 64 << 10
)

// capIPCLock is CAP_IPC_LOCK's bit in the capability sets (linux/capability.h).
const capIPCLock = 14

// memlock describes what the process may still lock.
type memlock struct {
	unlimited bool  // the kernel ignores the limit for this process
	soft      int64 // RLIMIT_MEMLOCK soft limit in bytes (when limited)
	locked    int64 // bytes already locked (VmLck)
}

// available is how much more the process may lock, keeping MemlockReserve free.
func (m memlock) available() int64 {
	return m.soft - m.locked - MemlockReserve
}

func probeMemlock() (memlock, error) {
	var m memlock
	if rlimitMemlock < 0 {
		m.unlimited = true
		return m, nil
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(rlimitMemlock, &lim); err != nil {
		return m, fmt.Errorf("vault: reading RLIMIT_MEMLOCK: %w", err)
	}
	status, _ := os.ReadFile("/proc/self/status") // absent off Linux: nothing locked, no caps
	locked, capEff := parseStatus(status)
	m.locked = locked
	// RLIM_INFINITY is all ones.
	if lim.Cur == ^uint64(0) || capEff&(1<<capIPCLock) != 0 {
		m.unlimited = true
		return m, nil
	}
	if lim.Cur > 1<<62 {
		m.soft = 1 << 62
	} else {
		m.soft = int64(lim.Cur)
	}
	return m, nil
}

// parseStatus extracts VmLck (in bytes) and CapEff from /proc/self/status.
func parseStatus(b []byte) (locked int64, capEff uint64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "VmLck":
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
			if err == nil {
				locked = n << 10
			}
		case "CapEff":
			n, err := strconv.ParseUint(v, 16, 64)
			if err == nil {
				capEff = n
			}
		}
	}
	return locked, capEff
}

// DefaultBudget is the budget New uses when Config.Budget is zero: the RLIMIT_MEMLOCK soft limit
// minus what the process has already locked minus MemlockReserve, or DefaultCap when the kernel
// does not limit this process. The error wraps ErrMemlock when too little is lockable.
func DefaultBudget() (int64, error) {
	m, err := probeMemlock()
	if err != nil {
		return 0, err
	}
	return m.defaultBudget()
}

func (m memlock) defaultBudget() (int64, error) {
	if m.unlimited {
		return DefaultCap, nil
	}
	avail := m.available() &^ int64(os.Getpagesize()-1)
	if avail < minBudget {
		return 0, m.errTooSmall(minBudget)
	}
	return avail, nil
}

// errTooSmall explains a budget that cannot be locked, and how to allow it.
func (m memlock) errTooSmall(want int64) error {
	return fmt.Errorf("%w: %d bytes wanted, but RLIMIT_MEMLOCK is %d bytes, %d are already locked "+
		"and %d are kept in reserve; raise the limit (`ulimit -l` in the shell, LimitMEMLOCK= in a "+
		"systemd unit, memlock in /etc/security/limits.conf) or grant CAP_IPC_LOCK, or ask for a "+
		"smaller budget", ErrMemlock, want, m.soft, m.locked, MemlockReserve)
}
