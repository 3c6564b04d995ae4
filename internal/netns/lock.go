//go:build linux

package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// LockName is the file, in os.TempDir(), whose flock makes the suites that start a private Tor
// network or a browser run one at a time. go test runs packages in parallel (-p defaults to
// the number of cores); two such suites at once on a two-core machine make both slow enough
// to time out, while the other packages' unit tests can share the machine with one of them.
const LockName = "sealdrop-tor-browser-suites.lock"

var (
	lockOnce sync.Once
	lockFile *os.File
	lockErr  error
)

// Lock waits until no other test binary holds the suites' lock, then holds it until this
// process exits (the kernel releases it then, however the process ends). The first call per
// process waits; later calls return at once. It logs how long it waited when it waited.
func Lock(tb testing.TB) {
	tb.Helper()
	lockOnce.Do(func() {
		start := time.Now()
		lockFile, lockErr = takeLock(filepath.Join(os.TempDir(), LockName))
		if w := time.Since(start); lockErr == nil && w > time.Second {
			tb.Logf("waited %v for another tor or browser suite to finish (%s)", w.Round(time.Second), LockName)
		}
	})
	if lockErr != nil {
		tb.Fatalf("netns: %v", lockErr)
	}
}

// takeLock opens path (creating it if needed: any user may lock it, and flock needs no write
// permission, so root and an ordinary user share one) and waits for an exclusive flock.
func takeLock(path string) (*os.File, error) {
	// No O_CREAT on an existing file: fs.protected_regular refuses that for another user's file
	// in a sticky directory such as /tmp.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE|syscall.O_CLOEXEC, 0o444)
		if err == nil {
			_ = f.Chmod(0o444) // umask may have taken bits; others need read to open it
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return f, nil
}
